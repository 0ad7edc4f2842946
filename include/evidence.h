/* Forensic evidence: pcap files of flagged hosts' packets.
 *
 * The packets that matter come before a host is flagged, so every captured
 * packet goes into a global ring of the most recent ones (headers as
 * captured, at most snaplen bytes each, slots allocated once).  When a host
 * is flagged, evidence_start() opens DIR/HOST-TIME.pcap, writes every packet
 * of the ring whose source or destination is the host, and then appends the
 * host's following packets as they arrive, up to `follow` of them, and
 * closes the file.
 *
 * Files are classic pcap (what tcpdump -r and Wireshark read everywhere):
 * microsecond timestamps, in the host's byte order with the magic number
 * telling readers which, one link type per file.  Writes go through stdio
 * buffers; evidence_flush(), on the daemon's 100 ms timer, pushes them out.
 *
 * Names: HOST as inet_ntop() prints it, with each ':' of an IPv6 address
 * replaced by '_' ("fd66__a"), because ':' in a file name breaks scp and
 * rsync ("host:path") and Windows, where Wireshark users copy evidence to;
 * '_' never occurs in an address, so the name still says which host it is
 * (evidence_name_host()).  TIME is the start time in UTC,
 * YYYYMMDDTHHMMSSZ.  A second file for the same host in the same second
 * gets "-1" ... "-99" before ".pcap".  Example: 10.66.0.10-20240301T101500Z.pcap.
 *
 * Bounds: at most EVIDENCE_MAX_OPEN files are open at once; when one more
 * host is flagged, the file started longest ago is closed early (its host
 * has had the longest follow-up already; the new host's packets before its
 * flagging are the ones only the ring still holds).  Disk use never exceeds
 * max_bytes: see evidence_enforce_cap().
 *
 * The packet path (evidence_packet()) never allocates, never blocks on
 * anything but a buffered write, and survives I/O errors: a file whose write
 * fails is cut back to what is known to be on disk (so that it still reads
 * as a pcap), closed, and counted.  Not thread-safe. */
#ifndef QD_EVIDENCE_H
#define QD_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "types.h"

/* Files open at once: each holds an fd and a stdio buffer. */
#define EVIDENCE_MAX_OPEN 64
/* Room for a file name (with the NUL): 45 for the address, "-", 16 for the
 * time, "-99", ".pcap"; 96 is the size of hostdb's evidence field. */
#define EVIDENCE_NAME_MAX 96
/* Bounds on the parameters (the ring is ring_packets * snaplen bytes). */
#define EVIDENCE_SNAPLEN_MAX	262144 /* libpcap's MAXIMUM_SNAPLEN */
#define EVIDENCE_RING_MAX	(1u << 20)
#define EVIDENCE_RING_BYTES_MAX (1ull << 30)

struct evidence;

struct evidence_params {
	const char *dir;       /* created (mode 0750) if missing; its parent must exist */
	uint64_t max_bytes;    /* disk cap of the files in dir; 0: keep no evidence at all */
	unsigned ring_packets; /* packets the ring holds (all hosts); 0: no ring */
	unsigned snaplen;      /* bytes kept per packet, 1..EVIDENCE_SNAPLEN_MAX */
	unsigned follow;       /* packets written after the start; 0: the ring only */
	/* Which files evidence_start() may delete to make room (see
	 * evidence_enforce_cap()); NULL: none. */
	bool (*removable)(void *arg, const char *name);
	void *removable_arg;
};

/* Keeps nothing of *p past the call (dir is opened, not remembered).
 * Creates dir if missing and scans the evidence files already in it (names
 * of our form, see above; anything else there is neither counted nor
 * deleted) for the disk use: older runs' files count toward the cap and,
 * being older, go before ours.  With max_bytes 0 it touches no file and
 * allocates no ring.  0, -EINVAL (bad parameters), -ENOMEM, or the -errno
 * of mkdir/open/readdir. */
int evidence_new(const struct evidence_params *p, struct evidence **ret);
/* Flushes and closes the open files (they keep what they have). NULL: no-op. */
void evidence_free(struct evidence *ev);

