// SPDX-License-Identifier: MIT
/* nethubctl_args.c - KEY=VALUE words into a command's typed arguments
 *
 * Two steps.  First the words become a raw tree: a JSON object whose
 * values are strings (KEY=VALUE), lists of strings (a KEY given more than
 * once) or objects (KEY.MEMBER=VALUE).  Then the tree is typed by walking
 * the command's argument type in the server's introspection data
 * (query-qmp-schema, where type names are masked as "0", "1", ...): object
 * members, flat-union variants chosen by their discriminator, alternates,
 * lists, enums and the builtin JSON types.
 *
 * Owns nothing beyond one call.  Never decides what the server accepts
 * beyond the shape of the value: enum values, ranges and semantics are the
 * server's to check, so its error messages reach the user unchanged.
 */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "nethubctl.h"

#define ARGS_MAX_DEPTH	32   /* KEY.a.b.c...: segments at most */
#define ARGS_MAX_INDEX	4096 /* KEY.N: list indexes below this */
#define ARGS_LIST_MAX	2048 /* characters of "(arguments: ...)" */
#define ARGS_TYPE_DEPTH 64   /* types nested in types, at most */

/* One typing pass: what errors need to name */
struct typer {
	const json_t *schema; /* name -> SchemaInfo */
	const char *command;
	unsigned depth; /* of type_value() calls: bounds a looping schema */
};

static json_t *type_value(struct typer *t, const json_t *raw, const char *type,
			  const char *path, int *rc);

/* ---- step 1: the raw tree ---- */

/*
 * Add one VALUE under the key @key, split into @nseg segments @seg (which
 * point into @segbuf, a copy of @key with its dots made NULs)
 */
static int raw_put(json_t *root, const char *command, const char *key,
		   const char *segbuf, char **seg, int nseg, const char *value)
{
	json_t *node = root, *next, *old;

	for (int i = 0; i < nseg - 1; i++) {
		next = json_object_get(node, seg[i]);
		if (!next) {
			next = json_object();
			json_object_set_new(node, seg[i], next);
		} else if (!json_is_object(next)) {
			return ctl_fail("%s: '%.*s' is given both a value and "
					"members",
					command,
					(int)(seg[i] - segbuf + strlen(seg[i])),
					key);
		}
		node = next;
	}
	old = json_object_get(node, seg[nseg - 1]);
	if (!old)
		json_object_set_new(node, seg[nseg - 1], json_string(value));
	else if (json_is_object(old))
		return ctl_fail("%s: '%s' is given both a value and members",
				command, key);
	else if (json_is_array(old))
		json_array_append_new(old, json_string(value));
	else
		json_object_set_new(node, seg[nseg - 1],
				    json_pack("[O s]", old, value));
	return 0;
}

/* Parse "KEY=VALUE" into the raw tree */
static int raw_add(json_t *root, const char *command, const char *word)
{
	const char *eq = strchr(word, '=');
	char *key, *segbuf, *seg[ARGS_MAX_DEPTH], *p, *dot;
	int nseg = 0, rc = 0;

	if (!eq || eq == word)
		return ctl_fail("%s: expected KEY=VALUE, got '%s'", command,
				word);
	key = strndup(word, (size_t)(eq - word));
	segbuf = strdup(key ? key : "");
	if (!key || !segbuf) {
		free(key);
		free(segbuf);
		return ctl_fail("out of memory");
	}
	for (p = segbuf; p; p = dot ? dot + 1 : NULL) {
		dot = strchr(p, '.');
		if (dot)
			*dot = '\0';
		if (!*p) {
			rc = ctl_fail("%s: key '%s' has an empty part", command,
				      key);
			break;
		}
		if (nseg == ARGS_MAX_DEPTH) {
			rc = ctl_fail("%s: key '%s' is nested too deeply",
				      command, key);
			break;
		}
		seg[nseg++] = p;
	}
	if (!rc)
		rc = raw_put(root, command, key, segbuf, seg, nseg, eq + 1);
	free(segbuf);
	free(key);
	return rc;
}

