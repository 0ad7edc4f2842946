/* Event rendering: JSON lines and syslog key=value lines. */
#include "event.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "outside.h"

static const char *const kind_names[] = {
	[EVENT_DETECT] = "detect",     [EVENT_ACTION] = "action",     [EVENT_RELEASE] = "release",
	[EVENT_MARK] = "mark",	       [EVENT_INCIDENT] = "incident", [EVENT_ERROR] = "error",
	[EVENT_BINDING] = "binding",   [EVENT_PURGE] = "purge",	      [EVENT_BULK] = "bulk",
	[EVENT_OUTBREAK] = "outbreak", [EVENT_ALLOW] = "allow",	      [EVENT_DISALLOW] = "disallow",
};

const char *event_kind_name(enum event_kind k)
{
	return (unsigned)k < ARRAY_SIZE(kind_names) ? kind_names[k] : "?";
}

const char *event_format_ts(usec_t ts, char buf[32])
{
	time_t secs = (time_t)(ts / USEC_PER_SEC);
	struct tm tm;
	size_t n;

	/* Years past 9999 come only from nonsense capture timestamps; they
	 * get the epoch rather than a malformed string. */
	if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 > 9999 ||
	    (n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		strcpy(buf, "1970-01-01T00:00:00.000000Z");
		return buf;
	}
	snprintf(buf + n, 32 - n, ".%06uZ", (unsigned)(ts % USEC_PER_SEC));
	return buf;
}

int event_priority(const struct event *e)
{
	switch (e->kind) {
	case EVENT_DETECT:
		return e->action >= LEVEL_CONTAIN ? LOG_WARNING : LOG_NOTICE;
	case EVENT_ERROR:
		return LOG_ERR;
	case EVENT_BINDING:
	case EVENT_OUTBREAK:
		return LOG_WARNING;
	default:
		return LOG_NOTICE;
	}
}

/* A bounded output buffer: appends never overflow; overflow is remembered. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void sb_putc(struct sbuf *s, char c)
{
	if (s->len + 1 < s->cap)
		s->p[s->len++] = c;
	else
		s->overflow = true;
	s->p[s->len < s->cap ? s->len : s->cap - 1] = '\0';
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->len >= s->cap) {
		s->overflow = true;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= s->cap - s->len) {
		s->overflow = true;
		s->len = s->cap - 1;
	} else {
		s->len += (size_t)n;
	}
}

static void json_str(struct sbuf *s, const char *v)
{
	sb_putc(s, '"');
	for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
		if (*c == '"' || *c == '\\') {
			sb_putc(s, '\\');
			sb_putc(s, (char)*c);
		} else if (*c < 0x20) {
			sb_printf(s, "\\u%04x", *c);
		} else {
			sb_putc(s, (char)*c);
		}
	}
	sb_putc(s, '"');
}

static void json_key_str(struct sbuf *s, const char *k, const char *v)
{
	sb_printf(s, ",\"%s\":", k);
	json_str(s, v);
}

static void json_key_ts(struct sbuf *s, const char *k, usec_t ts)
{
	char b[32];

	json_key_str(s, k, event_format_ts(ts, b));
}

static void json_key_addr(struct sbuf *s, const char *k, const struct qaddr *a)
{
	char b[ADDR_STRLEN];

	json_key_str(s, k, addr_ntop(a, b));
}

/* Inventory fields, each only when known. */
static void json_inventory(struct sbuf *s, const struct inv_entry *inv)
{
	if (!inv)
		return;
	if (inv->name[0])
		json_key_str(s, "name", inv->name);
	if (inv->department[0])
		json_key_str(s, "department", inv->department);
	if (inv->floor[0])
		json_key_str(s, "floor", inv->floor);
	if (inv->owner[0])
		json_key_str(s, "owner", inv->owner);
}

static void json_ports(struct sbuf *s, const struct detection *d)
{
	sb_printf(s, ",\"ports\":[");
	for (unsigned i = 0; i < d->nports; i++)
		sb_printf(s, "%s%u", i ? "," : "", d->ports[i]);
	sb_putc(s, ']');
}

