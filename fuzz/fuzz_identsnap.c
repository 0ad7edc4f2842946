/* Fuzz target for the import of a machine's snapshot into the parent's
 * replica (identity_import(), identity.c): the sensor writes the snapshot,
 * so after privilege separation a compromised sensor chooses every byte.
 * The input is a struct ident_snap as bytes (what the input does not
 * cover is zero).
 *
 * The replica starts as the parent's would: its configuration's pin
 * (fuzz/data/identsnap.conf), a machine holding two addresses and a
 * blocked (frozen) machine holding one, in tables small enough that a
 * snapshot fills them.
 *
 * Invariants: the result is 0, -EINVAL or -ENOSPC; -EINVAL leaves the
 * replica as it was; otherwise its counters add up, the bounds hold, the
 * flags that are the replica's own (SELF, FROZEN) are what they were, no
 * event is emitted, each address of an accepted snapshot is bound, and
 * the machine exported from the replica and imported into a fresh one
 * exports again to the same bindings (export and import are stable). */
#include <errno.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"
#include "identity.h"

static const uint8_t GW[MAC_LEN] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t HOLDER[MAC_LEN] = {0x02, 0, 0, 0, 0, 0x0b};
static const uint8_t FROZEN[MAC_LEN] = {0x02, 0, 0, 0, 0, 0x0c};
static const struct siphash_key key = {1, 2};
#define NOW (1767000000ULL * USEC_PER_SEC)

static struct conf conf;
static struct ident_snap in, out, again;
static unsigned events;

static void on_event(void *arg, const struct ident_event *ev)
{
	events++;
}

static bool is_own(void *arg, const uint8_t *mac)
{
	return memcmp(mac, GW, MAC_LEN) == 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conf_diags diags;

	if (conf_load(&conf, FUZZ_DATA_DIR "/identsnap.conf", &diags) < 0) {
		fprintf(stderr, "fuzz: %s/identsnap.conf does not load\n", FUZZ_DATA_DIR);
		abort();
	}
	/* A replica is made for every input; a snapshot of 16 bindings
	 * fills these. */
	conf.limits.max_machines = 6;
	conf.limits.max_bindings = 16;
	return 0;
}

static struct identity *replica(void)
{
	struct ident_params p = {.c = &conf, .cb = on_event, .is_own_mac = is_own};
	struct identity *id = identity_new(&p, &key);

	FUZZ_CHECK(id);
	return id;
}

static void add(struct ident_snap *s, const char *addr, enum bind_state st)
{
	struct ident_snap_bind *e = &s->b[s->nbind++];

	FUZZ_CHECK(addr_parse(addr, &e->addr) == 0);
	e->state = (uint8_t)st;
	e->first_us = e->last_us = NOW - USEC_PER_SEC;
}

/* The parent's replica after a while: a machine with two addresses, a
 * blocked one with one. */
static void scene(struct identity *id)
{
	memset(&out, 0, sizeof(out));
	memcpy(out.mac, HOLDER, MAC_LEN);
	add(&out, "10.66.1.20", BIND_ESTABLISHED);
	add(&out, "fd66::20", BIND_CLAIMED);
	FUZZ_CHECK(identity_import(id, &out, NOW) == 0);
	memset(&out, 0, sizeof(out));
	memcpy(out.mac, FROZEN, MAC_LEN);
	add(&out, "10.66.1.21", BIND_TENTATIVE);
	FUZZ_CHECK(identity_import(id, &out, NOW) == 0);
	identity_set_frozen(id, FROZEN, true);
}

static void consistent(const struct identity *id)
{
	struct ident_stats st;
	uint32_t sum = 0;

	identity_get_stats(id, &st);
	for (unsigned i = 0; i < BIND_STATE_COUNT; i++)
		sum += st.by_state[i];
	FUZZ_CHECK(sum == st.bindings && st.by_state[BIND_NONE] == 0);
	FUZZ_CHECK(st.bindings <= st.max_bindings && st.machines <= st.max_machines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct identity *id = replica(), *fresh;
	struct ident_stats before, after;
	unsigned flags;
	int r;

	scene(id);
	memset(&in, 0, sizeof(in));
	memcpy(&in, data, size < sizeof(in) ? size : sizeof(in));
	flags = identity_machine(id, in.mac);
	identity_get_stats(id, &before);
	events = 0;
	r = identity_import(id, &in, NOW);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOSPC);
	FUZZ_CHECK(events == 0);
	identity_get_stats(id, &after);
	if (r == -EINVAL) {
		FUZZ_CHECK(memcmp(&before, &after, sizeof(before)) == 0);
		FUZZ_CHECK(identity_export(id, HOLDER, &out) && out.nbind == 2);
		FUZZ_CHECK(identity_export(id, FROZEN, &out) && out.nbind == 1);
		goto out;
	}
	consistent(id);
	if (!identity_export(id, in.mac, &out)) {
		FUZZ_CHECK(r == -ENOSPC); /* no room for the machine */
		goto out;
	}
	FUZZ_CHECK((out.flags & IDM_FROZEN) == (flags & IDM_FROZEN));
	FUZZ_CHECK(!!(out.flags & IDM_SELF) == is_own(NULL, in.mac));
	FUZZ_CHECK(!(out.flags & IDM_SELF) || out.nbind == 0);
	if (r == 0 && !(out.flags & IDM_SELF))
		for (unsigned i = 0; i < in.nbind; i++)
			FUZZ_CHECK(identity_binding(id, &in.b[i].addr, NULL) != BIND_NONE);
	FUZZ_CHECK(!identity_export(id, FROZEN, &again) || again.nbind >= 1);

	/* What the replica holds goes through a fresh one unchanged. */
	fresh = replica();
	events = 0;
	FUZZ_CHECK(identity_import(fresh, &out, NOW) == 0);
	FUZZ_CHECK(events == 0);
	consistent(fresh);
	FUZZ_CHECK(identity_export(fresh, in.mac, &again));
	FUZZ_CHECK(again.nbind == out.nbind && again.truncated == 0);
	FUZZ_CHECK(memcmp(again.b, out.b, out.nbind * sizeof(out.b[0])) == 0);
	identity_free(fresh);
out:
	identity_free(id);
	return 0;
}
