/* Unit tests for evidence: pcap files of flagged hosts, written into a
 * temporary directory and read back twice, by a reader of our own (every
 * record decoded, to check whose packet it is) and by tcpdump (what an
 * analyst will use; run through system()).
 *
 * The disk-full case mounts a 32 KiB tmpfs, which needs root; that test is
 * skipped otherwise.  The last test prints a micro-benchmark of the packet
 * path. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "decode.h"
#include "evidence.h"
#include "frames.h"

/* 2024-03-01T10:15:00Z, the flagging time of every test */
#define T0	 (1709288100ULL * USEC_PER_SEC)
#define T0_NAME	 "20240301T101500Z"
#define SNAPLEN	 96
#define MB	 (1024ULL * 1024)
#define DLT_ETH	 1
#define DLT_RAW	 12
#define MAXFILES 256

struct fixture {
	char dir[64];  /* the temporary directory */
	char edir[96]; /* dir/evidence: evidence_new() creates it */
	char mnt[96];  /* a tmpfs mounted there, "" none */
};

/* 10.66.0.<last>, as addr_set_v4() makes it (b[4..15] zero). */
#define A4(last) ((struct qaddr){.family = AF_INET, .b = {10, 66, 0, (uint8_t)(last)}})

/* TCP SYN between 10.66.0.<s> and 10.66.0.<d>, with pad bytes of payload. */
static void tcp4(struct frame *f, unsigned s, unsigned d, unsigned pad)
{
	uint8_t src[4] = {10, 66, 0, (uint8_t)s}, dst[4] = {10, 66, 0, (uint8_t)d};
	size_t ip;

	fr_eth(f, FR_MAC_B, 0, FR_ETH_IPV4);
	ip = fr_ipv4(f, 6, src, dst, 0);
	fr_tcp(f, 40000 + s, 445, FR_TH_SYN);
	for (unsigned i = 0; i < pad; i++)
		fr_put8(f, 0x5a);
	fr_ipv4_end(f, ip);
}

/* The frame without its Ethernet header: raw IP. */
static void strip_eth(struct frame *f)
{
	memmove(f->b, f->b + 14, f->n - 14);
	f->n -= 14;
}

/* Hands a frame to evidence_packet() as the daemon does: with the
 * addresses decode_packet() finds, NULL when it finds none. */
static void feed_dlt(struct evidence *ev, int dlt, const struct frame *f, usec_t ts)
{
	struct pkt p;

	if (decode_packet(dlt, f->b, f->n, f->n, &p, NULL) == 0) {
		struct qaddr mac;

		if (p.flags & PKT_F_SMAC)
			addr_set_mac(&mac, p.src_mac);
		evidence_packet(ev, dlt, f->b, (uint32_t)f->n, (uint32_t)f->n, ts, &p.src, &p.dst,
				(p.flags & PKT_F_SMAC) ? &mac : NULL);
	} else {
		evidence_packet(ev, dlt, f->b, (uint32_t)f->n, (uint32_t)f->n, ts, NULL, NULL,
				NULL);
	}
}

static void feed(struct evidence *ev, const struct frame *f, usec_t ts)
{
	feed_dlt(ev, DLT_ETH, f, ts);
}

static void feed_tcp4(struct evidence *ev, unsigned s, unsigned d, usec_t ts)
{
	struct frame f;

	tcp4(&f, s, d, 0);
	feed(ev, &f, ts);
}

/* ---- reading the files back ---- */

struct pcap_summary {
	uint32_t linktype, snaplen;
	unsigned records;
	unsigned of_host;   /* records whose source or destination is the host */
	unsigned undecoded; /* records decode_packet() refused */
	usec_t first_ts, last_ts;
	bool ordered; /* timestamps never go back */
	uint32_t max_caplen, max_wirelen;
};

/* Reads a pcap written by us (native byte order) and checks its structure:
 * every record whole, nothing after the last. */
