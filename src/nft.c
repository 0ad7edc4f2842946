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
#include <linux/netfilter.h>
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
#define TYPE_BITS	   6

/* 32-bit registers for concatenations (NFT_REG32_00 = 8). */
#define R32(i) (NFT_REG32_00 + (i))

/* How long to wait for the kernel's ACKs before declaring the state unknown. */
#define ACK_TIMEOUT_MS 5000

struct nft {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	struct nft_params p;
	char *rbuf;
	size_t rbuf_len;
};

struct setdef {
	const char *name;
	uint8_t family; /* of the key's address: AF_INET, AF_INET6 or AF_MAC */
	unsigned key_len;
	uint32_t key_type;
	uint32_t flags;
	bool counter;
	uint8_t nfields;
	uint8_t field_len[3];
};

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
	[NFT_SET_REM4] = {"rem4", AF_INET, 4, TYPE_IPADDR, NFT_SET_INTERVAL, false, 1, {4}},
	[NFT_SET_REM6] = {"rem6", AF_INET6, 16, TYPE_IP6ADDR, NFT_SET_INTERVAL, false, 1, {16}},
	[NFT_SET_ADM4] = {"adm4", AF_INET, 4, TYPE_IPADDR, NFT_SET_INTERVAL, false, 1, {4}},
	[NFT_SET_ADM6] = {"adm6", AF_INET6, 16, TYPE_IP6ADDR, NFT_SET_INTERVAL, false, 1, {16}},
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

int nft_open(const struct nft_params *p, struct nft **ret)
{
	struct nft *n = calloc(1, sizeof(*n));
	int one = 1, r;

	if (!n)
		return -ENOMEM;
	n->p = *p;
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
	free(n);
}

int nft_fd(const struct nft *n)
{
	return mnl_socket_get_fd(n->nl);
}

uint32_t nft_portid(const struct nft *n)
{
	return n->portid;
}

/* ---- a transaction under construction ---- */

struct txn {
	struct nft *n;
	struct nftnl_batch *b;
	uint32_t first_seq; /* seq of the first acked message */
	unsigned nmsg;	    /* acked messages */
	bool oom;
};

static int txn_begin(struct nft *n, struct txn *t)
{
	memset(t, 0, sizeof(*t));
	t->n = n;
	/* A message may run past a page by up to the overrun: ours are at
	 * most a few KiB (NETWORKS_PER_MSG, HOST_MAX_PORTS elements), 64 KiB
	 * leaves room. */
	t->b = nftnl_batch_alloc(MNL_SOCKET_BUFFER_SIZE, 65536);
	if (!t->b)
		return -ENOMEM;
	nftnl_batch_begin(nftnl_batch_buffer(t->b), n->seq++);
	nftnl_batch_update(t->b);
	t->first_seq = n->seq;
	return 0;
}

static struct nlmsghdr *txn_msg(struct txn *t, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh =
		nftnl_nlmsg_build_hdr(nftnl_batch_buffer(t->b), type, (uint16_t)t->n->p.family,
				      flags | NLM_F_ACK, t->n->seq++);
	t->nmsg++;
	return nlh;
}

static void txn_next(struct txn *t)
{
	if (nftnl_batch_update(t->b) < 0)
		t->oom = true;
}

static void txn_free(struct txn *t)
{
	if (t->b)
		nftnl_batch_free(t->b);
	t->b = NULL;
}

/* Parses one ACK: the original sequence number, the error and the ext-ack
 * message. */
