// SPDX-License-Identifier: MIT
/* test_opts.c - option syntax: keyval and JSON parsing, typed getters with
 * QEMU's messages, key checks and --config files, driven by tables
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define SIZE_HINT                                                              \
	"\nOptional suffix k, M, G, T, P or E means kilo-, mega-, giga-, "     \
	"tera-, peta-\nand exabytes, respectively."

/* check_error() - @err is set and says exactly @want; frees @err */
static void check_error(struct nh_error *err, const char *want,
			const char *what)
{
	if (!err) {
		CHECK(err != NULL);
		printf("#   input: %s: expected error '%s'\n", what, want);
		return;
	}
	if (strcmp(err->msg, want)) {
		CHECK(!strcmp(err->msg, want));
		printf("#   input: %s\n#   got:  '%s'\n#   want: '%s'\n", what,
		       err->msg, want);
	}
	CHECK(err->cls == NH_ERR_GENERIC);
	nh_error_free(err);
}

/* check_dump() - @obj dumps (compact, in order) to @want */
static void check_dump(json_t *obj, const char *want, const char *what)
{
	char *got = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);

	CHECK(got != NULL);
	if (got && strcmp(got, want)) {
		CHECK(!strcmp(got, want));
		printf("#   input: %s\n#   got:  %s\n#   want: %s\n", what, got,
		       want);
	}
	free(got);
}

struct parse_case {
	const char *text;
	const char *implied;
	bool ok;
	const char *want; /* compact JSON dump, or the error message */
};

