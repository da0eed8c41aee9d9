// SPDX-License-Identifier: MIT
/* test_rxfilter.c - unit tests of a NIC's receive filter (switch/rxfilter.c)
 *
 * The accept order is checked row by row from a table of filter settings
 * (given as set-rx-filter arguments) and frames.  set-rx-filter is checked
 * field by field, error by error (with the filter byte-identical after each
 * error), and against query-rx-filter (info -> apply -> info).  Snooping is
 * fed the IGMP and MLD messages a guest sends, built here byte by byte,
 * untagged and 802.1Q-tagged, behind IPv6 extension headers; every one of
 * them is also fed at every truncated length (each in a heap buffer of
 * exactly that size, so AddressSanitizer sees any read past the end), with
 * lying length fields, and as seeded random mutations.  Expiry runs on a
 * fake clock.  A micro benchmark prints the cost of a table miss as a TAP
 * comment (no assertion on time).
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rxfilter.h"
#include "tap.h"

static const uint8_t nic_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

#define TIMEOUT RXFILTER_SNOOP_TIMEOUT_MS

/* join() - snoop an IGMPv2 report for @group (defined with the builders) */
static void join(struct rxfilter *f, const char *group, uint64_t now);

/* Helpers: JSON */

static bool apply_str(struct rxfilter *f, const char *json, bool *changed,
		      struct nh_error **errp)
{
	json_error_t jerr;
	json_t *args = json_loads(json, 0, &jerr);
	bool ok;

	if (!args) {
		printf("# bad test JSON: %s: %s\n", json, jerr.text);
		tap_cur_failed = 1;
		return false;
	}
	ok = rxfilter_apply(f, args, changed, errp);
	json_decref(args);
	return ok;
}

/* apply_ok() - apply @json, which must succeed */
static void apply_ok_at(struct rxfilter *f, const char *json, int line)
{
	struct nh_error *err = NULL;

	if (!apply_str(f, json, NULL, &err)) {
		printf("# apply failed at line %d: %s: %s\n", line, json,
		       err ? err->msg : "?");
		tap_cur_failed = 1;
	}
	nh_error_free(err);
}
#define apply_ok(f, json) apply_ok_at(f, json, __LINE__)

/* table_json() - "unicast-table" / "multicast-table" args of @n generated
 * addresses: 02:00:00:00:HH:LL or 01:00:5e:00:HH:LL */
static char *table_json(const char *member, bool multicast, unsigned n)
{
	size_t size = 64 + (size_t)n * 24;
	char *s = malloc(size);
	size_t len;

	len = (size_t)snprintf(s, size, "{\"%s\": [", member);
	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(
		    s + len, size - len, "%s\"%s:%02x:%02x\"", i ? ", " : "",
		    multicast ? "01:00:5e:00" : "02:00:00:00", i >> 8,
		    i & 0xff);
	snprintf(s + len, size - len, "]}");
	return s;
}

static void fill(struct rxfilter *f, unsigned n_uni, unsigned n_multi)
{
	char *s;

	if (n_uni) {
		s = table_json("unicast-table", false, n_uni);
		apply_ok(f, s);
		free(s);
	}
	if (n_multi) {
		s = table_json("multicast-table", true, n_multi);
		apply_ok(f, s);
		free(s);
	}
}

/* member() - info member @name of @f, as compact JSON text (caller frees) */
static char *member(const struct rxfilter *f, const char *name)
{
	json_t *info = rxfilter_info(f, "nic0");
	char *s = json_dumps(json_object_get(info, name),
			     JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(info);
	return s;
}

/* CHECK_MEMBER(f, name, json) - info member @name reads exactly @json */
#define CHECK_MEMBER(f, name, json)                                            \
	do {                                                                   \
		char *m_ = member(f, name);                                    \
		if (!m_ || strcmp(m_, json)) {                                 \
			tap_cur_failed = 1;                                    \
			printf("# %s is %s, expected %s (%s:%d)\n", name,      \
			       m_ ? m_ : "(null)", json, __FILE__, __LINE__);  \
		}                                                              \
		free(m_);                                                      \
	} while (0)

/* info_equal() - whether @a and @b read the same; shows both when not */
static bool info_equal_show(const struct rxfilter *a, const struct rxfilter *b,
			    bool show)
{
	json_t *ia = rxfilter_info(a, "nic0"), *ib = rxfilter_info(b, "nic0");
	bool eq = ia && ib && json_equal(ia, ib);

	if (!eq && show) {
		char *sa = json_dumps(ia, JSON_COMPACT | JSON_SORT_KEYS);
		char *sb = json_dumps(ib, JSON_COMPACT | JSON_SORT_KEYS);

		printf("# info differs:\n#  %s\n#  %s\n", sa, sb);
		free(sa);
		free(sb);
	}
	json_decref(ia);
	json_decref(ib);
	return eq;
}

static bool info_equal(const struct rxfilter *a, const struct rxfilter *b)
{
	return info_equal_show(a, b, true);
}

/* Helpers: frames */

static void parse_mac(const char *s, uint8_t m[6])
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5]) != 6)
		abort();
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)v[i];
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* l2_frame() - a 64-byte frame to @dst; @tci >= 0 adds an 802.1Q tag */
static size_t l2_frame(uint8_t *b, const char *dst, int tci)
{
	memset(b, 0, 64);
	parse_mac(dst, b);
	memcpy(b + 6, nic_mac, 6);
	b[6] = 0x02;
	if (tci >= 0) {
		put16(b + 12, 0x8100);
		put16(b + 14, (unsigned)tci);
		put16(b + 16, 0x0800);
	} else {
		put16(b + 12, 0x0800);
	}
	return 64;
}

static bool accepts(const struct rxfilter *f, const char *dst, int tci)
{
	uint8_t b[64];

	return rxfilter_accept(f, b, l2_frame(b, dst, tci));
}

/* The accept order, row by row */

#define OWN    "52:54:00:12:34:56"
#define OTHER  "02:00:00:00:0f:0f"
#define LISTED "02:00:00:00:00:01" /* generated unicast entry 1 */
#define BCAST  "ff:ff:ff:ff:ff:ff"
#define GROUP  "01:00:5e:00:00:fb"
#define GROUP2 "01:00:5e:7f:00:01" /* never generated */
#define NOPROM "\"promiscuous\": false"

struct accept_case {
	const char *name;
	unsigned fill_uni, fill_multi; /* generated entries, set first */
	const char *set;	       /* then these set-rx-filter args */
	const char *dst;
	int tci; /* -1 untagged */
	bool accept;
};

static const struct accept_case accept_cases[] = {
    {"reset state: promiscuous takes all", 0, 0, "{}", OTHER, -1, true},
    {"promiscuous before VLAN", 0, 0, "{\"vlan\": \"none\"}", OWN, 5, true},
    {"promiscuous before no-unicast", 0, 0, "{\"unicast\": \"none\"}", OWN, -1,
     true},
    {"promiscuous before no-broadcast", 0, 0, "{\"broadcast-allowed\": false}",
     BCAST, -1, true},
    {"promiscuous before no-multicast", 0, 0, "{\"multicast\": \"none\"}",
     GROUP, -1, true},

    {"VLAN in table", 0, 0,
     "{" NOPROM ", \"vlan\": \"normal\", \"vlan-table\": [5]}", OWN, 0x6005,
     true},
    {"VLAN not in table", 0, 0,
     "{" NOPROM ", \"vlan\": \"normal\", \"vlan-table\": [5]}", OWN, 0x6006,
     false},
    {"VLAN: only the low 12 bits of the TCI", 0, 0,
     "{" NOPROM ", \"vlan\": \"normal\", \"vlan-table\": [5]}", OWN, 0xf005,
     true},
    {"VLAN 0 and 4095 are IDs like any", 0, 0,
     "{" NOPROM ", \"vlan\": \"normal\", \"vlan-table\": [0, 4095]}", OWN,
     0x0fff, true},
    {"VLAN 0 in table", 0, 0,
     "{" NOPROM ", \"vlan\": \"normal\", \"vlan-table\": [0, 4095]}", OWN,
     0x0000, true},
    {"VLAN filtering off: any VLAN", 0, 0,
     "{" NOPROM ", \"vlan\": \"all\", \"vlan-table\": [5]}", OWN, 0x0006, true},
    {"VLAN none: tagged dropped", 0, 0, "{" NOPROM ", \"vlan\": \"none\"}", OWN,
     0x0001, false},
    {"VLAN none: untagged passes", 0, 0, "{" NOPROM ", \"vlan\": \"none\"}",
     OWN, -1, true},
    {"VLAN drop before broadcast", 0, 0,
     "{" NOPROM ", \"vlan\": \"normal\", \"vlan-table\": [5]}", BCAST, 6,
     false},
    {"VLAN drop before all-unicast", 0, 0,
     "{" NOPROM ", \"unicast\": \"all\", \"vlan\": \"none\"}", OTHER, 6, false},

    {"broadcast accepted", 0, 0, "{" NOPROM "}", BCAST, -1, true},
    {"broadcast refused by no-broadcast", 0, 0,
     "{" NOPROM ", \"broadcast-allowed\": false}", BCAST, -1, false},
    {"broadcast before no-multicast", 0, 0,
     "{" NOPROM ", \"multicast\": \"none\"}", BCAST, -1, true},
    {"no-broadcast before all-multicast", 0, 0,
     "{" NOPROM ", \"multicast\": \"all\", \"broadcast-allowed\": false}",
     BCAST, -1, false},
    {"tagged broadcast in VLAN", 0, 0,
     "{" NOPROM ", \"vlan\": \"normal\", \"vlan-table\": [5]}", BCAST, 5, true},

    {"multicast not in empty table", 0, 0, "{" NOPROM "}", GROUP, -1, false},
    {"multicast in table", 0, 0,
     "{" NOPROM ", \"multicast-table\": [\"" GROUP "\"]}", GROUP, -1, true},
    {"multicast not in table", 0, 0,
     "{" NOPROM ", \"multicast-table\": [\"" GROUP "\"]}", GROUP2, -1, false},
    {"no-multicast before table", 0, 0,
     "{" NOPROM ", \"multicast\": \"none\", \"multicast-table\": [\"" GROUP
     "\"]}",
     GROUP, -1, false},
    {"all-multicast", 0, 0, "{" NOPROM ", \"multicast\": \"all\"}", GROUP2, -1,
     true},
    {"multicast overflow accepts all", 0, 65, "{" NOPROM "}", GROUP2, -1, true},
    {"no-multicast before overflow", 0, 65,
     "{" NOPROM ", \"multicast\": \"none\"}", GROUP2, -1, false},
    {"64 multicast fit: unlisted dropped", 0, 64, "{" NOPROM "}", GROUP2, -1,
     false},
    {"64 multicast fit: last listed accepted", 0, 64, "{" NOPROM "}",
     "01:00:5e:00:00:3f", -1, true},
    {"unicast take the slots: multicast overflows", 64, 1, "{" NOPROM "}",
     GROUP2, -1, true},
    {"tagged multicast in VLAN and table", 0, 0,
     "{" NOPROM ", \"vlan\": \"normal\", \"vlan-table\": [9], "
     "\"multicast-table\": [\"" GROUP "\"]}",
     GROUP, 9, true},

    {"own MAC", 0, 0, "{" NOPROM "}", OWN, -1, true},
    {"other unicast", 0, 0, "{" NOPROM "}", OTHER, -1, false},
    {"no-unicast drops own MAC", 0, 0, "{" NOPROM ", \"unicast\": \"none\"}",
     OWN, -1, false},
    {"no-unicast before table", 2, 0, "{" NOPROM ", \"unicast\": \"none\"}",
     LISTED, -1, false},
    {"all-unicast", 0, 0, "{" NOPROM ", \"unicast\": \"all\"}", OTHER, -1,
     true},
    {"unicast overflow accepts all", 65, 0, "{" NOPROM "}", OTHER, -1, true},
    {"no-unicast before overflow", 65, 0, "{" NOPROM ", \"unicast\": \"none\"}",
     OTHER, -1, false},
    {"unicast in table", 2, 0, "{" NOPROM "}", LISTED, -1, true},
    {"unicast not in table", 2, 0, "{" NOPROM "}", OTHER, -1, false},
    {"64 unicast fit: last listed accepted", 64, 0, "{" NOPROM "}",
     "02:00:00:00:00:3f", -1, true},
    {"64 unicast fit: unlisted dropped", 64, 0, "{" NOPROM "}", OTHER, -1,
     false},
    {"unicast table is not the multicast table", 0, 0,
     "{" NOPROM ", \"multicast-table\": [\"" GROUP "\"]}", "00:00:5e:00:00:fb",
     -1, false},
    {"multicast table is not the unicast table", 3, 0, "{" NOPROM "}",
     "03:00:00:00:00:01", -1, false},
};

