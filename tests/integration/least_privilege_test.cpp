// The shipper as a non-superuser: a LOGIN REPLICATION role given exactly what
// sql/postgres/shipper_role.sql grants runs the real snowcdc-shipper through an initial snapshot
// of two tables, streamed changes, idle heartbeats and a re-snapshot it requested itself with
// `snowcdc-shipper resnapshot`; every record arrives and nothing in its log is a permission
// error. A role without those grants gets an error naming the privilege it lacks and the file;
// and with any one of the file's grants taken back, the shipper fails naming that object.
//
// TempCluster's initdb uses -A trust, whose pg_hba.conf has "host replication all 127.0.0.1/32
// trust" and "host all all 127.0.0.1/32 trust": any role may connect, for replication too, on
// 127.0.0.1, so the REPLICATION attribute is what is tested, and no pg_hba change is needed.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>
#include <tuple>

#include "pg_cluster.hpp"
#include "shipper_harness.hpp"

namespace snowcdc::testing {
namespace {

using json = nlohmann::json;
using std::chrono::seconds;

constexpr int kOrders = 300;
constexpr int kItems = 120;

class LeastPrivilegeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        cluster_ = std::make_unique<TempCluster>();
        cluster_->Exec("CREATE TABLE orders (id int PRIMARY KEY, amount bigint, note text)");
        cluster_->Exec("INSERT INTO orders SELECT g, g * 10, 'o' || g FROM generate_series(1, " +
                       std::to_string(kOrders) + ") g");
        cluster_->Exec("CREATE TABLE items (id int PRIMARY KEY, sku text NOT NULL)");
        cluster_->Exec("INSERT INTO items SELECT g, 'sku' || g FROM generate_series(1, " +
                       std::to_string(kItems) + ") g");
        dir_ = MakeTempDir("snowcdc-lp-sink");
        log_ = dir_ + ".log";
    }
    void TearDown() override {
        shipper_.reset();
        if (HasFailure())
            std::fprintf(stderr, "---- shipper log %s ----\n%s\n", log_.c_str(),
                         ReadFileText(log_).c_str());
        if (!dir_.empty())
            RunShell("rm -rf " + dir_ + " " + log_);
    }

    std::string ConnInfoAs(const std::string &role) const {
        return "host=127.0.0.1 port=" + std::to_string(cluster_->Port()) + " user=" + role +
               " dbname=postgres";
    }

    // Runs sql/postgres/shipper_role.sql through psql as the superuser, as an operator would.
    void GrantShipperRole(const std::string &role) {
        std::string out;
        int rc = RunShell(PgBinDir() + "/psql -X -v ON_ERROR_STOP=1 -d '" + cluster_->ConnInfo() +
                              "' -v role=" + role + " -f " + SNOWCDC_SOURCE_DIR +
                              "/sql/postgres/shipper_role.sql",
                          &out);
        ASSERT_EQ(rc, 0) << out;
    }

    void StartShipper(const std::string &role) {
        std::vector<std::string> args = QuickShipperArgs(ConnInfoAs(role), "ndjson-dir");
        args.insert(args.end(),
                    {"--output-dir", dir_, "--snapshot", "initial", "--heartbeat-interval", "200ms",
                     "--resnapshot-chunk-rows", "50", "--log-level", "debug"});
        shipper_ = std::make_unique<ShipperProcess>(args, log_);
    }

    // (op, table) -> number of records in the sink.
    std::map<std::pair<std::string, std::string>, int> Counts() const {
        std::map<std::pair<std::string, std::string>, int> counts;
        for (const json &r : ReadSinkRecords(dir_))
            ++counts[{r.value("op", ""), r.value("table", "")}];
        // The initial snapshot's records are in the sink's snapshot store, snap_*.ndjson.
        std::string names;
        RunShell("cd " + dir_ + " && ls snap_*.ndjson", &names);
        std::istringstream list(names);
        std::string name;
        while (std::getline(list, name)) {
            if (name.rfind("snap_", 0) != 0)
                continue;
            std::istringstream in(ReadFileText(dir_ + "/" + name));
            std::string line;
            while (std::getline(in, line) && !in.eof()) {
                json r = json::parse(line);
                ++counts[{r.value("op", ""), r.value("table", "")}];
            }
        }
        return counts;
    }

    std::unique_ptr<TempCluster> cluster_;
    std::unique_ptr<ShipperProcess> shipper_;
    std::string dir_;
    std::string log_;
};

