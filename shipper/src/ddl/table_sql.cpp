// The per-table generator (see table_sql.hpp). The merge runs as a fixed sequence of
// statements inside one transaction:
//   1. copy this table's pending records into the batch work table (duplicates dropped);
//   2. turn the batch into per-key row images in the events work table: updates that change the
//      key become a delete of the old key and an insert of the new one, truncates become a
//      delete of every key alive before them, records at or below a key's last applied
//      (lsn, seq) are dropped, and every column missing from an image (TOAST, deletes) takes the
//      value of the latest earlier image of the key in the batch, else of the current table;
//   3. close the open history versions, insert the new versions (one per key per transaction),
//      fold versions that a transaction split across two batches;
//   4. merge the last image of each key into the current-state table;
//   5. log applied truncates and delete the batch's records from the pending table.
#include "ddl/table_sql.hpp"

#include <functional>
#include <set>
#include <stdexcept>
#include <vector>

namespace snowcdc::ddl {

namespace {

// snowcdc's own columns; a source column with one of these names would be shadowed.
const std::set<std::string> &ReservedColumns() {
    static const std::set<std::string> names = {
        "valid_from",  "valid_to", "is_current", "is_deleted", "_kind",     "_lsn",   "_seq",
        "_sub",        "_ts",      "_kc",        "_img",       "_toast",    "_rn",    "_last_kind",
        "_had_upsert", "_next_ts", "_next_kind", "_next_lsn",  "_next_seq", "_w_lsn", "_w_seq"};
    return names;
}

bool IsReservedColumn(const std::string &name) {
    return ReservedColumns().count(name) != 0 || name.rfind("_cdc_", 0) == 0 ||
           name.rfind("_ev_", 0) == 0 || name.rfind("_run_", 0) == 0 || name.rfind("_old_", 0) == 0;
}

// Builds the statements of one table in one dialect.
class Generator {
  public:
    Generator(const Table &table, const GenerateOptions &options)
        : table_(table),
          options_(options),
          d_(options.dialect),
          objects_(ObjectsFor(table, options)) {}

    std::string Tables() const;
    std::string Procedure() const;
    std::string Task() const;
    std::string Metrics() const;
    std::string DataQuality() const;

  private:
    std::string Q(const std::string &name) const { return Ident(name, d_); }
    std::string Lit(const std::string &text) const { return Literal(text, d_); }
    std::string Sf(const char *snowflake, const char *postgres) const {
        return d_ == Dialect::kSnowflake ? snowflake : postgres;
    }
    std::string LsnType() const { return Sf("NUMBER(20,0)", "numeric(20,0)"); }
    std::string TsType() const { return Sf("TIMESTAMP_TZ(6)", "timestamptz(6)"); }
    std::string JsonType() const { return Sf("VARIANT", "jsonb"); }
    std::string ArrayType() const { return Sf("ARRAY", "jsonb"); }
    std::string TextType() const { return Sf("VARCHAR", "text"); }
    bool Soft() const { return options_.delete_mode == DeleteMode::kSoft; }

    // "a.k1, a.k2" / "a.k1 = b.k1 AND ..." over key or all columns.
    std::string List(const std::vector<const Column *> &cols, const std::string &alias) const;
    std::string KeyEq(const std::string &a, const std::string &b) const;
    std::vector<const Column *> KeyColumns() const;
    std::vector<const Column *> ValueColumns() const;  // non-key columns
    std::vector<const Column *> AllColumns() const;
    std::string ToastHas(const std::string &toast, const std::string &column) const;
    std::string Has(const Column &c, const std::string &alias) const;
    std::string After(const std::string &cmp) const;  // "(x.lsn, x.seq) > ..." helper

    std::string UserColumnDefs(bool not_null_keys) const;
    std::string CopyBatch() const;
    std::string BuildEvents() const;
    std::string CloseHistory() const;
    std::string InsertHistory() const;
    std::string FoldSplitTransactions() const;
    std::string MergeCurrent() const;
    std::string LogTruncates() const;
    std::string RecordApplied() const;
    std::string LogMerge() const;
    std::string DeletePending() const;

