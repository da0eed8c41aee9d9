// SPDX-License-Identifier: MIT
/* test_chardev.c - socket chardevs: -chardev parsing into chardev-add's
 * shape, argument checks, a listening chardev (file mode, a live socket
 * refused, one peer handed to its user, busy while used), x-mode and
 * x-group on its file, wait= (a client refuses it), a client one (fails
 * without reconnect=, retries with it) */

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "chardev.h"
#include "tap.h"
#include "unixsock.h"

static char dir[64];
static uv_loop_t *loop;

static const char *path_of(const char *name)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static json_t *add_args(const char *id, const char *path, bool server,
			int reconnect)
{
	json_t *data =
	    json_pack("{s:{s:s,s:{s:s}},s:b}", "addr", "type", "unix", "data",
		      "path", path, "server", server);

	if (reconnect)
		json_object_set_new(data, "reconnect", json_integer(reconnect));
	return json_pack("{s:s,s:{s:s,s:o}}", "id", id, "backend", "type",
			 "socket", "data", data);
}

/* error_has() - @ok is false and *@errp holds @words; clears *@errp.
 * @errp is read after @ok was computed (an argument's value would not be) */
static bool error_has(bool ok, struct nh_error **errp, const char *words)
{
	struct nh_error *err = *errp;
	bool has = !ok && err && strstr(err->msg, words);

	if (!has)
		printf("# got: %s\n", err ? err->msg : "(success)");
	nh_error_free(err);
	*errp = NULL;
	return has;
}

static void test_cli_into_chardev_add_shape(void)
{
	struct nh_error *err = NULL;
	json_t *o = chardev_parse_cli(
	    "socket,id=c0,path=/run/x.sock,server=on,wait=off", &err);
	json_t *data;

	CHECK(o != NULL);
	CHECK(!strcmp(json_string_value(json_object_get(o, "id")), "c0"));
	data = json_object_get(json_object_get(o, "backend"), "data");
	CHECK(json_is_true(json_object_get(data, "server")));
	CHECK(json_is_false(json_object_get(data, "wait")));
	CHECK(
	    !strcmp(json_string_value(json_object_get(
			json_object_get(json_object_get(data, "addr"), "data"),
			"path")),
		    "/run/x.sock"));
	CHECK(chardev_check(o, NULL));
	json_decref(o);
	o = chardev_parse_cli("socket,id=c1,path=/x,reconnect=5", NULL);
	data = json_object_get(json_object_get(o, "backend"), "data");
	CHECK_EQ(json_integer_value(json_object_get(data, "reconnect")), 5);
	CHECK(json_is_false(json_object_get(data, "server")));
	json_decref(o);
	CHECK(error_has(chardev_parse_cli("file,id=c,path=x", &err) != NULL,
			&err, "'file' is not supported"));
	err = NULL;
	CHECK(error_has(chardev_parse_cli("socket,id=c,host=x,port=1", &err) !=
			    NULL,
			&err, "'host' is unexpected"));
	err = NULL;
	CHECK(error_has(chardev_parse_cli("socket,path=/x", &err) != NULL, &err,
			"no id"));
	err = NULL;
	o = chardev_parse_cli("socket,id=c,path=/x,server=on,reconnect=1",
			      NULL);
	CHECK(o != NULL);
	CHECK(error_has(chardev_check(o, &err), &err, "incompatible"));
	json_decref(o);
}

static void test_check_refuses_other_families_and_bad_ids(void)
{
	struct nh_error *err = NULL;
	json_t *o = json_pack("{s:s,s:{s:s,s:{s:{s:s,s:{s:s,s:s}}}}}", "id",
			      "c", "backend", "type", "socket", "data", "addr",
			      "type", "inet", "data", "host", "h", "port", "1");

	CHECK(
	    error_has(chardev_check(o, &err), &err, "'inet' is not supported"));
	json_decref(o);
	err = NULL;
	o = add_args("9bad", "/x", false, 0);
	CHECK(error_has(chardev_check(o, &err), &err, "expects an identifier"));
	json_decref(o);
	err = NULL;
	o = add_args("c", "/x", false, -1);
	CHECK(error_has(chardev_check(o, &err), &err, "'reconnect'"));
	json_decref(o);
}

static int got_fd = -1;

static void on_connected(void *ctx, int fd)
{
	(void)ctx;
	got_fd = fd;
}

