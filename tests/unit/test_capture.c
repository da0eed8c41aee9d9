// SPDX-License-Identifier: MIT
/* test_capture.c - filter-dump captures: which frames, the accounting, the
 * ring and its drops, maxlen, BPF filters, and the files libpcap reads back
 *
 * The netdevs are "none" netdevs made by netdev_add() (so that captures
 * find them by name) whose ops are then swapped for a recording backend
 * that keeps what it is sent; ports are made by hand on hub 0.
 */

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "capture.h"
#include "hub.h"
#include "netdev.h"
#include "port.h"
#include "registry.h"
#include "tap.h"

#define REC_MAX 256
#define SYNC_MS 10000

struct rec {
	struct frame *got[REC_MAX];
	unsigned n;
};

static unsigned rec_send(struct port *p, struct frame *const *frames,
			 unsigned n)
{
	struct rec *r = p->priv;
	unsigned k = 0;

	/* takes what fits, and frees it at once as a backend may */
	for (; k < n && r->n < REC_MAX; k++)
		r->n++;
	frame_unref_many(frames, k);
	return k;
}

static bool rec_open(struct netdev *nd, const json_t *o, struct nh_error **e)
{
	return true;
}

static void rec_close(struct netdev *nd)
{
}

static const struct backend_ops rec_ops = {
	.type = "none",
	.open = rec_open,
	.close = rec_close,
	.send = rec_send,
};

static struct frame_pool *pool;
static char dir[64];
static struct netdev *nd0, *nd1;
static struct port *p0, *p1;
static struct rec r0, r1;
static const struct backend_ops *none_ops;

static struct netdev *make_netdev(const char *id)
{
	json_t *args = json_pack("{ss ss}", "type", "none", "id", id);
	struct netdev *nd = netdev_add(uv_default_loop(), args, NULL);

	json_decref(args);
	none_ops = nd->ops;
	nd->ops = &rec_ops;
	return nd;
}

