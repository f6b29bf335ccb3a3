// snowcdc-shipper entry point: parses the command line (settings from the table, --config),
// and runs `run` (the default), `check`, `status`, `resnapshot`, `settings` or `ddl`.
#include <CLI/CLI.hpp>
#include <malloc.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>

#include "commands.hpp"
#include "ddl/ddl_command.hpp"
#include "log.hpp"
#include "resnapshot.hpp"
#include "metrics.hpp"
#include "settings.hpp"
#include "shipper.hpp"
#include "signals.hpp"
#include "sink_factory.hpp"

namespace snowcdc {
const char *Version();

namespace {

struct CommandLine {
    std::string config_file;
    std::map<std::string, std::string> cli;
    bool markdown = false;
    std::string resnapshot_table;
    bool resnapshot_cancel = false;
};

Settings LoadSettings(const CommandLine &cmd) {
    return Settings::Load(AllSettingSpecs(), SettingSources{cmd.cli, cmd.config_file, nullptr});
}

int PrintEffectiveSettings(const Settings &settings) {
    for (const auto &spec : settings.Specs()) {
        std::string value = !settings.IsSet(spec.name) ? "(unset)"
                            : spec.secret              ? "***"
                                                       : settings.Text(spec.name);
        std::printf("%-26s %-30s %s\n", spec.name.c_str(), value.c_str(),
                    settings.SourceOf(spec.name).c_str());
    }
    return 0;
}

// glibc malloc, tuned for buffers that one thread allocates and another frees (batches,
// the channels' record segments, request bodies). Above a fixed mmap threshold each buffer
// is a mapping of its own and goes back to the kernel when freed; by default the threshold
// rises to the largest buffer freed so far, after which such buffers live in the heap, where
// freeing them out of order strands memory. Two arenas instead of one per thread keep less
// freed memory parked.
void TuneMalloc() {
    mallopt(M_MMAP_THRESHOLD, 64 * 1024);
    mallopt(M_ARENA_MAX, 2);
}

int RunShipper(const CommandLine &cmd) {
    TuneMalloc();
    Settings settings = LoadSettings(cmd);
    std::string slot = settings.GetString("slot");
    SetLogContext("slot", slot);
    if (auto level = ParseLogLevel(settings.GetString("log_level")))
        SetLogLevel(*level);
    InstallSignalHandlers();
    std::unique_ptr<Sink> sink = MakeSink(settings);
    auto reload = [cmd]() -> std::optional<Settings> {
        try {
            return LoadSettings(cmd);
        } catch (const ConfigError &e) {
            LogWarning(std::string("keeping the old settings: ") + e.what());
            return std::nullopt;
        }
    };
    Shipper shipper(settings, std::move(sink), reload);
    std::unique_ptr<MetricsServer> server;
    if (int port = static_cast<int>(settings.GetInt("metrics_port")); port > 0) {
        server =
            std::make_unique<MetricsServer>(Metrics(), [&shipper] { return shipper.Healthy(); });
        server->Start(settings.GetString("metrics_address"), port);
        LogInfo("serving /metrics and /healthz",
                {{"address", settings.GetString("metrics_address")}, {"port", port}});
    }
    LogInfo("snowcdc-shipper starting",
            {{"version", Version()}, {"sink", settings.GetString("sink")}});
    return shipper.Run();
}

}  // namespace
}  // namespace snowcdc

int main(int argc, char **argv) {
    using snowcdc::CommandLine;
    CommandLine cmd;
    std::vector<snowcdc::SettingSpec> specs = snowcdc::AllSettingSpecs();
    CLI::App app{"snowcdc-shipper: streams a Postgres snowcdc replication slot to a sink",
                 "snowcdc-shipper"};
    app.set_version_flag("--version", snowcdc::Version());
    app.add_option("--config", cmd.config_file,
                   "TOML file with settings (lowest precedence "
                   "after defaults)")
        ->envname("SNOWCDC_CONFIG")
        ->check(CLI::ExistingFile);
    snowcdc::AddSettingOptions(app, specs, &cmd.cli);
    app.fallthrough();
    app.require_subcommand(0, 1);
    CLI::App *run = app.add_subcommand("run", "Stream changes to the sink (the default)");
    CLI::App *check = app.add_subcommand("check", "Validate settings and connectivity");
    CLI::App *status = app.add_subcommand("status", "Show the slot's position and lag");
    CLI::App *settings = app.add_subcommand("settings", "Print the settings reference");
    settings->add_flag("--markdown", cmd.markdown, "As a markdown table for the docs");
    CLI::App *resnapshot = app.add_subcommand(
        "resnapshot", "Re-read one table into the stream while streaming goes on");
    resnapshot->add_option("--table", cmd.resnapshot_table, "schema.table to re-snapshot")
        ->required();
    resnapshot->add_flag("--cancel", cmd.resnapshot_cancel, "Cancel the table's re-snapshot");
    snowcdc::ddl::AddDdlCommand(app);
    CLI11_PARSE(app, argc, argv);
    try {
        if (*settings)
            return cmd.markdown ? (std::cout << snowcdc::SettingsMarkdown(specs), 0)
                                : snowcdc::PrintEffectiveSettings(snowcdc::LoadSettings(cmd));
        if (*check)
            return snowcdc::RunCheck(snowcdc::LoadSettings(cmd));
        if (*status)
            return snowcdc::RunStatus(snowcdc::LoadSettings(cmd));
        if (*resnapshot)
            return snowcdc::RunResnapshotCommand(snowcdc::LoadSettings(cmd), cmd.resnapshot_table,
                                                 cmd.resnapshot_cancel);
        if (!app.get_subcommands().empty() && !*run)
            return 0;  // a module's subcommand (ddl) did its work in its callback
        return snowcdc::RunShipper(cmd);
    } catch (const snowcdc::ConfigError &e) {
        std::cerr << "snowcdc-shipper: configuration error:\n" << e.what() << "\n";
        return 2;
    } catch (const std::exception &e) {
        std::cerr << "snowcdc-shipper: cannot start: " << e.what() << "\n";
        return 2;
    }
}
