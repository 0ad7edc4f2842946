/* Unit tests for configuration defaults, loading and validation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"

/* Helpers */

static char tmp_path[256];

/* Writes text to a fresh temporary file, whose name is in tmp_path. */
static const char *write_tmp(const char *text)
{
	const char *dir = getenv("TMPDIR");
	FILE *f;
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "%s/qd-conf-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return tmp_path;
}

static void dump(const struct conf_diags *d)
{
	for (unsigned i = 0; i < d->n; i++)
		print_message("  diag: %s:%d: %s\n", d->d[i].file, d->d[i].line, d->d[i].msg);
}

/* Loads text; the file is gone afterwards. */
static int load(const char *text, struct conf *c, struct conf_diags *d)
{
	const char *path = write_tmp(text);
	int r = conf_load(c, path, d);

	unlink(path);
	return r;
}

/* Loads text that must be valid. */
static void load_ok(const char *text, struct conf *c)
{
	struct conf_diags d;
	int r = load(text, c, &d);

	if (r != 0 || d.n != 0)
		dump(&d);
	assert_int_equal(r, 0);
	assert_int_equal(d.n, 0);
}

/* Loads text that must fail with -EINVAL and leave nothing behind. */
static void load_bad(const char *text, struct conf_diags *d)
{
	struct conf c;
	int r;

	memset(&c, 0x5a, sizeof(c));
	r = load(text, &c, d);
	if (r != -EINVAL)
		dump(d);
	assert_int_equal(r, -EINVAL);
	assert_true(d->n > 0);
	/* Nothing to free: conf_load zeroes what it released. */
	assert_null(c.inventory.v);
	assert_null(c.inventory.lpm);
	assert_null(c.networks.protected_.v);
	assert_null(c.networks.protected_.lpm);
}

/* True when some diagnostic is on line (any line when 0) and contains
 * text. */
static bool has_diag(const struct conf_diags *d, int line, const char *text)
{
	for (unsigned i = 0; i < d->n; i++)
		if ((line == 0 || d->d[i].line == line) && strstr(d->d[i].msg, text) &&
		    strcmp(d->d[i].file, tmp_path) == 0)
			return true;
	return false;
}

static void expect_diag(const struct conf_diags *d, int line, const char *text)
{
	if (!has_diag(d, line, text)) {
		print_message("expected line %d: %s\n", line, text);
		dump(d);
		fail();
	}
}

/* One error, exactly: on line, containing text. */
static void expect_one(const char *conf_text, int line, const char *text)
{
	struct conf_diags d;

	load_bad(conf_text, &d);
	if (d.n != 1)
		dump(&d);
	assert_int_equal(d.n, 1);
	expect_diag(&d, line, text);
}

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static struct qaddr
M(const char *s) {
	uint8_t mac[MAC_LEN];
	struct qaddr a;

	assert_int_equal(mac_parse(s, mac), 0);
	addr_set_mac(&a, mac);
	return a;
}

static bool
has_mac(const struct mac_list *l, const char *s)
{
	struct qaddr a = M(s);

	return mac_list_contains(l, a.b);
}

static bool contains(const struct prefix_list *l, const char *s)
{
	struct qaddr a = A(s);

	return prefix_list_contains(l, &a);
}

static const struct rule *rule(const struct conf *c, const char *name)
{
	int i = conf_rule_find(c, name);

	assert_true(i >= 0);
	return &c->rules[i];
}

/* Defaults */

struct expect_rule {
	const char *name;
	enum rule_type type;
	unsigned protos;
	uint16_t ports[8];
	unsigned nports;
	unsigned threshold;
	enum severity severity;
	enum rule_count count;
	unsigned exempt;
	unsigned window; /* 0: 60 s */
	bool off;	 /* off by default */
};

static const struct expect_rule builtins[] = {
	{"smb-propagation",
	 RULE_HORIZONTAL,
	 PROTO_TCP,
	 {445, 139},
	 2,
	 10,
	 SEV_HIGH,
	 COUNT_FIRST_CONTACTS,
	 ROLE_SCANNER,
	 0,
	 false},
	{"rpc-propagation",
	 RULE_HORIZONTAL,
	 PROTO_TCP,
	 {135},
	 1,
	 10,
	 SEV_HIGH,
	 COUNT_FIRST_CONTACTS,
	 ROLE_SCANNER,
	 0,
	 false},
	{"rdp-propagation",
	 RULE_HORIZONTAL,
	 PROTO_TCP,
	 {3389},
	 1,
	 10,
	 SEV_HIGH,
	 COUNT_FIRST_CONTACTS,
	 ROLE_SCANNER,
	 0,
	 false},
	{"ssh-propagation",
	 RULE_HORIZONTAL,
	 PROTO_TCP,
	 {22},
	 1,
	 10,
	 SEV_MEDIUM,
	 COUNT_FIRST_CONTACTS,
	 ROLE_SCANNER,
	 0,
	 false},
	{"telnet-propagation",
	 RULE_HORIZONTAL,
	 PROTO_TCP,
	 {23, 2323},
	 2,
	 10,
	 SEV_HIGH,
	 COUNT_FIRST_CONTACTS,
	 ROLE_SCANNER,
	 0,
	 false},
	{"smtp-mass-mailing",
	 RULE_HORIZONTAL,
	 PROTO_TCP,
	 {25, 465, 587},
	 3,
	 20,
	 SEV_MEDIUM,
	 COUNT_FIRST_CONTACTS,
	 ROLE_SCANNER | ROLE_MAILSERVER,
	 0,
	 false},
	{"slammer-propagation",
	 RULE_HORIZONTAL,
	 PROTO_UDP,
	 {1434},
	 1,
	 10,
	 SEV_HIGH,
	 COUNT_FIRST_CONTACTS,
	 ROLE_SCANNER,
	 0,
	 false},
	{"icmp-sweep",
	 RULE_HORIZONTAL,
	 PROTO_ICMP,
	 {0},
	 0,
	 15,
	 SEV_LOW,
	 COUNT_FIRST_CONTACTS,
	 ROLE_SCANNER,
	 0,
	 false},
	{"arp-sweep",
	 RULE_HORIZONTAL,
	 PROTO_ARP,
	 {0},
	 0,
	 20,
	 SEV_MEDIUM,
	 COUNT_FAILURES,
	 ROLE_SCANNER,
	 0,
	 false},
	{"horizontal-scan",
	 RULE_HORIZONTAL,
	 PROTO_TCP | PROTO_UDP,
	 {0},
	 0,
	 20,
	 SEV_LOW,
	 COUNT_FAILURES,
	 ROLE_SCANNER,
	 0,
	 false},
	{"vertical-scan",
	 RULE_VERTICAL,
	 PROTO_TCP | PROTO_UDP,
	 {0},
	 0,
	 20,
	 SEV_MEDIUM,
	 COUNT_FAILURES,
	 ROLE_SCANNER,
	 0,
	 false},
	{"source-forgery",
	 RULE_FORGERY,
	 PROTO_TCP | PROTO_UDP | PROTO_ICMP | PROTO_ARP,
	 {0},
	 0,
	 1,
	 SEV_HIGH,
	 COUNT_FIRST_CONTACTS,
	 ROLE_SCANNER,
	 0,
	 false},
	{"dark-space",
	 RULE_HORIZONTAL,
	 PROTO_TCP | PROTO_UDP,
	 {0},
	 0,
	 8,
	 SEV_MEDIUM,
	 COUNT_FAILURES,
	 ROLE_SCANNER,
	 0,
	 false},
	{"login-guessing",
	 RULE_BRUTE,
	 PROTO_TCP,
	 {22, 23, 2323, 139, 445, 3389, 5900},
	 7,
	 6,
	 SEV_LOW,
	 COUNT_FIRST_CONTACTS,
	 ROLE_SCANNER | ROLE_MANAGEMENT,
	 0,
	 false},
	{"login-bruteforce",
	 RULE_BRUTE,
	 PROTO_TCP,
	 {22, 23, 2323, 139, 445, 3389, 5900},
	 7,
	 20,
	 SEV_MEDIUM,
	 COUNT_FIRST_CONTACTS,
	 ROLE_SCANNER | ROLE_MANAGEMENT,
	 600,
	 false},
	{"service-bruteforce",
	 RULE_BRUTE,
	 PROTO_TCP,
	 {21, 1433, 1521, 3306, 5432, 6379, 27017},
	 7,
	 20,
	 SEV_MEDIUM,
	 COUNT_FIRST_CONTACTS,
	 ROLE_SCANNER | ROLE_MANAGEMENT,
	 600,
	 true},
};

static void check_builtin_rule(const struct rule *r, const struct expect_rule *e)
{
	assert_string_equal(r->name, e->name);
	assert_int_equal(r->enabled, !e->off);
	assert_true(r->builtin);
	assert_int_equal(r->type, e->type);
	assert_int_equal(r->protos, e->protos);
	assert_int_equal(r->nports, e->nports);
	for (unsigned j = 0; j < e->nports; j++)
		assert_int_equal(r->ports[j], e->ports[j]);
	assert_int_equal(r->threshold, e->threshold);
	assert_int_equal(r->window_s, e->window ? e->window : 60);
	assert_int_equal(r->severity, e->severity);
	assert_int_equal(r->count, e->count);
	assert_int_equal(r->exempt_roles, e->exempt);
	assert_int_equal(r->dark, strcmp(e->name, "dark-space") == 0);
	if (e->type == RULE_BRUTE) {
		assert_int_equal(r->max_duration_s, 30);
		assert_int_equal(r->max_bytes, 16384);
	}
}

/* Everything but the lists and rules, which the callers check. */
static void check_default_scalars(const struct conf *c)
{
	assert_int_equal(c->capture.ninterfaces, 0);
	assert_int_equal(c->capture.snaplen, 160);
	assert_int_equal(c->capture.buffer_mb, 32);

	assert_int_equal(c->enforce.mode, ENFORCE_ENFORCE);
	assert_int_equal(c->enforce.family, NFT_FAMILY_INET);
	assert_string_equal(c->enforce.table, "quarantined");
	assert_int_equal(c->enforce.max_actions_per_minute, 100);
	assert_int_equal(c->enforce.default_ttl_s, 0);

	assert_int_equal(c->policy.level[SEV_HIGH], LEVEL_ISOLATE);
	assert_int_equal(c->policy.level[SEV_MEDIUM], LEVEL_CONTAIN);
	assert_int_equal(c->policy.level[SEV_LOW], LEVEL_WATCH);
	assert_int_equal(c->policy.critical_max, LEVEL_CONTAIN);

	assert_true(c->scan.enabled);
	assert_true(c->scan.theta0 == 0.8);
	assert_true(c->scan.theta1 == 0.2);
	assert_true(c->scan.detection == 0.99);
	assert_true(c->scan.false_alarm == 0.01);
	assert_int_equal(c->scan.timeout_ms, 3000);
	assert_int_equal(c->scan.severity, SEV_MEDIUM);
	assert_int_equal(c->scan.other_ports_severity, SEV_LOW);
	assert_int_equal(c->scan.protos, PROTO_TCP);

	assert_int_equal(c->limits.max_hosts, 65536);
	assert_int_equal(c->limits.max_blocked, 100000);
	assert_int_equal(c->limits.max_probes, 262144);
	assert_int_equal(c->limits.max_peers, 131072);
	assert_int_equal(c->limits.max_machines, 65536);
	assert_int_equal(c->limits.max_bindings, 131072);
	assert_int_equal(c->incident.window_s, 600);
	assert_int_equal(c->surveillance.period_s, 7 * 86400);
	assert_int_equal(c->scan.dark_warmup_s, 600);
	assert_true(c->surveillance.factor == 0.5);

	assert_int_equal(c->identity.max_addresses, 32);
	assert_int_equal(c->identity.trust_after_s, 600);
	assert_int_equal(c->identity.move_after_s, 600);
	assert_int_equal(c->identity.unverified_max, LEVEL_CONTAIN);
	assert_true(c->identity.auto_relay);

	assert_string_equal(c->control.socket, "/run/quarantined/control.sock");
	assert_string_equal(c->control.group, "quarantine");
	assert_string_equal(c->state.dir, "/var/lib/quarantined");
	assert_int_equal(c->state.evidence_max_mb, 512);
	assert_int_equal(c->log.facility, LOG_DAEMON);
	assert_string_equal(c->log.events_file, "");
}