/* Netdev "n0" with its port "n0.1", netdev "n1" with port "n1" */
static void setup(void)
{
	pool = frame_pool_new(4096, 8);
	frame_pool_set_current(pool);
	memset(&r0, 0, sizeof(r0));
	memset(&r1, 0, sizeof(r1));
	nd0 = make_netdev("n0");
	nd1 = make_netdev("n1");
	p0 = port_new(nd0, "1", &r0);
	p1 = port_new(nd1, NULL, &r1);
	snprintf(dir, sizeof(dir), "/tmp/test_capture.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
}

static void rm(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void teardown(void)
{
	struct frame_pool_stats st;

	capture_del_all();
	CHECK_EQ(capture_count(), 0);
	port_free(p0);
	port_free(p1);
	nd0->ops = none_ops;
	nd1->ops = none_ops;
	netdev_del_all();
	frame_pool_stats(pool, &st);
	CHECK_EQ(st.small_free, st.small_total); /* no frame leaked */
	frame_pool_free(pool);
	rm("a.pcap");
	rm("b.pcap");
	rm("c.pcap");
	rm("d.pcap");
	rm("fifo");
	rmdir(dir);
}

static const char *path_of(const char *name)
{
	static char path[4][128];
	static unsigned i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

static struct capture *add(const char *json, struct nh_error **errp)
{
	json_error_t jerr;
	json_t *args = json_loads(json, 0, &jerr);
	struct capture *c;

	CHECK(args != NULL);
	c = capture_add(args, errp);
	json_decref(args);
	return c;
}

static struct capture *addf(const char *id, const char *target,
			    const char *file, const char *extra)
{
	char json[512];
	struct nh_error *err = NULL;
	struct capture *c;

	snprintf(json, sizeof(json),
		 "{\"qom-type\": \"filter-dump\", \"id\": \"%s\", %s, "
		 "\"file\": \"%s\"%s%s}",
		 id, target, path_of(file), extra ? ", " : "",
		 extra ? extra : "");
	c = add(json, &err);
	if (!c)
		printf("# capture_add: %s\n", err->msg);
	nh_error_free(err);
	CHECK(c != NULL);
	return c;
}

/* A broadcast frame of @len bytes from MAC ..:@src with ethertype @type */
static struct frame *mk(unsigned len, uint8_t src, uint16_t type)
{
	struct frame *f = frame_alloc(len);

	memset(f->data, 0xff, 6);
	memset(f->data + 6, 0, 6);
	f->data[6] = 0x02;
	f->data[11] = src;
	f->data[12] = (uint8_t)(type >> 8);
	f->data[13] = (uint8_t)type;
	for (unsigned i = 14; i < len; i++)
		f->data[i] = (uint8_t)i;
	return f;
}

static void inject(struct port *p, unsigned n, unsigned len, uint16_t type)
{
	struct frame *fs[FRAME_BURST_MAX];

	while (n) {
		unsigned k = n < FRAME_BURST_MAX ? n : FRAME_BURST_MAX;

		for (unsigned i = 0; i < k; i++)
			fs[i] = mk(len, p == p0 ? 1 : 2, type);
		port_input(p, fs, k);
		n -= k;
	}
}

/* Read @file back: frames, sum of lengths; caplens and lens of the first */
struct readback {
	unsigned n;
	uint64_t bytes;
	unsigned caplen[16], len[16];
	int snaplen, linktype;
};

static bool read_back(const char *file, struct readback *rb)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path_of(file), err);
	struct pcap_pkthdr *h;
	const u_char *data;

	memset(rb, 0, sizeof(*rb));
	if (!p) {
		printf("# pcap_open_offline: %s\n", err);
		return false;
	}
	rb->snaplen = pcap_snapshot(p);
	rb->linktype = pcap_datalink(p);
	while (pcap_next_ex(p, &h, &data) == 1) {
		if (rb->n < 16) {
			rb->caplen[rb->n] = h->caplen;
			rb->len[rb->n] = h->len;
		}
		rb->n++;
		rb->bytes += h->len;
	}
	pcap_close(p);
	return true;
}

static void stats_of(const char *id, struct capture_stats *st)
{
	struct capture *c = capture_find(id);

	CHECK(c != NULL);
	CHECK(capture_sync(c, SYNC_MS));
	capture_get_stats(c, st);
	CHECK_EQ(st->seen, st->frames + st->filtered + st->dropped);
}

/* -- tests ----------------------------------------------------------------- */

static void test_capture_directions_match_port_counters(void)
{
	struct capture_stats tx, rx, all, hub, nd;
	struct readback rb;

	setup();
	addf("tx", "\"netdev\": \"n0.1\"", "a.pcap", "\"queue\": \"tx\"");
	addf("rx", "\"netdev\": \"n0.1\"", "b.pcap", "\"queue\": \"rx\"");
	addf("all", "\"netdev\": \"n0\"", "c.pcap", NULL);
	addf("hub", "\"hubid\": 0", "d.pcap", NULL);
	CHECK_EQ(capture_count(), 4);
	inject(p0, 100, 60, 0x88b5);
	inject(p1, 70, 100, 0x88b5);

	stats_of("tx", &tx);
	stats_of("rx", &rx);
	stats_of("all", &all);
	stats_of("hub", &hub);
	CHECK_EQ(p0->stats.rx_frames, 100);
	CHECK_EQ(p0->stats.tx_frames, 70);
	CHECK_EQ(tx.frames, p0->stats.rx_frames);
	CHECK_EQ(tx.bytes, p0->stats.rx_bytes);
	CHECK_EQ(rx.frames, p0->stats.tx_frames);
	CHECK_EQ(rx.bytes, p0->stats.tx_bytes);
	CHECK_EQ(all.frames, 170);
	CHECK_EQ(all.bytes, 100 * 60 + 70 * 100);
	CHECK_EQ(hub.frames, 170);
	CHECK_EQ(tx.dropped + rx.dropped + all.dropped + hub.dropped, 0);

	/* object-del: the file is complete when it returns */
	CHECK(capture_del("tx", NULL));
	CHECK(read_back("a.pcap", &rb));
	CHECK_EQ(rb.n, 100);
	CHECK_EQ(rb.bytes, 6000);
	CHECK_EQ(rb.linktype, DLT_EN10MB);
	CHECK_EQ(rb.snaplen, CAPTURE_MAXLEN_DEFAULT);
	CHECK(capture_del("rx", NULL));
	CHECK(read_back("b.pcap", &rb));
	CHECK_EQ(rb.n, 70);
	CHECK_EQ(rb.len[0], 100);
	stats_of("all", &nd);
	CHECK_EQ(nd.frames, 170);
	teardown();
}

static void test_maxlen_truncates_the_copy_not_the_length(void)
{
	static const unsigned lens[] = { 30, 49, 50, 51, 1000 };
	struct capture_stats st;
	struct readback rb;

	setup();
	addf("m", "\"netdev\": \"n1\"", "a.pcap", "\"maxlen\": 50");
	for (unsigned i = 0; i < 5; i++)
		inject(p1, 1, lens[i], 0x88b5);
	stats_of("m", &st);
	CHECK_EQ(st.frames, 5);
	CHECK_EQ(st.bytes, 30 + 49 + 50 + 51 + 1000);
	CHECK(capture_del("m", NULL));
	CHECK(read_back("a.pcap", &rb));
	CHECK_EQ(rb.n, 5);
	CHECK_EQ(rb.snaplen, 50);
	for (unsigned i = 0; i < 5; i++) {
		CHECK_EQ(rb.len[i], lens[i]);
		CHECK_EQ(rb.caplen[i], lens[i] < 50 ? lens[i] : 50);
	}
	teardown();
}

static void test_filter_writes_matching_frames_only(void)
{
	struct capture_stats st;
	struct readback rb;

	setup();
	addf("f", "\"netdev\": \"n0\"", "a.pcap",
	     "\"queue\": \"tx\", \"filter\": \"arp or ether src "
	     "02:00:00:00:00:07\"");
	inject(p0, 10, 60, 0x0806);
	inject(p0, 15, 60, 0x88b5);
	stats_of("f", &st);
	CHECK_EQ(st.seen, 25);
	CHECK_EQ(st.frames, 10);
	CHECK_EQ(st.filtered, 15);
	CHECK(capture_del("f", NULL));
	CHECK(read_back("a.pcap", &rb));
	CHECK_EQ(rb.n, 10);
	teardown();
}

static void test_status_off_sees_nothing(void)
{
	struct capture_stats st;
	json_t *info;

	setup();
	addf("off", "\"netdev\": \"n0\"", "a.pcap", "\"status\": \"off\"");
	inject(p0, 5, 60, 0x88b5);
	stats_of("off", &st);
	CHECK_EQ(st.seen, 0);
	info = capture_info(capture_find("off"));
	CHECK(!strcmp(json_string_value(json_object_get(info, "status")),
		      "off"));
	json_decref(info);
	teardown();
}

/* A FIFO without a reader: every frame dropped; one that is not read: the
 * ring fills and frames are dropped, and once it is read everything is
 * accounted for */
static void *drain_fifo(void *arg)
{
	int fd = *(int *)arg;
	char buf[65536];
	ssize_t n;
	uint64_t *total = calloc(1, sizeof(*total));

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n > 0)
			*total += (uint64_t)n;
		else if (errno != EINTR)
			break;
	}
	return total;
}

