// One Snowpipe Streaming channel: append, commit tracking, re-open and replay.
#include "snowpipe/snowpipe_channel.hpp"

#include <algorithm>

#include "log.hpp"

namespace snowcdc::snowpipe {

void SinkShared::Notify() {
    std::lock_guard<std::mutex> lock(mutex);
    ++version;
    changed.notify_all();
}

void SinkShared::Fail(std::string message) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!fatal) {
        fatal = SinkError{std::move(message)};
    }
    ++version;
    changed.notify_all();
}

SnowpipeChannel::SnowpipeChannel(std::string name, TokenSource &tokens, PipeAddress pipe,
                                 ChannelOptions options, SinkShared &shared)
    : name_(std::move(name)),
      options_(std::move(options)),
      shared_(shared),
      client_(tokens, std::move(pipe)),
      backoff_(options_.backoff) {}

SnowpipeChannel::~SnowpipeChannel() {
    Stop();
}

void SnowpipeChannel::Fail(const std::string &what) {
    LogError("snowpipe channel failed", {{"channel", name_}, {"error", what}});
    shared_.Fail("snowpipe channel " + name_ + " of pipe " + client_.Pipe().Qualified() + ": " +
                 what);
}

std::optional<std::string> SnowpipeChannel::OpenNow(int attempts) {
    std::string request_id = NewRequestId();
    for (int attempt = 1;; ++attempt) {
        OpenAnswer answer;
        CallResult result = client_.OpenChannel(name_, request_id, &answer);
        if (result.Ok() && answer.status.Usable()) {
            if (std::optional<std::string> error = ApplyOpenAnswer(answer)) {
                return error;
            }
            if (HandleRowErrors(answer.status) == Step::kStop) {
                std::lock_guard<std::mutex> lock(shared_.mutex);
                return shared_.fatal ? shared_.fatal->message : "rejected rows";
            }
            return std::nullopt;
        }
        if (result.outcome == Outcome::kFatal || attempt >= attempts) {
            return "cannot open channel " + name_ + ": " + result.Describe();
        }
        LogWarning("snowpipe channel open failed, retrying",
                   {{"channel", name_}, {"error", result.Describe()}});
        std::this_thread::sleep_for(backoff_.NextDelay());
    }
}

// Records the committed token of a fresh open and drops what it covers; everything above
// it is unconfirmed and goes out again from the first record.
std::optional<std::string> SnowpipeChannel::ApplyOpenAnswer(const OpenAnswer &answer) {
    std::optional<StreamPosition> committed;
    if (const auto &token = answer.status.last_committed_offset_token) {
        committed = ParseOffsetToken(*token);
        if (!committed) {
            return "channel " + name_ + " holds offset token '" + *token +
                   "', which snowcdc did not write: another writer uses this channel; set "
                   "SNOWCDC_SNOWPIPE_CHANNEL_PREFIX to a prefix of its own";
        }
    }
    if (seen_errors_ < 0) {
        // Rejections the previous run did not handle are reported by HandleRowErrors();
        // a count below the mark means the channel was re-created with fresh counters.
        std::optional<int64_t> mark = shared_.dead_letter_writer->ErrorMark(name_);
        seen_errors_ = std::min(mark.value_or(0), answer.status.rows_error_count);
    }
    continuation_ = answer.continuation_token;
    session_.clear();
    request_records_ = 0;
    need_open_ = false;
    backoff_.Reset();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        sent_ = 0;
        if (committed && (!committed_ || *committed_ < *committed)) {
            committed_ = committed;
        }
        size_t released = 0;
        while (!records_.empty() && committed_ && records_.front().pos <= *committed_) {
            released += records_.front().text.size() + 1;
            records_.pop_front();
        }
        shared_.in_flight_bytes -= released;
    }
    shared_.Notify();
    return std::nullopt;
}

std::optional<StreamPosition> SnowpipeChannel::Committed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return committed_;
}

void SnowpipeChannel::Start() {
    thread_ = std::thread([this] { Run(); });
}

