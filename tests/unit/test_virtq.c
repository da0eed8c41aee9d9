// SPDX-License-Identifier: MIT
/* test_virtq.c - guest memory tables and split virtqueues over synthetic
 * memory: translation and region checks, ring set-up checks, TX gathering
 * (ANY_LAYOUT, indirect tables), every descriptor check, RX with one chain
 * and with MRG_RXBUF, and EVENT_IDX / NO_INTERRUPT / NO_NOTIFY; the dirty
 * log: its mapping checks and the pages marked (and not) as rings and
 * buffers are written; used entries in the order chains were offered. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frame.h"
#include "tap.h"
#include "virtq.h"

#define MEM_GPA	 0x100000ull
#define MEM_UVA	 0x7f0000000000ull
#define MEM_SIZE (1u << 20)
#define QSIZE	 8

/* Layout inside the region (offsets) */
#define OFF_DESC  0x0
#define OFF_AVAIL 0x1000
#define OFF_USED  0x2000
#define OFF_IND	  0x3000  /* indirect tables */
#define OFF_BUF	  0x10000 /* buffers */

static uint8_t *mem;
static struct vq_mem table;
static struct virtq q;
static struct frame_pool *pool;

static void setup(uint32_t size)
{
	vq_mem_clear(&table);
	memset(mem, 0, MEM_SIZE);
	CHECK(vq_mem_add_host(&table, MEM_GPA, MEM_SIZE, MEM_UVA, mem, NULL));
	vq_init(&q, &table);
	CHECK(vq_set_addr(&q, size, MEM_UVA + OFF_DESC, MEM_UVA + OFF_AVAIL,
			  MEM_UVA + OFF_USED, NULL));
}

static struct vring_desc *desc(unsigned i)
{
	return (struct vring_desc *)(mem + OFF_DESC) + i;
}

static struct vring_desc *ind(unsigned i)
{
	return (struct vring_desc *)(mem + OFF_IND) + i;
}

static struct vring_avail *avail(void)
{
	return (struct vring_avail *)(mem + OFF_AVAIL);
}

static struct vring_used *used(void)
{
	return (struct vring_used *)(mem + OFF_USED);
}

