/* Configuration: built-in defaults (SPEC section 6), then a libconfig file
 * read over them.
 *
 * Every setting in the file is visited, so that an unknown key anywhere is
 * an error, and every problem is collected with its file and line instead of
 * stopping at the first: `quarantined -t` shows them all at once.  Nothing
 * here prints; the caller prints the diagnostics. */
#include "conf.h"

#include <errno.h>
#include <fnmatch.h>
#include <fcntl.h>
#include <libconfig.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "outbreak.h"
#include "suggest.h"

/* Ranges, documented in conf/quarantined.conf and quarantined.conf(5). */
#define DARK_WARMUP_MAX_S  86400
#define SNAPLEN_MIN	   96 /* Ethernet + VLAN + IPv6 + TCP (78 bytes) and some room */
#define SNAPLEN_MAX	   65535
#define BUFFER_MB_MIN	   1
#define BUFFER_MB_MAX	   2047 /* libpcap takes the size as an int of bytes */
#define TIMEOUT_MS_MIN	   100
#define TIMEOUT_MS_MAX	   60000
#define WINDOW_S_MAX	   86400 /* longer windows need per-peer state for a day */
#define THRESHOLD_MIN	   2	 /* one contact is no fan-out */
#define THRESHOLD_MAX	   65535
#define FORGERY_MIN	   1	    /* one address a machine does not own is a forgery */
#define MAX_DURATION_S_MAX 3600	    /* a connection longer than an hour is no login attempt */
#define MAX_BYTES_MAX	   16777216 /* 16 MiB */
#define MAX_HOSTS_MIN	   16
#define MAX_HOSTS_MAX	   16777216u
#define MAX_BLOCKED_MIN	   100000u /* SPEC section 4: at least 100,000 */
#define MAX_BLOCKED_MAX	   16777216u
#define TABLE_MAX_MIN	   1024u
#define TABLE_MAX_MAX	   67108864u
#define ACTIONS_MAX	   100000
#define EVIDENCE_MB_MAX	   1048576 /* 1 TiB */
/* identity: a dual-stack host with IPv6 privacy addresses on a few prefixes
 * owns tens of addresses; past a thousand it is a router, not a machine. */
#define MAX_ADDRESSES_MAX 1024
#define TRUST_AFTER_S_MAX 86400u       /* a day */
#define MOVE_AFTER_S_MAX  (7u * 86400) /* a week */

#define PATHBUF 128 /* a key's dotted path in messages */

/* SPEC section 4.  What all of them share is set in conf_init_default():
 * enabled, builtin, a 60 s window and the scanner role exempt; the zero
 * values are horizontal and first_contacts. */
static const struct rule builtin_rules[] = {
	{
		.name = "smb-propagation",
		.protos = PROTO_TCP,
		.ports = {445, 139},
		.nports = 2,
		.threshold = 10,
		.severity = SEV_HIGH,
	},
	{
		.name = "rpc-propagation",
		.protos = PROTO_TCP,
		.ports = {135},
		.nports = 1,
		.threshold = 10,
		.severity = SEV_HIGH,
	},
	{
		.name = "rdp-propagation",
		.protos = PROTO_TCP,
		.ports = {3389},
		.nports = 1,
		.threshold = 10,
		.severity = SEV_HIGH,
	},
	{
		.name = "ssh-propagation",
		.protos = PROTO_TCP,
		.ports = {22},
		.nports = 1,
		.threshold = 10,
		.severity = SEV_MEDIUM,
	},
	{
		.name = "telnet-propagation",
		.protos = PROTO_TCP,
		.ports = {23, 2323},
		.nports = 2,
		.threshold = 10,
		.severity = SEV_HIGH,
	},
	{
		/* Mail servers fan out on these ports by design. */
		.name = "smtp-mass-mailing",
		.protos = PROTO_TCP,
		.ports = {25, 465, 587},
		.nports = 3,
		.threshold = 20,
		.severity = SEV_MEDIUM,
		.exempt_roles = ROLE_MAILSERVER,
	},
	{
		.name = "slammer-propagation",
		.protos = PROTO_UDP,
		.ports = {1434},
		.nports = 1,
		.threshold = 10,
		.severity = SEV_HIGH,
	},
	{
		.name = "icmp-sweep",
		.protos = PROTO_ICMP,
		.threshold = 15,
		.severity = SEV_LOW,
	},
	{
		.name = "arp-sweep",
		.protos = PROTO_ARP,
		.threshold = 20,
		.severity = SEV_MEDIUM,
		.count = COUNT_FAILURES,
	},
	{
		/* Any one port; failures only, so busy clients stay quiet. */
		.name = "horizontal-scan",
		.protos = PROTO_TCP | PROTO_UDP,
		.threshold = 20,
		.severity = SEV_LOW,
		.count = COUNT_FAILURES,
	},
	{
		.name = "vertical-scan",
		.type = RULE_VERTICAL,
		.protos = PROTO_TCP | PROTO_UDP,
		.threshold = 20,
		.severity = SEV_MEDIUM,
		.count = COUNT_FAILURES,
	},
	{
		/* A machine sending from addresses it does not own (bound to
		 * another machine, beyond identity.max_addresses, or outside
		 * the protected networks): whatever the protocol.  Last, so
		 * that the indexes of the rules above do not move. */
		.name = "source-forgery",
		.type = RULE_FORGERY,
		.protos = PROTO_ALL,
		.threshold = 1,
		.severity = SEV_HIGH,
	},
	{
		/* Failed first contacts to internal addresses no machine is
		 * known to use, on any one port: worms sweep, people and
		 * programs talk to hosts that exist.  Medium: contained on
		 * that port, whatever port it is. */
		.name = "dark-space",
		.protos = PROTO_TCP | PROTO_UDP,
		.threshold = 8,
		.severity = SEV_MEDIUM,
		.count = COUNT_FAILURES,
		.dark = true,
	},
	/* Brute force against one server: many short connections from one
	 * host to one server on a login service, counted per server.  What
	 * the wire shows of a failed login is mostly encrypted (SSH, RDP's
	 * TLS, SMB 3) or beyond the snap length, so these count connections
	 * that ended (FIN or RST) within 30 s of their handshake with at most
	 * 16 KiB from the client (from the sequence numbers): a session that
	 * worked lasts longer or carries more, and clears the count.  People
	 * mistype a password or two; a monitoring check once a minute makes
	 * 10 in ten minutes at most. */
	{
		/* A handful in a minute (fail2ban bans at 5 failures in 10
		 * minutes): watched. */
		.name = "login-guessing",
		.type = RULE_BRUTE,
		.protos = PROTO_TCP,
		.ports = {22, 23, 2323, 139, 445, 3389, 5900},
		.nports = 7,
		.threshold = 6,
		.severity = SEV_LOW,
		.max_duration_s = 30,
		.max_bytes = 16384,
		.exempt_roles = ROLE_MANAGEMENT,
	},
	{
		/* Tens in ten minutes (Zeek's SSH::Password_Guessing: 30 in
		 * 30 minutes): contained, towards that server's port only. */
		.name = "login-bruteforce",
		.type = RULE_BRUTE,
		.protos = PROTO_TCP,
		.ports = {22, 23, 2323, 139, 445, 3389, 5900},
		.nports = 7,
		.threshold = 20,
		.window_s = 600,
		.severity = SEV_MEDIUM,
		.max_duration_s = 30,
		.max_bytes = 16384,
		.exempt_roles = ROLE_MANAGEMENT,
	},
	{
		/* Databases and FTP: off by default.  Application servers
		 * without connection pooling open a connection per request
		 * (hundreds a minute, each short and small), and scripted
		 * uploaders (cameras, scanners) one FTP session per file;
		 * turn it on with those exempted (role "management"). */
		.name = "service-bruteforce",
		.type = RULE_BRUTE,
		.protos = PROTO_TCP,
		.ports = {21, 1433, 1521, 3306, 5432, 6379, 27017},
		.nports = 7,
		.threshold = 20,
		.window_s = 600,
		.severity = SEV_MEDIUM,
		.max_duration_s = 30,
		.max_bytes = 16384,
		.exempt_roles = ROLE_MANAGEMENT,
	},
};

/* Built-in rules that are off until the configuration turns them on. */
static const char *const builtin_off[] = {"service-bruteforce"};

static const char *const default_protected[] = {
	"10.0.0.0/8",
	"172.16.0.0/12",
	"192.168.0.0/16",
	"fc00::/7",
};

/* Diagnostics */

struct ctx {
	struct conf *c;
	struct conf_diags *diags;
	const char *file; /* for settings that do not name their own */
	const char *dir;  /* the file's directory, where @include looks */
	unsigned errors;  /* all of them, including those diags had no room for */
	bool nomem;
};

