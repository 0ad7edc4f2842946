/* Single instance: a flock() on the state directory and an abstract
 * AF_UNIX name for the table, both taken before anything is changed. */
#include "instance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "types.h"

void instance_init(struct instance *in)
{
	in->dir_fd = -1;
	in->table_fd = -1;
}

int instance_lock_dir(struct instance *in, const char *dir, char *err, size_t errlen)
{
	int fd, r;

	/* The directory itself, not a file in it: nothing to create, nothing
	 * left behind, and the same inode whatever path or symlink names it. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		set_err(err, errlen, "state-dir lock: %s: %s", dir, strerror(errno));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		if (errno == EWOULDBLOCK) {
			r = -EBUSY;
			set_err(err, errlen,
				"state-dir lock: %s is locked by another quarantined (is one "
				"already running with this state directory?)",
				dir);
		} else {
			set_err(err, errlen, "state-dir lock: flock %s: %s", dir, strerror(errno));
		}
		close(fd);
		return r;
	}
	in->dir_fd = fd;
	return 0;
}

int instance_table_name(const char *family, const char *table, char *buf, size_t len)
{
	int n = snprintf(buf, len, "quarantined/%s/%s", family, table);

	if (n < 0 || (size_t)n >= len || n > INSTANCE_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int instance_lock_table(struct instance *in, const char *family, const char *table, char *err,
			size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char name[INSTANCE_NAME_MAX + 1];
	socklen_t salen;
	int fd, r;

	r = instance_table_name(family, table, name, sizeof(name));
	if (r < 0) {
		set_err(err, errlen, "table lock: name too long for table %s %s", family, table);
		return r;
	}
	/* An abstract name: sun_path starts with NUL, and its length is the
	 * address length (no terminating NUL). */
	memcpy(sun.sun_path + 1, name, strlen(name));
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		set_err(err, errlen, "table lock: socket: %s", strerror(errno));
		return r;
	}
	if (bind(fd, (const struct sockaddr *)&sun, salen) < 0) {
		r = -errno;
		if (errno == EADDRINUSE) {
			r = -EBUSY;
			set_err(err, errlen,
				"table lock: another quarantined in this network namespace holds "
				"table %s %s (abstract socket @%s)",
				family, table, name);
		} else {
			set_err(err, errlen, "table lock: bind @%s: %s", name, strerror(errno));
		}
		close(fd);
		return r;
	}
	in->table_fd = fd;
	return 0;
}

void instance_release(struct instance *in)
{
	if (in->dir_fd >= 0)
		close(in->dir_fd);
	if (in->table_fd >= 0)
		close(in->table_fd);
	instance_init(in);
}
