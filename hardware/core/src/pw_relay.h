/**
 * The relay timing state machine. Non-blocking: the loop calls poll(now) with millis() and switches
 * the pin on each change it returns; nothing here waits. Runs that arrive while the relay is on are
 * queued (up to N) and start one after another, `gap_ms` apart so the machine sees separate pulses.
 * Times are uint32_t milliseconds compared by difference, so millis() wrapping after 49.7 days is harmless.
 */
#ifndef PW_RELAY_H
#define PW_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "pw_config.h"

namespace pw {

enum class RelayChange : uint8_t { None, On, Off };

template <uint8_t N, size_t TagMax>
class Relay {
 public:
  explicit Relay(uint32_t gap_ms = 0) : gap_ms_(gap_ms) { reset(); }

  void reset() {
    on_ = false;
    started_ = 0;
    duration_ = 0;
    idle_since_ = 0;
    idle_known_ = false;
    head_ = 0;
    count_ = 0;
    current_[0] = '\0';
  }

  /**
   * Queue a run of `duration_ms` with a tag (the payment_id, for the vend report). Runs of 0 ms are
   * refused (false), as is a full queue. The run starts at the next poll().
   */
  bool enqueue(uint32_t duration_ms, const char* tag) {
    if (duration_ms == 0 || duration_ms > PW_MAX_DURATION_MS || count_ >= N) return false;
    Entry& e = queue_[(head_ + count_) % N];
    e.duration = duration_ms;
    copy_tag(e.tag, tag);
    count_++;
    return true;
  }

  /**
   * Serial `RLY` semantics (device/PROTOCOL.md): on for `duration_ms` from now, restarting the timer
   * when already on; 0 switches off at once. Clears the queue. Returns the change to apply now.
   */
  RelayChange set(uint32_t duration_ms, uint32_t now) {
    count_ = 0;
    if (duration_ms == 0) {
      if (!on_) return RelayChange::None;
      on_ = false;
      idle_since_ = now;
      idle_known_ = true;
      return RelayChange::Off;
    }
    bool was_on = on_;
    on_ = true;
    started_ = now;
    duration_ = duration_ms > PW_MAX_DURATION_MS ? PW_MAX_DURATION_MS : duration_ms;
    current_[0] = '\0';
    return was_on ? RelayChange::None : RelayChange::On;
  }

  /** Advance to `now`: at most one change per call (call it every loop). */
  RelayChange poll(uint32_t now) {
    if (on_) {
      if (static_cast<uint32_t>(now - started_) < duration_) return RelayChange::None;
      on_ = false;
      idle_since_ = now;
      idle_known_ = true;
      return RelayChange::Off;
    }
    if (count_ == 0) return RelayChange::None;
    if (idle_known_ && static_cast<uint32_t>(now - idle_since_) < gap_ms_) return RelayChange::None;
    Entry& e = queue_[head_];
    head_ = static_cast<uint8_t>((head_ + 1) % N);
    count_--;
    on_ = true;
    started_ = now;
    duration_ = e.duration;
    memcpy(current_, e.tag, sizeof current_);
    return RelayChange::On;
  }

  bool on() const { return on_; }
  uint8_t queued() const { return count_; }
  static uint8_t capacity() { return N; }
  /** The tag of the run in progress (or of the last run, once off). */
  const char* current() const { return current_; }
  /** The length of the run in progress (or of the last run). */
  uint32_t current_duration() const { return duration_; }
  /** Milliseconds left of the run in progress (0 when off). */
  uint32_t remaining(uint32_t now) const {
    if (!on_) return 0;
    uint32_t elapsed = static_cast<uint32_t>(now - started_);
    return elapsed >= duration_ ? 0 : duration_ - elapsed;
  }

 private:
  struct Entry {
    uint32_t duration;
    char tag[TagMax + 1];
  };

  static void copy_tag(char* dest, const char* tag) {
    size_t n = 0;
    if (tag != nullptr) {
      while (n < TagMax && tag[n] != '\0') n++;
      memcpy(dest, tag, n);
    }
    dest[n] = '\0';
  }

  uint32_t gap_ms_;
  bool on_;
  uint32_t started_;
  uint32_t duration_;
  uint32_t idle_since_;
  bool idle_known_;
  Entry queue_[N];
  uint8_t head_;
  uint8_t count_;
  char current_[TagMax + 1];
};

}  // namespace pw

#endif