static void check_defaults(const struct conf *c)
{
	check_default_scalars(c);

	assert_int_equal(c->networks.protected_.n, 4);
	assert_true(contains(&c->networks.protected_, "10.1.2.3"));
	assert_true(contains(&c->networks.protected_, "172.31.255.255"));
	assert_true(contains(&c->networks.protected_, "192.168.1.1"));
	assert_true(contains(&c->networks.protected_, "fd12::1"));
	assert_false(contains(&c->networks.protected_, "172.32.0.1"));
	assert_false(contains(&c->networks.protected_, "8.8.8.8"));
	assert_false(contains(&c->networks.protected_, "2001:db8::1"));
	assert_int_equal(c->networks.never_block.n, 0);
	assert_false(contains(&c->networks.never_block, "10.0.0.1"));
	assert_int_equal(c->networks.remediation.n, 0);
	assert_int_equal(c->networks.admin.n, 0);
	assert_int_equal(c->networks.routers.n, 0);
	assert_false(contains(&c->networks.routers, "10.0.0.1"));
	assert_int_equal(c->networks.router_macs.n, 0);

	assert_int_equal(c->nrules, ARRAY_SIZE(builtins));
	for (unsigned i = 0; i < ARRAY_SIZE(builtins); i++) {
		check_builtin_rule(&c->rules[i], &builtins[i]);
		assert_int_equal(c->rules[i].line, 0);
		assert_true(c->rules[i].exempt_roles & ROLE_SCANNER);
	}

	assert_int_equal(c->inventory.n, 0);
	{
		struct qaddr a = A("10.1.2.3");

		assert_null(inventory_lookup(&c->inventory, &a));
	}
}

static void test_defaults(void **state)
{
	struct conf c;

	(void)state;
	assert_int_equal(conf_init_default(&c), 0);
	assert_string_equal(c.path, "");
	check_defaults(&c);
	assert_int_equal(conf_rule_find(&c, "smb-propagation"), 0);
	assert_int_equal(conf_rule_find(&c, "vertical-scan"), 10);
	/* Last: the rules before it keep their indexes. */
	assert_int_equal(conf_rule_find(&c, "source-forgery"), 11);
	assert_int_equal(conf_rule_find(&c, "dark-space"), 12);
	assert_int_equal(conf_rule_find(&c, "nope"), -1);
	conf_fini(&c);
	conf_fini(&c); /* harmless twice */
}

static void test_empty_file(void **state)
{
	struct conf c;

	(void)state;
	load_ok("# nothing but a comment\n", &c);
	check_defaults(&c);
	assert_string_equal(c.path, tmp_path);
	conf_fini(&c);
}

/* Loading */

static const char full_conf[] =
	"capture: { interfaces = [ \"eth1\", \"br0\" ]; snaplen = 128; buffer_mb = 64; };\n"
	"networks: {\n"
	"  protected = [ \"10.0.0.0/8\", \"2001:db8::/32\" ];\n"
	"  never_block = [ \"10.0.0.1\", \"10.0.0.2/31\" ];\n"
	"  remediation = ( \"10.0.9.10\" );\n"
	"  admin = [ \"10.0.9.20\", \"2001:db8::20\" ];\n"
	"};\n"
	"enforce: { mode = \"alert\"; family = \"bridge\"; table = \"qd_test1\";\n"
	"           max_actions_per_minute = 0; default_ttl = \"7d\"; };\n"
	"policy: { high = \"contain\"; medium = \"watch\"; low = \"watch\";\n"
	"          critical_max = \"watch\"; };\n"
	"rules = (\n"
	"  { name = \"smb-propagation\"; proto = \"tcp\"; ports = [ 445, 139 ];\n"
	"    distinct_dst = 20; window = 60; severity = \"high\"; }\n"
	");\n"
	"scan: { enabled = false; theta0 = 0.9; theta1 = 0.1; detection = 0.999;\n"
	"        false_alarm = 0.001; timeout = 2.5; severity = \"high\";\n"
	"        other_ports_severity = \"medium\"; protocols = [ \"tcp\" ]; dark_warmup = \"1h\"; "
	"};\n"
	"limits: { max_hosts = 1024; max_blocked = 200000; max_probes = 4096;\n"
	"          max_peers = 8192; };\n"
	"incident: { window = \"30m\"; };\n"
	"inventory = (\n"
	"  { net = \"10.1.0.0/24\"; department = \"finance\"; floor = \"3\"; owner = \"IT "
	"Finance\"; },\n"
	"  { net = \"10.1.5.10/32\"; name = \"fileserver\"; critical = true; },\n"
	"  { net = \"10.1.5.25/32\"; name = \"mail\"; role = \"mailserver\"; }\n"
	");\n"
	"control: { socket = \"/tmp/qd.sock\"; group = \"wheel\"; };\n"
	"state: { dir = \"/tmp/qd-state\"; evidence_max_mb = 0; };\n"
	"log: { facility = \"local3\"; events_file = \"/tmp/qd-events.json\"; };\n"
	"surveillance: { period = \"2d\"; factor = 0.25; };\n";

static void test_load_full(void **state)
{
	struct conf c;
	const struct rule *r;
	const struct inv_entry *e;
	struct qaddr a;

	(void)state;
	load_ok(full_conf, &c);
	assert_int_equal(c.capture.ninterfaces, 2);
	assert_string_equal(c.capture.interfaces[0], "eth1");
	assert_string_equal(c.capture.interfaces[1], "br0");
	assert_int_equal(c.capture.snaplen, 128);
	assert_int_equal(c.capture.buffer_mb, 64);

	assert_int_equal(c.networks.protected_.n, 2);
	assert_true(contains(&c.networks.protected_, "10.200.0.1"));
	assert_true(contains(&c.networks.protected_, "2001:db8:5::1"));
	assert_false(contains(&c.networks.protected_, "192.168.1.1")); /* replaced */
	assert_false(contains(&c.networks.protected_, "fd00::1"));
	assert_int_equal(c.networks.never_block.n, 2);
	assert_true(contains(&c.networks.never_block, "10.0.0.1"));
	assert_true(contains(&c.networks.never_block, "10.0.0.3"));
	assert_false(contains(&c.networks.never_block, "10.0.0.4"));
	assert_true(contains(&c.networks.remediation, "10.0.9.10"));
	assert_false(contains(&c.networks.remediation, "10.0.9.11"));
	assert_int_equal(c.networks.admin.n, 2);
	assert_true(contains(&c.networks.admin, "2001:db8::20"));

	assert_int_equal(c.enforce.mode, ENFORCE_ALERT);
	assert_int_equal(c.enforce.family, NFT_FAMILY_BRIDGE);
	assert_string_equal(c.enforce.table, "qd_test1");
	assert_int_equal(c.enforce.max_actions_per_minute, 0);
	assert_int_equal(c.enforce.default_ttl_s, 7 * 86400);

	assert_int_equal(c.policy.level[SEV_HIGH], LEVEL_CONTAIN);
	assert_int_equal(c.policy.level[SEV_MEDIUM], LEVEL_WATCH);
	assert_int_equal(c.policy.level[SEV_LOW], LEVEL_WATCH);
	assert_int_equal(c.policy.critical_max, LEVEL_WATCH);

	assert_int_equal(c.nrules, 16);
	r = rule(&c, "smb-propagation");
	assert_int_equal(r - c.rules, 0); /* replaced in place */
	assert_int_equal(r->threshold, 20);
	assert_int_equal(r->line, 13);
	assert_true(r->builtin);

	assert_false(c.scan.enabled);
	assert_true(c.scan.theta0 == 0.9);
	assert_true(c.scan.theta1 == 0.1);
	assert_true(c.scan.detection == 0.999);
	assert_true(c.scan.false_alarm == 0.001);
	assert_int_equal(c.scan.timeout_ms, 2500);
	assert_int_equal(c.scan.severity, SEV_HIGH);
	assert_int_equal(c.scan.other_ports_severity, SEV_MEDIUM);
	assert_int_equal(c.scan.protos, PROTO_TCP);

	assert_int_equal(c.limits.max_hosts, 1024);
	assert_int_equal(c.limits.max_blocked, 200000);
	assert_int_equal(c.limits.max_probes, 4096);
	assert_int_equal(c.limits.max_peers, 8192);
	assert_int_equal(c.incident.window_s, 1800);
	assert_int_equal(c.surveillance.period_s, 2 * 86400);
	assert_true(c.surveillance.factor == 0.25);
	assert_int_equal(c.scan.dark_warmup_s, 3600);
	assert_true(rule(&c, "dark-space")->dark);
	assert_false(rule(&c, "smb-propagation")->dark);

	assert_int_equal(c.inventory.n, 3);
	a = A("10.1.0.77");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_string_equal(e->department, "finance");
	assert_string_equal(e->floor, "3");
	assert_string_equal(e->owner, "IT Finance");
	assert_int_equal(e->line, 23);

	assert_string_equal(c.control.socket, "/tmp/qd.sock");
	assert_string_equal(c.control.group, "wheel");
	assert_string_equal(c.state.dir, "/tmp/qd-state");
	assert_int_equal(c.state.evidence_max_mb, 0);
	assert_int_equal(c.log.facility, LOG_LOCAL3);
	assert_string_equal(c.log.events_file, "/tmp/qd-events.json");
	conf_fini(&c);
}

/* Rules */

static void test_rule_override_threshold(void **state)
{
	struct conf c, d;
	const struct rule *r;

	(void)state;
	load_ok("rules = (\n"
		"  { name = \"smb-propagation\"; distinct_dst = 5; }\n"
		");\n",
		&c);
	assert_int_equal(conf_init_default(&d), 0);
	assert_int_equal(c.nrules, 16);
	r = rule(&c, "smb-propagation");
	assert_int_equal(r->threshold, 5);
	assert_int_equal(r->line, 2);
	/* Everything else is the built-in's. */
	{
		struct rule x = *r;

		x.threshold = d.rules[0].threshold;
		x.line = 0;
		assert_memory_equal(&x, &d.rules[0], sizeof(x));
	}
	for (unsigned i = 1; i < c.nrules; i++)
		assert_memory_equal(&c.rules[i], &d.rules[i], sizeof(c.rules[i]));
	conf_fini(&d);
	conf_fini(&c);
}