static void set_desc(struct vring_desc *d, uint64_t off, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	d->addr = MEM_GPA + off;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* make chain @head available */
static void offer(uint16_t head)
{
	struct vring_avail *a = avail();

	a->ring[a->idx % q.size] = head;
	a->idx++;
}

/* a TX buffer at @off: a zero header of @hlen bytes then a frame of @len
 * bytes with bytes 0..len-1 = i & 0xff */
static void put_tx(uint64_t off, unsigned hlen, unsigned len)
{
	memset(mem + off, 0, hlen);
	for (unsigned i = 0; i < len; i++)
		mem[off + hlen + i] = (uint8_t)i;
}

static bool frame_ok(const struct frame *f, unsigned len)
{
	if (!f || f->len != len)
		return false;
	for (unsigned i = 0; i < len; i++)
		if (f->data[i] != (uint8_t)i)
			return false;
	return true;
}

static int pop(struct frame **f)
{
	return vq_tx_pop(&q, f);
}

/* -- memory ------------------------------------------------------------- */

static void test_mem_translate_one_region_only(void)
{
	struct vq_mem m = {0};
	static uint8_t a[4096], b[4096];
	struct nh_error *err = NULL;

	CHECK(vq_mem_add_host(&m, 0x1000, 4096, 0x10000, a, NULL));
	CHECK(vq_mem_add_host(&m, 0x2000, 4096, 0x20000, b, NULL));
	CHECK(vq_gpa(&m, 0x1000, 4096) == a);
	CHECK(vq_gpa(&m, 0x2010, 16) == b + 16);
	CHECK(vq_gpa(&m, 0x1ff0, 32) == NULL); /* spans two regions */
	CHECK(vq_gpa(&m, 0x3000, 0) == NULL);
	CHECK(vq_gpa(&m, 0x0fff, 1) == NULL);
	CHECK(vq_gpa(&m, 0x1001, UINT64_MAX) == NULL);
	CHECK(vq_uva(&m, 0x20000, 8) == b);
	CHECK(vq_uva(&m, 0x1000, 8) == NULL);
	/* overlaps, wrap, zero size refused */
	CHECK(!vq_mem_add_host(&m, 0x1800, 4096, 0x90000, a, &err));
	CHECK(err && strstr(err->msg, "overlaps"));
	nh_error_free(err);
	err = NULL;
	CHECK(!vq_mem_add_host(&m, 0x9000, 4096, 0x10800, a, NULL));
	CHECK(!vq_mem_add_host(&m, UINT64_MAX - 10, 4096, 0x90000, a, &err));
	CHECK(err && strstr(err->msg, "wraps"));
	nh_error_free(err);
	CHECK(!vq_mem_add_host(&m, 0x9000, 0, 0x90000, a, NULL));
	CHECK_EQ(m.n, 2);
	CHECK_EQ(vq_mem_bytes(&m), 8192);
	CHECK(vq_mem_remove(&m, 0x1000, 4096, 0x10000));
	CHECK(!vq_mem_remove(&m, 0x1000, 4096, 0x10000));
	CHECK(vq_gpa(&m, 0x1000, 1) == NULL);
	CHECK(vq_gpa(&m, 0x2000, 1) == b);
	vq_mem_clear(&m);
}

static void test_mem_map_file_checks_and_seal(void)
{
	struct vq_mem m = {0};
	struct nh_error *err = NULL;
	int fd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	uint8_t *p;

	CHECK(fd >= 0 && ftruncate(fd, 65536) == 0);
	CHECK(!vq_mem_map(&m, 0x1000, 65536, 0x90000, 4096, fd, &err));
	CHECK(err && strstr(err->msg, "fewer than offset + size"));
	nh_error_free(err);
	err = NULL;
	CHECK(
	    !vq_mem_map(&m, 0x1000, 4096, 0x90000, UINT64_MAX - 100, fd, &err));
	CHECK(err && strstr(err->msg, "overflows"));
	nh_error_free(err);
	CHECK(vq_mem_map(&m, 0x1000, 32768, 0x90000, 4096, fd, NULL));
	CHECK_EQ(vq_mem_sealed(&m), 1);
	CHECK(ftruncate(fd, 4096) < 0 && errno == EPERM);
	/* the mapping is the file's bytes from the offset on */
	CHECK(pwrite(fd, "vq", 2, 4096 + 100) == 2);
	p = vq_gpa(&m, 0x1000 + 100, 2);
	CHECK(p && !memcmp(p, "vq", 2));
	CHECK(vq_uva(&m, 0x90000 + 100, 2) == p);
	close(fd); /* the mapping does not need it */
	CHECK(vq_gpa(&m, 0x1000 + 100, 2) == p && p[0] == 'v');
	vq_mem_clear(&m);
	CHECK_EQ(m.n, 0);
	/* a descriptor that cannot be mapped shared */
	err = NULL;
	CHECK(!vq_mem_map(&m, 0x1000, 4096, 0x90000, 0, -1, &err));
	CHECK(err != NULL);
	nh_error_free(err);
}

static void test_mem_table_full(void)
{
	struct vq_mem m = {0};
	static uint8_t a[16];
	unsigned i;

	for (i = 0; i < VQ_MEM_REGIONS_MAX; i++)
		CHECK(vq_mem_add_host(&m, 0x1000 * (i + 1), 16,
				      0x1000 * (i + 1), a, NULL));
	CHECK(!vq_mem_add_host(&m, 0x1000000, 16, 0x1000000, a, NULL));
	vq_mem_clear(&m);
}

static void test_ring_setup_checks(void)
{
	struct nh_error *err = NULL;

	setup(QSIZE);
	CHECK(!vq_set_addr(&q, 6, MEM_UVA, MEM_UVA + OFF_AVAIL,
			   MEM_UVA + OFF_USED, &err));
	CHECK(err && strstr(err->msg, "power of two"));
	nh_error_free(err);
	CHECK(!vq_set_addr(&q, 65536, MEM_UVA, MEM_UVA + OFF_AVAIL,
			   MEM_UVA + OFF_USED, NULL));
	CHECK(!vq_set_addr(&q, 0, MEM_UVA, MEM_UVA + OFF_AVAIL,
			   MEM_UVA + OFF_USED, NULL));
	CHECK(!vq_set_addr(&q, QSIZE, MEM_UVA + 8, MEM_UVA + OFF_AVAIL,
			   MEM_UVA + OFF_USED, NULL));
	CHECK(!vq_set_addr(&q, QSIZE, MEM_UVA, MEM_UVA + OFF_AVAIL + 1,
			   MEM_UVA + OFF_USED, NULL));
	CHECK(!vq_set_addr(&q, QSIZE, MEM_UVA, MEM_UVA + OFF_AVAIL,
			   MEM_UVA + OFF_USED + 2, NULL));
	/* a used ring running off the region's end */
	err = NULL;
	CHECK(!vq_set_addr(&q, QSIZE, MEM_UVA, MEM_UVA + OFF_AVAIL,
			   MEM_UVA + MEM_SIZE - 16, &err));
	CHECK(err && strstr(err->msg, "used ring"));
	nh_error_free(err);
	/* a descriptor table given as a guest-physical address */
	CHECK(!vq_set_addr(&q, QSIZE, MEM_GPA, MEM_UVA + OFF_AVAIL,
			   MEM_UVA + OFF_USED, NULL));
	CHECK(!vq_ready(&q));
	CHECK(vq_set_addr(&q, 32768, MEM_UVA, MEM_UVA + 0x80000,
			  MEM_UVA + 0x90000, NULL));
	CHECK(vq_ready(&q));
}

/* -- TX ----------------------------------------------------------------- */

static void test_tx_one_buffer(void)
{
	struct frame *f;

	setup(QSIZE);
	put_tx(OFF_BUF, 12, 100);
	mem[OFF_BUF] = FRAME_VNET_F_DATA_VALID;
	q.hdr_len = 12;
	set_desc(desc(3), OFF_BUF, 112, 0, 0);
	CHECK_EQ(pop(&f), 0);
	offer(3);
	CHECK_EQ(vq_pending(&q), 1);
	CHECK_EQ(pop(&f), 1);
	CHECK(frame_ok(f, 100));
	CHECK_EQ(f->vnet.flags, FRAME_VNET_F_DATA_VALID);
	frame_unref(f);
	CHECK_EQ(pop(&f), 0);
	/* not visible before publish */
	CHECK_EQ(used()->idx, 0);
	CHECK(vq_publish(&q));
	CHECK_EQ(used()->idx, 1);
	CHECK_EQ(used()->ring[0].id, 3);
	CHECK_EQ(used()->ring[0].len, 0);
	CHECK(!vq_publish(&q)); /* nothing new */
}

static void test_tx_header_split_any_layout(void)
{
	struct frame *f;

	setup(QSIZE);
	put_tx(OFF_BUF, 10, 64);
	/* header split 4 + 6, the frame in two pieces, a zero-length one */
	set_desc(desc(0), OFF_BUF, 4, VRING_DESC_F_NEXT, 5);
	set_desc(desc(5), OFF_BUF + 4, 10, VRING_DESC_F_NEXT, 2);
	set_desc(desc(2), 0, 0, VRING_DESC_F_NEXT, 1);
	set_desc(desc(1), OFF_BUF + 14, 60, 0, 0);
	offer(0);
	CHECK_EQ(pop(&f), 1);
	CHECK(frame_ok(f, 64));
	frame_unref(f);
}

static void test_tx_indirect(void)
{
	struct frame *f;

	setup(QSIZE);
	put_tx(OFF_BUF, 10, 80);
	set_desc(ind(0), OFF_BUF, 10, VRING_DESC_F_NEXT, 1);
	set_desc(ind(1), OFF_BUF + 10, 80, 0, 0);
	set_desc(desc(4), OFF_IND, 32, VRING_DESC_F_INDIRECT, 0);
	offer(4);
	CHECK_EQ(pop(&f), 1);
	CHECK(frame_ok(f, 80));
	frame_unref(f);
	vq_publish(&q);
	CHECK_EQ(used()->ring[0].id, 4);
}

/* offer chain @head and expect it dropped for @why, returned on used */
static void expect_fault(uint16_t head, enum vq_fault why)
{
	struct frame *f = (struct frame *)1;
	uint16_t before = q.used_idx;
	uint64_t faults = q.faults[why];

	offer(head);
	CHECK_EQ(pop(&f), -EINVAL);
	CHECK(f == NULL);
	CHECK_EQ(q.faults[why], faults + 1);
	CHECK_EQ((uint16_t)(q.used_idx - before), 1);
	CHECK(vq_ready(&q));
	vq_publish(&q);
	CHECK_EQ(used()->ring[before % q.size].id, head);
	CHECK_EQ(used()->ring[before % q.size].len, 0);
}

static void test_tx_descriptor_loop(void)
{
	setup(QSIZE);
	put_tx(OFF_BUF, 10, 64);
	set_desc(desc(0), OFF_BUF, 20, VRING_DESC_F_NEXT, 1);
	set_desc(desc(1), OFF_BUF + 20, 20, VRING_DESC_F_NEXT, 0);
	expect_fault(0, VQ_FAULT_LOOP);
	/* a loop of zero-length buffers is found too */
	set_desc(desc(2), 0, 0, VRING_DESC_F_NEXT, 2);
	q.faults[VQ_FAULT_LOOP] = 0;
	expect_fault(2, VQ_FAULT_LOOP);
}

static void test_tx_next_out_of_range(void)
{
	setup(QSIZE);
	set_desc(desc(0), OFF_BUF, 20, VRING_DESC_F_NEXT, QSIZE);
	expect_fault(0, VQ_FAULT_NEXT_RANGE);
}

static void test_tx_bad_address(void)
{
	setup(QSIZE);
	set_desc(desc(0), OFF_BUF, 20, VRING_DESC_F_NEXT, 1);
	set_desc(desc(1), MEM_SIZE - 10, 64, 0, 0); /* runs off the end */
	expect_fault(0, VQ_FAULT_ADDR);
	desc(1)->addr = 0; /* below every region */
	desc(1)->len = 64;
	q.faults[VQ_FAULT_ADDR] = 0;
	expect_fault(0, VQ_FAULT_ADDR);
}

static void test_tx_indirect_checks(void)
{
	setup(QSIZE);
	set_desc(ind(0), OFF_BUF, 80, 0, 0);
	set_desc(desc(0), OFF_IND, 24, VRING_DESC_F_INDIRECT, 0);
	expect_fault(0, VQ_FAULT_INDIRECT_LEN); /* not a multiple of 16 */
	set_desc(desc(1), OFF_IND, 16 * (QSIZE + 1), VRING_DESC_F_INDIRECT, 0);
	expect_fault(1, VQ_FAULT_INDIRECT_LEN); /* longer than the ring */
	set_desc(desc(2), OFF_IND, 0, VRING_DESC_F_INDIRECT, 0);
	q.faults[VQ_FAULT_INDIRECT_LEN] = 1;
	offer(2);
	struct frame *f;
	CHECK_EQ(pop(&f), -EINVAL);
	CHECK_EQ(q.faults[VQ_FAULT_INDIRECT_LEN], 2); /* empty */
	/* nested */
	set_desc(ind(0), OFF_IND + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(desc(3), OFF_IND, 16, VRING_DESC_F_INDIRECT, 0);
	expect_fault(3, VQ_FAULT_INDIRECT_NESTED);
	/* INDIRECT with NEXT */
	set_desc(ind(0), OFF_BUF, 80, 0, 0);
	set_desc(desc(4), OFF_IND, 16,
		 VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 5);
	q.faults[VQ_FAULT_INDIRECT_NESTED] = 0;
	expect_fault(4, VQ_FAULT_INDIRECT_NESTED);
	/* a loop inside an indirect table */
	set_desc(ind(0), OFF_BUF, 40, VRING_DESC_F_NEXT, 1);
	set_desc(ind(1), OFF_BUF, 40, VRING_DESC_F_NEXT, 0);
	set_desc(desc(5), OFF_IND, 32, VRING_DESC_F_INDIRECT, 0);
	expect_fault(5, VQ_FAULT_LOOP);
	/* next past the indirect table's end */
	set_desc(ind(1), OFF_BUF, 40, VRING_DESC_F_NEXT, 2);
	set_desc(desc(6), OFF_IND, 32, VRING_DESC_F_INDIRECT, 0);
	expect_fault(6, VQ_FAULT_NEXT_RANGE);
}

static void test_tx_direction_and_length(void)
{
	setup(QSIZE);
	put_tx(OFF_BUF, 10, 64);
	set_desc(desc(0), OFF_BUF, 74, VRING_DESC_F_WRITE, 0);
	expect_fault(0, VQ_FAULT_DIRECTION);
	set_desc(desc(1), OFF_BUF, 10 + 13, 0, 0); /* 13-byte frame */
	expect_fault(1, VQ_FAULT_SHORT);
	set_desc(desc(2), OFF_BUF, 10 + FRAME_MAX_LEN + 1, 0, 0);
	q.faults[VQ_FAULT_SHORT] = 0;
	expect_fault(2, VQ_FAULT_SHORT);
}

static void test_tx_bad_gso_header_dropped(void)
{
	struct frame *f;

	setup(QSIZE);
	put_tx(OFF_BUF, 10, 64);
	mem[OFF_BUF + 1] = FRAME_GSO_TCPV4; /* over a frame that is not TCP */
	mem[OFF_BUF + 4] = 100;		    /* gso_size */
	set_desc(desc(0), OFF_BUF, 74, 0, 0);
	offer(0);
	CHECK_EQ(pop(&f), -EINVAL);
	CHECK_EQ(q.used_idx, 1);
}

static void test_ring_breaks_on_bad_head_or_index(void)
{
	struct frame *f;

	setup(QSIZE);
	offer(QSIZE); /* head out of range */
	CHECK_EQ(pop(&f), -EIO);
	CHECK(q.broken);
	CHECK_EQ(q.broken_count, 1);
	CHECK_EQ(pop(&f), -EIO);
	setup(QSIZE);
	avail()->idx = QSIZE + 1; /* more than the ring holds */
	CHECK_EQ(vq_pending(&q), 0);
	CHECK(q.broken);
	f = frame_alloc(60);
	CHECK_EQ(vq_rx_push(&q, f), -EIO);
	frame_unref(f);
	/* set up again: usable */
	avail()->idx = 0;
	CHECK(vq_set_addr(&q, QSIZE, MEM_UVA + OFF_DESC, MEM_UVA + OFF_AVAIL,
			  MEM_UVA + OFF_USED, NULL));
	CHECK(vq_ready(&q));
}

static void test_base_and_wrap(void)
{
	struct frame *f;

	setup(QSIZE);
	vq_set_base(&q, 65534);
	avail()->idx = 65534;
	used()->idx = 65534;
	put_tx(OFF_BUF, 10, 64);
	for (int i = 0; i < 4; i++) {
		set_desc(desc(i), OFF_BUF, 74, 0, 0);
		offer((uint16_t)i);
	}
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(pop(&f), 1);
		frame_unref(f);
	}
	vq_publish(&q);
	CHECK_EQ(used()->idx, 2);
	CHECK_EQ(used()->ring[65535 % QSIZE].id, 1);
}

/* -- RX ----------------------------------------------------------------- */

static struct frame *test_frame(unsigned len)
{
	struct frame *f = frame_alloc(len);

	for (unsigned i = 0; i < len; i++)
		f->data[i] = (uint8_t)(i * 7);
	return f;
}

static bool rx_bytes_ok(const uint8_t *p, unsigned from, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i] != (uint8_t)((from + i) * 7))
			return false;
	return true;
}

