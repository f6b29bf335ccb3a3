// Reads the shape of the chosen tables from the Postgres catalog (pg_class, pg_attribute,
// pg_type, pg_index and the replica identity) over libpq.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ddl/table_model.hpp"

struct pg_conn;

namespace snowcdc::ddl {

// One libpq connection; the only owner of its PGconn.
class CatalogConnection {
  public:
    // conninfo may be empty: libpq then reads the PG* environment variables.
    explicit CatalogConnection(const std::string &conninfo);
    ~CatalogConnection();
    CatalogConnection(const CatalogConnection &) = delete;
    CatalogConnection &operator=(const CatalogConnection &) = delete;
    CatalogConnection(CatalogConnection &&other) noexcept;
    CatalogConnection &operator=(CatalogConnection &&other) noexcept;

    // Runs a parameterised query; rows of text values (NULL as empty). Throws on error.
    std::vector<std::vector<std::string>> Query(const std::string &sql,
                                                const std::vector<std::string> &params) const;

  private:
    pg_conn *conn_ = nullptr;
};

// Tables matching `pattern`: "schema.table" where either part may use * as a wildcard; a pattern
// without a dot means schema public. Throws std::runtime_error when nothing matches.
std::vector<Table> ReadTables(const CatalogConnection &conn, const std::string &pattern);

}  // namespace snowcdc::ddl