static void test_rule_override_keys(void **state)
{
	struct conf c;
	const struct rule *r;

	(void)state;
	load_ok("rules = (\n"
		"  { name = \"smtp-mass-mailing\"; ports = [ 25 ]; window = \"5m\";\n"
		"    severity = \"high\"; exempt_roles = [ ]; count = \"failures\"; },\n"
		"  { name = \"vertical-scan\"; distinct_ports = 50; proto = \"tcp\"; }\n"
		");\n",
		&c);
	r = rule(&c, "smtp-mass-mailing");
	assert_int_equal(r->nports, 1);
	assert_int_equal(r->ports[0], 25);
	assert_int_equal(r->window_s, 300);
	assert_int_equal(r->severity, SEV_HIGH);
	assert_int_equal(r->exempt_roles, 0);
	assert_int_equal(r->count, COUNT_FAILURES);
	assert_int_equal(r->threshold, 20);
	r = rule(&c, "vertical-scan");
	assert_int_equal(r->threshold, 50);
	assert_int_equal(r->protos, PROTO_TCP);
	assert_int_equal(r->type, RULE_VERTICAL);
	conf_fini(&c);
}

static void test_rule_disable(void **state)
{
	struct conf c;

	(void)state;
	load_ok("rules = ( { name = \"icmp-sweep\"; enabled = false; } );\n", &c);
	assert_int_equal(c.nrules, 16);
	assert_false(rule(&c, "icmp-sweep")->enabled);
	assert_int_equal(rule(&c, "icmp-sweep")->threshold, 15);
	assert_true(rule(&c, "arp-sweep")->enabled);
	conf_fini(&c);
}

static void test_rule_add(void **state)
{
	struct conf c;
	const struct rule *r;

	(void)state;
	load_ok("\n"
		"rules = (\n"
		"  { name = \"vnc-propagation\"; proto = \"tcp\"; ports = [ 5900, 5901 ];\n"
		"    distinct_dst = 8; },\n"
		"  { name = \"deep_scan\"; type = \"vertical\"; proto = \"any\"; distinct_ports = "
		"100;\n"
		"    window = 300; severity = \"high\"; count = \"failures\";\n"
		"    exempt_roles = [ \"scanner\", \"mailserver\" ]; enabled = false; },\n"
		"  { name = \"dns-flood\"; proto = \"udp\"; ports = [ 53 ]; distinct_dst = 100;\n"
		"    exempt_roles = \"mailserver\"; }\n"
		");\n",
		&c);
	assert_int_equal(c.nrules, 19);
	r = &c.rules[16];
	assert_string_equal(r->name, "vnc-propagation");
	assert_int_equal(conf_rule_find(&c, "vnc-propagation"), 16);
	assert_true(r->enabled);
	assert_false(r->builtin);
	assert_int_equal(r->type, RULE_HORIZONTAL);
	assert_int_equal(r->protos, PROTO_TCP);
	assert_int_equal(r->nports, 2);
	assert_int_equal(r->ports[0], 5900);
	assert_int_equal(r->ports[1], 5901);
	assert_int_equal(r->threshold, 8);
	/* The defaults of a new rule. */
	assert_int_equal(r->window_s, 60);
	assert_int_equal(r->severity, SEV_MEDIUM);
	assert_int_equal(r->count, COUNT_FIRST_CONTACTS);
	assert_int_equal(r->exempt_roles, ROLE_SCANNER);
	assert_int_equal(r->line, 3);

	r = &c.rules[17];
	assert_string_equal(r->name, "deep_scan");
	assert_false(r->enabled);
	assert_int_equal(r->type, RULE_VERTICAL);
	assert_int_equal(r->protos, PROTO_TCP | PROTO_UDP);
	assert_int_equal(r->nports, 0);
	assert_int_equal(r->threshold, 100);
	assert_int_equal(r->window_s, 300);
	assert_int_equal(r->severity, SEV_HIGH);
	assert_int_equal(r->count, COUNT_FAILURES);
	assert_int_equal(r->exempt_roles, ROLE_SCANNER | ROLE_MAILSERVER);

	assert_int_equal(c.rules[18].exempt_roles, ROLE_MAILSERVER);
	conf_fini(&c);
}

static void test_rule_errors(void **state)
{
	struct conf_diags d;

	(void)state;
	expect_one("rules = ( { proto = \"tcp\"; distinct_dst = 5; } );\n", 1,
		   "'rules[0]' needs a 'name'");
	expect_one("rules = ( { name = \"Bad Name\"; enabled = false; } );\n", 1,
		   "bad rule name 'Bad Name'");
	expect_one("rules = ( { name = \"x1234567890123456789012345678901234567890123456789\";"
		   " proto = \"tcp\"; distinct_dst = 5; } );\n",
		   1, "'rules[0].name' is too long (at most 47 characters)");
	expect_one("rules = ( { name = \"new-rule\"; distinct_dst = 5; } );\n", 1,
		   "new rule 'new-rule' needs 'proto'");
	expect_one("rules = ( { name = \"new-rule\"; proto = \"udp\"; } );\n", 1,
		   "new rule 'new-rule' needs 'distinct_dst'");
	expect_one("rules = ( { name = \"new-rule\"; type = \"vertical\"; proto = \"udp\"; } );\n",
		   1, "new rule 'new-rule' needs 'distinct_ports'");
	expect_one("rules = (\n { name = \"v\"; type = \"vertical\"; proto = \"tcp\";\n"
		   "   distinct_dst = 5; } );\n",
		   3, "'rules[0].distinct_dst' does not apply to a vertical rule");
	expect_one("rules = (\n { name = \"smb-propagation\";\n distinct_ports = 5; } );\n", 3,
		   "'rules[0].distinct_ports' does not apply to a horizontal rule");
	expect_one("rules = ( { name = \"v\"; type = \"vertical\"; proto = \"icmp\";"
		   " distinct_ports = 5; } );\n",
		   1, "rule 'v' is vertical");
	expect_one("rules = ( { name = \"icmp-sweep\";\n ports = [ 7 ]; } );\n", 2,
		   "ports apply to tcp and udp only");
	expect_one("rules = ( { name = \"n\"; proto = \"sctp\"; distinct_dst = 5; } );\n", 1,
		   "'rules[0].proto' must be \"tcp\", \"udp\", \"icmp\", \"arp\" or \"any\" (not "
		   "\"sctp\")");
	expect_one("rules = ( { name = \"smb-propagation\"; type = \"diagonal\"; } );\n", 1,
		   "'rules[0].type' must be \"horizontal\", \"vertical\", \"forgery\" or "
		   "\"bruteforce\"");
	expect_one("rules = ( { name = \"smb-propagation\"; count = \"all\"; } );\n", 1,
		   "'rules[0].count' must be \"first_contacts\" or \"failures\"");
	expect_one(
		"rules = ( { name = \"smb-propagation\"; severity = \"critical\"; } );\n", 1,
		"'rules[0].severity' must be \"low\", \"medium\" or \"high\" (not \"critical\")");
	expect_one(
		"rules = ( { name = \"smb-propagation\"; exempt_roles = [ \"printer\" ]; } );\n", 1,
		"'rules[0].exempt_roles[0]' must be \"mailserver\", \"scanner\" or \"management\"");
	expect_one("rules = ( { name = \"smb-propagation\"; ports = [ 445, 445 ]; } );\n", 1,
		   "duplicate port 445 in 'rules[0].ports'");
	expect_one("rules = ( { name = \"smb-propagation\"; ports = [ 1, 2, 3, 4, 5, 6, 7, 8, 9,"
		   " 10, 11, 12, 13, 14, 15, 16, 17 ]; } );\n",
		   1, "'rules[0].ports' has more than 16 ports");
	expect_one("rules = ( \"smb\" );\n", 1, "'rules[0]' must be a group");
	expect_one("rules = { name = \"smb\"; };\n", 1, "'rules' must be a list of groups");

	/* Duplicate names: of a built-in and of a new rule. */
	load_bad("rules = (\n"
		 "  { name = \"icmp-sweep\"; enabled = false; },\n"
		 "  { name = \"mine\"; proto = \"tcp\"; distinct_dst = 3; },\n"
		 "  { name = \"icmp-sweep\"; enabled = true; },\n"
		 "  { name = \"mine\"; proto = \"udp\"; distinct_dst = 3; }\n"
		 ");\n",
		 &d);
	assert_int_equal(d.n, 2);
	expect_diag(&d, 4, "duplicate rule name 'icmp-sweep' (first on line 2)");
	expect_diag(&d, 5, "duplicate rule name 'mine' (first on line 3)");
}

/* A dark-space rule of one's own: ICMP echo sweeps into dark space. */
static void test_rule_dark(void **state)
{
	struct conf c;

	(void)state;
	load_ok("rules = ( { name = \"dark-icmp\"; proto = \"icmp\"; distinct_dst = 4; count = "
		"\"failures\"; dark = true; } );\n",
		&c);
	assert_true(rule(&c, "dark-icmp")->dark);
	assert_int_equal(rule(&c, "dark-icmp")->protos, PROTO_ICMP);
	conf_fini(&c);
}

static void test_rule_too_many(void **state)
{
	char text[8192];
	size_t n = 0;
	struct conf_diags d;
	struct conf c;

	(void)state;
	/* 16 built-ins + 16 = 32 fits... */
	n += (size_t)snprintf(text + n, sizeof(text) - n, "rules = (\n");
	for (int i = 0; i < 16; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "%s{ name = \"r%d\"; proto = \"tcp\"; ports = [ %d ]; "
				      "distinct_dst = 5; }\n",
				      i ? "," : "", i, 1000 + i);
	snprintf(text + n, sizeof(text) - n, ");\n");
	load_ok(text, &c);
	assert_int_equal(c.nrules, CONF_MAX_RULES);
	conf_fini(&c);

	/* ...one more does not. */
	snprintf(text + n, sizeof(text) - n,
		 ",{ name = \"r99\"; proto = \"tcp\"; distinct_dst = 5; }\n);\n");
	load_bad(text, &d);
	assert_int_equal(d.n, 1);
	expect_diag(&d, 18, "too many rules: at most 32");
}

/* Unknown keys */

