/* Unit tests of machine identity (identity.h): who a packet is charged
 * to, how bindings gain and lose trust, and what a forger, a flood or a
 * returning owner does to them.  Pure logic: packets are built in memory,
 * time is passed in. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "conf.h"
#include "decode.h"
#include "identity.h"

#define T0  (1767000000ULL * USEC_PER_SEC)
#define SEC USEC_PER_SEC

static const uint8_t GW[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t VIC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0a};
static const uint8_t ATK[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};
static const uint8_t OTH[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0c};
static const uint8_t RTR[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xfe};
static const uint8_t VRRP[6] = {0x00, 0x00, 0x5e, 0x00, 0x01, 0x07};

struct fix {
	struct conf c;
	struct identity *id;
	struct ident_event ev[64];
	unsigned nev;
	bool offline;
	struct identity *rep; /* a replica fed by snapshots */
	unsigned rep_nev;     /* events it emitted: there must be none */
};

static void on_event(void *arg, const struct ident_event *e)
{
	struct fix *x = arg;

	if (x->nev < 64)
		x->ev[x->nev++] = *e;
}

static bool own(void *arg, const uint8_t *mac)
{
	(void)arg;
	return memcmp(mac, GW, 6) == 0;
}

static const struct siphash_key key = {3, 4};

static void start(struct fix *x)
{
	struct ident_params p = {
		.c = &x->c,
		.offline = x->offline,
		.cb = on_event,
		.cb_arg = x,
	};

	x->id = identity_new(&p, &key);
	assert_non_null(x->id);
	identity_set_own(x->id, own, NULL);
}

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	assert_int_equal(conf_init_default(&x->c), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	identity_free(x->id);
	identity_free(x->rep);
	conf_fini(&x->c);
	free(x);
	return 0;
}

static struct qaddr A(const char *s) {
	struct qaddr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static unsigned
events(const struct fix *x, enum ident_event_kind k)
{
	unsigned n = 0;

	for (unsigned i = 0; i < x->nev; i++)
		n += x->ev[i].kind == k;
	return n;
}

/* A TCP SYN from mac/src to dst, as the decoder gives it. */
static struct pkt syn(const uint8_t mac[6], const char *src, const char *dst)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.l3 = strchr(src, ':') ? PKT_L3_IPV6 : PKT_L3_IPV4;
	p.proto = IPPROTO_TCP;
	p.flags = PKT_F_L4 | PKT_F_SMAC | PKT_F_DMAC;
	memcpy(p.src_mac, mac, 6);
	memcpy(p.dst_mac, GW, 6);
	p.src = A(src);
	p.dst = A(dst);
	p.ttl = 64;
	p.sport = 40000;
	p.dport = 445;
	p.tcp_flags = 0x02;
	return p;
}

/* ARP from mac: op 1 who-has, op 2 is-at; sender spa. */
static struct pkt arp(const uint8_t mac[6], unsigned op, const char *spa, const char *tpa)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.l3 = PKT_L3_ARP;
	p.flags = PKT_F_SMAC | PKT_F_DMAC;
	memcpy(p.src_mac, mac, 6);
	memset(p.dst_mac, 0xff, 6);
	memcpy(p.arp_sha, mac, 6);
	p.arp_op = (uint16_t)op;
	p.src = A(spa);
	p.dst = A(tpa);
	return p;
}

/* The gateway delivers a frame for dst to mac. */
static struct pkt delivery(const uint8_t mac[6], const char *dst)
{
	struct pkt p = syn(GW, "10.66.0.2", dst);

	memcpy(p.dst_mac, mac, 6);
	p.tcp_flags = 0x12;
	return p;
}

static struct attribution see(struct fix *x, struct pkt p, usec_t t)
{
	struct attribution a;

	identity_packet(x->id, &p, t, &a);
	return a;
}

static bool is_mac(const struct attribution *a, const uint8_t mac[6])
{
	return addr_is_mac(&a->id) && memcmp(a->id.b, mac, 6) == 0;
}

static enum bind_state state_of(struct fix *x, const char *addr, uint8_t mac[6])
{
	struct qaddr a = A(addr);

	return identity_binding(x->id, &a, mac);
}

/* A host's address goes from claimed (a source) to tentative (its ARP) to
 * established (the gateway delivers to it). */
static void test_trust_ladder(void **state)
{
	struct fix *x = *state;
	struct attribution a;
	uint8_t mac[6];

	start(x);
	a = see(x, syn(VIC, "10.66.1.20", "10.66.200.80"), T0);
	assert_int_equal(a.kind, SRC_OWN);
	assert_true(is_mac(&a, VIC));
	assert_false(a.unverified);
	assert_int_equal(state_of(x, "10.66.1.20", mac), BIND_CLAIMED);
	assert_memory_equal(mac, VIC, 6);

	see(x, arp(VIC, 1, "10.66.1.20", "10.66.1.1"), T0 + SEC);
	assert_int_equal(state_of(x, "10.66.1.20", NULL), BIND_TENTATIVE);

	see(x, delivery(VIC, "10.66.1.20"), T0 + 2 * SEC);
	assert_int_equal(state_of(x, "10.66.1.20", NULL), BIND_ESTABLISHED);
	assert_int_equal(events(x, IDENT_ESTABLISHED), 1);
}

/* The first attack of the issue: a machine sends with another's address
 * from its own MAC.  The packet is charged to the sender, the binding
 * stays the victim's. */
static void test_forged_source_charged_to_sender(void **state)
{
	struct fix *x = *state;
	struct attribution a;
	uint8_t mac[6];

	start(x);
	see(x, arp(VIC, 1, "10.66.1.20", "10.66.1.1"), T0);
	see(x, arp(ATK, 1, "10.66.1.50", "10.66.1.1"), T0);
	for (unsigned i = 0; i < 64; i++) {
		char dst[32];

		snprintf(dst, sizeof(dst), "10.66.%u.%u", 128 + i / 200, 1 + i % 200);
		a = see(x, syn(ATK, "10.66.1.20", dst), T0 + SEC + i);
		assert_int_equal(a.kind, SRC_FORGED);
		assert_true(is_mac(&a, ATK));
	}
	assert_int_equal(state_of(x, "10.66.1.20", mac), BIND_TENTATIVE);
	assert_memory_equal(mac, VIC, 6);
	assert_true(identity_machine(x->id, ATK) & IDM_FORGER);
	assert_false(identity_machine(x->id, VIC) & IDM_FORGER);
	/* One alert, not 64. */
	assert_int_equal(events(x, IDENT_FORGED), 1);
	/* The victim itself is still its own. */
	a = see(x, syn(VIC, "10.66.1.20", "10.66.200.80"), T0 + 2 * SEC);
	assert_int_equal(a.kind, SRC_OWN);
	assert_true(is_mac(&a, VIC));
	/* The forger's own address names it. */
	{
		struct qaddr p;

		assert_true(identity_primary(x->id, ATK, &p));
		assert_true(addr_eq(&p, &(struct qaddr){0}) == false);
		assert_true(addr_eq(&p, &(struct qaddr){.family = AF_INET, .b = {10, 66, 1, 50}}));
	}
}

