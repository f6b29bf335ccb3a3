// Dead letters: NDJSON files of rejected or oversized records with the reason.
#include "snowpipe/dead_letter.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

namespace snowcdc::snowpipe {

DeadLetterWriter::DeadLetterWriter(std::string dir) : dir_(std::move(dir)) {
    if (!dir_.empty()) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
        // One file per process start: concurrent shippers never share a file.
        path_ = dir_ + "/dead-letters-" + std::to_string(ms) + "-" + std::to_string(getpid()) +
                ".ndjson";
    }
}

DeadLetterWriter::~DeadLetterWriter() {
    if (file_ != nullptr) {
        std::fclose(file_);
    }
}

std::optional<std::string> DeadLetterWriter::Write(const DeadLetter &letter) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dir_.empty()) {
        return "no dead-letter directory is set (SNOWCDC_SNOWPIPE_DEAD_LETTER_DIR): set one to "
               "keep rejected records and continue";
    }
    if (file_ == nullptr) {
        mkdir(dir_.c_str(), 0750);
        file_ = std::fopen(path_.c_str(), "a");
        if (file_ == nullptr) {
            return "cannot open dead-letter file " + path_ + ": " + std::strerror(errno) +
                   ": check SNOWCDC_SNOWPIPE_DEAD_LETTER_DIR and its permissions";
        }
    }
    nlohmann::json head = {{"channel", letter.channel},
                           {"offset_token", letter.offset_token},
                           {"reason", letter.reason}};
    std::string line = head.dump();
    line.pop_back();
    line += ",\"record\":";
    line += letter.record.empty() ? std::string_view("null") : letter.record;
    line += "}\n";
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0 ||
        fsync(fileno(file_)) != 0) {
        return "cannot write dead-letter file " + path_ + ": " + std::strerror(errno) +
               ": free space or fix SNOWCDC_SNOWPIPE_DEAD_LETTER_DIR";
    }
    ++written_;
    return std::nullopt;
}

uint64_t DeadLetterWriter::Written() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return written_;
}

std::optional<int64_t> DeadLetterWriter::ErrorMark(const std::string &channel) const {
    if (dir_.empty()) {
        return std::nullopt;
    }
    std::ifstream in(dir_ + "/" + channel + ".errors");
    int64_t count = 0;
    if (!(in >> count)) {
        return std::nullopt;
    }
    return count;
}

std::optional<std::string> DeadLetterWriter::SetErrorMark(const std::string &channel,
                                                          int64_t count) {
    if (dir_.empty()) {
        return std::nullopt;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    mkdir(dir_.c_str(), 0750);
    std::string path = dir_ + "/" + channel + ".errors";
    std::string temp = path + ".tmp";
    {
        std::ofstream out(temp, std::ios::trunc);
        out << count << "\n";
        out.flush();
        if (!out) {
            return "cannot write " + temp + ": check SNOWCDC_SNOWPIPE_DEAD_LETTER_DIR";
        }
    }
    // rename() replaces the old mark atomically: a crash leaves the old or the new count.
    if (std::rename(temp.c_str(), path.c_str()) != 0) {
        return "cannot rename " + temp + " to " + path + ": " + std::strerror(errno);
    }
    return std::nullopt;
}

}  // namespace snowcdc::snowpipe
