/* Forensic evidence pcaps; see evidence.h. */
#include "evidence.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"

/* Classic pcap (libpcap's savefile.c and pcap/pcap.h describe it): a
 * 24-byte file header, then a 16-byte header before each packet, every
 * field in the writer's byte order, which readers tell by the magic. */
#define PCAP_MAGIC_USEC	  0xa1b2c3d4u /* microsecond timestamps */
#define PCAP_VERSION_MAJ  2
#define PCAP_VERSION_MIN  4
#define PCAP_HDR_LEN	  24
#define PCAP_REC_LEN	  16
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW	  101

#define NAME_SUFFIX_MAX 99 /* HOST-TIME-99.pcap: files of one host in one second */
/* stdio buffer of a writer: one write(2) per 32 KiB (about 190 records of
 * the default 160-byte snaplen) or per evidence_flush(), where stdio's own
 * (st_blksize, 4 KiB) makes one per 23 records; measured, writing a packet
 * to a file costs about half as much.  At most EVIDENCE_MAX_OPEN of them:
 * 2 MiB. */
#define WRITER_BUF 32768
#define FILES_MIN  64 /* first size of the file list; it doubles */

/* One packet of the ring; its bytes are at ring + index * snaplen. */
struct ev_slot {
	usec_t ts;
	uint32_t caplen; /* bytes kept, at most snaplen */
	uint32_t wirelen;
	int dlt;
	struct qaddr src, dst; /* family 0: not decoded */
	struct qaddr mac;      /* the sender's MAC (family AF_MAC), or family 0 */
};

/* An evidence file in the directory, ours or from an older run (parent
 * side: an instance with a directory). */
struct ev_file {
	char name[EVIDENCE_NAME_MAX];
	struct qaddr host;     /* ours: the host it is for; older runs': family 0 */
	uint64_t size;	       /* on disk, as last read (fstat/fstatat) */
	uint64_t limit;	       /* while growing: the most it may reach (the writer's limit) */
	uint64_t id;	       /* st_ino: the writer reports its close by it */
	uint64_t seq;	       /* creation order; 0: an older run's */
	struct timespec mtime; /* files found by the scan: their age */
	bool growing;	       /* a writer may still append: ours, not known closed */
	bool current;	       /* the host's file: evidence_create() for it returns this one */
	bool drop;	       /* evidence_enforce_cap(): deleted, to be taken out of the list */
};

/* A file being written (either side: an instance with writers). */
struct ev_writer {
	FILE *f;   /* NULL: the slot is free */
	char *buf; /* WRITER_BUF bytes, allocated at the slot's first use, kept */
	struct qaddr host;
	uint64_t id;	  /* st_ino of the file */
	uint64_t size;	  /* bytes written so far (buffered ones included) */
	uint64_t limit;	  /* max_file_bytes: size never goes past it */
	uint32_t left;	  /* following packets still to write */
	int dlt;	  /* link type of the file (as a DLT) */
	uint8_t pos;	  /* index in ev->open */
	bool dirty;	  /* written since the last flush */
	uint64_t good;	  /* bytes known to be on disk: size at the last good flush */
	uint64_t started; /* start order: the lowest is closed when all are taken */
};

struct evidence {
	bool enabled; /* max_bytes > 0 */
	int dirfd;    /* -1: a sink, which touches no directory */
	uint64_t max_bytes;
	uint64_t file_max; /* the most one file may take */
	uint64_t reserve;  /* room enforce_cap keeps for one more file */
	unsigned snaplen, follow;
	bool (*removable)(void *arg, const char *name);
	void *removable_arg;
	void (*deleted)(void *arg, const struct qaddr *host, const char *name);
	void *deleted_arg;
	void (*closed)(void *arg, const struct qaddr *host, uint64_t file_id);
	void *closed_arg;

	/* The ring: slots[head] is the next to be overwritten. */
	struct ev_slot *slots;
	uint8_t *ring;
	uint32_t ring_n, ring_head, ring_used;
	int last_dlt; /* of the last packet seen: link type of a file the ring has nothing for */

	/* Open files.  open[0..nopen) are the indexes of the slots in use, so
	 * that the packet path looks at those only; hcount counts them by
	 * host_hash(), so that a packet of a host without a file (nearly
	 * all of them) costs two loads.  Collisions only cost a compare
	 * each, at most EVIDENCE_MAX_OPEN of them: nothing for a spoofer to
	 * gain, so no keyed hash is needed here. */
	struct ev_writer w[EVIDENCE_MAX_OPEN];
	uint8_t open[EVIDENCE_MAX_OPEN];
	unsigned nopen;
	uint8_t hcount[256];
	uint64_t nstarted;

