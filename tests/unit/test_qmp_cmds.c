// SPDX-License-Identifier: MIT
/* test_qmp_cmds.c - the QMP command table and handlers, called directly
 *
 * Handlers run without a server or a session (those that need one, getfd
 * and closefd, are the integration suite's).  Hubs with learned addresses
 * are made from netdevs of a recording backend made by hand, as in
 * test_hub.c; the "none" netdev comes from the real registry.
 */

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "backend.h"
#include "clock.h"
#include "fdb.h"
#include "hub.h"
#include "netdev.h"
#include "port.h"
#include "registry.h"
#include "qmp.h"
#include "schema.h"
#include "tap.h"

static uint64_t fake_now = 10000;

static uint64_t fake_clock(void)
{
	return fake_now;
}

/* run() - command @name with @args (a JSON text, NULL: {}); the error is
 * left in *@err (freed by the caller), the return value in *@ret */
static bool run(const char *name, const char *args, json_t **ret,
		struct nh_error **err)
{
	const struct qmp_command *c = qmp_command_find(name);
	json_t *a = args ? json_loads(args, 0, NULL) : json_object();
	bool ok;

	*ret = NULL;
	*err = NULL;
	if (!c || !a) {
		printf("# no command %s or bad args %s\n", name, args);
		json_decref(a);
		return false;
	}
	ok = c->handler(NULL, a, ret, err);
	json_decref(a);
	return ok;
}

/* run_err() - @name must fail with @cls and exactly @desc */
static void check_error(const char *name, const char *args,
			enum nh_error_class cls, const char *desc)
{
	struct nh_error *err;
	json_t *ret;

	CHECK(!run(name, args, &ret, &err));
	CHECK(ret == NULL);
	CHECK(err != NULL);
	if (err) {
		CHECK_EQ(err->cls, cls);
		if (strcmp(err->msg, desc)) {
			printf("# %s %s: got '%s', want '%s'\n", name, args,
			       err->msg, desc);
			CHECK(0);
		}
	}
	nh_error_free(err);
}

/* run_json() - @name must succeed and answer @want (NULL: nothing, {}) */
static void check_answer(const char *name, const char *args,
			 const char *want)
{
	json_t *ret, *w = want ? json_loads(want, 0, NULL) : NULL;
	struct nh_error *err;

	CHECK(run(name, args, &ret, &err));
	if (err)
		printf("# %s %s: %s\n", name, args, err->msg);
	if (!w ? ret != NULL : !json_equal(ret, w)) {
		char *got = ret ? json_dumps(ret, JSON_COMPACT) : NULL;

		printf("# %s %s: got %s, want %s\n", name, args,
		       got ? got : "nothing", want ? want : "nothing");
		free(got);
		CHECK(0);
	}
	json_decref(ret);
	json_decref(w);
	nh_error_free(err);
}

/* check_shape() - every element of @list (or @list itself, when not an
 * array) is a valid value of schema type @type */
static void check_shape(const char *type, const json_t *list)
{
	struct nh_error *err = NULL;
	const json_t *v;
	size_t i;

	if (!json_is_array(list)) {
		CHECK(schema_check_type(type, list, "answer", &err));
	} else {
		CHECK(json_array_size(list) > 0);
		json_array_foreach(list, i, v) {
			if (!schema_check_type(type, v, "answer", &err))
				break;
		}
	}
	if (err) {
		printf("# %s: %s\n", type, err->msg);
		CHECK(0);
	}
	nh_error_free(err);
}

/* run_shape() - @name with @args succeeds; its answer fits @type */
static void check_answer_shape(const char *name, const char *args,
			       const char *type)
{
	struct nh_error *err;
	json_t *ret;

	CHECK(run(name, args, &ret, &err));
	check_shape(type, ret);
	json_decref(ret);
	nh_error_free(err);
}

