// SPDX-License-Identifier: MIT
/* test_schema.c - the schema at run time: QEMU's argument errors (every
 * wording, member paths, ranges, unions), every netdev type with every
 * option, the query-qmp-schema and query-commands answers, the doc
 * examples, and that the command table and the schema list the same
 * commands; driven by tables
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp.h"
#include "schema.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

extern const char schema_data_json[];

/* parse() - JSON text of a table; a broken table is a failed check */
static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j;

	if (!text)
		return NULL;
	j = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!j) {
		CHECK(j != NULL);
		printf("#   test table JSON: %s: %s\n", text, jerr.text);
	}
	return j;
}

/* check_outcome() - @ok/@err match @want (NULL: success, else the exact
 * GenericError text); frees @err */
static void check_outcome(bool ok, struct nh_error *err, const char *want,
			  const char *what, const char *input)
{
	if (!want) {
		if (!ok) {
			tap_cur_failed = 1;
			printf("# %s %s: unexpected error '%s'\n", what, input,
			       err ? err->msg : "(none set)");
		}
	} else if (ok) {
		tap_cur_failed = 1;
		printf("# %s %s: accepted, expected '%s'\n", what, input, want);
	} else if (!err || strcmp(err->msg, want) ||
		   err->cls != NH_ERR_GENERIC) {
		tap_cur_failed = 1;
		printf("# %s %s: got '%s' (class %d), expected '%s'\n", what,
		       input, err ? err->msg : "(none set)",
		       err ? (int)err->cls : -1, want);
	}
	nh_error_free(err);
}

struct args_case {
	const char *command;
	const char *args; /* JSON, or NULL for no arguments */
	const char *want; /* NULL: valid */
};

static void run_args_cases(const struct args_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *args = parse(c[i].args);
		struct nh_error *err = NULL;
		bool ok = schema_check_args(c[i].command, args, &err);

		check_outcome(ok, err, c[i].want, c[i].command,
			      c[i].args ? c[i].args : "(none)");
		json_decref(args);
	}
}

struct type_case {
	const char *type;
	const char *value; /* JSON */
	const char *want;  /* NULL: valid */
};

static void run_type_cases(const struct type_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = parse(c[i].value);
		struct nh_error *err = NULL;
		bool ok = schema_check_type(c[i].type, v, "v", &err);

		check_outcome(ok, err, c[i].want, c[i].type, c[i].value);
		json_decref(v);
	}
}

/* ---- loading ---- */

static void test_schema_loads_once_and_knows_its_commands(void)
{
	struct nh_error *err = NULL;

	CHECK(schema_init(&err));
	CHECK(err == NULL);
	CHECK(schema_init(&err)); /* again: a no-op */
	CHECK(schema_has_command("netdev_add"));
	CHECK(schema_has_command("query-qmp-schema"));
	CHECK(!schema_has_command("netdev-add"));
	CHECK(!schema_has_command("device_add"));
	CHECK(!schema_has_command(""));
	CHECK(!schema_has_command(NULL));
	nh_error_free(err);
}

/* ---- argument errors ---- */

static void test_schema_missing_and_unexpected_members(void)
{
	static const struct args_case cases[] = {
	    {"set_link", "{}", "Parameter 'name' is missing"},
	    {"set_link", NULL, "Parameter 'name' is missing"},
	    {"set_link", "{\"name\": \"a\"}", "Parameter 'up' is missing"},
	    {"set_link", "{\"up\": true}", "Parameter 'name' is missing"},
	    {"set_link", "{\"name\": \"a\", \"up\": true}", NULL},
	    {"set_link", "{\"name\": \"a\", \"up\": true, \"x\": 1}",
	     "Parameter 'x' is unexpected"},
	    /* missing is found before unexpected, as QEMU checks the
	     * members it knows first */
	    {"set_link", "{\"x\": 1, \"name\": \"a\"}",
	     "Parameter 'up' is missing"},
	    {"set_link", "{\"x\": 1, \"name\": 5, \"up\": true}",
	     "Invalid parameter type for 'name', expected: string"},
	    /* commands without arguments */
	    {"quit", NULL, NULL},
	    {"quit", "{}", NULL},
	    {"quit", "{\"force\": true}", "Parameter 'force' is unexpected"},
	    {"query-hubs", "{\"hubid\": 0}", "Parameter 'hubid' is unexpected"},
	    /* optional members */
	    {"query-rx-filter", NULL, NULL},
	    {"query-rx-filter", "{\"name\": \"nic0\"}", NULL},
	    {"query-fdb", "{}", NULL},
	    {"query-fdb", "{\"hubid\": -3}", NULL},
	    {"fdb-flush", "{\"hubid\": 1, \"port\": \"vms.1\"}", NULL},
	    {"fdb-flush", "{\"hub\": 1}", "Parameter 'hub' is unexpected"},
	    {"qmp_capabilities", NULL, NULL},
	    {"getfd", "{}", "Parameter 'fdname' is missing"},
	    {"closefd", "{\"fdname\": \"a\", \"fd\": 3}",
	     "Parameter 'fd' is unexpected"},
	    {"netdev_del", "{\"id\": \"vms\"}", NULL},
	    {"netdev_del", "{\"name\": \"vms\"}", "Parameter 'id' is missing"},
	    /* boxed: the arguments are the AnnounceParameters object */
	    {"announce-self",
	     "{\"initial\": 50, \"max\": 550, \"rounds\": 5, \"step\": 100}",
	     NULL},
	    {"announce-self", "{\"initial\": 1, \"max\": 2, \"rounds\": 3}",
	     "Parameter 'step' is missing"},
	    {"announce-self",
	     "{\"initial\": 1, \"max\": 2, \"rounds\": 3, \"step\": 4, "
	     "\"interfaces\": [\"a\", 5]}",
	     "Invalid parameter type for 'interfaces[1]', expected: "
	     "string"},
	    {"announce-self",
	     "{\"initial\": 1, \"max\": 2, \"rounds\": 3, \"step\": 4, "
	     "\"id\": \"x\", \"interval\": 1}",
	     "Parameter 'interval' is unexpected"},
	};

	run_args_cases(cases, ARRAY_SIZE(cases));
}

static void test_schema_arguments_must_be_an_object(void)
{
	static const struct args_case cases[] = {
	    {"quit", "[]", "QMP input member 'arguments' must be an object"},
	    {"set_link", "\"name\"",
	     "QMP input member 'arguments' must be an object"},
	    {"netdev_add", "5",
	     "QMP input member 'arguments' must be an object"},
	};
	struct nh_error *err = NULL;

	run_args_cases(cases, ARRAY_SIZE(cases));
	/* not a command of the schema */
	CHECK(!schema_check_args("device_add", NULL, &err));
	CHECK(err && err->cls == NH_ERR_COMMAND_NOT_FOUND &&
	      !strcmp(err->msg, "The command device_add has not been found"));
	nh_error_free(err);
}

