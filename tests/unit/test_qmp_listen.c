// SPDX-License-Identifier: MIT
/* test_qmp_listen.c - the -qmp option: what qmp_listen_parse() takes and
 * what it refuses, with an error that starts with "-qmp" and names the
 * part that is wrong.
 */

#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unistd.h>

#include "qmp.h"
#include "qmp_internal.h"
#include "tap.h"

struct good_case {
	const char *text;
	int kind;
	const char *path; /* unix */
	const char *host; /* tcp */
	const char *port;
	unsigned mode;
	const char *group;
};

static const struct good_case good_cases[] = {
    {"unix:/tmp/q.sock", QMP_LISTEN_UNIX, "/tmp/q.sock", NULL, NULL, 0600,
     NULL},
    {"unix:/tmp/q.sock,server=on,wait=off", QMP_LISTEN_UNIX, "/tmp/q.sock",
     NULL, NULL, 0600, NULL},
    /* QEMU's older spellings of the same */
    {"unix:/tmp/q.sock,server,nowait", QMP_LISTEN_UNIX, "/tmp/q.sock", NULL,
     NULL, 0600, NULL},
    {"unix:/tmp/q.sock,mode=0660", QMP_LISTEN_UNIX, "/tmp/q.sock", NULL, NULL,
     0660, NULL},
    {"unix:/tmp/q.sock,mode=666", QMP_LISTEN_UNIX, "/tmp/q.sock", NULL, NULL,
     0666, NULL},
    {"unix:/tmp/q.sock,mode=0", QMP_LISTEN_UNIX, "/tmp/q.sock", NULL, NULL, 0,
     NULL},
    {"unix:/tmp/q.sock,mode=0660,group=root,server=on", QMP_LISTEN_UNIX,
     "/tmp/q.sock", NULL, NULL, 0660, "root"},
    /* ",," is a comma of the path, as in QEMU's options */
    {"unix:/tmp/a,,b.sock,wait=off", QMP_LISTEN_UNIX, "/tmp/a,b.sock", NULL,
     NULL, 0600, NULL},
    {"unix:relative.sock", QMP_LISTEN_UNIX, "relative.sock", NULL, NULL, 0600,
     NULL},
    {"tcp:127.0.0.1:4444", QMP_LISTEN_TCP, NULL, "127.0.0.1", "4444", 0, NULL},
    {"tcp:localhost:4444,server=on,wait=off", QMP_LISTEN_TCP, NULL, "localhost",
     "4444", 0, NULL},
    {"tcp:0.0.0.0:1", QMP_LISTEN_TCP, NULL, "0.0.0.0", "1", 0, NULL},
    {"tcp:[::1]:65535", QMP_LISTEN_TCP, NULL, "::1", "65535", 0, NULL},
};

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void test_qmp_listen_valid_values(void)
{
	for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]);
	     i++) {
		const struct good_case *c = &good_cases[i];
		struct nh_error *err = NULL;
		struct qmp_listen_config *lc = qmp_listen_parse(c->text, &err);
		bool ok;

		if (!lc) {
			printf("# -qmp %s: refused: %s\n", c->text,
			       err ? err->msg : "(no error)");
			CHECK(lc != NULL);
			nh_error_free(err);
			continue;
		}
		ok = err == NULL && (int)lc->kind == c->kind;
		if (c->kind == QMP_LISTEN_UNIX)
			ok = ok && same_str(lc->path, c->path) &&
			     lc->mode == c->mode &&
			     same_str(lc->group, c->group);
		else
			ok = ok && same_str(lc->host, c->host) &&
			     same_str(lc->port, c->port) && !lc->group;
		if (!ok)
			printf("# -qmp %s: parsed as kind %d path %s host %s "
			       "port %s mode %o group %s\n",
			       c->text, (int)lc->kind, lc->path, lc->host,
			       lc->port, lc->mode, lc->group);
		CHECK(ok);
		qmp_listen_config_free(lc);
	}
}

