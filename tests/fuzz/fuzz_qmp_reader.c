// SPDX-License-Identifier: MIT
/* fuzz_qmp_reader.c - libFuzzer target for the QMP stream reader
 *
 * The first input byte picks the limits and how the rest is cut into
 * pieces; the rest is the byte stream a client sends.  Checked on every
 * input, besides "no crash, no leak" (the sanitizers' part):
 *   - every callback carries exactly one of a value and an error;
 *   - errors start with "JSON parse error, " and are valid UTF-8 (they go
 *     back to the client inside a JSON string);
 *   - values can be encoded again;
 *   - the results do not depend on how the stream was cut: the input fed
 *     whole and fed in pieces gives the same messages and errors.
 * Built with tests/fuzz/standalone.c where libFuzzer is not available.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp_reader.h"

#define FUZZ_ERROR_PREFIX "JSON parse error, "

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one reader handed over: "V" + encoded value or "E" + error */
struct fuzz_log {
	char **items;
	size_t n, cap;
};

static void fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_qmp_reader: %s: %s\n", what,
		detail ? detail : "(null)");
	abort();
}

static void fuzz_log_add(struct fuzz_log *log, char kind, const char *text)
{
	size_t len = strlen(text);
	char *item = malloc(len + 2);

	if (!item)
		abort();
	item[0] = kind;
	memcpy(item + 1, text, len + 1);
	if (log->n == log->cap) {
		log->cap = log->cap ? 2 * log->cap : 16;
		log->items = realloc(log->items, log->cap * sizeof(char *));
		if (!log->items)
			abort();
	}
	log->items[log->n++] = item;
}

static void fuzz_log_free(struct fuzz_log *log)
{
	for (size_t i = 0; i < log->n; i++)
		free(log->items[i]);
	free(log->items);
	memset(log, 0, sizeof(*log));
}

static void fuzz_collect(void *ctx, json_t *value, const char *error)
{
	struct fuzz_log *log = ctx;
	json_t *s;
	char *text;

	if (!value == !error)
		fuzz_fail("callback with both or neither of value and error",
			  error);
	if (error) {
		if (strncmp(error, FUZZ_ERROR_PREFIX,
			    strlen(FUZZ_ERROR_PREFIX)))
			fuzz_fail("error without the prefix", error);
		s = json_string(error);
		if (!s)
			fuzz_fail("error text is not valid UTF-8", error);
		json_decref(s);
		fuzz_log_add(log, 'E', error);
		return;
	}
	text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(value);
	if (!text)
		fuzz_fail("a delivered value cannot be encoded", NULL);
	fuzz_log_add(log, 'V', text);
	free(text);
}

/* A small deterministic generator for piece sizes */
static uint32_t fuzz_next(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 16;
}

static void fuzz_feed(struct qmp_reader *r, const uint8_t *data, size_t size,
		      uint8_t mode, struct fuzz_log *log)
{
	uint32_t state = mode;
	size_t off = 0;

	while (off < size) {
		size_t piece;

		switch (mode & 3) {
		case 0:
			piece = 1;
			break;
		case 1:
			piece = 1 + fuzz_next(&state) % 7;
			break;
		case 2:
			piece = 1 + fuzz_next(&state) % 300;
			break;
		default:
			piece = size;
			break;
		}
		if (piece > size - off)
			piece = size - off;
		qmp_reader_feed(r, (const char *)data + off, piece,
				fuzz_collect, log);
		off += piece;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_log whole = {0}, pieces = {0};
	struct qmp_reader *a, *b;
	size_t max_bytes = 0;
	unsigned max_depth = 0;
	uint8_t mode;

	if (size == 0)
		return 0;
	mode = data[0];
	data++;
	size--;
	/* small limits now and then, to reach the limit paths quickly */
	if (mode & 0x80)
		max_bytes = 8 + (size_t)((mode >> 2) & 0x1f) * 8;
	if (mode & 0x40)
		max_depth = 1 + ((mode >> 2) & 7);

	a = qmp_reader_new(max_bytes, max_depth);
	b = qmp_reader_new(max_bytes, max_depth);
	if (!a || !b)
		abort();
	qmp_reader_feed(a, (const char *)data, size, fuzz_collect, &whole);
	fuzz_feed(b, data, size, mode, &pieces);

	if (whole.n != pieces.n)
		fuzz_fail("a different number of results in pieces",
			  pieces.n > whole.n ? pieces.items[whole.n]
					     : whole.items[pieces.n]);
	for (size_t i = 0; i < whole.n; i++)
		if (strcmp(whole.items[i], pieces.items[i]))
			fuzz_fail("a different result in pieces",
				  pieces.items[i]);

	fuzz_log_free(&whole);
	fuzz_log_free(&pieces);
	qmp_reader_free(a);
	qmp_reader_free(b);
	return 0;
}
