/* Saving the daemon's state and reading it back; see state.h for the
 * format.
 *
 * Saving writes through one large buffer straight to write(2), so that
 * ~100,000 hosts take a few dozen system calls and every error (ENOSPC,
 * EIO) is seen where it happens; the CRC is computed on the buffer as it
 * is written out.
 *
 * Loading reads the file twice.  The first pass checks the header, that
 * the last line is the end record, its record count and its CRC:
 * truncation, garbage and flipped bits stop there, before anything is
 * touched.  The second pass parses every record into the
 * engine, each field checked as strictly as where it enters the daemon; a
 * record that is still wrong (a file written by hand, or by a broken
 * writer, with a good CRC) is skipped and reported, and the rest is
 * loaded: losing one host's record costs less than losing every history,
 * and a skipped host's blocks are still in the kernel (adopted).  Two passes
 * over the page cache cost less than holding the file, or a copy of the
 * registry, in memory. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"
#include <sys/stat.h>
#include <unistd.h>

#define HEADER "quarantined-state"
/* Writes and reads go through a buffer of this size: a 100,000-host state
 * (~50 MB) is then ~50 system calls. */
#define IO_BUF (1u << 20)
/* The longest line written is a host line of about 1.2 KiB (reason and
 * evidence name fully escaped); a longer one is garbage, not a record. */
#define MAX_LINE 8192
/* Fields on one line: a host line has 18; later versions may add some. */
#define MAX_FIELDS 48

/* ---- CRC-32 (ISO-HDLC, reflected 0xEDB88320: zlib's crc32()) ---- */

/* Slicing by 8 (eight bytes per step): the tables live with the caller,
 * not in a global, and take a few microseconds to build. */
struct crc_tab {
	uint32_t t[8][256];
};

static void crc_init(struct crc_tab *c)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t v = i;

		for (unsigned k = 0; k < 8; k++)
			v = v & 1 ? (v >> 1) ^ 0xEDB88320u : v >> 1;
		c->t[0][i] = v;
	}
	for (unsigned i = 0; i < 256; i++)
		for (unsigned k = 1; k < 8; k++)
			c->t[k][i] = (c->t[k - 1][i] >> 8) ^ c->t[0][c->t[k - 1][i] & 0xff];
}

/* crc is the value so far (0 to start with). */
static uint32_t crc_update(const struct crc_tab *c, uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;

	crc = ~crc;
	for (; n >= 8; p += 8, n -= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
			      (uint32_t)p[7] << 24;

		crc = c->t[7][lo & 0xff] ^ c->t[6][(lo >> 8) & 0xff] ^ c->t[5][(lo >> 16) & 0xff] ^
		      c->t[4][lo >> 24] ^ c->t[3][hi & 0xff] ^ c->t[2][(hi >> 8) & 0xff] ^
		      c->t[1][(hi >> 16) & 0xff] ^ c->t[0][hi >> 24];
	}
	while (n--)
		crc = (crc >> 8) ^ c->t[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

/* ---- names shared by both directions ---- */

/* The rule's index in the current config (or among the outside rules
 * known so far), or -1. */
static int rule_index(struct engine *e, const char *name)
{
	return engine_rule_index(e, name, false);
}

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	default:
		return NULL; /* written as a number */
	}
}

/* level_parse() knows only the levels one can ask for; a record can also
 * hold "none". */
static int level_from(const char *s, enum level *ret)
{
	if (strcmp(s, "none") == 0) {
		*ret = LEVEL_NONE;
		return 0;
	}
	return level_parse(s, ret);
}

/* Space separates fields, '%' escapes, LF ends records; every other
 * control byte is escaped too so that the file stays printable. */
static bool needs_escape(unsigned char ch)
{
	return ch <= 0x20 || ch == 0x7f || ch == '%';
}

/* ---- writing ---- */

struct writer {
	int fd;
	char *buf; /* cap bytes: IO_BUF, or the caller's (state_want_text()) */
	size_t cap;
	size_t len;
	uint32_t crc; /* of everything flushed */
	int err;      /* first write error, -errno */
	unsigned long records;
	const struct crc_tab *tab;
};

static void w_flush(struct writer *w)
{
	size_t off = 0;

	/* A writer over a caller's buffer (fd -1) has nowhere to flush to:
	 * what did not fit is lost, and said so. */
	if (w->fd < 0 && !w->err)
		w->err = -ENOBUFS;
	if (!w->err) {
		w->crc = crc_update(w->tab, w->crc, w->buf, w->len);
		while (off < w->len) {
			ssize_t n = write(w->fd, w->buf + off, w->len - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				w->err = -errno;
				break;
			}
			off += (size_t)n;
		}
	}
	w->len = 0;
}

/* Room for n bytes (n is always far below IO_BUF). */
static char *w_room(struct writer *w, size_t n)
{
	if (w->cap - w->len < n)
		w_flush(w);
	return w->buf + w->len;
}

static void w_raw(struct writer *w, const char *s, size_t n)
{
	memcpy(w_room(w, n), s, n);
	w->len += n;
}

static void w_str(struct writer *w, const char *s)
{
	w_raw(w, s, strlen(s));
}

static void w_u64(struct writer *w, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	w_raw(w, tmp + i, sizeof(tmp) - i);
}

static void w_i64(struct writer *w, int64_t v)
{
	if (v < 0) {
		w_raw(w, "-", 1);
		w_u64(w, (uint64_t)0 - (uint64_t)v);
	} else {
		w_u64(w, (uint64_t)v);
	}
}

/* Percent-encodes s, at most max bytes of it (the size of the field it
 * comes from, in case it is not terminated). */
static void w_enc(struct writer *w, const char *s, size_t max)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strnlen(s, max);
	char *p = w_room(w, 3 * n), *p0 = p;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (needs_escape(ch)) {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 0xf];
		} else {
			*p++ = (char)ch;
		}
	}
	w->len += (size_t)(p - p0);
}

/* " key=" then the value */
static void w_key(struct writer *w, const char *key)
{
	w_raw(w, " ", 1);
	w_str(w, key);
	w_raw(w, "=", 1);
}

static void w_kv_u64(struct writer *w, const char *key, uint64_t v)
{
	w_key(w, key);
	w_u64(w, v);
}

static void w_kv_i64(struct writer *w, const char *key, int64_t v)
{
	w_key(w, key);
	w_i64(w, v);
}

static void w_kv_str(struct writer *w, const char *key, const char *s, size_t max)
{
	w_key(w, key);
	w_enc(w, s, max);
}

static void w_kv_addr(struct writer *w, const char *key, const struct qaddr *a)
{
	char buf[ADDR_STRLEN];

	w_key(w, key);
	w_str(w, addr_ntop(a, buf));
}

static void w_kv_level(struct writer *w, const char *key, unsigned l)
{
	w_key(w, key);
	w_str(w, level_name((enum level)l));
}

/* The operator's names (actor.h), keys prefixed with pre: written only
 * when known, so that a file without them is one of before they were
 * kept, or of automatic actions. */
static void w_actor(struct writer *w, const char *pre, const struct actor *a)
{
	char k[32];

	if (a->name[0]) {
		snprintf(k, sizeof(k), "%sname", pre);
		w_kv_str(w, k, a->name, sizeof(a->name));
	}
	if (a->sudo_user[0]) {
		snprintf(k, sizeof(k), "%ssudo_user", pre);
		w_kv_str(w, k, a->sudo_user, sizeof(a->sudo_user));
		snprintf(k, sizeof(k), "%ssudo_uid", pre);
		w_kv_u64(w, k, a->sudo_uid);
	}
}

static void w_end_record(struct writer *w)
{
	w_raw(w, "\n", 1);
	w->records++;
}

static void w_prefix(struct writer *w, const char *kind, const struct prefix *p)
{
	w_str(w, kind);
	w_kv_addr(w, "net", &p->addr);
	w_raw(w, "/", 1);
	w_u64(w, p->plen);
	w_end_record(w);
}

static void w_incident(struct writer *w, const struct incident *in)
{
	w_str(w, "incident");
	w_kv_u64(w, "id", in->id);
	w_kv_str(w, "rule", in->rule_name, sizeof(in->rule_name));
	w_kv_addr(w, "patient_zero", &in->patient_zero);
	w_kv_u64(w, "first_probe_us", in->first_probe_us);
	w_kv_u64(w, "first_detect_us", in->first_detect_us);
	w_kv_u64(w, "last_detect_us", in->last_detect_us);
	w_kv_u64(w, "hosts", in->nhosts);
	if (in->port)
		w_kv_u64(w, "port", in->port);
	w_end_record(w);
}

static void w_want(struct writer *w, const struct hostrec *r)
{
	for (unsigned i = 0; i < r->nwant && i < HOST_MAX_PORTS; i++) {
		const char *pn = proto_name(r->want[i].proto);

		if (i)
			w_raw(w, ",", 1);
		if (pn)
			w_str(w, pn);
		else
			w_u64(w, r->want[i].proto);
		w_raw(w, "/", 1);
		w_u64(w, r->want[i].port);
		/* Towards one destination: "tcp/22@10.1.2.3" (older files
		 * have none: every destination). */
		if (hostrec_port_to(r, &r->want[i])) {
			char ab[ADDR_STRLEN];

			w_raw(w, "@", 1);
			w_str(w, addr_ntop(hostrec_port_to(r, &r->want[i]), ab));
		}
	}
}

