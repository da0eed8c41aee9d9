// SPDX-License-Identifier: MIT
/* state.c - the state file: the QMP commands that rebuild the runtime
 * configuration, kept up to date and replayed at start (see state.h)
 *
 * Owns the list of kept commands (records), the file, and a port observer
 * that gives a port the settings saved under its name when it appears.
 *
 * Never: write the file other than whole (temporary file, fsync, rename);
 * start with part of a state file that has a bad line; record what the
 * daemon's own shutdown takes down.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "chardev.h"
#include "log.h"
#include "netdev.h"
#include "port.h"
#include "qmp.h"
#include "schema.h"
#include "state.h"

#define STATE_LINE_MAX	(1u << 20) /* one command, as JSON */
#define STATE_FILE_MODE 0600

/* The commands the state keeps; the others change nothing lasting
 * (queries, fdb-flush, announce-self) or cannot be replayed (getfd) */
static const char *const state_commands[] = {
    "netdev_add",	 "netdev_del",	   "chardev-add", "chardev-remove",
    "set_link",		 "set-rx-filter",  "fdb-add",	  "fdb-del",
    "fdb-set-mac-limit", "port-set-alias",
};

/* One kept command */
struct state_rec {
	char *command;
	json_t *args;
	unsigned line; /* in the file it was read from; 0: added since */
	struct state_rec *next;
};

static struct {
	char *path;
	struct state_rec *recs;
	bool following; /* state_restore() ran, state_stop() did not */
	uv_loop_t *loop;
	uv_timer_t apply_timer; /* gives appeared ports their settings */
	json_t *appeared;	/* names of ports that appeared since */
} st;

static bool state_keeps(const char *command)
{
	for (size_t i = 0; i < sizeof(state_commands) / sizeof(*state_commands);
	     i++)
		if (!strcmp(state_commands[i], command))
			return true;
	return false;
}

static const char *arg_str(const json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

/* The port or netdev a setting applies to; NULL for netdev_add and
 * chardev-add, which make what they name */
static const char *state_target(const char *command, const json_t *args)
{
	if (!strcmp(command, "set_link") || !strcmp(command, "set-rx-filter"))
		return arg_str(args, "name");
	if (!strncmp(command, "fdb-", 4) || !strcmp(command, "port-set-alias"))
		return arg_str(args, "port");
	return NULL;
}

/* Does @target name netdev @id or one of its ports (ID.N)? */
static bool state_names_netdev(const char *target, const char *id)
{
	size_t n = strlen(id);

	return target && !strncmp(target, id, n) &&
	       (target[n] == '\0' || target[n] == '.');
}

static json_int_t arg_vlan(const json_t *args)
{
	return json_integer_value(json_object_get(args, "vlan"));
}

/* Does kept fdb-add @r pin what fdb-del @args removes? */
static bool state_fdb_matches(const struct state_rec *r, const json_t *args)
{
	const char *port = arg_str(args, "port");

	return !strcmp(r->command, "fdb-add") &&
	       !strcasecmp(arg_str(r->args, "mac"), arg_str(args, "mac")) &&
	       arg_vlan(r->args) == arg_vlan(args) &&
	       (!port || !strcmp(port, arg_str(r->args, "port")));
}

/* Does @r say what @command @args says again (and so is replaced)? */
static bool state_same_subject(const struct state_rec *r, const char *command,
			       const json_t *args)
{
	const char *target = state_target(command, args);

	if (strcmp(r->command, command) || !target)
		return false;
	if (strcmp(target, state_target(r->command, r->args)))
		return false;
	if (!strcmp(command, "fdb-add"))
		return state_fdb_matches(r, args);
	return true;
}

/* Does @r go, now that @command @args ran? */
static bool state_undone_by(const struct state_rec *r, const char *command,
			    const json_t *args)
{
	const char *id = arg_str(args, "id");

	if (!strcmp(command, "netdev_del"))
		return (!strcmp(r->command, "netdev_add") &&
			!strcmp(arg_str(r->args, "id"), id)) ||
		       state_names_netdev(state_target(r->command, r->args),
					  id);
	if (!strcmp(command, "chardev-remove"))
		return !strcmp(r->command, "chardev-add") &&
		       !strcmp(arg_str(r->args, "id"), id);
	if (!strcmp(command, "fdb-del"))
		return state_fdb_matches(r, args);
	return state_same_subject(r, command, args);
}

static void state_rec_free(struct state_rec *r)
{
	free(r->command);
	json_decref(r->args);
	free(r);
}

static void state_append(const char *command, json_t *args, unsigned line)
{
	struct state_rec *r = calloc(1, sizeof(*r)), **tail = &st.recs;

	if (!r || !(r->command = strdup(command))) {
		free(r);
		json_decref(args);
		log_err("state: out of memory; %s not kept", command);
		return;
	}
	r->args = args;
	r->line = line;
	while (*tail)
		tail = &(*tail)->next;
	*tail = r;
}

static void state_unlink(struct state_rec *r)
{
	for (struct state_rec **pp = &st.recs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			state_rec_free(r);
			return;
		}
	}
}

