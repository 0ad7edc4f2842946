/* Unit tests of the antivirus CSV parser: RFC 4180 quoting, a BOM, CRLF,
 * ';' and TAB, the headers of several consoles, --column overrides, the
 * bounds (a record far too long is refused and the next one read),
 * invalid UTF-8 refused per line, duplicates passed on (the daemon's
 * suppression counts them), and times. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "avcsv.h"
#include "types.h"

struct got {
	struct avcsv_row rows[16];
	unsigned nrows;
	unsigned bad_line[16];
	char bad_why[16][80];
	unsigned nbad;
};

static void collect(void *arg, const struct avcsv_row *row, const char *error)
{
	struct got *g = arg;

	if (error) {
		assert_true(g->nbad < 16);
		g->bad_line[g->nbad] = row->line;
		snprintf(g->bad_why[g->nbad++], 80, "%s", error);
		return;
	}
	assert_true(g->nrows < 16);
	g->rows[g->nrows++] = *row;
}

/* Parses text whole, or in pieces of step bytes (0: whole). */
static int parse(const char *text, size_t len, size_t step, const char *const *cols,
		 struct avcsv *p, struct got *g)
{
	int r = 0;

	memset(g, 0, sizeof(*g));
	avcsv_init(p, cols);
	if (!step)
		step = len ? len : 1;
	for (size_t i = 0; i < len && r == 0; i += step)
		r = avcsv_feed(p, text + i, MIN(step, len - i), collect, g);
	if (r == 0)
		r = avcsv_finish(p, collect, g);
	return r;
}

static struct avcsv p;

static void test_quoting(void **state)
{
	static const char csv[] = "Computer Name,IP Address,Threat Name,Detection Time\n"
				  "PC-1,10.1.0.5,\"Trojan, \"\"quoted\"\"\",2026-12-03 10:00:00\n"
				  "\"PC-2\",10.1.0.6,\"multi\nline\",\n";
	struct got g;

	(void)state;
	/* The same, whole or a byte at a time. */
	for (size_t step = 0; step < 2; step++) {
		assert_int_equal(parse(csv, strlen(csv), step, NULL, &p, &g), 0);
		assert_int_equal(g.nrows, 1);
		assert_string_equal(g.rows[0].host, "PC-1");
		assert_string_equal(g.rows[0].addr, "10.1.0.5");
		assert_string_equal(g.rows[0].threat, "Trojan, \"quoted\"");
		assert_int_equal(g.rows[0].line, 2);
		assert_true(g.rows[0].ts_us > 0);
		assert_string_equal(g.rows[0].evidence,
				    "PC-1,10.1.0.5,\"Trojan, \"\"quoted\"\"\",2026-12-03 10:00:00");
		/* A line break inside a threat name: a control character in
		 * a field, refused on the line the record starts on. */
		assert_int_equal(g.nbad, 1);
		assert_int_equal(g.bad_line[0], 3);
	}
}

static void test_bom_crlf_semicolon(void **state)
{
	static const char csv[] = "\xef\xbb\xbf"
				  "Computer name;IP address;Threat name;Occurred\r\n"
				  "pc-7.corp.example;10.1.0.7;Win32/Agent.X;03.12.2026 14:05:00\r\n"
				  "\r\n"
				  "pc-8;;Win32/Agent.Y;\r\n";
	struct got g;

	(void)state;
	assert_int_equal(parse(csv, strlen(csv), 0, NULL, &p, &g), 0);
	assert_int_equal(p.delim, ';');
	assert_int_equal(g.nrows, 2);
	assert_int_equal(g.nbad, 0);
	assert_string_equal(g.rows[0].host, "pc-7.corp.example");
	assert_string_equal(g.rows[0].threat, "Win32/Agent.X");
	assert_true(g.rows[0].ts_us > 0);
	assert_string_equal(g.rows[1].host, "pc-8");
	assert_string_equal(g.rows[1].addr, "");
	assert_int_equal(g.rows[1].line, 4);
	/* No CR left in the evidence. */
	assert_null(strchr(g.rows[1].evidence, '\r'));
}

