/**
 * A bounded JSON reader for the messages the bridge sends a device (broker/topics.ts PaymentMessage and
 * ActionSetMessage). It reads one flat object in place: the fields asked for are copied into fixed
 * buffers, everything else is checked for syntax and skipped. No heap, no recursion deeper than
 * JSON_MAX_DEPTH, nothing read past `len` (the payload need not be NUL-terminated).
 */
#ifndef PW_JSON_H
#define PW_JSON_H

#include <stddef.h>
#include <stdint.h>
#include "pw_config.h"

namespace pw {

/** Nesting allowed inside skipped values (an unknown field holding an object of objects...). */
const uint8_t JSON_MAX_DEPTH = 8;

enum class JsonError : uint8_t {
  None,
  Empty,      // no payload at all
  TooLarge,   // longer than PW_JSON_MAX
  Syntax,     // not JSON (or a \u0000, or text after the object)
  Depth,      // nested deeper than JSON_MAX_DEPTH
  NotObject,  // valid JSON, but not an object
  Duplicate,  // a wanted field appears twice
  Missing,    // a required field is absent
  Type,       // a wanted field has the wrong JSON type (or a number that is not a whole number)
  Range,      // a number above its maximum, an empty id, an unknown enum value
  TooLong,    // a string longer than its buffer
};

/** A short lowercase name for logs and error reports (`syntax`, `too_long`, ...). */
const char* json_error_name(JsonError error);

struct JsonField {
  enum Kind : uint8_t { String, Uint };
  const char* name;
  Kind kind;
  bool required;
  /** String: the buffer (cap includes the NUL) and whether "" is refused. */
  char* str;
  size_t str_cap;
  bool nonempty;
  /** Uint: the destination and the largest value accepted. */
  uint64_t* num;
  uint64_t max;
  /** Set by the reader. */
  bool seen;
};

JsonField json_string(const char* name, char* dest, size_t cap, bool required, bool nonempty);
JsonField json_uint(const char* name, uint64_t* dest, uint64_t max, bool required);

/** Read one JSON object, filling the fields asked for. Unknown fields are skipped (their syntax still checked). */
JsonError json_read_object(const char* json, size_t len, JsonField* fields, size_t count);

enum class Rail : uint8_t { Lightning, X402 };

/** bridge → device on `…/payment`. */
struct PaymentMessage {
  char payment_id[PW_ID_MAX + 1];
  char asset_id[PW_SEGMENT_MAX + 1];
  uint64_t amount_sats;
  Rail rail;
  uint32_t duration_ms;
  char paid_at[40];
};

/** bridge → device on `…/action/set` (a manual trigger: the "test vend" button). */
struct ActionSetMessage {
  char trigger_id[PW_ID_MAX + 1];
  uint32_t duration_ms;
  char reason[65];
};

JsonError parse_payment(const char* json, size_t len, PaymentMessage& out);
JsonError parse_action_set(const char* json, size_t len, ActionSetMessage& out);

/**
 * Write `s` as a JSON string (quotes included) into out[*pos..cap), escaping `"`, `\` and control
 * characters. Returns false (and leaves *pos) when it does not fit.
 */
bool json_put_string(char* out, size_t cap, size_t* pos, const char* s);

}  // namespace pw

#endif