void SnowpipeChannel::Stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void SnowpipeChannel::Enqueue(std::vector<PendingRecord> records) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (PendingRecord &record : records) {
            if (committed_ && record.pos <= *committed_) {
                continue;
            }
            shared_.in_flight_bytes += record.text.size() + 1;
            records_.push_back(std::move(record));
        }
    }
    wake_.notify_all();
}

std::optional<StreamPosition> SnowpipeChannel::FirstPending() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_.empty() ? std::nullopt : std::optional<StreamPosition>(records_.front().pos);
}

bool SnowpipeChannel::WaitBackoff(std::chrono::milliseconds delay) {
    std::unique_lock<std::mutex> lock(mutex_);
    return !wake_.wait_for(lock, delay, [this] { return stopping_; });
}

// One request id per re-open, reused by its retries.
void SnowpipeChannel::RequestReopen() {
    need_open_ = true;
    open_request_id_ = NewRequestId();
}

void SnowpipeChannel::Run() {
    while (true) {
        bool unsent = false;
        bool unconfirmed = false;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_) {
                return;
            }
            unsent = sent_ < records_.size();
            unconfirmed = sent_ > 0;
        }
        Step step = Step::kContinue;
        if (need_open_) {
            step = Open();
        } else if (unconfirmed && std::chrono::steady_clock::now() >= next_status_) {
            step = PollStatus();
        } else if (unsent) {
            step = AppendNext();
        } else {
            std::unique_lock<std::mutex> lock(mutex_);
            auto ready = [this] { return stopping_ || sent_ < records_.size(); };
            if (unconfirmed) {
                wake_.wait_until(lock, next_status_, ready);
            } else {
                wake_.wait(lock, ready);
            }
        }
        if (step == Step::kStop) {
            return;
        }
    }
}

// Credentials refused this many times in a row (each time after a fresh exchange) is not a
// race with token expiry any more but a configuration problem.
constexpr int kUnauthorizedLimit = 5;

SnowpipeChannel::Step SnowpipeChannel::Setback(const CallResult &result, const char *what) {
    bool refused = result.outcome == Outcome::kRefreshToken;
    if (result.outcome == Outcome::kFatal ||
        (refused && ++unauthorized_streak_ >= kUnauthorizedLimit)) {
        Fail(std::string(what) + " failed: " + result.Describe());
        return Step::kStop;
    }
    ++shared_.retries;
    LogWarning(std::string("snowpipe ") + what + " failed, retrying",
               {{"channel", name_}, {"error", result.Describe()}});
    return WaitBackoff(backoff_.NextDelay()) ? Step::kContinue : Step::kStop;
}

SnowpipeChannel::Step SnowpipeChannel::Open() {
    OpenAnswer answer;
    CallResult result = client_.OpenChannel(name_, open_request_id_, &answer);
    if (result.Ok() && !answer.status.Usable()) {
        result.outcome = Outcome::kRetry;
        result.detail = "channel status " + answer.status.status_code + " right after open";
    }
    if (!result.Ok()) {
        return Setback(result, "channel re-open");
    }
    unauthorized_streak_ = 0;
    if (std::optional<std::string> error = ApplyOpenAnswer(answer)) {
        Fail(*error);
        return Step::kStop;
    }
    if (HandleRowErrors(answer.status) == Step::kStop) {
        return Step::kStop;
    }
    ++shared_.reopens;
    LogInfo("snowpipe channel re-opened; replaying unconfirmed records",
            {{"channel", name_},
             {"committed", answer.status.last_committed_offset_token.value_or("none")}});
    return Step::kContinue;
}