static void test_rx_single_chain(void)
{
	struct frame *f = test_frame(200);

	setup(QSIZE);
	CHECK_EQ(vq_rx_push(&q, f), -EAGAIN);
	/* header and frame start in one buffer, the rest in another */
	set_desc(desc(0), OFF_BUF, 50, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
		 1);
	set_desc(desc(1), OFF_BUF + 0x1000, 1500, VRING_DESC_F_WRITE, 0);
	offer(0);
	memset(mem + OFF_BUF, 0xee, 10);
	CHECK_EQ(vq_rx_push(&q, f), 0);
	CHECK(vq_publish(&q));
	CHECK_EQ(used()->ring[0].id, 0);
	CHECK_EQ(used()->ring[0].len, 210);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(mem[OFF_BUF + i], 0);
	CHECK(rx_bytes_ok(mem + OFF_BUF + 10, 0, 40));
	CHECK(rx_bytes_ok(mem + OFF_BUF + 0x1000, 40, 160));
	/* a chain too small is left for later, the frame refused */
	set_desc(desc(2), OFF_BUF, 100, VRING_DESC_F_WRITE, 0);
	offer(2);
	CHECK_EQ(vq_rx_push(&q, f), -EMSGSIZE);
	CHECK_EQ(vq_pending(&q), 1);
	frame_unref(f);
}