static void test_schema_wrong_json_type_for_each_kind(void)
{
	static const struct args_case cases[] = {
	    /* str */
	    {"netdev_del", "{\"id\": 5}",
	     "Invalid parameter type for 'id', expected: string"},
	    {"netdev_del", "{\"id\": 1.5}",
	     "Invalid parameter type for 'id', expected: string"},
	    {"netdev_del", "{\"id\": true}",
	     "Invalid parameter type for 'id', expected: string"},
	    {"netdev_del", "{\"id\": null}",
	     "Invalid parameter type for 'id', expected: string"},
	    {"netdev_del", "{\"id\": {}}",
	     "Invalid parameter type for 'id', expected: string"},
	    {"netdev_del", "{\"id\": []}",
	     "Invalid parameter type for 'id', expected: string"},
	    /* bool */
	    {"set_link", "{\"name\": \"a\", \"up\": \"on\"}",
	     "Invalid parameter type for 'up', expected: boolean"},
	    {"set_link", "{\"name\": \"a\", \"up\": 1}",
	     "Invalid parameter type for 'up', expected: boolean"},
	    {"set_link", "{\"name\": \"a\", \"up\": null}",
	     "Invalid parameter type for 'up', expected: boolean"},
	    /* int */
	    {"announce-self",
	     "{\"initial\": \"50\", \"max\": 1, \"rounds\": 1, \"step\": 1}",
	     "Invalid parameter type for 'initial', expected: integer"},
	    {"announce-self",
	     "{\"initial\": 1.5, \"max\": 1, \"rounds\": 1, \"step\": 1}",
	     "Invalid parameter type for 'initial', expected: integer"},
	    {"announce-self",
	     "{\"initial\": 1, \"max\": false, \"rounds\": 1, \"step\": 1}",
	     "Invalid parameter type for 'max', expected: integer"},
	    {"announce-self",
	     "{\"initial\": 1, \"max\": 1, \"rounds\": [], \"step\": 1}",
	     "Invalid parameter type for 'rounds', expected: integer"},
	    /* object (a list of String) and array */
	    {"netdev_add",
	     "{\"id\": \"u\", \"type\": \"user\", \"dnssearch\": [5]}",
	     "Invalid parameter type for 'dnssearch[0]', expected: "
	     "object"},
	    {"netdev_add",
	     "{\"id\": \"u\", \"type\": \"user\", \"dnssearch\": "
	     "\"example.org\"}",
	     "Invalid parameter type for 'dnssearch', expected: array"},
	    {"netdev_add",
	     "{\"id\": \"u\", \"type\": \"user\", \"hostfwd\": {}}",
	     "Invalid parameter type for 'hostfwd', expected: array"},
	    {"qmp_capabilities", "{\"enable\": \"oob\"}",
	     "Invalid parameter type for 'enable', expected: array"},
	    /* the discriminator is an enum: a string first */
	    {"netdev_add", "{\"id\": \"n\", \"type\": 5}",
	     "Invalid parameter type for 'type', expected: string"},
	};
	static const struct type_case types[] = {
	    {"number", "1", NULL},
	    {"number", "-1.5e3", NULL},
	    {"number", "\"1\"",
	     "Invalid parameter type for 'v', expected: number"},
	    {"number", "null",
	     "Invalid parameter type for 'v', expected: number"},
	    {"null", "null", NULL},
	    {"null", "0", "Invalid parameter type for 'v', expected: null"},
	    {"null", "\"\"", "Invalid parameter type for 'v', expected: null"},
	    {"any", "null", NULL},
	    {"any", "{\"a\": [1, {}]}", NULL},
	    {"bool", "false", NULL},
	    {"str", "\"\"", NULL},
	    {"[str]", "[]", NULL},
	    {"[str]", "[\"a\", \"b\"]", NULL},
	    {"[str]", "{}", "Invalid parameter type for 'v', expected: array"},
	    {"[str]", "[\"a\", null]",
	     "Invalid parameter type for '[1]', expected: string"},
	    {"String", "[]",
	     "Invalid parameter type for 'v', expected: object"},
	};

	run_args_cases(cases, ARRAY_SIZE(cases));
	run_type_cases(types, ARRAY_SIZE(types));
}

static void test_schema_enum_values(void)
{
	static const struct args_case cases[] = {
	    {"netdev_add", "{\"id\": \"n\", \"type\": \"bogus\"}",
	     "Parameter 'type' does not accept value 'bogus'"},
	    {"netdev_add", "{\"id\": \"n\", \"type\": \"\"}",
	     "Parameter 'type' does not accept value ''"},
	    {"netdev_add", "{\"id\": \"n\", \"type\": \"Socket\"}",
	     "Parameter 'type' does not accept value 'Socket'"},
	    /* a list element has no name of its own: QEMU says 'null' */
	    {"qmp_capabilities", "{\"enable\": [\"nope\"]}",
	     "Parameter 'null' does not accept value 'nope'"},
	    {"qmp_capabilities", "{\"enable\": [\"oob\", 1]}",
	     "Invalid parameter type for 'enable[1]', expected: string"},
	    {"qmp_capabilities", "{\"enable\": [\"oob\"]}", NULL},
	    {"qmp_capabilities", "{\"enable\": []}", NULL},
	};
	static const struct type_case types[] = {
	    /* an enum inside an object: the member's own name */
	    {"q_obj_NETDEV_STREAM_CONNECTED-arg",
	     "{\"netdev-id\": \"vms.1\", \"addr\": {\"type\": \"tcp\"}}",
	     "Parameter 'type' does not accept value 'tcp'"},
	    {"RxState", "\"all\"", NULL},
	    {"RxState", "\"some\"",
	     "Parameter 'v' does not accept value "
	     "'some'"},
	};

	run_args_cases(cases, ARRAY_SIZE(cases));
	run_type_cases(types, ARRAY_SIZE(types));
}

