/* The control protocol: percent-encoded key=value fields on one header
 * line.  Pure: no I/O, no allocation, nothing printed; errors come back as
 * -errno with a message for the peer. */
#include "ctlproto.h"

#include "types.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes that would break the framing (TAB, LF), the escape itself, and
 * every other control byte so that a header line is always printable. */
static bool needs_escape(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f || ch == '%';
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool key_valid(const char *k, size_t n)
{
	if (n == 0 || n >= CTL_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || k[i] == '_'))
			return false;
	return true;
}

static bool cmd_valid(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= CTL_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 'a' || v[i] > 'z')
			return false;
	return true;
}

/* Decodes src[0..n) into out (size outlen, NUL-terminated).  A decoded NUL
 * is refused: values are C strings on both sides.  0, -EINVAL (bad
 * escape or raw control byte) or -E2BIG (does not fit). */
static int decode(const char *src, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];

		if (ch == '%') {
			int hi, lo;

			if (n - i < 3)
				return -EINVAL; /* truncated escape */
			hi = hexval(src[i + 1]);
			lo = hexval(src[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			ch = (unsigned char)(hi << 4 | lo);
			if (ch == 0)
				return -EINVAL;
			i += 2;
		} else if (ch < 0x20 || ch == 0x7f) {
			return -EINVAL;
		}
		if (o + 1 >= outlen)
			return -E2BIG;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

/* Length of value once encoded. */
static size_t encoded_len(const char *v)
{
	size_t n = 0;

	for (; *v; v++)
		n += needs_escape((unsigned char)*v) ? 3 : 1;
	return n;
}

static char *encode_into(char *p, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;

		if (needs_escape(ch)) {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 0xf];
		} else {
			*p++ = (char)ch;
		}
	}
	return p;
}

/* Parses one "key=value" field src[0..n).  Writes the key to key (size
 * CTL_KEY_MAX) and the decoded value to value (size vlen). */
static int parse_field(const char *src, size_t n, char *key, char *value, size_t vlen, char *err,
		       size_t errlen)
{
	const char *eq = memchr(src, '=', n);
	size_t klen;
	int r;

	if (n == 0) {
		set_err(err, errlen, "empty field");
		return -EINVAL;
	}
	if (!eq) {
		set_err(err, errlen, "field without '='");
		return -EINVAL;
	}
	klen = (size_t)(eq - src);
	if (klen >= CTL_KEY_MAX) {
		set_err(err, errlen, "key too long (max %d bytes)", CTL_KEY_MAX - 1);
		return -E2BIG;
	}
	if (!key_valid(src, klen)) {
		set_err(err, errlen, "invalid key (want [a-z_]+)");
		return -EINVAL;
	}
	memcpy(key, src, klen);
	key[klen] = '\0';
	r = decode(eq + 1, n - klen - 1, value, vlen);
	if (r == -E2BIG) {
		set_err(err, errlen, "value of %s too long (max %zu bytes)", key, vlen - 1);
		return r;
	}
	if (r < 0) {
		set_err(err, errlen, "invalid encoding in value of %s", key);
		return r;
	}
	return 0;
}

int ctl_request_parse(const char *buf, size_t len, struct ctl_request *req, char *err,
		      size_t errlen)
{
	/* The line, its LF included, is at most CTL_MAX_HEADER bytes. */
	const char *lf = memchr(buf, '\n', MIN(len, (size_t)CTL_MAX_HEADER));
	const char *p, *end;
	bool have_cmd = false;
	int r;

	if (!lf) {
		if (len >= CTL_MAX_HEADER) {
			set_err(err, errlen, "header too long (max %d bytes)", CTL_MAX_HEADER);
			return -E2BIG;
		}
		set_err(err, errlen, len == 0 ? "empty request" : "header not terminated");
		return -EINVAL;
	}
	if (len - (size_t)(lf + 1 - buf) > CTL_MAX_BODY) {
		set_err(err, errlen, "body too long (max %u bytes)", CTL_MAX_BODY);
		return -E2BIG;
	}

	memset(req, 0, sizeof(*req));
	p = buf;
	end = lf;
	while (p <= end) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		const char *fend = tab ? tab : end;
		char key[CTL_KEY_MAX];
		char value[CTL_VALUE_MAX];

		if (p == end && p == buf) {
			set_err(err, errlen, "missing cmd");
			return -EINVAL;
		}
		r = parse_field(p, (size_t)(fend - p), key, value, sizeof(value), err, errlen);
		if (r < 0)
			return r;
		if (strcmp(key, "cmd") == 0) {
			if (have_cmd) {
				set_err(err, errlen, "duplicate key cmd");
				return -EINVAL;
			}
			if (!cmd_valid(value)) {
				set_err(err, errlen, "invalid cmd (want [a-z]+)");
				return -EINVAL;
			}
			memcpy(req->cmd, value, strlen(value) + 1);
			have_cmd = true;
		} else {
			if (ctl_request_get(req, key)) {
				set_err(err, errlen, "duplicate key %s", key);
				return -EINVAL;
			}
			if (req->nargs >= CTL_MAX_ARGS) {
				set_err(err, errlen, "too many fields (max %d besides cmd)",
					CTL_MAX_ARGS);
				return -E2BIG;
			}
			memcpy(req->args[req->nargs].key, key, sizeof(key));
			memcpy(req->args[req->nargs].value, value, strlen(value) + 1);
			req->nargs++;
		}
		p = fend + 1;
	}
	if (!have_cmd) {
		set_err(err, errlen, "missing cmd");
		return -EINVAL;
	}
	req->body = lf + 1;
	req->bodylen = len - (size_t)(lf + 1 - buf);
	return 0;
}

