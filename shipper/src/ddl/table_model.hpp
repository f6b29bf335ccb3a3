// The shape of one source table as the generator needs it: columns with their Postgres types
// and Snowflake mappings, and the key that identifies a row in the change records.
#pragma once

#include <string>
#include <vector>

#include "ddl/type_map.hpp"

namespace snowcdc::ddl {

struct Column {
    int attnum = 0;        // pg_attribute.attnum: survives renames, so evolution can track it
    std::string name;      // as stored in the catalog (the JSON key in `after` and `key`)
    std::string pg_type;   // format_type() text, for comments and manifests
    TargetType target;     // what the column becomes in the warehouse
    bool varlena = false;  // attlen = -1: the value can be TOASTed and left out of `after`
    bool is_key = false;   // part of the replica identity used to merge
};

struct Table {
    std::string schema;            // Postgres schema, as stored
    std::string name;              // Postgres table name, as stored
    std::vector<Column> columns;   // in attnum order, dropped columns skipped
    std::vector<std::string> key;  // key column names, in index order
};

}  // namespace snowcdc::ddl
