/** A minimal test harness for the core's host tests: CHECK counts and reports failures, main() exits non-zero on any. */
#ifndef PW_CHECK_H
#define PW_CHECK_H

#include <stdio.h>
#include <string.h>

extern int pw_checks;
extern int pw_failures;

#define CHECK(cond)                                                      \
  do {                                                                   \
    pw_checks++;                                                         \
    if (!(cond)) {                                                       \
      pw_failures++;                                                     \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                    \
  } while (0)

#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)

typedef void (*TestFn)();
struct TestCase {
  const char* name;
  TestFn fn;
};

void run_suite(const char* suite, const TestCase* cases, size_t count);

#endif