const char *ctl_request_get(const struct ctl_request *req, const char *key)
{
	if (strcmp(key, "cmd") == 0)
		return req->cmd[0] ? req->cmd : NULL;
	for (unsigned i = 0; i < req->nargs; i++)
		if (strcmp(req->args[i].key, key) == 0)
			return req->args[i].value;
	return NULL;
}

bool ctl_request_flag(const struct ctl_request *req, const char *key)
{
	const char *v = ctl_request_get(req, key);

	return v && strcmp(v, "1") == 0;
}

/* Number of fields in a header under construction: fields are separated by
 * TABs, and values never hold a raw TAB. */
static unsigned header_fields(const char *buf, size_t used)
{
	unsigned n = used ? 1 : 0;

	for (size_t i = 0; i < used; i++)
		if (buf[i] == '\t')
			n++;
	return n;
}

int ctl_header_add(char *buf, size_t len, const char *key, const char *value)
{
	size_t used = strnlen(buf, len);
	size_t klen = strlen(key);
	size_t need;
	char *p;

	if (used >= len)
		return -EINVAL; /* not NUL-terminated: not a header we built */
	if (!key_valid(key, klen))
		return -EINVAL;
	if (strlen(value) >= CTL_VALUE_MAX)
		return -E2BIG;
	if (header_fields(buf, used) >= CTL_MAX_ARGS + 1)
		return -E2BIG;
	need = (used ? 1 : 0) + klen + 1 + encoded_len(value);
	/* Room for the LF that ctl_header_end adds: the line with its LF must
	 * stay within CTL_MAX_HEADER, and the buffer must hold LF and NUL. */
	if (used + need + 1 > CTL_MAX_HEADER || used + need + 2 > len)
		return -ENOSPC;
	p = buf + used;
	if (used)
		*p++ = '\t';
	memcpy(p, key, klen);
	p += klen;
	*p++ = '=';
	p = encode_into(p, value);
	*p = '\0';
	return 0;
}

int ctl_header_end(char *buf, size_t len)
{
	size_t used = strnlen(buf, len);

	if (used + 1 > CTL_MAX_HEADER || used + 2 > len)
		return -ENOSPC;
	buf[used] = '\n';
	buf[used + 1] = '\0';
	return 0;
}

int ctl_status_parse(const char *line, int *ret_status, char *msg, size_t msglen)
{
	size_t n = strlen(line);
	const char *p = line, *end = line + n;
	char key[CTL_KEY_MAX];
	char value[CTL_VALUE_MAX];
	int status = -1;
	bool have_msg = false;

	if (n >= CTL_MAX_HEADER)
		return -EINVAL;
	while (p < end) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		const char *fend = tab ? tab : end;

		if (parse_field(p, (size_t)(fend - p), key, value, sizeof(value), NULL, 0) < 0)
			return -EINVAL;
		if (strcmp(key, "status") == 0) {
			char *e;
			long v;

			if (status >= 0 || value[0] < '0' || value[0] > '9')
				return -EINVAL;
			errno = 0;
			v = strtol(value, &e, 10);
			if (errno || *e || v > 255)
				return -EINVAL;
			status = (int)v;
		} else if (strcmp(key, "msg") == 0) {
			if (have_msg)
				return -EINVAL;
			have_msg = true;
			if (msg && msglen) {
				/* Display text: shortening it to the caller's
				 * buffer is harmless. */
				snprintf(msg, msglen, "%s", value);
			}
		}
		/* Other keys are ignored: a newer daemon may add some. */
		p = fend + 1;
	}
	if (status < 0)
		return -EINVAL;
	if (!have_msg && msg && msglen)
		msg[0] = '\0';
	*ret_status = status;
	return 0;
}

int ctl_status_format(char *buf, size_t len, int status, const char *msg)
{
	char num[4];
	int r;

	if (len == 0)
		return -ENOSPC;
	if (status < 0 || status > 255)
		return -EINVAL;
	snprintf(num, sizeof(num), "%d", status);
	buf[0] = '\0';
	r = ctl_header_add(buf, len, "status", num);
	if (r < 0)
		return r;
	r = ctl_header_add(buf, len, "msg", msg ? msg : "");
	if (r < 0)
		return r;
	r = ctl_header_end(buf, len);
	if (r < 0)
		return r;
	return (int)strlen(buf);
}
