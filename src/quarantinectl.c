/* quarantinectl: the operator's client of the control socket (SPEC
 * section 2).  Thin on purpose: it checks the arguments, so that a typo
 * never reaches the daemon, maps them to one request, and prints what the
 * daemon rendered.  Exit status: 0 success, 1 the daemon refused, 2 usage
 * error, 3 daemon unreachable. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "actor.h"
#include "addr.h"
#include "avcsv.h"
#include "ctlproto.h"
#include "suggest.h"
#include "types.h"

#define DEFAULT_SOCKET "/run/quarantined/control.sock"
/* The daemon answers within its own client deadline (10 s); a bulk
 * command may take longer to apply, hence the margin. */
#define ANSWER_TIMEOUT_MS 30000

enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
};

enum opt_bit {
	O_STATE = 1u << 0,
	O_LEVEL = 1u << 1,
	O_PROTO = 1u << 2,
	O_PORTS = 1u << 3,
	O_TTL = 1u << 4,
	O_REASON = 1u << 5,
	O_FROM = 1u << 6,
	O_ALL = 1u << 7,
	O_INCIDENT = 1u << 8,
	O_BY = 1u << 9,
	O_UNCLEANABLE = 1u << 10,
	O_FORCE = 1u << 11,
	O_TO = 1u << 12,
	O_WIDE = 1u << 13,
	O_RULE = 1u << 14,
	O_DEPARTMENT = 1u << 15,
	O_FLOOR = 1u << 16,
	O_SINCE = 1u << 17,
	O_OLDER_THAN = 1u << 18,
	O_FOLLOW = 1u << 19,
	O_FORMAT = 1u << 20,
	O_OUTPUT = 1u << 21,
	O_SOURCE_NAME = 1u << 22,
	O_COLUMN = 1u << 23, /* may be given once per role */
};

static const struct option_def {
	const char *name; /* long name, without "--" */
	enum opt_bit bit;
	bool has_arg;
} option_defs[] = {
	{"state", O_STATE, true},
	{"level", O_LEVEL, true},
	{"proto", O_PROTO, true},
	{"ports", O_PORTS, true},
	{"ttl", O_TTL, true},
	{"reason", O_REASON, true},
	{"from", O_FROM, true},
	{"all", O_ALL, false},
	{"incident", O_INCIDENT, true},
	{"by", O_BY, true},
	{"include-uncleanable", O_UNCLEANABLE, false},
	{"force", O_FORCE, false},
	{"to", O_TO, true},
	{"wide", O_WIDE, false},
	{"rule", O_RULE, true},
	{"department", O_DEPARTMENT, true},
	{"floor", O_FLOOR, true},
	{"since", O_SINCE, true},
	{"older-than", O_OLDER_THAN, true},
	{"follow", O_FOLLOW, false},
	{"format", O_FORMAT, true},
	{"output", O_OUTPUT, true},
	{"source-name", O_SOURCE_NAME, true},
	{"column", O_COLUMN, true},
};

#define MAX_POSITIONAL 8

struct args {
	const char *socket;
	bool json;
	unsigned given; /* enum opt_bit */
	const char *val[ARRAY_SIZE(option_defs)];
	const char *pos[MAX_POSITIONAL]; /* pos[0] is the command */
	unsigned npos;
	const char *columns[AVCSV_ROLES]; /* --column ROLE=NAME, by role */
};

static const char *const levels[] = {"watch", "contain", "isolate", NULL};
static const char *const states[] = {"detected", "watched",	"contained", "isolated", "cleaning",
				     "cleaned",	 "uncleanable", "released",  NULL};
static const char *const marks[] = {"cleaning", "cleaned", "uncleanable", NULL};
static const char *const protos[] = {"tcp", "udp", NULL};
static const char *const groupings[] = {"department", "floor", "owner", "rule", NULL};
static const char *const formats[] = {"text", "json", "html", "csv", NULL};
static const char *const outbreak_actions[] = {"on", "off", "status", NULL};
static const char *const outbreak_groupings[] = {"department", "floor", "subnet", NULL};

static const char usage_text[] =
	"usage: quarantinectl [-S PATH] [--json] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  status\n"
	"  list [--wide] [--state STATE] [--level LEVEL] [--rule NAME]\n"
	"       [--department D] [--floor F] [--since TIME]\n"
	"  show HOST\n"
	"  quarantine HOST [--level watch|contain|isolate] [--proto tcp|udp --ports N,...]\n"
	"             [--to ADDR] [--ttl DURATION] [--reason TEXT]\n"
	"  quarantine --from FILE|- [--force] [--level LEVEL] [--ttl DURATION]\n"
	"             [--reason TEXT]\n"
	"  escalate HOST\n"
	"  deescalate HOST\n"
	"  release HOST|--all|--incident ID|--from FILE|- [--include-uncleanable]\n"
	"          [--reason TEXT]\n"
	"  mark HOST cleaning|cleaned|uncleanable [--reason TEXT]\n"
	"  incidents\n"
	"  incident ID\n"
	"  report [--by department|floor|owner|rule] [--format text|json|html|csv]\n"
	"         [-o FILE]\n"
	"  events [--follow] [--since TIME]\n"
	"  purge --older-than DURATION\n"
	"  import --format csv [--source-name CONSOLE] [--column ROLE=NAME]... FILE|-\n"
	"  metrics\n"
	"  pause\n"
	"  resume\n"
	"  allowlist\n"
	"  allow HOST|CIDR\n"
	"  disallow HOST|CIDR\n"
	"  reload\n"
	"  outbreak on [--by department|floor|subnet] [--reason TEXT]\n"
	"  outbreak off [--reason TEXT]\n"
	"  outbreak status\n"
	"\n"
	"options:\n"
	"  -S, --socket PATH  control socket (default $QUARANTINED_SOCKET, else\n"
	"                     " DEFAULT_SOCKET ")\n"
	"  --json             machine-readable output\n"
	"  -h, --help         this text\n"
	"  -V, --version      print the version\n"
	"\n"
	"HOST is an IPv4 or IPv6 address, a MAC, or a machine's name in the inventory;\n"
	"DURATION is like 90s, 30m, 12h, 7d; TIME is an ISO 8601 time (2026-01-15T09:00,\n"
	"local unless it ends in Z or an offset) or a DURATION, meaning that long ago.\n"
	"STATE: detected watched contained isolated cleaning cleaned uncleanable released\n"
	"exit status: 0 success, 1 refused by the daemon, 2 usage error, 3 daemon unreachable\n";