    const Table &table_;
    const GenerateOptions &options_;
    Dialect d_;
    TableObjects objects_;
};

std::string Generator::List(const std::vector<const Column *> &cols,
                            const std::string &alias) const {
    std::vector<std::string> parts;
    for (const Column *c : cols)
        parts.push_back((alias.empty() ? "" : alias + ".") + Q(c->name));
    return Join(parts, ", ");
}

std::string Generator::KeyEq(const std::string &a, const std::string &b) const {
    std::vector<std::string> parts;
    for (const Column *c : KeyColumns())
        parts.push_back(a + "." + Q(c->name) + " = " + b + "." + Q(c->name));
    return Join(parts, " AND ");
}

std::vector<const Column *> Generator::KeyColumns() const {
    std::vector<const Column *> out;
    for (const std::string &k : table_.key) {
        for (const Column &c : table_.columns) {
            if (c.name == k)
                out.push_back(&c);
        }
    }
    return out;
}

std::vector<const Column *> Generator::ValueColumns() const {
    std::vector<const Column *> out;
    for (const Column &c : table_.columns) {
        if (!c.is_key)
            out.push_back(&c);
    }
    return out;
}

std::vector<const Column *> Generator::AllColumns() const {
    std::vector<const Column *> out;
    for (const Column &c : table_.columns)
        out.push_back(&c);
    return out;
}

std::string Generator::ToastHas(const std::string &toast, const std::string &column) const {
    if (d_ == Dialect::kSnowflake)
        return "COALESCE(ARRAY_CONTAINS(" + Lit(column) + "::VARIANT, " + toast + "), FALSE)";
    return "COALESCE(" + toast + " ? " + Lit(column) + ", FALSE)";
}

// Whether the image of event `alias` carries column c (an upsert that did not leave it out).
std::string Generator::Has(const Column &c, const std::string &alias) const {
    std::string has = alias + "._kind = 'U'";
    if (c.varlena)
        has += " AND NOT " + ToastHas(alias + "._toast", c.name);
    return has;
}

std::string Generator::UserColumnDefs(bool not_null_keys) const {
    std::vector<std::string> defs;
    for (const Column &c : table_.columns) {
        std::string def =
            (defs.empty() ? "    " : "    , ") + Q(c.name) + " " + RenderType(c.target, d_);
        if (not_null_keys && c.is_key)
            def += " NOT NULL";
        defs.push_back(def + "  -- " + c.pg_type);
    }
    return Join(defs, "\n");
}

std::string Generator::Tables() const {
    std::string keys = List(KeyColumns(), "");
    std::string out;
    out += "-- Current state: the source table as of the last merged commit.\n";
    out += "CREATE TABLE IF NOT EXISTS " + objects_.current + " (\n" + UserColumnDefs(true) + "\n";
    out += "    , _cdc_lsn " + LsnType() + " NOT NULL  -- commit LSN of the record applied last\n";
    out += "    , _cdc_seq " + LsnType() + " NOT NULL  -- its position in the transaction\n";
    out += "    , _cdc_commit_ts " + TsType() + " NOT NULL  -- its commit time\n";
    if (Soft())
        out += "    , _cdc_is_deleted BOOLEAN NOT NULL  -- deleted in the source\n";
    out += "    , PRIMARY KEY (" + keys + ")\n);\n\n";

    out += "-- SCD2 history: one version per key per source transaction that changed it.\n";
    out += "CREATE TABLE IF NOT EXISTS " + objects_.history + " (\n" + UserColumnDefs(true) + "\n";
    out += "    , valid_from " + TsType() + " NOT NULL\n";
    out += "    , valid_to " + TsType() + "\n";
    out += "    , is_current BOOLEAN NOT NULL\n";
    out += "    , is_deleted BOOLEAN NOT NULL  -- closed by a delete or truncate\n";
    out += "    , _cdc_lsn " + LsnType() + " NOT NULL  -- the record this version came from\n";
    out += "    , _cdc_seq " + LsnType() + " NOT NULL\n";
    out += "    , _cdc_end_lsn " + LsnType() + "  -- the record that closed it\n";
    out += "    , _cdc_end_seq " + LsnType() + "\n);\n\n";

    out +=
        "-- The last applied (lsn, seq) of every key ever seen, deleted keys included: records at\n"
        "-- or below it are replays.\n";
    out += "CREATE TABLE IF NOT EXISTS " + objects_.applied + " (\n";
    for (const Column *c : KeyColumns())
        out += "    " + Q(c->name) + " " + RenderType(c->target, d_) + " NOT NULL,\n";
    out += "    _cdc_lsn " + LsnType() + " NOT NULL,\n    _cdc_seq " + LsnType() +
           " NOT NULL,\n    PRIMARY KEY (" + keys + ")\n);\n\n";
    out += "-- Work tables of the merge procedure (their content is the last batch).\n";
    out +=
        "CREATE TABLE IF NOT EXISTS " + objects_.batch + " (\n" + LandingColumnsSql(d_) + "\n);\n";
    out += "CREATE TABLE IF NOT EXISTS " + objects_.events + " (\n" + UserColumnDefs(false) + "\n";
    out +=
        "    , _ev_kind " + Sf("VARCHAR(1)", "varchar(1)") + " NOT NULL  -- U upsert, D delete\n";
    out += "    , _ev_lsn " + LsnType() + " NOT NULL\n";
    out += "    , _ev_seq " + LsnType() + " NOT NULL\n";
    out += "    , _ev_sub " + Sf("NUMBER(1,0)", "numeric(1,0)") +
           " NOT NULL  -- 1 for the new key of a key change\n";
    out += "    , _ev_ts " + TsType() + " NOT NULL\n";
    out += "    , _ev_kc BOOLEAN NOT NULL  -- half of an update that changed the key\n);\n";
    return out;
}

std::string Generator::CopyBatch() const {
    const std::string cols =
        "op, lsn, seq, xid, commit_ts, source_schema, source_table, key, before, after, toast, "
        "ingested_at";
    std::string pending =
        Qualified(options_.names, options_.names.staging_schema, "cdc_pending", d_);
    return "DELETE FROM " + objects_.batch + ";\n" + "DELETE FROM " + objects_.events + ";\n" +
           "INSERT INTO " + objects_.batch + " (" + cols + ")\nSELECT " + cols +
           "\nFROM (\n    SELECT p.*, ROW_NUMBER() OVER (PARTITION BY p.lsn, p.seq ORDER BY "
           "p.ingested_at) AS rn\n    FROM " +
           pending + " p\n    WHERE p.source_schema = " + Lit(table_.schema) +
           " AND p.source_table = " + Lit(table_.name) + "\n) d\nWHERE d.rn = 1;\n";
}

// `x.lsn, x.seq` strictly after `y.lsn, y.seq`, written out because Snowflake has no row
// comparison.
std::string Later(const std::string &x_lsn, const std::string &x_seq, const std::string &y_lsn,
                  const std::string &y_seq) {
    return "(" + x_lsn + " > " + y_lsn + " OR (" + x_lsn + " = " + y_lsn + " AND " + x_seq + " > " +
           y_seq + "))";
}

std::string Generator::BuildEvents() const {
    const auto keys = KeyColumns();
    const auto values = ValueColumns();
    const auto all = AllColumns();
    const std::string truncations =
        Qualified(options_.names, options_.names.staging_schema, "cdc_truncations", d_);
    auto key_from = [&](const std::string &json) {
        std::vector<std::string> parts;
        for (const Column *c : keys)
            parts.push_back(ExtractExpr(c->target, d_, json, c->name) + " AS " + Q(c->name));
        return Join(parts, ", ");
    };
    std::vector<std::string> same_key;
    for (const Column *c : keys) {
        same_key.push_back(ExtractExpr(c->target, d_, "b.key", c->name) + " = " +
                           ExtractExpr(c->target, d_, "b.after", c->name));
    }
    const std::string key_change =
        "COALESCE(b.op = 'u' AND NOT (" + Join(same_key, " AND ") + "), FALSE)";
    const std::string null_json = "CAST(NULL AS " + JsonType() + ")";
    const std::string null_array = "CAST(NULL AS " + ArrayType() + ")";
    const std::string ev_cols =
        "_kind, _lsn, _seq, _sub, _ts, _kc, _img, _toast, " + List(keys, "");
    const std::string before_t = "(f._lsn < t._lsn OR (f._lsn = t._lsn AND f._seq < t._seq))";

    std::string s;
    s += "INSERT INTO " + objects_.events + " (" + List(all, "") +
         ", _ev_kind, _ev_lsn, _ev_seq, _ev_sub, _ev_ts, _ev_kc)\n";
    s += "WITH RECURSIVE\n";
    s += "truncated AS (  -- the last truncate of this table already applied\n";
    s += "    SELECT _t_lsn, _t_seq FROM (\n";
    s += "        SELECT lsn AS _t_lsn, seq AS _t_seq FROM " + truncations + "\n";
    s += "        WHERE source_schema = " + Lit(table_.schema) +
         " AND source_table = " + Lit(table_.name) + "\n";
    s += "        UNION ALL SELECT -1, -1\n";
    s += "    ) l\n    ORDER BY _t_lsn DESC, _t_seq DESC\n    LIMIT 1\n),\n";
    s += "kev AS (  -- row images per key; a key change is a delete plus an insert\n";
    s += "    SELECT 'U' AS _kind, b.lsn AS _lsn, b.seq AS _seq, CASE WHEN " + key_change +
         " THEN 1 ELSE 0 END AS _sub,\n";
    s += "           b.commit_ts AS _ts, " + key_change +
         " AS _kc, b.after AS _img, b.toast AS _toast,\n";
    s += "           " + key_from("b.after") + "\n";
    s += "    FROM " + objects_.batch + " b\n    WHERE b.op IN ('c', 'r', 'u')\n";
    s += "    UNION ALL\n";
    s += "    SELECT 'D', b.lsn, b.seq, 0, b.commit_ts, b.op = 'u', " + null_json + ", " +
         null_array + ",\n           " + key_from("b.key") + "\n";
    s += "    FROM " + objects_.batch + " b\n    WHERE b.op = 'd' OR (b.op = 'u' AND " +
         key_change + ")\n),\n";
    s += "applied AS (  -- the last applied (lsn, seq) of each key in the batch\n";
    s += "    SELECT " + List(keys, "w") + ", w._cdc_lsn AS _w_lsn, w._cdc_seq AS _w_seq\n";
    s += "    FROM " + objects_.applied + " w\n";
    s += "    WHERE EXISTS (SELECT 1 FROM kev WHERE " + KeyEq("kev", "w") + ")\n),\n";
    s += "fresh AS (  -- images not applied yet\n";
    s += "    SELECT kev.* FROM kev\n    CROSS JOIN truncated tr\n";
    s += "    LEFT JOIN applied a ON " + KeyEq("a", "kev") + "\n";
    s += "    WHERE " + Later("kev._lsn", "kev._seq", "tr._t_lsn", "tr._t_seq") + "\n";
    s += "      AND (a._w_lsn IS NULL OR " + Later("kev._lsn", "kev._seq", "a._w_lsn", "a._w_seq") +
         ")\n),\n";
    s += "truncates AS (  -- truncates not applied yet, each with the one before it\n";
    s += "    SELECT b.lsn AS _lsn, b.seq AS _seq, b.commit_ts AS _ts,\n";
    s += "           LAG(b.lsn) OVER (ORDER BY b.lsn, b.seq) AS _prev_lsn,\n";
    s += "           LAG(b.seq) OVER (ORDER BY b.lsn, b.seq) AS _prev_seq\n";
    s += "    FROM " + objects_.batch + " b\n    CROSS JOIN truncated tr\n";
    s += "    WHERE b.op = 't' AND " + Later("b.lsn", "b.seq", "tr._t_lsn", "tr._t_seq") + "\n),\n";
    s += "truncated_keys AS (  -- a truncate deletes every key alive just before it\n";
    s += "    SELECT 'D' AS _kind, z._lsn, z._seq, 0 AS _sub, z._ts, FALSE AS _kc, " + null_json +
         " AS _img,\n           " + null_array + " AS _toast, " + List(keys, "z") + "\n";
    s += "    FROM (\n";
    s += "        SELECT t._lsn, t._seq, t._ts, f._kind AS _last_kind, " + List(keys, "f") + ",\n";
    s += "               ROW_NUMBER() OVER (PARTITION BY t._lsn, t._seq, " + List(keys, "f") + "\n";
    s += "                                  ORDER BY f._lsn DESC, f._seq DESC, f._sub DESC) AS "
         "_rn\n";
    s += "        FROM truncates t\n        JOIN fresh f ON " + before_t + "\n";
    s += "         AND (t._prev_lsn IS NULL OR " +
         Later("f._lsn", "f._seq", "t._prev_lsn", "t._prev_seq") + ")\n";
    s += "    ) z\n    WHERE z._rn = 1 AND z._last_kind = 'U'\n";
    s += "    UNION ALL\n";
    s += "    SELECT 'D', t._lsn, t._seq, 0, t._ts, FALSE, " + null_json + ", " + null_array +
         ", " + List(keys, "c") + "\n";
    s += "    FROM truncates t\n    JOIN " + objects_.current + " c ON " +
         Later("t._lsn", "t._seq", "c._cdc_lsn", "c._cdc_seq") + "\n";
    s += "    WHERE t._prev_lsn IS NULL" + std::string(Soft() ? " AND NOT c._cdc_is_deleted" : "") +
         "\n";
    s += "      AND NOT EXISTS (SELECT 1 FROM fresh f WHERE " + KeyEq("f", "c") + " AND " +
         before_t + ")\n),\n";
    s += "events AS (\n    SELECT " + ev_cols + " FROM fresh\n    UNION ALL\n    SELECT " +
         ev_cols + " FROM truncated_keys\n),\n";

    // Carry-forward follows the row, not the key: a key change moves the row to a new key.
    // Each key's images split into segments (a new segment at a key change's new key and at a
    // re-insert after a delete); a key change links the new key's segment to the old key's, and
    // the linked segments form the row's lineage, rooted at the segment where the row started.
    // Along a lineage, _run_i counts the images that carry column i; every image of a run takes
    // the run's first value, and run 0 takes the current table's value of the lineage's root.
    const std::string order = " ORDER BY e._lsn, e._seq, e._sub";
    const std::string frame =
        "\n                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW";
    s += "numbered AS (  -- key numbers, and segments of each key's images\n";
    s += "    SELECT e.*, DENSE_RANK() OVER (ORDER BY " + List(keys, "e") + ") AS _key_no,\n";
    s += "        SUM(CASE WHEN e._kind = 'U' AND (e._kc OR e._prev_kind = 'D') THEN 1 ELSE 0 "
         "END)\n";
    s += "            OVER (PARTITION BY " + List(keys, "e") + order + frame + ") AS _seg\n";
    s += "    FROM (\n        SELECT e.*, LAG(e._kind) OVER (PARTITION BY " + List(keys, "e") +
         order + ") AS _prev_kind\n        FROM events e\n    ) e\n),\n";
    s += "links AS (  -- the new key's segment continues the old key's\n";
    s += "    SELECT u._key_no, u._seg, d._key_no AS _parent_key_no, d._seg AS _parent_seg\n";
    s += "    FROM numbered u\n    JOIN numbered d ON d._lsn = u._lsn AND d._seq = u._seq AND "
         "d._kind = 'D' AND d._kc\n";
    s += "    WHERE u._kind = 'U' AND u._kc\n),\n";
    s += "lineage (_key_no, _seg, _root_key_no, _root_seg) AS (  -- each segment's root\n";
    s += "    SELECT DISTINCT n._key_no, n._seg, n._key_no, n._seg\n    FROM numbered n\n";
    s += "    WHERE NOT EXISTS (SELECT 1 FROM links l WHERE l._key_no = n._key_no AND l._seg = "
         "n._seg)\n";
    s += "    UNION ALL\n";
    s += "    SELECT l._key_no, l._seg, r._root_key_no, r._root_seg\n";
    s += "    FROM links l\n    JOIN lineage r ON r._key_no = l._parent_key_no AND r._seg = "
         "l._parent_seg\n),\n";
    s += "runs AS (  -- runs of images that carry each column, along the lineage\n";
    s += "    SELECT e.*, g._root_key_no AS _line_key, g._root_seg AS _line_seg";
    const std::string line_order = " ORDER BY e._lsn, e._seq, e._sub";
    for (size_t i = 0; i < values.size(); ++i) {
        s += ",\n        SUM(CASE WHEN " + Has(*values[i], "e") +
             " THEN 1 ELSE 0 END)\n            OVER (PARTITION BY g._root_key_no, g._root_seg" +
             line_order + frame + ") AS _run_" + std::to_string(i + 1);
    }
    s += "\n    FROM numbered e\n    JOIN lineage g ON g._key_no = e._key_no AND g._seg = "
         "e._seg\n),\n";
    s += "roots AS (  -- the key of each key number\n";
    s += "    SELECT DISTINCT n._key_no, " + List(keys, "n") + " FROM numbered n\n)\n";
    s += "SELECT " + List(keys, "e");
    for (size_t i = 0; i < values.size(); ++i) {
        const Column &c = *values[i];
        std::string run = "e._run_" + std::to_string(i + 1);
        s += ",\n    CASE WHEN " + run + " = 0 THEN cur." + Q(c.name) +
             "\n         ELSE FIRST_VALUE(CASE WHEN " + Has(c, "e") + " THEN " +
             ExtractExpr(c.target, d_, "e._img", c.name) +
             " END)\n              OVER (PARTITION BY e._line_key, e._line_seg, " + run + order +
             ") END";
    }
    s += ",\n    e._kind, e._lsn, e._seq, e._sub, e._ts, e._kc\n";
    s += "FROM runs e\nLEFT JOIN roots r ON r._key_no = e._line_key AND e._line_seg = 0\n";
    s += "LEFT JOIN " + objects_.current + " cur ON " + KeyEq("cur", "r") + ";\n";
    return s;
}

std::string Generator::CloseHistory() const {
    const auto keys = KeyColumns();
    return "UPDATE " + objects_.history + " h\n" +
           "SET valid_to = f._ev_ts, is_current = FALSE, is_deleted = (f._ev_kind = 'D'),\n" +
           "    _cdc_end_lsn = f._ev_lsn, _cdc_end_seq = f._ev_seq\n" +
           "FROM (\n    SELECT * FROM (\n        SELECT e.*, ROW_NUMBER() OVER (PARTITION BY " +
           List(keys, "e") +
           "\n                                       ORDER BY e._ev_lsn, e._ev_seq DESC, "
           "e._ev_sub DESC) AS _rn\n        FROM " +
           objects_.events + " e\n    ) x\n    WHERE x._rn = 1\n) f\n" + "WHERE " +
           KeyEq("h", "f") + " AND h.valid_to IS NULL\n  AND " +
           Later("f._ev_lsn", "f._ev_seq", "h._cdc_lsn", "h._cdc_seq") + ";\n";
}

std::string Generator::InsertHistory() const {
    const auto keys = KeyColumns();
    const std::string all = List(AllColumns(), "");
    const std::string over = " OVER (PARTITION BY " + List(keys, "l") + " ORDER BY l._ev_lsn)";
    return "INSERT INTO " + objects_.history + " (" + all +
           ", valid_from, valid_to, is_current, is_deleted, _cdc_lsn, _cdc_seq, _cdc_end_lsn, "
           "_cdc_end_seq)\n" +
           "SELECT " + all +
           ", _ev_ts, _next_ts, _next_ts IS NULL, COALESCE(_next_kind = 'D', FALSE),\n" +
           "       _ev_lsn, _ev_seq, _next_lsn, _next_seq\n" + "FROM (\n    SELECT l.*,\n" +
           "           LEAD(l._ev_ts)" + over + " AS _next_ts,\n" + "           LEAD(l._ev_kind)" +
           over + " AS _next_kind,\n" + "           LEAD(l._ev_lsn)" + over + " AS _next_lsn,\n" +
           "           LEAD(l._ev_seq)" + over + " AS _next_seq\n" +
           "    FROM (  -- the last image of each key in each transaction\n" +
           "        SELECT e.*, ROW_NUMBER() OVER (PARTITION BY " + List(keys, "e") +
           ", e._ev_lsn\n" +
           "                                       ORDER BY e._ev_seq DESC, e._ev_sub DESC) AS "
           "_rn\n" +
           "        FROM " + objects_.events + " e\n    ) l\n    WHERE l._rn = 1\n) v\n" +
           "WHERE v._ev_kind = 'U';\n";
}

// A transaction whose records reached two batches left a version that its own transaction
// closed (start and end LSN equal): fold it into the version it closed and drop it.
std::string Generator::FoldSplitTransactions() const {
    const auto keys = KeyColumns();
    const std::string batch_keys =
        "(SELECT DISTINCT " + List(keys, "") + " FROM " + objects_.events + ") k";
    return "UPDATE " + objects_.history + " p\n" +
           "SET is_deleted = z.is_deleted, _cdc_end_lsn = z._cdc_end_lsn, _cdc_end_seq = "
           "z._cdc_end_seq\n" +
           "FROM (\n    SELECT h.* FROM " + objects_.history + " h\n    JOIN " + batch_keys +
           " ON " + KeyEq("k", "h") + "\n    WHERE h._cdc_end_lsn = h._cdc_lsn\n) z\n" + "WHERE " +
           KeyEq("p", "z") + " AND p._cdc_end_lsn = z._cdc_lsn AND p._cdc_end_seq = z._cdc_seq;\n" +
           "DELETE FROM " + objects_.history + " h\nUSING " + batch_keys + "\nWHERE " +
           KeyEq("h", "k") + " AND h._cdc_end_lsn = h._cdc_lsn;\n" +
           // A version closed by a transaction that also opened the next version (a delete and
           // re-insert, or an update, split across batches) was replaced, not deleted: closed by
           // the next version's record, as when the whole transaction is in one batch.
           "UPDATE " + objects_.history + " p\n" +
           "SET is_deleted = FALSE, _cdc_end_lsn = v._cdc_lsn, _cdc_end_seq = v._cdc_seq\n" +
           "FROM (\n    SELECT h.* FROM " + objects_.history + " h\n    JOIN " + batch_keys +
           " ON " + KeyEq("k", "h") + "\n) v\n" + "WHERE " + KeyEq("p", "v") +
           " AND p._cdc_end_lsn = v._cdc_lsn AND p._cdc_lsn < v._cdc_lsn\n" +
           "  AND (p.is_deleted OR p._cdc_end_seq <> v._cdc_seq);\n";
}

std::string Generator::MergeCurrent() const {
    const auto keys = KeyColumns();
    const auto all = AllColumns();
    std::vector<std::string> sets;
    for (const Column *c : ValueColumns())
        sets.push_back(Q(c->name) + " = s." + Q(c->name));
    sets.push_back("_cdc_lsn = s._ev_lsn");
    sets.push_back("_cdc_seq = s._ev_seq");
    sets.push_back("_cdc_commit_ts = s._ev_ts");
    if (Soft())
        sets.push_back("_cdc_is_deleted = (s._ev_kind = 'D')");
    std::string insert_cols = List(all, "") + ", _cdc_lsn, _cdc_seq, _cdc_commit_ts";
    std::string insert_vals = List(all, "s") + ", s._ev_lsn, s._ev_seq, s._ev_ts";
    if (Soft()) {
        insert_cols += ", _cdc_is_deleted";
        insert_vals += ", s._ev_kind = 'D'";
    }
    const std::string newer = Later("s._ev_lsn", "s._ev_seq", "t._cdc_lsn", "t._cdc_seq");
    std::string s = "MERGE INTO " + objects_.current + " t\nUSING (\n    SELECT * FROM (\n";
    s += "        SELECT e.*,\n";
    s += "               ROW_NUMBER() OVER (PARTITION BY " + List(keys, "e") +
         " ORDER BY e._ev_lsn DESC, e._ev_seq DESC, e._ev_sub DESC) AS _rn,\n";
    s += "               MAX(CASE WHEN e._ev_kind = 'U' THEN 1 ELSE 0 END) OVER (PARTITION BY " +
         List(keys, "e") + ") AS _had_upsert\n";
    s += "        FROM " + objects_.events + " e\n    ) x\n    WHERE x._rn = 1\n) s\n";
    s += "ON " + KeyEq("t", "s") + "\n";
    if (Soft()) {
        s += "WHEN MATCHED AND " + newer + " THEN UPDATE SET\n    " + Join(sets, ",\n    ") + "\n";
        // A key inserted and deleted inside the batch still leaves its soft-deleted row.
        s += "WHEN NOT MATCHED AND (s._ev_kind = 'U' OR s._had_upsert = 1) THEN INSERT (" +
             insert_cols + ")\n    VALUES (" + insert_vals + ");\n";
    } else {
        s += "WHEN MATCHED AND s._ev_kind = 'D' AND " + newer + " THEN DELETE\n";
        s += "WHEN MATCHED AND s._ev_kind = 'U' AND " + newer + " THEN UPDATE SET\n    " +
             Join(sets, ",\n    ") + "\n";
        s += "WHEN NOT MATCHED AND s._ev_kind = 'U' THEN INSERT (" + insert_cols +
             ")\n    VALUES (" + insert_vals + ");\n";
    }
    return s;
}

std::string Generator::RecordApplied() const {
    const auto keys = KeyColumns();
    return "MERGE INTO " + objects_.applied + " t\nUSING (\n    SELECT * FROM (\n" +
           "        SELECT " + List(keys, "e") + ", e._ev_lsn, e._ev_seq,\n" +
           "               ROW_NUMBER() OVER (PARTITION BY " + List(keys, "e") +
           " ORDER BY e._ev_lsn DESC, e._ev_seq DESC) AS _rn\n" + "        FROM " +
           objects_.events + " e\n    ) x\n    WHERE x._rn = 1\n) s\nON " + KeyEq("t", "s") +
           "\nWHEN MATCHED AND " + Later("s._ev_lsn", "s._ev_seq", "t._cdc_lsn", "t._cdc_seq") +
           " THEN UPDATE SET\n    _cdc_lsn = s._ev_lsn, _cdc_seq = s._ev_seq\n" +
           "WHEN NOT MATCHED THEN INSERT (" + List(keys, "") +
           ", _cdc_lsn, _cdc_seq)\n    VALUES (" + List(keys, "s") + ", s._ev_lsn, s._ev_seq);\n";
}

std::string Generator::LogTruncates() const {
    const std::string truncations =
        Qualified(options_.names, options_.names.staging_schema, "cdc_truncations", d_);
    return "INSERT INTO " + truncations +
           " (source_schema, source_table, lsn, seq, commit_ts)\n"
           "SELECT b.source_schema, b.source_table, b.lsn, b.seq, b.commit_ts\nFROM " +
           objects_.batch + " b\nWHERE b.op = 't' AND NOT EXISTS (\n    SELECT 1 FROM " +
           truncations +
           " l\n    WHERE l.source_schema = b.source_schema AND l.source_table = b.source_table\n"
           "      AND l.lsn = b.lsn AND l.seq = b.seq);\n";
}

std::string Generator::LogMerge() const {
    const std::string log =
        Qualified(options_.names, options_.names.staging_schema, "cdc_merge_log", d_);
    return "INSERT INTO " + log +
           " (source_schema, source_table, merged_at, records, last_lsn, last_commit_ts)\n"
           "SELECT " +
           Lit(table_.schema) + ", " + Lit(table_.name) +
           ", CURRENT_TIMESTAMP, COUNT(*), MAX(lsn), MAX(commit_ts)\nFROM " + objects_.batch +
           "\nHAVING COUNT(*) > 0;\n";
}

std::string Generator::DataQuality() const {
    const auto keys = KeyColumns();
    auto key_object = [&](const std::string &alias) {
        std::vector<std::string> parts;
        for (const Column *c : keys)
            parts.push_back(Lit(c->name) + ", " + alias + "." + Q(c->name));
        return Sf("OBJECT_CONSTRUCT(", "jsonb_build_object(") + Join(parts, ", ") + ")";
    };
    const std::string live = Soft() ? " AND NOT c._cdc_is_deleted" : "";
    std::string s = "-- Data quality: every row is a problem (empty when the tables are sound).\n";
    s += "CREATE OR REPLACE VIEW " + objects_.quality + " AS\n";
    s += "SELECT 'more than one current version' AS issue, " + key_object("h") +
         " AS row_key, COUNT(*) AS versions\nFROM " + objects_.history +
         " h\nWHERE h.is_current\nGROUP BY " + List(keys, "h") + "\nHAVING COUNT(*) > 1\n";
    s += "UNION ALL\nSELECT 'duplicate current-state row', " + key_object("c") +
         ", COUNT(*)\nFROM " + objects_.current + " c\nGROUP BY " + List(keys, "c") +
         "\nHAVING COUNT(*) > 1\n";
    s += "UNION ALL\nSELECT CASE WHEN g.valid_to IS NULL OR g._next_from < g.valid_to THEN "
         "'overlapping versions'\n            ELSE 'gap between versions' END, " +
         key_object("g") + ", 2\nFROM (\n    SELECT h.*, LEAD(h.valid_from) OVER (PARTITION BY " +
         List(keys, "h") +
         " ORDER BY h.valid_from, h._cdc_lsn, h._cdc_seq) AS _next_from\n    FROM " +
         objects_.history +
         " h\n) g\nWHERE g._next_from IS NOT NULL\n  AND (g.valid_to IS NULL OR "
         "g._next_from < g.valid_to OR (g._next_from > g.valid_to AND NOT g.is_deleted))\n";
    s += "UNION ALL\nSELECT 'live row without a current version', " + key_object("c") +
         ", 0\nFROM " + objects_.current + " c\nWHERE NOT EXISTS (SELECT 1 FROM " +
         objects_.history + " h WHERE " + KeyEq("h", "c") + " AND h.is_current)" + live + "\n";
    s += "UNION ALL\nSELECT 'current version without a live row', " + key_object("h") +
         ", 1\nFROM " + objects_.history + " h\nWHERE h.is_current AND NOT EXISTS (SELECT 1 FROM " +
         objects_.current + " c WHERE " + KeyEq("c", "h") + live + ");\n";
    return s;
}

std::string Generator::DeletePending() const {
    std::string pending =
        Qualified(options_.names, options_.names.staging_schema, "cdc_pending", d_);
    return "DELETE FROM " + pending + " p\nUSING " + objects_.batch +
           " b\nWHERE p.source_schema = b.source_schema AND p.source_table = b.source_table\n"
           "  AND p.lsn = b.lsn AND p.seq = b.seq;\n";
}

std::string Indent(const std::string &text, const std::string &pad) {
    std::string out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos)
            end = text.size();
        std::string line = text.substr(start, end - start);
        out += line.empty() ? "\n" : pad + line + "\n";
        start = end + 1;
    }
    return out;
}