static const struct parse_case parse_cases[] = {
    /* keyval: the implied type first, then key=value */
    {"socket,id=vms,listen=:5555", "type", true,
     "{\"type\":\"socket\",\"id\":\"vms\",\"listen\":\":5555\"}"},
    {"type=socket,id=a", "type", true, "{\"type\":\"socket\",\"id\":\"a\"}"},
    {"id=a,type=socket", "type", true, "{\"id\":\"a\",\"type\":\"socket\"}"},
    /* ",," is a literal comma, in values and in the implied value */
    {"socket,id=a,path=/tmp/a,,b", "type", true,
     "{\"type\":\"socket\",\"id\":\"a\",\"path\":\"/tmp/a,b\"}"},
    {"sock,,et,id=a", "type", true, "{\"type\":\"sock,et\",\"id\":\"a\"}"},
    {"socket,p=a,,,,b", "type", true, "{\"type\":\"socket\",\"p\":\"a,,b\"}"},
    {"socket,p=a,,,x=1", "type", true,
     "{\"type\":\"socket\",\"p\":\"a,\",\"x\":\"1\"}"},
    {"socket,id=a,,", "type", true, "{\"type\":\"socket\",\"id\":\"a,\"}"},
    {"socket,id=a,,b=c", "type", true,
     "{\"type\":\"socket\",\"id\":\"a,b=c\"}"},
    /* values may be empty and may hold '=' */
    {"socket,a=", "type", true, "{\"type\":\"socket\",\"a\":\"\"}"},
    {"socket,a==b", "type", true, "{\"type\":\"socket\",\"a\":\"=b\"}"},
    /* keys: [A-Za-z0-9_.-], dots do not nest */
    {"socket,a.b-c_D9=1", "type", true,
     "{\"type\":\"socket\",\"a.b-c_D9\":\"1\"}"},
    /* empty items: trailing comma fine, "" empty, others are empty keys */
    {"socket,id=a,", "type", true, "{\"type\":\"socket\",\"id\":\"a\"}"},
    {"", "type", true, "{}"},
    {",", "type", false, "Invalid parameter ''"},
    {",id=a", "type", false, "Invalid parameter ''"},
    {"socket,,", "type", true, "{\"type\":\"socket,\"}"},
    {"socket,=x", "type", false, "Invalid parameter ''"},
    {"socket,id=a,,,,", "type", true, "{\"type\":\"socket\",\"id\":\"a,,\"}"},
    /* bare words after the first item are flags: name=on */
    {"socket,ipv6,id=x", "type", true,
     "{\"type\":\"socket\",\"ipv6\":\"on\",\"id\":\"x\"}"},
    {"socket,noipv6", "type", true, "{\"type\":\"socket\",\"noipv6\":\"on\"}"},
    {"id=x,socket", "type", true, "{\"id\":\"x\",\"socket\":\"on\"}"},
    {"socket,id=x", NULL, true, "{\"socket\":\"on\",\"id\":\"x\"}"},
    {"socket,bad word", "type", false, "Invalid parameter 'bad word'"},
    /* bad keys */
    {"socket,a b=1", "type", false, "Invalid parameter 'a b'"},
    {"socket,a/b=1", "type", false, "Invalid parameter 'a/b'"},
    {"socket,\xc3\xa9=1", "type", false, "Invalid parameter '\xc3\xa9'"},
    /* a repeated key, the implied one included, collects a list (refused
     * later where the key is not a list: test_check_keys_lists) */
    {"socket,id=a,id=b", "type", true,
     "{\"type\":\"socket\",\"id\":[\"a\",\"b\"]}"},
    {"socket,type=x", "type", true, "{\"type\":[\"socket\",\"x\"]}"},
    {"user,hostfwd=a,id=u,hostfwd=b,hostfwd=c", "type", true,
     "{\"type\":\"user\",\"hostfwd\":[\"a\",\"b\",\"c\"],\"id\":\"u\"}"},
    /* values must be UTF-8 to become JSON strings */
    {"socket,id=\xff", "type", false,
     "Value of parameter 'id' is not valid UTF-8"},
    {"sock\xff", "type", false, "Value of parameter 'type' is not valid UTF-8"},
    {"socket,id=\xc3\xa9", "type", true,
     "{\"type\":\"socket\",\"id\":\"\xc3\xa9\"}"},
    /* JSON form: types kept, order kept */
    {"{\"type\":\"socket\",\"id\":\"a\",\"port\":5,\"on\":true}", "type", true,
     "{\"type\":\"socket\",\"id\":\"a\",\"port\":5,\"on\":true}"},
    {" \n\t{\"a\":null}", "type", true, "{\"a\":null}"},
    {"{}", "type", true, "{}"},
    {"[1,2]", "type", false, "JSON argument must be an object, not an array"},
    {"  [ ]", "type", false, "JSON argument must be an object, not an array"},
    {"{\"a\":1,\"a\":2}", "type", false,
     "JSON parse error at line 1, column 10: duplicate object key near "
     "'\"a\"'"},
    {"{\"a\":tru}", "type", false,
     "JSON parse error at line 1, column 8: invalid token near 'tru'"},
    {"{\"a\":1} x", "type", false,
     "JSON parse error at line 1, column 9: end of file expected near "
     "'x'"},
    {"{\"a\":99999999999999999999}", "type", false,
     "JSON parse error at line 1, column 25: too big integer near "
     "'99999999999999999999'"},
    {"{\"a b\":1}", "type", false, "Invalid parameter 'a b'"},
    {"{\"\":1}", "type", false, "Invalid parameter ''"},
    /* not JSON: '{' is not first */
    {"x,{\"a\":1}", "type", false, "Invalid parameter '{\"a\":1}'"},
};

static void test_opts_parse_keyval_and_json_forms(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct nh_error *err = NULL;
		json_t *obj = opts_parse(c->text, c->implied, &err);

		if (c->ok) {
			CHECK(obj != NULL);
			CHECK(err == NULL);
			if (err)
				printf("#   input: %s: error '%s'\n", c->text,
				       err->msg);
			if (obj)
				check_dump(obj, c->want, c->text);
			nh_error_free(err);
		} else {
			CHECK(obj == NULL);
			check_error(err, c->want, c->text);
		}
		json_decref(obj);
	}
}

static void test_opts_parse_key_length_bound(void)
{
	char text[300], want[200], key[OPTS_KEY_MAX_BYTES + 2];
	struct nh_error *err = NULL;
	json_t *obj;

	/* 127 bytes: the longest key QEMU's keyval takes */
	memset(key, 'k', OPTS_KEY_MAX_BYTES);
	key[OPTS_KEY_MAX_BYTES] = '\0';
	snprintf(text, sizeof(text), "socket,%s=1", key);
	obj = opts_parse(text, "type", &err);
	CHECK(obj != NULL && err == NULL);
	CHECK(obj && json_object_get(obj, key));
	json_decref(obj);

	/* 128 bytes: refused, and the message quotes only the start */
	strcat(key, "k");
	snprintf(text, sizeof(text), "socket,%s=1", key);
	snprintf(want, sizeof(want),
		 "Parameter '%.32s...' is too long (at most 127 bytes)", key);
	obj = opts_parse(text, "type", &err);
	CHECK(obj == NULL);
	check_error(err, want, "128-byte key");

	/* the same as a flag and as a JSON key */
	err = NULL;
	snprintf(text, sizeof(text), "socket,%s", key);
	CHECK(opts_parse(text, "type", &err) == NULL);
	check_error(err, want, "128-byte flag");
	err = NULL;
	snprintf(text, sizeof(text), "{\"%s\":1}", key);
	CHECK(opts_parse(text, "type", &err) == NULL);
	check_error(err, want, "128-byte JSON key");
}

