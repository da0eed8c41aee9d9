// SPDX-License-Identifier: MIT
/* chardev.c - socket chardevs with unix paths (see chardev.h)
 *
 * Owns: the registry of chardevs, each one's listening socket and its
 * uv_poll_t, its reconnect timer, and a connection made before a user
 * attached.  A chardev's memory is freed once its handles' close callbacks
 * ran.
 *
 * Never: block (connect() on a unix socket does not wait), remove a socket
 * file that is not its own, or hand one connection to two users.
 */

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chardev.h"
#include "log.h"
#include "netdev.h"
#include "opts.h"
#include "unixsock.h"

#define CHARDEV_MODE_DEFAULT	0600
#define CHARDEV_BACKLOG		4
#define CHARDEV_RECONNECT_MAX_S 86400

struct chardev {
	char id[CHARDEV_ID_MAX];
	char *path;
	bool server;
	int64_t reconnect_s; /* 0: never */
	unsigned mode;
	gid_t group; /* (gid_t)-1: the creator's */
	uv_loop_t *loop;

	int listen_fd; /* server: -1 when none */
	dev_t dev;
	ino_t ino;
	uv_poll_t listen_poll;
	bool poll_init, polling;
	uv_timer_t timer; /* client: reconnect */
	bool timer_init;
	unsigned handles; /* open handles; freed when 0 after removal */

	int pending_fd; /* a connection no user has taken yet, or -1 */
	bool connected; /* a user holds a connection */
	chardev_connected_fn *fn;
	void *ctx; /* NULL fn: no user */
	bool removed;
	uint64_t connections;
	struct chardev *next;
};

static struct chardev *chardevs;

struct chardev *chardev_find(const char *id)
{
	for (struct chardev *cd = chardevs; cd; cd = cd->next)
		if (!strcmp(cd->id, id))
			return cd;
	return NULL;
}

const char *chardev_id(const struct chardev *cd)
{
	return cd->id;
}

const char *chardev_path(const struct chardev *cd)
{
	return cd->path;
}

bool chardev_is_server(const struct chardev *cd)
{
	return cd->server;
}

/* -- arguments ---------------------------------------------------------- */

struct chardev_args {
	const char *id, *path;
	bool server, wait, wait_given;
	int64_t reconnect;
	int64_t mode;
	gid_t group; /* (gid_t)-1: none given */
};

#define CHARDEV_GROUP_NAME_MAX 256

/* chardev_group() - @spec, a group name or a number, as a gid.  A number
 * need not name a group in /etc/group (a container's may not). */
static bool chardev_group(const char *spec, gid_t *out, struct nh_error **errp)
{
	char buf[4096], *end;
	struct group gr, *found = NULL;
	unsigned long long n;

	if (!*spec || strlen(spec) >= CHARDEV_GROUP_NAME_MAX) {
		nh_error_setg(errp, "Parameter 'x-group' expects a group name "
				    "or number");
		return false;
	}
	if (*spec >= '0' && *spec <= '9') {
		errno = 0;
		n = strtoull(spec, &end, 10);
		if (*end || errno || n >= (gid_t)-1) {
			nh_error_setg(errp,
				      "Parameter 'x-group': '%s' is not a "
				      "group number",
				      spec);
			return false;
		}
		*out = (gid_t)n;
		return true;
	}
	if (getgrnam_r(spec, &gr, buf, sizeof(buf), &found) || !found) {
		nh_error_setg(errp, "Parameter 'x-group': no such group '%s'",
			      spec);
		return false;
	}
	*out = found->gr_gid;
	return true;
}

static bool chardev_bool(const json_t *obj, const char *key, bool def,
			 bool *out, struct nh_error **errp)
{
	const json_t *v = json_object_get(obj, key);

	if (!v) {
		*out = def;
		return true;
	}
	if (!json_is_boolean(v)) {
		nh_error_set(errp, NH_ERR_GENERIC,
			     "Invalid parameter type for '%s', expected: "
			     "boolean",
			     key);
		return false;
	}
	*out = json_is_true(v);
	return true;
}

