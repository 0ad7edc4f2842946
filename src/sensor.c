/* The sensor process; see sensor.h. */
#include "sensor.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "evidence.h"
#include "ipc.h"
#include "outbox.h"
#include "sense.h"
#include "sensorproto.h"

#define TICK_MS	 100
#define BURST	 512 /* packets per capture per loop turn */
#define STATS_US USEC_PER_SEC
/* Machines looked at each tick, round-robin, when nothing waits: the
 * snapshots that changed since the sweep last sent them go up, so that the
 * parent's replica learns of machines no event concerned (a router, a
 * quiet host an operator names) within a sweep, at most max_machines /
 * SWEEP ticks (26 s for the default 65,536), and a quiet network costs
 * nothing. */
#define SWEEP 256
/* Messages waiting for room on the channel.  The channel's own buffer
 * (the parent sizes it, sensorlink.c) takes the bursts; this is for the
 * moment it is full.  Packets are not read while anything waits here, so
 * under overload the kernel's capture buffer fills and drops, and that
 * is counted and alerted as a capture drop. */
#define OUTBOX (1 << 20) /* bytes */

/* What the sensor does once in its sandbox, measured with strace -f on
 * the live sensor through an outbreak, evidence files, a capture that
 * fails and a parent that goes (bench/sensor-syscalls.sh; docs/BENCHMARKS.md, "Privilege separation"):
 * libpcap's dispatch (poll on the TPACKET_V2 ring) and the packet
 * socket's counters (getsockopt), its close on a capture failure
 * (setsockopt, munmap, close); the channel (sendmsg, recvmsg); evidence
 * files through the descriptors passed (write, lseek, ftruncate, fstat,
 * fcntl, close); the timer (read); glibc's allocator (brk, mmap, munmap,
 * mremap, madvise); signals and the way out.  ppoll and clock_gettime are
 * what other architectures and a vDSO-less kernel use for the same. */
static const char *const allowed[] = {
	"poll",
	"ppoll",
	"read",
	"write",
	"writev",
	"lseek",
	"fstat",
	"newfstatat",
	"ftruncate",
	"fcntl",
	"close",
	"recvmsg",
	"sendmsg",
	"getsockopt",
	"setsockopt",
	"brk",
	"mmap",
	"munmap",
	"mremap",
	"madvise",
	"clock_gettime",
	"rt_sigreturn",
	"restart_syscall",
	"exit",
	"exit_group",
};

const char *const *sensor_syscalls(unsigned *ret_n)
{
	*ret_n = ARRAY_SIZE(allowed);
	return allowed;
}

/* The frames of one dispatch, sensed together (sense_frames(): their
 * lookups asked for ahead).  The ring's frame goes back to the kernel
 * when the callback returns, so each is copied into a slot; a frame
 * longer than a slot (a snaplen above the default 160) is sensed alone,
 * after those before it. */
#define SLOT 256

struct pending {
	unsigned n;
	struct capture_packet f[SENSE_BATCH];
	uint8_t data[SENSE_BATCH][SLOT];
};

struct sensor {
	const struct sensor_params *p;
	struct capture *caps[CONF_MAX_IFACES];
	struct ipc ipc;
	struct sense sense;
	struct evidence *evidence;
	int timerfd;
	bool started, quit;
	uint8_t own[SP_OWN_MACS_MAX][MAC_LEN];
	unsigned nown;
	struct outbox out;
	union {
		max_align_t align;
		uint8_t b[OUTBOX];
	} outbuf;
	usec_t stats_at;
	uint32_t sweep;
	struct pending pend;
};

/* ---- to the parent ---- */

/* In order: what waits goes first.  A full outbox loses the message
 * (counted and reported): the sensor never blocks on its parent. */
static void send_up(struct sensor *s, uint16_t type, const void *data, size_t len)
{
	int r = outbox_send(&s->out, &s->ipc, type, data, len);

	if (r < 0 && r != -ENOBUFS)
		s->quit = true; /* the parent has gone */
}

static void send_machine(struct sensor *s, const uint8_t mac[MAC_LEN])
{
	struct ident_snap snap;

	if (!mac_is_unicast(mac) || !identity_export(s->sense.id, mac, &snap))
		return;
	send_up(s, SP_MACHINE, &snap, sp_machine_len(&snap));
}