/* ARP spoofing of a trusted binding: an alert, and no transfer. */
static void test_arp_spoof(void **state)
{
	struct fix *x = *state;
	uint8_t mac[6];

	start(x);
	see(x, arp(VIC, 2, "10.66.1.20", "10.66.1.1"), T0);
	see(x, delivery(VIC, "10.66.1.20"), T0);
	see(x, arp(ATK, 2, "10.66.1.20", "10.66.1.1"), T0 + SEC);
	assert_int_equal(events(x, IDENT_SPOOF), 1);
	assert_int_equal(state_of(x, "10.66.1.20", mac), BIND_ESTABLISHED);
	assert_memory_equal(mac, VIC, 6);
	/* The kernel's neighbour entry, poisoned, says the same: no move. */
	{
		struct qaddr v = A("10.66.1.20");

		identity_neigh(x->id, &v, ATK, IDN_REACHABLE, T0 + 2 * SEC);
	}
	assert_int_equal(state_of(x, "10.66.1.20", mac), BIND_ESTABLISHED);
	assert_memory_equal(mac, VIC, 6);
	/* Still the victim's, uncontested: its own packets are its own. */
	assert_int_equal(see(x, syn(VIC, "10.66.1.20", "10.66.200.80"), T0 + 3 * SEC).kind,
			 SRC_OWN);
	assert_true(identity_machine(x->id, ATK) & IDM_FORGER);
}

/* Two machines with nothing but a source address: contested, neither
 * trusted; it settles when one side goes quiet. */
static void test_contested_then_settled(void **state)
{
	struct fix *x = *state;
	struct attribution a;
	uint8_t mac[6];

	start(x);
	see(x, syn(VIC, "10.66.1.20", "10.66.200.80"), T0);
	a = see(x, syn(ATK, "10.66.1.20", "10.66.200.81"), T0 + SEC);
	assert_int_equal(a.kind, SRC_CONTESTED);
	assert_true(a.unverified);
	assert_true(is_mac(&a, ATK));
	a = see(x, syn(VIC, "10.66.1.20", "10.66.200.82"), T0 + 2 * SEC);
	assert_int_equal(a.kind, SRC_CONTESTED);
	assert_int_equal(events(x, IDENT_CONFLICT), 1);
	/* The attacker stops; after move_after the victim keeps it. */
	a = see(x, syn(VIC, "10.66.1.20", "10.66.200.83"),
		T0 + 2 * SEC + x->c.identity.move_after_s * SEC);
	assert_int_equal(a.kind, SRC_OWN);
	assert_int_equal(state_of(x, "10.66.1.20", mac), BIND_CLAIMED);
	assert_memory_equal(mac, VIC, 6);
}

/* An owner quiet for move_after loses the address (an alert when it was
 * trusted); a blocked owner never does. */
static void test_move_and_frozen(void **state)
{
	struct fix *x = *state;
	struct attribution a;
	usec_t later = T0 + (x->c.identity.move_after_s + 1) * SEC;
	uint8_t mac[6];

	start(x);
	see(x, arp(VIC, 1, "10.66.1.20", "10.66.1.1"), T0);
	see(x, arp(OTH, 1, "10.66.1.21", "10.66.1.1"), T0);
	identity_set_frozen(x->id, OTH, true);

	a = see(x, arp(ATK, 1, "10.66.1.20", "10.66.1.1"), later);
	assert_int_equal(a.kind, SRC_OWN);
	assert_int_equal(state_of(x, "10.66.1.20", mac), BIND_TENTATIVE);
	assert_memory_equal(mac, ATK, 6);
	assert_int_equal(events(x, IDENT_MOVED), 1);

	a = see(x, arp(ATK, 1, "10.66.1.21", "10.66.1.1"), later);
	assert_int_equal(a.kind, SRC_FORGED);
	assert_int_equal(state_of(x, "10.66.1.21", mac), BIND_TENTATIVE);
	assert_memory_equal(mac, OTH, 6);

	/* The old owner back: its own former address is contested, not
	 * forged. */
	a = see(x, syn(VIC, "10.66.1.20", "10.66.200.80"), later + SEC);
	assert_int_equal(a.kind, SRC_CONTESTED);
}

/* A DHCP lease from the gateway is authoritative: the address moves even
 * from a blocked machine. */
static void test_dhcp_from_gateway(void **state)
{
	struct fix *x = *state;
	struct pkt p;
	uint8_t mac[6];

	start(x);
	see(x, arp(OTH, 1, "10.66.1.120", "10.66.1.1"), T0);
	identity_set_frozen(x->id, OTH, true);
	memset(&p, 0, sizeof(p));
	p.l3 = PKT_L3_IPV4;
	p.proto = IPPROTO_UDP;
	p.flags = PKT_F_L4 | PKT_F_SMAC | PKT_F_DMAC | PKT_F_DHCP;
	memcpy(p.src_mac, GW, 6);
	memset(p.dst_mac, 0xff, 6);
	p.src = A("10.66.1.1");
	p.dst = A("255.255.255.255");
	p.sport = 67;
	p.dport = 68;
	p.ttl = 64;
	p.dhcp.op = DHCP_OP_REPLY;
	p.dhcp.msgtype = 5;
	memcpy(p.dhcp.chaddr, VIC, 6);
	p.dhcp.yiaddr = A("10.66.1.120");
	see(x, p, T0 + SEC);
	assert_int_equal(state_of(x, "10.66.1.120", mac), BIND_ESTABLISHED);
	assert_memory_equal(mac, VIC, 6);
	assert_int_equal(events(x, IDENT_MOVED), 1);

	/* The same reply from a machine that is no server: nothing. */
	memcpy(p.src_mac, ATK, 6);
	memcpy(p.dhcp.chaddr, ATK, 6);
	see(x, p, T0 + 2 * SEC);
	assert_int_equal(state_of(x, "10.66.1.120", mac), BIND_ESTABLISHED);
	assert_memory_equal(mac, VIC, 6);
}

/* More source addresses than a machine owns: the excess is forged, and a
 * flood of them leaves the binding table alone. */
static void test_address_bound(void **state)
{
	struct fix *x = *state;
	struct ident_stats st;
	unsigned forged = 0;

	x->c.identity.max_addresses = 4;
	start(x);
	for (unsigned i = 0; i < 1000; i++) {
		char src[32];
		struct attribution a;

		snprintf(src, sizeof(src), "10.66.%u.%u", 2 + i / 250, 1 + i % 250);
		a = see(x, syn(ATK, src, "10.66.200.80"), T0 + i);
		assert_true(is_mac(&a, ATK));
		forged += a.kind == SRC_FORGED;
	}
	assert_int_equal(forged, 1000 - 4);
	identity_get_stats(x->id, &st);
	assert_int_equal(st.bindings, 4);
	assert_int_equal(st.machines, 1);
}

/* A flood of random MACs, each with a random address: the tables stay
 * within their bounds and the trusted bindings of real hosts stay. */
static void test_random_mac_flood(void **state)
{
	struct fix *x = *state;
	struct ident_stats st;
	uint8_t mac[6];

	x->c.limits.max_machines = 1024;
	x->c.limits.max_bindings = 1024;
	start(x);
	see(x, arp(VIC, 1, "10.66.1.20", "10.66.1.1"), T0);
	see(x, delivery(VIC, "10.66.1.20"), T0);
	for (unsigned i = 0; i < 100000; i++) {
		uint8_t m[6] = {0x02, 0x77, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 1};
		char src[32];

		snprintf(src, sizeof(src), "10.66.%u.%u", 2 + (i / 250) % 100, 1 + i % 250);
		see(x, syn(m, src, "10.66.200.80"), T0 + SEC + i);
	}
	identity_get_stats(x->id, &st);
	assert_true(st.machines <= 1024);
	assert_true(st.bindings <= 1024);
	assert_true(st.evicted_machines > 90000);
	assert_int_equal(state_of(x, "10.66.1.20", mac), BIND_ESTABLISHED);
	assert_memory_equal(mac, VIC, 6);
	assert_true(events(x, IDENT_MAC_FLOOD) >= 1);
}