std::string Generator::Procedure() const {
    std::string body;
    body += "-- 1. the batch: this table's pending records\n" + CopyBatch() + "\n";
    body += "-- 2. per-key row images, replays dropped, left-out columns carried forward\n" +
            BuildEvents() + "\n";
    body += "-- 3. history: close open versions, add new ones, fold split transactions\n" +
            CloseHistory() + "\n" + InsertHistory() + "\n" + FoldSplitTransactions() + "\n";
    body += "-- 4. current state: the last image of each key; each key's last applied record\n" +
            MergeCurrent() + "\n" + RecordApplied() + "\n";
    body += "-- 5. bookkeeping: applied truncates, merged records leave the pending table\n" +
            LogTruncates() + "\n" + LogMerge() + "\n" + DeletePending();
    const std::string what = table_.schema + "." + table_.name;
    const std::string pending =
        Qualified(options_.names, options_.names.staging_schema, "cdc_pending", d_);
    const std::string mine =
        " WHERE source_schema = " + Lit(table_.schema) + " AND source_table = " + Lit(table_.name);
    // Every graph run calls every table's procedure: one without pending records returns at
    // once instead of running the merge statements on empty input.
    if (d_ == Dialect::kSnowflake) {
        return "CREATE OR REPLACE PROCEDURE " + objects_.procedure +
               "()\n  RETURNS VARCHAR\n  LANGUAGE SQL\n  EXECUTE AS OWNER\n"
               "  COMMENT = " +
               Lit("snowcdc: merges pending change records of " + what) +
               "\nAS\n$$\nDECLARE\n    pending_records INTEGER DEFAULT 0;\nBEGIN\n"
               "    SELECT COUNT(*) INTO :pending_records FROM " +
               pending + mine + ";\n    IF (pending_records = 0) THEN\n        RETURN " +
               Lit("nothing pending for " + what) + ";\n    END IF;\n    BEGIN TRANSACTION;\n\n" +
               Indent(body, "    ") + "\n    COMMIT;\n    RETURN " +
               Lit("merged pending records of " + what) +
               ";\nEXCEPTION\n    WHEN OTHER THEN\n        ROLLBACK;\n        RAISE;\nEND;\n$$;\n";
    }
    // CALL outside a transaction block runs the whole body as one transaction: any error rolls
    // every statement back and leaves the records pending.
    return "CREATE OR REPLACE PROCEDURE " + objects_.procedure +
           "()\nLANGUAGE plpgsql\nAS $$\nBEGIN\n    IF NOT EXISTS (SELECT 1 FROM " + pending +
           mine + ") THEN\n        RETURN;\n    END IF;\n\n" + Indent(body, "    ") + "END;\n$$;\n";
}

