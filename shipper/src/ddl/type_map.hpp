// The one table that maps Postgres column types onto warehouse types. The generator, the
// Postgres-dialect proof and the documentation (sql/README.md) all read this table, so the type
// reference and the SQL can never disagree.
#pragma once

#include <string>

namespace snowcdc::ddl {

enum class Dialect { kSnowflake, kPostgres };

// The warehouse-side kinds of value. Each renders as a Snowflake type and as the Postgres type
// that stands in for it in the executable proof.
enum class TargetKind {
    kBoolean,
    kNumber,
    kFloat,
    kVarchar,
    kVariant,
    kBinary,
    kDate,
    kTimestampNtz,
    kTimestampTz,
    kTime,
};

struct TargetType {
    TargetKind kind = TargetKind::kVarchar;
    int precision = 0;  // NUMBER precision, or fractional-second digits for times
    int scale = 0;      // NUMBER scale
    int length = 0;     // VARCHAR length; 0 means unbounded
};

bool operator==(const TargetType &a, const TargetType &b);
inline bool operator!=(const TargetType &a, const TargetType &b) {
    return !(a == b);
}

// A Postgres type after domains are resolved to their base type.
struct PgType {
    std::string name;     // pg_type.typname, e.g. "int4", "_text", "numeric"
    char typtype = 'b';   // pg_type.typtype: b base, c composite, e enum, r range, m multirange
    char category = 'U';  // pg_type.typcategory: 'A' for arrays
    int typmod = -1;      // pg_attribute.atttypmod (or the domain's typtypmod)
};

TargetType MapPgType(const PgType &type);

// The column type as written in a CREATE TABLE of the given dialect.
std::string RenderType(const TargetType &type, Dialect dialect);

// An expression reading column `column` out of the JSON object `json` (a VARIANT in Snowflake,
// jsonb in Postgres) and converting it to the column's warehouse type.
std::string ExtractExpr(const TargetType &type, Dialect dialect, const std::string &json,
                        const std::string &column);

// The type reference as a markdown table, one row per rule of the code table.
std::string TypeMapMarkdown();

// Whether `to` can hold every value of `from` so that an existing column can be altered in
// place (Snowflake allows widening VARCHAR and raising NUMBER precision at the same scale).
bool CanWidenInPlace(const TargetType &from, const TargetType &to);

}  // namespace snowcdc::ddl
