/** Tests of pw_json: the bounded reader, PaymentMessage and ActionSetMessage, including malformed and oversized payloads. */
#include "../src/pw_json.h"

#include <stdlib.h>

#include "check.h"

using namespace pw;

static const char GOOD[] =
    "{\"payment_id\":\"pay123\",\"asset_id\":\"asset1\",\"amount_sats\":1500,\"rail\":\"lightning\",\"duration_ms\":30000,"
    "\"paid_at\":\"2026-12-07T14:00:00.000Z\"}";

static JsonError payment(const char* json, PaymentMessage& m) { return parse_payment(json, strlen(json), m); }

static void parses_a_payment() {
  PaymentMessage m;
  CHECK(payment(GOOD, m) == JsonError::None);
  CHECK_STR(m.payment_id, "pay123");
  CHECK_STR(m.asset_id, "asset1");
  CHECK(m.amount_sats == 1500);
  CHECK(m.rail == Rail::Lightning);
  CHECK(m.duration_ms == 30000);
  CHECK_STR(m.paid_at, "2026-12-07T14:00:00.000Z");
  const char* x402 = " {\n\t\"rail\" : \"x402\", \"duration_ms\":0,\"amount_sats\":0,\"asset_id\":\"a\",\"payment_id\":\"p\"} \r\n";
  CHECK(payment(x402, m) == JsonError::None);
  CHECK(m.rail == Rail::X402 && m.duration_ms == 0 && m.paid_at[0] == '\0');
}

static void skips_unknown_fields_of_any_shape() {
  PaymentMessage m;
  const char* json =
      "{\"extra\":{\"a\":[1,2.5e3,-0.5,true,false,null,{\"b\":\"\\u00e9\"}]},\"payment_id\":\"p\\u00e9\\ud83d\\ude00\\n\",\"asset_id\":\"a\","
      "\"amount_sats\":1,\"rail\":\"lightning\",\"duration_ms\":1,\"n\":null,\"list\":[],\"o\":{}}";
  CHECK(payment(json, m) == JsonError::None);
  CHECK_STR(m.payment_id, "p\xc3\xa9\xf0\x9f\x98\x80\n");
}

static void reads_only_len_bytes() {
  PaymentMessage m;
  char buf[sizeof GOOD + 8];
  memcpy(buf, GOOD, sizeof GOOD - 1);
  memcpy(buf + sizeof GOOD - 1, "garbage!", 8);  // not NUL-terminated
  CHECK(parse_payment(buf, sizeof GOOD - 1, m) == JsonError::None);
  CHECK(parse_payment(buf, sizeof GOOD + 7, m) == JsonError::Syntax);
  CHECK(parse_payment(GOOD, sizeof GOOD - 2, m) == JsonError::Syntax);  // cut before the closing brace
}

static void refuses_malformed_payloads() {
  PaymentMessage m;
  const char* syntax[] = {"{",
                          "{\"payment_id\"",
                          "{\"payment_id\":}",
                          "{\"payment_id\":\"p\",}",
                          "{\"payment_id\" \"p\"}",
                          "{payment_id:\"p\"}",
                          "{'payment_id':'p'}",
                          "{\"a\":tru}",
                          "{\"a\":nul}",
                          "{\"a\":01}",
                          "{\"a\":1.}",
                          "{\"a\":1e}",
                          "{\"a\":-}",
                          "{\"a\":+1}",
                          "{\"a\":\"\\x\"}",
                          "{\"a\":\"\\u12\"}",
                          "{\"a\":\"\\u0000\"}",
                          "{\"a\":\"\\ud800\"}",
                          "{\"a\":\"\\udc00\"}",
                          "{\"a\":\"tab\tinside\"}",
                          "{\"a\":[1,]}",
                          "{\"a\":[1 2]}",
                          "{\"a\":{\"b\"}}",
                          "{} {}",
                          "{}x",
                          "\"unterminated"};
  for (const char* s : syntax) {
    JsonError e = payment(s, m);
    CHECK(e == JsonError::Syntax);
    if (e != JsonError::Syntax) fprintf(stderr, "  for %s: %s\n", s, json_error_name(e));
  }
  CHECK(payment("", m) == JsonError::Empty);
  CHECK(payment("   \n", m) == JsonError::Empty);
  CHECK(parse_payment(nullptr, 0, m) == JsonError::Empty);
  CHECK(payment("[]", m) == JsonError::NotObject);
  CHECK(payment("42", m) == JsonError::NotObject);
  CHECK(payment("\"s\"", m) == JsonError::NotObject);
  CHECK(payment("null", m) == JsonError::NotObject);
  CHECK(payment("[1,", m) == JsonError::Syntax);
  CHECK(payment("{}", m) == JsonError::Missing);
  CHECK(payment("{\"payment_id\":\"p\",\"asset_id\":\"a\",\"amount_sats\":1,\"rail\":\"lightning\"}", m) == JsonError::Missing);
}

