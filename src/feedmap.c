/* What an IDS alert means for us; see feedmap.h. */
#include "feedmap.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The length of the UTF-8 sequence that starts with byte b (1 for
 * anything that is not a lead byte; feed_text() checks it is valid). */
static size_t utf8_len(unsigned char b)
{
	if (b < 0xc0)
		return 1;
	if (b < 0xe0)
		return 2;
	if (b < 0xf0)
		return 3;
	return 4;
}

void feed_text(char *dst, size_t size, const char *s, size_t n)
{
	size_t o = 0;

	if (size == 0)
		return;
	for (size_t i = 0; i < n && s[i];) {
		unsigned char b = (unsigned char)s[i];
		size_t l = utf8_len(b);

		if (o + (l > n - i ? 1 : l) >= size)
			break;
		/* Whatever is not a whole, valid character: one '?' a byte. */
		if (l > n - i || outside_utf8_valid(s + i, l, true) != l) {
			dst[o++] = '?';
			i++;
			continue;
		}
		if (b < 0x20 || b == 0x7f) {
			dst[o++] = b == '\t' ? ' ' : '?';
			i++;
			continue;
		}
		/* C1 controls (U+0080..U+009F) are controls too. */
		if (l == 2 && b == 0xc2 && (unsigned char)s[i + 1] < 0xa0) {
			dst[o++] = '?';
			i += 2;
			continue;
		}
		memcpy(dst + o, s + i, l);
		o += l;
		i += l;
	}
	dst[o] = '\0';
}

static int digits(const char **p, unsigned n, int *ret)
{
	int v = 0;

	for (unsigned i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -EINVAL;
		v = v * 10 + (**p - '0');
	}
	*ret = v;
	return 0;
}

int feed_iso8601(const char *s, uint64_t *ret_us)
{
	struct tm tm;
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
	uint64_t frac = 0, scale = 1000000;
	int64_t t;
	const char *p = s;

	memset(&tm, 0, sizeof(tm));
	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
	    digits(&p, 2, &d) < 0 || (*p != 'T' && *p != ' ') || !*p++ || digits(&p, 2, &h) < 0 ||
	    *p++ != ':' || digits(&p, 2, &mi) < 0 || *p++ != ':' || digits(&p, 2, &se) < 0)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++)
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh) < 0)
			return -EINVAL;
		if (*p == ':')
			p++;
		if (digits(&p, 2, &om) < 0)
			return -EINVAL;
	}
	if (*p || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    se > 60 || oh > 23 || om > 59)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
	if (t < 0)
		return -EINVAL;
	*ret_us = (uint64_t)t * USEC_PER_SEC + frac;
	return 0;
}

static bool inside(const struct conf *c, const struct qaddr *a)
{
	return a->family && prefix_list_contains(&c->networks.protected_, a);
}

enum feed_verdict feed_attacker(const struct conf *c, const struct feed_alert *a,
				struct qaddr *ret_host, struct qaddr *ret_peer)
{
	const struct qaddr *actor, *other;

	if (a->source.family) {
		/* The rule says who attacks whom. */
		actor = &a->source;
		other = &a->target;
	} else if (a->kind == FEED_SURICATA && a->client.family) {
		actor = &a->client;
		other = addr_eq(&a->client, &a->src) ? &a->dst : &a->src;
	} else if (a->dir == FEED_DIR_TO_CLIENT) {
		actor = &a->dst;
		other = &a->src;
	} else {
		actor = &a->src;
		other = &a->dst;
	}
	/* A multicast or unspecified actor is no host (and the parent
	 * would refuse it, ending the reader: a line must not do that). */
	if (!actor->family || !addr_is_unicast(actor))
		return FEED_NO_ADDRESS;
	if (!inside(c, actor))
		return other->family && inside(c, other) ? FEED_INBOUND : FEED_NOT_OURS;
	*ret_host = *actor;
	if (other->family && addr_is_unicast(other) && !addr_eq(other, actor))
		*ret_peer = *other;
	else
		memset(ret_peer, 0, sizeof(*ret_peer));
	return FEED_CONTAIN;
}

