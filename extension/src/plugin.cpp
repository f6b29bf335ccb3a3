/*
 * plugin.cpp
 *		The snowcdc logical decoding output plugin: writes cdc-record-v1 JSON records.
 *
 * One record per OutputPluginPrepareWrite/OutputPluginWrite: begin and commit (option
 * `transactions`), c/u/d row changes, t for each truncated table and m for logical
 * messages (option `messages`). Every record of a transaction carries its commit LSN
 * and commit time, so streaming of in-progress transactions is not supported.
 * Records are built straight into ctx->out from fragments pre-built by the relation
 * cache; all per-change allocations go to a private context reset after each change.
 */
#include "pg_headers.h"
#include "record_writer.h"
#include "relation_cache.h"
#include "value_encoder.h"

extern "C" {
PG_MODULE_MAGIC;
extern void _PG_output_plugin_init(OutputPluginCallbacks *cb);
}

namespace snowcdc {
namespace {

/* Microseconds from the Unix epoch to the Postgres epoch, 2000-01-01 00:00:00 UTC. */
constexpr int64 kPostgresEpochUnixUs = INT64CONST(946684800000000);

/* Only format version 1 exists; the option lets a future client ask for version 2. */
constexpr int kMinFormatVersion = 1;
constexpr int kMaxFormatVersion = 1;

/* Changes skipped in a row before the walsender is told about progress. */
constexpr int kSkippedChangesPerProgressUpdate = 100;

/*
 * One include-tables/exclude-tables pattern: a schema part and a table part, each either a
 * glob ('*' matches any run of characters within that part) or, when double-quoted, a name
 * matched exactly.
 */
struct TablePattern {
    const char *schema; /* schema part, quotes removed */
    bool schema_exact;  /* schema part was quoted: no wildcards */
    const char *table;  /* table part, quotes removed */
    bool table_exact;   /* table part was quoted: no wildcards */
};

/* The decoding session's options, parsed once at startup. */
struct PluginOptions {
    bool transactions;             /* write begin and commit records */
    bool before;                   /* write `before` when Postgres logged the old row */
    bool messages;                 /* write m records for logical messages */
    bool skip_origin;              /* skip changes replayed from another origin */
    int format_version;            /* record format the client expects */
    SnowcdcEncoderOptions encoder; /* value options shared with the row encoder */
    List *message_prefixes;        /* char * prefixes that pass; NIL: all of them */
    List *include_tables;          /* TablePattern *; NIL: all tables */
    List *exclude_tables;          /* TablePattern *; exclusion wins */
};

/* The plugin's state for one decoding session, on ctx->output_plugin_private. */
struct PluginState {
    PluginOptions options;        /* parsed options */
    MemoryContext change_context; /* reset after every change; child of ctx->context */
    uint64 filter_generation;     /* distinguishes this session's cached filter results */
    int skipped_changes;          /* changes skipped since the last progress update */
};

/* Per-transaction state, on txn->output_plugin_private. */
struct TxnState {
    uint64 records;       /* records written so far: the next seq, and n at commit */
    bool begin_written;   /* the begin record went out (transactions option) */
    TxnEnvelope envelope; /* lsn, xid and ts of every record, formatted at begin */
};

/* Session counter for RelationEntry::filter_generation; 0 means never computed. */
uint64 last_filter_generation = 0;

/* Prototypes of the callbacks, in pgoutput's order. */
void Startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init);
void BeginTxn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
void CommitTxn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn);
void Change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation rel,
            ReorderBufferChange *change);
void Truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
              Relation relations[], ReorderBufferChange *change);
void Message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr message_lsn,
             bool transactional, const char *prefix, Size message_size, const char *message);
bool FilterByOrigin(LogicalDecodingContext *ctx, RepOriginId origin_id);
void Shutdown(LogicalDecodingContext *ctx);

}  // namespace
}  // namespace snowcdc