static void read_pcap(const char *path, const struct qaddr *host, struct pcap_summary *s)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;
	size_t off = 24;
	uint32_t v[6];
	uint16_t ver[2];

	assert_non_null(f);
	memset(s, 0, sizeof(*s));
	s->ordered = true;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 24);
	rewind(f);
	b = malloc((size_t)n);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);

	memcpy(&v[0], b, 4);
	memcpy(ver, b + 4, 4);
	memcpy(&v[4], b + 16, 4);
	memcpy(&v[5], b + 20, 4);
	assert_int_equal(v[0], 0xa1b2c3d4);
	assert_int_equal(ver[0], 2);
	assert_int_equal(ver[1], 4);
	s->snaplen = v[4];
	s->linktype = v[5];
	while (off < (size_t)n) {
		uint32_t h[4];
		struct pkt p;
		int dlt = s->linktype == 101 ? DLT_RAW : (int)s->linktype;
		usec_t ts;

		assert_true(off + 16 <= (size_t)n);
		memcpy(h, b + off, 16);
		off += 16;
		assert_true(h[1] < 1000000);
		assert_true(h[2] <= h[3]);
		assert_true(h[2] <= s->snaplen);
		assert_true(off + h[2] <= (size_t)n);
		ts = (usec_t)h[0] * USEC_PER_SEC + h[1];
		if (s->records == 0)
			s->first_ts = ts;
		else if (ts < s->last_ts)
			s->ordered = false;
		s->last_ts = ts;
		s->max_caplen = MAX(s->max_caplen, h[2]);
		s->max_wirelen = MAX(s->max_wirelen, h[3]);
		if (decode_packet(dlt, b + off, h[2], h[3], &p, NULL) == 0) {
			if (host && (addr_eq(&p.src, host) || addr_eq(&p.dst, host)))
				s->of_host++;
		} else {
			s->undecoded++;
		}
		off += h[2];
		s->records++;
	}
	free(b);
}

/* Packets tcpdump reads from path, or -1 when it fails on the file. */
static int tcpdump_count(const char *path)
{
	char cmd[512];
	FILE *p;
	int n = -1, r;

	snprintf(cmd, sizeof(cmd), "tcpdump -nn -r '%s' >/dev/null 2>&1", path);
	r = system(cmd);
	if (r != 0) {
		print_message("tcpdump -nn -r %s: exit status %d\n", path, r);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "tcpdump -nn -r '%s' 2>/dev/null | wc -l", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	assert_int_equal(pclose(p), 0);
	return n;
}

static void path_of(const struct fixture *fx, const char *name, char *buf, size_t len)
{
	int r = snprintf(buf, len, "%s/%s", fx->edir, name);

	assert_true(r > 0 && (size_t)r < len);
}

/* Both readers agree on the count; returns it. */
static unsigned check_file(const struct fixture *fx, const char *name, const struct qaddr *host,
			   struct pcap_summary *s)
{
	char path[256];

	path_of(fx, name, path, sizeof(path));
	read_pcap(path, host, s);
	assert_true(s->ordered);
	assert_int_equal(tcpdump_count(path), (int)s->records);
	return s->records;
}

static bool exists(const struct fixture *fx, const char *name)
{
	char path[256];

	path_of(fx, name, path, sizeof(path));
	return access(path, F_OK) == 0;
}

/* Files in the evidence directory and their total size. */
static unsigned dir_files(const struct fixture *fx, uint64_t *ret_bytes)
{
	DIR *d = opendir(fx->edir);
	struct dirent *de;
	unsigned n = 0;
	uint64_t bytes = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[256];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		path_of(fx, de->d_name, path, sizeof(path));
		assert_int_equal(stat(path, &st), 0);
		bytes += (uint64_t)st.st_size;
		n++;
	}
	closedir(d);
	if (ret_bytes)
		*ret_bytes = bytes;
	return n;
}

static struct evidence *ev_new(const struct fixture *fx, uint64_t max_bytes, unsigned ring,
			       unsigned follow)
{
	struct evidence_params p = {
		.dir = fx->edir,
		.max_bytes = max_bytes,
		.ring_packets = ring,
		.snaplen = SNAPLEN,
		.follow = follow,
	};
	struct evidence *ev = NULL;

	assert_int_equal(evidence_new(&p, &ev), 0);
	assert_non_null(ev);
	return ev;
}

static struct evidence_stats stats(const struct evidence *ev)
{
	struct evidence_stats s;

	evidence_stats(ev, &s);
	return s;
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/qd-evidence-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->edir, sizeof(fx->edir), "%s/evidence", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];
	int r;

	if (fx->mnt[0])
		umount2(fx->mnt, MNT_DETACH);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	r = system(cmd);
	free(fx);
	return r == 0 ? 0 : -1;
}

/* ---- tests ---- */