static void test_rxfilter_accept_order_table(void)
{
	for (size_t i = 0; i < sizeof(accept_cases) / sizeof(*accept_cases);
	     i++) {
		const struct accept_case *c = &accept_cases[i];
		struct rxfilter f;
		bool got;

		rxfilter_init(&f, nic_mac);
		fill(&f, c->fill_uni, c->fill_multi);
		apply_ok(&f, c->set);
		got = accepts(&f, c->dst, c->tci);
		if (got != c->accept) {
			tap_cur_failed = 1;
			printf("# row %zu '%s': %s, expected %s\n", i, c->name,
			       got ? "accepted" : "dropped",
			       c->accept ? "accept" : "drop");
		}
	}
}

static void test_rxfilter_short_frames_refused(void)
{
	struct rxfilter f;
	uint8_t full[64];

	rxfilter_init(&f, nic_mac);
	l2_frame(full, OWN, 5);
	for (size_t len = 0; len < 14; len++) {
		uint8_t *b = malloc(len ? len : 1);

		memcpy(b, full, len);
		CHECK(!rxfilter_accept(&f, b, len)); /* even promiscuous */
		free(b);
	}
	/* A TPID with no room for its TCI: refused when VLANs are filtered */
	apply_ok(&f, "{" NOPROM ", \"vlan\": \"normal\", \"vlan-table\": [5]}");
	for (size_t len = 14; len < 16; len++) {
		uint8_t *b = malloc(len);

		memcpy(b, full, len);
		CHECK(!rxfilter_accept(&f, b, len));
		free(b);
	}
	{
		uint8_t *b = malloc(16);

		memcpy(b, full, 16);
		CHECK(rxfilter_accept(&f, b, 16));
		apply_ok(&f, "{\"vlan\": \"all\"}");
		CHECK(rxfilter_accept(&f, b, 14));
		free(b);
	}
}

static void test_rxfilter_reset_state(void)
{
	struct rxfilter f, fresh;
	uint8_t frame[64] = {0x02};

	rxfilter_init(&fresh, nic_mac);
	CHECK_MEMBER(&fresh, "promiscuous", "true");
	CHECK_MEMBER(&fresh, "unicast", "\"normal\"");
	CHECK_MEMBER(&fresh, "multicast", "\"normal\"");
	CHECK_MEMBER(&fresh, "vlan", "\"all\"");
	CHECK_MEMBER(&fresh, "broadcast-allowed", "true");
	CHECK_MEMBER(&fresh, "unicast-overflow", "false");
	CHECK_MEMBER(&fresh, "multicast-overflow", "false");
	CHECK_MEMBER(&fresh, "main-mac", "\"52:54:00:12:34:56\"");
	CHECK_MEMBER(&fresh, "unicast-table", "[]");
	CHECK_MEMBER(&fresh, "multicast-table", "[]");
	CHECK_MEMBER(&fresh, "vlan-table", "[]");
	CHECK(rxfilter_accept(&fresh, frame, sizeof(frame)));

	/* Everything set, then reset: as fresh, main MAC kept */
	rxfilter_init(&f, nic_mac);
	fill(&f, 70, 3);
	apply_ok(&f, "{" NOPROM ", \"unicast\": \"none\", \"multicast\": "
		     "\"all\", \"vlan\": \"normal\", \"vlan-table\": [1, 2], "
		     "\"broadcast-allowed\": false}");
	CHECK(!info_equal_show(&f, &fresh, false));
	rxfilter_reset(&f);
	CHECK(info_equal(&f, &fresh));
	CHECK(rxfilter_accept(&f, frame, sizeof(frame)));
}

static void test_rxfilter_overflow_keeps_what_fits(void)
{
	struct rxfilter f;
	char *s;
	json_t *info;
	bool changed;

	rxfilter_init(&f, nic_mac);
	fill(&f, 65, 0);
	CHECK_MEMBER(&f, "unicast-overflow", "true");
	CHECK_MEMBER(&f, "unicast", "\"all\"");
	info = rxfilter_info(&f, "nic0");
	CHECK_EQ(json_array_size(json_object_get(info, "unicast-table")), 64);
	CHECK(!strcmp(json_string_value(json_array_get(
			  json_object_get(info, "unicast-table"), 63)),
		      "02:00:00:00:00:3f"));
	json_decref(info);

	/* Exactly 64 fit; duplicates count once */
	fill(&f, 64, 0);
	CHECK_MEMBER(&f, "unicast-overflow", "false");
	CHECK_MEMBER(&f, "unicast", "\"normal\"");
	s = table_json("unicast-table", false, 64);
	/* append two duplicates: 66 entries, 64 unique */
	s = realloc(s, strlen(s) + 64);
	strcpy(s + strlen(s) - 2,
	       ", \"02:00:00:00:00:00\", \"02:00:00:00:00:3F\"]}");
	apply_ok(&f, s);
	CHECK_MEMBER(&f, "unicast-overflow", "false");
	free(s);

	/* Shared: 60 unicast leave room for 4 multicast */
	rxfilter_init(&f, nic_mac);
	fill(&f, 60, 10);
	CHECK_MEMBER(&f, "unicast-overflow", "false");
	CHECK_MEMBER(&f, "multicast-overflow", "true");
	CHECK_MEMBER(&f, "multicast", "\"all\"");
	CHECK_MEMBER(&f, "multicast-table",
		     "[\"01:00:5e:00:00:00\",\"01:00:5e:00:00:01\","
		     "\"01:00:5e:00:00:02\",\"01:00:5e:00:00:03\"]");
	/* A smaller unicast table: the multicast overflow stays (the table
	 * that overflowed was not set again) */
	fill(&f, 2, 0);
	CHECK_MEMBER(&f, "multicast-overflow", "true");
	/* Setting the multicast table recomputes it */
	fill(&f, 0, 10);
	CHECK_MEMBER(&f, "multicast-overflow", "false");
	CHECK_MEMBER(&f, "multicast", "\"normal\"");
	/* A larger unicast table pushes multicast entries out */
	CHECK(apply_str(&f, "{\"unicast-table\": []}", &changed, NULL));
	s = table_json("unicast-table", false, 62);
	CHECK(apply_str(&f, s, &changed, NULL));
	CHECK(changed);
	free(s);
	CHECK_MEMBER(&f, "multicast-overflow", "true");
	CHECK_MEMBER(&f, "multicast-table",
		     "[\"01:00:5e:00:00:00\",\"01:00:5e:00:00:01\"]");
	CHECK(accepts(&f, GROUP2, -1));
	/* The unicast table is untouched by multicast overflow */
	CHECK_MEMBER(&f, "unicast-overflow", "false");
}