/* ---- step 2: typing ---- */

/* "a" + "b" -> "a.b" (or "b" at the top); caller frees */
static char *path_join(const char *path, const char *name)
{
	char *out;

	if (asprintf(&out, "%s%s%s", path, *path ? "." : "", name) < 0)
		return NULL;
	return out;
}

/* A whole integer: decimal, or hex after 0x, optionally negative */
static bool parse_int(const char *s, long long *out)
{
	bool neg = false;
	unsigned long long v;
	char *end;
	int base = 10;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			return false; /* strtoull would take "0x0x1" */
	}
	if (!isxdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, base);
	if (*end || errno)
		return false;
	if (neg ? v > (unsigned long long)LLONG_MAX + 1 : v > LLONG_MAX)
		return false;
	*out = neg ? (long long)(0 - v) : (long long)v;
	return true;
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"on", "yes", "true"};
	static const char *const no[] = {"off", "no", "false"};

	for (size_t i = 0; i < 3; i++) {
		if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
			*out = !strcasecmp(s, yes[i]);
			return true;
		}
	}
	return false;
}

static bool parse_number(const char *s, double *out)
{
	char *end;

	if (!*s || isspace((unsigned char)*s))
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return !*end && !errno && isfinite(*out);
}

/* The SchemaInfo of @type, or NULL */
static const json_t *type_info(struct typer *t, const char *type)
{
	return t->schema ? json_object_get(t->schema, type) : NULL;
}

/*
 * The JSON type of a builtin: "string", "int", "number", "boolean",
 * "null" or "value" (any).  From the schema when it lists the builtin;
 * QEMU's builtin names are understood without it.
 */
static const char *builtin_json_type(const json_t *info, const char *type)
{
	static const struct {
		const char *name, *json_type;
	} builtins[] = {
	    {"str", "string"},	 {"int", "int"},    {"int8", "int"},
	    {"int16", "int"},	 {"int32", "int"},  {"int64", "int"},
	    {"uint8", "int"},	 {"uint16", "int"}, {"uint32", "int"},
	    {"uint64", "int"},	 {"size", "int"},   {"number", "number"},
	    {"bool", "boolean"}, {"null", "null"},  {"any", "value"},
	};

	if (info)
		return ctl_json_str(json_object_get(info, "json-type"), NULL);
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (!strcmp(type, builtins[i].name))
			return builtins[i].json_type;
	return NULL;
}

/* Parse @text as JSON for @path; NULL with *rc set if it is not */
static json_t *parse_json_text(struct typer *t, const char *text,
			       const char *path, int *rc)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (!v)
		*rc = ctl_fail("%s: '%s': bad JSON: %s", t->command, path,
			       jerr.text);
	return v;
}

/* @s as a scalar of JSON type @jt, or NULL if it is not one */
static json_t *scalar_parse(const char *s, const char *jt)
{
	long long i;
	double d;
	bool b;
	json_t *v;

	if (!strcmp(jt, "int"))
		return parse_int(s, &i) ? json_integer(i) : NULL;
	if (!strcmp(jt, "number")) {
		if (parse_int(s, &i))
			return json_integer(i);
		return parse_number(s, &d) ? json_real(d) : NULL;
	}
	if (!strcmp(jt, "boolean"))
		return parse_bool(s, &b) ? json_boolean(b) : NULL;
	if (!strcmp(jt, "null"))
		return strcmp(s, "null") ? NULL : json_null();
	if (!strcmp(jt, "value")) {
		v = json_loads(s, JSON_DECODE_ANY, NULL);
		return v ? v : json_string(s);
	}
	return json_string(s);
}

