/* The sandbox of a process that parses hostile input (the sensor, the
 * feeds reader, quarantined -r once its capture is open): no
 * capability at all (effective, permitted, inheritable, ambient), no new
 * privileges through exec, and a seccomp filter that allows only the
 * system calls named and kills the whole process on any other.  Killing
 * rather than failing the call (EPERM) is deliberate: code that a forged
 * packet has taken over must not get a second try, and the parent sees
 * the death (SIGSYS) and says so.  Any failure to enter is fatal for the
 * caller: a sensor that runs without its sandbox is what this prevents. */
#ifndef QD_SANDBOX_H
#define QD_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

/* A system call allowed only when its argument arg (0 to 5), masked
 * with mask, equals value: e.g. socket() for AF_UNIX datagrams only. */
struct sandbox_cond {
	const char *name;
	unsigned arg;
	uint64_t mask, value;
};

/* Enters the sandbox with the system calls in allow (names as in
 * syscalls(2); every name must be known to this architecture) and those
 * of cond under their conditions (consecutive entries of one name make
 * one rule: all must hold; a name should not be in both lists).
 * 0, or -errno with a message in err. */
int sandbox_enter(const char *const *allow, unsigned n, const struct sandbox_cond *cond,
		  unsigned ncond, char *err, size_t errlen);

/* What the sanitizer runtimes (AddressSanitizer, UndefinedBehaviorSanitizer)
 * call on their own, beyond what the program does, when this build has
 * them; NULL and 0 otherwise.  Their reports read /proc/self/maps and
 * write to stderr; a process in the sandbox of a sanitizer build takes
 * these as well. */
const char *const *sandbox_sanitizer_extra(unsigned *ret_n);

#endif
