/* Detections from outside: the names of the sources, and the check of
 * every field a parsing process hands the parent (outside.h). */
#include "outside.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const source_names[SOURCE_COUNT] = {
	[SOURCE_SELF] = "self",		  [SOURCE_SURICATA] = "suricata", [SOURCE_ZEEK] = "zeek",
	[SOURCE_ANTIVIRUS] = "antivirus", [SOURCE_GATEWAY] = "gateway",
};

const char *det_source_name(enum det_source s)
{
	return (unsigned)s < SOURCE_COUNT ? source_names[s] : "?";
}

int det_source_parse(const char *s, enum det_source *ret)
{
	for (unsigned i = 0; i < SOURCE_COUNT; i++)
		if (strcmp(s, source_names[i]) == 0) {
			*ret = (enum det_source)i;
			return 0;
		}
	return -EINVAL;
}

const char *det_source_label(enum det_source s, const char *origin, char *buf, size_t len)
{
	if (s != SOURCE_GATEWAY || !origin || !*origin)
		return det_source_name(s);
	snprintf(buf, len, "gateway:%s", origin);
	return buf;
}

/* The length of the UTF-8 character at s (at most n bytes), or 0 when it
 * is not one: no overlong forms, no surrogates, nothing above U+10FFFF
 * (RFC 3629). */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t outside_utf8_valid(const char *s, size_t n, bool controls)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t l = utf8_char(p + i, n - i);

		if (l == 0)
			return i;
		/* C0 controls and DEL; C1 controls (U+0080..U+009F) too:
		 * they move terminals as ESC does. */
		if (!controls && ((l == 1 && (p[i] < 0x20 || p[i] == 0x7f)) ||
				  (l == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)))
			return i;
		i += l;
	}
	return n;
}

