// SPDX-License-Identifier: MIT
/* fuzz_opts.c - libFuzzer target for the option parsers: -netdev's keyval
 * and JSON forms (opts_parse()), --config files (opts_load_config()), the
 * typed getters, and the backends' option checks (netdev_check())
 *
 * The input's first byte is the mode: bit 0 parses without an implied key,
 * bit 1 reads the text as a --config file instead, bits 2-3 pick the bounds
 * given to opts_get_int().  The rest is the text.  Checked, besides "no
 * crash, no leak":
 *   - a parsed object has only keys of 1 to 127 bytes of [A-Za-z0-9_.-];
 *     keyval values are strings;
 *   - written back as keyval text (",," for commas), a keyval result parses
 *     to the same object;
 *   - every failure comes with a message; a getter's message names its
 *     key in quotes; getters agree with opts_parse_bool() and
 *     opts_parse_size(); opts_get_int() stays within its bounds;
 *   - netdev_check() sets an error exactly when it fails, and opens
 *     nothing.  Excluded, as their checks reach outside the process: socket
 *     addresses that would need a name lookup (getaddrinfo(); socket's
 *     HOST:PORT, stream's and dgram's *.host) and pcap's
 *     filter= (libpcap's compiler looks up host and port names).
 * Built with tests/fuzz/standalone.c where libFuzzer is not available.
 */

#include <arpa/inet.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "netdev.h"
#include "opts.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int64_t fuzz_int_bounds[4][2] = {
    {0, 65535},
    {-1, 1},
    {INT64_MIN, INT64_MAX},
    {1, 3600},
};

static int config_fd = -1;

static void fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_opts: %s: %s\n", what, detail ? detail : "");
	abort();
}

/* fuzz_keyval_value() - whether @v is what the keyval form makes: a
 * string, or the list of two or more strings a repeated key makes */
static bool fuzz_keyval_value(const json_t *v)
{
	size_t i;

	if (json_is_string(v))
		return true;
	if (!json_is_array(v) || json_array_size(v) < 2)
		return false;
	for (i = 0; i < json_array_size(v); i++)
		if (!json_is_string(json_array_get(v, i)))
			return false;
	return true;
}

static void fuzz_check_keys(const json_t *obj, bool strings)
{
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)obj, key, v) {
		size_t n = strlen(key);

		if (n < 1 || n > OPTS_KEY_MAX_BYTES ||
		    strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"abcdefghijklmnopqrstuvwxyz0123456789_.-") != n)
			fuzz_fail("a key outside the rules", key);
		if (strings && !fuzz_keyval_value(v))
			fuzz_fail("a keyval value that is not a string or a "
				  "repeated key's list",
				  key);
	}
}

/* fuzz_keyval_item() - append ",key=value" (no comma first) to @out */
static void fuzz_keyval_item(char **out, size_t *cap, size_t *len,
			     const char *key, const json_t *v)
{
	const char *val = json_string_value(v);
	size_t need = strlen(key) + 2 * json_string_length(v) + 3;

	if (*len + need + 1 > *cap) {
		*cap = 2 * (*len + need + 1);
		*out = realloc(*out, *cap);
		if (!*out)
			abort();
	}
	if (*len)
		(*out)[(*len)++] = ',';
	*len += (size_t)sprintf(*out + *len, "%s=", key);
	for (size_t i = 0; i < json_string_length(v); i++) {
		if (val[i] == ',')
			(*out)[(*len)++] = ',';
		(*out)[(*len)++] = val[i];
	}
}

/* fuzz_keyval() - @obj as keyval text: key=value items, commas doubled, a
 * list as its key repeated */
