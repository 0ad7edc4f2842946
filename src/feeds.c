/* The feeds reader process; see feeds.h. */
#include "feeds.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "child.h"
#include "eve.h"
#include "feedmap.h"
#include "feedproto.h"
#include "follow.h"
#include "ipc.h"
#include "outbox.h"
#include "zeek.h"

#define STATS_US    USEC_PER_SEC
#define POSITION_US (USEC_PER_SEC / 2) /* a moving position goes up at most this often */
/* Messages waiting for room on the channel (the parent reads it every
 * turn; this takes a burst of alerts while it is busy).  Nothing is read
 * while anything waits here, so a flood is slowed, not lost. */
#define OUTBOX (256 * 1024)

/* What the reader does once in its sandbox: the files (openat, fstat
 * and the fstatat of stat(), lseek, read, pread64 for the head's hash,
 * close), the socket feeds (accept4, read, close), the channel (sendmsg,
 * recvmsg), the timer (read), glibc's allocator (brk, mmap, munmap,
 * mremap, madvise), stderr (write), signals and the way out.  ppoll and
 * clock_gettime are what other architectures and a vDSO-less kernel use
 * for the same. */
static const char *const allowed[] = {
	"poll",		"ppoll",	   "read",	 "write",      "openat",
	"close",	"fstat",	   "newfstatat", "statx",      "lseek",
	"pread64",	"accept4",	   "recvmsg",	 "sendmsg",    "brk",
	"mmap",		"munmap",	   "mremap",	 "madvise",    "clock_gettime",
	"rt_sigreturn", "restart_syscall", "exit",	 "exit_group",
};

const char *const *feeds_syscalls(unsigned *ret_n)
{
	*ret_n = ARRAY_SIZE(allowed);
	return allowed;
}

struct reader;

struct client {
	int fd; /* -1: free */
	struct linebuf lb;
};

struct feed {
	struct reader *r;
	unsigned i;
	const struct feed_conf *fc;
	struct follow fl; /* a file feed */
	int lfd;	  /* a socket feed's listening socket; -1 */
	struct client cl[FEEDS_CLIENTS];
	struct fp_feed_stats st;
	uint64_t lines, too_long; /* a socket feed's */
	struct follow_pos sent;
	bool have_sent;
	usec_t pos_at;
	usec_t err_sec; /* the second of the errors counted in err_n */
	unsigned err_n;
};

struct reader {
	const struct feeds_params *p;
	struct ipc ipc;
	struct feed feed[CONF_MAX_FEEDS];
	unsigned n;
	int timerfd;
	bool started, quit;
	char *chunk;
	struct outbox out;
	union {
		max_align_t align;
		uint8_t b[OUTBOX];
	} outbuf;
	usec_t stats_at;
};

/* ---- to the parent ---- */

/* In order; false when the message was lost (the outbox full). */
static bool send_up(struct reader *r, uint16_t type, const void *data, size_t len)
{
	int k = outbox_send(&r->out, &r->ipc, type, data, len);

	if (k < 0 && k != -ENOBUFS)
		r->quit = true; /* the parent has gone */
	return k == 0;
}

/* Errors of a feed: counted always, told at most FEEDS_ERRORS_SEC a
 * second (the parent's events are rate-limited too). */
