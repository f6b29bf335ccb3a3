// Manifests and the ALTERs of schema evolution.
#include <gtest/gtest.h>

#include <stdexcept>

#include "ddl/evolve.hpp"

namespace snowcdc::ddl {
namespace {

Column Col(int attnum, const std::string &name, TargetType type, bool key = false) {
    return Column{attnum, name, "pg", type, type.kind == TargetKind::kVarchar, key};
}

Table Orders() {
    Table t;
    t.schema = "sales";
    t.name = "orders";
    t.key = {"id"};
    t.columns = {Col(1, "id", {TargetKind::kNumber, 19, 0, 0}, true),
                 Col(2, "note", {TargetKind::kVarchar, 0, 0, 20}),
                 Col(3, "amount", {TargetKind::kNumber, 10, 2, 0}),
                 Col(4, "legacy", {TargetKind::kBoolean, 0, 0, 0})};
    return t;
}

GenerateOptions Snowflake() {
    return GenerateOptions{};
}

bool Has(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

TEST(Manifest, RoundTrips) {
    Table back = TableFromManifest(ManifestJson(Orders()));
    EXPECT_EQ(ManifestJson(back), ManifestJson(Orders()));
    EXPECT_EQ(back.key, Orders().key);
    EXPECT_TRUE(back.columns[0].is_key);
}

TEST(Manifest, RejectsOtherFiles) {
    EXPECT_THROW(TableFromManifest("{\"format\": \"other\"}"), std::runtime_error);
    EXPECT_THROW(TableFromManifest("not json"), std::runtime_error);
}

TEST(Evolve, NoChangeStillRegeneratesTheProcedure) {
    std::string sql = EvolveSql(Orders(), Orders(), Snowflake());
    EXPECT_TRUE(Has(sql, "No column changes")) << sql;
    EXPECT_TRUE(Has(sql, "CREATE OR REPLACE PROCEDURE SNOWCDC.STAGING.MERGE_SALES_ORDERS()"));
    EXPECT_FALSE(Has(sql, "ALTER TABLE"));
}

TEST(Evolve, AddRenameWidenDropAndIncompatibleTypeChange) {
    Table now = Orders();
    now.columns[1].name = "comment";                          // rename (same attnum)
    now.columns[1].target.length = 200;                       // and widen
    now.columns[2].target = {TargetKind::kVarchar, 0, 0, 0};  // NUMBER -> VARCHAR
    now.columns.erase(now.columns.begin() + 3);               // drop legacy
    now.columns.push_back(Col(5, "added", {TargetKind::kDate, 0, 0, 0}));
    std::string sql = EvolveSql(Orders(), now, Snowflake());
    for (const char *table :
         {"SNOWCDC.ANALYTICS.SALES_ORDERS ", "SNOWCDC.ANALYTICS.SALES_ORDERS_HISTORY ",
          "SNOWCDC.STAGING.SALES_ORDERS__EVENTS "}) {
        std::string alter = std::string("ALTER TABLE ") + table;
        EXPECT_TRUE(Has(sql, alter + "RENAME COLUMN NOTE TO COMMENT;")) << sql;
        EXPECT_TRUE(Has(sql, alter + "ALTER COLUMN COMMENT SET DATA TYPE VARCHAR(200);"));
        EXPECT_TRUE(Has(sql, alter + "RENAME COLUMN AMOUNT TO AMOUNT_BEFORE_TYPE_CHANGE;"));
        EXPECT_TRUE(Has(sql, alter + "ADD COLUMN AMOUNT VARCHAR;"));
        EXPECT_TRUE(Has(sql, alter + "ADD COLUMN ADDED DATE;"));
    }
    EXPECT_TRUE(Has(sql, "-- Column LEGACY was dropped in Postgres"));
    EXPECT_FALSE(Has(sql, "DROP COLUMN"));
    EXPECT_LT(sql.find("ADD COLUMN ADDED"), sql.find("CREATE OR REPLACE PROCEDURE"));
}

TEST(Evolve, KeyChangeNeedsARebuild) {
    Table now = Orders();
    now.key = {"id", "note"};
    try {
        EvolveSql(Orders(), now, Snowflake());
        FAIL() << "a key change must not evolve in place";
    } catch (const std::invalid_argument &e) {
        EXPECT_TRUE(Has(e.what(), "re-snapshot")) << e.what();
    }
}

}  // namespace
}  // namespace snowcdc::ddl