/* The host's packets before the start come from the ring, the following
 * ones up to `follow`, no more; other hosts' packets stay out. */
static void test_ring_then_follow(void **state)
{
	struct fixture *fx = *state;
	struct qaddr a = A4(10);
	struct evidence *ev = ev_new(fx, 64 * MB, 64, 5);
	struct pcap_summary s;
	struct evidence_stats st;
	struct frame f;
	char name[EVIDENCE_NAME_MAX], again[EVIDENCE_NAME_MAX], path[256];
	usec_t t = T0 - 10 * USEC_PER_SEC;
	struct qaddr back;
	uint64_t on_disk;
	struct stat sb;

	/* The directory was created, mode 0750. */
	assert_int_equal(stat(fx->edir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0750);

	feed_tcp4(ev, 10, 11, t++); /* A's probes */
	feed_tcp4(ev, 10, 12, t++);
	feed_tcp4(ev, 20, 21, t++); /* someone else */
	feed_tcp4(ev, 13, 10, t++); /* an answer to A */
	fr_lldp(&f);		    /* not decoded: ring only */
	feed(ev, &f, t++);
	tcp4(&f, 10, 14, 200); /* longer than the snaplen */
	feed(ev, &f, t++);
	feed_tcp4(ev, 22, 23, t++);

	assert_int_equal(evidence_start(ev, &a, T0, name, sizeof(name)), 0);
	assert_string_equal(name, "10.66.0.10-" T0_NAME ".pcap");
	st = stats(ev);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.files_open, 1);
	assert_int_equal(st.packets_written, 4);

	/* Flushed at the start: readable at once, with the ring's packets. */
	assert_int_equal(check_file(fx, name, &a, &s), 4);
	assert_int_equal(s.of_host, 4);
	assert_int_equal(s.linktype, 1);
	assert_int_equal(s.snaplen, SNAPLEN);
	assert_int_equal(s.max_caplen, SNAPLEN);
	assert_int_equal(s.max_wirelen, 14 + 20 + 20 + 200);
	assert_true(s.first_ts == T0 - 10 * USEC_PER_SEC);

	/* Already open: the same file. */
	assert_int_equal(evidence_start(ev, &a, T0 + USEC_PER_SEC, again, sizeof(again)), 0);
	assert_string_equal(again, name);
	assert_int_equal(stats(ev).files, 1);

	/* What follows: A's packets, 5 of them, among others. */
	t = T0 + 1;
	for (unsigned i = 0; i < 8; i++) {
		feed_tcp4(ev, 10, 30 + i, t++);
		feed_tcp4(ev, 40, 41, t++);
		if (i == 2)
			evidence_flush(ev);
	}
	st = stats(ev);
	assert_int_equal(st.files_open, 0); /* closed after the fifth */
	assert_int_equal(st.packets_written, 9);
	assert_int_equal(st.files_cut, 0);
	assert_int_equal(check_file(fx, name, &a, &s), 9);
	assert_int_equal(s.of_host, 9);
	assert_int_equal(s.undecoded, 0);
	assert_int_equal(dir_files(fx, &on_disk), 1);
	assert_int_equal(st.bytes_on_disk, on_disk);

	/* Flagged again in the same second, after the file closed: a
	 * second file. */
	assert_int_equal(evidence_start(ev, &a, T0, again, sizeof(again)), 0);
	assert_string_equal(again, "10.66.0.10-" T0_NAME "-1.pcap");
	assert_int_equal(evidence_name_host(again, &back), 0);
	assert_true(addr_eq(&back, &a));

	/* Mode 0640 whatever the umask. */
	path_of(fx, name, path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0640);
	evidence_free(ev);
}

/* The ring keeps the most recent packets only. */
static void test_ring_wraps(void **state)
{
	struct fixture *fx = *state;
	struct qaddr a = A4(10);
	struct evidence *ev = ev_new(fx, 64 * MB, 8, 0);
	struct pcap_summary s;
	char name[EVIDENCE_NAME_MAX];

	for (unsigned i = 0; i < 20; i++)
		feed_tcp4(ev, 10, 100 + i, T0 + i);
	assert_int_equal(evidence_start(ev, &a, T0, name, sizeof(name)), 0);
	assert_int_equal(stats(ev).files_open, 0); /* follow 0: the ring only */
	assert_int_equal(check_file(fx, name, &a, &s), 8);
	assert_true(s.first_ts == T0 + 12);
	assert_true(s.last_ts == T0 + 19);

	/* And packets after that go nowhere. */
	feed_tcp4(ev, 10, 11, T0 + 100);
	evidence_flush(ev);
	assert_int_equal(check_file(fx, name, &a, &s), 8);
	evidence_free(ev);
}

