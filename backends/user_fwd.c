// SPDX-License-Identifier: MIT
/* user_fwd.c - port forwarding of the user netdev: hostfwd=, guestfwd=,
 * smb=, and the run-time hostfwd_add / hostfwd_remove (user.h)
 *
 * Rules are QEMU's, with its messages:
 *   hostfwd   [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT
 *             (no host address: any; no guest address: slirp's first DHCP
 *             address)
 *   guestfwd  [tcp]:[SERVER]:PORT-cmd:COMMAND  (no server: the net's .4)
 * A guestfwd to a chardev (QEMU's other form) is refused: nethub's
 * chardevs are vhost-user sockets, not byte streams slirp could feed.
 * smb= runs smbd (as QEMU does) behind SMBSERVER:445 with a configuration
 * written to a temporary directory.
 *
 * Owns: the list of forwards in effect (what queries show), smb's
 * directory.  Never: touch the port or the frames.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "netdev.h"
#include "user.h"
#include "user_internal.h"

/* user_take() - the text up to @sep into @buf, and *@p past it; false if
 * there is no @sep or the text does not fit (QEMU's get_str_sep()) */
static bool user_take(char *buf, size_t size, const char **p, char sep)
{
	const char *end = strchr(*p, sep);
	size_t len;

	if (!end)
		return false;
	len = (size_t)(end - *p);
	if (len >= size)
		return false;
	memcpy(buf, *p, len);
	buf[len] = '\0';
	*p = end + 1;
	return true;
}

/* user_port() - a whole number in [@min, 65535] (base 0, as QEMU's
 * qemu_strtoi() reads it); -1 if it is not */
static int user_port(const char *s, int min)
{
	char *end;
	long v;

	if (!*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || v < min || v > 65535)
		return -1;
	return (int)v;
}

/* user_proto() - "tcp", "" (tcp) or "udp" */
static bool user_proto(const char *s, bool *udp)
{
	*udp = !strcmp(s, "udp");
	return *udp || !strcmp(s, "tcp") || !*s;
}

bool user_hostfwd_parse(const char *rule, struct user_hostfwd *f,
			struct nh_error **errp)
{
	const char *p = rule, *why;
	char buf[USER_RULE_MAX];

	memset(f, 0, sizeof(*f));
	if (strlen(rule) >= sizeof(f->rule)) {
		why = "too long";
		goto fail;
	}
	snprintf(f->rule, sizeof(f->rule), "%s", rule);
	why = "No : separators";
	if (!user_take(buf, sizeof(buf), &p, ':'))
		goto fail;
	why = "Bad protocol name";
	if (!user_proto(buf, &f->udp))
		goto fail;
	why = "Missing : separator";
	if (!user_take(buf, sizeof(buf), &p, ':'))
		goto fail;
	why = "Bad host address";
	if (*buf && !inet_aton(buf, &f->haddr))
		goto fail;
	why = "Bad host port separator";
	if (!user_take(buf, sizeof(buf), &p, '-'))
		goto fail;
	why = "Bad host port";
	f->hport = user_port(buf, 0);
	if (f->hport < 0)
		goto fail;
	why = "Missing guest address";
	if (!user_take(buf, sizeof(buf), &p, ':'))
		goto fail;
	why = "Bad guest address";
	if (*buf && !inet_aton(buf, &f->gaddr))
		goto fail;
	why = "Bad guest port";
	f->gport = user_port(p, 1);
	if (f->gport < 0)
		goto fail;
	return true;
fail:
	nh_error_setg(errp, "Invalid host forwarding rule '%s' (%s)", rule,
		      why);
	return false;
}

bool user_guestfwd_parse(const char *rule, struct user_guestfwd *g,
			 struct nh_error **errp)
{
	const char *p = rule;
	char buf[USER_RULE_MAX];
	bool udp;

	memset(g, 0, sizeof(*g));
	if (strlen(rule) >= sizeof(g->rule) ||
	    !user_take(buf, sizeof(buf), &p, ':') || !user_proto(buf, &udp) ||
	    udp || !user_take(buf, sizeof(buf), &p, ':') ||
	    (*buf && !inet_aton(buf, &g->server)) ||
	    !user_take(buf, sizeof(buf), &p, '-'))
		goto fail;
	g->port = user_port(buf, 1);
	if (g->port < 0)
		goto fail;
	snprintf(g->rule, sizeof(g->rule), "%s", rule);
	if (strncmp(p, "cmd:", 4)) {
		nh_error_setg(errp,
			      "guestfwd '%s': forwarding to a chardev ('%s') "
			      "is not supported by nethub; use cmd:COMMAND",
			      rule, p);
		return false;
	}
	if (!p[4])
		goto fail;
	snprintf(g->cmd, sizeof(g->cmd), "%s", p + 4);
	return true;
fail:
	nh_error_setg(errp, "Invalid guest forwarding rule '%s'", rule);
	return false;
}

