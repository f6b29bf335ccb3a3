// The shipper core's settings rows (see core_settings.hpp).
#include "core_settings.hpp"

namespace snowcdc {

std::vector<SettingSpec> CoreSettingSpecs() {
    using T = SettingType;
    return {
        {"conninfo",
         T::kString,
         "",
         "libpq connection string or URI of the source database; PG* variables fill in the rest",
         false,
         "SNOWCDC_CONNINFO",
         {},
         true},
        {"slot", T::kString, "snowcdc", "Logical replication slot to stream from", false,
         "SNOWCDC_SLOT"},
        {"create_slot", T::kBool, "true",
         "Create the slot with the snowcdc plugin when it does not exist", false,
         "SNOWCDC_CREATE_SLOT"},
        {"plugin_options", T::kString, "",
         "Extra output plugin options, e.g. before=on,include-tables='public.a,public.b' (a list "
         "value in single quotes); transactions and messages are the shipper's",
         false, "SNOWCDC_PLUGIN_OPTIONS"},
        {"snapshot",
         T::kString,
         "initial",
         "initial: when the shipper creates the slot, first copy the selected tables' rows as r "
         "records (sinks ndjson-dir, and snowpipe with state_dir); never: only stream changes",
         false,
         "SNOWCDC_SNAPSHOT",
         {"never", "initial"}},
        {"snapshot_tables", T::kString, "",
         "Tables of the initial snapshot: comma-separated schema.table patterns, * = any "
         "characters (a partitioned table stands for its partitions); empty = the tables the "
         "plugin's include-tables/exclude-tables pass, less those without a key (no primary key "
         "or replica identity NOTHING: skipped with a warning; named here, they are read)",
         false, "SNOWCDC_SNAPSHOT_TABLES"},
        {"snapshot_parallelism", T::kInt, "2", "Connections reading the snapshot at once", false,
         "SNOWCDC_SNAPSHOT_PARALLELISM"},
        {"snapshot_range_blocks", T::kInt, "16384",
         "Heap blocks (8 kB) per snapshot range: the unit of parallelism and of resume", false,
         "SNOWCDC_SNAPSHOT_RANGE_BLOCKS"},
        {"snapshot_commit_bytes", T::kBytes, "8MB",
         "A snapshot range makes its records durable after this many bytes: a resume re-reads "
         "at most this much per range",
         false, "SNOWCDC_SNAPSHOT_COMMIT_BYTES"},
        {"state_dir", T::kString, "",
         "Directory of the shipper's local state: the snowpipe sink keeps the snapshot plan "
         "here (systemd: StateDirectory=)",
         false, "SNOWCDC_STATE_DIR"},
        {"resnapshot_chunk_rows", T::kInt, "1024",
         "Rows per chunk of a re-snapshot (snowcdc-shipper resnapshot): read between two "
         "watermarks, the unit of resume",
         false, "SNOWCDC_RESNAPSHOT_CHUNK_ROWS"},
        {"sink",
         T::kString,
         "ndjson-stdout",
         "Where records go",
         false,
         "SNOWCDC_SINK",
         {"ndjson-stdout", "ndjson-dir", "snowpipe"}},
        {"output_dir", T::kString, "", "Directory of the ndjson-dir sink", false,
         "SNOWCDC_OUTPUT_DIR"},
        {"file_rotate_bytes", T::kBytes, "64MB", "ndjson-dir: start a new file past this size",
         true, "SNOWCDC_FILE_ROTATE_BYTES"},
        {"file_rotate_interval", T::kDuration, "5m",
         "ndjson-dir: start a new file when the current one is this old", true,
         "SNOWCDC_FILE_ROTATE_INTERVAL"},
        {"batch_max_bytes", T::kBytes, "1MB", "Hand a batch to the sink at this size", true,
         "SNOWCDC_BATCH_MAX_BYTES"},
        {"batch_max_delay", T::kDuration, "50ms",
         "Hand a batch to the sink when its first record is this old", true,
         "SNOWCDC_BATCH_MAX_DELAY"},
        {"max_in_flight_bytes", T::kBytes, "16MB",
         "Stop reading from Postgres while this much data is buffered or not yet durable (the "
         "shipper's memory is about 32MB plus this)",
         true, "SNOWCDC_MAX_IN_FLIGHT_BYTES"},
        {"status_interval", T::kDuration, "1s",
         "Send the confirmed position to Postgres at least this often", true,
         "SNOWCDC_STATUS_INTERVAL"},
        {"heartbeat_interval", T::kDuration, "10s",
         "Call snowcdc.heartbeat() after this long without data so the slot advances; 0 = never",
         true, "SNOWCDC_HEARTBEAT_INTERVAL"},
        {"reconnect_initial_delay", T::kDuration, "100ms",
         "Ceiling of the first reconnect delay (capped exponential backoff, full jitter)", true,
         "SNOWCDC_RECONNECT_INITIAL_DELAY"},
        {"reconnect_max_delay", T::kDuration, "30s", "Longest reconnect delay", true,
         "SNOWCDC_RECONNECT_MAX_DELAY"},
        {"drain_timeout", T::kDuration, "30s",
         "On SIGTERM/SIGINT, wait at most this long for in-flight data to become durable", true,
         "SNOWCDC_DRAIN_TIMEOUT"},
        {"metrics_port", T::kInt, "0", "Port of /metrics and /healthz on metrics_address; 0 = off",
         false, "SNOWCDC_METRICS_PORT"},
        {"metrics_address", T::kString, "127.0.0.1", "Address the metrics endpoint listens on",
         false, "SNOWCDC_METRICS_ADDRESS"},
        {"log_level",
         T::kString,
         "info",
         "Least severe log level written to stderr",
         true,
         "SNOWCDC_LOG_LEVEL",
         {"debug", "info", "warning", "error"}},
    };
}

}  // namespace snowcdc