/* A bad value and words of which its error must name at least one */
struct bad_case {
	const char *text;
	const char *words[3];
};

static const struct bad_case bad_cases[] = {
    {"", {"empty", "unix:", "tcp:"}},
    {"unix:", {"path", "empty"}},
    {"unix:,mode=0600", {"path", "empty"}},
    {"foo:/tmp/x", {"foo"}},
    {"/tmp/no-scheme.sock", {"/tmp/no-scheme.sock", "unix:", "tcp:"}},
    {"UNIX:/tmp/x", {"UNIX", "unix:"}},
    {"unix:/tmp/x,bogus=1", {"bogus"}},
    {"unix:/tmp/x,bogus", {"bogus"}},
    {"unix:/tmp/x,wait=on", {"wait"}},
    {"unix:/tmp/x,wait", {"wait"}},
    {"unix:/tmp/x,server=off", {"server"}},
    {"unix:/tmp/x,server=maybe", {"server", "maybe"}},
    {"unix:/tmp/x,mode=999", {"999"}},
    {"unix:/tmp/x,mode=abc", {"abc"}},
    {"unix:/tmp/x,mode=", {"mode"}},
    {"unix:/tmp/x,mode", {"mode"}},
    {"unix:/tmp/x,mode=01000", {"01000"}},
    {"unix:/tmp/x,mode=-1", {"-1"}},
    {"unix:/tmp/x,group=no-such-group-xyz", {"no-such-group-xyz"}},
    {"unix:/tmp/x,group=", {"group"}},
    {"tcp:127.0.0.1", {"port"}},
    {"tcp:127.0.0.1:", {"port"}},
    {"tcp::4444", {"host", "address"}},
    {"tcp:", {"host", "port", "address"}},
    {"tcp:127.0.0.1:99999", {"99999"}},
    {"tcp:127.0.0.1:-1", {"-1"}},
    {"tcp:127.0.0.1:no-such-service", {"no-such-service"}},
    {"tcp:[::1", {"[::1", "address"}},
    {"tcp:127.0.0.1:4444,mode=0600", {"mode"}},
    {"tcp:127.0.0.1:4444,group=root", {"group"}},
    {"tcp:127.0.0.1:4444,wait=on", {"wait"}},
    {"unix:/tmp/x,remote=on", {"remote"}},
    {"tcp:0.0.0.0:4444,remote=maybe", {"remote", "maybe"}},
};

static bool names_one_of(const char *msg, const char *const *words)
{
	for (int i = 0; i < 3 && words[i]; i++)
		if (strcasestr(msg, words[i]))
			return true;
	return false;
}

static void test_qmp_listen_invalid_values_named(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct nh_error *err = NULL;
		struct qmp_listen_config *lc = qmp_listen_parse(c->text, &err);

		if (lc) {
			printf("# -qmp '%s': accepted\n", c->text);
			CHECK(lc == NULL);
			qmp_listen_config_free(lc);
			continue;
		}
		CHECK(err != NULL);
		if (!err)
			continue;
		if (strncmp(err->msg, "-qmp", 4) ||
		    !names_one_of(err->msg, c->words) ||
		    strchr(err->msg, '\n')) {
			printf("# -qmp '%s': error '%s' does not start with "
			       "-qmp and name '%s'\n",
			       c->text, err->msg, c->words[0]);
			CHECK(false);
		}
		CHECK(err->cls == NH_ERR_GENERIC);
		nh_error_free(err);
	}
}

static void test_qmp_listen_long_unix_path_refused(void)
{
	char text[400], path[300];
	struct nh_error *err = NULL;
	struct qmp_listen_config *lc;

	/* sun_path holds 107 bytes and a NUL */
	memset(path, 'x', sizeof(path));
	memcpy(path, "/tmp/", 5);
	path[108] = '\0';
	snprintf(text, sizeof(text), "unix:%s", path);
	lc = qmp_listen_parse(text, &err);
	CHECK(lc == NULL);
	CHECK(err && strcasestr(err->msg, "long"));
	nh_error_free(err);
	err = NULL;

	path[107] = '\0'; /* the longest that fits */
	snprintf(text, sizeof(text), "unix:%s", path);
	lc = qmp_listen_parse(text, &err);
	CHECK(lc != NULL);
	CHECK(err == NULL);
	CHECK(lc && strlen(lc->path) == 107);
	qmp_listen_config_free(lc);
}

