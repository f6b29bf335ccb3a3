// The scenario suite: proves the generated merge logic by executing its Postgres dialect.
// Each tests/scenarios/*.json file creates a source table, generates its warehouse objects from
// the catalog with the same generator that writes the Snowflake text, lands change records the
// way the pipe and the root task would, runs the merge procedure, and compares the current-state
// and history tables with the expected rows, once per delete mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ddl/catalog.hpp"
#include "ddl/table_sql.hpp"
#include "pg_cluster.hpp"

namespace snowcdc {
namespace {

using nlohmann::json;

struct ScenarioCase {
    std::string file;
    ddl::DeleteMode mode;
};

std::vector<ScenarioCase> AllCases() {
    std::vector<std::string> files;
    for (const auto &entry : std::filesystem::directory_iterator(SNOWCDC_SCENARIO_DIR)) {
        if (entry.path().extension() == ".json")
            files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    std::vector<ScenarioCase> cases;
    for (const std::string &f : files) {
        cases.push_back({f, ddl::DeleteMode::kHard});
        cases.push_back({f, ddl::DeleteMode::kSoft});
    }
    return cases;
}

// The cases whose scenario never makes a merge fail on purpose.
std::vector<ScenarioCase> CasesWithoutFailingMerges() {
    std::vector<ScenarioCase> cases;
    for (const ScenarioCase &c : AllCases()) {
        std::ifstream in(c.file);
        json scenario = json::parse(in);
        bool fails = false;
        for (const auto &step : scenario.at("steps"))
            fails = fails || step.contains("merge_fails");
        if (!fails)
            cases.push_back(c);
    }
    return cases;
}

std::string CaseName(const ScenarioCase &c);

void PrintTo(const ScenarioCase &c, std::ostream *os) {
    *os << CaseName(c);
}

std::string CaseName(const ScenarioCase &c) {
    std::string name = std::filesystem::path(c.file).stem().string();
    for (char &ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch)))
            ch = '_';
    }
    return name + (c.mode == ddl::DeleteMode::kHard ? "_hard" : "_soft");
}

