// The `ddl` subcommand end to end against a real catalog: files and manifests written per
// table, wildcards, refusals with their fix, and `--evolve` after ALTER TABLE producing ALTERs
// that execute (Postgres dialect) and leave the merge working.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ddl/ddl_command.hpp"
#include "pg_cluster.hpp"

namespace snowcdc {
namespace {

std::string ReadText(const std::filesystem::path &path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

class DdlCommandTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        testing::ClusterOptions options;
        options.install_extension = false;
        cluster_ = new testing::TempCluster(options);
    }
    static void TearDownTestSuite() {
        delete cluster_;
        cluster_ = nullptr;
    }

    void SetUp() override {
        char tmpl[] = "/tmp/snowcdc-ddl-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        const std::string db = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        db_ = "ddl_" + std::to_string(std::hash<std::string>{}(db) % 1000000);
        cluster_->Exec("DROP DATABASE IF EXISTS " + db_);
        cluster_->Exec("CREATE DATABASE " + db_);
    }
    void TearDown() override {
        std::filesystem::remove_all(dir_);
        cluster_->Exec("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
    }

    // Runs `ddl` with the given arguments; returns the exit status CLI11 would give.
    int Ddl(std::vector<std::string> args) {
        CLI::App app("test");
        ddl::AddDdlCommand(app);
        args.insert(args.begin(), {"ddl", "--conninfo", cluster_->ConnInfo(db_)});
        std::vector<const char *> argv = {"snowcdc-shipper"};
        for (const std::string &a : args)
            argv.push_back(a.c_str());
        try {
            app.parse(static_cast<int>(argv.size()), argv.data());
        } catch (const CLI::ParseError &e) {
            return e.get_exit_code();
        }
        return 0;
    }

    std::string Sql(const std::string &sql) { return cluster_->Query(sql, db_); }

    static testing::TempCluster *cluster_;
    std::filesystem::path dir_;
    std::string db_;
};

testing::TempCluster *DdlCommandTest::cluster_ = nullptr;

TEST_F(DdlCommandTest, WritesOneFileAndManifestPerMatchingTable) {
    Sql("CREATE SCHEMA sales; CREATE TABLE sales.orders (id int PRIMARY KEY, total numeric(10,2));"
        "CREATE TABLE sales.lines (order_id int, n int, sku text, PRIMARY KEY (order_id, n));"
        "CREATE TABLE public.other (id int PRIMARY KEY)");
    ASSERT_EQ(Ddl({"--table", "sales.*", "--output-dir", dir_.string()}), 0);
    EXPECT_TRUE(std::filesystem::exists(dir_ / "sales.orders.sql"));
    EXPECT_TRUE(std::filesystem::exists(dir_ / "sales.lines.manifest.json"));
    EXPECT_FALSE(std::filesystem::exists(dir_ / "public.other.sql"));
    std::string lines = ReadText(dir_ / "sales.lines.sql");
    EXPECT_NE(lines.find("CREATE TABLE IF NOT EXISTS SNOWCDC.ANALYTICS.SALES_LINES ("),
              std::string::npos);
    EXPECT_NE(lines.find("PRIMARY KEY (ORDER_ID, N)"), std::string::npos) << lines;
    EXPECT_NE(ReadText(dir_ / "sales.orders.sql").find("TOTAL NUMBER(10,2)"), std::string::npos);
}

TEST_F(DdlCommandTest, RefusesTablesWithoutKeyAndUnknownTables) {
    Sql("CREATE TABLE public.nokey (a int, b text)");
    EXPECT_EQ(Ddl({"--table", "public.nokey", "--output-dir", dir_.string()}), 1);
    EXPECT_EQ(Ddl({"--table", "public.missing", "--output-dir", dir_.string()}), 1);
    Sql("CREATE TABLE public.parted (id int PRIMARY KEY) PARTITION BY RANGE (id);"
        "CREATE TABLE public.parted_1 PARTITION OF public.parted FOR VALUES FROM (0) TO (10)");
    EXPECT_EQ(Ddl({"--table", "public.parted", "--output-dir", dir_.string()}), 1);
    EXPECT_EQ(Ddl({"--table", "public.parted*", "--output-dir", dir_.string()}), 0);
    EXPECT_TRUE(std::filesystem::exists(dir_ / "public.parted_1.sql"));
    EXPECT_FALSE(std::filesystem::exists(dir_ / "public.parted.sql"));
    EXPECT_EQ(Ddl({"--table", "public.nokey", "--dialect", "oracle"}), 105);  // CLI validation
    Sql("CREATE UNIQUE INDEX nokey_a ON public.nokey (a); ALTER TABLE public.nokey ALTER a SET "
        "NOT NULL; ALTER TABLE public.nokey REPLICA IDENTITY USING INDEX nokey_a");
    EXPECT_EQ(Ddl({"--table", "public.nokey", "--output-dir", dir_.string()}), 0);
    EXPECT_NE(ReadText(dir_ / "public.nokey.sql").find("PRIMARY KEY (A)"), std::string::npos);
}

TEST_F(DdlCommandTest, EvolveAfterAlterTableExecutesAndKeepsMerging) {
    Sql("CREATE TABLE public.acct (id int PRIMARY KEY, name text, n int, legacy bool)");
    Sql("CREATE SCHEMA landing; CREATE SCHEMA staging; CREATE SCHEMA analytics; CREATE SCHEMA "
        "monitoring");
    std::ifstream setup(SNOWCDC_PG_SETUP_SQL);
    std::ostringstream setup_sql;
    setup_sql << setup.rdbuf();
    Sql(setup_sql.str());
    const std::vector<std::string> pg = {
        "--dialect",        "postgres", "--landing-schema",   "landing",
        "--staging-schema", "staging",  "--analytics-schema", "analytics"};
    auto with = [&](std::vector<std::string> args) {
        args.insert(args.end(), pg.begin(), pg.end());
        return args;
    };
    ASSERT_EQ(Ddl(with({"--table", "public.acct", "--output-dir", dir_.string()})), 0);
    Sql(ReadText(dir_ / "public.acct.sql"));
    Sql("SELECT landing.land('{\"op\":\"c\",\"lsn\":10,\"seq\":0,\"ts\":10,\"schema\":\"public\","
        "\"table\":\"acct\",\"key\":{\"id\":1},\"after\":{\"id\":1,\"name\":\"a\",\"n\":1,"
        "\"legacy\":true}}')");
    Sql("CALL staging.merge_acct()");

    Sql("ALTER TABLE public.acct RENAME name TO full_name; ALTER TABLE public.acct ADD email "
        "text; ALTER TABLE public.acct ALTER n TYPE text; ALTER TABLE public.acct DROP legacy");
    ASSERT_EQ(Ddl(with({"--table", "public.acct", "--output-dir", dir_.string(), "--evolve"})), 0);
    std::string evolve = ReadText(dir_ / "public.acct.evolve.sql");
    EXPECT_NE(evolve.find("ALTER TABLE analytics.acct RENAME COLUMN name TO full_name;"),
              std::string::npos)
        << evolve;
    EXPECT_NE(evolve.find("ALTER TABLE analytics.acct_history ADD COLUMN email text;"),
              std::string::npos);
    EXPECT_NE(evolve.find("RENAME COLUMN n TO n_before_type_change"), std::string::npos);
    EXPECT_NE(evolve.find("Column legacy was dropped"), std::string::npos);
    Sql(evolve);

    Sql("SELECT landing.land('{\"op\":\"u\",\"lsn\":20,\"seq\":0,\"ts\":20,\"schema\":\"public\","
        "\"table\":\"acct\",\"key\":{\"id\":1},\"after\":{\"id\":1,\"full_name\":\"b\",\"n\":\"x\","
        "\"email\":\"e@x\"}}')");
    Sql("CALL staging.merge_acct()");
    EXPECT_EQ(Sql("SELECT concat_ws('|', id, full_name, n, n_before_type_change, email, legacy) "
                  "FROM analytics.acct"),
              "1|b|x|1|e@x|t");
    EXPECT_EQ(Sql("SELECT string_agg(concat_ws('|', full_name, n, email), ',' ORDER BY valid_from)"
                  " FROM analytics.acct_history"),
              "a,b|x|e@x");

    // A second --evolve with no change in between reports none.
    ASSERT_EQ(Ddl(with({"--table", "public.acct", "--output-dir", dir_.string(), "--evolve"})), 0);
    EXPECT_NE(ReadText(dir_ / "public.acct.evolve.sql").find("No column changes"),
              std::string::npos);
}

}  // namespace
}  // namespace snowcdc
