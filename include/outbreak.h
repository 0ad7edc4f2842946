/* Outbreak mode (quarantined(8), OUTBREAK MODE): emergency segmentation
 * of the protected networks into groups of the inventory (departments,
 * floors or subnets), each of which may then reach only itself, the
 * essential services and the remediation and admin hosts.
 *
 * The kernel matches an address to its group through interval sets (nft.h:
 * obg4/obg6 and one per bit of the group id), and they refuse overlapping
 * elements, where the inventory overlaps by design (a named /32 inside
 * its department's /24).  So the inventory is flattened here into
 * disjoint ranges, the longest prefix winning, as the inventory's own
 * lookup does (inventory_lookup()).
 *
 * Which group an address is in:
 *   - the group of the most specific inventory network that holds it; an
 *     entry without a value for the grouping (a named server without a
 *     department) is in the group of the entry around it;
 *   - by subnet, every inventory network that is not a single host is a
 *     group of its own, named by the network;
 *   - an address of the protected networks that no group holds is in the
 *     group "unassigned" (OUTBREAK_GROUP_UNASSIGNED): cut off from the
 *     departments like any other group, since an unknown machine is the
 *     last one to trust in an outbreak;
 *   - an address outside the protected networks is in no group: outbreak
 *     mode does not touch traffic to or from it (that is the firewall's).
 *
 * In the bridge family a machine also has a group by its MAC (an
 * inventory entry that names its MAC, or a trusted IPv4 address of it in
 * a group): so the IPv6 addresses it makes up (SLAAC, privacy addresses)
 * on a prefix the groups share are grouped too, for the traffic the
 * bridge carries between machines.
 *
 * Pure: no I/O.  Allocates the ranges and names it returns. */
#ifndef QD_OUTBREAK_H
#define QD_OUTBREAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actor.h"
#include "addr.h"
#include "conf.h"
#include "types.h"

/* Group ids as the kernel map holds them: 0 is never used (a map's
 * miss), 1 is "unassigned", the inventory's groups follow. */
#define OUTBREAK_GROUP_INHERIT	  0
#define OUTBREAK_GROUP_UNASSIGNED 1
#define OUTBREAK_GROUP_NAME	  64

/* A network and the group it asks for (OUTBREAK_GROUP_INHERIT: the
 * group of the network around it, or none). */
struct ob_prefix {
	struct prefix net;
	uint32_t group;
};

/* A range of addresses, both ends included, and its group. */
struct ob_range {
	struct qaddr lo, hi;
	uint32_t group;
};

/* Flattens the networks of family (AF_INET or AF_INET6; others are left
 * out) into disjoint ranges, sorted, the most specific network winning
 * where they overlap; a network whose group is OUTBREAK_GROUP_INHERIT
 * takes the group of the most specific network around it, and is left
 * out where there is none.  Two identical networks: the later wins.
 * Adjacent ranges of one group are merged.  The number of ranges (the
 * array, caller frees, in *ret; NULL for 0), or -ENOMEM. */
int ob_flatten(const struct ob_prefix *in, unsigned n, int family, struct ob_range **ret);

/* A machine and its group, by MAC (the bridge family's obgm, obbm_B). */
struct ob_mac {
	uint8_t mac[MAC_LEN];
	uint32_t group;
};

struct ob_groups {
	enum outbreak_by by;
	struct ob_range *v4, *v6;
	unsigned n4, n6;
	/* names[id] for group ids 1..ngroups-1 (names[0] unused). */
	char (*names)[OUTBREAK_GROUP_NAME];
	unsigned ngroups;
};

/* The groups of c's inventory and protected networks by by, into g
 * (ob_groups_fini() frees).  0 or -ENOMEM. */
int ob_groups_build(const struct conf *c, enum outbreak_by by, struct ob_groups *g);
void ob_groups_fini(struct ob_groups *g);
/* The group of a (0: none), by a binary search of the ranges. */
uint32_t ob_groups_find(const struct ob_groups *g, const struct qaddr *a);
/* The machines of c's inventory named by MAC, each with its group: its
 * own entry's value for the grouping, else the group of its entry's
 * network; those with neither are left out.  The number (caller frees
 * *ret, room for extra more), or -ENOMEM. */
int ob_groups_macs(const struct conf *c, const struct ob_groups *g, unsigned extra,
		   struct ob_mac **ret);

/* Merges the networks of family in the n lists (a NULL list is empty)
 * into disjoint ranges (group 1): the essential servers' interval set.
 * The number of ranges (caller frees *ret) or -ENOMEM. */
int ob_flatten_lists(const struct prefix_list *const *lists, unsigned n, int family,
		     struct ob_range **ret);

/* Whether outbreak mode is on, and who switched it on, when and why: the
 * daemon's, kept in the state database (statedb_outbreak_save()) and
 * named in status and in every event while it is on. */
#define OUTBREAK_REASON_MAX 256
struct outbreak_state {
	bool on;
	enum outbreak_by by;
	usec_t since_us; /* wall clock */
	long by_uid;	 /* the operator's uid */
	struct actor who;
	char reason[OUTBREAK_REASON_MAX];
};

const char *outbreak_by_name(enum outbreak_by b);
/* 0 or -EINVAL. */
int outbreak_by_parse(const char *s, enum outbreak_by *ret);

#endif
