// The per-table generator: from one source table's shape, the warehouse objects that hold its
// current state and SCD2 history, and the merge procedure that applies change records to them.
// One template serves both dialects: only types, JSON access, casts and the procedure wrapper
// differ, so the Postgres dialect executed by the scenario suite proves the Snowflake text.
#pragma once

#include <string>

#include "ddl/sql_text.hpp"
#include "ddl/table_model.hpp"

namespace snowcdc::ddl {

enum class DeleteMode { kHard, kSoft };

struct GenerateOptions {
    Dialect dialect = Dialect::kSnowflake;
    DeleteMode delete_mode = DeleteMode::kHard;
    bool dynamic_table_metrics = false;  // Snowflake only: a Dynamic Table of change metrics
    std::string metrics_target_lag = "5 minutes";
    ObjectNames names;
};

// Fully qualified names of the objects generated for one table.
struct TableObjects {
    std::string current;    // current-state table (analytics)
    std::string history;    // SCD2 history table (analytics)
    std::string batch;      // work table: the pending records being merged (staging)
    std::string events;     // work table: the batch as per-key row images (staging)
    std::string applied;    // last applied (lsn, seq) of every key ever seen (staging)
    std::string procedure;  // the merge procedure (staging)
    std::string task;       // the task that calls it, AFTER the root task (staging)
    std::string metrics;    // optional Dynamic Table of metrics (analytics)
    std::string quality;    // data-quality view (monitoring)
};

TableObjects ObjectsFor(const Table &table, const GenerateOptions &options);

// Throws std::invalid_argument naming the problem and the fix when the table cannot be merged
// (no key, a column name that collides with snowcdc's own columns, ...).
void ValidateTable(const Table &table, Dialect dialect);

// Everything for one table: tables, work tables, procedure, and (Snowflake) task and metrics.
std::string GenerateTableSql(const Table &table, const GenerateOptions &options);

// CREATE OR REPLACE of the merge procedure alone (schema evolution regenerates it).
std::string MergeProcedureSql(const Table &table, const GenerateOptions &options);

// Column definitions of the landing table, shared by landing, pending and batch tables.
std::string LandingColumnsSql(Dialect dialect);

}  // namespace snowcdc::ddl