static void test_opts_parse_text_length_bound(void)
{
	char *text = malloc(OPTS_TEXT_MAX_BYTES + 2);
	struct nh_error *err = NULL;
	json_t *obj;

	CHECK(text != NULL);
	if (!text)
		return;
	/* exactly the limit: one long value, accepted */
	memcpy(text, "socket,v=", 9);
	memset(text + 9, 'x', OPTS_TEXT_MAX_BYTES - 9);
	text[OPTS_TEXT_MAX_BYTES] = '\0';
	obj = opts_parse(text, "type", &err);
	CHECK(obj != NULL && err == NULL);
	CHECK(obj && strlen(opts_get_str(obj, "v", NULL, &err)) ==
			 OPTS_TEXT_MAX_BYTES - 9);
	json_decref(obj);

	/* one byte more: refused before anything is copied */
	text[OPTS_TEXT_MAX_BYTES] = 'x';
	text[OPTS_TEXT_MAX_BYTES + 1] = '\0';
	CHECK(opts_parse(text, "type", &err) == NULL);
	check_error(err, "Argument is too long (more than 65536 bytes)",
		    "64 KiB + 1");
	free(text);
}

static void test_opts_parse_without_errp(void)
{
	CHECK(opts_parse("socket,=x", "type", NULL) == NULL);
	CHECK(opts_parse("{", "type", NULL) == NULL);
}

/* obj_with() - the object {"v": @json_value} */
static json_t *obj_with(const char *json_value)
{
	char text[256];
	json_error_t jerr;
	json_t *obj;

	snprintf(text, sizeof(text), "{\"v\":%s}", json_value);
	obj = json_loads(text, 0, &jerr);
	if (!obj)
		printf("# bad test JSON %s: %s\n", text, jerr.text);
	return obj;
}

static void test_opts_get_str(void)
{
	struct nh_error *err = NULL;
	json_t *obj = opts_parse("socket,id=a,path=x,,y", "type", &err);

	CHECK(obj != NULL);
	CHECK(!strcmp(opts_get_str(obj, "path", NULL, &err), "x,y"));
	CHECK(!strcmp(opts_get_str(obj, "absent", "dflt", &err), "dflt"));
	CHECK(opts_get_str(obj, "absent", NULL, &err) == NULL);
	CHECK(err == NULL);
	CHECK(opts_has(obj, "id") && !opts_has(obj, "absent"));
	json_decref(obj);

	const char *bad[] = {"5", "true", "null", "1.5", "{}", "[]"};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		obj = obj_with(bad[i]);
		CHECK(opts_get_str(obj, "v", "dflt", &err) == NULL);
		check_error(err,
			    "Invalid parameter type for 'v', expected: string",
			    bad[i]);
		err = NULL;
		CHECK(opts_has(obj, "v"));
		json_decref(obj);
	}
}

struct bool_case {
	const char *value; /* JSON text */
	bool ok, want;
	const char *err;
};

#define BOOL_WORD_ERR "Parameter 'v' expects 'on' or 'off'"
#define BOOL_TYPE_ERR "Invalid parameter type for 'v', expected: boolean"

static const struct bool_case bool_cases[] = {
    {"\"on\"", true, true, NULL},
    {"\"yes\"", true, true, NULL},
    {"\"true\"", true, true, NULL},
    {"\"y\"", true, true, NULL},
    {"\"off\"", true, false, NULL},
    {"\"no\"", true, false, NULL},
    {"\"false\"", true, false, NULL},
    {"\"n\"", true, false, NULL},
    {"true", true, true, NULL},
    {"false", true, false, NULL},
    {"\"ON\"", false, false, BOOL_WORD_ERR},
    {"\"On\"", false, false, BOOL_WORD_ERR},
    {"\"\"", false, false, BOOL_WORD_ERR},
    {"\"1\"", false, false, BOOL_WORD_ERR},
    {"\"on \"", false, false, BOOL_WORD_ERR},
    {"1", false, false, BOOL_TYPE_ERR},
    {"0", false, false, BOOL_TYPE_ERR},
    {"null", false, false, BOOL_TYPE_ERR},
    {"[true]", false, false, BOOL_TYPE_ERR},
};