/* @s as a scalar of JSON type @jt; NULL with *rc set (printed) if not */
static json_t *type_scalar(struct typer *t, const char *s, const char *jt,
			   const char *path, int *rc)
{
	json_t *v = scalar_parse(s, jt);
	const char *expects = "a value of JSON type";

	if (v)
		return v;
	if (!strcmp(jt, "int"))
		expects = "an integer (decimal or 0x hex)";
	else if (!strcmp(jt, "number"))
		expects = "a number";
	else if (!strcmp(jt, "boolean"))
		expects = "on/off (or yes/no, true/false)";
	else if (!strcmp(jt, "null"))
		expects = "null";
	*rc = ctl_fail("%s: '%s' expects %s, got '%s'", t->command, path,
		       expects, s);
	return NULL;
}

/* An object given as one value: JSON text, or an error */
static json_t *object_leaf(struct typer *t, const json_t *raw, const char *path,
			   int *rc)
{
	const char *s = json_string_value(raw);

	if (s && s[0] == '{')
		return parse_json_text(t, s, path, rc);
	*rc = ctl_fail("%s: '%s' is an object: give its members as "
		       "%s.MEMBER=VALUE, or JSON text starting with '{'",
		       t->command, path, path);
	return NULL;
}

/* A list index: digits only, no leading zero, below ARGS_MAX_INDEX */
static bool parse_index(const char *k, size_t *out)
{
	size_t v = 0;

	if (!*k || (k[0] == '0' && k[1]))
		return false;
	for (; *k; k++) {
		if (!isdigit((unsigned char)*k))
			return false;
		v = v * 10 + (size_t)(*k - '0');
		if (v >= ARGS_MAX_INDEX)
			return false;
	}
	*out = v;
	return true;
}

/* Are @obj's keys exactly the list indexes 0 .. n-1 */
static bool is_index_object(const json_t *obj)
{
	size_t idx, n = json_object_size(obj);
	const char *k;
	json_t *v;

	if (!n)
		return false;
	json_object_foreach ((json_t *)obj, k, v)
		if (!parse_index(k, &idx) || idx >= n)
			return false;
	return true; /* keys are unique, so all of 0 .. n-1 are there */
}

/* A value whose type is unknown: strings as given; KEY.0=, KEY.1=, ...
 * and a repeated KEY make lists, other members objects */
static json_t *untyped(const json_t *raw)
{
	json_t *out, *v;
	const char *k;
	size_t i, idx;

	if (is_index_object(raw)) {
		out = json_array();
		for (idx = 0; idx < json_object_size(raw); idx++) {
			char key[24];

			snprintf(key, sizeof(key), "%zu", idx);
			json_array_append_new(
			    out, untyped(json_object_get(raw, key)));
		}
		return out;
	}
	if (json_is_object(raw)) {
		out = json_object();
		json_object_foreach ((json_t *)raw, k, v)
			json_object_set_new(out, k, untyped(v));
		return out;
	}
	if (json_is_array(raw)) {
		out = json_array();
		json_array_foreach (raw, i, v)
			json_array_append_new(out, untyped(v));
		return out;
	}
	return json_incref((json_t *)raw);
}

/* The items of a list given as KEY.0=, KEY.1=, ... typed as @elem */
static json_t *type_indexed(struct typer *t, const json_t *raw,
			    const char *elem, const char *path, int *rc)
{
	json_t *out = NULL, **slots, *v;
	const char *k;
	size_t idx, n = json_object_size(raw);
	char *sub;

	/* n keys, unique as numbers, must be exactly 0 .. n-1 */
	slots = calloc(n ? n : 1, sizeof(*slots));
	if (!slots) {
		*rc = ctl_fail("out of memory");
		return NULL;
	}
	json_object_foreach ((json_t *)raw, k, v) {
		if (!parse_index(k, &idx)) {
			*rc = ctl_fail("%s: '%s.%s': list items are numbered "
				       "%s.0, %s.1, ...",
				       t->command, path, k, path, path);
			goto out;
		}
		if (idx >= n || slots[idx]) {
			*rc =
			    ctl_fail("%s: '%s.%s': list items must be numbered "
				     "from 0 without gaps",
				     t->command, path, k);
			goto out;
		}
		sub = path_join(path, k);
		slots[idx] = sub ? type_value(t, v, elem, sub, rc) : NULL;
		free(sub);
		if (!slots[idx])
			goto out;
	}
	out = json_array();
	for (idx = 0; idx < n; idx++) {
		json_array_append_new(out, slots[idx]);
		slots[idx] = NULL;
	}
out:
	for (idx = 0; idx < n; idx++)
		json_decref(slots[idx]);
	free(slots);
	return out;
}

