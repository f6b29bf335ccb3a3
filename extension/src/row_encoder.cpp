/*
 * row_encoder.cpp
 *		Row records of cdc-record-v1: envelope, key, row images and toast list, and the
 *		snapshot entry point SnowcdcAppendRowRecord.
 *
 * The plugin's c/u/d records and the snapshot's r records are built by the same
 * functions here, so that a row reads the same from either source.
 */
#include "record_writer.h"

namespace snowcdc {
namespace {

/* Digits of the largest uint64 in decimal. */
constexpr int kMaxUint64Digits = 20;

/* Copies a string literal (without its NUL) to `dest`; returns the end of the copy. */
template <int N>
char *CopyLiteral(char *dest, const char (&literal)[N]) {
    memcpy(dest, literal, N - 1);
    return dest + N - 1;
}

/* True when the datum is a TOAST pointer to a value the WAL record does not carry. */
bool IsUnchangedToast(const ColumnEncoder *column, bool isnull, Datum value) {
    return column->varlena && !isnull && VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(value));
}

void AppendColumnValue(StringInfo out, const ColumnEncoder *column, bool isnull, Datum value,
                       const SnowcdcEncoderOptions *opts) {
    AppendBytes(out, column->key_fragment, column->key_fragment_len);
    if (isnull)
        AppendLiteral(out, "null");
    else
        AppendJsonValue(out, column->type, value, opts);
}

}  // namespace

void DeformRow(Relation rel, HeapTuple tuple, RowImage *row) {
    TupleDesc desc = RelationGetDescr(rel);
    row->values = static_cast<Datum *>(palloc(desc->natts * sizeof(Datum)));
    row->nulls = static_cast<bool *>(palloc(desc->natts * sizeof(bool)));
    heap_deform_tuple(tuple, desc, row->values, row->nulls);
}

void FormatTxnEnvelope(TxnEnvelope *envelope, uint64 lsn, bool has_xid, TransactionId xid,
                       int64 ts) {
    /* the buffers hold the longest values: 20-digit lsn, 10-digit xid, signed 19-digit ts */
    char *end = envelope->before_seq;
    end = CopyLiteral(end, ",\"lsn\":");
    end += pg_ulltoa_n(lsn, end);
    end = CopyLiteral(end, ",\"seq\":");
    envelope->before_seq_len = static_cast<int>(end - envelope->before_seq);
    end = envelope->after_seq;
    if (has_xid) {
        end = CopyLiteral(end, ",\"xid\":");
        end += pg_ulltoa_n(xid, end);
    }
    end = CopyLiteral(end, ",\"ts\":");
    end += pg_lltoa(ts, end);
    envelope->after_seq_len = static_cast<int>(end - envelope->after_seq);
}

void AppendRowEnvelope(StringInfo out, const char *op_literal, int op_literal_len,
                       const TxnEnvelope *envelope, uint64 seq, const RelationEntry *entry) {
    /* one reservation for the whole envelope, then plain copies */
    enlargeStringInfo(out, op_literal_len + envelope->before_seq_len + kMaxUint64Digits +
                               envelope->after_seq_len + entry->envelope_len);
    char *end = out->data + out->len;
    memcpy(end, op_literal, op_literal_len);
    end += op_literal_len;
    memcpy(end, envelope->before_seq, envelope->before_seq_len);
    end += envelope->before_seq_len;
    end += pg_ulltoa_n(seq, end);
    memcpy(end, envelope->after_seq, envelope->after_seq_len);
    end += envelope->after_seq_len;
    memcpy(end, entry->envelope, entry->envelope_len);
    end += entry->envelope_len;
    *end = '\0';
    out->len = static_cast<int>(end - out->data);
}

void AppendKeyObject(StringInfo out, const RelationEntry *entry, const RowImage *row,
                     const SnowcdcEncoderOptions *opts) {
    if (entry->nkey_columns == 0)
        return;
    AppendLiteral(out, ",\"key\":{");
    for (int k = 0; k < entry->nkey_columns; k++) {
        int i = entry->key_columns[k];
        if (k > 0)
            appendStringInfoCharMacro(out, ',');
        AppendColumnValue(out, &entry->columns[i], row->nulls[i], row->values[i], opts);
    }
    appendStringInfoCharMacro(out, '}');
}