static void test_schema_integer_ranges_per_type(void)
{
	static const struct type_case types[] = {
	    {"int8", "127", NULL},
	    {"int8", "-128", NULL},
	    {"int8", "128", "Parameter 'v' expects int8_t"},
	    {"int8", "-129", "Parameter 'v' expects int8_t"},
	    {"int16", "32767", NULL},
	    {"int16", "-32768", NULL},
	    {"int16", "32768", "Parameter 'v' expects int16_t"},
	    {"int16", "-32769", "Parameter 'v' expects int16_t"},
	    {"int32", "2147483647", NULL},
	    {"int32", "-2147483648", NULL},
	    {"int32", "2147483648", "Parameter 'v' expects int32_t"},
	    {"int32", "-2147483649", "Parameter 'v' expects int32_t"},
	    {"int64", "9223372036854775807", NULL},
	    {"int64", "-9223372036854775808", NULL},
	    {"int", "-9223372036854775808", NULL},
	    {"int64", "\"1\"",
	     "Invalid parameter type for 'v', expected: integer"},
	    {"int32", "1.0",
	     "Invalid parameter type for 'v', expected: integer"},
	    {"uint8", "0", NULL},
	    {"uint8", "255", NULL},
	    {"uint8", "256", "Parameter 'v' expects uint8_t"},
	    {"uint8", "-1", "Parameter 'v' expects uint8_t"},
	    {"uint16", "65535", NULL},
	    {"uint16", "65536", "Parameter 'v' expects uint16_t"},
	    {"uint16", "-1", "Parameter 'v' expects uint16_t"},
	    {"uint32", "4294967295", NULL},
	    {"uint32", "4294967296", "Parameter 'v' expects uint32_t"},
	    {"uint32", "-1", "Parameter 'v' expects uint32_t"},
	    /* unsigned types say "expects uint64" for a non-integer */
	    {"uint16", "\"1\"", "Parameter 'v' expects uint64"},
	    {"uint32", "1.5", "Parameter 'v' expects uint64"},
	    {"uint64", "9223372036854775807", NULL},
	    {"uint64", "-1", NULL}, /* QEMU takes it, modulo 2^64 */
	    {"uint64", "true", "Parameter 'v' expects uint64"},
	    {"uint64", "1.0", "Parameter 'v' expects uint64"},
	    {"size", "0", NULL},
	    {"size", "-5", NULL},
	    {"size", "\"1M\"", "Parameter 'v' expects uint64"},
	    /* list elements: the range error names them 'null', the type
	     * error by their path */
	    {"[uint8]", "[1, 300]", "Parameter 'null' expects uint8_t"},
	    {"[int]", "[1, \"x\"]",
	     "Invalid parameter type for '[1]', expected: integer"},
	    {"[uint16]", "[[]]", "Parameter '[0]' expects uint64"},
	    /* nested: the range error names the member alone, the type
	     * error the whole path */
	    {"HubFdb",
	     "{\"hubid\": 0, \"entries\": [{\"mac\": \"m\", \"vlan\": "
	     "70000, \"port\": \"p\", \"age\": 0, \"static\": false}]}",
	     "Parameter 'vlan' expects uint16_t"},
	    {"HubFdb",
	     "{\"hubid\": 0, \"entries\": [{\"mac\": \"m\", \"vlan\": "
	     "\"1\", \"port\": \"p\", \"age\": 0, \"static\": false}]}",
	     "Parameter 'entries[0].vlan' expects uint64"},
	    {"HubFdb", "{\"hubid\": 4294967296, \"entries\": []}",
	     "Parameter 'hubid' expects int32_t"},
	};
	static const struct args_case cases[] = {
	    {"netdev_add",
	     "{\"id\": \"v\", \"type\": \"vde\", \"port\": 65536}",
	     "Parameter 'port' expects uint16_t"},
	    {"netdev_add", "{\"id\": \"v\", \"type\": \"vde\", \"mode\": -1}",
	     "Parameter 'mode' expects uint16_t"},
	    {"netdev_add",
	     "{\"id\": \"h\", \"type\": \"hubport\", \"hubid\": "
	     "2147483648}",
	     "Parameter 'hubid' expects int32_t"},
	    {"netdev_add",
	     "{\"id\": \"h\", \"type\": \"hubport\", \"hubid\": "
	     "-2147483648}",
	     NULL},
	    {"netdev_add", "{\"id\": \"t\", \"type\": \"tap\", \"queues\": -1}",
	     "Parameter 'queues' expects uint32_t"},
	    {"netdev_add",
	     "{\"id\": \"t\", \"type\": \"tap\", \"sndbuf\": \"1M\"}",
	     "Parameter 'sndbuf' expects uint64"},
	    {"netdev_add",
	     "{\"id\": \"l\", \"type\": \"l2tpv3\", \"src\": \"a\", "
	     "\"dst\": \"b\", \"txsession\": 1, \"txcookie\": 1.5}",
	     "Parameter 'txcookie' expects uint64"},
	    {"netdev_add",
	     "{\"id\": \"l\", \"type\": \"l2tpv3\", \"src\": \"a\", "
	     "\"dst\": \"b\", \"txsession\": 4294967296}",
	     "Parameter 'txsession' expects uint32_t"},
	    {"netdev_add",
	     "{\"id\": \"s\", \"type\": \"socket\", \"connect\": \"h:1\", "
	     "\"reconnect\": 4294967296}",
	     "Parameter 'reconnect' expects uint32_t"},
	    {"query-fdb", "{\"hubid\": 2147483648}",
	     "Parameter 'hubid' expects int32_t"},
	    {"query-fdb", "{\"hubid\": \"0\"}",
	     "Invalid parameter type for 'hubid', expected: integer"},
	};

	run_type_cases(types, ARRAY_SIZE(types));
	run_args_cases(cases, ARRAY_SIZE(cases));
}

static void test_schema_union_discriminator_and_variants(void)
{
	static const struct args_case cases[] = {
	    /* the base's members in order: id, then the discriminator */
	    {"netdev_add", "{}", "Parameter 'id' is missing"},
	    {"netdev_add", NULL, "Parameter 'id' is missing"},
	    {"netdev_add", "{\"type\": \"socket\"}",
	     "Parameter 'id' is missing"},
	    {"netdev_add", "{\"id\": \"n\"}", "Parameter 'type' is missing"},
	    {"netdev_add", "{\"id\": \"n\", \"listen\": \"x\"}",
	     "Parameter 'type' is missing"},
	    /* a member of another variant */
	    {"netdev_add",
	     "{\"id\": \"n\", \"type\": \"tap\", \"listen\": \"x\"}",
	     "Parameter 'listen' is unexpected"},
	    {"netdev_add",
	     "{\"id\": \"n\", \"type\": \"socket\", \"listen\": \"x\", "
	     "\"hubid\": 1}",
	     "Parameter 'hubid' is unexpected"},
	    {"netdev_add", "{\"id\": \"n\", \"type\": \"none\", \"fd\": \"3\"}",
	     "Parameter 'fd' is unexpected"},
	    {"netdev_add", "{\"id\": \"n\", \"type\": \"none\"}", NULL},
	    /* the variant's own required members */
	    {"netdev_add",
	     "{\"id\": \"n\", \"type\": \"l2tpv3\", \"src\": \"a\", "
	     "\"dst\": \"b\"}",
	     "Parameter 'txsession' is missing"},
	    {"netdev_add", "{\"id\": \"n\", \"type\": \"hubport\"}",
	     "Parameter 'hubid' is missing"},
	    {"netdev_add", "{\"id\": \"n\", \"type\": \"netmap\"}",
	     "Parameter 'ifname' is missing"},
	    {"netdev_add", "{\"id\": \"n\", \"type\": \"vhost-user\"}",
	     "Parameter 'chardev' is missing"},
	    /* the schema does not judge the id's spelling: netdev_add
	     * does ("Parameter 'id' expects an identifier") */
	    {"netdev_add", "{\"id\": \"1 bad\", \"type\": \"none\"}", NULL},
	};
	static const struct type_case types[] = {
	    {"SocketAddress", "{\"type\": \"unix\", \"path\": \"/s\"}", NULL},
	    {"SocketAddress", "{\"type\": \"fd\", \"str\": \"peer0\"}", NULL},
	    {"SocketAddress", "{\"path\": \"/s\"}",
	     "Parameter 'type' is missing"},
	    {"SocketAddress",
	     "{\"type\": \"unix\", \"path\": \"/s\", \"cid\": \"3\"}",
	     "Parameter 'cid' is unexpected"},
	    {"SocketAddress", "{\"type\": \"vsock\", \"cid\": \"3\"}",
	     "Parameter 'port' is missing"},
	    /* a union with a named base and a union in a union's member:
	     * SchemaInfo */
	    {"SchemaInfo",
	     "{\"name\": \"x\", \"meta-type\": \"array\", "
	     "\"element-type\": \"str\"}",
	     NULL},
	    {"SchemaInfo",
	     "{\"name\": \"x\", \"meta-type\": \"array\", "
	     "\"json-type\": \"int\"}",
	     "Parameter 'element-type' is missing"},
	};

	run_args_cases(cases, ARRAY_SIZE(cases));
	run_type_cases(types, ARRAY_SIZE(types));
}

