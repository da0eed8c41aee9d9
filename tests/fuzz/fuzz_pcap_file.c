// SPDX-License-Identifier: MIT
/* fuzz_pcap_file.c - libFuzzer target for the pcap netdev's replay of a
 * capture file (file=)
 *
 * The input (after a mode byte) is written to a file and replayed by a real
 * pcap netdev, as the daemon runs it: netdev_add(), then the loop, with a
 * recording port on the same hub that takes every frame the replay sends.
 * Mode bits: 0 and 3 both set: loop=on (a quarter of the inputs: every
 * pass opens the file again, which is slow under ASan); 1: the capture's
 * own timing instead of rate=0; 2: filter=not arp.  Checked, besides "no crash,
 * no leak":
 *   - a file the netdev refuses gets an error naming file=;
 *   - every frame that reaches the switch is 14 to 65535 bytes long;
 *   - rx_frames = rx_forwarded + the drops;
 *   - with rate=0 and no loop the replay finishes within a bounded number
 *     of turns of the loop, and its counts match the file as libpcap reads
 *     it, record by record: each record counted once (frames, bytes,
 *     oversize drops above 65535 bytes, malformed drops for records cut
 *     short or shorter than an Ethernet header, filter skips);
 *   - every frame buffer is back in the pool at the end.
 * Built with tests/fuzz/standalone.c where libFuzzer is not available.
 */

#include <jansson.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "backend.h"
#include "frame.h"
#include "log.h"
#include "netdev.h"
#include "port.h"
#include "registry.h"

#define FUZZ_ID		 "pz"
#define FUZZ_REC_ID	 "rec"
#define FUZZ_FILTER	 "not arp"
#define FUZZ_TURNS_MIN	 64 /* loop turns allowed for any replay */
#define FUZZ_TURNS_LOOP	 1  /* turns given to a looping replay */
#define FUZZ_TURNS_TIMED 2  /* turns given to a replay at capture timing */
#define FUZZ_POOL_SMALL	 1024
#define FUZZ_POOL_LARGE	 128

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What libpcap reads from the file, as the replay must count it */
struct fuzz_model {
	uint64_t records, bytes, over, malformed, skipped;
};

static struct frame_pool *pool;
static char path[64];
static struct port *rec_port;
static uint64_t rec_frames;

static void fuzz_fail(const char *what, unsigned long long got,
		      unsigned long long want)
{
	fprintf(stderr, "fuzz_pcap_file: %s: got %llu, expected %llu\n", what,
		got, want);
	abort();
}

/* -- the recording port --------------------------------------------------- */

static bool rec_open(struct netdev *nd, const json_t *o, struct nh_error **errp)
{
	return true;
}

static void rec_close(struct netdev *nd)
{
}

static unsigned rec_send(struct port *p, struct frame *const *frames,
			 unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (frames[i]->len < FRAME_MIN_LEN ||
		    frames[i]->len > FRAME_MAX_LEN)
			fuzz_fail("a replayed frame's length", frames[i]->len,
				  FRAME_MIN_LEN);
	rec_frames += n;
	frame_unref_many(frames, n);
	return n;
}

static const struct backend_ops rec_ops = {
    .type = "none",
    .open = rec_open,
    .close = rec_close,
    .send = rec_send,
};

static void fuzz_cleanup(void)
{
	if (path[0])
		unlink(path);
}

