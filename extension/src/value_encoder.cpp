/*
 * value_encoder.cpp
 *		Datum to JSON value formatting for every row of cdc-record-v1's value table.
 *
 * Hot types are formatted by hand straight into the output StringInfo so that no
 * session setting (DateStyle, TimeZone, IntervalStyle, extra_float_digits, lc_*)
 * changes a byte of the output. Dates and times are decomposed with the server's own
 * calendar functions (j2date, timestamp2tm, time2tm, interval2itm), floats use the
 * server's shortest round-trip formatter, numerics the exact digits of numeric_out.
 */
#include "value_encoder.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace snowcdc {
namespace {

/* Room for any 64-bit integer in decimal. */
constexpr int kMaxDigits = 32;

/* Process-lifetime cache of type encoders, by type OID. */
HTAB *type_encoders = nullptr;

/* Lowercase hex digits for bytea. */
const char kHexDigits[] = "0123456789abcdef";

/*
 * The session settings that change the text of built-in output functions (date and
 * timestamp ranges, geometric types, user types built on them), saved while an output
 * function runs under fixed ones.
 */
struct OutputSettings {
    int date_style;         /* DateStyle */
    int date_order;         /* DateOrder, the DMY/MDY/YMD part of DateStyle */
    int interval_style;     /* IntervalStyle */
    int extra_float_digits; /* extra_float_digits */
    pg_tz *time_zone;       /* session_timezone, the TimeZone setting */
};

/* UTC, loaded once; a fixed zero offset when the time zone database has no UTC. */
pg_tz *UtcZone() {
    static pg_tz *utc = nullptr;
    if (utc == nullptr) {
        utc = pg_tzset("UTC");
        if (utc == nullptr)
            utc = pg_tzset_offset(0);
    }
    return utc;
}

/* Switches to ISO dates, postgres intervals, shortest floats and UTC; returns the old ones. */
OutputSettings PinOutputSettings() {
    OutputSettings saved = {DateStyle, DateOrder, IntervalStyle, extra_float_digits,
                            session_timezone};
    pg_tz *utc = UtcZone();
    DateStyle = USE_ISO_DATES;
    DateOrder = DATEORDER_YMD;
    IntervalStyle = INTSTYLE_POSTGRES;
    extra_float_digits = 1;
    session_timezone = utc;
    return saved;
}

void RestoreOutputSettings(const OutputSettings *saved) {
    DateStyle = saved->date_style;
    DateOrder = saved->date_order;
    IntervalStyle = saved->interval_style;
    extra_float_digits = saved->extra_float_digits;
    session_timezone = saved->time_zone;
}

/* Bytes scanned at once for characters a JSON string must escape. */
constexpr int kWordBytes = sizeof(uint64);

/*
 * True when one of the kWordBytes bytes at `bytes` is below 0x20, '"' or '\\' (the bytes
 * AppendJsonEscapedUtf8 escapes). Each test is the "has a byte less than n" word trick:
 * it can misreport which byte matched, never whether one did. Bytes >= 0x80 never match.
 */
inline bool WordNeedsEscape(const char *bytes) {
    constexpr uint64 kOnes = UINT64CONST(0x0101010101010101);
    constexpr uint64 kHighBits = UINT64CONST(0x8080808080808080);
    uint64 word;
    memcpy(&word, bytes, sizeof(word));
    uint64 quote = word ^ (kOnes * '"');
    uint64 backslash = word ^ (kOnes * '\\');
    uint64 control = (word - kOnes * 0x20) & ~word;
    uint64 is_quote = (quote - kOnes) & ~quote;
    uint64 is_backslash = (backslash - kOnes) & ~backslash;
    return ((control | is_quote | is_backslash) & kHighBits) != 0;
}

/* True when `c` is one of the bytes a JSON string must escape (see WordNeedsEscape). */
inline bool ByteNeedsEscape(unsigned char c) {
    return c < 0x20 || c == '"' || c == '\\';
}

/*
 * Index of the first byte at or after `start` that needs escaping, or `len`. Scans 16
 * bytes at a time with SSE2 where the compiler targets it, then 8 with WordNeedsEscape,
 * then the last few one by one.
 */
int NextByteToEscape(const char *text, int start, int len) {
    int i = start;
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i max_control = _mm_set1_epi8(0x1f);
    for (; i + 16 <= len; i += 16) {
        __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i *>(text + i));
        /* unsigned: max(byte, 0x1f) == 0x1f exactly when byte <= 0x1f */
        __m128i is_control = _mm_cmpeq_epi8(_mm_max_epu8(chunk, max_control), max_control);
        __m128i hits = _mm_or_si128(is_control, _mm_or_si128(_mm_cmpeq_epi8(chunk, quote),
                                                             _mm_cmpeq_epi8(chunk, backslash)));
        int mask = _mm_movemask_epi8(hits);
        if (mask != 0)
            return i + __builtin_ctz(static_cast<unsigned>(mask));
    }
#endif
    while (i + kWordBytes <= len && !WordNeedsEscape(text + i))
        i += kWordBytes;
    for (; i < len; i++)
        if (ByteNeedsEscape(static_cast<unsigned char>(text[i])))
            return i;
    return len;
}