/* chardev_args_get() - the arguments of chardev-add, checked */
static bool chardev_args_get(const json_t *args, struct chardev_args *a,
			     struct nh_error **errp)
{
	const json_t *be, *data, *addr, *ad, *v;
	const char *type;

	memset(a, 0, sizeof(*a));
	a->id = json_string_value(json_object_get(args, "id"));
	if (!a->id || !netdev_valid_id(a->id)) {
		nh_error_setg(errp, "Parameter 'id' expects an identifier");
		return false;
	}
	be = json_object_get(args, "backend");
	type = json_string_value(json_object_get(be, "type"));
	if (!type) {
		nh_error_setg(errp, "Parameter 'backend' is missing");
		return false;
	}
	if (strcmp(type, "socket")) {
		nh_error_setg(errp,
			      "chardev '%s': backend type '%s' is not "
			      "supported (only 'socket')",
			      a->id, type);
		return false;
	}
	data = json_object_get(be, "data");
	addr = json_object_get(data, "addr");
	type = json_string_value(json_object_get(addr, "type"));
	if (!type) {
		nh_error_setg(errp, "Parameter 'addr' is missing");
		return false;
	}
	if (strcmp(type, "unix")) {
		nh_error_setg(errp,
			      "chardev '%s': address type '%s' is not "
			      "supported (only 'unix')",
			      a->id, type);
		return false;
	}
	ad = json_object_get(addr, "data");
	a->path = json_string_value(json_object_get(ad, "path"));
	if (!a->path || !*a->path) {
		nh_error_setg(errp, "Parameter 'path' is missing");
		return false;
	}
	if (json_is_true(json_object_get(ad, "abstract"))) {
		nh_error_setg(errp,
			      "chardev '%s': abstract unix sockets are not "
			      "supported",
			      a->id);
		return false;
	}
	if (!chardev_bool(data, "server", false, &a->server, errp) ||
	    !chardev_bool(data, "wait", true, &a->wait, errp))
		return false;
	a->wait_given = json_object_get(data, "wait") != NULL;
	if (!a->server && a->wait_given) {
		nh_error_setg(errp, "'wait' option is incompatible with "
				    "socket in client connect mode");
		return false;
	}
	v = json_object_get(data, "reconnect");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > CHARDEV_RECONNECT_MAX_S) {
			nh_error_setg(errp,
				      "Parameter 'reconnect' expects a number "
				      "of seconds from 0 to %d",
				      CHARDEV_RECONNECT_MAX_S);
			return false;
		}
		a->reconnect = json_integer_value(v);
	}
	if (a->server && a->reconnect) {
		nh_error_setg(errp, "'reconnect' option is incompatible with "
				    "socket in server listen mode");
		return false;
	}
	a->mode = CHARDEV_MODE_DEFAULT;
	v = json_object_get(data, "x-mode");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 0777) {
			nh_error_setg(errp, "Parameter 'x-mode' expects file "
					    "permissions from 0 to 0777");
			return false;
		}
		a->mode = json_integer_value(v);
	}
	a->group = (gid_t)-1;
	v = json_object_get(data, "x-group");
	if (v) {
		if (!json_is_string(v)) {
			nh_error_setg(errp, "Invalid parameter type for "
					    "'x-group', expected: string");
			return false;
		}
		if (!a->server) {
			nh_error_setg(errp,
				      "chardev '%s': 'x-group' is for a "
				      "listening socket (server=on)",
				      a->id);
			return false;
		}
		if (!chardev_group(json_string_value(v), &a->group, errp))
			return false;
	}
	for (const char *const *k =
		 (const char *const[]){"tls-creds", "tls-authz", "telnet",
				       "tn3270", "websocket", NULL};
	     *k; k++) {
		if (json_object_get(data, *k) &&
		    !json_is_false(json_object_get(data, *k))) {
			nh_error_setg(errp,
				      "chardev '%s': '%s' is not supported",
				      a->id, *k);
			return false;
		}
	}
	return true;
}

