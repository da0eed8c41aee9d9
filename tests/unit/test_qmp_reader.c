// SPDX-License-Identifier: MIT
/* test_qmp_reader.c - the QMP stream reader: message boundaries in any
 * split, single quotes, errors reported once with a working stream after
 * them, resynchronisation, limits without memory growth.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NH_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NH_TEST_ASAN 1
#endif
/*
 * Under ASan the heap is the sanitizer's, so its own counter measures it.
 * clang ships the header that declares it; gcc (12 at least) ships the
 * runtime function but not the header, so it is declared here then.
 */
#if defined(NH_TEST_ASAN) && defined(__has_include)
#if __has_include(<sanitizer/allocator_interface.h>)
#include <sanitizer/allocator_interface.h>
#define NH_TEST_ASAN_HEADER 1
#endif
#endif
#if defined(NH_TEST_ASAN) && !defined(NH_TEST_ASAN_HEADER)
size_t __sanitizer_get_current_allocated_bytes(void);
#endif
#ifndef NH_TEST_ASAN
#include <malloc.h>
#endif

#include "qmp_reader.h"
#include "tap.h"

#define MAX_RESULTS 64

/* What the reader handed over, in order */
struct results {
	unsigned n;
	json_t *value[MAX_RESULTS];
	char *error[MAX_RESULTS];
	bool bad_call; /* a call with both or neither of value and error */
};

static void collect(void *ctx, json_t *value, const char *error)
{
	struct results *res = ctx;

	if (!value == !error)
		res->bad_call = true;
	if (res->n == MAX_RESULTS) {
		json_decref(value);
		res->bad_call = true;
		return;
	}
	res->value[res->n] = value;
	res->error[res->n] = error ? strdup(error) : NULL;
	res->n++;
}

static void results_clear(struct results *res)
{
	for (unsigned i = 0; i < res->n; i++) {
		json_decref(res->value[i]);
		free(res->error[i]);
	}
	memset(res, 0, sizeof(*res));
}

/*
 * Expected results: a JSON text per value, or "!" followed by the start
 * of an error message.  Returns true when @res matches.
 */
static bool results_match(const struct results *res, const char *const *want,
			  unsigned nwant, const char *label)
{
	bool ok = !res->bad_call && res->n == nwant;

	for (unsigned i = 0; ok && i < nwant; i++) {
		if (want[i][0] == '!') {
			ok = res->error[i] &&
			     !strncmp(res->error[i], want[i] + 1,
				      strlen(want[i] + 1));
		} else {
			json_t *w = json_loads(want[i], JSON_DECODE_ANY, NULL);

			ok = w && res->value[i] && json_equal(w, res->value[i]);
			json_decref(w);
		}
	}
	if (!ok) {
		printf("# %s: got %u result(s)%s:\n", label, res->n,
		       res->bad_call ? " (a bad callback)" : "");
		for (unsigned i = 0; i < res->n; i++) {
			char *t = res->value[i] ? json_dumps(res->value[i],
							     JSON_ENCODE_ANY)
						: NULL;

			printf("#   %s\n", t ? t : res->error[i]);
			free(t);
		}
	}
	return ok;
}

/* Feed @len bytes of @in in pieces of @chunk (0: all at once) */
static void feed_chunks(struct qmp_reader *r, const char *in, size_t len,
			size_t chunk, struct results *res)
{
	size_t off = 0;

	if (!chunk)
		chunk = len ? len : 1;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		qmp_reader_feed(r, in + off, n, collect, res);
		off += n;
	}
}

/*
 * Feed @in with every split point into two pieces, in 1-byte pieces and
 * whole, each to a fresh reader; every way must give @want.
 */
static bool check_all_splits(const char *in, size_t len,
			     const char *const *want, unsigned nwant)
{
	struct results res = {0};
	char label[64];
	bool ok = true;

	for (size_t split = 0; split <= len + 1 && ok; split++) {
		struct qmp_reader *r = qmp_reader_new(0, 0);

		if (split <= len) {
			qmp_reader_feed(r, in, split, collect, &res);
			qmp_reader_feed(r, in + split, len - split, collect,
					&res);
			snprintf(label, sizeof(label), "split at %zu", split);
		} else {
			feed_chunks(r, in, len, 1, &res);
			snprintf(label, sizeof(label), "1-byte pieces");
		}
		ok = results_match(&res, want, nwant, label);
		if (!ok)
			printf("# input: %.*s\n", (int)len, in);
		results_clear(&res);
		qmp_reader_free(r);
	}
	return ok;
}

