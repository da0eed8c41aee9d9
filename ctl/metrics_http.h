/* SPDX-License-Identifier: MIT */
/* metrics_http.h - nethubd's -metrics option: an HTTP endpoint that serves
 * metrics_text() for a Prometheus scrape
 */
#ifndef NH_METRICS_HTTP_H
#define NH_METRICS_HTTP_H

#include <stdbool.h>
#include <uv.h>

#include "error.h"

/* -metrics: where the HTTP endpoint listens */
struct metrics_http_config {
	char *host; /* numeric or a name; 127.0.0.1 when not given */
	char *port;
};

/**
 * metrics_http_parse() - the value of -metrics
 * @text:	"http:PORT", "http:HOST:PORT" or "http:[V6ADDR]:PORT"
 * Return: the config (caller frees with metrics_http_config_free()), NULL
 * with errp naming what is wrong.
 */
struct metrics_http_config *metrics_http_parse(const char *text,
					       struct nh_error **errp);
void metrics_http_config_free(struct metrics_http_config *cfg);

/**
 * metrics_http_start() - serve GET /metrics on @cfg's address, on @loop
 * (libmicrohttpd without threads of its own; each scrape renders the
 * current counters)
 * Return: false with the reason if the address cannot be bound.
 */
bool metrics_http_start(uv_loop_t *loop, const struct metrics_http_config *cfg,
			struct nh_error **errp);

/* metrics_http_stop() - close the endpoint and every scrape in progress */
void metrics_http_stop(void);

#endif /* NH_METRICS_HTTP_H */
