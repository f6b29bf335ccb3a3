// See load_writer.hpp.
#include "load_writer.hpp"

#include <libpq-fe.h>

#include <utility>

namespace snowcdc::testing {

LoadWriter::LoadWriter(std::string conninfo, uint32_t seed, NextStatement next)
    : next_(std::move(next)),
      thread_([this, conninfo = std::move(conninfo), seed] { Run(conninfo, seed); }) {}

LoadWriter::~LoadWriter() {
    Stop();
}

void LoadWriter::Stop() {
    stop_ = true;
    if (thread_.joinable())
        thread_.join();
}

void LoadWriter::Run(const std::string &conninfo, uint32_t seed) {
    PGconn *conn = PQconnectdb(conninfo.c_str());
    if (PQstatus(conn) != CONNECTION_OK)
        error_ = PQerrorMessage(conn);
    std::mt19937 rng(seed);
    while (error_.empty() && !stop_) {
        std::string sql = next_(rng);
        PGresult *res = PQexec(conn, sql.c_str());
        if (PQresultStatus(res) == PGRES_COMMAND_OK)
            ++commits_;
        else
            error_ = sql + ": " + PQresultErrorMessage(res);
        PQclear(res);
    }
    PQfinish(conn);
}

}  // namespace snowcdc::testing
