/* nftables over netlink with libnftnl + libmnl; see nft.h.
 *
 * nftables' own src/mnl.c is the model for batching and ACK handling. */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "types.h"

/* nft's datatype numbers, so that `nft list` prints our sets readably. */
#define TYPE_IPADDR	   7
#define TYPE_IP6ADDR	   8
#define TYPE_ETHERADDR	   9
#define TYPE_INET_PROTOCOL 12
#define TYPE_INET_SERVICE  13
#define TYPE_MARK	   19
#define TYPE_BITS	   6

/* 32-bit registers for concatenations (NFT_REG32_00 = 8). */
#define R32(i) (NFT_REG32_00 + (i))

struct nft {
	struct mnl_socket *nl;
	uint32_t portid;
	/* The next sequence number: one per message, never reused while
	 * the socket is open (2^32 messages apart). */
	uint32_t seq;
	struct nft_params p;
	int timeout_ms;
	/* An exchange ended before its last answer (a timeout, lost ACKs, a
	 * refused batch): what is still queued is drained before the next. */
	bool unsynced;
	uint64_t stale; /* nft_stale() */
	char *rbuf;
	size_t rbuf_len;
	/* Outbreak mode as nft_outbreak() last set it, with arrays of our
	 * own (g4, g6, e4, e6, svc: one allocation, at g4). */
	struct nft_outbreak ob;
	void *ob_mem;
	/* nft_outbreak() has been called: until then nft_setup() creates
	 * the outbreak chain and sets but leaves what they hold, so that a
	 * restart does not lift the segmentation while it reads its state. */
	bool ob_known;
	unsigned ob_bits; /* bits of the group ids in use: a pair of rules each */
};

struct setdef {
	const char *name;
	uint8_t family; /* of the key's address: AF_INET, AF_INET6 or AF_MAC */
	unsigned key_len;
	uint32_t key_type;
	uint32_t flags;
	bool counter;
	uint8_t nfields;
	uint8_t field_len[4];
	uint8_t dst_family; /* conh*: of the destination in the key; 0 none */
	uint32_t data_type; /* a map's value (none of ours now); 0 for a set */
	unsigned data_len;
};

_Static_assert(NFT_OB_BITS == 10, "sets[] names obb*_0..obb*_9");

static const struct setdef sets[NFT_SET_COUNT] = {
	[NFT_SET_ISO4] = {"iso4", AF_INET, 4, TYPE_IPADDR, NFT_SET_TIMEOUT, true, 1, {4}},
	[NFT_SET_ISO6] = {"iso6", AF_INET6, 16, TYPE_IP6ADDR, NFT_SET_TIMEOUT, true, 1, {16}},
	[NFT_SET_CON4] = {"con4",
			  AF_INET,
			  12,
			  (TYPE_IPADDR << (2 * TYPE_BITS)) | (TYPE_INET_PROTOCOL << TYPE_BITS) |
				  TYPE_INET_SERVICE,
			  NFT_SET_TIMEOUT,
			  true,
			  3,
			  {4, 1, 2}},
	[NFT_SET_CON6] = {"con6",
			  AF_INET6,
			  24,
			  (TYPE_IP6ADDR << (2 * TYPE_BITS)) | (TYPE_INET_PROTOCOL << TYPE_BITS) |
				  TYPE_INET_SERVICE,
			  NFT_SET_TIMEOUT,
			  true,
			  3,
			  {16, 1, 2}},
	[NFT_SET_CONP4] = {"conp4",
			   AF_INET,
			   8,
			   (TYPE_IPADDR << TYPE_BITS) | TYPE_INET_PROTOCOL,
			   NFT_SET_TIMEOUT,
			   true,
			   2,
			   {4, 1}},
	[NFT_SET_CONP6] = {"conp6",
			   AF_INET6,
			   20,
			   (TYPE_IP6ADDR << TYPE_BITS) | TYPE_INET_PROTOCOL,
			   NFT_SET_TIMEOUT,
			   true,
			   2,
			   {16, 1}},
	[NFT_SET_ISOM] = {"isom", AF_MAC, 6, TYPE_ETHERADDR, NFT_SET_TIMEOUT, true, 1, {6}},
	/* Each field of a concatenation takes whole 32-bit registers: MAC
	 * 6 + 2 padding, proto 1 + 3, port 2 + 2. */
	[NFT_SET_CONM] = {"conm",
			  AF_MAC,
			  16,
			  (TYPE_ETHERADDR << (2 * TYPE_BITS)) | (TYPE_INET_PROTOCOL << TYPE_BITS) |
				  TYPE_INET_SERVICE,
			  NFT_SET_TIMEOUT,
			  true,
			  3,
			  {6, 1, 2}},
	[NFT_SET_CONPM] = {"conpm",
			   AF_MAC,
			   12,
			   (TYPE_ETHERADDR << TYPE_BITS) | TYPE_INET_PROTOCOL,
			   NFT_SET_TIMEOUT,
			   true,
			   2,
			   {6, 1}},
	/* Towards one destination: the source (address or MAC), the
	 * destination, proto, port; each field in whole registers. */
	[NFT_SET_CONH4] = {"conh4",
			   AF_INET,
			   16,
			   (TYPE_IPADDR << (3 * TYPE_BITS)) | (TYPE_IPADDR << (2 * TYPE_BITS)) |
				   (TYPE_INET_PROTOCOL << TYPE_BITS) | TYPE_INET_SERVICE,
			   NFT_SET_TIMEOUT,
			   true,
			   4,
			   {4, 4, 1, 2},
			   AF_INET},
	[NFT_SET_CONH6] = {"conh6",
			   AF_INET6,
			   40,
			   (TYPE_IP6ADDR << (3 * TYPE_BITS)) | (TYPE_IP6ADDR << (2 * TYPE_BITS)) |
				   (TYPE_INET_PROTOCOL << TYPE_BITS) | TYPE_INET_SERVICE,
			   NFT_SET_TIMEOUT,
			   true,
			   4,
			   {16, 16, 1, 2},
			   AF_INET6},
	[NFT_SET_CONHM4] = {"conhm4",
			    AF_MAC,
			    20,
			    (TYPE_ETHERADDR << (3 * TYPE_BITS)) | (TYPE_IPADDR << (2 * TYPE_BITS)) |
				    (TYPE_INET_PROTOCOL << TYPE_BITS) | TYPE_INET_SERVICE,
			    NFT_SET_TIMEOUT,
			    true,
			    4,
			    {6, 4, 1, 2},
			    AF_INET},
	[NFT_SET_CONHM6] = {"conhm6",
			    AF_MAC,
			    32,
			    (TYPE_ETHERADDR << (3 * TYPE_BITS)) |
				    (TYPE_IP6ADDR << (2 * TYPE_BITS)) |
				    (TYPE_INET_PROTOCOL << TYPE_BITS) | TYPE_INET_SERVICE,
			    NFT_SET_TIMEOUT,
			    true,
			    4,
			    {6, 16, 1, 2},
			    AF_INET6},
	[NFT_SET_REM4] = {"rem4", AF_INET, 4, TYPE_IPADDR, NFT_SET_INTERVAL, false, 1, {4}},
	[NFT_SET_REM6] = {"rem6", AF_INET6, 16, TYPE_IP6ADDR, NFT_SET_INTERVAL, false, 1, {16}},
	[NFT_SET_ADM4] = {"adm4", AF_INET, 4, TYPE_IPADDR, NFT_SET_INTERVAL, false, 1, {4}},
	[NFT_SET_ADM6] = {"adm6", AF_INET6, 16, TYPE_IP6ADDR, NFT_SET_INTERVAL, false, 1, {16}},
	/* Outbreak mode: every grouped address (obg*), and per bit B of the
	 * group ids the addresses whose id has it (obb*_B, OB_BIT_SETS). */
	[NFT_SET_OBG4] = {"obg4", AF_INET, 4, TYPE_IPADDR, NFT_SET_INTERVAL, false, 1, {4}},
	[NFT_SET_OBG6] = {"obg6", AF_INET6, 16, TYPE_IP6ADDR, NFT_SET_INTERVAL, false, 1, {16}},
	[NFT_SET_OBE4] = {"obe4", AF_INET, 4, TYPE_IPADDR, NFT_SET_INTERVAL, false, 1, {4}},
	[NFT_SET_OBE6] = {"obe6", AF_INET6, 16, TYPE_IP6ADDR, NFT_SET_INTERVAL, false, 1, {16}},
	[NFT_SET_OBGM] = {"obgm", AF_MAC, 6, TYPE_ETHERADDR, 0, false, 1, {6}},
	/* proto 1 + 3 padding, port 2 + 2. */
	[NFT_SET_OBS] = {"obs",
			 0,
			 8,
			 (TYPE_INET_PROTOCOL << TYPE_BITS) | TYPE_INET_SERVICE,
			 0,
			 false,
			 2,
			 {1, 2}},
/* clang-format off */
#define OBB(s, name, fam, len, type, flags) [s] = {name, fam, len, type, flags, false, 1, {len}}
#define OB_BIT_SETS(b)                                                                  \
	OBB(NFT_SET_OBB4 + b, "obb4_" #b, AF_INET, 4, TYPE_IPADDR, NFT_SET_INTERVAL),   \
	OBB(NFT_SET_OBB6 + b, "obb6_" #b, AF_INET6, 16, TYPE_IP6ADDR, NFT_SET_INTERVAL), \
	OBB(NFT_SET_OBBM + b, "obbm_" #b, AF_MAC, 6, TYPE_ETHERADDR, 0)
	/* clang-format on */
	OB_BIT_SETS(0),
	OB_BIT_SETS(1),
	OB_BIT_SETS(2),
	OB_BIT_SETS(3),
	OB_BIT_SETS(4),
	OB_BIT_SETS(5),
	OB_BIT_SETS(6),
	OB_BIT_SETS(7),
	OB_BIT_SETS(8),
	OB_BIT_SETS(9),
#undef OB_BIT_SETS
#undef OBB
};

const char *nft_set_name(enum nft_set s)
{
	return (unsigned)s < NFT_SET_COUNT ? sets[s].name : "?";
}

bool nft_set_is_v6(enum nft_set s)
{
	return (unsigned)s < NFT_SET_COUNT && sets[s].family == AF_INET6;
}

bool nft_set_is_mac(enum nft_set s)
{
	return (unsigned)s < NFT_SET_COUNT && sets[s].family == AF_MAC;
}

int nft_set_dst_family(enum nft_set s)
{
	return (unsigned)s < NFT_SET_COUNT ? sets[s].dst_family : 0;
}

/* Bytes of the address in a key: IPv4 4, IPv6 16, MAC 6. */
static unsigned key_addr_len(enum nft_set s)
{
	return sets[s].family == AF_INET6 ? 16 : sets[s].family == AF_MAC ? MAC_LEN : 4;
}

/* Where the next field of a concatenation starts: the address rounded up
 * to whole 32-bit registers (a MAC takes two). */
static unsigned key_addr_span(enum nft_set s)
{
	return (key_addr_len(s) + 3) & ~3u;
}

/* Bytes of the destination in a key (conh*), whole registers; 0 none. */
static unsigned key_dst_len(enum nft_set s)
{
	return sets[s].dst_family == AF_INET6 ? 16 : sets[s].dst_family == AF_INET ? 4 : 0;
}

int nft_open(const struct nft_params *p, struct nft **ret)
{
	struct nft *n = calloc(1, sizeof(*n));
	int one = 1, r;

	if (!n)
		return -ENOMEM;
	n->p = *p;
	n->timeout_ms =
		p->timeout_ms && p->timeout_ms <= INT_MAX ? (int)p->timeout_ms : NFT_TIMEOUT_MS;
	/* Room for the ACKs of a large batch: each is an nlmsgerr without
	 * the echoed request (NETLINK_CAP_ACK) plus a short ext-ack. */
	n->rbuf_len = 1 << 20;
	n->rbuf = malloc(n->rbuf_len);
	n->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!n->rbuf || !n->nl) {
		r = n->rbuf ? -errno : -ENOMEM;
		goto fail;
	}
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	mnl_socket_setsockopt(n->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(n->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	{
		int sz = 4 << 20;
		/* Best effort: SO_RCVBUFFORCE needs CAP_NET_ADMIN, which we have. */
		if (setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_RCVBUFFORCE, &sz,
			       sizeof(sz)) < 0)
			setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_RCVBUF, &sz,
				   sizeof(sz));
		/* A whole transaction goes in one sendmsg(): the default send
		 * buffer (wmem_default, 208 KiB) refuses one of ~10,000
		 * elements with EMSGSIZE. */
		if (setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_SNDBUFFORCE, &sz,
			       sizeof(sz)) < 0)
			setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_SNDBUF, &sz,
				   sizeof(sz));
	}
	n->portid = mnl_socket_get_portid(n->nl);
	n->seq = (uint32_t)time(NULL);
	*ret = n;
	return 0;
fail:
	nft_close(n);
	return r;
}

