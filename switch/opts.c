// SPDX-License-Identifier: MIT
/* opts.c - option syntax: keyval and JSON arguments, typed getters, --config
 *
 * Turns a -netdev argument (QEMU's "TYPE,key=value" form or a JSON object)
 * or a --config file into JSON, and reads typed values back out of it with
 * QEMU's error messages.  It owns nothing beyond the objects it returns to
 * its caller; it never logs, and never trusts a length it was given: every
 * text, key and file is bounded before it is copied.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

/* The hint QEMU appends to a bad size; kept on its own lines, as QEMU
 * prints it, so the text matches what users already know */
#define OPTS_SIZE_MSG "Parameter '%s' expects a non-negative number below 2^64"
#define OPTS_SIZE_HINT                                                         \
	"Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, "       \
	"tera-, peta-\nand exabytes, respectively."

/* How much of an overlong key or a bad value an error message quotes */
#define OPTS_QUOTE_BYTES       32
#define OPTS_VALUE_QUOTE_BYTES 64

/* Fraction digits of a size that take part in the value: 10^18 < 2^60
 * keeps the long division in opts_scale_fraction() inside 64 bits */
#define OPTS_SIZE_FRACTION_DIGITS 18

static bool opts_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* opts_key_check() - @key (@len bytes, not terminated) is a valid key */
static bool opts_key_check(const char *key, size_t len, struct nh_error **errp)
{
	if (len > OPTS_KEY_MAX_BYTES) {
		nh_error_setg(errp,
			      "Parameter '%.*s...' is too long (at most %d "
			      "bytes)",
			      OPTS_QUOTE_BYTES, key, OPTS_KEY_MAX_BYTES);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!opts_key_char(key[i])) {
			nh_error_setg(errp, "Invalid parameter '%.*s'",
				      (int)len, key);
			return false;
		}
	}
	if (!len) {
		nh_error_setg(errp, "Invalid parameter ''");
		return false;
	}
	return true;
}

/**
 * opts_keyval_value() - copy one value, undoing ",," escapes
 * @p:		first byte of the value
 * @buf:	room for the value; at least strlen(@p) + 1 bytes
 * @len:	bytes stored in @buf (it is also NUL-terminated)
 *
 * Return: the ',' that ends the value, or the terminating NUL
 */
static const char *opts_keyval_value(const char *p, char *buf, size_t *len)
{
	size_t n = 0;

	for (; *p; p++) {
		if (*p == ',') {
			if (p[1] != ',')
				break;
			p++;
		}
		buf[n++] = *p;
	}
	buf[n] = '\0';
	*len = n;
	return p;
}

/* opts_keyval_put() - add @key=@val to @obj; a repeated key collects its
 * values into an array, in order (opts_check_keys() and the getters refuse
 * it where the key is not a list) */
static bool opts_keyval_put(json_t *obj, const char *key, const char *val,
			    size_t vlen, struct nh_error **errp)
{
	json_t *old = json_object_get(obj, key);
	json_t *s = json_stringn(val, vlen);
	json_t *list;

	if (!s) {
		/* jansson refuses invalid UTF-8 (or is out of memory) */
		nh_error_setg(
		    errp, "Value of parameter '%s' is not valid UTF-8", key);
		return false;
	}
	if (json_is_array(old)) {
		if (json_array_append_new(old, s))
			goto oom;
		return true;
	}
	if (old) {
		list = json_array();
		if (!list || json_array_append(list, old) ||
		    json_object_set_new(obj, key, list)) {
			json_decref(list);
			goto oom;
		}
		if (json_array_append_new(list, s))
			goto oom_list;
		return true;
	}
	if (json_object_set_new(obj, key, s))
		goto oom_list;
	return true;
oom:
	json_decref(s);
oom_list:
	nh_error_setg(errp, "Out of memory");
	return false;
}

static json_t *opts_parse_keyval(const char *text, size_t len,
				 const char *implied, struct nh_error **errp)
{
	char key[OPTS_KEY_MAX_BYTES + 1];
	json_t *obj = json_object();
	char *val = malloc(len + 1);
	const char *p = text;
	size_t vlen, klen;

	if (!obj || !val) {
		nh_error_setg(errp, "Out of memory");
		goto fail;
	}
	while (*p) {
		const char *keyp = p;

		klen = strcspn(p, "=,");
		if (p == text && implied && klen && p[klen] != '=') {
			/* "TYPE,...": the implied key's value */
			p = opts_keyval_value(p, val, &vlen);
			if (!opts_keyval_put(obj, implied, val, vlen, errp))
				goto fail;
		} else {
			if (!opts_key_check(keyp, klen, errp))
				goto fail;
			memcpy(key, keyp, klen);
			key[klen] = '\0';
			p += klen;
			if (*p == '=') {
				p = opts_keyval_value(p + 1, val, &vlen);
				if (!opts_keyval_put(obj, key, val, vlen, errp))
					goto fail;
			} else if (!opts_keyval_put(obj, key, "on", 2, errp)) {
				/* a bare name is a flag, as in QemuOpts */
				goto fail;
			}
		}
		if (*p == ',')
			p++;
	}
	free(val);
	return obj;

fail:
	free(val);
	json_decref(obj);
	return NULL;
}