std::string Generator::Task() const {
    const ObjectNames &n = options_.names;
    const std::string root = Qualified(n, n.staging_schema, "snowcdc_route", d_);
    return "-- The task runs after every run of the root task (which moves landed records into\n"
           "-- the pending table). Adding a child needs the root suspended; the last statement\n"
           "-- resumes the whole graph. Task failures reach the error integration of the root\n"
           "-- task and the graph's finalizer (sql/snowflake/notifications.sql).\n"
           "ALTER TASK IF EXISTS " +
           root + " SUSPEND;\nCREATE OR REPLACE TASK " + objects_.task +
           "\n  WAREHOUSE = " + ObjectIdent(n.warehouse, d_) +
           "\n  COMMENT = " + Lit("snowcdc: merge " + table_.schema + "." + table_.name) +
           "\n  AFTER " + root + "\nAS\n  CALL " + objects_.procedure +
           "();\nSELECT SYSTEM$TASK_DEPENDENTS_ENABLE(" + Lit(root) + ");\n";
}

std::string Generator::Metrics() const {
    return "-- Change metrics per hour, refreshed by Snowflake (Dynamic Table).\n"
           "CREATE OR REPLACE DYNAMIC TABLE " +
           objects_.metrics + "\n  TARGET_LAG = " + Lit(options_.metrics_target_lag) +
           "\n  WAREHOUSE = " + ObjectIdent(options_.names.warehouse, d_) +
           "\nAS\nSELECT DATE_TRUNC('HOUR', valid_from) AS change_hour,\n"
           "       COUNT(*) AS versions,\n"
           "       COUNT_IF(is_deleted) AS versions_closed_by_delete,\n"
           "       COUNT(DISTINCT " +
           List(KeyColumns(), "") + ") AS keys_changed,\n" +
           "       MAX(valid_from) AS last_commit_ts\nFROM " + objects_.history + "\nGROUP BY 1;\n";
}

}  // namespace