/* A netdev_add whose fds came with it (getfd, SCM_RIGHTS) cannot be made
 * again after a restart */
static bool state_has_fds(const json_t *args)
{
	static const char *const keys[] = {"fd", "fds", "vhostfd", "vhostfds"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		if (json_object_get(args, keys[i]))
			return true;
	return false;
}

/*
 * Fold @command @args into the records: what it undoes or replaces goes,
 * and it is appended unless it only takes something away.  Return whether
 * anything changed.
 */
static bool state_fold(const char *command, const json_t *args, unsigned line)
{
	json_t *merged = json_deep_copy(args);
	bool changed = false;
	struct state_rec *r, *next;

	for (r = st.recs; r; r = next) {
		next = r->next;
		if (!state_undone_by(r, command, args))
			continue;
		/* set-rx-filter replaces the members it names: keep the
		 * earlier others */
		if (!strcmp(command, "set-rx-filter")) {
			json_t *old = json_deep_copy(r->args);

			json_object_update(old, merged);
			json_decref(merged);
			merged = old;
		}
		state_unlink(r);
		changed = true;
	}
	if (!strcmp(command, "netdev_del") ||
	    !strcmp(command, "chardev-remove") || !strcmp(command, "fdb-del") ||
	    (!strcmp(command, "port-set-alias") &&
	     !*(arg_str(args, "alias") ? arg_str(args, "alias") : ""))) {
		json_decref(merged);
		return changed;
	}
	if (!strcmp(command, "netdev_add") && state_has_fds(args)) {
		log_warn("state: netdev %s was given file descriptors; it "
			 "cannot be made again after a restart and is not "
			 "saved",
			 arg_str(args, "id"));
		json_decref(merged);
		return changed;
	}
	state_append(command, merged, line);
	return true;
}

/* -- the file ------------------------------------------------------------ */

/* One line, checked: the record's command and arguments, or false */
static bool state_parse_line(const char *text, unsigned line,
			     struct nh_error **errp)
{
	json_error_t jerr;
	json_t *req = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	const char *command, *key;
	json_t *args, *val;
	bool ok = false;

	if (!req) {
		nh_error_setg(errp, "%s:%u: not JSON: %s", st.path, line,
			      jerr.text);
		return false;
	}
	if (!json_is_object(req)) {
		nh_error_setg(errp,
			      "%s:%u: expected a JSON object "
			      "{\"execute\": ..., \"arguments\": {...}}",
			      st.path, line);
		goto out;
	}
	json_object_foreach (req, key, val) {
		if (strcmp(key, "execute") && strcmp(key, "arguments")) {
			nh_error_setg(errp, "%s:%u: unexpected member '%s'",
				      st.path, line, key);
			goto out;
		}
	}
	command = arg_str(req, "execute");
	args = json_object_get(req, "arguments");
	if (!command || !state_keeps(command)) {
		nh_error_setg(errp,
			      "%s:%u: 'execute' must name a command the "
			      "state keeps (netdev_add, set_link, ...), got %s",
			      st.path, line, command ? command : "no string");
		goto out;
	}
	if (!json_is_object(args)) {
		nh_error_setg(errp, "%s:%u: %s: 'arguments' must be an object",
			      st.path, line, command);
		goto out;
	}
	if (!schema_check_args(command, args, errp)) {
		nh_error_prepend(errp, "%s:%u: %s: ", st.path, line, command);
		goto out;
	}
	state_fold(command, args, line);
	ok = true;
out:
	json_decref(req);
	return ok;
}

static void state_clear(void)
{
	while (st.recs) {
		struct state_rec *r = st.recs;

		st.recs = r->next;
		state_rec_free(r);
	}
}

bool state_load(const char *path, struct nh_error **errp)
{
	FILE *f;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned line = 0;
	bool ok = true;

	free(st.path);
	st.path = strdup(path);
	state_clear();
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return true; /* first start: nothing saved yet */
		nh_error_setg(errp, "--state %s: cannot read it: %s", path,
			      strerror(errno));
		return false;
	}
	while (ok && (n = getline(&buf, &cap, f)) >= 0) {
		char *s = buf;

		line++;
		if ((size_t)n > STATE_LINE_MAX) {
			nh_error_setg(errp, "%s:%u: line longer than %u bytes",
				      path, line, STATE_LINE_MAX);
			ok = false;
			break;
		}
		if (memchr(buf, '\0', (size_t)n)) {
			nh_error_setg(errp, "%s:%u: NUL byte in the line", path,
				      line);
			ok = false;
			break;
		}
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '#' || *s == '\n' || *s == '\0')
			continue;
		ok = state_parse_line(s, line, errp);
	}
	if (ok && ferror(f)) {
		nh_error_setg(errp, "--state %s: cannot read it: %s", path,
			      strerror(errno));
		ok = false;
	}
	free(buf);
	fclose(f);
	if (!ok)
		state_clear();
	return ok;
}

