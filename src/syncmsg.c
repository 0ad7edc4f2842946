/* The records gateways share on the bus, the decisions a daemon's events
 * are, and the merge rule (syncmsg.h). */
#include "syncmsg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctlproto.h"

const char *sync_op_name(enum sync_op op)
{
	switch (op) {
	case SYNC_BLOCK:
		return "block";
	case SYNC_RELEASE:
		return "release";
	case SYNC_CERTIFY:
		return "certify";
	case SYNC_ALLOW:
		return "allow";
	case SYNC_DISALLOW:
		return "disallow";
	default:
		return "none";
	}
}

static enum sync_op op_parse(const char *s)
{
	for (enum sync_op op = SYNC_BLOCK; op <= SYNC_DISALLOW; op++)
		if (strcmp(s, sync_op_name(op)) == 0)
			return op;
	return SYNC_NONE;
}

const char *sync_verdict_name(enum sync_verdict v)
{
	static const char *const names[] = {[SYNC_APPLY] = "apply",
					    [SYNC_OWN] = "own",
					    [SYNC_STALE] = "stale",
					    [SYNC_EXPIRED] = "expired",
					    [SYNC_SUPERSEDED] = "superseded"};

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

bool sync_gateway_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];

		if (n >= SYNC_GATEWAY_MAX - 1)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

