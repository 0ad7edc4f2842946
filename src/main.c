/* quarantined: startup procedure.
 *
 * Parse options, start logging, load and check the configuration, then run
 * one job: check the config (-t), read a capture (-r), or watch the live
 * network. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "child.h"
#include "conf.h"
#include "daemon.h"
#include "engine.h"
#include "log.h"
#include "output.h"
#include "report.h"
#include "sandbox.h"
#include "types.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

struct options {
	const char *config;
	bool config_given;
	bool check;
	const char *read;
	char *interfaces[CONF_MAX_IFACES];
	unsigned ninterfaces;
	bool dry_run;
	const char *socket;
	const char *state_dir;
	enum output_format format;
	bool foreground;
	bool syslog;
	bool report;
	enum report_by report_by;
	bool report_format_given;
	enum report_format report_format;
	bool debug;
};

enum {
	OPT_SYSLOG = 0x100,
	OPT_DEBUG,
	OPT_REPORT,
	OPT_BY,
	OPT_FORMAT,
};

static const struct option longopts[] = {
	{"config", required_argument, NULL, 'c'},
	{"check-config", no_argument, NULL, 't'},
	{"read", required_argument, NULL, 'r'},
	{"interface", required_argument, NULL, 'i'},
	{"dry-run", no_argument, NULL, 'n'},
	{"socket", required_argument, NULL, 'S'},
	{"state-dir", required_argument, NULL, 'D'},
	{"output", required_argument, NULL, 'o'},
	{"foreground", no_argument, NULL, 'f'},
	{"syslog", no_argument, NULL, OPT_SYSLOG},
	{"report", no_argument, NULL, OPT_REPORT},
	{"by", required_argument, NULL, OPT_BY},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"debug", no_argument, NULL, OPT_DEBUG},
	{"version", no_argument, NULL, 'V'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: quarantined [-fnV] [-c FILE] [-i IF]... [-o text|json] [-S PATH] [-D "
		   "DIR] [--debug]\n"
		   "       quarantined -r FILE [-c FILE] [-o text|json] [--syslog] [--report [--by "
		   "X]\n"
		   "                   [--format text|json|html|csv]]\n"
		   "       quarantined -t [-c FILE]\n"
		   "       quarantined -h | -V\n"
		   "\n"
		   "  -c, --config FILE     configuration (default " CONF_DEFAULT_PATH ")\n"
		   "  -t, --check-config    validate the configuration and exit\n"
		   "  -r, --read FILE       offline: detect in a pcap/pcapng file, print events\n"
		   "      --syslog          with -r: also send events to syslog\n"
		   "      --report          with -r: print the incident report after the events\n"
		   "      --by X            group the report by department (default), floor,\n"
		   "                        owner or rule\n"
		   "      --format F        the report alone, as text, json, html (one page) or\n"
		   "                        csv (one row per host), without the events\n"
		   "  -i, --interface IF    capture interface (repeatable)\n"
		   "  -n, --dry-run         detect and alert, never change nftables\n"
		   "  -S, --socket PATH     control socket\n"
		   "  -D, --state-dir DIR   state directory\n"
		   "  -o, --output FMT      event format on stdout: text (default) or json\n"
		   "  -f, --foreground      also log to stderr and print events on stdout\n"
		   "      --debug           also log debug messages\n"
		   "  -V, --version         print the version and exit\n"
		   "  -h, --help            print this help and exit\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	o->config = CONF_DEFAULT_PATH;
	while ((ch = getopt_long(argc, argv, "c:tr:i:nS:D:o:fVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			o->config_given = true;
			break;
		case 't':
			o->check = true;
			break;
		case 'r':
			o->read = optarg;
			break;
		case 'i':
			if (o->ninterfaces == CONF_MAX_IFACES) {
				fprintf(stderr, "quarantined: at most %d interfaces\n",
					CONF_MAX_IFACES);
				return -EINVAL;
			}
			for (unsigned i = 0; i < o->ninterfaces; i++)
				if (strcmp(o->interfaces[i], optarg) == 0) {
					fprintf(stderr, "quarantined: -i %s given twice\n", optarg);
					return -EINVAL;
				}
			o->interfaces[o->ninterfaces++] = optarg;
			break;
		case 'n':
			o->dry_run = true;
			break;
		case 'S':
			o->socket = optarg;
			break;
		case 'D':
			o->state_dir = optarg;
			break;
		case 'o':
			if (output_format_parse(optarg, &o->format) < 0) {
				fprintf(stderr, "quarantined: -o takes text or json, not '%s'\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'f':
			o->foreground = true;
			break;
		case OPT_REPORT:
			o->report = true;
			break;
		case OPT_BY:
			if (report_by_parse(optarg, &o->report_by) < 0) {
				fprintf(stderr, "quarantined: --by takes department, floor, owner "
						"or rule\n");
				return -EINVAL;
			}
			break;
		case OPT_FORMAT:
			if (report_format_parse(optarg, &o->report_format) < 0) {
				fprintf(stderr,
					"quarantined: --format takes text, json, html or csv, "
					"not '%s'\n",
					optarg);
				return -EINVAL;
			}
			o->report_format_given = true;
			break;
		case OPT_SYSLOG:
			o->syslog = true;
			break;
		case OPT_DEBUG:
			o->debug = true;
			break;
		case 'V':
			printf("quarantined %s\n", QD_VERSION_STRING);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "quarantined: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	if (o->report_by != REPORT_BY_DEPARTMENT && !o->report) {
		fprintf(stderr, "quarantined: --by goes with --report\n");
		return -EINVAL;
	}
	if (o->report_format_given && !o->report) {
		fprintf(stderr, "quarantined: --format goes with --report\n");
		return -EINVAL;
	}
	if (o->report && !o->read) {
		fprintf(stderr, "quarantined: --report goes with -r (use quarantinectl report "
				"on a running daemon)\n");
		return -EINVAL;
	}
	if (o->syslog && !o->read) {
		fprintf(stderr,
			"quarantined: --syslog is for -r (the daemon always logs to syslog)\n");
		return -EINVAL;
	}
	return 0;
}

static void print_diags(const struct conf_diags *diags)
{
	for (unsigned i = 0; i < diags->n; i++) {
		const struct conf_diag *d = &diags->d[i];
		if (d->line > 0)
			fprintf(stderr, "%s:%d: %s\n", d->file, d->line, d->msg);
		else
			fprintf(stderr, "%s: %s\n", d->file, d->msg);
	}
	if (diags->dropped)
		fprintf(stderr, "(%u more problems not shown)\n", diags->dropped);
}

/* Loads the configuration: the named file, or the default file when it
 * exists, or the built-in defaults.  Exit status on failure, else 0. */