static void vdiag(struct conf_diags *d, const char *file, int line, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static void vdiag(struct conf_diags *d, const char *file, int line, const char *fmt, va_list ap)
{
	struct conf_diag *e;

	if (d->n >= CONF_MAX_DIAGS) {
		d->dropped++;
		return;
	}
	e = &d->d[d->n++];
	snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
	e->line = line;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

static void diag(struct conf_diags *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void diag(struct conf_diags *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(d, file, line, fmt, ap);
	va_end(ap);
}

/* libconfig names an included file as the @include line wrote it, which is
 * relative to the include directory: make it a path the user can open. */
static const char *source_name(const char *file, const char *main, const char *dir, char *buf,
			       size_t size)
{
	if (!file || file[0] == '/' || strcmp(file, main) == 0 || !dir)
		return file;
	snprintf(buf, size, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", file);
	return buf;
}

/* An error at setting s: its own file (it may come from an @include) and
 * line. */
static void err(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	const char *file =
		s && config_setting_source_file(s) ? config_setting_source_file(s) : x->file;
	char buf[sizeof(((struct conf_diag *)0)->file)];
	va_list ap;

	file = source_name(file, x->file, x->dir, buf, sizeof(buf));
	x->errors++;
	va_start(ap, fmt);
	vdiag(x->diags, file, s ? (int)config_setting_source_line(s) : 0, fmt, ap);
	va_end(ap);
}

/* "parent.name" for a member, "parent[i]" for a list element, "name" at the
 * top level. */
static const char *keypath(char buf[PATHBUF], const char *parent, const config_setting_t *s)
{
	const char *name = config_setting_name(s);
	int n;

	if (name && parent[0])
		n = snprintf(buf, PATHBUF, "%s.%s", parent, name);
	else if (name)
		n = snprintf(buf, PATHBUF, "%s", name);
	else
		n = snprintf(buf, PATHBUF, "%s[%d]", parent, config_setting_index(s));
	/* A path cut short still names the key well enough in a message. */
	if (n >= PATHBUF)
		buf[PATHBUF - 1] = '\0';
	return buf;
}

/* The keys of each group (and the groups at the top level): what a
 * mistyped key is compared with.  The parsers below must accept every one
 * (test_conf checks). */
static const struct {
	const char *group;
	const char *const keys[20];
} group_keys[] = {
	{"",
	 {"capture", "networks", "identity", "enforce", "policy", "rules", "scan", "limits",
	  "incident", "inventory", "surveillance", "outbreak", "control", "state", "log",
	  "antivirus", "feeds"}},
	{"capture", {"interfaces", "snaplen", "buffer_mb"}},
	{"networks",
	 {"protected", "never_block", "remediation", "admin", "routers", "allow_from_gateways"}},
	{"identity",
	 {"max_addresses", "trust_after", "move_after", "unverified_max", "auto_relay"}},
	{"enforce", {"mode", "family", "table", "max_actions_per_minute", "default_ttl"}},
	{"policy", {"high", "medium", "low", "critical_max"}},
	{"rules",
	 {"name", "enabled", "type", "proto", "ports", "distinct_dst", "distinct_ports",
	  "distinct_src", "connections", "window", "severity", "count", "exempt_roles", "dark",
	  "max_duration", "max_bytes"}},
	{"scan",
	 {"enabled", "theta0", "theta1", "detection", "false_alarm", "timeout", "dark_warmup",
	  "severity", "other_ports_severity", "protocols"}},
	{"limits",
	 {"max_hosts", "max_blocked", "max_probes", "max_peers", "max_machines", "max_bindings"}},
	{"incident", {"window"}},
	{"surveillance", {"period", "factor"}},
	{"outbreak", {"by", "essential", "services", "factor", "contain_watch"}},
	{"antivirus", {"level", "severity", "watch", "isolate"}},
	{"inventory", {"net", "mac", "name", "department", "floor", "owner", "critical", "role"}},
	{"control", {"socket", "group"}},
	{"state",
	 {"dir", "evidence_max_mb", "release_cleaned", "purge_released", "history_retention"}},
	{"log", {"facility", "events_file"}},
	{"feeds", {"sources", "map", "builtin_map", "default_level", "max_line"}},
	{"feeds.sources", {"name", "kind", "path", "socket"}},
	{"feeds.map", {"kind", "category", "signature", "note", "sid", "max_severity", "level"}},
};

const char *const *conf_keys(const char *group)
{
	for (size_t i = 0; i < ARRAY_SIZE(group_keys); i++)
		if (strcmp(group_keys[i].group, group) == 0)
			return group_keys[i].keys;
	return NULL;
}

/* An unknown key of group (a list's group: "rules[0]" is of "rules"),
 * with the known key it most likely meant. */
static void unknown_key(struct ctx *x, const config_setting_t *s, const char *parent)
{
	char group[32];
	const char *const *keys;
	const char *near = NULL;

	snprintf(group, sizeof(group), "%.*s", (int)strcspn(parent, "["), parent);
	keys = conf_keys(group);
	if (keys)
		near = suggest(config_setting_name(s), keys);
	if (near)
		err(x, s, "unknown key '%s' in '%s' (did you mean '%s'?)", config_setting_name(s),
		    parent, near);
	else
		err(x, s, "unknown key '%s' in '%s'", config_setting_name(s), parent);
}

/* Typed getters: each reports its own error and writes *ret only on
 * success. */

static bool is_int(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

static bool is_seq(const config_setting_t *s)
{
	return config_setting_is_array(s) || config_setting_is_list(s);
}

static int get_uint(struct ctx *x, const config_setting_t *s, const char *p, unsigned min,
		    unsigned max, unsigned *ret)
{
	long long v;

	if (!is_int(s)) {
		err(x, s, "'%s' must be an integer", p);
		return -EINVAL;
	}
	v = config_setting_get_int64(s);
	if (v < (long long)min || v > (long long)max) {
		err(x, s, "'%s' must be between %u and %u (not %lld)", p, min, max, v);
		return -ERANGE;
	}
	*ret = (unsigned)v;
	return 0;
}

static int get_bool(struct ctx *x, const config_setting_t *s, const char *p, bool *ret)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		err(x, s, "'%s' must be a boolean (true or false)", p);
		return -EINVAL;
	}
	*ret = config_setting_get_bool(s);
	return 0;
}

/* Integers are numbers too: "detection = 1;" is out of range, not a type
 * error. */
static int get_number(struct ctx *x, const config_setting_t *s, const char *p, double *ret)
{
	if (is_int(s))
		*ret = (double)config_setting_get_int64(s);
	else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		*ret = config_setting_get_float(s);
	else {
		err(x, s, "'%s' must be a number", p);
		return -EINVAL;
	}
	return 0;
}

/* A number strictly between lo and hi. */
static int get_open_range(struct ctx *x, const config_setting_t *s, const char *p, double lo,
			  double hi, double *ret)
{
	double v;

	if (get_number(x, s, p, &v) < 0)
		return -EINVAL;
	if (!(v > lo && v < hi)) {
		err(x, s, "'%s' must be greater than %g and less than %g (not %g)", p, lo, hi, v);
		return -ERANGE;
	}
	*ret = v;
	return 0;
}

static const char *get_str(struct ctx *x, const config_setting_t *s, const char *p)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err(x, s, "'%s' must be a string", p);
		return NULL;
	}
	return config_setting_get_string(s);
}

/* Copies a string setting into buf; too long is an error, never a
 * truncation. */
static int get_string(struct ctx *x, const config_setting_t *s, const char *p, char *buf,
		      size_t size, bool empty_ok)
{
	const char *v = get_str(x, s, p);
	size_t n;

	if (!v)
		return -EINVAL;
	n = strlen(v);
	if (n == 0 && !empty_ok) {
		err(x, s, "'%s' must not be empty", p);
		return -EINVAL;
	}
	if (n >= size) {
		err(x, s, "'%s' is too long (at most %zu characters)", p, size - 1);
		return -ENAMETOOLONG;
	}
	memcpy(buf, v, n + 1);
	return 0;
}

/* Integer seconds, or a string such as "90s", "30m", "12h", "7d". */
static int get_duration(struct ctx *x, const config_setting_t *s, const char *p, uint64_t min,
			uint64_t max, uint64_t *ret)
{
	uint64_t v;

	if (is_int(s)) {
		long long i = config_setting_get_int64(s);

		if (i < 0) {
			err(x, s, "'%s' must not be negative", p);
			return -ERANGE;
		}
		v = (uint64_t)i;
	} else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *str = config_setting_get_string(s);

		if (duration_parse(str, &v) < 0) {
			err(x, s,
			    "bad duration '%s' for '%s' (seconds, or like \"90s\", \"30m\", "
			    "\"12h\", \"7d\")",
			    str, p);
			return -EINVAL;
		}
	} else {
		err(x, s, "'%s' must be a duration (seconds, or a string like \"12h\")", p);
		return -EINVAL;
	}
	if (v < min || v > max) {
		err(x, s, "'%s' must be between %llu and %llu seconds (not %llu)", p,
		    (unsigned long long)min, (unsigned long long)max, (unsigned long long)v);
		return -ERANGE;
	}
	*ret = v;
	return 0;
}

static void bad_choice(struct ctx *x, const config_setting_t *s, const char *p, const char *v,
		       const char *choices)
{
	err(x, s, "'%s' must be %s (not \"%s\")", p, choices, v);
}

#define SEVERITIES "\"low\", \"medium\" or \"high\""
#define LEVELS	   "\"watch\", \"contain\" or \"isolate\""
#define ROLES	   "\"mailserver\", \"scanner\" or \"management\""

static int get_severity(struct ctx *x, const config_setting_t *s, const char *p, enum severity *ret)
{
	const char *v = get_str(x, s, p);

	if (!v)
		return -EINVAL;
	if (severity_parse(v, ret) < 0) {
		bad_choice(x, s, p, v, SEVERITIES);
		return -EINVAL;
	}
	return 0;
}

static int get_level(struct ctx *x, const config_setting_t *s, const char *p, enum level *ret)
{
	const char *v = get_str(x, s, p);

	if (!v)
		return -EINVAL;
	if (level_parse(v, ret) < 0) {
		bad_choice(x, s, p, v, LEVELS);
		return -EINVAL;
	}
	return 0;
}

/* A string from a fixed set, for the enums types.c has no parser for. */
struct choice {
	const char *name;
	int value;
};

static int get_choice(struct ctx *x, const config_setting_t *s, const char *p,
		      const struct choice *ch, size_t n, const char *choices, int *ret)
{
	const char *v = get_str(x, s, p);

	if (!v)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, ch[i].name) == 0) {
			*ret = ch[i].value;
			return 0;
		}
	bad_choice(x, s, p, v, choices);
	return -EINVAL;
}

/* A role or a list of roles, as ROLE_* bits. */
static int get_roles(struct ctx *x, const config_setting_t *s, const char *p, unsigned *ret)
{
	unsigned roles = 0, bit;
	int r = 0;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *v = config_setting_get_string(s);

		if (role_parse(v, &bit) < 0) {
			bad_choice(x, s, p, v, ROLES);
			return -EINVAL;
		}
		*ret = bit;
		return 0;
	}
	if (!is_seq(s)) {
		err(x, s, "'%s' must be a role or a list of roles (" ROLES ")", p);
		return -EINVAL;
	}
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char ep[PATHBUF];
		const char *v = get_str(x, e, keypath(ep, p, e));

		if (!v) {
			r = -EINVAL;
		} else if (role_parse(v, &bit) < 0) {
			bad_choice(x, e, ep, v, ROLES);
			r = -EINVAL;
		} else {
			roles |= bit;
		}
	}
	if (r == 0)
		*ret = roles;
	return r;
}

/* Networks */

/* Parses a CIDR or an address; on error says why, suggesting the network
 * when only host bits are wrong (a typo more often than not). */
static int parse_net(struct ctx *x, const config_setting_t *s, const char *p, const char *v,
		     struct prefix *ret)
{
	struct qaddr a;
	unsigned plen;
	char buf[ADDR_STRLEN + 8], nbuf[ADDR_STRLEN];
	const char *slash;
	char *end;
	size_t n;

	if (addr_parse_prefix(v, &a, &plen) == 0) {
		ret->addr = a;
		ret->plen = (uint8_t)plen;
		return 0;
	}
	slash = strchr(v, '/');
	n = strlen(v);
	if (slash && (size_t)(slash - v) < sizeof(buf) && n < sizeof(buf)) {
		unsigned long l;

		memcpy(buf, v, (size_t)(slash - v));
		buf[slash - v] = '\0';
		errno = 0;
		l = strtoul(slash + 1, &end, 10);
		if (addr_parse(buf, &a) == 0 && slash[1] >= '0' && slash[1] <= '9' && !errno &&
		    *end == '\0' && l <= addr_bits(&a)) {
			addr_mask(&a, (unsigned)l);
			err(x, s,
			    "bad network address '%s' in '%s' (host bits set; did you mean "
			    "'%s/%lu'?)",
			    v, p, addr_ntop(&a, nbuf), l);
			return -EINVAL;
		}
	}
	err(x, s, "bad network address '%s' in '%s'", v, p);
	return -EINVAL;
}