static void test_schema_nested_member_paths(void)
{
	static const struct type_case types[] = {
	    {"q_obj_NETDEV_STREAM_CONNECTED-arg",
	     "{\"netdev-id\": \"vms.1\", \"addr\": {\"type\": \"inet\", "
	     "\"host\": \"127.0.0.1\", \"port\": \"4000\"}}",
	     NULL},
	    {"q_obj_NETDEV_STREAM_CONNECTED-arg",
	     "{\"netdev-id\": \"vms.1\", \"addr\": {\"type\": \"inet\", "
	     "\"host\": \"127.0.0.1\", \"port\": 4000}}",
	     "Invalid parameter type for 'addr.port', expected: string"},
	    {"q_obj_NETDEV_STREAM_CONNECTED-arg",
	     "{\"netdev-id\": \"vms.1\", \"addr\": {\"host\": \"h\", "
	     "\"port\": \"1\"}}",
	     "Parameter 'addr.type' is missing"},
	    {"q_obj_NETDEV_STREAM_CONNECTED-arg",
	     "{\"netdev-id\": \"vms.1\", \"addr\": {\"type\": \"inet\", "
	     "\"host\": \"h\", \"port\": \"1\", \"path\": \"/s\"}}",
	     "Parameter 'addr.path' is unexpected"},
	    {"q_obj_NETDEV_STREAM_CONNECTED-arg",
	     "{\"netdev-id\": \"vms.1\", \"addr\": {\"type\": \"inet\", "
	     "\"host\": \"h\", \"port\": \"1\", \"to\": 70000}}",
	     "Parameter 'to' expects uint16_t"},
	    {"q_obj_NETDEV_STREAM_CONNECTED-arg",
	     "{\"netdev-id\": \"vms.1\", \"addr\": \"127.0.0.1:4000\"}",
	     "Invalid parameter type for 'addr', expected: object"},
	    {"q_obj_NETDEV_STREAM_CONNECTED-arg", "{\"netdev-id\": \"x\"}",
	     "Parameter 'addr' is missing"},
	    {"VersionInfo",
	     "{\"qemu\": {\"major\": \"0\", \"minor\": 1, \"micro\": 0}, "
	     "\"package\": \"p\"}",
	     "Invalid parameter type for 'qemu.major', expected: integer"},
	    {"VersionInfo",
	     "{\"qemu\": {\"major\": 0, \"minor\": 1}, \"package\": \"p\"}",
	     "Parameter 'qemu.micro' is missing"},
	    /* a nested object is checked whole before the next member */
	    {"VersionInfo",
	     "{\"qemu\": {\"major\": 0, \"minor\": 1, \"micro\": 0, "
	     "\"nano\": 1}}",
	     "Parameter 'qemu.nano' is unexpected"},
	    {"VersionInfo",
	     "{\"qemu\": {\"major\": 0, \"minor\": 1, \"micro\": 0}, "
	     "\"package\": \"p\", \"extra\": 1}",
	     "Parameter 'extra' is unexpected"},
	    {"[CommandInfo]", "[{\"name\": \"a\"}, {\"name\": 1}]",
	     "Invalid parameter type for '[1].name', expected: string"},
	    {"[CommandInfo]", "[{\"name\": \"a\"}, {}]",
	     "Parameter '[1].name' is missing"},
	};
	static const struct args_case cases[] = {
	    {"netdev_add",
	     "{\"id\": \"u\", \"type\": \"user\", \"dnssearch\": "
	     "[{\"str\": \"a\"}, {\"str\": 5}]}",
	     "Invalid parameter type for 'dnssearch[1].str', expected: "
	     "string"},
	    {"netdev_add",
	     "{\"id\": \"u\", \"type\": \"user\", \"hostfwd\": "
	     "[{\"str\": \"a\"}, {}]}",
	     "Parameter 'hostfwd[1].str' is missing"},
	    {"netdev_add",
	     "{\"id\": \"u\", \"type\": \"user\", \"guestfwd\": "
	     "[{\"str\": \"a\", \"x\": 1}]}",
	     "Parameter 'guestfwd[0].x' is unexpected"},
	};
	json_t *v;
	struct nh_error *err = NULL;

	run_type_cases(types, ARRAY_SIZE(types));
	run_args_cases(cases, ARRAY_SIZE(cases));

	/* a deep path through lists and objects: NetdevInfo */
	v = parse("{\"id\": \"vms\", \"type\": \"socket\", \"hub\": 0, "
		  "\"link\": true, \"options\": {}, \"info\": {}, \"ports\": "
		  "[{\"name\": \"vms.1\", \"link\": true, \"mtu\": 1500, "
		  "\"stats\": {\"rx-frames\": 0, \"rx-bytes\": 0, "
		  "\"rx-forwarded\": 0, \"tx-frames\": 0, \"tx-bytes\": 0, "
		  "\"tx-gso-frames\": 0, \"tx-gso-segments\": 0, "
		  "\"tx-stalls\": 0, "
		  "\"rx-drops\": {\"link-down\": \"0\"}}}]}");
	CHECK(!schema_check_type("NetdevInfo", v, "netdev", &err));
	CHECK(err && !strcmp(err->msg,
			     "Invalid parameter type for "
			     "'ports[0].stats.rx-drops.link-down', expected: "
			     "integer"));
	nh_error_free(err);
	json_decref(v);
}