/* Every command of the schema has a handler, and the table has no other */
static void test_table_and_schema_list_the_same_commands(void)
{
	json_t *list = schema_command_list();
	size_t i, n = json_array_size(list), ntable = 0;
	json_t *e;

	json_array_foreach(list, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const struct qmp_command *c = name ? qmp_command_find(name) : NULL;

		if (!c || !c->handler) {
			printf("# schema command %s has no handler\n", name);
			CHECK(0);
		}
	}
	for (const struct qmp_command *c = qmp_commands; c->name; c++) {
		ntable++;
		if (!schema_has_command(c->name)) {
			printf("# table command %s is not in the schema\n",
			       c->name);
			CHECK(0);
		}
		CHECK(qmp_command_find(c->name) == c); /* names unique */
	}
	CHECK_EQ(ntable, n);
	CHECK(qmp_command_find("no-such-command") == NULL);
	json_decref(list);
}

/* What the protocol's own queries answer fits the schema's return types */
static void test_answers_fit_the_schema(void)
{
	check_answer_shape("query-version", NULL, "VersionInfo");
	check_answer_shape("query-commands", NULL, "CommandInfo");
	check_answer_shape("query-qmp-schema", NULL, "SchemaInfo");
	check_answer("netdev_add", "{\"id\": \"n9\", \"type\": \"none\"}",
		     NULL);
	check_answer_shape("query-netdevs", NULL, "NetdevInfo");
	check_answer("netdev_del", "{\"id\": \"n9\"}", NULL);
	check_answer("query-netdevs", NULL, "[]");
}

static void test_query_version_is_nethubs_version(void)
{
	json_t *ret;
	struct nh_error *err;
	char pkg[64];

	CHECK(run("query-version", NULL, &ret, &err));
	CHECK(json_is_integer(json_object_get(json_object_get(ret, "qemu"),
					      "major")));
	CHECK(json_is_integer(json_object_get(json_object_get(ret, "qemu"),
					      "minor")));
	CHECK(json_is_integer(json_object_get(json_object_get(ret, "qemu"),
					      "micro")));
	snprintf(pkg, sizeof(pkg), "nethub %s", NETHUB_VERSION);
	CHECK(!strcmp(json_string_value(json_object_get(ret, "package")),
		      pkg));
	json_decref(ret);
}

/* -- hubs and the FDB ---------------------------------------------------- */

static unsigned rec_send(struct port *p, struct frame *const *frames,
			 unsigned n)
{
	frame_unref_many((struct frame **)frames, n);
	return n;
}

static bool rec_open(struct netdev *nd, const json_t *o, struct nh_error **e)
{
	return true;
}

static void rec_close(struct netdev *nd)
{
}

static const struct backend_ops rec_ops = {
	.type = "rec",
	.open = rec_open,
	.close = rec_close,
	.send = rec_send,
};

/* A broadcast from 52:54:00:00:00:@src into @p */
static void send_from(struct port *p, uint8_t src)
{
	struct frame *f = frame_alloc(60);

	memset(f->data, 0, 60);
	memset(f->data, 0xff, 6);
	memcpy(f->data + 6, (uint8_t[]){ 0x52, 0x54, 0, 0, 0, src }, 6);
	f->len = 60;
	port_input(p, &f, 1);
}

/* query-fdb of hub 4: three entries, 7 s idle, in the hash's order */
static void check_fdb_of_hub_4(void)
{
	static const char *const want[][2] = {
		{ "52:54:00:00:00:0a", "r0" },
		{ "52:54:00:00:00:0b", "r1" },
		{ "52:54:00:00:00:0c", "r1" },
	};
	json_t *ret, *hub, *entries, *e;
	struct nh_error *err;
	unsigned found = 0;
	size_t i;

	CHECK(run("query-fdb", "{\"hubid\": 4}", &ret, &err));
	CHECK_EQ(json_array_size(ret), 1);
	hub = json_array_get(ret, 0);
	CHECK_EQ(json_integer_value(json_object_get(hub, "hubid")), 4);
	entries = json_object_get(hub, "entries");
	CHECK_EQ(json_array_size(entries), 3);
	json_array_foreach(entries, i, e) {
		const char *mac = json_string_value(json_object_get(e, "mac"));
		const char *port = json_string_value(json_object_get(e, "port"));

		CHECK_EQ(json_object_size(e), 5);
		CHECK_EQ(json_integer_value(json_object_get(e, "age")), 7);
		CHECK_EQ(json_integer_value(json_object_get(e, "vlan")), 0);
		CHECK(json_is_false(json_object_get(e, "static")));
		for (unsigned k = 0; k < 3; k++) {
			if (mac && port && !strcmp(mac, want[k][0]) &&
			    !strcmp(port, want[k][1]))
				found |= 1u << k;
		}
	}
	CHECK_EQ(found, 7);
	json_decref(ret);
	nh_error_free(err);
}