/* The packet path, for every captured packet: copies min(caplen, snaplen)
 * bytes into the ring, and appends the packet to the open file of src and to
 * that of dst (once when they are the same host), and to that of the
 * machine that sent it (mac, a MAC qaddr; NULL when the capture has no
 * link layer): a machine's file holds what it sent from any address,
 * forged ones included.  src and dst are the decoded IP addresses (ARP:
 * sender and target protocol addresses); NULL when the packet was not
 * decoded (the ring keeps it, no file gets it).
 * Borrows everything.  The daemon calls it before the engine sees the
 * packet, so that the packet which gets a host flagged is in the ring when
 * evidence_start() runs (either order writes it exactly once). */
void evidence_packet(struct evidence *ev, int dlt, const uint8_t *data, uint32_t caplen,
		     uint32_t wirelen, usec_t ts, const struct qaddr *src, const struct qaddr *dst,
		     const struct qaddr *mac);

/* Starts the file of host (flagged at now, packet time): writes the ring's
 * packets of the host and flushes them, so the evidence is on disk at once.
 * If the host's file is still open it is kept.  The file's link type is
 * that of the host's oldest packet in the ring (else of the last packet
 * captured, else Ethernet); packets of another link type are not written
 * to it (a pcap file has one) but counted in packets_skipped.  Calls the
 * cap enforcement first, with params.removable.  Writes the file's name
 * (no directory) to ret_name, which has room for EVIDENCE_NAME_MAX bytes
 * (NULL: not wanted).  0; -ENOTSUP when max_bytes is 0; -ENOSPC
 * when the cap is reached and nothing could be deleted (no file made);
 * -EIO when the file could not be written (disk full: counted in
 * write_errors, the file removed); -EINVAL, -ENAMETOOLONG (len under EVIDENCE_NAME_MAX),
 * -ENOMEM, or the -errno of open. */
int evidence_start(struct evidence *ev, const struct qaddr *host, usec_t now, char *ret_name,
		   size_t len);
/* The same, the file named after label (a machine's file, which follows
 * its MAC, is named after the address that names it: operators look
 * evidence up by address).  label NULL or of no family: host. */
int evidence_start_as(struct evidence *ev, const struct qaddr *host, const struct qaddr *label,
		      usec_t now, char *ret_name, size_t len);
/* Closes host's open file now, e.g. when the host is released.  No-op when
 * none is open. */
void evidence_stop(struct evidence *ev, const struct qaddr *host);

/* Writes out the stdio buffers of the open files (the 100 ms timer). */
void evidence_flush(struct evidence *ev);

/* The disk cap.  Disk use never exceeds max_bytes: a packet that would take
 * it past closes the file it was for (cut short) and sets `capped`.  This
 * function keeps room for one more file: when disk use is above max_bytes
 * minus a reserve (the most one file can hold, (ring_packets + follow)
 * records, but at most half the cap), it deletes the oldest files (oldest
 * started first; older runs' files by mtime) for which removable(arg, name)
 * says yes, closing one first if it is still open, until it is not.  The
 * daemon answers "the file's host is released" (evidence_name_host() gives
 * the host); removable must not call back into this module.  When it cannot
 * get there, evidence is capped: -ENOSPC, and evidence_start() makes no new
 * file until a later call finds room (the daemon alerts "evidence cap
 * reached"; it calls this on a timer, which returns at once when there is
 * room).  *ret_deleted (may be NULL): files deleted by this call.  0 or
 * -ENOSPC. */
int evidence_enforce_cap(struct evidence *ev, bool (*removable)(void *arg, const char *name),
			 void *arg, unsigned *ret_deleted);

struct evidence_stats {
	uint64_t bytes_on_disk;	  /* sizes of the evidence files in dir, ours and older */
	uint64_t files;		  /* evidence files in dir (open ones included) */
	uint64_t files_open;	  /* at most EVIDENCE_MAX_OPEN */
	uint64_t packets_written; /* records written, from the ring and after */
	uint64_t packets_skipped; /* not written: link type other than the file's */
	uint64_t files_cut;	  /* closed before their follow count: open limit or cap */
	uint64_t write_errors;	  /* files closed by a failed write (or create) */
	uint64_t files_deleted;	  /* by the cap */
	bool capped;		  /* the cap is reached and nothing could be deleted */
};
void evidence_stats(const struct evidence *ev, struct evidence_stats *ret);

/* The host an evidence file name is about ("fd66__a-20240301T101500Z.pcap"
 * -> fd66::a).  0 or -EINVAL when the name is not one of ours. */
int evidence_name_host(const char *name, struct qaddr *ret);

#endif
