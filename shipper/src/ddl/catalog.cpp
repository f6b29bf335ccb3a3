// Catalog reader (see catalog.hpp).
#include "ddl/catalog.hpp"

#include <libpq-fe.h>

#include <memory>
#include <stdexcept>
#include <utility>

namespace snowcdc::ddl {

namespace {

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

// "sales_*" -> "sales\_%" for LIKE.
std::string LikePattern(const std::string &glob) {
    std::string out;
    for (char c : glob) {
        if (c == '*')
            out += '%';
        else if (c == '%' || c == '_' || c == '\\')
            out += std::string("\\") + c;
        else
            out += c;
    }
    return out;
}

constexpr const char *kTablesSql = R"sql(
SELECT c.oid::text, n.nspname, c.relname, c.relreplident::text, c.relkind::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname LIKE $1 AND c.relname LIKE $2
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY n.nspname, c.relname)sql";

// Domains are resolved to their base type (and its typmod) before mapping.
constexpr const char *kColumnsSql = R"sql(
WITH RECURSIVE cols AS (
    SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS pg_type,
           a.attlen, a.atttypid AS typid, a.atttypmod AS typmod, 0 AS depth
    FROM pg_attribute a
    WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
    SELECT cols.attnum, cols.attname, cols.pg_type, cols.attlen, t.typbasetype,
           CASE WHEN t.typtypmod <> -1 THEN t.typtypmod ELSE cols.typmod END, cols.depth + 1
    FROM cols JOIN pg_type t ON t.oid = cols.typid
    WHERE t.typtype = 'd'
)
SELECT c.attnum::text, c.attname, c.pg_type, c.attlen::text, t.typname, t.typtype::text,
       t.typcategory::text, c.typmod::text
FROM cols c JOIN pg_type t ON t.oid = c.typid
WHERE t.typtype <> 'd'
ORDER BY c.attnum)sql";

// The columns of the replica identity index (relreplident 'i') or of the primary key
// (relreplident 'd', and 'f' where the primary key still identifies a row), in index order.
constexpr const char *kKeySql = R"sql(
SELECT a.attname
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1::oid AND (CASE $2 WHEN 'i' THEN i.indisreplident ELSE i.indisprimary END)
ORDER BY k.ord)sql";

Table ReadOneTable(const CatalogConnection &conn, const std::vector<std::string> &row) {
    Table table;
    table.schema = row[1];
    table.name = row[2];
    const std::string &oid = row[0];
    const std::string &identity = row[3];
    if (identity != "n") {
        for (const auto &k : conn.Query(kKeySql, {oid, identity}))
            table.key.push_back(k[0]);
    }
    for (const auto &c : conn.Query(kColumnsSql, {oid})) {
        Column col;
        col.attnum = std::stoi(c[0]);
        col.name = c[1];
        col.pg_type = c[2];
        col.varlena = c[3] == "-1";
        PgType type{c[4], c[5].empty() ? 'b' : c[5][0], c[6].empty() ? 'U' : c[6][0],
                    std::stoi(c[7])};
        col.target = MapPgType(type);
        for (const std::string &k : table.key)
            col.is_key = col.is_key || k == col.name;
        table.columns.push_back(col);
    }
    return table;
}

}  // namespace

CatalogConnection::CatalogConnection(const std::string &conninfo)
    : conn_(PQconnectdb(conninfo.c_str())) {
    if (conn_ == nullptr)
        throw std::runtime_error("cannot allocate a libpq connection");
    if (PQstatus(conn_) != CONNECTION_OK) {
        std::string message = PQerrorMessage(conn_);
        PQfinish(conn_);
        conn_ = nullptr;
        throw std::runtime_error("cannot connect to Postgres (" + message +
                                 "); pass --conninfo or set PGHOST/PGPORT/PGUSER/PGDATABASE");
    }
}

CatalogConnection::~CatalogConnection() {
    if (conn_ != nullptr)
        PQfinish(conn_);
}

CatalogConnection::CatalogConnection(CatalogConnection &&other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)) {}

CatalogConnection &CatalogConnection::operator=(CatalogConnection &&other) noexcept {
    if (this != &other) {
        if (conn_ != nullptr)
            PQfinish(conn_);
        conn_ = std::exchange(other.conn_, nullptr);
    }
    return *this;
}

std::vector<std::vector<std::string>> CatalogConnection::Query(
    const std::string &sql, const std::vector<std::string> &params) const {
    std::vector<const char *> values;
    for (const std::string &p : params)
        values.push_back(p.c_str());
    ResultPtr res(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0),
                  &PQclear);
    if (PQresultStatus(res.get()) != PGRES_TUPLES_OK)
        throw std::runtime_error("catalog query failed: " +
                                 std::string(PQresultErrorMessage(res.get())));
    std::vector<std::vector<std::string>> rows;
    for (int r = 0; r < PQntuples(res.get()); ++r) {
        std::vector<std::string> row;
        for (int c = 0; c < PQnfields(res.get()); ++c)
            row.emplace_back(PQgetvalue(res.get(), r, c));
        rows.push_back(std::move(row));
    }
    return rows;
}

std::vector<Table> ReadTables(const CatalogConnection &conn, const std::string &pattern) {
    size_t dot = pattern.find('.');
    std::string schema = dot == std::string::npos ? "public" : pattern.substr(0, dot);
    std::string name = dot == std::string::npos ? pattern : pattern.substr(dot + 1);
    std::vector<Table> tables;
    std::string partitioned;
    for (const auto &row : conn.Query(kTablesSql, {LikePattern(schema), LikePattern(name)})) {
        // Changes are decoded per partition, under the partition's name: a partitioned
        // table never appears in a record.
        if (row[4] == "p")
            partitioned = row[1] + "." + row[2];
        else
            tables.push_back(ReadOneTable(conn, row));
    }
    if (tables.empty() && !partitioned.empty()) {
        throw std::runtime_error(partitioned +
                                 " is partitioned and its changes arrive per partition; generate "
                                 "its partitions (SELECT relid FROM pg_partition_tree('" +
                                 partitioned + "'))");
    }
    if (tables.empty()) {
        throw std::runtime_error("no table matches \"" + pattern +
                                 "\"; write schema.table (either part may use *)");
    }
    return tables;
}

}  // namespace snowcdc::ddl