/* Routers: configured by MAC, by address, and VRRP's virtual MACs are
 * judged by source address; so is the gateway's own frame. */
static void test_routers(void **state)
{
	struct fix *x = *state;
	struct attribution a;
	struct prefix p;
	struct prefix_list saved = x->c.networks.routers;

	p.addr = A("10.66.1.254");
	p.plen = 32;
	x->c.networks.routers.v = &p;
	x->c.networks.routers.n = 1;
	x->c.networks.routers.lpm = lpm_new();
	assert_int_equal(lpm_insert(x->c.networks.routers.lpm, &p.addr, 32, 0), 0);
	start(x);

	a = see(x, syn(VRRP, "10.66.9.9", "10.66.200.80"), T0);
	assert_int_equal(a.kind, SRC_UNVERIFIED);
	assert_true(addr_eq(&a.id, &(struct qaddr){.family = AF_INET, .b = {10, 66, 9, 9}}));
	assert_true(a.unverified);

	a = see(x, syn(GW, "10.66.1.1", "10.66.1.20"), T0);
	assert_int_equal(a.kind, SRC_UNVERIFIED);

	/* RTR owns the router address: from then on it is a router. */
	see(x, arp(RTR, 2, "10.66.1.254", "10.66.1.1"), T0);
	assert_true(identity_machine(x->id, RTR) & IDM_ROUTER);
	a = see(x, syn(RTR, "10.66.5.7", "10.66.200.80"), T0 + SEC);
	assert_int_equal(a.kind, SRC_UNVERIFIED);
	lpm_free(x->c.networks.routers.lpm);
	x->c.networks.routers = saved;
}

/* Sources outside the protected networks are not a LAN machine's: judged
 * by address (and never forged). */
static void test_outside_source(void **state)
{
	struct fix *x = *state;
	struct attribution a;

	start(x);
	a = see(x, syn(ATK, "8.8.8.8", "10.66.1.20"), T0);
	assert_int_equal(a.kind, SRC_UNVERIFIED);
	assert_false(identity_machine(x->id, ATK) & IDM_FORGER);
}

/* The same MAC behind two bridge ports in turn: contested. */
static void test_port_flap(void **state)
{
	struct fix *x = *state;
	struct attribution a;

	start(x);
	identity_fdb(x->id, VIC, 3, T0);
	identity_fdb(x->id, VIC, 4, T0 + SEC); /* a laptop moved: fine */
	a = see(x, syn(VIC, "10.66.1.20", "10.66.200.80"), T0 + 2 * SEC);
	assert_false(a.unverified);
	identity_fdb(x->id, VIC, 3, T0 + 3 * SEC); /* and back: two of them */
	assert_int_equal(events(x, IDENT_PORT_FLAP), 1);
	a = see(x, syn(VIC, "10.66.1.20", "10.66.200.80"), T0 + 4 * SEC);
	assert_true(a.unverified);
	assert_true(is_mac(&a, VIC));
	/* Quiet ports for move_after: trusted again. */
	a = see(x, syn(VIC, "10.66.1.20", "10.66.200.80"),
		T0 + 4 * SEC + x->c.identity.move_after_s * SEC);
	assert_false(a.unverified);
}

/* Trust by age: layer-2 evidence, then trust_after without a contest;
 * never for a blocked machine or a forger. */
static void test_trust_by_age(void **state)
{
	struct fix *x = *state;
	usec_t later = T0 + (x->c.identity.trust_after_s + 1) * SEC;

	start(x);
	see(x, arp(VIC, 1, "10.66.1.20", "10.66.1.1"), T0);
	see(x, arp(OTH, 1, "10.66.1.21", "10.66.1.1"), T0);
	see(x, arp(ATK, 1, "10.66.1.22", "10.66.1.1"), T0);
	see(x, syn(ATK, "10.66.9.9", "10.66.200.80"), T0);	/* claims: fine */
	see(x, syn(ATK, "10.66.1.20", "10.66.200.80"), T0 + 1); /* forges */
	identity_set_frozen(x->id, OTH, true);
	see(x, arp(VIC, 1, "10.66.1.20", "10.66.1.1"), later);
	see(x, arp(OTH, 1, "10.66.1.21", "10.66.1.1"), later);
	see(x, arp(ATK, 1, "10.66.1.22", "10.66.1.1"), later);
	assert_int_equal(state_of(x, "10.66.1.20", NULL), BIND_ESTABLISHED);
	assert_int_equal(state_of(x, "10.66.1.21", NULL), BIND_TENTATIVE);
	assert_int_equal(state_of(x, "10.66.1.22", NULL), BIND_TENTATIVE);
}

/* The kernel's neighbour table: a claim, a confirmation, a pin. */
static void test_kernel_neighbours(void **state)
{
	struct fix *x = *state;
	struct qaddr a1 = A("10.66.1.20"), a2 = A("10.66.1.21"), a3 = A("10.66.1.22");
	struct attribution a;

	start(x);
	identity_neigh(x->id, &a1, VIC, IDN_CLAIM, T0);
	identity_neigh(x->id, &a2, OTH, IDN_REACHABLE, T0);
	identity_neigh(x->id, &a3, OTH, IDN_PERMANENT, T0);
	assert_int_equal(identity_binding(x->id, &a1, NULL), BIND_TENTATIVE);
	assert_int_equal(identity_binding(x->id, &a2, NULL), BIND_ESTABLISHED);
	assert_int_equal(identity_binding(x->id, &a3, NULL), BIND_PINNED);
	/* A pin is never anyone else's, however quiet its owner. */
	a = see(x, arp(ATK, 2, "10.66.1.22", "10.66.1.1"), T0 + 100000 * SEC);
	assert_int_equal(a.kind, SRC_FORGED);
}

/* Inventory pins: a MAC with a host address. */
static void test_inventory_pin(void **state)
{
	struct fix *x = *state;
	struct inv_entry e;
	struct attribution a;
	uint8_t mac[6];

	memset(&e, 0, sizeof(e));
	e.net.addr = A("10.66.1.30");
	e.net.plen = 32;
	e.has_net = e.has_mac = true;
	memcpy(e.mac, OTH, 6);
	x->c.inventory.v = &e;
	x->c.inventory.n = 1;
	start(x);
	assert_int_equal(state_of(x, "10.66.1.30", mac), BIND_PINNED);
	assert_memory_equal(mac, OTH, 6);
	a = see(x, syn(ATK, "10.66.1.30", "10.66.200.80"), T0);
	assert_int_equal(a.kind, SRC_FORGED);
	x->c.inventory.v = NULL;
	x->c.inventory.n = 0;
}

/* A machine the gateway delivers more addresses to than one owns is a
 * relay: judged by address from then on. */
