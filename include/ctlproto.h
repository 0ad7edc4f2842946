/* The control protocol between quarantinectl and the daemon.  Pure
 * encoding and parsing, shared by both sides.
 *
 * One request per connection.  The client sends a header line, then an
 * optional body, then shuts down its writing side:
 *
 *     cmd=quarantine<TAB>host=10.1.0.5<TAB>level=contain<TAB>json=1<LF>
 *     [body: for bulk commands, one address per line]
 *
 * Fields are key=value, separated by TAB; values are percent-encoded
 * (%09 TAB, %0A LF, %0D CR, %25 '%', and any byte below 0x20 or 0x7f).
 * The daemon answers with a status line and a body, then closes:
 *
 *     status=0<TAB>msg=released 10.1.0.5<LF>
 *     [body: the rendered answer, text or JSON]
 *
 * status is the client's exit status (SPEC section 2): 0 success, 1 the
 * daemon refused, 2 usage error. */
#ifndef QD_CTLPROTO_H
#define QD_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_MAX_HEADER 8192	   /* bytes of the header line, its LF included */
#define CTL_MAX_BODY   (16u << 20) /* bytes of a request body (bulk lists) */
#define CTL_MAX_ARGS   16
#define CTL_KEY_MAX    32
#define CTL_VALUE_MAX  1024

struct ctl_arg {
	char key[CTL_KEY_MAX];
	char value[CTL_VALUE_MAX]; /* decoded */
};

struct ctl_request {
	char cmd[CTL_KEY_MAX];
	struct ctl_arg args[CTL_MAX_ARGS];
	unsigned nargs;
	const char *body; /* borrowed from the buffer given to ctl_request_parse */
	size_t bodylen;
};

/* Parses a complete request (header line + body) held in buf.  0, or
 * -EINVAL / -E2BIG with a message in err.  req->body points into buf. */
int ctl_request_parse(const char *buf, size_t len, struct ctl_request *req, char *err,
		      size_t errlen);
/* The value of key, or NULL. */
const char *ctl_request_get(const struct ctl_request *req, const char *key);
bool ctl_request_flag(const struct ctl_request *req, const char *key); /* value "1" */

/* Appends "key=value" (encoded, TAB-separated) to a header under
 * construction in buf (NUL-terminated; start with "").  0, -ENOSPC (the
 * line with its LF would outgrow len or CTL_MAX_HEADER), -E2BIG (value of
 * CTL_VALUE_MAX bytes or more, or more than CTL_MAX_ARGS fields besides
 * cmd) or -EINVAL (key not [a-z_]+ or too long): what the parser would
 * refuse is refused here, never truncated. */
int ctl_header_add(char *buf, size_t len, const char *key, const char *value);
/* Terminates the header with LF.  0 or -ENOSPC. */
int ctl_header_end(char *buf, size_t len);

/* Parses a response status line ("status=N<TAB>msg=...") in line (without
 * the LF).  msg is shortened to msglen if need be; unknown keys are
 * ignored.  0 or -EINVAL. */
int ctl_status_parse(const char *line, int *ret_status, char *msg, size_t msglen);
/* Formats a status line (with LF) into buf.  Returns its length, -ENOSPC,
 * or -EINVAL / -E2BIG for a status outside 0..255 or a msg of
 * CTL_VALUE_MAX bytes or more. */
int ctl_status_format(char *buf, size_t len, int status, const char *msg);

#endif