static void test_opts_get_bool_words_and_types(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bool_cases); i++) {
		const struct bool_case *c = &bool_cases[i];
		struct nh_error *err = NULL;
		json_t *obj = obj_with(c->value);
		bool out = !c->want;
		bool ok = opts_get_bool(obj, "v", &out, &err);

		CHECK(ok == c->ok);
		if (c->ok) {
			CHECK(err == NULL);
			CHECK(out == c->want);
		} else {
			check_error(err, c->err, c->value);
		}
		json_decref(obj);
	}
}

static void test_opts_get_bool_absent_keeps_default(void)
{
	struct nh_error *err = NULL;
	json_t *obj = opts_parse("socket,ipv4", "type", &err);
	bool v4 = false, v6 = true;

	CHECK(opts_get_bool(obj, "ipv4", &v4, &err) && v4);
	CHECK(opts_get_bool(obj, "ipv6", &v6, &err) && v6);
	v6 = false;
	CHECK(opts_get_bool(obj, "ipv6", &v6, &err) && !v6);
	CHECK(err == NULL);
	json_decref(obj);
}

static void test_opts_parse_bool_words(void)
{
	bool b = false;

	CHECK(opts_parse_bool("on", &b) && b);
	CHECK(opts_parse_bool("off", &b) && !b);
	CHECK(opts_parse_bool("yes", &b) && b);
	CHECK(opts_parse_bool("no", &b) && !b);
	CHECK(!opts_parse_bool("", &b));
	CHECK(!opts_parse_bool("enable", &b));
}

struct int_case {
	const char *value; /* JSON text */
	int64_t min, max;
	bool ok;
	int64_t want;
	const char *err;
};

#define I64	     INT64_MIN, INT64_MAX
#define INT_NUM_ERR  "Parameter 'v' expects a number"
#define INT_TYPE_ERR "Invalid parameter type for 'v', expected: integer"
#define INT_RANGE_I64_ERR                                                      \
	"Parameter 'v' expects a value between -9223372036854775808 and "      \
	"9223372036854775807"

static const struct int_case int_cases[] = {
    /* strings: strtoll base 0, as QEMU */
    {"\"42\"", I64, true, 42, NULL},
    {"\"-42\"", I64, true, -42, NULL},
    {"\"+42\"", I64, true, 42, NULL},
    {"\"0x10\"", I64, true, 16, NULL},
    {"\"0X1f\"", I64, true, 31, NULL},
    {"\"-0x10\"", I64, true, -16, NULL},
    {"\"010\"", I64, true, 8, NULL},
    {"\"0\"", I64, true, 0, NULL},
    {"\" 7\"", I64, true, 7, NULL},
    {"\"08\"", I64, false, 0, INT_NUM_ERR},
    {"\"7 \"", I64, false, 0, INT_NUM_ERR},
    {"\"\"", I64, false, 0, INT_NUM_ERR},
    {"\"12abc\"", I64, false, 0, INT_NUM_ERR},
    {"\"0x\"", I64, false, 0, INT_NUM_ERR},
    {"\"1.0\"", I64, false, 0, INT_NUM_ERR},
    {"\"1k\"", I64, false, 0, INT_NUM_ERR},
    {"\"on\"", I64, false, 0, INT_NUM_ERR},
    /* int64 limits */
    {"\"9223372036854775807\"", I64, true, INT64_MAX, NULL},
    {"\"-9223372036854775808\"", I64, true, INT64_MIN, NULL},
    {"\"0x7fffffffffffffff\"", I64, true, INT64_MAX, NULL},
    {"\"9223372036854775808\"", I64, false, 0, INT_RANGE_I64_ERR},
    {"\"-9223372036854775809\"", I64, false, 0, INT_RANGE_I64_ERR},
    {"\"0x8000000000000000\"", I64, false, 0, INT_RANGE_I64_ERR},
    {"9223372036854775807", I64, true, INT64_MAX, NULL},
    {"-9223372036854775808", I64, true, INT64_MIN, NULL},
    /* caller's range, both forms */
    {"\"2147483647\"", INT32_MIN, INT32_MAX, true, INT32_MAX, NULL},
    {"\"2147483648\"", INT32_MIN, INT32_MAX, false, 0,
     "Parameter 'v' expects a value between -2147483648 and "
     "2147483647"},
    {"10", 0, 10, true, 10, NULL},
    {"0", 0, 10, true, 0, NULL},
    {"11", 0, 10, false, 0, "Parameter 'v' expects a value between 0 and 10"},
    {"-1", 0, 10, false, 0, "Parameter 'v' expects a value between 0 and 10"},
    {"\"-1\"", 0, 10, false, 0,
     "Parameter 'v' expects a value between 0 and 10"},
    /* other JSON types */
    {"5.0", I64, false, 0, INT_TYPE_ERR},
    {"1e3", I64, false, 0, INT_TYPE_ERR},
    {"true", I64, false, 0, INT_TYPE_ERR},
    {"null", I64, false, 0, INT_TYPE_ERR},
    {"{}", I64, false, 0, INT_TYPE_ERR},
};