void nft_close(struct nft *n)
{
	if (!n)
		return;
	if (n->nl)
		mnl_socket_close(n->nl);
	free(n->rbuf);
	free(n->ob_mem);
	free(n);
}

int nft_fd(const struct nft *n)
{
	return mnl_socket_get_fd(n->nl);
}

uint64_t nft_stale(const struct nft *n)
{
	return n->stale;
}

/* ---- talking to the kernel ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends one datagram to the kernel.  0 or -errno. */
static int nl_send(struct nft *n, struct iovec *iov, size_t iovlen)
{
	struct sockaddr_nl snl = {.nl_family = AF_NETLINK};
	struct msghdr mh = {
		.msg_name = &snl,
		.msg_namelen = sizeof(snl),
		.msg_iov = iov,
		.msg_iovlen = iovlen,
	};

	return sendmsg(mnl_socket_get_fd(n->nl), &mh, 0) < 0 ? -errno : 0;
}

/* Reads one datagram from the kernel into rbuf, waiting until deadline
 * (now_ms()).  Its length, or -errno: -ETIMEDOUT past the deadline,
 * -ENOBUFS when the kernel dropped messages for want of buffer space,
 * -EMSGSIZE for a datagram larger than rbuf (its messages are lost).
 * Datagrams from anyone but the kernel are dropped and counted. */
static ssize_t nl_recv(struct nft *n, int64_t deadline)
{
	int fd = mnl_socket_get_fd(n->nl);

	for (;;) {
		struct sockaddr_nl snl;
		struct iovec iov = {.iov_base = n->rbuf, .iov_len = n->rbuf_len};
		struct msghdr mh = {.msg_name = &snl,
				    .msg_namelen = sizeof(snl),
				    .msg_iov = &iov,
				    .msg_iovlen = 1};
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t len;
		int pr;

		if (left <= 0)
			return -ETIMEDOUT;
		pr = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr <= 0)
			continue;
		len = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (len < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		if (mh.msg_namelen != sizeof(snl) || snl.nl_family != AF_NETLINK ||
		    snl.nl_pid != 0) {
			n->stale++;
			continue;
		}
		return len;
	}
}

/* Reads and drops what an exchange that ended early left queued.  Late
 * answers may still come after this; their sequence numbers keep them out
 * of the exchanges that follow.  Reading also moves a dump that is still
 * running to its end, so that the kernel takes the next one. */
static void nl_drain(struct nft *n)
{
	int fd = mnl_socket_get_fd(n->nl);

	if (!n->unsynced)
		return;
	/* A bound on the loop; the receive buffer (4 MiB) holds far less. */
	for (unsigned i = 0; i < 65536; i++) {
		ssize_t len = recv(fd, n->rbuf, n->rbuf_len, MSG_DONTWAIT);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)n->rbuf;
		int rem = (int)len;

		if (len < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			break; /* EAGAIN: empty */
		}
		for (; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem))
			n->stale++;
	}
	n->unsynced = false;
}

uint32_t nft_portid(const struct nft *n)
{
	return n->portid;
}

/* ---- a transaction under construction ---- */

/* libnftnl's batch: a message is written at the end of the current page,
 * into the overrun past it, then moved to a new page when the page is
 * full; a message longer than a page is dropped from the batch without a
 * word (and its ACK never comes).  So every message must be shorter than
 * both: the largest are NFT_OP_MAX_ELEMS elements (16 KiB) and
 * NETWORKS_PER_MSG prefixes (5 KiB).  nft itself uses 32 memory pages. */
#define BATCH_PAGE    (128 * 1024)
#define BATCH_OVERRUN (64 * 1024)

struct txn {
	struct nft *n;
	struct nftnl_batch *b;
	uint32_t begin_seq, end_seq; /* BEGIN's and END's */
	uint32_t first_seq;	     /* seq of the first acked message */
	unsigned nmsg;		     /* acked messages */
	/* The first failure while building (-ENOMEM): from then on nothing
	 * more is written, and txn_send() returns it without sending. */
	int err;
	struct nlmsghdr *last;	 /* the message being written */
	struct nftnl_rule *rule; /* the rule under construction, or NULL */
};

static void txn_fail(struct txn *t, int err)
{
	if (!t->err)
		t->err = err;
}

static void txn_free(struct txn *t)
{
	if (t->rule)
		nftnl_rule_free(t->rule);
	t->rule = NULL;
	if (t->b)
		nftnl_batch_free(t->b);
	t->b = NULL;
}

static int txn_begin(struct nft *n, struct txn *t)
{
	memset(t, 0, sizeof(*t));
	t->n = n;
	t->b = nftnl_batch_alloc(BATCH_PAGE, BATCH_OVERRUN);
	if (!t->b)
		return -ENOMEM;
	t->begin_seq = n->seq++;
	nftnl_batch_begin(nftnl_batch_buffer(t->b), t->begin_seq);
	if (nftnl_batch_update(t->b) < 0) {
		txn_free(t);
		return -ENOMEM;
	}
	t->first_seq = n->seq;
	return 0;
}

/* The header of the next message, or NULL once building has failed: a
 * page that could not be followed by a new one has no room left. */
static struct nlmsghdr *txn_msg(struct txn *t, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	if (t->err)
		return NULL;
	nlh = nftnl_nlmsg_build_hdr(nftnl_batch_buffer(t->b), type, (uint16_t)t->n->p.family,
				    flags | NLM_F_ACK, t->n->seq++);
	t->nmsg++;
	t->last = nlh;
	return nlh;
}

/* Closes the message just written.  One too long for the batch (see
 * BATCH_PAGE: our bounds keep them far shorter) fails the transaction
 * rather than leave it waiting for an ACK that never comes. */
static void txn_next(struct txn *t)
{
	if (t->err)
		return;
	if (t->last && t->last->nlmsg_len > BATCH_OVERRUN)
		txn_fail(t, -EMSGSIZE);
	else if (nftnl_batch_update(t->b) < 0)
		txn_fail(t, -ENOMEM);
	t->last = NULL;
}

/* Parses one ACK: the original sequence number, the error and the ext-ack
 * message.  The caller checked that nlh holds a whole nlmsgerr. */