std::string ReadText(const std::string &path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> Lines(const std::string &text) {
    std::vector<std::string> lines;
    if (text.empty())
        return lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        lines.push_back(line);
    return lines;
}

std::string Replace(std::string text, const std::string &from, const std::string &to) {
    for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
        text.replace(pos, from.size(), to);
    return text;
}

class ScenarioTest : public ::testing::TestWithParam<ScenarioCase> {
  protected:
    static void SetUpTestSuite() {
        testing::ClusterOptions options;
        options.install_extension = false;  // only SQL runs here, no decoding
        cluster_ = new testing::TempCluster(options);
    }
    static void TearDownTestSuite() {
        delete cluster_;
        cluster_ = nullptr;
    }

    void SetUp() override {
        scenario_ = json::parse(ReadText(GetParam().file));
        db_ = "scenario_" + CaseName(GetParam());
        std::transform(db_.begin(), db_.end(), db_.begin(), ::tolower);
        cluster_->Exec("DROP DATABASE IF EXISTS " + db_);
        cluster_->Exec("CREATE DATABASE " + db_);
        Sql("ALTER DATABASE " + db_ + " SET timezone = 'UTC'");
        Sql(ReadText(SNOWCDC_PG_SETUP_SQL));
        // us(): a commit time as microseconds since the epoch, the unit of the records' ts.
        Sql("CREATE FUNCTION us(timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS "
            "$$ SELECT (extract(epoch FROM $1) * 1000000)::bigint $$");
        for (const auto &statement : scenario_.at("setup"))
            Sql(statement.get<std::string>());
        GenerateTable();
    }

    void TearDown() override { cluster_->Exec("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)"); }

    std::string Sql(const std::string &sql) const { return cluster_->Query(Expand(sql), db_); }

    std::string Expand(std::string sql) const {
        sql = Replace(sql, "{current}", objects_.current);
        sql = Replace(sql, "{history}", objects_.history);
        sql = Replace(sql, "{procedure}", objects_.procedure);
        sql = Replace(sql, "{quality}", objects_.quality);
        return Replace(sql, "{pending}", "staging.cdc_pending");
    }

    void GenerateTable() {
        ddl::CatalogConnection conn(cluster_->ConnInfo(db_));
        std::vector<ddl::Table> tables = ddl::ReadTables(conn, scenario_.at("table"));
        ASSERT_EQ(tables.size(), 1u);
        table_ = tables[0];
        options_.dialect = ddl::Dialect::kPostgres;
        options_.delete_mode = GetParam().mode;
        options_.names.database = "";
        options_.names.landing_schema = "landing";
        options_.names.staging_schema = "staging";
        options_.names.analytics_schema = "analytics";
        options_.names.monitoring_schema = "monitoring";
        objects_ = ddl::ObjectsFor(table_, options_);
        Sql(ddl::GenerateTableSql(table_, options_));
    }

    // Records are JSON objects completed with the scenario's table and ts = lsn, or strings
    // landed verbatim (for numbers a JSON parser would round).
    // The record as landed: objects completed with the scenario's table and ts = lsn.
    std::string RecordText(const json &entry) const {
        if (entry.is_string())
            return entry.get<std::string>();
        const std::string table = scenario_.at("table");
        const size_t dot = table.find('.');
        json record = entry;
        if (!record.contains("schema"))
            record["schema"] = table.substr(0, dot);
        if (!record.contains("table"))
            record["table"] = table.substr(dot + 1);
        if (!record.contains("ts"))
            record["ts"] = record.at("lsn");  // commit time in microseconds = lsn
        return record.dump();
    }

    bool OfScenarioTable(const std::string &text) const {
        json record = json::parse(text);
        return record.value("schema", "") + "." + record.value("table", "") ==
               scenario_.at("table").get<std::string>();
    }

    void Land(const json &records) {
        for (const json &entry : records) {
            std::string text = RecordText(entry);
            LandText(text);
            if (OfScenarioTable(text))
                landed_.push_back(text);
        }
    }

    void LandText(const std::string &text) const {
        Sql("SELECT landing.land('" + Replace(text, "'", "''") + "'::jsonb)");
    }

    // Checks every scenario gets for free: applying all of its records a second time changes
    // nothing, and (unless the scenario damages the tables on purpose) the data-quality view
    // finds nothing.
    void CheckInvariants() const {
        if (!scenario_.value("damages_tables", false))
            EXPECT_EQ(Sql("SELECT count(*) FROM " + objects_.quality), "0") << "data-quality view";
        const std::string before = Dump();
        for (const std::string &text : landed_)
            LandText(text);
        Sql("CALL " + objects_.procedure + "()");
        EXPECT_EQ(Dump(), before) << "replaying every record of the scenario changed the tables";
    }

    std::string Mode() const { return GetParam().mode == ddl::DeleteMode::kHard ? "hard" : "soft"; }

    // The rows a check asks for, each column rendered as text ('NULL' for NULL), joined by '|'.
    std::vector<std::string> Rows(const json &check) const {
        if (check.contains("query"))
            return Lines(Sql(check.at("query")));
        std::string table = check.at("table");
        std::string relation = table == "current" ? objects_.current : objects_.history;
        std::vector<std::string> columns;
        for (const auto &c : check.at("columns"))
            columns.push_back("COALESCE((" + c.get<std::string>() + ")::text, 'NULL')");
        std::string order = check.value("order_by", "");
        if (order.empty()) {
            order = ddl::Join(table_.key, ", ");
            if (table == "history")
                order += ", valid_from, _cdc_lsn";
        }
        std::string select = "SELECT concat_ws('|', ";
        for (size_t i = 0; i < columns.size(); ++i)
            select += (i > 0 ? ", " : "") + columns[i];
        return Lines(Sql(select + ") FROM " + relation + " ORDER BY " + order));
    }

    // Everything the merge can change, for before/after comparisons.
    std::string Dump() const {
        return Sql("SELECT string_agg(t::text, E'\\n' ORDER BY t::text) FROM " + objects_.current +
                   " t") +
               "\n--\n" +
               Sql("SELECT string_agg(t::text, E'\\n' ORDER BY t::text) FROM " + objects_.history +
                   " t") +
               "\n--\n" +
               Sql("SELECT string_agg((op, lsn, seq)::text, E'\\n' ORDER BY lsn, seq) FROM "
                   "staging.cdc_pending");
    }

    void Check(const json &check, size_t step) const {
        std::string only = check.value("mode", "");
        if (!only.empty() && only != Mode())
            return;
        json expected = check.contains(Mode()) ? check.at(Mode()) : check.at("rows");
        std::vector<std::string> want = expected.get<std::vector<std::string>>();
        EXPECT_EQ(Rows(check), want) << "step " << step << " (" << check.dump() << ")";
    }

    void RunSteps() {
        std::map<std::string, std::string> snapshots;
        size_t step = 0;
        for (const auto &s : scenario_.at("steps")) {
            ++step;
            SCOPED_TRACE("step " + std::to_string(step) + ": " + s.dump().substr(0, 200));
            if (s.contains("land")) {
                Land(s.at("land"));
            } else if (s.contains("merge")) {
                Sql("CALL " + objects_.procedure + "()");
            } else if (s.contains("merge_fails")) {
                std::string error;
                try {
                    Sql("CALL " + objects_.procedure + "()");
                } catch (const std::exception &e) {
                    error = e.what();
                }
                EXPECT_NE(error.find(s.at("merge_fails").get<std::string>()), std::string::npos)
                    << "the merge should have failed with \"" << s.at("merge_fails")
                    << "\", got: " << (error.empty() ? "success" : error);
            } else if (s.contains("sql")) {
                Sql(s.at("sql"));
            } else if (s.contains("snapshot")) {
                snapshots[s.at("snapshot")] = Dump();
            } else if (s.contains("unchanged_since")) {
                EXPECT_EQ(Dump(), snapshots.at(s.at("unchanged_since")));
            } else if (s.contains("expect")) {
                Check(s.at("expect"), step);
            } else {
                FAIL() << "unknown step " << s.dump();
            }
        }
        if (!HasFailure())
            CheckInvariants();
    }

    static testing::TempCluster *cluster_;
    json scenario_;
    std::string db_;
    ddl::Table table_;
    ddl::GenerateOptions options_;
    ddl::TableObjects objects_;
    std::vector<std::string> landed_;  // every record of the scenario's table, as landed
};

testing::TempCluster *ScenarioTest::cluster_ = nullptr;

TEST_P(ScenarioTest, MatchesExpectedTables) {
    RunSteps();
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<ScenarioCase> &info) {
                             return CaseName(info.param);
                         });