#define CHECK_SPLITS(in, ...)                                                  \
	do {                                                                   \
		static const char *const want_[] = {__VA_ARGS__};              \
		CHECK(check_all_splits(in, sizeof(in) - 1, want_,              \
				       sizeof(want_) / sizeof(want_[0])));     \
	} while (0)

static void test_qmp_reader_messages_found_at_every_split_point(void)
{
	CHECK_SPLITS("{\"execute\":\"qmp_capabilities\"}",
		     "{\"execute\":\"qmp_capabilities\"}");
	CHECK_SPLITS("{ \"execute\" : \"query-version\" , \"id\" : { \"k\" : "
		     "[ 2 ] } }\r\n",
		     "{\"execute\":\"query-version\",\"id\":{\"k\":[2]}}");
	/* back to back, no newlines, several kinds of values */
	CHECK_SPLITS("{\"a\":1}{\"b\":[2,{\"c\":null}]}[3,4]\"s\"{}[]",
		     "{\"a\":1}", "{\"b\":[2,{\"c\":null}]}", "[3,4]", "\"s\"",
		     "{}", "[]");
	/* whitespace of every kind between and inside */
	CHECK_SPLITS(" \t\r\n{\"a\" :\t[ 1 ,\r\n2 ] }\n\n {\"b\":true}\r\n",
		     "{\"a\":[1,2]}", "{\"b\":true}");
	/* strings holding braces, brackets, escaped quotes and backslashes */
	CHECK_SPLITS("{\"a\":\"}{][ \\\"x\\\" \\\\\",\"b\":\"\\\\\\\"\"}",
		     "{\"a\":\"}{][ \\\"x\\\" \\\\\",\"b\":\"\\\\\\\"\"}");
	/* escapes of every kind, UTF-8 raw and escaped */
	CHECK_SPLITS("[\"\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\", "
		     "\"n\xc3\xa9t-\xe4\xb8\xad\"]",
		     "[\"/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\", "
		     "\"n\\u00e9t-\\u4e2d\"]");
}

static void test_qmp_reader_single_quoted_strings(void)
{
	CHECK_SPLITS("{'execute': 'qmp_capabilities', 'id': 'sq'}",
		     "{\"execute\":\"qmp_capabilities\",\"id\":\"sq\"}");
	/* " inside single quotes, \' inside both kinds */
	CHECK_SPLITS("['it\\'s \"quoted\"', \"dq \\' too\", '\\\"', '\\\\']",
		     "[\"it's \\\"quoted\\\"\", \"dq ' too\", \"\\\"\", "
		     "\"\\\\\"]");
	CHECK_SPLITS("{\"execute\": 'netdev_del', 'arguments': {'id': "
		     "'n\\u00e9'}, 'id': ['mixed', \"dq\", 'sq']}",
		     "{\"execute\":\"netdev_del\",\"arguments\":{\"id\":"
		     "\"n\\u00e9\"},\"id\":[\"mixed\",\"dq\",\"sq\"]}");
	/* braces inside single quotes do not count */
	CHECK_SPLITS("{'a': '}]'}'x'", "{\"a\":\"}]\"}", "\"x\"");
}

static void test_qmp_reader_scalars_are_delivered(void)
{
	CHECK_SPLITS("42\n\"x\" true null\r\n-1.5e3\tfalse ", "42", "\"x\"",
		     "true", "null", "-1500.0", "false");
	/* a delimiter ends a bare scalar, and is itself read */
	CHECK_SPLITS("7{\"a\":1}8[]", "7", "{\"a\":1}", "8", "[]");
	CHECK_SPLITS("'sq'", "\"sq\"");
}

static void test_qmp_reader_scalar_waits_for_its_end(void)
{
	struct qmp_reader *r = qmp_reader_new(0, 0);
	struct results res = {0};

	/* "42" might go on ("420"): nothing yet */
	qmp_reader_feed(r, "42", 2, collect, &res);
	CHECK_EQ(res.n, 0);
	qmp_reader_feed(r, "0", 1, collect, &res);
	CHECK_EQ(res.n, 0);
	qmp_reader_feed(r, "\n", 1, collect, &res);
	CHECK_EQ(res.n, 1);
	CHECK(json_integer_value(res.value[0]) == 420);
	/* an object is complete at its closing brace, no newline needed */
	qmp_reader_feed(r, "{\"a\":{}}", 8, collect, &res);
	CHECK_EQ(res.n, 2);
	CHECK(!res.bad_call);
	results_clear(&res);
	qmp_reader_free(r);
}

