/* Operators by name: the peer's user name and the claimed sudo user
 * (actor.h).  Pure but for actor_resolve(). */
#include "actor.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

bool actor_name_valid(const char *s)
{
	size_t n = strnlen(s, ACTOR_NAME_MAX);

	if (n == 0 || n >= ACTOR_NAME_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-')
			continue;
		if (c == '$' && i == n - 1 && n > 1)
			continue;
		return false;
	}
	return true;
}

void actor_resolve(struct actor *ret, uid_t uid)
{
	/* Room for a passwd entry with long GECOS and paths; a longer one
	 * (ERANGE) leaves the name unknown rather than allocating. */
	char buf[4096];
	struct passwd pw, *res = NULL;

	ret->name[0] = '\0';
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res || !res->pw_name)
		return;
	if (actor_name_valid(res->pw_name))
		snprintf(ret->name, sizeof(ret->name), "%s", res->pw_name);
}

/* A uid in decimal: digits only, at most UINT32_MAX - 1 ((uid_t)-1 is no
 * uid). */
static int parse_uid(const char *s, uint32_t *ret)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 10)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v >= UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

int actor_claim(struct actor *a, uid_t uid, const char *sudo_user, const char *sudo_uid)
{
	uint32_t u;

	if (!sudo_user && !sudo_uid)
		return 0;
	if (!sudo_user || !sudo_uid || !actor_name_valid(sudo_user) || parse_uid(sudo_uid, &u) < 0)
		return -EINVAL;
	if (u == (uint32_t)uid)
		return 0;
	snprintf(a->sudo_user, sizeof(a->sudo_user), "%s", sudo_user);
	a->sudo_uid = u;
	return 0;
}

const char *actor_text(long uid, const struct actor *a, char *buf, size_t len)
{
	bool name = a && a->name[0], sudo = a && a->sudo_user[0];

	if (uid < 0)
		snprintf(buf, len, "auto");
	else if (name && sudo)
		snprintf(buf, len, "%s (uid %ld, sudo from %s, claimed)", a->name, uid,
			 a->sudo_user);
	else if (name)
		snprintf(buf, len, "%s (uid %ld)", a->name, uid);
	else if (sudo)
		snprintf(buf, len, "uid %ld (sudo from %s, claimed)", uid, a->sudo_user);
	else
		snprintf(buf, len, "uid %ld", uid);
	return buf;
}

const char *actor_json(long uid, const struct actor *a, char *buf, size_t len)
{
	size_t n;

	if (uid < 0) {
		snprintf(buf, len, ",\"by\":\"auto\"");
		return buf;
	}
	n = (size_t)snprintf(buf, len, ",\"by\":\"%ld\"", uid);
	if (a && a->name[0] && n < len)
		n += (size_t)snprintf(buf + n, len - n, ",\"by_name\":\"%s\"", a->name);
	if (a && a->sudo_user[0] && n < len)
		snprintf(buf + n, len - n, ",\"by_claimed\":{\"sudo_user\":\"%s\",\"sudo_uid\":%u}",
			 a->sudo_user, (unsigned)a->sudo_uid);
	return buf;
}