static void test_unknown_keys(void **state)
{
	struct conf_diags d;

	(void)state;
	expect_one("capture: { snaplen = 128; };\n\nfrobnicate = 3;\n", 3,
		   "unknown key 'frobnicate' at the top level");
	expect_one("capture: {\n  snaplen = 128;\n  snap_len = 128;\n};\n", 3,
		   "unknown key 'snap_len' in 'capture' (did you mean 'snaplen'?)");
	/* theta0 or theta1: as close, no guess. */
	load_bad("scan: {\n  enabled = true;\n  thetaO = 0.8;\n};\n", &d);
	assert_int_equal(d.n, 1);
	expect_diag(&d, 3, "unknown key 'thetaO' in 'scan'");
	assert_null(strstr(d.d[0].msg, "did you mean"));
	expect_one("scan: { detecton = 0.99; };\n", 1,
		   "unknown key 'detecton' in 'scan' (did you mean 'detection'?)");
	expect_one("rules = ( { name = \"smb-propagation\"; distinct_dts = 5; } );\n", 1,
		   "unknown key 'distinct_dts' in 'rules[0]' (did you mean 'distinct_dst'?)");
	expect_one("sruveillance: { period = 0; };\n", 1,
		   "unknown key 'sruveillance' at the top level (did you mean 'surveillance'?)");
	expect_one("rules = (\n  { name = \"smb-propagation\";\n"
		   "    distinct_dst = 5;\n    treshold = 4; }\n);\n",
		   4, "unknown key 'treshold' in 'rules[0]'");
	expect_one("inventory = (\n  { net = \"10.1.0.0/24\"; },\n"
		   "  { net = \"10.2.0.0/24\";\n    dept = \"x\"; }\n);\n",
		   4, "unknown key 'dept' in 'inventory[1]'");
	expect_one("log: { facility = \"daemon\"; syslog = true; };\n", 1,
		   "unknown key 'syslog' in 'log'");

	/* Nothing close: no guess. */
	load_bad("state: { evidence = 5; };\n", &d);
	assert_int_equal(d.n, 1);
	assert_null(strstr(d.d[0].msg, "did you mean"));

	/* A nested group inside a group is unknown too, not walked into. */
	load_bad("networks: {\n  extra: { protected = [ \"10.0.0.0/8\" ]; };\n};\n", &d);
	assert_int_equal(d.n, 1);
	expect_diag(&d, 2, "unknown key 'extra' in 'networks'");
}

/* Every key conf_keys() lists is one its group takes: whatever the value
 * (a string none of them wants here), never "unknown key". */
static void test_keys_listed_are_known(void **state)
{
	const char *const *groups = conf_keys("");

	(void)state;
	assert_null(conf_keys("nope"));
	for (unsigned g = 0; groups[g]; g++) {
		const char *const *keys = conf_keys(groups[g]);
		bool list = strcmp(groups[g], "rules") == 0 || strcmp(groups[g], "inventory") == 0;

		assert_non_null(keys);
		for (unsigned k = 0; keys[k]; k++) {
			char text[256];
			struct conf_diags d;
			struct conf c;

			snprintf(text, sizeof(text),
				 list ? "%s = ( { %s = \"#\"; } );\n" : "%s: { %s = \"#\"; };\n",
				 groups[g], keys[k]);
			if (load(text, &c, &d) == 0) {
				conf_fini(&c);
				continue;
			}
			for (unsigned i = 0; i < d.n; i++)
				if (strstr(d.d[i].msg, "unknown key"))
					fail_msg("%s.%s: %s", groups[g], keys[k], d.d[i].msg);
		}
	}
}

/* Types */

static void test_wrong_types(void **state)
{
	struct conf_diags d;

	(void)state;
	expect_one("capture: { snaplen = \"160\"; };\n", 1, "'capture.snaplen' must be an integer");
	expect_one("capture: { snaplen = 160.0; };\n", 1, "'capture.snaplen' must be an integer");
	expect_one("capture = 5;\n", 1, "'capture' must be a group");
	expect_one("scan: { enabled = 1; };\n", 1, "'scan.enabled' must be a boolean");
	expect_one("scan: { theta0 = \"high\"; };\n", 1, "'scan.theta0' must be a number");
	expect_one("networks: { protected = \"10.0.0.0/8\"; };\n", 1,
		   "'networks.protected' must be a list of networks");
	expect_one("networks: { admin = [ 10 ]; };\n", 1, "'networks.admin[0]' must be a string");
	expect_one("enforce: { mode = true; };\n", 1, "'enforce.mode' must be a string");
	expect_one("enforce: { mode = \"block\"; };\n", 1,
		   "'enforce.mode' must be \"enforce\" or \"alert\" (not \"block\")");
	expect_one("enforce: { family = \"ip\"; };\n", 1,
		   "'enforce.family' must be \"inet\" or \"bridge\"");
	expect_one("policy: { high = \"block\"; };\n", 1,
		   "'policy.high' must be \"watch\", \"contain\" or \"isolate\" (not \"block\")");
	expect_one("inventory = ( { net = \"10.0.0.0/8\"; critical = \"yes\"; } );\n", 1,
		   "'inventory[0].critical' must be a boolean");
	expect_one("inventory = ( { net = \"10.0.0.0/8\"; floor = 1.5; } );\n", 1,
		   "'inventory[0].floor' must be a string or an integer");
	expect_one("inventory = ( { net = 10; } );\n", 1, "'inventory[0].net' must be a string");
	expect_one("inventory = { net = \"10.0.0.0/8\"; };\n", 1,
		   "'inventory' must be a list of groups");
	expect_one("log: { facility = \"kern\"; };\n", 1, "'log.facility' must be \"daemon\"");
	expect_one("scan: { protocols = [ \"icmp\" ]; };\n", 1,
		   "'scan.protocols[0]' must be \"tcp\" or \"udp\"");
	expect_one("scan: { protocols = [ ]; };\n", 1, "'scan.protocols' must be a non-empty list");
	expect_one("enforce: { default_ttl = 1.5; };\n", 1,
		   "'enforce.default_ttl' must be a duration");

	/* A string too long for its buffer is an error, not a truncation. */
	load_bad("control: { group = "
		 "\"g123456789012345678901234567890123456789012345678901234567890123\"; };\n",
		 &d);
	expect_diag(&d, 1, "'control.group' is too long (at most 63 characters)");
	expect_one("control: { socket = \"\"; };\n", 1, "'control.socket' must not be empty");
}

/* Networks */

static void test_bad_cidr(void **state)
{
	struct conf c;
	struct conf_diags d;

	(void)state;
	expect_one("networks: {\n  protected = [ \"10.0.0.0/8\",\n \"10.0.0.0/33\" ];\n};\n", 3,
		   "bad network address '10.0.0.0/33' in 'networks.protected'");
	expect_one("networks: { never_block = [ \"banana\" ]; };\n", 1,
		   "bad network address 'banana'");
	expect_one("networks: { never_block = [ \"10.0.0.1/\" ]; };\n", 1,
		   "bad network address '10.0.0.1/'");
	expect_one("networks: { never_block = [ \"fc00::/129\" ]; };\n", 1,
		   "bad network address 'fc00::/129'");
	/* Host bits set: say so and suggest the network. */
	expect_one("networks: { protected = [ \"10.0.0.1/8\" ]; };\n", 1,
		   "bad network address '10.0.0.1/8' in 'networks.protected' (host bits set; did "
		   "you mean '10.0.0.0/8'?)");
	expect_one("inventory = ( { net = \"fd00::1/64\"; } );\n", 1,
		   "(host bits set; did you mean 'fd00::/64'?)");
	expect_one("networks: { remediation = [ \"10.0.9.10\", \"10.0.9.10/32\" ]; };\n", 1,
		   "duplicate network '10.0.9.10/32' in 'networks.remediation'");
	expect_one("networks: { protected = [ ]; };\n", 1,
		   "'networks.protected' must not be empty");

	/* Empty lists are fine elsewhere, [] and () alike. */
	load_ok("networks: { never_block = [ ]; admin = ( ); };\ninventory = [ ];\nrules = ( );\n",
		&c);
	assert_int_equal(c.networks.never_block.n, 0);
	assert_int_equal(c.nrules, 16);
	conf_fini(&c);

	/* Every bad entry of a list is reported. */
	load_bad("networks: { admin = [ \"1.2.3.4/40\", \"x\", \"1.2.3.4\" ]; };\n", &d);
	assert_int_equal(d.n, 2);
}

static void test_interfaces(void **state)
{
	struct conf c;

	(void)state;
	load_ok("capture: { interfaces = ( \"eth0\", \"enp3s0f1.100\" ); };\n", &c);
	assert_int_equal(c.capture.ninterfaces, 2);
	assert_string_equal(c.capture.interfaces[1], "enp3s0f1.100");
	conf_fini(&c);
	expect_one("capture: { interfaces = [ \"eth0\", \"a123456789abcdef\" ]; };\n", 1,
		   "bad interface name 'a123456789abcdef'");
	expect_one("capture: { interfaces = [ \"eth0\", \"eth0\" ]; };\n", 1,
		   "duplicate interface 'eth0'");
	expect_one("capture: { interfaces = [ \"../x\" ]; };\n", 1, "bad interface name");
	expect_one(
		"capture: { interfaces = [ \"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\","
		" \"i\", \"j\", \"k\", \"l\", \"m\", \"n\", \"o\", \"p\", \"q\" ]; };\n",
		1, "'capture.interfaces' names more than 16 interfaces");
}

/* Ports and ranges */

static void test_bad_ports(void **state)
{
	(void)state;
	expect_one("rules = ( { name = \"smb-propagation\"; ports = [ 445, 0 ]; } );\n", 1,
		   "bad port 0 in 'rules[0].ports' (1 to 65535)");
	expect_one("rules = (\n { name = \"x\"; proto = \"tcp\"; distinct_dst = 4;\n"
		   "   ports = [ 70000 ]; } );\n",
		   3, "bad port 70000 in 'rules[0].ports'");
	expect_one("rules = ( { name = \"smb-propagation\"; ports = [ -1 ]; } );\n", 1,
		   "bad port -1");
	expect_one("rules = ( { name = \"smb-propagation\"; ports = [ \"445\" ]; } );\n", 1,
		   "'rules[0].ports' must contain port numbers");
	expect_one("rules = ( { name = \"smb-propagation\"; ports = 445; } );\n", 1,
		   "'rules[0].ports' must be a list of ports");
}

