/*
 * sql_functions.cpp
 *		SQL-callable functions of the snowcdc extension: `r` (snapshot read) records.
 *
 * The initial snapshot of a table is read under the slot's exported snapshot, usually by
 * several readers in parallel, each taking one range of heap blocks. Every reader turns its
 * rows into `r` records with the plugin's own encoder (row_encoder.h), so a row reads the same
 * whether it came from the snapshot or from the WAL.
 *
 * seq of an `r` record is derived from the row's position in the heap, not from a counter:
 * seq = block * MaxHeapTuplesPerPage + (offset - 1). Readers of disjoint block ranges thus
 * produce disjoint seqs without talking to each other, a retried range produces the same
 * records again (so the warehouse's (lsn, seq) de-duplication makes retries idempotent), and
 * seq increases in scan order. The numbers are unique per table and snapshot but not
 * contiguous.
 */
#include "pg_headers.h"
#include "row_encoder.h"

extern "C" {
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class_d.h"
#include "common/int.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/itemptr.h"
#include "utils/acl.h"
#include "utils/pg_lsn.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
}

/* Microseconds between the Unix epoch (1970-01-01) and the Postgres epoch (2000-01-01). */
static const int64 kPostgresEpochUnixMicros =
    int64(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

/* State of one encode_rows() call, kept across its value-per-call invocations. */
struct EncodeRowsScan {
    Relation rel;              /* the table, open with AccessShareLock until the scan ends */
    Snapshot snapshot;         /* the query's snapshot, registered while the scan runs */
    TableScanDesc scan;        /* TID-range scan over the requested blocks; NULL when none */
    TupleTableSlot *slot;      /* the slot the scan fills, one row at a time */
    SnowcdcRowBatch *batch;    /* the encoder's per-scan state: relation, lsn, ts, options */
    StringInfoData record;     /* varlena header, then the record; reused for every row */
    MemoryContext row_context; /* encoder allocations of one row, reset for every row */
    bool open;                 /* false once the resources above have been released */
};

extern "C" {
PG_FUNCTION_INFO_V1(snowcdc_encode_rows);
PG_FUNCTION_INFO_V1(snowcdc_encode_row);
PG_FUNCTION_INFO_V1(snowcdc_snapshot_seq);
}

/* The seq of the row at `tid`; see the file header. */
static uint64 SnapshotSeq(ItemPointer tid) {
    return uint64(ItemPointerGetBlockNumber(tid)) * MaxHeapTuplesPerPage +
           (ItemPointerGetOffsetNumber(tid) - 1);
}

static int64 UnixMicros(TimestampTz ts) {
    int64 unix_us;
    if (TIMESTAMP_NOT_FINITE(ts) || pg_add_s64_overflow(ts, kPostgresEpochUnixMicros, &unix_us))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("snapshot time must be finite and within 64-bit Unix microseconds"),
                        errdetail("The ts of a record is a point in time; pass the time the "
                                  "snapshot was taken.")));
    return unix_us;
}

/*
 * Opens `relid` for encoding: a plain heap table the caller may read in full. Row-level
 * security cannot be honoured by a raw scan, so a caller subject to it is refused.
 */
static Relation OpenTableForEncoding(Oid relid) {
    AclResult acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
    if (acl != ACLCHECK_OK)
        aclcheck_error(acl, OBJECT_TABLE, get_rel_name(relid));
    Relation rel = table_open(relid, AccessShareLock);
    if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is a partitioned table", RelationGetRelationName(rel)),
                        errdetail("Its rows live in its partitions, and changes are decoded per "
                                  "partition."),
                        errhint("Encode each partition: SELECT relid FROM pg_partition_tree('%s') "
                                "WHERE isleaf.",
                                RelationGetRelationName(rel))));
    if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relam != HEAP_TABLE_AM_OID)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is not a heap table", RelationGetRelationName(rel)),
                        errdetail("Only plain tables of the heap access method are decoded.")));
    if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("row-level security is enabled for table \"%s\"",
                               RelationGetRelationName(rel)),
                        errdetail("A snapshot must read every row; policies would hide some."),
                        errhint("Run it as a role that bypasses row-level security.")));
    return rel;
}

/*
 * A tuple written before ALTER TABLE ... ADD COLUMN ... DEFAULT has fewer attributes than
 * the table; the missing ones read as their stored default. The encoder deforms what it is
 * given, so hand it the expanded tuple (a copy, only for such old rows).
 */
static HeapTuple ExpandedTuple(HeapTuple tuple, Relation rel) {
    TupleDesc desc = RelationGetDescr(rel);
    if (HeapTupleHeaderGetNatts(tuple->t_data) < desc->natts)
        return heap_expand_tuple(tuple, desc);
    return tuple;
}