static void run_until_connected(void)
{
	for (int i = 0; i < 500 && got_fd < 0; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(10000);
	}
}

static void test_server_one_peer_busy_and_removed(void)
{
	struct nh_error *err = NULL;
	json_t *a = add_args("srv", path_of("s.sock"), true, 0);
	struct chardev *cd;
	struct stat st;
	json_t *q;
	int c;

	CHECK(chardev_add(loop, a, NULL));
	CHECK(stat(path_of("s.sock"), &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(error_has(chardev_add(loop, a, &err), &err, "already exists"));
	json_decref(a);
	err = NULL;
	a = add_args("srv2", path_of("s.sock"), true, 0);
	CHECK(error_has(chardev_add(loop, a, &err), &err,
			"another process is serving"));
	json_decref(a);
	cd = chardev_find("srv");
	CHECK(cd && chardev_is_server(cd));
	CHECK(chardev_attach(cd, on_connected, NULL, NULL));
	err = NULL;
	CHECK(error_has(chardev_attach(cd, on_connected, NULL, &err), &err,
			"Chardev 'srv' is busy"));
	err = NULL;
	CHECK(error_has(chardev_remove("srv", &err), &err,
			"Chardev 'srv' is busy"));
	c = unixsock_connect(path_of("s.sock"));
	CHECK(c >= 0);
	run_until_connected();
	CHECK(got_fd >= 0);
	q = chardev_query();
	CHECK(!strncmp(json_string_value(
			   json_object_get(json_array_get(q, 0), "filename")),
		       "unix:", 5));
	CHECK(json_is_true(
	    json_object_get(json_array_get(q, 0), "frontend-open")));
	json_decref(q);
	close(got_fd);
	got_fd = -1;
	close(c);
	chardev_disconnected(cd);
	chardev_detach(cd);
	CHECK(chardev_remove("srv", NULL));
	CHECK(access(path_of("s.sock"), F_OK) != 0); /* its file went */
	err = NULL;
	CHECK(error_has(chardev_remove("srv", &err), &err, "not found"));
	uv_run(loop, UV_RUN_NOWAIT);
}

/* a group the socket may be given: any as root, else our own */
static gid_t some_group(void)
{
	return geteuid() == 0 ? 4242 : getegid();
}

static json_t *server_with(const char *id, const char *path, const char *opts,
			   struct nh_error **errp)
{
	char spec[512];

	snprintf(spec, sizeof(spec), "socket,id=%s,path=%s,server=on%s", id,
		 path, opts);
	return chardev_parse_cli(spec, errp);
}

static void test_mode_and_group_on_the_file(void)
{
	struct nh_error *err = NULL;
	struct group *gr = getgrgid(getegid());
	char opts[128];
	struct stat st;
	json_t *a;

	snprintf(opts, sizeof(opts), ",mode=0660,x-group=%u",
		 (unsigned)some_group());
	a = server_with("grp", path_of("g.sock"), opts, &err);
	CHECK(a != NULL);
	CHECK(chardev_add(loop, a, NULL));
	json_decref(a);
	CHECK(stat(path_of("g.sock"), &st) == 0);
	CHECK_EQ(st.st_mode & 0777, 0660);
	CHECK_EQ(st.st_gid, some_group());
	CHECK(chardev_remove("grp", NULL));
	CHECK(gr != NULL);
	/* by name, with -qmp's spelling */
	snprintf(opts, sizeof(opts), ",group=%s", gr ? gr->gr_name : "");
	a = server_with("grp", path_of("g.sock"), opts, NULL);
	CHECK(chardev_add(loop, a, NULL));
	json_decref(a);
	CHECK(stat(path_of("g.sock"), &st) == 0);
	CHECK_EQ(st.st_mode & 0777, 0600); /* the default mode stays */
	CHECK_EQ(st.st_gid, getegid());
	CHECK(chardev_remove("grp", NULL));
	a = server_with("grp", path_of("g.sock"), ",x-group=no-such-group-nh",
			NULL);
	CHECK(error_has(chardev_add(loop, a, &err), &err,
			"no such group 'no-such-group-nh'"));
	json_decref(a);
	CHECK(access(path_of("g.sock"), F_OK) != 0); /* nothing was made */
	CHECK(error_has(
	    server_with("grp", "/x", ",mode=0660,x-mode=0600", &err) != NULL,
	    &err, "'mode' and 'x-mode' are the same option"));
	a = server_with("grp", path_of("g.sock"), ",x-group=12x", NULL);
	CHECK(error_has(chardev_check(a, &err), &err, "not a group number"));
	json_decref(a);
	a = chardev_parse_cli("socket,id=grp,path=/x,x-group=0", NULL);
	CHECK(error_has(chardev_check(a, &err), &err,
			"'x-group' is for a listening socket"));
	json_decref(a);
	uv_run(loop, UV_RUN_NOWAIT);
}

static void test_wait(void)
{
	struct nh_error *err = NULL;
	json_t *a = chardev_parse_cli("socket,id=w,path=/x,wait=off", NULL);

	/* QEMU's rule and words */
	CHECK(error_has(chardev_check(a, &err), &err,
			"'wait' option is incompatible with socket in client "
			"connect mode"));
	json_decref(a);
	a = chardev_parse_cli("socket,id=w,path=/x", NULL);
	CHECK(!json_object_get(
	    json_object_get(json_object_get(a, "backend"), "data"), "wait"));
	CHECK(chardev_check(a, NULL));
	json_decref(a);
	/* wait=on on a server: listening at once, nothing waits */
	a = server_with("w", path_of("w.sock"), ",wait=on", NULL);
	CHECK(chardev_add(loop, a, NULL));
	json_decref(a);
	CHECK(access(path_of("w.sock"), F_OK) == 0);
	CHECK(chardev_remove("w", NULL));
	uv_run(loop, UV_RUN_NOWAIT);
}

static void test_client_fails_or_retries(void)
{
	struct nh_error *err = NULL;
	json_t *a = add_args("cli", path_of("later.sock"), false, 0);
	struct chardev *cd;
	int l;

	CHECK(error_has(chardev_add(loop, a, &err), &err,
			"Failed to connect to"));
	json_decref(a);
	CHECK(chardev_find("cli") == NULL);
	a = add_args("cli", path_of("later.sock"), false, 1);
	CHECK(chardev_add(loop, a, NULL));
	json_decref(a);
	cd = chardev_find("cli");
	CHECK(cd && chardev_attach(cd, on_connected, NULL, NULL));
	l = unixsock_listen(path_of("later.sock"), 0600, (gid_t)-1, 4, NULL,
			    NULL, NULL);
	CHECK(l >= 0);
	run_until_connected(); /* the next retry, within a second */
	CHECK(got_fd >= 0);
	close(got_fd);
	got_fd = -1;
	close(l);
	chardev_disconnected(cd);
	chardev_detach(cd);
	chardev_remove_all();
	CHECK(chardev_find("cli") == NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

static void test_connection_before_user_is_kept_for_it(void)
{
	int l = unixsock_listen(path_of("early.sock"), 0600, (gid_t)-1, 4, NULL,
				NULL, NULL);
	json_t *a = add_args("early", path_of("early.sock"), false, 0);
	struct chardev *cd;
	json_t *q;

	CHECK(l >= 0);
	CHECK(chardev_add(loop, a, NULL)); /* connected at once */
	json_decref(a);
	cd = chardev_find("early");
	q = chardev_query();
	CHECK(!strncmp(json_string_value(
			   json_object_get(json_array_get(q, 0), "filename")),
		       "unix:", 5));
	json_decref(q);
	CHECK(got_fd < 0);
	CHECK(chardev_attach(cd, on_connected, NULL, NULL));
	CHECK(got_fd >= 0); /* handed over inside attach */
	close(got_fd);
	got_fd = -1;
	chardev_disconnected(cd);
	chardev_detach(cd);
	CHECK(chardev_remove("early", NULL));
	close(l);
	unlink(path_of("early.sock"));
	uv_run(loop, UV_RUN_NOWAIT);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/nethub-chardev-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	loop = uv_default_loop();
	TAP_RUN(test_cli_into_chardev_add_shape);
	TAP_RUN(test_check_refuses_other_families_and_bad_ids);
	TAP_RUN(test_server_one_peer_busy_and_removed);
	TAP_RUN(test_mode_and_group_on_the_file);
	TAP_RUN(test_wait);
	TAP_RUN(test_client_fails_or_retries);
	TAP_RUN(test_connection_before_user_is_kept_for_it);
	unlink(path_of("later.sock"));
	rmdir(dir);
	return tap_done();
}
