/** The MQTT topic contract (broker/topics.ts): building and parsing asset topics. */
#include "pw_topics.h"

#include <string.h>

namespace pw {

const char TOPIC_ROOT[] = "paywire";
const char BRIDGE_STATE_TOPIC[] = "paywire/bridge/state";

static const char* const NAMES[TOPIC_COUNT] = {"payment", "action", "action/set", "license/request", "license", "status", "trigger", "stats"};

const char* topic_name(Topic topic) {
  uint8_t i = static_cast<uint8_t>(topic);
  return i < TOPIC_COUNT ? NAMES[i] : "";
}

bool topic_retained(Topic topic) { return topic == Topic::License || topic == Topic::Status || topic == Topic::Stats; }

bool topic_client_publishes(Topic topic) {
  return topic == Topic::Action || topic == Topic::LicenseRequest || topic == Topic::Status || topic == Topic::Trigger;
}

static bool segment_char(char c) { return c > 0x20 && c < 0x7f && c != '/' && c != '+' && c != '#'; }

bool valid_segment(const char* segment) {
  if (segment == nullptr) return false;
  size_t n = 0;
  for (; segment[n] != '\0'; n++) {
    if (n >= PW_SEGMENT_MAX || !segment_char(segment[n])) return false;
  }
  return n > 0;
}

size_t build_topic(char* out, size_t cap, const char* account, const char* asset, Topic topic) {
  if (out == nullptr || cap == 0) return 0;
  out[0] = '\0';
  if (!valid_segment(account) || !valid_segment(asset) || static_cast<uint8_t>(topic) >= TOPIC_COUNT) return 0;
  const char* parts[7] = {TOPIC_ROOT, "/", account, "/", asset, "/", topic_name(topic)};
  size_t len = 0;
  for (const char* part : parts) {
    size_t n = strlen(part);
    if (len + n + 1 > cap) {
      out[0] = '\0';
      return 0;
    }
    memcpy(out + len, part, n);
    len += n;
  }
  out[len] = '\0';
  return len;
}

/** Copy topic[from, to) into dest (a segment) when it is a valid one. */
static bool take_segment(const char* topic, size_t from, size_t to, char* dest) {
  size_t n = to - from;
  if (n == 0 || n > PW_SEGMENT_MAX) return false;
  for (size_t i = from; i < to; i++) {
    if (!segment_char(topic[i])) return false;
  }
  memcpy(dest, topic + from, n);
  dest[n] = '\0';
  return true;
}

bool parse_topic(const char* topic, size_t len, ParsedTopic& out) {
  if (topic == nullptr) return false;
  const size_t root = sizeof(TOPIC_ROOT) - 1;
  if (len <= root + 1 || memcmp(topic, TOPIC_ROOT, root) != 0 || topic[root] != '/') return false;
  size_t a = root + 1;
  size_t b = a;
  while (b < len && topic[b] != '/') b++;
  if (b >= len) return false;
  size_t c = b + 1;
  while (c < len && topic[c] != '/') c++;
  if (c >= len) return false;
  if (!take_segment(topic, a, b, out.account) || !take_segment(topic, b + 1, c, out.asset)) return false;
  const char* rest = topic + c + 1;
  size_t rest_len = len - c - 1;
  for (uint8_t i = 0; i < TOPIC_COUNT; i++) {
    if (strlen(NAMES[i]) == rest_len && memcmp(NAMES[i], rest, rest_len) == 0) {
      out.topic = static_cast<Topic>(i);
      return true;
    }
  }
  return false;
}

}  // namespace pw