static void test_auto_relay(void **state)
{
	struct fix *x = *state;
	struct attribution a;

	x->c.identity.max_addresses = 4;
	start(x);
	for (unsigned i = 0; i < 5; i++) {
		char dst[32];

		snprintf(dst, sizeof(dst), "10.66.1.%u", 100 + i);
		see(x, delivery(RTR, dst), T0 + i);
	}
	assert_int_equal(events(x, IDENT_RELAY), 1);
	assert_true(identity_machine(x->id, RTR) & IDM_RELAY);
	a = see(x, syn(RTR, "10.66.1.103", "10.66.200.80"), T0 + SEC);
	assert_int_equal(a.kind, SRC_UNVERIFIED);
}

/* Offline, a routed packet (its TTL is not an initial one) is judged by
 * address: the capture says nothing of who sent it first. */
static void test_offline_ttl(void **state)
{
	struct fix *x = *state;
	struct attribution a;
	struct pkt p;

	x->offline = true;
	start(x);
	p = syn(RTR, "10.66.5.7", "10.66.200.80");
	p.ttl = 63;
	a = see(x, p, T0);
	assert_int_equal(a.kind, SRC_UNVERIFIED);
	p.ttl = 128;
	a = see(x, p, T0);
	assert_int_equal(a.kind, SRC_OWN);
}

/* No link layer (raw IP): by address. */
static void test_raw_ip(void **state)
{
	struct fix *x = *state;
	struct attribution a;
	struct pkt p;

	start(x);
	p = syn(VIC, "10.66.1.20", "10.66.200.80");
	p.flags &= (uint16_t) ~(PKT_F_SMAC | PKT_F_DMAC);
	a = see(x, p, T0);
	assert_int_equal(a.kind, SRC_UNVERIFIED);
	assert_true(a.unverified);
}

static int count_cb(void *arg, const struct ident_binding *b)
{
	(*(unsigned *)arg)++;
	(void)b;
	return 0;
}

/* What is saved comes back. */
static void test_restore(void **state)
{
	struct fix *x = *state;
	struct ident_binding b;
	unsigned n = 0;
	uint8_t mac[6];

	start(x);
	memset(&b, 0, sizeof(b));
	b.addr = A("10.66.1.20");
	memcpy(b.mac, VIC, 6);
	b.state = BIND_ESTABLISHED;
	b.first_us = T0;
	b.last_us = T0;
	assert_int_equal(identity_restore(x->id, &b), 0);
	assert_int_equal(identity_restore(x->id, &b), -EEXIST);
	b.addr = A("8.8.8.8");
	assert_int_equal(identity_restore(x->id, &b), -EINVAL);
	assert_int_equal(state_of(x, "10.66.1.20", mac), BIND_ESTABLISHED);
	identity_foreach(x->id, BIND_TENTATIVE, count_cb, &n);
	assert_int_equal(n, 1);
}

/* ---- snapshots: the sensor's view of a machine, into a replica ---- */

static struct ident_snap S, S2;

static void on_rep_event(void *arg, const struct ident_event *e)
{
	struct fix *x = arg;

	(void)e;
	x->rep_nev++;
}

static void start_rep(struct fix *x)
{
	struct ident_params p = {
		.c = &x->c,
		.cb = on_rep_event,
		.cb_arg = x,
		.is_own_mac = own,
	};

	x->rep = identity_new(&p, &key);
	assert_non_null(x->rep);
	/* Its own configuration's pins are events of its start. */
	x->rep_nev = 0;
}

static void snap_init(struct ident_snap *s, const uint8_t mac[6], uint8_t flags)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->mac, mac, 6);
	s->flags = flags;
}

static struct ident_snap_bind *snap_add(struct ident_snap *s, const char *addr, enum bind_state st,
					usec_t first, usec_t last)
{
	struct ident_snap_bind *e = &s->b[s->nbind++];

	e->addr = A(addr);
	e->state = (uint8_t)st;
	e->first_us = first;
	e->last_us = last;
	return e;
}

static enum bind_state rep_state(struct fix *x, const char *addr, uint8_t mac[6])
{
	struct qaddr a = A(addr);

	return identity_binding(x->rep, &a, mac);
}

/* A pin of 10.66.1.30 to VIC in the inventory (the conf frees it). */
static void pin_vic(struct fix *x)
{
	struct inv_entry *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->net.addr = A("10.66.1.30");
	e->net.plen = 32;
	e->has_net = e->has_mac = true;
	memcpy(e->mac, VIC, 6);
	x->c.inventory.v = e;
	x->c.inventory.n = 1;
}

/* VIC with one binding in each state, and an IPv6 link-local claim. */
static void vic_machine(struct fix *x)
{
	see(x, syn(VIC, "10.66.1.20", "10.66.200.80"), T0);
	see(x, arp(VIC, 1, "10.66.1.21", "10.66.1.1"), T0 + SEC);
	see(x, delivery(VIC, "10.66.1.22"), T0 + 2 * SEC);
	see(x, syn(VIC, "fe80::20", "fe80::1"), T0 + 3 * SEC);
	assert_int_equal(state_of(x, "10.66.1.20", NULL), BIND_CLAIMED);
	assert_int_equal(state_of(x, "10.66.1.21", NULL), BIND_TENTATIVE);
	assert_int_equal(state_of(x, "10.66.1.22", NULL), BIND_ESTABLISHED);
	assert_int_equal(state_of(x, "10.66.1.30", NULL), BIND_PINNED);
	assert_int_equal(state_of(x, "fe80::20", NULL), BIND_CLAIMED);
}

/* The export lists every binding, most trusted first, as
 * identity_addresses() does. */
static void test_snap_export(void **state)
{
	struct fix *x = *state;
	struct qaddr v[8];
	unsigned n;

	pin_vic(x);
	start(x);
	vic_machine(x);
	assert_true(identity_export(x->id, VIC, &S));
	assert_memory_equal(S.mac, VIC, 6);
	assert_int_equal(S.flags, identity_machine(x->id, VIC));
	assert_int_equal(S.truncated, 0);
	assert_int_equal(S.nbind, 5);
	n = identity_addresses(x->id, VIC, BIND_CLAIMED, v, 8);
	assert_int_equal(n, 5);
	for (unsigned i = 0; i < n; i++)
		assert_memory_equal(&S.b[i].addr, &v[i], sizeof(v[i]));
	assert_int_equal(S.b[0].state, BIND_PINNED);
	assert_int_equal(S.b[1].state, BIND_ESTABLISHED);
	assert_int_equal(S.b[1].delivered, 1);
	assert_int_equal(S.b[1].first_us, T0 + 2 * SEC);
	assert_int_equal(S.b[2].state, BIND_TENTATIVE);
	assert_int_equal(S.b[2].delivered, 0);
	assert_int_equal(S.b[3].state, BIND_CLAIMED);
	assert_int_equal(S.b[4].addr.family, AF_INET6);
	/* Zero beyond nbind: nothing of the sensor's memory goes out. */
	for (size_t i = 0; i < sizeof(S.b[5]); i++)
		assert_int_equal(((const uint8_t *)&S.b[5])[i], 0);

	assert_false(identity_export(x->id, OTH, &S));
	assert_int_equal(S.nbind, 0);
	assert_memory_equal(S.mac, OTH, 6);
}

static int snap_cb(void *arg, const struct ident_binding *b)
{
	struct fix *x = arg;
	uint8_t mac[6];

	/* Every binding of the replica is the sensor's, the same. */
	assert_int_equal(identity_binding(x->id, &b->addr, mac), b->state);
	assert_memory_equal(mac, b->mac, 6);
	return 0;
}