static void parse_ack(const struct nlmsghdr *nlh, uint32_t *ret_seq, int *ret_err, char *msg,
		      size_t msglen)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof(*e);

	*ret_seq = e->msg.nlmsg_seq;
	/* 0 or -errno; anything else is not an errno we could name. */
	*ret_err = e->error <= 0 && e->error > -4096 ? e->error : -EPROTO;
	if (msg && msglen)
		msg[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || !msg)
		return;
	/* Without NETLINK_CAP_ACK the request is echoed here, and the
	 * attributes start at the next alignment. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < sizeof(struct nlmsghdr) || e->msg.nlmsg_len > nlh->nlmsg_len)
			return;
		off = NLMSG_ALIGN(off + e->msg.nlmsg_len - sizeof(struct nlmsghdr));
	}
	if (nlh->nlmsg_len < NLMSG_HDRLEN + off)
		return;
	const struct nlattr *attr =
		(const struct nlattr *)((const char *)mnl_nlmsg_get_payload(nlh) + off);
	int rem = (int)(nlh->nlmsg_len - NLMSG_HDRLEN - off);
	while (mnl_attr_ok(attr, rem)) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			snprintf(msg, msglen, "%s", mnl_attr_get_str(attr));
		rem -= MNL_ALIGN(attr->nla_len);
		attr = (const struct nlattr *)((const char *)attr + MNL_ALIGN(attr->nla_len));
	}
}

struct ack_sink {
	void *arg;
	/* Called for each ACK of message index i (0-based among acked messages). */
	void (*cb)(void *arg, unsigned i, int err, const char *msg);
};

/* Sends the transaction and reads one ACK per message.  0 when all were
 * read (errors are reported through the sink), -errno otherwise. */
static int txn_send(struct txn *t, const struct ack_sink *sink, unsigned *ret_failed)
{
	struct nft *n = t->n;
	unsigned got = 0, failed = 0;
	uint8_t *seen = NULL;
	int64_t deadline;
	int r = 0;

	*ret_failed = 0;
	if (t->err)
		return t->err;
	t->end_seq = n->seq++;
	nftnl_batch_end(nftnl_batch_buffer(t->b), t->end_seq);
	if (nftnl_batch_update(t->b) < 0)
		return -ENOMEM;
	seen = calloc(t->nmsg ? t->nmsg : 1, 1);
	if (!seen)
		return -ENOMEM;

	{
		int iovlen = nftnl_batch_iovec_len(t->b);
		struct iovec *iov = calloc((size_t)iovlen, sizeof(*iov));

		if (!iov) {
			free(seen);
			return -ENOMEM;
		}
		nftnl_batch_iovec(t->b, iov, (uint32_t)iovlen);
		nl_drain(n);
		r = nl_send(n, iov, (size_t)iovlen);
		free(iov);
		if (r < 0) {
			free(seen);
			return r;
		}
	}

	deadline = now_ms() + n->timeout_ms;
	while (got < t->nmsg) {
		ssize_t len = nl_recv(n, deadline);

		if (len < 0) {
			r = (int)len; /* ENOBUFS: ACKs were dropped */
			break;
		}
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)n->rbuf;
		int rem = (int)len;
		for (; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
			uint32_t seq;
			int err;
			char msg[96];

			/* Not an ACK (the tail of a listing cut short), or one
			 * too short to read. */
			if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != n->portid ||
			    nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nlmsgerr)) {
				n->stale++;
				continue;
			}
			parse_ack(nlh, &seq, &err, msg, sizeof(msg));
			if (seq - t->first_seq < t->nmsg) { /* one of ours: exactly */
				unsigned i = seq - t->first_seq;
				if (seen[i]) {
					n->stale++;
					continue;
				}
				seen[i] = 1;
				got++;
				if (err)
					failed++;
				if (sink && sink->cb)
					sink->cb(sink->arg, i, err, msg);
				/* The kernel's ACKs come all at once, after
				 * the commit or the abort: each one proves
				 * the batch is still being answered. */
				deadline = now_ms() + n->timeout_ms;
			} else if ((seq == t->begin_seq || seq == t->end_seq) && err) {
				/* About the batch itself (e.g. EPERM on
				 * BEGIN): nothing was applied, and no other
				 * ACK follows. */
				r = err;
				goto out;
			} else {
				/* An earlier exchange's: a transaction that
				 * timed out, whatever its error. */
				n->stale++;
			}
		}
	}
out:
	if (got < t->nmsg)
		n->unsynced = true;
	free(seen);
	*ret_failed = failed;
	return r;
}

/* ---- rule building ---- */

/* A new expression for the rule under construction, or NULL (the
 * transaction has failed: the caller does nothing more). */
static struct nftnl_expr *expr_new(struct txn *t, const char *name)
{
	struct nftnl_expr *e;

	if (t->err || !t->rule)
		return NULL;
	e = nftnl_expr_alloc(name);
	if (!e)
		txn_fail(t, -ENOMEM);
	return e;
}

/* Appends e to the rule, or drops it when err (one of its setters
 * failed) is not 0. */
static void expr_add(struct txn *t, struct nftnl_expr *e, int err)
{
	if (!e)
		return;
	if (err) {
		nftnl_expr_free(e);
		txn_fail(t, err);
		return;
	}
	nftnl_rule_add_expr(t->rule, e);
}

static void e_meta(struct txn *t, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(t, "meta");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	expr_add(t, e, 0);
}

/* A conntrack key of the packet's flow (not of one direction) into dreg. */
static void e_ct(struct txn *t, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(t, "ct");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
	expr_add(t, e, 0);
}

static void e_cmp(struct txn *t, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr_new(t, "cmp");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	/* Fails only for data longer than a register. */
	expr_add(t, e, nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len) < 0 ? -EINVAL : 0);
}

static void e_payload(struct txn *t, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(t, "payload");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	expr_add(t, e, 0);
}

static void e_lookup(struct txn *t, uint32_t sreg, enum nft_set s)
{
	struct nftnl_expr *e = expr_new(t, "lookup");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, (uint32_t)s + 1);
	expr_add(t, e,
		 nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, sets[s].name) < 0 ? -ENOMEM : 0);
}

static void e_counter(struct txn *t)
{
	expr_add(t, expr_new(t, "counter"), 0);
}

static void e_verdict(struct txn *t, int verdict)
{
	struct nftnl_expr *e = expr_new(t, "immediate");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	expr_add(t, e, 0);
}

/* The dependency for an IPv4 or IPv6 header: `meta nfproto` in the inet
 * family (so that `nft list` shows "ip saddr"), `meta protocol` in the
 * bridge family, where it is also right for VLAN-tagged frames. */
static void m_family(struct txn *t, bool v6)
{
	int family = t->n->p.family;

	if (family == NFPROTO_BRIDGE) {
		uint16_t proto = htons(v6 ? 0x86dd : 0x0800);
		e_meta(t, NFT_META_PROTOCOL, NFT_REG_1);
		e_cmp(t, NFT_REG_1, NFT_CMP_EQ, &proto, sizeof(proto));
	} else {
		uint8_t nfproto = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
		e_meta(t, NFT_META_NFPROTO, NFT_REG_1);
		e_cmp(t, NFT_REG_1, NFT_CMP_EQ, &nfproto, sizeof(nfproto));
	}
}

/* Loads the source (or destination) address into reg. */
static void m_addr(struct txn *t, bool v6, bool dst, uint32_t reg)
{
	if (v6)
		e_payload(t, NFT_PAYLOAD_NETWORK_HEADER, dst ? 24 : 8, 16, reg);
	else
		e_payload(t, NFT_PAYLOAD_NETWORK_HEADER, dst ? 16 : 12, 4, reg);
}

static void m_l4proto(struct txn *t, uint8_t proto)
{
	e_meta(t, NFT_META_L4PROTO, NFT_REG_1);
	e_cmp(t, NFT_REG_1, NFT_CMP_EQ, &proto, 1);
}

static void m_dport(struct txn *t, uint16_t port)
{
	uint16_t be = htons(port);

	e_payload(t, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
	e_cmp(t, NFT_REG_1, NFT_CMP_EQ, &be, 2);
}

/* Starts a rule in chain: the e_* and m_* helpers add its expressions,
 * rule_emit() appends it to the transaction.  After a failure they all do
 * nothing, and txn_send() returns the failure. */
static void rule_new(struct txn *t, const char *chain)
{
	struct nftnl_rule *r;

	if (t->err)
		return;
	r = nftnl_rule_alloc();
	if (!r) {
		txn_fail(t, -ENOMEM);
		return;
	}
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)t->n->p.family);
	if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, t->n->p.table) < 0 ||
	    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain) < 0) {
		nftnl_rule_free(r);
		txn_fail(t, -ENOMEM);
		return;
	}
	t->rule = r;
}

/* Puts the rule begun by rule_new() in the transaction as a message of
 * type, and frees it. */
static void rule_send(struct txn *t, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	if (!t->rule)
		return;
	nlh = txn_msg(t, type, flags);
	if (nlh) {
		nftnl_rule_nlmsg_build_payload(nlh, t->rule);
		txn_next(t);
	}
	nftnl_rule_free(t->rule);
	t->rule = NULL;
}

static void rule_emit(struct txn *t)
{
	rule_send(t, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE);
}

static void e_goto(struct txn *t, const char *chain)
{
	struct nftnl_expr *e = expr_new(t, "immediate");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)NFT_GOTO);
	expr_add(t, e, nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain) < 0 ? -ENOMEM : 0);
}

static void e_jump(struct txn *t, const char *chain)
{
	struct nftnl_expr *e = expr_new(t, "immediate");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)NFT_JUMP);
	expr_add(t, e, nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain) < 0 ? -ENOMEM : 0);
}

/* The regular chains isolated traffic jumps to.  Each packet of an
 * isolated host looks its address up once (so the element's counter
 * counts the packet once), then these decide. */
enum isochain {
	ISO_SRC, /* forwarded, from an isolated host */
	ISO_DST, /* forwarded, to an isolated host */
	ISO_IN,	 /* to the gateway itself, from an isolated host */
	ISO_COUNT,
};