static void test_qmp_listen_remote_option_parsed(void)
{
	static const struct {
		const char *text;
		bool remote;
	} cases[] = {
		{"tcp:0.0.0.0:4444", false},
		{"tcp:0.0.0.0:4444,remote=on", true},
		{"tcp:0.0.0.0:4444,remote", true},
		{"tcp:[::]:4444,server=on,remote=yes,wait=off", true},
		{"tcp:0.0.0.0:4444,remote=off", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct qmp_listen_config *lc =
			qmp_listen_parse(cases[i].text, NULL);

		CHECK(lc != NULL);
		if (!lc)
			continue;
		if (lc->remote != cases[i].remote)
			printf("# -qmp %s: remote=%d\n", cases[i].text,
			       lc->remote);
		CHECK(lc->remote == cases[i].remote);
		qmp_listen_config_free(lc);
	}
}

/* Bind -qmp @text's TCP socket (port 0); the fd, or -1 with *errp set */
static int bind_tcp(const char *text, struct nh_error **errp)
{
	struct qmp_listener l = {.fd = -1};
	int fd;

	l.lc = qmp_listen_parse(text, errp);
	if (!l.lc)
		return -1;
	snprintf(l.label, sizeof(l.label), "-qmp %s", text);
	fd = qmp_listen_tcp(&l, errp);
	qmp_listen_config_free(l.lc);
	return fd;
}

/* QMP access is root-equivalent: other hosts only with remote=on */
static void test_qmp_listen_non_loopback_needs_remote_on(void)
{
	static const char *const loopback[] = {
		"tcp:127.0.0.1:0", "tcp:127.1.2.3:0", "tcp:localhost:0",
	};
	static const char *const remote[] = {
		"tcp:0.0.0.0:0", "tcp:[::]:0",
	};
	struct nh_error *err = NULL;
	char text[64];
	int fd;

	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		fd = bind_tcp(loopback[i], &err);
		if (fd < 0)
			printf("# %s: %s\n", loopback[i],
			       err ? err->msg : "?");
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
		nh_error_free(err);
		err = NULL;
	}
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		fd = bind_tcp(remote[i], &err);
		CHECK(fd < 0);
		CHECK(err && strstr(err->msg, "remote=on") &&
		      strstr(err->msg, remote[i]));
		if (err)
			printf("# %s: %s\n", remote[i], err->msg);
		if (fd >= 0)
			close(fd);
		nh_error_free(err);
		err = NULL;
		/* with the opt-in it binds */
		snprintf(text, sizeof(text), "%s,remote=on", remote[i]);
		fd = bind_tcp(text, &err);
		if (fd < 0)
			printf("# %s: %s\n", text, err ? err->msg : "?");
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
		nh_error_free(err);
		err = NULL;
	}
}

static void test_qmp_listen_null_errp_and_free_null(void)
{
	/* errp may be NULL; freeing NULL is fine */
	CHECK(qmp_listen_parse("bogus", NULL) == NULL);
	CHECK(qmp_listen_parse("unix:/tmp/x,mode=9", NULL) == NULL);
	qmp_listen_config_free(NULL);
}

int main(void)
{
	TAP_RUN(test_qmp_listen_valid_values);
	TAP_RUN(test_qmp_listen_invalid_values_named);
	TAP_RUN(test_qmp_listen_long_unix_path_refused);
	TAP_RUN(test_qmp_listen_remote_option_parsed);
	TAP_RUN(test_qmp_listen_non_loopback_needs_remote_on);
	TAP_RUN(test_qmp_listen_null_errp_and_free_null);
	return tap_done();
}
