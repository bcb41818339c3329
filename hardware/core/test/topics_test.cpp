/** Tests of pw_topics: building and parsing the asset topics of broker/topics.ts. */
#include "../src/pw_topics.h"

#include "check.h"

using namespace pw;

static void builds_every_topic() {
  const char* expected[] = {"payment", "action", "action/set", "license/request", "license", "status", "trigger", "stats"};
  char out[128];
  for (uint8_t i = 0; i < TOPIC_COUNT; i++) {
    char want[128];
    snprintf(want, sizeof want, "paywire/acct1/asset1/%s", expected[i]);
    CHECK(build_topic(out, sizeof out, "acct1", "asset1", static_cast<Topic>(i)) == strlen(want));
    CHECK_STR(out, want);
    CHECK_STR(topic_name(static_cast<Topic>(i)), expected[i]);
  }
  CHECK_STR(topic_name(static_cast<Topic>(200)), "");
  CHECK_STR(BRIDGE_STATE_TOPIC, "paywire/bridge/state");
}

static void specs_match_topic_specs() {
  CHECK(topic_retained(Topic::License) && topic_retained(Topic::Status) && topic_retained(Topic::Stats));
  CHECK(!topic_retained(Topic::Payment) && !topic_retained(Topic::ActionSet) && !topic_retained(Topic::Action));
  CHECK(topic_client_publishes(Topic::Action) && topic_client_publishes(Topic::LicenseRequest));
  CHECK(topic_client_publishes(Topic::Status) && topic_client_publishes(Topic::Trigger));
  CHECK(!topic_client_publishes(Topic::Payment) && !topic_client_publishes(Topic::License) && !topic_client_publishes(Topic::Stats));
}

static void refuses_bad_segments_and_small_buffers() {
  char out[128];
  CHECK(build_topic(out, sizeof out, "", "a", Topic::Payment) == 0 && out[0] == '\0');
  CHECK(build_topic(out, sizeof out, "a/b", "a", Topic::Payment) == 0);
  CHECK(build_topic(out, sizeof out, "a", "+", Topic::Payment) == 0);
  CHECK(build_topic(out, sizeof out, "a", "x#", Topic::Payment) == 0);
  CHECK(build_topic(out, sizeof out, "a b", "x", Topic::Payment) == 0);
  CHECK(build_topic(out, sizeof out, nullptr, "x", Topic::Payment) == 0);
  CHECK(build_topic(out, sizeof out, "a", "x", static_cast<Topic>(9)) == 0);
  char long_id[PW_SEGMENT_MAX + 2];
  memset(long_id, 'a', sizeof long_id - 1);
  long_id[sizeof long_id - 1] = '\0';
  CHECK(!valid_segment(long_id));
  long_id[PW_SEGMENT_MAX] = '\0';
  CHECK(valid_segment(long_id));
  // "paywire/a/b/payment" is 19 bytes: 20 with the NUL.
  CHECK(build_topic(out, 19, "a", "b", Topic::Payment) == 0 && out[0] == '\0');
  CHECK(build_topic(out, 20, "a", "b", Topic::Payment) == 19);
  CHECK(build_topic(nullptr, 20, "a", "b", Topic::Payment) == 0);
  CHECK(build_topic(out, 0, "a", "b", Topic::Payment) == 0);
}

static void parses_topics() {
  ParsedTopic t;
  const char* s = "paywire/u1/as1/action/set";
  CHECK(parse_topic(s, strlen(s), t));
  CHECK_STR(t.account, "u1");
  CHECK_STR(t.asset, "as1");
  CHECK(t.topic == Topic::ActionSet);
  s = "paywire/u1/as1/license/request";
  CHECK(parse_topic(s, strlen(s), t) && t.topic == Topic::LicenseRequest);
  // Not NUL-terminated: only len bytes are read.
  char buf[] = {'p', 'a', 'y', 'w', 'i', 'r', 'e', '/', 'u', '/', 'a', '/', 'p', 'a', 'y', 'm', 'e', 'n', 't', 'X'};
  CHECK(parse_topic(buf, 19, t) && t.topic == Topic::Payment);
  CHECK(!parse_topic(buf, 20, t));
}

static void refuses_foreign_topics() {
  ParsedTopic t;
  const char* bad[] = {"",
                       "paywire",
                       "paywire/",
                       "paywire/u/a",
                       "paywire/u/a/",
                       "paywire/u/a/nope",
                       "paywire//a/payment",
                       "paywire/u//payment",
                       "other/u/a/payment",
                       "paywirex/u/a/payment",
                       "paywire/bridge/state",
                       "paywire/u/a/action/set/extra",
                       "paywire/u+/a/payment"};
  for (const char* s : bad) CHECK(!parse_topic(s, strlen(s), t));
  CHECK(!parse_topic(nullptr, 0, t));
  char long_topic[256];
  snprintf(long_topic, sizeof long_topic, "paywire/%0*d/a/payment", PW_SEGMENT_MAX + 1, 7);
  CHECK(!parse_topic(long_topic, strlen(long_topic), t));
}

void topics_tests() {
  static const TestCase cases[] = {{"builds every topic", builds_every_topic},
                                   {"QoS and retain follow TOPIC_SPECS", specs_match_topic_specs},
                                   {"refuses bad segments and small buffers", refuses_bad_segments_and_small_buffers},
                                   {"parses topics", parses_topics},
                                   {"refuses foreign topics", refuses_foreign_topics}};
  run_suite("topics", cases, sizeof cases / sizeof cases[0]);
}
