// SPDX-License-Identifier: MIT
/* schema.c - nethub's QMP schema at run time: argument validation,
 * query-qmp-schema and query-commands
 *
 * ctl/qapi-gen.py compiles the files of ctl/qapi/ into a JSON model,
 * embedded as schema_data_json[] (schema-data.c, generated):
 *
 *   types:	    name -> {"meta": "enum", "values": [...]}
 *			 | {"meta": "object", "members": [{name, type,
 *			    optional?}], "tag"?, "variants"?: {value: type}}
 *			 | {"meta": "alternate", "members": [type, ...]}
 *   commands:	    [{name, arg-type?, ret-type?, boxed?}] in schema order
 *   events:	    [{name, arg-type?}]
 *   introspection: the query-qmp-schema answer, computed by the generator
 *   examples:	    the doc examples (for tests)
 *
 * A type reference is a built-in name ("str", "uint16", ...), "[T]" for a
 * list of T, or a key of "types".  Object members are flat (a base's come
 * first); a union's "variants" cover every value of its tag.
 *
 * Validation walks a value along its type as QEMU's qobject input visitor
 * walks its generated visitors: members in schema order, each checked
 * completely (nested objects included) before the next, and the members
 * nobody asked for reported last; the first problem found is the one
 * reported, in QEMU's words.
 *
 * Owns: the parsed model, loaded once.  Must never: describe a command
 * anywhere but in the schema files, change a value it checks, or use the
 * model before schema_init() has checked its shape.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "schema.h"

extern const char schema_data_json[];

/* Longest type name the model may use (checked when it is loaded) */
#define SCHEMA_NAME_MAX 128

static struct {
	json_t *root;	       /* the whole model */
	json_t *types;	       /* borrowed from root */
	json_t *commands;      /* name -> command, built at load */
	json_t *command_list;  /* the query-commands answer */
	json_t *introspection; /* borrowed from root */
} sch;

/* ---- built-in types ---- */

enum scalar_kind {
	SC_STR,
	SC_INT,	   /* signed, in [min, max] */
	SC_UINT,   /* unsigned, at most max; negatives wrap as in QEMU */
	SC_UINT64, /* any integer; negatives wrap as in QEMU */
	SC_NUMBER,
	SC_BOOL,
	SC_ANY,
	SC_NULL,
};

struct builtin {
	const char *name;
	enum scalar_kind kind;
	int64_t min;
	uint64_t max;
	const char *ctype; /* named in range errors; NULL: no range */
};

static const struct builtin builtins[] = {
    {"str", SC_STR, 0, 0, NULL},
    {"int", SC_INT, INT64_MIN, INT64_MAX, NULL},
    {"int8", SC_INT, INT8_MIN, INT8_MAX, "int8_t"},
    {"int16", SC_INT, INT16_MIN, INT16_MAX, "int16_t"},
    {"int32", SC_INT, INT32_MIN, INT32_MAX, "int32_t"},
    {"int64", SC_INT, INT64_MIN, INT64_MAX, NULL},
    {"uint8", SC_UINT, 0, UINT8_MAX, "uint8_t"},
    {"uint16", SC_UINT, 0, UINT16_MAX, "uint16_t"},
    {"uint32", SC_UINT, 0, UINT32_MAX, "uint32_t"},
    {"uint64", SC_UINT64, 0, UINT64_MAX, NULL},
    {"size", SC_UINT64, 0, UINT64_MAX, NULL},
    {"number", SC_NUMBER, 0, 0, NULL},
    {"bool", SC_BOOL, 0, 0, NULL},
    {"any", SC_ANY, 0, 0, NULL},
    {"null", SC_NULL, 0, 0, NULL},
};

static const struct builtin *builtin_find(const char *name)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (!strcmp(builtins[i].name, name))
			return &builtins[i];
	return NULL;
}

/* ---- paths: how QEMU names the value being checked ---- */

