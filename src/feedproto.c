/* The feeds reader's messages: declarations and the parent's checks;
 * see feedproto.h. */
#include "feedproto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define FIXED(t, s)                                                                  \
	{                                                                            \
		.type = (t), .min_len = sizeof(s), .max_len = sizeof(s), .fd = false \
	}

const struct ipc_type fp_parent_types[] = {
	{.type = FP_READY, .min_len = 0, .max_len = 0},
	FIXED(FP_DETECTION, struct fp_detection),
	FIXED(FP_POSITION, struct fp_position),
	FIXED(FP_ERROR, struct fp_error),
	FIXED(FP_STATS, struct fp_stats),
};
const unsigned fp_parent_ntypes = ARRAY_SIZE(fp_parent_types);

const struct ipc_type fp_reader_types[] = {
	{.type = FP_START, .min_len = 0, .max_len = 0},
	FIXED(FP_RESUME, struct fp_position),
};
const unsigned fp_reader_ntypes = ARRAY_SIZE(fp_reader_types);

static int bad(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s", what);
	return -EPROTO;
}

int fp_detection_check(const struct fp_detection *m, const struct conf *c, char *err, size_t errlen)
{
	const struct feed_conf *f;
	char why[160];

	if (m->feed >= c->feeds.n || m->pad)
		return bad(err, errlen, "feeds: a detection of no configured feed");
	f = &c->feeds.feed[m->feed];
	if (m->d.source != (f->kind == FEED_ZEEK ? SOURCE_ZEEK : SOURCE_SURICATA))
		return bad(err, errlen, "feeds: a detection of another source than its feed's");
	if (strnlen(m->d.origin, sizeof(m->d.origin)) == sizeof(m->d.origin) ||
	    strcmp(m->d.origin, f->name) != 0)
		return bad(err, errlen, "feeds: a detection that does not name its feed");
	if (outside_check(&m->d, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "feeds: a detection: %s", why);
		return -EPROTO;
	}
	return 0;
}

int fp_position_check(const struct fp_position *m, const struct conf *c, char *err, size_t errlen)
{
	if (m->feed >= c->feeds.n || !c->feeds.feed[m->feed].path[0] || m->pad || m->pos.pad)
		return bad(err, errlen, "feeds: a position of no configured file");
	if (m->pos.hlen > FOLLOW_HEAD || m->pos.hlen > m->pos.off)
		return bad(err, errlen, "feeds: a position with a bad head");
	return 0;
}

int fp_error_check(struct fp_error *m, const struct conf *c, char *err, size_t errlen)
{
	size_t n = strnlen(m->text, sizeof(m->text));

	if ((m->feed >= c->feeds.n && m->feed != UINT32_MAX) || m->error >= 0)
		return bad(err, errlen, "feeds: an error of no feed, or no error");
	if (n == sizeof(m->text))
		return bad(err, errlen, "feeds: an error's text not terminated");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)m->text[i] < 0x20 || (unsigned char)m->text[i] > 0x7e)
			m->text[i] = '?';
	return 0;
}

int fp_stats_check(const struct fp_stats *m, const struct conf *c, char *err, size_t errlen)
{
	if (m->n != c->feeds.n)
		return bad(err, errlen, "feeds: stats of another number of feeds");
	for (unsigned i = 0; i < m->n; i++)
		if (m->feed[i].state >= FP_STATE_COUNT || m->feed[i].error > 0)
			return bad(err, errlen, "feeds: stats with a bad state");
	return 0;
}

const char *fp_state_name(enum fp_feed_state s)
{
	static const char *const names[] = {
		[FP_STATE_WAITING] = "waiting",
		[FP_STATE_FOLLOWING] = "following",
		[FP_STATE_ERROR] = "error",
	};
	return (unsigned)s < FP_STATE_COUNT ? names[s] : "?";
}
