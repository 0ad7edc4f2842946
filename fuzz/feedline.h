/* The one harness of the fuzz targets for IDS log lines (fuzz_eve.c,
 * fuzz_zeek.c): the input is one line as the follower hands it over (any
 * bytes, no newline), parsed, and when it is an alert, its attacker
 * decided and its outside detection built as the feeds reader does
 * (feedmap.c).  What IDS logs hold quotes what attackers send.
 *
 * Invariants: the parser returns 1, 0 or -EINVAL, and its error text is
 * terminated; an alert's strings are terminated within their arrays,
 * with no control character; a detection names an inside host (the
 * protected networks) that is never the other end, passes
 * outside_check() (what the parent would refuse is a protocol error and
 * costs the reader its life), and asks for a level the map can give. */
#ifndef QD_FUZZ_FEEDLINE_H
#define QD_FUZZ_FEEDLINE_H

#include <errno.h>
#include <string.h>

#include "feedmap.h"
#include "fuzz.h"

typedef int (*feedline_parse_fn)(const char *line, size_t len, struct feed_alert *ret, char *err,
				 size_t errlen);

static struct conf conf;

/* One feed of the kind, named "fuzz", on the default configuration. */
static void feedline_init(enum feed_kind kind)
{
	FUZZ_CHECK(conf_init_default(&conf) == 0);
	snprintf(conf.feeds.feed[0].name, sizeof(conf.feeds.feed[0].name), "fuzz");
	conf.feeds.feed[0].kind = (uint8_t)kind;
	conf.feeds.n = 1;
}

static void feedline_check_text(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	FUZZ_CHECK(n < size);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] != 0x7f);
}

static int feedline_one(feedline_parse_fn parse, enum feed_kind kind, enum det_source source,
			const uint8_t *data, size_t size)
{
	struct feed_alert a;
	struct outside_detection o;
	char err[200], why[200];
	enum feed_verdict v;
	int r;

	memset(err, 'x', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	r = parse((const char *)data, size, &a, err, sizeof(err));
	FUZZ_CHECK(r == 1 || r == 0 || r == -EINVAL);
	FUZZ_CHECK(strnlen(err, sizeof(err)) < sizeof(err));
	if (r != 1)
		return 0;
	FUZZ_CHECK(a.kind == kind);
	feedline_check_text(a.signature, sizeof(a.signature));
	feedline_check_text(a.category, sizeof(a.category));
	v = feed_detection(&conf, &conf.feeds.feed[0], &a, (const char *)data, size, &o);
	FUZZ_CHECK(v >= FEED_CONTAIN && v <= FEED_MAPPED_OUT);
	if (v != FEED_CONTAIN)
		return 0;
	FUZZ_CHECK(o.source == source);
	FUZZ_CHECK(prefix_list_contains(&conf.networks.protected_, &o.host));
	FUZZ_CHECK(!addr_eq(&o.host, &o.peer));
	FUZZ_CHECK(o.level >= LEVEL_WATCH && o.level <= LEVEL_ISOLATE);
	if (outside_check(&o, why, sizeof(why)) != 0) {
		fprintf(stderr, "outside_check: %s\n", why);
		FUZZ_CHECK(!"a detection the parent refuses");
	}
	return 0;
}

#endif
