/* The replay main() of the fuzz targets without libFuzzer: runs every file
 * named on the command line, and every file in every directory named
 * (sorted by name, so that runs are alike), through the target.  Each name
 * goes to stderr before its input runs, so that a crash names its input. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Larger than any input of the corpora (the pcap slices are the largest). */
#define FUZZ_MAX_INPUT (4u << 20)

/* Runs one file through the target.  0 or -errno. */
static int run_file(const char *path)
{
	static uint8_t buf[FUZZ_MAX_INPUT];
	FILE *f;
	size_t n;
	int r = 0;

	f = fopen(path, "rbe");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f))
		r = -EIO;
	else if (!feof(f))
		r = -EFBIG;
	fclose(f);
	if (r < 0)
		return r;
	fprintf(stderr, "%s\n", path);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

static int run_path(const char *path, unsigned *count)
{
	struct dirent **v;
	struct stat sb;
	int n, r = 0;

	if (stat(path, &sb) < 0)
		return -errno;
	if (!S_ISDIR(sb.st_mode)) {
		r = run_file(path);
		if (r == 0)
			(*count)++;
		return r;
	}
	n = scandir(path, &v, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		char sub[4096];

		if (r == 0 && v[i]->d_name[0] != '.') {
			if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, v[i]->d_name) >=
			    sizeof(sub))
				r = -ENAMETOOLONG;
			else if ((r = run_file(sub)) == 0)
				(*count)++;
		}
		free(v[i]);
	}
	free(v);
	return r;
}

int main(int argc, char **argv)
{
	unsigned count = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		int r = run_path(argv[i], &count);

		if (r < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
			return EXIT_FAILURE;
		}
	}
	printf("%u inputs\n", count);
	/* An empty corpus tests nothing: a wrong path must not pass. */
	return count ? EXIT_SUCCESS : EXIT_FAILURE;
}
