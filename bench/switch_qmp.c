// SPDX-License-Identifier: MIT
/* switch_qmp.c - the switch's own drop counters, read over its QMP socket
 * (--qmp PATH): query-netdevs' per-port "rx-drops" and "tx-drops", added
 * up by reason over every port
 *
 * nethub-bench is plain C without a JSON library, so this is a small QMP
 * client for a server that answers one message per line (nethubd, QEMU):
 * greeting, qmp_capabilities, query-netdevs, then a scan of the answer for
 * the drop objects and their "reason": count members.  Anything it does
 * not understand makes it give up (the report then leaves the switch's
 * drops out) rather than guess.
 *
 * Never: block for longer than SWITCH_QMP_TIMEOUT_MS per read; run
 * during the measurement window (called before and after it).
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"

#define SWITCH_QMP_TIMEOUT_MS 5000
#define SWITCH_QMP_MAX_BYTES  (16u << 20)

/* Read one line (without its newline) into a growing buffer; -1 on EOF,
 * error, timeout or a line past SWITCH_QMP_MAX_BYTES */
static int qmp_read_line(int fd, char **buf, size_t *cap, size_t *have,
			 char **line)
{
	for (;;) {
		char *nl = *have ? memchr(*buf, '\n', *have) : NULL;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - *buf);

			*line = malloc(len + 1);
			if (!*line)
				return -1;
			memcpy(*line, *buf, len);
			(*line)[len] = '\0';
			memmove(*buf, nl + 1, *have - len - 1);
			*have -= len + 1;
			return 0;
		}
		if (*have + 65536 > *cap) {
			char *b;

			if (*cap >= SWITCH_QMP_MAX_BYTES)
				return -1;
			b = realloc(*buf, *cap ? *cap * 2 : 131072);
			if (!b)
				return -1;
			*buf = b;
			*cap = *cap ? *cap * 2 : 131072;
		}
		if (poll(&pfd, 1, SWITCH_QMP_TIMEOUT_MS) != 1)
			return -1;
		n = read(fd, *buf + *have, *cap - *have);
		if (n <= 0)
			return -1;
		*have += (size_t)n;
	}
}

/* The next reply line ("return" or "error"), skipping events */
static char *qmp_reply(int fd, char **buf, size_t *cap, size_t *have)
{
	char *line;

	while (!qmp_read_line(fd, buf, cap, have, &line)) {
		if (strstr(line, "\"return\"") || strstr(line, "\"error\""))
			return line;
		free(line);
	}
	return NULL;
}

static void drops_add(struct switch_drops *d, const char *name, size_t len,
		      uint64_t v)
{
	unsigned i;

	if (len >= sizeof(d->name[0]))
		return;
	for (i = 0; i < d->n; i++)
		if (strlen(d->name[i]) == len && !memcmp(d->name[i], name, len))
			break;
	if (i == d->n) {
		if (d->n == SWITCH_DROP_REASONS_MAX)
			return;
		memcpy(d->name[i], name, len);
		d->name[i][len] = '\0';
		d->count[i] = 0;
		d->n++;
	}
	d->count[i] += v;
}

/* Add the "reason": count members of the object @p opens ('{') */
static bool drops_scan_object(const char *p, struct switch_drops *d)
{
	p++;
	for (;;) {
		const char *name, *end;
		char *num_end;
		unsigned long long v;

		while (isspace((unsigned char)*p) || *p == ',')
			p++;
		if (*p == '}')
			return true;
		if (*p != '"')
			return false;
		name = ++p;
		end = strchr(name, '"');
		if (!end)
			return false;
		p = end + 1;
		while (isspace((unsigned char)*p))
			p++;
		if (*p++ != ':')
			return false;
		while (isspace((unsigned char)*p))
			p++;
		if (!isdigit((unsigned char)*p))
			return false;
		v = strtoull(p, &num_end, 10);
		drops_add(d, name, (size_t)(end - name), v);
		p = num_end;
	}
}

/* Every "rx-drops" and "tx-drops" object of a query-netdevs answer */
static bool drops_scan(const char *reply, struct switch_drops *d)
{
	static const char *const keys[] = {"\"rx-drops\"", "\"tx-drops\""};
	bool any = false;

	for (unsigned k = 0; k < 2; k++) {
		for (const char *p = strstr(reply, keys[k]); p;
		     p = strstr(p + 1, keys[k])) {
			const char *o = p + strlen(keys[k]);

			while (isspace((unsigned char)*o) || *o == ':')
				o++;
			if (*o != '{' || !drops_scan_object(o, d))
				return false;
			any = true;
		}
	}
	return any || strstr(reply, "\"return\": []") ||
	       strstr(reply, "\"return\":[]");
}

int switch_drops_read(const char *path, struct switch_drops *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *buf = NULL, *line = NULL;
	size_t cap = 0, have = 0;
	int fd, rc = -1;
	static const char caps[] = "{\"execute\": \"qmp_capabilities\"}\n";
	static const char query[] = "{\"execute\": \"query-netdevs\"}\n";

	memset(d, 0, sizeof(*d));
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    qmp_read_line(fd, &buf, &cap, &have, &line)) /* greeting */
		goto out;
	free(line);
	line = NULL;
	if (write(fd, caps, sizeof(caps) - 1) != sizeof(caps) - 1 ||
	    !(line = qmp_reply(fd, &buf, &cap, &have)) ||
	    !strstr(line, "\"return\""))
		goto out;
	free(line);
	line = NULL;
	if (write(fd, query, sizeof(query) - 1) != sizeof(query) - 1 ||
	    !(line = qmp_reply(fd, &buf, &cap, &have)) ||
	    !strstr(line, "\"return\"") || !drops_scan(line, d))
		goto out;
	rc = 0;
out:
	free(line);
	free(buf);
	close(fd);
	return rc;
}