static void test_ranges(void **state)
{
	struct conf c;

	(void)state;
	expect_one("rules = ( { name = \"smb-propagation\"; distinct_dst = 1; } );\n", 1,
		   "'rules[0].distinct_dst' must be between 2 and 65535 (not 1)");
	expect_one("rules = ( { name = \"smb-propagation\"; distinct_dst = 70000; } );\n", 1,
		   "'rules[0].distinct_dst' must be between 2 and 65535 (not 70000)");
	expect_one("rules = ( { name = \"vertical-scan\"; distinct_ports = 0; } );\n", 1,
		   "'rules[0].distinct_ports' must be between 2 and 65535");
	expect_one("rules = ( { name = \"smb-propagation\"; window = 0; } );\n", 1,
		   "'rules[0].window' must be between 1 and 86400 seconds (not 0)");
	expect_one("rules = ( { name = \"smb-propagation\"; window = \"2d\"; } );\n", 1,
		   "'rules[0].window' must be between 1 and 86400 seconds (not 172800)");
	expect_one("capture: { snaplen = 95; };\n", 1,
		   "'capture.snaplen' must be between 96 and 65535 (not 95)");
	expect_one("capture: { snaplen = 65536; };\n", 1, "'capture.snaplen' must be between");
	expect_one("capture: { buffer_mb = 0; };\n", 1,
		   "'capture.buffer_mb' must be between 1 and 2047");
	expect_one("scan: { theta0 = 1.0; };\n", 1,
		   "'scan.theta0' must be greater than 0 and less than 1 (not 1)");
	expect_one("scan: { theta1 = 0; };\n", 1, "'scan.theta1' must be greater than 0");
	expect_one("scan: { detection = 0.5; };\n", 1,
		   "'scan.detection' must be greater than 0.5 and less than 1");
	expect_one("scan: { false_alarm = 0.5; };\n", 1,
		   "'scan.false_alarm' must be greater than 0 and less than 0.5");
	expect_one("scan: {\n  theta0 = 0.3;\n  theta1 = 0.4;\n};\n", 3,
		   "'scan.theta1' (0.4) must be less than 'scan.theta0' (0.3)");
	expect_one("scan: {\n  theta1 = 0.85;\n};\n", 2, "must be less than 'scan.theta0' (0.8)");
	expect_one("scan: { timeout = 0.05; };\n", 1,
		   "'scan.timeout' must be between 0.1 and 60 seconds (not 0.05)");
	expect_one("scan: { timeout = 61; };\n", 1, "'scan.timeout' must be between 0.1 and 60");
	expect_one("scan: { timeout = \"2m\"; };\n", 1, "'scan.timeout' must be between");
	expect_one("limits: { max_blocked = 99999; };\n", 1,
		   "'limits.max_blocked' must be between 100000 and 16777216 (not 99999)");
	expect_one("limits: { max_hosts = 15; };\n", 1, "'limits.max_hosts' must be between 16");
	expect_one("limits: { max_probes = 1023; };\n", 1,
		   "'limits.max_probes' must be between 1024");
	expect_one("limits: { max_peers = 67108865; };\n", 1, "'limits.max_peers' must be between");
	expect_one("enforce: { max_actions_per_minute = -1; };\n", 1,
		   "'enforce.max_actions_per_minute' must be between 0 and 100000 (not -1)");
	expect_one("enforce: { default_ttl = -5; };\n", 1,
		   "'enforce.default_ttl' must not be negative");
	expect_one("enforce: { default_ttl = \"400d\"; };\n", 1,
		   "'enforce.default_ttl' must be between 0 and 31536000 seconds");
	expect_one("enforce: { table = \"my-table\"; };\n", 1, "bad table name 'my-table'");
	expect_one("enforce: { table = \"t2345678901234567890123456789012\"; };\n", 1,
		   "'enforce.table' is too long (at most 31 characters)");
	expect_one("incident: { window = 86401; };\n", 1,
		   "'incident.window' must be between 1 and 86400");
	expect_one("scan: { dark_warmup = \"2d\"; };\n", 1,
		   "'scan.dark_warmup' must be between 0 and 86400 seconds");
	expect_one(
		"rules = ( { name = \"d1\"; proto = \"tcp\"; distinct_dst = 5; dark = true; } );\n",
		1, "rule 'd1' counts dark space: it must be horizontal, count \"failures\"");
	expect_one("rules = ( { name = \"dark-space\"; proto = \"any\"; type = \"vertical\"; "
		   "distinct_ports = 5; } );\n",
		   1, "rule 'dark-space' counts dark space");
	expect_one("rules = ( { name = \"d2\"; proto = \"arp\"; distinct_dst = 5; count = "
		   "\"failures\"; dark = true; } );\n",
		   1, "not take arp");
	expect_one("surveillance: { factor = 0; };\n", 1,
		   "'surveillance.factor' must be greater than 0 and at most 1 (not 0)");
	expect_one("surveillance: { factor = 1.5; };\n", 1,
		   "'surveillance.factor' must be greater than 0 and at most 1 (not 1.5)");
	expect_one("surveillance: { factor = \"half\"; };\n", 1,
		   "'surveillance.factor' must be a number");
	expect_one("surveillance: { period = \"400d\"; };\n", 1,
		   "'surveillance.period' must be between 0 and 31536000 seconds");
	expect_one("surveillance: { periode = 5; };\n", 1, "surveillance");
	expect_one("state: { evidence_max_mb = 1048577; };\n", 1,
		   "'state.evidence_max_mb' must be between");

	/* The edges themselves are valid. */
	load_ok("capture: { snaplen = 96; buffer_mb = 2047; };\n"
		"scan: { timeout = 0.1; theta0 = 0.5; theta1 = 0.49; };\n"
		"limits: { max_hosts = 16; max_blocked = 16777216; max_probes = 1024;"
		" max_peers = 67108864; };\n"
		"enforce: { max_actions_per_minute = 100000; default_ttl = \"365d\";"
		" table = \"T_1\"; };\n"
		"incident: { window = 1; };\n"
		"rules = ( { name = \"smb-propagation\"; distinct_dst = 65535; window = 86400; },\n"
		"          { name = \"ssh-propagation\"; distinct_dst = 2; ports = [ 65535, 1 ]; } "
		");\n",
		&c);
	assert_int_equal(c.scan.timeout_ms, 100);
	assert_int_equal(c.limits.max_blocked, 16777216);
	assert_int_equal(c.enforce.default_ttl_s, 365 * 86400);
	conf_fini(&c);
}

static void test_durations(void **state)
{
	struct conf c;

	(void)state;
	load_ok("enforce: { default_ttl = \"12h\"; };\n"
		"incident: { window = \"10m\"; };\n"
		"scan: { timeout = \"5s\"; };\n"
		"rules = ( { name = \"smb-propagation\"; window = \"90s\"; },\n"
		"          { name = \"rdp-propagation\"; window = 120; },\n"
		"          { name = \"ssh-propagation\"; window = \"1d\"; } );\n",
		&c);
	assert_int_equal(c.enforce.default_ttl_s, 12 * 3600);
	assert_int_equal(c.incident.window_s, 600);
	assert_int_equal(c.scan.timeout_ms, 5000);
	assert_int_equal(rule(&c, "smb-propagation")->window_s, 90);
	assert_int_equal(rule(&c, "rdp-propagation")->window_s, 120);
	assert_int_equal(rule(&c, "ssh-propagation")->window_s, 86400);
	conf_fini(&c);

	load_ok("enforce: { default_ttl = 3600; };\nscan: { timeout = 1; };\n", &c);
	assert_int_equal(c.enforce.default_ttl_s, 3600);
	assert_int_equal(c.scan.timeout_ms, 1000);
	conf_fini(&c);

	expect_one("enforce: { default_ttl = \"12x\"; };\n", 1,
		   "bad duration '12x' for 'enforce.default_ttl'");
	expect_one("enforce: { default_ttl = \"h\"; };\n", 1, "bad duration 'h'");
	expect_one("incident: { window = \"\"; };\n", 1, "bad duration ''");
}

/* Inventory */

static void test_inventory(void **state)
{
	struct conf c;
	const struct inv_entry *e;
	struct qaddr a;

	(void)state;
	load_ok("inventory = (\n"
		"  { net = \"10.1.0.0/16\"; department = \"finance\"; floor = 3; },\n"
		"  { net = \"10.1.5.0/24\"; department = \"it\"; floor = \"B2\"; owner = \"Ops\"; "
		"},\n"
		"  { net = \"10.1.5.10\"; name = \"fileserver\"; critical = true; },\n"
		"  { net = \"10.1.5.25/32\"; name = \"mail\"; role = \"mailserver\"; },\n"
		"  { net = \"10.1.5.30\"; name = \"scan\"; role = [ \"scanner\", \"mailserver\" ]; "
		"},\n"
		"  { net = \"2001:db8:1::/48\"; department = \"research\"; },\n"
		"  { net = \"2001:db8:1::5\"; name = \"lab5\"; role = [ ]; }\n"
		");\n",
		&c);
	assert_int_equal(c.inventory.n, 7);

	a = A("10.1.200.1");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_string_equal(e->department, "finance");
	assert_string_equal(e->floor, "3");
	assert_false(e->critical);
	assert_int_equal(e->roles, 0);
	assert_int_equal(e->line, 2);

	a = A("10.1.5.11");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_string_equal(e->department, "it");
	assert_string_equal(e->floor, "B2");
	assert_string_equal(e->owner, "Ops");

	a = A("10.1.5.10");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_string_equal(e->name, "fileserver");
	assert_true(e->critical);
	assert_int_equal(e->net.plen, 32);

	a = A("10.1.5.25");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_string_equal(e->name, "mail");
	assert_int_equal(e->roles, ROLE_MAILSERVER);

	a = A("10.1.5.30");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_int_equal(e->roles, ROLE_SCANNER | ROLE_MAILSERVER);

	a = A("2001:db8:1:2::1");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_string_equal(e->department, "research");
	a = A("2001:db8:1::5");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_string_equal(e->name, "lab5");
	assert_int_equal(e->net.plen, 128);

	a = A("10.2.0.1");
	assert_null(inventory_lookup(&c.inventory, &a));
	a = A("2001:db8:2::1");
	assert_null(inventory_lookup(&c.inventory, &a));
	conf_fini(&c);
}

static void test_inventory_errors(void **state)
{
	struct conf_diags d;

	(void)state;
	expect_one("inventory = (\n  { net = \"10.1.0.0/24\"; },\n  { net = \"10.1.0.0/24\"; name "
		   "= \"x\"; }\n);\n",
		   3, "duplicate inventory network '10.1.0.0/24' (first on line 2)");
	expect_one("inventory = ( { name = \"nowhere\"; } );\n", 1, "'inventory[0]' needs a 'net'");
	expect_one("inventory = ( { net = \"10.0.0.0/8\"; role = \"printer\"; } );\n", 1,
		   "'inventory[0].role' must be \"mailserver\", \"scanner\" or \"management\" (not "
		   "\"printer\")");
	expect_one("inventory = ( { net = \"10.0.0.0/8\"; role = 1; } );\n", 1,
		   "'inventory[0].role' must be a role or a list of roles");
	expect_one("inventory = ( { net = \"10.0.0.0/8\"; floor = "
		   "\"123456789012345678901234567890123\"; } );\n",
		   1, "'inventory[0].floor' is too long (at most 31 characters)");
	expect_one("inventory = ( 5 );\n", 1, "'inventory[0]' must be a group");

	/* Each bad entry is reported; the good ones do not hide them. */
	load_bad("inventory = (\n"
		 "  { net = \"10.0.0.0/8\"; },\n"
		 "  { net = \"10.0.0.1/8\"; },\n"
		 "  { net = \"10.9.0.0/16\"; owner = 5; }\n"
		 ");\n",
		 &d);
	assert_int_equal(d.n, 2);
	expect_diag(&d, 3, "host bits set");
	expect_diag(&d, 4, "'inventory[2].owner' must be a string");
}

/* Source forgery */

