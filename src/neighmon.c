/* The kernel's neighbour table, bridge forwarding databases and the
 * gateway's own link-layer addresses, over plain rtnetlink.
 *
 * One non-blocking socket subscribed to RTNLGRP_LINK and RTNLGRP_NEIGH
 * carries the notifications; the full tables come from dumps on a second,
 * blocking socket opened for each round of dumps (links, then neighbours
 * of AF_INET, AF_INET6 and AF_BRIDGE).  The subscription is in place
 * before the dumps start, so every change during or after a dump is also
 * queued on the first socket.  Replaying those over the dump's snapshot
 * converges on the kernel's state: for the link list because adds and
 * deletes are idempotent and the last one for an ifindex wins, for the
 * neighbours because the caller is handed observations in the order the
 * kernel made them, and the last observation of an entry is its current
 * state.  A notification older than the dump that is read after it only
 * repeats an older observation, which a newer one follows.  That is also
 * why a dump flagged NLM_F_DUMP_INTR needs no retry.  Only a lost
 * notification (ENOBUFS) or one we could not read (MSG_TRUNC, malformed)
 * breaks the chain, and then we dump everything again.
 *
 * Messages are copied out of the receive buffer with memcpy() and every
 * length is checked against what was received before it is used.  Nothing
 * is allocated after neighmon_open(). */
#include "neighmon.h"

#include <errno.h>
#include <linux/if_arp.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rtnl.h"

/* A link message without VF details (we never ask for RTEXT_FILTER_VF)
 * is a few KiB: RTNL_BUF holds any datagram. */

/* Datagrams read per neighmon_read().  Each notification is one datagram
 * of about a hundred bytes, parsed in about a microsecond, so a full
 * budget costs some 60 us plus the callback's work: a flood of neighbour
 * changes (random source MACs churn the FDB and the neighbour table)
 * cannot hold the poll loop away from the capture.  What is left stays
 * readable for the next round; if the queue overflows meanwhile, the
 * re-dump catches up (and costs far more: see neighmon_read()). */
#define READ_BUDGET 64

/* Full re-dumps after lost notifications: at most one per this.  Under a
 * flood of random MACs the bridge FDB grows without bound on kernel 6.1,
 * and its dump blocks for most of a second at 100,000 entries: one such
 * pause per 10 s is the most a flood may cost the loop. */
#define REDUMP_EVERY_MS 10000

/* Notification queue: the kernel doubles it and charges each queued
 * notification about 768 bytes (skb overhead included), which leaves room
 * for some 2,500 changes between two reads (measured on 6.1). */
#define RCVBUF_BYTES (1 << 20)

struct link {
	int ifindex;
	uint8_t mac[MAC_LEN];
};

struct neighmon {
	int fd; /* subscribed, non-blocking */
	uint32_t seq;
	neighmon_cb cb;
	void *arg;
	bool busy;	/* inside neighmon_read(): the callback must not re-enter */
	bool need_dump; /* notifications were lost and no full dump has replaced them yet */
	bool dump_now;	/* the pending re-dump is for a malformed message or a failed dump */
	uint64_t hold_until_ms; /* a re-dump for lost notifications waits until then */
	bool need_links;	/* a link did not fit and may be missing still */
	bool overflow;		/* a link did not fit since the last report */
	unsigned nlinks, nown;
	struct link links[NEIGHMON_MAX_LINKS];
	uint8_t own[NEIGHMON_MAX_LINKS][MAC_LEN]; /* links[].mac without duplicates */
	/* Scratch for a link dump: the live list stays intact if it fails. */
	unsigned dn;
	bool dover; /* the dump had more than fits */
	struct link dl[NEIGHMON_MAX_LINKS];
	union rtnl_buf buf;
};

static const uint8_t zero_mac[MAC_LEN];

/* ---- The list of own link-layer addresses ---- */

