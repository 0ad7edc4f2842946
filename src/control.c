/* The control socket server.  Everything is non-blocking and bounded: a
 * fixed table of clients, a size cap on what each may send, a deadline on
 * how long each may take, so that a slow or hostile client costs at most
 * one slot and some memory for CONTROL_DEADLINE_MS.  A full table never
 * locks an operator out: a newcomer takes the slot of the client that has
 * been silent longest while still sending its request. */
#include "control.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "evqueue.h"
#include "log.h"

#define LISTEN_BACKLOG 16
/* First read buffer; it doubles up to the request cap as data arrives. */
#define IN_INITIAL 4096
/* What one client may make us read in one dispatch before the others get
 * their turn. */
#define READ_SLICE (256u << 10)
/* Groups read from SO_PEERGROUPS on the stack; more go to the heap, up to
 * the kernel's NGROUPS_MAX (65536). */
#define PEERGROUPS_STACK 256
#define PEERGROUPS_MAX	 65536
/* After EMFILE/ENFILE on accept, leave the listening socket alone this
 * long: it stays readable and would otherwise spin the loop. */
#define ACCEPT_PAUSE_US (100 * 1000ULL)

#define TRUNCATED_LINE "... (truncated)\n"

enum client_state {
	CL_FREE = 0,
	CL_READING,
	CL_WORKING, /* the handler has more to do (ctl_out.more) */
	CL_WRITING,
};

struct client {
	enum client_state state;
	int fd;
	struct ctl_peer peer;
	usec_t deadline;
	/* When it last sent something (or was accepted), and the order of
	 * that among all clients: the longest silent goes first when a
	 * newcomer needs its slot.  The sequence breaks ties between
	 * clients accepted in one turn of the loop. */
	usec_t active_us;
	uint64_t active_seq;
	/* Reading: the request so far. */
	char *in;
	size_t inlen, incap;
	size_t hdrlen; /* header line with its LF, 0 until the LF is seen */
	/* Writing: status line, body, and the truncation note, in order. */
	char status[CTL_MAX_HEADER + 1];
	size_t statuslen;
	struct ctl_out body; /* with its stream, when it has one */
	const char *trailer;
	size_t trailerlen;
	size_t outoff; /* bytes of the concatenation already sent */
};

/* A client that asked to follow the events: its answer (status line and
 * body, as a client's) goes first, then its queue of live events. */
struct follower {
	bool used;
	int fd;
	struct ctl_peer peer;
	char status[CTL_MAX_HEADER + 1];
	size_t statuslen;
	struct ctl_out head;
	size_t headoff; /* bytes of status and head already sent */
	struct evqueue q;
	bool slow_logged; /* its first drop was logged */
};

struct control {
	int fd;
	char *path;
	dev_t dev; /* the socket file we created, so close removes only ours */
	ino_t ino;
	bool have_group;
	gid_t gid;
	char *group;
	ctl_handler handler;
	void *arg;
	unsigned deadline_ms;
	size_t stream_chunk; /* bytes asked of a stream's cursor per turn */
	usec_t accept_paused_until;
	bool full_logged; /* "too many clients" logged for this episode */
	/* A drop to make room logged for this episode, which ends when a
	 * newcomer finds a free slot. */
	bool drop_logged;
	uint64_t seq; /* last active_seq handed out */
	unsigned nclients;
	struct client clients[CONTROL_MAX_CLIENTS];
	unsigned nfollowers;
	bool followers_full_logged; /* "too many followers" logged for this episode */
	struct follower followers[CONTROL_MAX_FOLLOWERS];
	struct ctl_request req; /* scratch: 17 kB is better off the stack */
};

/* ---- reply bodies ---- */

/* Makes room for need more bytes (plus a NUL for vsnprintf), doubling, never
 * past CONTROL_MAX_REPLY.  Returns the bytes available, which may be fewer
 * than asked at the cap or when memory runs out. */
static size_t out_reserve(struct ctl_out *o, size_t need)
{
	size_t want, ncap;
	char *nbuf;

	if (o->cap - o->len >= need + 1)
		return need;
	want = o->len + need + 1;
	if (want > CONTROL_MAX_REPLY + 1)
		want = CONTROL_MAX_REPLY + 1;
	ncap = o->cap ? o->cap : 4096;
	while (ncap < want)
		ncap *= 2;
	if (ncap > CONTROL_MAX_REPLY + 1)
		ncap = CONTROL_MAX_REPLY + 1;
	if (ncap > o->cap) {
		nbuf = realloc(o->buf, ncap);
		if (nbuf) {
			o->buf = nbuf;
			o->cap = ncap;
		}
	}
	return o->cap > o->len ? o->cap - o->len - 1 : 0;
}

