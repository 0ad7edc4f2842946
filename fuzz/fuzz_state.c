/* Fuzz target for the saved state's loader (state_load(), state.c).  The
 * input is a state file as the daemon writes it.
 *
 * A file whose end record's CRC does not match is refused before any
 * record is read, so the target first writes the right CRC into an end
 * line that has a crc32= field (its records= count stays the input's):
 * the records themselves are what is fuzzed; the CRC check has its unit
 * tests (test_state: every bit flip).
 *
 * Invariants: the errors are the documented ones, with a message; a
 * refused file leaves the engine as it was (empty: no hosts, incidents,
 * run-time allow list, pause or bindings); a loaded file is saved again,
 * that file loads, and saving it once more gives the same bytes (load and
 * save are stable). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "engine.h"
#include "fuzz.h"
#include "state.h"

static struct conf conf;
static char in_dir[4096], dir_out1[4096], dir_out2[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conf_diags diags;
	const char *t = fuzz_tmpdir();

	if (conf_load(&conf, FUZZ_DATA_DIR "/quarantined.conf", &diags) < 0) {
		fprintf(stderr, "fuzz: %s/quarantined.conf does not load\n", FUZZ_DATA_DIR);
		abort();
	}
	/* Smaller tables than a gateway's: an engine is made for every
	 * input.  A file with more hosts than this is refused (-EOVERFLOW),
	 * which is one more path to fuzz. */
	conf.limits.max_blocked = 4096;
	conf.limits.max_hosts = 1024;
	conf.limits.max_probes = conf.limits.max_peers = 1024;
	conf.limits.max_machines = conf.limits.max_bindings = 1024;
	snprintf(in_dir, sizeof(in_dir), "%s/in", t);
	snprintf(dir_out1, sizeof(dir_out1), "%s/out1", t);
	snprintf(dir_out2, sizeof(dir_out2), "%s/out2", t);
	FUZZ_CHECK(mkdir(in_dir, 0700) == 0 && mkdir(dir_out1, 0700) == 0 &&
		   mkdir(dir_out2, 0700) == 0);
	return 0;
}

/* CRC-32 (ISO-HDLC, zlib's crc32()), bitwise: the loader's own is not
 * exported, and this one is independent of it. */
static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* A copy of the input with the right CRC in its end line, when the last
 * line starts "end " and has "crc32=" with 8 characters after it. */
static uint8_t *fix_crc(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	size_t start;
	char hex[9];

	FUZZ_CHECK(buf);
	memcpy(buf, data, size);
	if (size < 2 || buf[size - 1] != '\n')
		return buf;
	start = size - 1;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (size - start < 4 || memcmp(buf + start, "end ", 4) != 0)
		return buf;
	for (size_t i = start; i + 6 + 8 < size; i++)
		if (memcmp(buf + i, "crc32=", 6) == 0) {
			snprintf(hex, sizeof(hex), "%08x", (unsigned)crc32_of(buf, start));
			memcpy(buf + i + 6, hex, 8);
			break;
		}
	return buf;
}

static void engine_new(struct engine *e, struct output *out)
{
	output_init(out, NULL, OUTPUT_JSON, false);
	FUZZ_CHECK(engine_init(e, &conf, MODE_ALERT, out, NULL, NULL) == 0);
}

static void check_empty(const struct engine *e)
{
	struct ident_stats is;

	FUZZ_CHECK(hostdb_count(&e->hosts) == 0);
	FUZZ_CHECK(e->incidents.n == 0);
	FUZZ_CHECK(e->pol.allowed.n == 0);
	FUZZ_CHECK(!e->pol.paused);
	identity_get_stats(e->id, &is);
	FUZZ_CHECK(is.bindings == 0 && is.machines == 0);
}

/* Saves e to dir, loads that into a fresh engine and returns the file. */
static char *save_and_reload(const struct engine *e, const char *dir, size_t *ret_len)
{
	struct engine again;
	struct output out;
	char err[1024] = "";
	char *file;
	int r;

	r = state_save(e, dir, err, sizeof(err));
	if (r != 0)
		fprintf(stderr, "save: %s\n", err);
	FUZZ_CHECK(r == 0);
	file = fuzz_read_file(dir, STATE_FILE, ret_len);
	FUZZ_CHECK(file);
	engine_new(&again, &out);
	r = state_load(&again, dir, NULL, NULL, err, sizeof(err));
	if (r != 0)
		fprintf(stderr, "what we saved does not load: %s\n", err);
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(hostdb_count(&again.hosts) == hostdb_count(&e->hosts));
	FUZZ_CHECK(again.incidents.n == e->incidents.n);
	FUZZ_CHECK(again.pol.paused == e->pol.paused);
	engine_fini(&again);
	return file;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct engine e, e2;
	struct output out, o2;
	char err[1024] = "";
	uint8_t *buf = fix_crc(data, size);
	char *f1, *f2;
	size_t n1, n2;
	int r;

	fuzz_write_file(in_dir, STATE_FILE, buf, size);
	free(buf);
	engine_new(&e, &out);
	r = state_load(&e, in_dir, NULL, NULL, err, sizeof(err));
	FUZZ_CHECK(r >= 0 || r == -EBADMSG || r == -EOVERFLOW || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(err[0] != '\0');
		check_empty(&e);
		engine_fini(&e);
		return 0;
	}

	/* Load, save, load, save: the two saved files are the same. */
	f1 = save_and_reload(&e, dir_out1, &n1);
	engine_new(&e2, &o2);
	FUZZ_CHECK(state_load(&e2, dir_out1, NULL, NULL, err, sizeof(err)) == 0);
	f2 = save_and_reload(&e2, dir_out2, &n2);
	if (n1 != n2 || memcmp(f1, f2, n1) != 0)
		fprintf(stderr, "unstable:\n--- first save\n%s--- second save\n%s", f1, f2);
	FUZZ_CHECK(n1 == n2 && memcmp(f1, f2, n1) == 0);
	free(f1);
	free(f2);
	engine_fini(&e2);
	engine_fini(&e);
	return 0;
}