static void test_ring_full_and_readerless_fifo_count_drops(void)
{
	struct capture_stats st;
	uint64_t seen, dropped;
	const char *fifo;
	pthread_t t;
	uint64_t *total;
	int fd;

	setup();
	fifo = path_of("fifo");
	CHECK(mkfifo(fifo, 0600) == 0);
	addf("w", "\"netdev\": \"n0\"", "fifo", "\"queue\": \"tx\"");
	inject(p0, 50, 60, 0x88b5); /* nobody reads: dropped */
	stats_of("w", &st);
	CHECK_EQ(st.dropped, 50);
	CHECK_EQ(st.frames, 0);

	fd = open(fifo, O_RDONLY | O_NONBLOCK);
	CHECK(fd >= 0);
	/* once the writer opened it, a probe gets written */
	for (unsigned i = 0; i < 500 && !st.frames; i++) {
		inject(p0, 1, 1500, 0x88b5);
		stats_of("w", &st);
		usleep(20 * 1000);
	}
	CHECK_EQ(st.frames, 1);
	seen = st.seen + 8000;
	dropped = st.dropped;
	/* the pipe fills up and is not read: the ring fills, then drops */
	inject(p0, 8000, 1500, 0x88b5);
	capture_get_stats(capture_find("w"), &st);
	CHECK(st.dropped > dropped);
	CHECK_EQ(p0->stats.rx_frames, seen); /* forwarding was not held up */
	CHECK_EQ(r1.n, REC_MAX);	      /* (n1 took what it could) */

	fcntl(fd, F_SETFL, 0);
	CHECK(pthread_create(&t, NULL, drain_fifo, &fd) == 0);
	stats_of("w", &st);
	CHECK(st.frames > 0);
	CHECK_EQ(st.seen, seen);
	CHECK(capture_del("w", NULL));
	pthread_join(t, (void **)&total);
	/* pcap file header, then a 16-byte record header per frame */
	CHECK_EQ(*total, 24 + st.frames * (16 + 1500));
	free(total);
	close(fd);
	teardown();
}