static void parse_ack(const struct nlmsghdr *nlh, uint32_t *ret_seq, int *ret_err, char *msg,
		      size_t msglen)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof(*e);

	*ret_seq = e->msg.nlmsg_seq;
	*ret_err = e->error;
	if (msg && msglen)
		msg[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || !msg)
		return;
	/* Without NETLINK_CAP_ACK the request would be echoed here. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
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
	uint8_t *seen;
	int r = 0;

	*ret_failed = 0;
	nftnl_batch_end(nftnl_batch_buffer(t->b), n->seq++);
	if (nftnl_batch_update(t->b) < 0 || t->oom)
		return -ENOMEM;
	seen = calloc(t->nmsg ? t->nmsg : 1, 1);
	if (!seen)
		return -ENOMEM;

	{
		int iovlen = nftnl_batch_iovec_len(t->b);
		struct iovec *iov = calloc((size_t)iovlen, sizeof(*iov));
		struct sockaddr_nl snl = {.nl_family = AF_NETLINK};
		struct msghdr mh = {.msg_name = &snl, .msg_namelen = sizeof(snl)};
		ssize_t sent;

		if (!iov) {
			free(seen);
			return -ENOMEM;
		}
		nftnl_batch_iovec(t->b, iov, (uint32_t)iovlen);
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)iovlen;
		sent = sendmsg(mnl_socket_get_fd(n->nl), &mh, 0);
		free(iov);
		if (sent < 0) {
			free(seen);
			return -errno;
		}
	}

	while (got < t->nmsg) {
		struct pollfd pfd = {.fd = mnl_socket_get_fd(n->nl), .events = POLLIN};
		ssize_t len;
		int pr = poll(&pfd, 1, ACK_TIMEOUT_MS);

		if (pr < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (pr == 0) {
			r = -ETIMEDOUT;
			break;
		}
		len = recv(pfd.fd, n->rbuf, n->rbuf_len, 0);
		if (len < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = -errno; /* ENOBUFS: ACKs were dropped */
			break;
		}
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)n->rbuf;
		int rem = (int)len;
		while (mnl_nlmsg_ok(nlh, rem)) {
			if (nlh->nlmsg_type == NLMSG_ERROR &&
			    nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(struct nlmsgerr)) {
				uint32_t seq;
				int err;
				char msg[96];

				parse_ack(nlh, &seq, &err, msg, sizeof(msg));
				if (seq >= t->first_seq && seq - t->first_seq < t->nmsg) {
					unsigned i = seq - t->first_seq;
					if (!seen[i]) {
						seen[i] = 1;
						got++;
						if (err)
							failed++;
						if (sink && sink->cb)
							sink->cb(sink->arg, i, err, msg);
					}
				} else if (err) {
					/* An error about the batch itself (e.g. EPERM
					 * on BEGIN): nothing was applied. */
					r = err;
					goto out;
				}
			}
			nlh = mnl_nlmsg_next(nlh, &rem);
		}
	}
out:
	free(seen);
	*ret_failed = failed;
	return r;
}

/* ---- rule building ---- */

static void e_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	nftnl_rule_add_expr(r, e);
}

static void e_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	nftnl_rule_add_expr(r, e);
}

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
		      uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	nftnl_rule_add_expr(r, e);
}

static void e_lookup(struct nftnl_rule *r, uint32_t sreg, enum nft_set s)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, sets[s].name);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, (uint32_t)s + 1);
	nftnl_rule_add_expr(r, e);
}

static void e_counter(struct nftnl_rule *r)
{
	nftnl_rule_add_expr(r, nftnl_expr_alloc("counter"));
}

static void e_verdict(struct nftnl_rule *r, int verdict)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	nftnl_rule_add_expr(r, e);
}

/* The dependency for an IPv4 or IPv6 header: `meta nfproto` in the inet
 * family (so that `nft list` shows "ip saddr"), `meta protocol` in the
 * bridge family, where it is also right for VLAN-tagged frames. */
static void m_family(struct nftnl_rule *r, int family, bool v6)
{
	if (family == NFPROTO_BRIDGE) {
		uint16_t proto = htons(v6 ? 0x86dd : 0x0800);
		e_meta(r, NFT_META_PROTOCOL, NFT_REG_1);
		e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &proto, sizeof(proto));
	} else {
		uint8_t nfproto = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
		e_meta(r, NFT_META_NFPROTO, NFT_REG_1);
		e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &nfproto, sizeof(nfproto));
	}
}

