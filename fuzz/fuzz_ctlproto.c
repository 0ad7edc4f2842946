/* Fuzz target for the control protocol's parsers (ctlproto.c): the whole
 * input is a request (header line and body) as a client sends it; its
 * first line is also read as a status line, as the client reads the
 * daemon's answer.  Invariants: errors are the documented ones with a
 * message; what parses is encoded again by the encoder the client uses
 * and parses to the same request; the encoder's output is stable. */
#include <errno.h>
#include <string.h>

#include "ctlproto.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static void same_request(const struct ctl_request *a, const struct ctl_request *b)
{
	FUZZ_CHECK(strcmp(a->cmd, b->cmd) == 0);
	FUZZ_CHECK(a->nargs == b->nargs);
	for (unsigned i = 0; i < a->nargs; i++) {
		FUZZ_CHECK(strcmp(a->args[i].key, b->args[i].key) == 0);
		FUZZ_CHECK(strcmp(a->args[i].value, b->args[i].value) == 0);
	}
	FUZZ_CHECK(a->bodylen == b->bodylen);
	FUZZ_CHECK(a->bodylen == 0 || memcmp(a->body, b->body, a->bodylen) == 0);
}

/* Encodes req's header as quarantinectl would (cmd first) into buf. */
static void encode_request(const struct ctl_request *req, char *buf, size_t len)
{
	buf[0] = '\0';
	/* The parsed line fit in CTL_MAX_HEADER, and the encoder escapes
	 * only what the parser requires escaped: the encoding fits too. */
	FUZZ_CHECK(ctl_header_add(buf, len, "cmd", req->cmd) == 0);
	for (unsigned i = 0; i < req->nargs; i++)
		FUZZ_CHECK(ctl_header_add(buf, len, req->args[i].key, req->args[i].value) == 0);
	FUZZ_CHECK(ctl_header_end(buf, len) == 0);
}

static void request(const uint8_t *data, size_t size)
{
	static struct ctl_request req, again;
	static char hdr[CTL_MAX_HEADER + 1], hdr2[CTL_MAX_HEADER + 1];
	char err[256] = "";
	size_t hlen;
	char *buf;
	int r;

	r = ctl_request_parse((const char *)data, size, &req, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -E2BIG);
	if (r < 0) {
		FUZZ_CHECK(err[0] != '\0');
		return;
	}
	FUZZ_CHECK(req.cmd[0] != '\0' && req.nargs <= CTL_MAX_ARGS);
	FUZZ_CHECK(req.body >= (const char *)data &&
		   req.body + req.bodylen == (const char *)data + size);
	FUZZ_CHECK(req.bodylen <= CTL_MAX_BODY);
	for (unsigned i = 0; i < req.nargs; i++)
		FUZZ_CHECK(ctl_request_get(&req, req.args[i].key) == req.args[i].value);

	encode_request(&req, hdr, sizeof(hdr));
	hlen = strlen(hdr);
	FUZZ_CHECK(hlen <= CTL_MAX_HEADER);
	buf = malloc(hlen + req.bodylen + 1);
	FUZZ_CHECK(buf);
	memcpy(buf, hdr, hlen);
	if (req.bodylen)
		memcpy(buf + hlen, req.body, req.bodylen);
	r = ctl_request_parse(buf, hlen + req.bodylen, &again, err, sizeof(err));
	if (r != 0)
		fprintf(stderr, "re-encoded request refused: %s\n", err);
	FUZZ_CHECK(r == 0);
	same_request(&req, &again);
	encode_request(&again, hdr2, sizeof(hdr2));
	FUZZ_CHECK(strcmp(hdr, hdr2) == 0);
	free(buf);
}

static void status_line(const uint8_t *data, size_t size)
{
	static char line[CTL_MAX_HEADER + 1], out[CTL_MAX_HEADER + 1];
	char msg[CTL_VALUE_MAX], msg2[CTL_VALUE_MAX];
	int status, status2, n, r;
	size_t len = 0;

	/* The client reads the line up to its LF, as a C string. */
	while (len < size && len < CTL_MAX_HEADER && data[len] != '\n' && data[len] != '\0')
		len++;
	memcpy(line, data, len);
	line[len] = '\0';
	r = ctl_status_parse(line, &status, msg, sizeof(msg));
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r < 0)
		return;
	FUZZ_CHECK(status >= 0 && status <= 255);
	n = ctl_status_format(out, sizeof(out), status, msg);
	FUZZ_CHECK(n > 0 && (size_t)n == strlen(out) && out[n - 1] == '\n');
	out[n - 1] = '\0';
	FUZZ_CHECK(ctl_status_parse(out, &status2, msg2, sizeof(msg2)) == 0);
	FUZZ_CHECK(status2 == status && strcmp(msg, msg2) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	request(data, size);
	status_line(data, size);
	return 0;
}