/* set-rx-filter: each member on its own, from a non-trivial base state;
 * every other info member must stay */

#define BASE                                                                   \
	"{\"promiscuous\": false, \"unicast\": \"all\", \"multicast\": "       \
	"\"none\", \"vlan\": \"normal\", \"broadcast-allowed\": false, "       \
	"\"unicast-table\": [\"02:00:00:00:00:01\"], \"multicast-table\": "    \
	"[\"01:00:5e:00:00:01\"], \"vlan-table\": [7]}"

struct field_case {
	const char *set;
	const char *member;	      /* the one info member that changes */
	const char *value;	      /* to this */
	const char *member2, *value2; /* or a second one; NULL */
};

static const struct field_case field_cases[] = {
    {"{\"promiscuous\": true}", "promiscuous", "true", NULL, NULL},
    {"{\"unicast\": \"normal\"}", "unicast", "\"normal\"", NULL, NULL},
    {"{\"unicast\": \"none\"}", "unicast", "\"none\"", NULL, NULL},
    {"{\"multicast\": \"all\"}", "multicast", "\"all\"", NULL, NULL},
    {"{\"multicast\": \"normal\"}", "multicast", "\"normal\"", NULL, NULL},
    {"{\"vlan\": \"all\"}", "vlan", "\"all\"", NULL, NULL},
    /* none empties the map */
    {"{\"vlan\": \"none\"}", "vlan", "\"none\"", "vlan-table", "[]"},
    {"{\"vlan\": \"none\", \"vlan-table\": []}", "vlan", "\"none\"",
     "vlan-table", "[]"},
    /* an emptied map with filtering on reads none */
    {"{\"vlan-table\": []}", "vlan", "\"none\"", "vlan-table", "[]"},
    {"{\"broadcast-allowed\": true}", "broadcast-allowed", "true", NULL, NULL},
    {"{\"unicast-table\": [\"02:00:00:00:00:09\", \"0A:0b:0C:0d:0E:0f\"]}",
     "unicast-table", "[\"02:00:00:00:00:09\",\"0a:0b:0c:0d:0e:0f\"]", NULL,
     NULL},
    {"{\"unicast-table\": []}", "unicast-table", "[]", NULL, NULL},
    {"{\"multicast-table\": [\"33:33:00:00:00:01\", "
     "\"ff:ff:ff:ff:ff:ff\"]}",
     "multicast-table", "[\"33:33:00:00:00:01\",\"ff:ff:ff:ff:ff:ff\"]", NULL,
     NULL},
    {"{\"multicast-table\": []}", "multicast-table", "[]", NULL, NULL},
    {"{\"vlan-table\": [4095, 3, 100, 3]}", "vlan-table", "[3,100,4095]", NULL,
     NULL},
    /* not looked at: the name and the read-only members */
    {"{\"name\": \"x\", \"main-mac\": \"00:00:00:00:00:01\", "
     "\"unicast-overflow\": true}",
     NULL, NULL, NULL, NULL},
    {"{}", NULL, NULL, NULL, NULL},
};

static const char *const info_members[] = {
    "name",	"promiscuous",	     "multicast",	   "unicast",
    "vlan",	"broadcast-allowed", "multicast-overflow", "unicast-overflow",
    "main-mac", "vlan-table",	     "unicast-table",	   "multicast-table",
};

static void test_rxfilter_apply_each_member(void)
{
	for (size_t i = 0; i < sizeof(field_cases) / sizeof(*field_cases);
	     i++) {
		const struct field_case *c = &field_cases[i];
		struct rxfilter f;
		json_t *before, *after;
		bool changed;

		rxfilter_init(&f, nic_mac);
		apply_ok(&f, BASE);
		before = rxfilter_info(&f, "nic0");
		CHECK(apply_str(&f, c->set, &changed, NULL));
		CHECK(changed == (c->member != NULL));
		after = rxfilter_info(&f, "nic0");
		CHECK_EQ(json_object_size(after), 12);
		for (size_t k = 0; k < 12; k++) {
			const char *name = info_members[k];
			json_t *want = json_object_get(before, name);
			json_t *got = json_object_get(after, name);
			json_t *parsed = NULL;
			const char *w = NULL;

			if (c->member && !strcmp(name, c->member))
				w = c->value;
			if (c->member2 && !strcmp(name, c->member2))
				w = c->value2;
			if (w)
				want = parsed =
				    json_loads(w, JSON_DECODE_ANY, NULL);
			if (!got || !want || !json_equal(want, got)) {
				char *g = json_dumps(got, JSON_ENCODE_ANY);

				tap_cur_failed = 1;
				printf("# row %zu: %s is %s\n", i, name,
				       g ? g : "(null)");
				free(g);
			}
			json_decref(parsed);
		}
		json_decref(before);
		json_decref(after);
	}
}

struct error_case {
	const char *set;
	const char *msg;
};

static const struct error_case error_cases[] = {
    {"{\"promiscuous\": 1}",
     "Invalid parameter type for 'promiscuous', expected: boolean"},
    {"{\"promiscuous\": null}",
     "Invalid parameter type for 'promiscuous', expected: boolean"},
    {"{\"broadcast-allowed\": \"yes\"}",
     "Invalid parameter type for 'broadcast-allowed', expected: boolean"},
    {"{\"unicast\": \"some\"}",
     "Parameter 'unicast' does not accept value 'some'"},
    {"{\"multicast\": 3}",
     "Invalid parameter type for 'multicast', expected: string"},
    {"{\"vlan\": \"Normal\"}",
     "Parameter 'vlan' does not accept value 'Normal'"},
    {"{\"unicast-table\": \"02:00:00:00:00:01\"}",
     "Invalid parameter type for 'unicast-table', expected: array"},
    {"{\"unicast-table\": [\"02:00:00:00:00:01\", 5]}",
     "Invalid parameter type for 'unicast-table[1]', expected: string"},
    {"{\"unicast-table\": [\"02:00:00:00:00:01\", \"02:00:00:00:00:02\", "
     "\"02:00:00:00:00:03\", \"01:00:5e:00:00:01\"]}",
     "set-rx-filter: 'unicast-table' entry 3: '01:00:5e:00:00:01' is a "
     "multicast address"},
    {"{\"multicast-table\": [\"52:54:00:12:34:56\"]}",
     "set-rx-filter: 'multicast-table' entry 0: '52:54:00:12:34:56' is "
     "not a multicast address"},
    {"{\"unicast-table\": [\"zz\"]}",
     "set-rx-filter: 'unicast-table' entry 0: 'zz' is not a MAC address"},
    {"{\"unicast-table\": [\"\"]}",
     "set-rx-filter: 'unicast-table' entry 0: '' is not a MAC address"},
    {"{\"unicast-table\": [\"02:00:00:00:00\"]}",
     "set-rx-filter: 'unicast-table' entry 0: '02:00:00:00:00' is not a "
     "MAC address"},
    {"{\"unicast-table\": [\"02:00:00:00:00:001\"]}",
     "set-rx-filter: 'unicast-table' entry 0: '02:00:00:00:00:001' is not "
     "a MAC address"},
    {"{\"unicast-table\": [\"02-00-00-00-00-01\"]}",
     "set-rx-filter: 'unicast-table' entry 0: '02-00-00-00-00-01' is not "
     "a MAC address"},
    {"{\"multicast-table\": [\"01:00:5e:00:00:0g\"]}",
     "set-rx-filter: 'multicast-table' entry 0: '01:00:5e:00:00:0g' is "
     "not a MAC address"},
    {"{\"multicast-table\": [\" 1:00:5e:00:00:01\"]}",
     "set-rx-filter: 'multicast-table' entry 0: ' 1:00:5e:00:00:01' is "
     "not a MAC address"},
    {"{\"unicast-table\": [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]}",
     "set-rx-filter: 'unicast-table' entry 0: 'aaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not a MAC address"},
    {"{\"vlan-table\": [1, 4096]}",
     "set-rx-filter: 'vlan-table' entry 1: 4096 is not a VLAN ID (0-4095)"},
    {"{\"vlan-table\": [-1]}",
     "set-rx-filter: 'vlan-table' entry 0: -1 is not a VLAN ID (0-4095)"},
    {"{\"vlan-table\": [1.0]}",
     "Invalid parameter type for 'vlan-table[0]', expected: integer"},
    {"{\"vlan-table\": [\"1\"]}",
     "Invalid parameter type for 'vlan-table[0]', expected: integer"},
    {"{\"vlan-table\": {}}",
     "Invalid parameter type for 'vlan-table', expected: array"},
    {"{\"vlan\": \"none\", \"vlan-table\": [1]}",
     "set-rx-filter: 'vlan' is 'none' but 'vlan-table' is not empty"},
    {"[]", "QMP input member 'arguments' must be an object"},
    /* the first bad member is the one named */
    {"{\"promiscuous\": 1, \"unicast\": \"x\"}",
     "Invalid parameter type for 'promiscuous', expected: boolean"},
    /* good members with a bad one: nothing is applied */
    {"{\"promiscuous\": true, \"unicast\": \"none\", \"vlan\": \"all\", "
     "\"broadcast-allowed\": true, \"unicast-table\": [], "
     "\"multicast-table\": [], \"vlan-table\": [5000]}",
     "set-rx-filter: 'vlan-table' entry 0: 5000 is not a VLAN ID (0-4095)"},
    {"{\"multicast-table\": [], \"unicast-table\": [\"02:00:00:00:00:01\", "
     "\"33:33:00:00:00:01\"]}",
     "set-rx-filter: 'unicast-table' entry 1: '33:33:00:00:00:01' is a "
     "multicast address"},
};