static const char hexd[] = "0123456789abcdef";

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexd[b[i] >> 4];
		out[2 * i + 1] = hexd[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Exactly 2n lower-case hex digits. */
static int unhex(const char *s, uint8_t *b, size_t n)
{
	if (strlen(s) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < 2 * n; i++) {
		const char *p = strchr(hexd, s[i]);

		if (!s[i] || !p)
			return -EINVAL;
		if (i % 2 == 0)
			b[i / 2] = (uint8_t)((p - hexd) << 4);
		else
			b[i / 2] |= (uint8_t)(p - hexd);
	}
	return 0;
}

int syncmsg_key(const char *gw, const struct qaddr *host, char *buf, size_t len)
{
	char h[33];
	int n;

	if (!sync_gateway_valid(gw))
		return -EINVAL;
	if (host->family == AF_INET)
		n = snprintf(buf, len, "%s.ip4-%u-%u-%u-%u", gw, host->b[0], host->b[1], host->b[2],
			     host->b[3]);
	else if (host->family == AF_INET6) {
		hex(h, host->b, 16);
		n = snprintf(buf, len, "%s.ip6-%s", gw, h);
	} else if (host->family == AF_MAC) {
		hex(h, host->b, MAC_LEN);
		n = snprintf(buf, len, "%s.mac-%s", gw, h);
	} else
		return -EINVAL;
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int syncmsg_key_prefix(const char *gw, const struct qaddr *p, unsigned plen, char *buf, size_t len)
{
	char h[33];
	int n;

	if (!sync_gateway_valid(gw) || plen < SYNC_PLEN_MIN ||
	    (p->family != AF_INET && p->family != AF_INET6) || plen > addr_bits(p))
		return -EINVAL;
	if (p->family == AF_INET)
		n = snprintf(buf, len, "%s.net4-%u-%u-%u-%u-%u", gw, p->b[0], p->b[1], p->b[2],
			     p->b[3], plen);
	else {
		hex(h, p->b, 16);
		n = snprintf(buf, len, "%s.net6-%s-%u", gw, h, plen);
	}
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int syncmsg_key_of(const char *gw, const struct syncmsg *m, char *buf, size_t len)
{
	if (m->op == SYNC_ALLOW || m->op == SYNC_DISALLOW)
		return syncmsg_key_prefix(gw, &m->host, m->plen, buf, len);
	return syncmsg_key(gw, &m->host, buf, len);
}

/* A decimal 0..255 without leading zeros, as syncmsg_key() writes it. */
static int octet(const char *s, size_t n, uint8_t *ret)
{
	unsigned v = 0;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 255)
		return -EINVAL;
	*ret = (uint8_t)v;
	return 0;
}

/* The machine or prefix part of a key (after its gateway): the address
 * into ret, and the prefix length (0 for a machine).  0 or -EINVAL. */
static int key_machine(const char *m, struct qaddr *ret, unsigned *ret_plen)
{
	uint8_t b[16] = {0};
	struct qaddr a;
	unsigned plen = 0;

	if (strncmp(m, "ip4-", 4) == 0 || strncmp(m, "net4-", 5) == 0) {
		bool net = m[0] == 'n';
		const char *p = m + (net ? 5 : 4);

		for (unsigned i = 0; i < (net ? 5u : 4u); i++) {
			const char *e = strchr(p, i < (net ? 4u : 3u) ? '-' : '\0');
			uint8_t o;

			if (!e || octet(p, (size_t)(e - p), &o) < 0)
				return -EINVAL;
			if (i < 4)
				b[i] = o;
			else
				plen = o;
			p = e + 1;
		}
		addr_set_v4(&a, b);
		if (net && (plen < SYNC_PLEN_MIN || plen > 32))
			return -EINVAL;
	} else if (strncmp(m, "ip6-", 4) == 0) {
		if (unhex(m + 4, b, 16) < 0)
			return -EINVAL;
		addr_set_v6(&a, b);
	} else if (strncmp(m, "net6-", 5) == 0) {
		char h[33];
		const char *d = strchr(m + 5, '-');
		uint8_t o;

		if (!d || d - (m + 5) != 32 || octet(d + 1, strlen(d + 1), &o) < 0 ||
		    o < SYNC_PLEN_MIN || o > 128)
			return -EINVAL;
		memcpy(h, m + 5, 32);
		h[32] = '\0';
		if (unhex(h, b, 16) < 0)
			return -EINVAL;
		addr_set_v6(&a, b);
		plen = o;
	} else if (strncmp(m, "mac-", 4) == 0) {
		if (unhex(m + 4, b, MAC_LEN) < 0)
			return -EINVAL;
		addr_set_mac(&a, b);
	} else
		return -EINVAL;
	if (plen) {
		/* One spelling per prefix: its host bits zero. */
		struct qaddr masked = a;

		addr_mask(&masked, plen);
		if (!addr_eq(&masked, &a))
			return -EINVAL;
	}
	*ret = a;
	*ret_plen = plen;
	return 0;
}

int syncmsg_key_plen(const char *key)
{
	const char *dot = strchr(key, '.');
	char g[SYNC_GATEWAY_MAX];
	struct qaddr a;
	unsigned plen;

	if (syncmsg_key_parse(key, g, &a) < 0 || key_machine(dot + 1, &a, &plen) < 0)
		return -EINVAL;
	return (int)plen;
}

int syncmsg_key_parse(const char *key, char gw[SYNC_GATEWAY_MAX], struct qaddr *ret)
{
	const char *dot = strchr(key, '.');
	char g[SYNC_GATEWAY_MAX];
	const char *m;
	struct qaddr a;
	unsigned plen;

	if (!dot || (size_t)(dot - key) >= sizeof(g))
		return -EINVAL;
	memcpy(g, key, (size_t)(dot - key));
	g[dot - key] = '\0';
	if (!sync_gateway_valid(g))
		return -EINVAL;
	m = dot + 1;
	if (key_machine(m, &a, &plen) < 0)
		return -EINVAL;
	memcpy(gw, g, sizeof(g));
	*ret = a;
	return 0;
}

/* Printable UTF-8 without control characters, NUL-terminated within n. */
static bool text_ok(const char *s, size_t n)
{
	size_t len = strnlen(s, n);

	return len < n && outside_utf8_valid(s, len, false) == len;
}

int syncmsg_check(const struct syncmsg *m, char *err, size_t errlen)
{
	if (m->op < SYNC_BLOCK || m->op > SYNC_DISALLOW) {
		set_err(err, errlen, "unknown decision");
		return -EINVAL;
	}
	if (!text_ok(m->origin, sizeof(m->origin)) || !sync_gateway_valid(m->origin)) {
		set_err(err, errlen, "invalid origin (want 1 to 32 of [A-Za-z0-9_-])");
		return -EINVAL;
	}
	if (m->host.family != AF_INET && m->host.family != AF_INET6 && m->host.family != AF_MAC) {
		set_err(err, errlen, "no host");
		return -EINVAL;
	}
	if (m->host.family != AF_MAC && !addr_is_unicast(&m->host)) {
		set_err(err, errlen, "host is not a unicast address");
		return -EINVAL;
	}
	if (m->host.family == AF_MAC && !mac_is_unicast(m->host.b)) {
		set_err(err, errlen, "host is not a unicast MAC");
		return -EINVAL;
	}
	/* The machine named the other way: a MAC beside an address, an
	 * address beside a MAC, never both nor the same kind twice. */
	if (m->mac.family &&
	    (m->host.family == AF_MAC || m->mac.family != AF_MAC || !mac_is_unicast(m->mac.b))) {
		set_err(err, errlen, "mac: not a unicast MAC beside an address");
		return -EINVAL;
	}
	if (m->addr.family &&
	    (m->host.family != AF_MAC || m->addr.family == AF_MAC || !addr_is_unicast(&m->addr))) {
		set_err(err, errlen, "addr: not a unicast address beside a MAC");
		return -EINVAL;
	}
	if (m->op == SYNC_ALLOW || m->op == SYNC_DISALLOW) {
		struct qaddr masked = m->host;

		if (m->host.family == AF_MAC || m->plen < SYNC_PLEN_MIN ||
		    m->plen > addr_bits(&m->host)) {
			set_err(err, errlen, "an allow names a prefix of %d to 32 or 128 bits",
				SYNC_PLEN_MIN);
			return -EINVAL;
		}
		addr_mask(&masked, m->plen);
		if (!addr_eq(&masked, &m->host)) {
			set_err(err, errlen, "prefix with host bits set");
			return -EINVAL;
		}
		if (m->mac.family || m->addr.family || m->proto || m->first_us || m->incident) {
			set_err(err, errlen, "an allow names a prefix and nothing else");
			return -EINVAL;
		}
	} else if (m->plen) {
		set_err(err, errlen, "a prefix length on a machine's record");
		return -EINVAL;
	}
	if (m->op == SYNC_BLOCK) {
		if (m->level < LEVEL_WATCH || m->level > LEVEL_ISOLATE) {
			set_err(err, errlen, "invalid level");
			return -EINVAL;
		}
		if (m->severity < SEV_LOW || m->severity > SEV_HIGH) {
			set_err(err, errlen, "invalid severity");
			return -EINVAL;
		}
	} else if (m->level != LEVEL_NONE || m->severity != SEV_NONE || m->rule[0] ||
		   m->expires_us) {
		set_err(err, errlen, "a release has no level, severity, rule or expiry");
		return -EINVAL;
	}
	if (m->op == SYNC_CERTIFY && strcmp(m->state, "cleaned") != 0) {
		set_err(err, errlen, "invalid certification (want cleaned)");
		return -EINVAL;
	}
	if (m->op != SYNC_CERTIFY && m->state[0]) {
		set_err(err, errlen, "a state without a certification");
		return -EINVAL;
	}
	if (m->proto != 0 && m->proto != PROTO_TCP && m->proto != PROTO_UDP) {
		set_err(err, errlen, "invalid proto");
		return -EINVAL;
	}
	if (m->nports > OUTSIDE_MAX_PORTS || (m->nports && !m->proto) || (m->proto && !m->nports)) {
		set_err(err, errlen, "invalid ports");
		return -EINVAL;
	}
	for (unsigned i = 0; i < m->nports; i++)
		if (!m->ports[i]) {
			set_err(err, errlen, "port 0");
			return -EINVAL;
		}
	if (!m->ts_us) {
		set_err(err, errlen, "no time");
		return -EINVAL;
	}
	if (m->expires_us && m->expires_us <= m->ts_us) {
		set_err(err, errlen, "expires before it was decided");
		return -EINVAL;
	}
	if (!text_ok(m->rule, sizeof(m->rule)) || !text_ok(m->reason, sizeof(m->reason)) ||
	    !text_ok(m->by, sizeof(m->by)) || !text_ok(m->state, sizeof(m->state))) {
		set_err(err, errlen, "text not valid printable UTF-8");
		return -EINVAL;
	}
	if (m->op == SYNC_BLOCK && !m->rule[0]) {
		set_err(err, errlen, "a block without a rule");
		return -EINVAL;
	}
	return 0;
}

static int add(char *buf, size_t len, const char *k, const char *v)
{
	return ctl_header_add(buf, len, k, v);
}

static int add_u64(char *buf, size_t len, const char *k, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRIu64, v);
	return add(buf, len, k, b);
}

int syncmsg_encode(const struct syncmsg *m, char *buf, size_t len)
{
	char b[ADDR_STRLEN], ports[OUTSIDE_MAX_PORTS * 6 + 1] = "";
	size_t n;
	int k;

	if (syncmsg_check(m, NULL, 0) < 0)
		return -EINVAL;
	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	char mb[MAC_STRLEN], ab[ADDR_STRLEN];

	if (m->host.family == AF_MAC)
		snprintf(b, sizeof(b), "%s", mac_ntop(m->host.b, mb));
	else
		addr_ntop(&m->host, b);
	for (unsigned i = 0; i < m->nports; i++)
		snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports), "%s%u", i ? "," : "",
			 m->ports[i]);
	if ((k = add(buf, len, "cmd", sync_op_name(m->op))) < 0 ||
	    (k = add_u64(buf, len, "v", SYNC_VERSION)) < 0 ||
	    (k = add(buf, len, "origin", m->origin)) < 0 || (k = add(buf, len, "host", b)) < 0 ||
	    (k = add_u64(buf, len, "ts", m->ts_us)) < 0)
		return k;
	if (m->op == SYNC_BLOCK &&
	    ((k = add(buf, len, "level", level_name(m->level))) < 0 ||
	     (k = add(buf, len, "severity", severity_name(m->severity))) < 0 ||
	     (k = add(buf, len, "rule", m->rule)) < 0 ||
	     (k = add_u64(buf, len, "expires", m->expires_us)) < 0))
		return k;
	if (m->proto && ((k = add(buf, len, "proto", m->proto == PROTO_TCP ? "tcp" : "udp")) < 0 ||
			 (k = add(buf, len, "ports", ports)) < 0))
		return k;
	if (m->plen && (k = add_u64(buf, len, "plen", m->plen)) < 0)
		return k;
	if (m->mac.family && (k = add(buf, len, "mac", mac_ntop(m->mac.b, mb))) < 0)
		return k;
	if (m->addr.family && (k = add(buf, len, "addr", addr_ntop(&m->addr, ab))) < 0)
		return k;
	if (m->first_us && (k = add_u64(buf, len, "first", m->first_us)) < 0)
		return k;
	if (m->incident && (k = add_u64(buf, len, "incident", m->incident)) < 0)
		return k;
	if (m->reason[0] && (k = add(buf, len, "reason", m->reason)) < 0)
		return k;
	if (m->by[0] && (k = add(buf, len, "by", m->by)) < 0)
		return k;
	if (m->state[0] && (k = add(buf, len, "state", m->state)) < 0)
		return k;
	n = strlen(buf);
	return n >= SYNC_VALUE_MAX ? -ENOSPC : (int)n;
}