static bool entry_matches(const struct feed_map_entry *m, const struct feed_alert *a)
{
	if (m->kind != FEED_ANY && m->kind != a->kind)
		return false;
	if (m->category[0] && strcasecmp(m->category, a->category) != 0)
		return false;
	if (m->signature[0] && fnmatch(m->signature, a->signature, FNM_CASEFOLD) != 0)
		return false;
	if (m->nsids) {
		bool hit = false;

		for (unsigned i = 0; i < m->nsids && !hit; i++)
			hit = a->sid && m->sids[i] == a->sid;
		if (!hit)
			return false;
	}
	/* An alert without a severity is not a severe one. */
	if (m->max_severity && (a->severity == 0 || a->severity > m->max_severity))
		return false;
	return true;
}

enum level feed_map_level(const struct feeds_conf *fc, const struct feed_alert *a, int *ret_entry)
{
	for (unsigned i = 0; i < fc->nmap; i++)
		if (entry_matches(&fc->map[i], a)) {
			*ret_entry = (int)i;
			return fc->map[i].level;
		}
	*ret_entry = -1;
	return fc->default_level;
}

/* Suricata's severity 1 is the highest; classification.config goes to 4. */
static enum severity severity_of(const struct feed_alert *a)
{
	if (a->kind != FEED_SURICATA || a->severity == 0)
		return SEV_MEDIUM;
	return a->severity == 1 ? SEV_HIGH : a->severity == 2 ? SEV_MEDIUM : SEV_LOW;
}

enum feed_verdict feed_detection(const struct conf *c, const struct feed_conf *f,
				 const struct feed_alert *a, const char *line, size_t len,
				 struct outside_detection *ret)
{
	struct qaddr host, peer;
	enum feed_verdict v = feed_attacker(c, a, &host, &peer);
	enum level level;
	int entry;

	if (v != FEED_CONTAIN)
		return v;
	level = feed_map_level(&c->feeds, a, &entry);
	if (level == LEVEL_NONE)
		return FEED_MAPPED_OUT;
	memset(ret, 0, sizeof(*ret));
	ret->source = a->kind == FEED_ZEEK ? SOURCE_ZEEK : SOURCE_SURICATA;
	ret->severity = (uint8_t)severity_of(a);
	ret->level = (uint8_t)level;
	ret->host = host;
	ret->peer = peer;
	if (a->proto == PROTO_TCP || a->proto == PROTO_UDP) {
		/* The service the actor used: the server's port. */
		uint16_t port = addr_eq(&host, &a->src) ? a->dport : a->sport;

		if (port) {
			ret->proto = a->proto;
			ret->nports = 1;
			ret->ports[0] = port;
		}
	}
	ret->ts_us = a->ts_us;
	snprintf(ret->origin, sizeof(ret->origin), "%s", f->name);
	memcpy(ret->rule, "ids:", 4);
	feed_text(ret->rule + 4, sizeof(ret->rule) - 4, a->signature, strlen(a->signature));
	/* A rule names something: its id when its text is empty. */
	if (!ret->rule[4] && a->sid)
		snprintf(ret->rule + 4, sizeof(ret->rule) - 4, "sid-%u", a->sid);
	else if (!ret->rule[4])
		snprintf(ret->rule + 4, sizeof(ret->rule) - 4, "unnamed");
	feed_text(ret->evidence, sizeof(ret->evidence), line, len);
	return FEED_CONTAIN;
}

const char *feed_verdict_name(enum feed_verdict v)
{
	static const char *const names[] = {
		[FEED_CONTAIN] = "contain",	  [FEED_INBOUND] = "inbound",
		[FEED_NOT_OURS] = "not-ours",	  [FEED_NO_ADDRESS] = "no-address",
		[FEED_MAPPED_OUT] = "mapped-out",
	};
	return (unsigned)v < ARRAY_SIZE(names) ? names[v] : "?";
}
