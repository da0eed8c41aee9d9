// SPDX-License-Identifier: MIT
/* qmp_reader.c - find JSON messages in a QMP byte stream
 *
 * A byte-at-a-time scanner that knows just enough JSON to see where a
 * top-level value ends: strings (both quote styles, escapes), nesting of
 * braces and brackets, bare scalars.  It copies the message into one
 * buffer as it goes (rewriting single-quoted strings into JSON), and hands
 * the finished message to jansson, which does the real parsing.
 *
 * Owns: the buffer of the message in progress, never more than max_bytes.
 * Must never: buffer past the limit, look at a byte twice (no rescans on
 * short feeds), or stop reporting and resynchronising after an error:
 * whatever came before, a line end followed by a valid message gets that
 * message through.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp_reader.h"

#define QMP_READER_KEEP_BYTES (64u << 10) /* keep a buffer this big */
#define QMP_READER_MIN_BYTES  256u	  /* first allocation */
#define QMP_READER_ERROR_MAX  256u	  /* an error message, bytes */

struct qmp_reader {
	size_t max_bytes;
	unsigned max_depth;
	char *buf; /* the message so far, as JSON */
	size_t len, cap;
	size_t depth;	 /* open braces and brackets */
	uint8_t *braces; /* bit per level up to max_depth: 1 '{', 0 '[' */
	char quote;	 /* inside a string: its quote, else 0 */
	bool escape;	 /* the previous byte was a backslash in a string */
	bool scalar;	 /* inside a bare top-level scalar (42, true, ...) */
	bool discard;	 /* after an error: skip to the end of the line */
};

struct qmp_reader *qmp_reader_new(size_t max_bytes, unsigned max_depth)
{
	struct qmp_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->max_bytes = max_bytes ? max_bytes : QMP_READER_MAX_BYTES;
	r->max_depth = max_depth ? max_depth : QMP_READER_MAX_DEPTH;
	r->braces = calloc(r->max_depth / 8 + 1, 1);
	if (!r->braces) {
		free(r);
		return NULL;
	}
	return r;
}

void qmp_reader_free(struct qmp_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->braces);
	free(r);
}

/* Forget the message in progress; give back a large buffer */
static void reader_reset(struct qmp_reader *r)
{
	r->len = 0;
	r->depth = 0;
	r->quote = 0;
	r->escape = false;
	r->scalar = false;
	r->discard = false;
	if (r->cap > QMP_READER_KEEP_BYTES) {
		free(r->buf);
		r->buf = NULL;
		r->cap = 0;
	}
}

/*
 * Copy @text into @out (QMP_READER_ERROR_MAX bytes) so that it is valid
 * UTF-8 without control characters: jansson's messages quote the input,
 * which may be anything, and the text goes back to the client in a JSON
 * string.
 */