TEST_F(LeastPrivilegeTest, ShipperRoleFromTheScriptRunsEverything) {
    cluster_->Exec("CREATE ROLE shipper LOGIN REPLICATION");
    GrantShipperRole("shipper");
    ASSERT_EQ(cluster_->Query("SELECT rolsuper FROM pg_roles WHERE rolname = 'shipper'"), "f");

    // `check` works as the role; setup_check() needs pg_read_all_settings, and check says so.
    std::string check;
    EXPECT_EQ(
        RunShell(std::string(SNOWCDC_SHIPPER_BINARY) + " --conninfo '" + ConnInfoAs("shipper") +
                     "' --slot s1 --sink ndjson-dir --output-dir " + dir_ + " check",
                 &check),
        0)
        << check;
    EXPECT_NE(check.find("ok    replication"), std::string::npos) << check;
    EXPECT_NE(check.find("GRANT pg_read_all_settings"), std::string::npos) << check;

    StartShipper("shipper");
    // The initial snapshot: every row of both tables as an `r` record.
    ASSERT_TRUE(WaitUntil(
        [&] {
            auto counts = Counts();
            return (counts[{"r", "orders"}] == kOrders && counts[{"r", "items"}] == kItems) ||
                   !shipper_->Running();
        },
        seconds(120)));
    ASSERT_TRUE(shipper_->Running());

    // Streamed changes after the snapshot.
    cluster_->Exec("INSERT INTO orders SELECT g, g, 'new' FROM generate_series(1001, 1040) g");
    cluster_->Exec("UPDATE orders SET amount = amount + 1 WHERE id <= 25");
    cluster_->Exec("DELETE FROM items WHERE id > 110");
    ASSERT_TRUE(WaitUntil(
        [&] {
            auto counts = Counts();
            return counts[{"d", "items"}] == 10 || !shipper_->Running();
        },
        seconds(60)));

    // Idle: the shipper calls snowcdc.heartbeat() and the slot confirms past it.
    std::string lsn_before = cluster_->Query("SELECT pg_current_wal_lsn()");
    ASSERT_TRUE(WaitUntil(
        [&] {
            return (ReadFileText(log_).find("heartbeat sent") != std::string::npos &&
                    cluster_->Query("SELECT confirmed_flush_lsn > '" + lsn_before +
                                    "' FROM pg_replication_slots WHERE slot_name = 's1'") == "t") ||
                   !shipper_->Running();
        },
        seconds(60)));
    ASSERT_TRUE(shipper_->Running());

    // A re-snapshot of orders, requested as the shipper's role by the shipper's own command.
    std::string out;
    ASSERT_EQ(RunShell(std::string(SNOWCDC_SHIPPER_BINARY) + " --conninfo '" +
                           ConnInfoAs("shipper") + "' resnapshot --table public.orders",
                       &out),
              0)
        << out;
    ASSERT_TRUE(WaitUntil(
        [&] {
            return cluster_->Query("SELECT status FROM snowcdc.snapshot_requests LIMIT 1") ==
                       "done" ||
                   !shipper_->Running();
        },
        seconds(120)));
    EXPECT_EQ(cluster_->Query("SELECT requested_by FROM snowcdc.snapshot_requests LIMIT 1"),
              "shipper");
    ASSERT_TRUE(WaitUntil(
        [&] {
            return Counts()[{"r", "orders"}] == 2 * kOrders + 40;
        },
        seconds(60)));
    ASSERT_TRUE(shipper_->Running());
    shipper_->Signal(SIGTERM);
    EXPECT_EQ(shipper_->WaitExit(), 0);

    std::map<std::pair<std::string, std::string>, int> expected = {
        {{"r", "orders"}, 2 * kOrders + 40},  // initial snapshot, then the re-snapshot
        {{"r", "items"}, kItems},
        {{"c", "orders"}, 40},
        {{"u", "orders"}, 25},
        {{"d", "items"}, 10},
    };
    EXPECT_EQ(Counts(), expected);
    std::string log = ReadFileText(log_);
    EXPECT_EQ(log.find("permission denied"), std::string::npos) << log;
    EXPECT_EQ(log.find("must be superuser"), std::string::npos) << log;
    EXPECT_EQ(log.find("heartbeat failed"), std::string::npos) << log;
}