/* Registers the callbacks; Postgres calls this when a slot with this plugin is used. */
void _PG_output_plugin_init(OutputPluginCallbacks *cb) {
    /* session start */
    cb->startup_cb = snowcdc::Startup;
    /* transactions, replayed in commit order */
    cb->begin_cb = snowcdc::BeginTxn;
    cb->commit_cb = snowcdc::CommitTxn;
    cb->change_cb = snowcdc::Change;
    cb->truncate_cb = snowcdc::Truncate;
    cb->message_cb = snowcdc::Message;
    /* filters */
    cb->filter_by_origin_cb = snowcdc::FilterByOrigin;
    /* session end */
    cb->shutdown_cb = snowcdc::Shutdown;
    /* no stream_* and no two-phase callbacks: a record needs its commit LSN and time */
}

namespace snowcdc {
namespace {

/* ---------------------------------------------------------------------------------
 * Options
 * --------------------------------------------------------------------------------- */

/* Reports a bad option, naming it and the offending value. */
[[noreturn]] void BadOptionValue(const DefElem *elem, const char *value, const char *problem,
                                 const char *detail) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("option \"%s\" %s: \"%s\"", elem->defname, problem, value),
                    errdetail("%s", detail)));
    pg_unreachable();
}

[[noreturn]] void BadOption(const DefElem *elem, const char *problem, const char *detail) {
    BadOptionValue(elem, elem->arg != nullptr ? strVal(elem->arg) : "(no value)", problem, detail);
}

/* A missing value means true. */
bool ParseBoolOption(const DefElem *elem) {
    if (elem->arg == nullptr)
        return true;
    bool value;
    if (!parse_bool(strVal(elem->arg), &value))
        BadOption(elem, "has an invalid boolean value",
                  "Use true or false (also on/off, yes/no, 1/0).");
    return value;
}

const char *RequireValue(const DefElem *elem, const char *detail) {
    if (elem->arg == nullptr)
        BadOption(elem, "needs a value", detail);
    return strVal(elem->arg);
}

/* The first ',' of `p` (outside double quotes with `quoting`), or its terminating NUL. */
const char *ListItemEnd(const char *p, bool quoting) {
    bool quoted = false;
    for (; *p != '\0'; p++) {
        if (*p == '"' && quoting)
            quoted = !quoted;
        else if (*p == ',' && !quoted)
            break;
    }
    return p;
}

/*
 * Splits the option's comma-separated value into trimmed, non-empty palloc'd strings;
 * with `quoting` (table patterns), commas inside double quotes do not separate. An empty
 * list is an error: it would otherwise read as "no filter", the opposite of what an empty
 * include list says.
 */
List *ParseList(const DefElem *elem, const char *detail, bool quoting) {
    const char *text = RequireValue(elem, detail);
    List *items = NIL;
    const char *p = text;
    while (*p != '\0') {
        const char *end = ListItemEnd(p, quoting);
        const char *first = p;
        const char *last = end;
        while (first < last && isspace(static_cast<unsigned char>(*first)))
            first++;
        while (last > first && isspace(static_cast<unsigned char>(last[-1])))
            last--;
        if (last > first)
            items = lappend(items, pnstrdup(first, last - first));
        p = *end == ',' ? end + 1 : end;
    }
    if (items == NIL)
        BadOption(elem, "lists nothing", detail);
    return items;
}

/*
 * Reads one part of a table pattern at *p: "quoted" ("" is a quote inside) or unquoted up
 * to the next '.'. Advances *p past it; returns false when a quote is not closed.
 */
bool ParsePatternPart(const char **p, const char **part, bool *exact) {
    StringInfoData buf;
    initStringInfo(&buf);
    const char *c = *p;
    *exact = *c == '"';
    if (*exact) {
        for (c++;; c++) {
            if (*c == '\0')
                return false;
            if (*c == '"') {
                if (c[1] != '"')
                    break;
                c++;
            }
            appendStringInfoChar(&buf, *c);
        }
        c++;
    } else {
        for (; *c != '\0' && *c != '.'; c++)
            appendStringInfoChar(&buf, *c);
    }
    *part = buf.data;
    *p = c;
    return true;
}

/*
 * Table patterns are schema.table, each part a glob with '*' or a double-quoted exact name
 * (for names with dots, commas, quotes or stars); a bare name is ambiguous.
 */