static int load_config(const struct options *o, struct conf *c)
{
	struct conf_diags diags;
	int r;

	memset(&diags, 0, sizeof(diags));
	if (!o->config_given && access(o->config, F_OK) < 0 && errno == ENOENT) {
		r = conf_init_default(c);
		if (r < 0) {
			fprintf(stderr, "quarantined: %s\n", strerror(-r));
			return EXIT_RUNTIME;
		}
		return 0;
	}
	r = conf_load(c, o->config, &diags);
	if (r < 0) {
		print_diags(&diags);
		if (diags.n == 0)
			fprintf(stderr, "quarantined: %s: %s\n", o->config, strerror(-r));
		return EXIT_USAGE;
	}
	return 0;
}

static void write_stdout(void *arg, const char *data, size_t len)
{
	fwrite(data, 1, len, arg);
}

/* What quarantined -r does once the capture file is open and detection
 * is set up, measured with strace -f over every capture of
 * ../shared/data/pcaps in each output and report format, and over broken
 * ones (tests/pcap/offline-sandbox.sh checks it): the capture's reads
 * (read, pread64, lseek, fstat), stdout and stderr (write; stdio's look
 * at stdout, an
 * fstat and the TCGETS of isatty()), glibc's allocator (brk, mmap,
 * munmap, mremap, madvise: the tables' huge pages and populate steps),
 * and the way out.  clock_gettime is what a vDSO-less kernel uses. */
static const char *const offline_allowed[] = {
	"read",	      "pread64",       "lseek",	       "fstat",
	"newfstatat", "write",	       "writev",       "close",
	"brk",	      "mmap",	       "munmap",       "mremap",
	"madvise",    "clock_gettime", "rt_sigreturn", "restart_syscall",
	"exit",	      "exit_group",
};

/* With --syslog: glibc's syslog() sends each message on the socket that
 * openlog() connected (LOG_PID: getpid), and when /dev/log was not there
 * or went away, makes a new one each time: an AF_UNIX datagram socket
 * only, so that no stream socket (the control socket, a TCP connection)
 * can be had from here.  (A syslog daemon listening on a stream socket
 * that restarts during the run would have it killed.) */
static const char *const offline_syslog[] = {"sendto", "getpid", "connect"};

/* Offline mode reads a file that may come from anywhere, an infected
 * network's capture among others: once it is open and the tables are
 * made, the process enters the sensor's kind of sandbox (sandbox.h), so
 * that a forged packet that took the decoder over can only read the
 * capture and write to stdout. */
static int offline_sandbox(bool syslog_too, char *err, size_t errlen)
{
	const char *list[ARRAY_SIZE(offline_allowed) + ARRAY_SIZE(offline_syslog)];
	struct sandbox_cond cond[] = {
		{"ioctl", 1, 0xffffffffu, TCGETS},
		{"socket", 0, 0xffffffffu, AF_UNIX},
		{"socket", 1, 0xfu, SOCK_DGRAM},
	};
	unsigned n = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(offline_allowed); i++)
		list[n++] = offline_allowed[i];
	for (unsigned i = 0; syslog_too && i < ARRAY_SIZE(offline_syslog); i++)
		list[n++] = offline_syslog[i];
	/* glibc reads the time zone once, for syslog()'s time stamps. */
	tzset();
	return child_sandbox(list, n, cond, syslog_too ? ARRAY_SIZE(cond) : 1, err, errlen);
}

