/* Outside changes of our nftables table, from the kernel's notifications
 * (see nftmon.h). */
#include "nftmon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nft.h"
#include "types.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* Datagrams read per nftmon_read(): a flood of notifications (a flush of
 * a large set) cannot hold the poll loop. */
#define READ_BUDGET 256

/* The kernel coalesces a transaction's notifications into datagrams of a
 * few KiB; 4 MiB holds tens of thousands of element notifications before
 * it overflows, and an overflow only means a full check. */
#define RCVBUF_BYTES (4 << 20)

struct nftmon {
	int fd;
	struct nftmon_filter f;
	union rtnl_buf buf;
};

/* The first attribute of type want as a NUL-terminated string that fits
 * in len bytes: 1, 0 when absent or too long, -EBADMSG. */
static int attr_str(const struct rtnl_msg *msg, uint16_t want, char *buf, size_t len)
{
	struct rtnl_attr a;
	size_t off = 0;
	int r;

	while ((r = rtnl_attr_next(msg, sizeof(struct nfgenmsg), &off, &a)) > 0) {
		if (a.type != want)
			continue;
		if (a.len == 0 || a.len > len || memchr(a.data, '\0', a.len) == NULL)
			return 0;
		memcpy(buf, a.data, a.len);
		return 1;
	}
	return r;
}

static int set_index(const char *name)
{
	for (int s = 0; s < NFT_SET_COUNT; s++)
		if (strcmp(name, nft_set_name((enum nft_set)s)) == 0)
			return s;
	return -1;
}

/* NEWGEN: the process behind the transaction that just touched us. */
static int gen_proc(const struct rtnl_msg *msg, struct nftmon_change *acc)
{
	struct rtnl_attr a;
	size_t off = 0;
	uint32_t pid = 0;
	char comm[sizeof(acc->comm)] = "";
	int r;

	while ((r = rtnl_attr_next(msg, sizeof(struct nfgenmsg), &off, &a)) > 0) {
		if (a.type == NFTA_GEN_PROC_PID && a.len == sizeof(pid)) {
			memcpy(&pid, a.data, sizeof(pid));
			pid = ntohl(pid);
		} else if (a.type == NFTA_GEN_PROC_NAME && a.len > 0) {
			/* TASK_COMM_LEN is 16: longer is cut, never overrun. */
			size_t n = MIN(a.len, sizeof(comm) - 1);
			memcpy(comm, a.data, n);
			comm[n] = '\0';
		}
	}
	if (r < 0)
		return r;
	acc->pid = pid;
	memcpy(acc->comm, comm, sizeof(comm));
	return 1;
}

int nftmon_classify(const struct nftmon_filter *f, const struct rtnl_msg *msg,
		    struct nftmon_change *acc)
{
	struct nfgenmsg g;
	char table[sizeof(f->table)], set[64];
	unsigned type = msg->h.nlmsg_type & 0xff;
	int r, s;