List *ParseTableList(const DefElem *elem) {
    static const char kDetail[] =
        "Give comma-separated schema.table patterns, e.g. public.orders or public.*; "
        "double-quote a part that contains '.', ',' or '*', e.g. \"my.schema\".\"t\".";
    List *texts = ParseList(elem, kDetail, true);
    List *patterns = NIL;
    ListCell *cell;
    foreach (cell, texts) {
        const char *text = static_cast<const char *>(lfirst(cell));
        TablePattern *pattern = static_cast<TablePattern *>(palloc(sizeof(TablePattern)));
        const char *p = text;
        if (!ParsePatternPart(&p, &pattern->schema, &pattern->schema_exact))
            BadOptionValue(elem, text, "has an unterminated quoted name", kDetail);
        if (*p == '\0')
            BadOptionValue(elem, text, "has a table name without a schema", kDetail);
        if (*p++ != '.')
            BadOptionValue(elem, text, "is not a schema.table pattern", kDetail);
        if (!ParsePatternPart(&p, &pattern->table, &pattern->table_exact))
            BadOptionValue(elem, text, "has an unterminated quoted name", kDetail);
        if (*p != '\0' || pattern->schema[0] == '\0' || pattern->table[0] == '\0')
            BadOptionValue(elem, text, "is not a schema.table pattern", kDetail);
        patterns = lappend(patterns, pattern);
    }
    return patterns;
}

int ParseFormatVersion(const DefElem *elem) {
    const char *text = RequireValue(elem, "Give the record format version, 1.");
    char *end;
    errno = 0;
    long version = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || version < kMinFormatVersion ||
        version > kMaxFormatVersion)
        BadOption(elem, "is not a supported format version",
                  "This snowcdc writes format version 1 only.");
    return static_cast<int>(version);
}

/* Marks an option as given, rejecting a second occurrence. */
void MarkSeen(const DefElem *elem, bool *seen) {
    if (*seen)
        BadOption(elem, "is given more than once", "Give each option at most once.");
    *seen = true;
}

/* Parses every option into `options`, after setting the explicit defaults. */
void ParseOptions(List *option_list, PluginOptions *options) {
    options->transactions = false;
    options->before = false;
    options->messages = false;
    options->skip_origin = false;
    options->format_version = kMaxFormatVersion;
    options->encoder.numeric_as_string = false;
    options->message_prefixes = NIL;
    options->include_tables = NIL;
    options->exclude_tables = NIL;

    bool seen_transactions = false, seen_before = false, seen_messages = false;
    bool seen_skip_origin = false, seen_format = false, seen_numeric = false;
    bool seen_prefixes = false, seen_include = false, seen_exclude = false;
    ListCell *cell;
    foreach (cell, option_list) {
        DefElem *elem = static_cast<DefElem *>(lfirst(cell));
        const char *name = elem->defname;
        if (strcmp(name, "transactions") == 0) {
            MarkSeen(elem, &seen_transactions);
            options->transactions = ParseBoolOption(elem);
        } else if (strcmp(name, "before") == 0) {
            MarkSeen(elem, &seen_before);
            options->before = ParseBoolOption(elem);
        } else if (strcmp(name, "messages") == 0) {
            MarkSeen(elem, &seen_messages);
            options->messages = ParseBoolOption(elem);
        } else if (strcmp(name, "skip-origin") == 0) {
            MarkSeen(elem, &seen_skip_origin);
            options->skip_origin = ParseBoolOption(elem);
        } else if (strcmp(name, "numeric-as-string") == 0) {
            MarkSeen(elem, &seen_numeric);
            options->encoder.numeric_as_string = ParseBoolOption(elem);
        } else if (strcmp(name, "format-version") == 0) {
            MarkSeen(elem, &seen_format);
            options->format_version = ParseFormatVersion(elem);
        } else if (strcmp(name, "message-prefixes") == 0) {
            MarkSeen(elem, &seen_prefixes);
            options->message_prefixes =
                ParseList(elem, "Give comma-separated message prefixes.", false);
        } else if (strcmp(name, "include-tables") == 0) {
            MarkSeen(elem, &seen_include);
            options->include_tables = ParseTableList(elem);
        } else if (strcmp(name, "exclude-tables") == 0) {
            MarkSeen(elem, &seen_exclude);
            options->exclude_tables = ParseTableList(elem);
        } else {
            BadOption(elem, "is not a snowcdc option",
                      "Valid options: transactions, before, messages, message-prefixes, "
                      "numeric-as-string, include-tables, exclude-tables, skip-origin, "
                      "format-version.");
        }
    }
}