void AppendChar(StringInfo out, char c) {
    appendStringInfoCharMacro(out, c);
}

/* Appends `value` in decimal, zero-padded to at least `width` digits (value >= 0). */
void AppendPadded(StringInfo out, int64 value, int width) {
    char digits[kMaxDigits];
    int len = pg_ulltoa_n(static_cast<uint64>(value), digits);
    for (int i = len; i < width; i++)
        AppendChar(out, '0');
    AppendBytes(out, digits, len);
}

/* uuid as a JSON string, byte for byte what uuid_out prints: lowercase hex, 8-4-4-4-12. */
void AppendUuid(StringInfo out, const pg_uuid_t *uuid) {
    char text[1 + 2 * UUID_LEN + 4 + 1];
    int len = 0;
    text[len++] = '"';
    for (int i = 0; i < UUID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            text[len++] = '-';
        text[len++] = kHexDigits[uuid->data[i] >> 4];
        text[len++] = kHexDigits[uuid->data[i] & 0xF];
    }
    text[len++] = '"';
    AppendBytes(out, text, len);
}

/* Appends `value` (0..99: a month, day, hour, minute or second) as exactly two digits. */
void AppendTwoDigits(StringInfo out, int value) {
    Assert(value >= 0 && value <= 99);
    char digits[2] = {static_cast<char>('0' + value / 10), static_cast<char>('0' + value % 10)};
    AppendBytes(out, digits, 2);
}

/* Appends ".ffffff" with trailing zeros trimmed; nothing when `usec` is zero. */
void AppendFraction(StringInfo out, int64 usec) {
    if (usec == 0)
        return;
    char digits[7];
    int64 rest = usec;
    for (int i = 5; i >= 0; i--) {
        digits[i] = static_cast<char>('0' + rest % 10);
        rest /= 10;
    }
    int len = 6;
    while (len > 0 && digits[len - 1] == '0')
        len--;
    AppendChar(out, '.');
    AppendBytes(out, digits, len);
}

/* Astronomical year (0 = 1 BC, -43 = 44 BC), at least four digits, signed when negative. */
void AppendYear(StringInfo out, int year) {
    if (year >= 1000 && year <= 9999) {
        /* the common case: exactly four digits */
        char digits[4] = {
            static_cast<char>('0' + year / 1000), static_cast<char>('0' + year / 100 % 10),
            static_cast<char>('0' + year / 10 % 10), static_cast<char>('0' + year % 10)};
        AppendBytes(out, digits, 4);
    } else if (year < 0) {
        AppendChar(out, '-');
        AppendPadded(out, -static_cast<int64>(year), 4);
    } else {
        AppendPadded(out, year, 4);
    }
}

void AppendDateParts(StringInfo out, int year, int month, int day) {
    AppendYear(out, year);
    AppendChar(out, '-');
    AppendTwoDigits(out, month);
    AppendChar(out, '-');
    AppendTwoDigits(out, day);
}

void AppendTimeParts(StringInfo out, int hour, int minute, int second, int64 usec) {
    AppendTwoDigits(out, hour);
    AppendChar(out, ':');
    AppendTwoDigits(out, minute);
    AppendChar(out, ':');
    AppendTwoDigits(out, second);
    AppendFraction(out, usec);
}

void AppendInfinity(StringInfo out, bool negative) {
    if (negative)
        AppendLiteral(out, "\"-infinity\"");
    else
        AppendLiteral(out, "\"infinity\"");
}

void AppendDate(StringInfo out, DateADT date) {
    if (DATE_NOT_FINITE(date)) {
        AppendInfinity(out, DATE_IS_NOBEGIN(date));
        return;
    }
    int year, month, day;
    j2date(date + POSTGRES_EPOCH_JDATE, &year, &month, &day);
    AppendChar(out, '"');
    AppendDateParts(out, year, month, day);
    AppendChar(out, '"');
}