	if ((msg->h.nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES || msg->plen < sizeof(g))
		return 0;
	/* Ours: the daemon's socket sent the transaction. */
	if (msg->h.nlmsg_pid == f->own_portid)
		return 0;
	if (type == NFT_MSG_NEWGEN) {
		/* The end of a transaction; it touched us when one of its
		 * messages did (same port id, and the kernel sends a
		 * transaction's notifications before its NEWGEN). */
		if (!acc->messages || msg->h.nlmsg_pid != acc->portid)
			return 0;
		return gen_proc(msg, acc);
	}
	memcpy(&g, msg->payload, sizeof(g));
	if (g.nfgen_family != f->family)
		return 0;
	/* The table's name is attribute 1 in every message that names one
	 * (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE,
	 * NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE). */
	r = attr_str(msg, 1, table, sizeof(table));
	if (r <= 0)
		return r;
	if (strcmp(table, f->table) != 0)
		return 0;
	switch (type) {
	case NFT_MSG_DELTABLE:
		acc->table_deleted = true;
		/* fall through */
	case NFT_MSG_NEWTABLE:
		acc->what |= NFTMON_TABLE;
		break;
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
	case NFT_MSG_NEWRULE:
	case NFT_MSG_DELRULE:
		acc->what |= NFTMON_CHAINS;
		break;
	case NFT_MSG_NEWSET:
	case NFT_MSG_DELSET:
		acc->what |= NFTMON_SETS;
		break;
	case NFT_MSG_NEWSETELEM:
	case NFT_MSG_DELSETELEM:
		/* NFTA_SET_ELEM_LIST_SET: elements of a set that is not one
		 * of ours (added to our table by hand) change nothing we
		 * enforce. */
		r = attr_str(msg, NFTA_SET_ELEM_LIST_SET, set, sizeof(set));
		if (r <= 0)
			return r;
		s = set_index(set);
		if (s < 0)
			return 0;
		acc->what |= NFTMON_ELEMS;
		acc->sets |= UINT64_C(1) << s;
		break;
	default:
		/* Objects and flowtables: we use none. */
		return 0;
	}
	acc->messages++;
	if (acc->portid != msg->h.nlmsg_pid) {
		/* Another transaction: its NEWGEN will name its process. */
		acc->portid = msg->h.nlmsg_pid;
		acc->pid = 0;
		acc->comm[0] = '\0';
	}
	return 1;
}

void nftmon_describe(const struct nftmon_change *c, char *buf, size_t len)
{
	size_t n = 0;

#define PUT(...)                                                              \
	do {                                                                  \
		if (n < len)                                                  \
			n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__); \
	} while (0)
	if (len)
		buf[0] = '\0';
	if (c->what & NFTMON_LOST)
		PUT("notifications lost (anything may have changed)");
	if (c->what & NFTMON_CHECK)
		PUT("%sa full check after a hold", n ? ", " : "");
	if (c->what & NFTMON_TABLE)
		PUT("%stable %s", n ? ", " : "", c->table_deleted ? "deleted" : "changed");
	if (c->what & NFTMON_CHAINS)
		PUT("%schains or rules changed", n ? ", " : "");
	if (c->what & NFTMON_SETS)
		PUT("%ssets deleted or added", n ? ", " : "");
	if (c->what & NFTMON_ELEMS) {
		bool first = true;
		PUT("%selements of", n ? ", " : "");
		for (int s = 0; s < NFT_SET_COUNT; s++)
			if (c->sets & (UINT64_C(1) << s)) {
				PUT("%s%s", first ? " " : "/", nft_set_name((enum nft_set)s));
				first = false;
			}
	}
#undef PUT
}

int nftmon_open(const struct nftmon_filter *f, struct nftmon **ret)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	int group = NFNLGRP_NFTABLES, rcvbuf = RCVBUF_BYTES, r;
	/* Drops, in the kernel, every datagram whose first message comes from
	 * our own socket: a transaction's notifications are coalesced into
	 * datagrams of that transaction alone, so the rest are ours too.
	 * BPF loads words in network order; nlmsg_pid is in host order. */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_pid)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(f->own_portid), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
	};
	struct sock_fprog prog = {.len = ARRAY_SIZE(code), .filter = code};
	struct nftmon *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->f = *f;
	m->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
	if (m->fd < 0) {
		r = -errno;
		goto fail;
	}
	/* Best effort: a short queue only means an earlier full check. */
	if (setsockopt(m->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(m->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (setsockopt(m->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(m->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		r = -errno;
		goto fail;
	}
	*ret = m;
	return 0;
fail:
	nftmon_close(m);
	return r;
}

void nftmon_close(struct nftmon *m)
{
	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

int nftmon_fd(const struct nftmon *m)
{
	return m->fd;
}

int nftmon_read(struct nftmon *m, struct nftmon_change *acc)
{
	int changed = 0;

	for (unsigned i = 0; i < READ_BUDGET; i++) {
		ssize_t n = rtnl_recv(m->fd, &m->buf);
		struct rtnl_iter it;
		struct rtnl_msg msg;
		int r;

		if (n == -EAGAIN)
			break;
		if (n == -ENOBUFS || n == -EMSGSIZE) {
			/* Lost: what is still queued is read on, but only a
			 * full check can say what the lost ones changed. */
			acc->what |= NFTMON_LOST;
			changed = 1;
			continue;
		}
		if (n < 0)
			return (int)n;
		rtnl_iter_init(&it, &m->buf, (size_t)n);
		while ((r = rtnl_next(&it, &msg)) > 0)
			if (nftmon_classify(&m->f, &msg, acc) == 1)
				changed = 1;
		if (r < 0) {
			/* The kernel's framing cannot be wrong; if it is, the
			 * rest of the datagram is unknown. */
			acc->what |= NFTMON_LOST;
			changed = 1;
		}
	}
	return changed;
}
