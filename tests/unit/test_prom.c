/* Unit tests of the Prometheus text format writer (prom.c): a sample's
 * label value and a family's help escaped as 0.0.4 requires, seconds
 * exact to the microsecond, and the latency histogram: each observation
 * in the first bucket whose bound it does not exceed, rendered cumulative
 * with +Inf equal to the count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prom.h"

struct buf {
	char text[8192];
	size_t len;
};

static void buf_write(void *arg, const char *data, size_t len)
{
	struct buf *b = arg;

	assert_true(len > 0);
	assert_true(b->len + len < sizeof(b->text));
	memcpy(b->text + b->len, data, len);
	b->len += len;
	b->text[b->len] = '\0';
}

static void test_escaping(void **state)
{
	struct buf b = {0};
	struct prom_sink s = {.write = buf_write, .arg = &b};

	(void)state;
	prom_family(&s, "q_x_total", PROM_COUNTER, "A \"quoted\" \\ help\nover two lines.");
	prom_u64(&s, "q_x_total", "rule", "odd \"name\" \\ and\nmore", 7);
	prom_u64(&s, "q_x_total", "rule", "plain", 18446744073709551615ull);
	prom_u64(&s, "q_x_total", "rule", "", 0);
	/* HELP keeps its double quotes (only \\ and \n are escaped there);
	 * a label value escapes them too. */
	assert_string_equal(b.text, "# HELP q_x_total A \"quoted\" \\\\ help\\nover two lines.\n"
				    "# TYPE q_x_total counter\n"
				    "q_x_total{rule=\"odd \\\"name\\\" \\\\ and\\nmore\"} 7\n"
				    "q_x_total{rule=\"plain\"} 18446744073709551615\n"
				    "q_x_total{rule=\"\"} 0\n");
}

static void test_types_and_seconds(void **state)
{
	struct buf b = {0};
	struct prom_sink s = {.write = buf_write, .arg = &b};

	(void)state;
	prom_family(&s, "q_up_seconds", PROM_GAUGE, "Up.");
	prom_seconds(&s, "q_up_seconds", NULL, NULL, 0);
	prom_seconds(&s, "q_up_seconds", "a", "b", 1);
	prom_seconds(&s, "q_up_seconds", NULL, NULL, 12345678901ull);
	prom_u64(&s, "q_up_seconds", NULL, NULL, 3);
	assert_string_equal(b.text, "# HELP q_up_seconds Up.\n"
				    "# TYPE q_up_seconds gauge\n"
				    "q_up_seconds 0.000000\n"
				    "q_up_seconds{a=\"b\"} 0.000001\n"
				    "q_up_seconds 12345.678901\n"
				    "q_up_seconds 3\n");
}

static void test_hist_buckets(void **state)
{
	struct prom_hist h = {0};

	(void)state;
	/* Bounds are inclusive (le: less than or equal). */
	prom_hist_add(&h, 0);
	prom_hist_add(&h, 50);
	assert_int_equal(h.n[0], 2);
	prom_hist_add(&h, 51);
	assert_int_equal(h.n[1], 1);
	prom_hist_add(&h, 1000000);
	assert_int_equal(h.n[PROM_NBUCKETS - 1], 1);
	prom_hist_add(&h, 1000001);
	prom_hist_add(&h, UINT32_MAX);
	assert_int_equal(h.n[PROM_NBUCKETS], 2);
	assert_int_equal(h.count, 6);
	assert_int_equal(h.sum_us, 50 + 51 + 1000000 + 1000001 + (usec_t)UINT32_MAX);
	/* The bounds increase, from 50 us to 1 s. */
	assert_int_equal(prom_bucket_us[0], 50);
	assert_int_equal(prom_bucket_us[PROM_NBUCKETS - 1], 1000000);
	for (unsigned i = 1; i < PROM_NBUCKETS; i++)
		assert_true(prom_bucket_us[i] > prom_bucket_us[i - 1]);
}

static void test_hist_render(void **state)
{
	struct buf b = {0};
	struct prom_sink s = {.write = buf_write, .arg = &b};
	struct prom_hist h = {0};
	char *line, *save = NULL;
	unsigned long long prev = 0;
	unsigned nbuckets = 0;
	double prev_le = -1;

	(void)state;
	prom_hist_add(&h, 40);	    /* 5e-05 */
	prom_hist_add(&h, 700);	    /* 0.001 */
	prom_hist_add(&h, 700);	    /* 0.001 */
	prom_hist_add(&h, 30000);   /* 0.05 */
	prom_hist_add(&h, 5000000); /* +Inf only */
	prom_histogram(&s, "q_commit_seconds", "Commit.", &h);
	assert_non_null(strstr(b.text, "# HELP q_commit_seconds Commit.\n"
				       "# TYPE q_commit_seconds histogram\n"
				       "q_commit_seconds_bucket{le=\"5e-05\"} 1\n"
				       "q_commit_seconds_bucket{le=\"0.0001\"} 1\n"));
	assert_non_null(strstr(b.text, "q_commit_seconds_bucket{le=\"0.0005\"} 1\n"
				       "q_commit_seconds_bucket{le=\"0.001\"} 3\n"));
	assert_non_null(strstr(b.text, "q_commit_seconds_bucket{le=\"0.025\"} 3\n"
				       "q_commit_seconds_bucket{le=\"0.05\"} 4\n"));
	assert_non_null(strstr(b.text, "q_commit_seconds_bucket{le=\"1\"} 4\n"
				       "q_commit_seconds_bucket{le=\"+Inf\"} 5\n"
				       "q_commit_seconds_sum 5.031440\n"
				       "q_commit_seconds_count 5\n"));
	/* Every bucket line: le increasing, the bound the one prom_bucket_us
	 * says, counts cumulative. */
	for (line = strtok_r(b.text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char le[32];
		unsigned long long v;

		if (sscanf(line, "q_commit_seconds_bucket{le=\"%31[^\"]\"} %llu", le, &v) != 2)
			continue;
		assert_true(v >= prev);
		prev = v;
		if (strcmp(le, "+Inf") == 0) {
			assert_int_equal(nbuckets, PROM_NBUCKETS);
			continue;
		}
		assert_true(strtod(le, NULL) > prev_le);
		prev_le = strtod(le, NULL);
		assert_int_equal((unsigned long long)(prev_le * 1e6 + 0.5),
				 prom_bucket_us[nbuckets]);
		nbuckets++;
	}
	assert_int_equal(nbuckets, PROM_NBUCKETS);
	assert_int_equal(prev, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_types_and_seconds),
		cmocka_unit_test(test_hist_buckets),
		cmocka_unit_test(test_hist_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
