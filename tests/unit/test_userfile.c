// SPDX-License-Identifier: MIT
/* test_userfile.c - opening user-named files: symbolic links, kinds of
 * file, overwriting, FIFOs without a reader, kernel settings, and
 * --files-dir confinement, driven by a table over a scratch directory
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tap.h"
#include "userfile.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static char dir[64];

/* @name in the scratch directory; four results may be in use at once */
static const char *in_dir(const char *name)
{
	static char paths[4][256];
	static unsigned next;
	char *path = paths[next++ % 4];

	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	return path;
}

static void write_text(const char *name, const char *text)
{
	FILE *f = fopen(in_dir(name), "w");

	if (!f || fputs(text, f) < 0 || fclose(f))
		abort();
}

static long file_size(const char *name)
{
	struct stat st;

	return stat(in_dir(name), &st) ? -1 : (long)st.st_size;
}

/* Open @path with @how: @want_err 0 for success, else the negative errno
 * and @want_msg the reason */
struct open_case {
	const char *path; /* "@x": x in the scratch directory */
	unsigned how;
	int want_err;
	const char *want_msg;
};

static void check_open(const struct open_case *c)
{
	const char *path = c->path[0] == '@' ? in_dir(c->path + 1) : c->path;
	struct nh_error *err = NULL;
	struct userfile uf;
	int fd = -1;

	if (userfile_locate(&uf, path, &err)) {
		fd = userfile_open(&uf, c->how, NULL, &err);
		userfile_release(&uf);
	}
	if (!c->want_err) {
		CHECK(fd >= 0);
		if (fd < 0)
			printf("#   %s: %s\n", path, err ? err->msg : "?");
	} else {
		CHECK(fd < 0);
		if (c->want_err != -1)
			CHECK_EQ(fd, c->want_err);
		if (c->want_msg && (!err || strcmp(err->msg, c->want_msg))) {
			CHECK(err && !strcmp(err->msg, c->want_msg));
			printf("#   %s: got '%s', want '%s'\n", path,
			       err ? err->msg : "(none)", c->want_msg);
		}
	}
	if (fd >= 0)
		close(fd);
	nh_error_free(err);
}