static void on_detection(void *arg, const struct detection *d)
{
	struct sensor *s = arg;
	struct sp_detection m;

	/* The parent decides on the machine as it is now. */
	if (addr_is_mac(&d->host))
		send_machine(s, d->host.b);
	sp_detection_encode(d, &m);
	send_up(s, SP_DETECTION, &m, sizeof(m));
}

static void on_identity(void *arg, const struct ident_event *ev)
{
	struct sensor *s = arg;
	struct sp_ident m;
	static const uint8_t zero[MAC_LEN];

	if (!s->started)
		return;
	send_machine(s, ev->mac);
	if (memcmp(ev->other, zero, MAC_LEN) != 0)
		send_machine(s, ev->other);
	sp_ident_encode(ev, &m);
	send_up(s, SP_IDENT, &m, sizeof(m));
}

static void on_evidence_closed(void *arg, const struct qaddr *host, uint64_t file_id)
{
	struct sensor *s = arg;
	struct sp_evclosed m;

	memset(&m, 0, sizeof(m));
	m.host = *host;
	m.file_id = file_id;
	send_up(s, SP_EVIDENCE_CLOSED, &m, sizeof(m));
}

static bool is_own_mac(void *arg, const uint8_t *mac)
{
	struct sensor *s = arg;

	for (unsigned i = 0; i < s->nown; i++)
		if (memcmp(s->own[i], mac, MAC_LEN) == 0)
			return true;
	return false;
}

static void send_stats(struct sensor *s)
{
	struct sp_stats m;

	memset(&m, 0, sizeof(m));
	m.decode = s->sense.decode;
	detect_get_stats(s->sense.det, &m.detect);
	identity_get_stats(s->sense.id, &m.ident);
	if (s->evidence)
		evidence_stats(s->evidence, &m.evidence);
	m.out_full = s->out.full;
	m.out_lost = s->out.lost;
	m.nifaces = s->p->ncaps;
	for (unsigned i = 0; i < s->p->ncaps; i++) {
		m.iface[i].up = s->caps[i] != NULL;
		if (s->caps[i])
			(void)capture_get_stats(s->caps[i], &m.iface[i].st);
	}
	send_up(s, SP_STATS, &m, sizeof(m));
}

/* ---- from the parent ---- */

static void apply_block(struct sensor *s, const struct sp_block *m)
{
	(void)detect_set_block(s->sense.det, &m->key, m->has ? &m->b : NULL, (usec_t)m->at_us);
}

/* An SP_BLOCK message: whole blocks only, each checked, copied out of
 * the payload (which is not aligned for them).  0 or -EPROTO. */
static int apply_blocks(struct sensor *s, const struct ipc_msg *m)
{
	struct sp_block b;

	if (m->len == 0 || m->len % sizeof(b) != 0)
		return -EPROTO;
	for (size_t off = 0; off < m->len; off += sizeof(b)) {
		memcpy(&b, (const uint8_t *)m->data + off, sizeof(b));
		if (sp_block_check(&b) < 0)
			return -EPROTO;
		apply_block(s, &b);
	}
	return 0;
}

static void apply_own(struct sensor *s, const struct sp_own_macs *m)
{
	s->nown = m->n;
	memcpy(s->own, m->mac, (size_t)m->n * MAC_LEN);
}

/* The start-up records, from the parent's memfd: the same payloads as
 * the messages, and the saved bindings.  0 or -EPROTO. */