static void w_host(struct writer *w, const struct engine *e, const struct hostrec *r)
{
	char a[ADDR_STRLEN];

	w_str(w, "host");
	if (hostrec_is_machine(r)) {
		w_kv_addr(w, "id", &r->id);
		if (r->addr.family)
			w_kv_addr(w, "addr", &r->addr);
		w_key(w, "addrs");
		for (unsigned i = 0; i < r->naddrs; i++) {
			if (i)
				w_raw(w, ",", 1);
			w_str(w, addr_ntop(&r->addrs[i].a, a));
		}
	} else {
		w_kv_addr(w, "addr", &r->addr);
		if (r->merged)
			w_kv_u64(w, "merged", 1);
	}
	/* The fields a host of an operator's list (a bulk command, whose
	 * hosts go into the database's log in this format, 100,000 at a
	 * time) has at their defaults are left out: the loader takes an
	 * absent one as its default (host_fields()).  The others are always
	 * written, so that a line cut short is seen as such. */
	w_key(w, "state");
	w_str(w, host_state_name((enum host_state)r->state));
	if (r->decided != LEVEL_NONE)
		w_kv_level(w, "decided", r->decided);
	w_kv_level(w, "level", r->level);
	if (r->adopted)
		w_kv_u64(w, "adopted", r->adopted);
	if (r->first_probe_us)
		w_kv_u64(w, "first_probe_us", r->first_probe_us);
	if (r->first_detect_us)
		w_kv_u64(w, "first_detect_us", r->first_detect_us);
	if (r->last_detect_us)
		w_kv_u64(w, "last_detect_us", r->last_detect_us);
	w_kv_u64(w, "changed_us", r->changed_us);
	w_kv_u64(w, "expires_us", r->expires_us);
	w_kv_i64(w, "by_uid", r->by_uid);
	if (r->by_uid >= 0)
		w_actor(w, "by_", &r->by);
	if (r->recurrences)
		w_kv_u64(w, "recurrences", r->recurrences);
	if (r->last_level != LEVEL_NONE)
		w_kv_level(w, "last_level", r->last_level);
	w_kv_u64(w, "last_ttl_s", r->last_ttl_s);
	if (r->surveil_until_us)
		w_kv_u64(w, "surveil_until_us", r->surveil_until_us);
	if (r->nwant) {
		w_key(w, "want");
		w_want(w, r);
	}
	if (r->want_overflow)
		w_kv_u64(w, "want_overflow", r->want_overflow);
	if (r->want_manual)
		w_kv_u64(w, "want_manual", 1);
	/* Who infected it: "ID/tcp/445/US" (the host's id, the protocol
	 * and port of its first contact, and when), absent when none. */
	if (r->infected_by.family) {
		char v[STATE_INFECTED_MAX];

		state_infected_text(r, v, sizeof(v));
		w_key(w, "infected_by");
		w_str(w, v);
	}
	if (r->evidence[0])
		w_kv_str(w, "evidence", r->evidence, sizeof(r->evidence));
	w_kv_str(w, "reason", r->reason, sizeof(r->reason));
	w_end_record(w);

	for (unsigned i = 0; i < r->nhits && i < HOSTDB_MAX_HITS; i++) {
		const struct hit *h = &r->hits[i];
		const char *name = engine_rule_name(e, h->rule);

		if (!name)
			continue; /* no such rule: it would be dropped on load anyway */
		w_str(w, "hit");
		w_kv_str(w, "rule", name, OUTSIDE_RULE_MAX);
		if (h->source != SOURCE_SELF) {
			w_key(w, "source");
			w_str(w, det_source_name((enum det_source)h->source));
		}
		w_kv_level(w, "level", h->level);
		w_kv_u64(w, "incident", h->incident);
		w_kv_u64(w, "first_us", h->first_us);
		w_end_record(w);
	}

	for (unsigned i = 0; i < r->nhist; i++) {
		const struct hist *h = &r->hist[i];

		w_str(w, "hist");
		w_kv_u64(w, "ts_us", h->ts);
		w_key(w, "kind");
		w_str(w, hist_kind_name((enum hist_kind)h->kind));
		w_kv_level(w, "level", h->level);
		w_key(w, "state");
		w_str(w, host_state_name((enum host_state)h->state));
		w_kv_i64(w, "uid", h->uid);
		w_kv_str(w, "text", h->text, sizeof(h->text));
		if (h->outside) {
			w_kv_str(w, "source", hist_source(h), OUTSIDE_SOURCE_MAX);
			if (hist_evidence(h))
				w_kv_str(w, "evidence", hist_evidence(h), OUTSIDE_EVIDENCE_MAX);
		}
		if (h->uid >= 0)
			w_actor(w, "", &h->by);
		w_end_record(w);
	}
}

static int w_binding(void *arg, const struct ident_binding *b)
{
	struct writer *w = arg;
	struct qaddr m;

	/* Pins come from the configuration, not from the file. */
	if (b->state == BIND_PINNED)
		return 0;
	w_str(w, "binding");
	w_kv_addr(w, "addr", &b->addr);
	addr_set_mac(&m, b->mac);
	w_kv_addr(w, "mac", &m);
	w_key(w, "state");
	w_str(w, bind_state_name(b->state));
	w_kv_u64(w, "first_us", b->first_us);
	w_kv_u64(w, "last_us", b->last_us);
	w_kv_u64(w, "delivered", b->delivered);
	if (b->prev[0] | b->prev[1] | b->prev[2] | b->prev[3] | b->prev[4] | b->prev[5]) {
		addr_set_mac(&m, b->prev);
		w_kv_addr(w, "prev", &m);
	}
	w_end_record(w);
	return 0;
}

static void write_state(struct writer *w, const struct engine *e)
{
	const struct prefix_list *nb = &e->c->networks.never_block;
	const struct incidents *is = &e->incidents;

	w_str(w, HEADER " ");
	w_u64(w, STATE_VERSION);
	w_raw(w, "\n", 1);

	w_str(w, "meta");
	w_kv_u64(w, "next_incident", is->next_id);
	w_kv_u64(w, "paused", e->pol.paused);
	w_end_record(w);

	for (unsigned i = 0; i < e->pol.allowed.n; i++)
		w_prefix(w, "allow", &e->pol.allowed.v[i]);
	for (unsigned i = 0; e->pol.conf_removed && i < nb->n; i++)
		if (e->pol.conf_removed[i])
			w_prefix(w, "disallow", &nb->v[i]);

	for (unsigned i = 0; i < is->n; i++)
		w_incident(w, &is->v[(is->head + i) % is->cap]);

	for (const struct hostrec *r = hostdb_first(&e->hosts); r; r = hostdb_next(&e->hosts, r))
		w_host(w, e, r);
	if (e->id)
		identity_foreach(e->id, BIND_TENTATIVE, w_binding, w);
}

