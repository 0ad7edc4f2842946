/* Packet sources over libpcap. */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "decode.h"

/* The packet socket's counters (PACKET_STATISTICS) are 32-bit and reset
 * by every read: they are added up here, in 64 bits. */
struct stats_acc {
	struct capture_stats total;
};

/* Bytes of the stdio buffer of a capture file (see capture_open_file()). */
#define CAPTURE_FILE_BUFFER (1024 * 1024)

/* A classic pcap file in this host's byte order, version 2.4: the only
 * kind file_next() reads itself (pcap-savefile(5)). */
#define PCAP_MAGIC_US 0xa1b2c3d4u /* microsecond timestamps */
#define PCAP_MAGIC_NS 0xa1b23c4du /* nanosecond timestamps */
#define PCAP_FILE_HDR 24
#define PCAP_REC_HDR  16
/* file_next()'s buffer, and how much it reads at a time: whole blocks of
 * stdio's buffer size, and room for more than twice the largest record
 * libpcap reads (16 + 262,144 bytes), so that one always fits after the
 * compaction. */
#define FILE_READ_BUFFER (2 * CAPTURE_FILE_BUFFER)
#define FILE_READ_BLOCK	 CAPTURE_FILE_BUFFER

/* The fast reader of a capture file (file_next()).  buf holds the bytes
 * of the file from offset pos, len of them, of which the records before
 * off were handed out.  A regular file is read with pread() on its
 * descriptor (fd), which leaves the stream and its position alone: stdio
 * would copy every block through its own buffer, since libpcap's reading
 * of the file header left that buffer full and out of step with ours.
 * Any other stream (the fuzzers' fmemopen()) is read with fread(), and
 * is then positioned at pos + len. */
struct file_reader {
	FILE *f;
	int fd; /* -1: fread() */
	uint8_t *buf;
	size_t len, off;
	off_t pos;
	uint32_t snapshot; /* libpcap's, which caps every record it hands out */
	bool nano;
	bool on; /* false: every record through libpcap */
};

struct capture {
	pcap_t *p;
	int dlt;
	bool live;
	char name[IF_NAMESIZE]; /* the interface; "" for a file */
	struct stats_acc st;
	char *filebuf; /* a file's stdio buffer, freed after pcap_close() */
	struct file_reader rd;
};

/* ---- capture files ----
 *
 * libpcap reads a file two fread() calls a packet (the record's header,
 * then its bytes, copied into its own buffer): on a header-only trace
 * that was a third of `quarantined -r`, as much as everything the bare
 * read loop does (docs/BENCHMARKS.md, "Offline detection against the
 * bare read loop").  For the common file, a classic pcap in our byte
 * order, file_next() reads large blocks and hands out each record where
 * it lies.  It takes only the records libpcap would hand out unchanged:
 * whole, no longer than the snapshot length, the timestamp's fraction
 * within its second.  Anything else (a truncated or oversized record,
 * the end of the file, an odd timestamp) is left to libpcap, from the
 * record's own offset, so that what it makes of it, packet or error,
 * stays exactly libpcap's.  libpcap still opens every file and reads
 * pcapng, byte-swapped and old-version files itself. */

/* Takes the fast path for f when it is a classic pcap file that can seek
 * (a regular file, or the fuzzers' fmemopen()): libpcap read its header
 * only, and the stream is just after it.  Anything unexpected leaves
 * the reader off, and the stream where libpcap left it. */
