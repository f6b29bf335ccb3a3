// Local NDJSON sinks (see ndjson_sink.hpp).
#include "ndjson_sink.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "log.hpp"
#include "record_framing.hpp"
#include "settings.hpp"

namespace snowcdc {

namespace {

bool WriteAll(int fd, const char *data, size_t size) {
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        size -= static_cast<size_t>(n);
    }
    return true;
}

std::vector<std::string> SinkFiles(const std::string &dir) {
    std::vector<std::string> names;
    std::unique_ptr<DIR, int (*)(DIR *)> d(opendir(dir.c_str()), &closedir);
    if (!d)
        throw std::runtime_error("cannot open output_dir " + dir + ": " + std::strerror(errno) +
                                 "; create it or fix its permissions");
    while (dirent *e = readdir(d.get())) {
        std::string name = e->d_name;
        if (name.rfind("snowcdc-", 0) == 0 && name.size() > 7 &&
            name.compare(name.size() - 7, 7, ".ndjson") == 0)
            names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

bool FsyncPath(const std::string &path, int flags) {
    UniqueFd fd(open(path.c_str(), flags | O_CLOEXEC));
    return fd.valid() && fsync(fd.get()) == 0;
}

std::string ReadFile(const std::string &path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid())
        throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    std::string data;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd.get(), buf, sizeof buf)) > 0)
        data.append(buf, static_cast<size_t>(n));
    if (n < 0)
        throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    return data;
}

// Cuts a torn last line off `path`; returns the position of its last complete record, or
// nullopt when no complete record is left.
std::optional<StreamPosition> RecoverFile(const std::string &path) {
    std::string data = ReadFile(path);
    size_t keep = data.rfind('\n') == std::string::npos ? 0 : data.rfind('\n') + 1;
    if (keep < data.size()) {
        LogWarning("truncating a torn last line (from a crash) in the ndjson-dir sink",
                   {{"file", path}, {"bytes", data.size() - keep}});
        if (truncate(path.c_str(), static_cast<off_t>(keep)) != 0 || !FsyncPath(path, O_WRONLY))
            throw std::runtime_error("cannot truncate the torn tail of " + path + ": " +
                                     std::strerror(errno) + "; fix permissions or disk");
    }
    if (keep == 0)
        return std::nullopt;
    size_t start = keep >= 2 ? data.rfind('\n', keep - 2) : std::string::npos;
    start = start == std::string::npos ? 0 : start + 1;
    std::string error;
    auto rec = FrameRecord(std::string_view(data).substr(start, keep - 1 - start), &error);
    if (!rec)
        throw std::runtime_error("last record of " + path + " is unreadable (" + error +
                                 "); move the file away if it is not the shipper's");
    return StreamPosition{rec->lsn, rec->seq};
}

}  // namespace

UniqueFd &UniqueFd::operator=(UniqueFd &&other) noexcept {
    if (this != &other) {
        Reset();
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

void UniqueFd::Reset() {
    if (fd_ >= 0)
        close(fd_);
    fd_ = -1;
}

void NdjsonStdoutSink::Submit(Batch batch) {
    if (error_)
        return;
    if (!WriteAll(fd_, batch.data.data(), batch.data.size())) {
        error_ = SinkError{std::string("writing to standard output failed: ") +
                           std::strerror(errno) + "; keep the reading end of the pipe open"};
        return;
    }
    durable_ = batch.Last();
}

std::optional<SinkError> NdjsonStdoutSink::Poll(std::chrono::steady_clock::time_point) {
    return error_;
}

NdjsonDirSink::~NdjsonDirSink() {
    Close();
}

std::string NdjsonDirSink::FileName(StreamPosition first) {
    char name[64];
    std::snprintf(name, sizeof name, "snowcdc-%016llx-%08x.ndjson",
                  static_cast<unsigned long long>(first.lsn), first.seq);
    return name;
}

std::optional<StreamPosition> NdjsonDirSink::Open() {
    if (options_.directory.empty())
        throw std::runtime_error("sink ndjson-dir needs output_dir; set --output-dir");
    if (mkdir(options_.directory.c_str(), 0755) != 0 && errno != EEXIST)
        throw std::runtime_error("cannot create output_dir " + options_.directory + ": " +
                                 std::strerror(errno));
    snapshot_store_ = MakeNdjsonSnapshotStore(options_.directory);
    std::vector<std::string> files = SinkFiles(options_.directory);
    for (auto it = files.rbegin(); it != files.rend(); ++it) {
        std::string path = options_.directory + "/" + *it;
        if (auto pos = RecoverFile(path)) {
            durable_ = written_ = pos;
            return pos;
        }
        // A file created just before a crash, with nothing complete in it.
        unlink(path.c_str());
        FsyncPath(options_.directory, O_RDONLY | O_DIRECTORY);
    }
    return std::nullopt;
}

void NdjsonDirSink::Fail(const std::string &what, const std::string &path) {
    if (!error_)
        error_ = SinkError{what + " " + path + ": " + std::strerror(errno) +
                           "; free disk space or fix permissions, then restart"};
}

bool NdjsonDirSink::StartFile(StreamPosition first) {
    file_path_ = options_.directory + "/" + FileName(first);
    file_ = UniqueFd(
        open(file_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644));
    if (!file_.valid()) {
        Fail("cannot create", file_path_);
        return false;
    }
    file_bytes_ = 0;
    file_started_ = std::chrono::steady_clock::now();
    dir_dirty_ = true;
    LogInfo("ndjson-dir sink started a file", {{"file", file_path_}});
    return true;
}

void NdjsonDirSink::Submit(Batch batch) {
    if (error_ || batch.records.empty())
        return;
    bool rotate = file_.valid() &&
                  (file_bytes_ >= options_.rotate_bytes ||
                   std::chrono::steady_clock::now() - file_started_ >= options_.rotate_interval);
    if (rotate) {
        if (Sync())
            return;
        file_.Reset();
    }
    if (!file_.valid() && !StartFile(batch.records.front().pos))
        return;
    if (!WriteAll(file_.get(), batch.data.data(), batch.data.size())) {
        Fail("cannot write", file_path_);
        return;
    }
    file_bytes_ += batch.data.size();
    unsynced_bytes_ += batch.data.size();
    written_ = batch.Last();
}

std::optional<SinkError> NdjsonDirSink::Sync() {
    if (file_.valid() && unsynced_bytes_ > 0 && fsync(file_.get()) != 0)
        Fail("cannot fsync", file_path_);
    if (!error_ && dir_dirty_) {
        if (!FsyncPath(options_.directory, O_RDONLY | O_DIRECTORY))
            Fail("cannot fsync directory", options_.directory);
        else
            dir_dirty_ = false;
    }
    if (!error_) {
        unsynced_bytes_ = 0;
        durable_ = written_;
    }
    return error_;
}

std::optional<SinkError> NdjsonDirSink::Poll(std::chrono::steady_clock::time_point) {
    if (error_)
        return error_;
    if (unsynced_bytes_ > 0 || dir_dirty_)
        return Sync();
    return std::nullopt;
}

void NdjsonDirSink::Close() {
    if (file_.valid()) {
        Sync();
        file_.Reset();
    }
}

void NdjsonDirSink::Reload(const Settings &settings) {
    SetRotation(settings.GetBytes("file_rotate_bytes"),
                settings.GetDuration("file_rotate_interval"));
}

void NdjsonDirSink::SetRotation(uint64_t bytes, std::chrono::milliseconds interval) {
    options_.rotate_bytes = bytes;
    options_.rotate_interval = interval;
}

}  // namespace snowcdc