bool chardev_check(const json_t *args, struct nh_error **errp)
{
	struct chardev_args a;

	if (!chardev_args_get(args, &a, errp))
		return false;
	if (chardev_find(a.id)) {
		nh_error_setg(errp, "Chardev '%s' already exists", a.id);
		return false;
	}
	return true;
}

/* chardev_cli_alias() - the command line takes mode= and group= as -qmp
 * does, as the schema's x-mode and x-group */
static bool chardev_cli_alias(json_t *kv, const char *alias, const char *key,
			      struct nh_error **errp)
{
	json_t *v = json_object_get(kv, alias);

	if (!v)
		return true;
	if (json_object_get(kv, key)) {
		nh_error_setg(errp,
			      "chardev: '%s' and '%s' are the same option",
			      alias, key);
		return false;
	}
	json_object_set(kv, key, v);
	json_object_del(kv, alias);
	return true;
}

json_t *chardev_parse_cli(const char *spec, struct nh_error **errp)
{
	static const char *const known[] = {
	    "backend", "id",	  "path", "server", "wait",    "reconnect",
	    "x-mode",  "x-group", "mode", "group",  "nodelay", NULL};
	json_t *kv = opts_parse(spec, "backend", errp), *data, *out;
	const char *backend, *id, *path, *group;
	bool server = false, wait = true;
	int64_t reconnect = 0, mode = CHARDEV_MODE_DEFAULT;

	if (!kv)
		return NULL;
	backend = opts_get_str(kv, "backend", NULL, NULL);
	if (!backend || strcmp(backend, "socket")) {
		nh_error_setg(errp,
			      "chardev backend '%s' is not supported (only "
			      "'socket')",
			      backend ? backend : "");
		goto fail;
	}
	if (!opts_check_keys(kv, known, errp) ||
	    !chardev_cli_alias(kv, "mode", "x-mode", errp) ||
	    !chardev_cli_alias(kv, "group", "x-group", errp))
		goto fail;
	id = opts_get_str(kv, "id", NULL, NULL);
	path = opts_get_str(kv, "path", NULL, NULL);
	if (!id) {
		nh_error_setg(errp, "chardev: no id specified");
		goto fail;
	}
	if (!path) {
		nh_error_setg(errp,
			      "chardev: socket needs path= (only unix sockets "
			      "are supported)");
		goto fail;
	}
	if (!opts_get_bool(kv, "server", &server, errp) ||
	    !opts_get_bool(kv, "wait", &wait, errp) ||
	    !opts_get_int(kv, "reconnect", 0, CHARDEV_RECONNECT_MAX_S,
			  &reconnect, errp) ||
	    !opts_get_int(kv, "x-mode", 0, 0777, &mode, errp))
		goto fail;
	data = json_pack("{s:{s:s,s:{s:s}},s:b}", "addr", "type", "unix",
			 "data", "path", path, "server", server);
	if (opts_has(kv, "wait"))
		json_object_set_new(data, "wait", json_boolean(wait));
	if (reconnect)
		json_object_set_new(data, "reconnect", json_integer(reconnect));
	if (opts_has(kv, "x-mode"))
		json_object_set_new(data, "x-mode", json_integer(mode));
	group = opts_get_str(kv, "x-group", NULL, NULL);
	if (group)
		json_object_set_new(data, "x-group", json_string(group));
	out = json_pack("{s:s,s:{s:s,s:o}}", "id", id, "backend", "type",
			"socket", "data", data);
	json_decref(kv);
	return out;
fail:
	json_decref(kv);
	return NULL;
}

/* -- connections -------------------------------------------------------- */

/* chardev_deliver() - hand @fd to the user, or keep it for one */
static void chardev_deliver(struct chardev *cd, int fd)
{
	cd->connections++;
	if (!cd->fn) {
		cd->pending_fd = fd;
		return;
	}
	cd->connected = true;
	cd->fn(cd->ctx, fd);
}

/* chardev_watch() - server: accept while a user waits for a peer */
static void chardev_watch(struct chardev *cd);