TableObjects ObjectsFor(const Table &table, const GenerateOptions &options) {
    const ObjectNames &n = options.names;
    const Dialect d = options.dialect;
    std::string base = table.schema == "public" ? table.name : table.schema + "_" + table.name;
    TableObjects o;
    o.current = Qualified(n, n.analytics_schema, base, d);
    o.history = Qualified(n, n.analytics_schema, base + "_history", d);
    o.batch = Qualified(n, n.staging_schema, base + "__batch", d);
    o.events = Qualified(n, n.staging_schema, base + "__events", d);
    o.applied = Qualified(n, n.staging_schema, base + "__applied", d);
    o.procedure = Qualified(n, n.staging_schema, "merge_" + base, d);
    o.task = Qualified(n, n.staging_schema, "merge_" + base + "_task", d);
    o.metrics = Qualified(n, n.analytics_schema, base + "_cdc_metrics", d);
    o.quality = Qualified(n, n.monitoring_schema, base + "_data_quality", d);
    return o;
}

void ValidateTable(const Table &table, Dialect dialect) {
    const std::string what = table.schema + "." + table.name;
    if (table.key.empty()) {
        throw std::invalid_argument(
            "table " + what +
            " has no replica identity key, so its changes cannot be merged by key; add a "
            "primary key or run ALTER TABLE ... REPLICA IDENTITY USING INDEX <unique index>");
    }
    std::set<std::string> seen;
    for (const Column &c : table.columns) {
        if (IsReservedColumn(c.name)) {
            throw std::invalid_argument("table " + what + " has a column named \"" + c.name +
                                        "\", which snowcdc uses for its own bookkeeping; rename "
                                        "the column or exclude the table");
        }
        if (!seen.insert(ResolvedName(c.name, dialect)).second) {
            throw std::invalid_argument("table " + what + ": column \"" + c.name +
                                        "\" collides with another column once case is folded in "
                                        "the warehouse; rename one of them");
        }
    }
}

