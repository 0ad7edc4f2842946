/* Fuzz target for the configuration file (conf_load(), conf.c): the input
 * is a quarantined.conf, written to a temporary file and read as the
 * daemon reads it.
 *
 * Inputs with an @include directive are skipped: libconfig then reads any
 * file the input names (/dev/stdin, /dev/zero, ...), which tests the
 * machine, not the parser; the include handling has its unit tests
 * (test_conf).
 *
 * Invariants: the errors are the documented ones; a refused file has at
 * least one FILE:LINE diagnostic, each with a message; an accepted one
 * holds within every bound of struct conf, and its capture filter builds
 * and compiles with libpcap, as the daemon needs at start (quarantined -t
 * must not pass a file the daemon then cannot run with). */
#include <errno.h>
#include <pcap/pcap.h>
#include <strings.h>
#include <string.h>

#include "conf.h"
#include "filter.h"
#include "fuzz.h"

static char path[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(path, sizeof(path), "%s/quarantined.conf", fuzz_tmpdir());
	return 0;
}

static bool has_include(const uint8_t *data, size_t size)
{
	static const char word[] = "@include";

	for (size_t i = 0; i + sizeof(word) - 1 <= size; i++)
		if (strncasecmp((const char *)data + i, word, sizeof(word) - 1) == 0)
			return true;
	return false;
}

static void check_prefixes(const struct prefix_list *l)
{
	for (unsigned i = 0; i < l->n; i++) {
		const struct prefix *p = &l->v[i];

		FUZZ_CHECK(p->addr.family == AF_INET || p->addr.family == AF_INET6);
		FUZZ_CHECK(p->plen <= (p->addr.family == AF_INET ? 32 : 128));
		FUZZ_CHECK(prefix_list_contains(l, &p->addr));
	}
}

static void check_conf(const struct conf *c)
{
	static char filter[65536];
	struct bpf_program prog;
	pcap_t *p;
	int n;

	FUZZ_CHECK(c->capture.ninterfaces <= CONF_MAX_IFACES);
	for (unsigned i = 0; i < c->capture.ninterfaces; i++)
		FUZZ_CHECK(c->capture.interfaces[i][0] != '\0');
	FUZZ_CHECK(c->nrules <= CONF_MAX_RULES);
	for (unsigned i = 0; i < c->nrules; i++) {
		const struct rule *r = &c->rules[i];

		FUZZ_CHECK(r->name[0] != '\0' && conf_rule_find(c, r->name) == (int)i);
		FUZZ_CHECK(r->nports <= CONF_MAX_RULE_PORTS);
		FUZZ_CHECK(r->threshold > 0 && r->window_s > 0);
		FUZZ_CHECK(r->severity <= SEV_HIGH);
	}
	check_prefixes(&c->networks.protected_);
	check_prefixes(&c->networks.never_block);
	check_prefixes(&c->networks.remediation);
	check_prefixes(&c->networks.admin);
	check_prefixes(&c->networks.routers);
	for (unsigned i = 0; i < c->inventory.n; i++) {
		const struct inv_entry *e = &c->inventory.v[i];

		FUZZ_CHECK(e->has_net || e->has_mac);
		if (e->has_net)
			FUZZ_CHECK(inventory_lookup(&c->inventory, &e->net.addr) != NULL);
		if (e->name[0])
			FUZZ_CHECK(inventory_find_name(&c->inventory, e->name) == e);
	}
	FUZZ_CHECK(c->limits.max_blocked >= 100000);
	FUZZ_CHECK(c->enforce.default_ttl_s <= QD_TTL_MAX_S);

	n = filter_build(c, filter, sizeof(filter));
	FUZZ_CHECK(n > 0 && (size_t)n == strlen(filter));
	p = pcap_open_dead(DLT_EN10MB, (int)c->capture.snaplen);
	FUZZ_CHECK(p);
	if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		fprintf(stderr, "the filter does not compile: %s\n%s\n", pcap_geterr(p), filter);
		abort();
	}
	pcap_freecode(&prog);
	pcap_close(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf c;
	static struct conf_diags diags;
	int r;

	if (has_include(data, size))
		return 0;
	fuzz_write_file(fuzz_tmpdir(), "quarantined.conf", data, size);
	r = conf_load(&c, path, &diags);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(diags.n > 0 && diags.n <= CONF_MAX_DIAGS);
		for (unsigned i = 0; i < diags.n; i++)
			FUZZ_CHECK(diags.d[i].msg[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(diags.n == 0);
	check_conf(&c);
	conf_fini(&c);
	return 0;
}
