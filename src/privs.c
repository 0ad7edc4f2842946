/* Dropping privileges; see privs.h. */
#include "privs.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int capget_masks(unsigned long long *eff, unsigned long long *prm, unsigned long long *inh)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	*eff = d[0].effective | (unsigned long long)d[1].effective << 32;
	*prm = d[0].permitted | (unsigned long long)d[1].permitted << 32;
	if (inh)
		*inh = d[0].inheritable | (unsigned long long)d[1].inheritable << 32;
	return 0;
}

static int capset_masks(unsigned long long eff, unsigned long long prm, unsigned long long inh)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {
		{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
		{(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
	};

	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

int privs_current(unsigned long long *ret_eff, unsigned long long *ret_prm,
		  unsigned long long *ret_amb)
{
	int r = capget_masks(ret_eff, ret_prm, NULL);

	if (r < 0)
		return r;
	*ret_amb = 0;
	for (int cap = 0; cap < 64; cap++) {
		int v = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
		if (v < 0)
			break; /* past the last capability */
		if (v == 1)
			*ret_amb |= 1ULL << cap;
	}
	return 0;
}

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int v = 40;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 40;
		fclose(f);
	}
	return v;
}

/* Hands dir, and what is directly in it (and in its evidence/), to the user. */
static int give_dir(const char *dir, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char path[4096];
	DIR *d;
	struct dirent *de;

	if (chown(dir, uid, gid) < 0) {
		int r = -errno;
		snprintf(err, errlen, "chown %s: %s", dir, strerror(errno));
		return r;
	}
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (strcmp(de->d_name, "evidence") == 0) {
			int r = give_dir(path, uid, gid, err, errlen);
			if (r < 0) {
				closedir(d);
				return r;
			}
		} else if (lchown(path, uid, gid) < 0) {
			int r = -errno;
			snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
			closedir(d);
			return r;
		}
	}
	closedir(d);
	return 0;
}

/* A failed step: its name and errno, as -errno. */
static int fail(char *err, size_t errlen, const char *what)
{
	int e = errno ? errno : EPERM;

	snprintf(err, errlen, "%s: %s", what, strerror(e));
	return -e;
}

int privs_drop(const char *user, const char *const *dirs, unsigned ndirs, struct privs_result *ret,
	       char *err, size_t errlen)
{
	unsigned long long eff = 0, prm = 0, inh = 0;
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (getuid() == 0 || geteuid() == 0) {
		if (getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) != 0)
			pwp = NULL;
		if (pwp) {
			for (unsigned i = 0; i < ndirs; i++) {
				r = give_dir(dirs[i], pwp->pw_uid, pwp->pw_gid, err, errlen);
				if (r < 0)
					return r;
			}
		}
		/* The bounding set, while we still have CAP_SETPCAP. */
		for (int cap = 0; cap <= last_cap(); cap++)
			if (!(PRIVS_KEEP & (1ULL << cap)) &&
			    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
				return fail(err, errlen,
					    "dropping a capability from the bounding set");
		if (pwp) {
			if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
				return fail(err, errlen, "PR_SET_KEEPCAPS");
			if (initgroups(pwp->pw_name, pwp->pw_gid) < 0)
				return fail(err, errlen, "initgroups");
			if (setresgid(pwp->pw_gid, pwp->pw_gid, pwp->pw_gid) < 0)
				return fail(err, errlen, "setresgid");
			if (setresuid(pwp->pw_uid, pwp->pw_uid, pwp->pw_uid) < 0)
				return fail(err, errlen, "setresuid");
			ret->switched = true;
		} else {
			ret->no_user = true;
		}
	}
	/* Effective and permitted: the two, as far as we hold them;
	 * inheritable and ambient: nothing. */
	r = capget_masks(&eff, &prm, &inh);
	if (r < 0) {
		snprintf(err, errlen, "capget: %s", strerror(-r));
		return r;
	}
	r = capset_masks(prm & PRIVS_KEEP, prm & PRIVS_KEEP, 0);
	if (r < 0) {
		snprintf(err, errlen, "capset: %s", strerror(-r));
		return r;
	}
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return fail(err, errlen, "PR_SET_KEEPCAPS");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return fail(err, errlen, "clearing the ambient set");
	/* Nothing we could exec may give any of it back. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, "PR_SET_NO_NEW_PRIVS");

	/* Check rather than trust. */
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return fail(err, errlen, "getresuid");
	if (ret->switched && (ru != pwp->pw_uid || eu != ru || su != ru || rg != pwp->pw_gid ||
			      eg != rg || sg != rg)) {
		snprintf(err, errlen, "still uid %u/%u/%u gid %u/%u/%u after the switch",
			 (unsigned)ru, (unsigned)eu, (unsigned)su, (unsigned)rg, (unsigned)eg,
			 (unsigned)sg);
		return -EPERM;
	}
	if (ret->switched && setuid(0) == 0) {
		snprintf(err, errlen, "could become root again after the switch");
		return -EPERM;
	}
	r = capget_masks(&eff, &prm, &inh);
	if (r < 0 || (eff & ~PRIVS_KEEP) || (prm & ~PRIVS_KEEP) || inh) {
		snprintf(err, errlen, "capabilities left: effective %llx permitted %llx", eff, prm);
		return -EPERM;
	}
	ret->uid = ru;
	ret->gid = rg;
	return 0;
}
