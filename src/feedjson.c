/* JSON helpers of the feed parsers; see feedjson.h. */
#include "feedjson.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "feedmap.h"
#include "types.h"

static unsigned depth(const json_t *v, unsigned limit)
{
	unsigned d = 0, m;

	if (limit == 0)
		return 1;
	if (json_is_object(v)) {
		const char *k;
		json_t *e;

		json_object_foreach((json_t *)v, k, e)
		{
			m = depth(e, limit - 1);
			if (m > d)
				d = m;
		}
		return d + 1;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e)
		{
			m = depth(e, limit - 1);
			if (m > d)
				d = m;
		}
		return d + 1;
	}
	return 0;
}

json_t *fj_load(const char *line, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v = json_loadb(line, len, JSON_DECODE_ANY, &je);

	if (!v) {
		snprintf(err, errlen, "not JSON: %s at byte %d", je.text, je.position);
		return NULL;
	}
	if (depth(v, FJ_MAX_DEPTH + 1) > FJ_MAX_DEPTH) {
		snprintf(err, errlen, "JSON nested deeper than %d levels", FJ_MAX_DEPTH);
		json_decref(v);
		return NULL;
	}
	return v;
}

bool fj_text(const json_t *o, const char *key, char *buf, size_t size)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return false;
	feed_text(buf, size, json_string_value(v), json_string_length(v));
	return true;
}

uint64_t fj_uint(const json_t *o, const char *key, uint64_t max)
{
	const json_t *v = json_object_get(o, key);
	json_int_t i;

	if (!json_is_integer(v))
		return 0;
	i = json_integer_value(v);
	return i < 0 || (uint64_t)i > max ? 0 : (uint64_t)i;
}

int fj_addr(const json_t *o, const char *key, struct qaddr *ret)
{
	const json_t *v = json_object_get(o, key);
	char buf[64];

	memset(ret, 0, sizeof(*ret));
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	if (addr_parse(buf, ret) < 0) {
		memset(ret, 0, sizeof(*ret));
		return -EINVAL;
	}
	return 0;
}

uint8_t fj_proto(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return 0;
	if (strcasecmp(json_string_value(v), "tcp") == 0)
		return PROTO_TCP;
	if (strcasecmp(json_string_value(v), "udp") == 0)
		return PROTO_UDP;
	return 0;
}