/* A decimal uint64_t, nothing else. */
static int u64_parse(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 20)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int str_copy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		return -E2BIG;
	memcpy(dst, src, n + 1);
	return 0;
}

int syncmsg_decode(const char *buf, size_t len, struct syncmsg *ret, char *err, size_t errlen)
{
	static const char *const known[] = {"v",	"origin",   "host",    "ts",	"level",
					    "severity", "rule",	    "expires", "proto", "ports",
					    "first",	"incident", "reason",  "by",	"state",
					    "mac",	"addr",	    "plen"};
	struct ctl_request *req;
	struct syncmsg m;
	const char *v;
	uint64_t u;
	char line[SYNC_VALUE_MAX + 1];
	int k = -EINVAL;

	if (len >= SYNC_VALUE_MAX) {
		set_err(err, errlen, "value too long (%zu bytes, max %d)", len, SYNC_VALUE_MAX - 1);
		return -E2BIG;
	}
	if (memchr(buf, '\n', len) || memchr(buf, '\0', len)) {
		set_err(err, errlen, "value holds a line feed or a NUL");
		return -EINVAL;
	}
	memcpy(line, buf, len);
	line[len] = '\n';
	req = calloc(1, sizeof(*req));
	if (!req) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memset(&m, 0, sizeof(m));
	if ((k = ctl_request_parse(line, len + 1, req, err, errlen)) < 0)
		goto out;
	k = -EINVAL;
	for (unsigned i = 0; i < req->nargs; i++) {
		bool ok = false;

		for (size_t j = 0; j < sizeof(known) / sizeof(known[0]); j++)
			ok |= strcmp(req->args[i].key, known[j]) == 0;
		if (!ok) {
			set_err(err, errlen, "unknown field %s", req->args[i].key);
			goto out;
		}
	}
	m.op = op_parse(req->cmd);
	if (m.op == SYNC_NONE) {
		set_err(err, errlen, "unknown decision %s", req->cmd);
		goto out;
	}
	if (!(v = ctl_request_get(req, "v")) || strcmp(v, "1") != 0) {
		set_err(err, errlen, "unknown version (want v=1)");
		goto out;
	}
	if (!(v = ctl_request_get(req, "origin")) || str_copy(m.origin, sizeof(m.origin), v) < 0) {
		set_err(err, errlen, "invalid origin");
		goto out;
	}
	if (!(v = ctl_request_get(req, "host")) || (addr_parse_any(v, &m.host) < 0)) {
		set_err(err, errlen, "invalid host");
		goto out;
	}
	if ((v = ctl_request_get(req, "plen"))) {
		if (u64_parse(v, 128, &u) < 0 || u == 0) {
			set_err(err, errlen, "invalid plen");
			goto out;
		}
		m.plen = (uint8_t)u;
	}
	if ((v = ctl_request_get(req, "mac")) &&
	    (addr_parse_any(v, &m.mac) < 0 || m.mac.family != AF_MAC)) {
		set_err(err, errlen, "invalid mac");
		goto out;
	}
	if ((v = ctl_request_get(req, "addr")) &&
	    (addr_parse_any(v, &m.addr) < 0 || m.addr.family == AF_MAC)) {
		set_err(err, errlen, "invalid addr");
		goto out;
	}
	if (!(v = ctl_request_get(req, "ts")) || u64_parse(v, UINT64_MAX, &m.ts_us) < 0) {
		set_err(err, errlen, "invalid ts");
		goto out;
	}
	if ((v = ctl_request_get(req, "level"))) {
		enum level l;

		if (level_parse(v, &l) < 0) {
			set_err(err, errlen, "invalid level");
			goto out;
		}
		m.level = l;
	}
	if ((v = ctl_request_get(req, "severity"))) {
		enum severity s;

		if (severity_parse(v, &s) < 0) {
			set_err(err, errlen, "invalid severity");
			goto out;
		}
		m.severity = s;
	}
	if ((v = ctl_request_get(req, "expires")) && u64_parse(v, UINT64_MAX, &m.expires_us) < 0) {
		set_err(err, errlen, "invalid expires");
		goto out;
	}
	if ((v = ctl_request_get(req, "first")) && u64_parse(v, UINT64_MAX, &m.first_us) < 0) {
		set_err(err, errlen, "invalid first");
		goto out;
	}
	if ((v = ctl_request_get(req, "incident"))) {
		if (u64_parse(v, UINT32_MAX, &u) < 0) {
			set_err(err, errlen, "invalid incident");
			goto out;
		}
		m.incident = (unsigned)u;
	}
	if ((v = ctl_request_get(req, "proto"))) {
		if (strcmp(v, "tcp") == 0)
			m.proto = PROTO_TCP;
		else if (strcmp(v, "udp") == 0)
			m.proto = PROTO_UDP;
		else {
			set_err(err, errlen, "invalid proto");
			goto out;
		}
	}
	if ((v = ctl_request_get(req, "ports"))) {
		char pb[CTL_VALUE_MAX], *save = NULL;

		snprintf(pb, sizeof(pb), "%s", v);
		for (char *t = strtok_r(pb, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (m.nports >= OUTSIDE_MAX_PORTS || u64_parse(t, 65535, &u) < 0) {
				set_err(err, errlen, "invalid ports");
				goto out;
			}
			m.ports[m.nports++] = (uint16_t)u;
		}
	}
	if (((v = ctl_request_get(req, "rule")) && str_copy(m.rule, sizeof(m.rule), v) < 0) ||
	    ((v = ctl_request_get(req, "reason")) && str_copy(m.reason, sizeof(m.reason), v) < 0) ||
	    ((v = ctl_request_get(req, "by")) && str_copy(m.by, sizeof(m.by), v) < 0) ||
	    ((v = ctl_request_get(req, "state")) && str_copy(m.state, sizeof(m.state), v) < 0)) {
		set_err(err, errlen, "text field too long");
		goto out;
	}
	if ((k = syncmsg_check(&m, err, errlen)) < 0)
		goto out;
	*ret = m;
	k = 0;
out:
	free(req);
	return k;
}

/* ---- the daemon's events ---- */

/* Our own daemon wrote the events, but they are read as strictly as
 * anything else (syncmsg.h). */
int sync_json_member(const char *j, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);
	int depth = 0;

	for (const char *p = j; *p; p++) {
		if (*p == '{' || *p == '[') {
			depth++;
			continue;
		}
		if (*p == '}' || *p == ']') {
			depth--;
			continue;
		}
		if (*p != '"')
			continue;
		/* A string: a key at depth 1 when a ':' follows. */
		const char *s = ++p;

		while (*p && *p != '"')
			p += (*p == '\\' && p[1]) ? 2 : 1;
		if (!*p)
			return -EINVAL;
		if (depth == 1 && p[1] == ':' && (size_t)(p - s) == klen &&
		    memcmp(s, key, klen) == 0) {
			size_t n = 0;

			p += 2;
			if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					char c = *p;

					if (c == '\\') {
						p++;
						if (*p == '"' || *p == '\\' || *p == '/')
							c = *p;
						else if (*p == 'u' &&
							 strncmp(p + 1, "00", 2) == 0) {
							char h[3] = {p[3], p[4], 0};
							unsigned long x;
							char *end;

							if (!h[0] || !h[1])
								goto bad;
							x = strtoul(h, &end, 16);
							if (*end)
								goto bad;
							c = (char)x;
							p += 4;
						} else
							goto bad;
					}
					if (n + 1 >= len)
						goto cut;
					out[n++] = c;
				}
				if (!*p)
					goto bad;
			} else if (*p == '[') {
				/* An array of numbers (ports): its text between the
				 * brackets. */
				for (p++; *p && *p != ']'; p++) {
					if (*p == '[' || *p == '{' || *p == '"')
						goto bad;
					if (n + 1 >= len)
						goto cut;
					out[n++] = *p;
				}
				if (!*p)
					goto bad;
			} else {
				while (*p && *p != ',' && *p != '}') {
					if (n + 1 >= len)
						goto cut;
					out[n++] = *p++;
				}
			}
			out[n] = '\0';
			return 0;
		cut:
			out[n] = '\0';
			return -E2BIG;
		bad:
			out[n] = '\0';
			return -EINVAL;
		}
	}
	return -ENOENT;
}