static int prefix_list_alloc(struct prefix_list *l, unsigned n)
{
	memset(l, 0, sizeof(*l));
	l->v = calloc(n ? n : 1, sizeof(*l->v));
	l->lpm = lpm_new();
	if (!l->v || !l->lpm) {
		free(l->v);
		lpm_free(l->lpm);
		memset(l, 0, sizeof(*l));
		return -ENOMEM;
	}
	return 0;
}

static void prefix_list_fini(struct prefix_list *l)
{
	free(l->v);
	lpm_free(l->lpm);
	memset(l, 0, sizeof(*l));
}

/* Index of the entry that is exactly p in t, or -1. */
static long lpm_find_exact(const struct lpm *t, const struct prefix *p)
{
	uint32_t v;
	unsigned plen;

	/* p's own address lies in any stored prefix of the same length that
	 * equals p, and in no other of that length. */
	if (lpm_lookup(t, &p->addr, &v, &plen) && plen == p->plen)
		return (long)v;
	return -1;
}

/* Appends p; the caller sized l->v.  -ENOMEM only. */
static int prefix_list_add(struct prefix_list *l, const struct prefix *p)
{
	int r = lpm_insert(l->lpm, &p->addr, p->plen, l->n);

	if (r < 0)
		return r;
	l->v[l->n++] = *p;
	return 0;
}

/* Parses the network v (element e of the list p) and appends it to l:
 * errors are said; -ENOMEM only (x->nomem is set). */
static int add_net(struct ctx *x, const config_setting_t *e, const char *p, const char *v,
		   struct prefix_list *l)
{
	struct prefix pfx;

	if (parse_net(x, e, p, v, &pfx) < 0)
		return 0;
	if (lpm_find_exact(l->lpm, &pfx) >= 0) {
		err(x, e, "duplicate network '%s' in '%s'", v, p);
		return 0;
	}
	if (prefix_list_add(l, &pfx) < 0) {
		x->nomem = true;
		return -ENOMEM;
	}
	return 0;
}

/* A list of networks that replaces *l when it has no error. */
static void parse_prefix_list(struct ctx *x, const config_setting_t *s, const char *p,
			      struct prefix_list *l, bool empty_ok)
{
	struct prefix_list tmp;
	unsigned errors = x->errors;
	int n;

	if (!is_seq(s)) {
		err(x, s, "'%s' must be a list of networks ([ \"10.0.0.0/8\", ... ])", p);
		return;
	}
	n = config_setting_length(s);
	if (n == 0 && !empty_ok) {
		err(x, s, "'%s' must not be empty", p);
		return;
	}
	if (prefix_list_alloc(&tmp, (unsigned)n) < 0) {
		x->nomem = true;
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char ep[PATHBUF];
		const char *v = get_str(x, e, keypath(ep, p, e));

		if (v && add_net(x, e, p, v, &tmp) < 0)
			break;
	}
	if (x->errors != errors || x->nomem) {
		prefix_list_fini(&tmp);
		return;
	}
	prefix_list_fini(l);
	*l = tmp;
}

/* MAC addresses */

static void mac_list_fini(struct mac_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Parses a unicast MAC; says why not. */
static int parse_mac(struct ctx *x, const config_setting_t *s, const char *p, const char *v,
		     uint8_t ret[MAC_LEN])
{
	uint8_t m[MAC_LEN];

	if (mac_parse(v, m) < 0) {
		err(x, s, "bad MAC address '%s' in '%s' (like \"00:11:22:33:44:55\")", v, p);
		return -EINVAL;
	}
	/* No machine sends from a group address, and all zero is no
	 * address: either is a typo. */
	if (!mac_is_unicast(m)) {
		err(x, s, "bad MAC address '%s' in '%s': not a unicast MAC", v, p);
		return -EINVAL;
	}
	memcpy(ret, m, MAC_LEN);
	return 0;
}

/* networks.routers: MAC addresses into macs, addresses and networks into
 * nets; both replaced only when the whole list is valid. */
static void parse_routers(struct ctx *x, const config_setting_t *s, const char *p,
			  struct prefix_list *nets, struct mac_list *macs)
{
	struct prefix_list tmp;
	struct mac_list tmac = {0};
	unsigned errors = x->errors;
	int n;

	if (!is_seq(s)) {
		err(x, s,
		    "'%s' must be a list of MAC addresses and networks ([ \"00:11:22:33:44:55\", "
		    "\"10.1.0.254\" ])",
		    p);
		return;
	}
	n = config_setting_length(s);
	if (prefix_list_alloc(&tmp, (unsigned)n) < 0) {
		x->nomem = true;
		return;
	}
	tmac.v = calloc(n ? (size_t)n : 1, sizeof(*tmac.v));
	if (!tmac.v) {
		prefix_list_fini(&tmp);
		x->nomem = true;
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char ep[PATHBUF];
		const char *v = get_str(x, e, keypath(ep, p, e));
		uint8_t mac[MAC_LEN];
		struct qaddr a;

		if (!v)
			continue;
		/* Neither form reads as the other: a MAC has six groups of
		 * two digits, an IPv6 address eight groups or a "::". */
		if (mac_parse(v, mac) == 0) {
			if (parse_mac(x, e, p, v, mac) < 0)
				continue;
			if (mac_list_contains(&tmac, mac)) {
				err(x, e, "duplicate MAC '%s' in '%s'", v, p);
				continue;
			}
			memcpy(tmac.v[tmac.n++], mac, MAC_LEN);
			continue;
		}
		if (!strchr(v, '/') && addr_parse(v, &a) < 0) {
			err(x, e,
			    "bad router '%s' in '%s' (a MAC address, or an IPv4 or IPv6 address or "
			    "network)",
			    v, p);
			continue;
		}
		/* With a '/', parse_net() says what is wrong with it. */
		if (add_net(x, e, p, v, &tmp) < 0)
			break;
	}
	if (x->errors != errors || x->nomem) {
		prefix_list_fini(&tmp);
		mac_list_fini(&tmac);
		return;
	}
	prefix_list_fini(nets);
	mac_list_fini(macs);
	*nets = tmp;
	*macs = tmac;
}

/* Sections */

/* Linux's dev_valid_name(): what the kernel accepts as an interface name. */
static bool ifname_valid(const char *s)
{
	if (s[0] == '\0' || strlen(s) >= IF_NAMESIZE || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == ' ' || (*s >= '\t' && *s <= '\r'))
			return false;
	return true;
}

static void parse_interfaces(struct ctx *x, const config_setting_t *s, const char *p)
{
	struct conf *c = x->c;
	char ifs[CONF_MAX_IFACES][IF_NAMESIZE];
	unsigned errors = x->errors, n = 0;

	if (!is_seq(s)) {
		err(x, s, "'%s' must be a list of interface names ([ \"eth1\" ])", p);
		return;
	}
	if (config_setting_length(s) > CONF_MAX_IFACES) {
		err(x, s, "'%s' names more than %d interfaces", p, CONF_MAX_IFACES);
		return;
	}
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char ep[PATHBUF];
		const char *v = get_str(x, e, keypath(ep, p, e));
		bool dup = false;

		if (!v)
			continue;
		if (!ifname_valid(v)) {
			err(x, e,
			    "bad interface name '%s' in '%s' (1 to %d characters, no '/', ':' or "
			    "spaces)",
			    v, p, IF_NAMESIZE - 1);
			continue;
		}
		for (unsigned j = 0; j < n; j++)
			dup |= strcmp(ifs[j], v) == 0;
		if (dup) {
			err(x, e, "duplicate interface '%s' in '%s'", v, p);
			continue;
		}
		snprintf(ifs[n++], IF_NAMESIZE, "%s", v);
	}
	if (x->errors != errors)
		return;
	memcpy(c->capture.interfaces, ifs, sizeof(ifs));
	c->capture.ninterfaces = n;
}

static void parse_capture(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];

		keypath(p, "capture", s);
		if (strcmp(k, "interfaces") == 0)
			parse_interfaces(x, s, p);
		else if (strcmp(k, "snaplen") == 0)
			get_uint(x, s, p, SNAPLEN_MIN, SNAPLEN_MAX, &c->capture.snaplen);
		else if (strcmp(k, "buffer_mb") == 0)
			get_uint(x, s, p, BUFFER_MB_MIN, BUFFER_MB_MAX, &c->capture.buffer_mb);
		else
			unknown_key(x, s, "capture");
	}
}

static void parse_networks(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];

		keypath(p, "networks", s);
		/* With nothing protected nothing is tracked: surely a
		 * mistake. */
		if (strcmp(k, "protected") == 0)
			parse_prefix_list(x, s, p, &c->networks.protected_, false);
		else if (strcmp(k, "never_block") == 0)
			parse_prefix_list(x, s, p, &c->networks.never_block, true);
		else if (strcmp(k, "remediation") == 0)
			parse_prefix_list(x, s, p, &c->networks.remediation, true);
		else if (strcmp(k, "admin") == 0)
			parse_prefix_list(x, s, p, &c->networks.admin, true);
		else if (strcmp(k, "routers") == 0)
			parse_routers(x, s, p, &c->networks.routers, &c->networks.router_macs);
		else if (strcmp(k, "allow_from_gateways") == 0)
			get_bool(x, s, p, &c->networks.allow_from_gateways);
		else
			unknown_key(x, s, "networks");
	}
}

/* nft accepts more, but a plain identifier needs no quoting anywhere
 * (nft scripts, logs, the uninstall command in quarantined(8)). */
static bool table_name_valid(const char *s)
{
	if (s[0] == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static void parse_enforce(struct ctx *x, const config_setting_t *g)
{
	static const struct choice modes[] = {
		{"enforce", ENFORCE_ENFORCE},
		{"alert", ENFORCE_ALERT},
	};
	static const struct choice families[] = {
		{"inet", NFT_FAMILY_INET},
		{"bridge", NFT_FAMILY_BRIDGE},
	};
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF], table[sizeof(c->enforce.table)];
		int v;

		keypath(p, "enforce", s);
		if (strcmp(k, "mode") == 0) {
			if (get_choice(x, s, p, modes, ARRAY_SIZE(modes),
				       "\"enforce\" or \"alert\"", &v) == 0)
				c->enforce.mode = (enum enforce_mode)v;
		} else if (strcmp(k, "family") == 0) {
			if (get_choice(x, s, p, families, ARRAY_SIZE(families),
				       "\"inet\" or \"bridge\"", &v) == 0)
				c->enforce.family = (enum nft_family_conf)v;
		} else if (strcmp(k, "table") == 0) {
			if (get_string(x, s, p, table, sizeof(table), false) < 0)
				continue;
			if (!table_name_valid(table))
				err(x, s,
				    "bad table name '%s' in '%s' (letters, digits and '_' only)",
				    table, p);
			else
				memcpy(c->enforce.table, table, sizeof(table));
		} else if (strcmp(k, "max_actions_per_minute") == 0) {
			get_uint(x, s, p, 0, ACTIONS_MAX, &c->enforce.max_actions_per_minute);
		} else if (strcmp(k, "default_ttl") == 0) {
			get_duration(x, s, p, 0, QD_TTL_MAX_S, &c->enforce.default_ttl_s);
		} else {
			unknown_key(x, s, "enforce");
		}
	}
}