#define GOOD   "{\"execute\":\"query-version\",\"id\":1}"
#define GOOD_V "{\"execute\":\"query-version\",\"id\":1}"
#define PE     "!JSON parse error, "

static void test_qmp_reader_error_reported_once_then_stream_works(void)
{
	/* each is one bad message; what follows it must parse */
	CHECK_SPLITS("{\"execute\": tru}\n" GOOD, PE "invalid token", GOOD_V);
	CHECK_SPLITS("{\"execute\": \"q\",, \"id\": 1}" GOOD, PE, GOOD_V);
	CHECK_SPLITS("{\"execute\" \"q\"}\n" GOOD, PE, GOOD_V);
	CHECK_SPLITS("{\"execute\": \"query-\\q\"}\n" GOOD, PE, GOOD_V);
	CHECK_SPLITS("{\"execute\": 01}\n" GOOD, PE, GOOD_V);
	CHECK_SPLITS("{\"id\": [1, 2,]}" GOOD, PE, GOOD_V);
	CHECK_SPLITS("{\"a\": 1 \"b\": 2}\n" GOOD, PE, GOOD_V);
	CHECK_SPLITS("{1: 2}\n" GOOD, PE, GOOD_V);
	CHECK_SPLITS("{\"execute\": @}\n" GOOD, PE, GOOD_V);
	CHECK_SPLITS("{\"a\": \"\\u0000\"}\n" GOOD, PE, GOOD_V);
	CHECK_SPLITS("{\"a\": \"\xc3(\"}\n" GOOD, PE, GOOD_V);
	CHECK_SPLITS("tru\n" GOOD, PE "invalid token", GOOD_V);
	CHECK_SPLITS("12345678901234567890123\n" GOOD, PE, GOOD_V);
	/* stray closers and separators are one error each */
	CHECK_SPLITS("}\n]\n" GOOD, PE "stray '}'", PE "stray ']'", GOOD_V);
	CHECK_SPLITS(",:" GOOD, PE "stray ','", PE "stray ':'", GOOD_V);
}

static void test_qmp_reader_resync_at_line_end(void)
{
	/* a closer of the wrong kind: the rest of the line is dropped */
	CHECK_SPLITS("{\"a\": [1, 2}\n" GOOD, PE "'}' does not match '['",
		     GOOD_V);
	CHECK_SPLITS("{\"a\": [{\"b\": 1]]} \n" GOOD,
		     PE "']' does not match '{'", GOOD_V);
	CHECK_SPLITS("[[1}]\n" GOOD, PE "'}' does not match '['", GOOD_V);
	/* whatever the line holds after the error, it costs no more errors */
	CHECK_SPLITS("{\"a\": [1}, \"b\": \"}\"}\n" GOOD,
		     PE "'}' does not match '['", GOOD_V);
	CHECK_SPLITS("{\"a\": [{\"b\": 1], \"c\": \"]}\", [{}]}\n" GOOD,
		     PE "']' does not match '{'", GOOD_V);
	/* a message on the same line is dropped with it; the next line works */
	CHECK_SPLITS("[1}] " GOOD "\n" GOOD, PE "'}' does not match '['",
		     GOOD_V);
	/* a CR ends the skip too (QEMU recovers at any control character) */
	CHECK_SPLITS("[1}]\r" GOOD, PE "'}' does not match '['", GOOD_V);
	/* a TAB does not */
	CHECK_SPLITS("[1}]\t" GOOD "\r\n" GOOD, PE "'}' does not match '['",
		     GOOD_V);
	/* an error in a complete message skips nothing after it */
	CHECK_SPLITS("[1, 2,]" GOOD, PE, GOOD_V);
}

