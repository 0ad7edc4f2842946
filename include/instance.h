/* Single instance: a daemon claims what it owns before it touches the
 * kernel, the state or the control socket, so that a second quarantined
 * started by mistake exits without changing anything.
 *
 * Two claims, because two daemons can collide in two ways:
 * - the state directory: an exclusive flock() on the directory itself,
 *   held for the daemon's life (two daemons with the same -D would
 *   overwrite each other's saves);
 * - the nftables table: an abstract AF_UNIX socket bound to
 *   "@quarantined/FAMILY/TABLE".  Abstract names live in the network
 *   namespace, as the table does, so two daemons with different state
 *   directories that would share one table collide here; daemons in
 *   different namespaces do not.
 *
 * Both go away with the process, even after kill -9: nothing stale is
 * left to clean up, and a restart never waits for a timeout.  A forked
 * child shares them (the lock belongs to the open file, the name to the
 * socket): one that may outlive the daemon calls instance_release() on
 * its copy, which leaves the parent's claims in place. */
#ifndef QD_INSTANCE_H
#define QD_INSTANCE_H

#include <stddef.h>

/* The abstract name without its leading NUL, e.g. "quarantined/inet/qd". */
#define INSTANCE_NAME_MAX 107

struct instance {
	int dir_fd;   /* the state directory, flock()ed; -1 when not held */
	int table_fd; /* the abstract socket; -1 when not held */
};

/* Nothing held. */
void instance_init(struct instance *in);

/* Takes an exclusive lock on the directory dir (which must exist), without
 * waiting.  0; -EBUSY when another process holds it; another -errno.  The
 * message in err names what was found. */
int instance_lock_dir(struct instance *in, const char *dir, char *err, size_t errlen);

/* Binds the abstract socket named after family ("inet", "bridge") and
 * table.  0; -EBUSY when another process in this network namespace holds
 * it; another -errno.  The message in err names what was found. */
int instance_lock_table(struct instance *in, const char *family, const char *table, char *err,
			size_t errlen);

/* The abstract name for family and table, without the leading NUL, in buf
 * (at least INSTANCE_NAME_MAX + 1 bytes).  0 or -ENAMETOOLONG. */
int instance_table_name(const char *family, const char *table, char *buf, size_t len);

/* Lets go of both (closing the descriptors); a no-op for what is not
 * held. */
void instance_release(struct instance *in);

#endif