static void parse_policy(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];

		keypath(p, "policy", s);
		if (strcmp(k, "high") == 0)
			get_level(x, s, p, &c->policy.level[SEV_HIGH]);
		else if (strcmp(k, "medium") == 0)
			get_level(x, s, p, &c->policy.level[SEV_MEDIUM]);
		else if (strcmp(k, "low") == 0)
			get_level(x, s, p, &c->policy.level[SEV_LOW]);
		else if (strcmp(k, "critical_max") == 0)
			get_level(x, s, p, &c->policy.critical_max);
		else
			unknown_key(x, s, "policy");
	}
}

static void parse_identity(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];
		uint64_t sec;

		keypath(p, "identity", s);
		if (strcmp(k, "max_addresses") == 0) {
			get_uint(x, s, p, 1, MAX_ADDRESSES_MAX, &c->identity.max_addresses);
		} else if (strcmp(k, "trust_after") == 0) {
			if (get_duration(x, s, p, 0, TRUST_AFTER_S_MAX, &sec) == 0)
				c->identity.trust_after_s = (unsigned)sec;
		} else if (strcmp(k, "move_after") == 0) {
			if (get_duration(x, s, p, 1, MOVE_AFTER_S_MAX, &sec) == 0)
				c->identity.move_after_s = (unsigned)sec;
		} else if (strcmp(k, "unverified_max") == 0) {
			get_level(x, s, p, &c->identity.unverified_max);
		} else if (strcmp(k, "auto_relay") == 0) {
			get_bool(x, s, p, &c->identity.auto_relay);
		} else {
			unknown_key(x, s, "identity");
		}
	}
}

/* Rules */

static bool rule_name_valid(const char *s)
{
	if (s[0] == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

static int get_ports(struct ctx *x, const config_setting_t *s, const char *p,
		     uint16_t ret[CONF_MAX_RULE_PORTS], unsigned *ret_n)
{
	uint16_t ports[CONF_MAX_RULE_PORTS];
	unsigned n = 0;
	int r = 0;

	if (!is_seq(s)) {
		err(x, s, "'%s' must be a list of ports ([ 445, 139 ])", p);
		return -EINVAL;
	}
	if (config_setting_length(s) > CONF_MAX_RULE_PORTS) {
		err(x, s, "'%s' has more than %d ports", p, CONF_MAX_RULE_PORTS);
		return -EINVAL;
	}
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		long long v;
		bool dup = false;

		if (!is_int(e)) {
			err(x, e, "'%s' must contain port numbers", p);
			r = -EINVAL;
			continue;
		}
		v = config_setting_get_int64(e);
		if (v < 1 || v > 65535) {
			err(x, e, "bad port %lld in '%s' (1 to 65535)", v, p);
			r = -EINVAL;
			continue;
		}
		for (unsigned j = 0; j < n; j++)
			dup |= ports[j] == v;
		if (dup) {
			err(x, e, "duplicate port %lld in '%s'", v, p);
			r = -EINVAL;
			continue;
		}
		ports[n++] = (uint16_t)v;
	}
	if (r < 0)
		return r;
	memcpy(ret, ports, n * sizeof(ports[0]));
	*ret_n = n;
	return 0;
}

/* One element of `rules`.  from_file[i] is the line where the file already
 * set c->rules[i], 0 when it has not. */
static void parse_rule(struct ctx *x, const config_setting_t *g, int from_file[CONF_MAX_RULES])
{
	static const struct choice types[] = {
		{"horizontal", RULE_HORIZONTAL},
		{"vertical", RULE_VERTICAL},
		{"forgery", RULE_FORGERY},
		{"bruteforce", RULE_BRUTE},
	};
	static const struct choice counts[] = {
		{"first_contacts", COUNT_FIRST_CONTACTS},
		{"failures", COUNT_FAILURES},
	};
	struct conf *c = x->c;
	const config_setting_t *ns, *proto_s = NULL, *pl_s = NULL, *count_s = NULL;
	/* The threshold's keys, each naming what it counts; the one given and
	 * its value. */
	static const char *const thr_keys[] = {
		[RULE_HORIZONTAL] = "distinct_dst",
		[RULE_VERTICAL] = "distinct_ports",
		[RULE_FORGERY] = "distinct_src",
		[RULE_BRUTE] = "connections",
	};
	static const char *const type_names[] = {
		[RULE_HORIZONTAL] = "horizontal",
		[RULE_VERTICAL] = "vertical",
		[RULE_FORGERY] = "forgery",
		[RULE_BRUTE] = "bruteforce",
	};
	const config_setting_t *thr_s[ARRAY_SIZE(thr_keys)] = {0}, *thr2_s = NULL, *dark_s = NULL;
	const config_setting_t *brute_s = NULL;
	const char *thr1_key = NULL;
	unsigned errors = x->errors, thr = 0, nthr = 0, nports = 0;
	char p[PATHBUF], np[PATHBUF], name[CONF_NAME_MAX] = "";
	struct rule r;
	int k = -1, v;

	keypath(p, "rules", g);
	if (!config_setting_is_group(g)) {
		err(x, g, "'%s' must be a group ({ name = \"...\"; ... })", p);
		return;
	}
	ns = config_setting_get_member(g, "name");
	if (!ns) {
		err(x, g, "'%s' needs a 'name'", p);
	} else if (get_string(x, ns, keypath(np, p, ns), name, sizeof(name), false) == 0) {
		if (!rule_name_valid(name)) {
			err(x, ns, "bad rule name '%s' (a-z, 0-9, '-' and '_' only)", name);
			name[0] = '\0';
		} else if ((k = conf_rule_find(c, name)) >= 0 && from_file[k]) {
			err(x, ns, "duplicate rule name '%s' (first on line %d)", name,
			    from_file[k]);
			return;
		}
	}

	if (k >= 0) {
		/* Keys the file leaves out keep the built-in's values. */
		from_file[k] = config_setting_source_line(g);
		r = c->rules[k];
	} else {
		memset(&r, 0, sizeof(r));
		memcpy(r.name, name, sizeof(r.name));
		r.enabled = true;
		r.type = RULE_HORIZONTAL;
		r.window_s = 60;
		r.severity = SEV_MEDIUM;
		r.count = COUNT_FIRST_CONTACTS;
		r.exempt_roles = ROLE_SCANNER;
	}
	r.line = config_setting_source_line(g);

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *key = config_setting_name(s);
		char kp[PATHBUF];
		uint64_t w;

		keypath(kp, p, s);
		if (strcmp(key, "name") == 0) {
			continue;
		} else if (strcmp(key, "enabled") == 0) {
			get_bool(x, s, kp, &r.enabled);
		} else if (strcmp(key, "type") == 0) {
			if (get_choice(
				    x, s, kp, types, ARRAY_SIZE(types),
				    "\"horizontal\", \"vertical\", \"forgery\" or \"bruteforce\"",
				    &v) == 0)
				r.type = (enum rule_type)v;
		} else if (strcmp(key, "proto") == 0) {
			const char *str = get_str(x, s, kp);

			proto_s = s;
			if (str && proto_mask_parse(str, &r.protos) < 0)
				bad_choice(x, s, kp, str,
					   "\"tcp\", \"udp\", \"icmp\", \"arp\" or \"any\"");
		} else if (strcmp(key, "ports") == 0) {
			pl_s = s;
			if (get_ports(x, s, kp, r.ports, &nports) == 0)
				r.nports = nports;
		} else if (strcmp(key, "distinct_dst") == 0 || strcmp(key, "distinct_ports") == 0 ||
			   strcmp(key, "distinct_src") == 0 || strcmp(key, "connections") == 0) {
			size_t t = 0;

			while (strcmp(key, thr_keys[t]) != 0)
				t++;
			thr_s[t] = s;
			if (nthr++ == 0)
				thr1_key = key;
			else if (!thr2_s)
				thr2_s = s;
			/* One forged source is already a forgery; one contact
			 * is no fan-out. */
			get_uint(x, s, kp, t == RULE_FORGERY ? FORGERY_MIN : THRESHOLD_MIN,
				 THRESHOLD_MAX, &thr);
		} else if (strcmp(key, "window") == 0) {
			if (get_duration(x, s, kp, 1, WINDOW_S_MAX, &w) == 0)
				r.window_s = (unsigned)w;
		} else if (strcmp(key, "severity") == 0) {
			get_severity(x, s, kp, &r.severity);
		} else if (strcmp(key, "count") == 0) {
			count_s = s;
			if (get_choice(x, s, kp, counts, ARRAY_SIZE(counts),
				       "\"first_contacts\" or \"failures\"", &v) == 0)
				r.count = (enum rule_count)v;
		} else if (strcmp(key, "exempt_roles") == 0) {
			get_roles(x, s, kp, &r.exempt_roles);
		} else if (strcmp(key, "dark") == 0) {
			dark_s = s;
			get_bool(x, s, kp, &r.dark);
		} else if (strcmp(key, "max_duration") == 0) {
			brute_s = s;
			if (get_duration(x, s, kp, 1, MAX_DURATION_S_MAX, &w) == 0)
				r.max_duration_s = (unsigned)w;
		} else if (strcmp(key, "max_bytes") == 0) {
			unsigned b;

			brute_s = s;
			if (get_uint(x, s, kp, 0, MAX_BYTES_MAX, &b) == 0)
				r.max_bytes = b;
		} else {
			unknown_key(x, s, p);
		}
	}
	/* Darkness shows at failure only, for destinations (not ARP's,
	 * which the ARP rules count). */
	if (r.dark &&
	    (r.type != RULE_HORIZONTAL || r.count != COUNT_FAILURES || (r.protos & PROTO_ARP)))
		err(x, dark_s ? dark_s : g,
		    "rule '%s' counts dark space: it must be horizontal, count \"failures\" and "
		    "not take arp",
		    name);

	/* The threshold's key names what it counts: it must match the type. */
	if (thr2_s) {
		err(x, thr2_s, "'%s' has both '%s' and '%s'", p, thr1_key,
		    config_setting_name(thr2_s));
	} else {
		for (size_t t = 0; t < ARRAY_SIZE(thr_keys); t++)
			if (thr_s[t] && t != (size_t)r.type)
				err(x, thr_s[t], "'%s.%s' does not apply to a %s rule (use '%s')",
				    p, thr_keys[t], type_names[r.type], thr_keys[r.type]);
		if (thr_s[r.type] && thr)
			r.threshold = thr;
	}

	if (r.type == RULE_BRUTE) {
		/* Connections: TCP to the services named. */
		if (k < 0 && !brute_s && !r.max_duration_s) {
			r.max_duration_s = 30;
			r.max_bytes = 16384;
		}
		if (r.protos != PROTO_TCP || !r.nports)
			err(x,
			    proto_s ? proto_s
			    : pl_s  ? pl_s
				    : g,
			    "rule '%s' is a bruteforce rule: it needs proto \"tcp\" and 'ports'",
			    name);
		if (count_s)
			err(x, count_s,
			    "rule '%s' is a bruteforce rule: it counts connections, "
			    "'count' does not apply",
			    name);
		if (r.max_duration_s == 0)
			err(x, g, "rule '%s' is a bruteforce rule: it needs 'max_duration'", name);
	} else if (brute_s) {
		err(x, brute_s, "'%s.%s' applies to bruteforce rules only", p,
		    config_setting_name(brute_s));
	}

	if (r.type == RULE_FORGERY) {
		/* Whatever the protocol, a packet from an address its machine
		 * does not own is what counts. */
		if (k < 0 && !proto_s && !pl_s)
			r.protos = PROTO_ALL;
		if (proto_s || pl_s || r.nports || r.protos != PROTO_ALL)
			err(x,
			    proto_s ? proto_s
			    : pl_s  ? pl_s
				    : g,
			    "rule '%s' is a forgery rule: it counts source addresses, not "
			    "protocols "
			    "or ports",
			    name);
		/* Nothing answers for a forged source: there is no failure
		 * to count, and a key that does nothing is an error. */
		if (r.count != COUNT_FIRST_CONTACTS)
			err(x, count_s ? count_s : g,
			    "rule '%s' is a forgery rule: 'count' must be \"first_contacts\"",
			    name);
	} else if (k >= 0 && !nthr && r.threshold < THRESHOLD_MIN) {
		/* A forgery rule made into another type keeps a threshold
		 * that type cannot have. */
		err(x, g, "rule '%s' is %s: it needs '%s' (%d to %d)", name, type_names[r.type],
		    thr_keys[r.type], THRESHOLD_MIN, THRESHOLD_MAX);
	}

	if (k < 0 && name[0]) {
		if (!proto_s && r.type != RULE_FORGERY)
			err(x, g, "new rule '%s' needs 'proto'", name);
		if (!nthr)
			err(x, g, "new rule '%s' needs '%s'", name, thr_keys[r.type]);
	}
	if (r.type == RULE_VERTICAL && (r.protos & (PROTO_ICMP | PROTO_ARP)))
		err(x, proto_s ? proto_s : g,
		    "rule '%s' is vertical: it counts ports, so 'proto' must be \"tcp\", \"udp\" "
		    "or \"any\"",
		    name);
	else if (r.type != RULE_FORGERY && r.nports && (r.protos & (PROTO_ICMP | PROTO_ARP)))
		err(x, pl_s ? pl_s : g, "rule '%s': ports apply to tcp and udp only", name);

	if (x->errors != errors || !name[0])
		return;
	if (k >= 0) {
		c->rules[k] = r;
	} else if (c->nrules >= CONF_MAX_RULES) {
		err(x, g, "too many rules: at most %d, the %zu built-in ones included",
		    CONF_MAX_RULES, ARRAY_SIZE(builtin_rules));
	} else {
		from_file[c->nrules] = r.line;
		c->rules[c->nrules++] = r;
	}
}