/*
 * The record in the database encoding. The encoder writes UTF-8, as the plugin's output bypasses
 * client encoding; a text result must be in the database encoding, and the connection converts
 * it to the client's (UTF8 for the shipper). JSON escapes NUL, so the result has none.
 */
static const char *ServerEncoded(const StringInfoData *record) {
    if (GetDatabaseEncoding() == PG_UTF8)
        return record->data;
    return pg_any_to_server(record->data, record->len, PG_UTF8);
}

/* Releases the scan's resources; safe to call twice. */
static void EndEncodeRows(Datum arg) {
    EncodeRowsScan *s = reinterpret_cast<EncodeRowsScan *>(DatumGetPointer(arg));
    if (!s->open)
        return;
    s->open = false;
    if (s->scan != NULL)
        table_endscan(s->scan);
    ExecDropSingleTupleTableSlot(s->slot);
    UnregisterSnapshot(s->snapshot);
    table_close(s->rel, AccessShareLock);
}

/* Block number argument `argno`, or `absent` when it is NULL; range-checked. */
static BlockNumber BlockArg(FunctionCallInfo fcinfo, int argno, const char *name,
                            BlockNumber absent) {
    if (PG_ARGISNULL(argno))
        return absent;
    int64 block = PG_GETARG_INT64(argno);
    if (block < 0 || block > int64(MaxBlockNumber) + 1)
        ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                        errmsg("%s %lld is out of range", name, (long long)block),
                        errdetail("A block number is between 0 and %u.", MaxBlockNumber)));
    return BlockNumber(block);
}

/* Sets up the scan of blocks [block_from, block_to) of the table under the query snapshot. */
static EncodeRowsScan *BeginEncodeRows(FunctionCallInfo fcinfo) {
    for (int argno = 0; argno <= 2; ++argno)
        if (PG_ARGISNULL(argno))
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("rel, snapshot_lsn and snapshot_ts must not be null"),
                            errdetail("Every record names its table, the snapshot's consistent "
                                      "point and the snapshot's time.")));
    BlockNumber block_from = BlockArg(fcinfo, 3, "block_from", 0);
    /* MaxBlockNumber + 1 (0xFFFFFFFF, InvalidBlockNumber) as an exclusive end: every block. */
    BlockNumber block_to = BlockArg(fcinfo, 4, "block_to", InvalidBlockNumber);

    EncodeRowsScan *s = static_cast<EncodeRowsScan *>(palloc0(sizeof(EncodeRowsScan)));
    uint64 lsn = PG_GETARG_LSN(1);
    int64 ts_unix_us = UnixMicros(PG_GETARG_TIMESTAMPTZ(2));
    SnowcdcEncoderOptions options = {};
    options.numeric_as_string = !PG_ARGISNULL(5) && PG_GETARG_BOOL(5);
    s->rel = OpenTableForEncoding(PG_GETARG_OID(0));
    s->batch = SnowcdcBeginRowBatch(s->rel, lsn, ts_unix_us, &options);
    s->snapshot = RegisterSnapshot(GetActiveSnapshot());
    s->slot = table_slot_create(s->rel, NULL);
    if (block_from < block_to) {
        ItemPointerData min_tid;
        ItemPointerData max_tid;
        ItemPointerSet(&min_tid, block_from, FirstOffsetNumber);
        ItemPointerSet(&max_tid, block_to - 1, MaxOffsetNumber);
        s->scan = table_beginscan_tidrange(s->rel, s->snapshot, &min_tid, &max_tid);
    }
    initStringInfo(&s->record);
    appendStringInfoSpaces(&s->record, VARHDRSZ);
    s->row_context = AllocSetContextCreate(CurrentMemoryContext, "snowcdc encode_rows row",
                                           ALLOCSET_DEFAULT_SIZES);
    s->open = true;
    return s;
}

/*
 * The next row's record as text, or NULL after the last row. In a UTF-8 database the text is
 * s->record itself, built behind room for its varlena header: no copy, and valid until the
 * next call, as a value-per-call result must be. Otherwise a converted copy allocated in
 * `result_context`.
 */
static text *NextRecord(EncodeRowsScan *s, MemoryContext result_context) {
    if (s->scan == NULL || !table_scan_getnextslot_tidrange(s->scan, ForwardScanDirection, s->slot))
        return NULL;
    /* nearly free when the previous row allocated nothing (no detoasting or conversion) */
    MemoryContextReset(s->row_context);
    MemoryContextSwitchTo(s->row_context);
    s->record.len = VARHDRSZ;
    s->record.data[VARHDRSZ] = '\0';
    SnowcdcAppendSlotRecord(&s->record, s->batch, s->slot, SnapshotSeq(&s->slot->tts_tid));
    const char *utf8 = s->record.data + VARHDRSZ;
    const char *data = GetDatabaseEncoding() == PG_UTF8
                           ? utf8
                           : pg_any_to_server(utf8, s->record.len - VARHDRSZ, PG_UTF8);
    MemoryContextSwitchTo(result_context);
    if (data != utf8)
        return cstring_to_text(data);
    SET_VARSIZE(s->record.data, s->record.len);
    return reinterpret_cast<text *>(s->record.data);
}