/*
 * One step from the value given to the one being checked, kept on the C
 * stack while the walk descends.  The root's @name is what the caller
 * calls the whole value (NULL for a command's arguments).
 */
struct path {
	const struct path *up;
	const char *name; /* member name; NULL for a list element */
	size_t index;	  /* list element index */
};

static void path_append(const struct path *p, char *buf, size_t size,
			size_t *len)
{
	int n;

	if (!p->up)
		return; /* the root is not part of its members' names */
	path_append(p->up, buf, size, len);
	if (p->name)
		n = snprintf(buf + *len, size - *len, "%s%s", *len ? "." : "",
			     p->name);
	else
		n = snprintf(buf + *len, size - *len, "[%zu]", p->index);
	if (n > 0)
		*len += (size_t)n < size - *len ? (size_t)n : size - *len - 1;
}

/* path_full() - "addr.port", "dnssearch[0].str": QEMU's full name */
static const char *path_full(const struct path *p, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	path_append(p, buf, size, &len);
	if (!len)
		return p->name ? p->name : "<anonymous>";
	return buf;
}

/* path_bare() - the name QEMU uses in enum and range errors: the member's
 * own name, "null" for a list element */
static const char *path_bare(const struct path *p)
{
	return p->name ? p->name : "null";
}

/*
 * The errors that name a value by its full path.  Kept out of the walk's
 * functions so that their buffers are on the stack only when an error is
 * reported, not at every level of a deep value.
 */
static void __attribute__((noinline))
err_type(const struct path *p, const char *expected, struct nh_error **errp)
{
	char buf[NH_ERROR_MSG_MAX];

	nh_error_setg(errp, "Invalid parameter type for '%s', expected: %s",
		      path_full(p, buf, sizeof(buf)), expected);
}

/* "Parameter 'PATH' @what": is missing, is unexpected, expects uint64 */
static void __attribute__((noinline))
err_param(const struct path *p, const char *what, struct nh_error **errp)
{
	char buf[NH_ERROR_MSG_MAX];

	nh_error_setg(errp, "Parameter '%s' %s", path_full(p, buf, sizeof(buf)),
		      what);
}

/* ---- the walk ---- */

static bool check_value(const char *type, const json_t *v, const struct path *p,
			struct nh_error **errp);

static const json_t *type_def(const char *name)
{
	return name ? json_object_get(sch.types, name) : NULL;
}

static const char *type_meta(const json_t *def)
{
	return json_string_value(json_object_get(def, "meta"));
}

static bool check_scalar(const struct builtin *b, const json_t *v,
			 const struct path *p, struct nh_error **errp)
{
	json_int_t i;

	switch (b->kind) {
	case SC_STR:
		if (!json_is_string(v))
			goto bad_type;
		return true;
	case SC_BOOL:
		if (!json_is_boolean(v))
			goto bad_type;
		return true;
	case SC_NULL:
		if (!json_is_null(v))
			goto bad_type;
		return true;
	case SC_NUMBER:
		if (!json_is_number(v))
			goto bad_type;
		return true;
	case SC_ANY:
		return true;
	case SC_INT:
		if (!json_is_integer(v))
			goto bad_type;
		i = json_integer_value(v);
		if (b->ctype && (i < b->min || i > (json_int_t)b->max)) {
			nh_error_setg(errp, "Parameter '%s' expects %s",
				      path_bare(p), b->ctype);
			return false;
		}
		return true;
	case SC_UINT:
	case SC_UINT64:
		/* QEMU's unsigned input takes any integer (a negative one
		 * wraps) and says "expects uint64" for anything else */
		if (!json_is_integer(v)) {
			err_param(p, "expects uint64", errp);
			return false;
		}
		if (b->kind == SC_UINT &&
		    (uint64_t)json_integer_value(v) > b->max) {
			nh_error_setg(errp, "Parameter '%s' expects %s",
				      path_bare(p), b->ctype);
			return false;
		}
		return true;
	}
bad_type:
	err_type(p,
		 b->kind == SC_STR    ? "string"
		 : b->kind == SC_BOOL ? "boolean"
		 : b->kind == SC_NULL ? "null"
		 : b->kind == SC_INT  ? "integer"
				      : "number",
		 errp);
	return false;
}

