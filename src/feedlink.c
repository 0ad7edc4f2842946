/* The parent's end of the feeds reader; see feedlink.h. */
#include "feedlink.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "feeds.h"
#include "log.h"
#include "statedb.h"

#define READ_PER_CALL 256

static void alert(struct feedlink *l, usec_t wall, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void alert(struct feedlink *l, usec_t wall, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	output_error(l->p.out, wall ? wall : time_wall_us(), msg);
}

static void names_from_conf(struct feedlink *l)
{
	for (unsigned i = 0; i < l->p.c->feeds.n; i++) {
		snprintf(l->pos[i].name, sizeof(l->pos[i].name), "%s", l->p.c->feeds.feed[i].name);
		snprintf(l->pos[i].path, sizeof(l->pos[i].path), "%s", l->p.c->feeds.feed[i].path);
	}
}

void feedlink_init(struct feedlink *l, const struct feedlink_params *p)
{
	memset(l, 0, sizeof(*l));
	l->p = *p;
	l->ipc.fd = -1;
	l->backoff_us = CHILD_BACKOFF_MIN_US;
	names_from_conf(l);
}

/* A link never set up (the tests' daemons) is one without feeds. */
bool feedlink_wanted(const struct feedlink *l)
{
	return l->p.c && l->p.c->feeds.n > 0;
}

/* ---- positions in the state database ---- */

static const char *const pos_fields[] = {"dev", "ino", "off", "hlen", "hash"};

static void pos_key(char *buf, size_t size, const struct feedlink_pos *p, unsigned field)
{
	snprintf(buf, size, "feed.%s.%s", p->name, pos_fields[field]);
}

void feedlink_load(struct feedlink *l, struct statedb *db)
{
	for (unsigned i = 0; db && feedlink_wanted(l) && i < l->p.c->feeds.n; i++) {
		struct feedlink_pos *p = &l->pos[i];
		int64_t v[ARRAY_SIZE(pos_fields)];
		char key[CONF_NAME_MAX + 16];
		bool all = p->path[0] != '\0';

		for (unsigned k = 0; all && k < ARRAY_SIZE(pos_fields); k++) {
			pos_key(key, sizeof(key), p, k);
			all = statedb_meta_get(db, key, &v[k]) == 0;
		}
		if (!all || v[3] < 0 || v[3] > FOLLOW_HEAD || v[2] < v[3])
			continue;
		memset(&p->pos, 0, sizeof(p->pos));
		p->pos.dev = (uint64_t)v[0];
		p->pos.ino = (uint64_t)v[1];
		p->pos.off = (uint64_t)v[2];
		p->pos.hlen = (uint32_t)v[3];
		p->pos.hash = (uint64_t)v[4];
		p->have = true;
		p->dirty = false;
	}
}

int feedlink_save(struct feedlink *l, struct statedb *db, char *err, size_t errlen)
{
	for (unsigned i = 0; feedlink_wanted(l) && i < l->p.c->feeds.n; i++) {
		struct feedlink_pos *p = &l->pos[i];
		char keys[ARRAY_SIZE(pos_fields)][CONF_NAME_MAX + 16];
		const char *kp[ARRAY_SIZE(pos_fields)];
		int64_t v[ARRAY_SIZE(pos_fields)] = {
			(int64_t)p->pos.dev,  (int64_t)p->pos.ino,  (int64_t)p->pos.off,
			(int64_t)p->pos.hlen, (int64_t)p->pos.hash,
		};
		int r;

		if (!p->have || !p->dirty)
			continue;
		for (unsigned k = 0; k < ARRAY_SIZE(pos_fields); k++) {
			pos_key(keys[k], sizeof(keys[k]), p, k);
			kp[k] = keys[k];
		}
		r = statedb_meta_put(db, kp, v, ARRAY_SIZE(pos_fields), err, errlen);
		if (r < 0)
			return r;
		p->dirty = false;
	}
	return 0;
}

/* ---- from the reader ---- */

static void reap(struct feedlink *l, usec_t wall, bool expected)
{
	pid_t pid = l->pid;
	char msg[600];
	int status;

	if (!pid)
		return;
	status = child_kill(&l->pid, &l->ipc);
	l->ready = false;
	if (expected)
		return;
	l->deaths++;
	child_ended_text(msg, sizeof(msg), "feeds reader", pid, status, "",
			 child_delay_s(l->restart_at, time_mono_us()));
	alert(l, wall, "%s", msg);
}

void feedlink_stop(struct feedlink *l)
{
	reap(l, 0, true);
}

static int protocol_error(struct feedlink *l, usec_t wall, const char *what)
{
	l->protocol_errors++;
	alert(l, wall, "feeds reader: protocol error (%s): ended; a new one starts", what);
	feedlink_stop(l);
	return -EPROTO;
}

/* An error of a feed, as an error event: at most FEEDLINK_ERRORS_SEC a
 * second, the count of those not told going with the next. */
static void feed_error(struct feedlink *l, usec_t wall, const struct fp_error *m)
{
	const char *name = m->feed < l->p.c->feeds.n ? l->p.c->feeds.feed[m->feed].name : "-";
	usec_t sec = wall / USEC_PER_SEC;
	char more[64] = "";

	if (sec != l->err_sec) {
		l->err_sec = sec;
		l->err_n = 0;
	}
	if (++l->err_n > FEEDLINK_ERRORS_SEC) {
		l->err_untold++;
		return;
	}
	if (l->err_untold)
		snprintf(more, sizeof(more), " (%" PRIu64 " more not told)", l->err_untold);
	l->err_untold = 0;
	alert(l, wall, "feed %s: %s%s", name, m->text, more);
}

int feedlink_handle(struct feedlink *l, const struct ipc_msg *m, usec_t wall)
{
	union {
		max_align_t align;
		struct fp_detection det;
		struct fp_position pos;
		struct fp_error error;
		struct fp_stats stats;
	} u;
	char err[200];

	memcpy(&u, m->data, m->len);
	if (!l->ready && m->type == FP_DETECTION)
		return protocol_error(l, wall, "a detection before it was ready");
	switch (m->type) {
	case FP_READY:
		if (l->ready)
			return protocol_error(l, wall, "ready twice");
		l->ready = true;
		return 0;
	case FP_DETECTION: {
		struct feedlink_counts *n;
		const char *why = NULL;

		if (fp_detection_check(&u.det, l->p.c, err, sizeof(err)) < 0)
			return protocol_error(l, wall, err);
		n = &l->counts[u.det.feed];
		switch (engine_outside_ex(l->p.eng, &u.det.d, &why)) {
		case OUTSIDE_TAKEN:
			n->taken++;
			break;
		case OUTSIDE_DUPLICATE:
			n->duplicate++;
			break;
		case OUTSIDE_REFUSED:
		case OUTSIDE_FULL:
			n->refused++;
			break;
		case OUTSIDE_OVER_BUDGET:
			n->over_budget++;
			break;
		case OUTSIDE_INVALID:
			n->invalid++;
			break;
		}
		return 0;
	}
	case FP_POSITION:
		if (fp_position_check(&u.pos, l->p.c, err, sizeof(err)) < 0)
			return protocol_error(l, wall, err);
		l->pos[u.pos.feed].pos = u.pos.pos;
		l->pos[u.pos.feed].have = true;
		l->pos[u.pos.feed].dirty = true;
		/* Saved within seconds with the rest (the daemon's save),
		 * so that a kill -9 costs at most those seconds of lines
		 * read again, which the engine then suppresses as the same
		 * host, rule and level. */
		l->p.eng->dirty |= ENGINE_DIRTY_SOON;
		return 0;
	case FP_ERROR:
		if (fp_error_check(&u.error, l->p.c, err, sizeof(err)) < 0)
			return protocol_error(l, wall, err);
		feed_error(l, wall, &u.error);
		return 0;
	case FP_STATS:
		if (fp_stats_check(&u.stats, l->p.c, err, sizeof(err)) < 0)
			return protocol_error(l, wall, err);
		l->stats = u.stats;
		l->have_stats = true;
		for (unsigned i = 0; i < u.stats.n; i++)
			if (u.stats.feed[i].lost > l->lost_told[i]) {
				alert(l, wall,
				      "feed %s: %" PRIu64 " detections lost for want of room on "
				      "the channel to the parent (overload)",
				      l->p.c->feeds.feed[i].name,
				      u.stats.feed[i].lost - l->lost_told[i]);
				l->lost_told[i] = u.stats.feed[i].lost;
			}
		return 0;
	default:
		return protocol_error(l, wall, "unknown message");
	}
}

int feedlink_fd(const struct feedlink *l)
{
	return l->pid ? l->ipc.fd : -1;
}

static void schedule_restart(struct feedlink *l, usec_t mono)
{
	l->restart_at = child_restart_at(&l->backoff_us, l->started_mono, mono);
}

static int handle(void *arg, const struct ipc_msg *m, usec_t wall)
{
	return feedlink_handle(arg, m, wall);
}

void feedlink_read(struct feedlink *l, usec_t wall, usec_t mono)
{
	enum child_read r = child_read(&l->ipc, READ_PER_CALL, handle, l, wall);

	if (r != CHILD_READ_OK) {
		if (r == CHILD_READ_MALFORMED)
			(void)protocol_error(l, wall, "a malformed message");
		schedule_restart(l, mono);
		if (l->pid)
			reap(l, wall, false);
	}
	engine_commit(l->p.eng);
}

/* ---- starting ---- */

/* In the child: the reader, or what the tests run in its place. */
static int run_reader(void *arg, int fd, pid_t parent)
{
	struct feedlink *l = arg;
	struct feeds_params fp = {.c = l->p.c, .fd = fd, .parent = parent};

	return l->p.child ? l->p.child(l->p.child_arg, fd) : feeds_main(&fp);
}

int feedlink_start(struct feedlink *l, char *err, size_t errlen)
{
	int r;

	l->restart_at = 0;
	if (!feedlink_wanted(l))
		return 0;
	r = child_spawn(&l->ipc, fp_parent_types, fp_parent_ntypes, 0, run_reader, l,
			"feeds reader", &l->pid, err, errlen);
	if (r < 0)
		return r;
	l->ready = false;
	l->starts++;
	l->started_mono = time_mono_us();
	memset(&l->stats, 0, sizeof(l->stats));
	memset(l->lost_told, 0, sizeof(l->lost_told));
	l->have_stats = false;
	/* Where each file was left, then go. */
	for (unsigned i = 0; i < l->p.c->feeds.n && r == 0; i++) {
		struct fp_position m;

		if (!l->pos[i].have || !l->p.c->feeds.feed[i].path[0])
			continue;
		memset(&m, 0, sizeof(m));
		m.feed = i;
		m.pos = l->pos[i].pos;
		r = ipc_send(&l->ipc, FP_RESUME, &m, sizeof(m), -1);
	}
	if (r == 0)
		r = ipc_send(&l->ipc, FP_START, NULL, 0, -1);
	if (r < 0) {
		snprintf(err, errlen, "feeds reader start: %s", strerror(-r));
		reap(l, 0, true);
		return r;
	}
	return 0;
}

int feedlink_restart(struct feedlink *l, const struct conf *c, char *err, size_t errlen)
{
	struct feedlink_pos old[CONF_MAX_FEEDS];

	feedlink_stop(l);
	memcpy(old, l->pos, sizeof(old));
	memset(l->pos, 0, sizeof(l->pos));
	memset(l->counts, 0, sizeof(l->counts));
	l->p.c = c;
	names_from_conf(l);
	for (unsigned i = 0; i < c->feeds.n; i++)
		for (unsigned j = 0; j < CONF_MAX_FEEDS; j++)
			if (old[j].have && strcmp(old[j].name, l->pos[i].name) == 0 &&
			    strcmp(old[j].path, l->pos[i].path) == 0)
				l->pos[i] = old[j];
	l->backoff_us = CHILD_BACKOFF_MIN_US;
	return feedlink_start(l, err, errlen);
}

void feedlink_tick(struct feedlink *l, usec_t wall, usec_t mono)
{
	char err[512];

	if (l->pid || !l->restart_at || mono < l->restart_at)
		return;
	if (feedlink_start(l, err, sizeof(err)) < 0) {
		schedule_restart(l, mono);
		alert(l, wall, "feeds reader: %s; trying again in %llu s", err,
		      (unsigned long long)((l->restart_at - mono + USEC_PER_SEC / 2) /
					   USEC_PER_SEC));
		return;
	}
	log_info("feeds reader started (pid %d, start %llu)", (int)l->pid,
		 (unsigned long long)l->starts);
}

const char *feedlink_state(const struct feedlink *l)
{
	if (!feedlink_wanted(l))
		return "off";
	if (!l->pid)
		return "restarting";
	return l->ready ? "running" : "starting";
}