static void test_ipv6(void **state)
{
	struct fixture *fx = *state;
	struct qaddr a, back;
	struct evidence *ev = ev_new(fx, 64 * MB, 64, 3);
	struct pcap_summary s;
	struct frame f;
	char name[EVIDENCE_NAME_MAX];

	addr_set_v6(&a, FR_IP6_A); /* fd66::a */
	fr_tcp6(&f, FR_TH_SYN, 0);
	feed(ev, &f, T0 - 2);
	fr_udp4(&f, 0);
	feed(ev, &f, T0 - 1);
	fr_icmp6_echo(&f);
	feed(ev, &f, T0);
	assert_int_equal(evidence_start(ev, &a, T0, name, sizeof(name)), 0);
	/* ':' would break scp/rsync and Windows */
	assert_string_equal(name, "fd66__a-" T0_NAME ".pcap");
	assert_int_equal(evidence_name_host(name, &back), 0);
	assert_true(addr_eq(&back, &a));
	for (unsigned i = 0; i < 5; i++) {
		fr_udp6(&f);
		feed(ev, &f, T0 + 1 + i);
	}
	evidence_flush(ev);
	assert_int_equal(check_file(fx, name, &a, &s), 2 + 3);
	assert_int_equal(s.of_host, 5);
	evidence_free(ev);
}

/* ARP: sender and target protocol addresses stand for source and
 * destination. */
/* A machine's file follows its MAC: what it sent from any address (a
 * forger's forged sources included), not what others sent from them. */
static void test_machine_file(void **state)
{
	struct fixture *fx = *state;
	struct evidence *ev = ev_new(fx, 64 * MB, 64, 1000);
	static const uint8_t forger[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};
	struct pcap_summary s;
	char name[EVIDENCE_NAME_MAX];
	struct frame f;
	struct qaddr m, back;
	usec_t t = T0 - 10 * USEC_PER_SEC;

	addr_set_mac(&m, forger);
	for (unsigned i = 0; i < 3; i++) {
		tcp4(&f, 50 + i, 60 + i, 0); /* from three addresses, one machine */
		memcpy(f.b + 6, forger, 6);
		feed(ev, &f, t++);
	}
	feed_tcp4(ev, 50, 70, t++); /* the first address, another machine */
	assert_int_equal(evidence_start(ev, &m, T0, name, sizeof(name)), 0);
	assert_string_equal(name, "02_00_00_00_00_0b-" T0_NAME ".pcap");
	assert_int_equal(evidence_name_host(name, &back), 0);
	assert_true(addr_eq(&back, &m));
	tcp4(&f, 99, 98, 0); /* and after the start */
	memcpy(f.b + 6, forger, 6);
	feed(ev, &f, T0 + 1);
	evidence_stop(ev, &m);
	assert_int_equal(check_file(fx, name, &m, &s), 4);

	/* Named after its address, as the daemon names a machine's file. */
	back = A4(50);
	assert_int_equal(
		evidence_start_as(ev, &m, &back, T0 + 5 * USEC_PER_SEC, name, sizeof(name)), 0);
	assert_string_equal(name, "10.66.0.50-20240301T101505Z.pcap");
	evidence_free(ev);
}

static void test_arp(void **state)
{
	struct fixture *fx = *state;
	struct qaddr b;
	struct evidence *ev = ev_new(fx, 64 * MB, 64, 2);
	struct pcap_summary s;
	struct frame f;
	char name[EVIDENCE_NAME_MAX];

	addr_set_v4(&b, FR_IP_B);
	fr_arp_request(&f, 0); /* who-has B, from A */
	feed(ev, &f, T0 - 3);
	fr_arp_request(&f, 7); /* tagged */
	feed(ev, &f, T0 - 2);
	feed_tcp4(ev, 50, 51, T0 - 1);
	assert_int_equal(evidence_start(ev, &b, T0, name, sizeof(name)), 0);
	fr_arp_request(&f, 0);
	feed(ev, &f, T0 + 1);
	evidence_flush(ev);
	assert_int_equal(check_file(fx, name, &b, &s), 3);
	assert_int_equal(s.of_host, 3);
	evidence_free(ev);
}

