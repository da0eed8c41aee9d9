/* SPDX-License-Identifier: MIT */
/* clock.h - the datapath's notion of now, in milliseconds (monotonic)
 *
 * The daemon reads libuv's cached loop time; tests set a fake clock.
 */
#ifndef NH_CLOCK_H
#define NH_CLOCK_H

#include <stdint.h>
#include <uv.h>

/* clock_now_ms() - milliseconds of a monotonic clock: @loop's time, cached
 * per loop turn, once clock_use_loop() named it; until then uv_hrtime() */
uint64_t clock_now_ms(void);

/* clock_use_loop() - read the time of @loop (the datapath's) from now on */
void clock_use_loop(uv_loop_t *loop);

/* clock_set_source() - read time from @fn instead (NULL: back to default) */
void clock_set_source(uint64_t (*fn)(void));

#endif /* NH_CLOCK_H */