static void chardev_on_accept(uv_poll_t *h, int status, int events)
{
	struct chardev *cd = h->data;
	int fd;

	(void)events;
	if (status < 0 || cd->removed)
		return;
	fd = accept4(cd->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED) {
			log_warn("chardev %s: accept: %s", cd->id,
				 strerror(errno));
			/* out of descriptors: wait for the next peer event
			 * rather than spin */
			uv_poll_stop(&cd->listen_poll);
			cd->polling = false;
		}
		return;
	}
	uv_poll_stop(&cd->listen_poll);
	cd->polling = false;
	log_info("chardev %s: peer connected on %s", cd->id, cd->path);
	chardev_deliver(cd, fd);
}

static void chardev_watch(struct chardev *cd)
{
	if (!cd->server || !cd->poll_init || cd->polling || cd->connected ||
	    cd->pending_fd >= 0 || !cd->fn || cd->removed)
		return;
	if (uv_poll_start(&cd->listen_poll, UV_READABLE, chardev_on_accept) ==
	    0)
		cd->polling = true;
}

/* chardev_try_connect() - client: one attempt; 0 or a negative errno */
static int chardev_try_connect(struct chardev *cd)
{
	int fd = unixsock_connect(cd->path);

	if (fd < 0)
		return fd;
	log_info("chardev %s: connected to %s", cd->id, cd->path);
	chardev_deliver(cd, fd);
	return 0;
}

static void chardev_on_timer(uv_timer_t *t)
{
	struct chardev *cd = t->data;

	if (cd->removed || cd->connected || cd->pending_fd >= 0)
		return;
	if (chardev_try_connect(cd) < 0)
		uv_timer_start(&cd->timer, chardev_on_timer,
			       (uint64_t)cd->reconnect_s * 1000, 0);
}

static void chardev_schedule_reconnect(struct chardev *cd)
{
	if (cd->server || !cd->reconnect_s || !cd->timer_init || cd->removed)
		return;
	uv_timer_start(&cd->timer, chardev_on_timer,
		       (uint64_t)cd->reconnect_s * 1000, 0);
}

/* -- life cycle --------------------------------------------------------- */

static void chardev_free(struct chardev *cd)
{
	free(cd->path);
	free(cd);
}

static void chardev_on_close(uv_handle_t *h)
{
	struct chardev *cd = h->data;

	if (--cd->handles == 0 && cd->removed)
		chardev_free(cd);
}

bool chardev_add(uv_loop_t *loop, const json_t *args, struct nh_error **errp)
{
	struct chardev_args a;
	struct chardev *cd;
	int rc;

	if (!chardev_check(args, errp))
		return false;
	chardev_args_get(args, &a, NULL);
	cd = calloc(1, sizeof(*cd));
	if (!cd || !(cd->path = strdup(a.path))) {
		free(cd);
		nh_error_setg(errp, "out of memory");
		return false;
	}
	snprintf(cd->id, sizeof(cd->id), "%s", a.id);
	cd->server = a.server;
	cd->reconnect_s = a.reconnect;
	cd->mode = (unsigned)a.mode;
	cd->group = a.group;
	cd->loop = loop;
	cd->listen_fd = -1;
	cd->pending_fd = -1;
	if (cd->server) {
		cd->listen_fd =
		    unixsock_listen(cd->path, cd->mode, cd->group,
				    CHARDEV_BACKLOG, &cd->dev, &cd->ino, errp);
		if (cd->listen_fd < 0) {
			chardev_free(cd);
			return false;
		}
		/* QEMU would stop here until a peer connects; a switch
		 * serves its other ports and QMP meanwhile (see char.json) */
		if (a.wait_given && a.wait)
			log_info("chardev %s: wait=on: listening on %s; "
				 "nethubd goes on and takes the peer when it "
				 "connects",
				 cd->id, cd->path);
		uv_poll_init(loop, &cd->listen_poll, cd->listen_fd);
		cd->listen_poll.data = cd;
		cd->poll_init = true;
		cd->handles++;
	} else {
		uv_timer_init(loop, &cd->timer);
		cd->timer.data = cd;
		cd->timer_init = true;
		cd->handles++;
		rc = chardev_try_connect(cd);
		if (rc < 0 && !cd->reconnect_s) {
			nh_error_setg(errp, "Failed to connect to '%s': %s",
				      cd->path, strerror(-rc));
			cd->removed = true;
			uv_close((uv_handle_t *)&cd->timer, chardev_on_close);
			return false;
		}
		if (rc < 0) {
			log_info("chardev %s: %s: %s; retrying every %lld s",
				 cd->id, cd->path, strerror(-rc),
				 (long long)cd->reconnect_s);
			chardev_schedule_reconnect(cd);
		}
	}
	cd->next = chardevs;
	chardevs = cd;
	return true;
}