static char *fuzz_keyval(const json_t *obj)
{
	size_t cap = 16, len = 0, i;
	char *out = malloc(cap);
	const char *key;
	json_t *v, *e;

	if (!out)
		abort();
	json_object_foreach ((json_t *)obj, key, v) {
		if (json_is_array(v)) {
			json_array_foreach (v, i, e)
				fuzz_keyval_item(&out, &cap, &len, key, e);
		} else {
			fuzz_keyval_item(&out, &cap, &len, key, v);
		}
	}
	out[len] = '\0';
	return out;
}

/* fuzz_err_names() - a getter's error must name @key in quotes */
static void fuzz_err_names(struct nh_error *err, const char *key)
{
	char quoted[OPTS_KEY_MAX_BYTES + 3];

	if (!err || !err->msg[0])
		fuzz_fail("a getter failed without a message", key);
	snprintf(quoted, sizeof(quoted), "'%s'", key);
	if (!strstr(err->msg, quoted))
		fuzz_fail("a getter's message does not name the key", err->msg);
	nh_error_free(err);
}

static void fuzz_getters(const json_t *obj, uint8_t mode)
{
	const int64_t *b = fuzz_int_bounds[(mode >> 2) & 3];
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)obj, key, v) {
		struct nh_error *err = NULL;
		const char *s = json_string_value(v);
		bool bv = false, pbv;
		int64_t iv;
		uint64_t sv, psv;

		if (!opts_has(obj, key))
			fuzz_fail("opts_has() misses a key", key);
		if (opts_get_str(obj, key, NULL, &err) != s)
			fuzz_fail("opts_get_str()", key);
		if (!s)
			fuzz_err_names(err, key);
		err = NULL;

		if (opts_get_bool(obj, key, &bv, &err)) {
			if (s && (!opts_parse_bool(s, &pbv) || pbv != bv))
				fuzz_fail("opts_get_bool() and "
					  "opts_parse_bool() disagree",
					  s);
		} else {
			if (s && opts_parse_bool(s, &pbv))
				fuzz_fail("opts_get_bool() refused a word", s);
			fuzz_err_names(err, key);
		}
		err = NULL;

		if (opts_get_int(obj, key, b[0], b[1], &iv, &err)) {
			if (iv < b[0] || iv > b[1])
				fuzz_fail("opts_get_int() out of bounds", key);
		} else {
			fuzz_err_names(err, key);
		}
		err = NULL;

		if (opts_get_size(obj, key, &sv, &err)) {
			if (s && (!opts_parse_size(s, &psv) || psv != sv))
				fuzz_fail("opts_get_size() and "
					  "opts_parse_size() disagree",
					  s);
		} else {
			if (s && opts_parse_size(s, &psv))
				fuzz_fail("opts_get_size() refused a size", s);
			fuzz_err_names(err, key);
		}
	}
}

/* fuzz_resolves() - would sockaddr_parse() look @v's host up by name? */
static bool fuzz_resolves(const json_t *v)
{
	const char *s = json_string_value(v), *colon;
	char host[64];
	size_t n;

	if (!s || s[0] == '[' || !(colon = strrchr(s, ':')))
		return false;
	n = (size_t)(colon - s);
	if (n == 0)
		return false;
	if (n >= sizeof(host))
		return true; /* refused as too long, but be safe */
	memcpy(host, s, n);
	host[n] = '\0';
	return inet_pton(AF_INET, host, &(struct in_addr){0}) != 1;
}

/* fuzz_names_host() - a stream or dgram address with a host that is not
 * numeric (flat "addr.host" or nested {"host": ...}): looked up by name */
static bool fuzz_names_host(const json_t *obj)
{
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)obj, key, v) {
		const json_t *host = NULL;
		const char *h;
		size_t n = strlen(key);
		struct in6_addr a6;

		if (json_is_object(v))
			host = json_object_get(v, "host");
		else if (n >= 5 && !strcmp(key + n - 5, ".host"))
			host = v;
		h = json_string_value(host);
		if (h && inet_pton(AF_INET, h, &a6) != 1 &&
		    inet_pton(AF_INET6, h, &a6) != 1)
			return true;
	}
	return false;
}