/* ---------------------------------------------------------------------------------
 * Filters and helpers
 * --------------------------------------------------------------------------------- */

/* Glob match where '*' matches any run of characters, including none. */
bool GlobMatch(const char *pattern, const char *text) {
    const char *star = nullptr;
    const char *resume = nullptr;
    while (*text != '\0') {
        if (*pattern == '*') {
            star = pattern++;
            resume = text;
        } else if (*pattern == *text) {
            pattern++;
            text++;
        } else if (star != nullptr) {
            pattern = star + 1;
            text = ++resume;
        } else {
            return false;
        }
    }
    while (*pattern == '*')
        pattern++;
    return *pattern == '\0';
}

bool MatchesPart(const char *pattern, bool exact, const char *name) {
    return exact ? strcmp(pattern, name) == 0 : GlobMatch(pattern, name);
}

/* Whether a pattern matches; each part on its own, so '*' never spans the dot. */
bool MatchesAny(List *patterns, const RelationEntry *entry) {
    ListCell *cell;
    foreach (cell, patterns) {
        const TablePattern *pattern = static_cast<const TablePattern *>(lfirst(cell));
        if (MatchesPart(pattern->schema, pattern->schema_exact, entry->schema_name) &&
            MatchesPart(pattern->table, pattern->table_exact, entry->table_name))
            return true;
    }
    return false;
}

/* Whether the session's table filters exclude the relation; cached on the entry. */
bool TableFilteredOut(PluginState *state, RelationEntry *entry) {
    if (entry->filter_generation != state->filter_generation) {
        const PluginOptions *options = &state->options;
        bool included =
            options->include_tables == NIL || MatchesAny(options->include_tables, entry);
        entry->filtered_out = !included || MatchesAny(options->exclude_tables, entry);
        entry->filter_generation = state->filter_generation;
    }
    return entry->filtered_out;
}

/* Keeps the walsender's progress moving while long runs of changes are skipped. */
void NoteSkippedChange(LogicalDecodingContext *ctx, PluginState *state) {
    if (++state->skipped_changes >= kSkippedChangesPerProgressUpdate) {
        state->skipped_changes = 0;
        OutputPluginUpdateProgress(ctx, false);
    }
}

int64 CommitTimeUnixUs(const ReorderBufferTXN *txn) {
    return txn->xact_time.commit_time + kPostgresEpochUnixUs;
}

TxnState *GetTxnState(ReorderBufferTXN *txn) {
    return static_cast<TxnState *>(txn->output_plugin_private);
}

/* Writes the begin record before the transaction's first record, if asked for. */
void EnsureBeginWritten(LogicalDecodingContext *ctx, PluginState *state, ReorderBufferTXN *txn,
                        TxnState *txn_state) {
    if (!state->options.transactions || txn_state->begin_written)
        return;
    txn_state->begin_written = true;
    OutputPluginPrepareWrite(ctx, true);
    AppendLiteral(ctx->out, "{\"op\":\"begin\",\"xid\":");
    AppendUint64(ctx->out, txn->xid);
    AppendLiteral(ctx->out, ",\"lsn\":");
    AppendUint64(ctx->out, txn->final_lsn);
    AppendLiteral(ctx->out, ",\"ts\":");
    AppendInt64(ctx->out, CommitTimeUnixUs(txn));
    appendStringInfoCharMacro(ctx->out, '}');
    OutputPluginWrite(ctx, true);
}

/* Starts a record of the transaction: begin if due, then the write; returns its seq. */
uint64 StartTxnRecord(LogicalDecodingContext *ctx, PluginState *state, ReorderBufferTXN *txn) {
    TxnState *txn_state = GetTxnState(txn);
    EnsureBeginWritten(ctx, state, txn, txn_state);
    state->skipped_changes = 0;
    OutputPluginPrepareWrite(ctx, true);
    return txn_state->records++;
}

/* ---------------------------------------------------------------------------------
 * Callbacks, in pgoutput's order
 * --------------------------------------------------------------------------------- */

/*
 * Startup: parse the options, declare the output type and set up memory. The output
 * is UTF-8 JSON; it is "textual" only where that is also the database encoding, so
 * pg_logical_slot_get_changes refuses rather than mislabels it in other databases.
 */
void Startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init) {
    PluginState *state =
        static_cast<PluginState *>(MemoryContextAllocZero(ctx->context, sizeof(PluginState)));
    MemoryContext old = MemoryContextSwitchTo(ctx->context);
    ParseOptions(ctx->output_plugin_options, &state->options);
    MemoryContextSwitchTo(old);
    state->change_context =
        AllocSetContextCreate(ctx->context, "snowcdc change", ALLOCSET_DEFAULT_SIZES);
    state->filter_generation = ++last_filter_generation;
    ctx->output_plugin_private = state;

    int encoding = GetDatabaseEncoding();
    opt->output_type = (encoding == PG_UTF8 || encoding == PG_SQL_ASCII)
                           ? OUTPUT_PLUGIN_TEXTUAL_OUTPUT
                           : OUTPUT_PLUGIN_BINARY_OUTPUT;
    opt->receive_rewrites = false;
    InvalidateAllRelationEntries();
}

/*
 * Begin: sets up the per-transaction counter and frees relation entries invalidated since
 * the last transaction (no entry is in use here). The begin record is written with the
 * first record, so transactions with nothing to write produce nothing.
 */
void BeginTxn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn) {
    ReleaseInvalidRelationEntries();
    TxnState *txn_state =
        static_cast<TxnState *>(MemoryContextAllocZero(ctx->context, sizeof(TxnState)));
    /* without streaming, begin is called at replay: the commit LSN and time are known */
    FormatTxnEnvelope(&txn_state->envelope, txn->final_lsn, true, txn->xid, CommitTimeUnixUs(txn));
    txn->output_plugin_private = txn_state;
}

/*
 * Commit: the commit record (transactions option) with n = records written. A
 * transaction that wrote nothing still reports progress, so that the walsender can
 * confirm its LSN while everything is being filtered.
 */
void CommitTxn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn) {
    PluginState *state = static_cast<PluginState *>(ctx->output_plugin_private);
    TxnState *txn_state = GetTxnState(txn);
    uint64 records = txn_state->records;
    pfree(txn_state);
    txn->output_plugin_private = nullptr;
    if (records == 0) {
        state->skipped_changes = 0;
        OutputPluginUpdateProgress(ctx, true);
        return;
    }
    if (!state->options.transactions)
        return;
    OutputPluginPrepareWrite(ctx, true);
    AppendLiteral(ctx->out, "{\"op\":\"commit\",\"xid\":");
    AppendUint64(ctx->out, txn->xid);
    AppendLiteral(ctx->out, ",\"lsn\":");
    AppendUint64(ctx->out, txn->final_lsn);
    AppendLiteral(ctx->out, ",\"end_lsn\":");
    AppendUint64(ctx->out, txn->end_lsn);
    AppendLiteral(ctx->out, ",\"ts\":");
    AppendInt64(ctx->out, CommitTimeUnixUs(txn));
    AppendLiteral(ctx->out, ",\"n\":");
    AppendUint64(ctx->out, records);
    appendStringInfoCharMacro(ctx->out, '}');
    OutputPluginWrite(ctx, true);
}