static const char *isochain_name(enum isochain c, bool v6)
{
	static const char *const names[ISO_COUNT][2] = {
		[ISO_SRC] = {"iso_src4", "iso_src6"},
		[ISO_DST] = {"iso_dst4", "iso_dst6"},
		[ISO_IN] = {"iso_in4", "iso_in6"},
	};
	return names[c][v6];
}

/* Base chain rules of one family: jumps for isolated hosts, then the
 * containment lookups. */
static void emit_base_rules(struct txn *t, const char *chain, bool input, bool v6)
{
	enum nft_set iso = v6 ? NFT_SET_ISO6 : NFT_SET_ISO4;
	enum nft_set con = v6 ? NFT_SET_CON6 : NFT_SET_CON4;
	enum nft_set conp = v6 ? NFT_SET_CONP6 : NFT_SET_CONP4;
	unsigned alen = v6 ? 4 : 1; /* address size in 32-bit registers */

	rule_new(t, chain);
	m_family(t, v6);
	m_addr(t, v6, false, NFT_REG_1);
	e_lookup(t, NFT_REG_1, iso);
	e_goto(t, isochain_name(input ? ISO_IN : ISO_SRC, v6));
	rule_emit(t);
	if (!input) {
		rule_new(t, chain);
		m_family(t, v6);
		m_addr(t, v6, true, NFT_REG_1);
		e_lookup(t, NFT_REG_1, iso);
		e_goto(t, isochain_name(ISO_DST, v6));
		rule_emit(t);
	}
	/* Contained: the host's traffic to the listed protocol/ports. */
	rule_new(t, chain);
	m_family(t, v6);
	m_addr(t, v6, false, R32(0));
	e_meta(t, NFT_META_L4PROTO, R32(alen));
	e_payload(t, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R32(alen + 1));
	e_lookup(t, R32(0), con);
	e_counter(t);
	e_verdict(t, NF_DROP);
	rule_emit(t);
	/* Contained: a whole protocol without ports (ICMP). */
	rule_new(t, chain);
	m_family(t, v6);
	m_addr(t, v6, false, R32(0));
	e_meta(t, NFT_META_L4PROTO, R32(alen));
	e_lookup(t, R32(0), conp);
	e_counter(t);
	e_verdict(t, NF_DROP);
	rule_emit(t);
	/* Contained towards one destination: the host's traffic to that
	 * destination's protocol/port (brute force against one server). */
	rule_new(t, chain);
	m_family(t, v6);
	m_addr(t, v6, false, R32(0));
	m_addr(t, v6, true, R32(alen));
	e_meta(t, NFT_META_L4PROTO, R32(2 * alen));
	e_payload(t, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R32(2 * alen + 1));
	e_lookup(t, R32(0), v6 ? NFT_SET_CONH6 : NFT_SET_CONH4);
	e_counter(t);
	e_verdict(t, NF_DROP);
	rule_emit(t);
}

/* Loads the frame's source MAC (ether saddr) into reg and the next 32-bit
 * register; the kernel zeroes the two bytes of padding.  In the inet
 * family the link layer may be anything, so, as nft does, first `meta
 * iiftype ether` (ARPHRD_ETHER, 16 bits in host byte order); a bridge
 * port is always Ethernet. */
static void m_ether_saddr(struct txn *t, uint32_t reg)
{
	int family = t->n->p.family;

	if (family != NFPROTO_BRIDGE) {
		uint16_t ether = ARPHRD_ETHER;
		e_meta(t, NFT_META_IIFTYPE, NFT_REG_1);
		e_cmp(t, NFT_REG_1, NFT_CMP_EQ, &ether, sizeof(ether));
	}
	e_payload(t, NFT_PAYLOAD_LL_HEADER, 6, MAC_LEN, reg);
}

/* Base chain rules for machines, by source MAC, after the address rules:
 * an isolated machine's IP traffic goes to the same isolation chains
 * whatever address it uses; a contained machine's listed protocol/ports
 * drop.  Traffic to a machine is matched by its addresses (above). */
static void emit_mac_rules(struct txn *t, const char *chain, bool input)
{
	struct nft *n = t->n;
	bool bridge = n->p.family == NFPROTO_BRIDGE;

	/* The family check first: each packet looks its MAC up once. */
	for (int v6 = 0; v6 < 2; v6++) {
		rule_new(t, chain);
		m_family(t, v6);
		m_ether_saddr(t, NFT_REG_1);
		e_lookup(t, NFT_REG_1, NFT_SET_ISOM);
		e_goto(t, isochain_name(input ? ISO_IN : ISO_SRC, v6));
		rule_emit(t);
	}
	/* A bridge also carries frames that are neither IPv4 nor IPv6: an
	 * isolated machine's drop, but for ARP, which it needs to reach the
	 * remediation servers.  The protocol before the lookup, so that IP
	 * frames are not looked up a second time. */
	if (bridge) {
		static const uint16_t pass[] = {0x0800, 0x86dd, 0x0806}; /* ip, ip6, arp */
		rule_new(t, chain);
		for (unsigned i = 0; i < ARRAY_SIZE(pass); i++) {
			uint16_t be = htons(pass[i]);
			e_meta(t, NFT_META_PROTOCOL, NFT_REG_1);
			e_cmp(t, NFT_REG_1, NFT_CMP_NEQ, &be, sizeof(be));
		}
		m_ether_saddr(t, NFT_REG_1);
		e_lookup(t, NFT_REG_1, NFT_SET_ISOM);
		e_counter(t);
		e_verdict(t, NF_DROP);
		rule_emit(t);
	}
	/* Contained: the machine's traffic to the listed protocol/ports, then
	 * whole protocols without ports (ICMP).  The key's registers: MAC in
	 * R32(0) and R32(1), proto in R32(2), port in R32(3). */
	for (int ports = 1; ports >= 0; ports--) {
		rule_new(t, chain);
		m_ether_saddr(t, R32(0));
		e_meta(t, NFT_META_L4PROTO, R32(2));
		if (ports)
			e_payload(t, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R32(3));
		e_lookup(t, R32(0), ports ? NFT_SET_CONM : NFT_SET_CONPM);
		e_counter(t);
		e_verdict(t, NF_DROP);
		rule_emit(t);
	}
	/* Contained towards one destination, by family (the destination's
	 * address is in the key): MAC in R32(0) and R32(1), the destination
	 * from R32(2), then proto and port. */
	for (int v6 = 0; v6 < 2; v6++) {
		unsigned dlen = v6 ? 4 : 1;

		rule_new(t, chain);
		m_family(t, v6);
		m_ether_saddr(t, R32(0));
		m_addr(t, v6, true, R32(2));
		e_meta(t, NFT_META_L4PROTO, R32(2 + dlen));
		e_payload(t, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R32(3 + dlen));
		e_lookup(t, R32(0), v6 ? NFT_SET_CONHM6 : NFT_SET_CONHM4);
		e_counter(t);
		e_verdict(t, NF_DROP);
		rule_emit(t);
	}
}

/* "the peer is in set s": the other end of the packet (dst when the
 * isolated host is the source, and the other way round). */
static void emit_peer_accept(struct txn *t, const char *chain, bool v6, bool peer_is_dst,
			     enum nft_set s)
{
	rule_new(t, chain);

	m_family(t, v6);
	m_addr(t, v6, peer_is_dst, NFT_REG_1);
	e_lookup(t, NFT_REG_1, s);
	e_verdict(t, NF_ACCEPT);
	rule_emit(t);
}

/* The rules of one isolation chain. */
static void emit_iso_rules(struct txn *t, enum isochain c, bool v6)
{
	struct nft *n = t->n;
	const char *chain = isochain_name(c, v6);
	enum nft_set adm = v6 ? NFT_SET_ADM6 : NFT_SET_ADM4;
	enum nft_set rem = v6 ? NFT_SET_REM6 : NFT_SET_REM4;
	/* In the bridge family, traffic routed by the gateway itself goes
	 * through the bridge's input hook first. */
	bool peers = c != ISO_IN || n->p.family == NFPROTO_BRIDGE;

	/* IPv6 cannot work at all without neighbour discovery. */
	if (v6 && c != ISO_DST) {
		uint8_t lo = 133, hi = 137;
		rule_new(t, chain);
		m_l4proto(t, IPPROTO_ICMPV6);
		e_payload(t, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1);
		e_cmp(t, NFT_REG_1, NFT_CMP_GTE, &lo, 1);
		e_cmp(t, NFT_REG_1, NFT_CMP_LTE, &hi, 1);
		e_verdict(t, NF_ACCEPT);
		rule_emit(t);
	}
	/* Admin stations always reach isolated hosts, and isolated hosts
	 * reach the remediation servers, both ways. */
	if (peers) {
		emit_peer_accept(t, chain, v6, c != ISO_DST, adm);
		emit_peer_accept(t, chain, v6, c != ISO_DST, rem);
	}
	/* DHCP and DNS on the gateway itself, when configured. */
	if (c == ISO_IN) {
		struct {
			unsigned flag;
			uint8_t proto;
			uint16_t port;
		} svc[] = {
			{NFT_GW_DHCP, IPPROTO_UDP, (uint16_t)(v6 ? 547 : 67)},
			{NFT_GW_DNS, IPPROTO_UDP, 53},
			{NFT_GW_DNS, IPPROTO_TCP, 53},
		};
		for (unsigned i = 0; i < ARRAY_SIZE(svc); i++) {
			if (!(n->p.gateway_services & svc[i].flag))
				continue;
			rule_new(t, chain);
			m_l4proto(t, svc[i].proto);
			m_dport(t, svc[i].port);
			e_verdict(t, NF_ACCEPT);
			rule_emit(t);
		}
	}
	/* Everything else drops: isolated hosts cannot reach each other
	 * through the gateway either. */
	rule_new(t, chain);
	e_counter(t);
	e_verdict(t, NF_DROP);
	rule_emit(t);
}

