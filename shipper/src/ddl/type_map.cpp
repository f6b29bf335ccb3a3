// The type code table and its renderings (see type_map.hpp).
#include "ddl/type_map.hpp"

#include <sstream>
#include <string>
#include <vector>

namespace snowcdc::ddl {

namespace {

constexpr int kVarHdrSz = 4;              // typmods of numeric and character types carry VARHDRSZ
constexpr int kMaxNumberPrecision = 38;   // Snowflake NUMBER holds at most 38 digits
constexpr int kDefaultTimePrecision = 6;  // Postgres keeps microseconds

TargetType Kind(TargetKind kind) {
    return TargetType{kind, 0, 0, 0};
}
TargetType Number(int precision, int scale) {
    return TargetType{TargetKind::kNumber, precision, scale, 0};
}

TargetType MapNumeric(int typmod) {
    if (typmod < kVarHdrSz)
        return Kind(TargetKind::kVarchar);  // unconstrained: any number of digits, keep them all
    int precision = ((typmod - kVarHdrSz) >> 16) & 0xffff;
    int scale = (((typmod - kVarHdrSz) & 0x7ff) ^ 1024) - 1024;  // 11-bit signed since PG 15
    if (precision > kMaxNumberPrecision || scale < 0 || scale > precision)
        return Kind(TargetKind::kVarchar);
    return Number(precision, scale);
}

TargetType MapCharacter(int typmod) {
    TargetType t = Kind(TargetKind::kVarchar);
    if (typmod >= kVarHdrSz)
        t.length = typmod - kVarHdrSz;
    return t;
}

TargetType WithTimePrecision(TargetKind kind, int typmod) {
    TargetType t = Kind(kind);
    t.precision = typmod >= 0 ? typmod : kDefaultTimePrecision;
    return t;
}

// One rule of the code table. `names` lists the typnames it matches (space separated); a rule
// with no names matches by typtype/category (`match_kind`).
struct TypeRule {
    const char *names;
    char match_kind;  // 0: by name; 'A' arrays, 'c' composites, 'e' enums, '*' anything else
    const char *pg_doc;
    int example_typmod;
    TargetType (*map)(int typmod);
    const char *note;
};

const std::vector<TypeRule> &Rules() {
    static const std::vector<TypeRule> rules = {
        {"bool", 0, "boolean", -1, [](int) { return Kind(TargetKind::kBoolean); }, ""},
        {"int2", 0, "smallint", -1, [](int) { return Number(5, 0); }, ""},
        {"int4", 0, "integer", -1, [](int) { return Number(10, 0); }, ""},
        {"int8", 0, "bigint", -1, [](int) { return Number(19, 0); }, ""},
        {"oid", 0, "oid", -1, [](int) { return Number(10, 0); }, ""},
        {"float4 float8", 0, "real, double precision", -1,
         [](int) { return Kind(TargetKind::kFloat); },
         "`\"NaN\"`, `\"Infinity\"`, `\"-Infinity\"` strings become the FLOAT special values"},
        {"numeric", 0, "numeric(12,2): any numeric(p,s) with p <= 38, 0 <= s <= p -> NUMBER(p,s)",
         (12 << 16 | 2) + kVarHdrSz, MapNumeric,
         "exact; a NaN or Infinity value fails the merge with a cast error"},
        {"", 0, "numeric(60,2): p > 38, or s outside 0..p", (60 << 16 | 2) + kVarHdrSz, MapNumeric,
         "the exact digits as text"},
        {"", 0, "numeric (unconstrained)", -1, MapNumeric,
         "the exact digits as text (NUMBER(38,s) would have to pick a scale and round); run the "
         "plugin with `numeric-as-string` so no JSON parser rounds them"},
        {"money", 0, "money", -1, [](int) { return Number(38, 4); },
         "the exact amount; 4 fractional digits cover every lc_monetary"},
        {"text citext name xml", 0, "text, citext, name, xml", -1,
         [](int) { return Kind(TargetKind::kVarchar); }, ""},
        {"varchar bpchar", 0, "varchar(40), char(40): any n -> VARCHAR(n)", 40 + kVarHdrSz,
         MapCharacter, "length in characters, as in Postgres; char(n) keeps its padding"},
        {"uuid", 0, "uuid", -1,
         [](int) {
             TargetType t = Kind(TargetKind::kVarchar);
             t.length = 36;
             return t;
         },
         "canonical lower-case text"},
        {"inet cidr macaddr macaddr8 bit varbit", 0, "inet, cidr, macaddr, macaddr8, bit, varbit",
         -1, [](int) { return Kind(TargetKind::kVarchar); }, "Postgres text output"},
        {"json jsonb", 0, "json, jsonb", -1, [](int) { return Kind(TargetKind::kVariant); },
         "a JSON `null` value and SQL NULL both become SQL NULL"},
        {"bytea", 0, "bytea", -1, [](int) { return Kind(TargetKind::kBinary); },
         "records carry lower-case hex"},
        {"date", 0, "date", -1, [](int) { return Kind(TargetKind::kDate); },
         "`infinity` -> 9999-12-31, `-infinity` -> 0001-01-01"},
        {"timestamp", 0, "timestamp: timestamp(p) -> TIMESTAMP_NTZ(p)", 6,
         [](int typmod) { return WithTimePrecision(TargetKind::kTimestampNtz, typmod); },
         "`infinity` -> 9999-12-31 23:59:59, `-infinity` -> 0001-01-01 00:00:00"},
        {"timestamptz", 0, "timestamptz: timestamptz(p) -> TIMESTAMP_TZ(p)", 6,
         [](int typmod) { return WithTimePrecision(TargetKind::kTimestampTz, typmod); },
         "the instant, offset +00:00; infinities as for timestamp"},
        {"time", 0, "time: time(p) -> TIME(p)", 6,
         [](int typmod) { return WithTimePrecision(TargetKind::kTime, typmod); }, ""},
        {"timetz", 0, "timetz", -1, [](int) { return Kind(TargetKind::kVarchar); },
         "Snowflake has no TIME WITH TIME ZONE: `HH:MM:SS[.ffffff]+HH:MM` text"},
        {"interval", 0, "interval", -1, [](int) { return Kind(TargetKind::kVarchar); },
         "Snowflake has no INTERVAL column type: ISO 8601 duration text (`P1Y2M3DT4H5M6.5S`)"},
        {"", 'A', "arrays (any element type)", -1, [](int) { return Kind(TargetKind::kVariant); },
         "JSON arrays, nested for more dimensions"},
        {"", 'c', "composite types", -1, [](int) { return Kind(TargetKind::kVariant); },
         "JSON object of the attributes"},
        {"", 'e', "enums", -1, [](int) { return Kind(TargetKind::kVarchar); }, "the label"},
        {"", '*', "domains", -1, nullptr, "as their base type"},
        {"", '*', "anything else (ranges, geometric, tsvector, ...)", -1,
         [](int) { return Kind(TargetKind::kVarchar); }, "Postgres text output"},
    };
    return rules;
}

bool NameListed(const char *names, const std::string &name) {
    std::istringstream in(names);
    std::string word;
    while (in >> word) {
        if (word == name)
            return true;
    }
    return false;
}

std::string NumberArgs(const TargetType &t) {
    return "(" + std::to_string(t.precision) + "," + std::to_string(t.scale) + ")";
}

std::string SnowflakeType(const TargetType &t) {
    switch (t.kind) {
        case TargetKind::kBoolean:
            return "BOOLEAN";
        case TargetKind::kNumber:
            return "NUMBER" + NumberArgs(t);
        case TargetKind::kFloat:
            return "FLOAT";
        case TargetKind::kVarchar:
            return t.length > 0 ? "VARCHAR(" + std::to_string(t.length) + ")" : "VARCHAR";
        case TargetKind::kVariant:
            return "VARIANT";
        case TargetKind::kBinary:
            return "BINARY";
        case TargetKind::kDate:
            return "DATE";
        case TargetKind::kTimestampNtz:
            return "TIMESTAMP_NTZ(" + std::to_string(t.precision) + ")";
        case TargetKind::kTimestampTz:
            return "TIMESTAMP_TZ(" + std::to_string(t.precision) + ")";
        case TargetKind::kTime:
            return "TIME(" + std::to_string(t.precision) + ")";
    }
    return "VARCHAR";
}

std::string PostgresType(const TargetType &t) {
    switch (t.kind) {
        case TargetKind::kBoolean:
            return "boolean";
        case TargetKind::kNumber:
            return "numeric" + NumberArgs(t);
        case TargetKind::kFloat:
            return "double precision";
        case TargetKind::kVarchar:
            return t.length > 0 ? "varchar(" + std::to_string(t.length) + ")" : "text";
        case TargetKind::kVariant:
            return "jsonb";
        case TargetKind::kBinary:
            return "bytea";
        case TargetKind::kDate:
            return "date";
        case TargetKind::kTimestampNtz:
            return "timestamp(" + std::to_string(t.precision) + ")";
        case TargetKind::kTimestampTz:
            return "timestamptz(" + std::to_string(t.precision) + ")";
        case TargetKind::kTime:
            return "time(" + std::to_string(t.precision) + ")";
    }
    return "text";
}

// Postgres can store infinite dates and timestamps, Snowflake cannot: both dialects map them
// onto the same sentinels so the proof and the warehouse agree.
struct Sentinels {
    const char *plus;
    const char *minus;
};

Sentinels SentinelsFor(TargetKind kind) {
    switch (kind) {
        case TargetKind::kDate:
            return {"9999-12-31", "0001-01-01"};
        case TargetKind::kTimestampNtz:
            return {"9999-12-31T23:59:59", "0001-01-01T00:00:00"};
        case TargetKind::kTimestampTz:
            return {"9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"};
        default:
            return {nullptr, nullptr};
    }
}

std::string WithSentinels(const std::string &text, TargetKind kind) {
    Sentinels s = SentinelsFor(kind);
    return "CASE " + text + " WHEN 'infinity' THEN '" + s.plus + "' WHEN '-infinity' THEN '" +
           s.minus + "' ELSE " + text + " END";
}

std::string DoubleQuote(const std::string &name, char quote) {
    std::string out(1, quote);
    for (char c : name) {
        out += c;
        if (c == quote)
            out += c;
    }
    return out + quote;
}

std::string SnowflakeExtract(const TargetType &t, const std::string &json,
                             const std::string &column) {
    const std::string v = json + ":" + DoubleQuote(column, '"');
    const std::string text = v + "::VARCHAR";
    switch (t.kind) {
        case TargetKind::kBoolean:
            return v + "::BOOLEAN";
        case TargetKind::kNumber:
            return v + "::NUMBER" + NumberArgs(t);
        case TargetKind::kFloat:
            return "IFF(IS_VARCHAR(" + v + "), TO_DOUBLE(REPLACE(" + text +
                   ", 'Infinity', 'inf')), " + v + "::FLOAT)";
        case TargetKind::kVarchar:
            return text;
        case TargetKind::kVariant:
            return "STRIP_NULL_VALUE(" + v + ")";
        case TargetKind::kBinary:
            return "TO_BINARY(" + text + ", 'HEX')";
        case TargetKind::kDate:
            return "TO_DATE(" + WithSentinels(text, t.kind) + ", 'AUTO')";
        case TargetKind::kTimestampNtz:
            return "TO_TIMESTAMP_NTZ(" + WithSentinels(text, t.kind) + ", 'AUTO')";
        case TargetKind::kTimestampTz:
            return "TO_TIMESTAMP_TZ(" + WithSentinels(text, t.kind) + ", 'AUTO')";
        case TargetKind::kTime:
            return "TO_TIME(" + text + ", 'AUTO')";
    }
    return text;
}

std::string PostgresExtract(const TargetType &t, const std::string &json,
                            const std::string &column) {
    const std::string key = DoubleQuote(column, '\'');
    const std::string text = "(" + json + " ->> " + key + ")";
    switch (t.kind) {
        case TargetKind::kVarchar:
            return t.length > 0 ? text + "::" + PostgresType(t) : text;
        case TargetKind::kVariant:
            return "NULLIF(" + json + " -> " + key + ", 'null'::jsonb)";
        case TargetKind::kBinary:
            return "decode(" + text + ", 'hex')";
        case TargetKind::kDate:
        case TargetKind::kTimestampNtz:
        case TargetKind::kTimestampTz:
            return "(" + WithSentinels(text, t.kind) + ")::" + PostgresType(t);
        case TargetKind::kNumber:
            // Snowflake's NUMBER has no NaN or infinities and rejects them; Postgres numeric(p,s)
            // would store NaN, so the twin fails on them the same way.
            return "(CASE WHEN " + text +
                   " IN ('NaN', 'Infinity', '-Infinity') THEN 'numeric ' || " + text +
                   " || ' cannot be converted to NUMBER' ELSE " + text +
                   " END)::" + PostgresType(t);
        default:
            return text + "::" + PostgresType(t);
    }
}

std::string EscapeCell(const std::string &s) {
    std::string out;
    for (char c : s)
        out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
}

}  // namespace

bool operator==(const TargetType &a, const TargetType &b) {
    return a.kind == b.kind && a.precision == b.precision && a.scale == b.scale &&
           a.length == b.length;
}

TargetType MapPgType(const PgType &type) {
    for (const TypeRule &rule : Rules()) {
        if (rule.map == nullptr || rule.names[0] == '\0')
            continue;
        if (NameListed(rule.names, type.name))
            return rule.map(type.typmod);
    }
    if (type.category == 'A')
        return Kind(TargetKind::kVariant);
    if (type.typtype == 'c')
        return Kind(TargetKind::kVariant);
    return Kind(TargetKind::kVarchar);  // enums and everything else: the text output
}

std::string RenderType(const TargetType &type, Dialect dialect) {
    return dialect == Dialect::kSnowflake ? SnowflakeType(type) : PostgresType(type);
}

std::string ExtractExpr(const TargetType &type, Dialect dialect, const std::string &json,
                        const std::string &column) {
    return dialect == Dialect::kSnowflake ? SnowflakeExtract(type, json, column)
                                          : PostgresExtract(type, json, column);
}

std::string TypeMapMarkdown() {
    std::string out =
        "| Postgres type | Snowflake type | Postgres-dialect type (proof) | Notes |\n"
        "|---|---|---|---|\n";
    for (const TypeRule &rule : Rules()) {
        std::string sf = "as the base type";
        std::string pg = sf;
        if (rule.map != nullptr) {
            TargetType t = rule.map(rule.example_typmod);
            sf = SnowflakeType(t);
            pg = PostgresType(t);
        }
        out += "| " + EscapeCell(rule.pg_doc) + " | " + sf + " | " + pg + " | " +
               EscapeCell(rule.note) + " |\n";
    }
    return out;
}

bool CanWidenInPlace(const TargetType &from, const TargetType &to) {
    if (from.kind != to.kind)
        return false;
    if (from.kind == TargetKind::kVarchar)
        return to.length == 0 || (from.length != 0 && to.length >= from.length);
    if (from.kind == TargetKind::kNumber)
        return from.scale == to.scale && to.precision >= from.precision;
    return from == to;
}

}  // namespace snowcdc::ddl
