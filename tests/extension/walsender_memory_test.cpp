// The snowcdc plugin's memory stays flat while a walsender decodes one very large transaction:
// a per-row leak in the plugin (memory not reset between changes) would grow the walsender's
// private memory in proportion to the rows. Each run inserts N rows in one transaction, then
// streams them through pg_recvlogical while sampling the walsender's memory in /proc.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <sys/wait.h>
#include <thread>

#include "pg_cluster.hpp"

namespace snowcdc::testing {
namespace {

constexpr char kSlot[] = "memory_slot";

// Private memory (RssAnon: heap and anonymous mappings) is what a leak grows; VmRSS also counts
// shared buffers and WAL pages the process touches, which grow legitimately while decoding.
struct MemorySample {
    long rss_anon_kb = 0;
    long vm_rss_kb = 0;
};

// One field of /proc/<pid>/status in kB, or nothing when the process is gone.
std::optional<MemorySample> ReadMemory(int pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    if (!status)
        return std::nullopt;
    MemorySample sample;
    bool found_anon = false;
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("RssAnon:", 0) == 0) {
            sample.rss_anon_kb = std::stol(line.substr(8));
            found_anon = true;
        } else if (line.rfind("VmRSS:", 0) == 0) {
            sample.vm_rss_kb = std::stol(line.substr(6));
        }
    }
    if (!found_anon)
        return std::nullopt;
    return sample;
}

struct DecodeRun {
    MemorySample first;    // first sample once the walsender serves the slot
    MemorySample peak;     // largest of each field over the run
    long records = 0;      // lines pg_recvlogical printed: one per record
    int exit_status = -1;  // pg_recvlogical's exit status
    int samples = 0;       // how many samples were taken
};

// Streams the slot up to end_lsn through pg_recvlogical and counts the records it prints.
class Receiver {
  public:
    Receiver(const TempCluster &cluster, const std::string &end_lsn)
        : command_(PgBinDir() + "/pg_recvlogical -h 127.0.0.1 -p " +
                   std::to_string(cluster.Port()) + " -U postgres -d postgres --slot=" + kSlot +
                   " --start --no-loop -E " + end_lsn + " -f - 2>/dev/null") {
        thread_ = std::thread([this] { Run(); });
    }
    ~Receiver() { Join(); }
    Receiver(const Receiver &) = delete;
    Receiver &operator=(const Receiver &) = delete;

    bool Done() const { return done_.load(); }
    void Join() {
        if (thread_.joinable())
            thread_.join();
    }
    long Records() const { return records_; }
    int ExitStatus() const { return exit_status_; }

  private:
    void Run() {
        FILE *pipe = popen(command_.c_str(), "r");
        if (pipe != nullptr) {
            char buf[1 << 16];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, pipe)) > 0)
                for (size_t i = 0; i < n; ++i)
                    records_ += buf[i] == '\n';
            int status = pclose(pipe);
            exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        done_.store(true);
    }

    std::string command_;
    std::thread thread_;
    std::atomic<bool> done_{false};
    long records_ = 0;
    int exit_status_ = -1;
};

// The walsender serving the slot, once it has one; nothing if the receiver ended first.
std::optional<int> WaitForWalsender(const TempCluster &cluster, const Receiver &receiver) {
    while (!receiver.Done()) {
        std::string pid = cluster.Query(
            std::string("SELECT active_pid FROM pg_replication_slots WHERE slot_name = '") + kSlot +
            "' AND active");
        if (!pid.empty())
            return std::stoi(pid);
    }
    return std::nullopt;
}

// Inserts `rows` rows of about 100 bytes in one transaction, then decodes them while sampling.
DecodeRun InsertAndDecode(const TempCluster &cluster, long first_id, long rows) {
    cluster.Exec(
        "INSERT INTO wide SELECT g, md5(g::text) || md5((g + 1)::text) || "
        "repeat('x', 36) FROM generate_series(" +
        std::to_string(first_id) + ", " + std::to_string(first_id + rows - 1) + ") AS g");
    std::string end_lsn = cluster.Query("SELECT pg_current_wal_lsn()");

    DecodeRun run;
    Receiver receiver(cluster, end_lsn);
    std::optional<int> pid = WaitForWalsender(cluster, receiver);
    if (pid) {
        // A sampling period, not a synchronisation: the walsender is watched until it ends.
        while (!receiver.Done()) {
            std::optional<MemorySample> sample = ReadMemory(*pid);
            if (!sample)
                break;
            if (run.samples++ == 0)
                run.first = *sample;
            run.peak.rss_anon_kb = std::max(run.peak.rss_anon_kb, sample->rss_anon_kb);
            run.peak.vm_rss_kb = std::max(run.peak.vm_rss_kb, sample->vm_rss_kb);
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    receiver.Join();
    run.records = receiver.Records();
    run.exit_status = receiver.ExitStatus();
    return run;
}

long GrowthKb(const DecodeRun &run) {
    return run.peak.rss_anon_kb - run.first.rss_anon_kb;
}

void Report(const char *name, const DecodeRun &run) {
    std::printf(
        "%s: %ld records, %d samples, RssAnon %ld -> peak %ld kB (+%ld kB), "
        "VmRSS %ld -> peak %ld kB\n",
        name, run.records, run.samples, run.first.rss_anon_kb, run.peak.rss_anon_kb, GrowthKb(run),
        run.first.vm_rss_kb, run.peak.vm_rss_kb);
}

TEST(WalsenderMemory, FlatOverAMillionRowTransaction) {
    // The smallest logical_decoding_work_mem spills the transaction to disk almost at once, so
    // the reorder buffer holds almost nothing and what remains is the plugin's own memory.
    TempCluster cluster(ClusterOptions{
        {"logical_decoding_work_mem = 64kB", "shared_buffers = 16MB", "wal_sender_timeout = 0"}});
    cluster.Exec("CREATE TABLE wide (id bigint PRIMARY KEY, payload text)");
    cluster.Exec(std::string("SELECT pg_create_logical_replication_slot('") + kSlot +
                 "', 'snowcdc')");

    DecodeRun small = InsertAndDecode(cluster, 1, 100000);
    Report("100k rows", small);
    DecodeRun large = InsertAndDecode(cluster, 100001, 1000000);
    Report("1M rows", large);

    ASSERT_EQ(small.exit_status, 0);
    ASSERT_EQ(large.exit_status, 0);
    // Every insert reached the plugin and came out as one record, each exactly once.
    EXPECT_EQ(small.records, 100000);
    EXPECT_EQ(large.records, 1000000);
    ASSERT_GT(small.samples, 0);
    ASSERT_GT(large.samples, 0);
    // A leak of 100 bytes per row would add about 100 MB over the million rows.
    EXPECT_LT(GrowthKb(large), 64 * 1024);
    // Ten times the rows must not take noticeably more memory: 16 MB is what 900k rows leaking
    // only 18 bytes each would add.
    EXPECT_LT(GrowthKb(large) - GrowthKb(small), 16 * 1024);
}

}  // namespace
}  // namespace snowcdc::testing