/* Raw IP captures (DLT_RAW 12) are LINKTYPE_RAW (101) in a file; a packet
 * of another link type is not written into it. */
static void test_raw_linktype(void **state)
{
	struct fixture *fx = *state;
	struct qaddr a = A4(10);
	struct evidence *ev = ev_new(fx, 64 * MB, 64, 3);
	struct pcap_summary s;
	struct frame f;
	char name[EVIDENCE_NAME_MAX];

	tcp4(&f, 10, 11, 0);
	strip_eth(&f);
	feed_dlt(ev, DLT_RAW, &f, T0 - 1);
	assert_int_equal(evidence_start(ev, &a, T0, name, sizeof(name)), 0);
	feed_tcp4(ev, 10, 12, T0 + 1); /* Ethernet: skipped */
	feed_dlt(ev, DLT_RAW, &f, T0 + 2);
	evidence_flush(ev);
	assert_int_equal(check_file(fx, name, &a, &s), 2);
	assert_int_equal(s.linktype, 101);
	assert_int_equal(s.of_host, 2);
	assert_int_equal(stats(ev).packets_skipped, 1);
	evidence_free(ev);
}

/* At most EVIDENCE_MAX_OPEN files: the one started first is closed when
 * one more host is flagged. */
static void test_open_limit(void **state)
{
	struct fixture *fx = *state;
	struct evidence *ev = ev_new(fx, 64 * MB, 16, 100);
	struct evidence_stats st;
	struct pcap_summary s;
	char first[EVIDENCE_NAME_MAX], name[EVIDENCE_NAME_MAX];
	struct qaddr h;

	for (unsigned i = 0; i <= EVIDENCE_MAX_OPEN; i++) {
		h = A4(100 + i);
		assert_int_equal(evidence_start(ev, &h, T0, i ? name : first, sizeof(name)), 0);
		feed_tcp4(ev, 100 + i, 1, T0 + i); /* hash collisions are fine */
	}
	st = stats(ev);
	assert_int_equal(st.files_open, EVIDENCE_MAX_OPEN);
	assert_int_equal(st.files, EVIDENCE_MAX_OPEN + 1);
	assert_int_equal(st.files_cut, 1);
	feed_tcp4(ev, 100, 1, T0 + 1000); /* its file is closed */
	feed_tcp4(ev, 101, 1, T0 + 1000); /* its file is open */
	evidence_flush(ev);
	h = A4(100);
	assert_int_equal(check_file(fx, first, &h, &s), 1); /* the one packet before */
	assert_int_equal(stats(ev).packets_written, EVIDENCE_MAX_OPEN + 2);
	evidence_stop(ev, &h); /* not open: nothing */
	h = A4(101);
	evidence_stop(ev, &h);
	assert_int_equal(stats(ev).files_open, EVIDENCE_MAX_OPEN - 1);
	evidence_free(ev);
}

/* The "released" hosts of the cap test, by file name. */
struct released {
	struct qaddr h[8];
	unsigned n;
	unsigned asked;
};

static bool is_released(void *arg, const char *name)
{
	struct released *r = arg;
	struct qaddr a;

	r->asked++;
	if (evidence_name_host(name, &a) < 0)
		return false;
	for (unsigned i = 0; i < r->n; i++)
		if (addr_eq(&r->h[i], &a))
			return true;
	return false;
}

/* Starts host 10.66.0.<i>'s file with 3 packets from the ring; the name
 * in names[i]. */
static int start_host(struct evidence *ev, unsigned i, char names[][EVIDENCE_NAME_MAX])
{
	struct qaddr h = A4(i);

	for (unsigned k = 0; k < 3; k++)
		feed_tcp4(ev, i, 200 + k, T0 + i * 10 + k);
	return evidence_start(ev, &h, T0 + i * USEC_PER_SEC, names[i], EVIDENCE_NAME_MAX);
}

/* The same, its packets in the ring already. */
static int start_again(struct evidence *ev, unsigned i, char names[][EVIDENCE_NAME_MAX])
{
	struct qaddr h = A4(i);

	return evidence_start(ev, &h, T0 + i * USEC_PER_SEC, names[i], EVIDENCE_NAME_MAX);
}