static void test_userfile_open_rules(void)
{
	const unsigned w = USERFILE_WRITE, wf = USERFILE_WRITE | USERFILE_FIFO,
		       ow = USERFILE_WRITE | USERFILE_OVERWRITE;
	const struct open_case cases[] = {
		{"@new.pcap", w, 0, NULL},
		{"@old", w, -EEXIST, "file exists (overwrite=on replaces it)"},
		{"@link", ow, -EINVAL, "is a symbolic link (not followed)"},
		{"@dangling", w, -EINVAL, "is a symbolic link (not followed)"},
		{"@fifo", w, -EINVAL, "not a regular file"},
		{"@fifo", wf, -ENXIO, NULL}, /* no reader: errp untouched */
		{"@fifo", USERFILE_READ, -EINVAL, "not a regular file"},
		{"@sock", wf, -EINVAL, "not a regular file or FIFO"},
		{"@", w, -1, "Is a directory"},
		{"@sub/..", w, -1, "Is a directory"},
		{"@no/such/x", w, -1, "No such file or directory"},
		{"@missing", USERFILE_READ, -ENOENT,
		 "No such file or directory"},
		{"/proc/sys/kernel/hostname", ow | USERFILE_FIFO, -EINVAL,
		 "not a regular file or FIFO"},
		{"/proc/self/environ", USERFILE_READ, -EINVAL,
		 "not a regular file"},
		{"/dev/null", ow, -EINVAL, "not a regular file"},
		{"", w, -1, "empty file name"},
		{"@old", USERFILE_READ, 0, NULL},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_open(&cases[i]);
	/* nothing was truncated on the way, nor written through the link */
	CHECK_EQ(file_size("old"), 4);
	CHECK(access(in_dir("made"), F_OK) != 0);
}

static void test_userfile_overwrite_truncates_after_checking(void)
{
	struct userfile uf;
	bool fifo = true;
	int fd;

	write_text("again", "0123456789");
	CHECK(userfile_locate(&uf, in_dir("again"), NULL));
	fd = userfile_open(&uf, USERFILE_WRITE | USERFILE_OVERWRITE, &fifo,
			   NULL);
	CHECK(fd >= 0);
	CHECK(!fifo);
	CHECK_EQ(file_size("again"), 0);
	if (fd >= 0)
		close(fd);
	userfile_release(&uf);
	CHECK_EQ(uf.dirfd, -1);
}

static void test_userfile_fifo_reopens_in_its_directory(void)
{
	struct userfile uf;
	bool fifo = false;
	int rd, fd;

	CHECK(userfile_locate(&uf, in_dir("fifo"), NULL));
	CHECK_EQ(userfile_open(&uf, USERFILE_WRITE | USERFILE_FIFO, NULL, NULL),
		 -ENXIO);
	rd = open(in_dir("fifo"), O_RDONLY | O_NONBLOCK);
	CHECK(rd >= 0);
	fd = userfile_open(&uf, USERFILE_WRITE | USERFILE_FIFO, &fifo, NULL);
	CHECK(fd >= 0);
	CHECK(fifo);
	if (fd >= 0)
		close(fd);
	if (rd >= 0)
		close(rd);
	userfile_release(&uf);
}

/* Last: --files-dir stays set for the rest of the process */
static void test_userfile_files_dir_confines(void)
{
	struct nh_error *err = NULL;
	const char *beyond;
	char want[256];

	CHECK(!userfile_set_root(in_dir("nope"), &err));
	CHECK(err && strstr(err->msg, "No such file or directory"));
	nh_error_free(err);
	err = NULL;
	CHECK(userfile_set_root(in_dir("sub"), NULL));
	beyond = userfile_root();
	snprintf(want, sizeof(want), "outside --files-dir %s", beyond);

	const struct open_case cases[] = {
		{"rel.pcap", USERFILE_WRITE, 0, NULL},
		{"@sub/abs.pcap", USERFILE_WRITE, 0, NULL},
		{"@sub", USERFILE_WRITE, -1, want},
		{"@new2.pcap", USERFILE_WRITE, -1, want},
		{"/tmp/x.pcap", USERFILE_WRITE, -1, want},
		{"up/x.pcap", USERFILE_WRITE, -1,
		 "a directory on the path is a symbolic link (--files-dir "
		 "follows none)"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_open(&cases[i]);
	CHECK(access(in_dir("sub/rel.pcap"), F_OK) == 0);
	CHECK(access(in_dir("sub/abs.pcap"), F_OK) == 0);
	CHECK(access(in_dir("new2.pcap"), F_OK) != 0);

	/* ".." out of it: the kernel's RESOLVE_BENEATH says no */
	CHECK(userfile_locate(&(struct userfile){0}, "../x.pcap", &err) ==
	      false);
	CHECK(err && !strncmp(err->msg, want, strlen(want)));
	nh_error_free(err);
}

static void setup(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s;

	snprintf(dir, sizeof(dir), "/tmp/nh-userfile-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	write_text("old", "keep");
	if (symlink(in_dir("old"), in_dir("link")) ||
	    symlink(in_dir("made"), in_dir("dangling")) ||
	    mkfifo(in_dir("fifo"), 0600) || mkdir(in_dir("sub"), 0700) ||
	    symlink(dir, in_dir("sub/up")))
		abort();
	if (strlen(in_dir("sock")) >= sizeof(sa.sun_path))
		abort();
	memcpy(sa.sun_path, in_dir("sock"), strlen(in_dir("sock")) + 1);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)))
		abort();
	close(s);
}

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		printf("# could not remove %s\n", dir);
}

int main(void)
{
	setup();
	TAP_RUN(test_userfile_open_rules);
	TAP_RUN(test_userfile_overwrite_truncates_after_checking);
	TAP_RUN(test_userfile_fifo_reopens_in_its_directory);
	TAP_RUN(test_userfile_files_dir_confines);
	cleanup();
	return tap_done();
}
