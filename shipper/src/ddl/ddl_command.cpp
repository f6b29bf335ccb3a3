// The `ddl` subcommand: reads the chosen tables from the Postgres catalog and writes their
// warehouse objects (and, with --evolve, the ALTERs since the last generation).
#include "ddl/ddl_command.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ddl/catalog.hpp"
#include "ddl/evolve.hpp"
#include "ddl/table_sql.hpp"
#include "ddl/type_map.hpp"

namespace snowcdc::ddl {

namespace {

struct DdlSettings {
    std::string conninfo;
    std::vector<std::string> tables;
    std::string dialect = "snowflake";
    std::string delete_mode = "hard";
    bool dynamic_table_metrics = false;
    std::string output_dir;
    bool evolve = false;
    bool type_map = false;
    ObjectNames names;
};

std::string ReadFile(const std::filesystem::path &path) {
    std::ifstream in(path);
    if (!in)
        throw std::runtime_error("cannot read " + path.string());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void WriteFile(const std::filesystem::path &path, const std::string &text) {
    std::ofstream out(path);
    out << text;
    if (!out)
        throw std::runtime_error("cannot write " + path.string());
}

GenerateOptions ToOptions(const DdlSettings &s) {
    GenerateOptions o;
    o.dialect = s.dialect == "postgres" ? Dialect::kPostgres : Dialect::kSnowflake;
    o.delete_mode = s.delete_mode == "soft" ? DeleteMode::kSoft : DeleteMode::kHard;
    o.dynamic_table_metrics = s.dynamic_table_metrics;
    o.names = s.names;
    return o;
}

// Writes <schema>.<table>.sql and its manifest; with --evolve also <schema>.<table>.evolve.sql
// from the previous manifest.
void WriteTable(const Table &table, const GenerateOptions &options, const DdlSettings &s) {
    const std::filesystem::path dir(s.output_dir);
    const std::string stem = table.schema + "." + table.name;
    const std::filesystem::path manifest = dir / (stem + ".manifest.json");
    if (s.evolve) {
        if (!std::filesystem::exists(manifest)) {
            throw std::runtime_error("no manifest " + manifest.string() +
                                     " to evolve from; generate the table once without --evolve");
        }
        Table previous = TableFromManifest(ReadFile(manifest));
        WriteFile(dir / (stem + ".evolve.sql"), EvolveSql(previous, table, options));
        std::cerr << "ddl: wrote " << (dir / (stem + ".evolve.sql")).string() << "\n";
    }
    WriteFile(dir / (stem + ".sql"), GenerateTableSql(table, options));
    WriteFile(manifest, ManifestJson(table));
    std::cerr << "ddl: wrote " << (dir / (stem + ".sql")).string() << "\n";
}

void Run(const DdlSettings &s) {
    if (s.type_map) {
        std::cout << TypeMapMarkdown();
        return;
    }
    if (s.tables.empty())
        throw std::runtime_error("name at least one table with --table schema.name");
    if (s.evolve && s.output_dir.empty())
        throw std::runtime_error("--evolve needs --output-dir, where the manifests are kept");
    const GenerateOptions options = ToOptions(s);
    CatalogConnection conn(s.conninfo);
    if (!s.output_dir.empty())
        std::filesystem::create_directories(s.output_dir);
    for (const std::string &pattern : s.tables) {
        for (const Table &table : ReadTables(conn, pattern)) {
            if (s.output_dir.empty())
                std::cout << GenerateTableSql(table, options) << "\n";
            else
                WriteTable(table, options, s);
        }
    }
}

}  // namespace

void AddDdlCommand(CLI::App &app) {
    auto settings = std::make_shared<DdlSettings>();
    auto *cmd = app.add_subcommand(
        "ddl", "Generate the Snowflake objects (or their Postgres-dialect twins) for tables");
    cmd->add_option("--conninfo", settings->conninfo,
                    "libpq connection string of the source database (default: PG* variables)");
    cmd->add_option("--table", settings->tables,
                    "schema.table to generate; repeatable; * is a wildcard (sales.*)");
    cmd->add_option("--dialect", settings->dialect, "snowflake or postgres (for tests)")
        ->check(CLI::IsMember({"snowflake", "postgres"}))
        ->capture_default_str();
    cmd->add_option("--delete-mode", settings->delete_mode,
                    "hard: deleted rows leave the current-state table; soft: they stay with "
                    "_cdc_is_deleted = true")
        ->check(CLI::IsMember({"hard", "soft"}))
        ->capture_default_str();
    cmd->add_flag("--dynamic-table-metrics", settings->dynamic_table_metrics,
                  "also create a Dynamic Table of hourly change metrics per table");
    cmd->add_option("--output-dir", settings->output_dir,
                    "write <schema>.<table>.sql and a manifest per table here (default: stdout)");
    cmd->add_flag("--evolve", settings->evolve,
                  "compare the catalog with the manifests in --output-dir and write the ALTERs "
                  "to <schema>.<table>.evolve.sql");
    cmd->add_flag("--type-map", settings->type_map,
                  "print the Postgres -> Snowflake type reference (markdown) and exit");
    cmd->add_option("--database", settings->names.database, "Snowflake database")
        ->capture_default_str();
    cmd->add_option("--landing-schema", settings->names.landing_schema,
                    "schema of the landing table")
        ->capture_default_str();
    cmd->add_option("--staging-schema", settings->names.staging_schema,
                    "schema of pending records, work tables, procedures and tasks")
        ->capture_default_str();
    cmd->add_option("--analytics-schema", settings->names.analytics_schema,
                    "schema of the current-state and history tables")
        ->capture_default_str();
    cmd->add_option("--monitoring-schema", settings->names.monitoring_schema,
                    "schema of the data-quality views")
        ->capture_default_str();
    cmd->add_option("--warehouse", settings->names.warehouse, "warehouse of the tasks")
        ->capture_default_str();
    cmd->callback([settings] {
        try {
            Run(*settings);
        } catch (const std::exception &e) {
            std::cerr << "snowcdc-shipper ddl: " << e.what() << "\n";
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace snowcdc::ddl
