/* Host actions: levels put in force for detections, operators and timers,
 * the host's life-cycle state, TTL expiry, and reading the kernel back. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "event.h"
#include "evidence.h"
#include "log.h"

/* Requests per transaction when a timer or a resync touches many hosts. */
#define CHUNK 256

static void note_expiry(struct engine *e, usec_t t)
{
	if (t && t < e->next_expiry_us)
		e->next_expiry_us = t;
}

/* After a release the host starts afresh: detections report again. */
static void forget(struct engine *e, struct hostrec *rec)
{
	/* The contain ports stay, for an operator who contains the host
	 * again; its next detection starts a new list (on_detection()). */
	rec->decided = LEVEL_NONE;
	rec->expires_us = 0;
	for (unsigned i = 0; i < rec->nhits; i++)
		rec->hits[i].level = LEVEL_NONE;
	/* Its detector state and its evidence file, keyed alike (a
	 * machine's by its MAC, an address's by the address). */
	e->sensor.forget(e->sensor.arg, &rec->id);
}

/* A host released from a block is watched more closely for
 * surveillance.period (detect_set_surveil()).  Not one that policy
 * releases because it may never be blocked: it cannot be contained
 * anyway. */
static void surveil(struct engine *e, struct hostrec *rec, enum level was, usec_t now)
{
	uint64_t period = e->c->surveillance.period_s;

	if (was <= LEVEL_WATCH || period == 0 || engine_never_reason(e, rec))
		return;
	rec->surveil_until_us = now + period * USEC_PER_SEC;
	e->sensor.set_surveil(e->sensor.arg, &rec->id, rec->surveil_until_us);
}

/* A machine's block freezes its addresses in identity (they neither move
 * nor become trusted by age while it is blocked); a release thaws them and
 * lets its record follow identity again. */
static void after_change(struct engine *e, struct hostrec *rec, usec_t now)
{
	if (!hostrec_is_machine(rec) || !e->id)
		return;
	identity_set_frozen(e->id, rec->id.b, rec->level > LEVEL_WATCH);
	e->sensor.set_frozen(e->sensor.arg, rec->id.b, rec->level > LEVEL_WATCH);
	if (rec->level <= LEVEL_WATCH)
		engine_machine_refresh(e, rec, now);
}

uint64_t act_ttl_left(const struct hostrec *rec, usec_t now)
{
	uint64_t left;

	if (!rec->expires_us)
		return 0;
	/* Past its deadline but not yet released by act_expire(): one
	 * second, never 0, which would make the block permanent. */
	if (rec->expires_us <= now)
		return 1;
	left = (rec->expires_us - now + USEC_PER_SEC - 1) / USEC_PER_SEC;
	/* A deadline further out than any TTL may be (the wall clock went
	 * back) is held to the maximum. */
	return MIN(left, QD_TTL_MAX_S);
}

void act_tell_detector(struct engine *e, const struct hostrec *rec, usec_t now)
{
	static const struct detect_block iso = {.level = LEVEL_ISOLATE};
	struct detect_block b;
	const struct hostrec *holder;

	/* An address's record whose address another record holds (a machine
	 * took it) speaks for no key: the holder does. */
	if (!hostrec_is_machine(rec) && (holder = hostdb_find_addr(&e->hosts, &rec->id)) &&
	    holder != rec)
		return;
	memset(&b, 0, sizeof(b));
	if (hostrec_is_machine(rec) ? rec->kmac : hostrec_isolated(rec)) {
		b.level = LEVEL_ISOLATE;
	} else if (rec->nk) {
		b.level = LEVEL_CONTAIN;
		for (unsigned i = 0; i < rec->nk && i < DETECT_BLOCK_PORTS; i++) {
			b.protos[i] = rec->k[i].proto;
			b.ports[i] = rec->k[i].port;
			b.to[i] = rec->k[i].to;
			b.nports++;
		}
		/* The same table, the same indices. */
		_Static_assert(DETECT_BLOCK_DESTS == HOST_MAX_DESTS, "one table of destinations");
		memcpy(b.dests, rec->dests, sizeof(b.dests));
	}
	e->sensor.set_block(e->sensor.arg, &rec->id, &b, now);
	if (rec->surveil_until_us > now)
		e->sensor.set_surveil(e->sensor.arg, &rec->id, rec->surveil_until_us);
	if (!hostrec_is_machine(rec))
		return;
	for (unsigned i = 0; i < rec->naddrs; i++)
		e->sensor.set_block(e->sensor.arg, &rec->addrs[i].a,
				    rec->addrs[i].kiso ? &iso : NULL, now);
}