// Fills request_ from the first unsent records, up to the request size limit.
bool SnowpipeChannel::BuildRequest() {
    std::string body;
    size_t count = 0;
    StreamPosition first;
    StreamPosition last;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (size_t i = sent_; i < records_.size(); ++i) {
            const PendingRecord &record = records_[i];
            if (count > 0 && body.size() + record.text.size() + 1 > options_.request_max_bytes) {
                break;
            }
            if (count == 0) {
                first = record.pos;
            }
            last = record.pos;
            body += record.text;
            body += '\n';
            ++count;
        }
    }
    if (count == 0) {
        return false;
    }
    request_.channel = name_;
    request_.start_offset_token = FormatOffsetToken(first);
    request_.end_offset_token = FormatOffsetToken(last);
    request_.request_id = NewRequestId();
    request_.uncompressed_size = body.size();
    request_.compression = options_.compression;
    request_.body = Compress(options_.compression, body);
    // The size limit holds on the wire: a body that compression would not shrink goes plain.
    if (request_.compression != Compression::kNone && request_.body.size() >= body.size()) {
        request_.compression = Compression::kNone;
        request_.body = std::move(body);
    }
    request_records_ = count;
    return true;
}

SnowpipeChannel::Step SnowpipeChannel::AppendNext() {
    if (request_records_ == 0 && !BuildRequest()) {
        return Step::kContinue;
    }
    request_.continuation_token = continuation_;
    request_.session = session_;
    AppendAnswer answer;
    CallResult result = client_.Append(request_, &answer, &session_);
    switch (result.outcome) {
        case Outcome::kSuccess: {
            std::lock_guard<std::mutex> lock(mutex_);
            sent_ += request_records_;
            shared_.appended_records += request_records_;
            ++shared_.appends;
            continuation_ = answer.continuation_token;
            request_records_ = 0;
            backoff_.Reset();
            unauthorized_streak_ = 0;
            if (next_status_ < std::chrono::steady_clock::now()) {
                next_status_ = std::chrono::steady_clock::now() + options_.status_interval;
            }
            return Step::kContinue;
        }
        case Outcome::kRetry:
        case Outcome::kRefreshToken:
            // The next attempt reuses request_ and so its request id.
            return Setback(result, "append");
        case Outcome::kUnknownOutcome:
        case Outcome::kReopen:
            // The rows may or may not be in the channel: only a re-open (which discards what
            // is not committed and tells what is) makes the replay exactly-once.
            LogWarning("snowpipe append outcome unknown or channel invalid; re-opening",
                       {{"channel", name_}, {"error", result.Describe()}});
            RequestReopen();
            return Step::kContinue;
        case Outcome::kFatal:
            break;
    }
    return Setback(result, "append");
}

SnowpipeChannel::Step SnowpipeChannel::PollStatus() {
    std::map<std::string, ChannelStatus> statuses;
    CallResult result = client_.BulkStatus({name_}, NewRequestId(), &statuses);
    next_status_ = std::chrono::steady_clock::now() + options_.status_interval;
    if (result.outcome == Outcome::kReopen) {
        RequestReopen();
        return Step::kContinue;
    }
    if (!result.Ok()) {
        return Setback(result, "channel status");
    }
    unauthorized_streak_ = 0;
    auto found = statuses.find(name_);
    if (found == statuses.end() || !found->second.Usable()) {
        LogWarning("snowpipe channel invalid or gone; re-opening",
                   {{"channel", name_},
                    {"status", found == statuses.end() ? "absent" : found->second.status_code}});
        RequestReopen();
        return Step::kContinue;
    }
    if (HandleRowErrors(found->second) == Step::kStop) {
        return Step::kStop;
    }
    recently_committed_.clear();
    if (const auto &token = found->second.last_committed_offset_token) {
        std::optional<StreamPosition> pos = ParseOffsetToken(*token);
        if (!pos) {
            Fail("channel holds offset token '" + *token + "', which snowcdc did not write");
            return Step::kStop;
        }
        ApplyCommitted(*pos);
    }
    WarnIfStalled(found->second);
    return Step::kContinue;
}

// Commits usually follow appends within seconds; a minute without any says something is
// wrong on the Snowflake side (the shipper keeps the rows and keeps asking).
void SnowpipeChannel::WarnIfStalled(const ChannelStatus &status) {
    constexpr auto kStall = std::chrono::seconds(60);
    auto now = std::chrono::steady_clock::now();
    size_t waiting = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        waiting = sent_;
    }
    if (waiting == 0 || last_commit_progress_ == std::chrono::steady_clock::time_point{}) {
        last_commit_progress_ = now;
        return;
    }
    if (now - last_commit_progress_ >= kStall) {
        LogWarning("snowpipe channel: appended rows not committed for a minute",
                   {{"channel", name_},
                    {"records", waiting},
                    {"committed", status.last_committed_offset_token.value_or("none")},
                    {"status", status.status_code}});
        last_commit_progress_ = now;
    }
}

