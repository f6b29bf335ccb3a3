// A throwaway Postgres cluster for tests: initdb into a temporary directory, start on a
// free loopback port with logical decoding and the snowcdc plugin allowed, stop and
// remove on destruction. When the tests run as root, server programs run as `postgres`.
#pragma once

#include <string>
#include <vector>

namespace snowcdc::testing {

struct ClusterOptions {
    std::vector<std::string> extra_conf;  // postgresql.conf lines appended after the defaults
    bool install_extension = true;        // CREATE EXTENSION snowcdc in the postgres database
};

class TempCluster {
  public:
    explicit TempCluster(ClusterOptions options = {});
    ~TempCluster();
    TempCluster(const TempCluster &) = delete;
    TempCluster &operator=(const TempCluster &) = delete;

    int Port() const { return port_; }
    const std::string &DataDir() const { return data_dir_; }
    // libpq conninfo for a normal connection (TCP on 127.0.0.1).
    std::string ConnInfo(const std::string &dbname = "postgres") const;

    void Start();
    // mode: "fast" or "immediate" (a crash, as after kill -9 of the postmaster).
    void Stop(const std::string &mode = "fast");
    void Restart(const std::string &mode = "fast");

    // Runs one statement; returns the rows as lines, columns joined by '|'. Throws on error.
    std::string Query(const std::string &sql, const std::string &dbname = "postgres") const;
    void Exec(const std::string &sql, const std::string &dbname = "postgres") const {
        Query(sql, dbname);
    }

  private:
    ClusterOptions options_;
    std::string data_dir_;
    int port_ = 0;
    bool running_ = false;
};

// Runs a shell command line; returns its exit status and captures stdout+stderr into *output.
int RunShell(const std::string &command, std::string *output = nullptr);
// Prefixes a command so that it runs as the postgres user when we are root.
std::string AsPostgres(const std::string &command);
// A TCP port on 127.0.0.1 that was free a moment ago.
int FreeLoopbackPort();
// Directory of the Postgres server programs (pg_config --bindir).
std::string PgBinDir();

}  // namespace snowcdc::testing
