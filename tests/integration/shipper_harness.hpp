// Test harness for end-to-end shipper tests: runs the real snowcdc-shipper binary as a
// child process, reads what its ndjson-dir sink holds, and polls conditions with deadlines.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace snowcdc::testing {

class ShipperProcess {
  public:
    // Starts the shipper with `args` (after "run"); stderr goes to `log_path` (appended).
    ShipperProcess(std::vector<std::string> args, std::string log_path);
    ~ShipperProcess();
    ShipperProcess(const ShipperProcess &) = delete;
    ShipperProcess &operator=(const ShipperProcess &) = delete;

    void Signal(int signo);
    // Waits for the exit (deadline-bounded); returns the exit status, or 128+signal.
    int WaitExit(std::chrono::seconds timeout = std::chrono::seconds(60));
    bool Running();
    pid_t Pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
    int status_ = -1;
};

// Polls `condition` every few milliseconds until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()> &condition,
               std::chrono::milliseconds timeout = std::chrono::milliseconds(60000));

// Every record in the sink directory, files in name order, lines in file order.
std::vector<nlohmann::json> ReadSinkRecords(const std::string &dir);
std::string ReadFileText(const std::string &path);
std::string MakeTempDir(const std::string &prefix);
uint64_t LsnFromText(const std::string &text);

// Arguments every test run of the shipper shares: the connection, slot s1, timers short
// enough that tests see confirmations, batches and reconnects quickly, and snapshot = never
// (tests of the snapshot pass --snapshot initial after these). Add the sink's own.
std::vector<std::string> QuickShipperArgs(const std::string &conninfo, const std::string &sink);

}  // namespace snowcdc::testing
