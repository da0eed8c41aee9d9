// SPDX-License-Identifier: MIT
/* fuzz_vde_request.c - libFuzzer target for VDE's port request, as
 * nethub's VDE switch reads it from a client (vde_request_parse())
 *
 * The input's first byte is the mode byte every target reads (unused
 * here); the rest is what a client sent on its control connection.
 * Checked, besides "no crash, no read past the input":
 *   - a refusal says why;
 *   - an accepted request came whole (at least the header), names a unix
 *     socket with a non-empty, NUL-terminated path, and its description
 *     is printable ASCII of at most 128 bytes;
 *   - written again with vde_request_build(), it reads back the same.
 * Built with tests/fuzz/standalone.c where libFuzzer is not available.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vde_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_vde_request: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t again[VDE_REQ_HDR + VDE_DESCR_MAX];
	struct vde_request r, r2;
	const char *why = NULL;
	size_t len;

	if (size < 1)
		return 0;
	if (!vde_request_parse(data + 1, size - 1, &r, &why)) {
		if (!why || !why[0])
			fuzz_fail("refused without a reason");
		return 0;
	}
	if (size - 1 < VDE_REQ_HDR)
		fuzz_fail("accepted a request cut short");
	if (r.sock.sun_family != AF_UNIX || !r.sock.sun_path[0] ||
	    !memchr(r.sock.sun_path, '\0', sizeof(r.sock.sun_path)))
		fuzz_fail("accepted a bad data socket address");
	if (strlen(r.descr) > VDE_DESCR_MAX)
		fuzz_fail("description too long");
	for (const char *p = r.descr; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			fuzz_fail("description not printable");

	len = vde_request_build(again, sizeof(again), &r.sock, r.port,
				r.descr);
	if (!len || !vde_request_parse(again, len, &r2, &why))
		fuzz_fail("a request written again does not read back");
	if (r2.port != r.port || strcmp(r2.descr, r.descr) ||
	    memcmp(&r2.sock, &r.sock, sizeof(r.sock)))
		fuzz_fail("a request written again reads back different");
	return 0;
}