static void test_schema_check_type_names_the_value(void)
{
	json_t *v = parse("[1]");
	struct nh_error *err = NULL;

	/* the value as a whole is named by @what, or as QEMU does */
	CHECK(!schema_check_type("Netdev", v, "netdev", &err));
	CHECK(err && !strcmp(err->msg, "Invalid parameter type for 'netdev', "
				       "expected: object"));
	nh_error_free(err);
	err = NULL;
	CHECK(!schema_check_type("Netdev", v, NULL, &err));
	CHECK(err && !strcmp(err->msg, "Invalid parameter type for "
				       "'<anonymous>', expected: object"));
	nh_error_free(err);
	err = NULL;
	CHECK(!schema_check_type("Netdev", NULL, "netdev", &err));
	CHECK(err && !strcmp(err->msg, "Parameter 'netdev' is missing"));
	nh_error_free(err);
	json_decref(v);

	/* types the schema does not have */
	v = json_string("x");
	for (size_t i = 0; i < 6; i++) {
		static const char *const bad[] = {"Nope",    "",       "[str",
						  "[[str]]", "[Nope]", "[]"};

		err = NULL;
		CHECK(!schema_check_type(bad[i], v, "v", &err));
		CHECK(err && strstr(err->msg, "the schema has no type"));
		nh_error_free(err);
	}
	err = NULL;
	CHECK(!schema_check_type(NULL, v, "v", &err));
	nh_error_free(err);
	/* and a NULL errp is fine */
	CHECK(!schema_check_type("bool", v, "v", NULL));
	CHECK(!schema_check_args("set_link", NULL, NULL));
	json_decref(v);
}

/* ---- every netdev type ---- */

/* One netdev_add body per type with every option of that type set */
static const char *const full_netdevs[] = {
    "{\"id\": \"n0\", \"type\": \"none\"}",
    "{\"id\": \"n1\", \"type\": \"nic\", \"netdev\": \"vms\", "
    "\"macaddr\": \"52:54:00:12:34:56\", \"model\": \"virtio\", "
    "\"addr\": \"0x5\", \"vectors\": 4}",
    "{\"id\": \"n2\", \"type\": \"user\", \"hostname\": \"g\", "
    "\"restrict\": false, \"ipv4\": true, \"ipv6\": true, "
    "\"ip\": \"10.0.2.0/24\", \"net\": \"10.0.2.0/24\", "
    "\"host\": \"10.0.2.2\", \"tftp\": \"/srv\", \"bootfile\": \"pxe\", "
    "\"dhcpstart\": \"10.0.2.15\", \"dns\": \"10.0.2.3\", "
    "\"dnssearch\": [{\"str\": \"example.org\"}], "
    "\"domainname\": \"example.org\", \"ipv6-prefix\": \"fec0::\", "
    "\"ipv6-prefixlen\": 64, \"ipv6-host\": \"fec0::2\", "
    "\"ipv6-dns\": \"fec0::3\", \"smb\": \"/srv/smb\", "
    "\"smbserver\": \"10.0.2.4\", "
    "\"hostfwd\": [{\"str\": \"tcp::2222-:22\"}], "
    "\"guestfwd\": [{\"str\": \"tcp:10.0.2.100:80-cmd:true\"}], "
    "\"tftp-server-name\": \"tftp\"}",
    "{\"id\": \"n3\", \"type\": \"tap\", \"ifname\": \"tap0\", "
    "\"fd\": \"tapfd\", \"fds\": \"a:b\", \"script\": \"no\", "
    "\"downscript\": \"no\", \"br\": \"br0\", \"helper\": \"/h\", "
    "\"sndbuf\": 1048576, \"vnet_hdr\": true, \"vhost\": false, "
    "\"vhostfd\": \"v\", \"vhostfds\": \"v:w\", \"vhostforce\": false, "
    "\"queues\": 2, \"poll-us\": 50}",
    "{\"id\": \"n4\", \"type\": \"l2tpv3\", \"src\": \"10.0.0.1\", "
    "\"dst\": \"10.0.0.2\", \"srcport\": \"1701\", \"dstport\": \"1701\", "
    "\"ipv6\": false, \"udp\": true, \"cookie64\": true, "
    "\"counter\": true, \"pincounter\": false, "
    "\"txcookie\": 18446744073709551, \"rxcookie\": 4660, "
    "\"txsession\": 4294967295, \"rxsession\": 7, \"offset\": 16}",
    "{\"id\": \"n5\", \"type\": \"socket\", \"fd\": \"sock0\", "
    "\"listen\": \"127.0.0.1:5555\", \"connect\": \"127.0.0.1:5556\", "
    "\"mcast\": \"230.0.0.1:1234\", \"localaddr\": \"127.0.0.1:5557\", "
    "\"udp\": \"127.0.0.1:5558\", \"reconnect\": 5, "
    "\"udp-any-source\": true}",
    "{\"id\": \"n6\", \"type\": \"vde\", \"sock\": \"/tmp/vde\", "
    "\"port\": 65535, \"group\": \"users\", \"mode\": 432, "
    "\"vdeserver\": \"/tmp/vdesw\"}",
    "{\"id\": \"n7\", \"type\": \"bridge\", \"br\": \"br0\", "
    "\"helper\": \"/usr/lib/qemu/qemu-bridge-helper\"}",
    "{\"id\": \"n8\", \"type\": \"hubport\", \"hubid\": 3, "
    "\"netdev\": \"vms\"}",
    "{\"id\": \"n9\", \"type\": \"netmap\", \"ifname\": \"vale0:1\", "
    "\"devname\": \"/dev/netmap\"}",
    "{\"id\": \"n10\", \"type\": \"vhost-user\", \"chardev\": \"c0\", "
    "\"vhostforce\": true, \"queues\": 2, \"failover\": true, "
    "\"poll-us\": 50}",
    "{\"id\": \"n11\", \"type\": \"vhost-vdpa\", "
    "\"vhostdev\": \"/dev/vhost-vdpa-0\", \"queues\": 1}",
    "{\"id\": \"n12\", \"type\": \"pcap\", \"ifname\": \"eth0\", "
    "\"promisc\": false, \"file\": \"in.pcap\", \"rate\": 1000, "
    "\"loop\": true, \"filter\": \"udp\"}",
    "{\"id\": \"n13\", \"type\": \"stream\", "
    "\"addr\": {\"type\": \"unix\", \"path\": \"/tmp/s\"}, "
    "\"server\": true, \"reconnect\": 1, \"mode\": 432}",
    "{\"id\": \"n14\", \"type\": \"dgram\", "
    "\"local\": {\"type\": \"inet\", \"host\": \"::1\", \"port\": \"1\"}, "
    "\"remote\": {\"type\": \"unix\", \"path\": \"/tmp/r\"}, "
    "\"mode\": 384}",
    "{\"id\": \"n15\", \"type\": \"vxlan\", \"vni\": 42, "
    "\"local\": \"10.0.0.1\", \"remote\": [\"10.0.0.2\", \"10.0.0.3\"], "
    "\"group\": \"239.1.1.1\", \"dstport\": 4789, \"ttl\": 8, "
    "\"learning\": false}",
};

static json_t *model(void)
{
	json_error_t jerr;
	json_t *m = json_loads(schema_data_json, 0, &jerr);

	CHECK(m != NULL);
	return m;
}

/* The Netdev variant type for @type, from the embedded model */
static const json_t *netdev_variant(const json_t *m, const char *type)
{
	const json_t *types = json_object_get(m, "types");
	const char *vt = json_string_value(json_object_get(
	    json_object_get(json_object_get(types, "Netdev"), "variants"),
	    type));

	return json_object_get(types, vt);
}