static void test_rxfilter_apply_errors_change_nothing(void)
{
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(*error_cases);
	     i++) {
		const struct error_case *c = &error_cases[i];
		struct rxfilter f, copy;
		struct nh_error *err = NULL;
		bool changed = true;

		rxfilter_init(&f, nic_mac);
		apply_ok(&f, BASE);
		join(&f, "239.0.0.9", 5); /* must survive a rejected table */
		copy = f;
		CHECK(!apply_str(&f, c->set, &changed, &err));
		CHECK(!changed);
		CHECK(!memcmp(&f, &copy, sizeof(f)));
		if (!err || err->cls != NH_ERR_GENERIC ||
		    strcmp(err->msg, c->msg)) {
			tap_cur_failed = 1;
			printf("# row %zu: got '%s'\n#   expected '%s'\n", i,
			       err ? err->msg : "(no error)", c->msg);
		}
		nh_error_free(err);
		/* errp may be NULL */
		CHECK(!apply_str(&f, c->set, NULL, NULL));
		CHECK(!memcmp(&f, &copy, sizeof(f)));
	}
}

static void test_rxfilter_apply_changed_flag(void)
{
	struct rxfilter f;
	bool changed = true;

	rxfilter_init(&f, nic_mac);
	CHECK(rxfilter_apply(&f, NULL, &changed, NULL));
	CHECK(!changed);
	CHECK(apply_str(&f, "{}", &changed, NULL) && !changed);
	CHECK(apply_str(&f, "{\"promiscuous\": true}", &changed, NULL) &&
	      !changed);
	CHECK(apply_str(&f,
			"{\"vlan\": \"all\", \"broadcast-allowed\": true, "
			"\"unicast\": \"normal\"}",
			&changed, NULL) &&
	      !changed);
	CHECK(apply_str(&f, "{\"promiscuous\": false}", &changed, NULL) &&
	      changed);
	CHECK(apply_str(&f, "{\"promiscuous\": false}", &changed, NULL) &&
	      !changed);
	CHECK(apply_str(&f,
			"{\"unicast-table\": [\"02:00:00:00:00:01\", "
			"\"02:00:00:00:00:02\"]}",
			&changed, NULL) &&
	      changed);
	CHECK(apply_str(&f,
			"{\"unicast-table\": [\"02:00:00:00:00:01\", "
			"\"02:00:00:00:00:02\"]}",
			&changed, NULL) &&
	      !changed);
	/* the order shows in query-rx-filter: a change */
	CHECK(apply_str(&f,
			"{\"unicast-table\": [\"02:00:00:00:00:02\", "
			"\"02:00:00:00:00:01\"]}",
			&changed, NULL) &&
	      changed);
	CHECK(apply_str(&f, "{\"vlan-table\": [3]}", &changed, NULL) &&
	      changed);
	CHECK(apply_str(&f, "{\"vlan-table\": [3, 3]}", &changed, NULL) &&
	      !changed);
	/* changed may be NULL */
	{
		json_t *o = json_pack("{s:b}", "promiscuous", 1);

		CHECK(rxfilter_apply(&f, o, NULL, NULL));
		CHECK_MEMBER(&f, "promiscuous", "true");
		json_decref(o);
	}
}

static void test_rxfilter_info_shape(void)
{
	static const uint8_t upper[6] = {0xAB, 0xCD, 0xEF, 0x01, 0x02, 0x03};
	struct rxfilter f;
	json_t *info, *v;
	const char *key;

	rxfilter_init(&f, upper);
	apply_ok(&f, "{\"vlan\": \"normal\", \"vlan-table\": [2, 1], "
		     "\"unicast-table\": [\"02:00:00:00:00:AA\"], "
		     "\"multicast-table\": [\"01:00:5E:00:00:AA\"]}");
	info = rxfilter_info(&f, "vnet0");
	CHECK(json_is_object(info));
	CHECK_EQ(json_object_size(info), 12);
	for (size_t k = 0; k < 12; k++)
		CHECK(json_object_get(info, info_members[k]) != NULL);
	json_object_foreach (info, key, v) {
		if (!strcmp(key, "name") || !strcmp(key, "main-mac") ||
		    !strcmp(key, "unicast") || !strcmp(key, "multicast") ||
		    !strcmp(key, "vlan"))
			CHECK(json_is_string(v));
		else if (!strcmp(key, "vlan-table"))
			CHECK(json_is_array(v) &&
			      json_is_integer(json_array_get(v, 0)));
		else if (strstr(key, "-table"))
			CHECK(json_is_array(v) &&
			      json_is_string(json_array_get(v, 0)));
		else
			CHECK(json_is_boolean(v));
	}
	CHECK(
	    !strcmp(json_string_value(json_object_get(info, "name")), "vnet0"));
	json_decref(info);
	CHECK_MEMBER(&f, "main-mac", "\"ab:cd:ef:01:02:03\"");
	CHECK_MEMBER(&f, "unicast-table", "[\"02:00:00:00:00:aa\"]");
	CHECK_MEMBER(&f, "multicast-table", "[\"01:00:5e:00:00:aa\"]");
	CHECK_MEMBER(&f, "vlan-table", "[1,2]");
	CHECK_MEMBER(&f, "vlan", "\"normal\"");

	info = rxfilter_info(&f, NULL);
	CHECK(!strcmp(json_string_value(json_object_get(info, "name")), ""));
	json_decref(info);
}

/* broadcast-allowed reports the meaning its name says (QEMU's is inverted) */
static void test_rxfilter_broadcast_allowed_means_accepted(void)
{
	struct rxfilter f;

	rxfilter_init(&f, nic_mac);
	apply_ok(&f, "{" NOPROM "}");
	CHECK_MEMBER(&f, "broadcast-allowed", "true");
	CHECK(accepts(&f, BCAST, -1));
	apply_ok(&f, "{\"broadcast-allowed\": false}");
	CHECK_MEMBER(&f, "broadcast-allowed", "false");
	CHECK(!accepts(&f, BCAST, -1));
	CHECK(accepts(&f, OWN, -1));
	apply_ok(&f, "{\"broadcast-allowed\": true}");
	CHECK_MEMBER(&f, "broadcast-allowed", "true");
	CHECK(accepts(&f, BCAST, -1));
}

/* Round trip: query, apply the answer to a fresh filter, query again */

static const char *const sample_dsts[] = {
    OWN,
    OTHER,
    LISTED,
    BCAST,
    GROUP,
    GROUP2,
    "01:00:5e:00:00:00",
    "02:00:00:00:00:00",
    "33:33:00:00:00:01",
};

static bool same_decisions(const struct rxfilter *a, const struct rxfilter *b)
{
	static const int tcis[] = {-1, 0, 1, 2, 7, 4095};

	for (size_t d = 0; d < sizeof(sample_dsts) / sizeof(*sample_dsts); d++)
		for (size_t t = 0; t < sizeof(tcis) / sizeof(*tcis); t++)
			if (accepts(a, sample_dsts[d], tcis[t]) !=
			    accepts(b, sample_dsts[d], tcis[t]))
				return false;
	return true;
}

static void round_trip(const struct rxfilter *f, bool exact)
{
	struct rxfilter g;
	json_t *info = rxfilter_info(f, "nic0");
	struct nh_error *err = NULL;

	rxfilter_init(&g, nic_mac);
	CHECK(rxfilter_apply(&g, info, NULL, &err));
	if (err)
		printf("# %s\n", err->msg);
	nh_error_free(err);
	json_decref(info);
	if (exact)
		CHECK(info_equal(f, &g));
	CHECK(same_decisions(f, &g));
	/* the modes and tables read the same in any case */
	for (size_t k = 0; k < 12; k++) {
		char *a, *b;

		if (strstr(info_members[k], "overflow"))
			continue;
		a = member(f, info_members[k]);
		b = member(&g, info_members[k]);
		CHECK(a && b && !strcmp(a, b));
		free(a);
		free(b);
	}
}

static void test_rxfilter_round_trip_info_apply_info(void)
{
	static const char *const states[] = {
	    "{}",
	    "{" NOPROM "}",
	    BASE,
	    "{" NOPROM ", \"unicast\": \"none\", \"multicast\": \"all\", "
	    "\"vlan\": \"all\", \"vlan-table\": [1, 2, 4095], "
	    "\"unicast-table\": [\"02:00:00:00:00:01\"], "
	    "\"multicast-table\": [\"01:00:5e:00:00:fb\"]}",
	    "{" NOPROM ", \"vlan\": \"normal\", \"vlan-table\": [0, 7]}",
	    "{" NOPROM ", \"vlan\": \"none\"}",
	    "{" NOPROM ", \"vlan\": \"normal\"}", /* reads none */
	    "{" NOPROM ", \"broadcast-allowed\": false}",
	    "{\"unicast\": \"all\", \"multicast\": \"none\"}",
	};
	struct rxfilter f;

	for (size_t i = 0; i < sizeof(states) / sizeof(*states); i++) {
		rxfilter_init(&f, nic_mac);
		apply_ok(&f, states[i]);
		round_trip(&f, true);
	}
	/* Overflowed tables: the same decisions and modes; the flags read
	 * false after (documented) */
	rxfilter_init(&f, nic_mac);
	apply_ok(&f, "{" NOPROM "}");
	fill(&f, 65, 0);
	round_trip(&f, false);
	rxfilter_init(&f, nic_mac);
	apply_ok(&f, "{" NOPROM "}");
	fill(&f, 62, 5);
	round_trip(&f, false);
	rxfilter_init(&f, nic_mac);
	apply_ok(&f, "{" NOPROM ", \"unicast\": \"none\"}");
	fill(&f, 70, 0);
	round_trip(&f, false);
	/* Snooped groups read back as explicit ones */
	rxfilter_init(&f, nic_mac);
	apply_ok(&f, "{" NOPROM ", \"multicast-table\": [\"" GROUP "\"]}");
	join(&f, "239.1.2.3", 1);
	join(&f, "239.1.2.4", 2);
	round_trip(&f, true);
}