/* opts_keys_check() - every key of a JSON object follows the keyval rules */
static bool opts_keys_check(const json_t *obj, struct nh_error **errp)
{
	void *it;

	for (it = json_object_iter((json_t *)obj); it;
	     it = json_object_iter_next((json_t *)obj, it)) {
		const char *key = json_object_iter_key(it);

		if (!opts_key_check(key, strlen(key), errp))
			return false;
	}
	return true;
}

static json_t *opts_parse_json(const char *text, size_t len,
			       struct nh_error **errp)
{
	json_error_t jerr;
	json_t *root;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		nh_error_setg(errp,
			      "JSON parse error at line %d, column %d: %s",
			      jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		nh_error_setg(errp, "JSON argument must be an object, not an "
				    "array");
		json_decref(root);
		return NULL;
	}
	if (!opts_keys_check(root, errp)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static bool opts_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

json_t *opts_parse(const char *text, const char *implied,
		   struct nh_error **errp)
{
	size_t len = strnlen(text, OPTS_TEXT_MAX_BYTES + 1);
	const char *p = text;

	if (len > OPTS_TEXT_MAX_BYTES) {
		nh_error_setg(errp, "Argument is too long (more than %d bytes)",
			      OPTS_TEXT_MAX_BYTES);
		return NULL;
	}
	while (opts_space(*p))
		p++;
	/* '[' is never a backend type: read it as JSON to say what is wrong */
	if (*p == '{' || *p == '[')
		return opts_parse_json(text, len, errp);
	return opts_parse_keyval(text, len, implied, errp);
}

/* opts_key_is() - whether @known (an entry of opts_check_keys()'s list,
 * "KEY" or "KEY[]") names @key; *@list tells whether it is a list */
static bool opts_key_is(const char *known, const char *key, bool *list)
{
	size_t n = strlen(known);

	*list = n > 2 && !strcmp(known + n - 2, "[]");
	if (*list)
		n -= 2;
	return !strncmp(known, key, n) && key[n] == '\0';
}

bool opts_repeated(const json_t *v, const char *key, struct nh_error **errp)
{
	size_t i;

	if (!json_is_array(v) || json_array_size(v) < 2)
		return false;
	for (i = 0; i < json_array_size(v); i++)
		if (!json_is_string(json_array_get(v, i)))
			return false;
	nh_error_setg(errp, "Parameter '%s' is duplicated", key);
	return true;
}

bool opts_check_keys(const json_t *opts, const char *const *known,
		     struct nh_error **errp)
{
	void *it;

	if (!json_is_object(opts)) {
		nh_error_setg(errp, "Invalid parameter type, expected: object");
		return false;
	}
	for (it = json_object_iter((json_t *)opts); it;
	     it = json_object_iter_next((json_t *)opts, it)) {
		const char *key = json_object_iter_key(it);
		const char *const *k;
		bool list = false;

		for (k = known; *k; k++) {
			if (opts_key_is(*k, key, &list))
				break;
		}
		if (!*k) {
			nh_error_setg(errp, "Parameter '%s' is unexpected",
				      key);
			return false;
		}
		if (!list && opts_repeated(json_object_iter_value(it), key,
					   errp))
			return false;
	}
	return true;
}

bool opts_has(const json_t *opts, const char *key)
{
	return json_is_object(opts) && json_object_get(opts, key);
}

const char *opts_get_str(const json_t *opts, const char *key, const char *def,
			 struct nh_error **errp)
{
	json_t *v = json_object_get(opts, key);

	if (!v)
		return def;
	if (!json_is_string(v)) {
		if (!opts_repeated(v, key, errp))
			nh_error_setg(errp,
				      "Invalid parameter type for '%s', "
				      "expected: string",
				      key);
		return NULL;
	}
	return json_string_value(v);
}

bool opts_get_opt_str(const json_t *opts, const char *key, const char **out,
		      struct nh_error **errp)
{
	*out = opts_get_str(opts, key, NULL, errp);
	return *out || !opts_has(opts, key);
}

bool opts_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"on", "yes", "true", "y"};
	static const char *const no[] = {"off", "no", "false", "n"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(s, yes[i])) {
			*out = true;
			return true;
		}
		if (!strcmp(s, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

bool opts_get_bool(const json_t *opts, const char *key, bool *out,
		   struct nh_error **errp)
{
	json_t *v = json_object_get(opts, key);

	if (!v)
		return true;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return true;
	}
	if (!json_is_string(v)) {
		if (!opts_repeated(v, key, errp))
			nh_error_setg(errp,
				      "Invalid parameter type for '%s', "
				      "expected: boolean",
				      key);
		return false;
	}
	if (!opts_parse_bool(json_string_value(v), out)) {
		nh_error_setg(errp, "Parameter '%s' expects 'on' or 'off'",
			      key);
		return false;
	}
	return true;
}

/**
 * opts_int_parse() - a whole string as strtoll() base 0 reads it
 * Return: 0, -EINVAL (not a number, or trailing characters) or -ERANGE
 */
static int opts_int_parse(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (end == s || *end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*out = v;
	return 0;
}

bool opts_get_int(const json_t *opts, const char *key, int64_t min, int64_t max,
		  int64_t *out, struct nh_error **errp)
{
	json_t *v = json_object_get(opts, key);
	int64_t n;
	int ret;

	if (!v)
		return true;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
		ret = 0;
	} else if (json_is_string(v)) {
		ret = opts_int_parse(json_string_value(v), &n);
	} else {
		if (!opts_repeated(v, key, errp))
			nh_error_setg(errp,
				      "Invalid parameter type for '%s', "
				      "expected: integer",
				      key);
		return false;
	}
	if (ret == -EINVAL) {
		nh_error_setg(errp, "Parameter '%s' expects a number", key);
		return false;
	}
	if (ret == -ERANGE || n < min || n > max) {
		nh_error_setg(errp,
			      "Parameter '%s' expects a value between %lld and "
			      "%lld",
			      key, (long long)min, (long long)max);
		return false;
	}
	*out = n;
	return true;
}

/* opts_size_shift() - log2 of a size suffix's multiplier, or -1 */
static int opts_size_shift(char c)
{
	switch (c) {
	case 'b':
	case 'B':
		return 0;
	case 'k':
	case 'K':
		return 10;
	case 'm':
	case 'M':
		return 20;
	case 'g':
	case 'G':
		return 30;
	case 't':
	case 'T':
		return 40;
	case 'p':
	case 'P':
		return 50;
	case 'e':
	case 'E':
		return 60;
	}
	return -1;
}

int opts_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/**
 * opts_scale_fraction() - @num / @den * 2^@shift, rounded half up
 * @num:	fraction numerator, below @den
 * @den:	a power of ten, at most 10^OPTS_SIZE_FRACTION_DIGITS
 * @shift:	0..60
 *
 * Binary long division, one bit of the result per step, so that the
 * remainder (below @den < 2^60) never overflows 64 bits when doubled.
 * Return: at most 2^@shift
 */
static uint64_t opts_scale_fraction(uint64_t num, uint64_t den, int shift)
{
	uint64_t q = 0;

	for (int i = 0; i < shift; i++) {
		num <<= 1;
		q <<= 1;
		if (num >= den) {
			num -= den;
			q |= 1;
		}
	}
	if (num * 2 >= den)
		q++;
	return q;
}

static int opts_size_parse_hex(const char *p, uint64_t *out)
{
	uint64_t v = 0;
	bool over = false;
	int d;

	if (opts_hex_digit(*p) < 0)
		return -EINVAL;
	for (; (d = opts_hex_digit(*p)) >= 0; p++) {
		if (v >> 60)
			over = true;
		v = v << 4 | (uint64_t)d;
	}
	/* No fraction, no suffix ('b' and 'e' are digits here anyway) */
	if (*p)
		return -EINVAL;
	if (over)
		return -ERANGE;
	*out = v;
	return 0;
}

/**
 * opts_size_parse() - qemu_strtosz() syntax, see opts_parse_size()
 * Return: 0, -EINVAL (not a size) or -ERANGE (above 2^64-1)
 */
static int opts_size_parse(const char *s, uint64_t *out)
{
	uint64_t ival = 0, fnum = 0, fden = 1, total, fbytes;
	bool over = false, fnonzero = false;
	const char *p = s;
	int shift = 0;

	while (opts_space(*p))
		p++;
	if (*p == '+')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		return opts_size_parse_hex(p + 2, out);

	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(ival, 10, &ival) ||
		    __builtin_add_overflow(ival, (uint64_t)(*p - '0'), &ival))
			over = true;
	}
	if (*p == '.') {
		int nfrac = 0;

		/* "1.k" is fine: the digits after '.' are optional */
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (*p != '0')
				fnonzero = true;
			if (nfrac < OPTS_SIZE_FRACTION_DIGITS) {
				fnum = fnum * 10 + (uint64_t)(*p - '0');
				fden *= 10;
				nfrac++;
			}
		}
	}
	if (*p) {
		shift = opts_size_shift(*p);
		if (shift < 0)
			return -EINVAL;
		p++;
	}
	if (*p)
		return -EINVAL;
	/* A fraction of a byte means nothing: it needs a bigger unit */
	if (fnonzero && shift == 0)
		return -EINVAL;
	if (over)
		return -ERANGE;

	fbytes = opts_scale_fraction(fnum, fden, shift);
	if (shift && ival >> (64 - shift))
		return -ERANGE;
	total = ival << shift;
	if (__builtin_add_overflow(total, fbytes, &total))
		return -ERANGE;
	*out = total;
	return 0;
}

