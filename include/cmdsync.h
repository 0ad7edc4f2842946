/* The control command of the sync program (quarantine-sync(8)): the
 * decisions of other gateways, applied through this daemon's own policy,
 * and what the sync program last said of the bus, for status. */
#ifndef QD_CMDSYNC_H
#define QD_CMDSYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "control.h"
#include "ctlproto.h"
#include "syncmsg.h"
#include "types.h"

/* What the sync program last reported (cmd=sync op=report;
 * quarantine-sync(8), STATUS).  Times are wall clocks, in µs. */
struct sync_report {
	usec_t at_us; /* when (wall clock); 0: never */
	bool connected;
	usec_t since_us;	   /* connected, or not, since; 0: not said */
	uint64_t applied, refused; /* decisions of other gateways since the daemon started */
	char gateway[33];
	char server[256]; /* the server it is connected to, "" none */
	/* The peers, the most recent first: name and the bus's time of its
	 * latest record; peers_more: the others it did not name. */
	struct sync_peer peers[SYNC_REPORT_PEERS];
	unsigned npeers;
	uint64_t peers_more;
	/* The last revision the sync program handled (applied, refused or
	 * skipped: seen_known), the stream's last (last_known), the bus's
	 * time of the first record after the one handled (0: none known). */
	bool seen_known, last_known;
	uint64_t seen, last, oldest_us;
	uint64_t outbox; /* this gateway's decisions waiting for the bus */
	uint64_t view;	 /* machines in its view */
	/* The view rebuilt from the bucket at its start: records, ms. */
	bool rebuilt;
	uint64_t rebuilt_records, rebuilt_ms;
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