static void test_schema_every_netdev_type_with_every_option(void)
{
	json_t *m = model();
	const json_t *drivers = json_object_get(
	    json_object_get(json_object_get(m, "types"), "NetClientDriver"),
	    "values");
	bool covered[32] = {false};

	CHECK(json_array_size(drivers) == ARRAY_SIZE(full_netdevs));
	CHECK(json_array_size(drivers) <= ARRAY_SIZE(covered));
	for (size_t i = 0; i < ARRAY_SIZE(full_netdevs); i++) {
		json_t *body = parse(full_netdevs[i]);
		const char *type =
		    json_string_value(json_object_get(body, "type"));
		const json_t *variant = netdev_variant(m, type);
		const json_t *members = json_object_get(variant, "members");
		struct nh_error *err = NULL;
		bool ok = schema_check_args("netdev_add", body, &err);

		check_outcome(ok, err, NULL, "netdev_add", full_netdevs[i]);
		for (size_t d = 0; d < json_array_size(drivers); d++)
			if (!strcmp(
				json_string_value(json_array_get(drivers, d)),
				type))
				covered[d] = true;
		/* every option of the type is in the body... */
		CHECK(json_object_size(body) == 2 + json_array_size(members));
		/* ...and leaving each out is fine unless it is required */
		for (size_t k = 0; k < json_array_size(members); k++) {
			const json_t *mem = json_array_get(members, k);
			const char *name =
			    json_string_value(json_object_get(mem, "name"));
			json_t *less = json_deep_copy(body);
			char want[NH_ERROR_MSG_MAX];
			bool required =
			    !json_is_true(json_object_get(mem, "optional"));

			CHECK(json_object_get(body, name) != NULL);
			json_object_del(less, name);
			snprintf(want, sizeof(want),
				 "Parameter '%s' is missing", name);
			err = NULL;
			ok = schema_check_args("netdev_add", less, &err);
			check_outcome(ok, err, required ? want : NULL, type,
				      name);
			json_decref(less);
		}
		json_decref(body);
	}
	for (size_t d = 0; d < json_array_size(drivers); d++) {
		if (!covered[d])
			printf("# no netdev_add body for type %s\n",
			       json_string_value(json_array_get(drivers, d)));
		CHECK(covered[d]);
	}
	json_decref(m);
}

static void test_schema_vmnet_types_refused_on_linux(void)
{
	static const struct args_case cases[] = {
	    {"netdev_add", "{\"id\": \"v\", \"type\": \"vmnet-host\"}",
	     "Parameter 'type' does not accept value 'vmnet-host'"},
	    {"netdev_add",
	     "{\"id\": \"v\", \"type\": \"vmnet-shared\", "
	     "\"isolated\": true}",
	     "Parameter 'type' does not accept value 'vmnet-shared'"},
	    {"netdev_add",
	     "{\"id\": \"v\", \"type\": \"vmnet-bridged\", "
	     "\"ifname\": \"en0\"}",
	     "Parameter 'type' does not accept value 'vmnet-bridged'"},
	};

	run_args_cases(cases, ARRAY_SIZE(cases));
}

/* ---- query-qmp-schema ---- */

static const char *const expected_commands[] = {
    "qmp_capabilities",
    "query-version",
    "query-commands",
    "query-qmp-schema",
    "getfd",
    "closefd",
    "quit",
    "chardev-add",
    "chardev-remove",
    "query-chardev",
    "netdev_add",
    "netdev_del",
    "hostfwd_add",
    "hostfwd_remove",
    "vxlan-fdb-add",
    "vxlan-fdb-del",
    "set_link",
    "query-rx-filter",
    "set-rx-filter",
    "announce-self",
    "query-netdevs",
    "query-hubs",
    "query-fdb",
    "fdb-flush",
    "fdb-set-mac-limit",
    "fdb-add",
    "fdb-del",
    "port-set-alias",
    "object-add",
    "object-del",
    "query-captures",
};

static const char *const expected_events[] = {
    "NIC_RX_FILTER_CHANGED",
    "FAILOVER_NEGOTIATED",
    "NETDEV_STREAM_CONNECTED",
    "NETDEV_STREAM_DISCONNECTED",
};

static const json_t *info_find(const json_t *intro, const char *name)
{
	for (size_t i = 0; i < json_array_size(intro); i++) {
		const json_t *e = json_array_get(intro, i);

		if (!strcmp(json_string_value(json_object_get(e, "name")),
			    name))
			return e;
	}
	return NULL;
}

static const char *info_str(const json_t *e, const char *key)
{
	return json_string_value(json_object_get(e, key));
}

static bool info_meta_is(const json_t *e, const char *meta)
{
	const char *m = info_str(e, "meta-type");

	return m && !strcmp(m, meta);
}

static bool is_masked(const char *name)
{
	if (!name || !name[0])
		return false;
	for (const char *c = name; *c; c++)
		if (*c < '0' || *c > '9')
			return false;
	return true;
}

static void test_schema_introspection_lists_every_command_and_event(void)
{
	json_t *intro = schema_introspect();
	size_t ncommands = 0, nevents = 0;

	CHECK(json_is_array(intro));
	for (size_t i = 0; i < ARRAY_SIZE(expected_commands); i++) {
		const json_t *e = info_find(intro, expected_commands[i]);

		if (!e || !info_meta_is(e, "command"))
			printf("# command %s missing\n", expected_commands[i]);
		CHECK(e && info_meta_is(e, "command"));
		CHECK(e && info_str(e, "arg-type") && info_str(e, "ret-type"));
		CHECK(e && !json_object_get(e, "allow-oob"));
	}
	for (size_t i = 0; i < ARRAY_SIZE(expected_events); i++) {
		const json_t *e = info_find(intro, expected_events[i]);

		CHECK(e && info_meta_is(e, "event") && info_str(e, "arg-type"));
	}
	for (size_t i = 0; i < json_array_size(intro); i++) {
		const json_t *e = json_array_get(intro, i);

		ncommands += info_meta_is(e, "command");
		nevents += info_meta_is(e, "event");
	}
	CHECK_EQ(ncommands, ARRAY_SIZE(expected_commands));
	CHECK_EQ(nevents, ARRAY_SIZE(expected_events));
	json_decref(intro);
}

/* Every name an entry refers to */
static void collect_refs(const json_t *e, json_t *refs)
{
	static const char *const keys[] = {"arg-type", "ret-type",
					   "element-type"};
	const json_t *members = json_object_get(e, "members");
	const json_t *variants = json_object_get(e, "variants");

	for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
		if (json_object_get(e, keys[k]))
			json_array_append(refs, json_object_get(e, keys[k]));
	/* enums' members have no type */
	for (size_t i = 0; i < json_array_size(members); i++)
		if (json_object_get(json_array_get(members, i), "type"))
			json_array_append(
			    refs, json_object_get(json_array_get(members, i),
						  "type"));
	for (size_t i = 0; i < json_array_size(variants); i++)
		json_array_append(
		    refs, json_object_get(json_array_get(variants, i), "type"));
}

