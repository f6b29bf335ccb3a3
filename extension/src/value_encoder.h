/*
 * value_encoder.h
 *		Encodes one Postgres datum as a JSON value by the value table of cdc-record-v1.
 *
 * Every column's type is resolved once to a TypeEncoder (cached per process by type
 * OID): domains become their base type, the hot types get a hand-written formatter that
 * ignores DateStyle, TimeZone, IntervalStyle, extra_float_digits and lc_*, and
 * everything else goes through the type's output function as a JSON string.
 */
#ifndef SNOWCDC_VALUE_ENCODER_H
#define SNOWCDC_VALUE_ENCODER_H

#include "pg_headers.h"
#include "row_encoder.h"

namespace snowcdc {

/* How a base type is written. */
enum class ValueKind : uint8 {
    kBool,
    kInt2,
    kInt4,
    kInt8,
    kOid,
    kFloat4,
    kFloat8,
    kNumeric,
    kText,  /* text, varchar, bpchar: the characters as a JSON string */
    kName,  /* name: NUL-terminated fixed-size characters */
    kJson,  /* json: embedded, insignificant whitespace removed */
    kJsonb, /* jsonb: embedded, insignificant whitespace removed */
    kBytea, /* lowercase hex digits */
    kDate,
    kTimestamp,
    kTimestampTz,
    kTime,
    kTimeTz,
    kInterval,
    kMoney,
    kUuid,      /* as uuid_out prints it: lowercase hex, 8-4-4-4-12 */
    kArray,     /* JSON array of the element encoder's values */
    kComposite, /* JSON object of the attributes */
    kOther,     /* the type's output function as a JSON string (enums, uuid, inet, ...) */
};

/* The resolved output strategy of one type; lives in the per-process snowcdc cache. */
struct TypeEncoder {
    Oid type_id;          /* hash key: the type as declared, domains included */
    bool valid;           /* set last: an ERROR while building leaves the entry unbuilt */
    ValueKind kind;       /* strategy of the base type */
    FmgrInfo output_fn;   /* kOther: the base type's output function */
    TypeEncoder *element; /* kArray: encoder of the element type */
    Oid element_type;     /* kArray: element type OID, for deconstruct_array */
    int16 element_len;    /* kArray: element typlen */
    bool element_byval;   /* kArray: element typbyval */
    char element_align;   /* kArray: element typalign */
};

/* The memory context that holds the process-lifetime caches (type and relation). */
MemoryContext CacheContext();

/* Returns the encoder of `type_id`, building it on first use. */
TypeEncoder *LookupTypeEncoder(Oid type_id);

/* Appends `value` (not NULL) of the encoder's type as one JSON value. */
void AppendJsonValue(StringInfo out, const TypeEncoder *encoder, Datum value,
                     const SnowcdcEncoderOptions *opts);

/*
 * Appends `text` (`len` bytes in the server encoding) as a quoted JSON string, converted
 * to UTF-8 when the database encoding is not UTF-8.
 */
void AppendJsonString(StringInfo out, const char *text, int len);

/* Appends the bytes of `text`, already UTF-8, as a quoted JSON string. */
void AppendJsonEscapedUtf8(StringInfo out, const char *text, int len);

/* Appends a decimal integer. */
void AppendInt64(StringInfo out, int64 value);
void AppendUint64(StringInfo out, uint64 value);

/*
 * Appends `len` bytes, as appendBinaryStringInfo does, with the room check inline: when
 * the buffer has room (nearly always), the copy is the only work.
 */
inline void AppendBytes(StringInfo out, const char *bytes, int len) {
    if (unlikely(out->maxlen - out->len <= len))
        enlargeStringInfo(out, len);
    memcpy(out->data + out->len, bytes, len);
    out->len += len;
    out->data[out->len] = '\0';
}

/* Appends a string literal of known length. */
template <int N>
inline void AppendLiteral(StringInfo out, const char (&literal)[N]) {
    AppendBytes(out, literal, N - 1);
}

}  // namespace snowcdc

#endif /* SNOWCDC_VALUE_ENCODER_H */