static void test_rx_readable_after_writable(void)
{
	struct frame *f = test_frame(60);

	setup(QSIZE);
	set_desc(desc(0), OFF_BUF, 50, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
		 1);
	set_desc(desc(1), OFF_BUF + 0x1000, 1500, 0, 0);
	offer(0);
	CHECK_EQ(vq_rx_push(&q, f), -EINVAL);
	CHECK_EQ(q.faults[VQ_FAULT_READ_AFTER_WRITE], 1);
	vq_publish(&q);
	CHECK_EQ(used()->idx, 1);
	CHECK_EQ(used()->ring[0].len, 0);
	/* a readable chain offered for RX */
	set_desc(desc(2), OFF_BUF, 1500, 0, 0);
	offer(2);
	CHECK_EQ(vq_rx_push(&q, f), -EINVAL);
	CHECK_EQ(q.faults[VQ_FAULT_DIRECTION], 1);
	frame_unref(f);
}

static void test_rx_mergeable(void)
{
	struct frame *f = test_frame(1500);
	uint8_t *h = mem + OFF_BUF;

	setup(QSIZE);
	q.mrg_rxbuf = true;
	q.hdr_len = 12;
	for (int i = 0; i < 2; i++) {
		set_desc(desc(i), OFF_BUF + 0x1000 * i, 600, VRING_DESC_F_WRITE,
			 0);
		offer((uint16_t)i);
	}
	/* two chains are not enough: nothing taken */
	CHECK_EQ(vq_rx_push(&q, f), -EAGAIN);
	CHECK_EQ(vq_pending(&q), 2);
	CHECK_EQ(q.used_idx, 0);
	set_desc(desc(2), OFF_BUF + 0x2000, 600, VRING_DESC_F_WRITE, 0);
	offer(2);
	CHECK_EQ(vq_rx_push(&q, f), 0);
	CHECK(vq_publish(&q));
	CHECK_EQ(used()->idx, 3);
	CHECK_EQ(used()->ring[0].len, 600);
	CHECK_EQ(used()->ring[1].len, 600);
	CHECK_EQ(used()->ring[2].len, 312);
	CHECK_EQ(h[10] | h[11] << 8, 3); /* num_buffers */
	CHECK(rx_bytes_ok(h + 12, 0, 588));
	CHECK(rx_bytes_ok(mem + OFF_BUF + 0x1000, 588, 600));
	CHECK(rx_bytes_ok(mem + OFF_BUF + 0x2000, 1188, 312));
	/* a small frame takes one buffer: num_buffers 1 */
	frame_unref(f);
	f = test_frame(60);
	set_desc(desc(3), OFF_BUF + 0x3000, 600, VRING_DESC_F_WRITE, 0);
	offer(3);
	CHECK_EQ(vq_rx_push(&q, f), 0);
	CHECK_EQ(mem[OFF_BUF + 0x3000 + 10], 1);
	frame_unref(f);
}

