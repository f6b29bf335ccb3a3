// `check` and `status` (see commands.hpp).
#include "commands.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "pg_connection.hpp"
#include "replication_stream.hpp"
#include "snowpipe/snowpipe_sink.hpp"

namespace snowcdc {

namespace {

class Report {
  public:
    void Ok(const std::string &name, const std::string &detail) {
        std::printf("ok    %-22s %s\n", name.c_str(), detail.c_str());
    }
    void Warn(const std::string &name, const std::string &detail, const std::string &fix) {
        std::printf("warn  %-22s %s\n      fix: %s\n", name.c_str(), detail.c_str(), fix.c_str());
    }
    void Fail(const std::string &name, const std::string &detail, const std::string &fix) {
        ++failures_;
        std::printf("FAIL  %-22s %s\n      fix: %s\n", name.c_str(), detail.c_str(), fix.c_str());
    }
    int ExitStatus() const { return failures_ == 0 ? 0 : 1; }

  private:
    int failures_ = 0;
};

void CheckSink(const Settings &settings, Report *report) {
    std::string sink = settings.GetString("sink");
    if (sink == "snowpipe") {
        snowpipe::ConnectionCheck check = snowpipe::CheckConnection(settings);
        if (check.ok)
            report->Ok("sink", check.detail);
        else
            report->Fail("sink", check.detail, check.fix);
        return;
    }
    if (sink != "ndjson-dir") {
        report->Ok("sink", sink);
        return;
    }
    std::string dir = settings.GetString("output_dir");
    if (dir.empty())
        report->Fail("sink", "ndjson-dir without output_dir",
                     "set --output-dir or SNOWCDC_OUTPUT_DIR");
    else if (access(dir.c_str(), W_OK | X_OK) != 0)
        report->Fail("sink", "output_dir " + dir + " is not a writable directory",
                     "create it (mkdir -p " + dir + ") or fix its permissions");
    else
        report->Ok("sink", "ndjson-dir " + dir);
}

void CheckServer(PgConn &conn, Report *report) {
    PgResult res;
    if (conn.Exec("SELECT current_setting('wal_level'), current_setting('max_replication_slots'), "
                  "current_setting('server_version')",
                  PGRES_TUPLES_OK, &res)) {
        report->Fail("server", "cannot read server settings", "check the connection's role");
        return;
    }
    report->Ok("server", "PostgreSQL " + res.Value(0, 2));
    if (res.Value(0, 0) != "logical")
        report->Fail("wal_level", "is " + res.Value(0, 0),
                     "ALTER SYSTEM SET wal_level = logical; then restart Postgres");
    else
        report->Ok("wal_level", "logical");
}

void CheckSlot(PgConn &conn, const std::string &slot, bool create, Report *report) {
    PgResult res;
    if (conn.Exec("SELECT plugin, active FROM pg_catalog.pg_replication_slots WHERE slot_name = " +
                      conn.Literal(slot),
                  PGRES_TUPLES_OK, &res))
        return report->Fail("slot", "cannot read pg_replication_slots", "check the role");
    if (res.Rows() == 0 && create)
        return report->Ok("slot", slot + " will be created with plugin snowcdc");
    if (res.Rows() == 0)
        return report->Fail("slot", slot + " does not exist",
                            "create it or run with --create-slot true");
    if (res.Value(0, 0) != ReplicationStream::kPlugin)
        return report->Fail("slot", slot + " uses plugin " + res.Value(0, 0),
                            "pick another slot name or drop it: SELECT "
                            "pg_drop_replication_slot('" +
                                slot + "')");
    report->Ok("slot", slot + (res.Value(0, 1) == "t" ? " (in use now)" : " (idle)"));
}

void CheckExtension(PgConn &conn, Report *report) {
    PgResult res;
    if (conn.Exec("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'snowcdc'",
                  PGRES_TUPLES_OK, &res) ||
        res.Rows() == 0) {
        report->Warn("extension", "snowcdc is not installed in this database",
                     "CREATE EXTENSION snowcdc; (heartbeats and setup checks need it)");
        return;
    }
    report->Ok("extension", "snowcdc " + res.Value(0, 0));
    if (auto error = conn.Exec("SELECT check_name, status, detail, fix FROM snowcdc.setup_check()",
                               PGRES_TUPLES_OK, &res)) {
        // It reads output_plugin_libraries, a setting only superusers and pg_read_all_settings
        // may see.
        if (error->message.find("pg_read_all_settings") != std::string::npos)
            report->Warn("setup_check", "this role may not run snowcdc.setup_check()",
                         "run check as a superuser, or GRANT pg_read_all_settings TO the role");
        else
            report->Warn("setup_check", "snowcdc.setup_check() is not available",
                         "upgrade the extension: ALTER EXTENSION snowcdc UPDATE");
        return;
    }
    for (int i = 0; i < res.Rows(); ++i) {
        std::string status = res.Value(i, 1);
        std::string name = res.Value(i, 0);
        if (status == "ok")
            report->Ok(name, res.Value(i, 2));
        else if (status == "warn" || status == "warning")
            report->Warn(name, res.Value(i, 2), res.Value(i, 3));
        else
            report->Fail(name, res.Value(i, 2), res.Value(i, 3));
    }
}

// What snapshot = initial will do. It applies only when the shipper creates the slot (or
// resumes a snapshot it started), and then needs a sink that keeps a snapshot (snapshot.hpp)
// and the extension's encoder.
void CheckSnapshot(PgConn &conn, const Settings &settings, Report *report) {
    if (settings.GetString("snapshot") != "initial")
        return report->Ok("snapshot", "never: rows that exist before streaming are not copied");
    std::string sink = settings.GetString("sink");
    std::string dir = sink == "ndjson-dir" ? settings.GetString("output_dir")
                      : sink == "snowpipe" ? settings.GetString("state_dir")
                                           : "";
    PgResult res;
    bool slot_exists =
        !conn.Exec("SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = " +
                       conn.Literal(settings.GetString("slot")),
                   PGRES_TUPLES_OK, &res) &&
        res.Rows() > 0;
    if (dir.empty()) {
        std::string why = sink == "snowpipe" ? "the snowpipe sink keeps the snapshot plan in "
                                               "state_dir, which is not set"
                                             : "sink " + sink + " cannot hold a snapshot";
        std::string fix =
            sink == "snowpipe"
                ? "set state_dir / SNOWCDC_STATE_DIR to a directory the shipper keeps (systemd: "
                  "StateDirectory=), or set --snapshot never"
                : "use sink ndjson-dir or snowpipe, or set --snapshot never";
        if (slot_exists)
            return report->Ok("snapshot", "initial, but slot " + settings.GetString("slot") +
                                              " exists: no initial snapshot (" + why + ")");
        if (!settings.GetBool("create_slot"))
            return report->Ok("snapshot", "initial, but the shipper does not create the slot");
        return report->Fail("snapshot", "snapshot = initial: " + why, fix);
    }
    if (access(dir.c_str(), W_OK | X_OK) != 0)
        return report->Fail("snapshot",
                            "snapshot = initial: directory " + dir + " is missing or not writable",
                            "create it and let the shipper's user write it");
    if (conn.Exec("SELECT count(*) > 0 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
                  "ON n.oid = p.pronamespace WHERE n.nspname = 'snowcdc' AND "
                  "p.proname = 'encode_rows'",
                  PGRES_TUPLES_OK, &res) ||
        res.Value(0, 0) != "t")
        return report->Fail("snapshot", "snapshot = initial needs snowcdc.encode_rows",
                            "CREATE EXTENSION snowcdc (or ALTER EXTENSION snowcdc UPDATE)");
    report->Ok("snapshot", slot_exists ? "initial: resumes an unfinished snapshot planned in " +
                                             dir + ", if any (the slot exists)"
                                       : "initial: the shipper creates the slot and first copies "
                                         "the tables' rows (plan kept in " +
                                             dir + ")");
}

}  // namespace

int RunCheck(const Settings &settings) {
    Report report;
    report.Ok("settings", "valid");
    CheckSink(settings, &report);
    std::string slot = settings.GetString("slot");
    if (!ValidSlotName(slot))
        report.Fail("slot", "name '" + slot + "' is invalid", "use lower-case letters, digits, _");
    PgConn conn;
    if (auto error = PgConn::Connect(settings.GetString("conninfo"), false, &conn)) {
        report.Fail("connection", error->message, "fix --conninfo / SNOWCDC_CONNINFO / PG*");
        return report.ExitStatus();
    }
    report.Ok("connection", std::string("database ") + PQdb(conn.get()));
    CheckServer(conn, &report);
    CheckSlot(conn, slot, settings.GetBool("create_slot"), &report);
    CheckExtension(conn, &report);
    CheckSnapshot(conn, settings, &report);
    PgConn repl;
    if (auto error = PgConn::Connect(settings.GetString("conninfo"), true, &repl))
        report.Fail("replication", error->message,
                    "grant REPLICATION to the role and allow it in pg_hba.conf");
    else if (auto error = repl.Exec("IDENTIFY_SYSTEM", PGRES_TUPLES_OK, nullptr))
        report.Fail("replication", error->message, "grant REPLICATION to the role");
    else
        report.Ok("replication", "replication connection works");
    return report.ExitStatus();
}

int RunStatus(const Settings &settings) {
    PgConn conn;
    if (auto error = PgConn::Connect(settings.GetString("conninfo"), false, &conn)) {
        std::fprintf(stderr, "%s\n", error->message.c_str());
        return 1;
    }
    PgResult res;
    std::string slot = settings.GetString("slot");
    std::string sql =
        "SELECT slot_name, plugin, active, coalesce(active_pid::text, ''), "
        "coalesce(confirmed_flush_lsn::text, ''), coalesce(restart_lsn::text, ''), "
        "pg_current_wal_lsn()::text, "
        "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text, ''), "
        "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text, ''), "
        "coalesce(wal_status, '') FROM pg_catalog.pg_replication_slots WHERE slot_name = " +
        conn.Literal(slot);
    if (auto error = conn.Exec(sql, PGRES_TUPLES_OK, &res)) {
        std::fprintf(stderr, "%s\n", error->message.c_str());
        return 1;
    }
    if (res.Rows() == 0) {
        std::fprintf(stderr, "slot %s does not exist; `snowcdc-shipper run` creates it\n",
                     slot.c_str());
        return 1;
    }
    const char *labels[] = {
        "slot",        "plugin",          "active",    "active_pid",         "confirmed_flush_lsn",
        "restart_lsn", "current_wal_lsn", "lag_bytes", "retained_wal_bytes", "wal_status"};
    for (int col = 0; col < 10; ++col)
        std::printf("%-20s %s\n", labels[col], res.Value(0, col).c_str());
    return 0;
}

}  // namespace snowcdc