/* Loads the source (or destination) address into reg. */
static void m_addr(struct nftnl_rule *r, bool v6, bool dst, uint32_t reg)
{
	if (v6)
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, dst ? 24 : 8, 16, reg);
	else
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, dst ? 16 : 12, 4, reg);
}

static void m_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	e_meta(r, NFT_META_L4PROTO, NFT_REG_1);
	e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &proto, 1);
}

static void m_dport(struct nftnl_rule *r, uint16_t port)
{
	uint16_t be = htons(port);

	e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
	e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &be, 2);
}

static struct nftnl_rule *rule_new(const struct nft *n, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)n->p.family);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, n->p.table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

static void rule_emit(struct txn *t, struct nftnl_rule *r)
{
	struct nlmsghdr *nlh = txn_msg(t, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE);

	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	txn_next(t);
}

static void e_goto(struct nftnl_rule *r, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)NFT_GOTO);
	nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	nftnl_rule_add_expr(r, e);
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
	struct nft *n = t->n;
	enum nft_set iso = v6 ? NFT_SET_ISO6 : NFT_SET_ISO4;
	enum nft_set con = v6 ? NFT_SET_CON6 : NFT_SET_CON4;
	enum nft_set conp = v6 ? NFT_SET_CONP6 : NFT_SET_CONP4;
	unsigned alen = v6 ? 4 : 1; /* address size in 32-bit registers */
	struct nftnl_rule *r;

	r = rule_new(n, chain);
	m_family(r, n->p.family, v6);
	m_addr(r, v6, false, NFT_REG_1);
	e_lookup(r, NFT_REG_1, iso);
	e_goto(r, isochain_name(input ? ISO_IN : ISO_SRC, v6));
	rule_emit(t, r);
	if (!input) {
		r = rule_new(n, chain);
		m_family(r, n->p.family, v6);
		m_addr(r, v6, true, NFT_REG_1);
		e_lookup(r, NFT_REG_1, iso);
		e_goto(r, isochain_name(ISO_DST, v6));
		rule_emit(t, r);
	}
	/* Contained: the host's traffic to the listed protocol/ports. */
	r = rule_new(n, chain);
	m_family(r, n->p.family, v6);
	m_addr(r, v6, false, R32(0));
	e_meta(r, NFT_META_L4PROTO, R32(alen));
	e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R32(alen + 1));
	e_lookup(r, R32(0), con);
	e_counter(r);
	e_verdict(r, NF_DROP);
	rule_emit(t, r);
	/* Contained: a whole protocol without ports (ICMP). */
	r = rule_new(n, chain);
	m_family(r, n->p.family, v6);
	m_addr(r, v6, false, R32(0));
	e_meta(r, NFT_META_L4PROTO, R32(alen));
	e_lookup(r, R32(0), conp);
	e_counter(r);
	e_verdict(r, NF_DROP);
	rule_emit(t, r);
}

/* Loads the frame's source MAC (ether saddr) into reg and the next 32-bit
 * register; the kernel zeroes the two bytes of padding.  In the inet
 * family the link layer may be anything, so, as nft does, first `meta
 * iiftype ether` (ARPHRD_ETHER, 16 bits in host byte order); a bridge
 * port is always Ethernet. */
static void m_ether_saddr(struct nftnl_rule *r, int family, uint32_t reg)
{
	if (family != NFPROTO_BRIDGE) {
		uint16_t ether = ARPHRD_ETHER;
		e_meta(r, NFT_META_IIFTYPE, NFT_REG_1);
		e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &ether, sizeof(ether));
	}
	e_payload(r, NFT_PAYLOAD_LL_HEADER, 6, MAC_LEN, reg);
}

/* Base chain rules for machines, by source MAC, after the address rules:
 * an isolated machine's IP traffic goes to the same isolation chains
 * whatever address it uses; a contained machine's listed protocol/ports
 * drop.  Traffic to a machine is matched by its addresses (above). */
