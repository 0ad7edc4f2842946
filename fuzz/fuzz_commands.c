/* Fuzz target for the control commands (commands.c), driven as the
 * control socket drives them but without a daemon: an engine loaded with
 * a saved state (data/state, written by the daemon in e2e-incident) under
 * data/quarantined.conf, in enforce mode with a back end that accepts
 * every transaction, so that the commands' actions go through
 * (actions.c, enforce.c) as in the daemon; no socket, capture, nftables
 * or monitor.  Nothing is kept from one input to the next.
 *
 * The input is one or more requests, as quarantinectl sends them,
 * separated by NUL bytes (a request's body never holds one); each that
 * ctlproto parses is run from a privileged peer.
 *
 * Invariants: every answer has a status of 0, 1 or 2 and a message the
 * protocol can carry; a --json answer that succeeds is JSON; the reply
 * never outgrows its cap; and after the requests, the engine's state is
 * saved and that file loads (what an operator did survives a restart). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "control.h"
#include "ctlproto.h"
#include "daemon.h"
#include "filter.h"
#include "fuzz.h"
#include "log.h"
#include "state.h"
#include "statedb.h"

static char seed_dir[4096], save_dir[4096];
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = fuzz_tmpdir();
	size_t len;
	char *state = fuzz_read_file(FUZZ_DATA_DIR, "state", &len);

	FUZZ_CHECK(state);
	snprintf(seed_dir, sizeof(seed_dir), "%s/seed", t);
	snprintf(save_dir, sizeof(save_dir), "%s/save", t);
	FUZZ_CHECK(mkdir(seed_dir, 0700) == 0 && mkdir(save_dir, 0700) == 0);
	fuzz_write_file(seed_dir, "state", (const uint8_t *)state, len);
	free(state);
	devnull = fopen("/dev/null", "we");
	FUZZ_CHECK(devnull);
	/* The commands log what operators do; not to the fuzzer's output. */
	log_set_where(0);
	return 0;
}

/* A kernel that accepts every transaction. */
static int accept_commit(void *arg, struct nft_op *ops, unsigned nops)
{
	return 0;
}

static const struct daemon_opts opts = {
	.config = FUZZ_DATA_DIR "/quarantined.conf",
	.config_given = true,
};

static void daemon_setup(struct daemon *d, bool reloads)
{
	struct enforce_backend be = {.commit = accept_commit};
	struct conf_diags diags;
	char err[512];

	memset(d, 0, sizeof(*d));
	d->o = &opts;
	d->sigfd = d->timerfd = -1;
	/* The configuration is the daemon's own from the start: a reload
	 * frees it. */
	d->c = calloc(1, sizeof(*d->c));
	FUZZ_CHECK(d->c);
	d->conf_owned = true;
	FUZZ_CHECK(conf_load(d->c, opts.config, &diags) == 0);
	/* A smaller registry, but for an input that reloads: a reload refuses
	 * to change limits.max_blocked, and it is at least 100,000 in a file.
	 * An engine is made for every input. */
	if (!reloads)
		d->c->limits.max_blocked = 4096;
	d->mode = MODE_ENFORCE;
	output_init(&d->out, devnull, OUTPUT_JSON, false);
	enforce_init(&d->enf, &be);
	FUZZ_CHECK(engine_init(&d->eng, d->c, MODE_ENFORCE, &d->out, &d->enf, NULL) == 0);
	snprintf(d->state_dir, sizeof(d->state_dir), "%s", save_dir);
	FUZZ_CHECK(state_load(&d->eng, seed_dir, NULL, NULL, err, sizeof(err)) == 0);
	FUZZ_CHECK(filter_build(d->c, d->filter, sizeof(d->filter)) > 0);
	d->start_mono = daemon_mono_us();
	d->start_wall = daemon_wall_us();
}

static void daemon_teardown(struct daemon *d)
{
	/* The commands may have opened the state database (daemon_save()). */
	if (d->db) {
		statedb_detach(d->db, &d->eng);
		statedb_close(d->db);
		d->db = NULL;
	}
	engine_fini(&d->eng);
	conf_fini(d->c);
	free(d->c);
}

static void run_request(struct daemon *d, const char *buf, size_t len)
{
	static struct ctl_request req;
	static char line[CTL_MAX_HEADER + 1];
	struct ctl_peer peer = {.uid = 0, .gid = 0, .pid = 1, .privileged = true};
	struct ctl_out out = {0};
	char msg[CTL_VALUE_MAX], err[256];
	int status;

	if (ctl_request_parse(buf, len, &req, err, sizeof(err)) < 0)
		return;
	/* A long command takes several calls, as control.c makes them. */
	do {
		out.more = false;
		status = commands_handle(d, &req, &peer, &out, msg, sizeof(msg));
	} while (out.more);
	/* A streamed answer (list) whole, in small chunks. */
	while (out.stream.next && out.stream.next(out.stream.state, &out, 512))
		;
	ctl_stream_free(&out.stream);
	FUZZ_CHECK(status == 0 || status == 1 || status == 2);
	FUZZ_CHECK(strnlen(msg, sizeof(msg)) < sizeof(msg));
	FUZZ_CHECK(ctl_status_format(line, sizeof(line), status, msg) > 0);
	FUZZ_CHECK(out.len <= CONTROL_MAX_REPLY && (out.len == 0 || out.len < out.cap));
	if (status == 0 && ctl_request_flag(&req, "json") && out.len && !out.truncated &&
	    !fuzz_json_valid(out.buf, out.len)) {
		fprintf(stderr, "cmd=%s: not JSON:\n%.*s\n", req.cmd, (int)out.len, out.buf);
		abort();
	}
	free(out.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct daemon d;
	struct engine again;
	struct output out;
	const char *p = (const char *)data, *end = p + size;
	char err[1024] = "";
	int r;

	daemon_setup(&d, memmem(data, size, "reload", 6) != NULL);
	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		const char *rend = nul ? nul : end;

		run_request(&d, p, (size_t)(rend - p));
		p = rend + 1;
	}

	/* What the commands left is saved, as the daemon saves it (the state
	 * database), and loads again. */
	if (!d.db)
		FUZZ_CHECK(statedb_open(save_dir, &d.db, err, sizeof(err)) == 0);
	statedb_forget_rows(d.db);
	statedb_attach(d.db, &d.eng);
	r = statedb_save(d.db, &d.eng, err, sizeof(err));
	if (r == 0) {
		struct statedb *db;

		output_init(&out, NULL, OUTPUT_JSON, false);
		FUZZ_CHECK(engine_init(&again, d.c, MODE_ALERT, &out, NULL, NULL) == 0);
		FUZZ_CHECK(statedb_open(save_dir, &db, err, sizeof(err)) == 0);
		r = statedb_load(db, &again, NULL, NULL, err, sizeof(err));
		if (r != 0)
			fprintf(stderr, "the state the commands left does not load: %s\n", err);
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(hostdb_count(&again.hosts) == hostdb_count(&d.eng.hosts));
		statedb_detach(db, &again);
		statedb_close(db);
		engine_fini(&again);
	}
	FUZZ_CHECK(r == 0);
	daemon_teardown(&d);
	return 0;
}