static void test_opts_get_int_bases_and_ranges(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(int_cases); i++) {
		const struct int_case *c = &int_cases[i];
		struct nh_error *err = NULL;
		json_t *obj = obj_with(c->value);
		int64_t out = 12345;
		bool ok = opts_get_int(obj, "v", c->min, c->max, &out, &err);

		CHECK(ok == c->ok);
		if (ok != c->ok)
			printf("#   input: %s\n", c->value);
		if (c->ok) {
			CHECK(err == NULL);
			CHECK_EQ(out, c->want);
		} else {
			CHECK_EQ(out, 12345);
			check_error(err, c->err, c->value);
		}
		json_decref(obj);
	}
}

static void test_opts_get_int_absent_keeps_default(void)
{
	json_t *obj = json_object();
	int64_t v = 77;

	CHECK(opts_get_int(obj, "v", 0, 10, &v, NULL));
	CHECK_EQ(v, 77);
	json_decref(obj);
}

struct size_case {
	const char *value; /* JSON text */
	bool ok;
	uint64_t want;
	const char *err;
};

#define SIZE_ERR	"Parameter 'v' expects a non-negative number below 2^64"
#define SIZE_SYNTAX_ERR SIZE_ERR SIZE_HINT
#define SIZE_TYPE_ERR	"Invalid parameter type for 'v', expected: integer"