/* Export then import into a fresh replica: the replica answers as the
 * sensor does, and emits nothing. */
static void test_snap_round_trip(void **state)
{
	struct fix *x = *state;
	const uint8_t *macs[] = {VIC, OTH};
	const char *addrs[] = {"10.66.1.20", "10.66.1.21", "10.66.1.22",
			       "10.66.1.30", "fe80::20",   "10.66.1.40"};
	struct ident_stats a, b;

	pin_vic(x);
	start(x);
	start_rep(x);
	vic_machine(x);
	see(x, arp(OTH, 1, "10.66.1.40", "10.66.1.1"), T0 + 4 * SEC);
	for (unsigned i = 0; i < 2; i++) {
		assert_true(identity_export(x->id, macs[i], &S));
		assert_int_equal(identity_import(x->rep, &S, T0 + 10 * SEC), 0);
	}
	for (unsigned i = 0; i < 2; i++) {
		struct qaddr pa, pb;

		assert_int_equal(identity_machine(x->rep, macs[i]),
				 identity_machine(x->id, macs[i]));
		for (enum bind_state st = BIND_CLAIMED; st <= BIND_PINNED; st++) {
			struct qaddr va[8], vb[8];
			unsigned na = identity_addresses(x->id, macs[i], st, va, 8);

			assert_int_equal(identity_addresses(x->rep, macs[i], st, vb, 8), na);
			assert_memory_equal(va, vb, na * sizeof(va[0]));
		}
		assert_true(identity_primary(x->id, macs[i], &pa));
		assert_true(identity_primary(x->rep, macs[i], &pb));
		assert_memory_equal(&pa, &pb, sizeof(pa));
		/* Byte for byte: times, previous owners, flags. */
		assert_true(identity_export(x->id, macs[i], &S));
		assert_true(identity_export(x->rep, macs[i], &S2));
		assert_memory_equal(&S, &S2,
				    offsetof(struct ident_snap, b) + S2.nbind * sizeof(S.b[0]));
	}
	for (unsigned i = 0; i < ARRAY_SIZE(addrs); i++) {
		uint8_t ma[6], mb[6];

		assert_int_equal(state_of(x, addrs[i], ma), rep_state(x, addrs[i], mb));
		assert_memory_equal(ma, mb, 6);
	}
	identity_foreach(x->rep, BIND_CLAIMED, snap_cb, x);
	identity_get_stats(x->id, &a);
	identity_get_stats(x->rep, &b);
	assert_int_equal(a.bindings, b.bindings);
	assert_int_equal(a.machines, b.machines);
	assert_memory_equal(a.by_state, b.by_state, sizeof(a.by_state));
	assert_int_equal(x->rep_nev, 0);
}

/* The machine's bindings become the snapshot's: what it no longer holds
 * goes, unless the machine is frozen. */
static void test_snap_replaces(void **state)
{
	struct fix *x = *state;
	struct ident_stats st;

	start_rep(x);
	snap_init(&S, VIC, 0);
	snap_add(&S, "10.66.1.20", BIND_ESTABLISHED, T0, T0);
	snap_add(&S, "10.66.1.21", BIND_CLAIMED, T0, T0);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);
	assert_int_equal(rep_state(x, "10.66.1.21", NULL), BIND_CLAIMED);

	snap_init(&S, VIC, 0);
	snap_add(&S, "10.66.1.20", BIND_TENTATIVE, T0, T0 + SEC);
	assert_int_equal(identity_import(x->rep, &S, T0 + SEC), 0);
	assert_int_equal(rep_state(x, "10.66.1.21", NULL), BIND_NONE);
	assert_int_equal(rep_state(x, "10.66.1.20", NULL), BIND_TENTATIVE);
	identity_get_stats(x->rep, &st);
	assert_int_equal(st.bindings, 1);
	assert_int_equal(st.by_state[BIND_TENTATIVE], 1);
	assert_int_equal(st.by_state[BIND_ESTABLISHED] + st.by_state[BIND_CLAIMED], 0);

	/* Frozen: a block never loses an address, but takes new ones. */
	snap_init(&S, VIC, 0);
	snap_add(&S, "10.66.1.21", BIND_CLAIMED, T0, T0);
	assert_int_equal(identity_import(x->rep, &S, T0 + SEC), 0);
	identity_set_frozen(x->rep, VIC, true);
	snap_init(&S, VIC, 0);
	snap_add(&S, "10.66.1.22", BIND_CLAIMED, T0, T0 + 2 * SEC);
	assert_int_equal(identity_import(x->rep, &S, T0 + 2 * SEC), 0);
	assert_int_equal(rep_state(x, "10.66.1.21", NULL), BIND_CLAIMED);
	assert_int_equal(rep_state(x, "10.66.1.22", NULL), BIND_CLAIMED);
	assert_true(identity_machine(x->rep, VIC) & IDM_FROZEN);

	/* Released: the next snapshot rules again. */
	identity_set_frozen(x->rep, VIC, false);
	assert_int_equal(identity_import(x->rep, &S, T0 + 3 * SEC), 0);
	assert_int_equal(rep_state(x, "10.66.1.21", NULL), BIND_NONE);
	assert_int_equal(rep_state(x, "10.66.1.22", NULL), BIND_CLAIMED);

	/* No bindings at all: none left. */
	snap_init(&S, VIC, 0);
	assert_int_equal(identity_import(x->rep, &S, T0 + 4 * SEC), 0);
	assert_int_equal(rep_state(x, "10.66.1.22", NULL), BIND_NONE);
	assert_int_equal(x->rep_nev, 0);
}

/* An address the sensor saw move moves in the replica, unless the
 * replica's holder is frozen. */
static void test_snap_move(void **state)
{
	struct fix *x = *state;
	struct ident_stats st;
	uint8_t mac[6];

	start_rep(x);
	snap_init(&S, OTH, 0);
	snap_add(&S, "10.66.1.20", BIND_ESTABLISHED, T0, T0);
	snap_add(&S, "10.66.1.21", BIND_ESTABLISHED, T0, T0)->delivered = 1;
	snap_add(&S, "10.66.1.22", BIND_ESTABLISHED, T0, T0);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);

	snap_init(&S, VIC, 0);
	memcpy(snap_add(&S, "10.66.1.20", BIND_CLAIMED, T0 + SEC, T0 + SEC)->prev, OTH, 6);
	assert_int_equal(identity_import(x->rep, &S, T0 + SEC), 0);
	assert_int_equal(rep_state(x, "10.66.1.20", mac), BIND_CLAIMED);
	assert_memory_equal(mac, VIC, 6);
	assert_true(identity_export(x->rep, OTH, &S2));
	assert_int_equal(S2.nbind, 2);
	identity_get_stats(x->rep, &st);
	assert_int_equal(st.moves, 1);
	assert_int_equal(st.bindings, 3);

	/* OTH blocked: its addresses stay, the rest of the snapshot is
	 * taken all the same. */
	identity_set_frozen(x->rep, OTH, true);
	snap_init(&S, VIC, 0);
	snap_add(&S, "10.66.1.20", BIND_CLAIMED, T0 + SEC, T0 + SEC);
	snap_add(&S, "10.66.1.21", BIND_CLAIMED, T0 + 2 * SEC, T0 + 2 * SEC);
	snap_add(&S, "10.66.1.23", BIND_CLAIMED, T0 + 2 * SEC, T0 + 2 * SEC);
	assert_int_equal(identity_import(x->rep, &S, T0 + 2 * SEC), 0);
	assert_int_equal(rep_state(x, "10.66.1.21", mac), BIND_ESTABLISHED);
	assert_memory_equal(mac, OTH, 6);
	assert_int_equal(rep_state(x, "10.66.1.23", mac), BIND_CLAIMED);
	assert_memory_equal(mac, VIC, 6);
	assert_true(identity_export(x->rep, VIC, &S2));
	assert_int_equal(S2.nbind, 2);
	assert_true(identity_export(x->rep, OTH, &S2));
	assert_int_equal(S2.nbind, 2);
	assert_int_equal(S2.b[0].delivered, 1);
	assert_int_equal(x->rep_nev, 0);
}