static void rebuild_own(struct neighmon *m)
{
	m->nown = 0;
	for (unsigned i = 0; i < m->nlinks; i++) {
		bool dup = false;

		for (unsigned j = 0; j < m->nown && !dup; j++)
			dup = memcmp(m->own[j], m->links[i].mac, MAC_LEN) == 0;
		if (!dup)
			memcpy(m->own[m->nown++], m->links[i].mac, MAC_LEN);
	}
}

static int link_find(const struct link *v, unsigned n, int ifindex)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i].ifindex == ifindex)
			return (int)i;
	return -1;
}

/* Sets the address of ifindex in v.  1 changed, 0 unchanged, -ENOSPC. */
static int link_set(struct link *v, unsigned *n, int ifindex, const uint8_t mac[MAC_LEN])
{
	int i = link_find(v, *n, ifindex);

	if (i >= 0) {
		if (memcmp(v[i].mac, mac, MAC_LEN) == 0)
			return 0;
		memcpy(v[i].mac, mac, MAC_LEN);
		return 1;
	}
	if (*n >= NEIGHMON_MAX_LINKS)
		return -ENOSPC;
	v[*n].ifindex = ifindex;
	memcpy(v[*n].mac, mac, MAC_LEN);
	(*n)++;
	return 1;
}

static bool link_del(struct link *v, unsigned *n, int ifindex)
{
	int i = link_find(v, *n, ifindex);

	if (i < 0)
		return false;
	v[i] = v[--(*n)];
	return true;
}

/* ---- Parsing ---- */

/* An RTM_NEWLINK/RTM_DELLINK message: its ifindex, and its address when
 * it is an Ethernet link with one.  0, -ENOENT when it is not about a link
 * as such (AF_BRIDGE port messages share the group, and RTM_DELLINK with
 * AF_BRIDGE only means a port left its bridge), -EBADMSG when malformed. */
static int parse_link(const struct rtnl_msg *msg, int *ret_ifindex, uint8_t ret_mac[MAC_LEN],
		      bool *ret_has_mac)
{
	struct ifinfomsg ifi;
	const uint8_t *mac = NULL;
	struct rtnl_attr at;
	size_t off = 0;
	int r;

	if (msg->plen < sizeof(ifi))
		return -EBADMSG;
	memcpy(&ifi, msg->payload, sizeof(ifi));
	if (ifi.ifi_family != AF_UNSPEC)
		return -ENOENT;
	while ((r = rtnl_attr_next(msg, sizeof(ifi), &off, &at)) > 0)
		if (at.type == IFLA_ADDRESS)
			mac = at.len == MAC_LEN ? at.data : NULL;
	if (r < 0)
		return r;
	*ret_ifindex = ifi.ifi_index;
	/* An Ethernet link not given an address yet shows all zeros: no
	 * machine sends from it, so it must not count as ours. */
	*ret_has_mac = ifi.ifi_type == ARPHRD_ETHER && mac && memcmp(mac, zero_mac, MAC_LEN) != 0;
	if (*ret_has_mac)
		memcpy(ret_mac, mac, MAC_LEN);
	return 0;
}

/* An RTM_NEWNEIGH/RTM_DELNEIGH message as an event.  0, -ENOENT when it is
 * nothing to report (another family; an FDB entry without a MAC),
 * -EBADMSG when malformed. */
