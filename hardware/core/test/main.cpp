/** Runs every suite of the core's host tests; the exit code is the number of failed checks (capped). */
#include "check.h"

int pw_checks = 0;
int pw_failures = 0;
static int pw_tests = 0;

void run_suite(const char* suite, const TestCase* cases, size_t count) {
  for (size_t i = 0; i < count; i++) {
    int before = pw_failures;
    cases[i].fn();
    pw_tests++;
    printf("%s %s: %s\n", pw_failures == before ? "ok  " : "FAIL", suite, cases[i].name);
  }
}

void topics_tests();
void json_tests();
void seen_tests();
void relay_tests();
void machine_tests();
void serial_tests();
void license_tests();

int main() {
  topics_tests();
  json_tests();
  seen_tests();
  relay_tests();
  machine_tests();
  serial_tests();
  license_tests();
  printf("%d tests, %d checks, %d failed\n", pw_tests, pw_checks, pw_failures);
  return pw_failures == 0 ? 0 : 1;
}