static void parse_rules(struct ctx *x, const config_setting_t *l)
{
	int from_file[CONF_MAX_RULES] = {0};

	for (int i = 0; i < config_setting_length(l); i++)
		parse_rule(x, config_setting_get_elem(l, (unsigned)i), from_file);
}

static void parse_scan(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;
	const config_setting_t *t0_s = NULL, *t1_s = NULL;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];
		double d;

		keypath(p, "scan", s);
		if (strcmp(k, "enabled") == 0) {
			get_bool(x, s, p, &c->scan.enabled);
		} else if (strcmp(k, "theta0") == 0) {
			if (get_open_range(x, s, p, 0, 1, &c->scan.theta0) == 0)
				t0_s = s;
		} else if (strcmp(k, "theta1") == 0) {
			if (get_open_range(x, s, p, 0, 1, &c->scan.theta1) == 0)
				t1_s = s;
		} else if (strcmp(k, "detection") == 0) {
			get_open_range(x, s, p, 0.5, 1, &c->scan.detection);
		} else if (strcmp(k, "false_alarm") == 0) {
			get_open_range(x, s, p, 0, 0.5, &c->scan.false_alarm);
		} else if (strcmp(k, "timeout") == 0) {
			uint64_t sec;

			if (config_setting_type(s) == CONFIG_TYPE_STRING) {
				if (get_duration(x, s, p, TIMEOUT_MS_MIN / 1000 + 1,
						 TIMEOUT_MS_MAX / 1000, &sec) == 0)
					c->scan.timeout_ms = (unsigned)sec * 1000;
			} else if (get_number(x, s, p, &d) == 0) {
				/* Rounded to the millisecond before the check,
				 * so that 0.1 is in range. */
				double ms = d * 1000.0 + 0.5;

				if (!(ms >= TIMEOUT_MS_MIN && ms < TIMEOUT_MS_MAX + 1))
					err(x, s,
					    "'%s' must be between 0.1 and %d seconds (not %g)", p,
					    TIMEOUT_MS_MAX / 1000, d);
				else
					c->scan.timeout_ms = (unsigned)ms;
			}
		} else if (strcmp(k, "dark_warmup") == 0) {
			uint64_t sec;

			if (get_duration(x, s, p, 0, DARK_WARMUP_MAX_S, &sec) == 0)
				c->scan.dark_warmup_s = (unsigned)sec;
		} else if (strcmp(k, "severity") == 0) {
			get_severity(x, s, p, &c->scan.severity);
		} else if (strcmp(k, "other_ports_severity") == 0) {
			get_severity(x, s, p, &c->scan.other_ports_severity);
		} else if (strcmp(k, "protocols") == 0) {
			unsigned mask = 0, bit;
			bool ok = true;

			if (!is_seq(s) || config_setting_length(s) == 0) {
				err(x, s,
				    "'%s' must be a non-empty list of protocols ([ \"tcp\", "
				    "\"udp\" ])",
				    p);
				continue;
			}
			for (int j = 0; j < config_setting_length(s); j++) {
				const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
				char ep[PATHBUF];
				const char *v = get_str(x, e, keypath(ep, p, e));

				if (!v) {
					ok = false;
				} else if ((strcmp(v, "tcp") != 0 && strcmp(v, "udp") != 0) ||
					   proto_mask_parse(v, &bit) < 0) {
					bad_choice(x, e, ep, v, "\"tcp\" or \"udp\"");
					ok = false;
				} else {
					mask |= bit;
				}
			}
			if (ok)
				c->scan.protos = mask;
		} else {
			unknown_key(x, s, "scan");
		}
	}
	/* TRW needs a failure to be likelier from a scanner (1 - theta1) than
	 * from a benign host (1 - theta0), or its walk runs backwards. */
	if ((t0_s || t1_s) && !(c->scan.theta1 < c->scan.theta0))
		err(x, t1_s ? t1_s : t0_s,
		    "'scan.theta1' (%g) must be less than 'scan.theta0' (%g)", c->scan.theta1,
		    c->scan.theta0);
}

static void parse_limits(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];

		keypath(p, "limits", s);
		if (strcmp(k, "max_hosts") == 0)
			get_uint(x, s, p, MAX_HOSTS_MIN, MAX_HOSTS_MAX, &c->limits.max_hosts);
		else if (strcmp(k, "max_blocked") == 0)
			get_uint(x, s, p, MAX_BLOCKED_MIN, MAX_BLOCKED_MAX, &c->limits.max_blocked);
		else if (strcmp(k, "max_probes") == 0)
			get_uint(x, s, p, TABLE_MAX_MIN, TABLE_MAX_MAX, &c->limits.max_probes);
		else if (strcmp(k, "max_peers") == 0)
			get_uint(x, s, p, TABLE_MAX_MIN, TABLE_MAX_MAX, &c->limits.max_peers);
		else if (strcmp(k, "max_machines") == 0)
			get_uint(x, s, p, TABLE_MAX_MIN, TABLE_MAX_MAX, &c->limits.max_machines);
		else if (strcmp(k, "max_bindings") == 0)
			get_uint(x, s, p, TABLE_MAX_MIN, TABLE_MAX_MAX, &c->limits.max_bindings);
		else
			unknown_key(x, s, "limits");
	}
}

static void parse_incident(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		char p[PATHBUF];
		uint64_t w;

		keypath(p, "incident", s);
		if (strcmp(config_setting_name(s), "window") == 0) {
			if (get_duration(x, s, p, 1, WINDOW_S_MAX, &w) == 0)
				c->incident.window_s = (unsigned)w;
		} else {
			unknown_key(x, s, "incident");
		}
	}
}

static void parse_surveillance(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];
		double f;

		keypath(p, "surveillance", s);
		if (strcmp(k, "period") == 0) {
			get_duration(x, s, p, 0, QD_TTL_MAX_S, &c->surveillance.period_s);
		} else if (strcmp(k, "factor") == 0) {
			if (get_number(x, s, p, &f) < 0)
				continue;
			if (!(f > 0 && f <= 1))
				err(x, s, "'%s' must be greater than 0 and at most 1 (not %g)", p,
				    f);
			else
				c->surveillance.factor = f;
		} else {
			unknown_key(x, s, "surveillance");
		}
	}
}

/* Outbreak mode */

/* "udp/53", "tcp/445": an essential service. */
static int parse_service(const char *v, struct outbreak_service *ret)
{
	char *end;
	unsigned long port;
	uint8_t proto;

	if (strncmp(v, "tcp/", 4) == 0)
		proto = IPPROTO_TCP;
	else if (strncmp(v, "udp/", 4) == 0)
		proto = IPPROTO_UDP;
	else
		return -EINVAL;
	errno = 0;
	port = strtoul(v + 4, &end, 10);
	if (errno || end == v + 4 || *end || port < 1 || port > 65535 || v[4] == '-' ||
	    v[4] == '+' || v[4] == ' ')
		return -EINVAL;
	ret->l4proto = proto;
	ret->port = (uint16_t)port;
	return 0;
}

static void parse_outbreak_services(struct ctx *x, const config_setting_t *s, const char *p)
{
	struct conf *c = x->c;
	unsigned errors = x->errors, n;
	struct outbreak_service v[CONF_MAX_OUTBREAK_SERVICES];

	if (!is_seq(s)) {
		err(x, s, "'%s' must be a list of services ([ \"udp/53\", ... ])", p);
		return;
	}
	n = (unsigned)config_setting_length(s);
	if (n > CONF_MAX_OUTBREAK_SERVICES) {
		err(x, s, "'%s' has %u services: at most %u", p, n, CONF_MAX_OUTBREAK_SERVICES);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		char ep[PATHBUF];
		const char *str = get_str(x, e, keypath(ep, p, e));

		if (str && parse_service(str, &v[i]) < 0)
			err(x, e, "bad service '%s' in '%s' (want tcp/PORT or udp/PORT)", str, p);
	}
	if (x->errors != errors)
		return;
	memcpy(c->outbreak.services, v, n * sizeof(v[0]));
	c->outbreak.nservices = n;
}

