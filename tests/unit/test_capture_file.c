/* Unit tests of reading capture files (capture.c's own reader of classic
 * pcap files, file_next()): every file gives, packet for packet and to the
 * last error message, what libpcap's pcap_next_ex() gives, and the common
 * file does not go through pcap_next_ex() at all.
 *
 * Linked with -Wl,--wrap=pcap_next_ex (tests/meson.build): the wrapper
 * counts the calls capture.c makes; the reference reads call the real
 * function. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "capture.h"

int __real_pcap_next_ex(pcap_t *p, struct pcap_pkthdr **h, const u_char **data);
int __wrap_pcap_next_ex(pcap_t *p, struct pcap_pkthdr **h, const u_char **data);

static unsigned wrapped_calls;

int __wrap_pcap_next_ex(pcap_t *p, struct pcap_pkthdr **h, const u_char **data)
{
	wrapped_calls++;
	return __real_pcap_next_ex(p, h, data);
}

/* ---- writing files ---- */

struct file {
	uint8_t *b;
	size_t len, cap;
	bool swap; /* big-endian fields on this little-endian test host */
};

static void put(struct file *f, const void *p, size_t n)
{
	if (f->len + n > f->cap) {
		f->cap = (f->len + n) * 2;
		f->b = realloc(f->b, f->cap);
		assert_non_null(f->b);
	}
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void put32(struct file *f, uint32_t v)
{
	if (f->swap)
		v = __builtin_bswap32(v);
	put(f, &v, 4);
}

static void put16(struct file *f, uint16_t v)
{
	if (f->swap)
		v = __builtin_bswap16(v);
	put(f, &v, 2);
}

static void file_header(struct file *f, uint32_t magic, uint16_t minor, uint32_t snaplen)
{
	put32(f, magic);
	put16(f, 2);
	put16(f, minor);
	put32(f, 0);
	put32(f, 0);
	put32(f, snaplen);
	put32(f, 1); /* LINKTYPE_ETHERNET */
}

/* A record of caplen bytes (claimed in its header: rec_caplen) whose
 * bytes tell it from the others. */
static void record(struct file *f, uint32_t sec, uint32_t frac, uint32_t rec_caplen,
		   uint32_t caplen, uint32_t len, unsigned seed)
{
	put32(f, sec);
	put32(f, frac);
	put32(f, rec_caplen);
	put32(f, len);
	for (uint32_t i = 0; i < caplen; i++) {
		uint8_t c = (uint8_t)(seed * 31 + i);
		put(f, &c, 1);
	}
}

static void normal(struct file *f, unsigned i)
{
	uint32_t caplen = 54 + (i * 7) % 150;

	record(f, 1768467600 + i / 1000, (i % 1000) * 997, caplen, caplen, caplen + 1400, i);
}

static char *write_file(const struct file *f)
{
	char *path = strdup("/tmp/qd-test-capture-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, f->b, f->len), (ssize_t)f->len);
	close(fd);
	return path;
}

/* ---- reading them both ways ---- */

struct outcome {
	unsigned packets;
	int end;       /* 0: end of file; -1: an error */
	char err[256]; /* its message */
};

/* The largest batch compare() asks capture_next_batch() for. */
#define BATCH_MAX 7

/* Reads path through capture.c (from the file, or from a stream over its
 * bytes as the fuzzers do) and through libpcap, and checks that both give
 * the same packets and end the same way. */
static struct outcome compare(const char *path, const struct file *f, bool stream, unsigned batch)
{
	char ebuf[PCAP_ERRBUF_SIZE], err[256] = "";
	struct capture *c = NULL;
	struct capture_packet pkt, pk[BATCH_MAX];
	unsigned bi = 0, bn = 0;
	struct pcap_pkthdr *h;
	const u_char *data;
	struct outcome o;
	pcap_t *p;
	int r, rr;

	memset(&o, 0, sizeof(o));
	p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	assert_non_null(p);
	if (stream) {
		FILE *s = fmemopen(f->b, f->len, "rb");

		assert_non_null(s);
		assert_int_equal(capture_open_stream(s, &c, err, sizeof(err)), 0);
	} else {
		assert_int_equal(capture_open_file(path, &c, err, sizeof(err)), 0);
	}
	for (;;) {
		/* In batches (capture_next_batch()), each packet is checked
		 * after libpcap read the ones before it: the batch's data
		 * must stay where it was handed out. */
		if (!batch) {
			r = capture_next(c, &pkt, err, sizeof(err));
		} else if (bi < bn) {
			pkt = pk[bi++];
			r = 1;
		} else {
			r = capture_next_batch(c, pk, batch, err, sizeof(err));
			assert_true(r <= (int)batch);
			if (r > 0) {
				bn = (unsigned)r;
				bi = 0;
				pkt = pk[bi++];
				r = 1;
			}
		}
		rr = __real_pcap_next_ex(p, &h, &data);
		if (rr != 1) {
			assert_int_equal(r, rr == PCAP_ERROR_BREAK ? 0 : -EIO);
			if (r < 0)
				assert_string_equal(err, pcap_geterr(p));
			o.end = r < 0 ? -1 : 0;
			snprintf(o.err, sizeof(o.err), "%s", r < 0 ? err : "");
			break;
		}
		assert_int_equal(r, 1);
		assert_int_equal(pkt.caplen, h->caplen);
		assert_int_equal(pkt.wirelen, h->len);
		assert_true(pkt.ts == (usec_t)h->ts.tv_sec * USEC_PER_SEC + (usec_t)h->ts.tv_usec);
		assert_int_equal(pkt.dlt, pcap_datalink(p));
		assert_memory_equal(pkt.data, data, h->caplen);
		o.packets++;
	}
	capture_close(c);
	pcap_close(p);
	return o;
}

static struct outcome check(struct file *f, unsigned *ret_calls)
{
	char *path = write_file(f);
	struct outcome o, s;

	wrapped_calls = 0;
	o = compare(path, f, false, 0);
	if (ret_calls)
		*ret_calls = wrapped_calls;
	s = compare(path, f, true, 0);
	assert_int_equal(s.packets, o.packets);
	assert_int_equal(s.end, o.end);
	/* The same, a batch at a time, as quarantined -r reads. */
	for (unsigned b = 1; b <= BATCH_MAX; b += BATCH_MAX - 1) {
		s = compare(path, f, false, b);
		assert_int_equal(s.packets, o.packets);
		assert_int_equal(s.end, o.end);
		assert_string_equal(s.err, o.err);
		s = compare(path, f, true, b);
		assert_int_equal(s.packets, o.packets);
		assert_int_equal(s.end, o.end);
	}
	unlink(path);
	free(path);
	free(f->b);
	memset(f, 0, sizeof(*f));
	return o;
}

/* ---- the cases ---- */

/* Enough records to cross the reader's 2 MiB buffer several times, with
 * records cut at its edges; none goes through libpcap but the end. */
static void test_many_records(void **state)
{
	struct file f = {0};
	unsigned calls;
	struct outcome o;

	(void)state;
	file_header(&f, 0xa1b2c3d4, 4, 262144);
	for (unsigned i = 0; i < 60000; i++)
		normal(&f, i);
	o = check(&f, &calls);
	assert_int_equal(o.packets, 60000);
	assert_int_equal(o.end, 0);
	assert_int_equal(calls, 1); /* the end of the file, which libpcap says */
}

static void test_nanoseconds(void **state)
{
	struct file f = {0};
	unsigned calls;
	struct outcome o;

	(void)state;
	file_header(&f, 0xa1b23c4d, 4, 65535);
	for (unsigned i = 0; i < 100; i++)
		record(&f, 1768467600 + i, 999999999 - i * 12345, 60, 60, 60, i);
	o = check(&f, &calls);
	assert_int_equal(o.packets, 100);
	assert_int_equal(calls, 1);
}

static void test_empty(void **state)
{
	struct file f = {0};
	struct outcome o;

	(void)state;
	file_header(&f, 0xa1b2c3d4, 4, 65535);
	o = check(&f, NULL);
	assert_int_equal(o.packets, 0);
	assert_int_equal(o.end, 0);
}

/* A record longer than the snapshot length: libpcap cuts it to that
 * length and goes on, and so do we, then on our own again. */
static void test_longer_than_snapshot(void **state)
{
	struct file f = {0};
	unsigned calls;
	struct outcome o;

	(void)state;
	file_header(&f, 0xa1b2c3d4, 4, 96);
	for (unsigned i = 0; i < 10; i++)
		record(&f, 1768467600, i, 80, 80, 80, i);
	record(&f, 1768467600, 10, 150, 150, 150, 10);
	for (unsigned i = 11; i < 20; i++)
		record(&f, 1768467600, i, 90, 90, 90, i);
	o = check(&f, &calls);
	assert_int_equal(o.packets, 20);
	assert_int_equal(o.end, 0);
	assert_int_equal(calls, 2);
}

/* Timestamps libpcap hands out as they are (before 1970, a fraction of a
 * second or more): left to it. */
static void test_odd_timestamps(void **state)
{
	struct file f = {0};
	struct outcome o;

	(void)state;
	file_header(&f, 0xa1b2c3d4, 4, 65535);
	record(&f, 1768467600, 5, 60, 60, 60, 1);
	record(&f, 0xfffffff0u, 5, 60, 60, 60, 2);
	record(&f, 1768467600, 1000000, 60, 60, 60, 3);
	record(&f, 1768467600, 0xffffff00u, 60, 60, 60, 4);
	record(&f, 1768467601, 5, 60, 60, 60, 5);
	o = check(&f, NULL);
	assert_int_equal(o.packets, 5);
}

static void test_truncated_header(void **state)
{
	struct file f = {0};
	struct outcome o;
	uint8_t junk[5] = {1, 2, 3, 4, 5};

	(void)state;
	file_header(&f, 0xa1b2c3d4, 4, 65535);
	for (unsigned i = 0; i < 30; i++)
		normal(&f, i);
	put(&f, junk, sizeof(junk));
	o = check(&f, NULL);
	assert_int_equal(o.packets, 30);
	assert_int_equal(o.end, -1);
	assert_non_null(strstr(o.err, "truncated"));
}

static void test_truncated_data(void **state)
{
	struct file f = {0};
	struct outcome o;

	(void)state;
	file_header(&f, 0xa1b2c3d4, 4, 65535);
	for (unsigned i = 0; i < 30; i++)
		normal(&f, i);
	record(&f, 1768467600, 0, 200, 120, 200, 99); /* 80 bytes missing */
	o = check(&f, NULL);
	assert_int_equal(o.packets, 30);
	assert_int_equal(o.end, -1);
	assert_non_null(strstr(o.err, "truncated"));
}

/* A length no packet has: libpcap's error, after the good records. */
static void test_insane_length(void **state)
{
	struct file f = {0};
	struct outcome o;

	(void)state;
	file_header(&f, 0xa1b2c3d4, 4, 65535);
	for (unsigned i = 0; i < 30; i++)
		normal(&f, i);
	record(&f, 1768467600, 0, 0x7fffffff, 0, 60, 99);
	o = check(&f, NULL);
	assert_int_equal(o.packets, 30);
	assert_int_equal(o.end, -1);
	assert_non_null(strstr(o.err, "invalid packet capture length"));
}

/* Files the reader leaves to libpcap whole: the other byte order, and an
 * older version whose lengths may be swapped. */
static void test_left_to_libpcap(void **state)
{
	struct file f = {0};
	unsigned calls;
	struct outcome o;

	(void)state;
	f.swap = true;
	file_header(&f, 0xa1b2c3d4, 4, 65535);
	for (unsigned i = 0; i < 50; i++)
		normal(&f, i);
	o = check(&f, &calls);
	assert_int_equal(o.packets, 50);
	assert_int_equal(calls, 51);

	file_header(&f, 0xa1b2c3d4, 3, 65535);
	for (unsigned i = 0; i < 50; i++)
		record(&f, 1768467600, i, 80, 80, 100, i);
	o = check(&f, &calls);
	assert_int_equal(o.packets, 50);
	assert_int_equal(calls, 51);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_records),	cmocka_unit_test(test_nanoseconds),
		cmocka_unit_test(test_empty),		cmocka_unit_test(test_longer_than_snapshot),
		cmocka_unit_test(test_odd_timestamps),	cmocka_unit_test(test_truncated_header),
		cmocka_unit_test(test_truncated_data),	cmocka_unit_test(test_insane_length),
		cmocka_unit_test(test_left_to_libpcap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