/* Every rule of a snapshot, broken once: -EINVAL, and the replica as it
 * was. */
static void test_snap_invalid(void **state)
{
	struct fix *x = *state;
	struct ident_stats before, after;
	struct ident_snap_bind *e;
	unsigned cases = 0;
	static const char *const bad_addrs[] = {
		"8.8.8.8", "224.0.0.1", "0.0.0.0", "ff02::1", "::", "2001:db8::1",
	};

	start_rep(x);
	snap_init(&S, VIC, 0);
	snap_add(&S, "10.66.1.20", BIND_ESTABLISHED, T0, T0);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);
	identity_set_frozen(x->rep, OTH, true);
	identity_get_stats(x->rep, &before);
	assert_true(identity_export(x->rep, VIC, &S2));

	for (unsigned k = 0;; k++) {
		/* A valid snapshot that would change the replica... */
		snap_init(&S, VIC, IDM_FORGER);
		snap_add(&S, "10.66.1.21", BIND_TENTATIVE, T0, T0 + SEC);
		e = snap_add(&S, "fe80::21", BIND_CLAIMED, T0, T0 + SEC);
		/* ...and one fault in it. */
		switch (k) {
		case 0:
			S.mac[0] = 0x01;
			break;
		case 1:
			memset(S.mac, 0, 6);
			break;
		case 2:
			S.flags = 0x40;
			break;
		case 3:
			S.truncated = 2;
			break;
		case 4:
			S.nbind = IDENT_SNAP_MAX + 1;
			break;
		case 5:
			S.pad[3] = 1;
			break;
		case 6:
			e->addr.family = 0;
			break;
		case 7:
			e->addr.family = AF_MAC;
			break;
		case 8:
			e->addr.family = 99;
			break;
		case 9:
			e->addr = A("10.66.1.22");
			e->addr.b[9] = 1;
			break;
		case 10:
			e->state = BIND_NONE;
			break;
		case 11:
			e->state = BIND_STATE_COUNT;
			break;
		case 12:
			e->state = 0xff;
			break;
		case 13:
			e->addr = S.b[0].addr;
			break;
		case 14:
			e->contested = 2;
			break;
		case 15:
			e->delivered = 0xff;
			break;
		case 16:
			e->pad[5] = 1;
			break;
		default:
			if (k - 17 >= ARRAY_SIZE(bad_addrs))
				goto done;
			e->addr = A(bad_addrs[k - 17]);
			break;
		}
		assert_int_equal(identity_import(x->rep, &S, T0 + SEC), -EINVAL);
		identity_get_stats(x->rep, &after);
		assert_memory_equal(&before, &after, sizeof(before));
		assert_true(identity_export(x->rep, VIC, &S));
		assert_memory_equal(&S, &S2,
				    offsetof(struct ident_snap, b) + S2.nbind * sizeof(S.b[0]));
		assert_int_equal(identity_machine(x->rep, OTH), IDM_FROZEN);
		cases++;
	}
done:
	assert_int_equal(cases, 23);
	/* The same snapshot without a fault is taken. */
	snap_init(&S, VIC, IDM_FORGER);
	snap_add(&S, "10.66.1.21", BIND_TENTATIVE, T0, T0 + SEC);
	snap_add(&S, "fe80::21", BIND_CLAIMED, T0, T0 + SEC);
	assert_int_equal(identity_import(x->rep, &S, T0 + SEC), 0);
	assert_int_equal(rep_state(x, "10.66.1.21", NULL), BIND_TENTATIVE);
	assert_int_equal(rep_state(x, "10.66.1.20", NULL), BIND_NONE);
	assert_int_equal(x->rep_nev, 0);
}

/* Times from the future are clamped to now, a first use after the last
 * to the last: an honest sensor sends them after the clock steps back. */
static void test_snap_times(void **state)
{
	struct fix *x = *state;

	start_rep(x);
	snap_init(&S, VIC, 0);
	snap_add(&S, "10.66.1.20", BIND_TENTATIVE, T0 + 100 * SEC, T0 + 50 * SEC);
	snap_add(&S, "10.66.1.21", BIND_TENTATIVE, T0 + 3 * SEC, T0 + 100 * SEC);
	snap_add(&S, "10.66.1.22", BIND_TENTATIVE, T0 + 3 * SEC, T0 + 4 * SEC);
	assert_int_equal(identity_import(x->rep, &S, T0 + 10 * SEC), 0);
	assert_true(identity_export(x->rep, VIC, &S2));
	assert_int_equal(S2.nbind, 3);
	/* Ordered by first use: .21 and .22 (3 s), then .20 (now 10 s). */
	assert_memory_equal(&S2.b[0].addr, &S.b[1].addr, sizeof(struct qaddr));
	assert_int_equal(S2.b[0].first_us, T0 + 3 * SEC);
	assert_int_equal(S2.b[0].last_us, T0 + 10 * SEC);
	assert_int_equal(S2.b[1].first_us, T0 + 3 * SEC);
	assert_int_equal(S2.b[1].last_us, T0 + 4 * SEC);
	assert_memory_equal(&S2.b[2].addr, &S.b[0].addr, sizeof(struct qaddr));
	assert_int_equal(S2.b[2].first_us, T0 + 10 * SEC);
	assert_int_equal(S2.b[2].last_us, T0 + 10 * SEC);
}

/* SELF, ROUTER and FROZEN are the replica's: a snapshot neither sets nor
 * clears them.  RELAY, FORGER, CONTESTED are the sensor's. */
static void test_snap_flags(void **state)
{
	struct fix *x = *state;
	const uint8_t all = IDM_SELF | IDM_ROUTER | IDM_FROZEN | IDM_FORGER | IDM_CONTESTED;

	start_rep(x);
	snap_init(&S, VIC, all);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);
	assert_int_equal(identity_machine(x->rep, VIC), IDM_FORGER | IDM_CONTESTED);
	snap_init(&S, VIC, IDM_RELAY | IDM_FORGER);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);
	assert_int_equal(identity_machine(x->rep, VIC), IDM_RELAY);
	snap_init(&S, VIC, 0);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);
	assert_int_equal(identity_machine(x->rep, VIC), 0);

	identity_set_frozen(x->rep, OTH, true);
	snap_init(&S, OTH, IDM_CONTESTED);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);
	assert_int_equal(identity_machine(x->rep, OTH), IDM_FROZEN | IDM_CONTESTED);

	/* The gateway's own MAC: stays SELF, and takes no address. */
	snap_init(&S, GW, 0);
	snap_add(&S, "10.66.1.1", BIND_ESTABLISHED, T0, T0);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);
	assert_int_equal(identity_machine(x->rep, GW), IDM_SELF);
	assert_int_equal(rep_state(x, "10.66.1.1", NULL), BIND_NONE);

	/* A VRRP MAC is a router by the replica's own reckoning. */
	snap_init(&S, VRRP, 0);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);
	assert_int_equal(identity_machine(x->rep, VRRP), IDM_ROUTER);
	snap_init(&S, VRRP, IDM_FORGER);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);
	assert_int_equal(identity_machine(x->rep, VRRP), IDM_ROUTER);
	assert_int_equal(x->rep_nev, 0);
}

