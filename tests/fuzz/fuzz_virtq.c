// SPDX-License-Identifier: MIT
/* fuzz_virtq.c - libFuzzer target for the split-virtqueue walker (virtq.c)
 * over rings a guest wrote
 *
 * Input: a mode byte, then an image of guest memory: the descriptor table
 * at 0, the available ring at 0x800, the used ring at 0x1000, buffers and
 * indirect tables anywhere (descriptors hold guest-physical addresses; the
 * region starts at FUZZ_GPA).  The image is one region of exactly the
 * input's length (at least the rings' end), so ASan sees any read or write
 * past it.  Mode bits: 0-2 the ring size (1 << n), 3 TX (else RX), 4
 * EVENT_IDX, 5 MRG_RXBUF, 6 the 12-byte header, 7 a second, small region
 * at FUZZ_GPA2 that descriptors may also point into.  An input whose
 * length and second byte differ in parity runs with the dirty log on: a bitmap
 * covering the first region (not the second: those pages are counted beyond
 * it), the used ring logged.
 *
 * Checked, besides "no crash, no leak": a TX frame is 14..FRAME_MAX_LEN
 * bytes; every call returns one of its documented values; the used index
 * never runs ahead of the chains taken, and nothing is taken once the
 * queue broke; a delivered RX frame used 1..size chains (one without
 * MRG_RXBUF), a refused one none; every frame
 * is back in the pool afterwards; the log is never written past its
 * end, and marks no more pages than it has.
 * Built with tests/fuzz/standalone.c where libFuzzer is not available.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "virtq.h"

#define FUZZ_GPA       0x10000ull
#define FUZZ_UVA       0x7f0000000000ull
#define FUZZ_GPA2      0x400000ull
#define FUZZ_UVA2      0x7f1000000000ull
#define FUZZ_REGION2   256
#define FUZZ_AVAIL     0x800
#define FUZZ_USED      0x1000
#define FUZZ_RINGS_END (FUZZ_USED + 4 + 8 * 128 + 2)
#define FUZZ_MEM_MAX   (1u << 20)
#define FUZZ_ROUNDS    300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct frame_pool *pool;
static struct vq_mem mem;
static struct virtq q;
static uint8_t log_bits[FUZZ_GPA2 / VQ_LOG_PAGE / 8]; /* below FUZZ_GPA2 */
static struct vq_log dirty_log;

static void fuzz_fail(const char *what, long long got)
{
	fprintf(stderr, "fuzz_virtq: %s (%lld)\n", what, got);
	abort();
}

static void fuzz_tx(void)
{
	for (int i = 0; i < FUZZ_ROUNDS; i++) {
		uint16_t taken = q.last_avail, used = q.used_idx;
		struct frame *f;
		int rc = vq_tx_pop(&q, &f);

		if (rc == 1) {
			if (f->len < FRAME_ETH_HLEN || f->len > FRAME_MAX_LEN)
				fuzz_fail("TX frame length", f->len);
			frame_unref(f);
		} else if (rc != 0 && rc != -EINVAL && rc != -ENOBUFS &&
			   rc != -EIO) {
			fuzz_fail("vq_tx_pop() returned", rc);
		}
		if ((uint16_t)(q.used_idx - used) !=
		    (uint16_t)(q.last_avail - taken))
			fuzz_fail("used entries != chains taken",
				  (uint16_t)(q.used_idx - used));
		if (rc == -EIO && q.last_avail != taken)
			fuzz_fail("a broken queue took a chain", rc);
		if (rc == 0 || rc == -EIO)
			break;
		if (i % 8 == 7)
			vq_publish(&q);
	}
}

static void fuzz_rx(const uint8_t *seed, size_t n)
{
	struct frame *f;
	unsigned len = 60;

	for (int i = 0; i < FUZZ_ROUNDS; i++) {
		uint16_t used = q.used_idx;
		int rc;

		if (n)
			len = 14 +
			      (seed[i % n] * 37u + (unsigned)i * 101u) % 3000;
		f = frame_alloc(len);
		if (!f)
			fuzz_fail("frame pool empty", i);
		memset(f->data, i, len);
		rc = vq_rx_push(&q, f);
		frame_unref(f);
		/* (the used entries' lengths are not checked: a hostile
		 * guest's buffers may overlap its own used ring) */
		if (rc == 0) {
			uint16_t nused = (uint16_t)(q.used_idx - used);

			if (!nused || nused > q.size ||
			    (!q.mrg_rxbuf && nused != 1))
				fuzz_fail("chains used for one frame", nused);
		} else if (rc == -EAGAIN || rc == -EMSGSIZE) {
			if (q.used_idx != used)
				fuzz_fail("refused frame left used entries",
					  rc);
			if (rc == -EAGAIN)
				break;
		} else if (rc == -EIO) {
			break;
		} else if (rc != -EINVAL) {
			fuzz_fail("vq_rx_push() returned", rc);
		}
		if (i % 4 == 3)
			vq_publish(&q);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t region2[FUZZ_REGION2];
	struct frame_pool_stats st;
	uint8_t mode, *img;
	size_t len;
	uint32_t qsize;

	if (size < 1 || size > FUZZ_MEM_MAX)
		return 0;
	if (!pool) {
		pool = frame_pool_new(256, 16);
		frame_pool_set_current(pool);
	}
	mode = data[0];
	len = size - 1 < FUZZ_RINGS_END ? FUZZ_RINGS_END : size - 1;
	img = calloc(1, len);
	if (!img)
		return 0;
	memcpy(img, data + 1, size - 1);
	vq_mem_clear(&mem);
	if (!vq_mem_add_host(&mem, FUZZ_GPA, len, FUZZ_UVA, img, NULL))
		fuzz_fail("region refused", (long long)len);
	if (mode & 0x80) {
		memset(region2, 0x5a, sizeof(region2));
		vq_mem_add_host(&mem, FUZZ_GPA2, sizeof(region2), FUZZ_UVA2,
				region2, NULL);
	}
	qsize = 1u << (mode & 7);
	vq_init(&q, &mem);
	if (!vq_set_addr(&q, qsize, FUZZ_UVA, FUZZ_UVA + FUZZ_AVAIL,
			 FUZZ_UVA + FUZZ_USED, NULL))
		fuzz_fail("ring refused", qsize);
	/* continue from where the image's used ring says */
	vq_set_base(&q, q.used->idx);
	q.event_idx = mode & 0x10;
	q.mrg_rxbuf = mode & 0x20;
	q.hdr_len = mode & 0x40 ? VQ_NET_HDR_MRG_LEN : VQ_NET_HDR_LEN;
	if ((size ^ (size > 1 ? data[1] : 0)) & 1) {
		memset(log_bits, 0, sizeof(log_bits));
		dirty_log = (struct vq_log){.bitmap = log_bits,
					    .bytes = sizeof(log_bits)};
		q.log = &dirty_log;
		vq_set_log_used(&q, true, FUZZ_GPA + FUZZ_USED);
	}
	if (mode & 0x08)
		fuzz_tx();
	else
		fuzz_rx(data + 1, size - 1 < 64 ? size - 1 : 64);
	vq_publish(&q);
	vq_enable_notify(&q, true);
	vq_enable_notify(&q, false);
	if (q.log && dirty_log.pages > sizeof(log_bits) * 8)
		fuzz_fail("more pages marked than the log has",
			  (long long)dirty_log.pages);
	vq_mem_clear(&mem);
	free(img);
	frame_pool_stats(pool, &st);
	if (st.small_free != st.small_total || st.large_free != st.large_total)
		fuzz_fail("frames not returned",
			  st.small_total - st.small_free);
	return 0;
}
