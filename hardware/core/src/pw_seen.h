/**
 * The seen-`payment_id` ring: devices drop repeats by payment_id (broker/topics.ts PaymentMessage).
 * QoS 1 is at-least-once, and the bridge replays unacknowledged payments on every subscribe, so the
 * same payment can arrive twice; the last PW_SEEN_SLOTS ids are remembered, the oldest forgotten first.
 */
#ifndef PW_SEEN_H
#define PW_SEEN_H

#include <stddef.h>
#include <stdint.h>
#include "pw_config.h"

namespace pw {

class SeenRing {
 public:
  SeenRing();
  /** Whether `id` is among the remembered ids. */
  bool contains(const char* id) const;
  /** Remember `id` (ids longer than PW_ID_MAX or empty are refused: false). Evicts the oldest when full. */
  bool add(const char* id);
  /** True the first time an id is seen (and remembers it), false for a repeat or an invalid id. */
  bool first_time(const char* id);
  size_t size() const { return count_; }
  static size_t capacity() { return PW_SEEN_SLOTS; }
  void clear();

 private:
  char ids_[PW_SEEN_SLOTS][PW_ID_MAX + 1];
  size_t next_;
  size_t count_;
};

}  // namespace pw

#endif