static void json_evidence(struct sbuf *s, const struct detection *d)
{
	char b[ADDR_STRLEN];

	sb_printf(s, ",\"evidence\":{");
	switch (d->kind) {
	case EVIDENCE_DISTINCT_DST:
		sb_printf(s, "\"distinct_dst\":%u,\"window_s\":%u", d->count, d->window_s);
		if (d->ndark) {
			sb_printf(s, ",\"dark\":[");
			for (unsigned i = 0; i < d->ndark; i++) {
				sb_printf(s, "%s", i ? "," : "");
				json_str(s, addr_ntop(&d->dark[i], b));
			}
			sb_putc(s, ']');
		}
		break;
	case EVIDENCE_DISTINCT_PORTS:
		sb_printf(s, "\"distinct_ports\":%u,\"window_s\":%u,\"target\":", d->count,
			  d->window_s);
		json_str(s, addr_ntop(&d->target, b));
		break;
	case EVIDENCE_TRW:
		sb_printf(s, "\"failures\":%u,\"successes\":%u,\"llr\":%.2f", d->failures,
			  d->successes, d->llr);
		break;
	case EVIDENCE_FORGED:
		sb_printf(s, "\"distinct_src\":%u,\"window_s\":%u,\"forged\":", d->count,
			  d->window_s);
		json_str(s, addr_ntop(&d->target, b));
		break;
	case EVIDENCE_CONNECTIONS:
		sb_printf(s, "\"connections\":%u,\"window_s\":%u,\"target\":", d->count,
			  d->window_s);
		json_str(s, addr_ntop(&d->target, b));
		break;
	}
	sb_printf(s, ",\"probes\":%llu", (unsigned long long)d->probes);
	if (d->ports_overflow)
		sb_printf(s, ",\"ports_overflow\":true");
	sb_putc(s, '}');
}

/* An outside detection's evidence: the start of the original alert,
 * cut at a character boundary, and whether it was cut. */
static void json_original(struct sbuf *s, const char *v)
{
	char b[EVENT_ORIGINAL_MAX + 1];
	size_t n = strlen(v), k = outside_utf8_cut(v, n, EVENT_ORIGINAL_MAX);

	memcpy(b, v, k);
	b[k] = '\0';
	sb_printf(s, ",\"evidence\":{\"original\":");
	json_str(s, b);
	if (k < n)
		sb_printf(s, ",\"truncated\":true");
	sb_putc(s, '}');
}

/* "by", "by_name" and "by_claimed" (actor_json()). */
static void json_by(struct sbuf *s, long uid, const struct actor *by)
{
	char b[ACTOR_JSON_MAX];

	sb_printf(s, "%s", actor_json(uid, by, b, sizeof(b)));
}