/* ---- set elements ---- */

/* The largest key: conh6, two IPv6 addresses, proto and port. */
#define KEY_MAX 40

/* Writes the key of e for set s into key (zero-padded registers). */
static unsigned elem_key(enum nft_set s, const struct nft_elem *e, uint8_t key[KEY_MAX])
{
	unsigned span = key_addr_span(s);

	memset(key, 0, KEY_MAX);
	memcpy(key, e->addr.b, key_addr_len(s));
	switch (s) {
	case NFT_SET_CONH4:
	case NFT_SET_CONH6:
	case NFT_SET_CONHM4:
	case NFT_SET_CONHM6: {
		uint16_t be = htons(e->port);
		unsigned dlen = key_dst_len(s);
		memcpy(key + span, e->dst.b, dlen);
		key[span + dlen] = e->l4proto;
		memcpy(key + span + dlen + 4, &be, 2);
		break;
	}
	case NFT_SET_CON4:
	case NFT_SET_CON6:
	case NFT_SET_CONM: {
		uint16_t be = htons(e->port);
		key[span] = e->l4proto;
		memcpy(key + span + 4, &be, 2);
		break;
	}
	case NFT_SET_CONP4:
	case NFT_SET_CONP6:
	case NFT_SET_CONPM:
		key[span] = e->l4proto;
		break;
	default:
		break;
	}
	return sets[s].key_len;
}

/* A reference to set s (table, name, family, id), or NULL when out of
 * memory.  Caller frees. */
static struct nftnl_set *set_ref(const struct nft *n, enum nft_set s)
{
	struct nftnl_set *ns = nftnl_set_alloc();

	if (!ns)
		return NULL;
	if (nftnl_set_set_str(ns, NFTNL_SET_TABLE, n->p.table) < 0 ||
	    nftnl_set_set_str(ns, NFTNL_SET_NAME, sets[s].name) < 0) {
		nftnl_set_free(ns);
		return NULL;
	}
	nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, (uint32_t)n->p.family);
	nftnl_set_set_u32(ns, NFTNL_SET_ID, (uint32_t)s + 1);
	return ns;
}

/* Adds one element with key to ns (which then owns it).  0 or -ENOMEM. */
static int elem_add(struct nftnl_set *ns, const uint8_t *key, unsigned len, uint64_t timeout_ms,
		    uint32_t flags)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!e)
		return -ENOMEM;
	/* Fails only for a key longer than the kernel's largest. */
	if (nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len) < 0) {
		nftnl_set_elem_free(e);
		return -EINVAL;
	}
	if (timeout_ms)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
	if (flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
	nftnl_set_elem_add(ns, e);
	return 0;
}

/* Appends ns's elements as one message of type (NEWSETELEM or
 * DELSETELEM), then frees ns. */
static void emit_set_msg(struct txn *t, struct nftnl_set *ns, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = txn_msg(t, type, flags);

	if (nlh) {
		nftnl_set_elems_nlmsg_build_payload(nlh, ns);
		txn_next(t);
	}
	nftnl_set_free(ns);
}

static void emit_elems(struct txn *t, enum nft_set s, bool del, const struct nft_elem *elems,
		       unsigned n)
{
	struct nftnl_set *ns;

	if (t->err)
		return;
	ns = set_ref(t->n, s);
	if (!ns) {
		txn_fail(t, -ENOMEM);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		uint8_t key[KEY_MAX];
		unsigned len = elem_key(s, &elems[i], key);
		int r = elem_add(ns, key, len, del ? 0 : elems[i].timeout_ms, 0);

		if (r < 0) {
			nftnl_set_free(ns);
			txn_fail(t, r);
			return;
		}
	}
	emit_set_msg(t, ns, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM, del ? 0 : NLM_F_CREATE);
}

/* Adds one prefix to an interval set: its first address and, flagged as
 * the interval's end, the address after its last. */
static int interval_add(struct nftnl_set *ns, const struct prefix *p)
{
	unsigned alen = p->addr.family == AF_INET6 ? 16 : 4;
	uint8_t start[16], end[16];
	bool carry = true;
	int r;

	memcpy(start, p->addr.b, alen);
	memcpy(end, p->addr.b, alen);
	/* Set the host bits, then add one. */
	for (unsigned i = p->plen; i < alen * 8; i++)
		end[i / 8] |= (uint8_t)(0x80u >> (i % 8));
	for (int i = (int)alen - 1; i >= 0 && carry; i--) {
		end[i]++;
		carry = end[i] == 0;
	}
	r = elem_add(ns, start, alen, 0, 0);
	if (r < 0 || carry) /* carry: the range runs to the top of the space */
		return r;
	return elem_add(ns, end, alen, 0, NFT_SET_ELEM_INTERVAL_END);
}

/* Prefixes per NEWSETELEM message (two elements each at most): one
 * message must fit in the batch page's overrun, and a long list of
 * remediation or admin networks would not. */
#define NETWORKS_PER_MSG 64

static void emit_networks(struct txn *t, enum nft_set s, const struct prefix_list *l)
{
	struct nftnl_set *ns;
	bool v6 = sets[s].family == AF_INET6;
	unsigned count = 0;

	/* Flush: a DELSETELEM without elements empties the set. */
	if (t->err)
		return;
	ns = set_ref(t->n, s);
	if (!ns) {
		txn_fail(t, -ENOMEM);
		return;
	}
	emit_set_msg(t, ns, NFT_MSG_DELSETELEM, 0);
	ns = NULL;
	for (unsigned i = 0; l && i <= l->n && !t->err; i++) {
		int r;

		if (i < l->n && (l->v[i].addr.family == AF_INET6) != v6)
			continue;
		if (ns && (count == NETWORKS_PER_MSG || i == l->n)) {
			emit_set_msg(t, ns, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
			ns = NULL;
			count = 0;
		}
		if (i == l->n)
			break;
		if (!ns && !(ns = set_ref(t->n, s))) {
			txn_fail(t, -ENOMEM);
			break;
		}
		r = interval_add(ns, &l->v[i]);
		if (r < 0)
			txn_fail(t, r);
		count++;
	}
	if (ns)
		nftnl_set_free(ns);
}

/* Deletes every rule of chain: a rule with no handle stands for all. */
static void flush_chain(struct txn *t, const char *chain)
{
	rule_new(t, chain);
	rule_send(t, NFT_MSG_DELRULE, 0);
}

/* ---- outbreak mode ---- */

#define OB_CHAIN     "outbreak"
#define OB_MAC_CHAIN "ob_mac"

/* A lookup of the key in sreg in set s: with dreg, a map's value goes
 * there; inv, the rule goes on when the key is not in s. */
static void e_lookup_ex(struct txn *t, uint32_t sreg, enum nft_set s, uint32_t dreg, bool inv)
{
	struct nftnl_expr *e = expr_new(t, "lookup");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	if (dreg)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, dreg);
	if (inv)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, (uint32_t)s + 1);
	expr_add(t, e,
		 nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, sets[s].name) < 0 ? -ENOMEM : 0);
}

/* Adds one range to an interval set: its first address and, flagged as
 * the interval's end, the address after its last, unless it runs to the
 * top of the space. */
static int range_add(struct nftnl_set *ns, enum nft_set s, const struct qaddr *lo,
		     const struct qaddr *hi)
{
	unsigned len = sets[s].key_len;
	uint8_t end[16];
	bool carry = true;
	int r = elem_add(ns, lo->b, len, 0, 0);

	if (r < 0)
		return r;
	memcpy(end, hi->b, len);
	for (int i = (int)len - 1; i >= 0 && carry; i--) {
		end[i]++;
		carry = end[i] == 0;
	}
	if (carry)
		return 0;
	return elem_add(ns, end, len, 0, NFT_SET_ELEM_INTERVAL_END);
}

/* Whether b starts right after a ends (len bytes; false when a ends at
 * the top of the space). */
static bool range_follows(const struct qaddr *a_hi, const struct qaddr *b_lo, unsigned len)
{
	uint8_t next[16];
	bool carry = true;

	memcpy(next, a_hi->b, len);
	for (int i = (int)len - 1; i >= 0 && carry; i--) {
		next[i]++;
		carry = next[i] == 0;
	}
	return !carry && memcmp(next, b_lo->b, len) == 0;
}

/* Which ranges or machines a set holds: all (OB_ALL, for obg*, obgm and
 * the essential servers), or those whose group id has bit mask. */
#define OB_ALL 0u

static bool ob_sel(uint32_t group, uint32_t mask)
{
	return mask == OB_ALL || (group & mask);
}

/* Empties set s and fills it with the ranges of v[0..n) that mask
 * selects, in messages of NETWORKS_PER_MSG ranges.  Ranges that follow
 * each other (v is sorted and disjoint, outbreak.h) are merged into one
 * interval: fewer elements, and none that start where another ends. */
