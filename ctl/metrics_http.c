// SPDX-License-Identifier: MIT
/* metrics_http.c - -metrics http:[HOST:]PORT: the counters for Prometheus
 *
 * libmicrohttpd speaks HTTP; it runs on nethubd's loop, with no thread of
 * its own: MHD keeps its sockets in an epoll set whose fd a uv_poll
 * watches, and a uv_timer covers its connection timeouts.  A scrape is
 * answered from the live state while the loop waits for it (the switch's
 * counters are the loop's, so nothing is copied or locked).  The listening
 * socket is bound here, so a busy or wrong address is a clear start-up
 * error; loopback unless an address is given.
 *
 * Never: answer anything but GET or HEAD /metrics; run a scrape's work off
 * the loop; hold more than METRICS_HTTP_MAX_CLIENTS connections.
 */

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "netdev.h"

#define METRICS_HTTP_MAX_CLIENTS 16
#define METRICS_HTTP_TIMEOUT_S	 10 /* an idle scrape connection */
#define METRICS_HTTP_BACKLOG	 16
#define METRICS_HTTP_PATH	 "/metrics"

static struct {
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	char label[128];
} mh;

void metrics_http_config_free(struct metrics_http_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->host);
	free(cfg->port);
	free(cfg);
}

struct metrics_http_config *metrics_http_parse(const char *text,
					       struct nh_error **errp)
{
	struct metrics_http_config *cfg;
	const char *addr, *colon;
	char *end;
	long port;

	if (strncmp(text, "http:", 5)) {
		nh_error_setg(errp,
			      "-metrics %s: expects http:PORT or "
			      "http:HOST:PORT",
			      text);
		return NULL;
	}
	addr = text + 5;
	colon = strrchr(addr, ':');
	cfg = calloc(1, sizeof(*cfg));
	if (!colon) {
		cfg->host = strdup("127.0.0.1");
		cfg->port = strdup(addr);
	} else if (addr[0] == '[') {
		if (colon == addr || colon[-1] != ']') {
			nh_error_setg(errp,
				      "-metrics %s: an IPv6 address is "
				      "written [ADDR]:PORT",
				      text);
			metrics_http_config_free(cfg);
			return NULL;
		}
		cfg->host = strndup(addr + 1, (size_t)(colon - addr - 2));
		cfg->port = strdup(colon + 1);
	} else {
		cfg->host = strndup(addr, (size_t)(colon - addr));
		cfg->port = strdup(colon + 1);
	}
	port = strtol(cfg->port, &end, 10);
	if (!*cfg->port || *end || port < 1 || port > 65535) {
		nh_error_setg(errp,
			      "-metrics %s: '%s' is not a port number "
			      "(1 to 65535)",
			      text, cfg->port);
		metrics_http_config_free(cfg);
		return NULL;
	}
	if (!*cfg->host) {
		nh_error_setg(errp,
			      "-metrics %s: the host address is empty "
			      "(0.0.0.0 or [::] listen on every address)",
			      text);
		metrics_http_config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* The text of a scrape: query-netdevs' and query-hubs' answers, rendered */
static char *metrics_now(void)
{
	json_t *nds = json_array(), *hubs = json_array();
	uint64_t now = clock_now_ms();
	char *text;

	for (struct netdev *nd = netdev_first(); nd; nd = nd->next)
		json_array_append_new(nds, netdev_info(nd));
	for (struct hub *h = hub_first(); h; h = h->next)
		json_array_append_new(hubs, hub_info(h, now));
	text = metrics_text(nds, hubs);
	json_decref(nds);
	json_decref(hubs);
	return text;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     char *body, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(body), body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **req)
{
	char *text;

	(void)cls;
	(void)version;
	(void)upload;
	(void)req;
	if (*upload_size) {
		*upload_size = 0; /* a body is ignored; answered at its end */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			     strdup("only GET " METRICS_HTTP_PATH "\n"),
			     "text/plain");
	if (strcmp(url, METRICS_HTTP_PATH))
		return reply(c, MHD_HTTP_NOT_FOUND,
			     strdup("nethubd serves " METRICS_HTTP_PATH "\n"),
			     "text/plain");
	text = metrics_now();
	if (!text)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
			     strdup("out of memory\n"), "text/plain");
	return reply(c, MHD_HTTP_OK, text, METRICS_CONTENT_TYPE);
}

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warn("-metrics %s: %s", mh.label, msg);
}