static void emit_mac_rules(struct txn *t, const char *chain, bool input)
{
	struct nft *n = t->n;
	bool bridge = n->p.family == NFPROTO_BRIDGE;
	struct nftnl_rule *r;

	/* The family check first: each packet looks its MAC up once. */
	for (int v6 = 0; v6 < 2; v6++) {
		r = rule_new(n, chain);
		m_family(r, n->p.family, v6);
		m_ether_saddr(r, n->p.family, NFT_REG_1);
		e_lookup(r, NFT_REG_1, NFT_SET_ISOM);
		e_goto(r, isochain_name(input ? ISO_IN : ISO_SRC, v6));
		rule_emit(t, r);
	}
	/* A bridge also carries frames that are neither IPv4 nor IPv6: an
	 * isolated machine's drop, but for ARP, which it needs to reach the
	 * remediation servers.  The protocol before the lookup, so that IP
	 * frames are not looked up a second time. */
	if (bridge) {
		static const uint16_t pass[] = {0x0800, 0x86dd, 0x0806}; /* ip, ip6, arp */
		r = rule_new(n, chain);
		for (unsigned i = 0; i < ARRAY_SIZE(pass); i++) {
			uint16_t be = htons(pass[i]);
			e_meta(r, NFT_META_PROTOCOL, NFT_REG_1);
			e_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &be, sizeof(be));
		}
		m_ether_saddr(r, n->p.family, NFT_REG_1);
		e_lookup(r, NFT_REG_1, NFT_SET_ISOM);
		e_counter(r);
		e_verdict(r, NF_DROP);
		rule_emit(t, r);
	}
	/* Contained: the machine's traffic to the listed protocol/ports, then
	 * whole protocols without ports (ICMP).  The key's registers: MAC in
	 * R32(0) and R32(1), proto in R32(2), port in R32(3). */
	for (int ports = 1; ports >= 0; ports--) {
		r = rule_new(n, chain);
		m_ether_saddr(r, n->p.family, R32(0));
		e_meta(r, NFT_META_L4PROTO, R32(2));
		if (ports)
			e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R32(3));
		e_lookup(r, R32(0), ports ? NFT_SET_CONM : NFT_SET_CONPM);
		e_counter(r);
		e_verdict(r, NF_DROP);
		rule_emit(t, r);
	}
}

/* "the peer is in set s": the other end of the packet (dst when the
 * isolated host is the source, and the other way round). */
static void emit_peer_accept(struct txn *t, const char *chain, bool v6, bool peer_is_dst,
			     enum nft_set s)
{
	struct nftnl_rule *r = rule_new(t->n, chain);

	m_family(r, t->n->p.family, v6);
	m_addr(r, v6, peer_is_dst, NFT_REG_1);
	e_lookup(r, NFT_REG_1, s);
	e_verdict(r, NF_ACCEPT);
	rule_emit(t, r);
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
	struct nftnl_rule *r;

	/* IPv6 cannot work at all without neighbour discovery. */
	if (v6 && c != ISO_DST) {
		uint8_t lo = 133, hi = 137;
		r = rule_new(n, chain);
		m_l4proto(r, IPPROTO_ICMPV6);
		e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1);
		e_cmp(r, NFT_REG_1, NFT_CMP_GTE, &lo, 1);
		e_cmp(r, NFT_REG_1, NFT_CMP_LTE, &hi, 1);
		e_verdict(r, NF_ACCEPT);
		rule_emit(t, r);
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
			r = rule_new(n, chain);
			m_l4proto(r, svc[i].proto);
			m_dport(r, svc[i].port);
			e_verdict(r, NF_ACCEPT);
			rule_emit(t, r);
		}
	}
	/* Everything else drops: isolated hosts cannot reach each other
	 * through the gateway either. */
	r = rule_new(n, chain);
	e_counter(r);
	e_verdict(r, NF_DROP);
	rule_emit(t, r);
}

/* ---- set elements ---- */