static void reader_start(struct capture *c, FILE *f)
{
	struct file_reader *rd = &c->rd;
	uint8_t h[PCAP_FILE_HDR];
	uint32_t magic;
	uint16_t major, minor;
	int snap = pcap_snapshot(c->p);
	struct stat st;
	bool ok;

	memset(rd, 0, sizeof(*rd));
	if (snap <= 0 || pcap_is_swapped(c->p) || ftello(f) != PCAP_FILE_HDR ||
	    fseeko(f, 0, SEEK_SET) != 0)
		return;
	ok = fread(h, 1, sizeof(h), f) == sizeof(h);
	if (fseeko(f, PCAP_FILE_HDR, SEEK_SET) != 0 || !ok)
		return; /* (a stream that seeks back and forth once cannot fail here) */
	memcpy(&magic, h, 4);
	memcpy(&major, h + 4, 2);
	memcpy(&minor, h + 6, 2);
	if ((magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS) || major != 2 || minor != 4)
		return;
	rd->buf = malloc(FILE_READ_BUFFER);
	if (!rd->buf)
		return; /* libpcap's way, slower */
	rd->f = f;
	rd->fd = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? fileno(f) : -1;
	rd->pos = PCAP_FILE_HDR;
	rd->snapshot = (uint32_t)snap;
	rd->nano = magic == PCAP_MAGIC_NS;
	rd->on = true;
}

/* Moves what is left to the front of the buffer and reads more after
 * it: false when nothing more came (end of file or an error, which
 * libpcap then meets and names). */
static bool reader_fill(struct file_reader *rd)
{
	size_t left = rd->len - rd->off, want, n;

	memmove(rd->buf, rd->buf + rd->off, left);
	rd->pos += (off_t)rd->off;
	rd->off = 0;
	rd->len = left;
	want = (FILE_READ_BUFFER - left) / FILE_READ_BLOCK * FILE_READ_BLOCK;
	if (rd->fd >= 0) {
		ssize_t r;

		do
			r = pread(rd->fd, rd->buf + left, want, rd->pos + (off_t)left);
		while (r < 0 && errno == EINTR);
		n = r > 0 ? (size_t)r : 0;
	} else {
		n = fread(rd->buf + left, 1, want, rd->f);
	}
	rd->len += n;
	return n > 0;
}

static int libpcap_next(struct capture *c, struct capture_packet *ret, char *err, size_t errlen);

/* libpcap reads the record at the reader's cursor; the reader goes on
 * after it when it was a packet. */
static int reader_handoff(struct capture *c, struct capture_packet *ret, char *err, size_t errlen)
{
	struct file_reader *rd = &c->rd;
	off_t at = rd->pos + (off_t)rd->off, next;
	int r;

	rd->on = false;
	if (fseeko(rd->f, at, SEEK_SET) != 0) {
		snprintf(err, errlen, "cannot seek in the capture file: %s", strerror(errno));
		return -EIO;
	}
	r = libpcap_next(c, ret, err, errlen);
	if (r == 1 && (next = ftello(rd->f)) >= 0) {
		rd->pos = next;
		rd->off = rd->len = 0;
		rd->on = true;
	}
	return r;
}

/* The record at the reader's cursor, when it lies whole in the buffer:
 * 1, it is in *ret and the cursor after it; 0, the buffer must be
 * filled first; -1, it is libpcap's to read (reader_handoff()). */
static int reader_take(const struct capture *c, struct file_reader *rd, struct capture_packet *ret)
{
	size_t avail = rd->len - rd->off;
	const uint8_t *h = rd->buf + rd->off;
	uint32_t caplen, wirelen;
	int32_t sec, frac;

	if (avail < PCAP_REC_HDR)
		return 0;
	memcpy(&sec, h, 4);
	memcpy(&frac, h + 4, 4);
	memcpy(&caplen, h + 8, 4);
	memcpy(&wirelen, h + 12, 4);
	if (caplen > rd->snapshot || sec < 0 || frac < 0 ||
	    frac >= (rd->nano ? 1000000000 : 1000000))
		return -1;
	if (avail - PCAP_REC_HDR < caplen)
		return 0;
	ret->data = h + PCAP_REC_HDR;
	ret->caplen = caplen;
	ret->wirelen = wirelen;
	ret->ts = (usec_t)sec * USEC_PER_SEC + (usec_t)(rd->nano ? frac / 1000 : frac);
	ret->dlt = c->dlt;
	rd->off += PCAP_REC_HDR + caplen;
	return 1;
}

static int file_next(struct capture *c, struct capture_packet *ret, char *err, size_t errlen)
{
	struct file_reader *rd = &c->rd;
	int r;

	while ((r = reader_take(c, rd, ret)) == 0)
		if (!reader_fill(rd))
			break;
	if (r == 1)
		return 1;
	return reader_handoff(c, ret, err, errlen);
}