int state_save(const struct engine *e, const char *dir, char *err, size_t errlen)
{
	struct writer w = {.fd = -1, .cap = IO_BUF};
	struct crc_tab *tab = malloc(sizeof(*tab));
	bool tmp_made = false;
	char end[64];
	int dfd = -1, r;

	w.buf = malloc(IO_BUF);
	w.tab = tab;
	if (!tab || !w.buf) {
		r = -ENOMEM;
		set_err(err, errlen, "cannot save the state: %s", strerror(-r));
		goto out;
	}
	crc_init(tab);
	/* Everything relative to the directory: the rename and the sync
	 * below are then about the same directory, whatever happens to the
	 * path meanwhile. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		set_err(err, errlen, "%s: %s", dir, strerror(-r));
		goto out;
	}
	/* O_TRUNC: a state.tmp left by a crash is simply overwritten. */
	w.fd = openat(dfd, STATE_TMP_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	if (w.fd < 0) {
		r = -errno;
		set_err(err, errlen, "%s/%s: %s", dir, STATE_TMP_FILE, strerror(-r));
		goto out;
	}
	tmp_made = true;
	/* O_CREAT's mode does not apply to a leftover file. */
	if (fchmod(w.fd, 0600) < 0) {
		r = -errno;
		set_err(err, errlen, "%s/%s: chmod: %s", dir, STATE_TMP_FILE, strerror(-r));
		goto out;
	}

	write_state(&w, e);
	w_flush(&w); /* w.crc now covers every byte before the end line */
	snprintf(end, sizeof(end), "end records=%lu crc32=%08x\n", w.records, (unsigned)w.crc);
	w_str(&w, end);
	w_flush(&w);
	if (w.err) {
		r = w.err;
		set_err(err, errlen, "%s/%s: write: %s", dir, STATE_TMP_FILE, strerror(-r));
		goto out;
	}
	/* Data on disk before the rename makes it visible: otherwise a crash
	 * could leave a renamed but empty file. */
	if (fsync(w.fd) < 0) {
		r = -errno;
		set_err(err, errlen, "%s/%s: fsync: %s", dir, STATE_TMP_FILE, strerror(-r));
		goto out;
	}
	r = close(w.fd);
	w.fd = -1;
	if (r < 0) {
		r = -errno;
		set_err(err, errlen, "%s/%s: close: %s", dir, STATE_TMP_FILE, strerror(-r));
		goto out;
	}
	if (renameat(dfd, STATE_TMP_FILE, dfd, STATE_FILE) < 0) {
		r = -errno;
		set_err(err, errlen, "%s/%s: rename to %s: %s", dir, STATE_TMP_FILE, STATE_FILE,
			strerror(-r));
		goto out;
	}
	tmp_made = false;
	/* The rename itself is durable only once the directory is. */
	if (fsync(dfd) < 0) {
		r = -errno;
		set_err(err, errlen, "%s: fsync after renaming %s: %s", dir, STATE_FILE,
			strerror(-r));
		goto out;
	}
	r = 0;
out:
	if (w.fd >= 0)
		close(w.fd);
	if (tmp_made)
		unlinkat(dfd, STATE_TMP_FILE, 0);
	if (dfd >= 0)
		close(dfd);
	free(w.buf);
	free(tab);
	return r;
}

/* ---- reading ---- */

struct reader {
	int fd;
	char *buf; /* cap bytes, more than MAX_LINE */
	size_t cap;
	size_t start, end; /* buf[start, end) not yet returned */
	bool eof;
};

/* The next line: 1 with *ret (valid until the next call) and *ret_len
 * (without the LF) and *ret_nl (false: the file ends without a LF), 0 at
 * the end, -E2BIG for a line over MAX_LINE bytes, or -errno. */
static int rd_line(struct reader *rd, char **ret, size_t *ret_len, bool *ret_nl)
{
	for (;;) {
		size_t have = rd->end - rd->start;
		char *nl = memchr(rd->buf + rd->start, '\n', have);
		ssize_t n;

		if (nl || (rd->eof && have)) {
			*ret = rd->buf + rd->start;
			*ret_len = nl ? (size_t)(nl - *ret) : have;
			*ret_nl = nl != NULL;
			rd->start += *ret_len + (nl != NULL);
			return *ret_len > MAX_LINE ? -E2BIG : 1;
		}
		if (rd->eof)
			return 0;
		if (have > MAX_LINE)
			return -E2BIG;
		memmove(rd->buf, rd->buf + rd->start, have);
		rd->start = 0;
		rd->end = have;
		n = read(rd->fd, rd->buf + rd->end, rd->cap - rd->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			rd->eof = true;
		rd->end += (size_t)n;
	}
}

static int rd_rewind(struct reader *rd)
{
	if (lseek(rd->fd, 0, SEEK_SET) < 0)
		return -errno;
	rd->start = rd->end = 0;
	rd->eof = false;
	return 0;
}

struct field {
	const char *key;
	const char *val; /* decoded */
};

/* One parsed line. */
struct rec {
	const char *kind;
	struct field f[MAX_FIELDS];
	unsigned n;
	unsigned cursor; /* where the next lookup starts */
};

/* A staged run-time change to the never-block list. */
struct polchg {
	struct prefix p;
	bool allow;
};

struct state_loader {
	struct engine *e;
	const char *path;
	const char *where; /* a database table's rows (state_loader_record()); NULL: path */
	unsigned line;
	char *err;
	size_t errlen;
	char msg[400]; /* the last problem, "FILE:LINE: what" */
	state_skip_fn skipped;
	void *skipped_arg;
	unsigned nskipped;
	struct hostrec *host; /* the host the hit and hist lines belong to */
	bool skip_lines;      /* the host line above was skipped: so are its lines */
	bool meta_seen, meta_ok;
	unsigned meta_line;
	const char *meta_where;
	bool finished;	/* state_loader_finish() succeeded: keep what was loaded */
	bool hist_roll; /* more hist records than memory holds: the oldest go */
	uint64_t next_incident;
	bool paused;
	struct polchg *pol;
	unsigned npol, polcap;
	/* Bindings, restored once every record has loaded: identity has no
	 * way to take them back from a file refused halfway. */
	struct ident_binding *bind;
	unsigned nbind, bindcap;
};

static int bad(struct state_loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports a problem with the current line.  Returns -EBADMSG. */
static int bad(struct state_loader *l, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(l->msg, sizeof(l->msg), "%s:%u: %s", l->where ? l->where : l->path, l->line, msg);
	set_err(l->err, l->errlen, "%s", l->msg);
	return -EBADMSG;
}

/* The record bad() just reported is skipped: tell the caller, with what
 * goes with it. */
static void skipped(struct state_loader *l, const char *what)
{
	char msg[sizeof(l->msg) + 64];

	l->nskipped++;
	snprintf(msg, sizeof(msg), "%s: %s skipped", l->msg, what);
	if (l->skipped)
		l->skipped(l->skipped_arg, msg);
}

/* A value fit to quote in a message: short, control bytes shown as '?'. */
static const char *shown(const char *v, char buf[40])
{
	size_t i;

	for (i = 0; v[i] && i < 39; i++)
		buf[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
	buf[i] = '\0';
	return buf;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decodes s in place (the result is never longer).  A decoded NUL is
 * refused (values are C strings), and so is a byte that should have been
 * escaped.  0 or -EINVAL. */
static int decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '%') {
			int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);

			if (hi < 0 || lo < 0 || (hi | lo) == 0)
				return -EINVAL;
			ch = (unsigned char)(hi << 4 | lo);
			s += 2;
		} else if (needs_escape(ch)) {
			return -EINVAL;
		}
		*o++ = (char)ch;
	}
	*o = '\0';
	return 0;
}

/* Splits line (NUL-terminated, modified) into its kind and fields. */
static int split(struct state_loader *l, char *line, struct rec *r)
{
	char *p = line, *tok;

	memset(r, 0, sizeof(*r));
	r->kind = line;
	p = strchr(line, ' ');
	if (p)
		*p++ = '\0';
	if (!*r->kind)
		return bad(l, "empty record");
	while (p) {
		char *eq;

		tok = p;
		p = strchr(p, ' ');
		if (p)
			*p++ = '\0';
		eq = strchr(tok, '=');
		if (!eq || eq == tok)
			return bad(l, "'%s' record: field without key=value", r->kind);
		if (r->n == MAX_FIELDS)
			return bad(l, "'%s' record: more than %d fields", r->kind, MAX_FIELDS);
		*eq = '\0';
		if (decode(eq + 1) < 0)
			return bad(l, "'%s' record: bad percent-encoding in %s=", r->kind, tok);
		r->f[r->n].key = tok;
		r->f[r->n].val = eq + 1;
		r->n++;
	}
	return 0;
}

/* The value of key, or NULL.  The search starts after the last field found
 * and wraps: records are written in a fixed order, so this is usually the
 * next field, and the order is still free. */
static const char *get(struct rec *r, const char *key)
{
	for (unsigned k = 0; k < r->n; k++) {
		unsigned i = (r->cursor + k) % r->n;

		if (strcmp(r->f[i].key, key) == 0) {
			r->cursor = i + 1;
			return r->f[i].val;
		}
	}
	return NULL;
}

static int need(struct state_loader *l, struct rec *r, const char *key, const char **ret)
{
	*ret = get(r, key);
	if (!*ret) {
		bad(l, "'%s' record without %s=", r->kind, key);
		return -EBADMSG;
	}
	return 0;
}

/* Decimal digits only: no sign, no blanks, no overflow. */
static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (d > max || v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

static int f_u64(struct state_loader *l, struct rec *r, const char *key, uint64_t max,
		 uint64_t *ret)
{
	const char *v;
	char b[40];
	int k = need(l, r, key, &v);

	if (k < 0)
		return k;
	if (parse_u64(v, max, ret) < 0)
		return bad(l, "bad %s=%s (0 to %llu)", key, shown(v, b), (unsigned long long)max);
	return 0;
}

/* Unsigned fields narrower than 64 bits. */
static int f_uint(struct state_loader *l, struct rec *r, const char *key, unsigned max,
		  unsigned *ret)
{
	uint64_t v;
	int k = f_u64(l, r, key, max, &v);

	if (k == 0)
		*ret = (unsigned)v;
	return k;
}

static int f_u8(struct state_loader *l, struct rec *r, const char *key, uint8_t max, uint8_t *ret)
{
	uint64_t v;
	int k = f_u64(l, r, key, max, &v);

	if (k == 0)
		*ret = (uint8_t)v;
	return k;
}

static int f_i64(struct state_loader *l, struct rec *r, const char *key, int64_t min, int64_t max,
		 int64_t *ret)
{
	const char *v;
	uint64_t u;
	char b[40];
	int k = need(l, r, key, &v);

	if (k < 0)
		return k;
	if (v[0] == '-') {
		if (parse_u64(v + 1, (uint64_t)0 - (uint64_t)min, &u) < 0)
			goto fail;
		*ret = u ? -(int64_t)(u - 1) - 1 : 0;
	} else {
		if (parse_u64(v, (uint64_t)max, &u) < 0)
			goto fail;
		*ret = (int64_t)u;
	}
	return 0;
fail:
	return bad(l, "bad %s=%s", key, shown(v, b));
}

static int f_level(struct state_loader *l, struct rec *r, const char *key, uint8_t *ret)
{
	const char *v;
	enum level lv;
	char b[40];
	int k = need(l, r, key, &v);

	if (k < 0)
		return k;
	if (level_from(v, &lv) < 0)
		return bad(l, "unknown level %s=%s", key, shown(v, b));
	*ret = (uint8_t)lv;
	return 0;
}

static int f_state(struct state_loader *l, struct rec *r, const char *key, uint8_t *ret)
{
	const char *v;
	enum host_state s;
	char b[40];
	int k = need(l, r, key, &v);

	if (k < 0)
		return k;
	if (host_state_parse(v, &s) < 0)
		return bad(l, "unknown state %s=%s", key, shown(v, b));
	*ret = (uint8_t)s;
	return 0;
}

static int f_addr(struct state_loader *l, struct rec *r, const char *key, struct qaddr *ret)
{
	const char *v;
	char b[40];
	int k = need(l, r, key, &v);

	if (k < 0)
		return k;
	if (addr_parse_any(v, ret) < 0)
		return bad(l, "bad address %s=%s", key, shown(v, b));
	return 0;
}

/* An address a host can have: IPv4 or IPv6, not unspecified, multicast
 * or the broadcast address. */
static bool host_ip(const struct qaddr *a)
{
	static const uint8_t zero[16], bcast[4] = {255, 255, 255, 255};

	if (a->family != AF_INET && a->family != AF_INET6)
		return false;
	if (memcmp(a->b, zero, a->family == AF_INET ? 4 : 16) == 0 || addr_is_multicast(a))
		return false;
	return a->family != AF_INET || memcmp(a->b, bcast, 4) != 0;
}

/* A MAC a machine can have: unicast and not all zeroes. */
static bool host_mac(const struct qaddr *a)
{
	static const uint8_t zero[MAC_LEN];

	return addr_is_mac(a) && mac_is_unicast(a->b) && memcmp(a->b, zero, MAC_LEN) != 0;
}

/* A host's address (mac: a machine's MAC instead). */
static int f_host_addr(struct state_loader *l, struct rec *r, const char *key, bool mac,
		       struct qaddr *ret)
{
	char b[ADDR_STRLEN];
	int k = f_addr(l, r, key, ret);

	if (k < 0)
		return k;
	if (mac ? !host_mac(ret) : !host_ip(ret))
		return bad(l, "bad %s=%s (%s)", key, addr_ntop(ret, b),
			   mac ? "a unicast MAC" : "a unicast IPv4 or IPv6 address");
	return 0;
}

/* A uid as the daemon keeps it: -1 for itself, else any uid_t but
 * (uid_t)-1, which is no uid. */
static int f_uid(struct state_loader *l, struct rec *r, const char *key, long *ret)
{
	const char *v;
	char b[40];
	int64_t u = 0;
	int k = need(l, r, key, &v);

	if (k < 0)
		return k;
	if (f_i64(l, r, key, -1, (int64_t)UINT32_MAX - 1, &u) < 0)
		return bad(l, "bad %s=%s (-1, or a uid from 0 to %u)", key, shown(v, b),
			   UINT32_MAX - 1);
	*ret = (long)u;
	return 0;
}

/* A string into a fixed-size field of the same size it was saved from. */
static int f_str(struct state_loader *l, struct rec *r, const char *key, char *dst, size_t size)
{
	const char *v;
	size_t n;
	int k = need(l, r, key, &v);

	if (k < 0)
		return k;
	n = strlen(v);
	if (n >= size)
		return bad(l, "%s= too long (%zu bytes, at most %zu)", key, n, size - 1);
	memcpy(dst, v, n + 1);
	return 0;
}

/* The operator's names (keys prefixed with pre), each optional, as strict
 * as the rest: a valid user name, and a claimed sudo user with its uid or
 * neither; only with an operator's uid (>= 0). */
static int f_actor(struct state_loader *l, struct rec *r, const char *pre, long uid,
		   struct actor *ret)
{
	char kn[32], ku[32], ki[32], b[40];
	uint64_t v;
	int k;

	snprintf(kn, sizeof(kn), "%sname", pre);
	snprintf(ku, sizeof(ku), "%ssudo_user", pre);
	snprintf(ki, sizeof(ki), "%ssudo_uid", pre);
	memset(ret, 0, sizeof(*ret));
	if (!get(r, kn) && !get(r, ku) && !get(r, ki))
		return 0;
	if (uid < 0)
		return bad(l, "%s, %s or %s without an operator's uid", kn, ku, ki);
	if (get(r, kn)) {
		if ((k = f_str(l, r, kn, ret->name, sizeof(ret->name))) < 0)
			return k;
		if (!actor_name_valid(ret->name))
			return bad(l, "bad %s=%s (a user name)", kn, shown(ret->name, b));
	}
	if (!get(r, ku) != !get(r, ki))
		return bad(l, "%s and %s go together", ku, ki);
	if (get(r, ku)) {
		if ((k = f_str(l, r, ku, ret->sudo_user, sizeof(ret->sudo_user))) < 0)
			return k;
		if (!actor_name_valid(ret->sudo_user))
			return bad(l, "bad %s=%s (a user name)", ku, shown(ret->sudo_user, b));
		if ((k = f_u64(l, r, ki, (uint64_t)UINT32_MAX - 1, &v)) < 0)
			return k;
		ret->sudo_uid = (uint32_t)v;
	}
	return 0;
}

static int f_want(struct state_loader *l, struct rec *r, struct hostrec *h)
{
	const char *v, *p;
	char b[40];
	int k = need(l, r, "want", &v);

	if (k < 0)
		return k;
	for (p = v; *p;) {
		char item[64], *slash, *at;
		size_t n = strcspn(p, ",");
		uint64_t proto = 0, port;
		bool known = false;
		struct hport hp;
		struct qaddr to;
		int d;

		if (h->nwant == HOST_MAX_PORTS)
			return bad(l, "want= lists more than %d ports", HOST_MAX_PORTS);
		if (n == 0 || n >= sizeof(item))
			goto fail;
		memcpy(item, p, n);
		item[n] = '\0';
		p += n + (p[n] == ',');
		slash = strchr(item, '/');
		if (!slash)
			goto fail;
		*slash = '\0';
		memset(&hp, 0, sizeof(hp));
		memset(&to, 0, sizeof(to));
		at = strchr(slash + 1, '@');
		if (at) {
			*at = '\0';
			if (addr_parse(at + 1, &to) < 0)
				goto fail;
		}
		for (unsigned pr = 0; pr < 256 && !known; pr++) {
			const char *name = proto_name((uint8_t)pr);

			if (name && strcmp(name, item) == 0) {
				proto = pr;
				known = true;
			}
		}
		/* Only what a containment can hold (hostdb.h struct hport):
		 * TCP or UDP with a port, ICMP or ICMPv6 whole (port 0). */
		if (!known || parse_u64(slash + 1, 65535, &port) < 0)
			goto fail;
		if ((proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) && port != 0)
			goto fail;
		hp.proto = (uint8_t)proto;
		hp.port = (uint16_t)port;
		if (to.family) {
			/* A destination: a port of TCP or UDP towards a
			 * unicast address, of the address's own family for
			 * an address's record (its sets are by family). */
			if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || port == 0 ||
			    !addr_is_unicast(&to) ||
			    (!hostrec_is_machine(h) && to.family != h->id.family))
				return bad(l, "bad want=%s (a destination for %s/%llu)",
					   shown(v, b), item, (unsigned long long)port);
		}
		/* What hostdb_want_port() would have merged is not ours. */
		for (unsigned i = 0; i < h->nwant; i++) {
			const struct qaddr *wto = hostrec_port_to(h, &h->want[i]);

			if (h->want[i].proto == hp.proto && h->want[i].port == hp.port &&
			    (!wto || !to.family || addr_eq(wto, &to)))
				return bad(l, "bad want=%s (%s/%llu twice)", shown(v, b), item,
					   (unsigned long long)port);
		}
		d = hostrec_dest(h, &to);
		if (d < 0)
			return bad(l, "bad want=%s (more than %d destinations)", shown(v, b),
				   HOST_MAX_DESTS);
		hp.to = (uint8_t)d;
		h->want[h->nwant++] = hp;
	}
	if (p > v && p[-1] == ',')
		goto fail; /* a trailing comma */
	return 0;
fail:
	return bad(l,
		   "bad want=%s (tcp/PORT, udp/PORT, icmp/0 or icmpv6/0, a TCP or UDP port "
		   "with @ADDR towards one destination, comma-separated)",
		   shown(v, b));
}

static int f_prefix(struct state_loader *l, struct rec *r, struct prefix *ret)
{
	const char *v;
	unsigned plen;
	char b[40];
	int k = need(l, r, "net", &v);

	if (k < 0)
		return k;
	if (addr_parse_prefix(v, &ret->addr, &plen) < 0)
		return bad(l, "bad net=%s", shown(v, b));
	ret->plen = (uint8_t)plen;
	return 0;
}

static int load_meta(struct state_loader *l, struct rec *r)
{
	uint64_t paused, next;
	int k;

	if (l->meta_seen)
		return bad(l, "second meta record");
	l->meta_seen = true;
	l->meta_line = l->line;
	l->meta_where = l->where;
	/* INCIDENT_ID_MAX + 1: every id was given. */
	if ((k = f_u64(l, r, "next_incident", (uint64_t)INCIDENT_ID_MAX + 1, &next)) < 0 ||
	    (k = f_u64(l, r, "paused", 1, &paused)) < 0)
		return k;
	if (next == 0)
		return bad(l, "bad next_incident=0 (incident ids start at 1)");
	l->next_incident = next;
	l->paused = paused;
	l->meta_ok = true;
	return 0;
}

static int load_prefix(struct state_loader *l, struct rec *r, bool allow)
{
	struct prefix p;
	int k = f_prefix(l, r, &p);

	if (k < 0)
		return k;
	if (l->npol == l->polcap) {
		unsigned cap = l->polcap ? l->polcap * 2 : 16;
		struct polchg *v = realloc(l->pol, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->pol = v;
		l->polcap = cap;
	}
	l->pol[l->npol].p = p;
	l->pol[l->npol].allow = allow;
	l->npol++;
	return 0;
}

static int load_incident(struct state_loader *l, struct rec *r)
{
	struct incident in;
	char b[ADDR_STRLEN];
	int k, idx;

	memset(&in, 0, sizeof(in));
	if ((k = f_uint(l, r, "id", UINT_MAX, &in.id)) < 0 ||
	    (k = f_str(l, r, "rule", in.rule_name, sizeof(in.rule_name))) < 0 ||
	    (k = f_addr(l, r, "patient_zero", &in.patient_zero)) < 0 ||
	    (k = f_u64(l, r, "first_probe_us", UINT64_MAX, &in.first_probe_us)) < 0 ||
	    (k = f_u64(l, r, "first_detect_us", UINT64_MAX, &in.first_detect_us)) < 0 ||
	    (k = f_u64(l, r, "last_detect_us", UINT64_MAX, &in.last_detect_us)) < 0 ||
	    (k = f_uint(l, r, "hosts", UINT_MAX, &in.nhosts)) < 0)
		return k;
	if (in.id == 0 || in.id > INCIDENT_ID_MAX)
		return bad(l, "bad id=%u (1 to %u)", in.id, (unsigned)INCIDENT_ID_MAX);
	if (!host_ip(&in.patient_zero) && !host_mac(&in.patient_zero))
		return bad(l, "bad patient_zero=%s (a unicast address or MAC)",
			   addr_ntop(&in.patient_zero, b));
	if (in.nhosts == 0)
		return bad(l, "bad hosts=0 (an incident has a host)");
	/* What spreads, for a rule that names no ports; absent: 0. */
	if (get(r, "port")) {
		unsigned port = 0;

		if ((k = f_uint(l, r, "port", 65535, &port)) < 0)
			return k;
		in.port = (uint16_t)port;
	}
	/* Rule indexes follow the config, which may have changed since. */
	idx = rule_index(l->e, in.rule_name);
	/* An IDS's or antivirus console's rule: interned again, as the
	 * hosts' hits that name it will be. */
	if (idx < 0 &&
	    (strncmp(in.rule_name, OUTSIDE_IDS_PREFIX, strlen(OUTSIDE_IDS_PREFIX)) == 0 ||
	     strncmp(in.rule_name, OUTSIDE_AV_PREFIX, strlen(OUTSIDE_AV_PREFIX)) == 0) &&
	    outside_check_text(in.rule_name, sizeof(in.rule_name)) == 0)
		idx = engine_rule_index(l->e, in.rule_name, true);
	in.rule = idx < 0 ? DETECT_NRULES : (unsigned)idx;
	if (incident_restore(&l->e->incidents, &in) < 0)
		return bad(l, "incident id=%u out of order (the last was %u)", in.id,
			   l->e->incidents.next_id - 1);
	return 0;
}

/* A machine's addrs=: comma-separated addresses. */
static int f_addrs(struct state_loader *l, struct rec *r, struct hostrec *h)
{
	const char *v = get(r, "addrs");
	char buf[ADDR_STRLEN + 1], sh[40];

	while (v && *v) {
		const char *comma = strchr(v, ',');
		size_t n = comma ? (size_t)(comma - v) : strlen(v);
		struct qaddr a;
		int k;

		if (n == 0 || n >= sizeof(buf))
			return bad(l, "bad addrs=%s", shown(v, sh));
		memcpy(buf, v, n);
		buf[n] = '\0';
		if (addr_parse(buf, &a) < 0 || !host_ip(&a))
			return bad(l, "bad address in addrs=: %s", shown(buf, sh));
		k = hostdb_addr_add(&l->e->hosts, h, &a);
		if (k == -EEXIST)
			return bad(l, "address %s held by two hosts", shown(buf, sh));
		if (k < 0)
			return bad(l, "too many addresses in addrs=");
		v = comma ? comma + 1 : v + n;
	}
	return 0;
}

/* infected_by=ID/PROTO/PORT/US (absent in files written before it, or
 * when none): a host's id (a unicast MAC or address), tcp or udp, a port
 * that is not 0, a time that is not 0. */
static int f_infected(struct state_loader *l, struct rec *r, struct hostrec *h)
{
	const char *v = get(r, "infected_by");
	char buf[ADDR_STRLEN + 40], sh[40], *f[4], *save = NULL;
	unsigned long long port, us;
	unsigned n = 0;
	char *end;

	if (!v)
		return 0;
	if (strlen(v) >= sizeof(buf))
		return bad(l, "bad infected_by=%s", shown(v, sh));
	strcpy(buf, v);
	for (const char *c = v; *c; c++)
		n += *c == '/';
	if (n != 3)
		return bad(l, "bad infected_by=%s (ID/tcp|udp/PORT/US)", shown(v, sh));
	n = 0;
	for (char *t = strtok_r(buf, "/", &save); t && n < 4; t = strtok_r(NULL, "/", &save))
		f[n++] = t;
	if (n != 4 || addr_parse_any(f[0], &h->infected_by) < 0 ||
	    !(host_ip(&h->infected_by) || host_mac(&h->infected_by)))
		return bad(l, "bad infected_by=%s (ID/tcp|udp/PORT/US)", shown(v, sh));
	if (strcmp(f[1], "tcp") == 0)
		h->infected_proto = PROTO_TCP;
	else if (strcmp(f[1], "udp") == 0)
		h->infected_proto = PROTO_UDP;
	else
		return bad(l, "bad infected_by=%s (tcp or udp)", shown(v, sh));
	errno = 0;
	port = strtoull(f[2], &end, 10);
	if (errno || *end || f[2][0] < '0' || f[2][0] > '9' || port == 0 || port > 65535)
		return bad(l, "bad infected_by=%s (a port)", shown(v, sh));
	us = strtoull(f[3], &end, 10);
	if (errno || *end || f[3][0] < '0' || f[3][0] > '9' || us == 0)
		return bad(l, "bad infected_by=%s (a time)", shown(v, sh));
	h->infected_port = (uint16_t)port;
	h->infected_us = (usec_t)us;
	return 0;
}

/* Every field of a host line but its id and addresses, into h (a new
 * record: zero, no level).  The fields w_host() leaves out at their
 * defaults may be absent (files of before wrote them all); the others
 * must be there. */
static int host_fields(struct state_loader *l, struct rec *r, struct hostrec *h)
{
	const char *v;
	char b[40];
	int k;

	if ((k = f_state(l, r, "state", &h->state)) < 0 ||
	    (get(r, "decided") && (k = f_level(l, r, "decided", &h->decided)) < 0) ||
	    (k = f_level(l, r, "level", &h->level)) < 0 ||
	    (get(r, "adopted") && (k = f_u8(l, r, "adopted", 1, &h->adopted)) < 0) ||
	    (get(r, "first_probe_us") &&
	     (k = f_u64(l, r, "first_probe_us", UINT64_MAX, &h->first_probe_us)) < 0) ||
	    (get(r, "first_detect_us") &&
	     (k = f_u64(l, r, "first_detect_us", UINT64_MAX, &h->first_detect_us)) < 0) ||
	    (get(r, "last_detect_us") &&
	     (k = f_u64(l, r, "last_detect_us", UINT64_MAX, &h->last_detect_us)) < 0) ||
	    (k = f_u64(l, r, "changed_us", UINT64_MAX, &h->changed_us)) < 0 ||
	    (k = f_u64(l, r, "expires_us", UINT64_MAX, &h->expires_us)) < 0 ||
	    (k = f_uid(l, r, "by_uid", &h->by_uid)) < 0 ||
	    (get(r, "recurrences") &&
	     (k = f_u8(l, r, "recurrences", UINT8_MAX, &h->recurrences)) < 0) ||
	    (get(r, "last_level") && (k = f_level(l, r, "last_level", &h->last_level)) < 0) ||
	    (k = f_u64(l, r, "last_ttl_s", QD_TTL_MAX_S, &h->last_ttl_s)) < 0 ||
	    (get(r, "want") && (k = f_want(l, r, h)) < 0) ||
	    (get(r, "want_overflow") &&
	     (k = f_u8(l, r, "want_overflow", 1, &h->want_overflow)) < 0) ||
	    (get(r, "evidence") &&
	     (k = f_str(l, r, "evidence", h->evidence, sizeof(h->evidence))) < 0) ||
	    (k = f_str(l, r, "reason", h->reason, sizeof(h->reason))) < 0 ||
	    (k = f_actor(l, r, "by_", h->by_uid, &h->by)) < 0 || (k = f_infected(l, r, h)) < 0)
		return k;
	/* A deadline is set when a level is put in force (changed_us), at
	 * most the longest TTL later: anything further is not ours.  Not
	 * checked against the clock, which may be wrong at boot. */
	if (h->expires_us > h->changed_us &&
	    h->expires_us - h->changed_us > QD_TTL_MAX_S * USEC_PER_SEC)
		return bad(l,
			   "bad expires_us=%llu (at most %llu s after changed_us=%llu, the "
			   "longest TTL)",
			   (unsigned long long)h->expires_us, (unsigned long long)QD_TTL_MAX_S,
			   (unsigned long long)h->changed_us);
	/* A file name in the evidence directory, nothing else. */
	if (strchr(h->evidence, '/') || strcmp(h->evidence, ".") == 0 ||
	    strcmp(h->evidence, "..") == 0)
		return bad(l, "bad evidence=%s (a file name)", shown(h->evidence, b));
	/* Surveillance ends at most the longest period after the release
	 * (changed_us); absent in files written before it existed. */
	if (get(r, "surveil_until_us") &&
	    ((k = f_u64(l, r, "surveil_until_us", UINT64_MAX, &h->surveil_until_us)) < 0))
		return k;
	if (h->surveil_until_us > h->changed_us &&
	    h->surveil_until_us - h->changed_us > QD_TTL_MAX_S * USEC_PER_SEC)
		return bad(l,
			   "bad surveil_until_us=%llu (at most %llu s after changed_us=%llu, the "
			   "longest period)",
			   (unsigned long long)h->surveil_until_us,
			   (unsigned long long)QD_TTL_MAX_S, (unsigned long long)h->changed_us);
	/* Absent in files written before it existed: ports from detections. */
	if (get(r, "want_manual") && (k = f_u8(l, r, "want_manual", 1, &h->want_manual)) < 0)
		return k;
	if ((v = get(r, "merged")) && strcmp(v, "1") != 0)
		return bad(l, "bad merged=%s (1 when present)", shown(v, b));
	return 0;
}

static int load_host(struct state_loader *l, struct rec *r)
{
	struct qaddr a, id;
	struct hostrec *h;
	char b[ADDR_STRLEN];
	bool machine = get(r, "id") != NULL;
	int k;

	if (machine) {
		if ((k = f_host_addr(l, r, "id", true, &id)) < 0)
			return k;
		memset(&a, 0, sizeof(a));
		if (get(r, "addr") && (k = f_host_addr(l, r, "addr", false, &a)) < 0)
			return k;
	} else {
		if ((k = f_host_addr(l, r, "addr", false, &a)) < 0)
			return k;
		id = a;
	}
	if (hostdb_find(&l->e->hosts, &id))
		return bad(l, "host %s appears twice", addr_ntop(&id, b));
	h = hostdb_get(&l->e->hosts, &id);
	if (!h)
		return bad(l,
			   "no room: limits.max_blocked (%u) hosts are blocked or in "
			   "certification",
			   hostdb_capacity(&l->e->hosts));
	k = 0;
	if (machine) {
		h->addr = a;
		k = f_addrs(l, r, h);
	} else if (get(r, "merged")) {
		/* A machine holds its address now. */
		h->merged = 1;
		if (h->naddrs)
			hostdb_addr_del(&l->e->hosts, h, 0);
	}
	if (k < 0 || (k = host_fields(l, r, h)) < 0) {
		hostdb_remove(&l->e->hosts, h);
		return k;
	}
	/* On the list its level puts it on, in the saved order. */
	hostdb_settle(&l->e->hosts, h);
	l->host = h;
	return 0;
}

static int load_hit(struct state_loader *l, struct rec *r)
{
	struct hostrec *h = l->host;
	struct hit hit;
	char name[OUTSIDE_RULE_MAX], src[OUTSIDE_SOURCE_MAX];
	enum det_source source = SOURCE_SELF;
	unsigned incident = 0;
	int k, idx;

	if (!h)
		return bad(l, "hit record without its host");
	memset(&hit, 0, sizeof(hit));
	if ((k = f_str(l, r, "rule", name, sizeof(name))) < 0 ||
	    (k = f_level(l, r, "level", &hit.level)) < 0 ||
	    (k = f_uint(l, r, "incident", INCIDENT_ID_MAX, &incident)) < 0 ||
	    (k = f_u64(l, r, "first_us", UINT64_MAX, &hit.first_us)) < 0)
		return k;
	/* A detection from outside: its rule is the outside tool's name,
	 * interned again (outside.h). */
	if (get(r, "source")) {
		if ((k = f_str(l, r, "source", src, sizeof(src))) < 0)
			return k;
		if (det_source_parse(src, &source) < 0 || source == SOURCE_SELF)
			return bad(l, "unknown source=%s", src);
		if (outside_check_text(name, sizeof(name)) < 0)
			return bad(l, "rule= of an outside source not printable UTF-8");
		hit.source = (uint8_t)source;
		if (h->nhits == HOSTDB_MAX_HITS)
			return bad(l, "more than %d hit records for one host", HOSTDB_MAX_HITS);
		hit.rule = (uint16_t)engine_rule_index(l->e, name, true);
		hit.incident = incident;
		h->hits[h->nhits++] = hit;
		return 0;
	}
	/* A rule removed from the config since: its hit goes, the host and
	 * its history stay. */
	idx = rule_index(l->e, name);
	if (idx < 0)
		return 0;
	if (h->nhits == HOSTDB_MAX_HITS)
		return bad(l, "more than %d hit records for one host", HOSTDB_MAX_HITS);
	hit.rule = (uint16_t)idx;
	hit.incident = incident;
	h->hits[h->nhits++] = hit;
	return 0;
}

static int load_hist(struct state_loader *l, struct rec *r)
{
	struct hostrec *h = l->host;
	struct hist *x;
	enum hist_kind kind;
	const char *v;
	char b[40];
	int k;

	if (!h)
		return bad(l, "hist record without its host");
	if (h->nhist == HOST_MAX_HIST && l->hist_roll) {
		/* A store that keeps every line (statedb.h): memory keeps
		 * the first ones and the latest, as hostdb_history() does. */
		hist_fini(&h->hist[HOST_HIST_KEEP]);
		memmove(&h->hist[HOST_HIST_KEEP], &h->hist[HOST_HIST_KEEP + 1],
			(HOST_MAX_HIST - HOST_HIST_KEEP - 1) * sizeof(*h->hist));
		h->nhist--;
	} else if (h->nhist == HOST_MAX_HIST) {
		return bad(l, "more than %d hist records for one host", HOST_MAX_HIST);
	}
	/* The capacities hostdb_history() would have grown to. */
	if (h->nhist == h->hist_cap && hostdb_hist_grow(h) < 0)
		return -ENOMEM;
	x = &h->hist[h->nhist];
	memset(x, 0, sizeof(*x));
	if ((k = f_u64(l, r, "ts_us", UINT64_MAX, &x->ts)) < 0 || (k = need(l, r, "kind", &v)) < 0)
		return k;
	if (hist_kind_parse(v, &kind) < 0)
		return bad(l, "unknown kind=%s", shown(v, b));
	x->kind = (uint8_t)kind;
	if ((k = f_level(l, r, "level", &x->level)) < 0 ||
	    (k = f_state(l, r, "state", &x->state)) < 0 || (k = f_uid(l, r, "uid", &x->uid)) < 0 ||
	    (k = f_str(l, r, "text", x->text, sizeof(x->text))) < 0 ||
	    (k = f_actor(l, r, "", x->uid, &x->by)) < 0)
		return k;
	/* A detection from outside: its source and evidence (optional,
	 * schema 2 on); a malformed one is refused as any other field. */
	if (get(r, "source")) {
		char src[OUTSIDE_SOURCE_MAX], *ev = NULL;

		if ((k = f_str(l, r, "source", src, sizeof(src))) < 0)
			return k;
		if (outside_check_text(src, sizeof(src)) < 0)
			return bad(l, "source= not printable UTF-8");
		if (get(r, "evidence")) {
			ev = malloc(OUTSIDE_EVIDENCE_MAX);
			if (!ev)
				return -ENOMEM;
			if ((k = f_str(l, r, "evidence", ev, OUTSIDE_EVIDENCE_MAX)) < 0 ||
			    outside_check_text(ev, OUTSIDE_EVIDENCE_MAX) < 0) {
				free(ev);
				return k < 0 ? k : bad(l, "evidence= not printable UTF-8");
			}
		}
		k = hostdb_hist_set_outside(x, src, ev);
		free(ev);
		if (k < 0)
			return k;
	}
	h->nhist++;
	return 0;
}

static int load_binding(struct state_loader *l, struct rec *r)
{
	struct ident_binding b;
	struct qaddr m;
	enum bind_state st;
	uint64_t delivered = 0;
	const char *v;
	char sh[40];
	int k;

	memset(&b, 0, sizeof(b));
	if ((k = f_addr(l, r, "addr", &b.addr)) < 0 || (k = f_addr(l, r, "mac", &m)) < 0)
		return k;
	if (!addr_is_mac(&m) || addr_is_mac(&b.addr))
		return bad(l, "binding: addr= must be an address and mac= a MAC");
	memcpy(b.mac, m.b, MAC_LEN);
	if ((k = need(l, r, "state", &v)) < 0)
		return k;
	if (bind_state_parse(v, &st) < 0 || st < BIND_TENTATIVE || st == BIND_PINNED)
		return bad(l, "binding: bad state=%s", shown(v, sh));
	b.state = st;
	if ((k = f_u64(l, r, "first_us", UINT64_MAX, &b.first_us)) < 0 ||
	    (k = f_u64(l, r, "last_us", UINT64_MAX, &b.last_us)) < 0 ||
	    (k = f_u64(l, r, "delivered", 1, &delivered)) < 0)
		return k;
	b.delivered = delivered;
	if (get(r, "prev")) {
		if ((k = f_addr(l, r, "prev", &m)) < 0)
			return k;
		if (!addr_is_mac(&m))
			return bad(l, "binding: prev= is not a MAC");
		memcpy(b.prev, m.b, MAC_LEN);
	}
	if (l->nbind == l->bindcap) {
		unsigned cap = l->bindcap ? l->bindcap * 2 : 16;
		struct ident_binding *nv = realloc(l->bind, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->bind = nv;
		l->bindcap = cap;
	}
	l->bind[l->nbind++] = b;
	return 0;
}

/* One line of the second pass.  A record that is wrong (a file written
 * by hand, or by a broken writer, with a good CRC) is skipped and
 * reported, with the hit and hist lines of a skipped host: the rest of
 * the state is worth more than one bad line.  0, or -ENOMEM. */
static int load_rec(struct state_loader *l, struct rec *rp, int k);

static int load_record(struct state_loader *l, char *line, size_t len)
{
	struct rec r;
	int k;

	memset(&r, 0, sizeof(r));
	r.kind = line;
	line[len] = '\0'; /* over the LF */
	if (memchr(line, '\0', len)) {
		/* Its kind still says whose lines follow. */
		line[strcspn(line, " ")] = '\0';
		k = bad(l, "NUL byte in a record");
	} else {
		k = split(l, line, &r);
	}
	return load_rec(l, &r, k);
}

/* A record split into r (k: what splitting it said), into the engine. */
static int load_rec(struct state_loader *l, struct rec *rp, int k)
{
	struct rec r = *rp;
	const char *what = "record";
	bool lines_of_host;

	lines_of_host = strcmp(r.kind, "hist") == 0 || strcmp(r.kind, "hit") == 0;
	if (!lines_of_host) {
		l->host = NULL;
		l->skip_lines = false;
	} else if (l->skip_lines) {
		return 0; /* its host was skipped, and said so */
	}
	if (k < 0)
		goto skip;
	if (strcmp(r.kind, "hist") == 0)
		k = load_hist(l, &r);
	else if (strcmp(r.kind, "hit") == 0)
		k = load_hit(l, &r);
	else if (strcmp(r.kind, "host") == 0)
		k = load_host(l, &r);
	else if (strcmp(r.kind, "incident") == 0)
		k = load_incident(l, &r);
	else if (strcmp(r.kind, "allow") == 0)
		k = load_prefix(l, &r, true);
	else if (strcmp(r.kind, "disallow") == 0)
		k = load_prefix(l, &r, false);
	else if (strcmp(r.kind, "meta") == 0)
		k = load_meta(l, &r);
	else if (strcmp(r.kind, "binding") == 0)
		k = load_binding(l, &r);
	else if (strcmp(r.kind, "end") == 0)
		k = bad(l, "end record before the last line");
	else
		k = bad(l, "unknown record '%s'", shown(r.kind, (char[40]){0}));
	if (k != -EBADMSG)
		return k;
skip:
	if (strcmp(r.kind, "host") == 0) {
		l->skip_lines = true;
		what = "host, with its hit and hist lines,";
	} else if (strcmp(r.kind, "meta") == 0) {
		what = "meta record (incident ids follow the saved incidents; not paused)";
		if (!l->meta_seen) {
			l->meta_seen = true;
			l->meta_line = l->line;
			l->meta_where = l->where;
		}
	} else if (r.kind[0] && strlen(r.kind) < 16 &&
		   strspn(r.kind, "abcdefghijklmnopqrstuvwxyz") == strlen(r.kind)) {
		what = r.kind;
	}
	skipped(l, what);
	return 0;
}

/* The first pass: header, end record, record count and CRC.  Counts the
 * lines. */
static int verify(struct state_loader *l, struct reader *rd, const struct crc_tab *tab,
		  unsigned *ret_lines)
{
	char endline[128] = "", header[32], header1[32];
	unsigned end_at = 0;
	uint32_t crc = 0, end_crc = 0;
	struct rec r;
	uint64_t records, want;
	const char *v;
	char *s;
	size_t n;
	bool nl = true;
	int k;

	snprintf(header, sizeof(header), "%s %d", HEADER, STATE_VERSION);
	snprintf(header1, sizeof(header1), "%s 1", HEADER);
	l->line = 0;
	while ((k = rd_line(rd, &s, &n, &nl)) > 0) {
		l->line++;
		if (l->line == 1) {
			size_t hl = strlen(HEADER " ");

			if (n < hl || memcmp(s, HEADER " ", hl) != 0)
				return bad(l, "not a quarantined state file");
			if ((n != strlen(header) || memcmp(s, header, n) != 0) &&
			    (n != strlen(header1) || memcmp(s, header1, n) != 0))
				return bad(
					l,
					"unsupported version '%.*s' (this daemon reads 1 and %d)",
					(int)MIN(n - hl, 16), s + hl, STATE_VERSION);
		}
		if (n >= 4 && memcmp(s, "end ", 4) == 0 && n < sizeof(endline)) {
			memcpy(endline, s, n);
			endline[n] = '\0';
			end_at = l->line;
			end_crc = crc;
		}
		crc = crc_update(tab, crc, s, n + nl);
	}
	if (k == -E2BIG) {
		l->line++;
		return bad(l, "line longer than %d bytes", MAX_LINE);
	}
	if (k < 0) {
		set_err(l->err, l->errlen, "%s: read: %s", l->path, strerror(-k));
		return k;
	}
	if (l->line == 0) {
		l->line = 1;
		return bad(l, "empty file");
	}
	if (!nl)
		return bad(l, "truncated: the last line is incomplete");
	if (end_at != l->line || l->line < 2)
		return bad(l, "truncated: no end record");
	/* The end record is checked strictly: a flipped bit there must not
	 * pass either (hence lowercase hex only). */
	if ((k = split(l, endline, &r)) < 0 ||
	    (k = f_u64(l, &r, "records", UINT_MAX, &records)) < 0 ||
	    (k = need(l, &r, "crc32", &v)) < 0)
		return k;
	want = l->line - 2;
	if (records != want)
		return bad(l, "the end record counts %llu records, the file has %llu",
			   (unsigned long long)records, (unsigned long long)want);
	if (strlen(v) != 8 || strspn(v, "0123456789abcdef") != 8 || strtoul(v, NULL, 16) != end_crc)
		return bad(l, "CRC mismatch: the file is damaged (crc32=%s, computed %08x)",
			   shown(v, (char[40]){0}), (unsigned)end_crc);
	*ret_lines = l->line;
	return 0;
}

/* Undoes a partial load: e was empty before. */
static void unload(struct engine *e)
{
	hostdb_clear(&e->hosts);
	incidents_clear(&e->incidents);
	while (e->pol.allowed.n)
		policy_disallow(&e->pol, &e->pol.allowed.v[0].addr, e->pol.allowed.v[0].plen);
	if (e->pol.conf_removed)
		memset(e->pol.conf_removed, 0,
		       e->c->networks.never_block.n * sizeof(*e->pol.conf_removed));
	e->pol.paused = false;
}

static int load_finish(struct state_loader *l);

/* The second pass: every record into e. */
static int load_all(struct state_loader *l, struct reader *rd, unsigned lines)
{
	char *s;
	size_t n;
	bool nl;
	int k;

	l->line = 0;
	while (l->line + 1 < lines) {
		k = rd_line(rd, &s, &n, &nl);
		if (k < 0 && k != -E2BIG) {
			set_err(l->err, l->errlen, "%s: read: %s", l->path, strerror(-k));
			return k;
		}
		/* The file is replaced by rename, never rewritten: it cannot
		 * have changed since the first reading. */
		if (k <= 0)
			return bad(l, "the file changed while it was read");
		if (++l->line == 1)
			continue; /* the header */
		if ((k = load_record(l, s, n)) < 0)
			return k;
	}
	return load_finish(l);
}

/* After the last record: the meta record's values, the run-time
 * never-block changes, the bindings and the next TTL deadline.  0 or
 * -ENOMEM. */
static int load_finish(struct state_loader *l)
{
	struct engine *e = l->e;
	usec_t next_expiry = USEC_INFINITY;
	int k;

	/* Without a good meta record, incident ids go on after the last
	 * saved incident, and automatic actions are not paused. */
	if (!l->meta_seen) {
		l->line = 1;
		bad(l, "no meta record");
		skipped(l, "nothing");
	}
	l->line = l->meta_line;
	l->where = l->meta_where;
	if (l->meta_ok && e->incidents.n && l->next_incident < e->incidents.next_id) {
		bad(l, "bad next_incident=%llu (incident %u exists)",
		    (unsigned long long)l->next_incident, e->incidents.next_id - 1);
		skipped(l, "next_incident=");
	} else if (l->meta_ok) {
		e->incidents.next_id = (unsigned)l->next_incident;
	}
	e->pol.paused = l->meta_ok && l->paused;
	for (unsigned i = 0; i < l->npol; i++) {
		const struct prefix *p = &l->pol[i].p;

		/* EEXIST / ENOENT: the config now says the same or no longer
		 * has the entry; nothing to restore. */
		k = l->pol[i].allow ? policy_allow(&e->pol, &p->addr, p->plen)
				    : policy_disallow(&e->pol, &p->addr, p->plen);
		if (k == -ENOMEM)
			return k;
	}
	/* An address outside the protected networks now, a full table, or
	 * one bound already (pinned by the configuration): skipped, not an
	 * error; the bindings are learned again from the network.  Nothing
	 * can fail after this. */
	for (unsigned i = 0; e->id && i < l->nbind; i++)
		(void)identity_restore(e->id, &l->bind[i]);
	for (struct hostrec *h = hostdb_first(&e->hosts); h; h = hostdb_next(&e->hosts, h))
		if (h->expires_us && h->expires_us < next_expiry)
			next_expiry = h->expires_us;
	e->next_expiry_us = MIN(e->next_expiry_us, next_expiry);
	return 0;
}

int state_load(struct engine *e, const char *dir, state_skip_fn skipped_fn, void *arg, char *err,
	       size_t errlen)
{
	struct reader rd = {.fd = -1};
	struct crc_tab *tab = malloc(sizeof(*tab));
	struct state_loader l = {
		.e = e, .err = err, .errlen = errlen, .skipped = skipped_fn, .skipped_arg = arg};
	char path[PATH_MAX];
	unsigned lines = 0;
	struct stat st;
	int r;

	if (!tab) {
		r = -ENOMEM;
		set_err(err, errlen, "cannot read the state: %s", strerror(-r));
		goto out;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE) >= sizeof(path)) {
		r = -ENAMETOOLONG;
		set_err(err, errlen, "%s/%s: %s", dir, STATE_FILE, strerror(-r));
		goto out;
	}
	l.path = path;
	if (hostdb_count(&e->hosts) || e->incidents.n || e->pol.allowed.n) {
		r = -EINVAL;
		set_err(err, errlen, "%s: not loaded: the registry is not empty", path);
		goto out;
	}
	rd.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (rd.fd < 0 || fstat(rd.fd, &st) < 0) {
		r = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(-r));
		goto out;
	}
	/* A small file gets a small buffer; it must still hold the longest
	 * line with room to read more. */
	rd.cap = st.st_size < IO_BUF ? MAX((size_t)st.st_size + 1, 2 * MAX_LINE + 2) : IO_BUF;
	rd.buf = malloc(rd.cap);
	if (!rd.buf) {
		r = -ENOMEM;
		set_err(err, errlen, "cannot read the state: %s", strerror(-r));
		goto out;
	}
	crc_init(tab);
	r = verify(&l, &rd, tab, &lines);
	if (r < 0)
		goto out;
	/* More hosts than the registry holds (limits.max_blocked was
	 * lowered): loaded all the same.  The registry makes room from the
	 * records with nothing in force, saved first and least recently
	 * useful first (hostdb_get()); a blocked host that finds no room is
	 * skipped, its kernel elements stay in force. */
	r = rd_rewind(&rd);
	if (r < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(-r));
		goto out;
	}
	r = load_all(&l, &rd, lines);
	if (r < 0) {
		if (r == -ENOMEM)
			set_err(err, errlen, "%s: %s: nothing loaded", path, strerror(-r));
		unload(e);
	} else {
		r = (int)MIN(l.nskipped, (unsigned)INT_MAX);
	}
out:
	if (rd.fd >= 0)
		close(rd.fd);
	free(rd.buf);
	free(tab);
	free(l.pol);
	free(l.bind);
	return r;
}

