/* SPDX-License-Identifier: MIT */
/* tap.h - a tiny Test Anything Protocol emitter for the unit tests
 *
 * Each test file defines test functions and lists them in main():
 *
 *	static void test_fdb_entry_moves_with_mac(void) { ... CHECK(x == y); }
 *	int main(void) { TAP_RUN(test_fdb_entry_moves_with_mac); return tap_done(); }
 *
 * A test passes when none of its CHECKs failed; a failed CHECK prints the
 * expression, file and line as a TAP diagnostic and the test goes on.
 */
#ifndef NH_TAP_H
#define NH_TAP_H

#include <stdio.h>

static int tap_count, tap_failed, tap_cur_failed;

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			tap_cur_failed = 1;                                   \
			printf("# CHECK failed: %s (%s:%d)\n", #cond,         \
			       __FILE__, __LINE__);                           \
		}                                                             \
	} while (0)

#define CHECK_EQ(a, b)                                                        \
	do {                                                                  \
		long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);   \
		if (tap_a_ != tap_b_) {                                       \
			tap_cur_failed = 1;                                   \
			printf("# CHECK_EQ failed: %s == %s (%lld != %lld) "  \
			       "(%s:%d)\n",                                   \
			       #a, #b, tap_a_, tap_b_, __FILE__, __LINE__);   \
		}                                                             \
	} while (0)

static inline void tap_run(void (*fn)(void), const char *name)
{
	tap_cur_failed = 0;
	fn();
	tap_count++;
	if (tap_cur_failed)
		tap_failed++;
	printf("%s %d - %s\n", tap_cur_failed ? "not ok" : "ok", tap_count,
	       name);
	fflush(stdout);
}

#define TAP_RUN(fn) tap_run(fn, #fn)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif /* NH_TAP_H */