static void test_captures_end_with_their_port_and_netdev(void)
{
	struct readback rb;

	setup();
	addf("port", "\"netdev\": \"n0.1\"", "a.pcap", NULL);
	addf("nd", "\"netdev\": \"n1\"", "b.pcap", NULL);
	inject(p0, 3, 60, 0x88b5);
	port_detach(p0);
	CHECK(capture_find("port") == NULL);
	CHECK(read_back("a.pcap", &rb));
	CHECK_EQ(rb.n, 3);
	port_free(p1);
	CHECK(netdev_del("n1", NULL));
	CHECK(capture_find("nd") == NULL);
	CHECK_EQ(capture_count(), 0);
	CHECK(read_back("b.pcap", &rb));
	CHECK_EQ(rb.n, 3);
	nd1 = make_netdev("n1");
	p1 = port_new(nd1, NULL, &r1);
	teardown();
}

static void check_error(const char *json, const char *want)
{
	struct nh_error *err = NULL;

	CHECK(add(json, &err) == NULL);
	CHECK(err != NULL);
	if (err && strcmp(err->msg, want)) {
		printf("# got  '%s'\n# want '%s'\n", err->msg, want);
		CHECK(!"error text");
	}
	nh_error_free(err);
}

static void test_errors_are_qemus_and_create_nothing(void)
{
	char json[512], want[512];

	setup();
	addf("dup", "\"netdev\": \"n0\"", "a.pcap", NULL);
	check_error("{\"qom-type\": \"filter-dump\", \"id\": \"x\", "
		    "\"netdev\": \"n0\"}",
		    "Parameter 'file' is missing");
	check_error("{\"qom-type\": \"filter-dump\", \"id\": \"x\", "
		    "\"file\": \"/tmp/x\"}",
		    "Parameter 'netdev' is missing");
	check_error("{\"qom-type\": \"filter-dump\", \"id\": \"x\", "
		    "\"netdev\": \"zz\", \"file\": \"/tmp/x\"}",
		    "Parameter 'netdev' expects a network backend id");
	check_error("{\"qom-type\": \"filter-dump\", \"id\": \"dup\", "
		    "\"netdev\": \"n0\", \"file\": \"/tmp/x\"}",
		    "attempt to add duplicate property 'dup' to object "
		    "(type 'container')");
	check_error("{\"qom-type\": \"filter-dump\", \"id\": \"x\", "
		    "\"netdev\": \"n0\", \"file\": \"/tmp/x\", \"maxlen\": 0}",
		    "Property 'filter-dump.maxlen' doesn't take value '0'");
	check_error("{\"qom-type\": \"filter-dump\", \"id\": \"x\", "
		    "\"netdev\": \"n0\", \"file\": \"/tmp/x\", \"maxlen\": "
		    "\"0\"}",
		    "Property 'filter-dump.maxlen' doesn't take value '0'");
	check_error("{\"qom-type\": \"filter-dump\", \"id\": \"1x\", "
		    "\"netdev\": \"n0\", \"file\": \"/tmp/x\"}",
		    "Parameter 'id' expects an identifier");
	check_error("{\"qom-type\": \"filter-dump\", \"id\": \"x\", "
		    "\"netdev\": \"n0\", \"hubid\": 0, \"file\": \"/tmp/x\"}",
		    "Parameters 'netdev' and 'hubid' are mutually exclusive");
	check_error("{\"qom-type\": \"filter-dump\", \"id\": \"x\", "
		    "\"netdev\": \"n0\", \"file\": \"/tmp/x\", \"nope\": 1}",
		    "Parameter 'nope' is unexpected");
	check_error("{\"qom-type\": \"filter-dump\", \"id\": \"x\", "
		    "\"netdev\": \"n0\", \"file\": \"/tmp/x\", \"position\": "
		    "\"middle\"}",
		    "Parameter 'position' expects 'head', 'tail' or "
		    "'id=<id>'");
	check_error("{\"qom-type\": \"filter-dump\", \"id\": \"x\", "
		    "\"netdev\": \"n0\", \"file\": \"/tmp/x\", \"insert\": "
		    "\"over\"}",
		    "Invalid value for netfilter insert, should be 'before' "
		    "or 'behind'");
	check_error("{\"qom-type\": \"filter-dump\", \"id\": \"x\", "
		    "\"netdev\": \"n0\", \"file\": \"/tmp/x\", \"filter\": "
		    "\"port\"}",
		    "Parameter 'filter': port: can't parse filter expression: "
		    "syntax error");
	snprintf(json, sizeof(json),
		 "{\"qom-type\": \"filter-dump\", \"id\": \"x\", "
		 "\"netdev\": \"n0\", \"file\": \"%s/none/x\"}",
		 dir);
	snprintf(want, sizeof(want),
		 "net dump: can't open %s/none/x: No such file or directory",
		 dir);
	check_error(json, want);
	CHECK_EQ(capture_count(), 1);
	CHECK(access("/tmp/x", F_OK) != 0 || errno == ENOENT);
	{
		struct nh_error *err = NULL;

		CHECK(!capture_del("nope", &err));
		CHECK(err && !strcmp(err->msg, "object 'nope' not found"));
		nh_error_free(err);
	}
	/* position=id=ID names an existing capture */
	addf("pos", "\"netdev\": \"n0\"", "b.pcap",
	     "\"position\": \"id=dup\", \"insert\": \"before\"");
	teardown();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	backends_register_all();
	TAP_RUN(test_capture_directions_match_port_counters);
	TAP_RUN(test_maxlen_truncates_the_copy_not_the_length);
	TAP_RUN(test_filter_writes_matching_frames_only);
	TAP_RUN(test_status_off_sees_nothing);
	TAP_RUN(test_ring_full_and_readerless_fifo_count_drops);
	TAP_RUN(test_captures_end_with_their_port_and_netdev);
	TAP_RUN(test_errors_are_qemus_and_create_nothing);
	return tap_done();
}