static bool check_enum(const json_t *def, const json_t *v, const struct path *p,
		       struct nh_error **errp)
{
	const json_t *values = json_object_get(def, "values");
	const char *s = json_string_value(v);
	size_t i;

	if (!s) {
		err_type(p, "string", errp);
		return false;
	}
	for (i = 0; i < json_array_size(values); i++)
		if (!strcmp(json_string_value(json_array_get(values, i)), s))
			return true;
	nh_error_setg(errp, "Parameter '%s' does not accept value '%s'",
		      path_bare(p), s);
	return false;
}

static bool check_list(const char *type, const json_t *v, const struct path *p,
		       struct nh_error **errp)
{
	char elem[SCHEMA_NAME_MAX];
	size_t len = strlen(type);
	size_t i;

	/* "[T]": the model check made sure T fits */
	memcpy(elem, type + 1, len - 2);
	elem[len - 2] = '\0';
	if (!json_is_array(v)) {
		err_type(p, "array", errp);
		return false;
	}
	for (i = 0; i < json_array_size(v); i++) {
		struct path child = {p, NULL, i};

		if (!check_value(elem, json_array_get(v, i), &child, errp))
			return false;
	}
	return true;
}

/* Check the members an object type (or a union's variant) lists */
static bool check_members(const json_t *def, const json_t *v,
			  const struct path *p, struct nh_error **errp)
{
	const json_t *members = json_object_get(def, "members");
	size_t i;

	for (i = 0; i < json_array_size(members); i++) {
		const json_t *m = json_array_get(members, i);
		struct path child = {
		    p, json_string_value(json_object_get(m, "name")), 0};
		const json_t *val = json_object_get(v, child.name);

		if (!val) {
			if (json_is_true(json_object_get(m, "optional")))
				continue;
			err_param(&child, "is missing", errp);
			return false;
		}
		if (!check_value(json_string_value(json_object_get(m, "type")),
				 val, &child, errp))
			return false;
	}
	return true;
}

static bool has_member(const json_t *def, const char *key)
{
	const json_t *members = json_object_get(def, "members");

	for (size_t i = 0; i < json_array_size(members); i++)
		if (!strcmp(json_string_value(json_object_get(
				json_array_get(members, i), "name")),
			    key))
			return true;
	return false;
}

static bool check_object(const json_t *def, const json_t *v,
			 const struct path *p, struct nh_error **errp)
{
	const char *tag = json_string_value(json_object_get(def, "tag"));
	const json_t *variant = NULL;
	const char *key;
	void *it;

	if (!json_is_object(v)) {
		err_type(p, "object", errp);
		return false;
	}
	if (!check_members(def, v, p, errp))
		return false;
	if (tag) {
		/* the tag is a required enum member: checked by now */
		const char *value = json_string_value(json_object_get(v, tag));

		if (value)
			variant = type_def(json_string_value(json_object_get(
			    json_object_get(def, "variants"), value)));
		if (variant && !check_members(variant, v, p, errp))
			return false;
	}
	/* jansson has no const iterator; the walk only reads */
	for (it = json_object_iter((json_t *)v); it;
	     it = json_object_iter_next((json_t *)v, it)) {
		key = json_object_iter_key(it);
		if (!has_member(def, key) &&
		    !(variant && has_member(variant, key))) {
			struct path child = {p, key, 0};

			err_param(&child, "is unexpected", errp);
			return false;
		}
	}
	return true;
}

/* The JSON values a type takes, to choose an alternate's branch by */
enum json_class {
	JC_STRING,
	JC_NUMBER,
	JC_BOOL,
	JC_NULL,
	JC_OBJECT,
	JC_ARRAY,
	JC_OTHER
};