/* Snooping: message builders */

struct pkt {
	uint8_t b[600];
	size_t len;
};

static void p8(struct pkt *p, unsigned v)
{
	p->b[p->len++] = (uint8_t)v;
}

static void p16(struct pkt *p, unsigned v)
{
	put16(p->b + p->len, v);
	p->len += 2;
}

static void pbytes(struct pkt *p, const void *d, size_t n)
{
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static void pzero(struct pkt *p, size_t n)
{
	memset(p->b + p->len, 0, n);
	p->len += n;
}

static void parse_ip4(const char *s, uint8_t a[4])
{
	unsigned v[4];

	if (sscanf(s, "%u.%u.%u.%u", &v[0], &v[1], &v[2], &v[3]) != 4)
		abort();
	for (int i = 0; i < 4; i++)
		a[i] = (uint8_t)v[i];
}

/* parse_ip6() - full form only: eight groups of hex */
static void parse_ip6(const char *s, uint8_t a[16])
{
	unsigned v[8];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) != 8)
		abort();
	for (int i = 0; i < 8; i++)
		put16(a + 2 * i, v[i]);
}

/* IGMPv1/v2 message: type, 0, checksum 0, group */
static struct pkt igmp_simple(unsigned type, const char *group)
{
	struct pkt m = {.len = 0};
	uint8_t g[4];

	parse_ip4(group, g);
	p8(&m, type);
	p8(&m, 0);
	p16(&m, 0);
	pbytes(&m, g, 4);
	return m;
}

/* A group record: type, aux words, sources (n_src zero-filled), addr */
static void record(struct pkt *m, unsigned type, unsigned aux_words,
		   unsigned n_src, const char *group)
{
	uint8_t g[16];
	size_t alen = strchr(group, ':') ? 16 : 4;

	if (alen == 4)
		parse_ip4(group, g);
	else
		parse_ip6(group, g);
	p8(m, type);
	p8(m, aux_words);
	p16(m, n_src);
	pbytes(m, g, alen);
	for (unsigned i = 0; i < n_src; i++) {
		pzero(m, alen - 1);
		p8(m, i + 1);
	}
	pzero(m, aux_words * 4);
}

static struct pkt igmp_v3_head(unsigned n_records)
{
	struct pkt m = {.len = 0};

	p8(&m, 0x22);
	p8(&m, 0);
	p16(&m, 0);
	p16(&m, 0);
	p16(&m, n_records);
	return m;
}

static struct pkt mld_v1(unsigned type, const char *group)
{
	struct pkt m = {.len = 0};
	uint8_t g[16];

	parse_ip6(group, g);
	p8(&m, type);
	p8(&m, 0);
	p16(&m, 0);
	p16(&m, 0);
	p16(&m, 0);
	pbytes(&m, g, 16);
	return m;
}

static struct pkt mld_v2_head(unsigned n_records)
{
	struct pkt m = {.len = 0};

	p8(&m, 143);
	p8(&m, 0);
	p16(&m, 0);
	p16(&m, 0);
	p16(&m, n_records);
	return m;
}

static void eth(struct pkt *p, const char *dst, int tci, unsigned type)
{
	uint8_t d[6];

	p->len = 0;
	parse_mac(dst, d);
	pbytes(p, d, 6);
	pbytes(p, nic_mac, 6);
	if (tci >= 0) {
		p16(p, 0x8100);
		p16(p, (unsigned)tci);
	}
	p16(p, type);
}

/* ipv4() - an IPv4 packet carrying @m; @ra adds the Router Alert option;
 * @pad adds Ethernet padding after the packet */
static struct pkt ipv4(const struct pkt *m, int tci, bool ra, size_t pad)
{
	struct pkt p;
	size_t ihl = ra ? 24 : 20;
	uint8_t src[4] = {192, 0, 2, 7}, dst[4] = {224, 0, 0, 22};

	eth(&p, "01:00:5e:00:00:16", tci, 0x0800);
	p8(&p, 0x40 | (unsigned)(ihl / 4));
	p8(&p, 0xc0);
	p16(&p, (unsigned)(ihl + m->len));
	p16(&p, 0);
	p16(&p, 0x4000); /* DF */
	p8(&p, 1);
	p8(&p, 2);
	p16(&p, 0);
	pbytes(&p, src, 4);
	pbytes(&p, dst, 4);
	if (ra) {
		p8(&p, 0x94);
		p8(&p, 4);
		p16(&p, 0);
	}
	pbytes(&p, m->b, m->len);
	pzero(&p, pad);
	return p;
}

/* ipv6() - an IPv6 packet carrying ICMPv6 message @m behind the extension
 * headers named in @ext: 'h' Hop-by-Hop (router alert), 'd' Destination
 * Options (16 bytes), 'r' Routing (type 0, 24 bytes), 'f' Fragment */
static struct pkt ipv6(const struct pkt *m, int tci, const char *ext)
{
	struct pkt p;
	uint8_t src[16] = {0xfe, 0x80, [15] = 7};
	uint8_t dst[16] = {0xff, 0x02, [15] = 0x16};
	size_t plen_at, start;
	unsigned nh = 58;

	eth(&p, "33:33:00:00:00:16", tci, 0x86dd);
	p8(&p, 0x60);
	pzero(&p, 3);
	plen_at = p.len;
	p16(&p, 0);
	p8(&p, ext[0] == 'h'   ? 0
	       : ext[0] == 'd' ? 60
	       : ext[0] == 'r' ? 43
	       : ext[0] == 'f' ? 44
			       : nh);
	p8(&p, 1);
	pbytes(&p, src, 16);
	pbytes(&p, dst, 16);
	start = p.len;
	for (const char *e = ext; *e; e++) {
		char n = e[1];
		unsigned next = n == 'h'   ? 0
				: n == 'd' ? 60
				: n == 'r' ? 43
				: n == 'f' ? 44
					   : nh;

		switch (*e) {
		case 'h': /* RA option 5, then PadN */
			p8(&p, next);
			p8(&p, 0);
			p8(&p, 5);
			p8(&p, 2);
			p16(&p, 0);
			p8(&p, 1);
			p8(&p, 0);
			break;
		case 'd':
			p8(&p, next);
			p8(&p, 1);
			p8(&p, 1);
			p8(&p, 12);
			pzero(&p, 12);
			break;
		case 'r':
			p8(&p, next);
			p8(&p, 2);
			pzero(&p, 22);
			break;
		case 'f':
			p8(&p, next);
			pzero(&p, 7);
			break;
		}
	}
	pbytes(&p, m->b, m->len);
	put16(p.b + plen_at, (unsigned)(p.len - start));
	return p;
}

/* mc_table() - the multicast-table as "a,b,c" (static buffer) */
static const char *mc_table(const struct rxfilter *f)
{
	static char buf[64 * 18 + 1];
	json_t *info = rxfilter_info(f, "nic0"), *v;
	size_t i, len = 0;

	buf[0] = '\0';
	json_array_foreach (json_object_get(info, "multicast-table"), i, v)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
					i ? "," : "", json_string_value(v));
	json_decref(info);
	return buf;
}

#define CHECK_MC(f, want)                                                      \
	do {                                                                   \
		const char *t_ = mc_table(f);                                  \
		if (strcmp(t_, want)) {                                        \
			tap_cur_failed = 1;                                    \
			printf("# multicast-table %s, expected %s (%s:%d)\n",  \
			       t_, want, __FILE__, __LINE__);                  \
		}                                                              \
	} while (0)

#define ALL_HOSTS "01:00:5e:00:00:01"
#define ALL_NODES "33:33:00:00:00:01"

static bool snoop(struct rxfilter *f, const struct pkt *p, uint64_t now,
		  bool *changed)
{
	/* an exact-size heap copy: ASan sees any read past the end */
	uint8_t *b = malloc(p->len ? p->len : 1);
	bool ok;

	memcpy(b, p->b, p->len);
	ok = rxfilter_snoop(f, b, p->len, now, changed);
	free(b);
	return ok;
}

static void join(struct rxfilter *f, const char *group, uint64_t now)
{
	struct pkt m = igmp_simple(0x16, group), p = ipv4(&m, -1, true, 0);

	CHECK(snoop(f, &p, now, NULL));
}

static void test_rxfilter_snoop_igmp_v1_v2(void)
{
	struct rxfilter f;
	struct pkt m, p;
	bool changed;

	rxfilter_init(&f, nic_mac);
	apply_ok(&f, "{" NOPROM "}");
	CHECK(!accepts(&f, "01:00:5e:01:02:03", -1));

	m = igmp_simple(0x12, "239.1.2.3"); /* v1 report */
	p = ipv4(&m, -1, false, 0);
	CHECK(snoop(&f, &p, 1000, &changed));
	CHECK(changed);
	CHECK_MC(&f, "01:00:5e:01:02:03," ALL_HOSTS);
	CHECK(accepts(&f, "01:00:5e:01:02:03", -1));
	CHECK(accepts(&f, ALL_HOSTS, -1));
	CHECK(snoop(&f, &p, 2000, &changed)); /* a refresh */
	CHECK(!changed);

	/* v2 report, with Router Alert and padding; 23 bits of the group */
	m = igmp_simple(0x16, "239.129.7.8");
	p = ipv4(&m, -1, true, 14);
	CHECK(snoop(&f, &p, 3000, &changed) && changed);
	CHECK_MC(&f, "01:00:5e:01:02:03," ALL_HOSTS ",01:00:5e:01:07:08");

	/* v2 leave */
	m = igmp_simple(0x17, "239.1.2.3");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 4000, &changed) && changed);
	CHECK_MC(&f, ALL_HOSTS ",01:00:5e:01:07:08");
	CHECK(!accepts(&f, "01:00:5e:01:02:03", -1));
	/* leave of a group not joined */
	CHECK(snoop(&f, &p, 4001, &changed));
	CHECK(!changed);

	/* Two groups on one MAC: a leave of one keeps it */
	m = igmp_simple(0x16, "224.1.2.3");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 5000, &changed) && changed);
	m = igmp_simple(0x16, "225.129.2.3");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 5000, &changed) && !changed);
	m = igmp_simple(0x17, "224.1.2.3");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 5001, &changed) && !changed);
	CHECK(accepts(&f, "01:00:5e:01:02:03", -1));
	m = igmp_simple(0x17, "225.129.2.3");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 5002, &changed) && changed);
	CHECK(!accepts(&f, "01:00:5e:01:02:03", -1));

	/* 802.1Q-tagged */
	m = igmp_simple(0x16, "239.9.9.9");
	p = ipv4(&m, 0x2005, true, 0);
	CHECK(snoop(&f, &p, 6000, &changed) && changed);
	CHECK(accepts(&f, "01:00:5e:09:09:09", -1));
}

