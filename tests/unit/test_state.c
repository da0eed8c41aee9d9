// SPDX-License-Identifier: MIT
/* test_state.c - the state file's model of the configuration: a command
 * that undoes or replaces an earlier one takes it out, set-rx-filter
 * merges, a netdev given fds is not kept; a bad line is refused naming it;
 * the file is written whole, mode 0600
 *
 * Loads files written here (state_load() folds their lines as the daemon
 * folds commands) and reads back what state_save() writes; nothing runs.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "state.h"
#include "tap.h"

static char dir[] = "/tmp/test_state.XXXXXX";
static char path[256];

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* The commands of the saved file, header lines left out */
static char *saved(void)
{
	static char buf[8192];
	char line[2048];
	struct nh_error *err = NULL;
	FILE *f;

	buf[0] = '\0';
	if (!state_save(&err)) {
		printf("# %s\n", err->msg);
		nh_error_free(err);
		return buf;
	}
	f = fopen(path, "r");
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#')
			strncat(buf, line, sizeof(buf) - strlen(buf) - 1);
	fclose(f);
	return buf;
}

static bool load(const char *text, struct nh_error **err)
{
	write_file(text);
	return state_load(path, err);
}

static void test_state_keeps_the_configuration_not_its_history(void)
{
	struct nh_error *err = NULL;

	CHECK(load("# a history\n"
		   "{\"execute\": \"netdev_add\", \"arguments\": {\"type\": "
		   "\"socket\", \"id\": \"a\", \"listen\": \":5000\"}}\n"
		   "{\"execute\": \"set_link\", \"arguments\": {\"name\": "
		   "\"a\", \"up\": false}}\n"
		   "\n"
		   "{\"execute\": \"netdev_add\", \"arguments\": {\"type\": "
		   "\"socket\", \"id\": \"b\", \"listen\": \":5001\"}}\n"
		   "{\"execute\": \"set_link\", \"arguments\": {\"name\": "
		   "\"b.1\", \"up\": false}}\n"
		   "{\"execute\": \"set_link\", \"arguments\": {\"name\": "
		   "\"b.1\", \"up\": true}}\n"
		   "{\"execute\": \"fdb-add\", \"arguments\": {\"port\": "
		   "\"b.1\", \"mac\": \"02:00:00:00:00:AA\"}}\n"
		   "{\"execute\": \"fdb-add\", \"arguments\": {\"port\": "
		   "\"b.1\", \"mac\": \"02:00:00:00:00:bb\"}}\n"
		   "{\"execute\": \"fdb-del\", \"arguments\": {\"hubid\": 0, "
		   "\"mac\": \"02:00:00:00:00:aa\"}}\n"
		   "{\"execute\": \"port-set-alias\", \"arguments\": {\"port\": "
		   "\"b.1\", \"alias\": \"web\"}}\n"
		   "{\"execute\": \"port-set-alias\", \"arguments\": {\"port\": "
		   "\"b.2\", \"alias\": \"db\"}}\n"
		   "{\"execute\": \"port-set-alias\", \"arguments\": {\"port\": "
		   "\"b.2\", \"alias\": \"\"}}\n"
		   "{\"execute\": \"netdev_del\", \"arguments\": {\"id\": "
		   "\"a\"}}\n",
		   &err));
	CHECK_EQ(strcmp(saved(),
			"{\"execute\":\"netdev_add\",\"arguments\":{\"type\":"
			"\"socket\",\"id\":\"b\",\"listen\":\":5001\"}}\n"
			"{\"execute\":\"set_link\",\"arguments\":{\"name\":"
			"\"b.1\",\"up\":true}}\n"
			"{\"execute\":\"fdb-add\",\"arguments\":{\"port\":"
			"\"b.1\",\"mac\":\"02:00:00:00:00:bb\"}}\n"
			"{\"execute\":\"port-set-alias\",\"arguments\":{\"port\":"
			"\"b.1\",\"alias\":\"web\"}}\n"),
		 0);
	nh_error_free(err);
}

static void test_set_rx_filter_merges_and_fds_are_not_kept(void)
{
	struct nh_error *err = NULL;

	CHECK(load("{\"execute\": \"set-rx-filter\", \"arguments\": {\"name\": "
		   "\"n\", \"promiscuous\": true, \"vlan-table\": [5]}}\n"
		   "{\"execute\": \"set-rx-filter\", \"arguments\": {\"name\": "
		   "\"n\", \"promiscuous\": false}}\n"
		   "{\"execute\": \"netdev_add\", \"arguments\": {\"type\": "
		   "\"socket\", \"id\": \"f\", \"fd\": \"myfd\"}}\n",
		   &err));
	CHECK_EQ(strcmp(saved(),
			"{\"execute\":\"set-rx-filter\",\"arguments\":{\"name\":"
			"\"n\",\"promiscuous\":false,\"vlan-table\":[5]}}\n"),
		 0);
	nh_error_free(err);
}

/* @text must be refused with a message starting "PATH:@line: " and
 * holding @words */
static void check_bad(const char *text, unsigned line, const char *words)
{
	struct nh_error *err = NULL;
	char want[300];

	CHECK(!load(text, &err));
	if (!err)
		return;
	snprintf(want, sizeof(want), "%s:%u: ", path, line);
	CHECK_EQ(strncmp(err->msg, want, strlen(want)), 0);
	CHECK(strstr(err->msg, words) != NULL);
	if (strstr(err->msg, words) == NULL)
		printf("# %s\n", err->msg);
	nh_error_free(err);
}

static void test_a_bad_line_is_refused_naming_it(void)
{
	const char *ok = "{\"execute\": \"set_link\", \"arguments\": {\"name\": "
			 "\"x\", \"up\": true}}\n";
	char text[512];

	snprintf(text, sizeof(text), "%s# c\n{not json\n", ok);
	check_bad(text, 3, "not JSON");
	snprintf(text, sizeof(text), "%s[1]\n", ok);
	check_bad(text, 2, "expected a JSON object");
	check_bad("{\"execute\": \"quit\", \"arguments\": {}}\n", 1,
		  "a command the state keeps");
	check_bad("{\"execute\": \"set_link\"}\n", 1,
		  "'arguments' must be an object");
	check_bad("{\"execute\": \"set_link\", \"arguments\": {\"name\": "
		  "\"x\"}}\n",
		  1, "set_link: Parameter 'up' is missing");
	check_bad("{\"execute\": \"set_link\", \"id\": 1, \"arguments\": "
		  "{}}\n",
		  1, "unexpected member 'id'");
	/* a refused file leaves nothing loaded */
	CHECK_EQ(strcmp(saved(), ""), 0);
}

static void test_missing_file_is_empty_and_saving_is_atomic(void)
{
	struct nh_error *err = NULL;
	char tmp[300];
	struct stat st;

	unlink(path);
	CHECK(state_load(path, &err));
	CHECK_EQ(strcmp(saved(), ""), 0);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	CHECK(access(tmp, F_OK) != 0);
	nh_error_free(err);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/nethubd.state", dir);
	TAP_RUN(test_state_keeps_the_configuration_not_its_history);
	TAP_RUN(test_set_rx_filter_merges_and_fds_are_not_kept);
	TAP_RUN(test_a_bad_line_is_refused_naming_it);
	TAP_RUN(test_missing_file_is_empty_and_saving_is_atomic);
	state_stop();
	unlink(path);
	rmdir(dir);
	return tap_done();
}