void ctl_out_write(struct ctl_out *o, const char *data, size_t len)
{
	size_t room;

	if (o->truncated || len == 0)
		return;
	room = out_reserve(o, len);
	if (room < len) {
		/* At the cap (or out of memory): keep what fits and say so. */
		o->truncated = true;
		len = room;
	}
	if (len) {
		memcpy(o->buf + o->len, data, len);
		o->len += len;
		o->buf[o->len] = '\0';
	}
}

void ctl_out_printf(struct ctl_out *o, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	if (o->truncated)
		return;
	room = out_reserve(o, 256);
	va_start(ap, fmt);
	n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? room + 1 : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n <= room) {
		o->len += (size_t)n;
		return;
	}
	room = out_reserve(o, (size_t)n);
	if (room < (size_t)n)
		o->truncated = true;
	if (room == 0)
		return;
	/* Format again into the larger buffer; vsnprintf cuts it at room
	 * bytes when the cap was hit. */
	va_start(ap, fmt);
	vsnprintf(o->buf + o->len, room + 1, fmt, ap);
	va_end(ap);
	o->len += MIN((size_t)n, room);
}

void ctl_stream_free(struct ctl_stream *s)
{
	if (s->free && s->state)
		s->free(s->state);
	memset(s, 0, sizeof(*s));
}

/* ---- the listening socket ---- */

static int lookup_group(const char *name, gid_t *ret_gid)
{
	long initial = sysconf(_SC_GETGR_R_SIZE_MAX);
	size_t size = initial > 0 ? (size_t)initial : 1024;
	struct group grp, *res = NULL;
	char *buf = NULL;
	int r;

	for (;;) {
		char *nbuf = realloc(buf, size);

		if (!nbuf) {
			r = -ENOMEM;
			goto out;
		}
		buf = nbuf;
		r = getgrnam_r(name, &grp, buf, size, &res);
		if (r != ERANGE)
			break;
		if (size >= (1u << 20)) {
			r = -ERANGE;
			goto out;
		}
		size *= 2;
	}
	if (r != 0) {
		r = -r;
		goto out;
	}
	if (!res) {
		r = -ENOENT;
		goto out;
	}
	*ret_gid = res->gr_gid;
	r = 0;
out:
	free(buf);
	return r;
}

/* Is something listening at path?  1 yes, 0 no (nothing there, or a stale
 * socket that was removed), or -errno with a message. */
static int probe_existing(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	const char *path = sun->sun_path;
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		set_err(err, errlen, "%s exists and is not a socket", path);
		return -EEXIST;
	}
	/* Non-blocking, so that a live daemon with a full backlog answers
	 * EAGAIN instead of making us wait. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		set_err(err, errlen, "socket: %s", strerror(errno));
		return r;
	}
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 || errno == EAGAIN) {
		close(fd);
		set_err(err, errlen, "another quarantined is running on %s", path);
		return -EADDRINUSE;
	}
	r = -errno;
	close(fd);
	if (r != -ECONNREFUSED) {
		set_err(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	/* Nobody listens: left over by a daemon that died. */
	if (unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		set_err(err, errlen, "removing stale %s: %s", path, strerror(errno));
		return r;
	}
	return 0;
}

static int check_directory(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!slash)
		return 0; /* relative to the working directory, which exists */
	if (slash == path) {
		dir[0] = '/';
		dir[1] = '\0';
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	if (stat(dir, &st) < 0) {
		int r = -errno;

		if (errno == ENOENT)
			set_err(err, errlen, "directory %s of control socket does not exist", dir);
		else
			set_err(err, errlen, "directory %s: %s", dir, strerror(errno));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		set_err(err, errlen, "%s is not a directory", dir);
		return -ENOTDIR;
	}
	return 0;
}

