// SPDX-License-Identifier: MIT
/* stream_addr.c - QEMU's SocketAddress options of the stream and dgram
 * netdevs: addr=, local=, remote=
 *
 * An address comes nested (QMP and JSON: "addr": {"type": "unix",
 * "path": "/p"}) or flat (the keyval command line: addr.type=unix,
 * addr.path=/p); both are read the same way.  Its members, by type:
 *
 *   inet   host, port (both required; a service name is looked up),
 *          numeric, to, ipv4, ipv6, keep-alive, mptcp (accepted, as
 *          QEMU's schema has them; only host and port decide the address)
 *   unix   path (required), abstract (Linux's abstract namespace), tight
 *          (with abstract: the address length covers the name only;
 *          default on, as QEMU's)
 *   fd     str: a descriptor number or a name given with getfd
 *
 * Messages name the member by its full key ("addr.path"), as QEMU does.
 *
 * Owns: nothing; strings are borrowed from the options.
 *
 * Never: open a socket, or resolve a name for a check that does not ask
 * for it.
 */

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "opts.h"
#include "stream_internal.h"

json_t *stream_addr_members(const json_t *opts, const char *name)
{
	const json_t *nested = json_object_get(opts, name);
	size_t nlen = strlen(name);
	const char *key;
	json_t *flat = NULL, *v;

	if (nested)
		return json_incref((json_t *)nested);
	json_object_foreach ((json_t *)opts, key, v) {
		if (strncmp(key, name, nlen) || key[nlen] != '.')
			continue;
		if (!flat)
			flat = json_object();
		json_object_set(flat, key + nlen + 1, v);
	}
	return flat;
}

bool stream_check_keys(const json_t *opts, const char *const *known,
		       const char *const *addrs, struct nh_error **errp)
{
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)opts, key, v) {
		bool ok = false;

		for (size_t i = 0; !ok && known[i]; i++)
			ok = !strcmp(key, known[i]);
		for (size_t i = 0; !ok && addrs[i]; i++) {
			size_t n = strlen(addrs[i]);

			ok = !strncmp(key, addrs[i], n) &&
			     (key[n] == '\0' || key[n] == '.');
		}
		if (!ok) {
			nh_error_setg(errp, "Parameter '%s' is unexpected",
				      key);
			return false;
		}
		if (opts_repeated(v, key, errp))
			return false;
	}
	return true;
}

/* stream_addr_keys() - every member of @m is one of @known, each a
 * string (flat) or what nested JSON gives */
static bool stream_addr_keys(const json_t *m, const char *name,
			     const char *const *known, struct nh_error **errp)
{
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)m, key, v) {
		bool ok = false;

		for (size_t i = 0; !ok && known[i]; i++)
			ok = !strcmp(key, known[i]);
		if (!ok) {
			nh_error_setg(errp, "Parameter '%s.%s' is unexpected",
				      name, key);
			return false;
		}
	}
	return true;
}

/* stream_addr_str() - a required string member; errors name NAME.KEY */
static const char *stream_addr_str(const json_t *m, const char *name,
				   const char *key, struct nh_error **errp)
{
	const json_t *v = json_object_get(m, key);

	if (!v) {
		nh_error_setg(errp, "Parameter '%s.%s' is missing", name, key);
		return NULL;
	}
	if (!json_is_string(v)) {
		nh_error_setg(errp,
			      "Invalid parameter type for '%s.%s', expected: "
			      "string",
			      name, key);
		return NULL;
	}
	return json_string_value(v);
}

/* stream_addr_bool() - an optional boolean member, QEMU's spellings */
static bool stream_addr_bool(const json_t *m, const char *name, const char *key,
			     bool *out, struct nh_error **errp)
{
	struct nh_error *err = NULL;

	if (opts_get_bool(m, key, out, &err))
		return true;
	nh_error_free(err);
	nh_error_setg(errp, "Parameter '%s.%s' expects 'on' or 'off'", name,
		      key);
	return false;
}

