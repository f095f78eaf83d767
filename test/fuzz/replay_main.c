/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replays a fuzz target's corpus as an ordinary test: every file in the directories (or the
 * files) given on the command line goes through LLVMFuzzerTestOneInput once. A crash, a
 * sanitizer report or a leak fails the test; an empty corpus fails too (nothing was checked).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "as4/blob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (as4_file_read(path, 64u * 1024 * 1024, &buf, &len) != AS4_OK) {
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize != NULL) {
		LLVMFuzzerInitialize(&argc, &argv);
	}
	unsigned long count = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "missing corpus %s\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) != 0) {
				return 1;
			}
			count++;
			continue;
		}
		DIR *dir = opendir(argv[i]);
		if (dir == NULL) {
			return 1;
		}
		struct dirent *e;
		while ((e = readdir(dir)) != NULL) {
			if (e->d_name[0] == '.') {
				continue;
			}
			char path[4096];
			int n = snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (n < 0 || (size_t)n >= sizeof(path)) {
				closedir(dir);
				return 1;
			}
			if (run_file(path) != 0) {
				closedir(dir);
				return 1;
			}
			count++;
		}
		closedir(dir);
	}
	printf("replayed %lu inputs\n", count);
	return count > 0 ? 0 : 1;
}