static void emit_ranges(struct txn *t, enum nft_set s, const struct ob_range *v, unsigned n,
			uint32_t mask)
{
	struct nftnl_set *ns = NULL;
	unsigned len = sets[s].key_len, count = 0;

	if (t->err)
		return;
	ns = set_ref(t->n, s);
	if (!ns) {
		txn_fail(t, -ENOMEM);
		return;
	}
	emit_set_msg(t, ns, NFT_MSG_DELSETELEM, 0);
	ns = NULL;
	for (unsigned i = 0; i < n && !t->err; i++) {
		struct qaddr lo, hi;
		int r;

		if (!ob_sel(v[i].group, mask))
			continue;
		lo = v[i].lo;
		hi = v[i].hi;
		while (i + 1 < n && ob_sel(v[i + 1].group, mask) &&
		       range_follows(&hi, &v[i + 1].lo, len))
			hi = v[++i].hi;
		if (ns && count == NETWORKS_PER_MSG) {
			emit_set_msg(t, ns, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
			ns = NULL;
			count = 0;
		}
		if (!ns && !(ns = set_ref(t->n, s))) {
			txn_fail(t, -ENOMEM);
			return;
		}
		r = range_add(ns, s, &lo, &hi);
		if (r < 0) {
			nftnl_set_free(ns);
			txn_fail(t, r);
			return;
		}
		count++;
	}
	if (ns)
		emit_set_msg(t, ns, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
}

/* Empties a hash set and fills it with n keys of len bytes each, in
 * messages of NFT_OP_MAX_ELEMS. */
static void emit_keys(struct txn *t, enum nft_set s, const uint8_t *keys, unsigned n)
{
	struct nftnl_set *ns = set_ref(t->n, s);

	if (t->err || !ns) {
		if (ns)
			nftnl_set_free(ns);
		else
			txn_fail(t, -ENOMEM);
		return;
	}
	emit_set_msg(t, ns, NFT_MSG_DELSETELEM, 0);
	for (unsigned i = 0; i < n && !t->err; i += NFT_OP_MAX_ELEMS) {
		int r = 0;

		ns = set_ref(t->n, s);
		if (!ns) {
			txn_fail(t, -ENOMEM);
			return;
		}
		for (unsigned j = i; j < n && j < i + NFT_OP_MAX_ELEMS && r == 0; j++)
			r = elem_add(ns, keys + (size_t)j * sets[s].key_len, sets[s].key_len, 0, 0);
		if (r < 0) {
			nftnl_set_free(ns);
			txn_fail(t, r);
			return;
		}
		emit_set_msg(t, ns, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
	}
}

/* "the source or the destination is in s": return. */
static void ob_return_if(struct txn *t, bool v6, bool dst, enum nft_set s)
{
	rule_new(t, OB_CHAIN);
	m_family(t, v6);
	m_addr(t, v6, dst, NFT_REG_1);
	e_lookup(t, NFT_REG_1, s);
	e_verdict(t, NFT_RETURN);
	rule_emit(t);
}

/* Two rules per bit B of the group ids in use (nft.h): the source's
 * group has the bit and the destination's, which has a group (all),
 * has not; or the other way round: drop.  bits[B] is the set of those
 * whose id has bit B; load puts the source's (dst false) or the
 * destination's key into a register.  all < 0: in ob_mac, where both
 * ends are known to have a group. */
static void emit_ob_bits(struct txn *t, const char *chain, int v6, enum nft_set bits, int all,
			 void (*load)(struct txn *t, int v6, bool dst, uint32_t reg))
{
	for (unsigned bit = 0; bit < t->n->ob_bits; bit++) {
		enum nft_set s = (enum nft_set)(bits + bit);

		for (int srcset = 1; srcset >= 0; srcset--) {
			rule_new(t, chain);
			if (v6 >= 0)
				m_family(t, v6);
			load(t, v6, false, NFT_REG_1);
			e_lookup_ex(t, NFT_REG_1, s, 0, !srcset);
			if (!srcset && all >= 0) {
				load(t, v6, false, NFT_REG_1);
				e_lookup(t, NFT_REG_1, (enum nft_set)all);
			}
			load(t, v6, true, NFT_REG_1);
			e_lookup_ex(t, NFT_REG_1, s, 0, srcset);
			if (srcset && all >= 0) {
				load(t, v6, true, NFT_REG_1);
				e_lookup(t, NFT_REG_1, (enum nft_set)all);
			}
			e_counter(t);
			e_verdict(t, NF_DROP);
			rule_emit(t);
		}
	}
}

static void load_addr(struct txn *t, int v6, bool dst, uint32_t reg)
{
	m_addr(t, v6 > 0, dst, reg);
}

/* The frame's source or destination MAC (a bridge port is Ethernet). */
static void load_mac(struct txn *t, int v6, bool dst, uint32_t reg)
{
	(void)v6;
	e_payload(t, NFT_PAYLOAD_LL_HEADER, dst ? 0 : 6, MAC_LEN, reg);
}

/* The outbreak chain's rules while it is on (nft.h): every exception
 * first, then, on a bridge, the machines' groups by MAC, then the
 * addresses'. */
static void emit_ob_rules(struct txn *t)
{
	bool bridge = t->n->p.family == NFPROTO_BRIDGE;

	for (int v6 = 0; v6 < 2; v6++) {
		const enum nft_set ret[] = {v6 ? NFT_SET_ADM6 : NFT_SET_ADM4,
					    v6 ? NFT_SET_REM6 : NFT_SET_REM4,
					    v6 ? NFT_SET_OBE6 : NFT_SET_OBE4};

		for (unsigned i = 0; i < ARRAY_SIZE(ret); i++)
			for (int dst = 0; dst < 2; dst++)
				ob_return_if(t, v6, dst, ret[i]);
		/* An essential service: its requests by the destination
		 * port; its answers, where the table routes, by their source
		 * port only when conntrack says the packet goes in the reply
		 * direction of its flow (`ct direction reply`): the flow was
		 * opened towards that port, and a host merely sending from
		 * port 53 (a worm) opens a flow of its own, in the original
		 * direction, and does not pass; a packet conntrack does not
		 * track matches no answer rule.  (Not `ct original proto-dst`
		 * in the concatenation: nft 1.0.6 prints that but cannot read
		 * it back, and a saved ruleset would not restore.)  A bridge
		 * has conntrack only with nf_conntrack_bridge (the kernel
		 * refuses the rule without it, EPROTO): there the answers go
		 * by their source port alone (quarantined(8)). */
		for (int answer = 0; answer < 2; answer++) {
			const uint8_t reply = IP_CT_DIR_REPLY;

			rule_new(t, OB_CHAIN);
			m_family(t, v6);
			if (answer && !bridge) {
				e_ct(t, NFT_CT_DIRECTION, NFT_REG_1);
				e_cmp(t, NFT_REG_1, NFT_CMP_EQ, &reply, 1);
			}
			e_meta(t, NFT_META_L4PROTO, R32(0));
			e_payload(t, NFT_PAYLOAD_TRANSPORT_HEADER, answer ? 0 : 2, 2, R32(1));
			e_lookup(t, R32(0), NFT_SET_OBS);
			e_verdict(t, NFT_RETURN);
			rule_emit(t);
		}
	}
	/* IPv4 and IPv6 frames between two machines with a group: their
	 * groups decide (ARP and the rest are left alone). */
	for (int v6 = 0; bridge && v6 < 2; v6++) {
		rule_new(t, OB_CHAIN);
		m_family(t, v6);
		load_mac(t, v6, false, NFT_REG_1);
		e_lookup(t, NFT_REG_1, NFT_SET_OBGM);
		load_mac(t, v6, true, NFT_REG_1);
		e_lookup(t, NFT_REG_1, NFT_SET_OBGM);
		e_goto(t, OB_MAC_CHAIN);
		rule_emit(t);
	}
	if (bridge)
		emit_ob_bits(t, OB_MAC_CHAIN, -1, NFT_SET_OBBM, -1, load_mac);
	for (int v6 = 0; v6 < 2; v6++)
		emit_ob_bits(t, OB_CHAIN, v6, v6 ? NFT_SET_OBB6 : NFT_SET_OBB4,
			     v6 ? NFT_SET_OBG6 : NFT_SET_OBG4, load_addr);
}

/* Empties MAC set s and fills it with the machines of v[0..n) that mask
 * selects, in messages of NFT_OP_MAX_ELEMS. */
static void emit_macs(struct txn *t, enum nft_set s, const struct ob_mac *v, unsigned n,
		      uint32_t mask)
{
	struct nftnl_set *ns = t->err ? NULL : set_ref(t->n, s);
	unsigned count = 0;

	if (t->err)
		return;
	if (!ns) {
		txn_fail(t, -ENOMEM);
		return;
	}
	emit_set_msg(t, ns, NFT_MSG_DELSETELEM, 0);
	ns = NULL;
	for (unsigned i = 0; i < n && !t->err; i++) {
		int r;

		if (!ob_sel(v[i].group, mask))
			continue;
		if (ns && count == NFT_OP_MAX_ELEMS) {
			emit_set_msg(t, ns, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
			ns = NULL;
			count = 0;
		}
		if (!ns && !(ns = set_ref(t->n, s))) {
			txn_fail(t, -ENOMEM);
			return;
		}
		r = elem_add(ns, v[i].mac, MAC_LEN, 0, 0);
		if (r < 0) {
			nftnl_set_free(ns);
			txn_fail(t, r);
			return;
		}
		count++;
	}
	if (ns)
		emit_set_msg(t, ns, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
}

/* The outbreak chain and sets as n->ob says: emptied, then filled when
 * it is on.  Every per-bit set is emptied, the unused ones too. */
static void emit_outbreak(struct txn *t)
{
	const struct nft_outbreak *ob = &t->n->ob;
	uint8_t keys[CONF_MAX_OUTBREAK_SERVICES * 8];
	unsigned bits = 0;

	if (t->err)
		return;
	/* Rules for the bits of the highest group id (nft_outbreak()
	 * refuses ids past NFT_OB_GROUP_MAX). */
	while (ob->on && bits < NFT_OB_BITS && (ob->ngroups - 1) >> bits)
		bits++;
	t->n->ob_bits = bits;
	flush_chain(t, OB_CHAIN);
	flush_chain(t, OB_MAC_CHAIN);
	emit_ranges(t, NFT_SET_OBG4, ob->on ? ob->g4 : NULL, ob->on ? ob->ng4 : 0, OB_ALL);
	emit_ranges(t, NFT_SET_OBG6, ob->on ? ob->g6 : NULL, ob->on ? ob->ng6 : 0, OB_ALL);
	for (unsigned b = 0; b < NFT_OB_BITS; b++) {
		bool used = ob->on && b < bits;

		emit_ranges(t, (enum nft_set)(NFT_SET_OBB4 + b), used ? ob->g4 : NULL,
			    used ? ob->ng4 : 0, 1u << b);
		emit_ranges(t, (enum nft_set)(NFT_SET_OBB6 + b), used ? ob->g6 : NULL,
			    used ? ob->ng6 : 0, 1u << b);
		emit_macs(t, (enum nft_set)(NFT_SET_OBBM + b), used ? ob->gm : NULL,
			  used ? ob->ngm : 0, 1u << b);
	}
	emit_ranges(t, NFT_SET_OBE4, ob->on ? ob->e4 : NULL, ob->on ? ob->ne4 : 0, OB_ALL);
	emit_ranges(t, NFT_SET_OBE6, ob->on ? ob->e6 : NULL, ob->on ? ob->ne6 : 0, OB_ALL);
	memset(keys, 0, sizeof(keys));
	for (unsigned i = 0; ob->on && i < ob->nsvc && i < CONF_MAX_OUTBREAK_SERVICES; i++) {
		uint16_t be = htons(ob->svc[i].port);
		keys[8 * i] = ob->svc[i].l4proto;
		memcpy(keys + 8 * i + 4, &be, 2);
	}
	emit_keys(t, NFT_SET_OBS, keys, ob->on ? MIN(ob->nsvc, CONF_MAX_OUTBREAK_SERVICES) : 0);
	emit_macs(t, NFT_SET_OBGM, ob->on ? ob->gm : NULL, ob->on ? ob->ngm : 0, OB_ALL);
	if (ob->on)
		emit_ob_rules(t);
}

/* Copies ob into one allocation: *ret_mem holds the arrays that *ret
 * points at.  0 or -ENOMEM. */
static int ob_copy(const struct nft_outbreak *in, struct nft_outbreak *ret, void **ret_mem)
{
	/* Off: nothing of the arrays is used, nor read. */
	const struct nft_outbreak off = {.on = false};
	const struct nft_outbreak *ob = in->on ? in : &off;
	size_t ng = (size_t)ob->ng4 + ob->ng6 + ob->ne4 + ob->ne6;
	struct ob_range *r;
	struct outbreak_service *svc;
	/* The arrays in one block, in decreasing alignment: ranges (a
	 * uint32_t), services, machines (a uint32_t after 6 bytes). */
	void *mem = malloc(ng * sizeof(*r) + ob->nsvc * sizeof(*svc) +
			   ob->ngm * sizeof(struct ob_mac) + sizeof(struct ob_mac));

	if (!mem)
		return -ENOMEM;
	*ret = *ob;
	r = mem;
#define TAKE(f, nf)                                            \
	do {                                                   \
		if (ob->nf)                                    \
			memcpy(r, ob->f, ob->nf * sizeof(*r)); \
		ret->f = r;                                    \
		r += ob->nf;                                   \
	} while (0)
	TAKE(g4, ng4);
	TAKE(g6, ng6);
	TAKE(e4, ne4);
	TAKE(e6, ne6);
#undef TAKE
	svc = (struct outbreak_service *)r;
	if (ob->nsvc)
		memcpy(svc, ob->svc, ob->nsvc * sizeof(*svc));
	ret->svc = svc;
	{
		struct ob_mac *gm = (struct ob_mac *)(svc + ob->nsvc);

		if (ob->ngm)
			memcpy(gm, ob->gm, ob->ngm * sizeof(*gm));
		ret->gm = gm;
	}
	*ret_mem = mem;
	return 0;
}

/* ---- public operations ---- */

struct first_error {
	int err;
	char msg[96];
	unsigned index;
};

static void first_error_cb(void *arg, unsigned i, int err, const char *msg)
{
	struct first_error *fe = arg;

	if (err && !fe->err) {
		fe->err = err;
		fe->index = i;
		snprintf(fe->msg, sizeof(fe->msg), "%s", msg);
	}
}

static int txn_run_simple(struct txn *t, char *err, size_t errlen, const char *what)
{
	struct first_error fe;
	struct ack_sink sink = {.arg = &fe, .cb = first_error_cb};
	unsigned failed;
	int r;

	memset(&fe, 0, sizeof(fe));
	r = txn_send(t, &sink, &failed);
	txn_free(t);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", what, strerror(-r));
		return r;
	}
	if (fe.err) {
		snprintf(err, errlen, "%s: message %u: %s%s%s", what, fe.index, strerror(-fe.err),
			 fe.msg[0] ? ": " : "", fe.msg);
		return fe.err;
	}
	return 0;
}

int nft_setup(struct nft *n, const struct prefix_list *remediation, const struct prefix_list *admin,
	      char *err, size_t errlen)
{
	static const struct {
		const char *name;
		uint32_t hook;
		bool input;
	} chains[] = {
		{"forward", NF_INET_FORWARD, false},
		{"input", NF_INET_LOCAL_IN, true},
	};
	struct txn t;
	struct nlmsghdr *nlh;
	int r;

	r = txn_begin(n, &t);
	if (r < 0) {
		snprintf(err, errlen, "%s", strerror(-r));
		return r;
	}
	/* Table: created, or left as it is (no NLM_F_EXCL).  No owner flag:
	 * it must outlive the daemon.  Flags 0 wake a table that was made
	 * dormant from outside (nft add table ... { flags dormant; }). */
	{
		struct nftnl_table *tb = nftnl_table_alloc();

		if (!tb || nftnl_table_set_str(tb, NFTNL_TABLE_NAME, n->p.table) < 0) {
			txn_fail(&t, -ENOMEM);
		} else {
			nftnl_table_set_u32(tb, NFTNL_TABLE_FAMILY, (uint32_t)n->p.family);
			nftnl_table_set_u32(tb, NFTNL_TABLE_FLAGS, 0);
			nlh = txn_msg(&t, NFT_MSG_NEWTABLE, NLM_F_CREATE);
			nftnl_table_nlmsg_build_payload(nlh, tb);
			txn_next(&t);
		}
		if (tb)
			nftnl_table_free(tb);
	}
	/* Sets: created, or adopted as they are when their definition
	 * matches (the kernel refuses a mismatch with EEXIST). */
	for (unsigned i = 0; i < NFT_SET_COUNT && !t.err; i++) {
		struct nftnl_set *s = set_ref(n, (enum nft_set)i);
		struct nftnl_expr *ctr = NULL;

		if (!s || (sets[i].counter && !(ctr = nftnl_expr_alloc("counter")))) {
			if (s)
				nftnl_set_free(s);
			txn_fail(&t, -ENOMEM);
			break;
		}
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, sets[i].key_len);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, sets[i].key_type);
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, sets[i].flags);
		if (sets[i].flags & NFT_SET_MAP) {
			nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, sets[i].data_type);
			nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, sets[i].data_len);
		}
		if (ctr)
			nftnl_set_add_expr(s, ctr); /* s owns it */
		nlh = txn_msg(&t, NFT_MSG_NEWSET, NLM_F_CREATE);
		nftnl_set_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
		txn_next(&t);
	}
	/* The outbreak chains, regular, filled as n->ob says (emptied
	 * while outbreak mode is off); ob_mac first: outbreak goes to it. */
	for (unsigned i = 0; i < 2 && !t.err; i++) {
		struct nftnl_chain *c = nftnl_chain_alloc();

		if (!c || nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, n->p.table) < 0 ||
		    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, i ? OB_CHAIN : OB_MAC_CHAIN) < 0) {
			txn_fail(&t, -ENOMEM);
		} else {
			nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, (uint32_t)n->p.family);
			nlh = txn_msg(&t, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
			nftnl_chain_nlmsg_build_payload(nlh, c);
			txn_next(&t);
		}
		if (c)
			nftnl_chain_free(c);
	}
	if (n->ob_known)
		emit_outbreak(&t);
	/* Chains: created (or kept), then emptied and refilled in the same
	 * transaction, so there is never a moment without them.  Regular
	 * chains first: the base chains' rules jump to them. */
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < (pass ? ARRAY_SIZE(chains) : 2 * ISO_COUNT) && !t.err;
		     i++) {
			struct nftnl_chain *c = nftnl_chain_alloc();
			const char *name = pass ? chains[i].name
						: isochain_name((enum isochain)(i / 2), i % 2);

			if (!c || nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, n->p.table) < 0 ||
			    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name) < 0 ||
			    (pass && nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter") < 0)) {
				if (c)
					nftnl_chain_free(c);
				txn_fail(&t, -ENOMEM);
				break;
			}
			nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, (uint32_t)n->p.family);
			if (pass) {
				nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, chains[i].hook);
				nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, -10);
				nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
			}
			nlh = txn_msg(&t, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
			nftnl_chain_nlmsg_build_payload(nlh, c);
			nftnl_chain_free(c);
			txn_next(&t);
			flush_chain(&t, name);
			if (!pass) {
				emit_iso_rules(&t, (enum isochain)(i / 2), i % 2);
			} else {
				emit_base_rules(&t, chains[i].name, chains[i].input, false);
				emit_base_rules(&t, chains[i].name, chains[i].input, true);
				emit_mac_rules(&t, chains[i].name, chains[i].input);
				/* Last: outbreak mode only returns or drops
				 * what isolation and containment let by. */
				if (!chains[i].input) {
					rule_new(&t, chains[i].name);
					e_jump(&t, OB_CHAIN);
					rule_emit(&t);
				}
			}
		}
	}
	emit_networks(&t, NFT_SET_REM4, remediation);
	emit_networks(&t, NFT_SET_REM6, remediation);
	emit_networks(&t, NFT_SET_ADM4, admin);
	emit_networks(&t, NFT_SET_ADM6, admin);
	return txn_run_simple(&t, err, errlen, "creating the nftables table");
}