static const struct size_case size_cases[] = {
    /* plain and suffixed, both cases */
    {"\"0\"", true, 0, NULL},
    {"\"1\"", true, 1, NULL},
    {"\"1B\"", true, 1, NULL},
    {"\"1b\"", true, 1, NULL},
    {"\"1k\"", true, 1024, NULL},
    {"\"1K\"", true, 1024, NULL},
    {"\"1m\"", true, 1ULL << 20, NULL},
    {"\"1M\"", true, 1ULL << 20, NULL},
    {"\"1g\"", true, 1ULL << 30, NULL},
    {"\"1G\"", true, 1ULL << 30, NULL},
    {"\"1T\"", true, 1ULL << 40, NULL},
    {"\"1p\"", true, 1ULL << 50, NULL},
    {"\"1E\"", true, 1ULL << 60, NULL},
    {"\"1e\"", true, 1ULL << 60, NULL},
    {"\"010\"", true, 10, NULL},
    {"\"+1k\"", true, 1024, NULL},
    {"\" 1k\"", true, 1024, NULL},
    /* fractions: need a unit above B, round to the nearest byte */
    {"\"1.5k\"", true, 1536, NULL},
    {"\"0.5k\"", true, 512, NULL},
    {"\"1.k\"", true, 1024, NULL},
    {"\"1.0\"", true, 1, NULL},
    {"\"1.0B\"", true, 1, NULL},
    {"\"12.345M\"", true, 12944671, NULL},
    {"\"0.0004k\"", true, 0, NULL},
    {"\"0.0005k\"", true, 1, NULL},
    {"\"1.5E\"", true, 3ULL << 59, NULL},
    {"\"15.5E\"", true, 31ULL << 59, NULL},
    {"\"1.5\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"1.5B\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"1.0000000000000000000001\"", false, 0, SIZE_SYNTAX_ERR},
    {"\".5k\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"1e3\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"1.5e3k\"", false, 0, SIZE_SYNTAX_ERR},
    /* hex: no fraction, and no suffix (QEMU deprecated that) */
    {"\"0x10\"", true, 16, NULL},
    {"\"0X1f\"", true, 31, NULL},
    {"\"0x10B\"", true, 0x10b, NULL},
    {"\"0xffffffffffffffff\"", true, UINT64_MAX, NULL},
    {"\"0x10k\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"0x1.8\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"0x\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"0x10000000000000000\"", false, 0,
     "Value '0x10000000000000000' is out of range for parameter 'v'"},
    /* 2^64 - 1 is the largest size */
    {"\"18446744073709551615\"", true, UINT64_MAX, NULL},
    {"\"18446744073709551615B\"", true, UINT64_MAX, NULL},
    {"\"15E\"", true, 15ULL << 60, NULL},
    {"\"18446744073709551616\"", false, 0,
     "Value '18446744073709551616' is out of range for parameter 'v'"},
    {"\"16E\"", false, 0, "Value '16E' is out of range for parameter 'v'"},
    {"\"16384P\"", false, 0,
     "Value '16384P' is out of range for parameter 'v'"},
    {"\"16383.9999999999999999999P\"", false, 0,
     "Value '16383.9999999999999999999P' is out of range for parameter "
     "'v'"},
    {"\"16383.99999P\"", true, 18446744062450552548ULL, NULL},
    /* not sizes */
    {"\"-1\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"-0\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"k\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"1k \"", false, 0, SIZE_SYNTAX_ERR},
    {"\"1 k\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"1kB\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"1KiB\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"1x\"", false, 0, SIZE_SYNTAX_ERR},
    {"\"on\"", false, 0, SIZE_SYNTAX_ERR},
    /* JSON integers */
    {"0", true, 0, NULL},
    {"4096", true, 4096, NULL},
    {"9223372036854775807", true, INT64_MAX, NULL},
    {"-1", false, 0, SIZE_ERR},
    {"1.5", false, 0, SIZE_TYPE_ERR},
    {"true", false, 0, SIZE_TYPE_ERR},
    {"null", false, 0, SIZE_TYPE_ERR},
};

static void test_opts_get_size_suffixes_fractions_limits(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(size_cases); i++) {
		const struct size_case *c = &size_cases[i];
		struct nh_error *err = NULL;
		json_t *obj = obj_with(c->value);
		uint64_t out = 12345;
		bool ok = opts_get_size(obj, "v", &out, &err);

		CHECK(ok == c->ok);
		if (ok != c->ok)
			printf("#   input: %s\n", c->value);
		if (c->ok) {
			CHECK(err == NULL);
			if (out != c->want) {
				CHECK(out == c->want);
				printf("#   input: %s: got %llu want %llu\n",
				       c->value, (unsigned long long)out,
				       (unsigned long long)c->want);
			}
		} else {
			CHECK(out == 12345);
			check_error(err, c->err, c->value);
		}
		json_decref(obj);
	}
}

/* opts_parse_size() agrees with the getter on every string case */
static void test_opts_parse_size_matches_getter(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(size_cases); i++) {
		const struct size_case *c = &size_cases[i];
		json_t *obj = obj_with(c->value);
		json_t *v = json_object_get(obj, "v");
		uint64_t out = 0;

		if (json_is_string(v)) {
			bool ok = opts_parse_size(json_string_value(v), &out);

			CHECK(ok == c->ok);
			CHECK(!ok || out == c->want);
		}
		json_decref(obj);
	}
}

static void test_opts_get_size_absent_keeps_default(void)
{
	json_t *obj = json_object();
	uint64_t v = 99;

	CHECK(opts_get_size(obj, "v", &v, NULL));
	CHECK(v == 99);
	json_decref(obj);
}

struct keys_case {
	const char *text;
	bool ok;
	const char *err;
};

static const struct keys_case keys_cases[] = {
    {"socket,id=a,listen=:1", true, NULL},
    {"socket", true, NULL},
    {"", true, NULL},
    {"socket,id=a,bogus=1", false, "Parameter 'bogus' is unexpected"},
    /* the first unknown key in the order of the text */
    {"socket,zzz=1,id=a,aaa=2", false, "Parameter 'zzz' is unexpected"},
    {"id=a,aaa=2,socket", false, "Parameter 'aaa' is unexpected"},
    {"{\"id\":\"a\",\"m\":1,\"b\":2}", false, "Parameter 'm' is unexpected"},
    {"socket,noipv6", false, "Parameter 'noipv6' is unexpected"},
};

