/* Unit tests for the control protocol encoding and parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"

/* A request built with the encoder, ending with its LF. */
static char hdr[CTL_MAX_HEADER + 1];

static void start(void)
{
	hdr[0] = '\0';
}

static void add(const char *k, const char *v)
{
	assert_int_equal(ctl_header_add(hdr, sizeof(hdr), k, v), 0);
}

static void end(void)
{
	assert_int_equal(ctl_header_end(hdr, sizeof(hdr)), 0);
}

static int parse_str(const char *s, struct ctl_request *req, char *err, size_t errlen)
{
	return ctl_request_parse(s, strlen(s), req, err, errlen);
}

static void test_roundtrip(void **state)
{
	static struct ctl_request req;
	char err[128];
	/* Every byte that needs an escape, and some that do not. */
	const char *nasty = "a\tb\nc\rd%25e%f\x01\x1f\x7f=x y\xc3\xa9";

	start();
	add("cmd", "quarantine");
	add("host", "10.1.0.5");
	add("reason", nasty);
	add("empty", "");
	add("json", "1");
	end();
	/* The encoded line holds exactly one LF (its end) and no raw TAB
	 * besides the separators. */
	assert_ptr_equal(strchr(hdr, '\n'), hdr + strlen(hdr) - 1);
	assert_null(strchr(hdr, '\r'));

	assert_int_equal(parse_str(hdr, &req, err, sizeof(err)), 0);
	assert_string_equal(req.cmd, "quarantine");
	assert_int_equal(req.nargs, 4);
	assert_string_equal(ctl_request_get(&req, "cmd"), "quarantine");
	assert_string_equal(ctl_request_get(&req, "host"), "10.1.0.5");
	assert_string_equal(ctl_request_get(&req, "reason"), nasty);
	assert_string_equal(ctl_request_get(&req, "empty"), "");
	assert_null(ctl_request_get(&req, "level"));
	assert_true(ctl_request_flag(&req, "json"));
	assert_false(ctl_request_flag(&req, "host"));
	assert_false(ctl_request_flag(&req, "all"));
	assert_int_equal(req.bodylen, 0);
	assert_non_null(req.body);
}

static void test_encoding_is_exact(void **state)
{
	start();
	add("cmd", "x");
	add("v", "%\t\n\r");
	end();
	assert_string_equal(hdr, "cmd=x\tv=%25%09%0A%0D\n");
}

static void test_decode_lowercase_hex(void **state)
{
	static struct ctl_request req;

	assert_int_equal(parse_str("cmd=x\tv=%0a%2b\n", &req, NULL, 0), 0);
	assert_string_equal(ctl_request_get(&req, "v"), "\n+");
}

static void test_body(void **state)
{
	static struct ctl_request req;
	const char buf[] = "cmd=quarantine\tfrom=1\n10.0.0.1\n# c\n10.0.0.2\n";
	char err[128];

	assert_int_equal(ctl_request_parse(buf, sizeof(buf) - 1, &req, err, sizeof(err)), 0);
	assert_true(ctl_request_flag(&req, "from"));
	assert_ptr_equal(req.body, buf + strlen("cmd=quarantine\tfrom=1\n"));
	assert_int_equal(req.bodylen, strlen("10.0.0.1\n# c\n10.0.0.2\n"));
	assert_memory_equal(req.body, "10.0.0.1\n# c\n10.0.0.2\n", req.bodylen);
}

static void test_body_binary(void **state)
{
	static struct ctl_request req;
	/* The body is opaque: NULs and TABs pass through. */
	const char buf[] = "cmd=x\n\0a\tb\n";

	assert_int_equal(ctl_request_parse(buf, sizeof(buf) - 1, &req, NULL, 0), 0);
	assert_int_equal(req.bodylen, 5);
	assert_memory_equal(req.body, "\0a\tb\n", 5);
}

static void expect_err(const char *s, int want, const char *msg_part)
{
	static struct ctl_request req;
	char err[128] = "";

	assert_int_equal(parse_str(s, &req, err, sizeof(err)), want);
	if (msg_part && !strstr(err, msg_part))
		fail_msg("'%s': message '%s' lacks '%s'", s, err, msg_part);
}