static void test_hub_queries_show_learned_addresses(void)
{
	struct frame_pool *pool = frame_pool_new(64, 2);
	struct netdev nd[2] = { 0 };
	struct port *p[2];

	frame_pool_set_current(pool);
	clock_set_source(fake_clock);
	for (unsigned i = 0; i < 2; i++) {
		snprintf(nd[i].id, sizeof(nd[i].id), "r%u", i);
		nd[i].ops = &rec_ops;
		nd[i].hubid = 4;
		nd[i].link_up = true;
		p[i] = port_new(&nd[i], NULL, NULL);
	}
	send_from(p[0], 0x0a);
	send_from(p[1], 0x0b);
	send_from(p[1], 0x0c);
	fake_now += 7500;

	check_answer_shape("query-hubs", NULL, "HubInfo");
	check_answer_shape("query-fdb", NULL, "HubFdb");
	check_answer("query-hubs", NULL,
		     "[{\"id\": 4, \"ports\": [\"r0\", \"r1\"], "
		     "\"fdb-entries\": 3, \"floods\": 3, \"fdb-stats\": "
		     "{\"learned\": 3, \"moved\": 0, \"expired\": 0, "
		     "\"flushed\": 0, \"full-drops\": 0, "
		     "\"port-full-drops\": 0, \"netdev-full-drops\": 0, "
		     "\"evicted\": 0}}]");
	check_fdb_of_hub_4();
	check_error("query-fdb", "{\"hubid\": 9}", NH_ERR_GENERIC,
		    "hub 9 does not exist");
	check_error("query-fdb", "{\"hubid\": 4294967300}", NH_ERR_GENERIC,
		    "hub 4294967300 does not exist");
	check_error("fdb-flush", "{\"hubid\": 9}", NH_ERR_GENERIC,
		    "hub 9 does not exist");
	check_error("fdb-flush", "{\"port\": \"nope\"}",
		    NH_ERR_DEVICE_NOT_FOUND, "Device 'nope' not found");

	/* one port's entries, then the hub's, then nothing is left */
	CHECK_EQ(hub_flush_port(p[1]), 2);
	send_from(p[1], 0x0b);
	check_answer("fdb-flush", "{\"hubid\": 4}", "{\"flushed\": 2}");
	check_answer("fdb-flush", NULL, "{\"flushed\": 0}");
	check_answer_shape("fdb-flush", "{\"hubid\": 4}", "FdbFlushResult");
	check_answer("query-fdb", NULL, "[{\"hubid\": 4, \"entries\": []}]");

	for (unsigned i = 0; i < 2; i++)
		port_free(p[i]);
	check_answer("query-hubs", NULL, "[]");
	clock_set_source(NULL);
	frame_pool_free(pool);
}

/* the port of (52:54:00:00:00:@low, VLAN 0) in hub 5's table, or NULL;
 * *@is_static says how it is held */
static const char *fdb_port_of(uint8_t low, bool *is_static)
{
	static char name[PORT_NAME_MAX];
	json_t *ret, *e;
	struct nh_error *err;
	const char *found = NULL;
	char mac[18];
	size_t i;

	snprintf(mac, sizeof(mac), "52:54:00:00:00:%02x", low);
	CHECK(run("query-fdb", "{\"hubid\": 5}", &ret, &err));
	json_array_foreach(
	    json_object_get(json_array_get(ret, 0), "entries"), i, e) {
		if (strcmp(json_string_value(json_object_get(e, "mac")), mac))
			continue;
		snprintf(name, sizeof(name), "%s",
			 json_string_value(json_object_get(e, "port")));
		*is_static = json_is_true(json_object_get(e, "static"));
		found = name;
	}
	json_decref(ret);
	nh_error_free(err);
	return found;
}