static void refuses_wrong_types_and_ranges() {
  PaymentMessage m;
  const char* base = "{\"payment_id\":%s,\"asset_id\":\"a\",\"amount_sats\":%s,\"rail\":%s,\"duration_ms\":%s}";
  struct Case {
    const char* id;
    const char* amount;
    const char* rail;
    const char* duration;
    JsonError want;
  } cases[] = {
      {"\"p\"", "1", "\"lightning\"", "1", JsonError::None},
      {"1", "1", "\"lightning\"", "1", JsonError::Type},
      {"null", "1", "\"lightning\"", "1", JsonError::Type},
      {"{\"x\":1}", "1", "\"lightning\"", "1", JsonError::Type},
      {"\"\"", "1", "\"lightning\"", "1", JsonError::Range},
      {"\"p\"", "\"1\"", "\"lightning\"", "1", JsonError::Type},
      {"\"p\"", "-1", "\"lightning\"", "1", JsonError::Type},
      {"\"p\"", "1.5", "\"lightning\"", "1", JsonError::Type},
      {"\"p\"", "1e3", "\"lightning\"", "1", JsonError::Type},
      {"\"p\"", "99999999999999999999999", "\"lightning\"", "1", JsonError::Range},
      {"\"p\"", "2100000000000001", "\"lightning\"", "1", JsonError::Range},
      {"\"p\"", "1", "\"onchain\"", "1", JsonError::Range},
      {"\"p\"", "1", "\"\"", "1", JsonError::Range},
      {"\"p\"", "1", "\"lightning\"", "86400000", JsonError::None},
      {"\"p\"", "1", "\"lightning\"", "86400001", JsonError::Range},
      {"\"p\"", "1", "\"lightning\"", "true", JsonError::Type},
      {"\"p\"", "1", "\"lightning\"", "[1]", JsonError::Type},
  };
  for (const Case& c : cases) {
    char json[512];
    snprintf(json, sizeof json, base, c.id, c.amount, c.rail, c.duration);
    JsonError e = payment(json, m);
    CHECK(e == c.want);
    if (e != c.want) fprintf(stderr, "  for %s: %s\n", json, json_error_name(e));
  }
  // A type problem in one field does not hide a syntax error later.
  CHECK(payment("{\"payment_id\":1,\"asset_id\":\"a\",", m) == JsonError::Syntax);
  CHECK(payment("{\"payment_id\":\"p\",\"payment_id\":\"q\",\"asset_id\":\"a\",\"amount_sats\":1,\"rail\":\"x402\",\"duration_ms\":1}", m) ==
        JsonError::Duplicate);
}