/* Headers as consoles write them: the roles are found. */
static void test_consoles(void **state)
{
	static const struct {
		const char *header, *row;
		const char *host, *addr, *threat;
	} v[] = {
		/* Microsoft Defender / Intune */
		{"Device name,Threat name,Detection time,Severity",
		 "LAPTOP-9,Trojan:Win32/Wacatac,"
		 "2026-12-03T09:00:00Z,Severe",
		 "LAPTOP-9", "", "Trojan:Win32/Wacatac"},
		/* Sophos Central */
		{"Computer Name,IP address,Threat name,Detected at",
		 "PC-1,10.1.0.5,Troj/Agent-BCD,2026-12-03 09:00", "PC-1", "10.1.0.5",
		 "Troj/Agent-BCD"},
		/* Symantec SEP: the risk name */
		{"Event Time,Computer Name,IP Address,Risk Name,Action",
		 "12/3/2026 9:05:00 AM,PC-2,10.1.0.6,W32.Downadup.B,Quarantined", "PC-2",
		 "10.1.0.6", "W32.Downadup.B"},
		/* Trend Micro Apex Central: the endpoint, not where it came from */
		{"Generated,Source Host,Endpoint,Product/Endpoint IP,Virus/Malware",
		 "2026/12/03 09:00:00,10.9.9.9,PC-3,10.1.0.8,WORM_DOWNAD.AD", "PC-3", "10.1.0.8",
		 "WORM_DOWNAD.AD"},
		/* Kaspersky Security Center */
		{"Time,Device,IP address,Detected object,Object type",
		 "03.12.2026 09:00:00,PC-4,10.1.0.9,Net-Worm.Win32.Kido.ih,Virware", "PC-4",
		 "10.1.0.9", "Net-Worm.Win32.Kido.ih"},
		/* ClamAV-style */
		{"host,file,signature", "pc-5,/home/x/a.exe,Win.Worm.Conficker-1", "pc-5", "",
		 "Win.Worm.Conficker-1"},
	};
	char csv[512];
	struct got g;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(csv, sizeof(csv), "%s\n%s\n", v[i].header, v[i].row);
		if (parse(csv, strlen(csv), 0, NULL, &p, &g) != 0)
			fail_msg("%s: %s", v[i].header, p.fatal);
		assert_int_equal(g.nrows, 1);
		assert_string_equal(g.rows[0].host, v[i].host);
		assert_string_equal(g.rows[0].addr, v[i].addr);
		assert_string_equal(g.rows[0].threat, v[i].threat);
	}
	/* A US time with PM. */
	uint64_t a, b;
	assert_int_equal(avcsv_time_parse("12/3/2026 2:05:09 PM", &a), 0);
	assert_int_equal(avcsv_time_parse("2026-12-03 14:05:09", &b), 0);
	assert_int_equal(a, b);
	assert_int_equal(avcsv_time_parse("03.12.2026 14:05:09", &a), 0);
	assert_int_equal(a, b);
	assert_int_equal(avcsv_time_parse("90s", &a), -EINVAL);
	assert_int_equal(avcsv_time_parse("yesterday", &a), -EINVAL);
}

static void test_overrides(void **state)
{
	static const char csv[] = "Rechner,Adresse,Bedrohung\nPC-1,10.1.0.5,EICAR\n";
	const char *cols[AVCSV_ROLES] = {0};
	struct got g;

	(void)state;
	/* Nothing recognised: the file is refused with why. */
	assert_int_equal(parse(csv, strlen(csv), 0, NULL, &p, &g), -EINVAL);
	assert_non_null(strstr(p.fatal, "threat"));
	cols[AVCSV_HOST] = "rechner";
	cols[AVCSV_ADDR] = "ADRESSE";
	cols[AVCSV_THREAT] = "Bedrohung";
	assert_int_equal(parse(csv, strlen(csv), 0, cols, &p, &g), 0);
	assert_int_equal(g.nrows, 1);
	assert_string_equal(g.rows[0].host, "PC-1");
	assert_string_equal(g.rows[0].addr, "10.1.0.5");
	assert_string_equal(g.rows[0].threat, "EICAR");
	/* A column named that is not there. */
	cols[AVCSV_TIME] = "Zeit";
	assert_int_equal(parse(csv, strlen(csv), 0, cols, &p, &g), -EINVAL);
	assert_non_null(strstr(p.fatal, "Zeit"));
	assert_int_equal(avcsv_role_parse("threat"), AVCSV_THREAT);
	assert_int_equal(avcsv_role_parse("nope"), -1);
}

