/* The feeds reader: a process of its own that follows what an IDS
 * writes (Suricata's eve.json, Zeek's notice.log in JSON, or Suricata's
 * unix_stream output, for which it owns the listening socket), parses
 * each line (eve.h, zeek.h), decides who is to be contained and at which
 * level (feedmap.h), and hands the parent typed outside detections
 * (feedproto.h).  What those tools write quotes what attackers send, so
 * it is parsed where nothing is held: the parent forks the reader after
 * its own privileges are dropped (the daemon's user, no capability at
 * all in the reader), the reader closes every descriptor but its channel
 * and stderr, opens its sockets, and enters its sandbox (sandbox.h: a
 * seccomp filter of the calls listed in feeds.c) before it reads a line.
 *
 * Files are polled (FEEDS_TICK_MS), read at most FEEDS_BUDGET bytes a
 * feed a turn (a flood of alerts is read at that pace, never spun on);
 * nothing is read while a message waits for room on the channel.  Its
 * positions go up as they move, the parent keeps them in the state
 * database and gives them back to the next reader (FP_RESUME). */
#ifndef QD_FEEDS_H
#define QD_FEEDS_H

#include <sys/types.h>

#include "conf.h"

#define FEEDS_TICK_MS	 200
#define FEEDS_BUDGET	 (256 * 1024) /* bytes a feed a turn */
#define FEEDS_CLIENTS	 4	      /* connections a socket feed takes at once */
#define FEEDS_ERRORS_SEC 10	      /* error messages a feed a second; more are counted */

struct feeds_params {
	const struct conf *c;
	int fd;	      /* the child's end of the channel */
	pid_t parent; /* the reader ends when the parent has gone */
};

/* The child's whole life after fork(): its exit status. */
int feeds_main(const struct feeds_params *p);

/* The system calls the reader's filter allows (for the tests). */
const char *const *feeds_syscalls(unsigned *ret_n);

#endif