static void parse_outbreak(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];
		double f;

		keypath(p, "outbreak", s);
		if (strcmp(k, "by") == 0) {
			const char *v = get_str(x, s, p);

			if (v && outbreak_by_parse(v, &c->outbreak.by) < 0)
				err(x, s, "'%s' must be \"department\", \"floor\" or \"subnet\"",
				    p);
		} else if (strcmp(k, "essential") == 0) {
			parse_prefix_list(x, s, p, &c->outbreak.essential, true);
		} else if (strcmp(k, "services") == 0) {
			parse_outbreak_services(x, s, p);
		} else if (strcmp(k, "factor") == 0) {
			if (get_number(x, s, p, &f) < 0)
				continue;
			if (!(f > 0 && f <= 1))
				err(x, s, "'%s' must be greater than 0 and at most 1 (not %g)", p,
				    f);
			else
				c->outbreak.factor = f;
		} else if (strcmp(k, "contain_watch") == 0) {
			get_bool(x, s, p, &c->outbreak.contain_watch);
		} else {
			unknown_key(x, s, "outbreak");
		}
	}
}

const char *outbreak_by_name(enum outbreak_by b)
{
	switch (b) {
	case OUTBREAK_BY_DEPARTMENT:
		return "department";
	case OUTBREAK_BY_FLOOR:
		return "floor";
	case OUTBREAK_BY_SUBNET:
		return "subnet";
	}
	return "?";
}

int outbreak_by_parse(const char *s, enum outbreak_by *ret)
{
	for (int b = OUTBREAK_BY_DEPARTMENT; b <= OUTBREAK_BY_SUBNET; b++)
		if (strcmp(s, outbreak_by_name((enum outbreak_by)b)) == 0) {
			*ret = (enum outbreak_by)b;
			return 0;
		}
	return -EINVAL;
}

/* antivirus: the level of imported detections, by threat name. */
static void get_patterns(struct ctx *x, const config_setting_t *s, const char *p,
			 char (*v)[CONF_NAME_MAX], unsigned *n)
{
	*n = 0;
	if (!is_seq(s)) {
		err(x, s, "'%s' must be a list of threat-name patterns", p);
		return;
	}
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char q[PATHBUF];

		keypath(q, p, e);
		if (*n == CONF_AV_PATTERNS) {
			err(x, e, "'%s': at most %d patterns", p, CONF_AV_PATTERNS);
			return;
		}
		if (get_string(x, e, q, v[*n], CONF_NAME_MAX, false) == 0)
			(*n)++;
	}
}

static void parse_antivirus(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];
		enum level l;

		keypath(p, "antivirus", s);
		if (strcmp(k, "level") == 0) {
			if (get_level(x, s, p, &l) < 0)
				continue;
			if (l == LEVEL_NONE)
				err(x, s, "'%s' must be watch, contain or isolate", p);
			else
				c->antivirus.level = l;
		} else if (strcmp(k, "severity") == 0) {
			const char *v = get_str(x, s, p);
			enum severity sv;

			if (v && (severity_parse(v, &sv) < 0 || sv == SEV_NONE))
				err(x, s, "'%s' must be low, medium or high (not '%s')", p, v);
			else if (v)
				c->antivirus.severity = sv;
		} else if (strcmp(k, "watch") == 0) {
			get_patterns(x, s, p, c->antivirus.watch, &c->antivirus.nwatch);
		} else if (strcmp(k, "isolate") == 0) {
			get_patterns(x, s, p, c->antivirus.isolate, &c->antivirus.nisolate);
		} else {
			unknown_key(x, s, "antivirus");
		}
	}
}

enum level conf_av_level(const struct conf *c, const char *threat)
{
	for (unsigned i = 0; i < c->antivirus.nisolate; i++)
		if (fnmatch(c->antivirus.isolate[i], threat, FNM_CASEFOLD) == 0)
			return LEVEL_ISOLATE;
	for (unsigned i = 0; i < c->antivirus.nwatch; i++)
		if (fnmatch(c->antivirus.watch[i], threat, FNM_CASEFOLD) == 0)
			return LEVEL_WATCH;
	return c->antivirus.level;
}

/* Inventory */

/* The entry read so far that names mac, or NULL. */
static const struct inv_entry *inv_find_mac(const struct inventory *inv, const uint8_t mac[MAC_LEN])
{
	struct qaddr a;

	addr_set_mac(&a, mac);
	return inventory_lookup(inv, &a);
}

static void parse_inv_entry(struct ctx *x, const config_setting_t *g, unsigned cap)
{
	struct inventory *inv = &x->c->inventory;
	const config_setting_t *net_s, *mac_s, *name_s;
	const struct inv_entry *first;
	unsigned errors = x->errors;
	struct inv_entry e;
	char p[PATHBUF];
	long dup;

	keypath(p, "inventory", g);
	if (!config_setting_is_group(g)) {
		err(x, g, "'%s' must be a group ({ net = \"...\"; ... })", p);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.line = config_setting_source_line(g);
	net_s = config_setting_get_member(g, "net");
	mac_s = config_setting_get_member(g, "mac");
	name_s = config_setting_get_member(g, "name");
	/* A network describes hosts; a MAC names a machine. */
	if (!net_s && !mac_s)
		err(x, g, "'%s' needs a 'net' or a 'mac'", p);

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char kp[PATHBUF];

		keypath(kp, p, s);
		if (strcmp(k, "net") == 0) {
			const char *v = get_str(x, s, kp);

			e.has_net = v && parse_net(x, s, kp, v, &e.net) == 0;
		} else if (strcmp(k, "mac") == 0) {
			const char *v = get_str(x, s, kp);

			e.has_mac = v && parse_mac(x, s, kp, v, e.mac) == 0;
		} else if (strcmp(k, "name") == 0) {
			struct qaddr q;

			/* quarantinectl takes a name where it takes an address
			 * or a MAC: a name that reads as one would be
			 * ambiguous. */
			if (get_string(x, s, kp, e.name, sizeof(e.name), true) == 0 &&
			    addr_parse_any(e.name, &q) == 0)
				err(x, s,
				    "'%s' is an address or a MAC, not a name: quarantinectl "
				    "could not tell them apart",
				    kp);
		} else if (strcmp(k, "department") == 0) {
			get_string(x, s, kp, e.department, sizeof(e.department), true);
		} else if (strcmp(k, "floor") == 0) {
			/* "floor = 3;" is as natural as "floor = \"3\";". */
			if (is_int(s))
				snprintf(e.floor, sizeof(e.floor), "%lld",
					 config_setting_get_int64(s));
			else if (config_setting_type(s) == CONFIG_TYPE_STRING)
				get_string(x, s, kp, e.floor, sizeof(e.floor), true);
			else
				err(x, s, "'%s' must be a string or an integer", kp);
		} else if (strcmp(k, "owner") == 0) {
			get_string(x, s, kp, e.owner, sizeof(e.owner), true);
		} else if (strcmp(k, "critical") == 0) {
			get_bool(x, s, kp, &e.critical);
		} else if (strcmp(k, "role") == 0) {
			get_roles(x, s, kp, &e.roles);
		} else {
			unknown_key(x, s, p);
		}
	}
	if (e.has_net && (dup = lpm_find_exact(inv->lpm, &e.net)) >= 0) {
		char buf[ADDR_STRLEN];

		err(x, net_s, "duplicate inventory network '%s/%u' (first on line %d)",
		    addr_ntop(&e.net.addr, buf), e.net.plen, inv->v[dup].line);
	}
	/* The binding of one address to one machine: a network has many. */
	if (e.has_net && e.has_mac && e.net.plen != addr_bits(&e.net.addr)) {
		char buf[ADDR_STRLEN];

		err(x, net_s,
		    "'%s': a 'mac' pins one address: 'net' must be a single host (not '%s/%u')", p,
		    addr_ntop(&e.net.addr, buf), e.net.plen);
	}
	/* One machine, one entry: else which one names it? */
	if (e.has_mac && (first = inv_find_mac(inv, e.mac))) {
		char buf[MAC_STRLEN];

		err(x, mac_s, "duplicate inventory MAC '%s' (first on line %d)",
		    mac_ntop(e.mac, buf), first->line);
	}
	/* Operators name machines by these in commands. */
	if (e.name[0] && (first = inventory_find_name(inv, e.name)))
		err(x, name_s, "duplicate inventory name '%s' (first on line %d)", e.name,
		    first->line);
	if (x->errors != errors || !(e.has_net || e.has_mac) || inv->n >= cap)
		return;
	/* Only entries with a network are found by address. */
	if (e.has_net && lpm_insert(inv->lpm, &e.net.addr, e.net.plen, inv->n) < 0) {
		x->nomem = true;
		return;
	}
	inv->v[inv->n++] = e;
}

static void parse_inventory(struct ctx *x, const config_setting_t *l)
{
	struct inventory *inv = &x->c->inventory;
	unsigned n = (unsigned)config_setting_length(l);

	/* Replaces the (empty) default. */
	free(inv->v);
	inv->n = 0;
	inv->v = calloc(n ? n : 1, sizeof(*inv->v));
	if (!inv->v) {
		x->nomem = true;
		return;
	}
	for (unsigned i = 0; i < n; i++)
		parse_inv_entry(x, config_setting_get_elem(l, i), n);
}

static void parse_control(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];

		keypath(p, "control", s);
		/* socket: sun_path holds 108 bytes with the NUL. */
		if (strcmp(k, "socket") == 0)
			get_string(x, s, p, c->control.socket, sizeof(c->control.socket), false);
		else if (strcmp(k, "group") == 0)
			get_string(x, s, p, c->control.group, sizeof(c->control.group), false);
		else
			unknown_key(x, s, "control");
	}
}

static void parse_state(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];

		keypath(p, "state", s);
		if (strcmp(k, "dir") == 0)
			get_string(x, s, p, c->state.dir, sizeof(c->state.dir), false);
		else if (strcmp(k, "evidence_max_mb") == 0)
			get_uint(x, s, p, 0, EVIDENCE_MB_MAX, &c->state.evidence_max_mb);
		else if (strcmp(k, "release_cleaned") == 0)
			get_bool(x, s, p, &c->state.release_cleaned);
		else if (strcmp(k, "purge_released") == 0)
			get_duration(x, s, p, 0, QD_PURGE_MAX_S, &c->state.purge_released_s);
		else if (strcmp(k, "history_retention") == 0)
			get_duration(x, s, p, 0, QD_PURGE_MAX_S, &c->state.history_retention_s);
		else
			unknown_key(x, s, "state");
	}
}

static void parse_log(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];

		keypath(p, "log", s);
		if (strcmp(k, "facility") == 0) {
			const char *v = get_str(x, s, p);

			if (v && log_facility_parse(v, &c->log.facility) < 0)
				bad_choice(x, s, p, v,
					   "\"daemon\", \"user\", \"auth\", \"authpriv\" or "
					   "\"local0\" to \"local7\"");
		} else if (strcmp(k, "events_file") == 0) {
			get_string(x, s, p, c->log.events_file, sizeof(c->log.events_file), true);
		} else {
			unknown_key(x, s, "log");
		}
	}
}

/* ---- feeds (IDS alerts, feeds.h) ---- */

