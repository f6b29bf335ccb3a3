/*
 * relation_cache.h
 *		Per-relation encoding state, built once and reused for every change.
 *
 * An entry holds what the hot path needs pre-built: the JSON envelope fragment with
 * the schema and table names, each column's pre-escaped "name": fragment and type
 * encoder, and the replica-identity column indexes. The relcache invalidation callback
 * only marks entries invalid; they are rebuilt on their next use.
 */
#ifndef SNOWCDC_RELATION_CACHE_H
#define SNOWCDC_RELATION_CACHE_H

#include "pg_headers.h"
#include "value_encoder.h"

namespace snowcdc {

/* One column of a cached relation. */
struct ColumnEncoder {
    bool dropped;             /* attisdropped: never written */
    bool varlena;             /* attlen == -1: may hold an unchanged TOAST pointer */
    const char *key_fragment; /* "\"name\":", JSON-escaped UTF-8 */
    int key_fragment_len;     /* strlen(key_fragment) */
    TypeEncoder *type;        /* how the column's values are written */
};

/* The cached encoding state of one relation. */
struct RelationEntry {
    Oid relid;                /* hash key */
    bool valid;               /* false after a relcache invalidation: rebuild before use */
    MemoryContext context;    /* owns the fragments and arrays below; reset on rebuild */
    const char *envelope;     /* ",\"schema\":\"..\",\"table\":\"..\"" */
    int envelope_len;         /* strlen(envelope) */
    const char *schema_name;  /* schema name as stored, for the table filters */
    const char *table_name;   /* table name as stored, for the table filters */
    int natts;                /* number of attributes, dropped ones included */
    ColumnEncoder *columns;   /* natts entries, by attribute number - 1 */
    int *key_columns;         /* attribute indexes (0-based) of the key, in index order */
    int nkey_columns;         /* 0: the relation has no key */
    uint64 filter_generation; /* decoding session that computed filtered_out */
    bool filtered_out;        /* the session's table filters exclude this relation */
};

/* The up-to-date entry for `rel`, built or rebuilt when needed. */
RelationEntry *LookupRelationEntry(Relation rel);

/*
 * Marks every entry invalid. Called when a decoding session starts and ends: entries
 * built under a historic catalog snapshot must not serve the current catalog, and
 * the reverse.
 */
void InvalidateAllRelationEntries();

/*
 * Frees the entries marked invalid, so that dropped and altered tables do not accumulate
 * over a long session. Only where no entry is in use: between transactions.
 */
void ReleaseInvalidRelationEntries();

}  // namespace snowcdc

#endif /* SNOWCDC_RELATION_CACHE_H */