/* --json anywhere on the command line: errors are then a JSON object
 * too, even those found before the option is reached. */
static bool json_errors;

/* s as a JSON string, quotes included, into buf (cut short, still
 * terminated, when len is too small: 6 bytes a byte is always enough). */
static const char *json_quote(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	n += (size_t)snprintf(buf, len, "\"");
	for (const unsigned char *c = (const unsigned char *)s; *c && n < len; c++) {
		if (*c == '"' || *c == '\\')
			n += (size_t)snprintf(buf + n, len - n, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			n += (size_t)snprintf(buf + n, len - n, "\\u%04x", *c);
		else
			n += (size_t)snprintf(buf + n, len - n, "%c", *c);
	}
	if (n < len)
		snprintf(buf + n, len - n, "\"");
	return buf;
}

/* One error on stderr: "quarantinectl: TEXT", or under --json one line
 * {"error":"TEXT","exit":N} with N the exit status that follows, so that
 * a script reads both from the same place. */
static void complain_v(int status, const char *fmt, va_list ap)
{
	char text[2048], q[6 * sizeof(text) + 3];

	vsnprintf(text, sizeof(text), fmt, ap);
	if (json_errors) {
		fprintf(stderr, "{\"error\":%s,\"exit\":%d}\n", json_quote(text, q, sizeof(q)),
			status);
		return;
	}
	fprintf(stderr, "quarantinectl: %s\n", text);
	if (status == EXIT_USAGE)
		fputs("Try 'quarantinectl --help'.\n", stderr);
}

static void complain(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void complain(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	complain_v(status, fmt, ap);
	va_end(ap);
}

static _Noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	complain_v(EXIT_USAGE, fmt, ap);
	va_end(ap);
	exit(EXIT_USAGE);
}

/* An unknown --NAME (of nlen bytes, before any "="), with the option it
 * most likely meant. */
static void unknown_option(const char *arg, const char *name, size_t nlen)
{
	const char *names[ARRAY_SIZE(option_defs) + 3];
	char word[64];
	const char *near;
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(option_defs); i++)
		names[n++] = option_defs[i].name;
	names[n++] = "json";
	names[n++] = "socket";
	names[n] = NULL;
	snprintf(word, sizeof(word), "%.*s", (int)MIN(nlen, sizeof(word) - 1), name);
	near = suggest(word, names);
	if (near)
		usage_error("unknown option '%s' (did you mean '--%s'?)", arg, near);
	usage_error("unknown option '%s'", arg);
}

static const char *join(const char *const *list, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; list[i]; i++)
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", i ? "|" : "",
				      list[i]);
	return buf;
}

static void check_word(const char *what, const char *v, const char *const *list)
{
	char buf[256];

	for (unsigned i = 0; list[i]; i++)
		if (strcmp(v, list[i]) == 0)
			return;
	usage_error("invalid %s '%s' (want %s)", what, v, join(list, buf, sizeof(buf)));
}

/* ---- command line ---- */

static unsigned option_index(enum opt_bit bit)
{
	for (unsigned i = 0; i < ARRAY_SIZE(option_defs); i++)
		if (option_defs[i].bit == bit)
			return i;
	abort();
}

static const char *opt(const struct args *a, enum opt_bit bit)
{
	return a->val[option_index(bit)];
}

static void set_option(struct args *a, const struct option_def *d, const char *v)
{
	unsigned i = (unsigned)(d - option_defs);

	if (d->bit == O_COLUMN) {
		const char *eq = strchr(v, '=');
		char role[16];
		int k;

		if (!eq || eq == v || !eq[1] || (size_t)(eq - v) >= sizeof(role))
			usage_error("invalid --column '%s' (want ROLE=NAME: host, address, mac, "
				    "threat or time, and a column of the header)",
				    v);
		snprintf(role, sizeof(role), "%.*s", (int)(eq - v), v);
		if ((k = avcsv_role_parse(role)) < 0)
			usage_error("unknown --column role '%s' (host, address, mac, threat, time)",
				    role);
		if (a->columns[k])
			usage_error("--column %s given twice", role);
		a->columns[k] = eq + 1;
		a->given |= d->bit;
		return;
	}
	if (a->given & d->bit)
		usage_error("--%s given twice", d->name);
	a->given |= d->bit;
	a->val[i] = v;
}

