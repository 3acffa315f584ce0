// SPDX-License-Identifier: MIT
/*
 * A main() for the fuzz targets without libFuzzer: runs the target once on
 * each file named (directories are walked one level), so that every corpus
 * and crash input is replayed by `make check`, with the sanitizers of the
 * build. Prints one line per input when -v is given; exits 0 when every
 * input ran to the end.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int verbose;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		perror(path);
		return 1;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	if (verbose)
		fprintf(stderr, "%s (%zu bytes)\n", path, len);
	/* a private copy of exactly len bytes, as libFuzzer hands it */
	{
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, buf, len);
		LLVMFuzzerTestOneInput(copy, len);
		free(copy);
	}
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	int bad = 0, runs = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (!strcmp(argv[i], "-v")) {
			verbose = 1;
			continue;
		}
		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			bad++;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			struct dirent **ents;
			int n = scandir(argv[i], &ents, NULL, by_name);

			for (int k = 0; k < n; k++) {
				char path[4096];

				if (ents[k]->d_name[0] != '.') {
					snprintf(path, sizeof(path), "%s/%s", argv[i],
						 ents[k]->d_name);
					bad += run_file(path);
					runs++;
				}
				free(ents[k]);
			}
			free(n >= 0 ? ents : NULL);
		} else {
			bad += run_file(argv[i]);
			runs++;
		}
	}
	printf("%d inputs run, %d unreadable\n", runs, bad);
	return bad ? 1 : 0;
}