bool opts_parse_size(const char *s, uint64_t *out)
{
	return opts_size_parse(s, out) == 0;
}

bool opts_get_size(const json_t *opts, const char *key, uint64_t *out,
		   struct nh_error **errp)
{
	json_t *v = json_object_get(opts, key);
	const char *s;
	int ret;

	if (!v)
		return true;
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if (n < 0) {
			nh_error_setg(errp, OPTS_SIZE_MSG, key);
			return false;
		}
		*out = (uint64_t)n;
		return true;
	}
	if (!json_is_string(v)) {
		if (!opts_repeated(v, key, errp))
			nh_error_setg(errp,
				      "Invalid parameter type for '%s', "
				      "expected: integer",
				      key);
		return false;
	}
	s = json_string_value(v);
	ret = opts_size_parse(s, out);
	if (ret == -ERANGE) {
		nh_error_setg(errp,
			      "Value '%.*s' is out of range for parameter "
			      "'%s'",
			      OPTS_VALUE_QUOTE_BYTES, s, key);
		return false;
	}
	if (ret) {
		nh_error_setg(errp, OPTS_SIZE_MSG "\n" OPTS_SIZE_HINT, key);
		return false;
	}
	return true;
}

/**
 * opts_read_file() - read all of @f, refusing more than @max bytes
 * @len:	bytes read
 * Return: a buffer (caller frees) or NULL with errno set: EFBIG when the
 * file is larger than @max, or the error of the read
 */