/* A sensor cannot pin: PINNED is taken only where the replica's own
 * inventory pins it; nor can it unpin. */
static void test_snap_pinned(void **state)
{
	struct fix *x = *state;
	uint8_t mac[6];

	pin_vic(x);
	start_rep(x);
	assert_int_equal(rep_state(x, "10.66.1.30", mac), BIND_PINNED);
	snap_init(&S, VIC, 0);
	snap_add(&S, "10.66.1.30", BIND_PINNED, T0, T0);
	snap_add(&S, "10.66.1.31", BIND_PINNED, T0, T0);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);
	assert_int_equal(rep_state(x, "10.66.1.30", NULL), BIND_PINNED);
	assert_int_equal(rep_state(x, "10.66.1.31", NULL), BIND_ESTABLISHED);

	/* Another machine claims VIC's pin: it stays VIC's. */
	snap_init(&S, OTH, 0);
	snap_add(&S, "10.66.1.30", BIND_PINNED, T0, T0);
	snap_add(&S, "10.66.1.32", BIND_PINNED, T0, T0);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);
	assert_int_equal(rep_state(x, "10.66.1.30", mac), BIND_PINNED);
	assert_memory_equal(mac, VIC, 6);
	assert_int_equal(rep_state(x, "10.66.1.32", mac), BIND_ESTABLISHED);
	assert_memory_equal(mac, OTH, 6);

	/* VIC's snapshot without its pin, or with it weaker: still pinned. */
	snap_init(&S, VIC, 0);
	snap_add(&S, "10.66.1.31", BIND_CLAIMED, T0, T0);
	assert_int_equal(identity_import(x->rep, &S, T0 + SEC), 0);
	assert_int_equal(rep_state(x, "10.66.1.30", mac), BIND_PINNED);
	assert_memory_equal(mac, VIC, 6);
	snap_add(&S, "10.66.1.30", BIND_CLAIMED, T0, T0);
	S.b[1].contested = 1;
	assert_int_equal(identity_import(x->rep, &S, T0 + SEC), 0);
	assert_int_equal(rep_state(x, "10.66.1.30", NULL), BIND_PINNED);
	assert_true(identity_export(x->rep, VIC, &S2));
	assert_int_equal(S2.b[0].state, BIND_PINNED);
	assert_int_equal(S2.b[0].contested, 0);
	assert_int_equal(x->rep_nev, 0);
}

/* Full tables: room is made as on the packet path, never from a frozen
 * machine's trusted bindings or a pin; the most trusted of the snapshot
 * stay; a new machine with no room is -ENOSPC and nothing changes. */
static void test_snap_table_full(void **state)
{
	struct fix *x = *state;
	struct ident_stats before, after;
	uint8_t mac[6];

	x->c.limits.max_bindings = 4;
	x->c.limits.max_machines = 4;
	pin_vic(x);
	start_rep(x);
	snap_init(&S, OTH, 0);
	snap_add(&S, "10.66.1.50", BIND_ESTABLISHED, T0, T0);
	snap_add(&S, "10.66.1.51", BIND_ESTABLISHED, T0, T0);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);
	identity_set_frozen(x->rep, OTH, true);
	snap_init(&S, ATK, 0);
	snap_add(&S, "10.66.1.60", BIND_ESTABLISHED, T0, T0);
	assert_int_equal(identity_import(x->rep, &S, T0), 0);

	snap_init(&S, RTR, 0);
	snap_add(&S, "10.66.1.70", BIND_ESTABLISHED, T0 + SEC, T0 + SEC);
	snap_add(&S, "10.66.1.71", BIND_TENTATIVE, T0 + SEC, T0 + SEC);
	snap_add(&S, "10.66.1.72", BIND_CLAIMED, T0 + SEC, T0 + SEC);
	assert_int_equal(identity_import(x->rep, &S, T0 + SEC), -ENOSPC);
	assert_int_equal(rep_state(x, "10.66.1.70", mac), BIND_ESTABLISHED);
	assert_memory_equal(mac, RTR, 6);
	assert_int_equal(rep_state(x, "10.66.1.71", NULL), BIND_NONE);
	assert_int_equal(rep_state(x, "10.66.1.72", NULL), BIND_NONE);
	assert_int_equal(rep_state(x, "10.66.1.60", NULL), BIND_NONE);
	assert_int_equal(rep_state(x, "10.66.1.50", mac), BIND_ESTABLISHED);
	assert_memory_equal(mac, OTH, 6);
	assert_int_equal(rep_state(x, "10.66.1.51", NULL), BIND_ESTABLISHED);
	assert_int_equal(rep_state(x, "10.66.1.30", mac), BIND_PINNED);
	assert_memory_equal(mac, VIC, 6);

	/* Machines: VIC, OTH, ATK, RTR.  All frozen: no room for a fifth. */
	identity_set_frozen(x->rep, VIC, true);
	identity_set_frozen(x->rep, ATK, true);
	identity_set_frozen(x->rep, RTR, true);
	identity_get_stats(x->rep, &before);
	assert_int_equal(before.machines, 4);
	snap_init(&S, GW, 0);
	S.mac[5] = 0x99;
	snap_add(&S, "10.66.1.80", BIND_ESTABLISHED, T0, T0);
	assert_int_equal(identity_import(x->rep, &S, T0 + 2 * SEC), -ENOSPC);
	identity_get_stats(x->rep, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	/* ATK released: its machine makes room, as on the packet path, but
	 * every binding is a pin or a frozen machine's. */
	identity_set_frozen(x->rep, ATK, false);
	assert_int_equal(identity_import(x->rep, &S, T0 + 2 * SEC), -ENOSPC);
	assert_int_equal(identity_machine(x->rep, ATK), 0);
	assert_true(identity_export(x->rep, S.mac, &S2));
	assert_int_equal(S2.nbind, 0);
	assert_int_equal(rep_state(x, "10.66.1.80", NULL), BIND_NONE);
	/* RTR released: its binding makes room. */
	identity_set_frozen(x->rep, RTR, false);
	assert_int_equal(identity_import(x->rep, &S, T0 + 2 * SEC), 0);
	assert_int_equal(rep_state(x, "10.66.1.80", NULL), BIND_ESTABLISHED);
	assert_int_equal(rep_state(x, "10.66.1.70", NULL), BIND_NONE);
	assert_int_equal(rep_state(x, "10.66.1.50", NULL), BIND_ESTABLISHED);
	assert_int_equal(x->rep_nev, 0);
}

/* A machine with more bindings than a snapshot holds: the weakest are
 * left out, and the replica holds the strongest. */