static void parse_args(int argc, char **argv, struct args *a)
{
	bool options_done = false;

	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		const char *name, *eq, *v;
		size_t nlen;

		if (options_done || s[0] != '-' || s[1] == '\0') {
			if (a->npos == MAX_POSITIONAL)
				usage_error("too many arguments");
			a->pos[a->npos++] = s;
			continue;
		}
		if (strcmp(s, "--") == 0) {
			options_done = true;
			continue;
		}
		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			fputs(usage_text, stdout);
			exit(EXIT_OK);
		}
		if (strcmp(s, "-V") == 0 || strcmp(s, "--version") == 0) {
			printf("quarantinectl %s\n", QD_VERSION_STRING);
			exit(EXIT_OK);
		}
		if (strcmp(s, "--json") == 0) {
			a->json = true;
			continue;
		}
		if (strncmp(s, "-S", 2) == 0 || strncmp(s, "--socket", 8) == 0) {
			if (strcmp(s, "-S") == 0 || strcmp(s, "--socket") == 0) {
				if (i + 1 == argc)
					usage_error("%s needs a PATH", s);
				v = argv[++i];
			} else if (s[1] == 'S') {
				v = s + 2;
			} else if (s[8] == '=') {
				v = s + 9;
			} else {
				usage_error("unknown option '%s'", s);
			}
			if (v[0] == '\0')
				usage_error("empty socket path");
			a->socket = v;
			continue;
		}
		if (strncmp(s, "-o", 2) == 0) {
			/* -o FILE or -oFILE: --output's short form. */
			for (unsigned k = 0; k < ARRAY_SIZE(option_defs); k++)
				if (option_defs[k].bit == O_OUTPUT) {
					if (s[2] == '\0' && i + 1 == argc)
						usage_error("-o needs a FILE");
					set_option(a, &option_defs[k], s[2] ? s + 2 : argv[++i]);
				}
			continue;
		}
		if (s[1] != '-')
			usage_error("unknown option '%s'", s);
		name = s + 2;
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		for (unsigned k = 0;; k++) {
			const struct option_def *d = &option_defs[k];

			if (k == ARRAY_SIZE(option_defs))
				unknown_option(s, name, nlen);
			if (strlen(d->name) != nlen || strncmp(d->name, name, nlen) != 0)
				continue;
			if (!d->has_arg) {
				if (eq)
					usage_error("--%s takes no value", d->name);
				v = "1";
			} else if (eq) {
				v = eq + 1;
			} else {
				if (i + 1 == argc)
					usage_error("--%s needs a value", d->name);
				v = argv[++i];
			}
			set_option(a, d, v);
			break;
		}
	}
}

/* ---- checks of single arguments ---- */

/* A machine's name in the inventory, as far as the client can tell: the
 * daemon knows the names.  Letters, digits, '.', '-' and '_', with a
 * letter somewhere (so that a mistyped address is not taken for one). */
static bool name_like(const char *s)
{
	bool letter = false;
	size_t n = 0;

	for (; *s; s++, n++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
			letter = true;
		else if (!(*s >= '0' && *s <= '9') && *s != '.' && *s != '-' && *s != '_')
			return false;
	}
	return letter && n > 0 && n < 64;
}

static void check_host(const char *s)
{
	struct qaddr a;

	if (addr_parse_any(s, &a) < 0 && (strchr(s, ':') || !name_like(s)))
		usage_error("invalid HOST '%s' (want an IPv4 or IPv6 address, a MAC or a "
			    "name from the inventory)",
			    s);
}

static void check_host_or_cidr(const char *s)
{
	struct qaddr a;
	unsigned plen;
	const char *slash;
	char host[ADDR_STRLEN + 1], buf[ADDR_STRLEN];
	char *end;
	unsigned long l;

	if (addr_parse_prefix(s, &a, &plen) == 0)
		return;
	/* Say what is wrong with a prefix whose address has host bits: the
	 * usual slip is 10.1.0.5/24 for 10.1.0.0/24. */
	slash = strchr(s, '/');
	if (slash && (size_t)(slash - s) < sizeof(host)) {
		memcpy(host, s, (size_t)(slash - s));
		host[slash - s] = '\0';
		errno = 0;
		l = strtoul(slash + 1, &end, 10);
		if (addr_parse(host, &a) == 0 && slash[1] >= '0' && slash[1] <= '9' && !errno &&
		    *end == '\0' && l <= addr_bits(&a)) {
			addr_mask(&a, (unsigned)l);
			usage_error(
				"'%s' has bits set past the prefix length (did you mean %s/%lu?)",
				s, addr_ntop(&a, buf), l);
		}
	}
	usage_error("invalid HOST or CIDR '%s'", s);
}

/* --ttl: the daemon checks again, but a TTL it would refuse is caught
 * here, before any connection. */
static const char *check_ttl(const char *s, char *buf, size_t len)
{
	uint64_t secs;
	int r = ttl_parse(s, &secs);

	if (r == -ERANGE)
		usage_error("invalid --ttl '%s': ttl must be between 0 and %s", s, QD_TTL_MAX_TEXT);
	if (r < 0)
		usage_error("invalid DURATION '%s' (want e.g. 90s, 30m, 12h, 7d; ttl must be "
			    "between 0 and %s)",
			    s, QD_TTL_MAX_TEXT);
	snprintf(buf, len, "%llu", (unsigned long long)secs);
	return buf;
}

/* --since: read here, where the operator's time zone and clock are, so
 * that "09:00" and "1h" mean what they read as, and sent in UTC to the
 * microsecond (list and events alike). */