/* The operator's names for change c: its own, else the host's when the
 * change keeps the host's author (a block put back, a machine's new
 * address), else none. */
static const struct actor *change_names(const struct act_change *c)
{
	if (c->by)
		return c->by;
	return c->by_uid >= 0 && c->by_uid == c->rec->by_uid ? &c->rec->by : NULL;
}

int act_apply(struct engine *e, struct act_change *ch, unsigned n, usec_t now)
{
	struct enforce_req *reqs;
	struct hostrec **done;
	unsigned ndone = 0;
	uint8_t *old;
	int r, first = 0;

	if (n == 0)
		return 0;
	if (!e->enf) {
		for (unsigned i = 0; i < n; i++) {
			ch[i].effective = ch[i].level;
			ch[i].error = -EPERM;
			snprintf(ch[i].msg, sizeof(ch[i].msg),
				 "alert mode (dry run): nftables is not changed");
		}
		return -EPERM;
	}
	reqs = calloc(n, sizeof(*reqs));
	old = calloc(n, 1);
	done = calloc(n, sizeof(*done));
	if (!reqs || !old || !done) {
		free(reqs);
		free(old);
		free(done);
		for (unsigned i = 0; i < n; i++)
			ch[i].error = -ENOMEM;
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		/* Every entry point checks its TTL against QD_TTL_MAX_S; this
		 * holds the line for the arithmetic below (milliseconds for
		 * the kernel, a deadline in microseconds), which cannot
		 * overflow at that bound. */
		ch[i].ttl_s = MIN(ch[i].ttl_s, QD_TTL_MAX_S);
		ch[i].effective = enforce_effective_level(ch[i].rec, ch[i].level, ch[i].critical);
		ch[i].changed = false;
		old[i] = ch[i].rec->level;
		reqs[i].rec = ch[i].rec;
		reqs[i].level = ch[i].effective;
		reqs[i].ttl_ms = ch[i].ttl_s * 1000;
		reqs[i].reset_ttl = ch[i].reset_ttl;
		reqs[i].no_mac = engine_no_mac(e, ch[i].rec);
	}
	r = enforce_apply(e->enf, reqs, n);
	if (r < 0 && r != -ECANCELED) {
		/* Lost in transit: the kernel may hold either state. */
		e->resync = true;
		log_warnx("nftables transaction failed: %s; reading the kernel's sets back",
			  strerror(-r));
	}
	/* Before a release lets a machine's addresses go (after_change()). */
	for (unsigned i = 0; i < n; i++)
		act_tell_detector(e, ch[i].rec, now);
	for (unsigned i = 0; i < n; i++) {
		struct act_change *c = &ch[i];
		struct hostrec *rec = c->rec;

		/* Blocked or released: on its list (spare or kept) before
		 * the registry next needs room. */
		hostdb_changed(&e->hosts, rec);
		/* Its history takes a line whatever the outcome. */
		done[ndone++] = rec;
		c->error = reqs[i].error;
		memcpy(c->msg, reqs[i].msg, sizeof(c->msg));
		if (c->error) {
			char text[64];

			e->st.action_errors++;
			if (!first)
				first = c->error;
			snprintf(text, sizeof(text), "%s: %s", level_name(c->effective),
				 strerror(-c->error));
			hostdb_history_by(rec, now, HIST_ERROR, c->effective, c->by_uid,
					  change_names(c), text);
			continue;
		}
		/* An automatic decision that changes nothing in force (the host
		 * is already blocked at least as hard) is not an action. */
		if (old[i] == c->effective && !c->reset_ttl && c->by_uid < 0 && !reqs[i].changed)
			continue;
		c->changed = true;
		e->st.actions++;
		if (c->effective <= LEVEL_ISOLATE)
			e->st.actions_by_level[c->effective]++;
		e->dirty = ENGINE_DIRTY_NOW;
		if (c->keep_author) {
			/* The same block, on more of the machine's addresses. */
			char text[64];
			snprintf(text, sizeof(text), "%s", c->reason ? c->reason : "");
			hostdb_history_by(rec, now, HIST_ACTION, c->effective, c->by_uid,
					  change_names(c), text);
			continue;
		}
		if (c->set_state)
			rec->state = (uint8_t)c->state;
		else if (c->effective == LEVEL_NONE ||
			 (rec->state != HOST_CLEANING && rec->state != HOST_UNCLEANABLE))
			/* A host in certification keeps that state while it
			 * stays blocked. */
			rec->state = (uint8_t)host_state_for_level(c->effective);
		rec->changed_us = now;
		if (c->by)
			rec->by = *c->by;
		else if (c->by_uid != rec->by_uid)
			memset(&rec->by, 0, sizeof(rec->by));
		rec->by_uid = c->by_uid;
		/* At a character boundary: a rule from outside or an
		 * operator's reason may be longer than the record keeps. */
		{
			const char *why = c->reason ? c->reason : "";
			size_t k = outside_utf8_cut(why, strlen(why), sizeof(rec->reason) - 1);

			memcpy(rec->reason, why, k);
			rec->reason[k] = '\0';
		}
		if (c->effective == LEVEL_NONE) {
			/* Remembered for a recurrence (escalating levels and TTLs). */
			if (old[i] > LEVEL_WATCH)
				rec->last_level = old[i];
			forget(e, rec);
			surveil(e, rec, old[i], now);
		} else if (old[i] != c->effective || c->reset_ttl || c->by_uid >= 0) {
			rec->expires_us = c->ttl_s ? now + c->ttl_s * USEC_PER_SEC : 0;
			if (c->ttl_s)
				rec->last_ttl_s = c->ttl_s;
			note_expiry(e, rec->expires_us);
		}
		hostdb_history_by(rec, now, c->effective == LEVEL_NONE ? HIST_RELEASE : HIST_ACTION,
				  c->effective, c->by_uid, change_names(c), c->reason);
		if ((old[i] > LEVEL_WATCH) != (c->effective > LEVEL_WATCH))
			after_change(e, rec, now);
	}
	/* The kernel answered: the records are made durable now, before
	 * any event says what was put in force (the callers emit after). */
	if (e->persist && ndone)
		e->persist(e->persist_arg, done, ndone);
	free(reqs);
	free(old);
	free(done);
	return first;
}