int capture_next(struct capture *c, struct capture_packet *ret, char *err, size_t errlen)
{
	return c->rd.on ? file_next(c, ret, err, errlen) : libpcap_next(c, ret, err, errlen);
}

int capture_next_batch(struct capture *c, struct capture_packet *ret, unsigned max, char *err,
		       size_t errlen)
{
	unsigned n = 1;
	int r;

	if (max == 0)
		return 0;
	r = capture_next(c, &ret[0], err, errlen);
	if (r != 1)
		return r;
	/* Then the records that lie whole in the buffer as it is: filling
	 * it would move the ones already handed out, and libpcap keeps
	 * only its last. */
	while (n < max && c->rd.on && reader_take(c, &c->rd, &ret[n]) == 1)
		n++;
	return (int)n;
}

int capture_open_file(const char *path, struct capture **ret, char *err, size_t errlen)
{
	FILE *f;
	char *buf;
	int r;

	/* Open the file ourselves so that it gets O_CLOEXEC ("e"). */
	f = fopen(path, "rbe");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		return r;
	}
	/* libpcap reads a file a packet header and a packet at a time
	 * through stdio, whose buffer is a page: one read() for every 40
	 * header-only packets.  A larger buffer makes that one read for
	 * every 10,000.  Without memory for it, stdio's own does. */
	buf = malloc(CAPTURE_FILE_BUFFER);
	if (buf && setvbuf(f, buf, _IOFBF, CAPTURE_FILE_BUFFER) != 0) {
		free(buf);
		buf = NULL;
	}
	r = capture_open_stream(f, ret, err, errlen);
	if (r < 0) {
		free(buf); /* after fclose(), which capture_open_stream() did */
		return r;
	}
	(*ret)->filebuf = buf;
	return 0;
}

int capture_open_stream(FILE *f, struct capture **ret, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c;
	pcap_t *p;

	p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!p) {
		fclose(f);
		snprintf(err, errlen, "not a readable pcap or pcapng file: %s",
			 ebuf[0] ? ebuf : "unknown error");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		pcap_close(p);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->p = p;
	c->dlt = pcap_datalink(p);
	if (!decode_link_supported(c->dlt)) {
		snprintf(err, errlen, "unsupported link type %d (%s)", c->dlt,
			 capture_datalink_name(c->dlt));
		capture_close(c);
		return -EPROTONOSUPPORT;
	}
	reader_start(c, f);
	*ret = c;
	return 0;
}

static int libpcap_next(struct capture *c, struct capture_packet *ret, char *err, size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int r = pcap_next_ex(c->p, &h, &data);

	if (r == 1) {
		ret->data = data;
		ret->caplen = h->caplen;
		ret->wirelen = h->len;
		ret->ts = (usec_t)h->ts.tv_sec * USEC_PER_SEC + (usec_t)h->ts.tv_usec;
		ret->dlt = c->dlt;
		return 1;
	}
	if (r == PCAP_ERROR_BREAK)
		return 0; /* end of a savefile */
	snprintf(err, errlen, "%s", pcap_geterr(c->p));
	return -EIO;
}

int capture_datalink(const struct capture *c)
{
	return c->dlt;
}

/* ---- live capture ---- */

/* Writes "what" and, when pcap said more, its words after it.  pcap's
 * message for activation errors may be empty or may only repeat the
 * error code, so ours comes first and says what the operator can do. */
static void live_err(char *err, size_t errlen, const char *what, const char *detail)
{
	if (detail && *detail)
		snprintf(err, errlen, "%s (%s)", what, detail);
	else
		snprintf(err, errlen, "%s", what);
}

/* pcap_activate() failed with status r: pick the errno the daemon acts on
 * (it retries -ENODEV and -ENETDOWN) and a message that says what to do. */
