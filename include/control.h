/* The control socket server: a Unix stream socket, one request per
 * connection, a bounded number of clients, each with a deadline, all
 * non-blocking, so that no client can stall the daemon (SPEC section 7).
 *
 * When every slot is taken, a newcomer takes the slot of the client that
 * has been silent longest without sending a whole request (that client
 * is told so and closed), so that idle or stuck clients never lock an
 * operator out.  Clients being answered keep their slots; only when all
 * of them are is a newcomer refused with "too many clients".  A newcomer
 * without privilege may displace only others without privilege.
 *
 * The socket is created under a restrictive umask and then given mode 0660
 * and the group control.group; when that group does not exist the daemon
 * warns and uses 0600.  Every client's credentials (SO_PEERCRED, and its
 * groups) are read at accept; root and members of the group may run every
 * command, others are refused.
 *
 * A handler may turn its client into a follower (quarantinectl events
 * --follow): after the answer the connection stays open and each event the
 * daemon publishes (control_publish()) follows as one line.  Followers
 * have a table of their own, CONTROL_MAX_FOLLOWERS, so that they never
 * take the slots operators need for commands; no deadline, since they are
 * meant to stay; and a bounded queue each (evqueue.h), so that a follower
 * that reads slowly has events dropped, and is told how many, rather than
 * slowing the daemon.  A follower that closes its end frees its slot at
 * once; one more than the budget is refused with "too many followers".
 *
 * A reply that grows with the registry (list) is streamed: the handler
 * writes its head and hands over a cursor (struct ctl_stream); once what
 * is written has been sent, the server asks the cursor for the next chunk
 * of about CONTROL_STREAM_CHUNK bytes, one chunk per client per turn of
 * the loop, only when the client's socket has taken everything before.
 * So a reply of any size costs one chunk of memory, and the packet path
 * and the other clients wait for one chunk at most.  A streamed reply has
 * no cap.  Its client's deadline moves with its reading: each time its
 * socket takes bytes, it has CONTROL_DEADLINE_MS more; a client that stops
 * reading for that long is dropped. */
#ifndef QD_CONTROL_H
#define QD_CONTROL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ctlproto.h"
#include "types.h"

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_DEADLINE_MS 10000 /* a client must finish within this */
#define CONTROL_MAX_REPLY   (64u << 20)
/* What a streamed reply's cursor writes per turn: large enough that a
 * send() moves a socket buffer's worth, small enough to cost well under
 * a millisecond to render (about 600 JSON hosts). */
#define CONTROL_STREAM_CHUNK (128u << 10)
/* Followers: a few dashboards, chat bridges and SIEM shippers on one
 * gateway.  Their queues cost 8 x EVQUEUE_BYTES (512 KiB) at most. */
#define CONTROL_MAX_FOLLOWERS 8
/* What control_pollfds() may fill: the listening socket and every client. */
#define CONTROL_MAX_POLLFDS (1 + CONTROL_MAX_CLIENTS + CONTROL_MAX_FOLLOWERS)

struct ctl_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool privileged; /* root or a member of control.group */
};

struct ctl_out;

/* A cursor that writes a reply chunk by chunk (see above).  next()
 * appends the next chunk, of about chunk bytes (possibly none when its
 * work for the turn found nothing to write), to out and returns true
 * while more is to come, false after the last (which it wrote, possibly
 * nothing).  free() (may be NULL) frees state,
 * once, when the reply is done or the client has gone. */
struct ctl_stream {
	bool (*next)(void *state, struct ctl_out *out, size_t chunk);
	void (*free)(void *state);
	void *state;
};

/* A growable reply body with a hard cap.  Handlers append to it.  A zeroed
 * struct is an empty body; its owner frees buf (control.c, for replies). */
struct ctl_out {
	char *buf;
	size_t len, cap;
	bool truncated; /* CONTROL_MAX_REPLY reached */
	/* Set by a handler: after this answer (status 0), keep the
	 * connection and send it every published event, as JSON lines when
	 * follow_json, else as text lines. */
	bool follow;
	bool follow_json;
	/* Set by a handler with more to do for this request (a long list):
	 * it is called again, with the same request and this out, on the
	 * next turn of the daemon's loop, so that other clients and the
	 * daemon's own work are not kept waiting meanwhile.  resume, zero at
	 * the first call, is the handler's own to keep its place.  The answer
	 * goes when a call returns without more. */
	bool more;
	uint64_t resume[8];
	/* Set by a handler whose answer streams (status 0 only); the
	 * server owns it from then on. */
	struct ctl_stream stream;
};

/* Frees a stream's state, if any, and clears it.  Idempotent. */
void ctl_stream_free(struct ctl_stream *s);

void ctl_out_printf(struct ctl_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ctl_out_write(struct ctl_out *o, const char *data, size_t len);

/* Handles one parsed request from a privileged peer; writes the answer's
 * body to out and the one-line message to msg; returns the status (0, 1
 * or 2).  Runs inside the daemon's loop: it must not block for long (a
 * long task sets out->more and goes on at the next call). */
typedef int (*ctl_handler)(void *arg, const struct ctl_request *req, const struct ctl_peer *peer,
			   struct ctl_out *out, char *msg, size_t msglen);

struct control;

/* Creates the socket at path (replacing a stale one, refusing when another
 * daemon answers there).  0, or -errno with a message in err. */
int control_open(const char *path, const char *group, ctl_handler handler, void *arg,
		 struct control **ret, char *err, size_t errlen);
/* Removes the socket file and closes every client.  NULL is a no-op. */
void control_close(struct control *c);
/* Fills up to max pollfds for the listening socket and the clients.
 * Returns the number filled. */
unsigned control_pollfds(struct control *c, struct pollfd *fds, unsigned max);
/* Handles the events of the pollfds filled by control_pollfds(), and
 * expires clients past their deadline: call it on every turn of the loop,
 * events or not.  now is CLOCK_MONOTONIC. */
void control_dispatch(struct control *c, const struct pollfd *fds, unsigned n, usec_t now);
/* Sets the time a client has from accept to the end of its answer, for
 * clients accepted from now on (default CONTROL_DEADLINE_MS; the tests
 * shorten it). */
void control_set_deadline_ms(struct control *c, unsigned deadline_ms);
/* Sets the bytes a streamed reply's cursor is asked for per turn
 * (default CONTROL_STREAM_CHUNK; the tests make it small to see many
 * chunks). */
void control_set_stream_chunk(struct control *c, size_t bytes);
/* Milliseconds until the next client deadline, or -1 when none; 0 when
 * a handler has more to do (out->more). */
int control_timeout_ms(const struct control *c, usec_t now);
/* Clients with a command under way, followers excluded. */
unsigned control_clients(const struct control *c);
unsigned control_followers(const struct control *c);
/* Hands one event to every follower: text (the text line: timestamp, then
 * key=value) or json (the JSON object), by the format each asked for;
 * neither with a newline.  Queues, sends what the socket takes at once,
 * and never waits.  now (wall clock) stamps drop lines. */
void control_publish(struct control *c, const char *text, const char *json, usec_t now);

#endif