static void test_qmp_reader_resync_by_control_character(void)
{
	/* ESC ends an unfinished message; the next one parses */
	CHECK_SPLITS("{\"execute\": \"q\", \"id\": [1, {\"x\": \"y\"\x1b" GOOD,
		     PE "stray byte 0x1b", GOOD_V);
	/* EOT inside a string */
	CHECK_SPLITS("{\"execute\": \"q\", \"id\": \"unterminated\x04\n" GOOD,
		     PE "invalid byte 0x04 in a string", GOOD_V);
	/* a line end inside a string is QEMU's resync point too */
	CHECK_SPLITS("{\"execute\": \"q\", \"id\": \"unterminated\n" GOOD,
		     PE "invalid byte 0x0a in a string", GOOD_V);
	/* 0xff, QEMU's recommended reset for old versions */
	CHECK_SPLITS("{\"a\": [\xff" GOOD, PE "stray byte 0xff", GOOD_V);
	/* a control character on its own is an error, once */
	CHECK_SPLITS("\x01" GOOD "\x00" GOOD, PE "stray byte 0x01", GOOD_V,
		     PE "stray byte 0x00", GOOD_V);
	/* during the skip after an error it ends the skip quietly */
	CHECK_SPLITS("{\"a\": [{\"b\": 1], {{{\x1b" GOOD,
		     PE "']' does not match '{'", GOOD_V);
	/* it also ends a bare scalar, which is delivered */
	CHECK_SPLITS("42\x1b" GOOD, "42", PE "stray byte 0x1b", GOOD_V);
}

/* Bytes of heap in use */
static size_t heap_in_use(void)
{
#ifdef NH_TEST_ASAN
	return __sanitizer_get_current_allocated_bytes();
#else
	return mallinfo2().uordblks;
#endif
}

/*
 * Feed @nchunks times @chunk (after @head) and then @tail; the heap must
 * never grow by more than @slack over what it was before.
 */
static size_t feed_measuring(struct qmp_reader *r, const char *head,
			     const char *chunk, size_t nchunks,
			     const char *tail, struct results *res)
{
	size_t base = heap_in_use(), peak = 0, clen = strlen(chunk);

	qmp_reader_feed(r, head, strlen(head), collect, res);
	for (size_t i = 0; i < nchunks; i++) {
		size_t now;

		qmp_reader_feed(r, chunk, clen, collect, res);
		now = heap_in_use();
		if (now > base && now - base > peak)
			peak = now - base;
	}
	qmp_reader_feed(r, tail, strlen(tail), collect, res);
	return peak;
}

static char *repeat(const char *unit, size_t times)
{
	size_t ulen = strlen(unit);
	char *s = malloc(ulen * times + 1);

	for (size_t i = 0; i < times; i++)
		memcpy(s + i * ulen, unit, ulen);
	s[ulen * times] = '\0';
	return s;
}

static void test_qmp_reader_size_limit_without_memory_growth(void)
{
	struct qmp_reader *r = qmp_reader_new(0, 0);
	struct results res = {0};
	char *chunk = repeat("A", 64 * 1024);
	size_t peak;

	/* 16 MiB of one string: one error, the buffer never past the limit */
	peak = feed_measuring(r,
			      "{\"execute\": \"q\", \"arguments\": {\"pad\": "
			      "\"",
			      chunk, 256, "\"}}\n" GOOD, &res);
	CHECK(peak < QMP_READER_MAX_BYTES + (256u << 10));
	{
		static const char *const want[] = {PE "message too long",
						   GOOD_V};

		CHECK(results_match(&res, want, 2, "16 MiB string"));
	}
	results_clear(&res);
	free(chunk);

	/* many small members, also over the limit */
	chunk = repeat("\"k\": [1, 2, 3], ", 4096);
	peak = feed_measuring(r, "{", chunk, 64, "\"z\": 0}\n" GOOD, &res);
	CHECK(peak < QMP_READER_MAX_BYTES + (256u << 10));
	{
		static const char *const want[] = {PE "message too long",
						   GOOD_V};

		CHECK(results_match(&res, want, 2, "many members"));
	}
	results_clear(&res);
	free(chunk);

	/* a bare scalar too */
	chunk = repeat("1", 64 * 1024);
	peak = feed_measuring(r, "", chunk, 40, " \n" GOOD, &res);
	CHECK(peak < QMP_READER_MAX_BYTES + (256u << 10));
	{
		static const char *const want[] = {PE "message too long",
						   GOOD_V};

		CHECK(results_match(&res, want, 2, "long scalar"));
	}
	results_clear(&res);
	free(chunk);
	qmp_reader_free(r);
}