/* timestamp and timestamptz: without a time zone pointer timestamp2tm stays in UTC. */
void AppendTimestamp(StringInfo out, Timestamp ts, bool utc_suffix) {
    if (TIMESTAMP_NOT_FINITE(ts)) {
        AppendInfinity(out, TIMESTAMP_IS_NOBEGIN(ts));
        return;
    }
    struct pg_tm tm;
    fsec_t fsec;
    if (timestamp2tm(ts, nullptr, &tm, &fsec, nullptr, nullptr) != 0)
        ereport(ERROR,
                (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
    AppendChar(out, '"');
    AppendDateParts(out, tm.tm_year, tm.tm_mon, tm.tm_mday);
    AppendChar(out, 'T');
    AppendTimeParts(out, tm.tm_hour, tm.tm_min, tm.tm_sec, fsec);
    if (utc_suffix)
        AppendChar(out, 'Z');
    AppendChar(out, '"');
}

void AppendTime(StringInfo out, TimeADT time) {
    struct pg_tm tm;
    fsec_t fsec;
    time2tm(time, &tm, &fsec);
    AppendChar(out, '"');
    AppendTimeParts(out, tm.tm_hour, tm.tm_min, tm.tm_sec, fsec);
    AppendChar(out, '"');
}

/* timetz: local time then the offset east of UTC, +HH:MM[:SS]. */
void AppendTimeTz(StringInfo out, TimeTzADT *time) {
    struct pg_tm tm;
    fsec_t fsec;
    int zone_west;
    timetz2tm(time, &tm, &fsec, &zone_west);
    AppendChar(out, '"');
    AppendTimeParts(out, tm.tm_hour, tm.tm_min, tm.tm_sec, fsec);
    int offset = -zone_west;
    AppendChar(out, offset < 0 ? '-' : '+');
    if (offset < 0)
        offset = -offset;
    AppendPadded(out, offset / SECS_PER_HOUR, 2);
    AppendChar(out, ':');
    AppendPadded(out, (offset / SECS_PER_MINUTE) % MINS_PER_HOUR, 2);
    if (offset % SECS_PER_MINUTE != 0) {
        AppendChar(out, ':');
        AppendPadded(out, offset % SECS_PER_MINUTE, 2);
    }
    AppendChar(out, '"');
}

/* One "<n><unit>" part of an ISO 8601 duration; nothing when zero. */
void AppendDurationPart(StringInfo out, int64 value, char unit) {
    if (value == 0)
        return;
    AppendInt64(out, value);
    AppendChar(out, unit);
}

/*
 * interval as an ISO 8601 duration, each part with its own sign as Postgres's
 * IntervalStyle iso_8601 prints it: P1Y2M3DT4H5M6.5S, P-1Y-2M3D, PT0S for zero.
 */
void AppendInterval(StringInfo out, Interval *interval) {
    struct pg_itm itm;
    interval2itm(*interval, &itm);
    bool has_time = itm.tm_hour != 0 || itm.tm_min != 0 || itm.tm_sec != 0 || itm.tm_usec != 0;
    if (itm.tm_year == 0 && itm.tm_mon == 0 && itm.tm_mday == 0 && !has_time) {
        AppendLiteral(out, "\"PT0S\"");
        return;
    }
    AppendLiteral(out, "\"P");
    AppendDurationPart(out, itm.tm_year, 'Y');
    AppendDurationPart(out, itm.tm_mon, 'M');
    AppendDurationPart(out, itm.tm_mday, 'D');
    if (has_time) {
        AppendChar(out, 'T');
        AppendDurationPart(out, itm.tm_hour, 'H');
        AppendDurationPart(out, itm.tm_min, 'M');
        if (itm.tm_sec != 0 || itm.tm_usec != 0) {
            if (itm.tm_sec < 0 || itm.tm_usec < 0)
                AppendChar(out, '-');
            AppendInt64(out, itm.tm_sec < 0 ? -static_cast<int64>(itm.tm_sec) : itm.tm_sec);
            AppendFraction(out, itm.tm_usec < 0 ? -static_cast<int64>(itm.tm_usec) : itm.tm_usec);
            AppendChar(out, 'S');
        }
    }
    AppendLiteral(out, "\"");
}

/*
 * money: the stored int64 counts units of 10^-frac_digits of lc_monetary's currency
 * (cash_out's rule: frac_digits outside 0..10 means 2). Written as the exact decimal
 * number of currency units, never with currency symbols or grouping.
 */
void AppendMoney(StringInfo out, Cash cash) {
    struct lconv *conv = PGLC_localeconv();
    int points = conv->frac_digits;
    if (points < 0 || points > 10)
        points = 2;
    uint64 magnitude = cash < 0 ? -static_cast<uint64>(cash) : static_cast<uint64>(cash);
    uint64 scale = 1;
    for (int i = 0; i < points; i++)
        scale *= 10;
    if (cash < 0)
        AppendChar(out, '-');
    AppendUint64(out, magnitude / scale);
    if (points > 0) {
        AppendChar(out, '.');
        AppendPadded(out, static_cast<int64>(magnitude % scale), points);
    }
}

void AppendFloat8(StringInfo out, float8 value) {
    if (isnan(value)) {
        AppendLiteral(out, "\"NaN\"");
    } else if (isinf(value)) {
        if (value < 0)
            AppendLiteral(out, "\"-Infinity\"");
        else
            AppendLiteral(out, "\"Infinity\"");
    } else {
        char digits[DOUBLE_SHORTEST_DECIMAL_LEN];
        int len = double_to_shortest_decimal_bufn(value, digits);
        AppendBytes(out, digits, len);
    }
}

void AppendFloat4(StringInfo out, float4 value) {
    if (isnan(value) || isinf(value)) {
        AppendFloat8(out, value);
        return;
    }
    char digits[FLOAT_SHORTEST_DECIMAL_LEN];
    int len = float_to_shortest_decimal_bufn(value, digits);
    AppendBytes(out, digits, len);
}

/*
 * numeric's stored form, which pg_upgrade carries unchanged from release to release: after the
 * varlena header a 16-bit word whose top two bits say positive (00), negative (01), short (10)
 * or special (11: NaN and the infinities). A short header also holds the sign, the display
 * scale and the weight; a long one holds the display scale and is followed by a signed 16-bit
 * weight. Then the base-10000 digits, int16 each, most significant first, without leading or
 * trailing zero digits; the weight is the power of 10000 of the first.
 */
constexpr uint16 kNumericSignMask = 0xC000;
constexpr uint16 kNumericNegative = 0x4000;
constexpr uint16 kNumericShort = 0x8000;
constexpr uint16 kNumericSpecial = 0xC000;
constexpr uint16 kNumericShortNegative = 0x2000;
constexpr uint16 kNumericShortScaleMask = 0x1F80;
constexpr int kNumericShortScaleShift = 7;
constexpr uint16 kNumericShortWeightNegative = 0x0040;
constexpr uint16 kNumericShortWeightMask = 0x003F;
constexpr uint16 kNumericLongScaleMask = 0x3FFF;
constexpr int kDecimalDigitsPerDigit = 4;

/* Writes `digit` (0..9999) as exactly four decimal digits at `dest`. */
inline void FourDigits(char *dest, int digit) {
    dest[0] = static_cast<char>('0' + digit / 1000);
    dest[1] = static_cast<char>('0' + digit / 100 % 10);
    dest[2] = static_cast<char>('0' + digit / 10 % 10);
    dest[3] = static_cast<char>('0' + digit % 10);
}

/*
 * A finite numeric in plain decimal, byte for byte what numeric_out prints: a '-' when
 * negative, the integer part without leading zeros ("0" when below one), then when the display
 * scale is positive '.' and exactly that many fraction digits (zeros past the stored digits).
 * `data` and `len` are the value after its varlena header, `header` its first 16-bit word.
 */
void AppendFiniteNumeric(StringInfo out, const char *data, int len, uint16 header) {
    bool negative;
    int scale;
    int weight;
    int header_len;
    if ((header & kNumericSignMask) == kNumericShort) {
        negative = (header & kNumericShortNegative) != 0;
        scale = (header & kNumericShortScaleMask) >> kNumericShortScaleShift;
        int magnitude = header & kNumericShortWeightMask;
        weight = (header & kNumericShortWeightNegative) != 0 ? magnitude - 64 : magnitude;
        header_len = sizeof(uint16);
    } else {
        negative = (header & kNumericSignMask) == kNumericNegative;
        scale = header & kNumericLongScaleMask;
        int16 stored_weight;
        memcpy(&stored_weight, data + sizeof(uint16), sizeof(stored_weight));
        weight = stored_weight;
        header_len = sizeof(uint16) + sizeof(int16);
    }
    const char *digits = data + header_len; /* may be unaligned: read with memcpy */
    int ndigits = (len - header_len) / static_cast<int>(sizeof(int16));
    auto digit_at = [&](int index) -> int {
        if (index < 0 || index >= ndigits)
            return 0;
        int16 digit;
        memcpy(&digit, digits + index * sizeof(int16), sizeof(digit));
        return digit;
    };
    int integer_groups = weight < 0 ? 1 : weight + 1;
    enlargeStringInfo(
        out, 1 + integer_groups * kDecimalDigitsPerDigit + 1 + scale + kDecimalDigitsPerDigit);
    char *end = out->data + out->len;
    if (negative)
        *end++ = '-';
    int index;
    if (weight < 0) {
        *end++ = '0';
        index = weight + 1;
    } else {
        /* the first group without its leading zeros, but at least one digit */
        char group[kDecimalDigitsPerDigit];
        FourDigits(group, digit_at(0));
        int skip = 0;
        while (skip < kDecimalDigitsPerDigit - 1 && group[skip] == '0')
            skip++;
        memcpy(end, group + skip, kDecimalDigitsPerDigit - skip);
        end += kDecimalDigitsPerDigit - skip;
        for (index = 1; index <= weight; index++, end += kDecimalDigitsPerDigit)
            FourDigits(end, digit_at(index));
    }
    if (scale > 0) {
        *end++ = '.';
        /* whole groups, then the end is cut back to exactly `scale` fraction digits */
        char *fraction_end = end + scale;
        for (; end < fraction_end; index++, end += kDecimalDigitsPerDigit)
            FourDigits(end, digit_at(index));
        end = fraction_end;
    }
    *end = '\0';
    out->len = static_cast<int>(end - out->data);
}

/*
 * numeric as a JSON number (a string with numeric_as_string), read from its stored form
 * rather than through numeric_out; NaN and the infinities, which JSON numbers cannot hold,
 * as the strings numeric_out prints.
 */
void AppendNumeric(StringInfo out, Datum value, const SnowcdcEncoderOptions *opts) {
    struct varlena *stored =
        pg_detoast_datum_packed(reinterpret_cast<struct varlena *>(DatumGetPointer(value)));
    const char *data = VARDATA_ANY(stored);
    uint16 header;
    memcpy(&header, data, sizeof(header));
    if ((header & kNumericSignMask) == kNumericSpecial) {
        AppendChar(out, '"');
        appendStringInfoString(out, DatumGetCString(DirectFunctionCall1(numeric_out, value)));
        AppendChar(out, '"');
        return;
    }
    if (opts->numeric_as_string)
        AppendChar(out, '"');
    AppendFiniteNumeric(out, data, VARSIZE_ANY_EXHDR(stored), header);
    if (opts->numeric_as_string)
        AppendChar(out, '"');
}

void AppendBytea(StringInfo out, Datum value) {
    bytea *bytes = DatumGetByteaPP(value);
    const unsigned char *data = reinterpret_cast<const unsigned char *>(VARDATA_ANY(bytes));
    int len = VARSIZE_ANY_EXHDR(bytes);
    enlargeStringInfo(out, 2 * len + 2);
    char *dst = out->data + out->len;
    *dst++ = '"';
    for (int i = 0; i < len; i++) {
        *dst++ = kHexDigits[data[i] >> 4];
        *dst++ = kHexDigits[data[i] & 0xF];
    }
    *dst++ = '"';
    out->len += 2 * len + 2;
    out->data[out->len] = '\0';
}

/*
 * Server-encoding text to UTF-8: returns `text` itself when no conversion is needed,
 * else a palloc'd converted copy, and sets *out_len. A SQL_ASCII database has no encoding
 * to convert from: its text is taken as UTF-8 when it is, and refused when it is not.
 */
const char *ToUtf8(const char *text, int len, int *out_len) {
    *out_len = len;
    int encoding = GetDatabaseEncoding();
    if (encoding == PG_UTF8)
        return text;
    if (encoding == PG_SQL_ASCII) {
        if (!pg_verify_mbstr(PG_UTF8, text, len, true))
            ereport(ERROR,
                    (errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
                     errmsg("text in this SQL_ASCII database is not valid UTF-8"),
                     errdetail("Records are UTF-8, and a SQL_ASCII database keeps bytes without "
                               "saying what encoding they are in."),
                     errhint("Correct the value to UTF-8, or leave its table out with the "
                             "exclude-tables option. A database in encoding UTF8 avoids this.")));
        return text;
    }
    char *converted = pg_server_to_any(text, len, PG_UTF8);
    if (converted != text)
        *out_len = static_cast<int>(strlen(converted));
    return converted;
}

/*
 * json and jsonb text embedded with insignificant whitespace removed, so that a record
 * stays on one line (NDJSON framing). Whitespace inside strings is kept: Postgres's
 * JSON parser only accepts control characters there escaped.
 */
void AppendCompactJson(StringInfo out, const char *text, int len) {
    int utf8_len;
    const char *utf8 = ToUtf8(text, len, &utf8_len);
    enlargeStringInfo(out, utf8_len);
    bool in_string = false;
    bool escaped = false;
    for (int i = 0; i < utf8_len; i++) {
        char c = utf8[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        } else if (c == '"') {
            in_string = true;
        }
        out->data[out->len++] = c;
    }
    out->data[out->len] = '\0';
}

/* A scalar inside a jsonb value, as JsonbToCString prints it. */
void AppendJsonbScalar(StringInfo out, const JsonbValue *scalar) {
    switch (scalar->type) {
        case jbvNull:
            AppendLiteral(out, "null");
            break;
        case jbvBool:
            if (scalar->val.boolean)
                AppendLiteral(out, "true");
            else
                AppendLiteral(out, "false");
            break;
        case jbvString:
            AppendJsonString(out, scalar->val.string.val, scalar->val.string.len);
            break;
        case jbvNumeric:
            appendStringInfoString(out, DatumGetCString(DirectFunctionCall1(
                                            numeric_out, NumericGetDatum(scalar->val.numeric))));
            break;
        default:
            elog(ERROR, "unexpected jsonb scalar type %d", static_cast<int>(scalar->type));
    }
}

/*
 * jsonb walked token by token and written without insignificant whitespace: the same text
 * as JsonbToCString's output compacted (strings escaped as escape_json does, numbers as
 * numeric_out prints them), without building that text first. A raw scalar (a jsonb that
 * is just a string, number, boolean or null) is stored as a one-element array and written
 * as the scalar alone.
 */
void AppendJsonb(StringInfo out, Datum value) {
    Jsonb *jsonb = DatumGetJsonbP(value);
    JsonbIterator *it = JsonbIteratorInit(&jsonb->root);
    JsonbValue token_value;
    JsonbIteratorToken token;
    bool need_comma = false; /* a value was written in the current container */
    bool raw_scalar = false; /* the root array is a raw scalar's wrapper */
    int depth = 0;
    while ((token = JsonbIteratorNext(&it, &token_value, false)) != WJB_DONE) {
        switch (token) {
            case WJB_BEGIN_ARRAY:
                if (depth++ == 0 && token_value.val.array.rawScalar) {
                    raw_scalar = true;
                    break;
                }
                if (need_comma)
                    AppendChar(out, ',');
                AppendChar(out, '[');
                need_comma = false;
                break;
            case WJB_BEGIN_OBJECT:
                depth++;
                if (need_comma)
                    AppendChar(out, ',');
                AppendChar(out, '{');
                need_comma = false;
                break;
            case WJB_KEY:
                if (need_comma)
                    AppendChar(out, ',');
                AppendJsonbScalar(out, &token_value);
                AppendChar(out, ':');
                need_comma = false;
                break;
            case WJB_VALUE:
            case WJB_ELEM:
                if (need_comma)
                    AppendChar(out, ',');
                AppendJsonbScalar(out, &token_value);
                need_comma = true;
                break;
            case WJB_END_ARRAY:
                if (--depth > 0 || !raw_scalar)
                    AppendChar(out, ']');
                need_comma = true;
                break;
            case WJB_END_OBJECT:
                depth--;
                AppendChar(out, '}');
                need_comma = true;
                break;
            case WJB_DONE:
                break;
        }
    }
}

void AppendArrayLevel(StringInfo out, const TypeEncoder *element, int ndim, const int *dims,
                      const Datum *values, const bool *nulls, int *next,
                      const SnowcdcEncoderOptions *opts) {
    AppendChar(out, '[');
    for (int i = 0; i < dims[0]; i++) {
        if (i > 0)
            AppendChar(out, ',');
        if (ndim > 1) {
            AppendArrayLevel(out, element, ndim - 1, dims + 1, values, nulls, next, opts);
        } else {
            int index = (*next)++;
            if (nulls[index])
                AppendLiteral(out, "null");
            else
                AppendJsonValue(out, element, values[index], opts);
        }
    }
    AppendChar(out, ']');
}

/* Arrays nest one JSON array per dimension; lower bounds are not kept. */
void AppendArray(StringInfo out, const TypeEncoder *encoder, Datum value,
                 const SnowcdcEncoderOptions *opts) {
    ArrayType *array = DatumGetArrayTypeP(value);
    int ndim = ARR_NDIM(array);
    if (ndim == 0) {
        AppendLiteral(out, "[]");
        return;
    }
    Datum *values;
    bool *nulls;
    int count;
    deconstruct_array(array, encoder->element_type, encoder->element_len, encoder->element_byval,
                      encoder->element_align, &values, &nulls, &count);
    int next = 0;
    AppendArrayLevel(out, encoder->element, ndim, ARR_DIMS(array), values, nulls, &next, opts);
}

/* Composite values as an object of their live attributes, in attribute order. */
void AppendComposite(StringInfo out, Datum value, const SnowcdcEncoderOptions *opts) {
    HeapTupleHeader header = DatumGetHeapTupleHeader(value);
    TupleDesc desc =
        lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(header), HeapTupleHeaderGetTypMod(header));
    HeapTupleData tuple;
    tuple.t_len = HeapTupleHeaderGetDatumLength(header);
    ItemPointerSetInvalid(&tuple.t_self);
    tuple.t_tableOid = InvalidOid;
    tuple.t_data = header;
    Datum *values = static_cast<Datum *>(palloc(desc->natts * sizeof(Datum)));
    bool *nulls = static_cast<bool *>(palloc(desc->natts * sizeof(bool)));
    heap_deform_tuple(&tuple, desc, values, nulls);
    AppendChar(out, '{');
    bool first = true;
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped)
            continue;
        if (!first)
            AppendChar(out, ',');
        first = false;
        const char *name = NameStr(att->attname);
        AppendJsonString(out, name, static_cast<int>(strlen(name)));
        AppendChar(out, ':');
        if (nulls[i])
            AppendLiteral(out, "null");
        else
            AppendJsonValue(out, LookupTypeEncoder(att->atttypid), values[i], opts);
    }
    AppendChar(out, '}');
    ReleaseTupleDesc(desc);
}

