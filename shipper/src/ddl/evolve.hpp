// Schema evolution. Every generation writes a manifest (the table's shape as generated); `ddl
// --evolve` compares the catalog with that manifest and emits the ALTERs that bring the
// warehouse tables up to date, followed by the regenerated merge procedure.
#pragma once

#include <string>

#include "ddl/table_model.hpp"
#include "ddl/table_sql.hpp"

namespace snowcdc::ddl {

std::string ManifestJson(const Table &table);
// Throws std::runtime_error when the text is not a manifest written by ManifestJson.
Table TableFromManifest(const std::string &json_text);

// ALTER statements for every table that holds the source columns, then the procedure.
// Matching is by attnum, so a rename is a rename; a dropped column stays in the warehouse
// (history keeps its values); a type change widens in place when the warehouse type allows it,
// otherwise the old column is renamed to <name>_before_type_change and a new one is added.
// Throws std::invalid_argument when the key changed (the tables must be rebuilt).
std::string EvolveSql(const Table &previous, const Table &current, const GenerateOptions &options);

}  // namespace snowcdc::ddl
