// SPDX-License-Identifier: MIT
/* cpu_handoff.c - how long one cache line takes to go from one CPU to
 * another and back, in nanoseconds each way
 *
 * A vhost-user switch and its peer run on two CPUs and every frame's
 * buffers, descriptors and ring entries cross between them, so this
 * latency sets much of what either can forward.  On a virtual machine it
 * changes from run to run with where the host puts the two vCPUs (on
 * this kind of machine 60 ns or 230 ns), and with it every system's
 * frames/s: bench/vhost-user.sh prints it before each system's run, so
 * that rates are compared between runs that saw the same latency.
 *
 * Usage: cpu-handoff [CPU_A CPU_B]   (default 0 1)
 * Prints one line: "cpu handoff A<->B: N ns".
 */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define HANDOFFS 200000 /* round trips timed: ~0.1 s at 230 ns */

static _Alignas(64) uint64_t turn; /* odd: B's turn; even: A's */

static cpu_set_t cpu(int n)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(n, &set);
	return set;
}

static void wait_for(uint64_t want)
{
	while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != want) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
}

static void *side_b(void *arg)
{
	(void)arg;
	for (uint64_t i = 0; i < HANDOFFS; i++) {
		wait_for(2 * i + 1);
		__atomic_store_n(&turn, 2 * i + 2, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* start_b() - side B's thread, on CPU @b; the caller on CPU @a */
static int start_b(pthread_t *t, int a, int b)
{
	cpu_set_t on_a, on_b;
	pthread_attr_t attr;
	int err;

	if (a >= CPU_SETSIZE || b >= CPU_SETSIZE)
		return -1;
	on_a = cpu(a);
	on_b = cpu(b);
	if (pthread_setaffinity_np(pthread_self(), sizeof(on_a), &on_a) ||
	    pthread_attr_init(&attr))
		return -1;
	/* created on its CPU, or not at all */
	err = pthread_attr_setaffinity_np(&attr, sizeof(on_b), &on_b) ||
	      pthread_create(t, &attr, side_b, NULL);
	pthread_attr_destroy(&attr);
	return err ? -1 : 0;
}

/* cpu_arg() - a CPU number (maybe one not there), or -1 when @s is not
 * a number */
static int cpu_arg(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	return end != s && !*end && n >= 0 && n <= INT_MAX ? (int)n : -1;
}

int main(int argc, char **argv)
{
	int a = argc == 3 ? cpu_arg(argv[1]) : 0;
	int b = argc == 3 ? cpu_arg(argv[2]) : 1;
	struct timespec t0, t1;
	pthread_t t;
	double ns;

	if ((argc != 1 && argc != 3) || a < 0 || b < 0 || a == b) {
		fprintf(stderr, "usage: cpu-handoff [CPU_A CPU_B] (two "
				"different CPUs; default 0 1)\n");
		return 2;
	}
	if (start_b(&t, a, b)) {
		fprintf(stderr, "cpu-handoff: cannot run on CPUs %d and %d\n",
			a, b);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 0; i < HANDOFFS; i++) {
		__atomic_store_n(&turn, 2 * i + 1, __ATOMIC_RELEASE);
		wait_for(2 * i + 2);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(t, NULL);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	     (double)(t1.tv_nsec - t0.tv_nsec);
	printf("cpu handoff %d<->%d: %.0f ns\n", a, b, ns / HANDOFFS / 2);
	return 0;
}