void AppendRowObject(StringInfo out, const char *field_literal, int field_literal_len,
                     const RelationEntry *entry, const RowImage *row, const RowImage *fallback,
                     int *toast_columns, int *ntoast_columns, const SnowcdcEncoderOptions *opts) {
    AppendBytes(out, field_literal, field_literal_len);
    bool first = true;
    for (int i = 0; i < entry->natts; i++) {
        const ColumnEncoder *column = &entry->columns[i];
        if (column->dropped)
            continue;
        bool isnull = row->nulls[i];
        Datum value = row->values[i];
        if (toast_columns != nullptr && IsUnchangedToast(column, isnull, value)) {
            bool fallback_usable = fallback != nullptr && !fallback->nulls[i] &&
                                   !IsUnchangedToast(column, false, fallback->values[i]);
            if (!fallback_usable) {
                toast_columns[(*ntoast_columns)++] = i;
                continue;
            }
            value = fallback->values[i];
        }
        if (!first)
            appendStringInfoCharMacro(out, ',');
        first = false;
        AppendColumnValue(out, column, isnull, value, opts);
    }
    appendStringInfoCharMacro(out, '}');
}

void AppendToastArray(StringInfo out, const RelationEntry *entry, const int *toast_columns,
                      int ntoast_columns) {
    if (ntoast_columns == 0)
        return;
    AppendLiteral(out, ",\"toast\":[");
    for (int k = 0; k < ntoast_columns; k++) {
        const ColumnEncoder *column = &entry->columns[toast_columns[k]];
        if (k > 0)
            appendStringInfoCharMacro(out, ',');
        /* the key fragment is the escaped name followed by ':' */
        AppendBytes(out, column->key_fragment, column->key_fragment_len - 1);
    }
    appendStringInfoCharMacro(out, ']');
}

}  // namespace snowcdc

/* The state of SnowcdcBeginRowBatch: what every record of the batch shares. */
struct SnowcdcRowBatch {
    Relation rel;                  /* the relation whose rows are encoded */
    snowcdc::RelationEntry *entry; /* its cached entry; NULL until the first row */
    snowcdc::TxnEnvelope envelope; /* lsn and ts, formatted once */
    SnowcdcEncoderOptions options; /* value encoding */
};

namespace {

/* `{"op":"r",..,"key":{..},"after":{..}}` of one deformed row. */
void AppendSnapshotRecord(StringInfo out, const snowcdc::RelationEntry *entry,
                          const snowcdc::TxnEnvelope *envelope, uint64 seq,
                          const snowcdc::RowImage *row, const SnowcdcEncoderOptions *opts) {
    snowcdc::AppendRowEnvelope(out, "{\"op\":\"r\"", envelope, seq, entry);
    snowcdc::AppendKeyObject(out, entry, row, opts);
    snowcdc::AppendRowObject(out, ",\"after\":{", entry, row, nullptr, nullptr, nullptr, opts);
    appendStringInfoCharMacro(out, '}');
}

}  // namespace

void SnowcdcAppendRowRecord(StringInfo out, Relation rel, HeapTuple tuple, uint64 lsn, uint64 seq,
                            int64 ts_unix_us, const SnowcdcEncoderOptions *opts) {
    snowcdc::RelationEntry *entry = snowcdc::LookupRelationEntry(rel);
    snowcdc::RowImage row;
    snowcdc::DeformRow(rel, tuple, &row);
    snowcdc::TxnEnvelope envelope;
    snowcdc::FormatTxnEnvelope(&envelope, lsn, false, InvalidTransactionId, ts_unix_us);
    AppendSnapshotRecord(out, entry, &envelope, seq, &row, opts);
}

SnowcdcRowBatch *SnowcdcBeginRowBatch(Relation rel, uint64 lsn, int64 ts_unix_us,
                                      const SnowcdcEncoderOptions *opts) {
    SnowcdcRowBatch *batch = static_cast<SnowcdcRowBatch *>(palloc(sizeof(SnowcdcRowBatch)));
    batch->rel = rel;
    batch->entry = nullptr;
    snowcdc::FormatTxnEnvelope(&batch->envelope, lsn, false, InvalidTransactionId, ts_unix_us);
    batch->options = *opts;
    return batch;
}

void SnowcdcAppendSlotRecord(StringInfo out, SnowcdcRowBatch *batch, TupleTableSlot *slot,
                             uint64 seq) {
    /*
     * An invalidation (ANALYZE in another session is enough) marks the entry for a rebuild;
     * the relid check guards against an entry released and reused for another relation.
     */
    snowcdc::RelationEntry *entry = batch->entry;
    if (entry == nullptr || !entry->valid || entry->relid != RelationGetRelid(batch->rel))
        batch->entry = entry = snowcdc::LookupRelationEntry(batch->rel);
    slot_getallattrs(slot);
    snowcdc::RowImage row = {slot->tts_values, slot->tts_isnull};
    AppendSnapshotRecord(out, entry, &batch->envelope, seq, &row, &batch->options);
}
