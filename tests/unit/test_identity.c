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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