/* A GSO frame goes to the guest in one piece, its facts in the header;
 * the checksum flags only to a driver that accepted GUEST_CSUM */
static void test_rx_gso_frame_keeps_its_header(void)
{
	struct frame *f = test_frame(20000);
	uint8_t *h = mem + OFF_BUF;
	uint16_t v;

	f->vnet = (struct frame_vnet){
	    .flags = FRAME_VNET_F_NEEDS_CSUM,
	    .gso_type = FRAME_GSO_TCPV4,
	    .hdr_len = 54,
	    .gso_size = 1448,
	    .csum_start = 34,
	    .csum_offset = 16,
	};
	for (int csum = 0; csum < 2; csum++) {
		setup(QSIZE);
		q.mrg_rxbuf = true;
		q.hdr_len = 12;
		q.guest_csum = csum;
		for (int i = 0; i < 5; i++) {
			set_desc(desc(i), OFF_BUF + 0x1000 * i, 4096,
				 VRING_DESC_F_WRITE, 0);
			offer((uint16_t)i);
		}
		CHECK_EQ(vq_rx_push(&q, f), 0);
		vq_publish(&q);
		CHECK_EQ(used()->idx, 5);
		CHECK_EQ(h[0], csum ? FRAME_VNET_F_NEEDS_CSUM : 0);
		CHECK_EQ(h[1], FRAME_GSO_TCPV4);
		memcpy(&v, h + 2, 2);
		CHECK_EQ(v, 54);
		memcpy(&v, h + 4, 2);
		CHECK_EQ(v, 1448);
		memcpy(&v, h + 6, 2);
		CHECK_EQ(v, 34);
		CHECK_EQ(h[10] | h[11] << 8, 5); /* num_buffers */
		CHECK(rx_bytes_ok(h + 12, 0, 4084));
		CHECK(rx_bytes_ok(mem + OFF_BUF + 0x4000, 4084 + 3 * 4096,
				  20000 - 4084 - 3 * 4096));
	}
	frame_unref(f);
}