static void refuses_oversized_payloads_and_strings() {
  PaymentMessage m;
  // A payment_id one byte longer than PW_ID_MAX.
  char id[PW_ID_MAX + 2];
  memset(id, 'x', PW_ID_MAX + 1);
  id[PW_ID_MAX + 1] = '\0';
  char json[PW_JSON_MAX * 2 + 64];
  snprintf(json, sizeof json, "{\"payment_id\":\"%s\",\"asset_id\":\"a\",\"amount_sats\":1,\"rail\":\"x402\",\"duration_ms\":1}", id);
  CHECK(payment(json, m) == JsonError::TooLong);
  id[PW_ID_MAX] = '\0';
  snprintf(json, sizeof json, "{\"payment_id\":\"%s\",\"asset_id\":\"a\",\"amount_sats\":1,\"rail\":\"x402\",\"duration_ms\":1}", id);
  CHECK(payment(json, m) == JsonError::None && strlen(m.payment_id) == PW_ID_MAX);
  // Escapes count after decoding: 64 × "\u00e9" is 128 bytes of UTF-8.
  char escaped[64 * 6 + 1] = {0};
  for (int i = 0; i < 64; i++) strcat(escaped, "\\u00e9");
  snprintf(json, sizeof json, "{\"payment_id\":\"%s\",\"asset_id\":\"a\",\"amount_sats\":1,\"rail\":\"x402\",\"duration_ms\":1}", escaped);
  CHECK(payment(json, m) == JsonError::TooLong);
  // The whole payload: PW_JSON_MAX bytes are read, one more is refused before parsing.
  memset(json, ' ', sizeof json);
  const char* tail = "{\"payment_id\":\"p\",\"asset_id\":\"a\",\"amount_sats\":1,\"rail\":\"x402\",\"duration_ms\":1}";
  size_t tail_len = strlen(tail);
  memcpy(json + PW_JSON_MAX - tail_len, tail, tail_len);
  CHECK(parse_payment(json, PW_JSON_MAX, m) == JsonError::None);
  memcpy(json + PW_JSON_MAX + 1 - tail_len, tail, tail_len);
  CHECK(parse_payment(json, PW_JSON_MAX + 1, m) == JsonError::TooLarge);
  // Deep nesting in a skipped field stops at JSON_MAX_DEPTH, never recursing further.
  char deep[256] = "{\"x\":";
  for (int i = 0; i < 40; i++) strcat(deep, "[");
  CHECK(payment(deep, m) == JsonError::Depth);
  char ok_depth[128] = "{\"x\":";
  for (int i = 0; i < JSON_MAX_DEPTH - 1; i++) strcat(ok_depth, "[");
  for (int i = 0; i < JSON_MAX_DEPTH - 1; i++) strcat(ok_depth, "]");
  strcat(ok_depth, ",\"payment_id\":\"p\",\"asset_id\":\"a\",\"amount_sats\":1,\"rail\":\"x402\",\"duration_ms\":1}");
  CHECK(payment(ok_depth, m) == JsonError::None);
  // A key longer than any wanted one is skipped, not truncated into a match.
  const char* long_key = "{\"payment_id_that_is_far_too_long_to_be_a_key_we_read\":\"zz\",\"payment_id\":\"p\",\"asset_id\":\"a\",\"amount_sats\":1,\"rail\":\"x402\",\"duration_ms\":1}";
  CHECK(payment(long_key, m) == JsonError::None && strcmp(m.payment_id, "p") == 0);
}

static void survives_random_bytes() {
  // Mutations of a good payload: never a crash or a read past len (ASan watches), always a definite answer.
  PaymentMessage m;
  srand(7);
  size_t n = strlen(GOOD);
  char* buf = static_cast<char*>(malloc(n));
  int accepted = 0;
  for (int round = 0; round < 20000; round++) {
    memcpy(buf, GOOD, n);
    int flips = 1 + rand() % 4;
    for (int i = 0; i < flips; i++) buf[rand() % n] = static_cast<char>(rand() % 256);
    size_t len = static_cast<size_t>(rand()) % (n + 1);
    if (parse_payment(buf, len, m) == JsonError::None) accepted++;
  }
  free(buf);
  CHECK(accepted >= 0);
  CHECK(parse_payment(GOOD, strlen(GOOD), m) == JsonError::None);
}