/* fdb-add, fdb-del, fdb-set-mac-limit: port security through the hub's
 * functions (the handlers find ports by name among registered netdevs,
 * which this test has none of: tests/integration/test_fdb_limits.py runs
 * them end to end), and every error the handlers give */
static void test_fdb_port_security_commands(void)
{
	struct frame_pool *pool = frame_pool_new(64, 2);
	const uint8_t m1[6] = { 0x52, 0x54, 0, 0, 0, 0x01 };
	const uint8_t m3[6] = { 0x52, 0x54, 0, 0, 0, 0x03 };
	struct netdev nd[2] = { 0 };
	struct nh_error *err = NULL;
	const char *at;
	struct port *p[2];
	bool st = false;

	frame_pool_set_current(pool);
	clock_set_source(fake_clock);
	for (unsigned i = 0; i < 2; i++) {
		snprintf(nd[i].id, sizeof(nd[i].id), "s%u", i);
		nd[i].ops = &rec_ops;
		nd[i].hubid = 5;
		nd[i].link_up = true;
		p[i] = port_new(&nd[i], NULL, NULL);
	}

	check_error("fdb-add", "{\"port\": \"x\", \"mac\": \"52:54:00:00:00:01\"}",
		    NH_ERR_DEVICE_NOT_FOUND, "Device 'x' not found");
	check_error("fdb-add", "{\"port\": \"x\", \"mac\": \"52:54:00:00:01\"}",
		    NH_ERR_GENERIC,
		    "Parameter 'mac' expects a MAC address xx:xx:xx:xx:xx:xx");
	check_error("fdb-add", "{\"port\": \"x\", \"mac\": \"01:00:5e:00:00:01\"}",
		    NH_ERR_GENERIC,
		    "Parameter 'mac' expects a unicast MAC address, not a "
		    "multicast one");
	check_error("fdb-add",
		    "{\"port\": \"x\", \"mac\": \"52:54:00:00:00:01\", "
		    "\"vlan\": 4096}",
		    NH_ERR_GENERIC,
		    "Parameter 'vlan' expects a VLAN ID from 0 to 4095");
	check_error("fdb-set-mac-limit", "{\"port\": \"x\", \"mac-limit\": 1}",
		    NH_ERR_DEVICE_NOT_FOUND, "Device 'x' not found");
	check_error("fdb-set-mac-limit",
		    "{\"port\": \"x\", \"mac-limit\": 16777217}",
		    NH_ERR_GENERIC,
		    "Parameter 'mac-limit' expects a count from 0 to 16777216");

	/* pinned to s0: a frame from it on s1 does not move it */
	CHECK(hub_fdb_add(p[0], m1, 0, &err));
	CHECK(hub_fdb_add(p[0], m1, 0, &err));
	CHECK(!hub_fdb_add(p[1], m1, 0, &err));
	CHECK(err && !strcmp(err->msg, "MAC 52:54:00:00:00:01 (VLAN 0) is "
				       "pinned to port s0"));
	nh_error_free(err);
	err = NULL;
	send_from(p[1], 0x01);
	at = fdb_port_of(0x01, &st);
	CHECK(at && !strcmp(at, "s0") && st);

	/* s1 locked: it learns nothing; what it had goes at once */
	send_from(p[1], 0x02);
	CHECK(fdb_port_of(0x02, &st) != NULL);
	CHECK(hub_set_port_mac_limit(p[1], 0, &err));
	CHECK(fdb_port_of(0x02, &st) == NULL);
	send_from(p[1], 0x03);
	CHECK(fdb_port_of(0x03, &st) == NULL);
	CHECK(hub_fdb_add(p[1], m3, 0, &err));
	at = fdb_port_of(0x03, &st);
	CHECK(at && !strcmp(at, "s1") && st);
	/* back to the default: it learns again */
	CHECK(hub_set_port_mac_limit(p[1], FDB_LIMIT_DEFAULT, &err));
	send_from(p[1], 0x04);
	at = fdb_port_of(0x04, &st);
	CHECK(at && !strcmp(at, "s1") && !st);
	CHECK(err == NULL);

	check_error("fdb-del", "{\"mac\": \"52:54:00:00:00:01\"}",
		    NH_ERR_GENERIC, "fdb-del needs 'hubid' or 'port'");
	check_error("fdb-del", "{\"hubid\": 9, \"mac\": \"52:54:00:00:00:01\"}",
		    NH_ERR_GENERIC, "hub 9 does not exist");
	check_error("fdb-del", "{\"port\": \"x\", \"mac\": \"52:54:00:00:00:01\"}",
		    NH_ERR_DEVICE_NOT_FOUND, "Device 'x' not found");
	check_error("fdb-del",
		    "{\"hubid\": 5, \"mac\": \"52:54:00:00:00:01\", "
		    "\"vlan\": 7}",
		    NH_ERR_GENERIC,
		    "MAC 52:54:00:00:00:01 (VLAN 7) is not on hub 5");
	check_error("fdb-del", "{\"hubid\": 5, \"mac\": \"nope\"}",
		    NH_ERR_GENERIC,
		    "Parameter 'mac' expects a MAC address xx:xx:xx:xx:xx:xx");
	CHECK(!hub_fdb_del(p[1]->hub, p[1], m1, 0, &err));
	CHECK(err && !strcmp(err->msg, "MAC 52:54:00:00:00:01 (VLAN 0) is "
				       "not on port s1"));
	nh_error_free(err);
	check_answer("fdb-del", "{\"hubid\": 5, \"mac\": \"52:54:00:00:00:01\"}",
		     NULL);
	CHECK(fdb_port_of(0x01, &st) == NULL);
	check_answer("fdb-del", "{\"hubid\": 5, \"mac\": \"52:54:00:00:00:04\"}",
		     NULL);
	CHECK(fdb_port_of(0x04, &st) == NULL);

	for (unsigned i = 0; i < 2; i++)
		port_free(p[i]);
	clock_set_source(NULL);
	frame_pool_free(pool);
}

