// SPDX-License-Identifier: MIT
/* metrics.c - query-netdevs' and query-hubs' numbers as Prometheus text
 *
 * Walks the two answers and files every number under a metric family;
 * families are written one after the other, each with its HELP and TYPE
 * lines, in the order they were first met.  Needs only jansson: nethubctl
 * links it as well as nethubd.
 *
 * Never: write a family twice or a sample outside its family; let a label
 * value (a netdev id is anything a user typed) break the format.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define METRICS_NAME_MAX 256
#define METRICS_PART_MAX 64 /* one key of a name; longer ones are cut */

struct family {
	char name[METRICS_NAME_MAX];
	const char *type; /* counter, gauge or untyped */
	char *help;
	char *samples; /* the open_memstream buffer */
	size_t len;
	FILE *f;
};

struct families {
	struct family *v;
	size_t n, cap;
	bool failed; /* out of memory: the result is NULL */
};

/* @s as a metric name part: [a-zA-Z0-9_], '-' and anything else as '_' */
static void name_part(char *out, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++) {
		char c = s[i];

		out[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9'))
			     ? c
			     : '_';
	}
	out[i] = '\0';
}

/* The family called @name, added with @type and @help if new */
static struct family *family_get(struct families *fs, const char *name,
				 const char *type, const char *help)
{
	struct family *f;

	for (size_t i = 0; i < fs->n; i++)
		if (!strcmp(fs->v[i].name, name))
			return &fs->v[i];
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? 2 * fs->cap : 32;
		struct family *v = realloc(fs->v, cap * sizeof(*v));

		if (!v) {
			fs->failed = true;
			return NULL;
		}
		fs->v = v;
		fs->cap = cap;
	}
	f = &fs->v[fs->n];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->type = type;
	f->help = strdup(help);
	f->f = open_memstream(&f->samples, &f->len);
	if (!f->help || !f->f) {
		free(f->help);
		if (f->f)
			fclose(f->f);
		free(f->samples);
		fs->failed = true;
		return NULL;
	}
	fs->n++;
	return f;
}

/* A label value: backslash, double quote and newline escaped */
static void put_label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* The labels of a sample: NULL-terminated name, value pairs */
struct labels {
	const char *kv[10];
};

static void put_sample(struct families *fs, const char *name, const char *type,
		       const char *help, const struct labels *l,
		       const json_t *value)
{
	struct family *f;

	if (!json_is_number(value) && !json_is_boolean(value))
		return;
	f = family_get(fs, name, type, help);
	if (!f)
		return;
	fputs(name, f->f);
	for (size_t i = 0; l && l->kv[i]; i += 2) {
		fprintf(f->f, "%s%s=\"", i ? "," : "{", l->kv[i]);
		put_label_value(f->f, l->kv[i + 1]);
		fputc('"', f->f);
	}
	if (l && l->kv[0])
		fputc('}', f->f);
	if (json_is_integer(value))
		fprintf(f->f, " %lld\n", (long long)json_integer_value(value));
	else if (json_is_real(value))
		fprintf(f->f, " %.17g\n", json_real_value(value));
	else
		fprintf(f->f, " %d\n", json_is_true(value) ? 1 : 0);
}

/*
 * Every number under @obj (nested objects joined with '_') as a sample of
 * PREFIX_KEY, untyped: a driver's own numbers, whose meaning the schema
 * documents, not this file.  @skip: members handled elsewhere.
 */
static void put_members(struct families *fs, const char *prefix,
			const char *what, const json_t *obj,
			const struct labels *l, const char *const *skip)
{
	const char *key;
	const json_t *v;

	json_object_foreach ((json_t *)obj, key, v) {
		char name[METRICS_NAME_MAX], part[METRICS_PART_MAX];
		char help[METRICS_NAME_MAX + 64];
		bool skipped = false;

		for (size_t i = 0; skip && skip[i]; i++)
			skipped |= !strcmp(key, skip[i]);
		if (skipped)
			continue;
		name_part(part, sizeof(part), key);
		snprintf(name, sizeof(name), "%s_%s", prefix, part);
		if (json_is_object(v)) {
			put_members(fs, name, what, v, l, NULL);
			continue;
		}
		snprintf(help, sizeof(help), "%s member %s", what, key);
		put_sample(fs, name, "untyped", help, l, v);
	}
}

static const char *const port_known[] = {
    "name", "hub", "link", "mtu", "stats", NULL,
};