static void test_opts_check_keys_reports_first_unknown_in_order(void)
{
	static const char *const known[] = {"type", "id", "listen", NULL};

	for (size_t i = 0; i < ARRAY_SIZE(keys_cases); i++) {
		const struct keys_case *c = &keys_cases[i];
		struct nh_error *err = NULL;
		json_t *obj = opts_parse(c->text, "type", &err);
		bool ok;

		CHECK(obj != NULL);
		ok = opts_check_keys(obj, known, &err);
		CHECK(ok == c->ok);
		if (c->ok)
			CHECK(err == NULL);
		else
			check_error(err, c->err, c->text);
		json_decref(obj);
	}
}

static void test_opts_check_keys_empty_list(void)
{
	static const char *const none[] = {NULL};
	struct nh_error *err = NULL;
	json_t *obj = json_object();

	CHECK(opts_check_keys(obj, none, &err) && !err);
	json_object_set_new(obj, "x", json_true());
	CHECK(!opts_check_keys(obj, none, &err));
	check_error(err, "Parameter 'x' is unexpected", "{x}");
	json_decref(obj);
}

/* A repeated key is a list only where the known keys say "KEY[]"; the
 * getters name a repeated scalar the same way */
static void test_check_keys_lists(void)
{
	static const char *const known[] = {"type", "id", "ipv6", "fwd[]",
					    NULL};
	static const struct keys_case cases[] = {
	    {"user,id=a,fwd=x", true, NULL},
	    {"user,id=a,fwd=x,fwd=y,fwd=z", true, NULL},
	    {"user,id=a,id=b", false, "Parameter 'id' is duplicated"},
	    {"user,type=x", false, "Parameter 'type' is duplicated"},
	    {"user,ipv6,ipv6=off", false, "Parameter 'ipv6' is duplicated"},
	    {"user,fwd[]=x", false, "Invalid parameter 'fwd[]'"},
	};
	struct nh_error *err = NULL;
	json_t *obj;
	bool b;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct keys_case *c = &cases[i];

		err = NULL;
		obj = opts_parse(c->text, "type", &err);
		if (!obj) {
			CHECK(!c->ok);
			check_error(err, c->err, c->text);
			continue;
		}
		CHECK(opts_check_keys(obj, known, &err) == c->ok);
		if (c->ok)
			CHECK(err == NULL);
		else
			check_error(err, c->err, c->text);
		json_decref(obj);
	}

	obj = opts_parse("socket,server=on,server=off,id=a,id=b", "type", NULL);
	CHECK(obj != NULL);
	err = NULL;
	CHECK(!opts_get_bool(obj, "server", &b, &err));
	check_error(err, "Parameter 'server' is duplicated", "get_bool");
	err = NULL;
	CHECK(opts_get_str(obj, "id", NULL, &err) == NULL);
	check_error(err, "Parameter 'id' is duplicated", "get_str");
	json_decref(obj);
}

/* write_temp() - a temporary file holding @len bytes of @data */
static void write_temp(char *path, size_t size, const void *data, size_t len)
{
	int fd;

	snprintf(path, size, "/tmp/test_opts.XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

struct config_case {
	const char *body;
	bool ok;
	size_t n;	 /* elements, when ok */
	const char *err; /* after "PATH" */
};

static const struct config_case config_cases[] = {
    {"[{\"type\":\"socket\",\"id\":\"a\",\"listen\":\":5555\"},\n"
     " {\"type\":\"none\",\"id\":\"b\"}]\n",
     true, 2, NULL},
    {"[]", true, 0, NULL},
    {"[\n {\"type\": }\n]", false, 0, ":2:11: unexpected token near '}'"},
    {"", false, 0, ":1:0: '[' or '{' expected near end of file"},
    {"[{\"id\":\"a\",\n\"id\":\"b\"}]", false, 0,
     ":2:4: duplicate object key near '\"id\"'"},
    {"{\"type\":\"socket\"}", false, 0,
     ": expected a JSON array of netdev objects"},
    {"[{\"id\":\"a\"}, 5]", false, 0, ": element 1 is not an object"},
    {"[[]]", false, 0, ": element 0 is not an object"},
    {"[{\"id\":\"a\"}, {\"a b\":1}]", false, 0,
     ": element 1: Invalid parameter 'a b'"},
};

static void test_opts_load_config_errors_name_file_and_place(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_cases); i++) {
		const struct config_case *c = &config_cases[i];
		struct nh_error *err = NULL;
		char path[64], want[256];
		json_t *arr;

		write_temp(path, sizeof(path), c->body, strlen(c->body));
		arr = opts_load_config(path, &err);
		if (c->ok) {
			CHECK(arr != NULL && err == NULL);
			if (err)
				printf("#   %s\n", err->msg);
			CHECK(json_is_array(arr));
			CHECK_EQ(json_array_size(arr), c->n);
			nh_error_free(err);
		} else {
			CHECK(arr == NULL);
			snprintf(want, sizeof(want), "%s%s", path, c->err);
			check_error(err, want, c->body);
		}
		json_decref(arr);
		unlink(path);
	}
}