/* ---- records from elsewhere (statedb.c) ---- */

int state_host_text(const struct engine *e, const struct hostrec *r, char *buf, size_t size)
{
	/* A writer with no file: a flush (the buffer full) fails it. */
	struct writer w = {.fd = -1, .buf = buf, .cap = size};

	w_host(&w, e, r);
	return w.err ? -ENOBUFS : (int)w.len;
}

int state_loader_line(struct state_loader *l, const char *where, unsigned line, char *text,
		      size_t len)
{
	l->where = where;
	l->line = line;
	return load_record(l, text, len);
}

void state_want_text(const struct hostrec *r, char *buf, size_t size)
{
	/* The writer over buf: it never flushes (with no file) as long as
	 * size holds the longest list, HOST_MAX_PORTS entries with an
	 * address each (under STATE_WANT_MAX). */
	struct writer w = {.fd = -1, .buf = buf, .cap = size - 1};

	w_want(&w, r);
	buf[MIN(w.len, size - 1)] = '\0';
}

void state_infected_text(const struct hostrec *r, char *buf, size_t size)
{
	char a[ADDR_STRLEN];

	if (!r->infected_by.family) {
		if (size)
			buf[0] = '\0';
		return;
	}
	snprintf(buf, size, "%s/%s/%u/%llu", addr_ntop(&r->infected_by, a),
		 proto_bit_name(r->infected_proto), (unsigned)r->infected_port,
		 (unsigned long long)r->infected_us);
}