/* One object, its strings terminated and its brackets balanced: a line
 * cut short is refused whole rather than read in part. */
static bool json_whole(const char *j)
{
	int depth = 0;
	bool str = false;
	const char *p = j;

	if (*p != '{')
		return false;
	for (; *p; p++) {
		if (str) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				str = false;
			continue;
		}
		if (*p == '"')
			str = true;
		else if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0 && p[1])
			return false;
		if (depth < 0)
			return false;
	}
	return !str && depth == 0;
}

/* "2026-01-15T09:00:05.123456Z" (event_format_ts()) to microseconds. */
static int ts_parse(const char *s, uint64_t *ret)
{
	struct tm tm;
	unsigned us = 0;
	char z = 0;
	int n = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6u%c%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us, &z, &n) != 8 ||
	    z != 'Z' || s[n])
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t <= 0)
		return -EINVAL;
	*ret = (uint64_t)t * 1000000u + us;
	return 0;
}

/* The ports the event names ("proto" tcp or udp and "ports"), the ones a
 * containment blocks; none when it names none, another protocol, or more
 * than a record holds (OUTSIDE_MAX_PORTS): a record never carries part of
 * a containment, and one without ports is, where the receiving gateway
 * allows it, an isolation (quarantine-sync(8), APPLYING). */
