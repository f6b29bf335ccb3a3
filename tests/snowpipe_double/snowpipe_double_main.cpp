// snowpipe-double: the Snowpipe Streaming test double as a standalone server for demos.
// Prints "listening on http://127.0.0.1:PORT" once it accepts connections; the committed
// rows are served as NDJSON at GET /_double/committed; faults are injected with
// POST /_double/fault?kind=...&times=N (see HandleControl; cpp-httplib wants a body, so
// `curl -d "" URL`). Stops on SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "snowpipe_double.hpp"

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void RequestStop(int) {
    stop_requested = 1;
}

}  // namespace

int main(int argc, char **argv) {
    snowcdc::testing::DoubleOptions options;
    std::string public_key_file;
    int64_t commit_delay_ms = 1000;
    bool documented_forms = false;
    CLI::App app{"Test double of the Snowpipe Streaming REST service (loopback only)"};
    app.add_option("--public-key", public_key_file, "PEM public key (SPKI) of the shipper's user")
        ->required();
    app.add_option("--port", options.port, "Port on 127.0.0.1 (0 = any free port)");
    app.add_option("--account", options.account, "Account name expected in JWT claims");
    app.add_option("--user", options.user, "User name expected in JWT claims");
    app.add_option("--database", options.database, "Database of the one pipe");
    app.add_option("--schema", options.schema, "Schema of the one pipe");
    app.add_option("--pipe", options.pipe, "Name of the one pipe");
    app.add_option("--commit-delay-ms", commit_delay_ms, "Delay between append and commit");
    app.add_flag("--documented-forms", documented_forms,
                 "Answer in the documented JSON forms instead of the observed bare-text ones");
    CLI11_PARSE(app, argc, argv);

    std::ifstream key_in(public_key_file);
    if (!key_in) {
        std::cerr << "snowpipe-double: cannot read --public-key " << public_key_file << "\n";
        return 2;
    }
    std::stringstream key;
    key << key_in.rdbuf();
    options.public_key_pem = key.str();
    options.commit_delay = std::chrono::milliseconds(commit_delay_ms);
    options.observed_forms = !documented_forms;

    std::signal(SIGINT, RequestStop);
    std::signal(SIGTERM, RequestStop);
    snowcdc::testing::SnowpipeDouble server(options);
    std::printf("listening on %s\n", server.Url().c_str());
    std::fflush(stdout);
    while (stop_requested == 0) {
        server.WaitUntil([] { return stop_requested != 0; }, std::chrono::milliseconds(200));
    }
    return 0;
}