static void on_timer(uv_timer_t *t);

static unsigned mhd_connections(void)
{
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(mh.mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return info ? info->num_connections : 0;
}

/* Let MHD do what is ready, then wake up for its next timeout */
static void mhd_step(void)
{
	unsigned before = mhd_connections();
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(mh.mhd);
	/* at the connection limit MHD takes its listening socket out of its
	 * epoll set, and puts it back only at the start of a run: once
	 * connections went, run again, or waiting clients would wait for
	 * an event that cannot come */
	if (mhd_connections() < before)
		MHD_run(mh.mhd);
	if (MHD_get_timeout(mh.mhd, &ms) == MHD_YES)
		uv_timer_start(&mh.timer, on_timer, ms, 0);
	else
		uv_timer_stop(&mh.timer);
}

static void on_timer(uv_timer_t *t)
{
	(void)t;
	mhd_step();
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	(void)h;
	(void)status;
	(void)events;
	mhd_step();
}

/* A listening TCP socket on @cfg's address, or -1 with errp */
static int metrics_listen(const struct metrics_http_config *cfg,
			  struct nh_error **errp)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC,
	    .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE,
	};
	struct addrinfo *res;
	int fd, one = 1, rc;

	rc = getaddrinfo(cfg->host, cfg->port, &hints, &res);
	if (rc) {
		nh_error_setg(errp, "-metrics %s: %s", mh.label,
			      gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) ||
	    listen(fd, METRICS_HTTP_BACKLOG)) {
		nh_error_setg(errp, "-metrics %s: cannot listen: %s", mh.label,
			      strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

bool metrics_http_start(uv_loop_t *loop, const struct metrics_http_config *cfg,
			struct nh_error **errp)
{
	const union MHD_DaemonInfo *info;
	int fd;

	snprintf(mh.label, sizeof(mh.label),
		 strchr(cfg->host, ':') ? "http:[%s]:%s" : "http:%s:%s",
		 cfg->host, cfg->port);
	fd = metrics_listen(cfg, errp);
	if (fd < 0)
		return false;
	/* no MHD_USE_INTERNAL_POLLING_THREAD: MHD_run() on our loop */
	mh.mhd = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_MAX_CLIENTS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_TIMEOUT_S,
	    MHD_OPTION_END);
	if (!mh.mhd) {
		nh_error_setg(errp, "-metrics %s: libmicrohttpd did not start",
			      mh.label);
		close(fd);
		return false;
	}
	info = MHD_get_daemon_info(mh.mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || uv_poll_init(loop, &mh.poll, info->epoll_fd)) {
		nh_error_setg(errp,
			      "-metrics %s: cannot watch libmicrohttpd's "
			      "epoll fd",
			      mh.label);
		MHD_stop_daemon(mh.mhd);
		mh.mhd = NULL;
		return false;
	}
	uv_timer_init(loop, &mh.timer);
	uv_poll_start(&mh.poll, UV_READABLE, on_poll);
	log_info("metrics on %s%s", mh.label, METRICS_HTTP_PATH);
	return true;
}

void metrics_http_stop(void)
{
	if (!mh.mhd)
		return;
	/* the handles stop watching before MHD closes its fds */
	uv_poll_stop(&mh.poll);
	uv_timer_stop(&mh.timer);
	uv_close((uv_handle_t *)&mh.poll, NULL);
	uv_close((uv_handle_t *)&mh.timer, NULL);
	MHD_stop_daemon(mh.mhd); /* closes the listening socket too */
	mh.mhd = NULL;
}
