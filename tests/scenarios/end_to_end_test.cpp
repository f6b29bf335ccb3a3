// End to end, from the source table to the warehouse tables: a random workload (inserts,
// updates that leave TOASTed values out, key changes, deletes, a truncate) runs on a Postgres
// table; the snowcdc output plugin decodes it, together with a snapshot of the rows that existed
// before; the records are landed in chunks and merged by the generated Postgres-dialect
// procedure. The current-state table must equal the source table, and the history table, read
// as of each commit, must equal the source table right after that commit.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ddl/catalog.hpp"
#include "ddl/table_sql.hpp"
#include "pg_cluster.hpp"

namespace snowcdc {
namespace {

using nlohmann::json;

constexpr int kTransactions = 40;
constexpr int kChunk = 7;  // records per merge

std::string Quote(const std::string &text) {
    std::string out = "'";
    for (char c : text)
        out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

class EndToEndTest : public ::testing::TestWithParam<ddl::DeleteMode> {
  protected:
    static void SetUpTestSuite() { cluster_ = new testing::TempCluster(); }
    static void TearDownTestSuite() {
        delete cluster_;
        cluster_ = nullptr;
    }

    void SetUp() override {
        soft_ = GetParam() == ddl::DeleteMode::kSoft;
        db_ = soft_ ? "e2e_soft" : "e2e_hard";
        cluster_->Exec("DROP DATABASE IF EXISTS " + db_);
        cluster_->Exec("CREATE DATABASE " + db_);
        Sql("CREATE EXTENSION snowcdc");
        std::ifstream setup(SNOWCDC_PG_SETUP_SQL);
        std::ostringstream text;
        text << setup.rdbuf();
        Sql(text.str());
        Sql("CREATE TABLE public.src (id int PRIMARY KEY, name text, big text, "
            "n numeric(10,2), tags text[], doc jsonb)");
    }
    void TearDown() override {
        Sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE "
            "database = current_database()");
        cluster_->Exec("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
    }

    std::string Sql(const std::string &sql) const { return cluster_->Query(sql, db_); }

    // A value too large and too random to stay inline: stored out of line (TOASTed).
    std::string BigValue() {
        return "repeat(md5('" + std::to_string(rng_()) + "'), 1) || string_agg(md5(g::text || '" +
               std::to_string(rng_()) + "'), '') ";
    }

    std::string InsertRow(int id) {
        std::uniform_int_distribution<int> size(60, 200);
        return "INSERT INTO public.src SELECT " + std::to_string(id) + ", 'name-" +
               std::to_string(rng_() % 1000) + "', " + BigValue() + ", " +
               std::to_string(rng_() % 100000) + " / 100.0, ARRAY['t" +
               std::to_string(rng_() % 10) + "', 'u'], jsonb_build_object('k', " +
               std::to_string(rng_() % 50) + ") FROM generate_series(1, " +
               std::to_string(size(rng_)) + ") g";
    }

    int AnyLive() {
        auto it = live_.begin();
        std::advance(it, rng_() % live_.size());
        return *it;
    }

    // One operation that changes at least one row of src.
    std::string RandomOp() {
        int choice = live_.empty() ? 0 : static_cast<int>(rng_() % 10);
        if (choice <= 1) {
            int id = next_id_++;
            live_.insert(id);
            return InsertRow(id);
        }
        int id = AnyLive();
        const std::string where = " WHERE id = " + std::to_string(id);
        switch (choice) {
            case 2:
            case 3:  // leaves big out of the record: an unchanged TOASTed value
                return "UPDATE public.src SET name = 'renamed-" + std::to_string(rng_() % 1000) +
                       "'" + where;
            case 4:
                return "UPDATE public.src SET big = (SELECT " + BigValue() +
                       "FROM generate_series(1, 80) g)" + where;
            case 5:
                return "UPDATE public.src SET n = n + 1, tags = tags || ARRAY['v'], doc = doc || "
                       "'{\"x\": 1}'" +
                       where;
            case 6:
            case 7: {  // key change, big unchanged
                int to = next_id_++;
                live_.erase(id);
                live_.insert(to);
                return "UPDATE public.src SET id = " + std::to_string(to) + where;
            }
            default:
                live_.erase(id);
                return "DELETE FROM public.src" + where;
        }
    }

    std::string SourceRows() const {
        return Sql(
            "SELECT coalesce(string_agg(concat_ws('|', id, name, md5(big), n, "
            "to_jsonb(tags), doc), E'\\n' ORDER BY id), '') FROM public.src");
    }

    std::string WarehouseRows(const std::string &relation, const std::string &where) const {
        return Sql(
            "SELECT coalesce(string_agg(concat_ws('|', id, name, md5(big), n, tags, doc), "
            "E'\\n' ORDER BY id), '') FROM " +
            relation + " WHERE " + where);
    }

    static testing::TempCluster *cluster_;
    bool soft_ = false;
    std::string db_;
    std::mt19937 rng_{20261121};
    std::set<int> live_;
    int next_id_ = 1;
};

testing::TempCluster *EndToEndTest::cluster_ = nullptr;

TEST_P(EndToEndTest, WarehouseMatchesSourceAtEveryCommit) {
    for (int i = 0; i < 12; ++i) {
        int id = next_id_++;
        live_.insert(id);
        Sql(InsertRow(id));
    }
    const std::string slot_lsn =
        Sql("SELECT lsn FROM pg_create_logical_replication_slot('e2e', 'snowcdc')");
    const std::string snapshot_rows = SourceRows();
    std::vector<std::string> records;
    for (const std::string &r : [&] {
             std::vector<std::string> lines;
             std::istringstream in(
                 Sql("SELECT string_agg(r, E'\\n') FROM snowcdc.encode_rows("
                     "'public.src', '" +
                     slot_lsn + "', now(), numeric_as_string => true) r"));
             for (std::string line; std::getline(in, line);)
                 lines.push_back(line);
             return lines;
         }())
        records.push_back(r);
    const size_t snapshot_count = records.size();
    ASSERT_EQ(snapshot_count, 12u);

    std::vector<std::string> after_commit;  // source rows after each transaction
    for (int t = 0; t < kTransactions; ++t) {
        std::string txn = "BEGIN;\n";
        if (t == kTransactions / 2) {
            txn += "TRUNCATE public.src;\n";
            live_.clear();
        }
        int ops = 1 + static_cast<int>(rng_() % 4);
        for (int o = 0; o < ops; ++o)
            txn += RandomOp() + ";\n";
        Sql(txn + "COMMIT;");
        after_commit.push_back(SourceRows());
    }

    std::istringstream decoded(
        Sql("SELECT string_agg(data, E'\\n' ORDER BY lsn) FROM pg_logical_slot_get_changes('e2e', "
            "NULL, NULL, 'include-tables', 'public.src', 'numeric-as-string', 'on')"));
    std::vector<std::string> commit_ts;  // ts of each transaction, in commit order
    for (std::string line; std::getline(decoded, line);) {
        json record = json::parse(line);
        std::string ts = std::to_string(record.at("ts").get<long long>());
        if (commit_ts.empty() || commit_ts.back() != ts)
            commit_ts.push_back(ts);
        records.push_back(line);
    }
    ASSERT_EQ(commit_ts.size(), static_cast<size_t>(kTransactions))
        << "every transaction should have produced records";

    ddl::CatalogConnection conn(cluster_->ConnInfo(db_));
    ddl::GenerateOptions options;
    options.dialect = ddl::Dialect::kPostgres;
    options.delete_mode = GetParam();
    options.names.database = "";
    options.names.landing_schema = "landing";
    options.names.staging_schema = "staging";
    options.names.analytics_schema = "analytics";
    options.names.monitoring_schema = "monitoring";
    ddl::Table table = ddl::ReadTables(conn, "public.src").at(0);
    ddl::TableObjects objects = ddl::ObjectsFor(table, options);
    Sql(ddl::GenerateTableSql(table, options));

    for (size_t i = 0; i < records.size(); ++i) {
        Sql("SELECT landing.land(" + Quote(records[i]) + "::jsonb)");
        if ((i + 1) % kChunk == 0 || i + 1 == snapshot_count)
            Sql("CALL " + objects.procedure + "()");
    }
    Sql("CALL " + objects.procedure + "()");

    const std::string live = soft_ ? "NOT _cdc_is_deleted" : "true";
    EXPECT_EQ(WarehouseRows(objects.current, live), after_commit.back());
    EXPECT_EQ(Sql("SELECT count(*) FROM " + objects.quality), "0");
    auto as_of = [&](const std::string &ts_us) {
        const std::string at = "(timestamptz 'epoch' + " + ts_us + " * interval '1 microsecond')";
        return WarehouseRows(objects.history, "valid_from <= " + at +
                                                  " AND (valid_to IS NULL OR "
                                                  "valid_to > " +
                                                  at + ")");
    };
    const std::string first_snapshot_ts =
        std::to_string(json::parse(records.front()).at("ts").get<long long>());
    EXPECT_EQ(as_of(first_snapshot_ts), snapshot_rows) << "as of the snapshot";
    for (size_t t = 0; t < commit_ts.size(); ++t)
        EXPECT_EQ(as_of(commit_ts[t]), after_commit[t]) << "as of transaction " << t;
    EXPECT_EQ(Sql("SELECT count(*) FROM staging.cdc_pending"), "0");
    // The workload did exercise what it is meant to.
    EXPECT_NE(Sql("SELECT count(*) FROM landing.cdc_records WHERE toast ? 'big'"), "0");
    EXPECT_NE(Sql("SELECT count(*) FROM landing.cdc_records WHERE op = 'u' AND "
                  "(key ->> 'id') <> (after ->> 'id')"),
              "0");
    EXPECT_EQ(Sql("SELECT count(*) FROM landing.cdc_records WHERE op = 't'"), "1");
}

INSTANTIATE_TEST_SUITE_P(DeleteModes, EndToEndTest,
                         ::testing::Values(ddl::DeleteMode::kHard, ddl::DeleteMode::kSoft),
                         [](const ::testing::TestParamInfo<ddl::DeleteMode> &info) {
                             return std::string(info.param == ddl::DeleteMode::kHard ? "hard"
                                                                                     : "soft");
                         });

}  // namespace
}  // namespace snowcdc