/* Writes the key of e for set s into key (zero-padded registers). */
static unsigned elem_key(enum nft_set s, const struct nft_elem *e, uint8_t key[32])
{
	unsigned span = key_addr_span(s);

	memset(key, 0, 32);
	memcpy(key, e->addr.b, key_addr_len(s));
	switch (s) {
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

static struct nftnl_set *set_ref(const struct nft *n, enum nft_set s)
{
	struct nftnl_set *ns = nftnl_set_alloc();

	nftnl_set_set_str(ns, NFTNL_SET_TABLE, n->p.table);
	nftnl_set_set_str(ns, NFTNL_SET_NAME, sets[s].name);
	nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, (uint32_t)n->p.family);
	nftnl_set_set_u32(ns, NFTNL_SET_ID, (uint32_t)s + 1);
	return ns;
}

static void emit_elems(struct txn *t, enum nft_set s, bool del, const struct nft_elem *elems,
		       unsigned n)
{
	struct nftnl_set *ns = set_ref(t->n, s);
	struct nlmsghdr *nlh;

	for (unsigned i = 0; i < n; i++) {
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();
		uint8_t key[32];
		unsigned len = elem_key(s, &elems[i], key);

		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
		if (!del && elems[i].timeout_ms)
			nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, elems[i].timeout_ms);
		nftnl_set_elem_add(ns, e);
	}
	nlh = txn_msg(t, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM, del ? 0 : NLM_F_CREATE);
	nftnl_set_elems_nlmsg_build_payload(nlh, ns);
	nftnl_set_free(ns);
	txn_next(t);
}

/* Adds one prefix to an interval set: its first address and, flagged as
 * the interval's end, the address after its last. */
static void interval_add(struct nftnl_set *ns, const struct prefix *p)
{
	unsigned alen = p->addr.family == AF_INET6 ? 16 : 4;
	uint8_t start[16], end[16];
	bool carry = true;
	struct nftnl_set_elem *e;

	memcpy(start, p->addr.b, alen);
	memcpy(end, p->addr.b, alen);
	/* Set the host bits, then add one. */
	for (unsigned i = p->plen; i < alen * 8; i++)
		end[i / 8] |= (uint8_t)(0x80u >> (i % 8));
	for (int i = (int)alen - 1; i >= 0 && carry; i--) {
		end[i]++;
		carry = end[i] == 0;
	}
	e = nftnl_set_elem_alloc();
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, start, alen);
	nftnl_set_elem_add(ns, e);
	if (!carry) { /* the range does not run to the top of the space */
		e = nftnl_set_elem_alloc();
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, end, alen);
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
		nftnl_set_elem_add(ns, e);
	}
}

/* Prefixes per NEWSETELEM message (two elements each at most): one
 * message must fit in the batch page's overrun, and a long list of
 * remediation or admin networks would not. */
#define NETWORKS_PER_MSG 64