static void test_malformed(void **state)
{
	expect_err("", -EINVAL, "empty");
	expect_err("cmd=x", -EINVAL, "not terminated");
	expect_err("\n", -EINVAL, "missing cmd");
	expect_err("host=1\n", -EINVAL, "missing cmd");
	expect_err("cmd=\n", -EINVAL, "invalid cmd");
	expect_err("cmd=Quarantine\n", -EINVAL, "invalid cmd");
	expect_err("cmd=do_it\n", -EINVAL, "invalid cmd");
	expect_err("cmd=x\thost\n", -EINVAL, "without '='");
	expect_err("cmd=x\t\thost=1\n", -EINVAL, "empty field");
	expect_err("cmd=x\t\n", -EINVAL, "empty field");
	expect_err("cmd=x\tHost=1\n", -EINVAL, "invalid key");
	expect_err("cmd=x\tho-st=1\n", -EINVAL, "invalid key");
	expect_err("cmd=x\t=1\n", -EINVAL, "invalid key");
	expect_err("cmd=x\tv=%G1\n", -EINVAL, "invalid encoding");
	expect_err("cmd=x\tv=%1G\n", -EINVAL, "invalid encoding");
	expect_err("cmd=x\tv=%4\n", -EINVAL, "invalid encoding");
	expect_err("cmd=x\tv=%\n", -EINVAL, "invalid encoding");
	expect_err("cmd=x\tv=ab%\n", -EINVAL, "invalid encoding");
	expect_err("cmd=x\tv=%00\n", -EINVAL, "invalid encoding");
	expect_err("cmd=x\tv=a\rb\n", -EINVAL, "invalid encoding");
	expect_err("cmd=x\tv=a\x7f\n", -EINVAL, "invalid encoding");
	expect_err("cmd=x\tv=1\tv=2\n", -EINVAL, "duplicate key v");
	expect_err("cmd=x\tcmd=y\n", -EINVAL, "duplicate key cmd");
	/* A value may hold '='. */
	expect_err("cmd=x\tv=a=b\n", 0, NULL);
}

static void test_cmd_anywhere(void **state)
{
	static struct ctl_request req;

	assert_int_equal(parse_str("host=1\tcmd=show\n", &req, NULL, 0), 0);
	assert_string_equal(req.cmd, "show");
	assert_int_equal(req.nargs, 1);
}

