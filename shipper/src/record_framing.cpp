// Record framing: a one-pass scanner over the top-level members of a record object.
// Nested values (after, before, key) are skipped by matching brackets outside strings.
#include "record_framing.hpp"

namespace snowcdc {

namespace {

// JSON's four whitespace characters, inline: std::isspace is a call per byte.
bool IsJsonSpace(char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

class Scanner {
  public:
    explicit Scanner(std::string_view text) : text_(text) {}

    bool AtEnd() { return SkipSpace(), pos_ >= text_.size(); }
    bool Consume(char c) {
        SkipSpace();
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    char Peek() { return SkipSpace(), pos_ < text_.size() ? text_[pos_] : '\0'; }

    // A string token; returns its contents without quotes (escapes kept).
    bool String(std::string_view *out) {
        if (!Consume('"'))
            return false;
        size_t start = pos_;
        while (pos_ < text_.size() && text_[pos_] != '"') {
            if (static_cast<unsigned char>(text_[pos_]) < 0x20)
                return false;
            pos_ += text_[pos_] == '\\' ? 2 : 1;
        }
        if (pos_ >= text_.size())
            return false;
        *out = text_.substr(start, pos_ - start);
        ++pos_;
        return true;
    }

    // Any value; returns its raw text.
    bool Value(std::string_view *out) {
        char c = Peek();
        size_t start = pos_;
        bool ok = c == '"' ? String(out) : (c == '{' || c == '[') ? Nested() : Scalar();
        if (ok)
            *out = text_.substr(start, pos_ - start);
        return ok;
    }

  private:
    void SkipSpace() {
        while (pos_ < text_.size() && IsJsonSpace(text_[pos_]))
            ++pos_;
    }
    bool Scalar() {
        size_t start = pos_;
        while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '}' &&
               text_[pos_] != ']' && !IsJsonSpace(text_[pos_]))
            ++pos_;
        return pos_ > start;
    }
    // An object or array: brackets matched, strings skipped whole.
    bool Nested() {
        int depth = 0;
        while (pos_ < text_.size()) {
            char c = text_[pos_];
            if (c == '"') {
                std::string_view ignored;
                if (!String(&ignored))
                    return false;
                continue;
            }
            ++pos_;
            if (c == '{' || c == '[')
                ++depth;
            else if ((c == '}' || c == ']') && --depth == 0)
                return true;
        }
        return false;
    }

    std::string_view text_;
    size_t pos_ = 0;
};

bool ParseUnsigned(std::string_view raw, uint64_t *out) {
    if (raw.empty() || raw.size() > 20)
        return false;
    uint64_t v = 0;
    for (char c : raw) {
        if (c < '0' || c > '9')
            return false;
        uint64_t next = v * 10 + static_cast<uint64_t>(c - '0');
        if (next / 10 != v)
            return false;
        v = next;
    }
    *out = v;
    return true;
}

bool ParseSigned(std::string_view raw, int64_t *out) {
    bool negative = !raw.empty() && raw[0] == '-';
    uint64_t magnitude = 0;
    if (!ParseUnsigned(negative ? raw.substr(1) : raw, &magnitude) || magnitude > INT64_MAX)
        return false;
    *out = negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
    return true;
}

bool SetOp(std::string_view op, FramedRecord *rec) {
    if (op == "begin") {
        rec->kind = RecordKind::kBegin;
        rec->op = 'B';
    } else if (op == "commit") {
        rec->kind = RecordKind::kCommit;
        rec->op = 'C';
    } else if (op.size() == 1 && std::string_view("cudtrm").find(op[0]) != std::string_view::npos) {
        rec->kind = op[0] == 'm' ? RecordKind::kMessage : RecordKind::kChange;
        rec->op = op[0];
    } else {
        return false;
    }
    return true;
}

// Stores one member; returns false when a known member has the wrong shape.
bool Store(std::string_view name, std::string_view raw, FramedRecord *rec, bool *has_op,
           bool *has_lsn) {
    auto unquote = [](std::string_view v) { return v.substr(1, v.size() - 2); };
    bool is_string = !raw.empty() && raw[0] == '"';
    uint64_t u = 0;
    if (name == "op")
        return is_string && (*has_op = SetOp(unquote(raw), rec));
    if (name == "lsn")
        return (*has_lsn = ParseUnsigned(raw, &rec->lsn));
    if (name == "end_lsn")
        return ParseUnsigned(raw, &rec->end_lsn);
    if (name == "seq") {
        if (!ParseUnsigned(raw, &u) || u > UINT32_MAX)
            return false;
        rec->seq = static_cast<uint32_t>(u);
        return rec->has_seq = true;
    }
    if (name == "xid")
        return ParseUnsigned(raw, &rec->xid);
    if (name == "ts")
        return ParseSigned(raw, &rec->ts);
    if (name == "transactional")
        return (rec->transactional = raw == "true") || raw == "false";
    if (name == "key")
        return !raw.empty() && raw[0] == '{' && (rec->key = raw, true);
    std::string_view *target = name == "schema"   ? &rec->schema
                               : name == "table"  ? &rec->table
                               : name == "prefix" ? &rec->prefix
                                                  : nullptr;
    if (target != nullptr)
        return is_string && (*target = unquote(raw), true);
    return true;
}

}  // namespace

uint64_t FramedRecord::RouteHash() const {
    // FNV-1a over schema, table and key, separated so that ("ab","c") != ("a","bc").
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](std::string_view part) {
        for (unsigned char c : part) {
            h ^= c;
            h *= 1099511628211ull;
        }
        h ^= 0xff;
        h *= 1099511628211ull;
    };
    mix(schema);
    mix(table);
    mix(key);
    return h;
}

std::optional<FramedRecord> FrameRecord(std::string_view text, std::string *error) {
    FramedRecord rec;
    Scanner scan(text);
    bool has_op = false;
    bool has_lsn = false;
    auto fail = [&](const std::string &what) {
        *error = what;
        return std::nullopt;
    };
    if (!scan.Consume('{'))
        return fail("record is not a JSON object");
    bool first = true;
    while (!scan.Consume('}')) {
        if (scan.AtEnd())
            return fail("record is truncated (no closing brace)");
        if (!first && !scan.Consume(','))
            return fail("record is not well-formed JSON (expected ',' or '}')");
        first = false;
        std::string_view name, raw;
        if (!scan.String(&name) || !scan.Consume(':') || !scan.Value(&raw))
            return fail("record is not well-formed JSON (truncated or bad member)");
        if (!Store(name, raw, &rec, &has_op, &has_lsn))
            return fail("record member \"" + std::string(name) + "\" has an unexpected value");
    }
    if (!scan.AtEnd())
        return fail("text after the record's closing brace");
    if (!has_op || !has_lsn)
        return fail("record lacks \"op\" or \"lsn\" (not a snowcdc v1 record?)");
    if (rec.kind == RecordKind::kChange && (!rec.has_seq || rec.table.empty()))
        return fail("change record lacks \"seq\" or \"table\"");
    if (rec.kind == RecordKind::kCommit && rec.end_lsn == 0)
        return fail("commit record lacks \"end_lsn\"");
    return rec;
}

}  // namespace snowcdc