static void test_cap(void **state)
{
	struct fixture *fx = *state;
	/* A file: 24 + 3 * (16 + 54) = 234 bytes.  Ring 16, follow 0 and the
	 * snaplen make the largest file 24 + 16 * 112 = 1816 (given: the
	 * default would be a 1/128 share of the cap), more than half the
	 * cap, so the reserve is half: room is kept while disk use is under
	 * 1200. */
	struct released rel = {.n = 0};
	struct evidence_params p = {
		.dir = fx->edir,
		.max_bytes = 2400,
		.ring_packets = 16,
		.snaplen = SNAPLEN,
		.follow = 0,
		.file_max = evidence_file_max(16, 0, SNAPLEN),
		.removable = is_released,
		.removable_arg = &rel,
	};
	char names[32][EVIDENCE_NAME_MAX];
	struct evidence *ev = NULL;
	struct evidence_stats st;
	unsigned deleted;
	uint64_t on_disk;

	assert_int_equal(evidence_new(&p, &ev), 0);
	/* 1..6 fit: 5 * 234 = 1170 <= 1200, the sixth takes it past. */
	for (unsigned i = 1; i <= 6; i++)
		assert_int_equal(start_host(ev, i, names), 0);
	st = stats(ev);
	assert_int_equal(st.bytes_on_disk, 6 * 234);
	assert_false(st.capped);
	/* Nothing released: no room for a seventh. */
	assert_int_equal(start_host(ev, 7, names), -ENOSPC);
	assert_true(stats(ev).capped);
	assert_int_equal(stats(ev).files, 6);
	assert_int_equal(evidence_enforce_cap(ev, is_released, &rel, &deleted), -ENOSPC);
	assert_int_equal(deleted, 0);

	/* 4 and 2 are released: 2 goes first (older), which is enough. */
	rel.h[rel.n++] = A4(4);
	rel.h[rel.n++] = A4(2);
	assert_int_equal(start_again(ev, 7, names), 0);
	assert_false(exists(fx, names[2]));
	assert_true(exists(fx, names[4]));
	assert_true(exists(fx, names[1]) && exists(fx, names[3]) && exists(fx, names[5]));
	st = stats(ev);
	assert_int_equal(st.files_deleted, 1);
	assert_int_equal(st.files, 6);
	assert_false(st.capped);
	/* Then 4. */
	assert_int_equal(start_host(ev, 8, names), 0);
	assert_false(exists(fx, names[4]));
	assert_int_equal(stats(ev).files_deleted, 2);
	/* Then nothing can go. */
	assert_int_equal(start_host(ev, 9, names), -ENOSPC);
	for (unsigned i = 1; i <= 8; i++)
		assert_int_equal(exists(fx, names[i]), i != 2 && i != 4);
	st = stats(ev);
	assert_true(st.capped);
	assert_int_equal(dir_files(fx, &on_disk), 6);
	assert_int_equal(st.bytes_on_disk, on_disk);
	assert_true(on_disk <= p.max_bytes);

	/* Released later: the daemon's timer finds room. */
	rel.h[rel.n++] = A4(1);
	assert_int_equal(evidence_enforce_cap(ev, is_released, &rel, &deleted), 0);
	assert_int_equal(deleted, 1);
	assert_false(exists(fx, names[1]));
	assert_false(stats(ev).capped);
	evidence_free(ev);

	/* A new run counts what is there, oldest first by mtime. */
	assert_int_equal(evidence_new(&p, &ev), 0);
	st = stats(ev);
	assert_int_equal(st.files, 5);
	assert_int_equal(st.bytes_on_disk, 5 * 234);
	rel.n = 0;
	rel.h[rel.n++] = A4(5);
	rel.h[rel.n++] = A4(3);
	rel.h[rel.n++] = A4(8);
	assert_int_equal(start_host(ev, 9, names), 0); /* there is room */
	assert_int_equal(stats(ev).files, 6);
	assert_int_equal(start_host(ev, 10, names), 0); /* 3 goes, the oldest released */
	assert_false(exists(fx, names[3]));
	assert_true(exists(fx, names[5]) && exists(fx, names[8]));
	evidence_free(ev);
}

/* Disk use never goes past the cap, even inside a file: the packet that
 * would take it past closes the file, which still reads. */
