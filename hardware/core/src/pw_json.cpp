/** The bounded JSON reader (RFC 8259 grammar) and the payment / trigger message parsers. */
#include "pw_json.h"

#include <string.h>

namespace pw {

const char* json_error_name(JsonError error) {
  switch (error) {
    case JsonError::None: return "none";
    case JsonError::Empty: return "empty";
    case JsonError::TooLarge: return "too_large";
    case JsonError::Syntax: return "syntax";
    case JsonError::Depth: return "depth";
    case JsonError::NotObject: return "not_object";
    case JsonError::Duplicate: return "duplicate";
    case JsonError::Missing: return "missing";
    case JsonError::Type: return "type";
    case JsonError::Range: return "range";
    case JsonError::TooLong: return "too_long";
  }
  return "unknown";
}

JsonField json_string(const char* name, char* dest, size_t cap, bool required, bool nonempty) {
  JsonField f;
  f.name = name;
  f.kind = JsonField::String;
  f.required = required;
  f.str = dest;
  f.str_cap = cap;
  f.nonempty = nonempty;
  f.num = nullptr;
  f.max = 0;
  f.seen = false;
  return f;
}

JsonField json_uint(const char* name, uint64_t* dest, uint64_t max, bool required) {
  JsonField f;
  f.name = name;
  f.kind = JsonField::Uint;
  f.required = required;
  f.str = nullptr;
  f.str_cap = 0;
  f.nonempty = false;
  f.num = dest;
  f.max = max;
  f.seen = false;
  return f;
}

namespace {

struct Cursor {
  const char* p;
  const char* end;
  bool at_end() const { return p >= end; }
  char peek() const { return p < end ? *p : '\0'; }
  void ws() {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  }
  bool eat(char c) {
    if (p < end && *p == c) {
      p++;
      return true;
    }
    return false;
  }
  bool literal(const char* word) {
    size_t n = strlen(word);
    if (static_cast<size_t>(end - p) < n || memcmp(p, word, n) != 0) return false;
    p += n;
    return true;
  }
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool read_hex4(Cursor& c, uint32_t* out) {
  if (c.end - c.p < 4) return false;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hex_value(c.p[i]);
    if (h < 0) return false;
    v = (v << 4) | static_cast<uint32_t>(h);
  }
  c.p += 4;
  *out = v;
  return true;
}

/** Append a byte to dest when there is room; remember the overflow otherwise. */
struct Sink {
  char* dest;
  size_t cap;
  size_t len;
  bool overflow;
  void put(char ch) {
    if (dest != nullptr && len + 1 < cap) {
      dest[len] = ch;
    } else {
      overflow = true;
    }
    len++;
  }
  void finish() {
    if (dest != nullptr && cap > 0) dest[len < cap ? len : cap - 1] = '\0';
  }
};

void put_utf8(Sink& s, uint32_t cp) {
  if (cp < 0x80) {
    s.put(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.put(static_cast<char>(0xC0 | (cp >> 6)));
    s.put(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.put(static_cast<char>(0xE0 | (cp >> 12)));
    s.put(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.put(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.put(static_cast<char>(0xF0 | (cp >> 18)));
    s.put(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.put(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.put(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

/** A string at the cursor (opening quote included), decoded into the sink. */
JsonError read_string(Cursor& c, Sink& s) {
  if (!c.eat('"')) return JsonError::Syntax;
  while (true) {
    if (c.at_end()) return JsonError::Syntax;
    unsigned char ch = static_cast<unsigned char>(*c.p++);
    if (ch == '"') break;
    if (ch < 0x20) return JsonError::Syntax;
    if (ch != '\\') {
      s.put(static_cast<char>(ch));
      continue;
    }
    if (c.at_end()) return JsonError::Syntax;
    char e = *c.p++;
    switch (e) {
      case '"': s.put('"'); break;
      case '\\': s.put('\\'); break;
      case '/': s.put('/'); break;
      case 'b': s.put('\b'); break;
      case 'f': s.put('\f'); break;
      case 'n': s.put('\n'); break;
      case 'r': s.put('\r'); break;
      case 't': s.put('\t'); break;
      case 'u': {
        uint32_t cp = 0;
        if (!read_hex4(c, &cp) || cp == 0) return JsonError::Syntax;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo = 0;
          if (!c.eat('\\') || !c.eat('u') || !read_hex4(c, &lo) || lo < 0xDC00 || lo > 0xDFFF) return JsonError::Syntax;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return JsonError::Syntax;
        }
        put_utf8(s, cp);
        break;
      }
      default: return JsonError::Syntax;
    }
  }
  s.finish();
  return JsonError::None;
}

/** A number at the cursor. `whole` says whether it was a plain non-negative integer, its value in *value (saturated). */
JsonError read_number(Cursor& c, bool* whole, uint64_t* value) {
  bool negative = c.eat('-');
  *whole = !negative;
  *value = 0;
  bool saturated = false;
  if (c.eat('0')) {
    // a leading zero stands alone
  } else if (c.peek() >= '1' && c.peek() <= '9') {
    while (c.peek() >= '0' && c.peek() <= '9') {
      uint64_t digit = static_cast<uint64_t>(*c.p++ - '0');
      if (*value > (UINT64_MAX - digit) / 10) saturated = true;
      if (!saturated) *value = *value * 10 + digit;
    }
  } else {
    return JsonError::Syntax;
  }
  if (c.eat('.')) {
    *whole = false;
    if (!(c.peek() >= '0' && c.peek() <= '9')) return JsonError::Syntax;
    while (c.peek() >= '0' && c.peek() <= '9') c.p++;
  }
  if (c.peek() == 'e' || c.peek() == 'E') {
    c.p++;
    *whole = false;
    if (c.peek() == '+' || c.peek() == '-') c.p++;
    if (!(c.peek() >= '0' && c.peek() <= '9')) return JsonError::Syntax;
    while (c.peek() >= '0' && c.peek() <= '9') c.p++;
  }
  if (saturated) *value = UINT64_MAX;
  return JsonError::None;
}

JsonError skip_value(Cursor& c, uint8_t depth);

JsonError skip_container(Cursor& c, uint8_t depth, char close, bool object) {
  if (depth >= JSON_MAX_DEPTH) return JsonError::Depth;
  c.p++;  // the opening bracket
  c.ws();
  if (c.eat(close)) return JsonError::None;
  while (true) {
    c.ws();
    if (object) {
      Sink none = {nullptr, 0, 0, false};
      JsonError e = read_string(c, none);
      if (e != JsonError::None) return e;
      c.ws();
      if (!c.eat(':')) return JsonError::Syntax;
      c.ws();
    }
    JsonError e = skip_value(c, static_cast<uint8_t>(depth + 1));
    if (e != JsonError::None) return e;
    c.ws();
    if (c.eat(close)) return JsonError::None;
    if (!c.eat(',')) return JsonError::Syntax;
  }
}

JsonError skip_value(Cursor& c, uint8_t depth) {
  switch (c.peek()) {
    case '{': return skip_container(c, depth, '}', true);
    case '[': return skip_container(c, depth, ']', false);
    case '"': {
      Sink none = {nullptr, 0, 0, false};
      return read_string(c, none);
    }
    case 't': return c.literal("true") ? JsonError::None : JsonError::Syntax;
    case 'f': return c.literal("false") ? JsonError::None : JsonError::Syntax;
    case 'n': return c.literal("null") ? JsonError::None : JsonError::Syntax;
    default: {
      bool whole = false;
      uint64_t v = 0;
      return read_number(c, &whole, &v);
    }
  }
}

/** The first error wins, but a syntax error found later outranks a type problem found earlier. */
JsonError read_field(Cursor& c, JsonField& f) {
  if (f.kind == JsonField::String) {
    if (c.peek() != '"') {
      JsonError e = skip_value(c, 1);
      return e != JsonError::None ? e : JsonError::Type;
    }
    Sink s = {f.str, f.str_cap, 0, false};
    JsonError e = read_string(c, s);
    if (e != JsonError::None) return e;
    if (s.overflow) return JsonError::TooLong;
    if (f.nonempty && s.len == 0) return JsonError::Range;
    return JsonError::None;
  }
  char p = c.peek();
  if (!(p == '-' || (p >= '0' && p <= '9'))) {
    JsonError e = skip_value(c, 1);
    return e != JsonError::None ? e : JsonError::Type;
  }
  bool whole = false;
  uint64_t v = 0;
  JsonError e = read_number(c, &whole, &v);
  if (e != JsonError::None) return e;
  if (!whole) return JsonError::Type;
  if (v > f.max) return JsonError::Range;
  *f.num = v;
  return JsonError::None;
}

}  // namespace

JsonError json_read_object(const char* json, size_t len, JsonField* fields, size_t count) {
  for (size_t i = 0; i < count; i++) fields[i].seen = false;
  if (json == nullptr || len == 0) return JsonError::Empty;
  if (len > PW_JSON_MAX) return JsonError::TooLarge;
  Cursor c = {json, json + len};
  c.ws();
  if (c.at_end()) return JsonError::Empty;
  if (c.peek() != '{') {
    JsonError e = skip_value(c, 0);
    if (e != JsonError::None) return e;
    c.ws();
    return c.at_end() ? JsonError::NotObject : JsonError::Syntax;
  }
  c.p++;
  JsonError problem = JsonError::None;
  c.ws();
  if (!c.eat('}')) {
    while (true) {
      c.ws();
      char key[33];
      Sink k = {key, sizeof key, 0, false};
      JsonError e = read_string(c, k);
      if (e != JsonError::None) return e;
      c.ws();
      if (!c.eat(':')) return JsonError::Syntax;
      c.ws();
      JsonField* field = nullptr;
      if (!k.overflow) {
        for (size_t i = 0; i < count; i++) {
          if (strcmp(fields[i].name, key) == 0) field = &fields[i];
        }
      }
      if (field == nullptr) {
        e = skip_value(c, 1);
        if (e != JsonError::None) return e;
      } else {
        if (field->seen && problem == JsonError::None) problem = JsonError::Duplicate;
        field->seen = true;
        e = read_field(c, *field);
        if (e == JsonError::Syntax || e == JsonError::Depth) return e;
        if (e != JsonError::None && problem == JsonError::None) problem = e;
      }
      c.ws();
      if (c.eat('}')) break;
      if (!c.eat(',')) return JsonError::Syntax;
    }
  }
  c.ws();
  if (!c.at_end()) return JsonError::Syntax;
  if (problem != JsonError::None) return problem;
  for (size_t i = 0; i < count; i++) {
    if (fields[i].required && !fields[i].seen) return JsonError::Missing;
  }
  return JsonError::None;
}

JsonError parse_payment(const char* json, size_t len, PaymentMessage& out) {
  memset(&out, 0, sizeof out);
  char rail[16] = {0};
  uint64_t amount = 0;
  uint64_t duration = 0;
  JsonField fields[] = {
      json_string("payment_id", out.payment_id, sizeof out.payment_id, true, true),
      json_string("asset_id", out.asset_id, sizeof out.asset_id, true, true),
      json_uint("amount_sats", &amount, 2100000000000000ULL, true),
      json_string("rail", rail, sizeof rail, true, true),
      json_uint("duration_ms", &duration, PW_MAX_DURATION_MS, true),
      json_string("paid_at", out.paid_at, sizeof out.paid_at, false, false),
  };
  JsonError e = json_read_object(json, len, fields, sizeof fields / sizeof fields[0]);
  if (e != JsonError::None) return e;
  if (strcmp(rail, "lightning") == 0) {
    out.rail = Rail::Lightning;
  } else if (strcmp(rail, "x402") == 0) {
    out.rail = Rail::X402;
  } else {
    return JsonError::Range;
  }
  out.amount_sats = amount;
  out.duration_ms = static_cast<uint32_t>(duration);
  return JsonError::None;
}

JsonError parse_action_set(const char* json, size_t len, ActionSetMessage& out) {
  memset(&out, 0, sizeof out);
  uint64_t duration = 0;
  JsonField fields[] = {
      json_string("trigger_id", out.trigger_id, sizeof out.trigger_id, true, true),
      json_uint("duration_ms", &duration, PW_MAX_DURATION_MS, true),
      json_string("reason", out.reason, sizeof out.reason, false, false),
  };
  JsonError e = json_read_object(json, len, fields, sizeof fields / sizeof fields[0]);
  if (e != JsonError::None) return e;
  out.duration_ms = static_cast<uint32_t>(duration);
  return JsonError::None;
}

bool json_put_string(char* out, size_t cap, size_t* pos, const char* s) {
  static const char HEX[] = "0123456789abcdef";
  size_t p = *pos;
  if (p >= cap) return false;
  out[p++] = '"';
  for (; *s != '\0'; s++) {
    unsigned char ch = static_cast<unsigned char>(*s);
    if (ch == '"' || ch == '\\') {
      if (p + 2 > cap) return false;
      out[p++] = '\\';
      out[p++] = static_cast<char>(ch);
    } else if (ch < 0x20) {
      if (p + 6 > cap) return false;
      out[p++] = '\\';
      out[p++] = 'u';
      out[p++] = '0';
      out[p++] = '0';
      out[p++] = HEX[ch >> 4];
      out[p++] = HEX[ch & 0xF];
    } else {
      if (p + 1 > cap) return false;
      out[p++] = static_cast<char>(ch);
    }
  }
  if (p + 1 > cap) return false;
  out[p++] = '"';
  *pos = p;
  return true;
}

}  // namespace pw
