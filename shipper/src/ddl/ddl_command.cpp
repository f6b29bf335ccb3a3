// Placeholder registration of the `ddl` subcommand until the generator lands.
#include "ddl/ddl_command.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

namespace snowcdc::ddl {

void AddDdlCommand(CLI::App &app) {
    auto *cmd = app.add_subcommand("ddl", "Generate Snowflake SQL for tables (not built yet)");
    cmd->callback([] {
        std::cerr << "snowcdc-shipper ddl: the generator is not built yet\n";
        throw CLI::RuntimeError(2);
    });
}

}  // namespace snowcdc::ddl