int nft_set_networks(struct nft *n, const struct prefix_list *remediation,
		     const struct prefix_list *admin, char *err, size_t errlen)
{
	struct txn t;
	int r = txn_begin(n, &t);

	if (r < 0) {
		snprintf(err, errlen, "%s", strerror(-r));
		return r;
	}
	emit_networks(&t, NFT_SET_REM4, remediation);
	emit_networks(&t, NFT_SET_REM6, remediation);
	emit_networks(&t, NFT_SET_ADM4, admin);
	emit_networks(&t, NFT_SET_ADM6, admin);
	if (n->ob_known)
		emit_outbreak(&t);
	return txn_run_simple(&t, err, errlen, "updating remediation/admin sets");
}

int nft_outbreak(struct nft *n, const struct nft_outbreak *ob, bool apply, char *err, size_t errlen)
{
	struct nft_outbreak old = n->ob;
	void *old_mem = n->ob_mem, *mem;
	struct txn t;
	int r;

	/* One set per bit of the ids, NFT_OB_BITS of them (nft.h). */
	if (ob->on && ob->ngroups > NFT_OB_GROUP_MAX + 1) {
		snprintf(err, errlen, "outbreak mode: %u groups: more than %u", ob->ngroups - 1,
			 NFT_OB_GROUP_MAX);
		return -E2BIG;
	}
	r = ob_copy(ob, &n->ob, &mem);
	if (r < 0) {
		n->ob = old;
		snprintf(err, errlen, "outbreak mode: %s", strerror(-r));
		return r;
	}
	n->ob_mem = mem;
	if (apply) {
		r = txn_begin(n, &t);
		if (r == 0) {
			emit_outbreak(&t);
			r = txn_run_simple(&t, err, errlen,
					   ob->on ? "outbreak mode on" : "outbreak mode off");
		} else {
			snprintf(err, errlen, "%s", strerror(-r));
		}
	}
	if (r < 0) {
		free(mem);
		n->ob = old;
		n->ob_mem = old_mem;
		return r;
	}
	free(old_mem);
	n->ob_known = true;
	return 0;
}