static int apply_start(struct sensor *s, int fd, uint32_t records)
{
	union {
		max_align_t align;
		uint8_t b[sizeof(struct ident_binding) + sizeof(struct sp_own_macs)];
	} buf;
	struct sp_record h;
	usec_t watched = 0;

	for (uint32_t i = 0; i < records; i++) {
		if (read(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) || h.len > sizeof(buf) ||
		    read(fd, &buf, h.len) != (ssize_t)h.len)
			return -EPROTO;
		switch (h.type) {
		case SP_BLOCK:
			if (h.len != sizeof(struct sp_block) ||
			    sp_block_check((const struct sp_block *)&buf) < 0)
				return -EPROTO;
			apply_block(s, (const struct sp_block *)&buf);
			break;
		case SP_SURVEIL: {
			const struct sp_surveil *m = (const struct sp_surveil *)&buf;
			if (h.len != sizeof(*m) || sp_surveil_check(m) < 0)
				return -EPROTO;
			(void)detect_set_surveil(s->sense.det, &m->key, (usec_t)m->until_us);
			break;
		}
		case SP_OUTBREAK: {
			const struct sp_outbreak *m = (const struct sp_outbreak *)&buf;
			if (h.len != sizeof(*m) || sp_outbreak_check(m) < 0)
				return -EPROTO;
			detect_set_outbreak(s->sense.det, m->on);
			break;
		}
		case SP_FROZEN: {
			const struct sp_frozen *f = (const struct sp_frozen *)&buf;
			if (h.len != sizeof(*f) || f->frozen > 1)
				return -EPROTO;
			identity_set_frozen(s->sense.id, f->mac, f->frozen);
			break;
		}
		case SP_OWN_MACS:
			if (h.len != sizeof(struct sp_own_macs) ||
			    sp_own_macs_check((const struct sp_own_macs *)&buf) < 0)
				return -EPROTO;
			apply_own(s, (const struct sp_own_macs *)&buf);
			break;
		case SP_START: {
			struct ident_binding b;
			if (h.len != sizeof(b))
				return -EPROTO;
			memcpy(&b, &buf, sizeof(b));
			if (b.state < BIND_TENTATIVE || b.state > BIND_PINNED)
				return -EPROTO;
			(void)identity_restore(s->sense.id, &b);
			/* The network has been watched at least since the
			 * oldest binding the parent kept (dark space). */
			if (b.first_us && (!watched || b.first_us < watched))
				watched = b.first_us;
			break;
		}
		default:
			return -EPROTO;
		}
	}
	if (watched)
		detect_set_watched_since(s->sense.det, watched);
	return 0;
}

/* One message of the parent.  0, or -EPROTO: the channel ends (the
 * parent is trusted; a message it should not have sent is a bug, and a
 * fresh sensor is the way out). */
static int from_parent(struct sensor *s, const struct ipc_msg *m)
{
	union {
		max_align_t align;
		struct sp_start start;
		struct sp_surveil surveil;
		struct sp_outbreak outbreak;
		struct sp_key key;
		struct sp_frozen frozen;
		struct sp_neigh neigh;
		struct sp_fdb fdb;
		struct sp_own_macs own;
		struct sp_evidence ev;
	} u;
	int r = 0;

	if (!s->started && m->type != SP_START) {
		r = -EPROTO;
		goto out;
	}
	if (m->type == SP_BLOCK) {
		r = apply_blocks(s, m);
		goto out;
	}
	memcpy(&u, m->data, m->len);
	switch (m->type) {
	case SP_START:
		if (s->started) {
			r = -EPROTO;
			break;
		}
		r = apply_start(s, m->fd, u.start.records);
		if (r == 0) {
			s->started = true;
			/* The figures first: the parent says READY with the
			 * captures' state known (capture up), not a tick later. */
			send_stats(s);
			s->stats_at = time_wall_us() + STATS_US;
			send_up(s, SP_READY, NULL, 0);
		}
		break;
	case SP_SURVEIL:
		r = sp_surveil_check(&u.surveil);
		if (r == 0)
			(void)detect_set_surveil(s->sense.det, &u.surveil.key,
						 (usec_t)u.surveil.until_us);
		break;
	case SP_OUTBREAK:
		r = sp_outbreak_check(&u.outbreak);
		if (r == 0)
			detect_set_outbreak(s->sense.det, u.outbreak.on);
		break;
	case SP_FORGET:
		r = sp_key_check(&u.key);
		if (r < 0)
			break;
		detect_forget(s->sense.det, &u.key.key);
		if (s->evidence)
			evidence_stop(s->evidence, &u.key.key);
		break;
	case SP_FROZEN:
		if (u.frozen.frozen > 1) {
			r = -EPROTO;
			break;
		}
		identity_set_frozen(s->sense.id, u.frozen.mac, u.frozen.frozen);
		break;
	case SP_NEIGH:
		r = sp_neigh_check(&u.neigh);
		if (r == 0)
			identity_neigh(s->sense.id, &u.neigh.addr, u.neigh.mac,
				       (enum ident_neigh)u.neigh.state, (usec_t)u.neigh.ts);
		break;
	case SP_FDB:
		if (u.fdb.ts < 0) {
			r = -EPROTO;
			break;
		}
		identity_fdb(s->sense.id, u.fdb.mac, u.fdb.port, (usec_t)u.fdb.ts);
		break;
	case SP_OWN_MACS:
		r = sp_own_macs_check(&u.own);
		if (r == 0)
			apply_own(s, &u.own);
		break;
	case SP_EVIDENCE:
		r = sp_key_check((const struct sp_key *)&u.ev.host);
		if (r == 0 && s->evidence) {
			/* Takes the descriptor, whatever comes of it. */
			(void)evidence_start_fd(s->evidence, &u.ev.host, m->fd,
						u.ev.max_file_bytes);
			return 0;
		}
		break;
	default:
		r = -EPROTO;
		break;
	}
out:
	if (m->fd >= 0)
		close(m->fd);
	return r;
}