static void fuzz_netdev_check(json_t *obj)
{
	static const char *const addr_keys[] = {"listen", "connect", "udp",
						"mcast", "localaddr"};
	const char *type = json_string_value(json_object_get(obj, "type"));
	struct nh_error *err = NULL;
	bool ok;

	if (type && !strcmp(type, "socket"))
		for (size_t i = 0; i < sizeof(addr_keys) / sizeof(*addr_keys);
		     i++)
			if (fuzz_resolves(json_object_get(obj, addr_keys[i])))
				return;
	if (type && !strcmp(type, "pcap"))
		json_object_del(obj, "filter");
	if (type && (!strcmp(type, "stream") || !strcmp(type, "dgram")) &&
	    fuzz_names_host(obj))
		return;

	ok = netdev_check(obj, &err);
	if (ok != !err)
		fuzz_fail("netdev_check()'s result and its error disagree",
			  err ? err->msg : NULL);
	if (err && !err->msg[0])
		fuzz_fail("netdev_check() failed without a message", NULL);
	nh_error_free(err);
	if (netdev_first())
		fuzz_fail("netdev_check() made a netdev", NULL);
}

static void fuzz_one_object(json_t *obj, bool keyval, uint8_t mode)
{
	fuzz_check_keys(obj, keyval);
	fuzz_getters(obj, mode);
	fuzz_netdev_check(obj);
}

static void fuzz_parse(const char *text, uint8_t mode)
{
	const char *implied = (mode & 1) ? NULL : "type";
	struct nh_error *err = NULL;
	json_t *obj = opts_parse(text, implied, &err), *again;
	bool keyval = text[strspn(text, " \t\n\r")] != '{' &&
		      text[strspn(text, " \t\n\r")] != '[';
	char *back;

	if (!obj) {
		if (!err || !err->msg[0])
			fuzz_fail("opts_parse() failed without a message",
				  text);
		nh_error_free(err);
		return;
	}
	if (err)
		fuzz_fail("opts_parse() succeeded with an error", err->msg);
	if (!json_is_object(obj))
		fuzz_fail("opts_parse() gave a non-object", text);
	if (keyval) {
		fuzz_check_keys(obj, true);
		back = fuzz_keyval(obj);
		again = opts_parse(back, implied, &err);
		if (!again || !json_equal(obj, again))
			fuzz_fail("keyval written back parses differently",
				  back);
		json_decref(again);
		free(back);
	}
	fuzz_one_object(obj, keyval, mode);
	json_decref(obj);
}

static void fuzz_config(const uint8_t *data, size_t size, uint8_t mode)
{
	struct nh_error *err = NULL;
	char path[64];
	json_t *arr, *v;
	size_t i;

	if (config_fd < 0) {
		config_fd = memfd_create("fuzz_opts", MFD_CLOEXEC);
		if (config_fd < 0)
			abort();
	}
	if (ftruncate(config_fd, 0) < 0 ||
	    pwrite(config_fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", config_fd);
	arr = opts_load_config(path, &err);
	if (!arr) {
		if (!err || !err->msg[0])
			fuzz_fail("opts_load_config() failed without a message",
				  NULL);
		nh_error_free(err);
		return;
	}
	if (!json_is_array(arr))
		fuzz_fail("opts_load_config() gave a non-array", NULL);
	json_array_foreach (arr, i, v) {
		if (!json_is_object(v))
			fuzz_fail("a config element that is not an object",
				  NULL);
		fuzz_one_object(v, false, mode);
	}
	json_decref(arr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool registered;
	uint8_t mode;
	char *text;

	if (!registered) {
		backends_register_all();
		registered = true;
	}
	if (size == 0)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (mode & 2) {
		fuzz_config(data, size, mode);
		return 0;
	}
	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_parse(text, mode);
	free(text);
	return 0;
}
