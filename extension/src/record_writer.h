/*
 * record_writer.h
 *		The pieces of a cdc-record-v1 row record, shared by the plugin's c/u/d records
 *		and the snapshot's r records.
 *
 * Each function appends to a StringInfo with pre-built fragments from the relation
 * cache; a record is assembled as envelope, key, row images, toast list, closing brace.
 */
#ifndef SNOWCDC_RECORD_WRITER_H
#define SNOWCDC_RECORD_WRITER_H

#include "pg_headers.h"
#include "relation_cache.h"
#include "row_encoder.h"

namespace snowcdc {

/* A heap tuple deformed with its relation's descriptor. */
struct RowImage {
    Datum *values; /* natts values, by attribute index */
    bool *nulls;   /* natts null flags */
};

/* Deforms `tuple` (palloc'd arrays in CurrentMemoryContext). */
void DeformRow(Relation rel, HeapTuple tuple, RowImage *row);

/*
 * The envelope fields that stay the same for every record of a transaction (or of a
 * snapshot), formatted once: `,"lsn":..,"seq":` before the seq and `[,"xid":..],"ts":..`
 * after it.
 */
struct TxnEnvelope {
    char before_seq[40]; /* `,"lsn":<lsn>,"seq":` (at most 34 bytes) */
    int before_seq_len;
    /* `,"xid":<xid>,"ts":<ts>`, no xid when it has none (at most 43 bytes and a NUL) */
    char after_seq[64];
    int after_seq_len;
};

/* Formats the fixed envelope fields of a transaction's records into `envelope`. */
void FormatTxnEnvelope(TxnEnvelope *envelope, uint64 lsn, bool has_xid, TransactionId xid,
                       int64 ts);

/*
 * Appends `{"op":"<op>","lsn":..,"seq":..[,"xid":..],"ts":..,"schema":..,"table":..`
 * (left open for the fields that follow).
 */
void AppendRowEnvelope(StringInfo out, const char *op_literal, int op_literal_len,
                       const TxnEnvelope *envelope, uint64 seq, const RelationEntry *entry);

/* Appends `,"key":{..}` from `row`, or nothing when the relation has no key. */
void AppendKeyObject(StringInfo out, const RelationEntry *entry, const RowImage *row,
                     const SnowcdcEncoderOptions *opts);

/*
 * Appends `field_literal` (e.g. `,"after":{`), the live columns of `row` and `}`.
 * With `toast_columns`, a column holding an unchanged on-disk TOAST pointer is taken
 * from `fallback` when that row has its value, else left out and its index added to
 * toast_columns[*ntoast_columns++].
 */
void AppendRowObject(StringInfo out, const char *field_literal, int field_literal_len,
                     const RelationEntry *entry, const RowImage *row, const RowImage *fallback,
                     int *toast_columns, int *ntoast_columns, const SnowcdcEncoderOptions *opts);

/* The same, with the op and field fragments given as string literals. */
template <int N>
inline void AppendRowEnvelope(StringInfo out, const char (&op_literal)[N],
                              const TxnEnvelope *envelope, uint64 seq, const RelationEntry *entry) {
    AppendRowEnvelope(out, op_literal, N - 1, envelope, seq, entry);
}

template <int N>
inline void AppendRowObject(StringInfo out, const char (&field_literal)[N],
                            const RelationEntry *entry, const RowImage *row,
                            const RowImage *fallback, int *toast_columns, int *ntoast_columns,
                            const SnowcdcEncoderOptions *opts) {
    AppendRowObject(out, field_literal, N - 1, entry, row, fallback, toast_columns, ntoast_columns,
                    opts);
}

/* Appends `,"toast":["a",..]` for the listed column indexes; nothing when none. */
void AppendToastArray(StringInfo out, const RelationEntry *entry, const int *toast_columns,
                      int ntoast_columns);

}  // namespace snowcdc

#endif /* SNOWCDC_RECORD_WRITER_H */
