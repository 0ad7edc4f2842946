/* Who did something, in operators' words: the user name of the uid the
 * kernel reports for a control client (SO_PEERCRED), and, under sudo,
 * the invoking user that the client says it runs for (SUDO_USER and
 * SUDO_UID).  The uid itself is kept where it always was (hostrec.by_uid,
 * hist.uid, event.by_uid); this is what goes with it.
 *
 * The name is the daemon's own finding (getpwuid_r() of the peer's uid).
 * The sudo user is a claim: the client reads it from its environment,
 * which anyone can set, and the daemon cannot check it.  Kernel 6.1 has
 * no SO_PEERPIDFD, and under the unit's ProtectProc=invisible the daemon
 * cannot read a root client's /proc (its parent sudo, its login uid), so
 * it is recorded as claimed and shown so, never as fact. */
#ifndef QD_ACTOR_H
#define QD_ACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 32 characters, the longest user name useradd(8) makes, and the NUL. */
#define ACTOR_NAME_MAX 33
/* The longest actor_text(): "NAME (uid N, sudo from NAME, claimed)". */
#define ACTOR_TEXT_MAX 128

struct actor {
	char name[ACTOR_NAME_MAX];	/* the user name of the uid; "" unknown */
	char sudo_user[ACTOR_NAME_MAX]; /* claimed invoking user; "" none */
	uint32_t sudo_uid;		/* its claimed uid, with sudo_user only */
};

/* A user name as we record it: 1 to 32 of letters, digits, '.', '_' and
 * '-', not starting with '-', with an optional '$' at the end (Samba's
 * machine accounts).  Anything else is refused, not cleaned up. */
bool actor_name_valid(const char *s);
/* Fills ret->name with the user name of uid (getpwuid_r()); "" when there
 * is none, the lookup fails or the name is not valid.  Leaves the claim
 * alone.  May block for as long as the system's name service takes. */
void actor_resolve(struct actor *ret, uid_t uid);
/* Records the claim of a client whose uid is uid: sudo_user and sudo_uid
 * as the protocol carries them (both or neither; NULL: absent).  A claim
 * of the peer's own uid says nothing and is dropped.  0, or -EINVAL
 * (one without the other, a bad name, a uid that is not a decimal
 * uid_t but (uid_t)-1); *a is then unchanged. */
int actor_claim(struct actor *a, uid_t uid, const char *sudo_user, const char *sudo_uid);
/* Whether a holds anything to show. */
static inline bool actor_known(const struct actor *a)
{
	return a && (a->name[0] || a->sudo_user[0]);
}
/* Who, for people: "auto" (uid < 0), "alice (uid 1000)", "uid 1000",
 * "root (uid 0, sudo from alice, claimed)"; a may be NULL.  Returns buf
 * (len at least ACTOR_TEXT_MAX). */
const char *actor_text(long uid, const struct actor *a, char *buf, size_t len);
/* The JSON members of who, each after a comma: "by" as it always was (the
 * uid as a string, or "auto"), then "by_name" when the name is known and
 * "by_claimed":{"sudo_user":...,"sudo_uid":N} when a claim was made.
 * Names are valid (actor_name_valid()), so nothing needs escaping.
 * Returns buf (len at least ACTOR_JSON_MAX). */
#define ACTOR_JSON_MAX 160
const char *actor_json(long uid, const struct actor *a, char *buf, size_t len);

#endif