int event_format_json(const struct event *e, char *buf, size_t len)
{
	struct sbuf s = {.p = buf, .cap = len};
	char tb[32], mb[MAC_STRLEN];

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	sb_printf(&s, "{\"ts\":\"%s\",\"event\":\"%s\"", event_format_ts(e->ts, tb),
		  event_kind_name(e->kind));
	if (e->has_host)
		json_key_addr(&s, "host", &e->host);
	if (e->has_mac)
		json_key_str(&s, "mac", mac_ntop(e->mac, mb));
	switch (e->kind) {
	case EVENT_DETECT: {
		const struct detection *d = e->det;
		json_key_str(&s, "rule", d->rule_name);
		json_key_str(&s, "source", e->source ? e->source : "self");
		json_key_str(&s, "severity", severity_name(d->severity));
		json_key_str(&s, "action", level_name(e->action));
		sb_printf(&s, ",\"enforced\":%s", e->enforced ? "true" : "false");
		if (!e->enforced)
			json_key_str(&s, "why", why_name(e->why));
		if (e->capped)
			sb_printf(&s, ",\"capped\":true");
		json_key_str(&s, "proto", d->proto);
		json_ports(&s, d);
		/* Contained towards this one destination only. */
		if (d->peer.family)
			json_key_addr(&s, "to", &d->peer);
		if (e->original)
			json_original(&s, e->original);
		else
			json_evidence(&s, d);
		json_key_ts(&s, "first_probe_ts", d->first_probe_us);
		if (e->incident_id)
			sb_printf(&s, ",\"incident\":%u", e->incident_id);
		if (e->recurrence)
			sb_printf(&s, ",\"recurrence\":%u", e->recurrence);
		if (e->infected_by.family) {
			json_key_addr(&s, "infected_by", &e->infected_by);
			sb_printf(&s, ",\"infected_by_port\":%u", e->infected_port);
			json_key_ts(&s, "infected_by_ts", e->infected_ts);
		}
		json_inventory(&s, e->inv);
		break;
	}
	case EVENT_ACTION:
		json_key_str(&s, "level", level_name(e->level));
		sb_printf(&s, ",\"ttl_s\":%llu", (unsigned long long)e->ttl_s);
		json_by(&s, e->by_uid, e->by);
		json_key_str(&s, "reason", e->reason ? e->reason : "");
		sb_printf(&s, ",\"enforced\":%s", e->enforced ? "true" : "false");
		if (!e->enforced)
			json_key_str(&s, "why", why_name(e->why));
		if (e->nports) {
			json_key_str(&s, "proto", e->proto == IPPROTO_UDP ? "udp" : "tcp");
			sb_printf(&s, ",\"ports\":[");
			for (unsigned i = 0; i < e->nports && i < EVENT_PORTS_MAX; i++)
				sb_printf(&s, "%s%u", i ? "," : "", e->ports[i]);
			sb_putc(&s, ']');
		}
		json_inventory(&s, e->inv);
		break;
	case EVENT_RELEASE:
	case EVENT_MARK:
		if (e->state)
			json_key_str(&s, "state", e->state);
		json_by(&s, e->by_uid, e->by);
		json_key_str(&s, "reason", e->reason ? e->reason : "");
		json_inventory(&s, e->inv);
		break;
	case EVENT_INCIDENT:
		sb_printf(&s, ",\"id\":%u", e->id);
		json_key_str(&s, "rule", e->rule);
		json_key_addr(&s, "patient_zero", &e->patient_zero);
		sb_printf(&s, ",\"hosts\":%u", e->hosts);
		json_key_ts(&s, "first_ts", e->first_ts);
		if (e->pz_source)
			json_key_str(&s, "patient_zero_source", e->pz_source);
		if (e->nlinks) {
			sb_printf(&s, ",\"links\":[");
			for (unsigned i = 0; i < e->nlinks; i++)
				sb_printf(&s, "%s{\"gateway\":\"%s\",\"incident\":%u}",
					  i ? "," : "", e->links[i].gateway, e->links[i].id);
			sb_printf(&s, "]");
		}
		break;
	case EVENT_ERROR:
		json_key_str(&s, "message", e->message ? e->message : "");
		break;
	case EVENT_BINDING:
		json_key_str(&s, "what", e->what ? e->what : "");
		json_key_str(&s, "how", e->how ? e->how : "");
		if (e->has_other)
			json_key_str(&s, "other_mac", mac_ntop(e->other, mb));
		if (e->count)
			sb_printf(&s, ",\"count\":%u", e->count);
		if (e->suppressed)
			sb_printf(&s, ",\"suppressed\":%u", e->suppressed);
		if (e->message)
			json_key_str(&s, "message", e->message);
		json_inventory(&s, e->inv);
		break;
	case EVENT_PURGE:
		sb_printf(&s, ",\"count\":%u,\"older_than_s\":%llu", e->count,
			  (unsigned long long)e->older_than_s);
		json_by(&s, e->by_uid, e->by);
		break;
	case EVENT_ALLOW:
	case EVENT_DISALLOW: {
		char pb[ADDR_STRLEN + 8], ab[ADDR_STRLEN];

		snprintf(pb, sizeof(pb), "%s/%u", addr_ntop(&e->prefix, ab), e->plen);
		json_key_str(&s, "prefix", pb);
		if (e->kind == EVENT_ALLOW)
			sb_printf(&s, ",\"released\":%u", e->count);
		json_by(&s, e->by_uid, e->by);
		json_key_str(&s, "reason", e->reason ? e->reason : "");
		break;
	}
	case EVENT_BULK:
		json_key_str(&s, "command", e->command ? e->command : "");
		if (e->level != LEVEL_NONE) {
			json_key_str(&s, "level", level_name(e->level));
			sb_printf(&s, ",\"ttl_s\":%llu", (unsigned long long)e->ttl_s);
		}
		sb_printf(&s,
			  ",\"count\":%u,\"unchanged\":%u,\"kept_higher\":%u,\"refused\":%u,"
			  "\"failed\":%u",
			  e->count, e->unchanged, e->kept_higher, e->refused, e->failed);
		json_by(&s, e->by_uid, e->by);
		json_key_str(&s, "reason", e->reason ? e->reason : "");
		break;
	case EVENT_OUTBREAK:
		json_key_str(&s, "state", e->state ? e->state : "");
		json_key_str(&s, "grouping", e->what ? e->what : "");
		sb_printf(&s, ",\"groups\":%u", e->count);
		json_by(&s, e->by_uid, e->by);
		json_key_str(&s, "reason", e->reason ? e->reason : "");
		break;
	}
	/* Last, so that every other member stays where it was. */
	if (e->outbreak && e->outbreak->on) {
		const struct outbreak_state *ob = e->outbreak;

		sb_printf(&s, ",\"outbreak\":{\"on\":true");
		json_key_ts(&s, "since", ob->since_us);
		json_key_str(&s, "grouping", outbreak_by_name(ob->by));
		json_by(&s, ob->by_uid, &ob->who);
		sb_putc(&s, '}');
	}
	sb_putc(&s, '}');
	return s.overflow ? -ENOSPC : (int)s.len;
}