/*
 * The type's text output, produced under fixed settings (PinOutputSettings) so that no
 * session setting changes it; the session's own settings are back even when it fails.
 */
void AppendViaOutputFunction(StringInfo out, const TypeEncoder *encoder, Datum value) {
    OutputSettings saved = PinOutputSettings();
    char *text = nullptr;
    PG_TRY();
    { text = OutputFunctionCall(const_cast<FmgrInfo *>(&encoder->output_fn), value); }
    PG_FINALLY();
    { RestoreOutputSettings(&saved); }
    PG_END_TRY();
    AppendJsonString(out, text, static_cast<int>(strlen(text)));
}

ValueKind KindOfBuiltin(Oid base_type, bool *found) {
    *found = true;
    switch (base_type) {
        case BOOLOID:
            return ValueKind::kBool;
        case INT2OID:
            return ValueKind::kInt2;
        case INT4OID:
            return ValueKind::kInt4;
        case INT8OID:
            return ValueKind::kInt8;
        case OIDOID:
            return ValueKind::kOid;
        case FLOAT4OID:
            return ValueKind::kFloat4;
        case FLOAT8OID:
            return ValueKind::kFloat8;
        case NUMERICOID:
            return ValueKind::kNumeric;
        case TEXTOID:
        case VARCHAROID:
        case BPCHAROID:
            return ValueKind::kText;
        case NAMEOID:
            return ValueKind::kName;
        case JSONOID:
            return ValueKind::kJson;
        case JSONBOID:
            return ValueKind::kJsonb;
        case BYTEAOID:
            return ValueKind::kBytea;
        case DATEOID:
            return ValueKind::kDate;
        case TIMESTAMPOID:
            return ValueKind::kTimestamp;
        case TIMESTAMPTZOID:
            return ValueKind::kTimestampTz;
        case TIMEOID:
            return ValueKind::kTime;
        case TIMETZOID:
            return ValueKind::kTimeTz;
        case INTERVALOID:
            return ValueKind::kInterval;
        case CASHOID:
            return ValueKind::kMoney;
        case UUIDOID:
            return ValueKind::kUuid;
        default:
            *found = false;
            return ValueKind::kOther;
    }
}

