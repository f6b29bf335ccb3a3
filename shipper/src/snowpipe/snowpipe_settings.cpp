// Settings rows of the Snowpipe Streaming sink and the sink built from them.
#include <map>
#include <stdexcept>

#include "snowpipe/snowpipe_sink.hpp"

namespace snowcdc::snowpipe {

std::vector<SettingSpec> SettingSpecs() {
    using T = SettingType;
    return {
        {"snowflake_account", T::kString, "",
         "Account identifier (myorg-acct1, or a locator such as xy12345.us-east-2.aws)", false,
         "SNOWFLAKE_ACCOUNT"},
        {"snowflake_user", T::kString, "", "User that owns the key pair", false, "SNOWFLAKE_USER"},
        {"snowflake_private_key_file", T::kString, "",
         "PEM PKCS#8 RSA private key of the user (ALTER USER ... SET RSA_PUBLIC_KEY)", false,
         "SNOWFLAKE_PRIVATE_KEY_FILE"},
        {"snowflake_private_key_passphrase",
         T::kString,
         "",
         "Passphrase of an encrypted private key",
         false,
         "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
         {},
         true},
        {"snowflake_role", T::kString, "",
         "Role for the scoped token (needs OPERATE on the pipe); empty = the user's default", false,
         "SNOWFLAKE_ROLE"},
        {"snowflake_database", T::kString, "", "Database of the pipe, as stored (upper case)",
         false, "SNOWFLAKE_DATABASE"},
        {"snowflake_schema", T::kString, "", "Schema of the pipe, as stored (upper case)", false,
         "SNOWFLAKE_SCHEMA"},
        {"snowflake_pipe", T::kString, "", "Pipe the channels write into, as stored", false,
         "SNOWFLAKE_PIPE"},
        {"snowflake_url", T::kString, "",
         "Account URL override; empty = https://<account>.snowflakecomputing.com (a test "
         "double: http://127.0.0.1:PORT)",
         false, "SNOWFLAKE_URL"},
        {"snowpipe_channels", T::kInt, "4",
         "Channels written in parallel; rows are partitioned by key, so change it only after "
         "a drain and with a new channel prefix",
         false, "SNOWCDC_SNOWPIPE_CHANNELS"},
        {"snowpipe_channel_prefix", T::kString, "snowcdc",
         "Channel names are <prefix>_0 .. <prefix>_<channels-1>; one prefix per shipper", false,
         "SNOWCDC_SNOWPIPE_CHANNEL_PREFIX"},
        {"snowpipe_request_max_bytes", T::kBytes, "4MB",
         "Largest append body before compression; a record above it is a dead letter", false,
         "SNOWCDC_SNOWPIPE_REQUEST_MAX_BYTES"},
        {"snowpipe_request_target_bytes", T::kBytes, "1MB",
         "An append carries about this much NDJSON (before compression) when more waits; "
         "smaller bodies keep less memory per channel",
         false, "SNOWCDC_SNOWPIPE_REQUEST_TARGET_BYTES"},
        {"snowpipe_compression",
         T::kString,
         "zstd",
         "Append body compression",
         false,
         "SNOWCDC_SNOWPIPE_COMPRESSION",
         {"zstd", "gzip", "none"}},
        {"snowpipe_dead_letter_dir", T::kString, "",
         "Directory for NDJSON dead letters (rejected or oversized records with the reason)", false,
         "SNOWCDC_SNOWPIPE_DEAD_LETTER_DIR"},
        {"snowpipe_on_reject",
         T::kString,
         "stop",
         "After writing dead letters: stop the shipper, or skip the records and continue",
         false,
         "SNOWCDC_SNOWPIPE_ON_REJECT",
         {"stop", "skip"}},
        {"snowpipe_status_interval", T::kDuration, "250ms",
         "How often channel status is polled while appended rows wait for their commit", false,
         "SNOWCDC_SNOWPIPE_STATUS_INTERVAL"},
        {"snowpipe_status_min_interval", T::kDuration, "50ms",
         "Channel status is polled this soon after an append (one call for all channels), and "
         "never more often",
         false, "SNOWCDC_SNOWPIPE_STATUS_MIN_INTERVAL"},
        {"snowpipe_request_timeout", T::kDuration, "30s", "Timeout of one HTTP request", false,
         "SNOWCDC_SNOWPIPE_REQUEST_TIMEOUT"},
        {"snowpipe_retry_initial_delay", T::kDuration, "100ms",
         "Ceiling of the first retry delay (capped exponential backoff, full jitter)", false,
         "SNOWCDC_SNOWPIPE_RETRY_INITIAL_DELAY"},
        {"snowpipe_retry_max_delay", T::kDuration, "30s", "Longest retry delay", false,
         "SNOWCDC_SNOWPIPE_RETRY_MAX_DELAY"},
    };
}

namespace {

std::string Required(const Settings &settings, const std::string &name, const char *env) {
    std::string value = settings.GetString(name);
    if (value.empty()) {
        throw ConfigError("setting " + name + " (" + env + ") is required by the snowpipe sink");
    }
    return value;
}

}  // namespace

SnowpipeSinkOptions SinkOptionsFromSettings(const Settings &settings) {
    SnowpipeSinkOptions options;
    options.auth.account = Required(settings, "snowflake_account", "SNOWFLAKE_ACCOUNT");
    options.auth.user = Required(settings, "snowflake_user", "SNOWFLAKE_USER");
    options.auth.role = settings.GetString("snowflake_role");
    options.auth.account_url = settings.GetString("snowflake_url");
    options.auth.user_agent = std::string("snowcdc-shipper/") + SNOWCDC_VERSION;
    options.auth.timeout = settings.GetDuration("snowpipe_request_timeout");
    options.pipe.database = Required(settings, "snowflake_database", "SNOWFLAKE_DATABASE");
    options.pipe.schema = Required(settings, "snowflake_schema", "SNOWFLAKE_SCHEMA");
    options.pipe.pipe = Required(settings, "snowflake_pipe", "SNOWFLAKE_PIPE");
    int64_t channels = settings.GetInt("snowpipe_channels");
    if (channels < 1 || channels > 2000) {
        throw ConfigError("setting snowpipe_channels: " + std::to_string(channels) +
                          " is outside 1..2000 (Snowflake allows 2,000 channels per pipe)");
    }
    options.channel_count = static_cast<int>(channels);
    options.channel_prefix = settings.GetString("snowpipe_channel_prefix");
    options.channel.request_max_bytes = settings.GetBytes("snowpipe_request_max_bytes");
    options.channel.request_target_bytes = settings.GetBytes("snowpipe_request_target_bytes");
    options.channel.compression = *ParseCompression(settings.GetString("snowpipe_compression"));
    options.channel.status_interval = settings.GetDuration("snowpipe_status_interval");
    options.channel.status_min_interval = settings.GetDuration("snowpipe_status_min_interval");
    options.channel.backoff.initial = settings.GetDuration("snowpipe_retry_initial_delay");
    options.channel.backoff.max = settings.GetDuration("snowpipe_retry_max_delay");
    options.channel.on_reject =
        settings.GetString("snowpipe_on_reject") == "skip" ? OnReject::kSkip : OnReject::kStop;
    options.dead_letter_dir = settings.GetString("snowpipe_dead_letter_dir");
    options.state_dir = settings.GetString("state_dir");
    return options;
}

EvpPkeyPtr KeyFromSettings(const Settings &settings) {
    std::string key_file =
        Required(settings, "snowflake_private_key_file", "SNOWFLAKE_PRIVATE_KEY_FILE");
    try {
        return LoadPrivateKeyFile(key_file, settings.GetString("snowflake_private_key_passphrase"));
    } catch (const KeyError &error) {
        throw ConfigError(error.what());
    }
}

std::unique_ptr<Sink> MakeSnowpipeSink(const Settings &settings) {
    SnowpipeSinkOptions options = SinkOptionsFromSettings(settings);
    return std::make_unique<SnowpipeSink>(std::move(options), KeyFromSettings(settings));
}

// Reads only (discovery, token exchange, bulk status): opening a channel would bump its
// client sequencer under a running shipper's feet.
ConnectionCheck CheckConnection(const Settings &settings) {
    try {
        SnowpipeSinkOptions options = SinkOptionsFromSettings(settings);
        TokenSource tokens(options.auth, KeyFromSettings(settings));
        SnowpipeClient client(tokens, options.pipe);
        std::vector<std::string> names;
        for (int i = 0; i <= options.channel_count; ++i) {
            names.push_back(options.channel_prefix + "_" + std::to_string(i));
        }
        std::map<std::string, ChannelStatus> statuses;
        CallResult result = client.BulkStatus(names, NewRequestId(), &statuses);
        if (!result.Ok()) {
            return {false, "snowpipe pipe " + options.pipe.Qualified() + ": " + result.Describe(),
                    "see the message; the key's fingerprint is SHA256:" + tokens.Fingerprint()};
        }
        HttpClient http;  // the ingest host is known by now: this only reads the cache
        std::string detail = "snowpipe " + options.pipe.Qualified() + " via " +
                             tokens.IngestUrl(http).value + ", " + std::to_string(statuses.size()) +
                             " channel(s) of prefix " + options.channel_prefix + " exist";
        if (statuses.count(names.back()) > 0) {
            return {
                false,
                detail + ", more than snowpipe_channels = " + std::to_string(options.channel_count),
                "keep the previous channel count, or drain and use a new channel prefix"};
        }
        return {true, detail, ""};
    } catch (const std::exception &error) {
        return {false, error.what(), "fix the snowflake_* settings named above"};
    }
}

}  // namespace snowcdc::snowpipe
