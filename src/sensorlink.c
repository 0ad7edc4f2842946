/* The parent's end of the sensor; see sensorlink.h. */
#include "sensorlink.h"

#include <errno.h>
#include <stddef.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "child.h"
#include "log.h"

#define IFACE_CHECK_US (2 * USEC_PER_SEC)
#define READ_PER_CALL  512
/* The channel's buffers: bursts of detections and snapshots, and the
 * parent's bursts of blocks (a bulk quarantine), fit without waiting. */
#define CHANNEL_BUF (8 << 20)

static void alert(struct sensorlink *l, usec_t wall, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void alert(struct sensorlink *l, usec_t wall, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	output_error(l->p.out, wall, msg);
}

/* ---- to the sensor ---- */

/* A full channel means a sensor that no longer reads: it is replaced
 * (the new one gets the whole state). */
static void send_failed(struct sensorlink *l, int r)
{
	l->protocol_errors++;
	alert(l, 0, "sensor: cannot tell it of a change (%s); starting a new one", strerror(-r));
	sensorlink_stop(l);
	l->restart_at = 1; /* at once */
}

void sensorlink_flush(struct sensorlink *l)
{
	unsigned n = l->npend;
	int r;

	l->npend = 0;
	if (n == 0 || !l->pid || !l->ready)
		return;
	r = ipc_send(&l->ipc, SP_BLOCK, l->pend, n * sizeof(l->pend[0]), -1);
	if (r < 0)
		send_failed(l, r);
}

/* A message to the sensor, or a start-up record while one is being
 * written.  The blocks waiting go first, so that the sensor sees every
 * change in the order the engine made it. */
static void send_down(struct sensorlink *l, uint16_t type, const void *data, size_t len)
{
	int r;

	if (l->rec_fd >= 0) {
		struct sp_record h = {.type = type, .len = (uint32_t)len};

		if (write(l->rec_fd, &h, sizeof(h)) != (ssize_t)sizeof(h) ||
		    write(l->rec_fd, data, len) != (ssize_t)len)
			l->rec_failed = true;
		l->nrec++;
		return;
	}
	sensorlink_flush(l);
	if (!l->pid || !l->ready)
		return; /* the next sensor gets it in its start-up state */
	r = ipc_send(&l->ipc, type, data, len, -1);
	if (r < 0)
		send_failed(l, r);
}

/* Blocks wait in l->pend until SP_BLOCK_MAX of them, another message,
 * or sensorlink_flush() at the end of the daemon's turn. */
static void op_set_block(void *arg, const struct qaddr *key, const struct detect_block *b,
			 usec_t at_us)
{
	struct sensorlink *l = arg;
	struct sp_block m;

	memset(&m, 0, sizeof(m));
	m.key = *key;
	if (b && b->level >= LEVEL_CONTAIN) {
		m.has = 1;
		m.b = *b;
	}
	m.at_us = (int64_t)at_us;
	/* Start-up records, or no sensor to tell: as any message. */
	if (l->rec_fd >= 0 || !l->pid || !l->ready) {
		send_down(l, SP_BLOCK, &m, sizeof(m));
		return;
	}
	l->pend[l->npend++] = m;
	if (l->npend == SP_BLOCK_MAX)
		sensorlink_flush(l);
}

static void op_set_surveil(void *arg, const struct qaddr *key, usec_t until_us)
{
	struct sp_surveil m;

	memset(&m, 0, sizeof(m));
	m.key = *key;
	m.until_us = (int64_t)until_us;
	send_down(arg, SP_SURVEIL, &m, sizeof(m));
}

static void op_set_outbreak(void *arg, bool on)
{
	struct sp_outbreak m;

	memset(&m, 0, sizeof(m));
	m.on = on;
	send_down(arg, SP_OUTBREAK, &m, sizeof(m));
}

static void op_forget(void *arg, const struct qaddr *host)
{
	struct sensorlink *l = arg;
	struct sp_key m;

	/* Its next flagging makes a new file. */
	if (l->p.evidence && l->rec_fd < 0)
		evidence_stop(l->p.evidence, host);
	memset(&m, 0, sizeof(m));
	m.key = *host;
	send_down(l, SP_FORGET, &m, sizeof(m));
}

static void op_set_frozen(void *arg, const uint8_t mac[MAC_LEN], bool frozen)
{
	struct sp_frozen m;

	memset(&m, 0, sizeof(m));
	memcpy(m.mac, mac, MAC_LEN);
	m.frozen = frozen;
	send_down(arg, SP_FROZEN, &m, sizeof(m));
}

/* The parent makes the file (the sensor cannot write in the state
 * directory) and hands its descriptor over. */
static int op_evidence_start(void *arg, const struct qaddr *host, const struct qaddr *label,
			     usec_t now, char *name, size_t len)
{
	struct sensorlink *l = arg;
	struct sp_evidence m;
	uint64_t max;
	int fd, r;

	sensorlink_flush(l); /* in order, as send_down() */
	if (!l->p.evidence || !l->pid || !l->ready)
		return -ENOTSUP;
	r = evidence_create(l->p.evidence, host, label, now, name, len, &fd, &max);
	if (r < 0 || fd < 0)
		return r; /* fd -1: the host's file is still being written */
	memset(&m, 0, sizeof(m));
	m.host = *host;
	m.max_file_bytes = max;
	r = ipc_send(&l->ipc, SP_EVIDENCE, &m, sizeof(m), fd);
	close(fd);
	return r;
}

void sensorlink_neigh(struct sensorlink *l, const struct qaddr *addr, const uint8_t *mac,
		      enum ident_neigh state, usec_t now)
{
	struct sp_neigh m;

	memset(&m, 0, sizeof(m));
	m.addr = *addr;
	memcpy(m.mac, mac, MAC_LEN);
	m.state = (uint8_t)state;
	m.ts = (int64_t)now;
	send_down(l, SP_NEIGH, &m, sizeof(m));
}

void sensorlink_fdb(struct sensorlink *l, const uint8_t *mac, int port, usec_t now)
{
	struct sp_fdb m;

	memset(&m, 0, sizeof(m));
	memcpy(m.mac, mac, MAC_LEN);
	m.port = port;
	m.ts = (int64_t)now;
	send_down(l, SP_FDB, &m, sizeof(m));
}

static bool own_macs_changed(struct sensorlink *l)
{
	const uint8_t(*macs)[MAC_LEN] = NULL;
	unsigned n = l->p.own_macs ? l->p.own_macs(l->p.own_arg, &macs) : 0;

	n = MIN(n, SP_OWN_MACS_MAX);
	if (n == l->own.n && (n == 0 || memcmp(l->own.mac, macs, (size_t)n * MAC_LEN) == 0))
		return false;
	memset(&l->own, 0, sizeof(l->own));
	l->own.n = n;
	if (n)
		memcpy(l->own.mac, macs, (size_t)n * MAC_LEN);
	return true;
}

void sensorlink_init(struct sensorlink *l, const struct sensorlink_params *p)
{
	memset(l, 0, sizeof(*l));
	l->p = *p;
	l->ipc.fd = -1;
	l->rec_fd = -1;
	l->backoff_us = CHILD_BACKOFF_MIN_US;
	l->iface_wait_us = IFACE_CHECK_US;
	l->ops = (struct engine_sensor){
		.set_block = op_set_block,
		.set_surveil = op_set_surveil,
		.set_outbreak = op_set_outbreak,
		.forget = op_forget,
		.set_frozen = op_set_frozen,
		.evidence_start = op_evidence_start,
		.arg = l,
	};
}

/* ---- start-up state ---- */

static int rec_binding(void *arg, const struct ident_binding *b)
{
	send_down(arg, SP_START, b, sizeof(*b));
	return 0;
}

/* Everything a new sensor must know, as records in a memfd: the gateway's
 * MACs, outbreak mode, the trusted bindings, the frozen machines, the blocks in force and
 * the hosts under surveillance.  -errno. */
static int write_start(struct sensorlink *l, usec_t now)
{
	struct engine *e = l->p.eng;

	l->rec_fd = memfd_create("quarantined-sensor-start", MFD_CLOEXEC);
	if (l->rec_fd < 0)
		return -errno;
	l->nrec = 0;
	l->rec_failed = false;
	memset(&l->own, 0, sizeof(l->own));
	(void)own_macs_changed(l);
	send_down(l, SP_OWN_MACS, &l->own, sizeof(l->own));
	/* Outbreak mode: a sensor started (again) during one, or after a
	 * reload, flags at the tighter thresholds from its first packet. */
	if (e->pol.outbreak)
		op_set_outbreak(l, true);
	identity_foreach(e->id, BIND_TENTATIVE, rec_binding, l);
	for (struct hostrec *r = hostdb_first(&e->hosts); r; r = hostdb_next(&e->hosts, r)) {
		if (hostrec_is_machine(r) && r->level > LEVEL_WATCH)
			op_set_frozen(l, r->id.b, true);
		act_tell_detector(e, r, now);
	}
	if (l->rec_failed || lseek(l->rec_fd, 0, SEEK_SET) < 0) {
		close(l->rec_fd);
		l->rec_fd = -1;
		return -EIO;
	}
	return 0;
}

/* ---- from the sensor ---- */

static int protocol_error(struct sensorlink *l, usec_t wall, const char *what)
{
	l->protocol_errors++;
	alert(l, wall, "sensor: protocol error (%s): ended; a new one starts", what);
	sensorlink_stop(l);
	return -EPROTO;
}

int sensorlink_handle(struct sensorlink *l, const struct ipc_msg *m, usec_t wall)
{
	union {
		max_align_t align;
		struct sp_detection det;
		struct ident_snap snap;
		struct sp_ident ident;
		struct sp_stats stats;
		struct sp_capfail capfail;
		struct sp_evclosed evclosed;
	} u;
	char err[160];
	struct engine *e = l->p.eng;

	memcpy(&u, m->data, m->len);
	/* No packet is read before the start-up state is applied: no
	 * detection before READY (identity may speak while the state is
	 * applied). */
	if (!l->ready && m->type == SP_DETECTION)
		return protocol_error(l, wall, "a detection before it was ready");
	switch (m->type) {
	case SP_READY:
		if (l->ready)
			return protocol_error(l, wall, "ready twice");
		l->ready = true;
		return 0;
	case SP_DETECTION: {
		struct detection d;

		if (sp_detection_decode(&u.det, e->c, wall, &d, err, sizeof(err)) < 0)
			return protocol_error(l, wall, err);
		/* A destination that is one of the gateway's own addresses
		 * is right: password guessing against its own SSH is
		 * contained towards it, in the input chain. */
		engine_detection(e, &d);
		return 0;
	}
	case SP_MACHINE:
		if (sp_machine_check(&u.snap, m->len) < 0)
			return protocol_error(l, wall, "a machine's snapshot of the wrong length");
		if (identity_import(e->id, &u.snap, wall) == -EINVAL)
			return protocol_error(l, wall, "a machine's snapshot");
		return 0;
	case SP_IDENT: {
		struct ident_event ev;

		if (sp_ident_decode(&u.ident, wall, &ev, err, sizeof(err)) < 0)
			return protocol_error(l, wall, err);
		engine_identity(e, &ev);
		return 0;
	}
	case SP_STATS:
		if (sp_stats_check(&u.stats, l->p.sp.ncaps, err, sizeof(err)) < 0)
			return protocol_error(l, wall, err);
		l->stats = u.stats;
		l->have_stats = true;
		if (u.stats.out_lost > l->lost_told) {
			alert(l, wall,
			      "sensor: %llu reports lost for want of room on the channel to the "
			      "parent (overload)",
			      (unsigned long long)(u.stats.out_lost - l->lost_told));
			l->lost_told = u.stats.out_lost;
		}
		return 0;
	case SP_CAPFAIL:
		if (sp_capfail_check(&u.capfail, l->p.sp.ncaps, err, sizeof(err)) < 0)
			return protocol_error(l, wall, err);
		l->iface_down[u.capfail.iface] = true;
		l->iface_error[u.capfail.iface] = u.capfail.error;
		log_warnx("cannot capture on %s: %s (retried when it is back)",
			  l->p.sp.ifnames[u.capfail.iface], u.capfail.text);
		return 0;
	case SP_EVIDENCE_CLOSED:
		if (l->p.evidence)
			evidence_closed(l->p.evidence, u.evclosed.file_id);
		return 0;
	default:
		return protocol_error(l, wall, "unknown message");
	}
}

static void reap(struct sensorlink *l, usec_t wall, bool expected)
{
	pid_t pid = l->pid;
	char msg[600];
	int status;

	if (!pid)
		return;
	status = child_kill(&l->pid, &l->ipc);
	l->ready = false;
	/* The next sensor gets the blocks in its start-up state. */
	l->npend = 0;
	/* Its evidence descriptors went with it. */
	if (l->p.evidence)
		evidence_closed_all(l->p.evidence);
	if (expected)
		return;
	l->deaths++;
	child_ended_text(msg, sizeof(msg), "sensor", pid, status, "blocks stay in force, ",
			 child_delay_s(l->restart_at, time_mono_us()));
	alert(l, wall, "%s", msg);
}

void sensorlink_stop(struct sensorlink *l)
{
	reap(l, 0, true);
}

int sensorlink_fd(const struct sensorlink *l)
{
	return l->pid ? l->ipc.fd : -1;
}

static void schedule_restart(struct sensorlink *l, usec_t mono)
{
	l->restart_at = child_restart_at(&l->backoff_us, l->started_mono, mono);
}

static int handle(void *arg, const struct ipc_msg *m, usec_t wall)
{
	return sensorlink_handle(arg, m, wall);
}

void sensorlink_read(struct sensorlink *l, usec_t wall, usec_t mono)
{
	enum child_read r = child_read(&l->ipc, READ_PER_CALL, handle, l, wall);

	if (r == CHILD_READ_OK) {
		/* Commands and timers may have queued work; detections too. */
		engine_commit(l->p.eng);
		return;
	}
	if (r == CHILD_READ_MALFORMED)
		(void)protocol_error(l, wall, "a malformed message");
	/* Before reap(): its alert says when the next one starts. */
	schedule_restart(l, mono);
	if (l->pid)
		reap(l, wall, false);
}

/* ---- starting ---- */

/* In the child: the sensor, or what the tests run in its place. */
static int run_sensor(void *arg, int fd, pid_t parent)
{
	struct sensorlink *l = arg;
	struct sensor_params sp = l->p.sp;

	sp.fd = fd;
	sp.parent = parent;
	return l->p.child ? l->p.child(l->p.child_arg, fd) : sensor_main(&sp);
}

static int spawn(struct sensorlink *l, char *err, size_t errlen)
{
	int r = child_spawn(&l->ipc, sp_parent_types, sp_parent_ntypes, CHANNEL_BUF, run_sensor, l,
			    "sensor", &l->pid, err, errlen);

	if (r < 0)
		return r;
	l->ready = false;
	l->starts++;
	l->started_mono = time_mono_us();
	memset(l->iface_down, 0, sizeof(l->iface_down));
	return 0;
}

int sensorlink_start(struct sensorlink *l, int timeout_ms, char *err, size_t errlen)
{
	struct sp_start st;
	usec_t wall = time_wall_us(), mono = time_mono_us();
	usec_t deadline = mono + (usec_t)timeout_ms * 1000;
	int r;

	l->restart_at = 0;
	r = spawn(l, err, errlen);
	if (r < 0)
		return r;
	r = write_start(l, wall);
	if (r < 0) {
		snprintf(err, errlen, "sensor start-up state: %s", strerror(-r));
		reap(l, wall, true);
		return r;
	}
	memset(&st, 0, sizeof(st));
	st.records = l->nrec;
	r = ipc_send(&l->ipc, SP_START, &st, sizeof(st), l->rec_fd);
	close(l->rec_fd);
	l->rec_fd = -1;
	if (r < 0) {
		snprintf(err, errlen, "sensor start: %s", strerror(-r));
		reap(l, wall, true);
		return r;
	}
	/* The one wait on the sensor: its start, bounded. */
	while (l->pid && !l->ready) {
		struct pollfd pfd = {.fd = l->ipc.fd, .events = POLLIN};
		struct ipc_msg m;

		mono = time_mono_us();
		if (mono >= deadline) {
			snprintf(err, errlen, "the sensor did not start within %d ms", timeout_ms);
			reap(l, wall, true);
			return -ETIMEDOUT;
		}
		if (poll(&pfd, 1, (int)((deadline - mono) / 1000) + 1) < 0 && errno != EINTR)
			break;
		r = ipc_recv(&l->ipc, &m);
		if (r == -EAGAIN)
			continue;
		if (r <= 0 || sensorlink_handle(l, &m, wall) < 0) {
			(void)child_kill(&l->pid, &l->ipc);
			snprintf(err, errlen, "the sensor failed to start (see its message above)");
			return -EIO;
		}
	}
	l->started_mono = time_mono_us();
	if (!l->ready)
		return -EIO;
	if (l->p.on_start)
		l->p.on_start(l->p.start_arg);
	return 0;
}

int sensorlink_restart(struct sensorlink *l, const struct conf *c, const char *filter, char *err,
		       size_t errlen)
{
	sensorlink_stop(l);
	l->p.sp.c = c;
	l->p.sp.copts.filter = filter;
	/* The new sensor's captures: the configured ring size. */
	l->p.sp.copts.buffer_mb = c->capture.buffer_mb;
	return sensorlink_start(l, 10000, err, errlen);
}

/* An interface the sensor could not open: up now? */
static bool iface_back(const struct sensorlink *l)
{
	struct ifreq ifr;
	bool back = false;
	int s = -1;

	for (unsigned i = 0; i < l->p.sp.ncaps && !back; i++) {
		if (!l->iface_down[i])
			continue;
		/* Any socket takes the interface ioctls; AF_UNIX is one the
		 * unit's RestrictAddressFamilies allows. */
		if (s < 0 && (s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			return false;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", l->p.sp.ifnames[i]);
		back = ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
	}
	if (s >= 0)
		close(s);
	return back;
}

void sensorlink_tick(struct sensorlink *l, usec_t wall, usec_t mono)
{
	char err[512];

	if (l->pid && l->ready && own_macs_changed(l))
		send_down(l, SP_OWN_MACS, &l->own, sizeof(l->own));
	if (l->pid && l->ready && mono >= l->iface_check_at) {
		/* An interface that is up but still cannot be opened must not
		 * cost a new sensor every 2 s: each try that did not help
		 * doubles the wait, up to the backoff's longest. */
		bool down = false;

		for (unsigned i = 0; i < l->p.sp.ncaps; i++)
			down |= l->iface_down[i];
		if (!down)
			l->iface_wait_us = IFACE_CHECK_US;
		l->iface_check_at = mono + l->iface_wait_us;
		if (down && iface_back(l)) {
			log_info("a capture interface is back: starting a new sensor");
			l->iface_wait_us = MIN(l->iface_wait_us * 2, CHILD_BACKOFF_MAX_US);
			sensorlink_stop(l);
			l->restart_at = 1;
		}
	}
	if (l->pid || !l->restart_at || mono < l->restart_at)
		return;
	if (sensorlink_start(l, 10000, err, sizeof(err)) < 0) {
		schedule_restart(l, mono);
		alert(l, wall, "sensor: %s; trying again in %llu s", err,
		      (unsigned long long)((l->restart_at - mono + USEC_PER_SEC / 2) /
					   USEC_PER_SEC));
		return;
	}
	log_info("sensor started (pid %d, start %llu)", (int)l->pid, (unsigned long long)l->starts);
}
