// SPDX-License-Identifier: MIT
/* clock.c - cached monotonic milliseconds for the datapath, fakeable in tests */

#include <uv.h>

#include "clock.h"

static uint64_t (*clock_source)(void);
static uv_loop_t *clock_loop;

uint64_t clock_now_ms(void)
{
	if (clock_source)
		return clock_source();
	if (clock_loop)
		return uv_now(clock_loop);
	return uv_hrtime() / 1000000;
}

void clock_use_loop(uv_loop_t *loop)
{
	clock_loop = loop;
}

void clock_set_source(uint64_t (*fn)(void))
{
	clock_source = fn;
}
