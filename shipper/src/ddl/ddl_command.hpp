// The `ddl` subcommand: Snowflake objects (and their Postgres-dialect twins) generated from
// the Postgres catalog.
#pragma once

namespace CLI {
class App;
}

namespace snowcdc::ddl {

// Registers the `ddl` subcommand and its options on the shipper's command line.
void AddDdlCommand(CLI::App &app);

}  // namespace snowcdc::ddl
