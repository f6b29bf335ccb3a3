// The type code table, identifier spelling and table validation of the ddl generator.
#include <gtest/gtest.h>

#include <stdexcept>

#include "ddl/sql_text.hpp"
#include "ddl/table_sql.hpp"
#include "ddl/type_map.hpp"

namespace snowcdc::ddl {
namespace {

constexpr int kVarHdrSz = 4;

int NumericTypmod(int precision, int scale) {
    return ((precision << 16) | (scale & 0x7ff)) + kVarHdrSz;
}

std::string Snowflake(const std::string &name, int typmod = -1, char typtype = 'b',
                      char category = 'U') {
    return RenderType(MapPgType(PgType{name, typtype, category, typmod}), Dialect::kSnowflake);
}

TEST(TypeMap, NumericKeepsExactDigitsOrBecomesText) {
    EXPECT_EQ(Snowflake("numeric", NumericTypmod(12, 2)), "NUMBER(12,2)");
    EXPECT_EQ(Snowflake("numeric", NumericTypmod(38, 0)), "NUMBER(38,0)");
    EXPECT_EQ(Snowflake("numeric", NumericTypmod(39, 2)), "VARCHAR");
    EXPECT_EQ(Snowflake("numeric", NumericTypmod(5, -2)), "VARCHAR");
    EXPECT_EQ(Snowflake("numeric", NumericTypmod(2, 5)), "VARCHAR");
    EXPECT_EQ(Snowflake("numeric"), "VARCHAR");
}

TEST(TypeMap, ScalarTypes) {
    EXPECT_EQ(Snowflake("int2"), "NUMBER(5,0)");
    EXPECT_EQ(Snowflake("int4"), "NUMBER(10,0)");
    EXPECT_EQ(Snowflake("int8"), "NUMBER(19,0)");
    EXPECT_EQ(Snowflake("float4"), "FLOAT");
    EXPECT_EQ(Snowflake("bool"), "BOOLEAN");
    EXPECT_EQ(Snowflake("varchar", 40 + kVarHdrSz), "VARCHAR(40)");
    EXPECT_EQ(Snowflake("varchar"), "VARCHAR");
    EXPECT_EQ(Snowflake("uuid"), "VARCHAR(36)");
    EXPECT_EQ(Snowflake("bytea"), "BINARY");
    EXPECT_EQ(Snowflake("jsonb"), "VARIANT");
    EXPECT_EQ(Snowflake("timestamptz"), "TIMESTAMP_TZ(6)");
    EXPECT_EQ(Snowflake("timestamptz", 3), "TIMESTAMP_TZ(3)");
    EXPECT_EQ(Snowflake("timestamp", 0), "TIMESTAMP_NTZ(0)");
    EXPECT_EQ(Snowflake("time"), "TIME(6)");
    EXPECT_EQ(Snowflake("interval"), "VARCHAR");
    EXPECT_EQ(Snowflake("money"), "NUMBER(38,4)");
}

TEST(TypeMap, ArraysCompositesEnumsAndUnknownTypes) {
    EXPECT_EQ(Snowflake("_int4", -1, 'b', 'A'), "VARIANT");
    EXPECT_EQ(Snowflake("address", -1, 'c', 'C'), "VARIANT");
    EXPECT_EQ(Snowflake("mood", -1, 'e', 'E'), "VARCHAR");
    EXPECT_EQ(Snowflake("int4range", -1, 'r', 'R'), "VARCHAR");
    EXPECT_EQ(Snowflake("tsvector"), "VARCHAR");
}

TEST(TypeMap, PostgresTwinTypes) {
    auto twin = [](const std::string &name, int typmod = -1) {
        return RenderType(MapPgType(PgType{name, 'b', 'U', typmod}), Dialect::kPostgres);
    };
    EXPECT_EQ(twin("numeric", NumericTypmod(12, 2)), "numeric(12,2)");
    EXPECT_EQ(twin("numeric"), "text");
    EXPECT_EQ(twin("jsonb"), "jsonb");
    EXPECT_EQ(twin("float4"), "double precision");
    EXPECT_EQ(twin("timestamptz"), "timestamptz(6)");
}

TEST(TypeMap, ExtractionDiffersOnlyInJsonAccessAndCasts) {
    TargetType number = MapPgType(PgType{"numeric", 'b', 'N', NumericTypmod(12, 2)});
    EXPECT_EQ(ExtractExpr(number, Dialect::kSnowflake, "b.after", "balance"),
              "b.after:\"balance\"::NUMBER(12,2)");
    EXPECT_EQ(ExtractExpr(MapPgType(PgType{"jsonb", 'b', 'U', -1}), Dialect::kSnowflake, "b.after",
                          "profile"),
              "STRIP_NULL_VALUE(b.after:\"profile\")");
    EXPECT_EQ(ExtractExpr(MapPgType(PgType{"jsonb", 'b', 'U', -1}), Dialect::kPostgres, "b.after",
                          "profile"),
              "NULLIF(b.after -> 'profile', 'null'::jsonb)");
    EXPECT_EQ(ExtractExpr(MapPgType(PgType{"bytea", 'b', 'U', -1}), Dialect::kSnowflake, "b.after",
                          "blob"),
              "TO_BINARY(b.after:\"blob\"::VARCHAR, 'HEX')");
    EXPECT_EQ(
        ExtractExpr(MapPgType(PgType{"text", 'b', 'S', -1}), Dialect::kPostgres, "b.after", "it's"),
        "(b.after ->> 'it''s')");
    EXPECT_EQ(ExtractExpr(MapPgType(PgType{"text", 'b', 'S', -1}), Dialect::kSnowflake, "b.after",
                          "say \"hi\""),
              "b.after:\"say \"\"hi\"\"\"::VARCHAR");
}

TEST(TypeMap, MarkdownHasOneRowPerRule) {
    std::string md = TypeMapMarkdown();
    EXPECT_NE(
        md.find("| numeric(12,2): any numeric(p,s) with p <= 38, 0 <= s <= p -> NUMBER(p,s) | "
                "NUMBER(12,2) | numeric(12,2) |"),
        std::string::npos)
        << md;
    EXPECT_NE(md.find("| timestamptz: timestamptz(p) -> TIMESTAMP_TZ(p) | TIMESTAMP_TZ(6) |"),
              std::string::npos);
}

TEST(TypeMap, WideningInPlace) {
    TargetType v10{TargetKind::kVarchar, 0, 0, 10};
    TargetType v20{TargetKind::kVarchar, 0, 0, 20};
    TargetType text{TargetKind::kVarchar, 0, 0, 0};
    EXPECT_TRUE(CanWidenInPlace(v10, v20));
    EXPECT_TRUE(CanWidenInPlace(v10, text));
    EXPECT_FALSE(CanWidenInPlace(v20, v10));
    EXPECT_FALSE(CanWidenInPlace(text, v10));
    EXPECT_TRUE(CanWidenInPlace({TargetKind::kNumber, 10, 2, 0}, {TargetKind::kNumber, 18, 2, 0}));
    EXPECT_FALSE(CanWidenInPlace({TargetKind::kNumber, 10, 2, 0}, {TargetKind::kNumber, 18, 4, 0}));
    EXPECT_FALSE(CanWidenInPlace({TargetKind::kNumber, 10, 0, 0}, text));
}

TEST(SqlText, IdentifiersFoldOnlyWhenPlain) {
    EXPECT_EQ(Ident("customer_id", Dialect::kSnowflake), "CUSTOMER_ID");
    EXPECT_EQ(Ident("customer_id", Dialect::kPostgres), "customer_id");
    EXPECT_EQ(Ident("order", Dialect::kSnowflake), "\"order\"");
    EXPECT_EQ(Ident("CamelCase", Dialect::kSnowflake), "\"CamelCase\"");
    EXPECT_EQ(Ident("with space", Dialect::kPostgres), "\"with space\"");
    EXPECT_EQ(Ident("q\"uote", Dialect::kSnowflake), "\"q\"\"uote\"");
    EXPECT_EQ(Ident("1st", Dialect::kSnowflake), "\"1st\"");
}

TEST(SqlText, LiteralsEscapeBackslashOnlyInSnowflake) {
    EXPECT_EQ(Literal("a'b\\c", Dialect::kSnowflake), "'a''b\\\\c'");
    EXPECT_EQ(Literal("a'b\\c", Dialect::kPostgres), "'a''b\\c'");
}

Table TwoColumns(const std::string &second) {
    Table t;
    t.schema = "public";
    t.name = "t";
    t.key = {"id"};
    t.columns.push_back(Column{1, "id", "integer", {TargetKind::kNumber, 10, 0, 0}, false, true});
    t.columns.push_back(Column{2, second, "text", {TargetKind::kVarchar, 0, 0, 0}, true, false});
    return t;
}

std::string ValidationError(const Table &t) {
    try {
        ValidateTable(t, Dialect::kSnowflake);
    } catch (const std::invalid_argument &e) {
        return e.what();
    }
    return "";
}

TEST(Validate, RejectsTablesThatCannotBeMerged) {
    EXPECT_EQ(ValidationError(TwoColumns("name")), "");
    Table keyless = TwoColumns("name");
    keyless.key.clear();
    EXPECT_NE(ValidationError(keyless).find("REPLICA IDENTITY USING INDEX"), std::string::npos);
    EXPECT_NE(ValidationError(TwoColumns("valid_from")).find("rename the column"),
              std::string::npos);
    EXPECT_NE(ValidationError(TwoColumns("_cdc_x")).find("bookkeeping"), std::string::npos);
    EXPECT_NE(ValidationError(TwoColumns("ID")).find("collides"), std::string::npos);
}

}  // namespace
}  // namespace snowcdc::ddl