int state_loader_new(struct engine *e, const char *path, state_skip_fn skipped_fn, void *arg,
		     char *err, size_t errlen, struct state_loader **ret)
{
	struct state_loader *l;

	if (hostdb_count(&e->hosts) || e->incidents.n || e->pol.allowed.n) {
		set_err(err, errlen, "%s: not loaded: the registry is not empty", path);
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		set_err(err, errlen, "cannot read the state: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	l->e = e;
	l->path = path;
	l->err = err;
	l->errlen = errlen;
	l->skipped = skipped_fn;
	l->skipped_arg = arg;
	*ret = l;
	return 0;
}

void state_loader_roll_history(struct state_loader *l)
{
	l->hist_roll = true;
}

int state_loader_record(struct state_loader *l, const char *where, unsigned line, const char *kind,
			const char *const *keys, const char *const *vals, unsigned n)
{
	struct rec r;
	int k = 0;

	memset(&r, 0, sizeof(r));
	r.kind = kind;
	l->where = where;
	l->line = line;
	if (n > MAX_FIELDS) {
		k = bad(l, "'%s' record: more than %d fields", kind, MAX_FIELDS);
		n = 0;
	}
	for (unsigned i = 0; i < n; i++) {
		r.f[i].key = keys[i];
		r.f[i].val = vals[i];
	}
	r.n = n;
	return load_rec(l, &r, k);
}

void state_loader_bad(struct state_loader *l, const char *where, unsigned line, const char *what,
		      const char *msg)
{
	l->where = where;
	l->line = line;
	bad(l, "%s", msg);
	skipped(l, what);
}

int state_loader_finish(struct state_loader *l)
{
	int k = load_finish(l);

	if (k < 0) {
		set_err(l->err, l->errlen, "%s: %s: nothing loaded", l->path, strerror(-k));
		return k;
	}
	l->finished = true;
	return (int)MIN(l->nskipped, (unsigned)INT_MAX);
}

void state_loader_free(struct state_loader *l)
{
	if (!l)
		return;
	if (!l->finished)
		unload(l->e);
	free(l->pol);
	free(l->bind);
	free(l);
}
