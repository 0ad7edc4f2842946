/* The control command of the sync program (quarantine-sync(8)): the
 * decisions of other gateways, applied through this daemon's own policy,
 * and what the sync program last said of the bus, for status. */
#ifndef QD_CMDSYNC_H
#define QD_CMDSYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "control.h"
#include "ctlproto.h"
#include "types.h"

/* The peers a report names, at most. */
#define SYNC_REPORT_PEERS     16
#define SYNC_REPORT_PEERS_LEN 512

/* What the sync program last reported (cmd=sync op=report). */
struct sync_report {
	usec_t at_us; /* when (wall clock); 0: never */
	bool connected;
	uint64_t applied, refused; /* decisions of other gateways since the daemon started */
	char gateway[33];
	char peers[SYNC_REPORT_PEERS_LEN]; /* "A,C": the gateways whose records were seen */
};

struct daemon;
/* cmd=sync: op=apply (a record of the bus in the body, rev=N), op=refuse
 * (rev=N, why: a record the sync program refused, told as an error
 * event), op=report (connected, peers, gateway) and op=rev, which answer
 * rev=N, the revision last applied.  Returns the reply's status, with msg filled. */
int cmd_sync(struct daemon *d, const struct ctl_request *req, const struct ctl_peer *peer,
	     char *msg, size_t msglen);
/* status's words on the bus: ",\"bus\":{...}" (json) or a line, nothing
 * when the sync program never reported. */
void cmd_sync_status(struct daemon *d, struct ctl_out *o, bool json);

#endif
