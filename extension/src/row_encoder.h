/*
 * row_encoder.h
 *		Encodes heap tuples as cdc-record-v1 JSON records.
 *
 * The output plugin writes its c/u/d records with this encoder, and the snapshot SQL
 * functions write their r records with SnowcdcAppendRowRecord, so that a row reads the
 * same whether it came from the snapshot or from the WAL. Include from C++ only.
 */
#ifndef SNOWCDC_ROW_ENCODER_H
#define SNOWCDC_ROW_ENCODER_H

#include "pg_headers.h"

/*
 * Value-encoding options shared by the plugin and the SQL functions. Zero-initialise
 * ({}) for the defaults of cdc-record-v1.
 */
struct SnowcdcEncoderOptions {
    bool numeric_as_string; /* numeric values as JSON strings rather than numbers */
};

/*
 * Appends one complete `r` record (no trailing newline) for `tuple` of `rel` to `out`:
 * {"op":"r","lsn":..,"seq":..,"ts":..,"schema":..,"table":..,"key":{..},"after":{..}}.
 * The key holds the relation's replica-identity columns (the primary key for REPLICA
 * IDENTITY FULL when there is one, else every column; no key for NOTHING or DEFAULT
 * without a primary key); `after` is the whole row. TOASTed values are fetched.
 * Allocates in CurrentMemoryContext; the caller resets it between rows if it wants.
 */
void SnowcdcAppendRowRecord(StringInfo out, Relation rel, HeapTuple tuple, uint64 lsn, uint64 seq,
                            int64 ts_unix_us, const SnowcdcEncoderOptions *opts);

/*
 * Encodes many rows of one relation as `r` records with the same lsn and ts (one snapshot
 * read): the envelope is formatted once, and the relation's cached entry is looked up again
 * only after a relcache invalidation. Allocated in CurrentMemoryContext, which must outlive
 * the rows; `rel` must stay open as long.
 */
struct SnowcdcRowBatch;

SnowcdcRowBatch *SnowcdcBeginRowBatch(Relation rel, uint64 lsn, int64 ts_unix_us,
                                      const SnowcdcEncoderOptions *opts);

/*
 * Appends the `r` record (as SnowcdcAppendRowRecord writes it) of the row in `slot`, a slot
 * of the batch's relation. The slot's attributes are deformed in place; attributes added
 * after the row was written read as their stored default. Allocates in CurrentMemoryContext
 * only when a value must be detoasted or converted.
 */
void SnowcdcAppendSlotRecord(StringInfo out, SnowcdcRowBatch *batch, TupleTableSlot *slot,
                             uint64 seq);

#endif /* SNOWCDC_ROW_ENCODER_H */
