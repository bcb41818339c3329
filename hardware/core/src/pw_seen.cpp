/** The seen-payment_id ring: a fixed array of ids, the oldest overwritten first. */
#include "pw_seen.h"

#include <string.h>

namespace pw {

SeenRing::SeenRing() { clear(); }

void SeenRing::clear() {
  memset(ids_, 0, sizeof ids_);
  next_ = 0;
  count_ = 0;
}

static bool valid_id(const char* id) {
  if (id == nullptr || id[0] == '\0') return false;
  for (size_t n = 0; n <= PW_ID_MAX; n++) {
    if (id[n] == '\0') return true;
  }
  return false;
}

bool SeenRing::contains(const char* id) const {
  if (!valid_id(id)) return false;
  for (size_t i = 0; i < count_; i++) {
    if (strcmp(ids_[i], id) == 0) return true;
  }
  return false;
}

bool SeenRing::add(const char* id) {
  if (!valid_id(id)) return false;
  strcpy(ids_[next_], id);
  next_ = (next_ + 1) % PW_SEEN_SLOTS;
  if (count_ < PW_SEEN_SLOTS) count_++;
  return true;
}

bool SeenRing::first_time(const char* id) {
  if (!valid_id(id) || contains(id)) return false;
  return add(id);
}

}  // namespace pw