static bool stream_addr_inet(const json_t *m, const char *name, unsigned flags,
			     int socktype, struct stream_addr *a,
			     struct nh_error **errp)
{
	static const char *const known[] = {
	    "type", "host", "port",	  "numeric", "to",
	    "ipv4", "ipv6", "keep-alive", "mptcp",   NULL,
	};
	const char *host, *port;
	char text[SOCKADDR_STR_MAX];

	if (!stream_addr_keys(m, name, known, errp))
		return false;
	host = stream_addr_str(m, name, "host", errp);
	port = host ? stream_addr_str(m, name, "port", errp) : NULL;
	if (!port)
		return false;
	/* sockaddr_parse()'s syntax: an IPv6 address goes in brackets */
	if (strchr(host, ':') && host[0] != '[')
		snprintf(text, sizeof(text), "[%s]:%s", host, port);
	else
		snprintf(text, sizeof(text), "%s:%s", host, port);
	a->type = STREAM_ADDR_INET;
	snprintf(a->text, sizeof(a->text), "%s", text);
	return sockaddr_parse(name, text, flags, socktype, &a->sa, errp);
}

static bool stream_addr_unix(const json_t *m, const char *name,
			     struct stream_addr *a, struct nh_error **errp)
{
	static const char *const known[] = {
	    "type", "path", "abstract", "tight", NULL,
	};
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa.ss;
	size_t len, room = sizeof(sun->sun_path);
	bool tight = true;
	const char *path;

	if (!stream_addr_keys(m, name, known, errp))
		return false;
	path = stream_addr_str(m, name, "path", errp);
	if (!path ||
	    !stream_addr_bool(m, name, "abstract", &a->abstract, errp) ||
	    !stream_addr_bool(m, name, "tight", &tight, errp))
		return false;
	len = strlen(path);
	if (!len) {
		nh_error_setg(errp, "Parameter '%s.path' must not be empty",
			      name);
		return false;
	}
	/* a path needs its NUL; an abstract name its leading NUL */
	if (len >= room) {
		nh_error_setg(errp,
			      "%s.path: '%s' is too long for a unix socket "
			      "(at most %zu bytes)",
			      name, path, room - 1);
		return false;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (a->abstract) {
		memcpy(sun->sun_path + 1, path, len);
		a->sa.len =
		    tight ? (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
					1 + len)
			  : (socklen_t)sizeof(*sun);
	} else {
		memcpy(sun->sun_path, path, len);
		a->sa.len = (socklen_t)sizeof(*sun);
	}
	a->type = STREAM_ADDR_UNIX;
	a->path = path;
	snprintf(a->text, sizeof(a->text), "unix:%s%s", a->abstract ? "@" : "",
		 path);
	return true;
}

bool stream_addr_parse(const json_t *opts, const char *name, unsigned flags,
		       int socktype, struct stream_addr *a,
		       struct nh_error **errp)
{
	json_t *m = stream_addr_members(opts, name);
	const char *type;
	bool ok = false;

	memset(a, 0, sizeof(*a));
	if (!m) {
		nh_error_setg(errp, "Parameter '%s' is missing", name);
		return false;
	}
	if (!json_is_object(m)) {
		nh_error_setg(errp,
			      "Invalid parameter type for '%s', expected: "
			      "object",
			      name);
		goto out;
	}
	type = stream_addr_str(m, name, "type", errp);
	if (!type)
		goto out;
	if (!strcmp(type, "inet")) {
		ok = stream_addr_inet(m, name, flags, socktype, a, errp);
	} else if (!strcmp(type, "unix")) {
		ok = stream_addr_unix(m, name, a, errp);
	} else if (!strcmp(type, "fd")) {
		static const char *const known[] = {"type", "str", NULL};

		a->type = STREAM_ADDR_FD;
		ok = stream_addr_keys(m, name, known, errp) &&
		     (a->fd = stream_addr_str(m, name, "str", errp));
		if (ok)
			snprintf(a->text, sizeof(a->text), "fd:%s", a->fd);
	} else if (!strcmp(type, "vsock")) {
		nh_error_setg(errp,
			      "%s.type: vsock addresses are not "
			      "supported",
			      name);
	} else {
		nh_error_setg(errp,
			      "Parameter '%s.type' does not accept "
			      "value '%s'",
			      name, type);
	}
out:
	json_decref(m);
	return ok;
}