static void put_port(struct families *fs, const char *netdev,
		     const json_t *port)
{
	const char *pname = json_string_value(json_object_get(port, "name"));
	const json_t *st = json_object_get(port, "stats"), *v;
	char hub[24] = "", name[METRICS_NAME_MAX], part[METRICS_PART_MAX];
	char help[METRICS_NAME_MAX + 64];
	const char *key;
	struct labels l = {
	    {"netdev", netdev, "port", pname ? pname : "", NULL}};

	if (json_is_integer(json_object_get(port, "hub"))) {
		snprintf(hub, sizeof(hub), "%lld",
			 (long long)json_integer_value(
			     json_object_get(port, "hub")));
		l.kv[4] = "hub";
		l.kv[5] = hub;
	}
	put_sample(fs, "nethub_port_link_up", "gauge",
		   "1 if the port's link is up", &l,
		   json_object_get(port, "link"));
	put_sample(fs, "nethub_port_mtu_bytes", "gauge",
		   "largest frame the port takes, in bytes", &l,
		   json_object_get(port, "mtu"));
	json_object_foreach ((json_t *)st, key, v) {
		name_part(part, sizeof(part), key);
		if (json_is_object(v)) {
			/* rx-drops, tx-drops: by reason */
			const char *reason;
			const json_t *n;

			snprintf(name, sizeof(name), "nethub_port_%s_total",
				 part);
			snprintf(help, sizeof(help),
				 "frames the port's %s dropped, by reason "
				 "(docs/usage.md, Counters)",
				 key);
			json_object_foreach ((json_t *)v, reason, n) {
				struct labels rl = l;
				size_t i = 0;

				while (rl.kv[i])
					i += 2;
				rl.kv[i] = "reason";
				rl.kv[i + 1] = reason;
				rl.kv[i + 2] = NULL;
				put_sample(fs, name, "counter", help, &rl, n);
			}
			continue;
		}
		snprintf(name, sizeof(name), "nethub_port_%s_total", part);
		snprintf(help, sizeof(help), "the port's %s counter", key);
		put_sample(fs, name, "counter", help, &l, v);
	}
	put_members(fs, "nethub_port_driver", "query-netdevs port", port, &l,
		    port_known);
}

static void put_netdev(struct families *fs, const json_t *nd)
{
	const char *id = json_string_value(json_object_get(nd, "id"));
	const char *type = json_string_value(json_object_get(nd, "type"));
	const json_t *ports = json_object_get(nd, "ports"), *p;
	json_t *nports = json_integer((json_int_t)json_array_size(ports));
	struct labels l = {
	    {"netdev", id ? id : "", "type", type ? type : "", NULL}};
	size_t i;

	put_sample(fs, "nethub_netdev_link_up", "gauge",
		   "1 if the netdev's link is up", &l,
		   json_object_get(nd, "link"));
	put_sample(fs, "nethub_netdev_ports", "gauge",
		   "ports the netdev has (peers of a listening socket...)", &l,
		   nports);
	json_decref(nports);
	put_members(fs, "nethub_netdev_driver", "query-netdevs info",
		    json_object_get(nd, "info"), &l, NULL);
	json_array_foreach (ports, i, p)
		put_port(fs, id ? id : "", p);
}

static const char *const hub_known[] = {
    "id", "ports", "fdb-entries", "floods", "fdb-stats", NULL,
};

static void put_hub(struct families *fs, const json_t *h)
{
	const json_t *fdb = json_object_get(h, "fdb-stats"), *v;
	char id[24], name[METRICS_NAME_MAX], part[METRICS_PART_MAX];
	char help[METRICS_NAME_MAX + 64];
	const char *key;
	struct labels l = {{"hub", id, NULL}};

	snprintf(id, sizeof(id), "%lld",
		 (long long)json_integer_value(json_object_get(h, "id")));
	put_sample(fs, "nethub_hub_fdb_entries", "gauge",
		   "MAC addresses the hub has learned now", &l,
		   json_object_get(h, "fdb-entries"));
	put_sample(fs, "nethub_hub_floods_total", "counter",
		   "frames the hub flooded (destination not learned)", &l,
		   json_object_get(h, "floods"));
	json_object_foreach ((json_t *)fdb, key, v) {
		name_part(part, sizeof(part), key);
		snprintf(name, sizeof(name), "nethub_hub_fdb_%s_total", part);
		snprintf(help, sizeof(help), "the hub's learning table: %s",
			 key);
		put_sample(fs, name, "counter", help, &l, v);
	}
	put_members(fs, "nethub_hub", "query-hubs", h, &l, hub_known);
}

char *metrics_text(const json_t *netdevs, const json_t *hubs)
{
	struct families fs = {0};
	char *text = NULL;
	size_t len = 0, i;
	const json_t *v;
	FILE *out;

	json_array_foreach (netdevs, i, v)
		put_netdev(&fs, v);
	json_array_foreach (hubs, i, v)
		put_hub(&fs, v);
	out = open_memstream(&text, &len);
	for (i = 0; i < fs.n; i++) {
		struct family *f = &fs.v[i];

		fclose(f->f);
		if (out && f->samples)
			fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s", f->name,
				f->help, f->name, f->type, f->samples);
		free(f->samples);
		free(f->help);
	}
	free(fs.v);
	if (!out)
		return NULL;
	if (fclose(out) || fs.failed) {
		free(text);
		return NULL;
	}
	return text;
}