/* A list of @elem from JSON text, one value, a repeated KEY or KEY.N */
static json_t *type_array(struct typer *t, const json_t *raw, const char *elem,
			  const char *path, int *rc)
{
	const char *s = json_string_value(raw);
	json_t *out, *v, *item;
	size_t i;
	char ipath[32], *sub;

	if (s && s[0] == '[')
		return parse_json_text(t, s, path, rc);
	if (json_is_object(raw))
		return type_indexed(t, raw, elem, path, rc);
	if (s) {
		/* one value: a list of one */
		item = type_value(t, raw, elem, path, rc);
		return item ? json_pack("[o]", item) : NULL;
	}
	out = json_array();
	json_array_foreach (raw, i, v) {
		snprintf(ipath, sizeof(ipath), "%zu", i);
		sub = path_join(path, ipath);
		item = sub ? type_value(t, v, elem, sub, rc) : NULL;
		free(sub);
		if (!item) {
			json_decref(out);
			return NULL;
		}
		json_array_append_new(out, item);
	}
	return out;
}

/*
 * Collect the members an object type allows for @raw into @members (an
 * array of member infos): its own, then those of the variant its
 * discriminator picks (variants may themselves be unions).  Return false
 * when the discriminator is missing or names no variant: the member list
 * is incomplete then.
 */
static bool collect_members(struct typer *t, const json_t *info,
			    const json_t *raw, json_t *members, unsigned depth)
{
	const char *tag = ctl_json_str(json_object_get(info, "tag"), NULL);
	const char *value, *vtype = NULL;
	const json_t *variant, *vinfo;
	size_t i;

	json_array_extend(members, json_object_get(info, "members"));
	if (!tag)
		return true;
	value = ctl_json_str(json_object_get(raw, tag), NULL);
	if (!value)
		return false;
	json_array_foreach (json_object_get(info, "variants"), i, variant)
		if (!strcmp(ctl_json_str(json_object_get(variant, "case"), ""),
			    value))
			vtype = ctl_json_str(json_object_get(variant, "type"),
					     NULL);
	vinfo = vtype ? type_info(t, vtype) : NULL;
	if (!vinfo || depth >= ARGS_TYPE_DEPTH)
		return false;
	return collect_members(t, vinfo, raw, members, depth + 1);
}

/* "a, b, c" of @members' names, into @buf */
static void member_names(const json_t *members, char *buf, size_t size)
{
	const json_t *m;
	size_t i, len = 0;

	buf[0] = '\0';
	json_array_foreach (members, i, m) {
		int n = snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
				 ctl_json_str(json_object_get(m, "name"), "?"));

		if (n < 0 || (size_t)n >= size - len) {
			snprintf(buf + size - 5, 5, "...");
			return;
		}
		len += (size_t)n;
	}
}