static const char *check_since(const char *s, char *buf, size_t len)
{
	usec_t t;
	time_t secs;
	struct tm tm;
	char day[32];

	if (time_since_parse(s, time_wall_us(), &t) < 0)
		usage_error(
			"invalid TIME '%s' (want an ISO 8601 time such as 2026-01-15T09:00:00Z "
			"or '2026-01-15 09:00', or a DURATION such as 30m meaning that long ago)",
			s);
	secs = (time_t)(t / USEC_PER_SEC);
	if (!gmtime_r(&secs, &tm) || strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		usage_error("invalid TIME '%s'", s);
	snprintf(buf, len, "%s.%06uZ", day, (unsigned)(t % USEC_PER_SEC));
	return buf;
}

/* --older-than: a duration, at most QD_PURGE_MAX_S; sent in seconds. */
static const char *check_older_than(const char *s, char *buf, size_t len)
{
	uint64_t secs;

	if (duration_parse(s, &secs) < 0 || secs > QD_PURGE_MAX_S)
		usage_error(
			"invalid --older-than '%s' (want a DURATION such as 30d, at most %llud)", s,
			(unsigned long long)(QD_PURGE_MAX_S / 86400));
	snprintf(buf, len, "%llu", (unsigned long long)secs);
	return buf;
}

/* Ports 1-65535, comma-separated; rewritten in canonical decimal. */
static const char *check_ports(const char *s, char *buf, size_t len)
{
	size_t n = 0;
	const char *p = s;

	if (*p == '\0')
		usage_error("empty --ports");
	for (;;) {
		unsigned long v = 0;
		const char *start = p;

		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (unsigned long)(*p - '0');
			if (v > 65535)
				break;
			p++;
		}
		if (p == start || v == 0 || v > 65535 || (*p != ',' && *p != '\0'))
			usage_error("invalid --ports '%s' (want port numbers 1-65535, separated by "
				    "commas)",
				    s);
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%lu", n ? "," : "", v);
		if (n >= len)
			usage_error("--ports: too many ports");
		if (*p == '\0')
			break;
		p++;
	}
	return buf;
}

static const char *check_incident(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || errno || *end || v == 0 || v > UINT32_MAX)
		usage_error("invalid incident ID '%s' (want a number)", s);
	return s;
}