int control_open(const char *path, const char *group, ctl_handler handler, void *arg,
		 struct control **ret, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct control *c = NULL;
	struct stat st;
	mode_t old_umask;
	int group_r = 0;
	int r;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		set_err(err, errlen, "control socket path too long (max %zu bytes): %s",
			sizeof(sun.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);

	c = calloc(1, sizeof(*c));
	if (!c) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->fd = -1;
	c->handler = handler;
	c->arg = arg;
	c->deadline_ms = CONTROL_DEADLINE_MS;
	c->stream_chunk = CONTROL_STREAM_CHUNK;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	for (unsigned i = 0; i < CONTROL_MAX_FOLLOWERS; i++)
		c->followers[i].fd = -1;

	if (group && group[0]) {
		group_r = lookup_group(group, &c->gid);
		if (group_r == 0) {
			c->have_group = true;
			c->group = strdup(group);
			if (!c->group) {
				r = -ENOMEM;
				set_err(err, errlen, "out of memory");
				goto fail;
			}
		}
	}

	r = check_directory(path, err, errlen);
	if (r < 0)
		goto fail;
	r = probe_existing(&sun, err, errlen);
	if (r < 0)
		goto fail;

	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		r = -errno;
		set_err(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	/* Born 0600: nobody else may connect before the group is right. */
	old_umask = umask(0177);
	r = bind(c->fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (r < 0) {
		r = -errno;
		if (errno == EADDRINUSE)
			set_err(err, errlen, "another quarantined is running on %s", path);
		else
			set_err(err, errlen, "bind %s: %s", path, strerror(errno));
		goto fail;
	}
	c->path = strdup(path);
	if (!c->path) {
		r = -ENOMEM;
		set_err(err, errlen, "out of memory");
		unlink(path);
		goto fail;
	}
	if (lstat(path, &st) < 0) {
		r = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail_unlink;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if (c->have_group) {
		/* The group first, then the mode, so that 0660 never applies
		 * to the wrong group. */
		if (chown(path, (uid_t)-1, c->gid) < 0) {
			r = -errno;
			set_err(err, errlen, "chown %s to group %s: %s", path, group,
				strerror(errno));
			goto fail_unlink;
		}
		if (chmod(path, 0660) < 0) {
			r = -errno;
			set_err(err, errlen, "chmod %s: %s", path, strerror(errno));
			goto fail_unlink;
		}
	}
	if (listen(c->fd, LISTEN_BACKLOG) < 0) {
		r = -errno;
		set_err(err, errlen, "listen %s: %s", path, strerror(errno));
		goto fail_unlink;
	}
	/* Said once, here, and only when the socket is up: the operator
	 * named a group that members cannot get access through. */
	if (group_r == -ENOENT)
		log_warnx("control: group %s does not exist; %s gets mode 0600 (root only)", group,
			  path);
	else if (group_r < 0)
		log_warnx("control: looking up group %s: %s; %s gets mode 0600 (root only)", group,
			  strerror(-group_r), path);
	*ret = c;
	return 0;

fail_unlink:
	unlink(path);
fail:
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	free(c->group);
	free(c);
	return r;
}

static void client_free(struct control *c, struct client *cl)
{
	if (cl->state == CL_FREE)
		return;
	if (cl->fd >= 0) /* -1: handed over to a follower */
		close(cl->fd);
	free(cl->in);
	free(cl->body.buf);
	ctl_stream_free(&cl->body.stream);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
	cl->state = CL_FREE;
	c->nclients--;
	if (c->nclients < CONTROL_MAX_CLIENTS)
		c->full_logged = false;
}

static void follower_free(struct control *c, struct follower *f)
{
	if (!f->used)
		return;
	log_debug("control: follower uid %u pid %d left (%llu events dropped for it)",
		  (unsigned)f->peer.uid, (int)f->peer.pid, (unsigned long long)f->q.dropped_total);
	close(f->fd);
	free(f->head.buf);
	evqueue_fini(&f->q);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	c->nfollowers--;
	c->followers_full_logged = false;
}

void control_close(struct control *c)
{
	struct stat st;

	if (!c)
		return;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		client_free(c, &c->clients[i]);
	for (unsigned i = 0; i < CONTROL_MAX_FOLLOWERS; i++)
		follower_free(c, &c->followers[i]);
	if (c->fd >= 0)
		close(c->fd);
	/* Only the file we bound: a successor may already have replaced it. */
	if (c->path && lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	free(c->path);
	free(c->group);
	free(c);
}

void control_set_deadline_ms(struct control *c, unsigned deadline_ms)
{
	c->deadline_ms = deadline_ms;
}

void control_set_stream_chunk(struct control *c, size_t bytes)
{
	c->stream_chunk = bytes ? bytes : 1;
}

unsigned control_clients(const struct control *c)
{
	return c->nclients;
}

unsigned control_followers(const struct control *c)
{
	return c->nfollowers;
}

/* ---- clients ---- */

static bool in_groups(const gid_t *groups, size_t n, gid_t gid)
{
	for (size_t i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* Is the peer on fd a member of gid?  Its supplementary groups as the
 * kernel saw them at connect (SO_PEERGROUPS, Linux 4.13). */
static bool peer_in_group(int fd, gid_t gid)
{
	gid_t stack[PEERGROUPS_STACK];
	socklen_t len = sizeof(stack);
	gid_t *heap;
	bool found;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, stack, &len) == 0)
		return in_groups(stack, len / sizeof(gid_t), gid);
	if (errno != ERANGE || len == 0 || len > PEERGROUPS_MAX * sizeof(gid_t))
		return false;
	/* len now holds the size the kernel needs. */
	heap = malloc(len);
	if (!heap)
		return false;
	found = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, heap, &len) == 0 &&
		in_groups(heap, len / sizeof(gid_t), gid);
	free(heap);
	return found;
}

/* Queues a reply (status line + body) and switches the client to writing.
 * Takes body's buffer when body is not NULL. */
static void client_reply(struct client *cl, int status, const char *msg, struct ctl_out *body)
{
	int n;

	free(cl->in);
	cl->in = NULL;
	cl->inlen = cl->incap = 0;

	n = ctl_status_format(cl->status, sizeof(cl->status), status, msg);
	if (n < 0) /* a msg the line cannot carry: keep the status */
		n = ctl_status_format(cl->status, sizeof(cl->status), status, "");
	cl->statuslen = n > 0 ? (size_t)n : 0;
	if (body) {
		cl->body = *body;
		memset(body, 0, sizeof(*body));
	}
	if (cl->body.truncated) {
		if (cl->body.len && cl->body.buf[cl->body.len - 1] != '\n') {
			cl->trailer = "\n" TRUNCATED_LINE;
			cl->trailerlen = sizeof("\n" TRUNCATED_LINE) - 1;
		} else {
			cl->trailer = TRUNCATED_LINE;
			cl->trailerlen = sizeof(TRUNCATED_LINE) - 1;
		}
	}
	cl->outoff = 0;
	cl->state = CL_WRITING;
}

/* Sends what the socket takes.  0 while more is to come, 1 when all is
 * sent, -errno when the peer is gone.  A streamed reply gets its next
 * chunk once the one before is sent, one chunk per call (per turn of the
 * loop), and its deadline moves on with each send that the peer takes. */
static int client_flush(struct control *c, struct client *cl, usec_t now)
{
	bool chunked = false;

	for (;;) {
		const char *seg[3] = {cl->status, cl->body.buf, cl->trailer};
		size_t segl[3] = {cl->statuslen, cl->body.len, cl->trailerlen};
		size_t off = cl->outoff;
		unsigned i = 0;
		ssize_t n;

		while (i < 3 && off >= segl[i]) {
			off -= segl[i];
			i++;
		}
		if (i == 3 && cl->body.stream.next) {
			bool more;

			if (chunked)
				return 0; /* the next turn writes the next chunk */
			/* The status line was sent with the first part; the
			 * body's buffer is reused for each chunk. */
			cl->body.len = 0;
			more = cl->body.stream.next(cl->body.stream.state, &cl->body,
						    c->stream_chunk);
			if (!more)
				ctl_stream_free(&cl->body.stream);
			cl->outoff = cl->statuslen;
			chunked = true;
			continue;
		}
		if (i == 3)
			return 1;
		/* MSG_NOSIGNAL: a peer that went away is EPIPE, not SIGPIPE. */
		n = send(cl->fd, seg[i] + off, segl[i] - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		cl->outoff += (size_t)n;
		if (cl->body.stream.next && n > 0)
			cl->deadline = now + (usec_t)c->deadline_ms * 1000;
	}
}

static void client_write(struct control *c, struct client *cl, usec_t now);

/* ---- followers ---- */

static bool follower_pending(const struct follower *f)
{
	const char *p;

	return f->headoff < f->statuslen + f->head.len || evqueue_peek(&f->q, &p) > 0;
}

/* Sends what the socket takes: the answer first, then the queue.  false
 * when the follower is gone (and its slot freed). */
static bool follower_flush(struct control *c, struct follower *f, usec_t now)
{
	for (;;) {
		size_t headlen = f->statuslen + f->head.len;
		bool head = f->headoff < headlen;
		const char *p;
		size_t len;
		ssize_t n;

		if (f->headoff < f->statuslen) {
			p = f->status + f->headoff;
			len = f->statuslen - f->headoff;
		} else if (head) {
			p = f->head.buf + (f->headoff - f->statuslen);
			len = headlen - f->headoff;
		} else {
			len = evqueue_peek(&f->q, &p);
			if (len == 0)
				return true;
		}
		n = send(f->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			log_debug("control: follower uid %u went away: %s", (unsigned)f->peer.uid,
				  strerror(errno));
			follower_free(c, f);
			return false;
		}
		if (head)
			f->headoff += (size_t)n;
		else
			evqueue_consume(&f->q, (size_t)n, now);
	}
}

/* Moves a client whose request asked to follow the events into the
 * followers' table, with its answer (status line, msg and body, which it
 * takes): the connection stays and the client's slot is free for the next
 * command.  0, or -EBUSY when the followers' budget is spent, -ENOMEM;
 * the client is then still the caller's, and body too. */
static int client_follow(struct control *c, struct client *cl, const char *msg,
			 struct ctl_out *body)
{
	struct follower *f = NULL;
	int n;

	for (unsigned i = 0; i < CONTROL_MAX_FOLLOWERS && !f; i++)
		if (!c->followers[i].used)
			f = &c->followers[i];
	if (!f) {
		if (!c->followers_full_logged) {
			log_warnx("control: %d clients follow the events already; refusing more "
				  "(uid %u pid %d)",
				  CONTROL_MAX_FOLLOWERS, (unsigned)cl->peer.uid, (int)cl->peer.pid);
			c->followers_full_logged = true;
		}
		return -EBUSY;
	}
	if (evqueue_init(&f->q, EVQUEUE_BYTES, body->follow_json) < 0) {
		log_warnx("control: out of memory for a follower of the events");
		return -ENOMEM;
	}
	n = ctl_status_format(f->status, sizeof(f->status), 0, msg);
	if (n < 0)
		n = ctl_status_format(f->status, sizeof(f->status), 0, "");
	f->statuslen = n > 0 ? (size_t)n : 0;
	/* The history is bounded by the recent events (evring.h), far
	 * below CONTROL_MAX_REPLY: it is never truncated. */
	f->head = *body;
	memset(body, 0, sizeof(*body));
	f->headoff = 0;
	f->fd = cl->fd;
	f->peer = cl->peer;
	f->used = true;
	c->nfollowers++;
	log_debug("control: uid %u pid %d follows the events (%u of %d)", (unsigned)f->peer.uid,
		  (int)f->peer.pid, c->nfollowers, CONTROL_MAX_FOLLOWERS);
	cl->fd = -1;
	client_free(c, cl);
	follower_flush(c, f, time_wall_us());
	return 0;
}

void control_publish(struct control *c, const char *text, const char *json, usec_t now)
{
	size_t tl = strlen(text), jl = strlen(json);

	for (unsigned i = 0; i < CONTROL_MAX_FOLLOWERS; i++) {
		struct follower *f = &c->followers[i];

		if (!f->used)
			continue;
		if (!evqueue_push(&f->q, f->q.json ? json : text, f->q.json ? jl : tl, now) &&
		    !f->slow_logged) {
			/* Once per follower: a stopped pager would otherwise
			 * log every event it misses. */
			log_info(
				"control: follower uid %u pid %d reads too slowly; dropping events "
				"for it",
				(unsigned)f->peer.uid, (int)f->peer.pid);
			f->slow_logged = true;
		}
		follower_flush(c, f, now);
	}
}

static struct follower *follower_by_fd(struct control *c, int fd)
{
	for (unsigned i = 0; i < CONTROL_MAX_FOLLOWERS; i++)
		if (c->followers[i].used && c->followers[i].fd == fd)
			return &c->followers[i];
	return NULL;
}

/* ---- answering ---- */

/* Answers a request that is complete in cl->in, or goes on with it
 * (CL_WORKING: the request is parsed again from cl->in, which stays, and
 * the handler finds its answer so far and its place in cl->body). */
static void client_handle(struct control *c, struct client *cl, usec_t now)
{
	struct ctl_request *req = &c->req;
	struct ctl_out out;
	char msg[CTL_VALUE_MAX];
	int status, r;

	r = ctl_request_parse(cl->in, cl->inlen, req, msg, sizeof(msg));
	if (r < 0) {
		log_debug("control: malformed request from uid %u pid %d: %s",
			  (unsigned)cl->peer.uid, (int)cl->peer.pid, msg);
		client_reply(cl, 2, msg, NULL);
		return;
	}
	if (!cl->peer.privileged) {
		log_warnx("control: refused %s from uid %u pid %d: not root%s%s", req->cmd,
			  (unsigned)cl->peer.uid, (int)cl->peer.pid,
			  c->have_group ? " nor in group " : "", c->have_group ? c->group : "");
		snprintf(msg, sizeof(msg), "permission denied (uid %u)", (unsigned)cl->peer.uid);
		client_reply(cl, 1, msg, NULL);
		return;
	}
	msg[0] = '\0';
	out = cl->body;
	memset(&cl->body, 0, sizeof(cl->body));
	out.more = false;
	status = c->handler(c->arg, req, &cl->peer, &out, msg, sizeof(msg));
	msg[sizeof(msg) - 1] = '\0';
	if (out.more) {
		/* The daemon is at work for it: the deadline runs from the
		 * last step, not from the accept. */
		cl->body = out;
		cl->state = CL_WORKING;
		cl->deadline = now + (usec_t)c->deadline_ms * 1000;
		return;
	}
	if (status < 0 || status > 2)
		status = 1;
	/* Only an answer streams, never a refusal nor a follower's head. */
	if (status != 0 || out.follow)
		ctl_stream_free(&out.stream);
	if (status == 0 && out.follow) {
		r = client_follow(c, cl, msg, &out);
		if (r == 0)
			return;
		free(out.buf);
		memset(&out, 0, sizeof(out));
		if (r == -EBUSY)
			snprintf(msg, sizeof(msg),
				 "too many followers: %d clients follow the events already",
				 CONTROL_MAX_FOLLOWERS);
		else
			snprintf(msg, sizeof(msg), "cannot follow the events: %s", strerror(-r));
		status = 1;
	}
	/* The body borrowed from cl->in is dead once the handler returns. */
	client_reply(cl, status, msg, &out);
	if (cl->body.stream.next)
		cl->deadline = now + (usec_t)c->deadline_ms * 1000;
}

/* Reads what is there.  The request ends when the client shuts down its
 * writing side. */
static void client_read(struct control *c, struct client *cl, usec_t now)
{
	size_t sliced = 0;

	while (sliced < READ_SLICE) {
		/* Never hold more than the caps allow, plus one byte of body
		 * to tell "exactly at the cap" from "over it".  The checks
		 * below end the loop before the space left reaches 0, so a
		 * recv() of 0 always means EOF. */
		size_t limit = cl->hdrlen ? cl->hdrlen + CTL_MAX_BODY + 1 : CTL_MAX_HEADER;
		size_t scan_from = cl->inlen;
		ssize_t n;

		if (cl->inlen == cl->incap) {
			size_t ncap = cl->incap ? cl->incap * 2 : IN_INITIAL;
			char *nbuf;

			if (ncap > CTL_MAX_HEADER + CTL_MAX_BODY + 1)
				ncap = CTL_MAX_HEADER + CTL_MAX_BODY + 1;
			nbuf = realloc(cl->in, ncap);
			if (!nbuf) {
				log_warnx("control: out of memory reading a request");
				client_free(c, cl);
				return;
			}
			cl->in = nbuf;
			cl->incap = ncap;
		}
		n = recv(cl->fd, cl->in + cl->inlen, MIN(cl->incap, limit) - cl->inlen,
			 MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_debug("control: client uid %u: %s", (unsigned)cl->peer.uid,
				  strerror(errno));
			client_free(c, cl);
			return;
		}
		if (n == 0) {
			client_handle(c, cl, now);
			/* Most answers fit the socket buffer.  A follower has
			 * left the table by now. */
			if (cl->state == CL_WRITING)
				client_write(c, cl, now);
			return;
		}
		cl->inlen += (size_t)n;
		sliced += (size_t)n;
		cl->active_us = now;
		cl->active_seq = ++c->seq;
		if (!cl->hdrlen) {
			size_t upto = MIN(cl->inlen, (size_t)CTL_MAX_HEADER);
			const char *lf = scan_from < upto ? memchr(cl->in + scan_from, '\n',
								   upto - scan_from)
							  : NULL;

			/* No LF in the first CTL_MAX_HEADER bytes: the line
			 * with its LF would be longer than allowed. */
			if (lf)
				cl->hdrlen = (size_t)(lf - cl->in) + 1;
			else if (cl->inlen >= CTL_MAX_HEADER)
				goto too_large;
		}
		if (cl->hdrlen && cl->inlen - cl->hdrlen > CTL_MAX_BODY)
			goto too_large;
	}
	return;

too_large:
	/* Stop reading: whatever else the client sends is discarded when we
	 * close. */
	log_warnx("control: request from uid %u pid %d too large", (unsigned)cl->peer.uid,
		  (int)cl->peer.pid);
	client_reply(cl, 2, "request too large", NULL);
	if (client_flush(c, cl, now) != 0)
		client_free(c, cl);
}

static void client_write(struct control *c, struct client *cl, usec_t now)
{
	int r = client_flush(c, cl, now);

	if (r < 0)
		log_debug("control: client uid %u went away: %s", (unsigned)cl->peer.uid,
			  strerror(-r));
	if (r != 0)
		client_free(c, cl);
}

/* Sends a status line with status 1 to a client about to be closed,
 * without waiting for it.  Best effort: a failed send leaves the client
 * with a closed connection, which says as much. */
static void tell_peer(int fd, const char *msg)
{
	char line[256];
	int n = ctl_status_format(line, sizeof(line), 1, msg);

	if (n > 0)
		(void)send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Tells a client we have no room for it, without waiting for it. */
static void reject_full(struct control *c, int fd)
{
	tell_peer(fd, "too many clients");
	close(fd);
	if (!c->full_logged) {
		log_warnx("control: %d clients connected, every one being answered; refusing more",
			  CONTROL_MAX_CLIENTS);
		c->full_logged = true;
	}
}

/* Makes room in a full table for a newcomer: drops the client that has
 * been silent longest among those that have not sent a whole request
 * yet.  A client being answered is never dropped: its request was whole
 * and its answer is owed.  A newcomer without privilege displaces only
 * another one without privilege, so that it cannot push an operator out
 * (it may connect only when the socket's mode was widened by hand).
 * Returns false when no client may go. */
static bool drop_idlest(struct control *c, bool privileged, usec_t now)
{
	struct client *victim = NULL;

	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct client *cl = &c->clients[i];

		if (cl->state != CL_READING || (!privileged && cl->peer.privileged))
			continue;
		if (!victim || cl->active_seq < victim->active_seq)
			victim = cl;
	}
	if (!victim)
		return false;
	/* One warning per episode of a full table: a stuck script that
	 * keeps connecting would otherwise fill the log. */
	if (!c->drop_logged) {
		log_warnx("control: %d clients connected; dropping the longest idle (uid %u pid "
			  "%d, silent %llu ms) to make room",
			  CONTROL_MAX_CLIENTS, (unsigned)victim->peer.uid, (int)victim->peer.pid,
			  (unsigned long long)((now - victim->active_us) / 1000));
		c->drop_logged = true;
	} else {
		log_debug("control: dropped idle client uid %u pid %d to make room",
			  (unsigned)victim->peer.uid, (int)victim->peer.pid);
	}
	tell_peer(victim->fd, "dropped: the control socket was full and this client had "
			      "not sent its request");
	client_free(c, victim);
	return true;
}

static void accept_clients(struct control *c, usec_t now)
{
	/* The backlog bounds how many wait; take them all so that refused
	 * ones hear so at once. */
	for (unsigned k = 0; k < LISTEN_BACKLOG + CONTROL_MAX_CLIENTS; k++) {
		struct client *cl = NULL;
		struct ucred cred;
		socklen_t len = sizeof(cred);
		bool privileged;
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_warn("control: accept");
				c->accept_paused_until = now + ACCEPT_PAUSE_US;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				log_warn("control: accept");
			}
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			log_warn("control: SO_PEERCRED");
			close(fd);
			continue;
		}
		privileged = cred.uid == 0 ||
			     (c->have_group && (cred.gid == c->gid || peer_in_group(fd, c->gid)));
		if (c->nclients < CONTROL_MAX_CLIENTS) {
			c->drop_logged = false;
		} else if (!drop_idlest(c, privileged, now)) {
			reject_full(c, fd);
			continue;
		}
		for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
			if (c->clients[i].state == CL_FREE) {
				cl = &c->clients[i];
				break;
			}
		if (!cl) { /* nclients says otherwise: cannot happen */
			close(fd);
			continue;
		}
		memset(cl, 0, sizeof(*cl));
		cl->fd = fd;
		cl->state = CL_READING;
		cl->deadline = now + (usec_t)c->deadline_ms * 1000;
		cl->active_us = now;
		cl->active_seq = ++c->seq;
		cl->peer.uid = cred.uid;
		cl->peer.gid = cred.gid;
		cl->peer.pid = cred.pid;
		cl->peer.privileged = privileged;
		c->nclients++;
		/* A client such as quarantinectl has usually sent its whole
		 * request by now: read it at once, so that it is being
		 * answered (and safe from being dropped) before later
		 * newcomers of this same turn need a slot. */
		client_read(c, cl, now);
	}
}

unsigned control_pollfds(struct control *c, struct pollfd *fds, unsigned max)
{
	unsigned n = 0;

	/* The listening socket first: control_dispatch accepts last, after
	 * the clients it already has, so fd numbers cannot be confused. */
	if (n < max && c->accept_paused_until == 0) {
		fds[n].fd = c->fd;
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		n++;
	}
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS && n < max; i++) {
		struct client *cl = &c->clients[i];

		/* A client being worked for has sent all and waits. */
		if (cl->state == CL_FREE || cl->state == CL_WORKING)
			continue;
		fds[n].fd = cl->fd;
		fds[n].events = cl->state == CL_READING ? POLLIN : POLLOUT;
		fds[n].revents = 0;
		n++;
	}
	/* A follower is never read (its request has ended, so it would be
	 * readable for ever); POLLHUP, which poll() reports unasked, says
	 * that it closed its end. */
	for (unsigned i = 0; i < CONTROL_MAX_FOLLOWERS && n < max; i++) {
		struct follower *f = &c->followers[i];

		if (!f->used)
			continue;
		fds[n].fd = f->fd;
		fds[n].events = follower_pending(f) ? POLLOUT : 0;
		fds[n].revents = 0;
		n++;
	}
	return n;
}

static struct client *client_by_fd(struct control *c, int fd)
{
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].state != CL_FREE && c->clients[i].fd == fd)
			return &c->clients[i];
	return NULL;
}

