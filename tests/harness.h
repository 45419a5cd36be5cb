/*
 * harness — UDR's small test harness.
 *
 * A test file defines `static void test_x(void)` functions and lists them in
 * a TESTS table; main() is HARNESS_MAIN("suite", TESTS). CHECK records a
 * failure and goes on; REQUIRE ends the current test. Output: one line per
 * test, failures with file:line and what was expected and what came, and a
 * last line "suite: N passed, N failed". `test_x NAME` runs one test.
 *
 * Each test gets a fresh temporary directory (t_dir()), removed when the
 * test passes and kept (its path printed) when it fails.
 */
#ifndef UDR_TEST_HARNESS_H
#define UDR_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

#define TEST_ENTRY(fn) {#fn, fn}

int harness_main(int argc, char **argv, const char *suite, const test_case *cases, size_t n);
#define HARNESS_MAIN(suite, cases)                                                   \
    int main(int argc, char **argv)                                                  \
    {                                                                                \
        return harness_main(argc, argv, suite, cases, sizeof cases / sizeof cases[0]); \
    }

void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void harness_abort_test(void) __attribute__((noreturn));

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond))                                                                 \
            harness_fail(__FILE__, __LINE__, "expected %s", #cond);                  \
    } while (0)

#define REQUIRE(cond)                                                                \
    do {                                                                             \
        if (!(cond)) {                                                               \
            harness_fail(__FILE__, __LINE__, "required %s", #cond);                  \
            harness_abort_test();                                                    \
        }                                                                            \
    } while (0)

#define CHECK_INT(a, op, b)                                                          \
    do {                                                                             \
        long long a_ = (long long)(a), b_ = (long long)(b);                          \
        if (!(a_ op b_))                                                             \
            harness_fail(__FILE__, __LINE__, "expected %s %s %s, got %lld vs %lld", #a, \
                         #op, #b, a_, b_);                                           \
    } while (0)

#define CHECK_STR(a, b)                                                              \
    do {                                                                             \
        const char *a_ = (a), *b_ = (b);                                             \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                         \
            harness_fail(__FILE__, __LINE__, "expected %s == %s, got \"%s\" vs \"%s\"", \
                         #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");            \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                  \
    do {                                                                             \
        const char *h_ = (hay), *n_ = (needle);                                      \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                    \
            harness_fail(__FILE__, __LINE__, "expected %s to contain \"%s\", got \"%s\"", \
                         #hay, n_, h_ ? h_ : "(null)");                              \
    } while (0)

/* A fresh directory for the running test. */
const char *t_dir(void);

/* A path inside t_dir(): t_path("repo"). Returns a static buffer (4 of them,
 * rotating). */
const char *t_path(const char *name);

/* Deterministic pseudo-random bytes. */
void t_fill(void *buf, size_t len, uint64_t seed);

/* Writes len bytes to path; REQUIREs success. */
void t_write_file(const char *path, const void *data, size_t len);

/* Runs a shell command, returns its first output line (static buffer, no
 * newline) or NULL; *status receives the exit status if non-NULL. */
const char *t_run(const char *cmd, int *status);

/* The directory the test binary lives in (to find build/udr). */
const char *t_bindir(void);

/* Number of files in a directory (not recursive), -1 if unreadable. */
int t_count_files(const char *dir);

#endif