struct commit_ctx {
	struct nft_op *ops;
	unsigned nops;
};

static void commit_cb(void *arg, unsigned i, int err, const char *msg)
{
	struct commit_ctx *c = arg;

	if (i < c->nops) {
		c->ops[i].error = err;
		snprintf(c->ops[i].msg, sizeof(c->ops[i].msg), "%s", msg);
	}
}

int nft_commit(struct nft *n, struct nft_op *ops, unsigned nops)
{
	struct commit_ctx ctx = {.ops = ops, .nops = nops};
	struct ack_sink sink = {.arg = &ctx, .cb = commit_cb};
	struct txn t;
	unsigned failed;
	int r;

	if (nops == 0)
		return 0;
	/* The key is built from the element's bytes: an IPv4 address in a
	 * MAC set would name some other machine.  Refused before sending. */
	for (unsigned i = 0; i < nops; i++) {
		ops[i].error = 0;
		ops[i].msg[0] = '\0';
		if ((unsigned)ops[i].set >= NFT_SET_COUNT) {
			ops[i].error = -EINVAL;
			return -EINVAL;
		}
		/* One message must fit in the batch page's overrun. */
		if (ops[i].nelems > NFT_OP_MAX_ELEMS) {
			ops[i].error = -EINVAL;
			snprintf(ops[i].msg, sizeof(ops[i].msg), "%u elements: more than %u",
				 ops[i].nelems, NFT_OP_MAX_ELEMS);
			return -EINVAL;
		}
		for (unsigned j = 0; j < ops[i].nelems; j++) {
			if (ops[i].elems[j].addr.family != sets[ops[i].set].family ||
			    ops[i].elems[j].dst.family != sets[ops[i].set].dst_family) {
				ops[i].error = -EINVAL;
				snprintf(ops[i].msg, sizeof(ops[i].msg),
					 "element %u: address family does not match set %s", j,
					 sets[ops[i].set].name);
				return -EINVAL;
			}
		}
	}
	r = txn_begin(n, &t);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < nops; i++)
		emit_elems(&t, ops[i].set, ops[i].del, ops[i].elems, ops[i].nelems);
	r = txn_send(&t, &sink, &failed);
	txn_free(&t);
	if (r < 0)
		return r;
	return failed ? -ECANCELED : 0;
}

/* ---- listing ---- */

struct list_ctx {
	enum nft_set set;
	int (*cb)(void *arg, const struct nft_elem *e);
	void *arg;
	int r;
};

static int counter_cb(struct nftnl_expr *e, void *data)
{
	struct nft_elem *el = data;

	if (strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") == 0) {
		el->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		el->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	}
	return 0;
}

static int list_elem_cb(struct nftnl_set_elem *e, void *data)
{
	struct list_ctx *c = data;
	struct nft_elem el;
	uint32_t len = 0;
	const uint8_t *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	unsigned span = key_addr_span(c->set);

	if (!key || len < sets[c->set].key_len || c->r)
		return 0;
	memset(&el, 0, sizeof(el));
	if (sets[c->set].family == AF_MAC)
		addr_set_mac(&el.addr, key);
	else if (sets[c->set].family == AF_INET6)
		addr_set_v6(&el.addr, key);
	else
		addr_set_v4(&el.addr, key);
	switch (c->set) {
	case NFT_SET_CON4:
	case NFT_SET_CON6:
	case NFT_SET_CONM: {
		uint16_t be;
		el.l4proto = key[span];
		memcpy(&be, key + span + 4, 2);
		el.port = ntohs(be);
		break;
	}
	case NFT_SET_CONH4:
	case NFT_SET_CONH6:
	case NFT_SET_CONHM4:
	case NFT_SET_CONHM6: {
		uint16_t be;
		unsigned dlen = key_dst_len(c->set);
		if (dlen == 16)
			addr_set_v6(&el.dst, key + span);
		else
			addr_set_v4(&el.dst, key + span);
		el.l4proto = key[span + dlen];
		memcpy(&be, key + span + dlen + 4, 2);
		el.port = ntohs(be);
		break;
	}
	case NFT_SET_CONP4:
	case NFT_SET_CONP6:
	case NFT_SET_CONPM:
		el.l4proto = key[span];
		break;
	default:
		break;
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT))
		el.timeout_ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPIRATION))
		el.expires_ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_EXPIRATION);
	nftnl_set_elem_expr_foreach(e, counter_cb, &el);
	c->r = c->cb(c->arg, &el);
	return 0;
}

/* One message of the listing: its elements go to the callback until it
 * returns non-zero; the rest of the listing is read and dropped. */
static void list_msg(struct list_ctx *c, const struct nlmsghdr *nlh)
{
	struct nftnl_set *s;

	if (c->r)
		return;
	s = nftnl_set_alloc();
	if (!s) {
		c->r = -ENOMEM;
		return;
	}
	/* A message we cannot read would hide elements from a read-back. */
	if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0)
		c->r = errno == ENOMEM ? -ENOMEM : -EPROTO;
	else
		nftnl_set_elem_foreach(s, list_elem_cb, c);
	nftnl_set_free(s);
}

int nft_list(struct nft *n, enum nft_set set, int (*cb)(void *arg, const struct nft_elem *e),
	     void *arg)
{
	char buf[8192]; /* one request message */
	struct list_ctx c = {.set = set, .cb = cb, .arg = arg};
	struct nftnl_set *s;
	struct nlmsghdr *nlh;
	struct iovec iov;
	uint32_t seq;
	int64_t deadline;
	bool done = false, intr = false;
	int r = 0;

	if ((unsigned)set >= NFT_SET_COUNT)
		return -EINVAL;
	s = set_ref(n, set);
	if (!s)
		return -ENOMEM;
	seq = n->seq++;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, (uint16_t)n->p.family,
				    NLM_F_DUMP | NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	iov.iov_base = nlh;
	iov.iov_len = nlh->nlmsg_len;
	nl_drain(n);
	r = nl_send(n, &iov, 1);
	if (r < 0)
		return r;
	deadline = now_ms() + n->timeout_ms;
	while (!done) {
		ssize_t len = nl_recv(n, deadline);

		if (len < 0) {
			r = (int)len;
			break;
		}
		nlh = (struct nlmsghdr *)n->rbuf;
		int rem = (int)len;
		for (; mnl_nlmsg_ok(nlh, rem) && !done; nlh = mnl_nlmsg_next(nlh, &rem)) {
			/* Only this listing's: not an earlier one cut short,
			 * nor the late ACKs of a transaction. */
			if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != n->portid) {
				n->stale++;
				continue;
			}
			deadline = now_ms() + n->timeout_ms;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			switch (nlh->nlmsg_type) {
			case NLMSG_DONE:
				done = true;
				break;
			case NLMSG_ERROR:
				/* The listing refused (a set that does not
				 * exist), or its ACK: the end either way. */
				if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(struct nlmsgerr)) {
					uint32_t aseq;
					parse_ack(nlh, &aseq, &r, NULL, 0);
				} else {
					r = -EPROTO;
				}
				done = true;
				break;
			case NLMSG_NOOP:
				break;
			default:
				if (NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_NFTABLES &&
				    NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWSETELEM)
					list_msg(&c, nlh);
				break;
			}
		}
	}
	if (!done)
		n->unsynced = true;
	if (r < 0)
		return r;
	if (c.r)
		return c.r;
	return intr ? -EINTR : 0;
}
