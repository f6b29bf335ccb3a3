// Local NDJSON sinks. `ndjson-stdout` writes batches to standard output (durable once
// written). `ndjson-dir` appends them to files in a directory, rotated by size and age, and
// reports a position durable only after the file (and, for a new file, the directory) is
// fsynced; on Open() it truncates a torn last line and recovers the last position it holds.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sink.hpp"
#include "snapshot.hpp"

namespace snowcdc {

class NdjsonStdoutSink : public Sink {
  public:
    explicit NdjsonStdoutSink(int fd = 1) : fd_(fd) {}
    std::optional<StreamPosition> Open() override { return std::nullopt; }
    void Submit(Batch batch) override;
    size_t InFlightBytes() const override { return 0; }
    std::optional<StreamPosition> DurablePosition() const override { return durable_; }
    std::optional<SinkError> Poll(std::chrono::steady_clock::time_point deadline) override;
    void Close() override {}

  private:
    int fd_;
    std::optional<StreamPosition> durable_;
    std::optional<SinkError> error_;
};

// Owns one file descriptor: copy deleted, move noexcept, closed in one place.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd() { Reset(); }
    UniqueFd(const UniqueFd &) = delete;
    UniqueFd &operator=(const UniqueFd &) = delete;
    UniqueFd(UniqueFd &&other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    UniqueFd &operator=(UniqueFd &&other) noexcept;

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    void Reset();

  private:
    int fd_ = -1;
};

struct NdjsonDirOptions {
    std::string directory;
    uint64_t rotate_bytes = 64ull << 20;
    std::chrono::milliseconds rotate_interval{300000};
};

class NdjsonDirSink : public Sink {
  public:
    explicit NdjsonDirSink(NdjsonDirOptions options) : options_(std::move(options)) {}
    ~NdjsonDirSink() override;
    NdjsonDirSink(const NdjsonDirSink &) = delete;
    NdjsonDirSink &operator=(const NdjsonDirSink &) = delete;

    // Throws std::runtime_error naming the path when the directory cannot be used.
    std::optional<StreamPosition> Open() override;
    void Submit(Batch batch) override;
    size_t InFlightBytes() const override { return unsynced_bytes_; }
    std::optional<StreamPosition> DurablePosition() const override { return durable_; }
    std::optional<SinkError> Poll(std::chrono::steady_clock::time_point deadline) override;
    void Close() override;
    // snapshot-plan.json and snap_<relid>_<part>.ndjson files next to the change files.
    SnapshotStore *Snapshots() override { return snapshot_store_.get(); }
    // file_rotate_bytes and file_rotate_interval.
    void Reload(const Settings &settings) override;

    void SetRotation(uint64_t bytes, std::chrono::milliseconds interval);
    // File names sort in stream order: snowcdc-<lsn 16 hex>-<seq 8 hex>.ndjson of the first record.
    static std::string FileName(StreamPosition first);

  private:
    std::optional<SinkError> Sync();
    bool StartFile(StreamPosition first);
    void Fail(const std::string &what, const std::string &path);

    NdjsonDirOptions options_;
    UniqueFd file_;
    std::string file_path_;
    uint64_t file_bytes_ = 0;
    std::chrono::steady_clock::time_point file_started_{};
    bool dir_dirty_ = false;
    size_t unsynced_bytes_ = 0;
    std::optional<StreamPosition> written_;
    std::optional<StreamPosition> durable_;
    std::optional<SinkError> error_;
    std::unique_ptr<SnapshotStore> snapshot_store_;
};

}  // namespace snowcdc