/* Resolves domains, arrays, composites and output functions for one type. */
void BuildTypeEncoder(TypeEncoder *encoder) {
    int32 typmod = -1;
    Oid base_type = getBaseTypeAndTypmod(encoder->type_id, &typmod);
    bool builtin;
    encoder->kind = KindOfBuiltin(base_type, &builtin);
    encoder->element = nullptr;
    if (builtin)
        return;
    Oid element_type = get_element_type(base_type);
    if (OidIsValid(element_type)) {
        encoder->kind = ValueKind::kArray;
        encoder->element_type = element_type;
        get_typlenbyvalalign(element_type, &encoder->element_len, &encoder->element_byval,
                             &encoder->element_align);
        encoder->element = LookupTypeEncoder(element_type);
    } else if (type_is_rowtype(base_type)) {
        encoder->kind = ValueKind::kComposite;
    } else {
        Oid output_fn;
        bool is_varlena;
        getTypeOutputInfo(base_type, &output_fn, &is_varlena);
        fmgr_info_cxt(output_fn, &encoder->output_fn, CacheContext());
    }
}

}  // namespace

MemoryContext CacheContext() {
    static MemoryContext context = nullptr;
    if (context == nullptr)
        context = AllocSetContextCreate(TopMemoryContext, "snowcdc cache", ALLOCSET_DEFAULT_SIZES);
    return context;
}