static void feed_error(void *arg, int error, const char *what)
{
	struct feed *f = arg;
	usec_t sec = time_mono_us() / USEC_PER_SEC;
	struct fp_error m;

	f->st.errors++;
	if (sec != f->err_sec) {
		f->err_sec = sec;
		f->err_n = 0;
	}
	if (++f->err_n > FEEDS_ERRORS_SEC)
		return;
	memset(&m, 0, sizeof(m));
	m.feed = f->i;
	m.error = error < 0 ? error : -EIO;
	snprintf(m.text, sizeof(m.text), "%s", what);
	for (char *c = m.text; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	(void)send_up(f->r, FP_ERROR, &m, sizeof(m));
}

static void on_line(void *arg, const char *line, size_t len)
{
	struct feed *f = arg;
	const struct conf *c = f->r->p->c;
	struct feed_alert a;
	struct fp_detection m;
	char err[200], what[260];
	int k;

	k = f->fc->kind == FEED_ZEEK ? zeek_parse(line, len, &a, err, sizeof(err))
				     : eve_parse(line, len, &a, err, sizeof(err));
	if (k < 0) {
		snprintf(what, sizeof(what), "a bad line (%s): %s",
			 f->fc->kind == FEED_ZEEK ? "not a notice.log record" : "not eve.json",
			 err);
		feed_error(f, -EBADMSG, what);
		return;
	}
	if (k == 0) {
		f->st.other++;
		return;
	}
	f->st.alerts++;
	memset(&m, 0, sizeof(m));
	m.feed = f->i;
	switch (feed_detection(c, f->fc, &a, line, len, &m.d)) {
	case FEED_CONTAIN:
		if (send_up(f->r, FP_DETECTION, &m, sizeof(m)))
			f->st.sent++;
		else
			f->st.lost++;
		break;
	case FEED_INBOUND:
		f->st.ignored++;
		f->st.inbound++;
		break;
	case FEED_NOT_OURS:
	case FEED_NO_ADDRESS:
		f->st.ignored++;
		f->st.not_ours++;
		break;
	case FEED_MAPPED_OUT:
		f->st.ignored++;
		break;
	}
}

static void send_stats(struct reader *r)
{
	struct fp_stats m;

	memset(&m, 0, sizeof(m));
	m.n = r->n;
	for (unsigned i = 0; i < r->n; i++) {
		struct feed *f = &r->feed[i];
		struct fp_feed_stats *s = &m.feed[i];

		*s = f->st;
		if (f->fc->path[0]) {
			s->lines = f->fl.st.lines;
			s->bytes = f->fl.st.bytes;
			s->too_long = f->fl.st.too_long;
			s->rotations = f->fl.st.rotations;
			s->truncations = f->fl.st.truncations + f->fl.st.rewritten;
			s->state = f->fl.state == FOLLOW_FOLLOWING ? FP_STATE_FOLLOWING
				   : f->fl.state == FOLLOW_ERROR   ? FP_STATE_ERROR
								   : FP_STATE_WAITING;
			s->error = f->fl.state == FOLLOW_ERROR ? f->fl.error : 0;
		} else {
			bool any = false;

			for (unsigned j = 0; j < FEEDS_CLIENTS; j++)
				any |= f->cl[j].fd >= 0;
			s->lines = f->lines;
			s->too_long = f->too_long;
			s->state = f->lfd < 0 ? FP_STATE_ERROR
				   : any      ? FP_STATE_FOLLOWING
					      : FP_STATE_WAITING;
		}
	}
	(void)send_up(r, FP_STATS, &m, sizeof(m));
}

/* A file feed's position, when it moved (at most every POSITION_US, or
 * at once for another file). */
static void send_position(struct feed *f, usec_t now)
{
	struct fp_position m;

	memset(&m, 0, sizeof(m));
	if (!follow_position(&f->fl, &m.pos))
		return;
	if (f->have_sent && memcmp(&m.pos, &f->sent, sizeof(m.pos)) == 0)
		return;
	if (f->have_sent && m.pos.ino == f->sent.ino && now < f->pos_at + POSITION_US)
		return;
	m.feed = f->i;
	if (send_up(f->r, FP_POSITION, &m, sizeof(m))) {
		f->sent = m.pos;
		f->have_sent = true;
		f->pos_at = now;
	}
}

/* ---- reading ---- */

/* One turn of every feed; true when some feed used its whole budget
 * (more waits: the next turn comes at once). */
static bool read_feeds(struct reader *r)
{
	usec_t now = time_mono_us();
	bool more = false;

	for (unsigned i = 0; i < r->n && !r->out.n; i++) {
		struct feed *f = &r->feed[i];

		if (!f->fc->path[0])
			continue;
		if (follow_poll(&f->fl, FEEDS_BUDGET, on_line, feed_error, f) >= FEEDS_BUDGET)
			more = true;
		send_position(f, now);
	}
	return more;
}

static void client_close(struct client *cl, struct feed *f)
{
	if (linebuf_reset(&cl->lb))
		feed_error(f, -ENODATA, "a client went with an unfinished last line (dropped)");
	close(cl->fd);
	cl->fd = -1;
}

static void client_read(struct reader *r, struct feed *f, struct client *cl)
{
	ssize_t k = read(cl->fd, r->chunk, FOLLOW_CHUNK);

	if (k < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (k <= 0) {
		client_close(cl, f);
		return;
	}
	f->st.bytes += (uint64_t)k;
	(void)linebuf_feed(&cl->lb, r->chunk, (size_t)k, on_line, feed_error, f, &f->lines,
			   &f->too_long);
}

static void client_accept(struct feed *f)
{
	int fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (unsigned j = 0; j < FEEDS_CLIENTS; j++)
		if (f->cl[j].fd < 0) {
			f->cl[j].fd = fd;
			f->st.clients++;
			return;
		}
	feed_error(f, -EBUSY, "a client too many: refused");
	close(fd);
}

/* ---- from the parent ---- */

static int from_parent(struct reader *r, const struct ipc_msg *m)
{
	struct fp_position pos;

	switch (m->type) {
	case FP_RESUME:
		memcpy(&pos, m->data, sizeof(pos));
		if (r->started || pos.feed >= r->n || !r->feed[pos.feed].fc->path[0])
			return -EPROTO;
		r->feed[pos.feed].fl.have_saved = true;
		r->feed[pos.feed].fl.saved = pos.pos;
		return 0;
	case FP_START:
		if (r->started)
			return -EPROTO;
		r->started = true;
		/* Ready first: what the first reading finds (lines written
		 * while the daemon was down) comes after it. */
		(void)send_up(r, FP_READY, NULL, 0);
		(void)read_feeds(r);
		send_stats(r);
		r->stats_at = time_mono_us() + STATS_US;
		return 0;
	default:
		return -EPROTO;
	}
}

static int read_parent(struct reader *r)
{
	struct ipc_msg m;

	for (unsigned i = 0; i < 64; i++) {
		int k = ipc_recv(&r->ipc, &m);

		if (k == -EAGAIN)
			return 0;
		if (k <= 0)
			return k == 0 ? -EPIPE : k;
		if (m.fd >= 0)
			close(m.fd);
		k = from_parent(r, &m);
		if (k < 0)
			return k;
	}
	return 0;
}

/* ---- the loop ---- */

#define MAX_FDS (2 + CONF_MAX_FEEDS * (1 + FEEDS_CLIENTS))

static int loop(struct reader *r)
{
	struct pollfd fds[MAX_FDS];
	struct {
		struct feed *f;
		struct client *cl; /* NULL: the listening socket */
	} who[MAX_FDS];
	bool more = false;

	while (!r->quit) {
		unsigned n = 0;

		fds[n++] = (struct pollfd){.fd = r->ipc.fd,
					   .events = (short)(POLLIN | (r->out.n ? POLLOUT : 0))};
		fds[n++] = (struct pollfd){.fd = r->timerfd, .events = POLLIN};
		for (unsigned i = 0; r->started && !r->out.n && i < r->n; i++) {
			struct feed *f = &r->feed[i];

			if (f->lfd < 0)
				continue;
			who[n].f = f;
			who[n].cl = NULL;
			fds[n++] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
			for (unsigned j = 0; j < FEEDS_CLIENTS; j++) {
				if (f->cl[j].fd < 0)
					continue;
				who[n].f = f;
				who[n].cl = &f->cl[j];
				fds[n++] = (struct pollfd){.fd = f->cl[j].fd, .events = POLLIN};
			}
		}
		if (poll(fds, n, more && !r->out.n ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (read_parent(r) < 0)
				return 0;
		}
		if (r->out.n && outbox_flush(&r->out, &r->ipc) < 0)
			return 0;
		for (unsigned i = 2; i < n; i++) {
			if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (who[i].cl)
				client_read(r, who[i].f, who[i].cl);
			else
				client_accept(who[i].f);
		}
		if (fds[1].revents & POLLIN) {
			uint64_t x;

			while (read(r->timerfd, &x, sizeof(x)) > 0)
				;
		}
		if (!r->started)
			continue;
		/* Files on every tick, and at once while a budget ran out. */
		if ((fds[1].revents & POLLIN) || more)
			more = read_feeds(r);
		if (time_mono_us() >= r->stats_at) {
			send_stats(r);
			r->stats_at = time_mono_us() + STATS_US;
		}
	}
	return 0;
}

/* ---- setting up ---- */

/* Suricata's unix_stream output connects to this as a client.  The
 * socket is the daemon's user's, mode 0660: Suricata running as root
 * connects, another user must be in the daemon's group. */
static int listen_on(struct feed *f)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, k;
	char what[FEED_SOCKET_MAX + 80];

	if (lstat(f->fc->socket, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(what, sizeof(what), "%s exists and is no socket", f->fc->socket);
			feed_error(f, -EEXIST, what);
			return -EEXIST;
		}
		(void)unlink(f->fc->socket); /* a previous reader's */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->fc->socket);
	old = umask(0117);
	k = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (k < 0 || listen(fd, FEEDS_CLIENTS) < 0) {
		k = -errno;
		snprintf(what, sizeof(what), "cannot listen on %s: %s", f->fc->socket,
			 strerror(-k));
		feed_error(f, k, what);
		close(fd);
		return k;
	}
	f->lfd = fd;
	return 0;
}

int feeds_main(const struct feeds_params *p)
{
	static struct reader r; /* the outbox is large; the child has one */
	char err[512];
	int keep, k;

	memset(&r, 0, sizeof(r));
	r.p = p;
	r.timerfd = -1;
	outbox_init(&r.out, r.outbuf.b, sizeof(r.outbuf.b));
	child_signals();
	ipc_init(&r.ipc, p->fd, fp_reader_types, fp_reader_ntypes);
	/* The parent's descriptors (its state lock, control socket,
	 * netlink sockets) are none of ours, and must not outlive it. */
	keep = r.ipc.fd;
	child_close_others(&keep, 1);
	if (!child_tie(p->parent))
		return 0;
	r.chunk = malloc(FOLLOW_CHUNK);
	if (!r.chunk) {
		fprintf(stderr, "quarantined feeds: out of memory\n");
		return 1;
	}
	r.n = p->c->feeds.n;
	for (unsigned i = 0; i < r.n; i++) {
		struct feed *f = &r.feed[i];

		f->r = &r;
		f->i = i;
		f->fc = &p->c->feeds.feed[i];
		f->lfd = -1;
		for (unsigned j = 0; j < FEEDS_CLIENTS; j++) {
			f->cl[j].fd = -1;
			if (f->fc->socket[0] &&
			    linebuf_init(&f->cl[j].lb, p->c->feeds.max_line) < 0)
				goto nomem;
		}
		if (f->fc->path[0] &&
		    follow_init(&f->fl, f->fc->path, p->c->feeds.max_line, NULL) < 0)
			goto nomem;
		if (f->fc->socket[0])
			(void)listen_on(f);
	}
	r.timerfd = child_timer(FEEDS_TICK_MS);
	if (r.timerfd < 0) {
		fprintf(stderr, "quarantined feeds: timer: %s\n", strerror(-r.timerfd));
		return 1;
	}
	/* jansson seeds its hash tables from /dev/urandom on first use:
	 * now, while files may still be opened for it. */
	json_object_seed(0);
	k = child_sandbox(allowed, ARRAY_SIZE(allowed), NULL, 0, err, sizeof(err));
	if (k < 0) {
		fprintf(stderr, "quarantined feeds: sandbox: %s\n", err);
		return 1;
	}
	return loop(&r);
nomem:
	fprintf(stderr, "quarantined feeds: out of memory\n");
	return 1;
}
