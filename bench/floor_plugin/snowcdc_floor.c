/*
 * snowcdc_floor: a logical decoding output plugin that does no work of its own, so that
 * timing it measures what Postgres spends reading WAL, reassembling transactions and
 * delivering messages. The decoding benchmark subtracts its time from every other
 * plugin's to isolate what each plugin adds.
 *
 * By default it emits one constant byte per change (insert, update, delete, and each
 * truncated relation), and nothing for begin and commit. Every real plugin delivers at
 * least one message per change, and delivering a message (a tuplestore row for the SQL
 * functions, a CopyData frame for the walsender) has a cost of its own; a floor that emits
 * nothing would leave that cost inside every plugin's "overhead". The byte is also the
 * change counter: the number of output rows equals the number of changes decoded.
 * Option emit = 'none' gives the empty floor, for comparison.
 */
#include "postgres.h"

#include "fmgr.h"
#include "replication/logical.h"
#include "replication/output_plugin.h"
#include "utils/builtins.h"

PG_MODULE_MAGIC;

/* Per-slot state, allocated in the decoding context by the startup callback. */
typedef struct FloorData {
    bool emit_byte; /* true: one byte per change; false: no output at all */
} FloorData;

extern void _PG_output_plugin_init(OutputPluginCallbacks *cb);

static void FloorStartup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init);
static void FloorBegin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void FloorChange(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation relation,
                        ReorderBufferChange *change);
static void FloorTruncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
                          Relation relations[], ReorderBufferChange *change);
static void FloorCommit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn);
static void EmitOneByte(LogicalDecodingContext *ctx);

void _PG_output_plugin_init(OutputPluginCallbacks *cb) {
    /* Lifecycle. */
    cb->startup_cb = FloorStartup;

    /* Transactions and their changes; everything else is left to the defaults (skipped). */
    cb->begin_cb = FloorBegin;
    cb->change_cb = FloorChange;
    cb->truncate_cb = FloorTruncate;
    cb->commit_cb = FloorCommit;
}

/* Parses the options (only emit = 'byte' | 'none') and declares textual output. */
static void FloorStartup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init) {
    FloorData *data = palloc0(sizeof(FloorData));
    ListCell *option;

    data->emit_byte = true;
    foreach (option, ctx->output_plugin_options) {
        DefElem *elem = lfirst(option);
        const char *value = elem->arg != NULL ? strVal(elem->arg) : "";

        if (strcmp(elem->defname, "emit") != 0)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("option \"%s\" = \"%s\" is unknown", elem->defname, value),
                            errdetail("snowcdc_floor accepts only emit = 'byte' or 'none'.")));
        if (strcmp(value, "byte") == 0)
            data->emit_byte = true;
        else if (strcmp(value, "none") == 0)
            data->emit_byte = false;
        else
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("option \"emit\" has invalid value \"%s\"", value),
                            errdetail("Use 'byte' (one byte per change) or 'none'.")));
    }
    ctx->output_plugin_private = data;
    opt->output_type = OUTPUT_PLUGIN_TEXTUAL_OUTPUT;
    opt->receive_rewrites = false;
}

/* Begin: nothing to say. */
static void FloorBegin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn) {}

/* Insert, update or delete: one constant byte, without looking at the tuples. */
static void FloorChange(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation relation,
                        ReorderBufferChange *change) {
    EmitOneByte(ctx);
}

/* Truncate: one byte per truncated relation, as the other plugins emit one record each. */
static void FloorTruncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
                          Relation relations[], ReorderBufferChange *change) {
    for (int i = 0; i < nrelations; i++)
        EmitOneByte(ctx);
}

/* Commit: nothing to say; the framework records progress itself. */
static void FloorCommit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn) {
}

static void EmitOneByte(LogicalDecodingContext *ctx) {
    FloorData *data = ctx->output_plugin_private;

    if (!data->emit_byte)
        return;
    OutputPluginPrepareWrite(ctx, true);
    appendStringInfoChar(ctx->out, 'x');
    OutputPluginWrite(ctx, true);
}
