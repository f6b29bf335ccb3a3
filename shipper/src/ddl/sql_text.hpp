// Spelling of identifiers, literals and object names in each dialect, so that every generated
// statement names things the same way.
#pragma once

#include <string>
#include <vector>

#include "ddl/type_map.hpp"

namespace snowcdc::ddl {

// Where the generated objects live. Defaults match sql/snowflake/setup.sql.
struct ObjectNames {
    std::string database = "SNOWCDC";
    std::string landing_schema = "LANDING";
    std::string staging_schema = "STAGING";
    std::string analytics_schema = "ANALYTICS";
    std::string monitoring_schema = "MONITORING";
    std::string warehouse = "SNOWCDC_WH";
    std::string root_task = "SNOWCDC_ROUTE";
};

// An identifier as the dialect wants it written: a plain lower-case Postgres name stays
// unquoted (so Snowflake folds it to upper case and users need no quotes); anything else is
// quoted with its exact spelling.
std::string Ident(const std::string &name, Dialect dialect);

// The name a lower-case identifier resolves to in the dialect (upper case in Snowflake); used to
// detect two source names that would collide in the warehouse.
std::string ResolvedName(const std::string &name, Dialect dialect);

// A name given on the command line (database, schema, warehouse): as typed when it is a plain
// identifier (SNOWCDC, staging; folded to the dialect's case), quoted otherwise.
std::string ObjectIdent(const std::string &name, Dialect dialect);

// A string literal (Snowflake treats backslash as an escape character, Postgres does not).
std::string Literal(const std::string &text, Dialect dialect);

// `schema.object` in Postgres, `database.schema.object` in Snowflake.
std::string Qualified(const ObjectNames &names, const std::string &schema,
                      const std::string &object, Dialect dialect);

std::string Join(const std::vector<std::string> &parts, const std::string &separator);

}  // namespace snowcdc::ddl