/* The ports a containment of rec blocks, for its action event: said when
 * they are all of one protocol, tcp or udp, towards every destination
 * (quarantine-sync(8) publishes them with an operator's block). */
static void event_ports(struct event *ev, const struct hostrec *rec)
{
	if (rec->want_overflow || rec->nwant == 0 || rec->nwant > EVENT_PORTS_MAX)
		return;
	for (unsigned i = 0; i < rec->nwant; i++)
		if (rec->want[i].to || rec->want[i].proto != rec->want[0].proto ||
		    (rec->want[0].proto != IPPROTO_TCP && rec->want[0].proto != IPPROTO_UDP))
			return;
	ev->proto = rec->want[0].proto;
	for (unsigned i = 0; i < rec->nwant; i++)
		ev->ports[i] = rec->want[i].port;
	ev->nports = rec->nwant;
}

void act_emit(struct engine *e, const struct act_change *c, usec_t now)
{
	char buf[256];
	struct event ev;

	if (!c->error && !c->changed)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.ts = now;
	engine_event_host(e, c->rec, &ev);
	ev.by_uid = c->by_uid;
	ev.by = change_names(c);
	ev.reason = c->reason;
	if (c->error) {
		snprintf(buf, sizeof(buf), "cannot put %s in force: %s%s%s",
			 level_name(c->effective), strerror(-c->error), c->msg[0] ? ": " : "",
			 c->msg);
		ev.kind = EVENT_ERROR;
		ev.message = buf;
	} else if (c->effective == LEVEL_NONE) {
		ev.kind = EVENT_RELEASE;
		ev.state = host_state_name((enum host_state)c->rec->state);
	} else {
		ev.kind = EVENT_ACTION;
		ev.level = c->effective;
		ev.ttl_s = c->ttl_s;
		ev.enforced = true;
		event_ports(&ev, c->rec);
	}
	output_event(e->out, &ev);
}