static enum json_class type_class(const char *type)
{
	const struct builtin *b;
	const char *meta;

	if (type[0] == '[')
		return JC_ARRAY;
	b = builtin_find(type);
	if (b) {
		switch (b->kind) {
		case SC_STR:
			return JC_STRING;
		case SC_BOOL:
			return JC_BOOL;
		case SC_NULL:
			return JC_NULL;
		case SC_ANY:
			return JC_OTHER;
		default:
			return JC_NUMBER;
		}
	}
	meta = type_meta(type_def(type));
	if (meta && !strcmp(meta, "enum"))
		return JC_STRING;
	if (meta && !strcmp(meta, "object"))
		return JC_OBJECT;
	return JC_OTHER;
}

static enum json_class value_class(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return JC_STRING;
	case JSON_INTEGER:
	case JSON_REAL:
		return JC_NUMBER;
	case JSON_TRUE:
	case JSON_FALSE:
		return JC_BOOL;
	case JSON_NULL:
		return JC_NULL;
	case JSON_OBJECT:
		return JC_OBJECT;
	case JSON_ARRAY:
		return JC_ARRAY;
	}
	return JC_OTHER;
}

static bool check_alternate(const char *name, const json_t *def,
			    const json_t *v, const struct path *p,
			    struct nh_error **errp)
{
	const json_t *branches = json_object_get(def, "members");
	enum json_class vc = value_class(v);

	for (size_t i = 0; i < json_array_size(branches); i++) {
		const char *b = json_string_value(json_array_get(branches, i));

		if (type_class(b) == vc)
			return check_value(b, v, p, errp);
	}
	nh_error_setg(errp, "Invalid parameter type for '%s', expected: %s",
		      path_bare(p), name);
	return false;
}

static bool check_value(const char *type, const json_t *v, const struct path *p,
			struct nh_error **errp)
{
	const struct builtin *b;
	const json_t *def;
	const char *meta;

	if (type[0] == '[')
		return check_list(type, v, p, errp);
	b = builtin_find(type);
	if (b)
		return check_scalar(b, v, p, errp);
	def = type_def(type);
	meta = type_meta(def);
	if (meta && !strcmp(meta, "enum"))
		return check_enum(def, v, p, errp);
	if (meta && !strcmp(meta, "alternate"))
		return check_alternate(type, def, v, p, errp);
	return check_object(def, v, p, errp);
}

/* ---- loading and checking the model ---- */

static bool model_fail(struct nh_error **errp, const char *what,
		       const char *name)
{
	nh_error_setg(errp, "embedded schema: %s%s%s", what, name ? ": " : "",
		      name ? name : "");
	return false;
}

/* A type reference the walk can follow: a built-in, a known type, or a
 * list of either */
static bool model_ref_ok(const char *ref)
{
	size_t len;

	if (!ref || !ref[0])
		return false;
	len = strlen(ref);
	if (ref[0] == '[') {
		char elem[SCHEMA_NAME_MAX];

		if (len < 3 || len - 2 >= sizeof(elem) || ref[len - 1] != ']' ||
		    ref[1] == '[')
			return false;
		memcpy(elem, ref + 1, len - 2);
		elem[len - 2] = '\0';
		return model_ref_ok(elem);
	}
	return len < SCHEMA_NAME_MAX &&
	       (builtin_find(ref) || json_is_object(type_def(ref)));
}

static bool model_is(const char *ref, const char *meta)
{
	const char *m = ref ? type_meta(type_def(ref)) : NULL;

	return m && !strcmp(m, meta);
}

static bool model_check_members(const json_t *members)
{
	if (!json_is_array(members))
		return false;
	for (size_t i = 0; i < json_array_size(members); i++) {
		const json_t *m = json_array_get(members, i);
		const json_t *opt = json_object_get(m, "optional");

		if (!json_is_string(json_object_get(m, "name")) ||
		    !model_ref_ok(
			json_string_value(json_object_get(m, "type"))) ||
		    (opt && !json_is_boolean(opt)))
			return false;
	}
	return true;
}

