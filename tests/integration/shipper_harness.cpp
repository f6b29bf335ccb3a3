// Test harness for end-to-end shipper tests (see shipper_harness.hpp).
#include "shipper_harness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace snowcdc::testing {

ShipperProcess::ShipperProcess(std::vector<std::string> args, std::string log_path) {
    args.insert(args.begin(), {SNOWCDC_SHIPPER_BINARY, "run"});
    pid_ = fork();
    if (pid_ < 0)
        throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a test that died
        int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(log, 2);
        std::vector<char *> argv;
        for (auto &a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
}

ShipperProcess::~ShipperProcess() {
    if (Running()) {
        kill(pid_, SIGKILL);
        WaitExit();
    }
}

void ShipperProcess::Signal(int signo) {
    kill(pid_, signo);
}

bool ShipperProcess::Running() {
    if (status_ >= 0)
        return false;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return false;
    }
    return true;
}

int ShipperProcess::WaitExit(std::chrono::seconds timeout) {
    WaitUntil([this] { return !Running(); }, timeout);
    return status_;
}

bool WaitUntil(const std::function<bool()> &condition, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return condition();
}

std::vector<std::string> QuickShipperArgs(const std::string &conninfo, const std::string &sink) {
    return {"--conninfo",
            conninfo,
            "--slot",
            "s1",
            "--sink",
            sink,
            "--status-interval",
            "100ms",
            "--batch-max-delay",
            "20ms",
            "--reconnect-initial-delay",
            "50ms",
            "--reconnect-max-delay",
            "500ms",
            "--snapshot",
            "never"};
}

std::string ReadFileText(const std::string &path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<nlohmann::json> ReadSinkRecords(const std::string &dir) {
    std::vector<std::string> names;
    if (DIR *d = opendir(dir.c_str())) {
        while (dirent *e = readdir(d))
            if (std::string(e->d_name).rfind("snowcdc-", 0) == 0)
                names.push_back(e->d_name);
        closedir(d);
    }
    std::sort(names.begin(), names.end());
    std::vector<nlohmann::json> records;
    for (const auto &name : names) {
        std::istringstream in(ReadFileText(dir + "/" + name));
        std::string line;
        while (std::getline(in, line)) {
            if (in.eof())
                break;  // a line still being written (no newline yet) is not in the sink
            records.push_back(nlohmann::json::parse(line));
        }
    }
    return records;
}

std::string MakeTempDir(const std::string &prefix) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr)
        throw std::runtime_error("mkdtemp failed");
    return tmpl;
}

uint64_t LsnFromText(const std::string &text) {
    unsigned hi = 0, lo = 0;
    if (std::sscanf(text.c_str(), "%X/%X", &hi, &lo) != 2)
        return 0;
    return (static_cast<uint64_t>(hi) << 32) | lo;
}

}  // namespace snowcdc::testing