/* Offline mode: the packets' timestamps are the clock. */
static int run_offline(const struct options *o, const struct conf *c)
{
	struct output out;
	struct engine eng;
	struct capture *cap = NULL;
	struct capture_packet pkt[SENSE_BATCH];
	char err[512];
	uint64_t n = 0;
	int r, status = 0;

	r = capture_open_file(o->read, &cap, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "quarantined: %s: %s\n", o->read, err);
		return EXIT_RUNTIME;
	}
	/* With --format the report is the whole of stdout (a page, a
	 * spreadsheet): the events go only to syslog, when asked. */
	output_init(&out, o->report_format_given ? NULL : stdout, o->format, o->syslog);
	r = engine_init(&eng, c, MODE_OFFLINE, &out, NULL, NULL);
	if (r < 0) {
		fprintf(stderr, "quarantined: cannot set up detection: %s\n", strerror(-r));
		capture_close(cap);
		return EXIT_RUNTIME;
	}
	r = offline_sandbox(o->syslog, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "quarantined: sandbox: %s\n", err);
		engine_fini(&eng);
		capture_close(cap);
		return EXIT_RUNTIME;
	}
	/* A batch at a time: the detector looks up the next packets' entries
	 * while it inspects these (sense_frames()). */
	while ((r = capture_next_batch(cap, pkt, SENSE_BATCH, err, sizeof(err))) > 0) {
		engine_frames(&eng, pkt, (unsigned)r);
		n += (unsigned)r;
	}
	if (r < 0) {
		/* Report what the good part of the file showed, then fail. */
		fprintf(stderr, "quarantined: %s: read error after %llu packets: %s\n", o->read,
			(unsigned long long)n, err);
		status = EXIT_RUNTIME;
	}
	engine_flush(&eng);
	output_close(&out);
	if (o->report) {
		struct report_sink sink = {.write = write_stdout, .arg = stdout};

		enum report_format rf = o->format == OUTPUT_JSON ? REPORT_JSON : REPORT_TEXT;

		if (o->report_format_given)
			rf = o->report_format;
		else if (o->format == OUTPUT_TEXT)
			printf("\n");
		r = report_render(&eng, o->report_by, rf, true, detect_now(eng.det), &sink);
		if (r < 0) {
			fprintf(stderr, "quarantined: report: %s\n", strerror(-r));
			status = EXIT_RUNTIME;
		}
		fflush(stdout);
	}

	const struct decode_stats *ds = engine_decode_stats(&eng);
	uint64_t bad = ds->err[DECODE_E_TRUNCATED] + ds->err[DECODE_E_MALFORMED];
	if (bad)
		fprintf(stderr,
			"quarantined: %s: %llu of %llu packets malformed or truncated, skipped\n",
			o->read, (unsigned long long)bad, (unsigned long long)ds->packets);
	if (out.errors) {
		fprintf(stderr, "quarantined: %lu events could not be written\n", out.errors);
		status = EXIT_RUNTIME;
	}
	engine_fini(&eng);
	capture_close(cap);
	return status;
}

/* Live mode: the daemon.  Never forks into the background (SPEC section 2):
 * systemd or the shell supervises it. */
static int run_live(const struct options *o, struct conf *c)
{
	struct daemon_opts d;

	memset(&d, 0, sizeof(d));
	for (unsigned i = 0; i < o->ninterfaces; i++)
		d.interfaces[d.ninterfaces++] = o->interfaces[i];
	d.dry_run = o->dry_run;
	d.socket = o->socket;
	d.state_dir = o->state_dir;
	d.format = o->format;
	d.foreground = o->foreground;
	d.config = o->config;
	d.config_given = o->config_given;
	/* Syslog always; stderr too in the foreground.  openlog() comes
	 * before anything that could drop privileges. */
	log_init("quarantined", c->log.facility, LOG_TO_SYSLOG | LOG_TO_STDERR, o->debug);
	/* daemon_run() finishes c (a reload may replace it). */
	return daemon_run(&d, c);
}

int main(int argc, char **argv)
{
	struct options o;
	struct conf c;
	int r;

	if (parse_options(argc, argv, &o) < 0)
		return EXIT_USAGE;
	log_init("quarantined", LOG_DAEMON, LOG_TO_STDERR | (o.syslog ? LOG_TO_SYSLOG : 0),
		 o.debug);

	r = load_config(&o, &c);
	if (r != 0)
		return r;
	if (o.check) {
		printf("%s: configuration OK (%u rules, %u inventory entries)\n",
		       c.path[0] ? c.path : "built-in defaults", c.nrules, c.inventory.n);
		conf_fini(&c);
		return 0;
	}
	if (o.read) {
		/* --syslog: with the configured facility. */
		if (o.syslog)
			log_init("quarantined", c.log.facility, LOG_TO_STDERR | LOG_TO_SYSLOG,
				 o.debug);
		r = run_offline(&o, &c);
		conf_fini(&c);
		return r;
	}
	return run_live(&o, &c);
}
