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
      client_(tokens, pipe),
      backoff_(options_.backoff),
      compressor_(options_.compression) {
    {
        std::lock_guard<std::mutex> lock(shared_.mutex);
        if (!shared_.poller) {
            StatusPollerOptions poller{options_.status_min_interval, options_.status_interval,
                                       options_.backoff};
            shared_.poller =
                std::make_unique<StatusPoller>(tokens, std::move(pipe), poller, shared_);
        }
    }
    // Not under shared_.mutex: the poller's lock comes before the channels' locks, and a
    // channel may take shared_.mutex under its own.
    shared_.poller->Add(this);
}

SnowpipeChannel::~SnowpipeChannel() {
    Stop();
    shared_.poller->Remove(this);
    std::lock_guard<std::mutex> lock(mutex_);
    size_t released = request_charge_;
    for (const QueuedRecord &record : records_) {
        released += Charge(record);
    }
    shared_.in_flight_bytes -= released;
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
    need_open_ = false;
    backoff_.Reset();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        request_records_ = 0;
        request_.body = std::string();
        shared_.in_flight_bytes -= request_charge_;
        request_charge_ = 0;
        ++generation_;
        if (committed && (!committed_ || *committed_ < *committed)) {
            committed_ = committed;
        }
        // What the token covers is committed (kept for late error reports); the rest of
        // what was appended is gone with the old session and goes out again.
        while (kept_ < records_.size() && committed_ && records_[kept_].pos <= *committed_) {
            ++kept_;
        }
        appended_ = kept_;
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

// The records' texts are copied into one segment, so a record costs its bytes plus a
// QueuedRecord rather than a string of its own.
void SnowpipeChannel::Enqueue(std::vector<PendingRecord> records) {
    ChannelSegment segment;
    size_t bytes = 0;
    for (const PendingRecord &record : records) {
        bytes += record.text.size() + 1;
    }
    segment.text.reserve(bytes);
    segment.records.reserve(records.size());
    for (const PendingRecord &record : records) {
        segment.records.push_back(QueuedRecord{record.pos, 0,
                                               static_cast<uint32_t>(segment.text.size()),
                                               static_cast<uint32_t>(record.text.size())});
        segment.text += record.text;
        segment.text += '\n';
    }
    records.clear();
    Enqueue(std::move(segment));
}

// The committed position only grows through appends of records already held, so a record
// above it now is above it at the push too. Records at or below it are not queued (their
// text stays in the segment until it goes, uncharged: that happens only on a replay).
void SnowpipeChannel::Enqueue(ChannelSegment segment) {
    std::optional<StreamPosition> committed = Committed();
    std::vector<QueuedRecord> &queued = segment.records;
    if (committed) {
        queued.erase(
            std::remove_if(queued.begin(), queued.end(),
                           [&](const QueuedRecord &record) { return record.pos <= *committed; }),
            queued.end());
    }
    if (queued.empty()) {
        return;
    }
    size_t charge = 0;
    for (const QueuedRecord &record : queued) {
        charge += Charge(record);
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        uint64_t sequence = first_segment_ + segments_.size();
        for (QueuedRecord &record : queued) {
            record.segment = sequence;
            records_.push_back(record);
        }
        segments_.push_back(std::move(segment.text));
        shared_.in_flight_bytes += charge;
    }
    wake_.notify_all();
}

std::optional<StreamPosition> SnowpipeChannel::FirstPending() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return kept_ < records_.size() ? std::optional<StreamPosition>(records_[kept_].pos)
                                   : std::nullopt;
}

bool SnowpipeChannel::WantsStatus(uint64_t *generation) const {
    std::lock_guard<std::mutex> lock(mutex_);
    *generation = generation_;
    return appended_ > 0;
}

void SnowpipeChannel::DeliverStatus(DeliveredStatus status) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        // A newer status supersedes an unhandled older one: tokens and counters only grow.
        delivered_ = std::move(status);
    }
    wake_.notify_all();
}

// A record's share of in_flight_bytes, from its Enqueue() until it is dropped: kept
// committed records are memory too, and a full in-flight window of them (all committed by
// one status) must not let the shipper read another window before they are gone.
size_t SnowpipeChannel::Charge(const QueuedRecord &record) {
    return record.length + size_t{1} + sizeof(QueuedRecord);
}

// With mutex_ held: drops the oldest record, and its segment after its last record.
void SnowpipeChannel::PopFront() {
    uint64_t segment = records_.front().segment;
    records_.pop_front();
    if (records_.empty() || records_.front().segment != segment) {
        segments_.pop_front();
        ++first_segment_;
    }
}

std::string_view SnowpipeChannel::Text(const QueuedRecord &record) const {
    return std::string_view(segments_[record.segment - first_segment_])
        .substr(record.offset, record.length);
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
        bool status = false;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_) {
                return;
            }
            unsent = appended_ < records_.size();
            status = delivered_.has_value();
        }
        Step step = Step::kContinue;
        if (need_open_) {
            step = Open();
        } else if (status) {
            step = HandleStatus();
        } else if (unsent) {
            step = AppendNext();
        } else {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [this] {
                return stopping_ || appended_ < records_.size() || delivered_.has_value();
            });
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

