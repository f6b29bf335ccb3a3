// The Snowflake text of the generator against reviewed golden files, and the type reference in
// sql/README.md against the code table. SNOWCDC_UPDATE_GOLDEN=1 rewrites the golden files
// (review the diff before committing it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "ddl/evolve.hpp"
#include "ddl/table_sql.hpp"
#include "ddl/type_map.hpp"

namespace snowcdc::ddl {
namespace {

std::string ReadText(const std::string &path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void ExpectGolden(const std::string &name, const std::string &actual) {
    const std::string path = std::string(SNOWCDC_GOLDEN_DIR) + "/" + name;
    const char *update = std::getenv("SNOWCDC_UPDATE_GOLDEN");
    if (update != nullptr && std::string(update) == "1") {
        std::ofstream(path) << actual;
        return;
    }
    std::ifstream probe(path);
    ASSERT_TRUE(probe.good()) << path << " is missing; run with SNOWCDC_UPDATE_GOLDEN=1";
    EXPECT_EQ(ReadText(path), actual) << "generated text differs from " << path
                                      << "; if intended, rerun with SNOWCDC_UPDATE_GOLDEN=1 and "
                                         "review the diff";
}

Column Col(int attnum, const std::string &name, const std::string &pg_type, PgType type,
           bool varlena, bool key = false) {
    return Column{attnum, name, pg_type, MapPgType(type), varlena, key};
}

// A table like the record format's example: several types, a TOASTable text, a reserved word.
Table Customers() {
    Table t;
    t.schema = "public";
    t.name = "customers";
    t.key = {"id"};
    t.columns = {
        Col(1, "id", "bigint", {"int8", 'b', 'N', -1}, false, true),
        Col(2, "email", "character varying(320)", {"varchar", 'b', 'S', 324}, true),
        Col(3, "balance", "numeric(12,2)", {"numeric", 'b', 'N', (12 << 16 | 2) + 4}, true),
        Col(4, "tags", "text[]", {"_text", 'b', 'A', -1}, true),
        Col(5, "profile", "jsonb", {"jsonb", 'b', 'U', -1}, true),
        Col(6, "bio", "text", {"text", 'b', 'S', -1}, true),
        Col(7, "score", "double precision", {"float8", 'b', 'N', -1}, false),
        Col(8, "updated_at", "timestamp with time zone", {"timestamptz", 'b', 'D', -1}, false),
        Col(9, "order", "integer", {"int4", 'b', 'N', -1}, false),
        Col(10, "avatar", "bytea", {"bytea", 'b', 'U', -1}, true),
    };
    return t;
}

// Composite key in a non-public schema.
Table OrderLines() {
    Table t;
    t.schema = "sales";
    t.name = "order_lines";
    t.key = {"order_id", "line_no"};
    t.columns = {
        Col(1, "order_id", "uuid", {"uuid", 'b', 'U', -1}, false, true),
        Col(2, "line_no", "integer", {"int4", 'b', 'N', -1}, false, true),
        Col(3, "sku", "text", {"text", 'b', 'S', -1}, true),
        Col(4, "qty", "numeric", {"numeric", 'b', 'N', -1}, true),
        Col(5, "shipped_on", "date", {"date", 'b', 'D', -1}, false),
    };
    return t;
}

TEST(Golden, CustomersHardDelete) {
    ExpectGolden("customers_hard.sql", GenerateTableSql(Customers(), GenerateOptions{}));
}

TEST(Golden, CustomersSoftDeleteWithMetrics) {
    GenerateOptions o;
    o.delete_mode = DeleteMode::kSoft;
    o.dynamic_table_metrics = true;
    ExpectGolden("customers_soft_metrics.sql", GenerateTableSql(Customers(), o));
}

TEST(Golden, OrderLinesCompositeKey) {
    ExpectGolden("sales_order_lines_hard.sql", GenerateTableSql(OrderLines(), GenerateOptions{}));
}

TEST(Golden, OrderLinesPostgresTwin) {
    GenerateOptions o;
    o.dialect = Dialect::kPostgres;
    o.names.landing_schema = "landing";
    o.names.staging_schema = "staging";
    o.names.analytics_schema = "analytics";
    o.names.monitoring_schema = "monitoring";
    ExpectGolden("sales_order_lines_hard.postgres.sql", GenerateTableSql(OrderLines(), o));
}

TEST(Golden, OrderLinesEvolution) {
    Table now = OrderLines();
    now.columns.push_back(Col(6, "note", "text", {"text", 'b', 'S', -1}, true));
    now.columns[2].name = "sku_code";
    ExpectGolden("sales_order_lines.evolve.sql", EvolveSql(OrderLines(), now, GenerateOptions{}));
}

TEST(Golden, ReadmeTypeReferenceMatchesTheCodeTable) {
    std::string readme = ReadText(SNOWCDC_SQL_README);
    EXPECT_NE(readme.find(TypeMapMarkdown()), std::string::npos)
        << "sql/README.md must contain the output of `snowcdc-shipper ddl --type-map` verbatim:\n"
        << TypeMapMarkdown();
}

}  // namespace
}  // namespace snowcdc::ddl