void act_expire(struct engine *e, usec_t now)
{
	struct act_change ch[CHUNK];
	unsigned n = 0;
	usec_t next = USEC_INFINITY;

	for (struct hostrec *r = hostdb_first(&e->hosts); r; r = hostdb_next(&e->hosts, r)) {
		if (!r->expires_us)
			continue;
		if (r->expires_us > now) {
			if (r->expires_us < next)
				next = r->expires_us;
			continue;
		}
		memset(&ch[n], 0, sizeof(ch[n]));
		ch[n].rec = r;
		ch[n].level = LEVEL_NONE;
		ch[n].by_uid = -1;
		ch[n].reason = "ttl expired";
		if (++n == CHUNK) {
			act_apply(e, ch, n, now);
			for (unsigned i = 0; i < n; i++)
				act_emit(e, &ch[i], now);
			n = 0;
		}
	}
	act_apply(e, ch, n, now);
	for (unsigned i = 0; i < n; i++)
		act_emit(e, &ch[i], now);
	/* A host whose release failed keeps its deadline: retry later. */
	for (unsigned i = 0; i < n; i++)
		if (ch[i].error && ch[i].rec->expires_us)
			next = MIN(next, now + USEC_PER_SEC);
	e->next_expiry_us = next;
}

/* ---- reading the kernel back ---- */

struct sync_ctx {
	struct engine *e;
	enum nft_set set;
	usec_t now;
	unsigned adopted, full, stray;
};

/* How far an element's time left may be from the record's deadline: the
 * restore path rounds up by a second, and the kernel counts in jiffies. */
#define SYNC_TTL_SLACK_US (2 * USEC_PER_SEC)

/* Marks rec when el, one of its blocks in force, has another time to live
 * than the record (a kill between a kernel change and its save, or a hand
 * edit): act_sync() puts the record's back. */
static void sync_ttl(struct sync_ctx *s, struct hostrec *rec, const struct nft_elem *el)
{
	usec_t left_us = el->expires_ms * 1000;

	if (rec->level <= LEVEL_WATCH)
		return; /* adopted next, with the kernel's time to live */
	if (!rec->expires_us)
		rec->kttl_off |= el->expires_ms != 0;
	else if (rec->expires_us > s->now)
		rec->kttl_off |= !el->expires_ms ||
				 left_us + SYNC_TTL_SLACK_US < rec->expires_us - s->now ||
				 left_us > rec->expires_us - s->now + SYNC_TTL_SLACK_US;
}

/* The record an element belongs to: by MAC for the MAC sets, by the
 * address's holder for the others; made (adopted) when there is none. */
static struct hostrec *sync_owner(struct sync_ctx *s, const struct nft_elem *el)
{
	struct engine *e = s->e;
	struct hostrec *rec = engine_record(e, &el->addr, true, s->now);

	if (!rec)
		s->full++;
	/* Whether it is adopted, or taken out because policy forbids it, is
	 * decided once every set is read (act_sync()). */
	return rec;
}

