/* The unit-test helper every *_test.c includes: CHECK records a failure and goes on,
 * RUN runs one test function, testhelp_done() prints the totals the runner adds up. */
#ifndef TULLE_TESTHELP_H
#define TULLE_TESTHELP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int th_passed, th_failed, th_skipped, th_cur_failed, th_cur_skipped;
static const char *th_cur;

#define CHECK(c)                                                                        \
	do {                                                                            \
		if (!(c)) {                                                             \
			fprintf(stderr, "  %s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, \
				th_cur, #c);                                            \
			th_cur_failed = 1;                                              \
		}                                                                       \
	} while (0)

#define CHECK_STR(a, b)                                                                 \
	do {                                                                            \
		const char *th_a = (a), *th_b = (b);                                    \
		if (!th_a || !th_b || strcmp(th_a, th_b) != 0) {                        \
			fprintf(stderr, "  %s:%d: %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
				th_cur, th_a ? th_a : "(null)", th_b ? th_b : "(null)");   \
			th_cur_failed = 1;                                              \
		}                                                                       \
	} while (0)

#define SKIP(why)                                                                       \
	do {                                                                            \
		printf("SKIP %s: %s\n", th_cur, why);                                   \
		th_cur_skipped = 1;                                                     \
		return;                                                                 \
	} while (0)

#define RUN(fn) th_run(#fn, fn)

/* A fixed-seed xorshift generator, so random tests repeat exactly. */
static unsigned long long th_rng = 88172645463325252ull;
static inline unsigned th_rand(unsigned n)
{
	th_rng ^= th_rng << 13;
	th_rng ^= th_rng >> 7;
	th_rng ^= th_rng << 17;
	return (unsigned)(th_rng % n);
}

static inline void th_run(const char *name, void (*fn)(void))
{
	th_cur = name;
	th_cur_failed = th_cur_skipped = 0;
	fn();
	if (th_cur_skipped) {
		th_skipped++;
		return;
	}
	if (th_cur_failed) {
		th_failed++;
		printf("FAIL %s\n", name);
	} else {
		th_passed++;
		printf("PASS %s\n", name);
	}
	fflush(stdout);
}

static inline int testhelp_done(void)
{
	printf("%d passed, %d failed, %d skipped\n", th_passed, th_failed, th_skipped);
	return th_failed ? 1 : 0;
}

#endif