static int activate_error(pcap_t *p, int r, char *err, size_t errlen)
{
	const char *detail = pcap_geterr(p);

	switch (r) {
	case PCAP_ERROR_NO_SUCH_DEVICE:
		live_err(err, errlen, "no such interface", detail);
		return -ENODEV;
	case PCAP_ERROR_IFACE_NOT_UP:
		live_err(err, errlen, "interface is down", detail);
		return -ENETDOWN;
	case PCAP_ERROR_PERM_DENIED:
		live_err(err, errlen, "permission denied: capturing needs CAP_NET_RAW", detail);
		return -EPERM;
	case PCAP_ERROR_PROMISC_PERM_DENIED:
		live_err(err, errlen,
			 "permission denied for promiscuous mode: it needs CAP_NET_RAW", detail);
		return -EPERM;
	default:
		live_err(err, errlen, "cannot open the interface for capture",
			 detail && *detail ? detail : pcap_statustostr(r));
		return -EIO;
	}
}

/* libpcap opens its packet socket without SOCK_CLOEXEC; set it so that no
 * child we ever start inherits a capture socket. */
static int set_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static int set_filter(pcap_t *p, const char *expr, char *err, size_t errlen)
{
	struct bpf_program prog;
	int r = 0;

	/* The netmask only matters for "ip broadcast", which we never use. */
	if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "bad capture filter: %s", pcap_geterr(p));
		return -EINVAL;
	}
	if (pcap_setfilter(p, &prog) < 0) {
		snprintf(err, errlen, "cannot set the capture filter: %s", pcap_geterr(p));
		r = -EIO;
	}
	pcap_freecode(&prog);
	return r;
}

int capture_open_live(const char *ifname, const struct capture_opts *o, struct capture **ret,
		      char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c = NULL;
	pcap_t *p = NULL;
	int r, fd;

	if (errlen)
		err[0] = '\0';
	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE) {
		snprintf(err, errlen, "invalid interface name");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p = pcap_create(ifname, ebuf);
	if (!p) {
		snprintf(err, errlen, "cannot create a capture handle: %s",
			 ebuf[0] ? ebuf : "unknown error");
		r = -ENOMEM;
		goto fail;
	}
	if (o->snaplen > 0 && pcap_set_snaplen(p, (int)MIN(o->snaplen, (unsigned)INT_MAX)) != 0) {
		r = -EINVAL;
		snprintf(err, errlen, "cannot set the snaplen");
		goto fail;
	}
	if (o->buffer_mb > 0) {
		/* pcap takes the size in bytes as an int: 2047 MiB at most
		 * (conf.c accepts up to 4096; see BUFFER_MB_MAX there). */
		unsigned mb = MIN(o->buffer_mb, (unsigned)(INT_MAX >> 20));

		if (pcap_set_buffer_size(p, (int)(mb << 20)) != 0) {
			r = -EINVAL;
			snprintf(err, errlen, "cannot set the buffer size");
			goto fail;
		}
	}
	/* Immediate mode: each packet is handed over as soon as it arrives,
	 * not when a TPACKET_V3 block fills or times out (SPEC section 8).
	 * The short timeout only matters should immediate mode be ignored. */
	if (pcap_set_promisc(p, o->promisc ? 1 : 0) != 0 || pcap_set_immediate_mode(p, 1) != 0 ||
	    pcap_set_timeout(p, 10) != 0 ||
	    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO) != 0) {
		r = -EINVAL;
		snprintf(err, errlen, "cannot set capture options: %s", pcap_geterr(p));
		goto fail;
	}
	r = pcap_activate(p);
	if (r < 0) {
		r = activate_error(p, r, err, errlen);
		goto fail;
	}
	if (r > 0) {
		/* Not fatal (e.g. no promiscuous mode on this device), but the
		 * operator should know: the message is left in err for the
		 * caller to log although we succeed. */
		live_err(err, errlen, pcap_statustostr(r), pcap_geterr(p));
	}
	fd = pcap_get_selectable_fd(p);
	if (fd < 0) {
		snprintf(err, errlen, "capture has no pollable descriptor");
		r = -EOPNOTSUPP;
		goto fail;
	}
	r = set_cloexec(fd);
	if (r < 0) {
		snprintf(err, errlen, "cannot set close-on-exec: %s", strerror(-r));
		goto fail;
	}
	c->dlt = pcap_datalink(p);
	if (!decode_link_supported(c->dlt)) {
		snprintf(err, errlen, "unsupported link type %d (%s)", c->dlt,
			 capture_datalink_name(c->dlt));
		r = -EPROTONOSUPPORT;
		goto fail;
	}
	if (o->filter) {
		r = set_filter(p, o->filter, err, errlen);
		if (r < 0)
			goto fail;
	}
	if (pcap_setnonblock(p, 1, ebuf) < 0) {
		snprintf(err, errlen, "cannot set non-blocking mode: %s", ebuf);
		r = -EIO;
		goto fail;
	}
	c->p = p;
	c->live = true;
	snprintf(c->name, sizeof(c->name), "%s", ifname);
	*ret = c;
	return 0;