/* An object of type @info from raw members */
static json_t *type_object(struct typer *t, const json_t *raw,
			   const json_t *info, const char *path, int *rc)
{
	json_t *members, *out, *v, *m, *item;
	const json_t *member;
	const char *k;
	bool complete;
	size_t i;
	char list[ARGS_LIST_MAX];

	if (!json_is_object(raw))
		return object_leaf(t, raw, path, rc);
	members = json_array();
	out = json_object();
	complete = collect_members(t, info, raw, members, 0);
	json_object_foreach ((json_t *)raw, k, v) {
		char *sub = path_join(path, k);

		member = NULL;
		json_array_foreach (members, i, m)
			if (!strcmp(
				ctl_json_str(json_object_get(m, "name"), ""),
				k))
				member = m;
		if (!sub) {
			item = NULL;
			*rc = ctl_fail("out of memory");
		} else if (member) {
			item = type_value(
			    t, v,
			    ctl_json_str(json_object_get(member, "type"),
					 "any"),
			    sub, rc);
		} else if (!complete) {
			/* the server names the missing or bad discriminator */
			item = untyped(v);
		} else {
			member_names(members, list, sizeof(list));
			if (*path)
				*rc = ctl_fail("%s: unknown argument '%s' "
					       "(members of '%s': %s)",
					       t->command, sub, path,
					       *list ? list : "none");
			else if (*list)
				*rc = ctl_fail("%s: unknown argument '%s' "
					       "(arguments: %s)",
					       t->command, sub, list);
			else
				*rc = ctl_fail("%s: unknown argument '%s' (%s "
					       "takes no arguments)",
					       t->command, sub, t->command);
			item = NULL;
		}
		free(sub);
		if (!item) {
			json_decref(out);
			out = NULL;
			break;
		}
		json_object_set_new(out, k, item);
	}
	json_decref(members);
	return out;
}

/* The JSON type a value of @type has: "object", an enum's "string", a
 * builtin's json-type; NULL for anything else */
static const char *json_type_of(struct typer *t, const char *type)
{
	const json_t *info = type_info(t, type);
	const char *meta = ctl_json_str(json_object_get(info, "meta-type"),
					info ? "" : "builtin");

	if (!strcmp(meta, "object"))
		return "object";
	if (!strcmp(meta, "enum"))
		return "string";
	if (!strcmp(meta, "builtin"))
		return builtin_json_type(info, type);
	return NULL;
}

/*
 * An alternate: the first of its types that fits.  Members (or JSON text
 * starting with '{') go to its object type; a plain value to the
 * strictest of its scalar types that parses it (boolean, integer,
 * number, null), else to its string or enum type.
 */
static json_t *type_alternate(struct typer *t, const json_t *raw,
			      const json_t *info, const char *path, int *rc)
{
	static const char *const order[] = {"boolean", "int",	 "number",
					    "null",    "string", "value"};
	const char *s = json_string_value(raw), *type, *jt;
	const json_t *alts = json_object_get(info, "members"), *m;
	json_t *v;
	size_t i;

	if (!s || s[0] == '{') {
		json_array_foreach (alts, i, m) {
			type = ctl_json_str(json_object_get(m, "type"), "");
			jt = json_type_of(t, type);
			if (jt && !strcmp(jt, "object"))
				return type_value(t, raw, type, path, rc);
		}
		if (!s) {
			*rc = ctl_fail("%s: '%s' takes a value, not members",
				       t->command, path);
			return NULL;
		}
	}
	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
		json_array_foreach (alts, i, m) {
			type = ctl_json_str(json_object_get(m, "type"), "");
			jt = json_type_of(t, type);
			if (!jt || strcmp(jt, order[o]))
				continue;
			v = scalar_parse(s, jt);
			if (v)
				return v;
		}
	}
	return json_string(s);
}

