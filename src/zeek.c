/* Zeek's notice.log in JSON; see zeek.h. */
#include "zeek.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "feedjson.h"

int zeek_parse(const char *line, size_t len, struct feed_alert *ret, char *err, size_t errlen)
{
	struct feed_alert a;
	json_t *root, *v;
	int r = -EINVAL;

	root = fj_load(line, len, err, errlen);
	if (!root)
		return -EINVAL;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.kind = FEED_ZEEK;
	if (!fj_text(root, "note", a.signature, sizeof(a.signature)) || !a.signature[0]) {
		snprintf(err, errlen, "no note: not a notice.log record");
		goto out;
	}
	/* src is whom the notice is about (the scanner of a Scan:: note);
	 * without it, the connection's originator. */
	if (fj_addr(root, "src", &a.src) < 0 || fj_addr(root, "dst", &a.dst) < 0) {
		snprintf(err, errlen, "a notice with a bad src or dst");
		goto out;
	}
	if (!a.src.family && fj_addr(root, "id.orig_h", &a.src) < 0)
		memset(&a.src, 0, sizeof(a.src));
	if (!a.dst.family && fj_addr(root, "id.resp_h", &a.dst) < 0)
		memset(&a.dst, 0, sizeof(a.dst));
	a.dport = (uint16_t)fj_uint(root, "p", 65535);
	if (!a.dport)
		a.dport = (uint16_t)fj_uint(root, "id.resp_p", 65535);
	a.proto = fj_proto(root, "proto");
	v = json_object_get(root, "ts");
	if (json_is_number(v)) {
		double t = json_number_value(v);

		if (t > 0 && t < 1e11)
			a.ts_us = (uint64_t)llround(t * 1e6);
	} else if (json_is_string(v)) {
		(void)feed_iso8601(json_string_value(v), &a.ts_us);
	}
	*ret = a;
	r = 1;
out:
	json_decref(root);
	return r;
}
