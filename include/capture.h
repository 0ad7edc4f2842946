/* Packet sources.  The only module that includes <pcap.h>. */
#ifndef QD_CAPTURE_H
#define QD_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "types.h"

struct capture;

struct capture_packet {
	const uint8_t *data; /* valid until the next capture_next() */
	uint32_t caplen, wirelen;
	usec_t ts;
	int dlt;
};

/* Opens a pcap or pcapng file for reading.  0, or -errno with a message in
 * err (which names the problem, not the file). */
int capture_open_file(const char *path, struct capture **ret, char *err, size_t errlen);
/* The same for a file already open: takes f (closed by capture_close(), or
 * here on failure).  The fuzzers hand it bytes through fmemopen(). */
int capture_open_stream(FILE *f, struct capture **ret, char *err, size_t errlen);
/* 1: a packet in *ret; 0: end of file; -EIO: read error (message in err). */
int capture_next(struct capture *c, struct capture_packet *ret, char *err, size_t errlen);
/* Up to max packets in ret[], all readable until the next call (a
 * file's records where they lie in the reader's buffer): how many, at
 * least 1; 0 at the end of the file; -EIO as capture_next().  The same
 * packets, in the same order, as capture_next() would hand out. */
int capture_next_batch(struct capture *c, struct capture_packet *ret, unsigned max, char *err,
		       size_t errlen);
int capture_datalink(const struct capture *c);

/* ---- live capture ---- */

struct capture_opts {
	unsigned snaplen;   /* bytes per packet (headers only) */
	unsigned buffer_mb; /* kernel ring size */
	bool promisc;
	const char *filter; /* BPF filter expression (pcap syntax); NULL: none */
};

/* Opens interface ifname for live capture: promiscuous, immediate mode (no
 * batching delay in the TPACKET_V3 ring, SPEC section 8), non-blocking, with
 * the BPF filter compiled and set.  0, or -errno with a message in err.
 * -ENODEV / -ENETDOWN when the interface does not exist or is down (the
 * daemon retries those). */
int capture_open_live(const char *ifname, const struct capture_opts *o, struct capture **ret,
		      char *err, size_t errlen);
/* The descriptor to poll for readability. */
int capture_fd(const struct capture *c);
const char *capture_name(const struct capture *c);
/* Hands every packet available now (at most max) to cb.  Returns the number
 * of packets, 0 when none was waiting, or -EIO (message in err; the
 * interface went away or failed). */
int capture_dispatch(struct capture *c, int max,
		     void (*cb)(void *arg, const struct capture_packet *p), void *arg, char *err,
		     size_t errlen);

struct capture_stats {
	uint64_t received;  /* packets the filter passed */
	uint64_t dropped;   /* dropped by the kernel: no room in the buffer */
	uint64_t ifdropped; /* dropped by the interface or driver */
};
/* Cumulative counters of a live capture, from its packet socket (64-bit,
 * where the kernel's are 32-bit and reset by every read); ifdropped is
 * left 0 (see capture_ifdropped()).  0 or -errno. */
int capture_get_stats(struct capture *c, struct capture_stats *ret);
/* The interface's own drops (rx_dropped in sysfs), for the parent: the
 * sensor opens no file.  0 or -errno. */
int capture_ifdropped(const char *ifname, uint64_t *ret);
const char *capture_datalink_name(int dlt);
void capture_close(struct capture *c); /* NULL is a no-op */

#endif