/* type_value()'s work, by the meta-type of @type */
static json_t *type_dispatch(struct typer *t, const json_t *raw,
			     const char *type, const char *path, int *rc)
{
	const json_t *info = type_info(t, type);
	const char *meta = ctl_json_str(json_object_get(info, "meta-type"), "");
	const char *jt;
	size_t len = strlen(type);

	if (!strcmp(meta, "object"))
		return type_object(t, raw, info, path, rc);
	if (!strcmp(meta, "array"))
		return type_array(
		    t, raw,
		    ctl_json_str(json_object_get(info, "element-type"), "any"),
		    path, rc);
	if (!info && len > 2 && type[0] == '[' && type[len - 1] == ']') {
		char *elem = strndup(type + 1, len - 2);
		json_t *v = elem ? type_array(t, raw, elem, path, rc) : NULL;

		free(elem);
		return v;
	}
	if (!strcmp(meta, "alternate"))
		return type_alternate(t, raw, info, path, rc);
	jt = !strcmp(meta, "enum") ? "string" : builtin_json_type(info, type);
	if (!jt)
		return untyped(raw); /* a type this client does not know */
	if (!strcmp(jt, "value"))    /* 'any': JSON if it parses */
		return json_is_string(raw)
			   ? scalar_parse(json_string_value(raw), jt)
			   : untyped(raw);
	if (json_is_array(raw)) {
		*rc = ctl_fail("%s: '%s' is given more than once", t->command,
			       path);
		return NULL;
	}
	if (json_is_object(raw)) {
		*rc = ctl_fail("%s: '%s' takes a value, not members",
			       t->command, path);
		return NULL;
	}
	return type_scalar(t, json_string_value(raw), jt, path, rc);
}

/* @raw typed as @type; NULL with *rc set (printed) on error */
static json_t *type_value(struct typer *t, const json_t *raw, const char *type,
			  const char *path, int *rc)
{
	json_t *v;

	if (t->depth >= ARGS_TYPE_DEPTH) {
		*rc = ctl_fail("%s: '%s': the server's schema nests types "
			       "deeper than %d",
			       t->command, path, ARGS_TYPE_DEPTH);
		return NULL;
	}
	t->depth++;
	v = type_dispatch(t, raw, type, path, rc);
	t->depth--;
	return v;
}

int ctl_args_build(const json_t *schema, const char *command,
		   char *const *words, int n, json_t **out)
{
	struct typer t = {.schema = schema, .command = command};
	const json_t *cmd = schema ? json_object_get(schema, command) : NULL;
	const char *arg_type =
	    ctl_json_str(json_object_get(cmd, "arg-type"), NULL);
	json_t *raw = json_object(), *none;
	int rc = 0;

	*out = NULL;
	for (int i = 0; i < n && !rc; i++)
		rc = raw_add(raw, command, words[i]);
	if (rc) {
		json_decref(raw);
		return rc;
	}
	if (!cmd || strcmp(ctl_json_str(json_object_get(cmd, "meta-type"), ""),
			   "command")) {
		/* no schema, or no such command: the server will say */
		*out = untyped(raw);
	} else if (!arg_type) {
		/* a command without arguments */
		none = json_pack("{s[]}", "members");
		*out = type_object(&t, raw, none, "", &rc);
		json_decref(none);
	} else {
		*out = type_value(&t, raw, arg_type, "", &rc);
	}
	json_decref(raw);
	if (!*out && !rc)
		rc = ctl_fail("out of memory");
	return rc;
}

/* ---- paths ---- */

/* Make the string member @key of @obj absolute, from the current
 * directory; 0, or CTL_EXIT_USAGE (printed) */
static int args_absolute_member(json_t *obj, const char *key,
				const char *what)
{
	const char *path = json_string_value(json_object_get(obj, key));
	char cwd[PATH_MAX], *full;

	if (!path || !*path || path[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return ctl_fail("%s: cannot make '%s' absolute: the current "
				"directory: %s",
				what, path, strerror(errno));
	if (asprintf(&full, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "",
		     path) < 0)
		return ctl_fail("out of memory");
	json_object_set_new(obj, key, json_string(full));
	free(full);
	return 0;
}

int ctl_args_absolute(const char *command, json_t *args)
{
	json_t *addr;

	if (!args)
		return 0;
	if (!strcmp(command, "netdev_add") || !strcmp(command, "object-add"))
		return args_absolute_member(args, "file", "file");
	if (!strcmp(command, "chardev-add")) {
		addr = json_object_get(
			json_object_get(json_object_get(args, "backend"),
					"data"),
			"addr");
		return args_absolute_member(json_object_get(addr, "data"),
					    "path", "path");
	}
	return 0;
}