static bool model_check_object(const json_t *def)
{
	const json_t *tag = json_object_get(def, "tag");
	const json_t *variants = json_object_get(def, "variants");
	const json_t *members = json_object_get(def, "members");
	const char *tagtype = NULL;
	const json_t *values;

	if (!model_check_members(members))
		return false;
	if (!tag && !variants)
		return true;
	if (!json_is_string(tag) || !json_is_object(variants))
		return false;
	for (size_t i = 0; i < json_array_size(members); i++) {
		const json_t *m = json_array_get(members, i);

		if (json_equal(json_object_get(m, "name"), (json_t *)tag) &&
		    !json_is_true(json_object_get(m, "optional")))
			tagtype = json_string_value(json_object_get(m, "type"));
	}
	if (!model_is(tagtype, "enum"))
		return false;
	/* every tag value has a variant, a struct */
	values = json_object_get(type_def(tagtype), "values");
	if (json_object_size(variants) != json_array_size(values))
		return false;
	for (size_t i = 0; i < json_array_size(values); i++) {
		const char *v = json_string_value(json_array_get(values, i));
		const char *vt =
		    json_string_value(json_object_get(variants, v));

		if (!model_is(vt, "object") ||
		    json_object_get(type_def(vt), "tag"))
			return false;
	}
	return true;
}

static bool model_check_types(struct nh_error **errp)
{
	const char *name;
	json_t *def;

	if (!json_is_object(sch.types))
		return model_fail(errp, "no \"types\" object", NULL);
	json_object_foreach(sch.types, name, def)
	{
		const char *meta = type_meta(def);
		bool ok = false;

		if (strlen(name) >= SCHEMA_NAME_MAX || builtin_find(name) ||
		    name[0] == '[')
			return model_fail(errp, "bad type name", name);
		if (!meta) {
			ok = false;
		} else if (!strcmp(meta, "enum")) {
			const json_t *values = json_object_get(def, "values");

			ok = json_array_size(values) > 0;
			for (size_t i = 0; ok && i < json_array_size(values);
			     i++)
				ok = json_is_string(json_array_get(values, i));
		} else if (!strcmp(meta, "object")) {
			ok = model_check_object(def);
		} else if (!strcmp(meta, "alternate")) {
			const json_t *branches =
			    json_object_get(def, "members");

			ok = json_array_size(branches) > 0;
			for (size_t i = 0; ok && i < json_array_size(branches);
			     i++) {
				const char *b = json_string_value(
				    json_array_get(branches, i));

				ok = model_ref_ok(b) &&
				     !model_is(b, "alternate") &&
				     type_class(b) != JC_OTHER;
			}
		}
		if (!ok)
			return model_fail(errp, "malformed type", name);
	}
	return true;
}

/* Commands and events: named, with an object argument type if any */
static bool model_check_entities(const json_t *list, bool command,
				 struct nh_error **errp)
{
	if (!json_is_array(list))
		return model_fail(errp,
				  command ? "no \"commands\" list"
					  : "no \"events\" list",
				  NULL);
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		const char *name =
		    json_string_value(json_object_get(e, "name"));
		const json_t *arg = json_object_get(e, "arg-type");
		const json_t *ret = json_object_get(e, "ret-type");

		if (!name)
			return model_fail(errp, "unnamed entry", NULL);
		if (arg && !model_is(json_string_value(arg), "object"))
			return model_fail(errp, "bad arg-type", name);
		if (ret && !model_ref_ok(json_string_value(ret)))
			return model_fail(errp, "bad ret-type", name);
		if (!command)
			continue;
		if (json_object_get(sch.commands, name))
			return model_fail(errp, "duplicate command", name);
		if (json_object_set(sch.commands, name, e) ||
		    json_array_append_new(sch.command_list,
					  json_pack("{ss}", "name", name)))
			return model_fail(errp, "out of memory", NULL);
	}
	return true;
}