/* user_hostfwd_apply() - set up @f on slirp and list it */
static bool user_hostfwd_apply(struct user_state *s,
			       const struct user_hostfwd *f,
			       struct nh_error **errp)
{
	if (s->nhostfwd == USER_FWD_MAX) {
		nh_error_setg(errp,
			      "Could not set up host forwarding rule '%s': "
			      "netdev %s has %u rules already",
			      f->rule, s->id, USER_FWD_MAX);
		return false;
	}
	errno = 0;
	if (slirp_add_hostfwd(s->slirp, f->udp, f->haddr, f->hport, f->gaddr,
			      f->gport) < 0) {
		int err = errno;

		nh_error_setg(errp,
			      "Could not set up host forwarding rule "
			      "'%s'%s%s",
			      f->rule, err ? ": " : "",
			      err ? strerror(err) : "");
		return false;
	}
	s->hostfwd[s->nhostfwd++] = *f;
	user_loop_kick(s);
	return true;
}

/* user_smb_start() - smbd's configuration in a new directory, and smbd
 * behind SMBSERVER:445 */
static bool user_smb_start(struct user_state *s, const struct user_opts *o,
			   struct nh_error **errp)
{
	char dir[] = "/tmp/nethub-smb.XXXXXX", path[600], cmd[1400];
	FILE *f;

	if (!mkdtemp(dir)) {
		nh_error_setg(errp, "smb: could not create a directory: %s",
			      strerror(errno));
		return false;
	}
	s->smb_dir = strdup(dir);
	if (!s->smb_dir)
		abort();
	snprintf(path, sizeof(path), "%s/smb.conf", dir);
	f = fopen(path, "w");
	if (!f) {
		nh_error_setg(errp, "smb: could not write %s: %s", path,
			      strerror(errno));
		return false;
	}
	fprintf(
	    f,
	    "[global]\n"
	    "private dir=%s\nlock directory=%s\nstate directory=%s\n"
	    "cache directory=%s\nncalrpc dir=%s/ncalrpc\n"
	    "pid directory=%s\nlog file=%s/log.smbd\n"
	    "smb passwd file=%s/smbpasswd\nsecurity = user\n"
	    "map to guest = Bad User\nload printers = no\n"
	    "printing = bsd\ndisable spoolss = yes\nusershare max shares = 0\n"
	    "[qemu]\npath=%s\nread only=no\nguest ok=yes\n"
	    "force user=%s\n",
	    dir, dir, dir, dir, dir, dir, dir, dir, o->smb,
	    getenv("USER") ? getenv("USER") : "root");
	if (fclose(f)) {
		nh_error_setg(errp, "smb: could not write %s", path);
		return false;
	}
	snprintf(cmd, sizeof(cmd), "%s -l %s -s %s", USER_SMBD, dir, path);
	if (slirp_add_exec(s->slirp, cmd, (struct in_addr *)&o->smbserver,
			   445) < 0) {
		nh_error_setg(errp, "Conflicting/invalid smbserver address");
		return false;
	}
	return true;
}

bool user_fwd_start(struct user_state *s, const struct user_opts *o,
		    struct nh_error **errp)
{
	struct user_hostfwd hf;
	struct user_guestfwd *g;

	for (unsigned i = 0; i < o->nhostfwd; i++)
		if (!user_hostfwd_parse(o->hostfwd[i], &hf, errp) ||
		    !user_hostfwd_apply(s, &hf, errp))
			return false;
	for (unsigned i = 0; i < o->nguestfwd; i++) {
		g = &s->guestfwd[s->nguestfwd];
		if (!user_guestfwd_parse(o->guestfwd[i], g, errp))
			return false;
		if (slirp_add_exec(s->slirp, g->cmd, &g->server, g->port) < 0) {
			nh_error_setg(errp,
				      "Conflicting/invalid host:port in guest "
				      "forwarding rule '%s'",
				      g->rule);
			return false;
		}
		s->nguestfwd++;
	}
	if (o->smb && !user_smb_start(s, o, errp))
		return false;
	return true;
}

