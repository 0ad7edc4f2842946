/* Forensic evidence: pcap files of flagged hosts' packets.
 *
 * The packets that matter come before a host is flagged, so every captured
 * packet goes into a global ring of the most recent ones (headers as
 * captured, at most snaplen bytes each, slots allocated once).  When a host
 * is flagged, its file DIR/HOST-TIME.pcap is made, every packet of the ring
 * whose source or destination is the host is written to it, then the
 * host's following packets as they arrive, up to `follow` of them, and the
 * file is closed.
 *
 * Two sides, which may live in two processes.  The parent side (an
 * instance with a directory, params.dir) makes the files, keeps the list
 * of the evidence files in the directory and the disk cap, and deletes
 * files: evidence_create(), evidence_closed(), evidence_enforce_cap().  The
 * sink side (an instance without one, params.dir NULL, with the ring)
 * writes into files it is handed as descriptors: evidence_packet(),
 * evidence_start_fd(), evidence_stop(), evidence_flush().  A sink calls
 * no open, openat, mkdir, unlink or readdir, so that the process that
 * parses hostile packets needs no access to the state directory: only
 * write, ftruncate, fstat, fcntl and close on the descriptors it holds.
 * The privilege-separated daemon runs them thus:
 *
 *   parent: evidence_create(host) -> fd, name, max_file_bytes; sends fd and
 *           max_file_bytes to the sensor; closes its copy of fd.
 *   sensor: evidence_start_fd(host, fd, max_file_bytes); packets; when a
 *           file closes, params.closed(host, file_id) -> message.
 *   parent: evidence_closed(file_id) on that message; evidence_closed_all()
 *           when the sensor has gone (its descriptors with it);
 *           evidence_stop(host) when the host is released, and sends the
 *           sensor a stop for it (the sensor: evidence_stop(host)).
 *
 * One instance with both a directory and a ring is both sides in one
 * process: evidence_start() creates the file and starts writing it, and
 * its writers report their closes to its own list.
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
 * Bounds: a sink has at most EVIDENCE_MAX_OPEN files open at once; when one
 * more host is flagged, the file started longest ago is closed early (its
 * host has had the longest follow-up already; the new host's packets
 * before its flagging are the ones only the ring still holds).  A file
 * never takes more than the max_file_bytes its parent gave it: the record
 * that would take it past is not written and the file is closed (cut
 * short, whole records).
 *
 * Disk use never exceeds max_bytes.  The parent counts each file at its
 * size as read back from the directory (fstatat: it did not write it), and
 * a file still being written at its whole max_file_bytes, until its writer
 * reports it closed; a new file's limit is at most what the cap has left.
 * So the writers can never write past the cap between two of the parent's
 * checks, however fast they write: the overshoot is zero, not merely
 * bounded.  The price is room held by files being written, at most
 * EVIDENCE_MAX_OPEN x file_max (plus the files whose close reports are on
 * their way), which the default file_max keeps to half the cap.  A file
 * being written by another process is never deleted (its blocks would
 * outlive the name until that process closed it); it may go once reported
 * closed.  The parent rereads the sizes of the files being written at
 * every evidence_enforce_cap(): a writer that broke its limit (a
 * compromised sensor) is counted at what it wrote, and the cap makes room
 * or refuses new files accordingly.
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
	/* The parent side: created (mode 0750) if missing; its parent must
	 * exist.  NULL: a sink, which touches no directory. */
	const char *dir;
	uint64_t max_bytes;    /* disk cap of the files in dir; 0: keep no evidence at all */
	unsigned ring_packets; /* packets the ring holds (all hosts); 0: no ring (a parent) */
	unsigned snaplen;      /* bytes kept per packet, 1..EVIDENCE_SNAPLEN_MAX */
	unsigned follow;       /* packets written after the start; 0: the ring only */
	/* The parent side: the most one file may take (its max_file_bytes),
	 * at least a pcap header.  0: evidence_file_max(ring_packets, follow,
	 * snaplen), but at most max_bytes / (2 * EVIDENCE_MAX_OPEN) (and at
	 * least one record).  A parent without a ring passes the sensor's
	 * ring_packets here through evidence_file_max(). */
	uint64_t file_max;
	/* Which files evidence_create() may delete to make room (see
	 * evidence_enforce_cap()); NULL: none. */
	bool (*removable)(void *arg, const char *name);
	void *removable_arg;
	/* The sink side: called when a file closes, for whatever reason
	 * (follow count, evidence_stop(), the open limit, max_file_bytes, a
	 * write error; not evidence_free()), with its host and its id (the
	 * file's st_ino), which the parent's evidence_closed() takes.  On the
	 * packet path: must not block or call back into this module.  NULL:
	 * not wanted. */
	void (*closed)(void *arg, const struct qaddr *host, uint64_t file_id);
	void *closed_arg;
};