/*
 * snowcdc.encode_rows(rel, snapshot_lsn, snapshot_ts, block_from, block_to, numeric_as_string)
 *		One `r` record per row of `rel` visible to the query's snapshot, in heap order.
 *
 * Value-per-call, so that in a target list (SELECT snowcdc.encode_rows(...)) rows stream
 * straight to COPY ... TO STDOUT without being collected first.
 */
extern "C" Datum snowcdc_encode_rows(PG_FUNCTION_ARGS) {
    if (SRF_IS_FIRSTCALL()) {
        FuncCallContext *funcctx = SRF_FIRSTCALL_INIT();
        ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
        MemoryContext caller_context = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
        EncodeRowsScan *s = BeginEncodeRows(fcinfo);
        /* Releases the scan when the query stops early (LIMIT, cursor closed). */
        RegisterExprContextCallback(rsinfo->econtext, EndEncodeRows, PointerGetDatum(s));
        funcctx->user_fctx = s;
        MemoryContextSwitchTo(caller_context);
    }
    FuncCallContext *funcctx = SRF_PERCALL_SETUP();
    EncodeRowsScan *s = static_cast<EncodeRowsScan *>(funcctx->user_fctx);
    text *record = NextRecord(s, CurrentMemoryContext);
    if (record == NULL) {
        ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
        UnregisterExprContextCallback(rsinfo->econtext, EndEncodeRows, PointerGetDatum(s));
        EndEncodeRows(PointerGetDatum(s));
        SRF_RETURN_DONE(funcctx);
    }
    SRF_RETURN_NEXT(funcctx, PointerGetDatum(record));
}

/*
 * snowcdc.encode_row(rel, row, lsn, seq, ts, numeric_as_string)
 *		The `r` record of one row of `rel`, passed as the table's whole-row value.
 *
 * For readers that select rows by key ranges or any other condition:
 *   SELECT snowcdc.encode_row('t'::regclass, t, lsn, snowcdc.snapshot_seq(t.ctid), ts) FROM t
 */
extern "C" Datum snowcdc_encode_row(PG_FUNCTION_ARGS) {
    Oid relid = PG_GETARG_OID(0);
    HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);
    uint64 lsn = PG_GETARG_LSN(2);
    int64 seq = PG_GETARG_INT64(3);
    int64 ts_unix_us = UnixMicros(PG_GETARG_TIMESTAMPTZ(4));
    SnowcdcEncoderOptions options = {};
    options.numeric_as_string = PG_GETARG_BOOL(5);

    Relation rel = OpenTableForEncoding(relid);
    if (HeapTupleHeaderGetTypeId(row) != rel->rd_rel->reltype)
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("row is of type %s, not of the row type of table \"%s\"",
                               format_type_be(HeapTupleHeaderGetTypeId(row)),
                               RelationGetRelationName(rel)),
                        errhint("Pass the table's whole-row value: SELECT snowcdc.encode_row("
                                "'%s'::regclass, t, ...) FROM %s t.",
                                RelationGetRelationName(rel), RelationGetRelationName(rel))));
    if (seq < 0)
        ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                        errmsg("seq %lld is negative", (long long)seq),
                        errdetail("The seq of a record is its 0-based position.")));
    HeapTupleData tuple;
    tuple.t_len = HeapTupleHeaderGetDatumLength(row);
    ItemPointerSetInvalid(&tuple.t_self);
    tuple.t_tableOid = relid;
    tuple.t_data = row;

    StringInfoData record;
    initStringInfo(&record);
    SnowcdcAppendRowRecord(&record, rel, ExpandedTuple(&tuple, rel), lsn, uint64(seq), ts_unix_us,
                           &options);
    table_close(rel, AccessShareLock);
    PG_RETURN_TEXT_P(cstring_to_text(ServerEncoded(&record)));
}

/*
 * snowcdc.snapshot_seq(tid)
 *		The seq that encode_rows gives the row at `tid`, for encode_row callers.
 */
extern "C" Datum snowcdc_snapshot_seq(PG_FUNCTION_ARGS) {
    ItemPointer tid = reinterpret_cast<ItemPointer>(PG_GETARG_POINTER(0));
    if (ItemPointerGetOffsetNumberNoCheck(tid) < FirstOffsetNumber)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("tid (%u,0) points at no row", ItemPointerGetBlockNumberNoCheck(tid)),
                 errdetail("Row offsets in a page start at 1.")));
    PG_RETURN_INT64(int64(SnapshotSeq(tid)));
}