/* The built-in map (quarantined.conf(5), FEEDS): the classtypes of
 * Suricata's classification.config (and the ET rule sets' additions)
 * that say a host is infected or taking over another, at severity 1,
 * contain; everything else watches (default_level). */
static const char *const builtin_contain_categories[] = {
	"A Network Trojan was detected",
	"Malware Command and Control Activity Detected",
	"Domain Observed Used for C2 Detected",
	"Exploit Kit Activity Detected",
	"Targeted Malicious Activity was Detected",
	"Executable code was detected",
	"Attempted Administrator Privilege Gain",
	"Successful Administrator Privilege Gain",
	"Attempted User Privilege Gain",
	"Successful User Privilege Gain",
};

static unsigned feed_builtin_map(struct feed_map_entry *v, unsigned max)
{
	unsigned n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(builtin_contain_categories) && n < max; i++) {
		struct feed_map_entry *m = &v[n++];

		memset(m, 0, sizeof(*m));
		m->kind = FEED_SURICATA;
		snprintf(m->category, sizeof(m->category), "%s", builtin_contain_categories[i]);
		m->max_severity = 1;
		m->level = LEVEL_CONTAIN;
		m->builtin = true;
	}
	return n;
}

/* Feed names go into events, the state database's keys and origin
 * fields: the rule names' alphabet. */
static bool feed_name_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_'))
			return false;
	return true;
}

static const struct choice feed_kinds[] = {
	{"suricata", FEED_SURICATA},
	{"zeek", FEED_ZEEK},
};

static void parse_feed_source(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;
	struct feed_conf f;
	char p[PATHBUF];
	const config_setting_t *kind_s = NULL;
	unsigned errors = x->errors;
	int v;

	keypath(p, "feeds.sources", g);
	if (!config_setting_is_group(g)) {
		err(x, g, "'%s' must be a group ({ name = \"...\"; kind = \"...\"; ... })", p);
		return;
	}
	memset(&f, 0, sizeof(f));
	f.line = config_setting_source_line(g);
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char kp[PATHBUF];

		keypath(kp, p, s);
		if (strcmp(k, "name") == 0) {
			if (get_string(x, s, kp, f.name, sizeof(f.name), false) == 0 &&
			    !feed_name_valid(f.name))
				err(x, s, "bad feed name '%s' (a-z, 0-9, '-' and '_' only)",
				    f.name);
		} else if (strcmp(k, "kind") == 0) {
			kind_s = s;
			if (get_choice(x, s, kp, feed_kinds, ARRAY_SIZE(feed_kinds),
				       "\"suricata\" or \"zeek\"", &v) == 0)
				f.kind = (uint8_t)v;
		} else if (strcmp(k, "path") == 0) {
			if (get_string(x, s, kp, f.path, sizeof(f.path), false) == 0 &&
			    f.path[0] != '/')
				err(x, s, "'%s' must be an absolute path", kp);
		} else if (strcmp(k, "socket") == 0) {
			if (get_string(x, s, kp, f.socket, sizeof(f.socket), false) == 0 &&
			    f.socket[0] != '/')
				err(x, s, "'%s' must be an absolute path", kp);
		} else {
			unknown_key(x, s, p);
		}
	}
	if (x->errors != errors)
		return;
	if (!f.name[0])
		err(x, g, "'%s' needs a 'name'", p);
	else if (!kind_s)
		err(x, g, "'%s' needs a 'kind' (\"suricata\" or \"zeek\")", p);
	else if (!!f.path[0] == !!f.socket[0])
		err(x, g, "'%s' needs either a 'path' to follow or a 'socket' to listen on", p);
	else if (f.socket[0] && f.kind != FEED_SURICATA)
		err(x, g, "'%s': only Suricata writes to a socket (its unix_stream output)", p);
	else if (c->feeds.n == CONF_MAX_FEEDS)
		err(x, g, "too many feeds (at most %d)", CONF_MAX_FEEDS);
	else {
		for (unsigned i = 0; i < c->feeds.n; i++)
			if (strcmp(c->feeds.feed[i].name, f.name) == 0) {
				err(x, g, "duplicate feed name '%s' (first on line %d)", f.name,
				    c->feeds.feed[i].line);
				return;
			}
		c->feeds.feed[c->feeds.n++] = f;
	}
}

static void parse_feed_sids(struct ctx *x, const config_setting_t *s, const char *p,
			    struct feed_map_entry *m)
{
	unsigned n = is_seq(s) ? (unsigned)config_setting_length(s) : 1;

	if (n == 0 || n > CONF_FEED_SIDS) {
		err(x, s, "'%s' takes 1 to %d signature ids", p, CONF_FEED_SIDS);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *e = is_seq(s) ? config_setting_get_elem(s, i) : s;
		unsigned v;

		if (get_uint(x, e, p, 1, UINT32_MAX, &v) < 0)
			return;
		m->sids[m->nsids++] = v;
	}
}

static void parse_feed_map_entry(struct ctx *x, const config_setting_t *g, struct feed_map_entry *m)
{
	static const struct choice kinds[] = {
		{"suricata", FEED_SURICATA},
		{"zeek", FEED_ZEEK},
		{"any", FEED_ANY},
	};
	char p[PATHBUF];
	bool has_level = false;
	int v;

	keypath(p, "feeds.map", g);
	memset(m, 0, sizeof(*m));
	m->line = config_setting_source_line(g);
	if (!config_setting_is_group(g)) {
		err(x, g, "'%s' must be a group ({ category = \"...\"; level = \"...\"; })", p);
		return;
	}
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char kp[PATHBUF];

		keypath(kp, p, s);
		if (strcmp(k, "kind") == 0) {
			if (get_choice(x, s, kp, kinds, ARRAY_SIZE(kinds),
				       "\"suricata\", \"zeek\" or \"any\"", &v) == 0)
				m->kind = (uint8_t)v;
		} else if (strcmp(k, "category") == 0) {
			get_string(x, s, kp, m->category, sizeof(m->category), false);
		} else if (strcmp(k, "signature") == 0 || strcmp(k, "note") == 0) {
			/* A Zeek note is matched as a signature is. */
			if (m->signature[0])
				err(x, s, "'%s': give 'signature' or 'note', not both", p);
			get_string(x, s, kp, m->signature, sizeof(m->signature), false);
		} else if (strcmp(k, "sid") == 0) {
			parse_feed_sids(x, s, kp, m);
		} else if (strcmp(k, "max_severity") == 0) {
			get_uint(x, s, kp, 1, 255, &m->max_severity);
		} else if (strcmp(k, "level") == 0) {
			const char *lv = get_str(x, s, kp);
			enum level l;

			has_level = true;
			if (!lv)
				continue;
			if (strcmp(lv, "ignore") == 0)
				m->level = LEVEL_NONE;
			else if (level_parse(lv, &l) == 0)
				m->level = l;
			else
				bad_choice(x, s, kp, lv, "\"ignore\", " LEVELS);
		} else {
			unknown_key(x, s, p);
		}
	}
	if (!has_level)
		err(x, g, "'%s' needs a 'level' (\"ignore\", " LEVELS ")", p);
}

static void parse_feeds(struct ctx *x, const config_setting_t *g)
{
	struct conf *c = x->c;
	const config_setting_t *map_s = NULL;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char p[PATHBUF];

		keypath(p, "feeds", s);
		if (strcmp(k, "sources") == 0 || strcmp(k, "map") == 0) {
			if (!config_setting_is_list(s) &&
			    !(config_setting_is_array(s) && config_setting_length(s) == 0)) {
				err(x, s, "'%s' must be a list of groups: ( { ... }, { ... } )", p);
				continue;
			}
			if (strcmp(k, "map") == 0) {
				map_s = s;
				continue;
			}
			for (int j = 0; j < config_setting_length(s); j++)
				parse_feed_source(x, config_setting_get_elem(s, (unsigned)j));
		} else if (strcmp(k, "builtin_map") == 0) {
			get_bool(x, s, p, &c->feeds.builtin_map);
		} else if (strcmp(k, "default_level") == 0) {
			const char *lv = get_str(x, s, p);
			enum level l;

			if (!lv)
				continue;
			if (strcmp(lv, "ignore") == 0)
				c->feeds.default_level = LEVEL_NONE;
			else if (level_parse(lv, &l) == 0)
				c->feeds.default_level = l;
			else
				bad_choice(x, s, p, lv, "\"ignore\", " LEVELS);
		} else if (strcmp(k, "max_line") == 0) {
			get_uint(x, s, p, FEED_LINE_MIN, FEED_LINE_MAX, &c->feeds.max_line);
		} else {
			unknown_key(x, s, "feeds");
		}
	}
	/* The file's entries, then the built-in ones unless it said not. */
	c->feeds.nmap = 0;
	if (map_s) {
		unsigned n = (unsigned)config_setting_length(map_s);

		if (n > CONF_MAX_FEED_MAP - ARRAY_SIZE(builtin_contain_categories)) {
			err(x, map_s, "'feeds.map' has too many entries (at most %zu)",
			    CONF_MAX_FEED_MAP - ARRAY_SIZE(builtin_contain_categories));
			n = 0;
		}
		for (unsigned j = 0; j < n; j++)
			parse_feed_map_entry(x, config_setting_get_elem(map_s, j),
					     &c->feeds.map[c->feeds.nmap++]);
	}
	if (c->feeds.builtin_map)
		c->feeds.nmap += feed_builtin_map(c->feeds.map + c->feeds.nmap,
						  CONF_MAX_FEED_MAP - c->feeds.nmap);
}

static void parse_root(struct ctx *x, const config_setting_t *root)
{
	static const struct {
		const char *name;
		void (*parse)(struct ctx *x, const config_setting_t *s);
		bool list; /* a list of groups rather than a group */
	} sections[] = {
		{"capture", parse_capture, false},
		{"networks", parse_networks, false},
		{"identity", parse_identity, false},
		{"enforce", parse_enforce, false},
		{"policy", parse_policy, false},
		{"rules", parse_rules, true},
		{"scan", parse_scan, false},
		{"limits", parse_limits, false},
		{"incident", parse_incident, false},
		{"inventory", parse_inventory, true},
		{"surveillance", parse_surveillance, false},
		{"outbreak", parse_outbreak, false},
		{"antivirus", parse_antivirus, false},
		{"control", parse_control, false},
		{"state", parse_state, false},
		{"log", parse_log, false},
		{"feeds", parse_feeds, false},
	};

	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *k = config_setting_name(s);
		size_t j;

		for (j = 0; j < ARRAY_SIZE(sections); j++)
			if (strcmp(k, sections[j].name) == 0)
				break;
		if (j == ARRAY_SIZE(sections)) {
			const char *near = suggest(k, conf_keys(""));

			if (near)
				err(x, s, "unknown key '%s' at the top level (did you mean '%s'?)",
				    k, near);
			else
				err(x, s, "unknown key '%s' at the top level", k);
			continue;
		}
		if (sections[j].list) {
			/* "[]" is an empty array to libconfig: accept it as
			 * the empty list it means. */
			if (!config_setting_is_list(s) &&
			    !(config_setting_is_array(s) && config_setting_length(s) == 0)) {
				err(x, s, "'%s' must be a list of groups: ( { ... }, { ... } )", k);
				continue;
			}
		} else if (!config_setting_is_group(s)) {
			err(x, s, "'%s' must be a group: { ... }", k);
			continue;
		}
		sections[j].parse(x, s);
	}
}