static void test_snap_truncated(void **state)
{
	struct fix *x = *state;
	struct qaddr a;

	x->c.identity.max_addresses = 4;
	x->c.identity.auto_relay = false;
	start(x);
	start_rep(x);
	/* 4 claims, then kernel pins and REACHABLE entries in turn: more
	 * trusted bindings than a snapshot holds. */
	for (unsigned i = 0; i < IDENT_SNAP_MAX + 44; i++) {
		uint8_t b[4] = {10, 66, (uint8_t)(8 + i / 250), (uint8_t)(1 + i % 250)};

		addr_set_v4(&a, b);
		identity_neigh(x->id, &a, RTR,
			       i < 4   ? IDN_CLAIM
			       : i % 2 ? IDN_REACHABLE
				       : IDN_PERMANENT,
			       T0 + i);
	}
	assert_true(identity_export(x->id, RTR, &S));
	assert_int_equal(S.truncated, 1);
	assert_int_equal(S.nbind, IDENT_SNAP_MAX);
	/* Pins, then established by first use; the claims and the newest
	 * established left out. */
	for (unsigned i = 1; i < S.nbind; i++)
		assert_true(S.b[i - 1].state > S.b[i].state ||
			    (S.b[i - 1].state == S.b[i].state &&
			     S.b[i - 1].first_us < S.b[i].first_us));
	assert_int_equal(S.b[IDENT_SNAP_MAX - 1].state, BIND_ESTABLISHED);
	/* 1044 pins (even i from 4 to 2090), then the 1004 oldest of the
	 * established (odd i from 5): the last is i = 2011. */
	assert_int_equal(S.b[IDENT_SNAP_MAX - 1].first_us, T0 + 2011);
	assert_int_equal(identity_import(x->rep, &S, T0 + 10000 * SEC), 0);
	assert_true(identity_export(x->rep, RTR, &S2));
	assert_int_equal(S2.nbind, IDENT_SNAP_MAX);
	assert_int_equal(S2.truncated, 0);
	/* The sensor's kernel pins are not the replica's. */
	assert_int_equal(S2.b[IDENT_SNAP_MAX - 1].state, BIND_ESTABLISHED);
	for (unsigned i = 0; i < S.nbind; i++) {
		uint8_t mac[6];

		assert_int_equal(identity_binding(x->rep, &S.b[i].addr, mac), BIND_ESTABLISHED);
		assert_memory_equal(mac, RTR, 6);
	}
	assert_int_equal(x->rep_nev, 0);
}

/* Hostile bytes: random snapshots, and valid ones with random faults,
 * never crash the replica, and leave it consistent. */
static uint64_t rnd_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static int count_mac_cb(void *arg, const struct ident_binding *b)
{
	const struct ident_snap *s = arg;

	/* Abused as a counter: S2.nbind counts s->mac's bindings. */
	if (memcmp(b->mac, s->mac, 6) == 0)
		S2.nbind++;
	return 0;
}

static void test_snap_random(void **state)
{
	struct fix *x = *state;
	static const uint8_t macs[4][6] = {
		{0x02, 0, 0, 0, 0, 0x0a},
		{0x02, 0, 0, 0, 0, 0x0b},
		{0x02, 0, 0, 0, 0, 0x0c},
		{0x02, 0, 0, 0, 0, 0x01}, /* GW */
	};
	unsigned ok = 0, inval = 0, nospc = 0;

	x->c.limits.max_bindings = 48;
	x->c.limits.max_machines = 3;
	start_rep(x);
	identity_set_frozen(x->rep, macs[2], true);
	for (unsigned it = 0; it < 10000; it++) {
		struct ident_stats before, after;
		uint64_t r = rnd();
		int ret;

		if (it % 4 == 0) {
			/* Bytes, all of them random. */
			for (size_t i = 0; i < 16 + 8 * sizeof(S.b[0]); i += 8) {
				uint64_t v = rnd();

				memcpy((uint8_t *)&S + i, &v, 8);
			}
			if (r & 1)
				S.nbind %= 9;
		} else {
			/* A plausible snapshot, with a fault now and then. */
			snap_init(&S, macs[r % 4], (uint8_t)(rnd() & 0x3f));
			S.nbind = (uint16_t)(rnd() % 9);
			for (unsigned i = 0; i < S.nbind; i++) {
				struct ident_snap_bind *e = &S.b[i];
				uint64_t v = rnd();
				uint8_t b4[4] = {10, 66, 1, (uint8_t)(v % 64)};

				if ((v >> 8) & 1)
					addr_set_v4(&e->addr, b4);
				else
					e->addr = A((v >> 9) & 1 ? "fe80::1" : "10.66.7.7");
				e->state = (uint8_t)(1 + (v >> 10) % 4);
				e->contested = (v >> 12) % 8 == 0;
				e->delivered = (v >> 15) & 1;
				e->first_us = T0 + (v >> 16) % (100 * SEC);
				e->last_us = T0 + (v >> 40) % (100 * SEC);
				if ((v >> 60) == 0) {
					/* One byte anywhere in the entry. */
					((uint8_t *)e)[rnd() % sizeof(*e)] = (uint8_t)rnd();
				}
			}
		}
		identity_get_stats(x->rep, &before);
		ret = identity_import(x->rep, &S, T0 + 50 * SEC);
		identity_get_stats(x->rep, &after);
		if (ret == -EINVAL) {
			inval++;
			assert_memory_equal(&before, &after, sizeof(before));
			continue;
		}
		assert_true(ret == 0 || ret == -ENOSPC);
		ok += ret == 0;
		nospc += ret == -ENOSPC;
		/* Consistent: the counters add up, the bounds hold, the flags
		 * that are the replica's are its own. */
		{
			uint32_t sum = 0;

			for (unsigned s = 0; s < BIND_STATE_COUNT; s++)
				sum += after.by_state[s];
			assert_int_equal(sum, after.bindings);
			assert_int_equal(after.by_state[BIND_NONE], 0);
			assert_int_equal(after.by_state[BIND_PINNED], 0);
			assert_true(after.bindings <= 48 && after.machines <= 3);
		}
		if (!identity_export(x->rep, S.mac, &S2)) {
			/* No room for the machine. */
			assert_int_equal(ret, -ENOSPC);
			continue;
		}
		{
			unsigned n = S2.nbind, f = identity_machine(x->rep, S.mac);

			S2.nbind = 0;
			identity_foreach(x->rep, BIND_CLAIMED, count_mac_cb, &S);
			assert_int_equal(S2.nbind, n);
			assert_int_equal(!!(f & IDM_SELF), memcmp(S.mac, GW, 6) == 0);
			assert_int_equal(!!(f & IDM_FROZEN), memcmp(S.mac, macs[2], 6) == 0);
			assert_false(f & IDM_ROUTER);
			if (f & IDM_SELF)
				assert_int_equal(n, 0);
		}
	}
	assert_true(identity_machine(x->rep, macs[2]) & IDM_FROZEN);
	assert_int_equal(x->rep_nev, 0);
	/* Each way out was taken. */
	assert_true(ok > 1000 && inval > 1000 && nospc > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_trust_ladder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_source_charged_to_sender, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_arp_spoof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contested_then_settled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_and_frozen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dhcp_from_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_address_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_mac_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_flap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trust_by_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_neighbours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inventory_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offline_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_ip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snap_export, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snap_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snap_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snap_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snap_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snap_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snap_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snap_pinned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snap_table_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snap_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snap_random, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
