/* Fuzz target for whole capture files through the offline engine: the
 * path of `quarantined -r FILE` (main.c run_offline()), from libpcap's
 * reader (pcap or pcapng, on the input's bytes through fmemopen()) to the
 * decoder, identity, the detectors, policy, incidents, the events and the
 * report, on the built-in configuration.
 *
 * Invariants: a file libpcap refuses is refused with a message; reading
 * ends at the end of the file or with -EIO; every packet read is counted
 * by the decoder, once, as decoded or as an error; the events and both
 * reports (text and JSON) are written without an error. */
#include <errno.h>
#include <string.h>

#include "capture.h"
#include "conf.h"
#include "engine.h"
#include "fuzz.h"
#include "report.h"

static struct conf conf;
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FUZZ_CHECK(conf_init_default(&conf) == 0);
	/* Smaller tables than a gateway's: an engine is made for every
	 * input, and no input is large enough to fill these. */
	conf.limits.max_blocked = 4096;
	conf.limits.max_hosts = 1024;
	conf.limits.max_probes = conf.limits.max_peers = 4096;
	conf.limits.max_machines = conf.limits.max_bindings = 1024;
	devnull = fopen("/dev/null", "we");
	FUZZ_CHECK(devnull);
	return 0;
}

static void sink_write(void *arg, const char *data, size_t len)
{
	size_t *n = arg;

	*n += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_sink sink;
	struct capture *cap = NULL;
	struct capture_packet pkt;
	struct output out;
	struct engine eng;
	const struct decode_stats *ds = &eng.local.decode;
	char err[512] = "";
	uint64_t n = 0, counted;
	size_t written = 0;
	FILE *f;
	int r;

	if (size == 0)
		return 0; /* fmemopen() wants at least a byte; libpcap refuses none */
	f = fmemopen((void *)data, size, "rb");
	FUZZ_CHECK(f);
	r = capture_open_stream(f, &cap, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EPROTONOSUPPORT || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	output_init(&out, devnull, OUTPUT_JSON, false);
	FUZZ_CHECK(engine_init(&eng, &conf, MODE_OFFLINE, &out, NULL, NULL) == 0);
	while ((r = capture_next(cap, &pkt, err, sizeof(err))) == 1) {
		FUZZ_CHECK(pkt.dlt == capture_datalink(cap));
		engine_frame(&eng, pkt.dlt, pkt.data, pkt.caplen, pkt.wirelen, pkt.ts);
		n++;
	}
	FUZZ_CHECK(r == 0 || r == -EIO);
	engine_flush(&eng);

	counted = ds->decoded;
	for (unsigned i = 0; i < DECODE_E_MAX; i++)
		counted += ds->err[i];
	FUZZ_CHECK(ds->packets == n && counted == n);
	sink = (struct report_sink){.write = sink_write, .arg = &written};
	/* Every format of the report, on whatever the trace left. */
	FUZZ_CHECK(report_render(&eng, REPORT_BY_DEPARTMENT, REPORT_TEXT, true, detect_now(eng.det),
				 &sink) == 0);
	FUZZ_CHECK(report_render(&eng, REPORT_BY_RULE, REPORT_JSON, true, detect_now(eng.det),
				 &sink) == 0);
	FUZZ_CHECK(report_render(&eng, REPORT_BY_FLOOR, REPORT_HTML, true, detect_now(eng.det),
				 &sink) == 0);
	FUZZ_CHECK(report_render(&eng, REPORT_BY_OWNER, REPORT_CSV, true, detect_now(eng.det),
				 &sink) == 0);
	FUZZ_CHECK(written > 0);
	FUZZ_CHECK(out.errors == 0);
	engine_fini(&eng);
	capture_close(cap);
	return 0;
}