static void test_opts_load_config_keeps_types(void)
{
	static const char body[] =
	    "[{\"type\":\"socket\",\"id\":\"a\",\"port\":5,\"x\":true}]";
	struct nh_error *err = NULL;
	char path[64];
	json_t *arr;

	write_temp(path, sizeof(path), body, strlen(body));
	arr = opts_load_config(path, &err);
	CHECK(arr != NULL);
	if (arr)
		check_dump(arr, body, "config");
	json_decref(arr);
	unlink(path);
}

static void test_opts_load_config_missing_file(void)
{
	struct nh_error *err = NULL;

	CHECK(opts_load_config("/nonexistent/nethub.json", &err) == NULL);
	check_error(err,
		    "/nonexistent/nethub.json: cannot open: No such file or "
		    "directory",
		    "missing");
}

static void test_opts_load_config_directory(void)
{
	struct nh_error *err = NULL;

	CHECK(opts_load_config("/tmp", &err) == NULL);
	check_error(err, "/tmp: cannot read: Is a directory", "directory");
}

static void test_opts_load_config_size_bound(void)
{
	size_t len = OPTS_CONFIG_MAX_BYTES + 1;
	char *body = malloc(len);
	struct nh_error *err = NULL;
	char path[64], want[128];
	json_t *arr;

	CHECK(body != NULL);
	if (!body)
		return;
	/* "[]" padded with spaces: valid JSON, just too big */
	memset(body, ' ', len);
	body[0] = '[';
	body[len - 1] = ']';
	write_temp(path, sizeof(path), body, len);
	CHECK(opts_load_config(path, &err) == NULL);
	snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", path);
	check_error(err, want, "1 MiB + 1");
	unlink(path);

	/* exactly the limit is read */
	err = NULL;
	body[len - 2] = ']';
	write_temp(path, sizeof(path), body, len - 1);
	arr = opts_load_config(path, &err);
	CHECK(arr != NULL && err == NULL);
	json_decref(arr);
	nh_error_free(err);
	unlink(path);
	free(body);
}

int main(void)
{
	TAP_RUN(test_opts_parse_keyval_and_json_forms);
	TAP_RUN(test_opts_parse_key_length_bound);
	TAP_RUN(test_opts_parse_text_length_bound);
	TAP_RUN(test_opts_parse_without_errp);
	TAP_RUN(test_opts_get_str);
	TAP_RUN(test_opts_get_bool_words_and_types);
	TAP_RUN(test_opts_get_bool_absent_keeps_default);
	TAP_RUN(test_opts_parse_bool_words);
	TAP_RUN(test_opts_get_int_bases_and_ranges);
	TAP_RUN(test_opts_get_int_absent_keeps_default);
	TAP_RUN(test_opts_get_size_suffixes_fractions_limits);
	TAP_RUN(test_opts_parse_size_matches_getter);
	TAP_RUN(test_opts_get_size_absent_keeps_default);
	TAP_RUN(test_opts_check_keys_reports_first_unknown_in_order);
	TAP_RUN(test_opts_check_keys_empty_list);
	TAP_RUN(test_check_keys_lists);
	TAP_RUN(test_opts_load_config_errors_name_file_and_place);
	TAP_RUN(test_opts_load_config_keeps_types);
	TAP_RUN(test_opts_load_config_missing_file);
	TAP_RUN(test_opts_load_config_directory);
	TAP_RUN(test_opts_load_config_size_bound);
	return tap_done();
}