/* Brute-force rules: connections to one server on the rule's TCP ports. */
static void test_brute_rule(void **state)
{
	struct conf_diags d;
	const struct rule *r;
	struct conf c;

	(void)state;
	load_ok("rules = (\n"
		"  { name = \"login-bruteforce\"; connections = 40; max_duration = \"1m\";\n"
		"    max_bytes = 65536; },\n"
		"  { name = \"service-bruteforce\"; enabled = true; },\n"
		"  { name = \"imap-guessing\"; type = \"bruteforce\"; proto = \"tcp\";\n"
		"    ports = [ 143, 993 ]; connections = 10; window = \"5m\"; }\n"
		");\n",
		&c);
	r = rule(&c, "login-bruteforce");
	assert_int_equal(r->threshold, 40);
	assert_int_equal(r->max_duration_s, 60);
	assert_int_equal(r->max_bytes, 65536);
	assert_int_equal(r->window_s, 600);
	assert_true(rule(&c, "service-bruteforce")->enabled);
	r = rule(&c, "imap-guessing");
	assert_int_equal(r->type, RULE_BRUTE);
	assert_int_equal(r->nports, 2);
	assert_int_equal(r->threshold, 10);
	assert_int_equal(r->window_s, 300);
	assert_int_equal(r->max_duration_s, 30); /* the defaults */
	assert_int_equal(r->max_bytes, 16384);
	assert_int_equal(r->severity, SEV_MEDIUM);
	conf_fini(&c);

	/* No ports, another protocol, a count mode, or the threshold of
	 * another type: each an error on its line. */
	load_bad("rules = (\n"
		 "  { name = \"a\"; type = \"bruteforce\"; proto = \"tcp\"; connections = 5; },\n"
		 "  { name = \"b\"; type = \"bruteforce\"; proto = \"udp\"; ports = [ 53 ];\n"
		 "    connections = 5; },\n"
		 "  { name = \"c\"; type = \"bruteforce\"; proto = \"tcp\"; ports = [ 22 ];\n"
		 "    connections = 5; count = \"failures\"; },\n"
		 "  { name = \"d\"; type = \"bruteforce\"; proto = \"tcp\"; ports = [ 22 ];\n"
		 "    distinct_dst = 5; },\n"
		 "  { name = \"e\"; proto = \"tcp\"; ports = [ 22 ]; distinct_dst = 5;\n"
		 "    max_bytes = 10; },\n"
		 "  { name = \"f\"; type = \"bruteforce\"; proto = \"tcp\"; ports = [ 22 ];\n"
		 "    connections = 5; max_duration = \"2h\"; }\n"
		 ");\n",
		 &d);
	expect_diag(&d, 2, "rule 'a' is a bruteforce rule: it needs proto \"tcp\" and 'ports'");
	expect_diag(&d, 3, "rule 'b' is a bruteforce rule: it needs proto \"tcp\" and 'ports'");
	expect_diag(&d, 6, "'count' does not apply");
	expect_diag(&d, 8, "does not apply to a bruteforce rule (use 'connections')");
	expect_diag(&d, 10, "'rules[4].max_bytes' applies to bruteforce rules only");
	expect_diag(&d, 12, "max_duration");
}

static void test_forgery_rule(void **state)
{
	struct conf c, d;
	const struct rule *r;

	(void)state;
	/* Replaced by name: only the keys given change. */
	load_ok("rules = (\n"
		"  { name = \"source-forgery\"; distinct_src = 3; window = \"5m\"; }\n"
		");\n",
		&c);
	assert_int_equal(conf_init_default(&d), 0);
	assert_int_equal(c.nrules, 16);
	r = rule(&c, "source-forgery");
	assert_int_equal(r - c.rules, 11);
	assert_int_equal(r->type, RULE_FORGERY);
	assert_int_equal(r->threshold, 3);
	assert_int_equal(r->window_s, 300);
	assert_int_equal(r->line, 2);
	assert_true(r->builtin);
	assert_true(r->enabled);
	assert_int_equal(r->protos, PROTO_TCP | PROTO_UDP | PROTO_ICMP | PROTO_ARP);
	assert_int_equal(r->nports, 0);
	assert_int_equal(r->severity, SEV_HIGH);
	for (unsigned i = 0; i < 11; i++)
		assert_memory_equal(&c.rules[i], &d.rules[i], sizeof(c.rules[i]));
	conf_fini(&d);
	conf_fini(&c);

	/* Turned off. */
	load_ok("rules = ( { name = \"source-forgery\"; enabled = false; } );\n", &c);
	assert_int_equal(c.nrules, 16);
	assert_false(rule(&c, "source-forgery")->enabled);
	assert_int_equal(rule(&c, "source-forgery")->threshold, 1);
	conf_fini(&c);

	/* A new one: no proto (it has none), one source is enough. */
	load_ok("rules = (\n"
		"  { name = \"forged-low\"; type = \"forgery\"; distinct_src = 1;\n"
		"    severity = \"low\"; window = 600; }\n"
		");\n",
		&c);
	assert_int_equal(c.nrules, 17);
	r = rule(&c, "forged-low");
	assert_false(r->builtin);
	assert_int_equal(r->type, RULE_FORGERY);
	assert_int_equal(r->threshold, 1);
	assert_int_equal(r->protos, PROTO_TCP | PROTO_UDP | PROTO_ICMP | PROTO_ARP);
	assert_int_equal(r->nports, 0);
	assert_int_equal(r->severity, SEV_LOW);
	assert_int_equal(r->count, COUNT_FIRST_CONTACTS);
	assert_int_equal(r->exempt_roles, ROLE_SCANNER);
	conf_fini(&c);

	/* The edge of the range. */
	load_ok("rules = ( { name = \"source-forgery\"; distinct_src = 65535; } );\n", &c);
	assert_int_equal(rule(&c, "source-forgery")->threshold, 65535);
	conf_fini(&c);
}

static void test_forgery_rule_errors(void **state)
{
	(void)state;
	expect_one("rules = (\n  { name = \"source-forgery\";\n    ports = [ 445 ]; }\n);\n", 3,
		   "rule 'source-forgery' is a forgery rule: it counts source addresses, not "
		   "protocols or ports");
	expect_one("rules = ( { name = \"source-forgery\";\n proto = \"tcp\"; } );\n", 2,
		   "rule 'source-forgery' is a forgery rule");
	expect_one("rules = (\n { name = \"f\"; type = \"forgery\"; proto = \"any\";\n"
		   "   distinct_src = 2; } );\n",
		   2, "rule 'f' is a forgery rule: it counts source addresses");
	/* A rule with ports made into a forgery rule. */
	expect_one("rules = ( { name = \"smb-propagation\"; type = \"forgery\"; } );\n", 1,
		   "rule 'smb-propagation' is a forgery rule");
	expect_one("rules = ( { name = \"f\"; type = \"forgery\"; } );\n", 1,
		   "new rule 'f' needs 'distinct_src'");
	expect_one("rules = ( { name = \"source-forgery\"; distinct_src = 0; } );\n", 1,
		   "'rules[0].distinct_src' must be between 1 and 65535 (not 0)");
	expect_one("rules = ( { name = \"source-forgery\"; distinct_src = 65536; } );\n", 1,
		   "'rules[0].distinct_src' must be between 1 and 65535");
	expect_one("rules = (\n { name = \"horizontal-scan\";\n distinct_src = 5; } );\n", 3,
		   "'rules[0].distinct_src' does not apply to a horizontal rule (use "
		   "'distinct_dst')");
	expect_one("rules = ( { name = \"vertical-scan\"; distinct_src = 5; } );\n", 1,
		   "'rules[0].distinct_src' does not apply to a vertical rule (use "
		   "'distinct_ports')");
	expect_one("rules = (\n { name = \"source-forgery\";\n distinct_dst = 5; } );\n", 3,
		   "'rules[0].distinct_dst' does not apply to a forgery rule (use 'distinct_src')");
	expect_one("rules = ( { name = \"source-forgery\"; distinct_ports = 5; } );\n", 1,
		   "'rules[0].distinct_ports' does not apply to a forgery rule (use "
		   "'distinct_src')");
	expect_one("rules = ( { name = \"source-forgery\";\n distinct_src = 2;\n"
		   " distinct_dst = 5; } );\n",
		   3, "'rules[0]' has both 'distinct_src' and 'distinct_dst'");
	expect_one("rules = ( { name = \"source-forgery\"; count = \"failures\"; } );\n", 1,
		   "rule 'source-forgery' is a forgery rule: 'count' must be \"first_contacts\"");
	/* Made into another type, it would keep a threshold of 1. */
	expect_one("rules = ( { name = \"source-forgery\"; type = \"horizontal\"; } );\n", 1,
		   "rule 'source-forgery' is horizontal: it needs 'distinct_dst' (2 to 65535)");
	expect_one("rules = ( { name = \"source-forgery\"; type = \"vertical\";"
		   " distinct_ports = 5; } );\n",
		   1, "rule 'source-forgery' is vertical");
}

/* Machine identity */

static void test_identity(void **state)
{
	struct conf c;

	(void)state;
	load_ok("identity: {\n"
		"  max_addresses = 64;\n"
		"  trust_after = \"5m\";\n"
		"  move_after = 3600;\n"
		"  unverified_max = \"watch\";\n"
		"  auto_relay = false;\n"
		"};\n"
		"limits: { max_machines = 4096; max_bindings = 8192; };\n",
		&c);
	assert_int_equal(c.identity.max_addresses, 64);
	assert_int_equal(c.identity.trust_after_s, 300);
	assert_int_equal(c.identity.move_after_s, 3600);
	assert_int_equal(c.identity.unverified_max, LEVEL_WATCH);
	assert_false(c.identity.auto_relay);
	assert_int_equal(c.limits.max_machines, 4096);
	assert_int_equal(c.limits.max_bindings, 8192);
	conf_fini(&c);

	/* The edges. */
	load_ok("identity: { max_addresses = 1; trust_after = 0; move_after = 1;"
		" unverified_max = \"isolate\"; };\n"
		"limits: { max_machines = 1024; max_bindings = 67108864; };\n",
		&c);
	assert_int_equal(c.identity.max_addresses, 1);
	assert_int_equal(c.identity.trust_after_s, 0);
	assert_int_equal(c.identity.move_after_s, 1);
	assert_int_equal(c.identity.unverified_max, LEVEL_ISOLATE);
	assert_true(c.identity.auto_relay);
	assert_int_equal(c.limits.max_machines, 1024);
	assert_int_equal(c.limits.max_bindings, 67108864);
	conf_fini(&c);
	load_ok("identity: { max_addresses = 1024; trust_after = \"1d\"; move_after = \"7d\"; };\n"
		"limits: { max_machines = 67108864; max_bindings = 1024; };\n",
		&c);
	assert_int_equal(c.identity.max_addresses, 1024);
	assert_int_equal(c.identity.trust_after_s, 86400);
	assert_int_equal(c.identity.move_after_s, 7 * 86400);
	conf_fini(&c);

	expect_one("identity: { max_addresses = 0; };\n", 1,
		   "'identity.max_addresses' must be between 1 and 1024 (not 0)");
	expect_one("identity: {\n  max_addresses = 1025;\n};\n", 2,
		   "'identity.max_addresses' must be between 1 and 1024 (not 1025)");
	expect_one("identity: { max_addresses = \"32\"; };\n", 1,
		   "'identity.max_addresses' must be an integer");
	expect_one("identity: { trust_after = 86401; };\n", 1,
		   "'identity.trust_after' must be between 0 and 86400 seconds (not 86401)");
	expect_one("identity: { trust_after = -1; };\n", 1,
		   "'identity.trust_after' must not be negative");
	expect_one("identity: { trust_after = \"10q\"; };\n", 1,
		   "bad duration '10q' for 'identity.trust_after'");
	expect_one("identity: { move_after = 0; };\n", 1,
		   "'identity.move_after' must be between 1 and 604800 seconds (not 0)");
	expect_one("identity: { move_after = \"8d\"; };\n", 1,
		   "'identity.move_after' must be between 1 and 604800 seconds (not 691200)");
	expect_one("identity: { move_after = 1.5; };\n", 1,
		   "'identity.move_after' must be a duration");
	expect_one("identity: { unverified_max = \"block\"; };\n", 1,
		   "'identity.unverified_max' must be \"watch\", \"contain\" or \"isolate\" (not "
		   "\"block\")");
	expect_one("identity: { auto_relay = \"yes\"; };\n", 1,
		   "'identity.auto_relay' must be a boolean");
	expect_one("identity: {\n  max_addresses = 32;\n  max_adresses = 32;\n};\n", 3,
		   "unknown key 'max_adresses' in 'identity'");
	expect_one("identity = 5;\n", 1, "'identity' must be a group");
	expect_one("limits: { max_machines = 1023; };\n", 1,
		   "'limits.max_machines' must be between 1024 and 67108864 (not 1023)");
	expect_one("limits: { max_bindings = 67108865; };\n", 1,
		   "'limits.max_bindings' must be between 1024 and 67108864");
}