/* The bytes one file takes when every one of ring_packets + follow records
 * is snaplen bytes long: the largest file a sink with that ring can
 * write. */
uint64_t evidence_file_max(unsigned ring_packets, unsigned follow, unsigned snaplen);

/* Keeps nothing of *p past the call (dir is opened, not remembered).
 * With a directory: creates dir if missing and scans the evidence files
 * already in it (names of our form, see above; anything else there is
 * neither counted nor deleted) for the disk use: older runs' files count
 * toward the cap and, being older, go before ours.  Without (a sink): no
 * file is touched.  With max_bytes 0 it touches no file and allocates no
 * ring.  0, -EINVAL (bad parameters), -ENOMEM, or the -errno of
 * mkdir/open/readdir. */
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

/* ---- the parent side (an instance with a directory) ---- */

/* Makes the file of host (flagged at now, wall time): calls the cap
 * enforcement first, with params.removable, then creates DIR/NAME (see
 * above; named after label, or host when label is NULL or of no family)
 * with O_EXCL, O_NOFOLLOW, O_CLOEXEC, mode 0640, empty: the writer writes
 * the pcap header, as it knows the link type.  *ret_fd is the caller's (it
 * passes it to the sink and closes its copy); *ret_max_file_bytes is the
 * most the writer may put in it (at most file_max, at most what the cap
 * has left), which the file counts for until evidence_closed().  Writes
 * the file's name (no directory) to ret_name, which has room for
 * EVIDENCE_NAME_MAX bytes (NULL: not wanted).  When the host's file is
 * still current (made, and neither stopped nor reported closed) no file is
 * made: its name, *ret_fd -1 and *ret_max_file_bytes 0.  0; -ENOTSUP
 * without a directory or when max_bytes is 0; -ENOSPC when the cap is
 * reached and nothing could be deleted (no file made); -EINVAL (host not an
 * address or MAC, or ret_fd or ret_max_file_bytes NULL), -ENAMETOOLONG
 * (len under EVIDENCE_NAME_MAX), -ENOMEM, or the -errno of openat. */
int evidence_create(struct evidence *ev, const struct qaddr *host, const struct qaddr *label,
		    usec_t now, char *ret_name, size_t len, int *ret_fd,
		    uint64_t *ret_max_file_bytes);
/* The writer closed the file whose st_ino is file_id (params.closed of
 * the sink): it counts at its size from now on, and may be deleted by the
 * cap.  A file left empty (its writer could not write even the ring, or
 * refused the descriptor) is deleted: it is not a pcap.  Unknown or
 * already closed: no-op. */
void evidence_closed(struct evidence *ev, uint64_t file_id);
/* Every file is closed: the writer process is gone, its descriptors with
 * it. */
void evidence_closed_all(struct evidence *ev);

/* ---- the sink side (an instance with a ring) ---- */