static void event_ports(const char *json, struct syncmsg *m)
{
	char v[OUTSIDE_RULE_MAX], *save = NULL;
	uint8_t proto;
	uint64_t u;

	if (sync_json_member(json, "proto", v, sizeof(v)) < 0 ||
	    (strcmp(v, "tcp") != 0 && strcmp(v, "udp") != 0))
		return;
	proto = strcmp(v, "tcp") == 0 ? PROTO_TCP : PROTO_UDP;
	if (sync_json_member(json, "ports", v, sizeof(v)) < 0)
		return;
	for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (u64_parse(t, 65535, &u) < 0 || !u || m->nports == OUTSIDE_MAX_PORTS) {
			m->nports = 0;
			return;
		}
		m->ports[m->nports++] = (uint16_t)u;
	}
	if (m->nports)
		m->proto = proto;
}

/* A reason "gateway:NAME: ..." whose rest names no gateway: a decision of
 * one other gateway applied here, not one that came by two. */
static bool one_gateway(const char *reason)
{
	const char *p = strstr(reason, ": ");

	return p && strncmp(p + 2, "gateway:", 8) != 0;
}

/* An operator's allow or disallow (event "allow" or "disallow", its
 * "prefix"): 1, or 0 for one that came from the bus (its reason names
 * "gateway:") or whose prefix is shorter than SYNC_PLEN_MIN (it stays
 * this gateway's). */