static void test_rxfilter_snoop_ignores_non_reports(void)
{
	struct rxfilter f, fresh;
	struct pkt m, p;
	bool changed = true;

	rxfilter_init(&f, nic_mac);
	rxfilter_init(&fresh, nic_mac);

	m = igmp_simple(0x11, "0.0.0.0"); /* query */
	p = ipv4(&m, -1, true, 0);
	CHECK(!snoop(&f, &p, 1, &changed) && !changed);
	m = igmp_simple(0x16, "10.1.2.3"); /* not a group */
	p = ipv4(&m, -1, true, 0);
	CHECK(!snoop(&f, &p, 1, &changed) && !changed);
	m = igmp_simple(0x17, "192.0.2.1");
	p = ipv4(&m, -1, true, 0);
	CHECK(!snoop(&f, &p, 1, &changed) && !changed);

	/* fragments */
	m = igmp_simple(0x16, "239.1.2.3");
	p = ipv4(&m, -1, false, 0);
	p.b[20] = 0x20; /* MF */
	CHECK(!snoop(&f, &p, 1, &changed));
	p.b[20] = 0x00;
	p.b[21] = 0x01; /* offset 8 */
	CHECK(!snoop(&f, &p, 1, &changed));
	/* other protocol, other version */
	p = ipv4(&m, -1, false, 0);
	p.b[23] = 17;
	CHECK(!snoop(&f, &p, 1, &changed));
	p = ipv4(&m, -1, false, 0);
	p.b[14] = 0x65;
	CHECK(!snoop(&f, &p, 1, &changed));
	/* double tag: not looked into */
	p = ipv4(&m, 0x0005, false, 0);
	memmove(p.b + 16, p.b + 12, p.len - 12);
	p.len += 4;
	CHECK(!snoop(&f, &p, 1, &changed));
	/* ARP, other ethertypes */
	p = ipv4(&m, -1, false, 0);
	p.b[12] = 0x08;
	p.b[13] = 0x06;
	CHECK(!snoop(&f, &p, 1, &changed));

	/* ICMPv6 that is not MLD; MLD with a unicast group; behind a
	 * fragment header */
	m.len = 0;
	p8(&m, 135);
	pzero(&m, 23);
	p = ipv6(&m, -1, "");
	CHECK(!snoop(&f, &p, 1, &changed));
	m = mld_v1(130, "0:0:0:0:0:0:0:0"); /* query */
	p = ipv6(&m, -1, "h");
	CHECK(!snoop(&f, &p, 1, &changed));
	m = mld_v1(131, "2001:db8:0:0:0:0:0:1");
	p = ipv6(&m, -1, "h");
	CHECK(!snoop(&f, &p, 1, &changed));
	m = mld_v1(131, "ff02:0:0:0:0:1:ff00:1");
	p = ipv6(&m, -1, "f");
	CHECK(!snoop(&f, &p, 1, &changed));
	p = ipv6(&m, -1, "hf");
	CHECK(!snoop(&f, &p, 1, &changed));
	/* nine extension headers: more than are followed */
	p = ipv6(&m, -1, "hdddddddd");
	CHECK(!snoop(&f, &p, 1, &changed));
	p = ipv6(&m, -1, "hddddddd"); /* eight: fine */
	CHECK(snoop(&f, &p, 1, &changed));
	rxfilter_reset(&f);

	CHECK(info_equal(&f, &fresh));
}

/* IGMPv3 / MLDv2 record rules, one record each */
struct record_case {
	unsigned type, n_src;
	bool joined_before;
	bool member_after;
};

static const struct record_case record_cases[] = {
    {1, 0, false, false},			/* IS_IN {}: nothing */
    {1, 1, false, true},			/* IS_IN {S} */
    {1, 0, true, true},				/* IS_IN {}: no leave either */
    {2, 0, false, true},			/* IS_EX {} */
    {2, 2, false, true},			/* IS_EX {S, T} */
    {3, 0, true, false},			/* TO_IN {}: leave */
    {3, 1, true, true},				/* TO_IN {S} */
    {3, 1, false, true},  {4, 0, false, true},	/* TO_EX {} */
    {4, 3, false, true},  {5, 1, false, true},	/* ALLOW {S} */
    {5, 0, false, false},			/* ALLOW {} */
    {6, 1, true, true},				/* BLOCK {S}: nothing */
    {6, 1, false, false}, {7, 0, false, false}, /* unknown */
    {0, 0, true, true},
};

static void test_rxfilter_snoop_v3_records(void)
{
	for (size_t i = 0; i < sizeof(record_cases) / sizeof(*record_cases);
	     i++) {
		const struct record_case *c = &record_cases[i];

		for (int v6 = 0; v6 < 2; v6++) {
			const char *group =
			    v6 ? "ff05:0:0:0:0:0:1:3" : "239.1.1.3";
			const char *mac =
			    v6 ? "33:33:00:01:00:03" : "01:00:5e:01:01:03";
			struct rxfilter f;
			struct pkt m, p;

			rxfilter_init(&f, nic_mac);
			apply_ok(&f, "{" NOPROM "}");
			if (c->joined_before) {
				m = v6 ? mld_v2_head(1) : igmp_v3_head(1);
				record(&m, 2, 0, 0, group);
				p = v6 ? ipv6(&m, -1, "h")
				       : ipv4(&m, -1, true, 0);
				CHECK(snoop(&f, &p, 10, NULL));
				CHECK(accepts(&f, mac, -1));
			}
			/* the record under test, with aux data, among two
			 * others */
			m = v6 ? mld_v2_head(3) : igmp_v3_head(3);
			record(&m, 6, 0, 1,
			       v6 ? "ff05:0:0:0:0:0:1:1" : "239.1.1.1");
			record(&m, c->type, 1, c->n_src, group);
			record(&m, 4, 2, 0,
			       v6 ? "ff05:0:0:0:0:0:1:2" : "239.1.1.2");
			p = v6 ? ipv6(&m, 0x0007, "hd") : ipv4(&m, 7, true, 6);
			CHECK(snoop(&f, &p, 20, NULL));
			if (accepts(&f, mac, -1) != c->member_after) {
				tap_cur_failed = 1;
				printf("# row %zu %s: member %d\n", i,
				       v6 ? "MLDv2" : "IGMPv3",
				       !c->member_after);
			}
			/* the third record was applied too */
			CHECK(accepts(
			    &f, v6 ? "33:33:00:01:00:02" : "01:00:5e:01:01:02",
			    -1));
			CHECK(accepts(&f, v6 ? ALL_NODES : ALL_HOSTS, -1));
		}
	}
}

static void test_rxfilter_snoop_v3_bad_groups_skipped(void)
{
	struct rxfilter f;
	struct pkt m, p;

	rxfilter_init(&f, nic_mac);
	m = igmp_v3_head(3);
	record(&m, 2, 0, 0, "10.0.0.1");
	record(&m, 2, 0, 0, "239.0.0.5");
	record(&m, 2, 0, 0, "255.255.255.255");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 1, NULL));
	CHECK_MC(&f, "01:00:5e:00:00:05," ALL_HOSTS);

	rxfilter_init(&f, nic_mac);
	m = mld_v2_head(2);
	record(&m, 2, 0, 0, "2001:db8:0:0:0:0:0:1");
	record(&m, 2, 0, 0, "ff02:0:0:0:0:0:0:fb");
	p = ipv6(&m, -1, "h");
	CHECK(snoop(&f, &p, 1, NULL));
	CHECK_MC(&f, "33:33:00:00:00:fb," ALL_NODES);

	/* A report of no records still shows a multicast host */
	rxfilter_init(&f, nic_mac);
	m = igmp_v3_head(0);
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 1, NULL));
	CHECK_MC(&f, ALL_HOSTS);
}