	/* Every evidence file in the directory, oldest first.  Grows (by
	 * doubling) only in evidence_create(), never on the packet path. */
	struct ev_file *files;
	size_t nfiles, files_cap;
	size_t ndrop;	   /* files deleted, still in the list until the next compaction */
	uint64_t ncreated; /* files made by this instance: the last one's seq */
	uint64_t disk;	   /* sum of files[].size */
	uint64_t held;	   /* sum over growing files of what they may still add */

	struct evidence_stats st; /* counters; the rest is filled in by evidence_stats() */
};

static inline unsigned host_hash(const struct qaddr *a)
{
	/* IPv4 lives in b[0..3], a MAC in b[0..5], the rest zero: the low
	 * bytes of each, which differ between hosts of one network. */
	return (unsigned)(a->b[2] ^ a->b[3] ^ a->b[4] ^ a->b[5] ^ a->b[14] ^ a->b[15]);
}

static inline bool same_host(const struct qaddr *a, const struct qaddr *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static inline struct ev_writer *find_writer(struct evidence *ev, const struct qaddr *a)
{
	if (ev->hcount[host_hash(a)] == 0)
		return NULL;
	for (unsigned i = 0; i < ev->nopen; i++) {
		struct ev_writer *w = &ev->w[ev->open[i]];

		if (same_host(&w->host, a))
			return w;
	}
	return NULL;
}

/* pcap files carry LINKTYPE_* values, which equal the DLT_* values that
 * pcap_datalink() returns except for raw IP (DLT_RAW is 12, or 14 on
 * OpenBSD; LINKTYPE_RAW is 101). */
static uint32_t linktype(int dlt)
{
	switch (dlt) {
	case LINK_RAW:
	case LINK_RAW_ALT:
		return LINKTYPE_RAW;
	default:
		return (uint32_t)dlt;
	}
}

/* ---- names ---- */

static int make_name(const struct qaddr *host, usec_t now, unsigned n, char *buf, size_t len)
{
	char a[ADDR_STRLEN], t[24];
	time_t s = (time_t)(now / USEC_PER_SEC);
	struct tm tm;
	int r;

	addr_ntop(host, a);
	for (char *p = a; *p; p++)
		if (*p == ':')
			*p = '_';
	if (!gmtime_r(&s, &tm) || strftime(t, sizeof(t), "%Y%m%dT%H%M%SZ", &tm) != 16)
		return -EINVAL; /* a year past 9999 */
	if (n == 0)
		r = snprintf(buf, len, "%s-%s.pcap", a, t);
	else
		r = snprintf(buf, len, "%s-%s-%u.pcap", a, t, n);
	return r < 0 || (size_t)r >= len ? -ENAMETOOLONG : 0;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int evidence_name_host(const char *name, struct qaddr *ret)
{
	char a[ADDR_STRLEN];
	const char *t = strchr(name, '-'), *end;
	size_t n;

	if (!t || (size_t)(t - name) >= sizeof(a))
		return -EINVAL;
	/* TIME: YYYYMMDDTHHMMSSZ */
	end = t + 1;
	if (strlen(end) < 16 || !all_digits(end, 8) || end[8] != 'T' || !all_digits(end + 9, 6) ||
	    end[15] != 'Z')
		return -EINVAL;
	end += 16;
	if (*end == '-') { /* -N for a second file in the same second */
		n = strspn(end + 1, "0123456789");
		if (n == 0 || n > 2 || end[1] == '0')
			return -EINVAL;
		end += 1 + n;
	}
	if (strcmp(end, ".pcap") != 0)
		return -EINVAL;
	memcpy(a, name, (size_t)(t - name));
	a[t - name] = '\0';
	for (char *p = a; *p; p++)
		if (*p == '_')
			*p = ':';
	return addr_parse_any(a, ret);
}

/* ---- the file list: an instance with a directory ---- */

static int files_room(struct evidence *ev)
{
	struct ev_file *v;
	size_t cap;

	if (ev->nfiles < ev->files_cap)
		return 0;
	cap = ev->files_cap ? ev->files_cap * 2 : FILES_MIN;
	if (cap > SIZE_MAX / sizeof(*v))
		return -ENOMEM;
	v = realloc(ev->files, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ev->files = v;
	ev->files_cap = cap;
	return 0;
}

static int cmp_age(const void *x, const void *y)
{
	const struct ev_file *a = x, *b = y;

	if (a->mtime.tv_sec != b->mtime.tv_sec)
		return a->mtime.tv_sec < b->mtime.tv_sec ? -1 : 1;
	if (a->mtime.tv_nsec != b->mtime.tv_nsec)
		return a->mtime.tv_nsec < b->mtime.tv_nsec ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Finds the evidence files an older run left, oldest (by mtime) first.
 * Only names of our form count: anything else in the directory is not
 * evidence, neither counted nor deleted. */
static int scan(struct evidence *ev)
{
	struct dirent *de;
	struct qaddr a;
	DIR *d;
	int fd, r = 0;

	fd = openat(ev->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		struct stat st;
		struct ev_file *f;

		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		if (strlen(de->d_name) >= EVIDENCE_NAME_MAX ||
		    evidence_name_host(de->d_name, &a) < 0)
			continue;
		if (fstatat(ev->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue; /* gone since, or not a file */
		r = files_room(ev);
		if (r < 0)
			break;
		f = &ev->files[ev->nfiles++];
		memset(f, 0, sizeof(*f));
		strcpy(f->name, de->d_name); /* length checked above */
		f->size = (uint64_t)st.st_size;
		f->id = (uint64_t)st.st_ino;
		f->mtime = st.st_mtim;
		ev->disk += f->size;
	}
	closedir(d);
	if (r == 0 && ev->nfiles > 1)
		qsort(ev->files, ev->nfiles, sizeof(*ev->files), cmp_age);
	return r;
}

/* What a growing file may still add: the rest of its limit.  A file
 * counts against the cap for its size and that. */
static uint64_t file_held(const struct ev_file *f)
{
	return f->growing && f->limit > f->size ? f->limit - f->size : 0;
}

static void file_set(struct evidence *ev, struct ev_file *f, uint64_t size, bool growing)
{
	ev->disk -= f->size;
	ev->held -= file_held(f);
	f->size = size;
	f->growing = growing;
	if (!growing)
		f->current = false;
	ev->disk += f->size;
	ev->held += file_held(f);
}

/* A file's size as the directory has it: its writer may be another
 * process.  Gone (deleted by hand): nothing. */
static uint64_t file_size(const struct evidence *ev, const struct ev_file *f)
{
	struct stat st;

	if (fstatat(ev->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : f->size;
	return (uint64_t)st.st_size;
}

/* Growing files are at most those the writer has open and those whose
 * close report is on its way: rereading them is cheap.  A writer that
 * broke its limit (only a compromised one can) shows here, and counts. */
static void refresh(struct evidence *ev)
{
	for (size_t i = 0; i < ev->nfiles; i++)
		if (ev->files[i].growing)
			file_set(ev, &ev->files[i], file_size(ev, &ev->files[i]), true);
}

static struct ev_file *growing_file(struct evidence *ev, uint64_t id)
{
	/* Newest first: the growing files are the recent ones. */
	for (size_t i = ev->nfiles; i-- > 0;)
		if (ev->files[i].growing && ev->files[i].id == id)
			return &ev->files[i];
	return NULL;
}

static struct ev_file *current_file(struct evidence *ev, const struct qaddr *host)
{
	for (size_t i = ev->nfiles; i-- > 0;)
		if (ev->files[i].current && same_host(&ev->files[i].host, host))
			return &ev->files[i];
	return NULL;
}

void evidence_closed(struct evidence *ev, uint64_t file_id)
{
	struct ev_file *f;

	if (!ev->enabled || ev->dirfd < 0)
		return;
	f = growing_file(ev, file_id);
	if (!f)
		return;
	file_set(ev, f, file_size(ev, f), false);
	/* Left empty (its writer could not even write the ring: a full
	 * disk): not a pcap, and no evidence. */
	if (f->size == 0 && (unlinkat(ev->dirfd, f->name, 0) == 0 || errno == ENOENT)) {
		f->drop = true;
		ev->ndrop++;
	}
}

void evidence_closed_all(struct evidence *ev)
{
	if (!ev->enabled || ev->dirfd < 0)
		return;
	for (size_t i = 0; i < ev->nfiles; i++)
		if (ev->files[i].growing)
			file_set(ev, &ev->files[i], file_size(ev, &ev->files[i]), false);
}

/* ---- writers: either side, no directory ---- */

enum close_how {
	CLOSE_DONE,   /* follow count reached, or stopped */
	CLOSE_CUT,    /* closed early: the open limit or the file's byte limit */
	CLOSE_FAILED, /* a write failed */
};

static void writer_close(struct evidence *ev, struct ev_writer *w, enum close_how how)
{
	int fd = fileno(w->f);
	struct qaddr host = w->host;
	uint64_t id = w->id;
	unsigned last;

	if (how != CLOSE_FAILED && fflush(w->f) != 0)
		how = CLOSE_FAILED;
	if (how == CLOSE_FAILED) {
		/* Part of a record may have reached the disk: cut the file back
		 * to what the last good flush left, whole records, so that it
		 * still reads as a pcap.  What the buffer holds would land past
		 * the cut: drop it.  ftruncate() works on the fd alone. */
		__fpurge(w->f);
		if (ftruncate(fd, (off_t)w->good) < 0) {
			/* the size the directory has says what is there */
		}
		ev->st.write_errors++;
	} else if (how == CLOSE_CUT) {
		ev->st.files_cut++;
	}
	fclose(w->f); /* nothing left to write: the flush or the purge emptied it */
	w->f = NULL;

	ev->hcount[host_hash(&w->host)]--;
	last = ev->open[--ev->nopen];
	if (w->pos != ev->nopen) {
		ev->open[w->pos] = (uint8_t)last;
		ev->w[last].pos = w->pos;
	}
	if (ev->dirfd >= 0)
		evidence_closed(ev, id); /* one process: the list is ours */
	if (ev->closed)
		ev->closed(ev->closed_arg, &host, id);
}

enum put_result {
	PUT_CLOSED = -1, /* the writer was closed (byte limit or write error) */
	PUT_SKIPPED = 0, /* another link type */
	PUT_WRITTEN = 1,
};

static enum put_result writer_put(struct evidence *ev, struct ev_writer *w, int dlt,
				  const uint8_t *data, uint32_t caplen, uint32_t wirelen, usec_t ts)
{
	uint64_t n = PCAP_REC_LEN + (uint64_t)caplen;
	uint32_t h[4];

	if (dlt != w->dlt) {
		ev->st.packets_skipped++;
		return PUT_SKIPPED;
	}
	if (w->size + n > w->limit) {
		/* One process: a limit under the most a file may take was
		 * what the cap had left. */
		if (ev->dirfd >= 0 && w->limit < ev->file_max)
			ev->st.capped = true;
		writer_close(ev, w, CLOSE_CUT);
		return PUT_CLOSED;
	}
	h[0] = (uint32_t)(ts / USEC_PER_SEC);
	h[1] = (uint32_t)(ts % USEC_PER_SEC);
	h[2] = caplen;
	h[3] = MAX(wirelen, caplen);
	/* _unlocked: one thread, and the lock is a fifth of the cost. */
	if (fwrite_unlocked(h, sizeof(h), 1, w->f) != 1 ||
	    (caplen && fwrite_unlocked(data, caplen, 1, w->f) != 1)) {
		writer_close(ev, w, CLOSE_FAILED);
		return PUT_CLOSED;
	}
	w->size += n;
	w->dirty = true;
	ev->st.packets_written++;
	return PUT_WRITTEN;
}

/* ---- life cycle ---- */

uint64_t evidence_file_max(unsigned ring_packets, unsigned follow, unsigned snaplen)
{
	/* Every packet of the ring and the follow-up, whole. */
	return PCAP_HDR_LEN +
	       ((uint64_t)ring_packets + follow) * (PCAP_REC_LEN + (uint64_t)snaplen);
}

int evidence_new(const struct evidence_params *p, struct evidence **ret)
{
	struct evidence *ev;
	bool created = false;
	int r;

	if (!p)
		return -EINVAL;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	ev->dirfd = -1;
	ev->last_dlt = LINK_EN10MB;
	if (p->max_bytes == 0)
		goto done; /* keep no evidence: no ring, no directory */

	r = -EINVAL;
	if ((p->dir && !p->dir[0]) || p->snaplen == 0 || p->snaplen > EVIDENCE_SNAPLEN_MAX ||
	    p->ring_packets > EVIDENCE_RING_MAX ||
	    (uint64_t)p->ring_packets * p->snaplen > EVIDENCE_RING_BYTES_MAX ||
	    (p->file_max && p->file_max < PCAP_HDR_LEN))
		goto fail;
	ev->enabled = true;
	ev->max_bytes = p->max_bytes;
	ev->snaplen = p->snaplen;
	ev->follow = p->follow;
	ev->removable = p->removable;
	ev->removable_arg = p->removable_arg;
	ev->closed = p->closed;
	ev->closed_arg = p->closed_arg;
	/* By default a file may take what its ring packets and follow-up
	 * take, whole, but no more than its share of half the cap when
	 * EVIDENCE_MAX_OPEN are open at once (and at least one record): a
	 * file counts for its whole limit while it is written, so the
	 * files being written can never crowd out the closed ones or a new
	 * one. */
	ev->file_max = p->file_max;
	if (!ev->file_max)
		ev->file_max = MIN(evidence_file_max(p->ring_packets, p->follow, p->snaplen),
				   MAX(p->max_bytes / (2 * EVIDENCE_MAX_OPEN),
				       evidence_file_max(0, 1, p->snaplen)));
	/* Keeping room for the largest file (at most half the cap) means a
	 * new file is rarely cut short by the cap. */
	ev->reserve = MIN(ev->file_max, ev->max_bytes / 2);

	if (p->ring_packets) {
		r = -ENOMEM;
		ev->slots = malloc((size_t)p->ring_packets * sizeof(*ev->slots));
		ev->ring = malloc((size_t)p->ring_packets * p->snaplen);
		if (!ev->slots || !ev->ring)
			goto fail;
		ev->ring_n = p->ring_packets;
	}
	if (!p->dir)
		goto done; /* a sink: writes into the fds it is given, nothing else */

	if (mkdir(p->dir, 0750) == 0)
		created = true;
	else if (errno != EEXIST) {
		r = -errno;
		goto fail;
	}
	ev->dirfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ev->dirfd < 0) {
		r = -errno;
		goto fail;
	}
	/* The umask may have taken bits off; an existing directory keeps the
	 * mode its owner gave it. */
	if (created && fchmod(ev->dirfd, 0750) < 0) {
		r = -errno;
		goto fail;
	}
	r = scan(ev);
	if (r < 0)
		goto fail;
done:
	*ret = ev;
	return 0;
fail:
	evidence_free(ev);
	return r;
}

void evidence_free(struct evidence *ev)
{
	if (!ev)
		return;
	ev->closed = NULL; /* going away: no reports */
	while (ev->nopen)
		writer_close(ev, &ev->w[ev->open[ev->nopen - 1]], CLOSE_DONE);
	for (unsigned i = 0; i < EVIDENCE_MAX_OPEN; i++)
		free(ev->w[i].buf);
	if (ev->dirfd >= 0)
		close(ev->dirfd);
	free(ev->files);
	free(ev->slots);
	free(ev->ring);
	free(ev);
}

/* ---- the packet path ---- */

void evidence_packet(struct evidence *ev, int dlt, const uint8_t *data, uint32_t caplen,
		     uint32_t wirelen, usec_t ts, const struct qaddr *src, const struct qaddr *dst,
		     const struct qaddr *mac)
{
	struct ev_writer *ws, *wd, *wm;
	uint32_t n;

	if (!ev->enabled)
		return;
	n = MIN(caplen, ev->snaplen);
	if (ev->ring_n) {
		struct ev_slot *s = &ev->slots[ev->ring_head];

		memcpy(ev->ring + (size_t)ev->ring_head * ev->snaplen, data, n);
		s->ts = ts;
		s->caplen = n;
		s->wirelen = wirelen;
		s->dlt = dlt;
		if (src)
			s->src = *src;
		else
			memset(&s->src, 0, sizeof(s->src));
		if (dst)
			s->dst = *dst;
		else
			memset(&s->dst, 0, sizeof(s->dst));
		if (mac)
			s->mac = *mac;
		else
			memset(&s->mac, 0, sizeof(s->mac));
		if (++ev->ring_head == ev->ring_n)
			ev->ring_head = 0;
		if (ev->ring_used < ev->ring_n)
			ev->ring_used++;
	}
	ev->last_dlt = dlt;
	if (ev->nopen == 0)
		return;

	ws = src ? find_writer(ev, src) : NULL;
	wd = dst ? find_writer(ev, dst) : NULL;
	wm = mac ? find_writer(ev, mac) : NULL;
	if (wd == ws)
		wd = NULL; /* a packet from the host to itself: once */
	if (wm == ws || wm == wd)
		wm = NULL;
	/* Closing ws frees its slot only; wd and wm stay valid. */
	if (ws && writer_put(ev, ws, dlt, data, n, wirelen, ts) == PUT_WRITTEN && --ws->left == 0)
		writer_close(ev, ws, CLOSE_DONE);
	if (wd && writer_put(ev, wd, dlt, data, n, wirelen, ts) == PUT_WRITTEN && --wd->left == 0)
		writer_close(ev, wd, CLOSE_DONE);
	if (wm && writer_put(ev, wm, dlt, data, n, wirelen, ts) == PUT_WRITTEN && --wm->left == 0)
		writer_close(ev, wm, CLOSE_DONE);
}

/* ---- writing a file: the sink side, no directory ---- */

static struct ev_writer *writer_slot(struct evidence *ev)
{
	struct ev_writer *oldest = NULL;

	for (unsigned i = 0; i < EVIDENCE_MAX_OPEN; i++) {
		if (!ev->w[i].f)
			return &ev->w[i];
		if (!oldest || ev->w[i].started < oldest->started)
			oldest = &ev->w[i];
	}
	/* All taken: the file started longest ago has had the longest
	 * follow-up; the new host's earlier packets are only in the ring. */
	writer_close(ev, oldest, CLOSE_CUT);
	return oldest;
}

/* The link type for host's file: that of its oldest packet in the ring. */
static int host_dlt(const struct evidence *ev, const struct qaddr *host)
{
	uint32_t i = (ev->ring_head + ev->ring_n - ev->ring_used) % MAX(ev->ring_n, 1u);

	for (uint32_t k = 0; k < ev->ring_used; k++, i = (i + 1) % ev->ring_n) {
		const struct ev_slot *s = &ev->slots[i];

		if (same_host(&s->src, host) || same_host(&s->dst, host) ||
		    same_host(&s->mac, host))
			return s->dlt;
	}
	return ev->last_dlt;
}

static int write_header(struct ev_writer *w, unsigned snaplen)
{
	uint32_t magic = PCAP_MAGIC_USEC, zero = 0, snap = snaplen, lt = linktype(w->dlt);
	uint16_t maj = PCAP_VERSION_MAJ, min = PCAP_VERSION_MIN;
	uint8_t b[PCAP_HDR_LEN];

	memcpy(b, &magic, 4);
	memcpy(b + 4, &maj, 2);
	memcpy(b + 6, &min, 2);
	memcpy(b + 8, &zero, 4);  /* thiszone: timestamps are UTC */
	memcpy(b + 12, &zero, 4); /* sigfigs */
	memcpy(b + 16, &snap, 4);
	memcpy(b + 20, &lt, 4);
	if (fwrite(b, sizeof(b), 1, w->f) != 1)
		return -EIO;
	w->size = PCAP_HDR_LEN;
	return 0;
}

static bool is_host(const struct qaddr *host)
{
	return host && (host->family == AF_INET || host->family == AF_INET6 || addr_is_mac(host));
}

/* Refuses an fd that is not an empty regular file open for writing: the
 * parent passes it, but a wrong one is not written into. */
static int check_fd(int fd, uint64_t *ret_id)
{
	struct stat st;
	int fl;

	if (fd < 0)
		return -EBADF;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if ((fl & O_ACCMODE) != O_WRONLY && (fl & O_ACCMODE) != O_RDWR)
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size != 0)
		return -EEXIST;
	/* Not handed on to anything this process runs. */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	*ret_id = (uint64_t)st.st_ino;
	return 0;
}

int evidence_start_fd(struct evidence *ev, const struct qaddr *host, int fd,
		      uint64_t max_file_bytes)
{
	struct ev_writer *w;
	uint64_t errors, id = 0;
	FILE *f;
	int r;

	r = -ENOTSUP;
	if (!ev->enabled)
		goto fail;
	r = -EINVAL;
	if (!is_host(host) || max_file_bytes < PCAP_HDR_LEN)
		goto fail;
	r = check_fd(fd, &id);
	if (r < 0)
		goto fail;
	/* The parent made a new file for a host whose file is still open
	 * here (its stop is on its way): the new one takes over. */
	w = find_writer(ev, host);
	if (w)
		writer_close(ev, w, CLOSE_DONE);
	w = writer_slot(ev);
	if (!w->buf)
		w->buf = malloc(WRITER_BUF); /* without it, stdio's own buffer */
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		goto fail_report;
	}
	fd = -1; /* f has it */
	if (w->buf)
		setvbuf(f, w->buf, _IOFBF, WRITER_BUF);

	*w = (struct ev_writer){.buf = w->buf};
	w->f = f;
	w->host = *host;
	w->id = id;
	w->limit = max_file_bytes;
	w->left = ev->follow;
	w->dlt = host_dlt(ev, host);
	w->started = ++ev->nstarted;
	w->pos = (uint8_t)ev->nopen;
	ev->open[ev->nopen++] = (uint8_t)(w - ev->w);
	ev->hcount[host_hash(host)]++;

	errors = ev->st.write_errors;
	if (write_header(w, ev->snaplen) < 0) {
		writer_close(ev, w, CLOSE_FAILED);
	} else {
		/* The ring, oldest first. */
		uint32_t i = (ev->ring_head + ev->ring_n - ev->ring_used) % MAX(ev->ring_n, 1u);

		for (uint32_t k = 0; k < ev->ring_used; k++, i = (i + 1) % ev->ring_n) {
			const struct ev_slot *s = &ev->slots[i];

			if ((same_host(&s->src, host) || same_host(&s->dst, host) ||
			     same_host(&s->mac, host)) &&
			    writer_put(ev, w, s->dlt, ev->ring + (size_t)i * ev->snaplen, s->caplen,
				       s->wirelen, s->ts) == PUT_CLOSED)
				break;
		}
		/* On disk at once: the ring's packets are the evidence that
		 * matters, and a write error shows now, not later. */
		if (w->f && fflush(w->f) != 0)
			writer_close(ev, w, CLOSE_FAILED);
		else if (w->f) {
			w->good = w->size;
			w->dirty = false;
		}
	}
	/* Not even the ring could be written (disk full): the file is cut
	 * back to nothing. */
	if (ev->st.write_errors != errors)
		return -EIO;
	if (w->f && w->left == 0)
		writer_close(ev, w, CLOSE_DONE); /* follow 0: the ring only */
	return 0;
fail_report:
	/* The parent counts the file as being written until it hears. */
	if (ev->closed)
		ev->closed(ev->closed_arg, host, id);
fail:
	if (fd >= 0)
		close(fd);
	return r;
}

void evidence_stop(struct evidence *ev, const struct qaddr *host)
{
	struct ev_writer *w;
	struct ev_file *f;

	if (!ev->enabled || !host)
		return;
	/* The parent: the host's next flagging makes a new file; this one
	 * grows until its writer reports it closed. */
	if (ev->dirfd >= 0 && (f = current_file(ev, host)))
		f->current = false;
	if (ev->nopen == 0)
		return;
	w = find_writer(ev, host);
	if (w)
		writer_close(ev, w, CLOSE_DONE);
}

void evidence_flush(struct evidence *ev)
{
	/* Downwards: closing swaps the last open slot into the closed one's
	 * place, and the last has been seen already. */
	for (unsigned i = ev->nopen; i-- > 0;) {
		struct ev_writer *w = &ev->w[ev->open[i]];

		if (!w->dirty)
			continue;
		if (fflush(w->f) != 0) {
			writer_close(ev, w, CLOSE_FAILED);
			continue;
		}
		w->good = w->size;
		w->dirty = false;
	}
}

/* ---- making files: the parent side, the directory ---- */

/* Creates DIR/HOST-TIME[-N].pcap; the fd, or -errno. */
static int create_file(struct evidence *ev, const struct qaddr *host, usec_t now, char *name,
		       size_t len)
{
	int fd = -EEXIST, r;

	for (unsigned k = 0; k <= NAME_SUFFIX_MAX && fd == -EEXIST; k++) {
		r = make_name(host, now, k, name, len);
		if (r < 0)
			return r;
		fd = openat(ev->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			    0640);
		if (fd < 0)
			fd = -errno;
	}
	if (fd < 0)
		return fd;
	if (fchmod(fd, 0640) < 0) { /* whatever the umask */
		r = -errno;
		close(fd);
		unlinkat(ev->dirfd, name, 0);
		return r;
	}
	return fd;
}

int evidence_create(struct evidence *ev, const struct qaddr *host, const struct qaddr *label,
		    usec_t now, char *ret_name, size_t len, int *ret_fd,
		    uint64_t *ret_max_file_bytes)
{
	char name[EVIDENCE_NAME_MAX];
	struct ev_file *file;
	struct stat st;
	uint64_t room, limit;
	int fd, r;

	if (!ev->enabled || ev->dirfd < 0)
		return -ENOTSUP;
	if (!is_host(host) || !ret_fd || !ret_max_file_bytes)
		return -EINVAL;
	if (!is_host(label))
		label = host;
	if (ret_name && len < EVIDENCE_NAME_MAX)
		return -ENAMETOOLONG;
	file = current_file(ev, host);
	if (file) {
		if (ret_name)
			memcpy(ret_name, file->name, EVIDENCE_NAME_MAX);
		*ret_fd = -1;
		*ret_max_file_bytes = 0;
		return 0;
	}

	r = evidence_enforce_cap(ev, ev->removable, ev->removable_arg, NULL);
	if (r < 0)
		return r;
	if (ev->disk + ev->held + PCAP_HDR_LEN > ev->max_bytes) { /* a cap smaller than a reserve */
		ev->st.capped = true;
		return -ENOSPC;
	}
	room = ev->max_bytes - ev->disk - ev->held;
	limit = MIN(ev->file_max, room);
	/* Room in the list first, so that no failure leaves a file uncounted. */
	r = files_room(ev);
	if (r < 0)
		return r;
	fd = create_file(ev, label, now, name, sizeof(name));
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		unlinkat(ev->dirfd, name, 0);
		return r;
	}
	file = &ev->files[ev->nfiles++];
	memset(file, 0, sizeof(*file));
	strcpy(file->name, name); /* both EVIDENCE_NAME_MAX */
	file->host = *host;
	file->id = (uint64_t)st.st_ino;
	file->seq = ++ev->ncreated;
	file->limit = limit;
	file->current = true;
	file_set(ev, file, 0, true);
	if (ret_name)
		memcpy(ret_name, name, sizeof(name));
	*ret_fd = fd;
	*ret_max_file_bytes = limit;
	return 0;
}

/* ---- the cap ---- */

int evidence_enforce_cap(struct evidence *ev, bool (*removable)(void *arg, const char *name),
			 void *arg, unsigned *ret_deleted)
{
	unsigned deleted = 0;
	uint64_t limit;
	size_t i, j;

	if (!ev->enabled || ev->dirfd < 0)
		goto out;
	refresh(ev);
	limit = ev->max_bytes - ev->reserve;
	if (ev->disk + ev->held > limit && removable) {
		/* Oldest first.  A file another process may still be writing
		 * is not deleted: its blocks would stay until that process
		 * closed it, uncounted.  One of our own writers is closed
		 * first. */
		for (i = 0; i < ev->nfiles && ev->disk + ev->held > limit; i++) {
			struct ev_file *f = &ev->files[i];

			if (f->drop || !removable(arg, f->name))
				continue;
			if (f->growing) {
				struct ev_writer *w = NULL;

				for (unsigned k = 0; k < ev->nopen && !w; k++)
					if (ev->w[ev->open[k]].id == f->id)
						w = &ev->w[ev->open[k]];
				if (!w)
					continue; /* another process's: when it reports it closed */
				writer_close(ev, w, CLOSE_CUT);
			}
			if (unlinkat(ev->dirfd, f->name, 0) == 0)
				deleted++;
			else if (errno != ENOENT)
				continue; /* it stays, and counts */
			file_set(ev, f, 0, false);
			f->drop = true;
			ev->ndrop++;
		}
	}
	if (ev->ndrop) {
		/* The files kept move down over the deleted. */
		for (i = j = 0; i < ev->nfiles; i++) {
			if (ev->files[i].drop)
				continue;
			if (i != j)
				ev->files[j] = ev->files[i];
			j++;
		}
		ev->nfiles = j;
		ev->ndrop = 0;
	}
	ev->st.files_deleted += deleted;
	ev->st.capped = ev->disk + ev->held > limit;
out:
	if (ret_deleted)
		*ret_deleted = deleted;
	return ev->st.capped ? -ENOSPC : 0;
}

/* ---- one process: both sides in one instance ---- */

int evidence_start(struct evidence *ev, const struct qaddr *host, usec_t now, char *ret_name,
		   size_t len)
{
	return evidence_start_as(ev, host, host, now, ret_name, len);
}

int evidence_start_as(struct evidence *ev, const struct qaddr *host, const struct qaddr *label,
		      usec_t now, char *ret_name, size_t len)
{
	char name[EVIDENCE_NAME_MAX];
	struct ev_file *file;
	uint64_t limit, id;
	int fd, r;

	if (ret_name && len < EVIDENCE_NAME_MAX)
		return -ENAMETOOLONG;
	r = evidence_create(ev, host, label, now, name, sizeof(name), &fd, &limit);
	if (r < 0)
		return r;
	if (fd >= 0) {
		id = ev->files[ev->nfiles - 1].id;
		r = evidence_start_fd(ev, host, fd, limit);
		if (r < 0) {
			/* Cut back to nothing, which is not a pcap.  Ours is
			 * the last file: starting only closes older ones. */
			file = &ev->files[ev->nfiles - 1];
			if (file->id == id) {
				if (!file->drop)
					unlinkat(ev->dirfd, file->name, 0);
				else
					ev->ndrop--;
				file_set(ev, file, 0, false);
				ev->nfiles--;
			}
			return r;
		}
	}
	if (ret_name)
		memcpy(ret_name, name, sizeof(name));
	return 0;
}

void evidence_stats(const struct evidence *ev, struct evidence_stats *ret)
{
	*ret = ev->st;
	ret->bytes_on_disk = ev->disk;
	ret->bytes_held = ev->held;
	ret->files = ev->nfiles - ev->ndrop;
	ret->files_open = ev->nopen;
}