static void test_routers(void **state)
{
	struct conf c;
	struct conf_diags d;

	(void)state;
	load_ok("networks: {\n"
		"  routers = [ \"00:11:22:33:44:55\", \"10.1.0.254\", \"AA-BB-CC-DD-EE-0F\",\n"
		"              \"10.9.0.0/16\", \"fd00::1\" ];\n"
		"};\n",
		&c);
	assert_int_equal(c.networks.router_macs.n, 2);
	assert_true(has_mac(&c.networks.router_macs, "00:11:22:33:44:55"));
	assert_true(has_mac(&c.networks.router_macs, "aa:bb:cc:dd:ee:0f"));
	assert_false(has_mac(&c.networks.router_macs, "00:11:22:33:44:56"));
	assert_int_equal(c.networks.routers.n, 3);
	assert_true(contains(&c.networks.routers, "10.1.0.254"));
	assert_false(contains(&c.networks.routers, "10.1.0.253"));
	assert_true(contains(&c.networks.routers, "10.9.200.1"));
	assert_true(contains(&c.networks.routers, "fd00::1"));
	assert_false(contains(&c.networks.routers, "fd00::2"));
	/* The other lists are untouched. */
	assert_int_equal(c.networks.never_block.n, 0);
	conf_fini(&c);

	/* Only MACs, only networks, nothing. */
	load_ok("networks: { routers = ( \"02:00:00:00:00:01\" ); };\n", &c);
	assert_int_equal(c.networks.router_macs.n, 1);
	assert_int_equal(c.networks.routers.n, 0);
	conf_fini(&c);
	load_ok("networks: { routers = [ \"10.0.0.1\" ]; };\n", &c);
	assert_int_equal(c.networks.router_macs.n, 0);
	assert_int_equal(c.networks.routers.n, 1);
	conf_fini(&c);
	load_ok("networks: { routers = [ ]; };\n", &c);
	assert_int_equal(c.networks.router_macs.n, 0);
	assert_int_equal(c.networks.routers.n, 0);
	conf_fini(&c);

	expect_one("networks: {\n  routers = [ \"00:11:22:33:44:55\",\n"
		   "    \"00-11-22-33-44-55\" ];\n};\n",
		   3, "duplicate MAC '00-11-22-33-44-55' in 'networks.routers'");
	expect_one("networks: { routers = [ \"10.0.0.1\", \"10.0.0.1/32\" ]; };\n", 1,
		   "duplicate network '10.0.0.1/32' in 'networks.routers'");
	expect_one("networks: { routers = [ \"ff:ff:ff:ff:ff:ff\" ]; };\n", 1,
		   "bad MAC address 'ff:ff:ff:ff:ff:ff' in 'networks.routers': not a unicast MAC");
	expect_one("networks: { routers = [ \"01:00:5e:00:00:01\" ]; };\n", 1, "not a unicast MAC");
	expect_one("networks: { routers = [ \"00:00:00:00:00:00\" ]; };\n", 1, "not a unicast MAC");
	expect_one("networks: { routers = [ \"banana\" ]; };\n", 1,
		   "bad router 'banana' in 'networks.routers' (a MAC address, or an IPv4 or IPv6 "
		   "address or network)");
	expect_one("networks: { routers = [ \"00:11:22:33:44\" ]; };\n", 1,
		   "bad router '00:11:22:33:44'");
	expect_one("networks: { routers = [ \"10.0.0.1/8\" ]; };\n", 1,
		   "bad network address '10.0.0.1/8' in 'networks.routers' (host bits set; did "
		   "you mean '10.0.0.0/8'?)");
	expect_one("networks: { routers = \"10.0.0.1\"; };\n", 1,
		   "'networks.routers' must be a list of MAC addresses and networks");
	expect_one("networks: { routers = [ 5 ]; };\n", 1,
		   "'networks.routers[0]' must be a string");

	/* Every bad entry is reported. */
	load_bad("networks: { routers = [ \"x\", \"ff:ff:ff:ff:ff:ff\", \"10.0.0.1\" ]; };\n", &d);
	assert_int_equal(d.n, 2);
}

/* Inventory entries that name machines */

static void test_inventory_mac(void **state)
{
	struct conf c;
	const struct inv_entry *e;
	struct qaddr a;

	(void)state;
	load_ok("inventory = (\n"
		"  { net = \"10.1.0.0/24\"; department = \"finance\"; },\n"
		"  { mac = \"52:54:00:AB:CD:EF\"; name = \"CEO-Laptop\"; owner = \"CEO\"; },\n"
		"  { net = \"10.1.0.10/32\"; mac = \"52-54-00-00-00-10\"; name = \"printer\"; },\n"
		"  { net = \"2001:db8::10\"; mac = \"52:54:00:00:00:11\"; },\n"
		"  { net = \"10.1.0.20\"; name = \"\"; },\n"
		"  { net = \"10.1.0.21\"; name = \"\"; }\n"
		");\n",
		&c);
	assert_int_equal(c.inventory.n, 6);

	/* A MAC-only entry: by MAC and by name, never by address. */
	a = M("52:54:00:ab:cd:ef");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_string_equal(e->name, "CEO-Laptop");
	assert_true(e->has_mac);
	assert_false(e->has_net);
	assert_int_equal(e->line, 3);
	assert_ptr_equal(inventory_find_name(&c.inventory, "ceo-laptop"), e);
	assert_ptr_equal(inventory_find_name(&c.inventory, "CEO-LAPTOP"), e);
	assert_ptr_equal(inventory_find_name(&c.inventory, "CEO-Laptop"), e);
	assert_null(inventory_find_name(&c.inventory, "ceo"));
	assert_null(inventory_find_name(&c.inventory, ""));
	a = A("10.1.0.77");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_string_equal(e->department, "finance"); /* the network's, not the laptop's */
	a = A("0.0.0.0");
	assert_null(inventory_lookup(&c.inventory, &a));

	/* A pinned host: by address, by MAC and by name, the same entry. */
	a = A("10.1.0.10");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_string_equal(e->name, "printer");
	assert_true(e->has_net);
	assert_true(e->has_mac);
	assert_int_equal(e->net.plen, 32);
	a = M("52:54:00:00:00:10");
	assert_ptr_equal(inventory_lookup(&c.inventory, &a), e);
	assert_ptr_equal(inventory_find_name(&c.inventory, "Printer"), e);
	a = A("2001:db8::10");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_int_equal(e->net.plen, 128);
	a = M("52:54:00:00:00:11");
	assert_ptr_equal(inventory_lookup(&c.inventory, &a), e);

	/* An entry without a MAC is not found by one. */
	a = A("10.1.0.20");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_true(e->has_net);
	assert_false(e->has_mac);
	a = M("52:54:00:00:00:12");
	assert_null(inventory_lookup(&c.inventory, &a));
	conf_fini(&c);

	/* An empty inventory finds nothing. */
	assert_int_equal(conf_init_default(&c), 0);
	a = M("52:54:00:ab:cd:ef");
	assert_null(inventory_lookup(&c.inventory, &a));
	assert_null(inventory_find_name(&c.inventory, "x"));
	conf_fini(&c);
}

static void test_inventory_mac_errors(void **state)
{
	struct conf_diags d;

	(void)state;
	expect_one("inventory = ( { name = \"nowhere\"; } );\n", 1,
		   "'inventory[0]' needs a 'net' or a 'mac'");
	expect_one("inventory = (\n"
		   "  { mac = \"52:54:00:00:00:01\"; name = \"a\"; },\n"
		   "  { net = \"10.1.0.5\";\n"
		   "    mac = \"52:54:00:00:00:01\"; name = \"b\"; }\n"
		   ");\n",
		   4, "duplicate inventory MAC '52:54:00:00:00:01' (first on line 2)");
	expect_one("inventory = (\n  { net = \"10.1.0.0/24\";\n    mac = \"52:54:00:00:00:01\"; "
		   "}\n);\n",
		   2,
		   "'inventory[0]': a 'mac' pins one address: 'net' must be a single host (not "
		   "'10.1.0.0/24')");
	expect_one("inventory = ( { net = \"2001:db8::/64\"; mac = \"52:54:00:00:00:01\"; } );\n",
		   1, "a 'mac' pins one address");
	expect_one("inventory = (\n"
		   "  { net = \"10.1.0.5\"; name = \"FileServer\"; },\n"
		   "  { mac = \"52:54:00:00:00:01\";\n"
		   "    name = \"fileserver\"; }\n"
		   ");\n",
		   4, "duplicate inventory name 'fileserver' (first on line 2)");
	expect_one("inventory = ( { mac = \"52:54:00:00:00\"; } );\n", 1,
		   "bad MAC address '52:54:00:00:00' in 'inventory[0].mac'");
	expect_one("inventory = ( { mac = \"ff:ff:ff:ff:ff:ff\"; } );\n", 1,
		   "bad MAC address 'ff:ff:ff:ff:ff:ff' in 'inventory[0].mac': not a unicast MAC");
	expect_one("inventory = ( { mac = \"00:00:00:00:00:00\"; } );\n", 1, "not a unicast MAC");
	expect_one("inventory = ( { mac = \"33:33:00:00:00:01\"; } );\n", 1, "not a unicast MAC");
	expect_one("inventory = ( { mac = 5; } );\n", 1, "'inventory[0].mac' must be a string");
	/* A name quarantinectl could take for an address or a MAC. */
	expect_one("inventory = ( { net = \"10.1.0.5\"; name = \"10.1.0.6\"; } );\n", 1,
		   "'inventory[0].name' is an address or a MAC, not a name");
	expect_one("inventory = ( { net = \"10.1.0.5\"; name = \"52-54-00-00-00-01\"; } );\n", 1,
		   "is an address or a MAC");

	/* The bad 'mac' is reported, not a missing one too. */
	load_bad("inventory = (\n"
		 "  { mac = \"zz\"; name = \"a\"; },\n"
		 "  { net = \"10.0.0.0/8\"; mac = \"52:54:00:00:00:01\"; }\n"
		 ");\n",
		 &d);
	assert_int_equal(d.n, 2);
	expect_diag(&d, 2, "bad MAC address 'zz'");
	expect_diag(&d, 3, "a 'mac' pins one address");
}