std::string LandingColumnsSql(Dialect dialect) {
    const bool sf = dialect == Dialect::kSnowflake;
    const std::string lsn = sf ? "NUMBER(20,0)" : "numeric(20,0)";
    const std::string text = sf ? "VARCHAR" : "text";
    const std::string json = sf ? "VARIANT" : "jsonb";
    return "    op " + text + "  -- c u d t r m\n" + "    , lsn " + lsn +
           "  -- commit LSN (snapshot rows: consistent point)\n" + "    , seq " + lsn +
           "  -- position in the transaction\n" + "    , xid " + lsn + "\n" + "    , commit_ts " +
           (sf ? "TIMESTAMP_TZ(6)" : "timestamptz(6)") + "\n" + "    , source_schema " + text +
           "\n" + "    , source_table " + text + "\n" + "    , key " + json + "\n" +
           "    , before " + json + "\n" + "    , after " + json + "\n" + "    , toast " +
           (sf ? "ARRAY" : "jsonb") + "\n" + "    , ingested_at " +
           (sf ? "TIMESTAMP_LTZ(6) DEFAULT CURRENT_TIMESTAMP()" : "timestamptz(6) DEFAULT now()");
}

std::string MergeProcedureSql(const Table &table, const GenerateOptions &options) {
    ValidateTable(table, options.dialect);
    return Generator(table, options).Procedure();
}

std::string GenerateTableSql(const Table &table, const GenerateOptions &options) {
    ValidateTable(table, options.dialect);
    Generator gen(table, options);
    std::string out = "-- snowcdc objects for Postgres table " + table.schema + "." + table.name +
                      " (generated by `snowcdc-shipper ddl`; regenerate, do not edit).\n";
    out += "-- Key: " + Join(table.key, ", ") +
           ". Delete mode: " + (options.delete_mode == DeleteMode::kSoft ? "soft" : "hard") + ".\n";
    if (options.dialect == Dialect::kSnowflake) {
        out +=
            "-- Run as role SNOWCDC_PIPELINE_OWNER after sql/snowflake/setup.sql, landing.sql and "
            "tasks.sql.\n";
    } else {
        out += "-- Postgres dialect: the executable twin of the Snowflake text, for tests.\n";
    }
    out += "\n" + gen.Tables() + "\n" + gen.Procedure() + "\n" + gen.DataQuality();
    if (options.dialect == Dialect::kSnowflake) {
        out += "\n" + gen.Task();
        if (options.dynamic_table_metrics)
            out += "\n" + gen.Metrics();
    }
    return out;
}

}  // namespace snowcdc::ddl