static void parses_a_trigger() {
  ActionSetMessage t;
  const char* json = "{\"trigger_id\":\"trg1\",\"duration_ms\":2500,\"reason\":\"test vend\"}";
  CHECK(parse_action_set(json, strlen(json), t) == JsonError::None);
  CHECK_STR(t.trigger_id, "trg1");
  CHECK(t.duration_ms == 2500);
  CHECK_STR(t.reason, "test vend");
  json = "{\"trigger_id\":\"t\",\"duration_ms\":1}";
  CHECK(parse_action_set(json, strlen(json), t) == JsonError::None && t.reason[0] == '\0');
  json = "{\"duration_ms\":1}";
  CHECK(parse_action_set(json, strlen(json), t) == JsonError::Missing);
  json = "{\"trigger_id\":\"t\",\"duration_ms\":86400001}";
  CHECK(parse_action_set(json, strlen(json), t) == JsonError::Range);
  json = "{\"trigger_id\":\"t\",\"duration_ms\":1,\"reason\":\"" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" "\"}";
  CHECK(parse_action_set(json, strlen(json), t) == JsonError::TooLong);
}

static void writes_json_strings() {
  char out[32];
  size_t pos = 0;
  CHECK(json_put_string(out, sizeof out, &pos, "a\"b\\c\n\x01"));
  out[pos] = '\0';
  CHECK_STR(out, "\"a\\\"b\\\\c\\u000a\\u0001\"");
  pos = 0;
  CHECK(!json_put_string(out, 4, &pos, "abcd") && pos == 0);
  pos = 0;
  CHECK(json_put_string(out, 4, &pos, "ab") && pos == 4);
  pos = 0;
  CHECK(!json_put_string(out, 0, &pos, ""));
  CHECK(!json_put_string(out, 3, &pos, "\""));
  CHECK(!json_put_string(out, 5, &pos, "\x02"));
  // Every error has a name.
  for (int e = 0; e <= static_cast<int>(JsonError::TooLong); e++) CHECK(strcmp(json_error_name(static_cast<JsonError>(e)), "unknown") != 0);
  CHECK_STR(json_error_name(static_cast<JsonError>(99)), "unknown");
}

static void reads_generic_fields() {
  char name[8];
  uint64_t count = 0;
  JsonField fields[] = {json_string("name", name, sizeof name, false, false), json_uint("count", &count, 10, false)};
  const char* json = "{\"count\":10}";
  CHECK(json_read_object(json, strlen(json), fields, 2) == JsonError::None && count == 10 && fields[1].seen && !fields[0].seen);
  json = "{\"count\":11}";
  CHECK(json_read_object(json, strlen(json), fields, 2) == JsonError::Range);
  json = "{\"name\":\"1234567\"}";
  CHECK(json_read_object(json, strlen(json), fields, 2) == JsonError::None && strcmp(name, "1234567") == 0);
  json = "{\"name\":\"12345678\"}";
  CHECK(json_read_object(json, strlen(json), fields, 2) == JsonError::TooLong);
}

void json_tests() {
  static const TestCase cases[] = {{"parses a payment", parses_a_payment},
                                   {"skips unknown fields of any shape", skips_unknown_fields_of_any_shape},
                                   {"reads only len bytes", reads_only_len_bytes},
                                   {"refuses malformed payloads", refuses_malformed_payloads},
                                   {"refuses wrong types and ranges", refuses_wrong_types_and_ranges},
                                   {"refuses oversized payloads and strings", refuses_oversized_payloads_and_strings},
                                   {"survives 20,000 mutated payloads", survives_random_bytes},
                                   {"parses a trigger", parses_a_trigger},
                                   {"writes JSON strings", writes_json_strings},
                                   {"reads generic fields", reads_generic_fields}};
  run_suite("json", cases, sizeof cases / sizeof cases[0]);
}