static int from_allow(const char *json, const char *self, const char *ev, struct syncmsg *ret)
{
	char v[OUTSIDE_RULE_MAX];
	struct syncmsg m;
	unsigned plen;
	int k;

	memset(&m, 0, sizeof(m));
	m.op = strcmp(ev, "allow") == 0 ? SYNC_ALLOW : SYNC_DISALLOW;
	if (sync_json_member(json, "ts", v, sizeof(v)) < 0 || ts_parse(v, &m.ts_us) < 0 ||
	    sync_json_member(json, "prefix", v, sizeof(v)) < 0 ||
	    addr_parse_prefix(v, &m.host, &plen) < 0)
		return -EINVAL;
	if (plen < SYNC_PLEN_MIN)
		return 0;
	m.plen = (uint8_t)plen;
	if (snprintf(m.origin, sizeof(m.origin), "%s", self) >= (int)sizeof(m.origin))
		return -EINVAL;
	k = sync_json_member(json, "reason", m.reason, sizeof(m.reason));
	if (k < 0)
		m.reason[k == -ENOENT ? 0 : outside_utf8_valid(m.reason, strlen(m.reason), false)] =
			'\0';
	if (strncmp(m.reason, "gateway:", 8) == 0)
		return 0;
	if (sync_json_member(json, "by_name", m.by, sizeof(m.by)) < 0)
		m.by[0] = '\0';
	if (syncmsg_check(&m, NULL, 0) < 0)
		return -EINVAL;
	*ret = m;
	return 1;
}

int syncmsg_from_event(const char *json, const char *self, struct syncmsg *ret)
{
	char ev[16], v[OUTSIDE_RULE_MAX], host[ADDR_STRLEN];
	struct syncmsg m;
	uint64_t u;
	int k;

	memset(&m, 0, sizeof(m));
	if (!json_whole(json) || sync_json_member(json, "event", ev, sizeof(ev)) < 0)
		return -EINVAL;
	if (strcmp(ev, "allow") == 0 || strcmp(ev, "disallow") == 0)
		return from_allow(json, self, ev, ret);
	if (strcmp(ev, "detect") != 0 && strcmp(ev, "action") != 0 && strcmp(ev, "release") != 0 &&
	    strcmp(ev, "mark") != 0)
		return 0;
	if (sync_json_member(json, "ts", v, sizeof(v)) < 0 || ts_parse(v, &m.ts_us) < 0)
		return -EINVAL;
	/* A machine with no address is named by its MAC. */
	if (sync_json_member(json, "host", host, sizeof(host)) < 0)
		return 0;
	if (addr_parse_any(host, &m.host) < 0)
		return -EINVAL;
	/* The machine's MAC, when this gateway knows the address's machine:
	 * the record by MAC that syncmsg_machine() makes. */
	if (m.host.family != AF_MAC && sync_json_member(json, "mac", v, sizeof(v)) == 0) {
		if (addr_parse_any(v, &m.mac) < 0 || m.mac.family != AF_MAC)
			return -EINVAL;
		if (!mac_is_unicast(m.mac.b))
			memset(&m.mac, 0, sizeof(m.mac));
	}
	if (snprintf(m.origin, sizeof(m.origin), "%s", self) >= (int)sizeof(m.origin))
		return -EINVAL;
	/* What came from the bus is not published again. */
	if (sync_json_member(json, "source", v, sizeof(v)) == 0 && strncmp(v, "gateway:", 8) == 0)
		return 0;
	/* A reason too long for a record is cut (at a character). */
	k = sync_json_member(json, "reason", m.reason, sizeof(m.reason));
	if (k < 0)
		m.reason[k == -ENOENT ? 0 : outside_utf8_valid(m.reason, strlen(m.reason), false)] =
			'\0';
	if (sync_json_member(json, "by_name", m.by, sizeof(m.by)) < 0)
		m.by[0] = '\0';
	if (strncmp(m.reason, "gateway:", 8) == 0) {
		/* Another gateway's release of an address applied here to a
		 * machine known by its MAC: that MAC's release, as ours (the
		 * gateways that blocked the machine by MAC know it by nothing
		 * else).  Only releases, only from one gateway: a release
		 * that came by MAC is not relayed again. */
		bool cleaned = sync_json_member(json, "state", v, sizeof(v)) == 0 &&
			       strcmp(v, "cleaned") == 0;

		if (!m.mac.family || !one_gateway(m.reason) ||
		    (strcmp(ev, "release") != 0 && !cleaned))
			return 0;
		m.op = cleaned ? SYNC_CERTIFY : SYNC_RELEASE;
		if (cleaned)
			strcpy(m.state, "cleaned");
		m.addr = m.host;
		m.host = m.mac;
		memset(&m.mac, 0, sizeof(m.mac));
		m.proto = 0;
		m.nports = 0;
		if (syncmsg_check(&m, NULL, 0) < 0)
			return -EINVAL;
		*ret = m;
		return 1;
	}
	if (strcmp(ev, "detect") == 0) {
		enum level l;
		enum severity s;

		if (sync_json_member(json, "enforced", v, sizeof(v)) < 0 || strcmp(v, "true") != 0)
			return 0;
		if (sync_json_member(json, "action", v, sizeof(v)) < 0 || level_parse(v, &l) < 0)
			return -EINVAL;
		if (l == LEVEL_NONE)
			return 0;
		m.op = SYNC_BLOCK;
		m.level = l;
		if (sync_json_member(json, "severity", v, sizeof(v)) < 0 ||
		    severity_parse(v, &s) < 0)
			return -EINVAL;
		m.severity = s;
		if (sync_json_member(json, "rule", m.rule, sizeof(m.rule)) < 0)
			return -EINVAL;
		/* The ports the block was about (contain blocks them). */
		event_ports(json, &m);
		if (sync_json_member(json, "first_probe_ts", v, sizeof(v)) == 0)
			(void)ts_parse(v, &m.first_us);
		if (sync_json_member(json, "incident", v, sizeof(v)) == 0 &&
		    u64_parse(v, UINT32_MAX, &u) == 0)
			m.incident = (unsigned)u;
		snprintf(m.reason, sizeof(m.reason), "detected by %s", self);
	} else if (strcmp(ev, "action") == 0) {
		enum level l;

		/* An automatic action follows a detection, which said it
		 * (and one that came from the bus must not come back as
		 * ours): only an operator's changes are published here. */
		if (sync_json_member(json, "by", v, sizeof(v)) < 0 || strcmp(v, "auto") == 0)
			return 0;
		if (sync_json_member(json, "enforced", v, sizeof(v)) < 0 || strcmp(v, "true") != 0)
			return 0;
		if (sync_json_member(json, "level", v, sizeof(v)) < 0 || level_parse(v, &l) < 0)
			return -EINVAL;
		if (l == LEVEL_NONE) {
			m.op = SYNC_RELEASE;
		} else {
			m.op = SYNC_BLOCK;
			m.level = l;
			m.severity = SEV_HIGH;
			snprintf(m.rule, sizeof(m.rule), "operator");
			/* The ports the operator gave (or the detections'):
			 * what a gateway that caps the block at contain
			 * blocks. */
			event_ports(json, &m);
			if (sync_json_member(json, "ttl_s", v, sizeof(v)) == 0 &&
			    u64_parse(v, UINT32_MAX, &u) == 0 && u)
				m.expires_us = m.ts_us + u * 1000000u;
		}
	} else {
		/* release, or a mark: a certification (cleaned) releases too;
		 * other marks (cleaning, uncleanable) are this gateway's own. */
		if (sync_json_member(json, "state", v, sizeof(v)) == 0 &&
		    strcmp(v, "cleaned") == 0) {
			m.op = SYNC_CERTIFY;
			strcpy(m.state, "cleaned");
		} else if (strcmp(ev, "release") == 0)
			m.op = SYNC_RELEASE;
		else
			return 0;
	}
	if (syncmsg_check(&m, NULL, 0) < 0)
		return -EINVAL;
	*ret = m;
	return 1;
}