static void emit_networks(struct txn *t, enum nft_set s, const struct prefix_list *l)
{
	struct nftnl_set *ns = set_ref(t->n, s);
	struct nlmsghdr *nlh;
	bool v6 = sets[s].family == AF_INET6;
	unsigned count = 0;

	/* Flush: a DELSETELEM without elements empties the set. */
	nlh = txn_msg(t, NFT_MSG_DELSETELEM, 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, ns);
	txn_next(t);
	nftnl_set_free(ns);
	ns = NULL;
	for (unsigned i = 0; l && i <= l->n; i++) {
		if (i < l->n && (l->v[i].addr.family == AF_INET6) != v6)
			continue;
		if (ns && (count == NETWORKS_PER_MSG || i == l->n)) {
			nlh = txn_msg(t, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
			nftnl_set_elems_nlmsg_build_payload(nlh, ns);
			txn_next(t);
			nftnl_set_free(ns);
			ns = NULL;
			count = 0;
		}
		if (i == l->n)
			break;
		if (!ns)
			ns = set_ref(t->n, s);
		interval_add(ns, &l->v[i]);
		count++;
	}
	if (ns)
		nftnl_set_free(ns);
}

static void flush_chain(struct txn *t, const char *chain)
{
	struct nftnl_rule *flush = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	nftnl_rule_set_u32(flush, NFTNL_RULE_FAMILY, (uint32_t)t->n->p.family);
	nftnl_rule_set_str(flush, NFTNL_RULE_TABLE, t->n->p.table);
	nftnl_rule_set_str(flush, NFTNL_RULE_CHAIN, chain);
	nlh = txn_msg(t, NFT_MSG_DELRULE, 0);
	nftnl_rule_nlmsg_build_payload(nlh, flush);
	nftnl_rule_free(flush);
	txn_next(t);
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
		nftnl_table_set_str(tb, NFTNL_TABLE_NAME, n->p.table);
		nftnl_table_set_u32(tb, NFTNL_TABLE_FAMILY, (uint32_t)n->p.family);
		nftnl_table_set_u32(tb, NFTNL_TABLE_FLAGS, 0);
		nlh = txn_msg(&t, NFT_MSG_NEWTABLE, NLM_F_CREATE);
		nftnl_table_nlmsg_build_payload(nlh, tb);
		nftnl_table_free(tb);
		txn_next(&t);
	}
	/* Sets: created, or adopted as they are when their definition
	 * matches (the kernel refuses a mismatch with EEXIST). */
	for (unsigned i = 0; i < NFT_SET_COUNT; i++) {
		struct nftnl_set *s = set_ref(n, (enum nft_set)i);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, sets[i].key_len);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, sets[i].key_type);
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, sets[i].flags);
		if (sets[i].counter)
			nftnl_set_add_expr(s, nftnl_expr_alloc("counter"));
		nlh = txn_msg(&t, NFT_MSG_NEWSET, NLM_F_CREATE);
		nftnl_set_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
		txn_next(&t);
	}
	/* Chains: created (or kept), then emptied and refilled in the same
	 * transaction, so there is never a moment without them.  Regular
	 * chains first: the base chains' rules jump to them. */
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < (pass ? ARRAY_SIZE(chains) : 2 * ISO_COUNT); i++) {
			struct nftnl_chain *c = nftnl_chain_alloc();
			const char *name = pass ? chains[i].name
						: isochain_name((enum isochain)(i / 2), i % 2);

			nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, n->p.table);
			nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
			nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, (uint32_t)n->p.family);
			if (pass) {
				nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, chains[i].hook);
				nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, -10);
				nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
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
	return txn_run_simple(&t, err, errlen, "updating remediation/admin sets");
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
		for (unsigned j = 0; j < ops[i].nelems; j++) {
			if (ops[i].elems[j].addr.family != sets[ops[i].set].family) {
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
	for (unsigned i = 0; i < nops; i++) {
		emit_elems(&t, ops[i].set, ops[i].del, ops[i].elems, ops[i].nelems);
	}
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

static int list_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_ctx *c = data;
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0)
		nftnl_set_elem_foreach(s, list_elem_cb, c);
	nftnl_set_free(s);
	return c->r ? MNL_CB_STOP : MNL_CB_OK;
}

int nft_list(struct nft *n, enum nft_set set, int (*cb)(void *arg, const struct nft_elem *e),
	     void *arg)
{
	char buf[8192]; /* one request message */
	struct list_ctx c = {.set = set, .cb = cb, .arg = arg};
	struct nftnl_set *s = set_ref(n, set);
	struct nlmsghdr *nlh;
	uint32_t seq = n->seq++;
	int r;

	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, (uint16_t)n->p.family,
				    NLM_F_DUMP | NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(n->nl, n->rbuf, n->rbuf_len);
		if (len < 0)
			return -errno;
		r = mnl_cb_run(n->rbuf, (size_t)len, seq, n->portid, list_msg_cb, &c);
		if (r < 0)
			return -errno;
		if (r == MNL_CB_STOP)
			break;
	}
	return c.r;
}