TypeEncoder *LookupTypeEncoder(Oid type_id) {
    if (type_encoders == nullptr) {
        HASHCTL info;
        info.keysize = sizeof(Oid);
        info.entrysize = sizeof(TypeEncoder);
        info.hcxt = CacheContext();
        type_encoders =
            hash_create("snowcdc type encoders", 64, &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
    bool found;
    TypeEncoder *encoder =
        static_cast<TypeEncoder *>(hash_search(type_encoders, &type_id, HASH_ENTER, &found));
    if (!found)
        encoder->valid = false;
    if (!encoder->valid) {
        BuildTypeEncoder(encoder);
        encoder->valid = true;
    }
    return encoder;
}

/* The digits are written straight into the buffer, after one room check. */
void AppendInt64(StringInfo out, int64 value) {
    if (unlikely(out->maxlen - out->len <= kMaxDigits))
        enlargeStringInfo(out, kMaxDigits);
    out->len += pg_lltoa(value, out->data + out->len);
    out->data[out->len] = '\0';
}

void AppendUint64(StringInfo out, uint64 value) {
    if (unlikely(out->maxlen - out->len <= kMaxDigits))
        enlargeStringInfo(out, kMaxDigits);
    out->len += pg_ulltoa_n(value, out->data + out->len);
    out->data[out->len] = '\0';
}

void AppendJsonEscapedUtf8(StringInfo out, const char *text, int len) {
    AppendChar(out, '"');
    /* clean stretches are found many bytes at a time and copied in one append */
    int run_start = 0;
    for (int i = NextByteToEscape(text, 0, len); i < len;
         i = NextByteToEscape(text, run_start, len)) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        AppendBytes(out, text + run_start, i - run_start);
        run_start = i + 1;
        switch (c) {
            case '"':
                AppendLiteral(out, "\\\"");
                break;
            case '\\':
                AppendLiteral(out, "\\\\");
                break;
            case '\b':
                AppendLiteral(out, "\\b");
                break;
            case '\f':
                AppendLiteral(out, "\\f");
                break;
            case '\n':
                AppendLiteral(out, "\\n");
                break;
            case '\r':
                AppendLiteral(out, "\\r");
                break;
            case '\t':
                AppendLiteral(out, "\\t");
                break;
            default: {
                char escape[6] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 0xF]};
                AppendBytes(out, escape, sizeof(escape));
            }
        }
    }
    AppendBytes(out, text + run_start, len - run_start);
    AppendChar(out, '"');
}

