/* Fuzz target for Suricata's eve.json lines (eve.c) and what the feeds
 * reader makes of them (feedmap.c): the input is one line as the
 * follower hands it over (any bytes, no newline), parsed, and when it is
 * an alert, its attacker decided and its outside detection built as the
 * reader does.  What IDS logs hold quotes what attackers send.
 *
 * Invariants: the parser returns 1, 0 or -EINVAL, and its error text is
 * terminated; an alert's strings are terminated within their arrays,
 * with no control character; a detection names an inside host (the
 * protected networks) that is never the other end, passes
 * outside_check() (what the parent would refuse is a protocol error and
 * costs the reader its life), and asks for a level the map can give. */
#include <errno.h>
#include <string.h>

#include "eve.h"
#include "feedmap.h"
#include "fuzz.h"

static struct conf conf;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_CHECK(conf_init_default(&conf) == 0);
	snprintf(conf.feeds.feed[0].name, sizeof(conf.feeds.feed[0].name), "fuzz");
	conf.feeds.feed[0].kind = FEED_SURICATA;
	conf.feeds.n = 1;
	return 0;
}

static void check_text(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	FUZZ_CHECK(n < size);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed_alert a;
	struct outside_detection o;
	char err[200], why[200];
	enum feed_verdict v;
	int r;

	memset(err, 'x', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	r = eve_parse((const char *)data, size, &a, err, sizeof(err));
	FUZZ_CHECK(r == 1 || r == 0 || r == -EINVAL);
	FUZZ_CHECK(strnlen(err, sizeof(err)) < sizeof(err));
	if (r != 1)
		return 0;
	FUZZ_CHECK(a.kind == FEED_SURICATA);
	check_text(a.signature, sizeof(a.signature));
	check_text(a.category, sizeof(a.category));
	v = feed_detection(&conf, &conf.feeds.feed[0], &a, (const char *)data, size, &o);
	FUZZ_CHECK(v >= FEED_CONTAIN && v <= FEED_MAPPED_OUT);
	if (v != FEED_CONTAIN)
		return 0;
	FUZZ_CHECK(o.source == SOURCE_SURICATA);
	FUZZ_CHECK(prefix_list_contains(&conf.networks.protected_, &o.host));
	FUZZ_CHECK(!addr_eq(&o.host, &o.peer));
	FUZZ_CHECK(o.level >= LEVEL_WATCH && o.level <= LEVEL_ISOLATE);
	if (outside_check(&o, why, sizeof(why)) != 0) {
		fprintf(stderr, "outside_check: %s\n", why);
		FUZZ_CHECK(!"a detection the parent refuses");
	}
	return 0;
}
