/* checks.h - the tally the C test programs share: CHECK(cond) and CHECK_RC(expr, want)
 * print "ok"/"FAIL" per check and count them in `passed` / `failed`; each program ends
 * with printf("%d passed, %d failed\n", ...) and a non-zero exit when anything failed.
 * One header per program (the counters are static), included after <websock.h>. */
#ifndef CHECKS_H
#define CHECKS_H

#include <stdio.h>

static int passed, failed;

#define CHECK_RC(expr, want)                                                                  \
    do {                                                                                      \
        websock_result rc_ = (expr);                                                          \
        if (rc_ == (want)) {                                                                  \
            passed++;                                                                         \
            printf("ok   %s == %s\n", #expr, #want);                                          \
        } else {                                                                              \
            failed++;                                                                         \
            printf("FAIL %s: got %d (%s: %s), want %s\n", #expr, (int)rc_,                    \
                   websock_result_str(rc_), websock_last_error_message(), #want);             \
        }                                                                                     \
    } while (0)

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (cond) {                                                                           \
            passed++;                                                                         \
            printf("ok   %s\n", #cond);                                                       \
        } else {                                                                              \
            failed++;                                                                         \
            printf("FAIL %s (line %d)\n", #cond, __LINE__);                                   \
        }                                                                                     \
    } while (0)

#define OK WEBSOCK_RESULT_OK

#endif