void SnowpipeChannel::ApplyCommitted(StreamPosition pos) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (committed_ && pos <= *committed_) {
            return;
        }
        committed_ = pos;
        last_commit_progress_ = std::chrono::steady_clock::now();
        size_t released = 0;
        while (sent_ > 0 && records_.front().pos <= pos) {
            released += records_.front().text.size() + 1;
            recently_committed_.push_back(std::move(records_.front()));
            records_.pop_front();
            --sent_;
        }
        shared_.in_flight_bytes -= released;
    }
    shared_.Notify();
}

// Snowflake counts rows it could not load without saying which: every record in the range
// the counter covers becomes a dead letter naming the count, so nothing vanishes unseen.
SnowpipeChannel::Step SnowpipeChannel::HandleRowErrors(const ChannelStatus &status) {
    if (seen_errors_ < 0 || status.rows_error_count <= seen_errors_) {
        return Step::kContinue;
    }
    int64_t rejected = status.rows_error_count - seen_errors_;
    seen_errors_ = status.rows_error_count;
    shared_.rejected_rows += static_cast<uint64_t>(rejected);
    std::optional<StreamPosition> bound;
    if (status.last_error_offset_upper_bound) {
        bound = ParseOffsetToken(*status.last_error_offset_upper_bound);
    }
    std::vector<const PendingRecord *> candidates;
    std::lock_guard<std::mutex> lock(mutex_);
    auto consider = [&](const PendingRecord &record) {
        if ((!bound || record.pos <= *bound) && (!error_bound_ || *error_bound_ < record.pos)) {
            candidates.push_back(&record);
        }
    };
    for (const PendingRecord &record : recently_committed_) {
        consider(record);
    }
    for (size_t i = 0; i < sent_; ++i) {
        consider(records_[i]);
    }
    if (bound) {
        error_bound_ = bound;
    }
    std::string reason = "Snowflake rejected " + std::to_string(rejected) + " row(s) of " +
                         std::to_string(candidates.size()) + " candidate record(s) up to " +
                         status.last_error_offset_upper_bound.value_or("an unknown offset") + ": " +
                         status.last_error_message;
    LogError("snowpipe rows rejected", {{"channel", name_},
                                        {"rows", rejected},
                                        {"candidates", candidates.size()},
                                        {"message", status.last_error_message}});
    std::vector<DeadLetter> letters;
    for (const PendingRecord *record : candidates) {
        letters.push_back(DeadLetter{name_, FormatOffsetToken(record->pos), reason, record->text});
    }
    if (letters.empty()) {
        // Counted before this run saw the records (they were committed before a restart):
        // the count and the message are all that is left, and they are kept too.
        letters.push_back(DeadLetter{name_, status.last_error_offset_upper_bound.value_or(""),
                                     reason + " (records no longer known to this run)", ""});
    }
    for (const DeadLetter &letter : letters) {
        if (std::optional<std::string> error = shared_.dead_letter_writer->Write(letter)) {
            Fail(reason + "; and the record cannot be kept: " + *error);
            return Step::kStop;
        }
        ++shared_.dead_letters;
    }
    if (std::optional<std::string> error =
            shared_.dead_letter_writer->SetErrorMark(name_, seen_errors_)) {
        Fail(*error);
        return Step::kStop;
    }
    if (options_.on_reject == OnReject::kStop) {
        Fail(reason + "; candidates written to " + shared_.dead_letter_writer->Path() +
             "; fix the pipe or table, or set SNOWCDC_SNOWPIPE_ON_REJECT=skip to continue");
        return Step::kStop;
    }
    return Step::kContinue;
}

}  // namespace snowcdc::snowpipe