size_t outside_utf8_cut(const char *s, size_t n, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;

	if (n <= max)
		return n;
	/* Back over continuation bytes to the start of the character that
	 * does not fit. */
	while (max > 0 && (p[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* A NUL-terminated string of arr (size bytes) that is printable UTF-8
 * and, when nonempty is set, not empty.  Its length, or -1. */
static int text_ok(const char *arr, size_t size, bool nonempty, const char *what, char *err,
		   size_t errlen)
{
	const char *end = memchr(arr, '\0', size);
	size_t n, ok;

	if (!end) {
		set_err(err, errlen, "%s: not NUL-terminated", what);
		return -1;
	}
	n = (size_t)(end - arr);
	if (nonempty && n == 0) {
		set_err(err, errlen, "%s: empty", what);
		return -1;
	}
	ok = outside_utf8_valid(arr, n, false);
	if (ok != n) {
		set_err(err, errlen, "%s: not printable UTF-8 at byte %zu", what, ok);
		return -1;
	}
	return (int)n;
}

static bool addr_ok(const struct qaddr *a, bool mac)
{
	size_t used;

	switch (a->family) {
	case AF_INET:
		used = 4;
		break;
	case AF_INET6:
		used = 16;
		break;
	case AF_MAC:
		if (!mac || !mac_is_unicast(a->b))
			return false;
		used = MAC_LEN;
		break;
	default:
		return false;
	}
	/* The bytes past the address are zero (addr.h): two addresses
	 * compare with memcmp(). */
	for (size_t i = used; i < sizeof(a->b); i++)
		if (a->b[i])
			return false;
	return a->family == AF_MAC || addr_is_unicast(a);
}

int outside_check(const struct outside_detection *o, char *err, size_t errlen)
{
	const char *prefix = NULL;
	int n;

	if (o->source <= SOURCE_SELF || o->source >= SOURCE_COUNT)
		return set_err(err, errlen, "source %u: not an outside source", o->source), -EINVAL;
	if (o->severity < SEV_LOW || o->severity > SEV_HIGH)
		return set_err(err, errlen, "severity %u out of range", o->severity), -EINVAL;
	if (o->level < LEVEL_WATCH || o->level > LEVEL_ISOLATE)
		return set_err(err, errlen, "level %u out of range", o->level), -EINVAL;
	if (o->proto != 0 && o->proto != PROTO_TCP && o->proto != PROTO_UDP)
		return set_err(err, errlen, "proto %u: neither tcp nor udp", o->proto), -EINVAL;
	if (o->nports > OUTSIDE_MAX_PORTS)
		return set_err(err, errlen, "%u ports, at most %u", o->nports, OUTSIDE_MAX_PORTS),
		       -EINVAL;
	if (o->nports && !o->proto)
		return set_err(err, errlen, "ports without a protocol"), -EINVAL;
	for (unsigned i = 0; i < OUTSIDE_MAX_PORTS; i++) {
		if (i < o->nports && o->ports[i] == 0)
			return set_err(err, errlen, "port %u is 0", i), -EINVAL;
		if (i >= o->nports && o->ports[i] != 0)
			return set_err(err, errlen, "port %u set beyond nports", i), -EINVAL;
	}
	if (!addr_ok(&o->host, true))
		return set_err(err, errlen, "host: not a unicast address or MAC"), -EINVAL;
	if (o->peer.family && !addr_ok(&o->peer, false))
		return set_err(err, errlen, "peer: not a unicast address"), -EINVAL;
	if (text_ok(o->origin, sizeof(o->origin), o->source == SOURCE_GATEWAY, "origin", err,
		    errlen) < 0)
		return -EINVAL;
	if ((n = text_ok(o->rule, sizeof(o->rule), true, "rule", err, errlen)) < 0)
		return -EINVAL;
	if (text_ok(o->evidence, sizeof(o->evidence), false, "evidence", err, errlen) < 0)
		return -EINVAL;
	if (o->source == SOURCE_SURICATA || o->source == SOURCE_ZEEK)
		prefix = OUTSIDE_IDS_PREFIX;
	else if (o->source == SOURCE_ANTIVIRUS)
		prefix = OUTSIDE_AV_PREFIX;
	if (prefix &&
	    (strncmp(o->rule, prefix, strlen(prefix)) != 0 || (size_t)n <= strlen(prefix)))
		return set_err(err, errlen, "rule of a %s detection: \"%sNAME\"",
			       det_source_name(o->source), prefix),
		       -EINVAL;
	return 0;
}

/* ---- the registry of outside rule names ---- */

static const char *const catch_all[] = {
	OUTSIDE_IDS_PREFIX OUTSIDE_RULE_OTHER,
	OUTSIDE_AV_PREFIX OUTSIDE_RULE_OTHER,
	OUTSIDE_RULE_OTHER,
};

int outside_rules_init(struct outside_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->v = calloc(OUTSIDE_RULES_MAX, sizeof(*r->v));
	if (!r->v)
		return -ENOMEM;
	/* The catch-all entries first: they exist whatever comes. */
	for (unsigned i = 0; i < ARRAY_SIZE(catch_all); i++)
		snprintf(r->v[r->n++].name, OUTSIDE_RULE_MAX, "%s", catch_all[i]);
	return 0;
}

void outside_rules_fini(struct outside_rules *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

int outside_rules_find(const struct outside_rules *r, const char *name)
{
	/* A linear walk: names arrive at the rate the flood bound allows,
	 * and a thousand comparisons cost less than a hash table's upkeep. */
	for (unsigned i = 0; i < r->n; i++)
		if (strcmp(r->v[i].name, name) == 0)
			return (int)(OUTSIDE_RULE_BASE + i);
	return -1;
}

unsigned outside_rules_intern(struct outside_rules *r, const char *name)
{
	int i = outside_rules_find(r, name);
	unsigned k;

	if (i >= 0)
		return (unsigned)i;
	if (r->n < OUTSIDE_RULES_MAX && *name) {
		snprintf(r->v[r->n].name, OUTSIDE_RULE_MAX, "%s", name);
		return OUTSIDE_RULE_BASE + r->n++;
	}
	r->full++;
	if (strncmp(name, OUTSIDE_IDS_PREFIX, strlen(OUTSIDE_IDS_PREFIX)) == 0)
		k = 0;
	else if (strncmp(name, OUTSIDE_AV_PREFIX, strlen(OUTSIDE_AV_PREFIX)) == 0)
		k = 1;
	else
		k = 2;
	return OUTSIDE_RULE_BASE + k;
}

const char *outside_rules_name(const struct outside_rules *r, unsigned rule)
{
	if (!outside_rule_index(rule) || rule - OUTSIDE_RULE_BASE >= r->n)
		return NULL;
	return r->v[rule - OUTSIDE_RULE_BASE].name;
}