const char *state_path(void)
{
	return st.path;
}

/* Write all of @text to @fd */
static bool state_write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		text += n;
		len -= (size_t)n;
	}
	return true;
}

/* The file's text: a header, then one command per line */
static char *state_text(size_t *len)
{
	char *text = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&text, &size);

	if (!m)
		return NULL;
	fputs("# nethubd state: the QMP commands that rebuild what was changed "
	      "at run time,\n# replayed at start.  Rewritten by nethubd on "
	      "each change; see docs/usage.md.\n",
	      m);
	for (struct state_rec *r = st.recs; r; r = r->next) {
		json_t *req = json_pack("{ss sO}", "execute", r->command,
					"arguments", r->args);
		char *line = req ? json_dumps(req, JSON_COMPACT) : NULL;

		json_decref(req);
		if (!line) {
			fclose(m);
			free(text);
			return NULL;
		}
		fprintf(m, "%s\n", line);
		free(line);
	}
	if (fclose(m)) {
		free(text);
		return NULL;
	}
	*len = size;
	return text;
}

bool state_save(struct nh_error **errp)
{
	char tmp[4096];
	size_t len;
	char *text;
	int fd, err;

	if (!st.path)
		return true;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", st.path) >=
	    sizeof(tmp)) {
		nh_error_setg(errp, "--state %s: path too long", st.path);
		return false;
	}
	text = state_text(&len);
	if (!text) {
		nh_error_setg(errp, "--state %s: out of memory", st.path);
		return false;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  STATE_FILE_MODE);
	if (fd < 0) {
		err = errno;
		goto fail;
	}
	if (!state_write_all(fd, text, len) || fsync(fd)) {
		err = errno ? errno : EIO;
		close(fd);
		unlink(tmp);
		goto fail;
	}
	close(fd);
	if (rename(tmp, st.path)) {
		err = errno;
		unlink(tmp);
		goto fail;
	}
	free(text);
	return true;
fail:
	free(text);
	nh_error_setg(errp, "--state %s: cannot write it: %s", st.path,
		      strerror(err));
	return false;
}

void state_note(const char *command, const json_t *args)
{
	struct nh_error *err = NULL;

	if (!st.following || !state_keeps(command))
		return;
	if (!state_fold(command, args, 0))
		return;
	if (!state_save(&err)) {
		log_err("%s; the change (%s) is not saved", err->msg, command);
		nh_error_free(err);
	}
}

/* -- replay -------------------------------------------------------------- */

