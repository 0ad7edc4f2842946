/* Fuzz target for antivirus console exports (avcsv.c): the input is a
 * CSV file, parsed whole and again in pieces of every few bytes, as
 * quarantinectl import reads it from a pipe.
 *
 * Invariants: both ways give the same rows and refusals; every row has a
 * threat and a machine name, address or MAC, each field printable UTF-8
 * (outside_check()'s rule, so that what the client sends the daemon is
 * what the daemon takes), an address that parses, and a line number that
 * never goes backwards; the evidence is printable UTF-8 too; a row's
 * "av:" rule fits outside_detection.rule. */
#include <string.h>

#include "addr.h"
#include "avcsv.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

struct tally {
	unsigned rows, bad, last_line;
	uint64_t sum; /* of lines and of the bytes of every field */
};

static void text_ok(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	FUZZ_CHECK(n < size);
	FUZZ_CHECK(outside_utf8_valid(s, n, false) == n);
}

static void check(void *arg, const struct avcsv_row *row, const char *error)
{
	struct tally *t = arg;
	struct qaddr a;

	FUZZ_CHECK(row->line >= t->last_line);
	t->last_line = row->line;
	t->sum += row->line;
	if (error) {
		FUZZ_CHECK(error[0] != '\0');
		t->bad++;
		return;
	}
	t->rows++;
	text_ok(row->host, sizeof(row->host));
	text_ok(row->addr, sizeof(row->addr));
	text_ok(row->mac, sizeof(row->mac));
	text_ok(row->threat, sizeof(row->threat));
	text_ok(row->evidence, sizeof(row->evidence));
	FUZZ_CHECK(row->threat[0] != '\0');
	FUZZ_CHECK(row->host[0] || row->addr[0] || row->mac[0]);
	FUZZ_CHECK(!row->addr[0] || addr_parse(row->addr, &a) == 0);
	FUZZ_CHECK(strlen(OUTSIDE_AV_PREFIX) + strlen(row->threat) < OUTSIDE_RULE_MAX);
	t->sum += strlen(row->host) + strlen(row->addr) + strlen(row->threat) +
		  strlen(row->evidence) + row->ts_us;
}

static int run(const uint8_t *data, size_t size, size_t step, struct tally *t)
{
	static struct avcsv p;
	int r = 0;

	memset(t, 0, sizeof(*t));
	avcsv_init(&p, NULL);
	for (size_t i = 0; i < size && r == 0; i += step)
		r = avcsv_feed(&p, (const char *)data + i, size - i < step ? size - i : step, check,
			       t);
	if (r == 0)
		r = avcsv_finish(&p, check, t);
	FUZZ_CHECK(r == 0 || p.fatal[0]);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally whole, pieces;
	int a = run(data, size, size ? size : 1, &whole);
	int b = run(data, size, 7, &pieces);

	FUZZ_CHECK(a == b);
	FUZZ_CHECK(whole.rows == pieces.rows && whole.bad == pieces.bad);
	FUZZ_CHECK(whole.sum == pieces.sum);
	return 0;
}
