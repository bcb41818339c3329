/** Tests of pw_machine: the ESP32 sketch's decisions (subscriptions, payments, repeats, triggers, reports, backoff). */
#include "../src/pw_machine.h"

#include "check.h"

using namespace pw;

static const char PAY_TOPIC[] = "paywire/u1/a1/payment";
static const char SET_TOPIC[] = "paywire/u1/a1/action/set";

static Outcome deliver(Machine& m, const char* topic, const char* payload) { return m.on_message(topic, strlen(topic), payload, strlen(payload)); }

static void payment_json(char* out, size_t cap, const char* id, unsigned duration, const char* asset = "a1") {
  snprintf(out, cap, "{\"payment_id\":\"%s\",\"asset_id\":\"%s\",\"amount_sats\":21,\"rail\":\"lightning\",\"duration_ms\":%u,\"paid_at\":\"2026-12-07T00:00:00Z\"}",
           id, asset, duration);
}

static bool report(Machine& m, char* payload, size_t cap) {
  char topic[96];
  bool ok = m.next_report(topic, sizeof topic, payload, cap);
  if (ok) CHECK_STR(topic, "paywire/u1/a1/action");
  return ok;
}

static void subscribes_to_payment_and_trigger() {
  Machine m("u1", "a1");
  CHECK(m.valid());
  char t[96];
  CHECK(m.subscription(0, t, sizeof t) && strcmp(t, PAY_TOPIC) == 0);
  CHECK(m.subscription(1, t, sizeof t) && strcmp(t, SET_TOPIC) == 0);
  CHECK(!m.subscription(2, t, sizeof t));
  CHECK(m.status_topic(t, sizeof t) > 0 && strcmp(t, "paywire/u1/a1/status") == 0);
  CHECK_STR(STATUS_ONLINE, "online");
  CHECK_STR(STATUS_OFFLINE, "offline");
  Machine bad("u/1", "a1");
  CHECK(!bad.valid() && !bad.subscription(0, t, sizeof t) && bad.status_topic(t, sizeof t) == 0);
  CHECK(bad.on_message(PAY_TOPIC, strlen(PAY_TOPIC), "{}", 2) == Outcome::Ignored);
}

static void a_payment_runs_and_is_reported_when_it_starts() {
  Machine m("u1", "a1", 100);
  char json[256];
  payment_json(json, sizeof json, "pay1", 1000);
  CHECK(deliver(m, PAY_TOPIC, json) == Outcome::Queued);
  char out[REPORT_MAX];
  CHECK(!report(m, out, sizeof out));  // nothing until the run starts
  CHECK(m.poll(10) == RelayChange::On && m.relay_on());
  CHECK(report(m, out, sizeof out));
  CHECK_STR(out, "{\"type\":\"action\",\"payment_id\":\"pay1\",\"data\":{\"duration_ms\":1000}}");
  CHECK(m.poll(1009) == RelayChange::None);
  CHECK(m.poll(1010) == RelayChange::Off);
}

static void repeats_are_not_run_but_reported_again() {
  Machine m("u1", "a1");
  char json[256];
  payment_json(json, sizeof json, "pay1", 500);
  CHECK(deliver(m, PAY_TOPIC, json) == Outcome::Queued);
  CHECK(deliver(m, PAY_TOPIC, json) == Outcome::Repeat);
  CHECK(m.queued() == 1);
  char out[REPORT_MAX];
  CHECK(report(m, out, sizeof out));
  CHECK_STR(out, "{\"type\":\"action\",\"payment_id\":\"pay1\",\"data\":{\"duration_ms\":500,\"repeat\":true}}");
  CHECK(m.poll(0) == RelayChange::On);
  CHECK(m.poll(500) == RelayChange::Off);
  CHECK(m.poll(10000) == RelayChange::None);  // never a second run
  CHECK(deliver(m, PAY_TOPIC, json) == Outcome::Repeat);
}

static void queues_payments_while_the_relay_runs() {
  Machine m("u1", "a1", 0);
  char json[256];
  for (int i = 0; i < MACHINE_QUEUE; i++) {
    char id[16];
    snprintf(id, sizeof id, "p%d", i);
    payment_json(json, sizeof json, id, 100);
    CHECK(deliver(m, PAY_TOPIC, json) == Outcome::Queued);
  }
  payment_json(json, sizeof json, "overflow", 100);
  CHECK(deliver(m, PAY_TOPIC, json) == Outcome::Busy);
  CHECK(!m.seen().contains("overflow"));  // not remembered: the bridge sends it again and it runs then
  char out[REPORT_MAX];
  CHECK(report(m, out, sizeof out));
  CHECK_STR(out, "{\"type\":\"error\",\"data\":{\"topic\":\"payment\",\"reason\":\"queue_full\"}}");
  uint32_t now = 0;
  int runs = 0;
  for (int step = 0; step < 100 && (m.relay_on() || m.queued() > 0); step++) {
    RelayChange c = m.poll(now);
    if (c == RelayChange::On) runs++;
    if (c == RelayChange::None) now += 50;
  }
  CHECK(runs == MACHINE_QUEUE);
  CHECK(deliver(m, PAY_TOPIC, json) == Outcome::Queued);
}