/* key=value with the value quoted when it holds spaces, quotes, '=' or is
 * empty, so that the line splits unambiguously. */
static void kv(struct sbuf *s, const char *k, const char *v)
{
	bool quote = *v == '\0' || strpbrk(v, " \t\"=\\") != NULL;

	sb_printf(s, " %s=", k);
	if (!quote) {
		for (const char *c = v; *c; c++)
			sb_putc(s, (unsigned char)*c < 0x20 ? '?' : *c);
		return;
	}
	sb_putc(s, '"');
	for (const char *c = v; *c; c++) {
		if (*c == '"' || *c == '\\')
			sb_putc(s, '\\');
		sb_putc(s, (unsigned char)*c < 0x20 ? '?' : *c);
	}
	sb_putc(s, '"');
}

static void kv_addr(struct sbuf *s, const char *k, const struct qaddr *a)
{
	char b[ADDR_STRLEN];

	kv(s, k, addr_ntop(a, b));
}

static void kv_inventory(struct sbuf *s, const struct inv_entry *inv)
{
	if (!inv)
		return;
	if (inv->name[0])
		kv(s, "name", inv->name);
	if (inv->department[0])
		kv(s, "department", inv->department);
	if (inv->floor[0])
		kv(s, "floor", inv->floor);
	if (inv->owner[0])
		kv(s, "owner", inv->owner);
}

/* by=UID (or auto), then the names: by_name, the user name of the uid,
 * and under sudo the invoking user the client claimed. */
static void kv_by(struct sbuf *s, long uid, const struct actor *by)
{
	if (uid < 0) {
		sb_printf(s, " by=auto");
		return;
	}
	sb_printf(s, " by=%ld", uid);
	if (!by)
		return;
	if (by->name[0])
		kv(s, "by_name", by->name);
	if (by->sudo_user[0]) {
		kv(s, "by_claimed_sudo_user", by->sudo_user);
		sb_printf(s, " by_claimed_sudo_uid=%u", (unsigned)by->sudo_uid);
	}
}