static void test_cap_hard(void **state)
{
	struct fixture *fx = *state;
	struct evidence_params p = {
		.dir = fx->edir,
		.max_bytes = 1000,
		.ring_packets = 4,
		.snaplen = SNAPLEN,
		.follow = 1000,
		.file_max = 2000, /* more than the cap: the cap cuts the file */
	};
	struct evidence *ev = NULL;
	struct pcap_summary s;
	struct qaddr a = A4(10);
	char name[EVIDENCE_NAME_MAX];

	assert_int_equal(evidence_new(&p, &ev), 0);
	assert_int_equal(evidence_start(ev, &a, T0, name, sizeof(name)), 0);
	for (unsigned i = 0; i < 100; i++)
		feed_tcp4(ev, 10, 11, T0 + i);
	assert_int_equal(stats(ev).files_open, 0);
	assert_int_equal(stats(ev).files_cut, 1);
	assert_true(stats(ev).capped);
	/* 24 + 13 * 70 = 934; a fourteenth would make 1004 */
	assert_int_equal(check_file(fx, name, &a, &s), 13);
	assert_int_equal(stats(ev).bytes_on_disk, 934);
	evidence_free(ev);
}

/* state.evidence_max_mb = 0: no evidence at all, not even a directory. */
static void test_disabled(void **state)
{
	struct fixture *fx = *state;
	struct qaddr a = A4(10);
	struct evidence *ev = ev_new(fx, 0, 64, 10);
	struct evidence_stats st;
	char name[EVIDENCE_NAME_MAX];
	unsigned deleted = 1;

	feed_tcp4(ev, 10, 11, T0);
	assert_int_equal(evidence_start(ev, &a, T0, name, sizeof(name)), -ENOTSUP);
	feed_tcp4(ev, 10, 11, T0 + 1);
	evidence_flush(ev);
	assert_int_equal(evidence_enforce_cap(ev, is_released, NULL, &deleted), 0);
	assert_int_equal(deleted, 0);
	st = stats(ev);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.packets_written, 0);
	assert_int_equal(access(fx->edir, F_OK), -1);
	evidence_free(ev);
	evidence_free(NULL);
}

static void test_bad_params(void **state)
{
	struct fixture *fx = *state;
	struct evidence_params p = {.dir = fx->edir, .max_bytes = MB, .snaplen = 0};
	struct evidence *ev = NULL;
	struct qaddr none = {.family = 0}, back = A4(10);
	char name[EVIDENCE_NAME_MAX];

	assert_int_equal(evidence_new(&p, &ev), -EINVAL);
	p.snaplen = SNAPLEN;
	p.dir = "";
	assert_int_equal(evidence_new(&p, &ev), -EINVAL);
	p.dir = "/nonexistent-qd/evidence";
	assert_int_equal(evidence_new(&p, &ev), -ENOENT);
	ev = ev_new(fx, MB, 4, 4);
	assert_int_equal(evidence_start(ev, &none, T0, name, sizeof(name)), -EINVAL);
	assert_int_equal(evidence_start(ev, &back, T0, name, 10), -ENAMETOOLONG);
	evidence_free(ev);

	assert_int_equal(evidence_name_host("notes.txt", &back), -EINVAL);
	assert_int_equal(evidence_name_host("10.66.0.1-2024.pcap", &back), -EINVAL);
	assert_int_equal(evidence_name_host("10.66.0.1-20240301T101500Z.pcap.tmp", &back), -EINVAL);
	assert_int_equal(evidence_name_host("10.66.0.1-20240301T101500Z-7.pcap", &back), 0);
	assert_int_equal(evidence_name_host("10.66.0.300-20240301T101500Z.pcap", &back), -EINVAL);
}

/* Files that are not ours in the directory are neither counted nor
 * deleted. */
static void test_foreign_files(void **state)
{
	struct fixture *fx = *state;
	struct evidence *ev = ev_new(fx, MB, 4, 4);
	char path[256];
	FILE *f;

	evidence_free(ev);
	path_of(fx, "capture.pcap", path, sizeof(path));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not ours", f);
	fclose(f);
	ev = ev_new(fx, MB, 4, 4);
	assert_int_equal(stats(ev).files, 0);
	assert_int_equal(stats(ev).bytes_on_disk, 0);
	evidence_free(ev);
}

/* A full disk: write errors are counted, the file is cut back to whole
 * records, the packet path goes on. */
