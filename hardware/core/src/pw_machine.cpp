/** The ESP32 sketch's decisions (see pw_machine.h): messages in, relay runs and reports out. */
#include "pw_machine.h"

#include <stdio.h>
#include <string.h>

namespace pw {

const char STATUS_ONLINE[] = "online";
const char STATUS_OFFLINE[] = "offline";

uint32_t Backoff::next(uint32_t random) {
  uint32_t base = next_;
  uint32_t jitter = base / 4 == 0 ? 0 : random % (base / 4 + 1);
  next_ = base >= max_ / 2 ? max_ : base * 2;
  uint32_t wait = base + jitter;
  return wait > max_ + max_ / 4 ? max_ + max_ / 4 : wait;
}

static void copy_bounded(char* dest, size_t cap, const char* src) {
  size_t n = 0;
  if (src != nullptr) {
    while (n + 1 < cap && src[n] != '\0') n++;
    memcpy(dest, src, n);
  }
  dest[n] = '\0';
}

Machine::Machine(const char* account, const char* asset, uint32_t gap_ms)
    : valid_(valid_segment(account) && valid_segment(asset)), relay_(gap_ms), report_head_(0), report_count_(0), reports_dropped_(0) {
  copy_bounded(account_, sizeof account_, valid_ ? account : "");
  copy_bounded(asset_, sizeof asset_, valid_ ? asset : "");
  memset(reports_, 0, sizeof reports_);
}

bool Machine::subscription(uint8_t index, char* out, size_t cap) const {
  static const Topic SUBSCRIBED[] = {Topic::Payment, Topic::ActionSet};
  if (!valid_ || index >= sizeof SUBSCRIBED / sizeof SUBSCRIBED[0]) return false;
  return build_topic(out, cap, account_, asset_, SUBSCRIBED[index]) > 0;
}

size_t Machine::status_topic(char* out, size_t cap) const { return valid_ ? build_topic(out, cap, account_, asset_, Topic::Status) : 0; }

Outcome Machine::on_message(const char* topic, size_t topic_len, const char* payload, size_t payload_len) {
  ParsedTopic parsed;
  if (!valid_ || !parse_topic(topic, topic_len, parsed)) return Outcome::Ignored;
  if (strcmp(parsed.account, account_) != 0 || strcmp(parsed.asset, asset_) != 0) return Outcome::Ignored;
  if (parsed.topic == Topic::Payment) return on_payment(payload, payload_len);
  if (parsed.topic == Topic::ActionSet) return on_trigger(payload, payload_len);
  return Outcome::Ignored;
}

Outcome Machine::on_payment(const char* payload, size_t len) {
  PaymentMessage msg;
  JsonError e = parse_payment(payload, len, msg);
  if (e != JsonError::None) {
    push_report(ReportKind::Error, "", 0, json_error_name(e), "payment");
    return Outcome::Invalid;
  }
  if (strcmp(msg.asset_id, asset_) != 0) {
    push_report(ReportKind::Error, "", 0, "wrong_asset", "payment");
    return Outcome::WrongAsset;
  }
  if (seen_.contains(msg.payment_id)) {
    push_report(ReportKind::Repeat, msg.payment_id, msg.duration_ms, "", "payment");
    return Outcome::Repeat;
  }
  char tag[PW_ID_MAX + 2];
  tag[0] = 'P';
  copy_bounded(tag + 1, sizeof tag - 1, msg.payment_id);
  // A zero-length run is still a delivered payment: remember and report it, run nothing.
  if (msg.duration_ms == 0) {
    seen_.add(msg.payment_id);
    push_report(ReportKind::Vend, msg.payment_id, 0, "", "payment");
    return Outcome::Queued;
  }
  if (!relay_.enqueue(msg.duration_ms, tag)) {
    push_report(ReportKind::Error, "", 0, "queue_full", "payment");
    return Outcome::Busy;
  }
  seen_.add(msg.payment_id);
  return Outcome::Queued;
}

Outcome Machine::on_trigger(const char* payload, size_t len) {
  ActionSetMessage msg;
  JsonError e = parse_action_set(payload, len, msg);
  if (e != JsonError::None) {
    push_report(ReportKind::Error, "", 0, json_error_name(e), "action/set");
    return Outcome::Invalid;
  }
  char tag[PW_ID_MAX + 2];
  tag[0] = 'T';
  copy_bounded(tag + 1, sizeof tag - 1, msg.trigger_id);
  if (msg.duration_ms == 0) {
    push_report(ReportKind::Trigger, msg.trigger_id, 0, "", "action/set");
    return Outcome::Queued;
  }
  if (!relay_.enqueue(msg.duration_ms, tag)) {
    push_report(ReportKind::Error, "", 0, "queue_full", "action/set");
    return Outcome::Busy;
  }
  return Outcome::Queued;
}

RelayChange Machine::poll(uint32_t now) {
  RelayChange change = relay_.poll(now);
  if (change == RelayChange::On) {
    const char* tag = relay_.current();
    if (tag[0] == 'P') push_report(ReportKind::Vend, tag + 1, relay_.current_duration(), "", "payment");
    if (tag[0] == 'T') push_report(ReportKind::Trigger, tag + 1, relay_.current_duration(), "", "action/set");
  }
  return change;
}

void Machine::push_report(ReportKind kind, const char* id, uint32_t duration_ms, const char* reason, const char* topic) {
  if (report_count_ >= MACHINE_REPORTS) {
    report_head_ = static_cast<uint8_t>((report_head_ + 1) % MACHINE_REPORTS);
    report_count_--;
    reports_dropped_++;
  }
  Report& r = reports_[(report_head_ + report_count_) % MACHINE_REPORTS];
  r.kind = kind;
  r.duration_ms = duration_ms;
  copy_bounded(r.id, sizeof r.id, id);
  copy_bounded(r.reason, sizeof r.reason, reason);
  copy_bounded(r.topic, sizeof r.topic, topic);
  report_count_++;
}

/** Append a literal; false when it does not fit (with room for the NUL). */
static bool put(char* out, size_t cap, size_t* pos, const char* text) {
  size_t n = strlen(text);
  if (*pos + n + 1 > cap) return false;
  memcpy(out + *pos, text, n);
  *pos += n;
  return true;
}

bool Machine::next_report(char* topic, size_t topic_cap, char* payload, size_t payload_cap) {
  if (report_count_ == 0 || build_topic(topic, topic_cap, account_, asset_, Topic::Action) == 0) return false;
  const Report& r = reports_[report_head_];
  // actionMessage (broker/topics.ts): a report carrying payment_id acknowledges that payment.
  char number[12];
  snprintf(number, sizeof number, "%lu", static_cast<unsigned long>(r.duration_ms));
  size_t pos = 0;
  bool ok = true;
  switch (r.kind) {
    case ReportKind::Vend:
    case ReportKind::Repeat:
      ok = put(payload, payload_cap, &pos, "{\"type\":\"action\",\"payment_id\":") && json_put_string(payload, payload_cap, &pos, r.id) &&
           put(payload, payload_cap, &pos, ",\"data\":{\"duration_ms\":") && put(payload, payload_cap, &pos, number) &&
           put(payload, payload_cap, &pos, r.kind == ReportKind::Repeat ? ",\"repeat\":true}}" : "}}");
      break;
    case ReportKind::Trigger:
      ok = put(payload, payload_cap, &pos, "{\"type\":\"action\",\"data\":{\"trigger_id\":") && json_put_string(payload, payload_cap, &pos, r.id) &&
           put(payload, payload_cap, &pos, ",\"duration_ms\":") && put(payload, payload_cap, &pos, number) && put(payload, payload_cap, &pos, "}}");
      break;
    case ReportKind::Error:
      ok = put(payload, payload_cap, &pos, "{\"type\":\"error\",\"data\":{\"topic\":") && json_put_string(payload, payload_cap, &pos, r.topic) &&
           put(payload, payload_cap, &pos, ",\"reason\":") && json_put_string(payload, payload_cap, &pos, r.reason) && put(payload, payload_cap, &pos, "}}");
      break;
  }
  if (!ok) {
    topic[0] = '\0';
    if (payload_cap > 0) payload[0] = '\0';
    return false;
  }
  payload[pos] = '\0';
  report_head_ = static_cast<uint8_t>((report_head_ + 1) % MACHINE_REPORTS);
  report_count_--;
  return true;
}

}  // namespace pw