static void test_too_many_args(void **state)
{
	char buf[CTL_MAX_HEADER];
	char key[8];
	size_t n;

	/* Exactly CTL_MAX_ARGS besides cmd parse ... */
	n = (size_t)snprintf(buf, sizeof(buf), "cmd=x");
	for (int i = 0; i < CTL_MAX_ARGS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\tk_%c=%d", 'a' + i, i);
	snprintf(buf + n, sizeof(buf) - n, "\n");
	expect_err(buf, 0, NULL);
	/* ... one more is an error, not a dropped field. */
	snprintf(buf + n, sizeof(buf) - n, "\tzz=1\n");
	expect_err(buf, -E2BIG, "too many");

	/* The encoder refuses the same. */
	start();
	add("cmd", "x");
	for (int i = 0; i < CTL_MAX_ARGS; i++) {
		snprintf(key, sizeof(key), "k_%c", 'a' + i);
		add(key, "1");
	}
	assert_int_equal(ctl_header_add(hdr, sizeof(hdr), "zz", "1"), -E2BIG);
}

static void test_long_value(void **state)
{
	static char v[CTL_VALUE_MAX + 1];
	static char buf[CTL_MAX_HEADER];
	static struct ctl_request req;

	/* CTL_VALUE_MAX - 1 bytes fit. */
	memset(v, 'a', CTL_VALUE_MAX - 1);
	v[CTL_VALUE_MAX - 1] = '\0';
	start();
	add("cmd", "x");
	add("v", v);
	end();
	assert_int_equal(parse_str(hdr, &req, NULL, 0), 0);
	assert_int_equal(strlen(ctl_request_get(&req, "v")), CTL_VALUE_MAX - 1);

	/* One more is refused by the encoder and the parser. */
	v[CTL_VALUE_MAX - 1] = 'a';
	v[CTL_VALUE_MAX] = '\0';
	start();
	add("cmd", "x");
	assert_int_equal(ctl_header_add(hdr, sizeof(hdr), "v", v), -E2BIG);
	snprintf(buf, sizeof(buf), "cmd=x\tv=%s\n", v);
	expect_err(buf, -E2BIG, "too long");

	/* The limit is on the decoded length: 1023 escapes take 3069 bytes on
	 * the wire and are fine. */
	memset(v, '\t', CTL_VALUE_MAX - 1);
	v[CTL_VALUE_MAX - 1] = '\0';
	start();
	add("cmd", "x");
	add("v", v);
	end();
	assert_int_equal(parse_str(hdr, &req, NULL, 0), 0);
	assert_string_equal(ctl_request_get(&req, "v"), v);
}

static void test_long_key(void **state)
{
	char key[CTL_KEY_MAX + 1];
	char buf[128];

	memset(key, 'k', CTL_KEY_MAX - 1);
	key[CTL_KEY_MAX - 1] = '\0';
	start();
	add("cmd", "x");
	add(key, "1");
	end();
	expect_err(hdr, 0, NULL);

	key[CTL_KEY_MAX - 1] = 'k';
	key[CTL_KEY_MAX] = '\0';
	start();
	assert_int_equal(ctl_header_add(hdr, sizeof(hdr), key, "1"), -EINVAL);
	snprintf(buf, sizeof(buf), "cmd=x\t%s=1\n", key);
	expect_err(buf, -E2BIG, "key too long");

	/* cmd's value is bounded by the same size. */
	snprintf(buf, sizeof(buf), "cmd=%s\n", key);
	expect_err(buf, -EINVAL, "invalid cmd");
}

/* Builds in buf a valid request line of exactly linelen bytes, LF
 * included, out of fields whose values stay under CTL_VALUE_MAX. */
static void build_line(char *buf, size_t linelen)
{
	size_t n = (size_t)sprintf(buf, "cmd=x");

	for (int i = 0; n < linelen - 1; i++) {
		size_t want;

		assert_true(i < CTL_MAX_ARGS);
		n += (size_t)sprintf(buf + n, "\tk%c=", 'a' + i);
		assert_true(n <= linelen - 1);
		want = linelen - 1 - n;
		if (want > 1000)
			want = 1000;
		memset(buf + n, 'a', want);
		n += want;
	}
	assert_int_equal(n, linelen - 1);
	buf[n] = '\n';
}

static void test_long_header(void **state)
{
	static char buf[CTL_MAX_HEADER + 64];
	static char v[CTL_VALUE_MAX];
	static struct ctl_request req;
	char key[8];
	int r = 0;

	/* The line with its LF may be exactly CTL_MAX_HEADER bytes ... */
	build_line(buf, CTL_MAX_HEADER);
	assert_int_equal(ctl_request_parse(buf, CTL_MAX_HEADER, &req, NULL, 0), 0);
	/* ... not one more, even when the rest is there. */
	build_line(buf, CTL_MAX_HEADER + 1);
	expect_err(buf, -E2BIG, "header too long");
	/* No LF within the limit yet: too long, not "unterminated". */
	assert_int_equal(ctl_request_parse(buf, CTL_MAX_HEADER, &req, NULL, 0), -E2BIG);

	/* The encoder stops at the same limit even with a larger buffer. */
	memset(v, '%', 300); /* 900 bytes encoded */
	v[300] = '\0';
	start();
	add("cmd", "x");
	for (int i = 0; i < CTL_MAX_ARGS && r == 0; i++) {
		snprintf(key, sizeof(key), "k%c", 'a' + i);
		r = ctl_header_add(hdr, sizeof(hdr), key, v);
	}
	assert_int_equal(r, -ENOSPC);
	end();
	assert_true(strlen(hdr) <= CTL_MAX_HEADER);
	assert_int_equal(parse_str(hdr, &req, NULL, 0), 0);
}

static void test_small_buffer(void **state)
{
	char small[16] = "";

	assert_int_equal(ctl_header_add(small, sizeof(small), "cmd", "status"), 0);
	/* "cmd=status\tj=1" + LF + NUL = 16 bytes: fits exactly. */
	assert_int_equal(ctl_header_add(small, sizeof(small), "j", "1"), 0);
	assert_int_equal(ctl_header_add(small, sizeof(small), "k", ""), -ENOSPC);
	assert_string_equal(small, "cmd=status\tj=1");
	assert_int_equal(ctl_header_end(small, sizeof(small)), 0);
	assert_string_equal(small, "cmd=status\tj=1\n");
	assert_int_equal(ctl_header_end(small, sizeof(small)), -ENOSPC);
}

static void test_body_too_long(void **state)
{
	static struct ctl_request req;
	size_t len = 6 + CTL_MAX_BODY + 1;
	char *buf = malloc(len);

	assert_non_null(buf);
	memcpy(buf, "cmd=x\n", 6);
	memset(buf + 6, 'b', CTL_MAX_BODY + 1);
	assert_int_equal(ctl_request_parse(buf, len, &req, NULL, 0), -E2BIG);
	assert_int_equal(ctl_request_parse(buf, len - 1, &req, NULL, 0), 0);
	assert_int_equal(req.bodylen, CTL_MAX_BODY);
	free(buf);
}

static void test_status(void **state)
{
	char buf[CTL_MAX_HEADER + 1];
	char msg[CTL_VALUE_MAX];
	char small[8];
	int st = -1;
	int n;

	n = ctl_status_format(buf, sizeof(buf), 0, "released 10.1.0.5");
	assert_int_equal(n, (int)strlen("status=0\tmsg=released 10.1.0.5\n"));
	assert_string_equal(buf, "status=0\tmsg=released 10.1.0.5\n");
	buf[n - 1] = '\0';
	assert_int_equal(ctl_status_parse(buf, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st, 0);
	assert_string_equal(msg, "released 10.1.0.5");

	n = ctl_status_format(buf, sizeof(buf), 2, "bad\tline\none %");
	assert_true(n > 0);
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	buf[n - 1] = '\0';
	assert_int_equal(ctl_status_parse(buf, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st, 2);
	assert_string_equal(msg, "bad\tline\none %");

	/* msg is optional; unknown keys are ignored; msg is shortened to fit. */
	assert_int_equal(ctl_status_parse("status=1", &st, msg, sizeof(msg)), 0);
	assert_int_equal(st, 1);
	assert_string_equal(msg, "");
	assert_int_equal(
		ctl_status_parse("status=1\tnew=2\tmsg=abcdefghij", &st, small, sizeof(small)), 0);
	assert_string_equal(small, "abcdefg");

	/* Malformed status lines, and st untouched on error. */
	st = 42;
	assert_int_equal(ctl_status_parse("", &st, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(ctl_status_parse("msg=x", &st, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(ctl_status_parse("status=", &st, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(ctl_status_parse("status=-1", &st, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(ctl_status_parse("status=1x", &st, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(ctl_status_parse("status=256", &st, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(ctl_status_parse("status=0\tstatus=1", &st, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(ctl_status_parse("status=0\tmsg=%G0", &st, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(ctl_status_parse("status=0\t\tmsg=x", &st, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(ctl_status_parse("HTTP/1.1 200 OK", &st, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(st, 42);

	/* Formatting errors. */
	assert_int_equal(ctl_status_format(small, sizeof(small), 0, "x"), -ENOSPC);
	assert_int_equal(ctl_status_format(buf, sizeof(buf), -1, "x"), -EINVAL);
	assert_int_equal(ctl_status_format(buf, sizeof(buf), 256, "x"), -EINVAL);
	assert_int_equal(ctl_status_format(buf, sizeof(buf), 1, NULL),
			 (int)strlen("status=1\tmsg=\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_encoding_is_exact),
		cmocka_unit_test(test_decode_lowercase_hex),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_body_binary),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_cmd_anywhere),
		cmocka_unit_test(test_too_many_args),
		cmocka_unit_test(test_long_value),
		cmocka_unit_test(test_long_key),
		cmocka_unit_test(test_long_header),
		cmocka_unit_test(test_small_buffer),
		cmocka_unit_test(test_body_too_long),
		cmocka_unit_test(test_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