/* -- netdevs, NICs, announcements ----------------------------------------- */

static void test_unknown_names_are_device_not_found(void)
{
	check_error("netdev_del", "{\"id\": \"x\"}", NH_ERR_DEVICE_NOT_FOUND,
		    "Device 'x' not found");
	check_error("set_link", "{\"name\": \"x\", \"up\": false}",
		    NH_ERR_DEVICE_NOT_FOUND, "Device 'x' not found");
}

static void test_query_rx_filter_without_nics(void)
{
	check_answer("netdev_add", "{\"id\": \"n0\", \"type\": \"none\"}",
		     NULL);
	check_answer("query-rx-filter", NULL, "[]");
	check_error("query-rx-filter", "{\"name\": \"n0\"}", NH_ERR_GENERIC,
		    "net client(n0) isn't a NIC");
	check_error("query-rx-filter", "{\"name\": \"n1\"}", NH_ERR_GENERIC,
		    "invalid net client name: n1");
	check_answer("set_link", "{\"name\": \"n0\", \"up\": false}", NULL);
	check_answer("netdev_del", "{\"id\": \"n0\"}", NULL);
	check_error("query-rx-filter", "{\"name\": \"n0\"}", NH_ERR_GENERIC,
		    "invalid net client name: n0");
}

static void test_announce_self_refuses_only_negative_values(void)
{
	static const struct {
		const char *args, *error; /* NULL: accepted */
	} cases[] = {
		{ "{\"initial\": 50, \"max\": 550, \"rounds\": 10, "
		  "\"step\": 50, \"interfaces\": [\"vn2\"], \"id\": \"bob\"}",
		  NULL },
		{ "{\"initial\": 0, \"max\": 0, \"rounds\": 0, \"step\": 0, "
		  "\"interfaces\": []}",
		  NULL },
		{ "{\"initial\": 900000, \"max\": 10, \"rounds\": 5000, "
		  "\"step\": 100000}",
		  NULL },
		{ "{\"initial\": -1, \"max\": 1, \"rounds\": 1, \"step\": 1}",
		  "Parameter 'initial' expects a non-negative value" },
		{ "{\"initial\": 1, \"max\": -1, \"rounds\": 1, \"step\": 1}",
		  "Parameter 'max' expects a non-negative value" },
		{ "{\"initial\": 1, \"max\": 1, \"rounds\": -1, \"step\": 1}",
		  "Parameter 'rounds' expects a non-negative value" },
		{ "{\"initial\": 1, \"max\": 1, \"rounds\": 1, \"step\": -5}",
		  "Parameter 'step' expects a non-negative value" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].error)
			check_error("announce-self", cases[i].args,
				    NH_ERR_GENERIC, cases[i].error);
		else
			check_answer("announce-self", cases[i].args, NULL);
	}
}