static void test_schema_introspection_masks_names_and_is_closed(void)
{
	static const char *const builtin_names[] = {
	    "str", "int", "number", "bool", "any", "null",
	};
	json_t *intro = schema_introspect();
	json_t *refs = json_array();
	json_t *seen = json_object();

	for (size_t i = 0; i < json_array_size(intro); i++) {
		const json_t *e = json_array_get(intro, i);
		const char *name = info_str(e, "name");
		const char *meta = info_str(e, "meta-type");

		CHECK(name && meta);
		if (!name || !meta)
			continue;
		/* names are unique */
		CHECK(json_object_get(seen, name) == NULL);
		json_object_set_new(seen, name, json_true());
		if (!strcmp(meta, "enum") || !strcmp(meta, "object") ||
		    !strcmp(meta, "alternate")) {
			if (!is_masked(name))
				printf("# type name not masked: %s\n", name);
			CHECK(is_masked(name));
		} else if (!strcmp(meta, "builtin")) {
			bool known = false;

			for (size_t b = 0; b < ARRAY_SIZE(builtin_names); b++)
				known |= !strcmp(builtin_names[b], name);
			if (!known)
				printf("# unexpected builtin %s\n", name);
			CHECK(known); /* int8..uint64, size appear as int */
			CHECK(info_str(e, "json-type") != NULL);
		} else if (!strcmp(meta, "array")) {
			const char *elem = info_str(e, "element-type");
			char want[256];

			CHECK(elem != NULL);
			snprintf(want, sizeof(want), "[%s]", elem ? elem : "");
			CHECK(!strcmp(name, want));
		} else {
			CHECK(!strcmp(meta, "command") ||
			      !strcmp(meta, "event"));
			CHECK(!is_masked(name));
		}
		collect_refs(e, refs);
	}
	/* every reference resolves to an entry of the answer */
	for (size_t i = 0; i < json_array_size(refs); i++) {
		const char *r = json_string_value(json_array_get(refs, i));

		if (!r || !json_object_get(seen, r))
			printf("# dangling reference %s\n", r ? r : "(null)");
		CHECK(r && json_object_get(seen, r));
	}
	CHECK(json_array_size(refs) > 50);
	/* no real type name leaks */
	CHECK(!json_object_get(seen, "Netdev"));
	CHECK(!json_object_get(seen, "uint16"));
	CHECK(!json_object_get(seen, "[String]"));
	CHECK(json_object_get(seen, "[int]") != NULL);
	CHECK(json_object_get(seen, "[str]") != NULL);
	json_decref(seen);
	json_decref(refs);
	json_decref(intro);
}

static const json_t *member_of(const json_t *obj, const char *name)
{
	const json_t *members = json_object_get(obj, "members");

	for (size_t i = 0; i < json_array_size(members); i++)
		if (!strcmp(info_str(json_array_get(members, i), "name"), name))
			return json_array_get(members, i);
	return NULL;
}

static void test_schema_introspection_describes_types_as_qemu(void)
{
	json_t *intro = schema_introspect();
	const json_t *cmd, *arg, *m, *tagtype, *values, *members, *variants;
	const json_t *empty, *arr;

	/* optional members carry "default": null, required ones nothing */
	cmd = info_find(intro, "query-rx-filter");
	arg = info_find(intro, info_str(cmd, "arg-type"));
	m = member_of(arg, "name");
	CHECK(m && json_is_null(json_object_get(m, "default")));
	CHECK(m && !strcmp(info_str(m, "type"), "str"));
	arg = info_find(intro,
			info_str(info_find(intro, "set_link"), "arg-type"));
	CHECK(info_meta_is(arg, "object"));
	m = member_of(arg, "up");
	CHECK(m && !json_object_get(m, "default"));
	CHECK(m && !strcmp(info_str(m, "type"), "bool"));

	/* netdev_add takes the flat union: base members, tag, a variant
	 * for every type value, "none" included */
	cmd = info_find(intro, "netdev_add");
	arg = info_find(intro, info_str(cmd, "arg-type"));
	CHECK(info_meta_is(arg, "object"));
	CHECK(!strcmp(info_str(arg, "tag"), "type"));
	CHECK(member_of(arg, "id") && member_of(arg, "type"));
	CHECK_EQ(json_array_size(json_object_get(arg, "members")), 2);
	tagtype = info_find(intro, info_str(member_of(arg, "type"), "type"));
	CHECK(info_meta_is(tagtype, "enum"));
	values = json_object_get(tagtype, "values");
	members = json_object_get(tagtype, "members");
	variants = json_object_get(arg, "variants");
	/* QEMU's 12 on Linux, pcap, QEMU 7.2's stream and dgram, vxlan */
	CHECK_EQ(json_array_size(values), 16);
	CHECK_EQ(json_array_size(members), json_array_size(values));
	CHECK_EQ(json_array_size(variants), json_array_size(values));
	for (size_t i = 0; i < json_array_size(values); i++) {
		const char *v = json_string_value(json_array_get(values, i));
		size_t cases = 0;

		CHECK(v && strncmp(v, "vmnet", 5));
		CHECK(!strcmp(info_str(json_array_get(members, i), "name"), v));
		/* one variant per value; QEMU lists those the union names
		 * first ("none", with no members, comes last) */
		for (size_t k = 0; k < json_array_size(variants); k++) {
			const json_t *var = json_array_get(variants, k);

			if (strcmp(info_str(var, "case"), v))
				continue;
			cases++;
			CHECK(info_meta_is(
			    info_find(intro, info_str(var, "type")), "object"));
		}
		CHECK_EQ(cases, 1);
	}
	CHECK(!strcmp(info_str(json_array_get(variants, 0), "case"), "nic"));
	CHECK(!strcmp(
	    info_str(json_array_get(variants, json_array_size(variants) - 1),
		     "case"),
	    "none"));
	/* hubport's hubid is an int32: shown as int */
	for (size_t i = 0; i < json_array_size(variants); i++) {
		const json_t *var = json_array_get(variants, i);

		if (strcmp(info_str(var, "case"), "hubport"))
			continue;
		m = member_of(info_find(intro, info_str(var, "type")), "hubid");
		CHECK(m && !strcmp(info_str(m, "type"), "int"));
	}

	/* a command without arguments or return value: an empty object */
	cmd = info_find(intro, "quit");
	empty = info_find(intro, info_str(cmd, "arg-type"));
	CHECK(info_meta_is(empty, "object"));
	CHECK_EQ(json_array_size(json_object_get(empty, "members")), 0);
	CHECK(!strcmp(info_str(cmd, "ret-type"), info_str(cmd, "arg-type")));

	/* arrays: query-commands returns "[N]" */
	cmd = info_find(intro, "query-commands");
	arr = info_find(intro, info_str(cmd, "ret-type"));
	CHECK(info_meta_is(arr, "array"));
	CHECK(info_meta_is(info_find(intro, info_str(arr, "element-type")),
			   "object"));
	arr = info_find(intro, "[int]");
	CHECK(arr && !strcmp(info_str(arr, "element-type"), "int"));

	/* builtins carry their JSON type */
	CHECK(!strcmp(info_str(info_find(intro, "int"), "json-type"), "int"));
	CHECK(
	    !strcmp(info_str(info_find(intro, "str"), "json-type"), "string"));
	CHECK(!strcmp(info_str(info_find(intro, "bool"), "json-type"),
		      "boolean"));
	CHECK(!strcmp(info_str(info_find(intro, "any"), "json-type"), "value"));
	json_decref(intro);
}