// Fills request_ from the first unsent records, up to the request size target. Records of
// one segment lie back to back with their '\n', so runs of them are copied at once.
bool SnowpipeChannel::BuildRequest() {
    std::string body;
    size_t count = 0;
    StreamPosition first;
    StreamPosition last;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        size_t limit = std::min(options_.request_target_bytes, options_.request_max_bytes);
        size_t bytes = 0;
        size_t end = appended_;
        for (; end < records_.size(); ++end) {
            size_t size = records_[end].length + size_t{1};
            if (end > appended_ && bytes + size > limit) {
                break;
            }
            bytes += size;
        }
        body.reserve(bytes);
        const char *run = nullptr;
        size_t run_size = 0;
        for (size_t i = appended_; i < end; ++i) {
            std::string_view text = Text(records_[i]);
            if (run != nullptr && run + run_size == text.data()) {
                run_size += text.size() + 1;
            } else {
                body.append(run == nullptr ? "" : run, run_size);
                run = text.data();
                run_size = text.size() + 1;
            }
        }
        body.append(run == nullptr ? "" : run, run_size);
        count = end - appended_;
        if (count > 0) {
            first = records_[appended_].pos;
            last = records_[end - 1].pos;
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
    request_.body = compressor_.Compress(body);
    // The size limit holds on the wire: a body that compression would not shrink goes plain.
    if (request_.compression != Compression::kNone && request_.body.size() >= body.size()) {
        request_.compression = Compression::kNone;
        request_.body = std::move(body);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    request_records_ = count;
    request_charge_ = request_.body.size();
    shared_.in_flight_bytes += request_charge_;
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
            {
                std::lock_guard<std::mutex> lock(mutex_);
                appended_ += request_records_;
                shared_.appended_records += request_records_;
                ++shared_.appends;
                continuation_ = answer.continuation_token;
                request_records_ = 0;
                request_.body = std::string();
                shared_.in_flight_bytes -= request_charge_;
                request_charge_ = 0;
                backoff_.Reset();
                unauthorized_streak_ = 0;
            }
            // Not under mutex_: the poller takes the channels' locks under its own.
            shared_.poller->PollSoon();
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

// A status the poller fetched. One from before the latest (re-)open is stale: what it
// says about the old session's appends is settled by that open's answer.
SnowpipeChannel::Step SnowpipeChannel::HandleStatus() {
    DeliveredStatus delivered;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        delivered = std::move(*delivered_);
        delivered_.reset();
        if (delivered.generation != generation_) {
            return Step::kContinue;
        }
    }
    const std::optional<ChannelStatus> &status = delivered.status;
    if (delivered.reopen || !status || !status->Usable()) {
        LogWarning("snowpipe channel invalid or gone; re-opening",
                   {{"channel", name_},
                    {"status", delivered.reopen ? "must be re-opened"
                               : !status        ? "absent"
                                                : status->status_code}});
        RequestReopen();
        return Step::kContinue;
    }
    if (HandleRowErrors(*status) == Step::kStop) {
        return Step::kStop;
    }
    DropKept();
    if (const auto &token = status->last_committed_offset_token) {
        std::optional<StreamPosition> pos = ParseOffsetToken(*token);
        if (!pos) {
            Fail("channel holds offset token '" + *token + "', which snowcdc did not write");
            return Step::kStop;
        }
        if (ApplyCommitted(*pos)) {
            // The next status lets the newly committed records go: ask for it soon.
            shared_.poller->PollSoon();
        }
    }
    WarnIfStalled(*status);
    return Step::kContinue;
}

// The records committed before the status just handled were candidates for its error
// count; now they are let go.
void SnowpipeChannel::DropKept() {
    size_t released = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (; kept_ > 0; --kept_, --appended_) {
            released += Charge(records_.front());
            PopFront();
        }
        shared_.in_flight_bytes -= released;
    }
    if (released > 0) {
        shared_.Notify();  // room for the shipper to read on
    }
}

// Commits usually follow appends within seconds; a minute without any says something is
// wrong on the Snowflake side (the shipper keeps the rows and keeps asking).
void SnowpipeChannel::WarnIfStalled(const ChannelStatus &status) {
    constexpr auto kStall = std::chrono::seconds(60);
    auto now = std::chrono::steady_clock::now();
    size_t waiting = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        waiting = appended_ - kept_;
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

// True when records became committed (they are kept until the next status).
bool SnowpipeChannel::ApplyCommitted(StreamPosition pos) {
    bool advanced = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (committed_ && pos <= *committed_) {
            return false;
        }
        committed_ = pos;
        last_commit_progress_ = std::chrono::steady_clock::now();
        for (; kept_ < appended_ && records_[kept_].pos <= pos; ++kept_) {
            advanced = true;
        }
    }
    shared_.Notify();
    return advanced;
}

// Snowflake counts rows it could not load without saying which: every record in the range
// the counter covers becomes a dead letter naming the count, so nothing vanishes unseen.
SnowpipeChannel::Step SnowpipeChannel::HandleRowErrors(const ChannelStatus &status) {
    if (seen_errors_ < 0 || status.rows_error_count <= seen_errors_) {
        return Step::kContinue;
    }
    int64_t rejected = status.rows_error_count - seen_errors_;
    seen_errors_ = status.rows_error_count;
    std::optional<StreamPosition> bound;
    if (status.last_error_offset_upper_bound) {
        bound = ParseOffsetToken(*status.last_error_offset_upper_bound);
    }
    std::vector<const QueuedRecord *> candidates;
    std::lock_guard<std::mutex> lock(mutex_);
    // Appended records: the committed ones kept since the previous status, and the rest.
    for (size_t i = 0; i < appended_; ++i) {
        const QueuedRecord &record = records_[i];
        if ((!bound || record.pos <= *bound) && (!error_bound_ || *error_bound_ < record.pos)) {
            candidates.push_back(&record);
        }
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
    for (const QueuedRecord *record : candidates) {
        // The text stays valid: the records are dropped only under mutex_, held here.
        letters.push_back(DeadLetter{name_, FormatOffsetToken(record->pos), reason, Text(*record)});
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
    // Counted once the letters are written, so whoever sees the count can read them.
    shared_.rejected_rows += static_cast<uint64_t>(rejected);
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