int syncmsg_machine(const struct syncmsg *m, struct syncmsg *ret)
{
	if (m->host.family == AF_MAC || m->mac.family != AF_MAC)
		return 0;
	*ret = *m;
	ret->addr = m->host;
	ret->host = m->mac;
	memset(&ret->mac, 0, sizeof(ret->mac));
	return 1;
}

/* ---- the view ---- */

int sync_view_init(struct sync_view *w, unsigned cap)
{
	memset(w, 0, sizeof(*w));
	if (cap == 0)
		return -EINVAL;
	w->v = calloc(cap, sizeof(*w->v));
	if (!w->v)
		return -ENOMEM;
	w->cap = cap;
	return 0;
}

void sync_view_fini(struct sync_view *w)
{
	free(w->v);
	memset(w, 0, sizeof(*w));
}

/* FNV-1a of the machine: the view is bounded and probed linearly, so a
 * flood of keys chosen to collide costs probing, never memory. */
static unsigned slot_of(const struct sync_view *w, const struct qaddr *a, uint8_t plen)
{
	uint32_t h = 2166136261u;

	h = (h ^ a->family) * 16777619u;
	h = (h ^ plen) * 16777619u;
	for (unsigned i = 0; i < 16; i++)
		h = (h ^ a->b[i]) * 16777619u;
	return h % w->cap;
}

static struct sync_entry *entry(struct sync_view *w, const struct qaddr *a, uint8_t plen,
				bool create)
{
	unsigned i = slot_of(w, a, plen);

	for (unsigned k = 0; k < w->cap; k++, i = (i + 1) % w->cap) {
		struct sync_entry *e = &w->v[i];

		if (e->host.family == 0) {
			if (!create || w->n >= w->cap)
				return NULL;
			e->host = *a;
			e->plen = plen;
			w->n++;
			return e;
		}
		if (addr_eq(&e->host, a) && e->host.family == a->family && e->plen == plen)
			return e;
	}
	return NULL;
}

static bool releases(enum sync_op op)
{
	return op == SYNC_RELEASE || op == SYNC_CERTIFY;
}

static bool expired(const struct sync_slot *s, uint64_t now)
{
	return s->op == SYNC_BLOCK && s->expires_us && s->expires_us <= now;
}

/* A gateway's record stored at stored_us: its peer's time goes forward
 * only (a replay read again does not make a gateway look older). */
