// Sink selection and module settings (see sink_factory.hpp).
#include "sink_factory.hpp"

#include "core_settings.hpp"
#include "ndjson_sink.hpp"

// ---- Modules: add your header here. ---------------------------------------------------
#include "snowpipe/snowpipe_sink.hpp"

namespace snowcdc {

std::vector<SettingSpec> AllSettingSpecs() {
    std::vector<SettingSpec> specs = CoreSettingSpecs();
    auto add = [&specs](std::vector<SettingSpec> rows) {
        specs.insert(specs.end(), rows.begin(), rows.end());
    };
    // ---- Modules: add your settings rows here, one line each. -------------------------
    add(snowpipe::SettingSpecs());
    return specs;
}

std::unique_ptr<Sink> MakeSink(const Settings &settings) {
    const std::string kind = settings.GetString("sink");
    if (kind == "ndjson-stdout")
        return std::make_unique<NdjsonStdoutSink>();
    if (kind == "ndjson-dir") {
        return std::make_unique<NdjsonDirSink>(NdjsonDirOptions{
            settings.GetString("output_dir"), settings.GetBytes("file_rotate_bytes"),
            settings.GetDuration("file_rotate_interval")});
    }
    // ---- Modules: add your sink here, one line. -----------------------------------------
    if (kind == "snowpipe")
        return snowpipe::MakeSnowpipeSink(settings);
    throw ConfigError("setting sink: '" + kind +
                      "' is not built into this shipper; use ndjson-stdout or ndjson-dir");
}

}  // namespace snowcdc