static void chardev_close(struct chardev *cd)
{
	cd->removed = true;
	if (cd->pending_fd >= 0)
		close(cd->pending_fd);
	cd->pending_fd = -1;
	if (cd->poll_init) {
		uv_close((uv_handle_t *)&cd->listen_poll, chardev_on_close);
		close(cd->listen_fd);
		unixsock_unlink_own(cd->path, cd->dev, cd->ino);
	}
	if (cd->timer_init)
		uv_close((uv_handle_t *)&cd->timer, chardev_on_close);
	if (!cd->handles)
		chardev_free(cd);
}

static void chardev_unlink(struct chardev *cd)
{
	for (struct chardev **pp = &chardevs; *pp; pp = &(*pp)->next) {
		if (*pp == cd) {
			*pp = cd->next;
			return;
		}
	}
}

bool chardev_remove(const char *id, struct nh_error **errp)
{
	struct chardev *cd = id ? chardev_find(id) : NULL;

	if (!cd) {
		nh_error_set(errp, NH_ERR_GENERIC, "Chardev '%s' not found",
			     id ? id : "");
		return false;
	}
	if (cd->fn) {
		nh_error_setg(errp, "Chardev '%s' is busy", id);
		return false;
	}
	chardev_unlink(cd);
	chardev_close(cd);
	return true;
}

void chardev_remove_all(void)
{
	while (chardevs) {
		struct chardev *cd = chardevs;

		chardevs = cd->next;
		cd->fn = NULL;
		chardev_close(cd);
	}
}

json_t *chardev_query(void)
{
	json_t *arr = json_array();

	for (struct chardev *cd = chardevs; cd; cd = cd->next) {
		char *name = NULL;
		bool up = cd->connected || cd->pending_fd >= 0;

		if (asprintf(&name, "%sunix:%s%s", up ? "" : "disconnected:",
			     cd->path, cd->server ? ",server=on" : "") < 0)
			name = NULL;
		json_array_append_new(
		    arr, json_pack("{s:s,s:s,s:b}", "label", cd->id, "filename",
				   name ? name : cd->path, "frontend-open",
				   cd->fn != NULL));
		free(name);
	}
	return arr;
}

bool chardev_attach(struct chardev *cd, chardev_connected_fn *fn, void *ctx,
		    struct nh_error **errp)
{
	int fd;

	if (cd->fn) {
		nh_error_setg(errp, "Chardev '%s' is busy", cd->id);
		return false;
	}
	cd->fn = fn;
	cd->ctx = ctx;
	if (cd->pending_fd >= 0) {
		fd = cd->pending_fd;
		cd->pending_fd = -1;
		cd->connected = true;
		fn(ctx, fd);
	} else {
		chardev_watch(cd);
	}
	return true;
}

void chardev_detach(struct chardev *cd)
{
	cd->fn = NULL;
	cd->ctx = NULL;
	if (cd->polling) {
		uv_poll_stop(&cd->listen_poll);
		cd->polling = false;
	}
}

void chardev_disconnected(struct chardev *cd)
{
	cd->connected = false;
	if (cd->server)
		chardev_watch(cd);
	else
		chardev_schedule_reconnect(cd);
}
