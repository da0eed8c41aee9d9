// SPDX-License-Identifier: MIT
/* standalone.c - run a fuzz target without libFuzzer (gcc builds)
 *
 * Replays every file of the directories or files named on the command
 * line through LLVMFuzzerTestOneInput(), each with several first bytes
 * (the targets read their mode from it) and with a few deterministic
 * mutations, so a gcc build still checks the target's invariants on the
 * seed corpus.  Prints TAP: one line per seed file.
 */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STANDALONE_MAX_INPUT   (4u << 20)
#define STANDALONE_MUTATE_SPAN 512 /* bytes of each seed mutated */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t modes[] = {0x00, 0x01, 0x02, 0x03, 0x05, 0x2e,
				0x43, 0x4d, 0x81, 0x9e, 0xc2, 0xff};
static const char mutations[] = "{}[]\"'\\,:\x1b\n\xff";

static int count;

static uint8_t *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;

	if (!f)
		return NULL;
	buf = malloc(STANDALONE_MAX_INPUT + 1);
	if (buf)
		*size = fread(buf, 1, STANDALONE_MAX_INPUT, f);
	fclose(f);
	return buf;
}

static void run_one(const char *path)
{
	size_t size = 0;
	uint8_t *buf = read_file(path, &size);

	if (!buf) {
		printf("not ok %d - %s: cannot read it\n", ++count, path);
		return;
	}
	/* as the seed is, then with every mode byte in front of its body */
	LLVMFuzzerTestOneInput(buf, size);
	for (size_t m = 0; size > 0 && m < sizeof(modes); m++) {
		uint8_t first = buf[0];

		buf[0] = modes[m];
		LLVMFuzzerTestOneInput(buf, size);
		buf[0] = first;
	}
	/* one byte replaced at a time, early in the seed */
	for (size_t i = 1; i < size && i < STANDALONE_MUTATE_SPAN; i++) {
		uint8_t old = buf[i];

		buf[i] = (uint8_t)mutations[i % (sizeof(mutations) - 1)];
		LLVMFuzzerTestOneInput(buf, size);
		buf[i] = old;
	}
	/* every prefix of a short seed (a client that stops mid-message) */
	for (size_t n = 0; size < 4096 && n < size; n++)
		LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	printf("ok %d - %s\n", ++count, path);
	fflush(stdout);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d) {
		printf("not ok %d - %s: cannot open it\n", ++count, dir);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			names = realloc(names, cap * sizeof(*names));
		}
		if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0)
			abort();
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		run_one(names[i]);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (!stat(argv[i], &st) && S_ISDIR(st.st_mode))
			run_dir(argv[i]);
		else
			run_one(argv[i]);
	}
	printf("1..%d\n", count);
	return count > 0 ? 0 : 1;
}