/* -- the stream-peer hook the events hang on ------------------------------ */

static char obs_log[256];

static void obs_note(const char *what, const struct port *p)
{
	size_t n = strlen(obs_log);

	snprintf(obs_log + n, sizeof(obs_log) - n, "%s:%s ", what, p->name);
}

static void obs_added(struct port *p)
{
	obs_note("added", p);
}

static void obs_removed(struct port *p)
{
	obs_note("removed", p);
}

static void obs_up(struct port *p, const struct sockaddr *a, socklen_t len)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)a;

	CHECK_EQ(a->sa_family, AF_INET);
	CHECK_EQ(len, sizeof(*in));
	CHECK_EQ(ntohs(in->sin_port), 40000);
	obs_note("up", p);
}

static void obs_down(struct port *p)
{
	obs_note("down", p);
}

static void test_stream_peer_is_announced_once_and_on_detach(void)
{
	static const struct port_observer obs = {
		.added = obs_added,
		.removed = obs_removed,
		.peer_connected = obs_up,
		.peer_disconnected = obs_down,
	};
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(40000),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct netdev nd = { .ops = &rec_ops, .hubid = 6, .link_up = true };
	struct port *stream, *dgram;

	snprintf(nd.id, sizeof(nd.id), "s");
	obs_log[0] = '\0';
	port_add_observer(&obs);
	stream = port_new(&nd, "1", NULL);
	port_set_stream_peer(stream, (struct sockaddr *)&a, sizeof(a));
	port_set_stream_peer(stream, (struct sockaddr *)&a, sizeof(a));
	dgram = port_new(&nd, "2", NULL);
	port_detach(stream);
	port_detach(stream);
	port_free(dgram);
	port_set_stream_peer(stream, (struct sockaddr *)&a, sizeof(a));
	port_free(stream);
	CHECK(!strcmp(obs_log, "added:s.1 up:s.1 added:s.2 down:s.1 "
			       "removed:s.1 removed:s.2 "));
	if (strcmp(obs_log, "added:s.1 up:s.1 added:s.2 down:s.1 "
			    "removed:s.1 removed:s.2 "))
		printf("# observer saw: %s\n", obs_log);

	/* unhooked: nothing more is heard */
	port_remove_observer(&obs);
	obs_log[0] = '\0';
	stream = port_new(&nd, "3", NULL);
	port_set_stream_peer(stream, (struct sockaddr *)&a, sizeof(a));
	port_free(stream);
	CHECK(obs_log[0] == '\0');
}

int main(void)
{
	struct nh_error *err = NULL;

	if (!schema_init(&err)) {
		printf("Bail out! schema: %s\n", err ? err->msg : "?");
		return 1;
	}
	backends_register_all();
	TAP_RUN(test_table_and_schema_list_the_same_commands);
	TAP_RUN(test_answers_fit_the_schema);
	TAP_RUN(test_query_version_is_nethubs_version);
	TAP_RUN(test_hub_queries_show_learned_addresses);
	TAP_RUN(test_fdb_port_security_commands);
	TAP_RUN(test_unknown_names_are_device_not_found);
	TAP_RUN(test_query_rx_filter_without_nics);
	TAP_RUN(test_announce_self_refuses_only_negative_values);
	TAP_RUN(test_stream_peer_is_announced_once_and_on_detach);
	schema_fini();
	return tap_done();
}
