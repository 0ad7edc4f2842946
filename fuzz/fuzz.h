/* What every fuzz target shares.
 *
 * Each target is one file defining LLVMFuzzerInitialize() and
 * LLVMFuzzerTestOneInput().  Built with -DFUZZ_LIBFUZZER it links with
 * libFuzzer (meson -Dfuzzer=true, fuzz/run.sh); otherwise replay.c's main()
 * runs the files and directories named on the command line through it, so
 * that each corpus runs as an ordinary test under the sanitizers.
 *
 * A target calls abort() when an invariant fails: both libFuzzer and the
 * replay test report that as a crash, with the input that caused it. */
#ifndef QD_FUZZ_H
#define QD_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant: aborts with the condition's text when it does not hold.
 * Not assert(): it must hold in every build type. */
#define FUZZ_CHECK(cond)                                                                     \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                      \
			abort();                                                             \
		}                                                                            \
	} while (0)

/* A private directory for the run (mkdtemp under TMPDIR or /tmp), removed
 * with everything in it at exit.  Made on the first call; aborts when it
 * cannot be made. */
const char *fuzz_tmpdir(void);
/* Writes data to dir/name (replacing it).  Aborts on failure: the target's
 * own plumbing, not the input, is at fault then. */
void fuzz_write_file(const char *dir, const char *name, const uint8_t *data, size_t size);
/* Reads dir/name into a malloc'd buffer (NUL-terminated; caller frees) and
 * its length into ret_len.  NULL when it cannot be read. */
char *fuzz_read_file(const char *dir, const char *name, size_t *ret_len);
/* Removes every plain file in dir (the directory stays). */
void fuzz_clear_dir(const char *dir);
/* Whether s[0..len) is JSON (RFC 8259): values separated by white space
 * (a JSON-lines body is a sequence of them), at least one.  Strings must
 * hold no raw control byte; nesting is bounded (64). */
bool fuzz_json_valid(const char *s, size_t len);

#endif
