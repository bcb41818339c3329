/**
 * Every decision the ESP32 sketch makes about its messages, without Arduino calls: which topics to
 * subscribe, what a payment or trigger does (queue a run, drop a repeat, refuse a bad message), the
 * vend reports and error reports it publishes, the status payloads, and the reconnect backoff. The
 * sketch only moves bytes between this class, PubSubClient and the relay pin.
 */
#ifndef PW_MACHINE_H
#define PW_MACHINE_H

#include <stddef.h>
#include <stdint.h>
#include "pw_config.h"
#include "pw_json.h"
#include "pw_relay.h"
#include "pw_seen.h"
#include "pw_topics.h"

namespace pw {

/** The retained `status` payloads; "offline" is also the last will. */
extern const char STATUS_ONLINE[];
extern const char STATUS_OFFLINE[];

/** Runs queued while the relay is on. */
const uint8_t MACHINE_QUEUE = 8;
/** Reports waiting for the broker (published from the loop; the oldest is dropped when full). */
const uint8_t MACHINE_REPORTS = 8;
/** Longest report payload built. */
const size_t REPORT_MAX = 256;

enum class Outcome : uint8_t {
  Queued,      // a run was queued (its vend report goes out when it starts)
  Repeat,      // a payment_id already seen: not run again, reported again (the bridge may have missed the report)
  Invalid,     // not a valid message: an error report
  WrongAsset,  // a payment for another asset: an error report, not run
  Busy,        // the run queue is full: an error report, not acknowledged (the bridge sends it again later)
  Ignored,     // a topic the machine does not act on
};

/** Exponential reconnect backoff: 1 s, 2 s, 4 s ... up to max_ms, each with up to 25 % jitter added. */
class Backoff {
 public:
  explicit Backoff(uint32_t min_ms = 1000, uint32_t max_ms = 60000) : min_(min_ms), max_(max_ms), next_(min_ms) {}
  /** The wait before the next attempt; `random` is any 32-bit random value (esp_random()). */
  uint32_t next(uint32_t random);
  /** A connection succeeded: start again from min_ms. */
  void reset() { next_ = min_; }

 private:
  uint32_t min_;
  uint32_t max_;
  uint32_t next_;
};

class Machine {
 public:
  /** `account` and `asset` as in the topics (the device credential's user and asset ids). */
  Machine(const char* account, const char* asset, uint32_t gap_ms = 500);

  /** Whether the account and asset ids are valid topic segments (the sketch refuses to start otherwise). */
  bool valid() const { return valid_; }

  /** The topics to subscribe to (QoS 1): `…/payment` and `…/action/set`. Returns false past the last. */
  bool subscription(uint8_t index, char* out, size_t cap) const;
  /** The topic the status (and the last will) goes to. */
  size_t status_topic(char* out, size_t cap) const;

  /** A message arrived. Decides what it does; runs start at the next poll(). */
  Outcome on_message(const char* topic, size_t topic_len, const char* payload, size_t payload_len);

  /** Advance the relay to `now` (millis()): returns the pin change to make, queuing the vend report when a run starts. */
  RelayChange poll(uint32_t now);
  bool relay_on() const { return relay_.on(); }
  uint8_t queued() const { return relay_.queued(); }

  /** The next report to publish on `…/action`, popped into the buffers; false when none waits. */
  bool next_report(char* topic, size_t topic_cap, char* payload, size_t payload_cap);
  uint8_t reports_waiting() const { return report_count_; }
  uint32_t reports_dropped() const { return reports_dropped_; }
  const SeenRing& seen() const { return seen_; }

 private:
  enum class ReportKind : uint8_t { Vend, Repeat, Trigger, Error };
  struct Report {
    ReportKind kind;
    uint32_t duration_ms;
    char id[PW_ID_MAX + 1];
    char reason[24];
    char topic[16];
  };

  void push_report(ReportKind kind, const char* id, uint32_t duration_ms, const char* reason, const char* topic);
  Outcome on_payment(const char* payload, size_t len);
  Outcome on_trigger(const char* payload, size_t len);

  char account_[PW_SEGMENT_MAX + 1];
  char asset_[PW_SEGMENT_MAX + 1];
  bool valid_;
  SeenRing seen_;
  /** Tags: 'P' + payment_id or 'T' + trigger_id. */
  Relay<MACHINE_QUEUE, PW_ID_MAX + 1> relay_;
  Report reports_[MACHINE_REPORTS];
  uint8_t report_head_;
  uint8_t report_count_;
  uint32_t reports_dropped_;
};

}  // namespace pw

#endif