void user_fwd_stop(struct user_state *s)
{
	static const char *const files[] = {"smb.conf", "log.smbd", "smbpasswd",
					    NULL};
	char path[600];

	if (!s->smb_dir)
		return;
	for (unsigned i = 0; files[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->smb_dir, files[i]);
		unlink(path);
	}
	if (rmdir(s->smb_dir))
		log_warn("netdev %s: smbd left files in %s", s->id, s->smb_dir);
	free(s->smb_dir);
	s->smb_dir = NULL;
}

void user_fwd_info(const struct user_state *s, json_t *obj)
{
	json_t *list = json_array();
	char h[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];

	for (unsigned i = 0; i < s->nhostfwd; i++) {
		const struct user_hostfwd *f = &s->hostfwd[i];

		inet_ntop(AF_INET, &f->haddr, h, sizeof(h));
		/* no guest address: slirp's first DHCP address */
		inet_ntop(AF_INET, f->gaddr.s_addr ? &f->gaddr : &s->dhcp, g,
			  sizeof(g));
		json_array_append_new(
		    list, json_pack("{ss ss ss si ss si}", "rule", f->rule,
				    "protocol", f->udp ? "udp" : "tcp",
				    "host-addr", h, "host-port", f->hport,
				    "guest-addr", g, "guest-port", f->gport));
	}
	json_object_set_new(obj, "hostfwd", list);
	list = json_array();
	for (unsigned i = 0; i < s->nguestfwd; i++)
		json_array_append_new(list, json_string(s->guestfwd[i].rule));
	json_object_set_new(obj, "guestfwd", list);
	if (s->smb_dir)
		json_object_set_new(obj, "smb-dir", json_string(s->smb_dir));
}

/* -- run time: hostfwd_add / hostfwd_remove -------------------------------- */

/* user_find() - the open user netdev @id */
static struct user_state *user_find(const char *id, struct nh_error **errp)
{
	struct netdev *nd = netdev_find(id);

	if (!nd) {
		nh_error_set(errp, NH_ERR_DEVICE_NOT_FOUND,
			     "Device '%s' not found", id);
		return NULL;
	}
	if (strcmp(netdev_type(nd), "user") || !nd->priv) {
		nh_error_setg(errp, "netdev '%s' is not a user netdev", id);
		return NULL;
	}
	return nd->priv;
}

bool user_hostfwd_add(const char *id, const char *rule, struct nh_error **errp)
{
	struct user_state *s = user_find(id, errp);
	struct user_hostfwd f;

	return s && user_hostfwd_parse(rule, &f, errp) &&
	       user_hostfwd_apply(s, &f, errp);
}

/**
 * user_hostfwd_remove_parse() - QEMU's "[tcp|udp]:[hostaddr]:hostport";
 * a whole hostfwd rule is taken too (its host side is what counts)
 */
static bool user_hostfwd_remove_parse(const char *rule, struct user_hostfwd *f)
{
	const char *p = rule;
	char buf[USER_RULE_MAX];

	if (strchr(rule, '-'))
		return user_hostfwd_parse(rule, f, NULL);
	memset(f, 0, sizeof(*f));
	if (!user_take(buf, sizeof(buf), &p, ':') ||
	    !user_proto(buf, &f->udp) ||
	    !user_take(buf, sizeof(buf), &p, ':') ||
	    (*buf && !inet_aton(buf, &f->haddr)))
		return false;
	f->hport = user_port(p, 0);
	return f->hport >= 0;
}

bool user_hostfwd_remove(const char *id, const char *rule,
			 struct nh_error **errp)
{
	struct user_state *s = user_find(id, errp);
	struct user_hostfwd f;
	unsigned i, j;

	if (!s)
		return false;
	if (!user_hostfwd_remove_parse(rule, &f)) {
		nh_error_setg(errp,
			      "invalid format: '%s' (expected "
			      "[tcp|udp]:[hostaddr]:hostport)",
			      rule);
		return false;
	}
	if (slirp_remove_hostfwd(s->slirp, f.udp, f.haddr, f.hport) < 0) {
		nh_error_setg(errp, "host forwarding rule for %s not found",
			      rule);
		return false;
	}
	for (i = j = 0; i < s->nhostfwd; i++) {
		const struct user_hostfwd *h = &s->hostfwd[i];

		if (h->udp == f.udp && h->haddr.s_addr == f.haddr.s_addr &&
		    h->hport == f.hport)
			continue;
		s->hostfwd[j++] = *h;
	}
	s->nhostfwd = j;
	user_loop_kick(s);
	return true;
}
