/** Tests of pw_seen (the seen-payment_id ring, full and overflowing) and pw_relay (the non-blocking relay timing). */
#include "../src/pw_relay.h"
#include "../src/pw_seen.h"

#include "check.h"

using namespace pw;

static void remembers_and_drops_repeats() {
  SeenRing ring;
  CHECK(ring.size() == 0 && !ring.contains("a"));
  CHECK(ring.first_time("a"));
  CHECK(!ring.first_time("a"));
  CHECK(ring.contains("a") && ring.size() == 1);
  CHECK(!ring.add("") && !ring.add(nullptr) && !ring.first_time(nullptr) && !ring.contains(nullptr));
  char long_id[PW_ID_MAX + 2];
  memset(long_id, 'z', PW_ID_MAX + 1);
  long_id[PW_ID_MAX + 1] = '\0';
  CHECK(!ring.add(long_id) && !ring.contains(long_id));
  long_id[PW_ID_MAX] = '\0';
  CHECK(ring.first_time(long_id) && ring.contains(long_id));
  ring.clear();
  CHECK(ring.size() == 0 && !ring.contains("a"));
}

static void a_full_ring_forgets_the_oldest_first() {
  SeenRing ring;
  char id[16];
  for (size_t i = 0; i < SeenRing::capacity(); i++) {
    snprintf(id, sizeof id, "pay%zu", i);
    CHECK(ring.first_time(id));
  }
  CHECK(ring.size() == SeenRing::capacity());
  // Full: every id still known.
  for (size_t i = 0; i < SeenRing::capacity(); i++) {
    snprintf(id, sizeof id, "pay%zu", i);
    CHECK(!ring.first_time(id));
  }
  // One more evicts pay0 only.
  CHECK(ring.first_time("newest"));
  CHECK(ring.size() == SeenRing::capacity());
  CHECK(!ring.contains("pay0"));
  CHECK(ring.contains("pay1") && ring.contains("newest"));
  // Wrapping all the way round: only the last `capacity` ids remain.
  for (size_t i = 0; i < 3 * SeenRing::capacity(); i++) {
    snprintf(id, sizeof id, "w%zu", i);
    ring.add(id);
  }
  for (size_t i = 0; i < 3 * SeenRing::capacity(); i++) {
    snprintf(id, sizeof id, "w%zu", i);
    CHECK(ring.contains(id) == (i >= 2 * SeenRing::capacity()));
  }
  CHECK(!ring.contains("newest"));
}

typedef Relay<3, 8> SmallRelay;

static void runs_for_the_duration_without_blocking() {
  SmallRelay r;
  CHECK(r.poll(0) == RelayChange::None && !r.on());
  CHECK(r.enqueue(1000, "one"));
  CHECK(!r.on());  // starts at the next poll
  CHECK(r.poll(100) == RelayChange::On && r.on());
  CHECK_STR(r.current(), "one");
  CHECK(r.current_duration() == 1000);
  CHECK(r.remaining(600) == 500);
  CHECK(r.poll(1099) == RelayChange::None && r.on());
  CHECK(r.poll(1100) == RelayChange::Off && !r.on());
  CHECK(r.remaining(1100) == 0);
  CHECK(r.poll(5000) == RelayChange::None);
}

static void queues_runs_while_on() {
  SmallRelay r(200);
  CHECK(r.enqueue(100, "a") && r.enqueue(50, "b") && r.enqueue(70, "c"));
  CHECK(!r.enqueue(10, "d"));  // queue of 3 is full
  CHECK(r.queued() == 3 && SmallRelay::capacity() == 3);
  CHECK(r.poll(0) == RelayChange::On && strcmp(r.current(), "a") == 0 && r.queued() == 2);
  CHECK(r.enqueue(10, "d"));  // room again
  CHECK(r.poll(100) == RelayChange::Off);
  CHECK(r.poll(299) == RelayChange::None);  // the gap between runs
  CHECK(r.poll(300) == RelayChange::On && strcmp(r.current(), "b") == 0);
  CHECK(r.poll(350) == RelayChange::Off);
  CHECK(r.poll(550) == RelayChange::On && strcmp(r.current(), "c") == 0);
  CHECK(r.poll(620) == RelayChange::Off);
  CHECK(r.poll(820) == RelayChange::On && strcmp(r.current(), "d") == 0);
  CHECK(r.poll(830) == RelayChange::Off && r.queued() == 0);
}

static void refuses_bad_durations_and_truncates_tags() {
  SmallRelay r;
  CHECK(!r.enqueue(0, "zero"));
  CHECK(!r.enqueue(PW_MAX_DURATION_MS + 1, "long"));
  CHECK(r.enqueue(PW_MAX_DURATION_MS, "a-very-long-tag"));
  CHECK(r.poll(0) == RelayChange::On && strcmp(r.current(), "a-very-l") == 0);
  r.reset();
  CHECK(r.enqueue(5, nullptr) && r.poll(1) == RelayChange::On && r.current()[0] == '\0');
}

static void survives_millis_wrapping() {
  SmallRelay r;
  uint32_t start = 0xFFFFFF00u;
  CHECK(r.enqueue(1000, "w"));
  CHECK(r.poll(start) == RelayChange::On);
  CHECK(r.poll(start + 999) == RelayChange::None);  // wrapped past zero
  CHECK(r.poll(start + 1000) == RelayChange::Off);
}

static void serial_rly_restarts_and_stops() {
  SmallRelay r;
  CHECK(r.set(0, 0) == RelayChange::None);
  CHECK(r.set(1000, 0) == RelayChange::On);
  CHECK(r.set(1000, 500) == RelayChange::None);  // restarts the timer
  CHECK(r.poll(1499) == RelayChange::None);
  CHECK(r.poll(1500) == RelayChange::Off);
  CHECK(r.set(300, 2000) == RelayChange::On);
  CHECK(r.set(0, 2100) == RelayChange::Off && !r.on());
  CHECK(r.enqueue(10, "q") && r.set(100, 3000) == RelayChange::On && r.queued() == 0);
  CHECK(r.set(PW_MAX_DURATION_MS + 5, 3000) == RelayChange::None && r.current_duration() == PW_MAX_DURATION_MS);
}

void seen_tests() {
  static const TestCase cases[] = {{"remembers ids and drops repeats", remembers_and_drops_repeats},
                                   {"a full ring forgets the oldest first", a_full_ring_forgets_the_oldest_first}};
  run_suite("seen", cases, sizeof cases / sizeof cases[0]);
}

void relay_tests() {
  static const TestCase cases[] = {{"runs for the duration without blocking", runs_for_the_duration_without_blocking},
                                   {"queues runs while on, a gap apart", queues_runs_while_on},
                                   {"refuses bad durations, truncates tags", refuses_bad_durations_and_truncates_tags},
                                   {"survives millis() wrapping", survives_millis_wrapping},
                                   {"serial RLY restarts and stops", serial_rly_restarts_and_stops}};
  run_suite("relay", cases, sizeof cases / sizeof cases[0]);
}
