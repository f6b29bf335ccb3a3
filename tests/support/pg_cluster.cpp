// Implementation of the throwaway test cluster (see pg_cluster.hpp).
#include "pg_cluster.hpp"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>

namespace snowcdc::testing {

namespace {

bool RunningAsRoot() {
    return geteuid() == 0;
}

std::string ShellQuote(const std::string &s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

void Check(int rc, const std::string &what, const std::string &output) {
    if (rc != 0)
        throw std::runtime_error(what + " failed (status " + std::to_string(rc) + "): " + output);
}

}  // namespace

int RunShell(const std::string &command, std::string *output) {
    std::string full = command + " 2>&1";
    FILE *pipe = popen(full.c_str(), "r");
    if (pipe == nullptr)
        return -1;
    std::array<char, 4096> buf{};
    std::string captured;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0)
        captured.append(buf.data(), n);
    int status = pclose(pipe);
    if (output != nullptr)
        *output = captured;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string AsPostgres(const std::string &command) {
    if (!RunningAsRoot())
        return command;
    return "runuser -u postgres -- sh -c " + ShellQuote(command);
}

int FreeLoopbackPort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
        if (fd >= 0)
            close(fd);
        throw std::runtime_error("cannot find a free loopback port");
    }
    int port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

std::string PgBinDir() {
    static const std::string dir = [] {
        std::string out;
        Check(RunShell("pg_config --bindir", &out), "pg_config --bindir", out);
        while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
            out.pop_back();
        return out;
    }();
    return dir;
}

TempCluster::TempCluster(ClusterOptions options) : options_(std::move(options)) {
    char tmpl[] = "/tmp/snowcdc-pg-XXXXXX";
    if (mkdtemp(tmpl) == nullptr)
        throw std::runtime_error("mkdtemp failed");
    data_dir_ = tmpl;
    if (RunningAsRoot()) {
        passwd *pw = getpwnam("postgres");
        if (pw == nullptr || chown(data_dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
            throw std::runtime_error("cannot hand " + data_dir_ + " to the postgres user");
    }
    port_ = FreeLoopbackPort();
    std::string out;
    Check(RunShell(AsPostgres(PgBinDir() +
                              "/initdb --no-sync -A trust -U postgres -E UTF8 "
                              "--locale=C -D " +
                              data_dir_ + "/data"),
                   &out),
          "initdb", out);
    std::ofstream conf(data_dir_ + "/data/postgresql.conf", std::ios::app);
    conf << "port = " << port_ << "\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = '" << data_dir_ << "'\n"
         << "wal_level = logical\n"
         << "max_replication_slots = 16\n"
         << "max_wal_senders = 16\n"
         << "max_prepared_transactions = 10\n"
         << "output_plugin_libraries = 'pgoutput, test_decoding, snowcdc'\n"
         << "fsync = off\n"
         << "log_min_messages = warning\n";
    for (const auto &line : options_.extra_conf)
        conf << line << "\n";
    conf.close();
    Start();
    if (options_.install_extension)
        Exec("CREATE EXTENSION IF NOT EXISTS snowcdc");
}

TempCluster::~TempCluster() {
    try {
        if (running_)
            Stop("immediate");
    } catch (...) {
    }
    std::string ignored;
    RunShell("rm -rf " + ShellQuote(data_dir_), &ignored);
}

std::string TempCluster::ConnInfo(const std::string &dbname) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + dbname;
}

void TempCluster::Start() {
    std::string out;
    Check(RunShell(AsPostgres(PgBinDir() + "/pg_ctl -w -t 60 -D " + data_dir_ + "/data -l " +
                              data_dir_ + "/server.log start"),
                   &out),
          "pg_ctl start (log: " + data_dir_ + "/server.log)", out);
    running_ = true;
}

void TempCluster::Stop(const std::string &mode) {
    std::string out;
    Check(RunShell(AsPostgres(PgBinDir() + "/pg_ctl -w -t 60 -m " + mode + " -D " + data_dir_ +
                              "/data stop"),
                   &out),
          "pg_ctl stop", out);
    running_ = false;
}

void TempCluster::Restart(const std::string &mode) {
    Stop(mode);
    Start();
}

std::string TempCluster::Query(const std::string &sql, const std::string &dbname) const {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(ConnInfo(dbname).c_str()),
                                                      &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK)
        throw std::runtime_error("connect: " + std::string(PQerrorMessage(conn.get())));
    std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn.get(), sql.c_str()), &PQclear);
    auto status = PQresultStatus(res.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        throw std::runtime_error("query failed: " + sql + ": " + PQresultErrorMessage(res.get()));
    std::string out;
    for (int r = 0; r < PQntuples(res.get()); ++r) {
        if (r > 0)
            out += '\n';
        for (int c = 0; c < PQnfields(res.get()); ++c) {
            if (c > 0)
                out += '|';
            out += PQgetvalue(res.get(), r, c);
        }
    }
    return out;
}

}  // namespace snowcdc::testing