/* A record far too long (megabytes, no line break inside) is refused with
 * its line number and nothing else is lost. */
static void test_limits(void **state)
{
	static const char head[] = "host,ip,threat\npc-1,10.1.0.1,A\npc-2,10.1.0.2,";
	static const char tail[] = "\npc-3,10.1.0.3,C\n";
	size_t big = 8u << 20, len = strlen(head) + big + strlen(tail);
	char *csv = malloc(len);
	struct got g;

	(void)state;
	assert_non_null(csv);
	memcpy(csv, head, strlen(head));
	memset(csv + strlen(head), 'x', big);
	memcpy(csv + strlen(head) + big, tail, strlen(tail));
	assert_int_equal(parse(csv, len, 65536, NULL, &p, &g), 0);
	assert_int_equal(g.nrows, 2);
	assert_string_equal(g.rows[0].host, "pc-1");
	assert_string_equal(g.rows[1].host, "pc-3");
	assert_int_equal(g.rows[1].line, 4);
	assert_int_equal(g.nbad, 1);
	assert_int_equal(g.bad_line[0], 3);
	assert_non_null(strstr(g.bad_why[0], "longer than"));
	/* An unclosed quote that runs past the bound: refused, and reading
	 * goes on at the next line break. */
	memcpy(csv + strlen(head), "\"", 1);
	assert_int_equal(parse(csv, len, 0, NULL, &p, &g), 0);
	assert_int_equal(g.nrows, 2);
	assert_int_equal(g.nbad, 1);
	free(csv);
	/* Fields: a threat name longer than a rule holds. */
	char row[600];
	memset(row, 0, sizeof(row));
	strcpy(row, "host,threat\npc,");
	memset(row + strlen(row), 'T', 300);
	strcat(row, "\n");
	assert_int_equal(parse(row, strlen(row), 0, NULL, &p, &g), 0);
	assert_int_equal(g.nbad, 1);
	assert_string_equal(g.bad_why[0], "a field too long");
}

static void test_bad_lines(void **state)
{
	static const char csv[] = "host,ip,threat\n"
				  "pc-1,10.1.0.1,\xff\xfe\n" /* not UTF-8 */
				  "pc-2,10.1.0.2,A\n"
				  "pc-3,not-an-ip,B\n"
				  "pc-4,10.1.0.4,\n"	   /* no threat */
				  ",,C\n"		   /* no machine */
				  "pc-5,10.1.0.5,\"x\"y\n" /* after a quote */
				  "pc-6,10.1.0.6,A\tB\n"   /* a tab in a field */
				  "pc-2,10.1.0.2,A\n";	   /* a duplicate: passed on */
	struct got g;

	(void)state;
	assert_int_equal(parse(csv, strlen(csv), 0, NULL, &p, &g), 0);
	assert_int_equal(g.nrows, 2);
	assert_int_equal(g.rows[0].line, 3);
	assert_int_equal(g.rows[1].line, 9);
	assert_string_equal(g.rows[0].evidence, g.rows[1].evidence);
	assert_int_equal(g.nbad, 6);
	assert_int_equal(g.bad_line[0], 2);
	assert_string_equal(g.bad_why[0], "not valid UTF-8");
	assert_int_equal(g.bad_line[1], 4);
	assert_int_equal(g.bad_line[2], 5);
	assert_int_equal(g.bad_line[3], 6);
	assert_int_equal(g.bad_line[4], 7);
	assert_int_equal(g.bad_line[5], 8);
	/* An empty file, a header only. */
	assert_int_equal(parse("", 0, 0, NULL, &p, &g), -EINVAL);
	assert_int_equal(parse("host,threat\n", 12, 0, NULL, &p, &g), 0);
	assert_int_equal(g.nrows, 0);
	/* A header that is not UTF-8. */
	assert_int_equal(parse("h\xffost,threat\n", 13, 0, NULL, &p, &g), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting),	 cmocka_unit_test(test_bom_crlf_semicolon),
		cmocka_unit_test(test_consoles), cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_limits),	 cmocka_unit_test(test_bad_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