/* Reads FILE (or stdin for "-") whole, up to CTL_MAX_BODY bytes. */
static char *read_list(const char *path, size_t *ret_len)
{
	bool use_stdin = strcmp(path, "-") == 0;
	int fd = use_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 65536;
	char *buf;

	if (fd < 0)
		usage_error("cannot read %s: %s", path, strerror(errno));
	buf = malloc(cap);
	if (!buf) {
		complain(EXIT_REFUSED, "out of memory");
		exit(EXIT_REFUSED);
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nbuf;

			if (cap > CTL_MAX_BODY)
				usage_error("%s is larger than the limit of %u bytes",
					    use_stdin ? "standard input" : path, CTL_MAX_BODY);
			cap *= 2;
			nbuf = realloc(buf, cap + 1);
			if (!nbuf) {
				complain(EXIT_REFUSED, "out of memory");
				exit(EXIT_REFUSED);
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			usage_error("cannot read %s: %s", use_stdin ? "standard input" : path,
				    strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CTL_MAX_BODY)
		usage_error("%s is larger than the limit of %u bytes",
			    use_stdin ? "standard input" : path, CTL_MAX_BODY);
	if (!use_stdin)
		close(fd);
	*ret_len = len;
	return buf;
}

/* ---- commands ---- */

struct request {
	char hdr[CTL_MAX_HEADER + 1];
	char *body; /* --from contents, import's rows; freed by main */
	size_t bodylen, bodycap;
};

/* Appends to the body of an import; the whole must stay within what
 * the daemon takes in one request. */
static void body_add(struct request *r, const char *p, size_t n)
{
	if (r->bodylen + n > CTL_MAX_BODY)
		usage_error("the import's rows come to more than %u bytes: split the file",
			    CTL_MAX_BODY);
	if (r->bodylen + n > r->bodycap) {
		size_t cap = r->bodycap ? r->bodycap : 65536;
		char *b;

		while (cap < r->bodylen + n)
			cap *= 2;
		b = realloc(r->body, cap);
		if (!b) {
			complain(EXIT_REFUSED, "out of memory");
			exit(EXIT_REFUSED);
		}
		r->body = b;
		r->bodycap = cap;
	}
	memcpy(r->body + r->bodylen, p, n);
	r->bodylen += n;
}

/* Each row of the export as typed fields for the daemon (TAB-separated:
 * avcsv.h makes each field printable, without TAB or line break), and
 * each line refused here with its number and why. */
static void import_row(void *arg, const struct avcsv_row *w, const char *error)
{
	struct request *r = arg;
	char line[AVCSV_RECORD_MAX + 1024];
	int n;

	if (error)
		n = snprintf(line, sizeof(line), "b\t%u\t%s\n", w->line, error);
	else
		n = snprintf(line, sizeof(line), "r\t%u\t%s\t%s\t%s\t%s\t%llu\t%s\n", w->line,
			     w->host, w->addr, w->mac, w->threat, (unsigned long long)w->ts_us,
			     w->evidence);
	if (n > 0 && (size_t)n < sizeof(line))
		body_add(r, line, (size_t)n);
}

/* Reads an antivirus console's export (FILE, or stdin for "-") through
 * the CSV parser, in pieces: a file of any size costs the parser's
 * bounded record, and the body its rows. */
static void import_read(const char *path, const char *const *columns, struct request *r)
{
	static struct avcsv p;
	bool use_stdin = strcmp(path, "-") == 0;
	const char *name = use_stdin ? "standard input" : path;
	int fd = use_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	char buf[65536];

	if (fd < 0)
		usage_error("cannot read %s: %s", path, strerror(errno));
	avcsv_init(&p, columns);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			usage_error("cannot read %s: %s", name, strerror(errno));
		if (n == 0)
			break;
		if (avcsv_feed(&p, buf, (size_t)n, import_row, r) < 0)
			usage_error("%s: %s", name, p.fatal);
	}
	if (avcsv_finish(&p, import_row, r) < 0)
		usage_error("%s: %s", name, p.fatal);
	if (!use_stdin)
		close(fd);
	if (r->bodylen == 0)
		usage_error("%s: no rows below the header", name);
}

static void add(struct request *r, const char *key, const char *value)
{
	int e = ctl_header_add(r->hdr, sizeof(r->hdr), key, value);

	if (e == -E2BIG)
		usage_error("argument of %s too long (max %d bytes)", key, CTL_VALUE_MAX - 1);
	if (e < 0)
		usage_error("arguments too long");
}

static void add_opt(struct request *r, const struct args *a, enum opt_bit bit, const char *key)
{
	if (a->given & bit)
		add(r, key, opt(a, bit));
}

struct command {
	const char *name;
	unsigned options; /* enum opt_bit allowed */
	unsigned minpos, maxpos;
	const char *synopsis;
};

static const struct command commands[] = {
	{"status", 0, 0, 0, "status"},
	{"list", O_WIDE | O_STATE | O_LEVEL | O_RULE | O_DEPARTMENT | O_FLOOR | O_SINCE, 0, 0,
	 "list [--wide] [--state STATE] [--level LEVEL] [--rule NAME] [--department D] "
	 "[--floor F] [--since TIME]"},
	{"show", 0, 1, 1, "show HOST"},
	{"quarantine", O_LEVEL | O_PROTO | O_PORTS | O_TTL | O_REASON | O_FROM | O_FORCE | O_TO, 0,
	 1,
	 "quarantine HOST|--from FILE [--force] [--level L] [--proto P --ports N,...] [--to ADDR] "
	 "[--ttl D] [--reason TEXT]"},
	{"escalate", 0, 1, 1, "escalate HOST"},
	{"deescalate", 0, 1, 1, "deescalate HOST"},
	{"release", O_ALL | O_INCIDENT | O_FROM | O_REASON | O_UNCLEANABLE, 0, 1,
	 "release HOST|--all|--incident ID|--from FILE [--include-uncleanable] [--reason TEXT]"},
	{"mark", O_REASON, 2, 2, "mark HOST cleaning|cleaned|uncleanable [--reason TEXT]"},
	{"incidents", 0, 0, 0, "incidents"},
	{"incident", 0, 1, 1, "incident ID"},
	{"report", O_BY | O_FORMAT | O_OUTPUT, 0, 0,
	 "report [--by department|floor|owner|rule] [--format text|json|html|csv] [-o FILE]"},
	{"events", O_SINCE | O_FOLLOW, 0, 0, "events [--follow] [--since TIME]"},
	{"metrics", 0, 0, 0, "metrics"},
	{"pause", 0, 0, 0, "pause"},
	{"resume", 0, 0, 0, "resume"},
	{"allowlist", 0, 0, 0, "allowlist"},
	{"allow", 0, 1, 1, "allow HOST|CIDR"},
	{"disallow", 0, 1, 1, "disallow HOST|CIDR"},
	{"reload", 0, 0, 0, "reload"},
	{"purge", O_OLDER_THAN, 0, 0, "purge --older-than DURATION"},
	{"outbreak", O_BY | O_REASON, 1, 1,
	 "outbreak on|off|status [--by department|floor|subnet] [--reason TEXT]"},
	{"import", O_FORMAT | O_SOURCE_NAME | O_COLUMN, 1, 1,
	 "import --format csv [--source-name CONSOLE] [--column ROLE=NAME]... FILE|-"},
};

static void check_shape(const struct command *c, const struct args *a)
{
	unsigned npos = a->npos - 1;

	for (unsigned i = 0; i < ARRAY_SIZE(option_defs); i++)
		if ((a->given & option_defs[i].bit) && !(c->options & option_defs[i].bit))
			usage_error("%s does not take --%s (usage: %s)", c->name,
				    option_defs[i].name, c->synopsis);
	if (npos < c->minpos)
		usage_error("%s needs more arguments (usage: %s)", c->name, c->synopsis);
	if (npos > c->maxpos)
		usage_error("too many arguments for %s (usage: %s)", c->name, c->synopsis);
}

/* Under sudo, who ran it: SUDO_USER and SUDO_UID, as sudo(8) sets them,
 * sent for the daemon to record as a claim (it cannot verify them: see
 * actor.h).  Sent only when both are there, well-formed, and name someone
 * else than the user we run as; otherwise left out without a word, since
 * an odd environment must not keep an operator from acting. */
static void add_sudo(struct request *r)
{
	const char *user = getenv("SUDO_USER"), *uid = getenv("SUDO_UID");
	char *end;
	unsigned long v;

	if (!user || !uid || !actor_name_valid(user) || uid[0] < '0' || uid[0] > '9')
		return;
	errno = 0;
	v = strtoul(uid, &end, 10);
	if (errno || *end || v >= UINT32_MAX || v == (unsigned long)getuid())
		return;
	add(r, "sudo_user", user);
	add(r, "sudo_uid", uid);
}

static void build(const struct command *c, const struct args *a, struct request *r)
{
	const char *arg1 = a->npos > 1 ? a->pos[1] : NULL;
	char buf[CTL_VALUE_MAX];
	const char *cmd = c->name;

	r->hdr[0] = '\0';
	add(r, "cmd", cmd);

	if (a->given & O_LEVEL)
		check_word("level", opt(a, O_LEVEL), levels);
	if (a->given & O_STATE)
		check_word("state", opt(a, O_STATE), states);
	if ((a->given & O_BY) && strcmp(cmd, "outbreak") != 0)
		check_word("grouping", opt(a, O_BY), groupings);
	if (a->given & O_PROTO)
		check_word("protocol", opt(a, O_PROTO), protos);

	/* The Prometheus text format is the point of metrics; the same
	 * figures as JSON are status --json. */
	if (strcmp(cmd, "metrics") == 0 && a->json)
		usage_error("metrics has no JSON form (it is the Prometheus text format; status "
			    "--json has the same figures)");
	if (strcmp(cmd, "quarantine") == 0) {
		if (!arg1 == !(a->given & O_FROM))
			usage_error("quarantine takes either HOST or --from FILE (usage: %s)",
				    c->synopsis);
		if (a->given & O_FROM) {
			if (a->given & (O_PROTO | O_PORTS | O_TO))
				usage_error(
					"--proto and --ports apply to a single HOST, not to --from "
					"(and so does --to)");
		} else if (a->given & O_FORCE) {
			usage_error("--force goes with --from (a single HOST is put at the "
				    "level given, whatever it was)");
		} else {
			check_host(arg1);
			add(r, "host", arg1);
		}
		if ((a->given & O_PORTS) && !(a->given & O_PROTO))
			usage_error("--ports needs --proto");
		if ((a->given & O_PROTO) && !(a->given & O_PORTS))
			usage_error("--proto needs --ports");
		if (a->given & O_TO) {
			struct qaddr to;

			if (!(a->given & O_PORTS))
				usage_error("--to needs --proto and --ports");
			if (!(a->given & O_LEVEL) || strcmp(opt(a, O_LEVEL), "contain") != 0)
				usage_error("--to goes with --level contain (it scopes a "
					    "containment to one destination)");
			if (addr_parse(opt(a, O_TO), &to) < 0 || !addr_is_unicast(&to))
				usage_error("invalid --to '%s' (want one unicast IPv4 or IPv6 "
					    "address)",
					    opt(a, O_TO));
		}
		add_opt(r, a, O_LEVEL, "level");
		add_opt(r, a, O_PROTO, "proto");
		if (a->given & O_PORTS)
			add(r, "ports", check_ports(opt(a, O_PORTS), buf, sizeof(buf)));
		add_opt(r, a, O_TO, "to");
		if (a->given & O_TTL)
			add(r, "ttl", check_ttl(opt(a, O_TTL), buf, sizeof(buf)));
		add_opt(r, a, O_FORCE, "force");
	} else if (strcmp(cmd, "release") == 0) {
		unsigned forms = (arg1 != NULL) + !!(a->given & O_ALL) + !!(a->given & O_INCIDENT) +
				 !!(a->given & O_FROM);

		if (forms != 1)
			usage_error("release takes exactly one of HOST, --all, --incident ID, "
				    "--from FILE");
		if (arg1) {
			check_host(arg1);
			add(r, "host", arg1);
		}
		if ((a->given & O_UNCLEANABLE) && !(a->given & (O_ALL | O_INCIDENT)))
			usage_error("--include-uncleanable goes with --all or --incident");
		add_opt(r, a, O_ALL, "all");
		if (a->given & O_INCIDENT)
			add(r, "incident", check_incident(opt(a, O_INCIDENT)));
		add_opt(r, a, O_UNCLEANABLE, "include_uncleanable");
	} else if (strcmp(cmd, "mark") == 0) {
		check_host(arg1);
		check_word("certification state", a->pos[2], marks);
		add(r, "host", arg1);
		add(r, "state", a->pos[2]);
	} else if (strcmp(cmd, "show") == 0 || strcmp(cmd, "escalate") == 0 ||
		   strcmp(cmd, "deescalate") == 0) {
		check_host(arg1);
		add(r, "host", arg1);
	} else if (strcmp(cmd, "allow") == 0 || strcmp(cmd, "disallow") == 0) {
		check_host_or_cidr(arg1);
		add(r, "host", arg1);
	} else if (strcmp(cmd, "incident") == 0) {
		add(r, "incident", check_incident(arg1));
	} else if (strcmp(cmd, "list") == 0) {
		add_opt(r, a, O_WIDE, "wide");
		add_opt(r, a, O_STATE, "state");
		add_opt(r, a, O_LEVEL, "level");
		add_opt(r, a, O_RULE, "rule");
		add_opt(r, a, O_DEPARTMENT, "department");
		add_opt(r, a, O_FLOOR, "floor");
		if (a->given & O_SINCE)
			add(r, "since", check_since(opt(a, O_SINCE), buf, sizeof(buf)));
	} else if (strcmp(cmd, "purge") == 0) {
		if (!(a->given & O_OLDER_THAN))
			usage_error("purge needs --older-than DURATION (usage: %s)", c->synopsis);
		add(r, "older_than", check_older_than(opt(a, O_OLDER_THAN), buf, sizeof(buf)));
	} else if (strcmp(cmd, "import") == 0) {
		static const char *const import_formats[] = {"csv", NULL};

		if (!(a->given & O_FORMAT))
			usage_error("import needs --format csv (usage: %s)", c->synopsis);
		check_word("import format", opt(a, O_FORMAT), import_formats);
		add_opt(r, a, O_SOURCE_NAME, "source_name");
		import_read(arg1, a->columns, r);
	} else if (strcmp(cmd, "report") == 0) {
		add_opt(r, a, O_BY, "by");
		if (a->given & O_FORMAT) {
			check_word("format", opt(a, O_FORMAT), formats);
			if (a->json && strcmp(opt(a, O_FORMAT), "json") != 0)
				usage_error("--json and --format %s disagree", opt(a, O_FORMAT));
		}
		add_opt(r, a, O_FORMAT, "format");
	} else if (strcmp(cmd, "outbreak") == 0) {
		check_word("outbreak action", arg1, outbreak_actions);
		if ((a->given & O_BY) && strcmp(arg1, "on") != 0)
			usage_error("--by goes with outbreak on (usage: %s)", c->synopsis);
		if ((a->given & O_REASON) && strcmp(arg1, "status") == 0)
			usage_error("outbreak status takes no --reason (usage: %s)", c->synopsis);
		if (a->given & O_BY)
			check_word("outbreak grouping", opt(a, O_BY), outbreak_groupings);
		add(r, "action", arg1);
		add_opt(r, a, O_BY, "by");
	} else if (strcmp(cmd, "events") == 0) {
		if (a->given & O_SINCE)
			add(r, "since", check_since(opt(a, O_SINCE), buf, sizeof(buf)));
		add_opt(r, a, O_FOLLOW, "follow");
	}
	add_opt(r, a, O_REASON, "reason");
	if (a->given & O_FROM) {
		add(r, "from", "1");
		r->body = read_list(opt(a, O_FROM), &r->bodylen);
	}
	if (a->json)
		add(r, "json", "1");
	add_sudo(r);
	if (ctl_header_end(r->hdr, sizeof(r->hdr)) < 0)
		usage_error("arguments too long");
}

/* ---- talking to the daemon ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

struct answer {
	char line[CTL_MAX_HEADER + 1]; /* the status line until its LF */
	size_t linelen;
	bool have_status;
	int status;
	char msg[CTL_VALUE_MAX];
	bool body_seen;
	bool out_failed;
	int out_errno;
};