static void test_schema_introspection_is_deterministic(void)
{
	json_t *a = schema_introspect(), *b = schema_introspect(), *c;
	char *ta = json_dumps(a, JSON_COMPACT),
	     *tb = json_dumps(b, JSON_COMPACT);
	char *tc;
	struct nh_error *err = NULL;

	CHECK(a != b); /* a new reference each time */
	CHECK(json_equal(a, b));
	CHECK(ta && tb && !strcmp(ta, tb));
	/* reloading gives the same answer, byte for byte */
	schema_fini();
	CHECK(schema_init(&err));
	c = schema_introspect();
	tc = json_dumps(c, JSON_COMPACT);
	CHECK(tc && ta && !strcmp(ta, tc));
	/* and it validates against its own description */
	CHECK(schema_check_type("[SchemaInfo]", c, "return", &err));
	if (err)
		printf("# %s\n", err->msg);
	nh_error_free(err);
	free(ta);
	free(tb);
	free(tc);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

/* ---- query-commands ---- */

static void test_schema_command_list_is_query_commands(void)
{
	json_t *list = schema_command_list(), *again = schema_command_list();
	json_t *intro = schema_introspect();
	size_t ncommands = 0;

	CHECK(json_is_array(list));
	CHECK(json_equal(list, again));
	CHECK_EQ(json_array_size(list), ARRAY_SIZE(expected_commands));
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *e = json_array_get(list, i);
		const char *name = info_str(e, "name");

		CHECK(json_object_size(e) == 1);
		CHECK(name && schema_has_command(name));
		CHECK(name && info_meta_is(info_find(intro, name), "command"));
	}
	for (size_t i = 0; i < json_array_size(intro); i++)
		ncommands += info_meta_is(json_array_get(intro, i), "command");
	CHECK_EQ(ncommands, json_array_size(list));
	/* the answer validates against the schema's own return type */
	CHECK(schema_check_type("[CommandInfo]", list, "return", NULL));
	json_decref(list);
	json_decref(again);
	json_decref(intro);
}

/* ---- the doc examples ---- */

static const json_t *model_entity(const json_t *m, const char *list,
				  const char *name)
{
	const json_t *l = json_object_get(m, list);

	for (size_t i = 0; i < json_array_size(l); i++)
		if (!strcmp(info_str(json_array_get(l, i), "name"), name))
			return json_array_get(l, i);
	return NULL;
}

static void test_schema_doc_examples_follow_the_schema(void)
{
	json_t *m = model();
	const json_t *examples = json_object_get(m, "examples");
	size_t nreq = 0, nret = 0, nevent = 0;

	for (size_t i = 0; i < json_array_size(examples); i++) {
		const json_t *ex = json_array_get(examples, i);
		const json_t *msg = json_object_get(ex, "message");
		const char *of = info_str(ex, "of");
		const char *dir = info_str(ex, "direction");
		struct nh_error *err = NULL;
		bool ok = true;

		if (!strcmp(info_str(ex, "kind"), "event")) {
			const char *t =
			    info_str(model_entity(m, "events", of), "arg-type");

			ok = t ? schema_check_type(t,
						   json_object_get(msg, "data"),
						   "data", &err)
			       : !json_object_get(msg, "data");
			nevent++;
		} else if (!strcmp(dir, "->")) {
			ok = schema_check_args(
			    info_str(msg, "execute"),
			    json_object_get(msg, "arguments"), &err);
			nreq++;
		} else if (json_object_get(msg, "return")) {
			const char *t = info_str(
			    model_entity(m, "commands", of), "ret-type");
			const json_t *r = json_object_get(msg, "return");

			ok = t ? schema_check_type(t, r, "return", &err)
			       : json_is_object(r) && !json_object_size(r);
			nret++;
		}
		if (!ok)
			printf("# example of %s: %s\n", of,
			       err ? err->msg : "not as the schema says");
		CHECK(ok);
		nh_error_free(err);
	}
	/* every command and event has one */
	CHECK(nreq >= ARRAY_SIZE(expected_commands));
	CHECK(nret >= ARRAY_SIZE(expected_commands));
	CHECK(nevent >= ARRAY_SIZE(expected_events));
	json_decref(m);
}

/* ---- the command table ---- */

static void test_schema_and_command_table_agree(void)
{
	json_t *list = schema_command_list();
	size_t n = 0;

	for (const struct qmp_command *c = qmp_commands; c->name; c++) {
		n++;
		if (!schema_has_command(c->name))
			printf("# handler without schema entry: %s\n", c->name);
		CHECK(schema_has_command(c->name));
		CHECK(c->handler != NULL);
	}
	for (size_t i = 0; i < json_array_size(list); i++) {
		const char *name = info_str(json_array_get(list, i), "name");
		const struct qmp_command *c = qmp_command_find(name);

		if (!c || !c->handler)
			printf("# schema command without handler: %s\n", name);
		CHECK(c && c->handler);
	}
	CHECK_EQ(n, json_array_size(list));
	json_decref(list);
}

int main(void)
{
	TAP_RUN(test_schema_loads_once_and_knows_its_commands);
	TAP_RUN(test_schema_missing_and_unexpected_members);
	TAP_RUN(test_schema_arguments_must_be_an_object);
	TAP_RUN(test_schema_wrong_json_type_for_each_kind);
	TAP_RUN(test_schema_enum_values);
	TAP_RUN(test_schema_integer_ranges_per_type);
	TAP_RUN(test_schema_union_discriminator_and_variants);
	TAP_RUN(test_schema_nested_member_paths);
	TAP_RUN(test_schema_check_type_names_the_value);
	TAP_RUN(test_schema_every_netdev_type_with_every_option);
	TAP_RUN(test_schema_vmnet_types_refused_on_linux);
	TAP_RUN(test_schema_introspection_lists_every_command_and_event);
	TAP_RUN(test_schema_introspection_masks_names_and_is_closed);
	TAP_RUN(test_schema_introspection_describes_types_as_qemu);
	TAP_RUN(test_schema_introspection_is_deterministic);
	TAP_RUN(test_schema_command_list_is_query_commands);
	TAP_RUN(test_schema_doc_examples_follow_the_schema);
	TAP_RUN(test_schema_and_command_table_agree);
	schema_fini();
	return tap_done();
}
