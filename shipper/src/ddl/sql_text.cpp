// Identifier and literal spelling (see sql_text.hpp).
#include "ddl/sql_text.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace snowcdc::ddl {

namespace {

// Reserved in Snowflake or Postgres: such names are always quoted.
const std::set<std::string> &ReservedWords() {
    static const std::set<std::string> words = {
        "account",
        "all",
        "alter",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "between",
        "binary",
        "both",
        "by",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "concurrently",
        "connect",
        "connection",
        "constraint",
        "create",
        "cross",
        "current",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "database",
        "default",
        "deferrable",
        "delete",
        "desc",
        "distinct",
        "do",
        "drop",
        "else",
        "end",
        "except",
        "exists",
        "false",
        "fetch",
        "following",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "grant",
        "group",
        "gscluster",
        "having",
        "ilike",
        "in",
        "increment",
        "initially",
        "inner",
        "insert",
        "intersect",
        "into",
        "is",
        "isnull",
        "issue",
        "join",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "minus",
        "natural",
        "not",
        "notnull",
        "null",
        "of",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "organization",
        "outer",
        "overlaps",
        "placing",
        "primary",
        "qualify",
        "references",
        "regexp",
        "returning",
        "revoke",
        "right",
        "rlike",
        "row",
        "rows",
        "sample",
        "schema",
        "select",
        "session_user",
        "set",
        "similar",
        "some",
        "start",
        "symmetric",
        "table",
        "tablesample",
        "then",
        "to",
        "trailing",
        "trigger",
        "true",
        "try_cast",
        "union",
        "unique",
        "update",
        "user",
        "using",
        "values",
        "variadic",
        "verbose",
        "view",
        "when",
        "whenever",
        "where",
        "window",
        "with",
    };
    return words;
}

bool IsPlainLowerName(const std::string &name) {
    if (name.empty() || !(std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_'))
        return false;
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (!(std::islower(u) || std::isdigit(u) || c == '_'))
            return false;
    }
    return ReservedWords().count(name) == 0;
}

std::string Upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

std::string Quoted(const std::string &name) {
    std::string out = "\"";
    for (char c : name) {
        out += c;
        if (c == '"')
            out += c;
    }
    return out + "\"";
}

}  // namespace

std::string ObjectIdent(const std::string &name, Dialect dialect) {
    bool plain = !name.empty();
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (!(std::isalnum(u) || c == '_'))
            plain = false;
    }
    if (plain && std::isdigit(static_cast<unsigned char>(name[0])))
        plain = false;
    if (!plain)
        return Quoted(name);
    return dialect == Dialect::kSnowflake ? Upper(name) : [&] {
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return lower;
    }();
}

std::string Ident(const std::string &name, Dialect dialect) {
    if (!IsPlainLowerName(name))
        return Quoted(name);
    return dialect == Dialect::kSnowflake ? Upper(name) : name;
}

std::string ResolvedName(const std::string &name, Dialect dialect) {
    if (!IsPlainLowerName(name))
        return name;
    return dialect == Dialect::kSnowflake ? Upper(name) : name;
}

std::string Literal(const std::string &text, Dialect dialect) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'')
            out += "''";
        else if (c == '\\' && dialect == Dialect::kSnowflake)
            out += "\\\\";
        else
            out += c;
    }
    return out + "'";
}

std::string Qualified(const ObjectNames &names, const std::string &schema,
                      const std::string &object, Dialect dialect) {
    std::string qualified = ObjectIdent(schema, dialect) + "." + Ident(object, dialect);
    if (dialect == Dialect::kSnowflake)
        qualified = ObjectIdent(names.database, dialect) + "." + qualified;
    return qualified;
}

std::string Join(const std::vector<std::string> &parts, const std::string &separator) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i > 0)
            out += separator;
        out += parts[i];
    }
    return out;
}

}  // namespace snowcdc::ddl