static void test_rx_mergeable_bad_chain_returns_all(void)
{
	struct frame *f = test_frame(1000);

	setup(QSIZE);
	q.mrg_rxbuf = true;
	q.hdr_len = 12;
	set_desc(desc(0), OFF_BUF, 600, VRING_DESC_F_WRITE, 0);
	set_desc(desc(1), OFF_BUF + 0x1000, 600,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, QSIZE + 3);
	offer(0);
	offer(1);
	CHECK_EQ(vq_rx_push(&q, f), -EINVAL);
	vq_publish(&q);
	CHECK_EQ(used()->idx, 2);
	CHECK_EQ(used()->ring[0].len, 0);
	CHECK_EQ(used()->ring[1].len, 0);
	frame_unref(f);
}

/* -- notifications ------------------------------------------------------- */

static void test_interrupt_suppression(void)
{
	struct frame *f;

	setup(QSIZE);
	put_tx(OFF_BUF, 10, 64);
	set_desc(desc(0), OFF_BUF, 74, 0, 0);
	avail()->flags = VRING_AVAIL_F_NO_INTERRUPT;
	offer(0);
	CHECK_EQ(pop(&f), 1);
	frame_unref(f);
	CHECK(!vq_publish(&q));
	CHECK_EQ(used()->idx, 1);
	avail()->flags = 0;
	offer(0);
	CHECK_EQ(pop(&f), 1);
	frame_unref(f);
	CHECK(vq_publish(&q));
	/* kick suppression without EVENT_IDX: the used ring's flag */
	vq_enable_notify(&q, false);
	CHECK_EQ(used()->flags, VRING_USED_F_NO_NOTIFY);
	CHECK(!vq_enable_notify(&q, true));
	CHECK_EQ(used()->flags, 0);
	offer(0);
	CHECK(vq_enable_notify(&q, true)); /* arrived meanwhile */
}

static void test_event_idx(void)
{
	struct frame *f;
	uint16_t *used_event, *avail_event;

	setup(QSIZE);
	q.event_idx = true;
	used_event = &avail()->ring[QSIZE];
	avail_event = (uint16_t *)&used()->ring[QSIZE];
	put_tx(OFF_BUF, 10, 64);
	for (int i = 0; i < 4; i++)
		set_desc(desc(i), OFF_BUF, 74, 0, 0);
	/* the driver wants a call once entry 2 is used (used_event = 2):
	 * publishing 0..1 does not call, publishing 2..3 does */
	*used_event = 2;
	for (int i = 0; i < 4; i++)
		offer((uint16_t)i);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(pop(&f), 1);
		frame_unref(f);
	}
	CHECK(!vq_publish(&q));
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(pop(&f), 1);
		frame_unref(f);
	}
	CHECK(vq_publish(&q));
	/* NO_INTERRUPT is ignored with EVENT_IDX */
	avail()->flags = VRING_AVAIL_F_NO_INTERRUPT;
	*used_event = 4;
	offer(0);
	CHECK_EQ(pop(&f), 1);
	frame_unref(f);
	CHECK(vq_publish(&q));
	/* kicks: avail_event follows what we took when we ask for them */
	CHECK(!vq_enable_notify(&q, true));
	CHECK_EQ(*avail_event, 5);
	CHECK_EQ(used()->flags, 0);
	vq_enable_notify(&q, false);
	CHECK_EQ(*avail_event, 5);
}

/* -- the dirty log ------------------------------------------------------ */