static void sanitize_text(char *out, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t o = 0;

	while (*p && o + 5 < QMP_READER_ERROR_MAX) {
		unsigned n = 0, i;

		if (*p < 0x80) {
			out[o++] = *p < 0x20 || *p == 0x7f ? '?' : (char)*p;
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			n = 1;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 2;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 3;
		for (i = 1; i <= n && (p[i] & 0xc0) == 0x80; i++)
			;
		/* overlong, surrogate and out-of-range forms */
		if (n == 0 || i <= n || (p[0] == 0xe0 && p[1] < 0xa0) ||
		    (p[0] == 0xed && p[1] >= 0xa0) ||
		    (p[0] == 0xf0 && p[1] < 0x90) ||
		    (p[0] == 0xf4 && p[1] >= 0x90)) {
			out[o++] = '?';
			p++;
			continue;
		}
		memcpy(out + o, p, n + 1);
		o += n + 1;
		p += n + 1;
	}
	out[o] = '\0';
}

/*
 * Report an error and forget the message in progress.  With @skip_line the
 * error was found inside a message whose end is not known (too long, too
 * deep, a closer of the wrong kind): the rest of the line goes too, up to
 * and including the next line end (see is_resync_byte()).  Without it the
 * message was complete or the byte that failed is itself a resync point,
 * and the next byte starts afresh.
 */
static void reader_fail(struct qmp_reader *r, qmp_reader_fn fn, void *ctx,
			const char *what, bool skip_line)
{
	char text[QMP_READER_ERROR_MAX], msg[QMP_READER_ERROR_MAX + 32];

	sanitize_text(text, what);
	snprintf(msg, sizeof(msg), "JSON parse error, %s", text);
	reader_reset(r);
	r->discard = skip_line;
	fn(ctx, NULL, msg);
}

/* Append @n bytes to the message; false (reported) past the limit */
static bool reader_put(struct qmp_reader *r, const char *p, size_t n,
		       qmp_reader_fn fn, void *ctx)
{
	if (n > r->max_bytes - r->len) {
		reader_fail(r, fn, ctx, "message too long", true);
		return false;
	}
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : QMP_READER_MIN_BYTES;
		char *b;

		while (cap < r->len + n)
			cap *= 2;
		if (cap > r->max_bytes)
			cap = r->max_bytes;
		b = realloc(r->buf, cap);
		if (!b) {
			reader_fail(r, fn, ctx, "out of memory", true);
			return false;
		}
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return true;
}

/* The message is complete: parse it and hand it over */
static void reader_finish(struct qmp_reader *r, qmp_reader_fn fn, void *ctx)
{
	json_error_t jerr;
	json_t *v;

	v = json_loadb(r->buf, r->len, JSON_DECODE_ANY, &jerr);
	reader_reset(r);
	if (v)
		fn(ctx, v, NULL);
	else
		reader_fail(r, fn, ctx, jerr.text, false);
}

static bool brace_at(const struct qmp_reader *r, size_t level)
{
	return r->braces[level / 8] & (1u << (level % 8));
}

static void set_brace_at(struct qmp_reader *r, size_t level, bool brace)
{
	if (brace)
		r->braces[level / 8] |= (uint8_t)(1u << (level % 8));
	else
		r->braces[level / 8] &= (uint8_t) ~(1u << (level % 8));
}

/* A byte that QEMU's lexer never accepts: resets the reader */
static bool is_reset_byte(const struct qmp_reader *r, unsigned char c)
{
	if (c == 0xfe || c == 0xff)
		return true;
	if (c >= 0x20)
		return false;
	/* TAB, CR and LF are whitespace between tokens, never in strings */
	return r->quote || (c != '\t' && c != '\r' && c != '\n');
}

/*
 * A byte that ends the skip after an error: as in QEMU's lexer recovery,
 * a line end or any other control character but TAB, or 0xFE / 0xFF
 */
static bool is_resync_byte(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0xfe || c == 0xff;
}

static void reader_open(struct qmp_reader *r, char c, qmp_reader_fn fn,
			void *ctx)
{
	if (r->depth == r->max_depth) {
		reader_fail(r, fn, ctx, "too deeply nested", true);
		return;
	}
	set_brace_at(r, r->depth, c == '{');
	r->depth++;
	reader_put(r, &c, 1, fn, ctx);
}

static void reader_close(struct qmp_reader *r, char c, qmp_reader_fn fn,
			 void *ctx)
{
	bool brace = c == '}';
	char what[48];

	if (r->depth == 0) {
		snprintf(what, sizeof(what), "stray '%c'", c);
		reader_fail(r, fn, ctx, what, false);
		return;
	}
	if (brace_at(r, r->depth - 1) != brace) {
		snprintf(what, sizeof(what), "'%c' does not match '%c'", c,
			 brace ? '[' : '{');
		reader_fail(r, fn, ctx, what, true);
		return;
	}
	if (reader_put(r, &c, 1, fn, ctx) && --r->depth == 0)
		reader_finish(r, fn, ctx);
}

/* One byte inside a string; rewrites single-quoted strings into JSON */
static void reader_string_byte(struct qmp_reader *r, char c, qmp_reader_fn fn,
			       void *ctx)
{
	if (r->escape) {
		r->escape = false;
		if (c == '\'') /* \' is QEMU's, not JSON's: a plain ' */
			reader_put(r, "'", 1, fn, ctx);
		else if (reader_put(r, "\\", 1, fn, ctx))
			reader_put(r, &c, 1, fn, ctx);
		return;
	}
	if (c == '\\') {
		r->escape = true;
	} else if (c == r->quote) {
		r->quote = 0;
		/* a top-level string ends the message */
		if (reader_put(r, "\"", 1, fn, ctx) && r->depth == 0)
			reader_finish(r, fn, ctx);
	} else if (c == '"') { /* in a single-quoted string */
		reader_put(r, "\\\"", 2, fn, ctx);
	} else {
		reader_put(r, &c, 1, fn, ctx);
	}
}

static bool is_delimiter(char c)
{
	return c != '\0' && strchr(" \t\r\n{}[],:\"'", c) != NULL;
}

static void reader_byte(struct qmp_reader *r, char c, qmp_reader_fn fn,
			void *ctx)
{
	if (r->discard) {
		if (is_resync_byte((unsigned char)c))
			r->discard = false;
		return;
	}
	if (r->scalar) {
		if (!is_delimiter(c) && !is_reset_byte(r, (unsigned char)c)) {
			reader_put(r, &c, 1, fn, ctx);
			return;
		}
		r->scalar = false;
		reader_finish(r, fn, ctx);
	}
	if (is_reset_byte(r, (unsigned char)c)) {
		char what[48];

		if (r->quote)
			snprintf(what, sizeof(what),
				 "invalid byte 0x%02x in a string",
				 (unsigned char)c);
		else
			snprintf(what, sizeof(what), "stray byte 0x%02x",
				 (unsigned char)c);
		/* the byte itself is the resync point: nothing to skip */
		reader_fail(r, fn, ctx, what, false);
		return;
	}
	if (r->quote) {
		reader_string_byte(r, c, fn, ctx);
		return;
	}
	switch (c) {
	case ' ':
	case '\t':
	case '\r':
	case '\n':
		/* a line end that overflows ends its own line's skip */
		if (r->depth > 0 && !reader_put(r, &c, 1, fn, ctx) &&
		    is_resync_byte((unsigned char)c))
			r->discard = false;
		break;
	case '{':
	case '[':
		reader_open(r, c, fn, ctx);
		break;
	case '}':
	case ']':
		reader_close(r, c, fn, ctx);
		break;
	case '"':
	case '\'':
		r->quote = c;
		reader_put(r, "\"", 1, fn, ctx);
		break;
	case ',':
	case ':':
		if (r->depth == 0) {
			char what[16];

			snprintf(what, sizeof(what), "stray '%c'", c);
			reader_fail(r, fn, ctx, what, false);
			break;
		}
		reader_put(r, &c, 1, fn, ctx);
		break;
	default:
		if (r->depth == 0)
			r->scalar = true;
		reader_put(r, &c, 1, fn, ctx);
		break;
	}
}

void qmp_reader_feed(struct qmp_reader *r, const char *buf, size_t len,
		     qmp_reader_fn fn, void *ctx)
{
	for (size_t i = 0; i < len; i++)
		reader_byte(r, buf[i], fn, ctx);
}