/* Several errors, files and syntax */

static void test_many_errors(void **state)
{
	struct conf_diags d;

	(void)state;
	load_bad("capture: { snaplen = 10; bogus = 1; };\n"		     /* 1 */
		 "networks: { protected = [ \"10.0.0.0/33\" ]; };\n"	     /* 2 */
		 "rules = (\n"						     /* 3 */
		 "  { name = \"smb-propagation\"; ports = [ 0, 70000 ]; }\n" /* 4 */
		 ");\n"							     /* 5 */
		 "scan: { theta0 = 2.0; };\n"				     /* 6 */
		 "limits: { max_blocked = 5; };\n"			     /* 7 */
		 "what = 1;\n",						     /* 8 */
		 &d);
	if (d.n != 8)
		dump(&d);
	assert_int_equal(d.n, 8);
	assert_int_equal(d.dropped, 0);
	/* In file order. */
	expect_diag(&d, 1, "'capture.snaplen' must be between 96 and 65535 (not 10)");
	expect_diag(&d, 1, "unknown key 'bogus' in 'capture'");
	expect_diag(&d, 2, "bad network address '10.0.0.0/33'");
	expect_diag(&d, 4, "bad port 0");
	expect_diag(&d, 4, "bad port 70000");
	expect_diag(&d, 6, "'scan.theta0'");
	expect_diag(&d, 7, "'limits.max_blocked'");
	expect_diag(&d, 8, "unknown key 'what'");
	for (unsigned i = 1; i < d.n; i++)
		assert_true(d.d[i - 1].line <= d.d[i].line);
}

static void test_diag_overflow(void **state)
{
	char text[8192];
	size_t n = 0;
	struct conf_diags d;

	(void)state;
	for (int i = 0; i < CONF_MAX_DIAGS + 6; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "unknown%d = 1;\n", i);
	load_bad(text, &d);
	assert_int_equal(d.n, CONF_MAX_DIAGS);
	assert_int_equal(d.dropped, 6);
}

static void test_missing_file(void **state)
{
	struct conf c;
	struct conf_diags d;
	const char *path = "/nonexistent-dir/quarantined.conf";

	(void)state;
	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(conf_load(&c, path, &d), -ENOENT);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.d[0].file, path);
	assert_int_equal(d.d[0].line, 0);
	assert_string_equal(d.d[0].msg, "No such file or directory");
	assert_null(c.networks.protected_.lpm);
	assert_null(c.inventory.lpm);

	/* A directory is no config file either. */
	assert_int_equal(conf_load(&c, "/", &d), -EISDIR);
	assert_int_equal(d.n, 1);
	/* diags may be NULL. */
	assert_int_equal(conf_load(&c, path, NULL), -ENOENT);
}

static void test_syntax_error(void **state)
{
	struct conf_diags d;

	(void)state;
	load_bad("capture: { snaplen = 128; };\n"
		 "\n"
		 "scan: { enabled = true;\n"
		 "        theta0 = ; };\n",
		 &d);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.d[0].file, tmp_path);
	assert_int_equal(d.d[0].line, 4);
	assert_string_equal(d.d[0].msg, "syntax error");

	/* Duplicate keys are libconfig's to report. */
	load_bad("capture: { snaplen = 128; };\ncapture: { snaplen = 129; };\n", &d);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.d[0].line, 2);
	assert_string_equal(d.d[0].msg, "duplicate setting name");
}

/* The shipped example must load, and show the defaults. */
static void test_example_config(void **state)
{
	const char *src = getenv("QD_SRCDIR");
	char path[4096];
	struct conf c, def;
	struct conf_diags d;
	const struct inv_entry *e;
	struct qaddr a;
	int r;

	(void)state;
	snprintf(path, sizeof(path), "%s/conf/quarantined.conf", src && *src ? src : ".");
	r = conf_load(&c, path, &d);
	if (r != 0)
		for (unsigned i = 0; i < d.n; i++)
			print_message("  diag: %s:%d: %s\n", d.d[i].file, d.d[i].line, d.d[i].msg);
	assert_int_equal(r, 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(conf_init_default(&def), 0);

	check_default_scalars(&c);
	/* The built-ins untouched, one extra rule. */
	assert_int_equal(c.nrules, def.nrules + 1);
	for (unsigned i = 0; i < def.nrules; i++)
		assert_memory_equal(&c.rules[i], &def.rules[i], sizeof(c.rules[i]));
	assert_false(c.rules[def.nrules].builtin);
	assert_int_equal(c.networks.protected_.n, def.networks.protected_.n);
	assert_memory_equal(c.networks.protected_.v, def.networks.protected_.v,
			    def.networks.protected_.n * sizeof(struct prefix));
	assert_true(c.networks.never_block.n > 0);
	assert_true(c.networks.remediation.n > 0);
	assert_true(c.networks.admin.n > 0);
	assert_true(c.inventory.n > 0);
	a = A("10.1.5.10");
	e = inventory_lookup(&c.inventory, &a);
	assert_non_null(e);
	assert_true(e->critical);
	/* Pinned to its MAC; a machine named by its MAC only. */
	assert_true(e->has_mac);
	a = M("52:54:00:1a:05:10");
	assert_ptr_equal(inventory_lookup(&c.inventory, &a), e);
	e = inventory_find_name(&c.inventory, "ceo-laptop");
	assert_non_null(e);
	assert_false(e->has_net);
	assert_int_equal(c.networks.routers.n, 0);
	assert_int_equal(c.networks.router_macs.n, 0);
	conf_fini(&def);
	conf_fini(&c);
}

/* feeds: sources, the map (the file's entries before the built-in
 * ones), and what is refused. */
static void test_feeds(void **state)
{
	struct conf c, def;
	struct conf_diags d;

	(void)state;
	assert_int_equal(conf_init_default(&def), 0);
	assert_int_equal(def.feeds.n, 0);
	assert_true(def.feeds.nmap > 0);
	assert_int_equal(def.feeds.default_level, LEVEL_WATCH);
	assert_int_equal(def.feeds.max_line, FEED_LINE_DEFAULT);
	load_ok("feeds: {\n"
		"  sources = (\n"
		"    { name = \"ids1\"; kind = \"suricata\"; path = "
		"\"/var/log/suricata/eve.json\"; },\n"
		"    { name = \"ids-sock\"; kind = \"suricata\"; socket = "
		"\"/run/quarantined/eve.sock\"; },\n"
		"    { name = \"zeek\"; kind = \"zeek\"; path = "
		"\"/opt/zeek/logs/current/notice.log\"; }\n"
		"  );\n"
		"  map = (\n"
		"    { sid = [ 2019401, 2019402 ]; level = \"ignore\"; },\n"
		"    { kind = \"zeek\"; note = \"Scan::*\"; level = \"contain\"; },\n"
		"    { category = \"Detection of a Network Scan\"; max_severity = 2; level = "
		"\"watch\"; }\n"
		"  );\n"
		"  default_level = \"ignore\";\n"
		"  max_line = 4096;\n"
		"};\n",
		&c);
	assert_int_equal(c.feeds.n, 3);
	assert_string_equal(c.feeds.feed[1].socket, "/run/quarantined/eve.sock");
	assert_int_equal(c.feeds.feed[2].kind, FEED_ZEEK);
	assert_int_equal(c.feeds.nmap, 3 + def.feeds.nmap);
	assert_int_equal(c.feeds.map[0].nsids, 2);
	assert_int_equal(c.feeds.map[0].level, LEVEL_NONE);
	assert_string_equal(c.feeds.map[1].signature, "Scan::*");
	assert_int_equal(c.feeds.map[2].max_severity, 2);
	assert_true(c.feeds.map[3].builtin);
	assert_int_equal(c.feeds.default_level, LEVEL_NONE);
	assert_int_equal(c.feeds.max_line, 4096);
	conf_fini(&c);
	/* Without the built-in entries. */
	load_ok("feeds: { builtin_map = false; map = ( { signature = \"ET WORM *\"; level = "
		"\"isolate\"; } ); };\n",
		&c);
	assert_int_equal(c.feeds.nmap, 1);
	conf_fini(&c);

	load_bad("feeds: { sources = ( { name = \"a\"; kind = \"zeek\"; socket = \"/run/x\"; } ); "
		 "};\n",
		 &d);
	assert_true(has_diag(&d, 1, "only Suricata writes to a socket"));
	load_bad("feeds: { sources = ( { name = \"a\"; kind = \"suricata\"; } ); };\n", &d);
	assert_true(has_diag(&d, 1, "needs either a 'path'"));
	load_bad("feeds: { sources = ( { name = \"A b\"; kind = \"suricata\"; path = \"/x\"; } ); "
		 "};\n",
		 &d);
	assert_true(has_diag(&d, 1, "bad feed name"));
	load_bad("feeds: { sources = ( { name = \"a\"; kind = \"snort\"; path = \"/x\"; } ); };\n",
		 &d);
	assert_true(has_diag(&d, 1, "\"suricata\" or \"zeek\""));
	load_bad(
		"feeds: { sources = ( { name = \"a\"; kind = \"suricata\"; path = \"x\"; } ); };\n",
		&d);
	assert_true(has_diag(&d, 1, "absolute path"));
	load_bad("feeds: { sources = ( { name = \"a\"; kind = \"suricata\"; path = \"/x\"; },\n"
		 "{ name = \"a\"; kind = \"zeek\"; path = \"/y\"; } ); };\n",
		 &d);
	assert_true(has_diag(&d, 2, "duplicate feed name 'a'"));
	load_bad("feeds: { map = ( { category = \"x\"; } ); };\n", &d);
	assert_true(has_diag(&d, 1, "needs a 'level'"));
	load_bad("feeds: { map = ( { note = \"x\"; level = \"block\"; } ); };\n", &d);
	assert_true(has_diag(&d, 1, "\"ignore\", \"watch\""));
	load_bad("feeds: { max_line = 10; };\n", &d);
	assert_true(has_diag(&d, 1, "between 1024 and 1048576"));
	load_bad(
		"feeds: { sources = ( { name = \"a\"; kind = \"suricata\"; pth = \"/x\"; } ); };\n",
		&d);
	assert_true(has_diag(&d, 1, "did you mean 'path'"));
	conf_fini(&def);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_feeds),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_load_full),
		cmocka_unit_test(test_rule_override_threshold),
		cmocka_unit_test(test_rule_override_keys),
		cmocka_unit_test(test_rule_disable),
		cmocka_unit_test(test_rule_add),
		cmocka_unit_test(test_rule_errors),
		cmocka_unit_test(test_rule_dark),
		cmocka_unit_test(test_rule_too_many),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_keys_listed_are_known),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_bad_cidr),
		cmocka_unit_test(test_interfaces),
		cmocka_unit_test(test_bad_ports),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_inventory),
		cmocka_unit_test(test_inventory_errors),
		cmocka_unit_test(test_inventory_mac),
		cmocka_unit_test(test_inventory_mac_errors),
		cmocka_unit_test(test_brute_rule),
		cmocka_unit_test(test_forgery_rule),
		cmocka_unit_test(test_forgery_rule_errors),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_routers),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_diag_overflow),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_example_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
