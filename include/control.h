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
 * command, others are refused. */
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

struct ctl_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool privileged; /* root or a member of control.group */
};

/* A growable reply body with a hard cap.  Handlers append to it.  A zeroed
 * struct is an empty body; its owner frees buf (control.c, for replies). */
struct ctl_out {
	char *buf;
	size_t len, cap;
	bool truncated; /* CONTROL_MAX_REPLY reached */
};

void ctl_out_printf(struct ctl_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ctl_out_write(struct ctl_out *o, const char *data, size_t len);

/* Handles one parsed request from a privileged peer; writes the answer's
 * body to out and the one-line message to msg; returns the status (0, 1
 * or 2).  Runs inside the daemon's loop: it must not block for long. */
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
/* Milliseconds until the next client deadline, or -1 when none. */
int control_timeout_ms(const struct control *c, usec_t now);
unsigned control_clients(const struct control *c);

#endif