static void test_qmp_reader_buffer_given_back_after_large_message(void)
{
	struct qmp_reader *r = qmp_reader_new(0, 0);
	struct results res = {0};
	char *pad = repeat("B", 900 * 1024);
	size_t base = heap_in_use(), after;

	qmp_reader_feed(r, "{\"p\": \"", 7, collect, &res);
	qmp_reader_feed(r, pad, strlen(pad), collect, &res);
	qmp_reader_feed(r, "\"}", 2, collect, &res);
	CHECK_EQ(res.n, 1);
	CHECK(res.value[0] != NULL);
	results_clear(&res);
	after = heap_in_use();
	/* no megabyte kept for the next message */
	CHECK(after < base + (128u << 10));
	free(pad);
	qmp_reader_free(r);
}

static void test_qmp_reader_limits_exact(void)
{
	struct qmp_reader *r = qmp_reader_new(20, 3);
	struct results res = {0};
	static const char *const want[] = {
	    "[[[1]]]",
	    PE "too deeply nested",
	    GOOD_V,
	    "\"0123456789abcdef\"",
	    PE "message too long",
	    "[1]",
	};
	static const char in[] =
	    "[[[1]]] [[[[1]]]]\n" GOOD " \"0123456789abcdef\" "
	    "\"0123456789abcdefghij\"\n[1]";

	/* GOOD is longer than 20 bytes: a reader of its own for it */
	qmp_reader_feed(r, "[[[1]]] [[[[1]]]]\n", 18, collect, &res);
	{
		struct qmp_reader *big = qmp_reader_new(0, 0);

		qmp_reader_feed(big, GOOD, strlen(GOOD), collect, &res);
		qmp_reader_free(big);
	}
	qmp_reader_feed(r, in + 18 + strlen(GOOD),
			strlen(in) - 18 - strlen(GOOD), collect, &res);
	CHECK(results_match(&res, want, 6, "limits 20 bytes, depth 3"));
	results_clear(&res);
	qmp_reader_free(r);
}

static void test_qmp_reader_deep_nesting_refused_once(void)
{
	struct qmp_reader *r = qmp_reader_new(0, 0);
	struct results res = {0};
	char *open = repeat("[", 5000), *close = repeat("]", 5000);
	char *ok_open = repeat("[", QMP_READER_MAX_DEPTH - 1);
	char *ok_close = repeat("]", QMP_READER_MAX_DEPTH - 1);
	static const char *const want[] = {PE "too deeply nested", GOOD_V};

	qmp_reader_feed(r, "{\"id\": ", 7, collect, &res);
	qmp_reader_feed(r, open, 5000, collect, &res);
	qmp_reader_feed(r, close, 5000, collect, &res);
	qmp_reader_feed(r, "}\n" GOOD, 2 + strlen(GOOD), collect, &res);
	CHECK(results_match(&res, want, 2, "5000 levels"));
	results_clear(&res);

	/* the limit itself is fine: 1 + 1023 levels */
	qmp_reader_feed(r, "{\"id\": ", 7, collect, &res);
	qmp_reader_feed(r, ok_open, strlen(ok_open), collect, &res);
	qmp_reader_feed(r, ok_close, strlen(ok_close), collect, &res);
	qmp_reader_feed(r, "}", 1, collect, &res);
	CHECK_EQ(res.n, 1);
	CHECK(json_is_object(res.value[0]));
	results_clear(&res);
	free(open);
	free(close);
	free(ok_open);
	free(ok_close);
	qmp_reader_free(r);
}

/* QMP lockout by brackets: 100 000 '[' cost one error, up to the line end */
static void test_qmp_reader_100k_brackets_then_line_end_one_error(void)
{
	static const char *const want[] = {PE "too deeply nested", GOOD_V};
	char *open = repeat("[", 100000);
	static const size_t chunks[] = {0, 1, 7, 4096};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct qmp_reader *r = qmp_reader_new(0, 0);
		struct results res = {0};
		char label[48];
		size_t peak;

		snprintf(label, sizeof(label), "100000 '[', pieces of %zu",
			 chunks[i]);
		peak = heap_in_use();
		feed_chunks(r, open, 100000, chunks[i], &res);
		/* nothing buffered for the skipped part */
		CHECK(heap_in_use() < peak + (64u << 10));
		qmp_reader_feed(r, "\n" GOOD, 1 + strlen(GOOD), collect, &res);
		CHECK(results_match(&res, want, 2, label));
		results_clear(&res);
		qmp_reader_free(r);
	}
	free(open);
}