/* The c/u/d record of one row change, built in ctx->out. */
void WriteChange(LogicalDecodingContext *ctx, PluginState *state, ReorderBufferTXN *txn,
                 Relation rel, RelationEntry *entry, ReorderBufferChange *change) {
    const SnowcdcEncoderOptions *opts = &state->options.encoder;
    HeapTuple new_tuple =
        change->data.tp.newtuple != nullptr ? &change->data.tp.newtuple->tuple : nullptr;
    HeapTuple old_tuple =
        change->data.tp.oldtuple != nullptr ? &change->data.tp.oldtuple->tuple : nullptr;
    if (new_tuple == nullptr && change->action != REORDER_BUFFER_CHANGE_DELETE)
        elog(ERROR, "change %d of relation %u has no new tuple", static_cast<int>(change->action),
             RelationGetRelid(rel));
    RowImage new_row, old_row;
    if (new_tuple != nullptr)
        DeformRow(rel, new_tuple, &new_row);
    if (old_tuple != nullptr)
        DeformRow(rel, old_tuple, &old_row);
    /* Postgres logs a whole old row only for REPLICA IDENTITY FULL */
    bool old_is_full = old_tuple != nullptr && rel->rd_rel->relreplident == REPLICA_IDENTITY_FULL;
    /*
     * An unchanged TOASTed column is taken from the old image when Postgres logged its value:
     * every column of a FULL row, and the key columns of an old key, which Postgres logs
     * (flattened) whenever the key holds an out-of-line value. Columns absent from an old key
     * image are NULL there and so never used.
     */
    const RowImage *toast_fallback = old_tuple != nullptr ? &old_row : nullptr;

    uint64 seq = StartTxnRecord(ctx, state, txn);
    StringInfo out = ctx->out;
    switch (change->action) {
        case REORDER_BUFFER_CHANGE_INSERT:
            AppendRowEnvelope(out, "{\"op\":\"c\"", &GetTxnState(txn)->envelope, seq, entry);
            AppendKeyObject(out, entry, &new_row, opts);
            AppendRowObject(out, ",\"after\":{", entry, &new_row, nullptr, nullptr, nullptr, opts);
            break;
        case REORDER_BUFFER_CHANGE_UPDATE: {
            AppendRowEnvelope(out, "{\"op\":\"u\"", &GetTxnState(txn)->envelope, seq, entry);
            AppendKeyObject(out, entry, old_tuple != nullptr ? &old_row : &new_row, opts);
            int *toast_columns = static_cast<int *>(palloc(entry->natts * sizeof(int)));
            int ntoast_columns = 0;
            AppendRowObject(out, ",\"after\":{", entry, &new_row, toast_fallback, toast_columns,
                            &ntoast_columns, opts);
            if (old_is_full && state->options.before)
                AppendRowObject(out, ",\"before\":{", entry, &old_row, nullptr, nullptr, nullptr,
                                opts);
            AppendToastArray(out, entry, toast_columns, ntoast_columns);
            break;
        }
        case REORDER_BUFFER_CHANGE_DELETE:
            AppendRowEnvelope(out, "{\"op\":\"d\"", &GetTxnState(txn)->envelope, seq, entry);
            if (old_tuple != nullptr) {
                AppendKeyObject(out, entry, &old_row, opts);
                if (old_is_full && state->options.before)
                    AppendRowObject(out, ",\"before\":{", entry, &old_row, nullptr, nullptr,
                                    nullptr, opts);
            }
            break;
        default:
            elog(ERROR, "unexpected change action %d", static_cast<int>(change->action));
    }
    appendStringInfoCharMacro(out, '}');
    OutputPluginWrite(ctx, true);
}

/*
 * Change: one c/u/d record per row change of a table the filters let through. The
 * private context is switched to and reset around the change, so nothing allocated
 * while encoding outlives it.
 */
void Change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation rel,
            ReorderBufferChange *change) {
    PluginState *state = static_cast<PluginState *>(ctx->output_plugin_private);
    MemoryContext old = MemoryContextSwitchTo(state->change_context);
    RelationEntry *entry = LookupRelationEntry(rel);
    if (TableFilteredOut(state, entry))
        NoteSkippedChange(ctx, state);
    else
        WriteChange(ctx, state, txn, rel, entry, change);
    MemoryContextSwitchTo(old);
    MemoryContextReset(state->change_context);
}

/*
 * Truncate: one t record per truncated table, each with its own seq; cascade and
 * restart_identity appear only when true. Partitioned tables are left out: changes are
 * recorded per leaf partition, and Postgres lists every leaf of a truncated parent too.
 */
void Truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
              Relation relations[], ReorderBufferChange *change) {
    PluginState *state = static_cast<PluginState *>(ctx->output_plugin_private);
    MemoryContext old = MemoryContextSwitchTo(state->change_context);
    for (int i = 0; i < nrelations; i++) {
        if (relations[i]->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
            continue;
        RelationEntry *entry = LookupRelationEntry(relations[i]);
        if (TableFilteredOut(state, entry)) {
            NoteSkippedChange(ctx, state);
            continue;
        }
        uint64 seq = StartTxnRecord(ctx, state, txn);
        AppendRowEnvelope(ctx->out, "{\"op\":\"t\"", &GetTxnState(txn)->envelope, seq, entry);
        if (change->data.truncate.cascade)
            AppendLiteral(ctx->out, ",\"cascade\":true");
        if (change->data.truncate.restart_seqs)
            AppendLiteral(ctx->out, ",\"restart_identity\":true");
        appendStringInfoCharMacro(ctx->out, '}');
        OutputPluginWrite(ctx, true);
    }
    MemoryContextSwitchTo(old);
    MemoryContextReset(state->change_context);
}

/*
 * The message content as a JSON string when it is valid text, else as hex digits. Text of
 * a SQL_ASCII database must be UTF-8 to be written as a string.
 */
void AppendMessageContent(StringInfo out, const char *message, Size message_size) {
    int len = static_cast<int>(message_size);
    int encoding = GetDatabaseEncoding() == PG_SQL_ASCII ? PG_UTF8 : GetDatabaseEncoding();
    if (pg_verify_mbstr(encoding, message, len, true)) {
        AppendLiteral(out, ",\"content\":");
        AppendJsonString(out, message, len);
        return;
    }
    static const char kHex[] = "0123456789abcdef";
    AppendLiteral(out, ",\"content_encoding\":\"hex\",\"content\":\"");
    for (int i = 0; i < len; i++) {
        unsigned char c = static_cast<unsigned char>(message[i]);
        appendStringInfoCharMacro(out, kHex[c >> 4]);
        appendStringInfoCharMacro(out, kHex[c & 0xF]);
    }
    appendStringInfoCharMacro(out, '"');
}

/*
 * Message: an m record for pg_logical_emit_message when `messages` is on and the
 * prefix passes `message-prefixes`. A transactional message is part of its transaction
 * (commit LSN, seq, xid); a non-transactional one carries its own LSN and no seq/xid.
 */
void Message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr message_lsn,
             bool transactional, const char *prefix, Size message_size, const char *message) {
    PluginState *state = static_cast<PluginState *>(ctx->output_plugin_private);
    const PluginOptions *options = &state->options;
    if (!options->messages)
        return;
    if (options->message_prefixes != NIL) {
        bool wanted = false;
        ListCell *cell;
        foreach (cell, options->message_prefixes) {
            if (strcmp(static_cast<const char *>(lfirst(cell)), prefix) == 0)
                wanted = true;
        }
        if (!wanted)
            return;
    }
    MemoryContext old = MemoryContextSwitchTo(state->change_context);
    StringInfo out = ctx->out;
    if (transactional) {
        uint64 seq = StartTxnRecord(ctx, state, txn);
        AppendLiteral(out, "{\"op\":\"m\",\"lsn\":");
        AppendUint64(out, txn->final_lsn);
        AppendLiteral(out, ",\"seq\":");
        AppendUint64(out, seq);
        AppendLiteral(out, ",\"xid\":");
        AppendUint64(out, txn->xid);
        AppendLiteral(out, ",\"transactional\":true");
    } else {
        OutputPluginPrepareWrite(ctx, true);
        AppendLiteral(out, "{\"op\":\"m\",\"lsn\":");
        AppendUint64(out, message_lsn);
        AppendLiteral(out, ",\"transactional\":false");
    }
    AppendLiteral(out, ",\"prefix\":");
    AppendJsonString(out, prefix, static_cast<int>(strlen(prefix)));
    AppendMessageContent(out, message, message_size);
    appendStringInfoCharMacro(out, '}');
    OutputPluginWrite(ctx, true);
    MemoryContextSwitchTo(old);
    MemoryContextReset(state->change_context);
}

/* Filter by origin: with skip-origin, changes replayed from another node are not sent. */
bool FilterByOrigin(LogicalDecodingContext *ctx, RepOriginId origin_id) {
    PluginState *state = static_cast<PluginState *>(ctx->output_plugin_private);
    return state->options.skip_origin && origin_id != InvalidRepOriginId;
}

/*
 * Shutdown: memory goes with ctx->context; cached entries must not outlive the historic
 * snapshot they were built under, and are freed rather than kept in the backend.
 */
void Shutdown(LogicalDecodingContext *ctx) {
    InvalidateAllRelationEntries();
    ReleaseInvalidRelationEntries();
}

}  // namespace
}  // namespace snowcdc
