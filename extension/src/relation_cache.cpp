/*
 * relation_cache.cpp
 *		Builds and invalidates the per-relation encoding state (see relation_cache.h).
 *
 * The cache lives for the whole process, in the snowcdc cache context, because a
 * backend may decode many times (SQL functions) and the relcache callback can only be
 * registered once per process. Each entry owns a small memory context so that a rebuild
 * frees the previous fragments.
 */
#include "relation_cache.h"

namespace snowcdc {
namespace {

/* Relation entries by relid; created on first use. */
HTAB *relation_entries = nullptr;

/* Some entry was marked invalid since the last ReleaseInvalidRelationEntries. */
bool have_invalid_entries = false;

/*
 * Relcache invalidation: mark only, since a change being encoded may hold the entry (catalog
 * lookups while encoding can process invalidations).
 */
void InvalidateRelationEntry(Datum arg, Oid relid) {
    if (relation_entries == nullptr)
        return;
    have_invalid_entries = true;
    if (relid == InvalidOid) {
        HASH_SEQ_STATUS status;
        hash_seq_init(&status, relation_entries);
        RelationEntry *entry;
        while ((entry = static_cast<RelationEntry *>(hash_seq_search(&status))) != nullptr)
            entry->valid = false;
        return;
    }
    RelationEntry *entry =
        static_cast<RelationEntry *>(hash_search(relation_entries, &relid, HASH_FIND, nullptr));
    if (entry != nullptr)
        entry->valid = false;
}

void CreateRelationEntries() {
    HASHCTL info;
    info.keysize = sizeof(Oid);
    info.entrysize = sizeof(RelationEntry);
    info.hcxt = CacheContext();
    relation_entries =
        hash_create("snowcdc relations", 128, &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    CacheRegisterRelcacheCallback(InvalidateRelationEntry, PointerGetDatum(nullptr));
}

/* ",\"schema\":\"s\",\"table\":\"t\"" with both names escaped. */
void BuildEnvelope(RelationEntry *entry, Relation rel) {
    StringInfoData buf;
    initStringInfo(&buf);
    char *schema = get_namespace_name(RelationGetNamespace(rel));
    const char *table = RelationGetRelationName(rel);
    AppendLiteral(&buf, ",\"schema\":");
    AppendJsonString(&buf, schema, static_cast<int>(strlen(schema)));
    AppendLiteral(&buf, ",\"table\":");
    AppendJsonString(&buf, table, static_cast<int>(strlen(table)));
    entry->envelope = buf.data;
    entry->envelope_len = buf.len;
    entry->schema_name = schema;
    entry->table_name = pstrdup(table);
}

void BuildColumns(RelationEntry *entry, TupleDesc desc) {
    entry->natts = desc->natts;
    entry->columns = static_cast<ColumnEncoder *>(palloc0(desc->natts * sizeof(ColumnEncoder)));
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        ColumnEncoder *column = &entry->columns[i];
        column->dropped = att->attisdropped;
        if (column->dropped)
            continue;
        column->varlena = att->attlen == -1;
        StringInfoData buf;
        initStringInfo(&buf);
        const char *name = NameStr(att->attname);
        AppendJsonString(&buf, name, static_cast<int>(strlen(name)));
        appendStringInfoChar(&buf, ':');
        column->key_fragment = buf.data;
        column->key_fragment_len = buf.len;
        column->type = LookupTypeEncoder(att->atttypid);
    }
}

/* Key columns from an index's key attributes (expressions cannot be identity). */
void KeyFromIndex(RelationEntry *entry, Oid index_oid) {
    Relation index = RelationIdGetRelation(index_oid);
    if (!RelationIsValid(index))
        elog(ERROR, "could not open replica identity index %u", index_oid);
    int nkeys = index->rd_index->indnkeyatts;
    entry->key_columns = static_cast<int *>(palloc(nkeys * sizeof(int)));
    for (int i = 0; i < nkeys; i++) {
        AttrNumber attnum = index->rd_index->indkey.values[i];
        if (attnum > 0)
            entry->key_columns[entry->nkey_columns++] = attnum - 1;
    }
    RelationClose(index);
}

/*
 * The key: the replica identity index (DEFAULT: the primary key, INDEX: the chosen
 * index); for FULL the primary key when there is one, else every live column; none
 * for NOTHING or DEFAULT without a primary key.
 */
void BuildKey(RelationEntry *entry, Relation rel) {
    entry->key_columns = nullptr;
    entry->nkey_columns = 0;
    char identity = rel->rd_rel->relreplident;
    if (identity == REPLICA_IDENTITY_NOTHING)
        return;
    if (identity == REPLICA_IDENTITY_FULL) {
        Oid primary_key = RelationGetPrimaryKeyIndex(rel);
        if (OidIsValid(primary_key)) {
            KeyFromIndex(entry, primary_key);
            return;
        }
        entry->key_columns = static_cast<int *>(palloc(entry->natts * sizeof(int)));
        for (int i = 0; i < entry->natts; i++)
            if (!entry->columns[i].dropped)
                entry->key_columns[entry->nkey_columns++] = i;
        return;
    }
    Oid identity_index = RelationGetReplicaIndex(rel);
    if (OidIsValid(identity_index))
        KeyFromIndex(entry, identity_index);
}

void BuildRelationEntry(RelationEntry *entry, Relation rel) {
    if (entry->context == nullptr)
        entry->context =
            AllocSetContextCreate(CacheContext(), "snowcdc relation", ALLOCSET_SMALL_SIZES);
    else
        MemoryContextReset(entry->context);
    MemoryContext old = MemoryContextSwitchTo(entry->context);
    BuildEnvelope(entry, rel);
    BuildColumns(entry, RelationGetDescr(rel));
    BuildKey(entry, rel);
    MemoryContextSwitchTo(old);
    entry->filter_generation = 0;
    entry->valid = true;
}

}  // namespace

RelationEntry *LookupRelationEntry(Relation rel) {
    if (relation_entries == nullptr)
        CreateRelationEntries();
    Oid relid = RelationGetRelid(rel);
    bool found;
    RelationEntry *entry =
        static_cast<RelationEntry *>(hash_search(relation_entries, &relid, HASH_ENTER, &found));
    if (!found) {
        entry->valid = false;
        entry->context = nullptr;
    }
    if (!entry->valid)
        BuildRelationEntry(entry, rel);
    return entry;
}

void InvalidateAllRelationEntries() {
    InvalidateRelationEntry(PointerGetDatum(nullptr), InvalidOid);
}

void ReleaseInvalidRelationEntries() {
    if (!have_invalid_entries)
        return;
    have_invalid_entries = false;
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, relation_entries);
    RelationEntry *entry;
    while ((entry = static_cast<RelationEntry *>(hash_seq_search(&status))) != nullptr) {
        if (entry->valid)
            continue;
        if (entry->context != nullptr)
            MemoryContextDelete(entry->context);
        hash_search(relation_entries, &entry->relid, HASH_REMOVE, nullptr);
    }
}

}  // namespace snowcdc