static void bad_messages_become_error_reports() {
  Machine m("u1", "a1");
  char out[REPORT_MAX];
  CHECK(deliver(m, PAY_TOPIC, "{not json") == Outcome::Invalid);
  CHECK(report(m, out, sizeof out));
  CHECK_STR(out, "{\"type\":\"error\",\"data\":{\"topic\":\"payment\",\"reason\":\"syntax\"}}");
  char json[256];
  payment_json(json, sizeof json, "pay9", 100, "other");
  CHECK(deliver(m, PAY_TOPIC, json) == Outcome::WrongAsset);
  CHECK(report(m, out, sizeof out));
  CHECK_STR(out, "{\"type\":\"error\",\"data\":{\"topic\":\"payment\",\"reason\":\"wrong_asset\"}}");
  CHECK(deliver(m, SET_TOPIC, "{\"trigger_id\":1,\"duration_ms\":1}") == Outcome::Invalid);
  CHECK(report(m, out, sizeof out));
  CHECK_STR(out, "{\"type\":\"error\",\"data\":{\"topic\":\"action/set\",\"reason\":\"type\"}}");
  CHECK(!m.relay_on() && m.queued() == 0);
  // Other topics, other assets, other accounts: ignored without a report.
  CHECK(deliver(m, "paywire/u1/a1/stats", "{}") == Outcome::Ignored);
  CHECK(deliver(m, "paywire/u1/a2/payment", json) == Outcome::Ignored);
  CHECK(deliver(m, "paywire/u2/a1/payment", json) == Outcome::Ignored);
  CHECK(deliver(m, "garbage", json) == Outcome::Ignored);
  CHECK(m.reports_waiting() == 0);
}

static void triggers_run_without_a_payment() {
  Machine m("u1", "a1");
  CHECK(deliver(m, SET_TOPIC, "{\"trigger_id\":\"trg1\",\"duration_ms\":250,\"reason\":\"test\"}") == Outcome::Queued);
  CHECK(deliver(m, SET_TOPIC, "{\"trigger_id\":\"trg1\",\"duration_ms\":250,\"reason\":\"test\"}") == Outcome::Queued);  // triggers are not deduplicated
  CHECK(m.poll(0) == RelayChange::On);
  char out[REPORT_MAX];
  CHECK(report(m, out, sizeof out));
  CHECK_STR(out, "{\"type\":\"action\",\"data\":{\"trigger_id\":\"trg1\",\"duration_ms\":250}}");
  CHECK(deliver(m, SET_TOPIC, "{\"trigger_id\":\"zero\",\"duration_ms\":0}") == Outcome::Queued);
  CHECK(report(m, out, sizeof out));
  CHECK_STR(out, "{\"type\":\"action\",\"data\":{\"trigger_id\":\"zero\",\"duration_ms\":0}}");
}

static void zero_length_payments_are_acknowledged() {
  Machine m("u1", "a1");
  char json[256];
  payment_json(json, sizeof json, "free", 0);
  CHECK(deliver(m, PAY_TOPIC, json) == Outcome::Queued);
  CHECK(!m.relay_on() && m.poll(0) == RelayChange::None);
  char out[REPORT_MAX];
  CHECK(report(m, out, sizeof out));
  CHECK_STR(out, "{\"type\":\"action\",\"payment_id\":\"free\",\"data\":{\"duration_ms\":0}}");
  CHECK(deliver(m, PAY_TOPIC, json) == Outcome::Repeat);
}

static void reports_are_bounded() {
  Machine m("u1", "a1");
  for (int i = 0; i < MACHINE_REPORTS + 3; i++) deliver(m, PAY_TOPIC, "x");
  CHECK(m.reports_waiting() == MACHINE_REPORTS);
  CHECK(m.reports_dropped() == 3);
  char small[8];
  char topic[96];
  CHECK(!m.next_report(topic, sizeof topic, small, sizeof small));  // too small: left waiting
  CHECK(m.reports_waiting() == MACHINE_REPORTS);
  CHECK(!m.next_report(topic, 4, small, sizeof small));
  char out[REPORT_MAX];
  int n = 0;
  while (report(m, out, sizeof out)) n++;
  CHECK(n == MACHINE_REPORTS);
}

static void backoff_doubles_to_a_cap_with_jitter() {
  Backoff b(1000, 8000);
  CHECK(b.next(0) == 1000);
  CHECK(b.next(0) == 2000);
  CHECK(b.next(0) == 4000);
  CHECK(b.next(0) == 8000);
  CHECK(b.next(0) == 8000);
  uint32_t jittered = b.next(0xFFFFFFFFu);
  CHECK(jittered >= 8000 && jittered <= 10000);
  b.reset();
  uint32_t first = b.next(123456789u);
  CHECK(first >= 1000 && first <= 1250);
  Backoff tiny(2, 3);
  CHECK(tiny.next(5) == 2 && tiny.next(5) == 3);
}

void machine_tests() {
  static const TestCase cases[] = {{"subscribes to payment and action/set", subscribes_to_payment_and_trigger},
                                   {"a payment runs, reported when it starts", a_payment_runs_and_is_reported_when_it_starts},
                                   {"repeats are not run but reported again", repeats_are_not_run_but_reported_again},
                                   {"queues payments while the relay runs", queues_payments_while_the_relay_runs},
                                   {"bad messages become error reports", bad_messages_become_error_reports},
                                   {"triggers run without a payment", triggers_run_without_a_payment},
                                   {"zero-length payments are acknowledged", zero_length_payments_are_acknowledged},
                                   {"reports are bounded", reports_are_bounded},
                                   {"backoff doubles to a cap, with jitter", backoff_doubles_to_a_cap_with_jitter}};
  run_suite("machine", cases, sizeof cases / sizeof cases[0]);
}
