// Dead letters: records that Snowflake rejected (the channel's row error counters) or that
// exceed the request size limit go to NDJSON files in a directory, one line per record with
// the record itself and the reason, so that nothing is ever dropped silently.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace snowcdc::snowpipe {

struct DeadLetter {
    std::string channel;
    std::string offset_token;  // the record's position, as in offset tokens
    std::string reason;
    std::string_view record;  // the record's JSON text, embedded as is
};

class DeadLetterWriter {
  public:
    // `dir` "" means no destination: Write() then fails and the caller stops.
    explicit DeadLetterWriter(std::string dir);
    ~DeadLetterWriter();
    DeadLetterWriter(const DeadLetterWriter &) = delete;
    DeadLetterWriter &operator=(const DeadLetterWriter &) = delete;

    // Appends one line and flushes it to disk. On failure returns the reason (names the
    // file and the fix); the caller must then stop rather than lose the record.
    std::optional<std::string> Write(const DeadLetter &letter);
    uint64_t Written() const;

    // How many of the channel's rejected rows (its rows_error_count) were already handled,
    // kept in <dir>/<channel>.errors so that a restart neither forgets nor repeats them.
    // nullopt when nothing was recorded (or there is no directory).
    std::optional<int64_t> ErrorMark(const std::string &channel) const;
    std::optional<std::string> SetErrorMark(const std::string &channel, int64_t count);
    const std::string &Path() const { return path_; }

  private:
    std::string dir_;
    std::string path_;
    mutable std::mutex mutex_;
    std::FILE *file_ = nullptr;  // owned; closed in the destructor only
    uint64_t written_ = 0;
};

}  // namespace snowcdc::snowpipe