static int parse_neigh(const struct rtnl_msg *msg, struct neighmon_event *ret)
{
	struct ndmsg ndm;
	const uint8_t *dst = NULL, *lladdr = NULL;
	size_t dstlen = 0, lllen = 0, off = 0;
	uint32_t master = 0;
	struct rtnl_attr at;
	int r;

	if (msg->plen < sizeof(ndm))
		return -EBADMSG;
	memcpy(&ndm, msg->payload, sizeof(ndm));
	if (ndm.ndm_family != AF_INET && ndm.ndm_family != AF_INET6 && ndm.ndm_family != AF_BRIDGE)
		return -ENOENT;
	while ((r = rtnl_attr_next(msg, sizeof(ndm), &off, &at)) > 0) {
		switch (at.type) {
		case NDA_DST:
			dst = at.data;
			dstlen = at.len;
			break;
		case NDA_LLADDR:
			lladdr = at.data;
			lllen = at.len;
			break;
		case NDA_MASTER:
			if (at.len != sizeof(master))
				return -EBADMSG;
			memcpy(&master, at.data, sizeof(master));
			break;
		default:
			break;
		}
	}
	if (r < 0)
		return r;

	memset(ret, 0, sizeof(*ret));
	ret->deleted = msg->h.nlmsg_type == RTM_DELNEIGH;
	ret->ifindex = ndm.ndm_ifindex;
	ret->state = ndm.ndm_state;
	ret->flags = ndm.ndm_flags;
	/* Other lengths are other link layers (tunnels, InfiniBand), or no
	 * address at all (INCOMPLETE, FAILED): not a MAC. */
	ret->has_mac = lladdr && lllen == MAC_LEN;
	if (ret->has_mac)
		memcpy(ret->mac, lladdr, MAC_LEN);
	if (ndm.ndm_family == AF_BRIDGE) {
		/* NDA_DST here is a VXLAN remote, not the machine: unused. */
		if (!ret->has_mac)
			return -ENOENT;
		ret->kind = NEIGHMON_FDB;
		ret->master = (int)master;
		return 0;
	}
	ret->kind = NEIGHMON_NEIGH;
	/* The kernel always names the address (neigh_fill_info()). */
	if (ndm.ndm_family == AF_INET && dst && dstlen == 4)
		addr_set_v4(&ret->addr, dst);
	else if (ndm.ndm_family == AF_INET6 && dst && dstlen == 16)
		addr_set_v6(&ret->addr, dst);
	else
		return -EBADMSG;
	return 0;
}

/* ---- Reading datagrams ---- */

enum walk_mode {
	WALK_DUMP,   /* answers to our request: links into dl[] */
	WALK_NOTIFY, /* notifications: links into links[] */
};

static void report(struct neighmon *m, const struct neighmon_event *ev)
{
	if (m->cb)
		m->cb(m->arg, ev);
}

/* A link notification applied to the live list. */
static void note_link(struct neighmon *m, uint16_t type, int ifindex, const uint8_t mac[MAC_LEN],
		      bool has_mac)
{
	bool changed;

	if (type == RTM_NEWLINK && has_mac) {
		int r = link_set(m->links, &m->nlinks, ifindex, mac);

		if (r == -ENOSPC)
			m->overflow = m->need_links = true;
		changed = r > 0;
	} else {
		/* Gone, or no longer an Ethernet address. */
		changed = link_del(m->links, &m->nlinks, ifindex);
	}
	if (changed)
		rebuild_own(m);
}

/* Walks one datagram of netlink messages in m->buf.  Returns 1 when a
 * dump is done, 0 to read on, -errno on failure (the messages after a
 * malformed one are not read). */
static int walk(struct neighmon *m, size_t len, enum walk_mode mode)
{
	struct rtnl_iter it;
	struct rtnl_msg msg;
	int r;

	rtnl_iter_init(&it, &m->buf, len);
	while ((r = rtnl_next(&it, &msg)) > 0) {
		if (mode == WALK_DUMP && msg.h.nlmsg_seq != m->seq)
			continue; /* not the answer to this request */
		switch (msg.h.nlmsg_type) {
		case NLMSG_DONE:
		case NLMSG_ERROR:
			if (mode != WALK_DUMP)
				continue;
			return rtnl_dump_status(&msg);
		case RTM_NEWLINK:
		case RTM_DELLINK: {
			uint8_t mac[MAC_LEN];
			int ifindex;
			bool has_mac;

			r = parse_link(&msg, &ifindex, mac, &has_mac);
			if (r == -ENOENT)
				continue;
			if (r < 0)
				return r;
			if (mode == WALK_NOTIFY)
				note_link(m, msg.h.nlmsg_type, ifindex, mac, has_mac);
			else if (msg.h.nlmsg_type == RTM_NEWLINK && has_mac &&
				 link_set(m->dl, &m->dn, ifindex, mac) == -ENOSPC)
				m->dover = true;
			continue;
		}
		case RTM_NEWNEIGH:
		case RTM_DELNEIGH: {
			struct neighmon_event ev;

			r = parse_neigh(&msg, &ev);
			if (r == -ENOENT)
				continue;
			if (r < 0)
				return r;
			report(m, &ev);
			continue;
		}
		default:
			continue; /* e.g. RTM_GETNEIGH, the kernel asking arpd */
		}
	}
	return r;
}