static int sync_elem(void *arg, const struct nft_elem *el)
{
	struct sync_ctx *s = arg;
	struct engine *e = s->e;
	struct hostrec *rec = sync_owner(s, el);
	int i;

	if (!rec)
		return 0;
	if (el->expires_ms && rec->level == LEVEL_NONE && !rec->expires_us) {
		/* A timeout set by hand may be longer than ours may be: held
		 * to the maximum, which also keeps the product in range. */
		rec->expires_us = s->now + MIN(el->expires_ms, QD_TTL_MAX_S * 1000) * 1000;
		note_expiry(e, rec->expires_us);
	}
	switch (s->set) {
	case NFT_SET_ISOM:
		rec->kmac = 1;
		sync_ttl(s, rec, el);
		return 0;
	case NFT_SET_ISO4:
	case NFT_SET_ISO6:
		i = hostrec_addr_index(rec, &el->addr);
		if (i < 0 && hostdb_addr_add(&e->hosts, rec, &el->addr) == 0)
			i = (int)rec->naddrs - 1;
		if (i >= 0) {
			rec->addrs[i].kiso = 1;
			sync_ttl(s, rec, el);
		} else {
			s->stray++;
		}
		return 0;
	default:
		/* Containment is keyed by the record's id: a machine by its
		 * MAC.  An address's containment element on a machine's
		 * address is from an older version: it stays until released
		 * by hand (counted, logged). */
		if (!nft_set_is_mac(s->set) && hostrec_is_machine(rec)) {
			s->stray++;
			return 0;
		}
		i = hostrec_dest(rec, &el->dst);
		if (i < 0) {
			/* More destinations than a record keeps (added by
			 * hand): left alone, counted. */
			s->stray++;
			return 0;
		}
		if (rec->nk < HOST_MAX_PORTS) {
			rec->k[rec->nk].proto = el->l4proto;
			rec->k[rec->nk].to = (uint8_t)i;
			rec->k[rec->nk].port = el->port;
			rec->nk++;
			sync_ttl(s, rec, el);
		}
		return 0;
	}
}

/* Puts a batch of act_sync()'s changes in force.  Only the releases of
 * blocks that policy forbids are announced: a block put back as it was is
 * no news, and an adoption has its own event. */
static void sync_apply(struct engine *e, struct act_change *ch, unsigned n, usec_t now)
{
	act_apply(e, ch, n, now);
	for (unsigned i = 0; i < n; i++)
		if (ch[i].level == LEVEL_NONE)
			act_emit(e, &ch[i], now);
}

/* What the kernel holds for rec isolates it. */
static bool view_isolates(const struct hostrec *rec)
{
	return hostrec_isolated(rec);
}

/* act_sync(): rec, contained in our view, is isolated in the kernel. */
static void sync_escalated(struct engine *e, struct hostrec *rec, usec_t now)
{
	char ab[ADDR_STRLEN];
	struct event ev;

	rec->level = LEVEL_ISOLATE;
	if (rec->decided < LEVEL_ISOLATE)
		rec->decided = LEVEL_ISOLATE;
	/* A host in certification keeps that state while blocked. */
	if (rec->state != HOST_CLEANING && rec->state != HOST_UNCLEANABLE)
		rec->state = (uint8_t)host_state_for_level(LEVEL_ISOLATE);
	rec->adopted = 1;
	rec->by_uid = -1;
	rec->changed_us = now;
	e->dirty = ENGINE_DIRTY_NOW;
	snprintf(rec->reason, sizeof(rec->reason), "found isolated in the kernel table");
	hostdb_history(rec, now, HIST_ADOPT, LEVEL_ISOLATE, -1,
		       "contained in the saved state, isolated in the kernel table");
	log_warnx("%s: contained in the saved state but isolated in the kernel table: kept "
		  "isolated",
		  addr_ntop(rec->addr.family ? &rec->addr : &rec->id, ab));
	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_ACTION;
	ev.ts = now;
	engine_event_host(e, rec, &ev);
	ev.level = LEVEL_ISOLATE;
	ev.by_uid = -1;
	ev.enforced = true;
	ev.reason = "adopted: found isolated in the kernel table";
	if (rec->expires_us)
		ev.ttl_s = (rec->expires_us - now) / USEC_PER_SEC;
	output_event(e->out, &ev);
}