static void fuzz_setup(void)
{
	json_t *args = json_pack("{ss ss}", "type", "none", "id", FUZZ_REC_ID);
	struct netdev *nd;
	int fd;

	backends_register_all();
	log_set_level(LOG_LEVEL_ERROR);
	pool = frame_pool_new(FUZZ_POOL_SMALL, FUZZ_POOL_LARGE);
	if (!pool)
		abort();
	frame_pool_set_current(pool);
	/* a "none" netdev whose port records what the hub sends it */
	nd = netdev_add(uv_default_loop(), args, NULL);
	json_decref(args);
	if (!nd)
		abort();
	nd->ops = &rec_ops;
	rec_port = port_new(nd, NULL, NULL);
	if (!rec_port)
		abort();

	snprintf(path, sizeof(path), "/tmp/fuzz_pcap_file.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	atexit(fuzz_cleanup);
}

/* -- the model ------------------------------------------------------------ */

static bool fuzz_model_run(bool filter, struct fuzz_model *m)
{
	char eb[PCAP_ERRBUF_SIZE];
	struct bpf_program prog;
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *pc;

	memset(m, 0, sizeof(*m));
	pc = pcap_open_offline_with_tstamp_precision(
	    path, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!pc)
		return false;
	if (pcap_datalink(pc) != DLT_EN10MB) {
		pcap_close(pc);
		return false;
	}
	if (filter &&
	    pcap_compile(pc, &prog, FUZZ_FILTER, 1, PCAP_NETMASK_UNKNOWN))
		abort();
	while (pcap_next_ex(pc, &h, &d) == 1) {
		if (filter && !pcap_offline_filter(&prog, h, d)) {
			m->skipped++;
			continue;
		}
		m->records++;
		m->bytes += h->caplen;
		if (h->caplen > FRAME_MAX_LEN)
			m->over++;
		else if (h->caplen < h->len || h->caplen < FRAME_MIN_LEN)
			m->malformed++;
	}
	if (filter)
		pcap_freecode(&prog);
	pcap_close(pc);
	return true;
}

/* -- checks --------------------------------------------------------------- */

static bool fuzz_finished(const struct netdev *nd, uint64_t *skipped)
{
	json_t *all = netdev_info(nd);
	json_t *info = json_object_get(all, "info"); /* the backend's part */
	bool done = json_is_true(json_object_get(info, "finished"));

	*skipped = (uint64_t)json_integer_value(
	    json_object_get(info, "frames-skipped"));
	json_decref(all);
	return done;
}

static void fuzz_check_port(const struct port_stats *st)
{
	uint64_t drops = 0;

	for (unsigned i = 0; i < PORT_DROP__COUNT; i++)
		drops += st->rx_drops[i];
	if (st->rx_frames != st->rx_forwarded + drops)
		fuzz_fail("rx_frames != rx_forwarded + drops", st->rx_frames,
			  st->rx_forwarded + drops);
}

static void fuzz_check_model(const struct port_stats *st, uint64_t skipped,
			     const struct fuzz_model *m)
{
	if (st->rx_frames != m->records)
		fuzz_fail("records replayed", st->rx_frames, m->records);
	if (st->rx_bytes != m->bytes)
		fuzz_fail("bytes replayed", st->rx_bytes, m->bytes);
	if (st->rx_drops[PORT_DROP_OVERSIZE] != m->over)
		fuzz_fail("oversize drops", st->rx_drops[PORT_DROP_OVERSIZE],
			  m->over);
	if (st->rx_drops[PORT_DROP_NO_BUFFER])
		fuzz_fail("no-buffer drops", st->rx_drops[PORT_DROP_NO_BUFFER],
			  0);
	/* the hub adds its own malformed drops (a VLAN TPID without a tag) */
	if (st->rx_drops[PORT_DROP_MALFORMED] < m->malformed)
		fuzz_fail("malformed drops", st->rx_drops[PORT_DROP_MALFORMED],
			  m->malformed);
	if (skipped != m->skipped)
		fuzz_fail("records the filter skipped", skipped, m->skipped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nh_error *err = NULL;
	struct frame_pool_stats ps;
	struct fuzz_model model;
	bool loop, timed, filter, done = false;
	uint64_t skipped = 0;
	unsigned turns;
	struct netdev *nd;
	struct port *p;
	json_t *args;
	uint8_t mode;
	FILE *f;

	if (!pool)
		fuzz_setup();
	if (size == 0)
		return 0;
	mode = data[0];
	loop = (mode & 0x09) == 0x09;
	timed = mode & 2;
	filter = mode & 4;
	f = fopen(path, "wb");
	if (!f || fwrite(data + 1, 1, size - 1, f) != size - 1 || fclose(f))
		abort();

	args = json_pack("{ss ss ss sb}", "type", "pcap", "id", FUZZ_ID, "file",
			 path, "loop", loop);
	if (!timed)
		json_object_set_new(args, "rate", json_integer(0));
	if (filter)
		json_object_set_new(args, "filter", json_string(FUZZ_FILTER));
	nd = netdev_add(uv_default_loop(), args, &err);
	json_decref(args);
	if (!nd) {
		if (!err || !strstr(err->msg, "file="))
			fuzz_fail("a refused file without file= in the error",
				  0, 0);
		nh_error_free(err);
		return 0;
	}

	if (loop)
		turns = FUZZ_TURNS_LOOP;
	else if (timed)
		turns = FUZZ_TURNS_TIMED;
	else
		turns = FUZZ_TURNS_MIN + (unsigned)(size / 16);
	rec_frames = 0;
	for (unsigned i = 0; i < turns && !done; i++) {
		uv_run(uv_default_loop(), UV_RUN_NOWAIT);
		done = fuzz_finished(nd, &skipped);
	}
	p = port_find(FUZZ_ID);
	if (!p)
		fuzz_fail("the replay port is gone", 0, 1);
	fuzz_check_port(&p->stats);
	if (rec_frames > p->stats.rx_forwarded)
		fuzz_fail("frames delivered beyond those forwarded", rec_frames,
			  p->stats.rx_forwarded);
	if (!loop && !timed) {
		if (!done)
			fuzz_fail("the replay did not finish; turns", turns, 0);
		if (!fuzz_model_run(filter, &model))
			fuzz_fail("libpcap cannot read what the netdev took", 0,
				  1);
		fuzz_check_model(&p->stats, skipped, &model);
	}

	if (!netdev_del(FUZZ_ID, &err))
		abort();
	for (unsigned i = 0; i < 8; i++)
		uv_run(uv_default_loop(), UV_RUN_NOWAIT);
	frame_pool_stats(pool, &ps);
	if (ps.small_free != ps.small_total || ps.large_free != ps.large_total)
		fuzz_fail("frames not back in the pool",
			  ps.small_free + ps.large_free,
			  ps.small_total + ps.large_total);
	return 0;
}