int event_format_kv(const struct event *e, char *buf, size_t len)
{
	struct sbuf s = {.p = buf, .cap = len};
	char b[ADDR_STRLEN], tb[32], mb[MAC_STRLEN];

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	sb_printf(&s, "%s", event_kind_name(e->kind));
	if (e->has_host)
		kv_addr(&s, "host", &e->host);
	if (e->has_mac)
		kv(&s, "mac", mac_ntop(e->mac, mb));
	switch (e->kind) {
	case EVENT_DETECT: {
		const struct detection *d = e->det;
		kv(&s, "rule", d->rule_name);
		kv(&s, "source", e->source ? e->source : "self");
		kv(&s, "severity", severity_name(d->severity));
		kv(&s, "action", level_name(e->action));
		kv(&s, "enforced", e->enforced ? "yes" : "no");
		if (!e->enforced)
			kv(&s, "why", why_name(e->why));
		if (e->capped)
			kv(&s, "capped", "yes");
		kv(&s, "proto", d->proto);
		if (d->nports) {
			sb_printf(&s, " ports=");
			for (unsigned i = 0; i < d->nports; i++)
				sb_printf(&s, "%s%u", i ? "," : "", d->ports[i]);
			if (d->ports_overflow)
				sb_printf(&s, ",...");
		}
		if (d->peer.family)
			kv_addr(&s, "to", &d->peer);
		switch (d->kind) {
		case EVIDENCE_DISTINCT_DST:
			sb_printf(&s, " distinct_dst=%u window=%us", d->count, d->window_s);
			for (unsigned i = 0; i < d->ndark; i++)
				sb_printf(&s, "%s%s",
					  i ? "," : " dark=", addr_ntop(&d->dark[i], b));
			break;
		case EVIDENCE_DISTINCT_PORTS:
			sb_printf(&s, " distinct_ports=%u window=%us", d->count, d->window_s);
			kv(&s, "target", addr_ntop(&d->target, b));
			break;
		case EVIDENCE_TRW:
			sb_printf(&s, " failures=%u successes=%u llr=%.2f", d->failures,
				  d->successes, d->llr);
			break;
		case EVIDENCE_FORGED:
			sb_printf(&s, " distinct_src=%u window=%us", d->count, d->window_s);
			kv(&s, "forged", addr_ntop(&d->target, b));
			break;
		case EVIDENCE_CONNECTIONS:
			sb_printf(&s, " connections=%u window=%us", d->count, d->window_s);
			kv(&s, "target", addr_ntop(&d->target, b));
			break;
		}
		sb_printf(&s, " probes=%llu", (unsigned long long)d->probes);
		kv(&s, "first_probe", event_format_ts(d->first_probe_us, tb));
		if (e->incident_id)
			sb_printf(&s, " incident=%u", e->incident_id);
		if (e->recurrence)
			sb_printf(&s, " recurrence=%u", e->recurrence);
		if (e->infected_by.family) {
			kv_addr(&s, "infected_by", &e->infected_by);
			sb_printf(&s, " infected_by_port=%u", e->infected_port);
		}
		kv_inventory(&s, e->inv);
		break;
	}
	case EVENT_ACTION:
		kv(&s, "level", level_name(e->level));
		sb_printf(&s, " ttl=%llus", (unsigned long long)e->ttl_s);
		kv_by(&s, e->by_uid, e->by);
		kv(&s, "enforced", e->enforced ? "yes" : "no");
		if (!e->enforced)
			kv(&s, "why", why_name(e->why));
		if (e->reason && e->reason[0])
			kv(&s, "reason", e->reason);
		if (e->nports) {
			kv(&s, "proto", e->proto == IPPROTO_UDP ? "udp" : "tcp");
			sb_printf(&s, " ports=");
			for (unsigned i = 0; i < e->nports && i < EVENT_PORTS_MAX; i++)
				sb_printf(&s, "%s%u", i ? "," : "", e->ports[i]);
		}
		kv_inventory(&s, e->inv);
		break;
	case EVENT_RELEASE:
	case EVENT_MARK:
		if (e->state)
			kv(&s, "state", e->state);
		kv_by(&s, e->by_uid, e->by);
		if (e->reason && e->reason[0])
			kv(&s, "reason", e->reason);
		kv_inventory(&s, e->inv);
		break;
	case EVENT_INCIDENT:
		sb_printf(&s, " id=%u", e->id);
		kv(&s, "rule", e->rule);
		kv_addr(&s, "patient_zero", &e->patient_zero);
		sb_printf(&s, " hosts=%u", e->hosts);
		kv(&s, "first", event_format_ts(e->first_ts, tb));
		if (e->pz_source && strcmp(e->pz_source, "self") != 0)
			kv(&s, "patient_zero_source", e->pz_source);
		for (unsigned i = 0; i < e->nlinks; i++)
			sb_printf(&s, "%s%s:%u", i ? "," : " links=", e->links[i].gateway,
				  e->links[i].id);
		break;
	case EVENT_ERROR:
		kv(&s, "message", e->message ? e->message : "");
		break;
	case EVENT_BINDING:
		kv(&s, "what", e->what ? e->what : "");
		kv(&s, "how", e->how ? e->how : "");
		if (e->has_other)
			kv(&s, "other_mac", mac_ntop(e->other, mb));
		if (e->count)
			sb_printf(&s, " count=%u", e->count);
		if (e->suppressed)
			sb_printf(&s, " suppressed=%u", e->suppressed);
		if (e->message)
			kv(&s, "message", e->message);
		kv_inventory(&s, e->inv);
		break;
	case EVENT_PURGE:
		sb_printf(&s, " count=%u older_than=%llus", e->count,
			  (unsigned long long)e->older_than_s);
		kv_by(&s, e->by_uid, e->by);
		break;
	case EVENT_ALLOW:
	case EVENT_DISALLOW: {
		char pb[ADDR_STRLEN + 8], ab[ADDR_STRLEN];

		snprintf(pb, sizeof(pb), "%s/%u", addr_ntop(&e->prefix, ab), e->plen);
		kv(&s, "prefix", pb);
		if (e->kind == EVENT_ALLOW)
			sb_printf(&s, " released=%u", e->count);
		kv_by(&s, e->by_uid, e->by);
		if (e->reason && e->reason[0])
			kv(&s, "reason", e->reason);
		break;
	}
	case EVENT_BULK:
		kv(&s, "command", e->command ? e->command : "");
		if (e->level != LEVEL_NONE) {
			kv(&s, "level", level_name(e->level));
			sb_printf(&s, " ttl=%llus", (unsigned long long)e->ttl_s);
		}
		sb_printf(&s, " count=%u unchanged=%u kept_higher=%u refused=%u failed=%u",
			  e->count, e->unchanged, e->kept_higher, e->refused, e->failed);
		kv_by(&s, e->by_uid, e->by);
		if (e->reason && e->reason[0])
			kv(&s, "reason", e->reason);
		break;
	case EVENT_OUTBREAK:
		kv(&s, "state", e->state ? e->state : "");
		kv(&s, "grouping", e->what ? e->what : "");
		sb_printf(&s, " groups=%u", e->count);
		kv_by(&s, e->by_uid, e->by);
		if (e->reason && e->reason[0])
			kv(&s, "reason", e->reason);
		break;
	}
	if (e->outbreak && e->outbreak->on) {
		const struct outbreak_state *ob = e->outbreak;

		kv(&s, "outbreak", "on");
		kv(&s, "outbreak_since", event_format_ts(ob->since_us, tb));
		if (ob->who.name[0])
			kv(&s, "outbreak_by", ob->who.name);
		else
			sb_printf(&s, " outbreak_by=%ld", ob->by_uid);
	}
	return s.overflow ? -ENOSPC : (int)s.len;
}
