/* Suricata's eve.json alerts; see eve.h. */
#include "eve.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "feedjson.h"

static void eve_err(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s", what);
}

int eve_parse(const char *line, size_t len, struct feed_alert *ret, char *err, size_t errlen)
{
	struct feed_alert a;
	json_t *root, *alert, *flow, *v;
	int r = -EINVAL;

	root = fj_load(line, len, err, errlen);
	if (!root)
		return -EINVAL;
	if (!json_is_object(root)) {
		eve_err(err, errlen, "not a JSON object");
		goto out;
	}
	v = json_object_get(root, "event_type");
	if (!json_is_string(v)) {
		eve_err(err, errlen, "no event_type: not an eve.json record");
		goto out;
	}
	if (strcmp(json_string_value(v), "alert") != 0) {
		r = 0;
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.kind = FEED_SURICATA;
	alert = json_object_get(root, "alert");
	if (!json_is_object(alert) ||
	    !fj_text(alert, "signature", a.signature, sizeof(a.signature))) {
		eve_err(err, errlen, "an alert without alert.signature");
		goto out;
	}
	(void)fj_text(alert, "category", a.category, sizeof(a.category));
	a.sid = (uint32_t)fj_uint(alert, "signature_id", UINT32_MAX);
	a.severity = (unsigned)fj_uint(alert, "severity", 255);
	if (fj_addr(root, "src_ip", &a.src) < 0 || fj_addr(root, "dest_ip", &a.dst) < 0) {
		eve_err(err, errlen, "an alert with a bad src_ip or dest_ip");
		goto out;
	}
	if (!a.src.family || !a.dst.family) {
		eve_err(err, errlen, "an alert without src_ip and dest_ip");
		goto out;
	}
	a.sport = (uint16_t)fj_uint(root, "src_port", 65535);
	a.dport = (uint16_t)fj_uint(root, "dest_port", 65535);
	a.proto = fj_proto(root, "proto");
	v = json_object_get(root, "direction");
	if (json_is_string(v))
		a.dir = strcmp(json_string_value(v), "to_client") == 0	 ? FEED_DIR_TO_CLIENT
			: strcmp(json_string_value(v), "to_server") == 0 ? FEED_DIR_TO_SERVER
									 : FEED_DIR_UNKNOWN;
	/* Suricata 7: the flow's own endpoints, its client first. */
	flow = json_object_get(root, "flow");
	if (json_is_object(flow) && fj_addr(flow, "src_ip", &a.client) < 0)
		memset(&a.client, 0, sizeof(a.client));
	/* The rule's target keyword: who attacks whom. */
	v = json_object_get(alert, "source");
	if (json_is_object(v) && fj_addr(v, "ip", &a.source) == 0) {
		json_t *t = json_object_get(alert, "target");

		if (!json_is_object(t) || fj_addr(t, "ip", &a.target) < 0)
			memset(&a.target, 0, sizeof(a.target));
	} else {
		memset(&a.source, 0, sizeof(a.source));
	}
	v = json_object_get(root, "timestamp");
	if (json_is_string(v))
		(void)feed_iso8601(json_string_value(v), &a.ts_us);
	*ret = a;
	r = 1;
out:
	json_decref(root);
	return r;
}