fail:
	if (p)
		pcap_close(p);
	free(c);
	return r;
}

int capture_fd(const struct capture *c)
{
	return pcap_get_selectable_fd(c->p);
}

const char *capture_name(const struct capture *c)
{
	return c->name;
}

struct dispatch_ctx {
	void (*cb)(void *arg, const struct capture_packet *p);
	void *arg;
	int dlt;
};

static void dispatch_one(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	const struct dispatch_ctx *x = (const struct dispatch_ctx *)(void *)user;
	struct capture_packet pkt = {
		.data = bytes,
		.caplen = h->caplen,
		.wirelen = h->len,
		.dlt = x->dlt,
	};

	/* A clock before 1970 would wrap the unsigned usec_t: call it 0. */
	if (h->ts.tv_sec >= 0 && h->ts.tv_usec >= 0)
		pkt.ts = (usec_t)h->ts.tv_sec * USEC_PER_SEC + (usec_t)h->ts.tv_usec;
	x->cb(x->arg, &pkt);
}

int capture_dispatch(struct capture *c, int max,
		     void (*cb)(void *arg, const struct capture_packet *p), void *arg, char *err,
		     size_t errlen)
{
	struct dispatch_ctx x = {.cb = cb, .arg = arg, .dlt = c->dlt};
	int r;

	/* pcap reads "0 or -1" as "a whole buffer", which is no bound. */
	if (max <= 0)
		return -EINVAL;
	r = pcap_dispatch(c->p, max, dispatch_one, (u_char *)(void *)&x);
	if (r >= 0)
		return r;
	if (r == PCAP_ERROR_BREAK)
		return 0; /* pcap_breakloop(), which we never call */
	snprintf(err, errlen, "%s", pcap_geterr(c->p));
	return -EIO;
}

/* Read from the packet socket itself rather than with pcap_stats(),
 * which also opens /sys/class/net/IF/statistics for the interface's own
 * drops: the sensor's seccomp filter allows no open at all.  Those are
 * capture_ifdropped()'s, which the parent reads. */
int capture_get_stats(struct capture *c, struct capture_stats *ret)
{
	struct tpacket_stats ks;
	socklen_t len = sizeof(ks);

	if (!c->live)
		return -EOPNOTSUPP; /* files have no kernel counters */
	memset(&ks, 0, sizeof(ks));
	if (getsockopt(pcap_fileno(c->p), SOL_PACKET, PACKET_STATISTICS, &ks, &len) < 0)
		return -errno;
	/* tp_packets counts what the filter passed, dropped ones included. */
	c->st.total.received += ks.tp_packets;
	c->st.total.dropped += ks.tp_drops;
	*ret = c->st.total;
	return 0;
}

int capture_ifdropped(const char *ifname, uint64_t *ret)
{
	char path[96], buf[32];
	unsigned long long v;
	FILE *f;

	if (strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/'))
		return -EINVAL;
	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/rx_dropped", ifname);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%llu", &v) != 1) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*ret = v;
	return 0;
}

const char *capture_datalink_name(int dlt)
{
	const char *n = pcap_datalink_val_to_name(dlt);

	return n ? n : "unknown";
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	pcap_close(c->p);
	free(c->filebuf);
	free(c->rd.buf);
	free(c);
}