static void test_rxfilter_snoop_mld(void)
{
	struct rxfilter f;
	struct pkt m, p;
	bool changed;

	rxfilter_init(&f, nic_mac);
	apply_ok(&f, "{" NOPROM "}");

	/* Solicited-node group, as duplicate address detection reports it */
	m = mld_v1(131, "ff02:0:0:0:0:1:ff12:3456");
	p = ipv6(&m, -1, "h");
	CHECK(snoop(&f, &p, 100, &changed) && changed);
	CHECK_MC(&f, "33:33:ff:12:34:56," ALL_NODES);
	CHECK(accepts(&f, "33:33:ff:12:34:56", -1));
	CHECK(accepts(&f, ALL_NODES, -1));

	/* Without any extension header; and behind several; tagged */
	m = mld_v1(131, "ff05:0:0:0:0:0:0:101");
	p = ipv6(&m, -1, "");
	CHECK(snoop(&f, &p, 100, &changed) && changed);
	m = mld_v1(131, "ff05:0:0:0:0:0:0:102");
	p = ipv6(&m, -1, "hdrd");
	CHECK(snoop(&f, &p, 100, &changed) && changed);
	m = mld_v1(131, "ff05:0:0:0:0:0:0:103");
	p = ipv6(&m, 0x0fff, "h");
	CHECK(snoop(&f, &p, 100, &changed) && changed);
	CHECK_MC(&f, "33:33:ff:12:34:56," ALL_NODES ",33:33:00:00:01:01,"
		     "33:33:00:00:01:02,33:33:00:00:01:03");

	/* Done */
	m = mld_v1(132, "ff05:0:0:0:0:0:0:102");
	p = ipv6(&m, -1, "h");
	CHECK(snoop(&f, &p, 100, &changed) && changed);
	CHECK(!accepts(&f, "33:33:00:00:01:02", -1));
	CHECK(accepts(&f, "33:33:00:00:01:03", -1));

	/* MLDv2: join two (one with sources and aux data), leave one */
	m = mld_v2_head(3);
	record(&m, 4, 0, 0, "ff02:0:0:0:0:0:0:fb");
	record(&m, 1, 1, 2, "ff0e:0:0:0:0:0:0:2");
	record(&m, 3, 0, 0, "ff05:0:0:0:0:0:0:101");
	p = ipv6(&m, 0x0003, "h");
	CHECK(snoop(&f, &p, 200, &changed) && changed);
	CHECK(accepts(&f, "33:33:00:00:00:fb", -1));
	CHECK(accepts(&f, "33:33:00:00:00:02", -1));
	CHECK(!accepts(&f, "33:33:00:00:01:01", -1));

	/* IPv4 and IPv6 groups never share a MAC */
	m = igmp_simple(0x16, "239.0.0.251");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 300, &changed) && changed);
	CHECK(accepts(&f, "01:00:5e:00:00:fb", -1));
}

static void test_rxfilter_snoop_explicit_entries_stay(void)
{
	struct rxfilter f;
	struct pkt m, p;
	bool changed;

	rxfilter_init(&f, nic_mac);
	apply_ok(&f,
		 "{" NOPROM ", \"multicast-table\": [\"01:00:5e:01:02:03\"]}");
	m = igmp_simple(0x16, "239.1.2.3");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 0, &changed) && changed); /* all-hosts added */
	CHECK_MC(&f, "01:00:5e:01:02:03," ALL_HOSTS);
	m = igmp_simple(0x17, "239.1.2.3");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 1, &changed) && !changed);
	CHECK(accepts(&f, "01:00:5e:01:02:03", -1));
	CHECK_EQ(rxfilter_expire(&f, 10 * TIMEOUT, &changed), 1);
	CHECK(changed);
	CHECK_MC(&f, "01:00:5e:01:02:03");

	/* A multicast-table replaces snooped entries; those it lists become
	 * explicit */
	m = igmp_simple(0x16, "239.7.7.7");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 20 * TIMEOUT, NULL));
	CHECK_MC(&f, "01:00:5e:01:02:03,01:00:5e:07:07:07," ALL_HOSTS);
	CHECK(apply_str(&f, "{\"multicast-table\": [\"01:00:5e:07:07:07\"]}",
			&changed, NULL) &&
	      changed);
	CHECK_MC(&f, "01:00:5e:07:07:07");
	CHECK_EQ(rxfilter_expire(&f, 30 * TIMEOUT, &changed), 0);
	CHECK(!changed);
	m = igmp_simple(0x17, "239.7.7.7");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 30 * TIMEOUT, &changed) && !changed);
	CHECK_MC(&f, "01:00:5e:07:07:07");

	/* Applying exactly what snooping built: no visible change */
	rxfilter_init(&f, nic_mac);
	m = igmp_simple(0x16, "239.1.2.3");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 0, NULL));
	CHECK(apply_str(
	    &f,
	    "{\"multicast-table\": [\"01:00:5e:01:02:03\", \"" ALL_HOSTS "\"]}",
	    &changed, NULL));
	CHECK(!changed);
	CHECK_EQ(rxfilter_expire(&f, 10 * TIMEOUT, NULL), 0);
	CHECK_MC(&f, "01:00:5e:01:02:03," ALL_HOSTS);
}

static void test_rxfilter_expire_with_fake_clock(void)
{
	struct rxfilter f;
	struct pkt m, p;
	bool changed = true;

	rxfilter_init(&f, nic_mac);
	apply_ok(&f,
		 "{" NOPROM ", \"multicast-table\": [\"33:33:00:00:00:fb\"]}");
	m = igmp_simple(0x16, "239.1.2.3");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 1000, NULL));
	m = mld_v1(131, "ff02:0:0:0:0:1:ff00:1");
	p = ipv6(&m, -1, "h");
	CHECK(snoop(&f, &p, 50000, NULL));

	CHECK_EQ(rxfilter_expire(&f, 1000 + TIMEOUT - 1, &changed), 0);
	CHECK(!changed);
	/* a refresh of the IGMP group (and all-hosts) */
	m = igmp_simple(0x16, "239.1.2.3");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 100000, &changed) && !changed);
	CHECK_EQ(rxfilter_expire(&f, 1000 + TIMEOUT, &changed), 0);
	CHECK(!changed);
	/* the MLD groups go first */
	CHECK_EQ(rxfilter_expire(&f, 50000 + TIMEOUT, &changed), 2);
	CHECK(changed);
	CHECK_MC(&f, "33:33:00:00:00:fb,01:00:5e:01:02:03," ALL_HOSTS);
	CHECK_EQ(rxfilter_expire(&f, 100000 + TIMEOUT - 1, NULL), 0);
	CHECK_EQ(rxfilter_expire(&f, 100000 + TIMEOUT, &changed), 2);
	CHECK(changed);
	CHECK_MC(&f, "33:33:00:00:00:fb");
	/* explicit entries never expire */
	CHECK_EQ(rxfilter_expire(&f, UINT64_MAX, &changed), 0);
	CHECK(!changed);
	CHECK_MC(&f, "33:33:00:00:00:fb");

	/* a clock behind the last report expires nothing */
	m = igmp_simple(0x16, "239.1.2.3");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 5 * TIMEOUT, NULL));
	CHECK_EQ(rxfilter_expire(&f, 0, NULL), 0);
	CHECK_MC(&f, "33:33:00:00:00:fb,01:00:5e:01:02:03," ALL_HOSTS);
}

static void test_rxfilter_snoop_overflow(void)
{
	struct rxfilter f;
	struct pkt m, p;
	bool changed;
	char group[32];
	unsigned n;

	/* Table full of explicit entries: a snooped group overflows */
	rxfilter_init(&f, nic_mac);
	apply_ok(&f, "{" NOPROM "}");
	fill(&f, 60, 4);
	CHECK_MEMBER(&f, "multicast-overflow", "false");
	m = igmp_simple(0x16, "239.1.2.3");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 1000, &changed) && changed);
	CHECK_MEMBER(&f, "multicast-overflow", "true");
	CHECK_MEMBER(&f, "multicast", "\"all\"");
	CHECK(accepts(&f, "01:00:5e:01:02:03", -1));
	CHECK(accepts(&f, GROUP2, -1));
	/* reported again: still over */
	CHECK(snoop(&f, &p, 2000, &changed) && !changed);
	CHECK_EQ(rxfilter_expire(&f, 2000 + TIMEOUT - 1, &changed), 0);
	CHECK(!changed);
	CHECK_MEMBER(&f, "multicast-overflow", "true");
	/* no report for a whole timeout: back to the table */
	CHECK_EQ(rxfilter_expire(&f, 2000 + TIMEOUT, &changed), 2);
	CHECK(changed);
	CHECK_MEMBER(&f, "multicast-overflow", "false");
	CHECK(!accepts(&f, GROUP2, -1));

	/* Setting a multicast table ends a snooping overflow at once */
	CHECK(snoop(&f, &p, 3000, &changed) && changed);
	fill(&f, 0, 2);
	CHECK_MEMBER(&f, "multicast-overflow", "false");

	/* The group list is full before the table: 64 groups on one MAC */
	rxfilter_init(&f, nic_mac);
	apply_ok(&f, "{" NOPROM "}");
	for (n = 0; n < 63; n++) {
		unsigned k = n % 32; /* 32 groups share each MAC */

		snprintf(group, sizeof(group), "%u.%u.2.%u", 224 + k / 2,
			 1 + 128 * (k % 2), n < 32 ? 3 : 4);
		m = igmp_simple(0x16, group);
		p = ipv4(&m, -1, true, 0);
		CHECK(snoop(&f, &p, 10, NULL));
	}
	/* 63 groups + all-hosts = 64 groups on three MACs */
	CHECK_MC(&f, "01:00:5e:01:02:03," ALL_HOSTS ",01:00:5e:01:02:04");
	CHECK_MEMBER(&f, "multicast-overflow", "false");
	m = igmp_simple(0x16, "239.1.2.5");
	p = ipv4(&m, -1, true, 0);
	CHECK(snoop(&f, &p, 10, &changed) && changed);
	CHECK_MEMBER(&f, "multicast-overflow", "true");
	CHECK_MC(&f, "01:00:5e:01:02:03," ALL_HOSTS ",01:00:5e:01:02:04");
	CHECK(accepts(&f, "01:00:5e:01:02:05", -1));
}