static void test_disk_full(void **state)
{
	struct fixture *fx = *state;
	struct qaddr a = A4(10), b = A4(11);
	struct evidence *ev;
	struct evidence_stats st;
	struct pcap_summary s;
	struct frame f;
	char name[EVIDENCE_NAME_MAX];
	char path[256];
	uint64_t on_disk;
	usec_t t = T0;

	if (geteuid() != 0) {
		print_message("skipped: mounting a tmpfs needs root\n");
		skip();
	}
	snprintf(fx->mnt, sizeof(fx->mnt), "%s", fx->edir);
	assert_int_equal(mkdir(fx->edir, 0750), 0);
	if (mount("none", fx->edir, "tmpfs", 0, "size=32k,mode=0750") < 0) {
		print_message("skipped: mount tmpfs: %s\n", strerror(errno));
		fx->mnt[0] = '\0';
		skip();
	}
	ev = ev_new(fx, 64 * MB, 512, 100000);
	tcp4(&f, 10, 11, 200);
	for (unsigned i = 0; i < 10; i++)
		feed(ev, &f, t++);
	assert_int_equal(evidence_start(ev, &a, t, name, sizeof(name)), 0);
	/* 32 KiB fill up after about 280 more (112-byte records) */
	for (unsigned i = 0; i < 400; i++) {
		feed(ev, &f, t++);
		if (i % 10 == 9)
			evidence_flush(ev);
	}
	st = stats(ev);
	assert_int_equal(st.write_errors, 1);
	assert_int_equal(st.files_open, 0);
	/* What is left is whole records: tcpdump reads it all. */
	path_of(fx, name, path, sizeof(path));
	read_pcap(path, &a, &s);
	assert_true(s.records >= 10);
	assert_int_equal(s.of_host, s.records);
	assert_int_equal(tcpdump_count(path), (int)s.records);
	assert_int_equal(dir_files(fx, &on_disk), 1);
	assert_int_equal(stats(ev).bytes_on_disk, on_disk);

	/* No room even for b's ring: no file, an error, counted. */
	for (unsigned i = 0; i < 300; i++)
		feed_tcp4(ev, 11, 12, t++);
	assert_int_equal(evidence_start(ev, &b, t, name, sizeof(name)), -EIO);
	st = stats(ev);
	assert_int_equal(st.write_errors, 2);
	assert_int_equal(st.files, 1);
	assert_int_equal(dir_files(fx, NULL), 1);
	/* The packet path goes on. */
	for (unsigned i = 0; i < 1000; i++)
		feed(ev, &f, t++);
	evidence_flush(ev);
	evidence_free(ev);
}

static double bench_ns(struct evidence *ev, const struct frame *f, unsigned n, usec_t t)
{
	struct timespec a, b;
	struct pkt p;

	assert_int_equal(decode_packet(DLT_ETH, f->b, f->n, f->n, &p, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned i = 0; i < n; i++)
		evidence_packet(ev, DLT_ETH, f->b, (uint32_t)f->n, (uint32_t)f->n, t + i, &p.src,
				&p.dst, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
}

/* ns per evidence_packet(): a ring of 4096 packets of 160 bytes (the
 * default snaplen), 60-byte frames. */
static void test_bench(void **state)
{
	struct fixture *fx = *state;
	enum { N = 1000000, NW = 200000 };
	struct evidence_params p = {
		.dir = fx->edir,
		.max_bytes = 1024 * MB,
		.ring_packets = 4096,
		.snaplen = 160,
		.follow = NW,
		.file_max = evidence_file_max(4096, NW, 160),
	};
	struct evidence *ev = NULL;
	struct qaddr a = A4(10);
	struct frame other, mine;
	double none, open_other, open_mine;

	assert_int_equal(evidence_new(&p, &ev), 0);
	tcp4(&other, 20, 21, 6);
	tcp4(&mine, 10, 21, 6);
	none = bench_ns(ev, &other, N, T0);
	assert_int_equal(evidence_start(ev, &a, T0 + N, NULL, 0), 0);
	open_other = bench_ns(ev, &other, N, T0 + N);
	open_mine = bench_ns(ev, &mine, NW, T0 + 2 * N);
	assert_int_equal(stats(ev).packets_written, NW);
	assert_int_equal(stats(ev).files_open, 0);
	print_message("evidence_packet(): %.1f ns with no open file, %.1f ns with one open file "
		      "(another host's packet), %.1f ns writing to it\n",
		      none, open_other, open_mine);
	evidence_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ring_then_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_machine_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_linktype, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_hard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bench, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
