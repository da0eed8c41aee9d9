// SPDX-License-Identifier: MIT
/* PLACEHOLDER - replaced by the QMP server helper */
#include <stdlib.h>
#include "qmp_reader.h"
struct qmp_reader { int unused; };
struct qmp_reader *qmp_reader_new(size_t max_bytes, unsigned max_depth) { (void)max_bytes; (void)max_depth; return calloc(1, sizeof(struct qmp_reader)); }
void qmp_reader_free(struct qmp_reader *r) { free(r); }
void qmp_reader_feed(struct qmp_reader *r, const char *buf, size_t len, qmp_reader_fn fn, void *ctx) { (void)r; (void)buf; (void)len; (void)fn; (void)ctx; }