/* Takes bytes from the daemon: the status line first, the body to stdout
 * as it comes.  false on a malformed status line. */
static bool take(struct answer *ans, const char *p, size_t n)
{
	if (!ans->have_status) {
		const char *lf = memchr(p, '\n', n);
		size_t part = lf ? (size_t)(lf - p) : n;

		if (ans->linelen + part > CTL_MAX_HEADER)
			return false;
		memcpy(ans->line + ans->linelen, p, part);
		ans->linelen += part;
		if (!lf)
			return true;
		ans->line[ans->linelen] = '\0';
		if (ctl_status_parse(ans->line, &ans->status, ans->msg, sizeof(ans->msg)) < 0)
			return false;
		ans->have_status = true;
		p = lf + 1;
		n -= part + 1;
	}
	if (n) {
		ans->body_seen = true;
		if (!ans->out_failed && !write_all(STDOUT_FILENO, p, n)) {
			ans->out_failed = true;
			ans->out_errno = errno;
		}
	}
	return true;
}

static int connect_daemon(const char *path, int64_t deadline)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		complain(EXIT_UNREACHABLE, "socket: %s", strerror(errno));
		exit(EXIT_UNREACHABLE);
	}
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
		/* A full backlog: the daemon is there but busy; try again. */
		if (errno == EAGAIN && mono_ms() < deadline) {
			poll(NULL, 0, 20);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			complain(EXIT_UNREACHABLE, "no answer from quarantined at %s within %d s",
				 path, ANSWER_TIMEOUT_MS / 1000);
		else
			complain(EXIT_UNREACHABLE, "cannot reach quarantined at %s: %s", path,
				 strerror(errno));
		exit(EXIT_UNREACHABLE);
	}
}