static int read_parent(struct sensor *s)
{
	struct ipc_msg m;

	/* A bounded number a turn: packets wait in the kernel meanwhile. */
	for (unsigned i = 0; i < 256; i++) {
		int r = ipc_recv(&s->ipc, &m);

		if (r == -EAGAIN)
			return 0;
		if (r <= 0)
			return r == 0 ? -EPIPE : r;
		r = from_parent(s, &m);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- packets ---- */

/* Senses the frames waiting, in order. */
static void flush_frames(struct sensor *s)
{
	if (s->pend.n)
		sense_frames(&s->sense, s->pend.f, s->pend.n);
	s->pend.n = 0;
}

static void on_packet(void *arg, const struct capture_packet *p)
{
	struct sensor *s = arg;
	struct pending *q = &s->pend;

	if (p->caplen > SLOT) {
		flush_frames(s);
		sense_frame(&s->sense, p->dlt, p->data, p->caplen, p->wirelen, p->ts);
		return;
	}
	memcpy(q->data[q->n], p->data, p->caplen);
	q->f[q->n] = *p;
	q->f[q->n].data = q->data[q->n];
	if (++q->n == SENSE_BATCH)
		flush_frames(s);
}

static void capture_failed(struct sensor *s, unsigned i, int error, const char *text)
{
	struct sp_capfail m;

	memset(&m, 0, sizeof(m));
	m.iface = i;
	m.error = error < 0 ? error : -EIO;
	/* libpcap's words, cut to fit the message. */
	snprintf(m.text, sizeof(m.text), "%.*s", (int)sizeof(m.text) - 1, text);
	send_up(s, SP_CAPFAIL, &m, sizeof(m));
	capture_close(s->caps[i]);
	s->caps[i] = NULL;
}

static void on_tick(struct sensor *s)
{
	uint64_t n;
	usec_t now = time_wall_us();

	while (read(s->timerfd, &n, sizeof(n)) > 0)
		;
	if (!s->started)
		return;
	sense_advance(&s->sense, now);
	if (s->evidence)
		evidence_flush(s->evidence);
	for (unsigned i = 0; i < SWEEP && !s->out.n; i++) {
		static struct ident_snap snap;
		uint8_t mac[MAC_LEN];

		if (!identity_machine_next(s->sense.id, &s->sweep, mac))
			break;
		if (identity_export_changed(s->sense.id, mac, &snap))
			send_up(s, SP_MACHINE, &snap, sp_machine_len(&snap));
	}
	if (now >= s->stats_at) {
		send_stats(s);
		s->stats_at = now + STATS_US;
	}
}

static int loop(struct sensor *s)
{
	struct pollfd fds[CONF_MAX_IFACES + 2];
	int capidx[CONF_MAX_IFACES];

	while (!s->quit) {
		unsigned n = 0;
		int ipc_i, tim_i;

		/* Packets only once started, and while nothing waits to go
		 * up (see OUTBOX). */
		for (unsigned i = 0; i < s->p->ncaps; i++) {
			capidx[i] = -1;
			if (!s->caps[i] || !s->started || s->out.n)
				continue;
			capidx[i] = (int)n;
			fds[n++] = (struct pollfd){.fd = capture_fd(s->caps[i]), .events = POLLIN};
		}
		ipc_i = (int)n;
		fds[n++] = (struct pollfd){.fd = s->ipc.fd,
					   .events = (short)(POLLIN | (s->out.n ? POLLOUT : 0))};
		tim_i = (int)n;
		fds[n++] = (struct pollfd){.fd = s->timerfd, .events = POLLIN};
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (unsigned i = 0; i < s->p->ncaps; i++) {
			char err[512];
			int r;

			if (capidx[i] < 0 ||
			    !(fds[capidx[i]].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			r = capture_dispatch(s->caps[i], BURST, on_packet, s, err, sizeof(err));
			flush_frames(s);
			if (r < 0)
				capture_failed(s, i, r, err);
		}
		if (fds[ipc_i].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (read_parent(s) < 0)
				return 0; /* the parent has gone, or said nonsense */
		}
		if (s->out.n && outbox_flush(&s->out, &s->ipc) < 0)
			return 0;
		if (fds[tim_i].revents & POLLIN)
			on_tick(s);
	}
	return 0;
}

/* ---- setting up ---- */

/* Every descriptor but the captures', the channel and stderr goes. */
static void close_others(const struct sensor *s)
{
	int keep[CONF_MAX_IFACES + 1];
	unsigned n = 0;

	for (unsigned i = 0; i < s->p->ncaps; i++)
		if (s->caps[i])
			keep[n++] = capture_fd(s->caps[i]);
	keep[n++] = s->ipc.fd;
	child_close_others(keep, n);
}

int sensor_main(const struct sensor_params *p)
{
	static struct sensor s; /* large (the outbox); the child has one */
	char err[512];
	int r;

	memset(&s, 0, sizeof(s));
	s.p = p;
	s.timerfd = -1;
	outbox_init(&s.out, s.outbuf.b, sizeof(s.outbuf.b));
	child_signals();
	ipc_init(&s.ipc, p->fd, sp_sensor_types, sp_sensor_ntypes);
	/* The parent's descriptors go first, before anything slow: its
	 * state-directory lock and instance socket must not outlive it in
	 * us, or a daemon started right after its death (systemd's restart,
	 * an operator) would find them held. */
	close_others(&s);
	if (!child_tie(p->parent))
		return 0;
	/* The captures, with the CAP_NET_RAW inherited; one that cannot be
	 * opened is the parent's to retry (with a new sensor). */
	for (unsigned i = 0; i < p->ncaps; i++) {
		r = capture_open_live(p->ifnames[i], &p->copts, &s.caps[i], err, sizeof(err));
		if (r < 0) {
			s.caps[i] = NULL;
			capture_failed(&s, i, r, err);
		}
	}
	close_others(&s);
	s.timerfd = child_timer(TICK_MS);
	if (s.timerfd < 0) {
		fprintf(stderr, "quarantined sensor: timer: %s\n", strerror(-s.timerfd));
		return 1;
	}
	if (p->ring_packets) {
		struct evidence_params ep = {
			.dir = NULL, /* files come as descriptors */
			.max_bytes = UINT64_MAX,
			.ring_packets = p->ring_packets,
			.snaplen = p->snaplen,
			.follow = p->follow,
			.closed = on_evidence_closed,
			.closed_arg = &s,
		};
		r = evidence_new(&ep, &s.evidence);
		if (r < 0) {
			fprintf(stderr, "quarantined sensor: evidence ring: %s\n", strerror(-r));
			s.evidence = NULL;
		}
	}
	struct sense_params sp = {
		.c = p->c,
		.on_detection = on_detection,
		.on_identity = on_identity,
		.arg = &s,
		.is_own_mac = is_own_mac,
		.own_arg = &s,
		.evidence = s.evidence,
	};
	r = sense_init(&s.sense, &sp);
	if (r < 0) {
		fprintf(stderr, "quarantined sensor: detection tables: %s\n", strerror(-r));
		return 1;
	}
	/* Nothing hostile has been read yet. */
	r = child_sandbox(allowed, ARRAY_SIZE(allowed), NULL, 0, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "quarantined sensor: sandbox: %s\n", err);
		return 1;
	}
	r = loop(&s);
	/* The parent is gone or the channel broke: nothing to save. */
	return r;
}