static int walk_dump(void *arg, size_t len)
{
	return walk(arg, len, WALK_DUMP);
}

/* ---- Dumps ---- */

/* Dumps one table (RTM_GETLINK or RTM_GETNEIGH of one family) on fd:
 * links into dl[], neighbours to the callback. */
static int dump_one(struct neighmon *m, int fd, uint16_t type, uint8_t family)
{
	struct {
		struct nlmsghdr h;
		union {
			struct ifinfomsg ifi;
			struct ndmsg ndm;
		} u;
	} req;
	int r;

	memset(&req, 0, sizeof(req));
	/* An ndmsg of exactly its size: the AF_BRIDGE dump tells it from an
	 * ifinfomsg by the length (valid_fdb_dump_legacy()). */
	if (type == RTM_GETLINK) {
		req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.u.ifi));
		req.u.ifi.ifi_family = family;
	} else {
		req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.u.ndm));
		req.u.ndm.ndm_family = family;
	}
	r = rtnl_dump_request(fd, &req.h, type, ++m->seq);
	if (r < 0)
		return r;
	return rtnl_dump_read(fd, &m->buf, walk_dump, m);
}

/* Reads the links from scratch and replaces the list with them. */
static int dump_links(struct neighmon *m, int fd)
{
	int r;

	m->dn = 0;
	m->dover = false;
	r = dump_one(m, fd, RTM_GETLINK, AF_UNSPEC);
	if (r < 0)
		return r;
	memcpy(m->links, m->dl, m->dn * sizeof(m->dl[0]));
	m->nlinks = m->dn;
	rebuild_own(m);
	m->need_links = m->dover;
	m->overflow |= m->dover;
	return 0;
}