static void test_log_map_checks(void)
{
	struct vq_log l = {0};
	struct nh_error *err = NULL;
	int fd = memfd_create("log", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int pipefd[2];
	struct {
		uint64_t size, offset;
		const char *why;
	} bad[] = {
	    {0, 0, "size 0"},
	    {8192, UINT64_MAX - 4095, "overflows"},
	    {4096, 1, "fewer than offset + size"},
	    {8192, 0, "fewer than offset + size"},
	};

	CHECK(fd >= 0 && ftruncate(fd, 4096) == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		CHECK(!vq_log_map(&l, fd, bad[i].size, bad[i].offset, &err));
		CHECK(err && strstr(err->msg, bad[i].why));
		nh_error_free(err);
		CHECK(l.bitmap == NULL);
	}
	CHECK(pipe(pipefd) == 0);
	err = NULL;
	CHECK(!vq_log_map(&l, pipefd[0], 64, 0, &err));
	CHECK(err && strstr(err->msg, "not a shared memory file"));
	nh_error_free(err);
	close(pipefd[0]);
	close(pipefd[1]);
	/* an unaligned offset is fine; the bitmap is the file's bytes */
	CHECK(vq_log_map(&l, fd, 64, 100, NULL));
	CHECK_EQ(l.bytes, 64);
	vq_log_mark(&l, 9 * VQ_LOG_PAGE, 1);
	CHECK(pread(fd, pipefd, 1, 101) == 1);
	CHECK_EQ(*(uint8_t *)pipefd, 0x02);
	CHECK(ftruncate(fd, 0) < 0); /* sealed against shrinking */
	/* a new log replaces the old; a bad one leaves it in place */
	CHECK(vq_log_map(&l, fd, 32, 0, NULL));
	CHECK_EQ(l.bytes, 32);
	CHECK(!vq_log_map(&l, fd, 0, 0, NULL));
	CHECK_EQ(l.bytes, 32);
	vq_log_unmap(&l);
	CHECK(l.bitmap == NULL && l.bytes == 0);
	vq_log_unmap(&l);
	close(fd);
}

#define LOG_BYTES 128 /* 1024 pages: the whole test region and below */
#define PAGE(off) ((MEM_GPA + (off)) / VQ_LOG_PAGE)

static uint8_t log_bits[LOG_BYTES + 16];

static struct vq_log log_on(uint64_t bytes)
{
	memset(log_bits, 0, sizeof(log_bits));
	return (struct vq_log){.bitmap = log_bits, .bytes = bytes};
}

static bool page_marked(uint64_t page)
{
	return log_bits[page / 8] & (1u << (page % 8));
}

static unsigned pages_marked(void)
{
	unsigned n = 0;

	for (size_t i = 0; i < sizeof(log_bits); i++)
		n += (unsigned)__builtin_popcount(log_bits[i]);
	return n;
}

static void test_log_rx_marks_written_pages(void)
{
	struct frame *f = test_frame(200);
	struct vq_log l = log_on(LOG_BYTES);

	setup(QSIZE);
	q.log = &l;
	vq_set_log_used(&q, true, MEM_GPA + OFF_USED);
	/* a chain whose first buffer crosses a page, its second one page
	 * further: the frame is scattered */
	set_desc(desc(0), OFF_BUF + 0xff0, 50,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(desc(1), OFF_BUF + 0x3000, 1500, VRING_DESC_F_WRITE, 0);
	offer(0);
	CHECK_EQ(vq_rx_push(&q, f), 0);
	vq_publish(&q);
	CHECK(page_marked(PAGE(OFF_BUF)) &&
	      page_marked(PAGE(OFF_BUF + 0x1000)));
	CHECK(page_marked(PAGE(OFF_BUF + 0x3000)));
	CHECK(page_marked(PAGE(OFF_USED))); /* entry and index */
	CHECK_EQ(pages_marked(), 4);
	CHECK_EQ(l.pages, 4);
	/* the whole frame in one buffer: its page */
	set_desc(desc(2), OFF_BUF + 0x5000, 1500, VRING_DESC_F_WRITE, 0);
	offer(2);
	CHECK_EQ(vq_rx_push(&q, f), 0);
	CHECK(page_marked(PAGE(OFF_BUF + 0x5000)));
	CHECK_EQ(l.pages, 5);
	/* not logging: nothing marked */
	q.log = NULL;
	set_desc(desc(3), OFF_BUF + 0x7000, 1500, VRING_DESC_F_WRITE, 0);
	offer(3);
	CHECK_EQ(vq_rx_push(&q, f), 0);
	vq_publish(&q);
	CHECK(!page_marked(PAGE(OFF_BUF + 0x7000)));
	CHECK_EQ(pages_marked(), 5);
	CHECK_EQ(l.beyond, 0);
	frame_unref(f);
}

static void test_log_used_ring_and_bounds(void)
{
	struct frame *f;
	struct vq_log l = log_on(LOG_BYTES);

	setup(QSIZE);
	q.log = &l;
	/* without VHOST_VRING_F_LOG the used ring is not logged: a TX
	 * chain writes nothing else */
	put_tx(OFF_BUF, 10, 64);
	set_desc(desc(0), OFF_BUF, 74, 0, 0);
	offer(0);
	CHECK_EQ(pop(&f), 1);
	frame_unref(f);
	vq_publish(&q);
	CHECK_EQ(pages_marked(), 0);
	/* with it, the used entry, index and flags are */
	vq_set_log_used(&q, true, MEM_GPA + OFF_USED);
	offer(0);
	CHECK_EQ(pop(&f), 1);
	frame_unref(f);
	vq_publish(&q);
	CHECK(page_marked(PAGE(OFF_USED)));
	CHECK_EQ(pages_marked(), 1);
	/* avail_event (EVENT_IDX), in the page after when the ring ends
	 * there */
	q.event_idx = true;
	vq_set_log_used(&q, true, MEM_GPA + 0x8000 - 4 - 8 * QSIZE);
	vq_enable_notify(&q, true);
	CHECK(page_marked(PAGE(0x8000)));
	CHECK(!page_marked(PAGE(0x7000)));
	/* pages past the bitmap are counted, not marked; nothing past it
	 * is touched */
	l = log_on(PAGE(0) / 8);
	vq_publish(&q);
	offer(0);
	CHECK_EQ(pop(&f), 1);
	frame_unref(f);
	vq_publish(&q);
	CHECK_EQ(pages_marked(), 0);
	CHECK(l.beyond > 0);
	/* an address at the top does not wrap to page 0 */
	l = log_on(LOG_BYTES);
	vq_log_mark(&l, UINT64_MAX - 10, 100);
	CHECK_EQ(pages_marked(), 0);
	CHECK_EQ(l.beyond, 1);
	vq_log_mark(&l, 0, 0);
	CHECK_EQ(pages_marked(), 0);
}

/* What VIRTIO_F_IN_ORDER promises a driver: used entries come in the order
 * the chains were made available, whatever their head indexes, with a
 * refused chain in its place (length 0) and a frame spread over several
 * chains taking them in turn */
static void test_used_in_available_order(void)
{
	static const uint16_t tx_heads[] = {5, 2, 7, 0};
	static const uint16_t rx_heads[] = {6, 1, 4, 3};
	struct frame *f, *big, *small;

	setup(QSIZE);
	for (unsigned i = 0; i < 4; i++) {
		uint16_t h = tx_heads[i];

		put_tx(OFF_BUF + 0x1000u * h, 10, 60);
		set_desc(desc(h), OFF_BUF + 0x1000u * h, 70, 0, 0);
		offer(h);
	}
	desc(2)->flags = VRING_DESC_F_WRITE; /* refused: wrong direction */
	CHECK_EQ(pop(&f), 1);
	frame_unref(f);
	CHECK_EQ(pop(&f), -EINVAL);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(pop(&f), 1);
		frame_unref(f);
	}
	vq_publish(&q);
	CHECK_EQ(used()->idx, 4);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(used()->ring[i].id, tx_heads[i]);
	CHECK_EQ(used()->ring[1].len, 0);

	setup(QSIZE);
	q.mrg_rxbuf = true;
	q.hdr_len = 12;
	for (unsigned i = 0; i < 4; i++) {
		uint16_t h = rx_heads[i];

		set_desc(desc(h), OFF_BUF + 0x1000u * h, 600,
			 VRING_DESC_F_WRITE, 0);
		offer(h);
	}
	desc(4)->flags = 0; /* refused: readable, for RX */
	big = test_frame(1000);	  /* two chains: 6 and 1 */
	small = test_frame(100);
	CHECK_EQ(vq_rx_push(&q, big), 0);
	CHECK_EQ(vq_rx_push(&q, small), -EINVAL); /* chain 4 */
	CHECK_EQ(vq_rx_push(&q, small), 0);	  /* chain 3 */
	vq_publish(&q);
	CHECK_EQ(used()->idx, 4);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(used()->ring[i].id, rx_heads[i]);
	CHECK_EQ(used()->ring[0].len, 600);
	CHECK_EQ(used()->ring[1].len, 412);
	CHECK_EQ(used()->ring[2].len, 0);
	CHECK_EQ(used()->ring[3].len, 112);
	frame_unref(big);
	frame_unref(small);
}

static void test_frames_all_returned(void)
{
	struct frame_pool_stats st;

	frame_pool_stats(pool, &st);
	CHECK_EQ(st.small_free, st.small_total);
	CHECK_EQ(st.large_free, st.large_total);
}

int main(void)
{
	mem = aligned_alloc(4096, MEM_SIZE);
	pool = frame_pool_new(64, 4);
	frame_pool_set_current(pool);
	TAP_RUN(test_mem_translate_one_region_only);
	TAP_RUN(test_mem_map_file_checks_and_seal);
	TAP_RUN(test_mem_table_full);
	TAP_RUN(test_ring_setup_checks);
	TAP_RUN(test_tx_one_buffer);
	TAP_RUN(test_tx_header_split_any_layout);
	TAP_RUN(test_tx_indirect);
	TAP_RUN(test_tx_descriptor_loop);
	TAP_RUN(test_tx_next_out_of_range);
	TAP_RUN(test_tx_bad_address);
	TAP_RUN(test_tx_indirect_checks);
	TAP_RUN(test_tx_direction_and_length);
	TAP_RUN(test_tx_bad_gso_header_dropped);
	TAP_RUN(test_ring_breaks_on_bad_head_or_index);
	TAP_RUN(test_base_and_wrap);
	TAP_RUN(test_rx_single_chain);
	TAP_RUN(test_rx_readable_after_writable);
	TAP_RUN(test_rx_mergeable);
	TAP_RUN(test_rx_gso_frame_keeps_its_header);
	TAP_RUN(test_rx_mergeable_bad_chain_returns_all);
	TAP_RUN(test_interrupt_suppression);
	TAP_RUN(test_event_idx);
	TAP_RUN(test_log_map_checks);
	TAP_RUN(test_log_rx_marks_written_pages);
	TAP_RUN(test_log_used_ring_and_bounds);
	TAP_RUN(test_used_in_available_order);
	TAP_RUN(test_frames_all_returned);
	vq_mem_clear(&table);
	frame_pool_free(pool);
	free(mem);
	return tap_done();
}