void AppendJsonString(StringInfo out, const char *text, int len) {
    int utf8_len;
    const char *utf8 = ToUtf8(text, len, &utf8_len);
    AppendJsonEscapedUtf8(out, utf8, utf8_len);
}

void AppendJsonValue(StringInfo out, const TypeEncoder *encoder, Datum value,
                     const SnowcdcEncoderOptions *opts) {
    switch (encoder->kind) {
        case ValueKind::kBool:
            if (DatumGetBool(value))
                AppendLiteral(out, "true");
            else
                AppendLiteral(out, "false");
            break;
        case ValueKind::kInt2:
            AppendInt64(out, DatumGetInt16(value));
            break;
        case ValueKind::kInt4:
            AppendInt64(out, DatumGetInt32(value));
            break;
        case ValueKind::kInt8:
            AppendInt64(out, DatumGetInt64(value));
            break;
        case ValueKind::kOid:
            AppendUint64(out, DatumGetObjectId(value));
            break;
        case ValueKind::kFloat4:
            AppendFloat4(out, DatumGetFloat4(value));
            break;
        case ValueKind::kFloat8:
            AppendFloat8(out, DatumGetFloat8(value));
            break;
        case ValueKind::kNumeric:
            AppendNumeric(out, value, opts);
            break;
        case ValueKind::kText: {
            text *chars = DatumGetTextPP(value);
            AppendJsonString(out, VARDATA_ANY(chars), VARSIZE_ANY_EXHDR(chars));
            break;
        }
        case ValueKind::kName: {
            const char *name = NameStr(*DatumGetName(value));
            AppendJsonString(out, name, static_cast<int>(strlen(name)));
            break;
        }
        case ValueKind::kJson: {
            text *chars = DatumGetTextPP(value);
            AppendCompactJson(out, VARDATA_ANY(chars), VARSIZE_ANY_EXHDR(chars));
            break;
        }
        case ValueKind::kJsonb:
            AppendJsonb(out, value);
            break;
        case ValueKind::kBytea:
            AppendBytea(out, value);
            break;
        case ValueKind::kDate:
            AppendDate(out, DatumGetDateADT(value));
            break;
        case ValueKind::kTimestamp:
            AppendTimestamp(out, DatumGetTimestamp(value), false);
            break;
        case ValueKind::kTimestampTz:
            AppendTimestamp(out, DatumGetTimestampTz(value), true);
            break;
        case ValueKind::kTime:
            AppendTime(out, DatumGetTimeADT(value));
            break;
        case ValueKind::kTimeTz:
            AppendTimeTz(out, DatumGetTimeTzADTP(value));
            break;
        case ValueKind::kInterval:
            AppendInterval(out, DatumGetIntervalP(value));
            break;
        case ValueKind::kMoney:
            AppendMoney(out, DatumGetCash(value));
            break;
        case ValueKind::kUuid:
            AppendUuid(out, DatumGetUUIDP(value));
            break;
        case ValueKind::kArray:
            AppendArray(out, encoder, value, opts);
            break;
        case ValueKind::kComposite:
            AppendComposite(out, value, opts);
            break;
        case ValueKind::kOther:
            AppendViaOutputFunction(out, encoder, value);
            break;
    }
}

}  // namespace snowcdc