class BatchEquivalenceTest : public ScenarioTest {};

// "Any number of records for one key may arrive in one batch; the result is the same as applying
// them one by one in order": all of the scenario's records in one batch, then (after emptying
// every table) the same records in commit order in batches of 1 and of 3, must leave identical
// tables. Scenarios with records that make a merge fail on purpose are not instantiated here.
TEST_P(BatchEquivalenceTest, OneBatchEqualsOneByOne) {
    std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> records;
    for (const auto &step : scenario_.at("steps")) {
        if (!step.contains("land"))
            continue;
        for (const auto &entry : step.at("land")) {
            std::string text = RecordText(entry);
            json record = json::parse(text);
            if (OfScenarioTable(text)) {
                records.push_back(
                    {{record.at("lsn").get<uint64_t>(), record.at("seq").get<uint64_t>()}, text});
            }
        }
    }
    std::stable_sort(records.begin(), records.end(),
                     [](const auto &a, const auto &b) { return a.first < b.first; });
    for (const auto &r : records)
        LandText(r.second);
    Sql("CALL " + objects_.procedure + "()");
    const std::string one_batch = Dump();
    // Batches of 1 (each record alone) and of 3 (transactions cut at other places).
    for (size_t batch : {1, 3}) {
        Sql("TRUNCATE " + objects_.current + ", " + objects_.history + ", " + objects_.applied +
            ", staging.cdc_pending, staging.cdc_truncations, staging.cdc_merge_log");
        for (size_t i = 0; i < records.size(); ++i) {
            LandText(records[i].second);
            if ((i + 1) % batch == 0 || i + 1 == records.size())
                Sql("CALL " + objects_.procedure + "()");
        }
        EXPECT_EQ(Dump(), one_batch) << "batches of " << batch << " record(s)";
    }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, BatchEquivalenceTest,
                         ::testing::ValuesIn(CasesWithoutFailingMerges()),
                         [](const ::testing::TestParamInfo<ScenarioCase> &info) {
                             return CaseName(info.param);
                         });

}  // namespace
}  // namespace snowcdc
