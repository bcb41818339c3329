/**
 * The MQTT topic contract of broker/topics.ts, for firmware: `paywire/{account}/{asset}/{topic}`.
 * Building writes into a caller's buffer; parsing copies the segments into fixed fields.
 */
#ifndef PW_TOPICS_H
#define PW_TOPICS_H

#include <stddef.h>
#include <stdint.h>
#include "pw_config.h"

namespace pw {

/** TOPIC_ROOT in broker/topics.ts. */
extern const char TOPIC_ROOT[];
/** BRIDGE_STATE_TOPIC: `paywire/bridge/state`, retained "online" | "offline". */
extern const char BRIDGE_STATE_TOPIC[];

/** ASSET_TOPICS, in the same order. */
enum class Topic : uint8_t { Payment, Action, ActionSet, LicenseRequest, License, Status, Trigger, Stats };
const uint8_t TOPIC_COUNT = 8;

/** The topic's name as in ASSET_TOPICS (`action/set`, `license/request`, ...). */
const char* topic_name(Topic topic);

/** QoS and retain flag of TOPIC_SPECS: every topic is QoS 1; `license`, `status` and `stats` are retained. */
bool topic_retained(Topic topic);

/** Whether the device publishes this topic (CLIENT_PUBLISHES: action, license/request, status, trigger). */
bool topic_client_publishes(Topic topic);

/**
 * A segment the broker accepts in a topic: 1..PW_SEGMENT_MAX bytes, no `/`, `+`, `#` or NUL,
 * printable ASCII only (the bridge's ids are lowercase alphanumerics).
 */
bool valid_segment(const char* segment);

/**
 * Write `paywire/{account}/{asset}/{topic}` and a NUL into `out`. Returns the length without the NUL,
 * or 0 when a segment is invalid or `out` is too small.
 */
size_t build_topic(char* out, size_t cap, const char* account, const char* asset, Topic topic);

struct ParsedTopic {
  char account[PW_SEGMENT_MAX + 1];
  char asset[PW_SEGMENT_MAX + 1];
  Topic topic;
};

/** parseAssetTopic: the account, asset and contract topic of a concrete topic name (not NUL-terminated). */
bool parse_topic(const char* topic, size_t len, ParsedTopic& out);

}  // namespace pw

#endif