/* Sends the request and prints the answer.  follow: the answer does not
 * end (quarantinectl events --follow): once the status line is in, no
 * deadline, and the daemon closing the connection is an error. */
static int exchange(const char *path, const struct request *r, bool follow, bool json)
{
	int64_t deadline = mono_ms() + ANSWER_TIMEOUT_MS;
	size_t hdrlen = strlen(r->hdr);
	size_t total = hdrlen + r->bodylen, sent = 0;
	bool sending = true;
	static struct answer ans;
	int fd = connect_daemon(path, deadline);

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN | (sending ? POLLOUT : 0)};
		int64_t left = deadline - mono_ms();
		char buf[65536];
		ssize_t n;

		/* A follower waits for events as long as they take. */
		if (follow && ans.have_status && ans.status == 0)
			left = -1;
		else if (left <= 0) {
			complain(EXIT_UNREACHABLE, "no answer from quarantined at %s within %d s",
				 path, ANSWER_TIMEOUT_MS / 1000);
			return EXIT_UNREACHABLE;
		}
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			complain(EXIT_UNREACHABLE, "poll: %s", strerror(errno));
			return EXIT_UNREACHABLE;
		}
		if (sending && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
			const char *p = sent < hdrlen ? r->hdr + sent : r->body + (sent - hdrlen);
			size_t len = sent < hdrlen ? hdrlen - sent : total - sent;

			n = len ? send(fd, p, len, MSG_NOSIGNAL) : 0;
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				/* The daemon stopped reading (an early answer, e.g.
				 * "request too large"): go and read it. */
				sending = false;
			} else if (n > 0) {
				sent += (size_t)n;
			}
			if (sending && sent == total) {
				/* The end of the request. */
				shutdown(fd, SHUT_WR);
				sending = false;
			}
		}
		if (!(pfd.revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n > 0) {
			/* A long answer (list streams) is not cut off while
			 * it keeps coming: the deadline is on silence. */
			deadline = mono_ms() + ANSWER_TIMEOUT_MS;
			if (!take(&ans, buf, (size_t)n)) {
				complain(EXIT_UNREACHABLE,
					 "malformed answer from quarantined at %s", path);
				return EXIT_UNREACHABLE;
			}
			/* Nobody reads what we follow: no reason to go on. */
			if (follow && ans.out_failed)
				break;
			continue;
		}
		/* EOF, or a reset after an early answer: the end either way
		 * once the status line is in. */
		if (follow && ans.have_status && ans.status == 0) {
			complain(EXIT_UNREACHABLE, "quarantined at %s closed the event stream",
				 path);
			close(fd);
			return EXIT_UNREACHABLE;
		}
		if (!ans.have_status) {
			if (n < 0)
				complain(EXIT_UNREACHABLE,
					 "connection to quarantined at %s failed: %s", path,
					 strerror(errno));
			else
				complain(EXIT_UNREACHABLE,
					 "quarantined at %s closed the connection without an "
					 "answer",
					 path);
			return EXIT_UNREACHABLE;
		}
		break;
	}
	close(fd);

	/* The exit status: the daemon's, or refused for one the client does
	 * not know. */
	int exit_status = ans.status < 0 || ans.status > EXIT_USAGE ? EXIT_REFUSED : ans.status;

	if (ans.status != 0) {
		complain(exit_status, "%s", ans.msg[0] ? ans.msg : "refused");
	} else if (!ans.body_seen && ans.msg[0]) {
		/* A sentence alone: under --json, an object that says it (a
		 * daemon that renders one sends it as the body instead). */
		static char line[6 * CTL_VALUE_MAX + 64];
		size_t ml;

		if (json) {
			char q[6 * CTL_VALUE_MAX + 3];

			snprintf(line, sizeof(line), "{\"ok\":true,\"message\":%s}\n",
				 json_quote(ans.msg, q, sizeof(q)));
		} else {
			snprintf(line, sizeof(line), "%s\n", ans.msg);
		}
		ml = strlen(line);
		if (!ans.out_failed && !write_all(STDOUT_FILENO, line, ml)) {
			ans.out_failed = true;
			ans.out_errno = errno;
		}
	}
	if (ans.out_failed) {
		complain(ans.status ? exit_status : EXIT_REFUSED, "writing output: %s",
			 strerror(ans.out_errno));
		return ans.status ? exit_status : EXIT_REFUSED;
	}
	return exit_status;
}

