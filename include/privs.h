/* Least privilege: once the capture handles, the netlink sockets and the
 * control socket are open, the daemon keeps CAP_NET_ADMIN (nftables) and
 * CAP_NET_RAW (reopening a capture) and nothing else, and runs as its own
 * user.  Any failure to drop is fatal: running with more than we think is
 * worse than not running (sshguard's sandbox.c warns and carries on; that
 * is the mistake to avoid). */
#ifndef QD_PRIVS_H
#define QD_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PRIVS_USER "quarantined"

/* The two capabilities as a mask of (1 << CAP_*). */
#define PRIVS_KEEP ((1ULL << 12) | (1ULL << 13)) /* CAP_NET_ADMIN, CAP_NET_RAW */

struct privs_result {
	uid_t uid;
	gid_t gid;
	bool switched; /* changed from root to the user */
	bool no_user;  /* root, but the user does not exist: stayed uid 0 */
};

/* Drops to `user` (when running as root and it exists) keeping only the
 * two capabilities in the effective and permitted sets, clears the
 * inheritable and ambient sets and every other capability from the
 * bounding set.  The paths in dirs (may be NULL) are given to the user
 * first so that it can write its state there.  0, or -errno with a
 * message in err (fatal for the caller). */
int privs_drop(const char *user, const char *const *dirs, unsigned ndirs, struct privs_result *ret,
	       char *err, size_t errlen);

/* The current effective, permitted and ambient capability masks. */
int privs_current(unsigned long long *ret_eff, unsigned long long *ret_prm,
		  unsigned long long *ret_amb);

#endif