static void note_peer(struct sync_view *w, const char *gw, uint64_t stored_us)
{
	struct sync_peer *p = NULL;

	for (unsigned i = 0; i < w->npeers && !p; i++)
		if (strcmp(w->peers[i].gw, gw) == 0)
			p = &w->peers[i];
	if (!p && w->npeers == SYNC_PEERS_MAX) {
		w->peers_lost++;
		return;
	}
	if (!p) {
		p = &w->peers[w->npeers++];
		snprintf(p->gw, sizeof(p->gw), "%s", gw);
	}
	if (stored_us > p->stored_us)
		p->stored_us = stored_us;
}

enum sync_verdict sync_view_merge(struct sync_view *w, const char *self, const struct syncmsg *m,
				  uint64_t stored_us, uint64_t now_us)
{
	struct sync_entry *e = entry(w, &m->host, m->plen, true);
	struct sync_slot *mine = NULL;
	struct sync_slot rec;

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.gw, sizeof(rec.gw), "%s", m->origin);
	rec.op = m->op;
	rec.level = m->level;
	rec.stored_us = stored_us;
	/* The expiry is the origin's clock; the bus's time orders records.
	 * Both are wall clocks that NTP keeps together. */
	rec.expires_us = m->expires_us;
	if (!e)
		w->full++;
	for (unsigned i = 0; e && i < e->n; i++)
		if (strcmp(e->s[i].gw, rec.gw) == 0)
			mine = &e->s[i];
	if (mine && mine->stored_us > stored_us)
		return SYNC_STALE;
	if (e && !mine) {
		if (e->n < SYNC_VIEW_PEERS)
			mine = &e->s[e->n++];
		else
			w->full++;
	}
	if (mine)
		*mine = rec;
	if (strcmp(m->origin, self) == 0)
		return SYNC_OWN;
	note_peer(w, m->origin, stored_us);
	if (expired(&rec, now_us))
		return SYNC_EXPIRED;
	for (unsigned i = 0; e && i < e->n; i++) {
		const struct sync_slot *o = &e->s[i];

		if (o == mine)
			continue;
		/* The never-block list: the latest wins, a disallow a tie. */
		if (rec.op == SYNC_ALLOW && o->op == SYNC_DISALLOW && o->stored_us >= stored_us &&
		    strcmp(o->gw, rec.gw) != 0)
			return SYNC_SUPERSEDED;
		if (rec.op == SYNC_DISALLOW && o->op == SYNC_ALLOW && o->stored_us > stored_us)
			return SYNC_SUPERSEDED;
		if (rec.op == SYNC_BLOCK && releases(o->op) && o->stored_us > stored_us)
			return SYNC_SUPERSEDED;
		if (releases(rec.op) && o->op == SYNC_BLOCK && !expired(o, now_us) &&
		    o->stored_us >= stored_us && strcmp(o->gw, rec.gw) != 0)
			return SYNC_SUPERSEDED;
	}
	return SYNC_APPLY;
}

/* Before b in a report: stored later, or at the same time and first by
 * name. */
static bool peer_before(const struct sync_peer *a, const struct sync_peer *b)
{
	if (a->stored_us != b->stored_us)
		return a->stored_us > b->stored_us;
	return strcmp(a->gw, b->gw) < 0;
}

unsigned sync_view_peers_format(const struct sync_view *w, unsigned max, char *buf, size_t len)
{
	/* Picked one at a time (max is small: SYNC_REPORT_PEERS), each the
	 * first of those after the last one written. */
	const struct sync_peer *last = NULL;
	unsigned named = 0;
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned k = 0; k < max && k < w->npeers; k++) {
		const struct sync_peer *best = NULL;
		char item[SYNC_GATEWAY_MAX + 24];
		int n;

		for (unsigned i = 0; i < w->npeers; i++) {
			const struct sync_peer *p = &w->peers[i];

			if ((!last || peer_before(last, p)) && (!best || peer_before(p, best)))
				best = p;
		}
		if (!best)
			break;
		last = best;
		n = snprintf(item, sizeof(item), "%s%s@%" PRIu64, named ? "," : "", best->gw,
			     best->stored_us);
		if (n < 0 || used + (size_t)n + 1 > len)
			continue;
		memcpy(buf + used, item, (size_t)n + 1);
		used += (size_t)n;
		named++;
	}
	return w->npeers - named;
}

int sync_peers_parse(const char *s, struct sync_peer *ret, unsigned max)
{
	unsigned n = 0;

	if (!s)
		return -EINVAL;
	while (*s) {
		const char *at = strchr(s, '@'), *end;
		struct sync_peer p;
		size_t gl;
		uint64_t v;

		if (n == max || !at || (gl = (size_t)(at - s)) == 0 || gl >= sizeof(p.gw))
			return -EINVAL;
		memset(&p, 0, sizeof(p));
		memcpy(p.gw, s, gl);
		end = at + 1 + strcspn(at + 1, ",");
		if (!sync_gateway_valid(p.gw) || end == at + 1 || end - at - 1 > 20)
			return -EINVAL;
		v = 0;
		for (const char *c = at + 1; c < end; c++) {
			if (*c < '0' || *c > '9' || v > (UINT64_MAX - 9) / 10)
				return -EINVAL;
			v = v * 10 + (uint64_t)(*c - '0');
		}
		p.stored_us = v;
		for (unsigned i = 0; i < n; i++)
			if (strcmp(ret[i].gw, p.gw) == 0)
				return -EINVAL;
		ret[n++] = p;
		s = end;
		if (*s == ',' && !*++s)
			return -EINVAL;
	}
	return (int)n;
}
