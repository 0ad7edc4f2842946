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

#include "decode.h"

/* The packet socket's counters (PACKET_STATISTICS) are 32-bit and reset
 * by every read: they are added up here, in 64 bits. */
struct stats_acc {
	struct capture_stats total;
};

/* Bytes of the stdio buffer of a capture file (see capture_open_file()). */
#define CAPTURE_FILE_BUFFER (1024 * 1024)

struct capture {
	pcap_t *p;
	int dlt;
	bool live;
	char name[IF_NAMESIZE]; /* the interface; "" for a file */
	struct stats_acc st;
	char *filebuf; /* a file's stdio buffer, freed after pcap_close() */
};

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
	*ret = c;
	return 0;
}

int capture_next(struct capture *c, struct capture_packet *ret, char *err, size_t errlen)
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
	free(c);
}