static char *opts_read_file(FILE *f, size_t max, size_t *len)
{
	size_t cap = 0, n = 0;
	char *buf = NULL, *nbuf;

	for (;;) {
		size_t want, got;

		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = nbuf;
		}
		want = cap - n;
		got = fread(buf + n, 1, want, f);
		n += got;
		if (n > max) {
			free(buf);
			errno = EFBIG;
			return NULL;
		}
		if (got < want) {
			if (ferror(f)) {
				int e = errno ? errno : EIO;

				free(buf);
				errno = e;
				return NULL;
			}
			break; /* end of file */
		}
	}
	*len = n;
	return buf;
}

json_t *opts_load_config(const char *path, struct nh_error **errp)
{
	struct nh_error *kerr = NULL;
	json_error_t jerr;
	json_t *root;
	size_t len, i;
	char *buf;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		nh_error_setg(errp, "%s: cannot open: %s", path,
			      strerror(errno));
		return NULL;
	}
	errno = 0;
	buf = opts_read_file(f, OPTS_CONFIG_MAX_BYTES, &len);
	if (!buf) {
		if (errno == EFBIG)
			nh_error_setg(errp, "%s: larger than %d bytes", path,
				      OPTS_CONFIG_MAX_BYTES);
		else
			nh_error_setg(errp, "%s: cannot read: %s", path,
				      strerror(errno));
		fclose(f);
		return NULL;
	}
	fclose(f);

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (!root) {
		nh_error_setg(errp, "%s:%d:%d: %s", path, jerr.line,
			      jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_array(root)) {
		nh_error_setg(
		    errp, "%s: expected a JSON array of netdev objects", path);
		json_decref(root);
		return NULL;
	}
	for (i = 0; i < json_array_size(root); i++) {
		json_t *el = json_array_get(root, i);

		if (!json_is_object(el)) {
			nh_error_setg(errp, "%s: element %zu is not an object",
				      path, i);
			json_decref(root);
			return NULL;
		}
		if (!opts_keys_check(el, &kerr)) {
			nh_error_setg(errp, "%s: element %zu: %s", path, i,
				      kerr->msg);
			nh_error_free(kerr);
			json_decref(root);
			return NULL;
		}
	}
	return root;
}
