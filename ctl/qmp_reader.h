/* SPDX-License-Identifier: MIT */
/* qmp_reader.h - find JSON messages in a QMP byte stream
 *
 * QMP clients send JSON values back to back, with or without newlines
 * between them, in pieces of any size.  The reader scans the bytes as they
 * arrive, tracking strings, escapes and the nesting of braces and brackets,
 * and hands over each complete top-level value, parsed (jansson), one at a
 * time: objects and arrays at their closing brace or bracket, strings at
 * their closing quote, bare scalars (42, true) at the byte after them.
 * Like QEMU's parser it also accepts single-quoted strings (in which " needs
 * no escape) and the escape \' in strings of both kinds; they are rewritten
 * to JSON before parsing.
 *
 * Errors never stop the stream: a malformed value is reported once as
 * "JSON parse error, <what>" (<what> is jansson's text, or the scanner's:
 * "stray '}'", "']' does not match '{'", "stray byte 0x1b", "invalid byte
 * 0x0a in a string", ...), and the reader resynchronises as QEMU's lexer
 * does after an error:
 *   - an error found inside a message whose end is not known yet (a
 *     closer of the wrong kind, a message longer than QMP_READER_MAX_BYTES
 *     or nested deeper than QMP_READER_MAX_DEPTH, reported as soon as it
 *     crosses the limit: "JSON parse error, message too long" / "... too
 *     deeply nested") drops the rest of the line: everything up to and
 *     including the next line end, without buffering it; then parsing
 *     starts afresh.  100 000 '[' followed by a line end cost one error.
 *     Any other control character but TAB, or 0xFE / 0xFF, also ends the
 *     skip (QEMU's way to reset a confused parser).
 *   - a message that was complete but is not valid JSON, and a stray
 *     closer or separator outside any message, cost that message only: the
 *     next byte starts a new one, so messages sent back to back without
 *     line ends still get through.
 *   - outside such a skip, a control character other than TAB, CR and
 *     LF, any control character inside a string (a raw line end
 *     included), or 0xFE / 0xFF is reported and ends the message in
 *     progress there; the next byte starts afresh.
 * Error texts are valid UTF-8 without control characters.
 */
#ifndef NH_QMP_READER_H
#define NH_QMP_READER_H

#include <jansson.h>
#include <stddef.h>

#define QMP_READER_MAX_BYTES (1u << 20) /* one message, bytes */
#define QMP_READER_MAX_DEPTH 1024	/* nesting of objects and arrays */

struct qmp_reader;

/**
 * typedef qmp_reader_fn - called once per message found, in stream order
 * @ctx:	the context given to qmp_reader_feed()
 * @value:	the parsed value, owned by the callee; NULL on error
 * @error:	on error: the whole message for the client, e.g.
 *		"JSON parse error, invalid token near 'tru'"; NULL otherwise
 *
 * The value may be any JSON value; checking that it is an object is the
 * caller's business.  Exactly one of @value and @error is non-NULL.  The
 * callee must not feed or free the reader.
 */
typedef void (*qmp_reader_fn)(void *ctx, json_t *value, const char *error);

/* qmp_reader_new() - a reader with the given limits (0: the defaults) */
struct qmp_reader *qmp_reader_new(size_t max_bytes, unsigned max_depth);

/* qmp_reader_free() - free it and anything buffered; NULL is fine */
void qmp_reader_free(struct qmp_reader *r);

/**
 * qmp_reader_feed() - scan @len bytes of the stream
 * Calls @fn for every message completed by these bytes before returning;
 * keeps the incomplete tail for the next call.
 */
void qmp_reader_feed(struct qmp_reader *r, const char *buf, size_t len,
		     qmp_reader_fn fn, void *ctx);

#endif /* NH_QMP_READER_H */