TEST_F(LeastPrivilegeTest, RoleWithoutTheGrantsIsToldWhatIsMissing) {
    cluster_->Exec("CREATE ROLE bare LOGIN REPLICATION");
    StartShipper("bare");
    EXPECT_NE(shipper_->WaitExit(seconds(60)), 0);
    std::string log = ReadFileText(log_);
    EXPECT_NE(log.find("permission denied for schema snowcdc"), std::string::npos) << log;
    EXPECT_NE(log.find("sql/postgres/shipper_role.sql"), std::string::npos) << log;
    EXPECT_TRUE(ReadSinkRecords(dir_).empty());

    // Requesting a re-snapshot without the grant names the function and the file.
    std::string out;
    EXPECT_EQ(RunShell(std::string(SNOWCDC_SHIPPER_BINARY) + " --conninfo '" + ConnInfoAs("bare") +
                           "' resnapshot --table public.orders",
                       &out),
              1);
    EXPECT_NE(out.find("permission denied for schema snowcdc"), std::string::npos) << out;
    EXPECT_NE(out.find("sql/postgres/shipper_role.sql"), std::string::npos) << out;

    // With the grants but one table unreadable, the snapshot names that table.
    GrantShipperRole("bare");
    cluster_->Exec("REVOKE SELECT ON items FROM bare");
    cluster_->Exec(
        "SELECT pg_drop_replication_slot('s1') FROM pg_replication_slots "
        "WHERE slot_name = 's1'");
    RunShell("rm -f " + log_ + " " + dir_ + "/*");
    StartShipper("bare");
    EXPECT_NE(shipper_->WaitExit(seconds(60)), 0);
    log = ReadFileText(log_);
    EXPECT_NE(log.find("permission denied for table items"), std::string::npos) << log;
    EXPECT_NE(log.find("sql/postgres/shipper_role.sql"), std::string::npos) << log;
}

// Nothing in the file is more than needed: with any one of these grants taken back, the
// shipper (or the re-snapshot it runs) stops on a permission error naming that object.
TEST_F(LeastPrivilegeTest, EveryGrantIsNeeded) {
    struct Case {
        std::string revoke;
        std::string expected;
        bool request;  // the grant is used by a re-snapshot
    };
    const std::vector<Case> cases = {
        {"EXECUTE ON FUNCTION snowcdc.heartbeat()", "permission denied for function heartbeat",
         false},
        {"SELECT ON items", "permission denied for table items", false},
        {"EXECUTE ON FUNCTION snowcdc.encode_rows(regclass, pg_lsn, timestamptz, bigint, bigint, "
         "boolean)",
         "permission denied for function encode_rows", false},
        {"SELECT ON snowcdc.snapshot_request", "permission denied for table snapshot_request",
         true},
        {"EXECUTE ON FUNCTION snowcdc.snapshot_start(bigint)",
         "permission denied for function snapshot_start", true},
        {"EXECUTE ON FUNCTION snowcdc.snapshot_watermark(bigint, bigint, text, text)",
         "permission denied for function snapshot_watermark", true},
        {"EXECUTE ON FUNCTION snowcdc.snapshot_chunk(bigint, text[], integer, boolean)",
         "permission denied for function snapshot_chunk", true},
        {"EXECUTE ON FUNCTION snowcdc.snapshot_advance(bigint, bigint, text[], bigint, boolean)",
         "permission denied for function snapshot_advance", true},
    };
    for (size_t i = 0; i < cases.size(); ++i) {
        SCOPED_TRACE("without GRANT " + cases[i].revoke);
        std::string role = "lp" + std::to_string(i);
        cluster_->Exec("CREATE ROLE " + role + " LOGIN REPLICATION");
        GrantShipperRole(role);
        cluster_->Exec("REVOKE " + cases[i].revoke + " FROM " + role);
        if (cases[i].request)
            cluster_->Exec("SELECT snowcdc.request_snapshot('orders')");
        StartShipper(role);
        ASSERT_TRUE(WaitUntil(
            [&] {
                return ReadFileText(log_).find(cases[i].expected) != std::string::npos ||
                       !shipper_->Running();
            },
            seconds(60)));
        std::string log = ReadFileText(log_);
        EXPECT_NE(log.find(cases[i].expected), std::string::npos) << log;
        EXPECT_NE(log.find("sql/postgres/shipper_role.sql"), std::string::npos) << log;
        EXPECT_EQ(log.find("CREATE EXTENSION"), std::string::npos) << "a misleading fix: " << log;
        if (shipper_->Running())
            shipper_->Signal(SIGTERM);
        shipper_->WaitExit();
        shipper_.reset();
        cluster_->Exec("SELECT snowcdc.cancel_snapshot('orders')");
        cluster_->Exec("SELECT pg_drop_replication_slot('s1')");
        RunShell("rm -f " + log_ + " " + dir_ + "/*");
    }
}

}  // namespace
}  // namespace snowcdc::testing