unsigned act_announce_restored(struct engine *e, usec_t now)
{
	unsigned n = 0;

	for (struct hostrec *rec = hostdb_first(&e->hosts); rec;
	     rec = hostdb_next(&e->hosts, rec)) {
		char why[sizeof(rec->reason) + 32];
		struct event ev;

		/* Adopted just now: its event said so already. */
		if (rec->merged || rec->level < LEVEL_WATCH ||
		    (rec->adopted && rec->changed_us == now))
			continue;
		snprintf(why, sizeof(why), "restored at start-up%s%s", rec->reason[0] ? ": " : "",
			 rec->reason);
		memset(&ev, 0, sizeof(ev));
		ev.kind = EVENT_ACTION;
		ev.ts = now;
		engine_event_host(e, rec, &ev);
		ev.level = (enum level)rec->level;
		ev.by_uid = rec->by_uid;
		ev.by = &rec->by;
		ev.reason = why;
		ev.enforced = true;
		if (rec->expires_us > now)
			ev.ttl_s = (rec->expires_us - now) / USEC_PER_SEC;
		output_event(e->out, &ev);
		n++;
	}
	return n;
}

int act_sync(struct engine *e, usec_t now)
{
	static const enum nft_set blocking[] = {
		NFT_SET_ISOM,	NFT_SET_ISO4,  NFT_SET_ISO6,  NFT_SET_CONM,  NFT_SET_CONPM,
		NFT_SET_CON4,	NFT_SET_CON6,  NFT_SET_CONP4, NFT_SET_CONP6, NFT_SET_CONHM4,
		NFT_SET_CONHM6, NFT_SET_CONH4, NFT_SET_CONH6,
	};
	struct sync_ctx s = {.e = e, .now = now};
	struct act_change ch[CHUNK];
	char why[CHUNK][96]; /* the reasons of the blocks policy forbids */
	unsigned n = 0, repaired = 0, retimed = 0, dropped = 0;
	int r;

	if (!e->enf || !e->enf->be.list)
		return 0;
	/* Rebuild every view from scratch. */
	for (struct hostrec *rec = hostdb_first(&e->hosts); rec;
	     rec = hostdb_next(&e->hosts, rec)) {
		rec->kmac = 0;
		rec->kttl_off = 0;
		for (unsigned i = 0; i < rec->naddrs; i++)
			rec->addrs[i].kiso = 0;
		rec->nk = 0;
	}
	for (unsigned i = 0; i < ARRAY_SIZE(blocking); i++) {
		s.set = blocking[i];
		r = e->enf->be.list(e->enf->be.arg, blocking[i], sync_elem, &s);
		if (r < 0)
			return r;
	}
	for (struct hostrec *rec = hostdb_first(&e->hosts); rec; rec = hostdb_next(&e->hosts, rec))
		act_tell_detector(e, rec, now);
	for (struct hostrec *rec = hostdb_first(&e->hosts); rec;
	     rec = hostdb_next(&e->hosts, rec)) {
		bool iso = view_isolates(rec), has = iso || rec->nk;
		const char *never =
			has || rec->level > LEVEL_WATCH ? engine_never_reason(e, rec) : NULL;

		/* A block that policy forbids now (the host was put on the
		 * never-block list, the protected networks were narrowed,
		 * the address is the gateway's own) is neither restored nor
		 * adopted: it goes, from the registry and from the kernel,
		 * with a release event that says why.  Restored blocks go
		 * through the same policy as every other decision. */
		if (never) {
			memset(&ch[n], 0, sizeof(ch[n]));
			ch[n].rec = rec;
			ch[n].level = LEVEL_NONE;
			ch[n].by_uid = -1;
			snprintf(why[n], sizeof(why[n]), "not restored: %s", never);
			ch[n].reason = why[n];
			if (rec->changed_us == 0)
				rec->changed_us = now; /* a new record, for this element */
			dropped++;
			if (++n == CHUNK) {
				sync_apply(e, ch, n, now);
				n = 0;
			}
			continue;
		}
		/* In the kernel but not in force for us (unknown, or released
		 * and blocked again by hand): adopt it, with an alert. */
		if (has && rec->level == LEVEL_NONE) {
			struct event ev;

			s.adopted++;
			hostdb_changed(&e->hosts, rec);
			rec->adopted = 1;
			rec->by_uid = -1;
			rec->changed_us = now;
			snprintf(rec->reason, sizeof(rec->reason), "adopted from the kernel table");
			/* Take what the kernel holds as the level in force. */
			rec->level = iso ? LEVEL_ISOLATE : LEVEL_CONTAIN;
			rec->decided = rec->level;
			rec->state = (uint8_t)host_state_for_level((enum level)rec->level);
			memcpy(rec->want, rec->k, rec->nk * sizeof(rec->k[0]));
			rec->nwant = rec->nk;
			hostdb_history(rec, now, HIST_ADOPT, (enum level)rec->level, -1,
				       "found in the kernel table");
			log_warnx("adopted %s from the kernel table (%s)",
				  addr_ntop(rec->addr.family ? &rec->addr : &rec->id,
					    (char[ADDR_STRLEN]){0}),
				  level_name((enum level)rec->level));
			memset(&ev, 0, sizeof(ev));
			ev.kind = EVENT_ACTION;
			ev.ts = now;
			engine_event_host(e, rec, &ev);
			ev.level = (enum level)rec->level;
			ev.by_uid = -1;
			ev.enforced = true;
			ev.reason = "adopted: found in the kernel table";
			if (rec->expires_us > now)
				ev.ttl_s = (rec->expires_us - now) / USEC_PER_SEC;
			output_event(e->out, &ev);
			if (hostrec_is_machine(rec) && e->id) {
				identity_set_frozen(e->id, rec->id.b, true);
				e->sensor.set_frozen(e->sensor.arg, rec->id.b, true);
			}
			continue;
		}
		/* A block whose TTL ran out while we were away is released
		 * by act_expire(), not restored. */
		if (rec->expires_us && rec->expires_us <= now)
			continue;
		/* The kernel isolates a host we hold contained: an escalation
		 * put in force just before a crash, its save lost (one
		 * transaction took the containment out).  Undoing it would
		 * free the host; it stays isolated (fail closed), with an
		 * alert, as an adoption does.  The contain ports stay wanted,
		 * for a deescalation. */
		if (rec->level == LEVEL_CONTAIN && iso) {
			sync_escalated(e, rec, now);
			s.adopted++;
		}
		if (hostrec_is_machine(rec) && e->id && rec->level > LEVEL_WATCH) {
			identity_set_frozen(e->id, rec->id.b, true);
			e->sensor.set_frozen(e->sensor.arg, rec->id.b, true);
		}
		/* What we put in force but the kernel lacks goes back in. */
		bool missing = false;
		if (rec->level == LEVEL_ISOLATE) {
			missing = hostrec_is_machine(rec) && !rec->kmac && !engine_no_mac(e, rec);
			for (unsigned i = 0; i < rec->naddrs; i++)
				missing |= !rec->addrs[i].kiso;
		} else if (rec->level == LEVEL_CONTAIN) {
			missing = rec->nk < rec->nwant;
		}
		if (!missing && !rec->kttl_off)
			continue;
		memset(&ch[n], 0, sizeof(ch[n]));
		ch[n].rec = rec;
		ch[n].level = (enum level)rec->level;
		ch[n].ttl_s = act_ttl_left(rec, now);
		ch[n].by_uid = rec->by_uid;
		/* Every element again, with the record's time to live. */
		ch[n].reset_ttl = rec->kttl_off;
		if (missing) {
			ch[n].reason = "restored: missing from the kernel table";
			repaired++;
		} else {
			/* The same block: author, reason and deadline stay. */
			ch[n].keep_author = true;
			ch[n].reason = "restored: the saved time to live";
			retimed++;
		}
		if (++n == CHUNK) {
			sync_apply(e, ch, n, now);
			n = 0;
		}
	}
	sync_apply(e, ch, n, now);
	if (s.adopted || repaired || retimed || dropped || s.full || s.stray)
		log_warnx("kernel sync: %u hosts adopted, %u restored, %u given their saved time "
			  "to live back, %u not restored (policy forbids them), %u not tracked "
			  "(registry full), %u elements of no record",
			  s.adopted, repaired, retimed, dropped, s.full, s.stray);
	e->resync = false;
	return 0;
}
