// An initial snapshot taken the way the shipper takes it: a slot created with EXPORT_SNAPSHOT,
// parallel readers that import the snapshot and COPY out their block ranges of
// snowcdc.encode_rows, while writers keep changing the table. The `r` records followed by the
// slot's changes must rebuild the table exactly: no row lost, none applied twice. Also prints
// the encode_rows throughput next to a plain row_to_json COPY of the same table.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pg_cluster.hpp"

namespace snowcdc::testing {
namespace {

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

constexpr char kSnapshotTime[] = "2026-01-01 00:00:00+00";

Connection Connect(const std::string &conninfo) {
    Connection conn(PQconnectdb(conninfo.c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK)
        throw std::runtime_error("connect " + conninfo + ": " + PQerrorMessage(conn.get()));
    return conn;
}

Result Run(PGconn *conn, const std::string &sql) {
    Result res(PQexec(conn, sql.c_str()), &PQclear);
    ExecStatusType status = PQresultStatus(res.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        throw std::runtime_error(sql + ": " + PQresultErrorMessage(res.get()));
    return res;
}

// Rows of a COPY ... TO STDOUT, without their line ends.
std::vector<std::string> CopyOut(PGconn *conn, const std::string &copy) {
    Result start(PQexec(conn, copy.c_str()), &PQclear);
    if (PQresultStatus(start.get()) != PGRES_COPY_OUT)
        throw std::runtime_error(copy + ": " + PQresultErrorMessage(start.get()));
    std::vector<std::string> rows;
    char *buf = nullptr;
    int len;
    while ((len = PQgetCopyData(conn, &buf, 0)) > 0) {
        rows.emplace_back(buf, len > 0 && buf[len - 1] == '\n' ? len - 1 : len);
        PQfreemem(buf);
    }
    if (len == -2)
        throw std::runtime_error(copy + ": " + PQerrorMessage(conn));
    Result end(PQgetResult(conn), &PQclear);
    if (PQresultStatus(end.get()) != PGRES_COMMAND_OK)
        throw std::runtime_error(copy + ": " + PQresultErrorMessage(end.get()));
    return rows;
}

// The records of encode_rows for blocks [from, to) byte for byte: CSV with a quote and a
// delimiter that never occur raw in JSON, so nothing is quoted or escaped.
std::string EncodeRowsCopy(const std::string &lsn, const std::string &from, const std::string &to) {
    return "COPY (SELECT snowcdc.encode_rows('items', '" + lsn + "', '" + kSnapshotTime + "', " +
           from + ", " + to + ")) TO STDOUT (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')";
}

struct ExportedSlot {
    std::string consistent_point;
    std::string snapshot_name;
};

ExportedSlot CreateSlotExportingSnapshot(PGconn *replication) {
    Result res = Run(replication,
                     "CREATE_REPLICATION_SLOT snapshot_slot LOGICAL snowcdc "
                     "(SNAPSHOT 'export')");
    return {PQgetvalue(res.get(), 0, 1), PQgetvalue(res.get(), 0, 2)};
}

// One reader: imports the snapshot and copies out its block range.
std::vector<std::string> ReadRange(const TempCluster &cluster, const ExportedSlot &slot,
                                   const std::string &from, const std::string &to) {
    Connection conn = Connect(cluster.ConnInfo());
    Run(conn.get(), "BEGIN ISOLATION LEVEL REPEATABLE READ");
    Run(conn.get(), "SET TRANSACTION SNAPSHOT '" + slot.snapshot_name + "'");
    std::vector<std::string> records =
        CopyOut(conn.get(), EncodeRowsCopy(slot.consistent_point, from, to));
    Run(conn.get(), "COMMIT");
    return records;
}

// Transactions [first, last) of changes after the slot was created: updates, a delete, a key
// change and two inserts each, so that the table differs from the snapshot in values and size.
void ChangeTable(const TempCluster &cluster, int first, int last) {
    Connection conn = Connect(cluster.ConnInfo());
    for (int i = first; i < last; ++i) {
        std::string lo = std::to_string(i * 1000 + 1);
        std::string hi = std::to_string(i * 1000 + 50);
        Run(conn.get(), "BEGIN");
        Run(conn.get(),
            "UPDATE items SET n = n + 1, v = v || '+' WHERE id BETWEEN " + lo + " AND " + hi);
        Run(conn.get(), "DELETE FROM items WHERE id = " + std::to_string(i * 1000 + 60));
        Run(conn.get(),
            "UPDATE items SET id = id + 1000000 WHERE id = " + std::to_string(i * 1000 + 70));
        Run(conn.get(), "INSERT INTO items VALUES (" + std::to_string(2000000 + 2 * i) +
                            ", 'new', 0, repeat('p', 100)), (" + std::to_string(2000001 + 2 * i) +
                            ", 'new', 0, repeat('p', 100))");
        Run(conn.get(), "COMMIT");
    }
}

uint64_t LsnValue(const std::string &lsn) {
    size_t slash = lsn.find('/');
    return (std::stoull(lsn.substr(0, slash), nullptr, 16) << 32) |
           std::stoull(lsn.substr(slash + 1), nullptr, 16);
}

using TableState = std::map<int64_t, nlohmann::json>;  // id -> after

// Applies one record as the warehouse's current-state merge does.
void Apply(TableState *state, const nlohmann::json &record) {
    const std::string &op = record.at("op").get_ref<const std::string &>();
    if (op == "r" || op == "c") {
        (*state)[record.at("after").at("id").get<int64_t>()] = record.at("after");
    } else if (op == "u") {
        state->erase(record.at("key").at("id").get<int64_t>());
        (*state)[record.at("after").at("id").get<int64_t>()] = record.at("after");
    } else if (op == "d") {
        state->erase(record.at("key").at("id").get<int64_t>());
    } else {
        throw std::runtime_error("unexpected record " + record.dump());
    }
}

TEST(SnapshotExport, ParallelRangesPlusChangesRebuildTheTable) {
    TempCluster cluster;
    cluster.Exec("CREATE TABLE items (id bigint PRIMARY KEY, v text, n int, pad text)");
    cluster.Exec(
        "INSERT INTO items SELECT g, 'v' || g, g % 10, repeat('p', 100) "
        "FROM generate_series(1, 30000) AS g");

    Connection replication = Connect(cluster.ConnInfo() + " replication=database");
    ExportedSlot slot = CreateSlotExportingSnapshot(replication.get());
    std::string ranges = cluster.Query(
        "SELECT block_from || ',' || coalesce(block_to::text, 'NULL') "
        "FROM snowcdc.snapshot_ranges('items', 3)");

    // Half the changes are committed before any reader starts, half while they read.
    ChangeTable(cluster, 0, 10);
    std::thread writer([&cluster] { ChangeTable(cluster, 10, 20); });
    std::vector<std::vector<std::string>> parts;
    std::vector<std::thread> readers;
    std::vector<std::string> bounds;
    for (size_t start = 0; start < ranges.size();) {
        size_t end = ranges.find('\n', start);
        bounds.push_back(ranges.substr(start, end == std::string::npos ? end : end - start));
        start = end == std::string::npos ? ranges.size() : end + 1;
    }
    ASSERT_EQ(bounds.size(), 3u);
    parts.resize(bounds.size());
    for (size_t i = 0; i < bounds.size(); ++i) {
        readers.emplace_back([&, i] {
            size_t comma = bounds[i].find(',');
            parts[i] =
                ReadRange(cluster, slot, bounds[i].substr(0, comma), bounds[i].substr(comma + 1));
        });
    }
    for (auto &reader : readers)
        reader.join();
    writer.join();
    replication.reset();  // the snapshot is no longer needed; the slot stays

    TableState state;
    std::set<uint64_t> seqs;
    size_t snapshot_rows = 0;
    for (const auto &part : parts) {
        for (const auto &line : part) {
            nlohmann::json record = nlohmann::json::parse(line);
            EXPECT_EQ(record.at("op"), "r");
            EXPECT_EQ(record.at("lsn").get<uint64_t>(), LsnValue(slot.consistent_point));
            EXPECT_TRUE(seqs.insert(record.at("seq").get<uint64_t>()).second) << line;
            // Values as of the snapshot, before any change.
            int64_t id = record.at("after").at("id").get<int64_t>();
            EXPECT_EQ(record.at("after").at("v"), "v" + std::to_string(id)) << line;
            Apply(&state, record);
            ++snapshot_rows;
        }
    }
    EXPECT_EQ(snapshot_rows, 30000u);  // the table as it was when the slot was created
    EXPECT_EQ(state.size(), 30000u);

    std::string changes =
        cluster.Query("SELECT data FROM pg_logical_slot_get_changes('snapshot_slot', NULL, NULL)");
    size_t change_count = 0;
    for (size_t start = 0; start < changes.size();) {
        size_t end = changes.find('\n', start);
        nlohmann::json record = nlohmann::json::parse(
            changes.substr(start, end == std::string::npos ? end : end - start));
        // Every change sorts after every snapshot row.
        EXPECT_GT(record.at("lsn").get<uint64_t>(), LsnValue(slot.consistent_point));
        Apply(&state, record);
        ++change_count;
        start = end == std::string::npos ? changes.size() : end + 1;
    }
    EXPECT_EQ(change_count, 20u * (50 + 1 + 1 + 2));

    std::string now = cluster.Query("SELECT snowcdc.encode_rows('items', '0/0')");
    TableState expected;
    for (size_t start = 0; start < now.size();) {
        size_t end = now.find('\n', start);
        Apply(&expected, nlohmann::json::parse(
                             now.substr(start, end == std::string::npos ? end : end - start)));
        start = end == std::string::npos ? now.size() : end + 1;
    }
    EXPECT_EQ(expected.size(), 30000u - 20 + 40);
    EXPECT_TRUE(state == expected)
        << "rebuilt " << state.size() << " rows, table has " << expected.size();
}

// Throughput of COPY (SELECT snowcdc.encode_rows(...)) TO STDOUT, of the per-row encode_row, and
// of a plain JSON COPY of the same table.
// Printed, not asserted: the machine is shared.
TEST(SnapshotExport, CopyThroughput) {
    TempCluster cluster;
    cluster.Exec(
        "CREATE TABLE items (id bigint PRIMARY KEY, v text, n numeric, at timestamptz, "
        "tags text[], pad text)");
    cluster.Exec(
        "INSERT INTO items SELECT g, 'value ' || g, g / 7.0, "
        "'2026-01-01'::timestamptz + g * interval '1 second', ARRAY['a', 'b' || g], "
        "repeat('p', 60) FROM generate_series(1, 200000) AS g");
    cluster.Exec("VACUUM ANALYZE items");
    Connection conn = Connect(cluster.ConnInfo());

    auto measure = [&](const char *name, const std::string &copy) {
        auto start = std::chrono::steady_clock::now();
        std::vector<std::string> rows = CopyOut(conn.get(), copy);
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        size_t bytes = 0;
        for (const auto &row : rows)
            bytes += row.size() + 1;
        std::printf("%-12s %zu rows in %.3f s: %.0f rows/s, %.1f MB/s\n", name, rows.size(),
                    seconds, rows.size() / seconds, bytes / seconds / 1e6);
        return rows.size();
    };
    EXPECT_EQ(measure("encode_rows", EncodeRowsCopy("0/0", "0", "NULL")), 200000u);
    EXPECT_EQ(
        measure("encode_row", std::string("COPY (SELECT snowcdc.encode_row('items', i, '0/0', "
                                          "snowcdc.snapshot_seq(i.ctid), '") +
                                  kSnapshotTime +
                                  "') FROM items i) TO STDOUT (FORMAT csv, QUOTE e'\\x01', "
                                  "DELIMITER e'\\x02')"),
        200000u);
    EXPECT_EQ(measure("row_to_json", "COPY (SELECT row_to_json(i) FROM items i) TO STDOUT"),
              200000u);
}

}  // namespace
}  // namespace snowcdc::testing
