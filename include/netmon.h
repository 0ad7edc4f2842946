/* The gateway's own addresses, found at start and kept current from
 * rtnetlink address notifications, so that policy never blocks them. */
#ifndef QD_NETMON_H
#define QD_NETMON_H

#include <stdbool.h>

#include "addr.h"

#define NETMON_MAX_ADDRS 512

struct netmon;

/* Opens an rtnetlink socket subscribed to IPv4/IPv6 address changes and
 * reads the current addresses.  0 or -errno. */
int netmon_open(struct netmon **ret);
void netmon_close(struct netmon *m); /* NULL is a no-op */
int netmon_fd(const struct netmon *m);
/* Reads pending notifications.  Returns 1 when the set of addresses
 * changed, 0 when not, -errno on failure (-ENOBUFS: notifications were
 * lost; the addresses have been read again from scratch). */
int netmon_read(struct netmon *m);
bool netmon_is_self(const struct netmon *m, const struct qaddr *a);
/* The current addresses (for status). */
unsigned netmon_addrs(const struct netmon *m, const struct qaddr **ret);

#endif