/* -o FILE: the answer goes to FILE.tmp beside it, renamed over FILE once
 * the daemon has answered yes and all of it is written, so that a refused
 * or cut-short report never replaces the last good one.  The temporary
 * file goes however the client ends (an unreachable daemon exits from
 * deep inside). */
static char output_tmp[4096];

static void output_tmp_remove(void)
{
	if (output_tmp[0])
		unlink(output_tmp);
}

static void output_open(const char *path, char *tmp, size_t len)
{
	int fd;

	if ((size_t)snprintf(tmp, len, "%s.tmp", path) >= len)
		usage_error("output path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		complain(EXIT_REFUSED, "%s: %s", tmp, strerror(errno));
		exit(EXIT_REFUSED);
	}
	if (dup2(fd, STDOUT_FILENO) < 0) {
		complain(EXIT_REFUSED, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		exit(EXIT_REFUSED);
	}
	close(fd);
	atexit(output_tmp_remove);
}

static int output_close(const char *path, const char *tmp, int status)
{
	if (status == EXIT_OK && fsync(STDOUT_FILENO) < 0) {
		complain(EXIT_REFUSED, "%s: %s", tmp, strerror(errno));
		status = EXIT_REFUSED;
	}
	if (status == EXIT_OK && rename(tmp, path) < 0) {
		complain(EXIT_REFUSED, "%s: %s", path, strerror(errno));
		status = EXIT_REFUSED;
	}
	if (status == EXIT_OK)
		output_tmp[0] = '\0'; /* renamed: nothing left to remove */
	return status;
}

int main(int argc, char **argv)
{
	static struct args a;
	static struct request r;
	const struct command *c = NULL;
	const char *env = getenv("QUARANTINED_SOCKET");
	int status;

	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		json_errors |= strcmp(argv[i], "--json") == 0;
	parse_args(argc, argv, &a);
	if (!a.socket)
		a.socket = env && env[0] ? env : DEFAULT_SOCKET;
	if (strlen(a.socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		usage_error("socket path too long: %s", a.socket);
	if (a.npos == 0)
		usage_error("no command given");
	for (unsigned i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(a.pos[0], commands[i].name) == 0)
			c = &commands[i];
	if (!c) {
		const char *names[ARRAY_SIZE(commands) + 1];
		const char *near;

		for (unsigned i = 0; i < ARRAY_SIZE(commands); i++)
			names[i] = commands[i].name;
		names[ARRAY_SIZE(commands)] = NULL;
		near = suggest(a.pos[0], names);
		if (near)
			usage_error("unknown command '%s' (did you mean '%s'?)", a.pos[0], near);
		usage_error("unknown command '%s'", a.pos[0]);
	}
	check_shape(c, &a);
	build(c, &a, &r);
	if (a.given & O_OUTPUT)
		output_open(opt(&a, O_OUTPUT), output_tmp, sizeof(output_tmp));
	status = exchange(a.socket, &r, (a.given & O_FOLLOW) != 0, a.json);
	if (a.given & O_OUTPUT)
		status = output_close(opt(&a, O_OUTPUT), output_tmp, status);
	free(r.body);
	return status;
}