/* Reports every neighbour and FDB entry. */
static int dump_neigh(struct neighmon *m, int fd)
{
	static const uint8_t families[] = {AF_INET, AF_INET6, AF_BRIDGE};
	int r;

	for (size_t i = 0; i < sizeof(families); i++) {
		r = dump_one(m, fd, RTM_GETNEIGH, families[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Dumps everything again; until that succeeds, every neighmon_read()
 * tries anew.  Entries reported before a failure stay reported: they were
 * true when read. */
static int redump(struct neighmon *m)
{
	int fd, r;

	m->need_dump = true;
	fd = rtnl_dump_socket();
	if (fd < 0)
		return fd;
	r = dump_links(m, fd);
	if (r == 0)
		r = dump_neigh(m, fd);
	close(fd);
	if (r == 0)
		m->need_dump = false;
	return r;
}

/* Only the links again, once a link that did not fit may fit. */
static int redump_links(struct neighmon *m)
{
	int fd = rtnl_dump_socket(), r;

	if (fd < 0)
		return fd;
	r = dump_links(m, fd);
	close(fd);
	return r;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- The interface ---- */

int neighmon_open(neighmon_cb cb, void *arg, struct neighmon **ret)
{
	struct neighmon *m;
	int fd = -1, r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cb = cb;
	m->arg = arg;
	/* Subscribed before the dumps start: nothing falls between them. */
	m->fd = rtnl_subscribe(RTMGRP_LINK | RTMGRP_NEIGH, RCVBUF_BYTES);
	if (m->fd < 0) {
		r = m->fd;
		free(m);
		return r;
	}
	fd = rtnl_dump_socket();
	if (fd < 0) {
		r = fd;
		goto fail;
	}
	r = dump_links(m, fd);
	if (r < 0)
		goto fail;
	/* More links than we hold: refuse rather than know some (netmon
	 * does the same); checked before any entry is reported. */
	if (m->overflow) {
		r = -ENOSPC;
		goto fail;
	}
	r = dump_neigh(m, fd);
	if (r < 0)
		goto fail;
	close(fd);
	*ret = m;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	neighmon_close(m);
	return r;
}

void neighmon_close(struct neighmon *m)
{
	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

int neighmon_fd(const struct neighmon *m)
{
	return m->fd;
}

int neighmon_read(struct neighmon *m)
{
	bool lost = false, bad = false;
	int err = 0, r;

	if (m->busy)
		return -EBUSY; /* from the callback: m->buf is being parsed */
	m->busy = true;
	for (unsigned i = 0; i < READ_BUDGET; i++) {
		ssize_t n = rtnl_recv(m->fd, &m->buf);

		if (n == -EAGAIN)
			break;
		/* ENOBUFS: notifications were dropped; a datagram too large
		 * for the buffer lost some just the same.  One re-dump after
		 * the budget covers any number of losses within it: a
		 * re-dump is the expensive part (every entry again, and the
		 * kernel's FDB dump walks its list from the start for every
		 * 32 KiB chunk, so its cost grows with the square of the
		 * FDB's size), so a call never does more than one. */
		if (n == -ENOBUFS || n == -EMSGSIZE) {
			m->need_dump = lost = true;
			continue;
		}
		if (n < 0) {
			err = (int)n;
			break;
		}
		if (walk(m, (size_t)n, WALK_NOTIFY) < 0) {
			/* The message and the rest of its datagram are not
			 * used; the re-dump tells what they would have. */
			m->need_dump = m->dump_now = bad = true;
		}
	}
	if (m->need_dump && !m->dump_now && now_ms() < m->hold_until_ms) {
		/* Lost to a flood, and the last re-dump for that was a moment
		 * ago: the next one waits (the caller's timer calls again);
		 * notifications go on meanwhile. */
		lost = true;
	} else if (m->need_dump) {
		bool for_loss = !m->dump_now;

		r = redump(m);
		if (r < 0) {
			m->dump_now = true;
			err = r; /* retried at the next call */
			goto out;
		}
		m->dump_now = false;
		if (for_loss)
			m->hold_until_ms = now_ms() + REDUMP_EVERY_MS;
		lost = true;
	} else if (m->need_links && m->nlinks < NEIGHMON_MAX_LINKS) {
		/* A link found no room earlier and a notification we cannot
		 * replay was all we had of it: once there is room, ask again. */
		r = redump_links(m);
		if (r < 0) {
			err = r;
			goto out;
		}
	}
	if (err == 0 && bad)
		err = -EBADMSG;
	if (err == 0 && lost)
		err = -ENOBUFS;
	if (err == 0 && m->overflow) {
		/* Reported once per occurrence; the list holds what fitted. */
		m->overflow = false;
		err = -ENOSPC;
	}
out:
	m->busy = false;
	return err;
}

void neighmon_redump(struct neighmon *m)
{
	m->need_dump = m->dump_now = true;
}

bool neighmon_is_own_mac(const struct neighmon *m, const uint8_t mac[MAC_LEN])
{
	for (unsigned i = 0; i < m->nown; i++)
		if (memcmp(m->own[i], mac, MAC_LEN) == 0)
			return true;
	return false;
}

unsigned neighmon_own_macs(const struct neighmon *m, const uint8_t (**ret)[MAC_LEN])
{
	*ret = m->own;
	return m->nown;
}