bool schema_init(struct nh_error **errp)
{
	json_error_t jerr;

	if (sch.root)
		return true;
	sch.root = json_loads(schema_data_json, 0, &jerr);
	if (!sch.root) {
		nh_error_setg(errp, "embedded schema is not JSON: %s (line %d)",
			      jerr.text, jerr.line);
		return false;
	}
	sch.types = json_object_get(sch.root, "types");
	sch.introspection = json_object_get(sch.root, "introspection");
	sch.commands = json_object();
	sch.command_list = json_array();
	if (!sch.commands || !sch.command_list) {
		model_fail(errp, "out of memory", NULL);
		goto fail;
	}
	if (!model_check_types(errp) ||
	    !model_check_entities(json_object_get(sch.root, "commands"), true,
				  errp) ||
	    !model_check_entities(json_object_get(sch.root, "events"), false,
				  errp))
		goto fail;
	if (!json_is_array(sch.introspection)) {
		model_fail(errp, "no \"introspection\" list", NULL);
		goto fail;
	}
	return true;
fail:
	schema_fini();
	return false;
}

void schema_fini(void)
{
	json_decref(sch.commands);
	json_decref(sch.command_list);
	json_decref(sch.root);
	memset(&sch, 0, sizeof(sch));
}

/* Load on first use, so that a caller that forgot schema_init() still
 * gets answers */
static bool schema_loaded(struct nh_error **errp)
{
	return sch.root || schema_init(errp);
}

bool schema_has_command(const char *name)
{
	return name && schema_loaded(NULL) &&
	       json_object_get(sch.commands, name) != NULL;
}

bool schema_check_args(const char *command, const json_t *args,
		       struct nh_error **errp)
{
	struct path root = {NULL, NULL, 0};
	const json_t *cmd;
	const char *argtype;
	json_t *empty = NULL;
	bool ok;

	if (!schema_loaded(errp))
		return false;
	cmd = command ? json_object_get(sch.commands, command) : NULL;
	if (!cmd) {
		nh_error_set(errp, NH_ERR_COMMAND_NOT_FOUND,
			     "The command %s has not been found",
			     command ? command : "(null)");
		return false;
	}
	if (args && !json_is_object(args)) {
		nh_error_setg(errp,
			      "QMP input member 'arguments' must be an object");
		return false;
	}
	argtype = json_string_value(json_object_get(cmd, "arg-type"));
	if (!argtype) {
		/* no arguments: any member is one too many */
		void *it = args ? json_object_iter((json_t *)args) : NULL;

		if (it) {
			nh_error_setg(errp, "Parameter '%s' is unexpected",
				      json_object_iter_key(it));
			return false;
		}
		return true;
	}
	if (!args) {
		args = empty = json_object();
		if (!empty) {
			nh_error_setg(errp, "out of memory");
			return false;
		}
	}
	ok = check_value(argtype, args, &root, errp);
	json_decref(empty);
	return ok;
}

bool schema_check_type(const char *type, const json_t *value, const char *what,
		       struct nh_error **errp)
{
	struct path root = {NULL, what, 0};

	if (!schema_loaded(errp))
		return false;
	if (!type || !model_ref_ok(type)) {
		nh_error_setg(errp, "the schema has no type '%s'",
			      type ? type : "(null)");
		return false;
	}
	if (!value) {
		nh_error_setg(errp, "Parameter '%s' is missing",
			      what ? what : "<anonymous>");
		return false;
	}
	return check_value(type, value, &root, errp);
}

json_t *schema_introspect(void)
{
	if (!schema_loaded(NULL))
		return json_array();
	return json_deep_copy(sch.introspection);
}

json_t *schema_command_list(void)
{
	if (!schema_loaded(NULL))
		return json_array();
	return json_deep_copy(sch.command_list);
}