/* Does a netdev or chardev @r would make exist already (command line)? */
static bool state_made_already(const struct state_rec *r)
{
	const char *id = arg_str(r->args, "id");

	if (!strcmp(r->command, "netdev_add"))
		return netdev_find(id) != NULL;
	if (!strcmp(r->command, "chardev-add"))
		return chardev_find(id) != NULL;
	return false;
}

/* Is @r a setting of a port that is not there (yet), on a netdev that is? */
static bool state_waits_for_port(const struct state_rec *r)
{
	const char *target = state_target(r->command, r->args);
	const char *dot;
	char id[PORT_NAME_MAX];

	if (!target || port_find(target))
		return false;
	if (netdev_find(target))
		/* set_link and set-rx-filter act on the netdev itself; the
		 * others on its port, which comes and goes (connect=) */
		return !!strncmp(r->command, "set", 3);
	dot = strrchr(target, '.');
	if (!dot || (size_t)(dot - target) >= sizeof(id))
		return false;
	memcpy(id, target, (size_t)(dot - target));
	id[dot - target] = '\0';
	return netdev_find(id) != NULL;
}

/* Give the ports named in st.appeared the settings saved for them */
static void state_on_apply(uv_timer_t *t)
{
	struct nh_error *err = NULL;
	bool dropped = false;

	(void)t;
	for (size_t i = 0; i < json_array_size(st.appeared); i++) {
		const char *name =
		    json_string_value(json_array_get(st.appeared, i));
		struct state_rec *r, *next;

		if (!port_find(name))
			continue;
		for (r = st.recs; r; r = next) {
			const char *target = state_target(r->command, r->args);

			next = r->next;
			if (!target || strcmp(target, name))
				continue;
			if (qmp_command_run(st.loop, r->command, r->args, &err))
				continue;
			log_warn("state: port %s: saved %s failed: %s; "
				 "dropped from the state",
				 name, r->command, err->msg);
			nh_error_free(err);
			err = NULL;
			state_unlink(r);
			dropped = true;
		}
	}
	json_array_clear(st.appeared);
	if (dropped && !state_save(&err)) {
		log_err("%s", err->msg);
		nh_error_free(err);
	}
}

static void state_on_port_added(struct port *p)
{
	for (struct state_rec *r = st.recs; r; r = r->next) {
		const char *target = state_target(r->command, r->args);

		if (target && !strcmp(target, p->name)) {
			json_array_append_new(st.appeared,
					      json_string(p->name));
			uv_timer_start(&st.apply_timer, state_on_apply, 0, 0);
			return;
		}
	}
}

static const struct port_observer state_port_observer = {
    .added = state_on_port_added,
};

bool state_restore(uv_loop_t *loop, struct nh_error **errp)
{
	struct state_rec *r, *next;
	bool changed = false;

	st.loop = loop;
	st.appeared = json_array();
	uv_timer_init(loop, &st.apply_timer);
	for (r = st.recs; r; r = next) {
		next = r->next;
		if (state_made_already(r)) {
			log_warn("%s:%u: %s %s: the command line made it "
				 "already; the saved one is dropped",
				 st.path, r->line, r->command,
				 arg_str(r->args, "id"));
			state_unlink(r);
			changed = true;
			continue;
		}
		if (state_waits_for_port(r)) {
			log_info("%s:%u: %s waits for port %s", st.path,
				 r->line, r->command,
				 state_target(r->command, r->args));
			continue;
		}
		if (!qmp_command_run(loop, r->command, r->args, errp)) {
			nh_error_prepend(errp, "%s:%u: %s: ", st.path, r->line,
					 r->command);
			nh_error_prepend(errp, "restoring the saved state: ");
			return false;
		}
	}
	if (st.recs)
		log_info("state restored from %s", st.path);
	port_add_observer(&state_port_observer);
	st.following = true;
	return !changed || state_save(errp);
}

void state_stop(void)
{
	if (st.following) {
		port_remove_observer(&state_port_observer);
		st.following = false;
		uv_close((uv_handle_t *)&st.apply_timer, NULL);
	}
	json_decref(st.appeared);
	st.appeared = NULL;
	state_clear();
}