/* Every valid message of the tests, for truncation and mutation */
static size_t valid_packets(struct pkt *out)
{
	struct pkt m;
	size_t n = 0;

	m = igmp_simple(0x12, "239.1.2.3");
	out[n++] = ipv4(&m, -1, false, 0);
	m = igmp_simple(0x16, "239.1.2.3");
	out[n++] = ipv4(&m, -1, true, 0);
	out[n++] = ipv4(&m, 0x0005, true, 0);
	m = igmp_simple(0x17, "239.1.2.3");
	out[n++] = ipv4(&m, -1, true, 0);
	m = igmp_v3_head(3);
	record(&m, 2, 0, 0, "239.0.0.1");
	record(&m, 1, 1, 2, "239.0.0.2");
	record(&m, 3, 0, 0, "239.0.0.3");
	out[n++] = ipv4(&m, -1, true, 0);
	out[n++] = ipv4(&m, 0x0005, false, 0);
	m = mld_v1(131, "ff02:0:0:0:0:1:ff12:3456");
	out[n++] = ipv6(&m, -1, "h");
	out[n++] = ipv6(&m, 0x0005, "hd");
	m = mld_v1(132, "ff02:0:0:0:0:1:ff12:3456");
	out[n++] = ipv6(&m, -1, "h");
	m = mld_v2_head(3);
	record(&m, 2, 0, 0, "ff05:0:0:0:0:0:0:1");
	record(&m, 5, 1, 2, "ff05:0:0:0:0:0:0:2");
	record(&m, 3, 0, 0, "ff05:0:0:0:0:0:0:3");
	out[n++] = ipv6(&m, -1, "h");
	out[n++] = ipv6(&m, 0x0005, "hdr");
	return n;
}

#define N_VALID 16

static void test_rxfilter_snoop_truncated_ignored(void)
{
	struct pkt pk[N_VALID];
	size_t n = valid_packets(pk);
	struct rxfilter f, fresh;

	rxfilter_init(&fresh, nic_mac);
	for (size_t i = 0; i < n; i++) {
		rxfilter_init(&f, nic_mac);
		CHECK(snoop(&f, &pk[i], 1, NULL)); /* whole: accepted */
		for (size_t len = 0; len < pk[i].len; len++) {
			struct pkt t = pk[i];
			bool changed = true;

			t.len = len;
			rxfilter_init(&f, nic_mac);
			if (snoop(&f, &t, 1, &changed) || changed ||
			    !info_equal(&f, &fresh)) {
				tap_cur_failed = 1;
				printf("# packet %zu cut to %zu taken\n", i,
				       len);
			}
		}
	}
}

/* lie() - @p with the 16-bit field at @off (counted from the end of the
 * Ethernet header) raised by @by */
static struct pkt lie16(const struct pkt *p, size_t off, int by)
{
	struct pkt q = *p;
	size_t at = (q.b[12] == 0x81 ? 18 : 14) + off;

	put16(q.b + at, (unsigned)(((q.b[at] << 8) | q.b[at + 1]) + by));
	return q;
}

static struct pkt lie8(const struct pkt *p, size_t off, int by)
{
	struct pkt q = *p;
	size_t at = (q.b[12] == 0x81 ? 18 : 14) + off;

	q.b[at] = (uint8_t)(q.b[at] + by);
	return q;
}

static void test_rxfilter_snoop_lying_lengths_ignored(void)
{
	struct pkt pk[N_VALID], lies[32];
	struct rxfilter f, fresh;
	size_t n = 0;

	valid_packets(pk);
	/* IPv4 (RA option: IHL 6, IGMP at 24): total length +1, -1 below
	 * the IGMP minimum, IHL 15, IHL 4 */
	lies[n++] = lie16(&pk[1], 2, 1);
	lies[n++] = lie16(&pk[1], 2, -1);
	lies[n++] = lie8(&pk[1], 0, 9);
	lies[n++] = lie8(&pk[1], 0, -2);
	/* IGMPv3 (packet 4, IGMP at 24, records of 8, 20 and 8 bytes):
	 * record count +1, the last record's source count and aux length
	 * +1, the IP packet shorter than the records */
	lies[n++] = lie16(&pk[4], 24 + 6, 1);
	lies[n++] = lie16(&pk[4], 24 + 8 + 28 + 2, 1);
	lies[n++] = lie8(&pk[4], 24 + 8 + 28 + 1, 1);
	lies[n++] = lie16(&pk[4], 2, -4);
	/* IPv6 (packet 6): payload length +1, -1; Hop-by-Hop length +1 */
	lies[n++] = lie16(&pk[6], 4, 1);
	lies[n++] = lie16(&pk[6], 4, -1);
	lies[n++] = lie8(&pk[6], 40 + 1, 1);
	lies[n++] = lie8(&pk[6], 40 + 1, 4);
	/* MLDv2 (packet 9, ICMPv6 at 48, records of 20, 56 and 20 bytes):
	 * record count +1, the last record's sources and aux length +1,
	 * the payload shorter than the records */
	lies[n++] = lie16(&pk[9], 48 + 6, 1);
	lies[n++] = lie16(&pk[9], 48 + 8 + 76 + 2, 1);
	lies[n++] = lie8(&pk[9], 48 + 8 + 76 + 1, 1);
	lies[n++] = lie16(&pk[9], 4, -8);

	rxfilter_init(&fresh, nic_mac);
	for (size_t i = 0; i < n; i++) {
		bool changed = true;

		rxfilter_init(&f, nic_mac);
		if (snoop(&f, &lies[i], 1, &changed) || changed ||
		    !info_equal(&f, &fresh)) {
			tap_cur_failed = 1;
			printf("# lie %zu taken\n", i);
		}
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_rxfilter_snoop_random_mutations_safe(void)
{
	struct pkt pk[N_VALID];
	size_t n = valid_packets(pk);
	struct rxfilter f;
	unsigned taken = 0;

	rxfilter_init(&f, nic_mac);
	apply_ok(&f, "{" NOPROM "}");
	for (unsigned it = 0; it < 200000; it++) {
		struct pkt t = pk[rng() % n];
		unsigned flips = 1 + (unsigned)(rng() % 4);

		for (unsigned k = 0; k < flips; k++)
			t.b[rng() % t.len] ^= (uint8_t)(1u << (rng() % 8));
		if (rng() % 4 == 0)
			t.len = (size_t)(rng() % (t.len + 1));
		taken += snoop(&f, &t, it, NULL);
		if (it % 1000 == 0)
			rxfilter_expire(&f, it, NULL);
		CHECK(f.n_uni <= f.n_used);
		CHECK(f.n_used <= RXFILTER_MAC_TABLE_ENTRIES);
		CHECK(f.n_groups <= RXFILTER_SNOOP_GROUPS);
		if (tap_cur_failed)
			break;
		{
			uint8_t *b = malloc(t.len ? t.len : 1);

			memcpy(b, t.b, t.len);
			(void)rxfilter_accept(&f, b, t.len);
			free(b);
		}
	}
	printf("# %u of 200000 mutated frames were membership messages\n",
	       taken);
	CHECK(taken > 0);
	rxfilter_expire(&f, UINT64_MAX, NULL);
	CHECK_EQ(f.n_groups, 0);
	CHECK_MC(&f, "");
}

/* Not a test of speed (no assertion): how long a miss costs with a full
 * table, as a TAP comment */
static void test_rxfilter_accept_micro_benchmark(void)
{
	struct rxfilter f;
	uint8_t uni[64], multi[64];
	struct timespec a, b;
	unsigned long accepted = 0;
	const unsigned n = 2000000;
	double ns;

	rxfilter_init(&f, nic_mac);
	apply_ok(&f, "{" NOPROM "}");
	fill(&f, 32, 32);
	l2_frame(uni, OTHER, -1);
	l2_frame(multi, GROUP2, -1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned i = 0; i < n; i++) {
		uni[5] = (uint8_t)i; /* defeat hoisting */
		accepted += rxfilter_accept(&f, i & 1 ? uni : multi, 64);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 +
	      (double)(b.tv_nsec - a.tv_nsec)) /
	     n;
	printf("# rxfilter_accept, 32+32 entries, miss: %.1f ns/frame\n", ns);
	CHECK_EQ(accepted, 0); /* every frame a miss */
}

int main(void)
{
	TAP_RUN(test_rxfilter_accept_order_table);
	TAP_RUN(test_rxfilter_short_frames_refused);
	TAP_RUN(test_rxfilter_reset_state);
	TAP_RUN(test_rxfilter_overflow_keeps_what_fits);
	TAP_RUN(test_rxfilter_apply_each_member);
	TAP_RUN(test_rxfilter_apply_errors_change_nothing);
	TAP_RUN(test_rxfilter_apply_changed_flag);
	TAP_RUN(test_rxfilter_info_shape);
	TAP_RUN(test_rxfilter_broadcast_allowed_means_accepted);
	TAP_RUN(test_rxfilter_round_trip_info_apply_info);
	TAP_RUN(test_rxfilter_snoop_igmp_v1_v2);
	TAP_RUN(test_rxfilter_snoop_ignores_non_reports);
	TAP_RUN(test_rxfilter_snoop_v3_records);
	TAP_RUN(test_rxfilter_snoop_v3_bad_groups_skipped);
	TAP_RUN(test_rxfilter_snoop_mld);
	TAP_RUN(test_rxfilter_snoop_explicit_entries_stay);
	TAP_RUN(test_rxfilter_expire_with_fake_clock);
	TAP_RUN(test_rxfilter_snoop_overflow);
	TAP_RUN(test_rxfilter_snoop_truncated_ignored);
	TAP_RUN(test_rxfilter_snoop_lying_lengths_ignored);
	TAP_RUN(test_rxfilter_snoop_random_mutations_safe);
	TAP_RUN(test_rxfilter_accept_micro_benchmark);
	return tap_done();
}