void control_dispatch(struct control *c, const struct pollfd *fds, unsigned n, usec_t now)
{
	bool listen_ready = false;

	/* One step of each long command a turn, before the requests read in
	 * this one (whose first step comes when they are read). */
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct client *cl = &c->clients[i];

		if (cl->state != CL_WORKING)
			continue;
		client_handle(c, cl, now);
		if (cl->state == CL_WRITING)
			client_write(c, cl, now);
	}

	for (unsigned i = 0; i < n; i++) {
		struct client *cl;

		if (!fds[i].revents)
			continue;
		if (fds[i].fd == c->fd) {
			listen_ready = true;
			continue;
		}
		/* POLLHUP and POLLERR too: the read or send says what it is. */
		cl = client_by_fd(c, fds[i].fd);
		if (!cl) {
			struct follower *f = follower_by_fd(c, fds[i].fd);

			if (f && (fds[i].revents & (POLLHUP | POLLERR)))
				follower_free(c, f);
			else if (f && (fds[i].revents & POLLOUT))
				follower_flush(c, f, time_wall_us());
			continue;
		}
		if (cl->state == CL_READING)
			client_read(c, cl, now);
		else if (cl->state == CL_WRITING)
			client_write(c, cl, now);
	}

	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct client *cl = &c->clients[i];

		if (cl->state == CL_FREE || now < cl->deadline)
			continue;
		log_warnx("control: client uid %u pid %d did not finish within %u ms; dropped",
			  (unsigned)cl->peer.uid, (int)cl->peer.pid, c->deadline_ms);
		client_free(c, cl);
	}

	if (c->accept_paused_until && now >= c->accept_paused_until)
		c->accept_paused_until = 0;
	if (listen_ready && c->accept_paused_until == 0)
		accept_clients(c, now);
}

int control_timeout_ms(const struct control *c, usec_t now)
{
	usec_t next = USEC_INFINITY;
	usec_t wait_us;

	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		if (c->clients[i].state == CL_WORKING)
			return 0;
		if (c->clients[i].state != CL_FREE)
			next = MIN(next, c->clients[i].deadline);
	}
	if (c->accept_paused_until)
		next = MIN(next, c->accept_paused_until);
	if (next == USEC_INFINITY)
		return -1;
	if (next <= now)
		return 0;
	/* Rounded up: waking a little late is fine, waking early spins. */
	wait_us = next - now;
	if (wait_us / 1000 >= INT_MAX)
		return INT_MAX;
	return (int)((wait_us + 999) / 1000);
}