/* A line end that itself crosses the size limit ends its own line */
static void test_qmp_reader_line_end_at_the_limit_ends_the_skip(void)
{
	struct qmp_reader *r = qmp_reader_new(8, 0);
	struct results res = {0};
	static const char *const want[] = {PE "message too long", "[2]",
					   PE "message too long", "[3]"};

	/* "[1,     " fills the 8 bytes: the LF is the one too many */
	qmp_reader_feed(r, "[1,     \n[2]\n", 13, collect, &res);
	/* a CR LF pair: the CR ends it, the LF is whitespace */
	qmp_reader_feed(r, "[1,     \r\n[3]", 13, collect, &res);
	CHECK(results_match(&res, want, 4, "line end at the limit"));
	results_clear(&res);
	qmp_reader_free(r);
}

static void test_qmp_reader_one_byte_feeds_are_linear(void)
{
	struct qmp_reader *r = qmp_reader_new(0, 0);
	struct results res = {0};
	char *pad = repeat("{}[]'\\\" ", 110 * 1024); /* ~900 KiB */
	size_t len = strlen(pad);
	struct timespec t0, t1;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	qmp_reader_feed(r, "[\"", 2, collect, &res);
	for (size_t i = 0; i < len; i++)
		qmp_reader_feed(r, pad + i, 1, collect, &res);
	qmp_reader_feed(r, "\"]", 2, collect, &res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* linear: well under a second; quadratic: hours */
	printf("# %zu one-byte feeds in %.3f s\n", len, secs);
	CHECK(secs < 5.0);
	CHECK_EQ(res.n, 1);
	CHECK(json_is_array(res.value[0]));
	results_clear(&res);
	free(pad);
	qmp_reader_free(r);
}

static void test_qmp_reader_error_texts_are_valid_utf8(void)
{
	static const char *const bad[] = {
	    "{\"a\": \xc3(}", "{\"\xff\xfe\": 1}",   "{\"a\": b\xe4\xb8}",
	    "[\xed\xa0\x80]", "{\"a\": \"\x7f\" x}", "[\"\xf4\x90\x80\x80\"]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct qmp_reader *r = qmp_reader_new(0, 0);
		struct results res = {0};

		qmp_reader_feed(r, bad[i], strlen(bad[i]), collect, &res);
		qmp_reader_feed(r, " ", 1, collect, &res);
		CHECK(res.n >= 1);
		for (unsigned k = 0; k < res.n; k++) {
			json_t *s;

			CHECK(res.error[k] != NULL);
			if (!res.error[k])
				continue;
			s = json_string(res.error[k]);
			CHECK(s != NULL);
			json_decref(s);
		}
		results_clear(&res);
		qmp_reader_free(r);
	}
}

static void test_qmp_reader_free_with_partial_message(void)
{
	struct qmp_reader *r = qmp_reader_new(0, 0);
	struct results res = {0};

	qmp_reader_feed(r, "{\"a\": [\"partial", 15, collect, &res);
	CHECK_EQ(res.n, 0);
	qmp_reader_free(r); /* LeakSanitizer checks the buffer went too */
	qmp_reader_free(NULL);
}

int main(void)
{
	TAP_RUN(test_qmp_reader_messages_found_at_every_split_point);
	TAP_RUN(test_qmp_reader_single_quoted_strings);
	TAP_RUN(test_qmp_reader_scalars_are_delivered);
	TAP_RUN(test_qmp_reader_scalar_waits_for_its_end);
	TAP_RUN(test_qmp_reader_error_reported_once_then_stream_works);
	TAP_RUN(test_qmp_reader_resync_at_line_end);
	TAP_RUN(test_qmp_reader_resync_by_control_character);
	TAP_RUN(test_qmp_reader_size_limit_without_memory_growth);
	TAP_RUN(test_qmp_reader_buffer_given_back_after_large_message);
	TAP_RUN(test_qmp_reader_limits_exact);
	TAP_RUN(test_qmp_reader_deep_nesting_refused_once);
	TAP_RUN(test_qmp_reader_100k_brackets_then_line_end_one_error);
	TAP_RUN(test_qmp_reader_line_end_at_the_limit_ends_the_skip);
	TAP_RUN(test_qmp_reader_one_byte_feeds_are_linear);
	TAP_RUN(test_qmp_reader_error_texts_are_valid_utf8);
	TAP_RUN(test_qmp_reader_free_with_partial_message);
	return tap_done();
}
