// SPDX-License-Identifier: MIT
/* clock.c - cached monotonic milliseconds for the datapath, fakeable in tests */

#include <uv.h>

#include "clock.h"

static uint64_t (*clock_source)(void);

uint64_t clock_now_ms(void)
{
	if (clock_source)
		return clock_source();
	return uv_now(uv_default_loop());
}

void clock_set_source(uint64_t (*fn)(void))
{
	clock_source = fn;
}