/* Starts writing host's file into fd, which it takes (closed on every
 * error too): writes the pcap header and the ring's packets of the host
 * and flushes them, so the evidence is on disk at once, then follows the
 * host.  The file's link type is that of the host's oldest packet in the
 * ring (else of the last packet captured, else Ethernet); packets of
 * another link type are not written to it (a pcap file has one) but
 * counted in packets_skipped.  A file of host still open here is closed
 * first (the parent made a new one).  Never writes more than
 * max_file_bytes to the file.  Touches nothing but fd.  0; -ENOTSUP when
 * max_bytes is 0; -EBADF (fd negative or not open for writing), -EINVAL
 * (not a regular file, host not an address or MAC, max_file_bytes under a
 * pcap header), -EEXIST (the file is not empty); -EIO when not even the
 * ring could be written (disk full: counted in write_errors, the file cut
 * back to empty); -ENOMEM or the -errno of fstat/fcntl.  params.closed
 * hears of every file it took as a regular file, failed or not; of an fd
 * refused before (-EBADF, -EINVAL, -EEXIST) it cannot know the id: the
 * parent's file then counts at its limit until evidence_closed_all(). */
int evidence_start_fd(struct evidence *ev, const struct qaddr *host, int fd,
		      uint64_t max_file_bytes);
/* Closes host's open file now, e.g. when the host is released.  No-op when
 * none is open.  On the parent side: the host's file is no longer current
 * (its next flagging makes a new file); it still counts as being written
 * until evidence_closed(). */
void evidence_stop(struct evidence *ev, const struct qaddr *host);

/* Writes out the stdio buffers of the open files (the 100 ms timer). */
void evidence_flush(struct evidence *ev);

/* ---- both sides in one process (an instance with a directory and a ring) ---- */

/* evidence_create() and evidence_start_fd() in one: the file of host, with
 * the ring's packets of the host.  If the host's file is still open it is
 * kept.  The errors of both; a file that could not be started is removed.
 * A file cut short by what the cap had left sets `capped`. */
int evidence_start(struct evidence *ev, const struct qaddr *host, usec_t now, char *ret_name,
		   size_t len);
/* The same, the file named after label (a machine's file, which follows
 * its MAC, is named after the address that names it: operators look
 * evidence up by address).  label NULL or of no family: host. */
int evidence_start_as(struct evidence *ev, const struct qaddr *host, const struct qaddr *label,
		      usec_t now, char *ret_name, size_t len);

/* The disk cap (the parent side; a no-op on a sink).  Rereads the sizes of
 * the files being written, then keeps room for one more file: when disk
 * use (files at their size, files being written at their limit) is above
 * max_bytes minus a reserve (file_max, but at most half the cap), it
 * deletes the oldest files (oldest started first; older runs' files by
 * mtime) for which removable(arg, name) says yes, until it is not.  A file
 * being written by this instance's own writer is closed first; one being
 * written by another process (not reported closed) is left until it is.
 * The daemon answers "the file's host is released" (evidence_name_host()
 * gives the host); removable must not call back into this module.  When it
 * cannot get there, evidence is capped: -ENOSPC, and evidence_create()
 * makes no new file until a later call finds room (the daemon alerts
 * "evidence cap reached"; it calls this on a timer).  *ret_deleted (may be
 * NULL): files deleted by this call.  0 or -ENOSPC. */
int evidence_enforce_cap(struct evidence *ev, bool (*removable)(void *arg, const char *name),
			 void *arg, unsigned *ret_deleted);

struct evidence_stats {
	uint64_t
		bytes_on_disk; /* sizes of the evidence files in dir, ours and older, as last read */
	uint64_t
		bytes_held; /* room held for the files being written: their limits less their sizes */
	/* The parent side */
	uint64_t files;		/* evidence files in dir (open ones included) */
	uint64_t files_deleted; /* by the cap */
	bool capped;		/* the cap is reached and nothing could be deleted */
	/* The sink side */
	uint64_t files_open;	  /* at most EVIDENCE_MAX_OPEN */
	uint64_t packets_written; /* records written, from the ring and after */
	uint64_t packets_skipped; /* not written: link type other than the file's */
	uint64_t files_cut;    /* closed before their follow count: open limit or max_file_bytes */
	uint64_t write_errors; /* files closed by a failed write */
};
void evidence_stats(const struct evidence *ev, struct evidence_stats *ret);

/* The host an evidence file name is about ("fd66__a-20240301T101500Z.pcap"
 * -> fd66::a).  0 or -EINVAL when the name is not one of ours. */
int evidence_name_host(const char *name, struct qaddr *ret);

#endif
