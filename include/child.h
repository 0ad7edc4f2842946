/* A supervised child process (the sensor, sensor.c and sensorlink.c;
 * the feeds reader, feeds.c and feedlink.c).  The parent's side:
 * starting it on a channel, reading its messages a bounded number at a
 * time, killing and reaping it, telling how it ended, and when the next
 * one starts.  The child's side: what every child does first, before
 * anything of its own (signals, descriptors, its tie to the parent), and
 * last (its sandbox).
 *
 * A child that dies soon after its start is started again after a
 * backoff: CHILD_BACKOFF_MIN_US, doubling up to CHILD_BACKOFF_MAX_US for
 * each one that dies within CHILD_STABLE_US of its start; one that ran
 * longer than that is started again after the least. */
#ifndef QD_CHILD_H
#define QD_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ipc.h"
#include "sandbox.h"
#include "types.h"

#define CHILD_BACKOFF_MIN_US USEC_PER_SEC
#define CHILD_BACKOFF_MAX_US (60 * USEC_PER_SEC)
#define CHILD_STABLE_US	     (10 * USEC_PER_SEC) /* running this long resets the backoff */

/* When a child started at started_mono and gone (or failed to start) at
 * mono starts again; *backoff_us (CHILD_BACKOFF_MIN_US at first) is the
 * wait, and becomes the next one's.  Pure. */
usec_t child_restart_at(usec_t *backoff_us, usec_t started_mono, usec_t mono);

/* Whole seconds, rounded, from mono until at; 0 when at has passed.  For
 * the alerts that say when the next child starts. */
unsigned long long child_delay_s(usec_t at, usec_t mono);

/* Forks a child on a new channel: in the child, run(arg, fd, parent)
 * with its end of the channel and the parent's pid, its return the exit
 * status; here, c set up on the parent's end (types: what the parent
 * accepts).  bufsize > 0: the channel's buffers at each end, past the
 * unprivileged limit if CAP_NET_ADMIN allows.  0 with *ret_pid, or
 * -errno with err filled (name says whose channel). */
int child_spawn(struct ipc *c, const struct ipc_type *types, unsigned ntypes, int bufsize,
		int (*run)(void *arg, int fd, pid_t parent), void *arg, const char *name,
		pid_t *ret_pid, char *err, size_t errlen);

/* Kills *pid (SIGKILL) and reaps it, closes its channel c; *pid becomes
 * 0.  Its wait status; 0 when *pid was 0 already. */
int child_kill(pid_t *pid, struct ipc *c);

/* The alert for a child that ended unasked, from its wait status:
 *
 *   NAME (pid N) died of signal S (DESCRIPTION)[: ...]; MEANWHILEa new one starts in D s
 *   NAME (pid N) ended (status X); MEANWHILEa new one starts in D s
 *
 * meanwhile ("" or a clause ending in ", ") says what holds until then. */
void child_ended_text(char *buf, size_t size, const char *name, pid_t pid, int status,
		      const char *meanwhile, unsigned long long delay_s);

/* What child_read() found. */
enum child_read {
	CHILD_READ_OK,	      /* nothing more for now, or the handler ended the child */
	CHILD_READ_MALFORMED, /* a message broke the declarations (ipc_recv()'s -EPROTO) */
	CHILD_READ_GONE,      /* end of file, a receive error, or the handler's error */
};

/* Hands at most max messages from the child's channel c to handle (0:
 * go on; < 0: the child broke the protocol).  Stops when the channel has
 * nothing queued, or is closed (fd -1: the handler killed the child).
 * A descriptor sent along is closed first (never declared: ipc_recv()
 * refuses it before).  On MALFORMED and GONE the caller ends the child. */
enum child_read child_read(struct ipc *c, unsigned max,
			   int (*handle)(void *arg, const struct ipc_msg *m, usec_t wall),
			   void *arg, usec_t wall);

/* ---- in the child ---- */

/* The parent's signal mask and dispositions are not the child's: none
 * blocked, SIGTERM's default.  A terminal's ^C and hangup go to the
 * whole process group: the parent handles them (and ends the child), and
 * the child's own death by them would be alerted as one; they are
 * ignored, and so is SIGPIPE (a parent gone is an error of the send). */
void child_signals(void);

/* Closes every descriptor from 3 up but those in keep (n of them, sorted
 * here): the parent's netlink sockets, control socket, state lock and
 * files are none of the child's business, and must not outlive the
 * parent in it. */
void child_close_others(int *keep, unsigned n);

/* The parent's death ends the child (SIGKILL).  false when the parent
 * has gone already, before the tie: the child ends. */
bool child_tie(pid_t parent);

/* A non-blocking, close-on-exec timer that fires every ms.  Its
 * descriptor, or -errno. */
int child_timer(unsigned ms);

/* Enters the sandbox (sandbox.h) with the system calls in allow, those
 * of cond under their conditions, and those the sanitizers of this build
 * need.  0, or -errno with err filled. */
int child_sandbox(const char *const *allow, unsigned n, const struct sandbox_cond *cond,
		  unsigned ncond, char *err, size_t errlen);

#endif