/* Public API */

int conf_init_default(struct conf *c)
{
	struct prefix_list *lists[] = {
		&c->networks.protected_, &c->networks.never_block, &c->networks.remediation,
		&c->networks.admin,	 &c->networks.routers,	   &c->outbreak.essential,
	};

	memset(c, 0, sizeof(*c));
	c->capture.snaplen = 160;
	c->capture.buffer_mb = 32;

	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		if (prefix_list_alloc(lists[i], i == 0 ? ARRAY_SIZE(default_protected) : 0) < 0)
			goto nomem;
	for (size_t i = 0; i < ARRAY_SIZE(default_protected); i++) {
		struct prefix p;
		unsigned plen;

		if (addr_parse_prefix(default_protected[i], &p.addr, &plen) < 0)
			goto nomem; /* cannot happen: the table above is valid */
		p.plen = (uint8_t)plen;
		if (prefix_list_add(&c->networks.protected_, &p) < 0)
			goto nomem;
	}

	/* No router MACs: c->networks.router_macs is empty (v NULL). */

	/* Why these: quarantined.conf(5). */
	c->identity.max_addresses = 32;
	c->identity.trust_after_s = 600;
	c->identity.move_after_s = 600;
	c->identity.unverified_max = LEVEL_CONTAIN;
	c->identity.auto_relay = true;

	c->enforce.mode = ENFORCE_ENFORCE;
	c->enforce.family = NFT_FAMILY_INET;
	snprintf(c->enforce.table, sizeof(c->enforce.table), "quarantined");
	c->enforce.max_actions_per_minute = 100;
	c->enforce.default_ttl_s = 0;

	c->policy.level[SEV_NONE] = LEVEL_NONE;
	c->policy.level[SEV_LOW] = LEVEL_WATCH;
	c->policy.level[SEV_MEDIUM] = LEVEL_CONTAIN;
	c->policy.level[SEV_HIGH] = LEVEL_ISOLATE;
	c->policy.critical_max = LEVEL_CONTAIN;

	/* Outbreak mode: what a campus cannot work without (DNS, DHCP and
	 * DHCPv6, NTP), half the thresholds, and no mere watching. */
	{
		static const struct outbreak_service svc[] = {
			{IPPROTO_UDP, 53},  {IPPROTO_TCP, 53},	{IPPROTO_UDP, 67},
			{IPPROTO_UDP, 68},  {IPPROTO_UDP, 123}, {IPPROTO_UDP, 546},
			{IPPROTO_UDP, 547},
		};
		memcpy(c->outbreak.services, svc, sizeof(svc));
		c->outbreak.nservices = ARRAY_SIZE(svc);
		c->outbreak.by = OUTBREAK_BY_DEPARTMENT;
		c->outbreak.factor = 0.5;
		c->outbreak.contain_watch = true;
	}

	/* The table leaves out what every built-in shares. */
	for (size_t i = 0; i < ARRAY_SIZE(builtin_rules); i++) {
		struct rule *r = &c->rules[i];

		*r = builtin_rules[i];
		r->enabled = true;
		for (size_t j = 0; j < ARRAY_SIZE(builtin_off); j++)
			if (strcmp(r->name, builtin_off[j]) == 0)
				r->enabled = false;
		r->builtin = true;
		if (!r->window_s)
			r->window_s = 60;
		r->exempt_roles |= ROLE_SCANNER;
	}
	c->nrules = ARRAY_SIZE(builtin_rules);

	c->scan.enabled = true;
	c->scan.theta0 = 0.8;
	c->scan.theta1 = 0.2;
	c->scan.detection = 0.99;
	c->scan.false_alarm = 0.01;
	c->scan.timeout_ms = 3000;
	c->scan.dark_warmup_s = 600;
	c->scan.severity = SEV_MEDIUM;
	c->scan.other_ports_severity = SEV_LOW;
	c->scan.protos = PROTO_TCP;

	c->limits.max_hosts = 65536;
	c->limits.max_blocked = 100000;
	c->limits.max_probes = 262144;
	c->limits.max_peers = 131072;
	c->limits.max_machines = 65536;
	c->limits.max_bindings = 131072;

	c->incident.window_s = 600;

	c->inventory.v = NULL;
	c->inventory.n = 0;
	c->inventory.lpm = lpm_new();
	if (!c->inventory.lpm)
		goto nomem;

	snprintf(c->control.socket, sizeof(c->control.socket), "/run/quarantined/control.sock");
	snprintf(c->control.group, sizeof(c->control.group), "quarantine");
	snprintf(c->state.dir, sizeof(c->state.dir), "/var/lib/quarantined");
	c->state.evidence_max_mb = 512;
	c->state.release_cleaned = true;
	c->state.history_retention_s = 365 * 86400;
	c->surveillance.period_s = 7 * 86400;
	c->surveillance.factor = 0.5;
	/* What an operator would choose: a console's detection contains the
	 * machine (it is known infected; its other traffic goes on while it
	 * is cleaned), except for test files and potentially unwanted
	 * programs, which are watched. */
	c->antivirus.level = LEVEL_CONTAIN;
	c->antivirus.severity = SEV_HIGH;
	{
		static const char *const watch[] = {"*EICAR*",	"PUA*",	  "PUP*",
						    "*Adware*", "*PUA.*", "*PUP.*"};

		for (unsigned i = 0; i < ARRAY_SIZE(watch); i++)
			snprintf(c->antivirus.watch[i], CONF_NAME_MAX, "%s", watch[i]);
		c->antivirus.nwatch = ARRAY_SIZE(watch);
	}
	c->log.facility = LOG_DAEMON;
	c->log.events_file[0] = '\0';
	c->feeds.builtin_map = true;
	c->feeds.default_level = LEVEL_WATCH;
	c->feeds.max_line = FEED_LINE_DEFAULT;
	c->feeds.nmap = feed_builtin_map(c->feeds.map, CONF_MAX_FEED_MAP);
	return 0;

nomem:
	conf_fini(c);
	return -ENOMEM;
}

int conf_load(struct conf *c, const char *path, struct conf_diags *diags)
{
	struct conf_diags local;
	struct ctx x;
	struct stat st;
	config_t cfg;
	char *dir = NULL, *slash;
	int fd, r;

	if (!diags)
		diags = &local;
	memset(diags, 0, sizeof(*diags));
	r = conf_init_default(c);
	if (r < 0)
		return r;
	if (strlen(path) >= sizeof(c->path)) {
		r = -ENAMETOOLONG;
		diag(diags, path, 0, "%s", strerror(-r));
		goto fail;
	}
	/* libconfig says only "file I/O error": find out which. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		diag(diags, path, 0, "%s", strerror(-r));
		goto fail;
	}
	r = fstat(fd, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : 0;
	close(fd);
	if (r < 0) {
		diag(diags, path, 0, "%s", strerror(-r));
		goto fail;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);

	config_init(&cfg);
	/* @include paths are relative to the file, not to our cwd. */
	dir = strdup(path);
	if (!dir) {
		config_destroy(&cfg);
		r = -ENOMEM;
		goto fail;
	}
	slash = strrchr(dir, '/');
	if (slash) {
		if (slash == dir)
			slash++; /* "/x.conf": the directory is "/" */
		*slash = '\0';
		config_set_include_dir(&cfg, dir);
	}
	if (!config_read_file(&cfg, path)) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO) {
			r = -EIO;
			diag(diags, config_error_file(&cfg) ? config_error_file(&cfg) : path, 0,
			     "cannot read the file");
		} else {
			char buf[sizeof(diags->d[0].file)];
			const char *f = config_error_file(&cfg) ? config_error_file(&cfg) : path;

			r = -EINVAL;
			diag(diags, source_name(f, path, slash ? dir : NULL, buf, sizeof(buf)),
			     config_error_line(&cfg), "%s", config_error_text(&cfg));
		}
		config_destroy(&cfg);
		goto fail;
	}

	memset(&x, 0, sizeof(x));
	x.c = c;
	x.diags = diags;
	x.file = path;
	x.dir = slash ? dir : NULL;
	parse_root(&x, config_root_setting(&cfg));
	config_destroy(&cfg);
	if (x.nomem)
		r = -ENOMEM;
	else if (x.errors)
		r = -EINVAL;
	else
		r = 0;
	if (r == 0) {
		free(dir);
		return 0;
	}
fail:
	free(dir);
	conf_fini(c);
	return r;
}

void conf_fini(struct conf *c)
{
	if (!c)
		return;
	prefix_list_fini(&c->networks.protected_);
	prefix_list_fini(&c->networks.never_block);
	prefix_list_fini(&c->networks.remediation);
	prefix_list_fini(&c->networks.admin);
	prefix_list_fini(&c->networks.routers);
	prefix_list_fini(&c->outbreak.essential);
	mac_list_fini(&c->networks.router_macs);
	free(c->inventory.v);
	lpm_free(c->inventory.lpm);
	/* Zeroed, so that a second conf_fini() is harmless. */
	memset(c, 0, sizeof(*c));
}

int conf_rule_find(const struct conf *c, const char *name)
{
	for (unsigned i = 0; i < c->nrules; i++)
		if (strcmp(c->rules[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool prefix_list_contains(const struct prefix_list *l, const struct qaddr *a)
{
	return l->lpm && lpm_lookup(l->lpm, a, NULL, NULL);
}

const struct inv_entry *inventory_lookup(const struct inventory *inv, const struct qaddr *a)
{
	uint32_t i;

	/* A linear search: an inventory is hundreds of entries at most, and
	 * a MAC is looked up when a machine is first seen, not per packet. */
	if (addr_is_mac(a)) {
		for (i = 0; i < inv->n; i++)
			if (inv->v[i].has_mac && memcmp(inv->v[i].mac, a->b, MAC_LEN) == 0)
				return &inv->v[i];
		return NULL;
	}
	if (!inv->lpm || !lpm_lookup(inv->lpm, a, &i, NULL) || i >= inv->n)
		return NULL;
	return &inv->v[i];
}

const struct inv_entry *inventory_find_name(const struct inventory *inv, const char *name)
{
	/* Linear too, for the same reason: names come from operators'
	 * commands, not from packets. */
	for (unsigned i = 0; i < inv->n; i++)
		if (inv->v[i].name[0] && strcasecmp(inv->v[i].name, name) == 0)
			return &inv->v[i];
	return NULL;
}

bool mac_list_contains(const struct mac_list *l, const uint8_t mac[MAC_LEN])
{
	for (unsigned i = 0; i < l->n; i++)
		if (memcmp(l->v[i], mac, MAC_LEN) == 0)
			return true;
	return false;
}
