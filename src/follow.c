/* Following a log file; see follow.h. */
#include "follow.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- lines ---- */

int linebuf_init(struct linebuf *lb, size_t max_line)
{
	memset(lb, 0, sizeof(*lb));
	lb->max = max_line;
	lb->b = malloc(max_line);
	return lb->b ? 0 : -ENOMEM;
}

void linebuf_fini(struct linebuf *lb)
{
	free(lb->b);
	lb->b = NULL;
}

bool linebuf_reset(struct linebuf *lb)
{
	bool had = lb->len || lb->skipping;

	lb->len = 0;
	lb->skipping = false;
	return had;
}

static void emit(const char *s, size_t n, follow_line_fn fn, void *arg, uint64_t *lines)
{
	if (n && s[n - 1] == '\r')
		n--;
	if (n == 0)
		return;
	(*lines)++;
	fn(arg, s, n);
}

size_t linebuf_feed(struct linebuf *lb, const char *data, size_t n, follow_line_fn fn,
		    follow_error_fn efn, void *arg, uint64_t *ret_lines, uint64_t *ret_too_long)
{
	size_t i = 0, used = 0;

	while (i < n) {
		const char *nl = memchr(data + i, '\n', n - i);
		size_t piece = nl ? (size_t)(nl - (data + i)) : n - i;

		if (lb->skipping) {
			/* nothing kept */
		} else if (lb->len + piece > lb->max) {
			char what[96];

			lb->skipping = true;
			lb->len = 0;
			(*ret_too_long)++;
			snprintf(what, sizeof(what), "a line longer than %zu bytes: skipped",
				 lb->max);
			efn(arg, -EMSGSIZE, what);
		} else if (nl && lb->len == 0) {
			/* Whole in data: no copy. */
			emit(data + i, piece, fn, arg, ret_lines);
		} else {
			memcpy(lb->b + lb->len, data + i, piece);
			lb->len += piece;
			if (nl)
				emit(lb->b, lb->len, fn, arg, ret_lines);
		}
		if (!nl)
			break;
		lb->len = 0;
		lb->skipping = false;
		i += piece + 1;
		used = i;
	}
	return used;
}

/* ---- the file ---- */

/* FNV-1a: a check that a file is the one we left, not a defence (an
 * attacker who can write the log can say anything in it anyway). */
static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int head_hash(int fd, uint32_t hlen, uint64_t *ret)
{
	uint8_t b[FOLLOW_HEAD];
	ssize_t r;

	if (hlen > sizeof(b))
		return -EINVAL;
	r = pread(fd, b, hlen, 0);
	if (r < 0)
		return errno > 0 ? -errno : -EIO;
	if ((uint32_t)r != hlen)
		return -ENODATA; /* shorter than the head we hashed: another file */
	*ret = fnv(b, hlen);
	return 0;
}

int follow_init(struct follow *f, const char *path, size_t max_line, const struct follow_pos *saved)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (saved) {
		f->have_saved = true;
		f->saved = *saved;
	}
	f->chunk = malloc(FOLLOW_CHUNK);
	if (!f->chunk || linebuf_init(&f->lb, max_line) < 0) {
		free(f->chunk);
		f->chunk = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void close_file(struct follow *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

void follow_fini(struct follow *f)
{
	close_file(f);
	linebuf_fini(&f->lb);
	free(f->chunk);
	f->chunk = NULL;
}

static bool head_same(struct follow *f, uint64_t size);

/* From off on; the head is hashed again from the start. */
static void seek_to(struct follow *f, uint64_t off)
{
	struct stat st;

	f->off = f->done = off;
	(void)lseek(f->fd, (off_t)off, SEEK_SET);
	(void)linebuf_reset(&f->lb);
	f->hlen = 0;
	if (fstat(f->fd, &st) == 0)
		(void)head_same(f, (uint64_t)st.st_size);
}

/* Whether the open file is the one pos describes (see follow.h). */
static bool same_file(const struct follow *f, const struct stat *st, const struct follow_pos *pos)
{
	uint64_t h;

	if ((uint64_t)st->st_dev != pos->dev || (uint64_t)st->st_ino != pos->ino ||
	    (uint64_t)st->st_size < pos->off || pos->hlen > FOLLOW_HEAD)
		return false;
	return head_hash(f->fd, pos->hlen, &h) == 0 && h == pos->hash;
}

/* Opens the path; where to start: see follow.h.  0, or -errno. */
static int open_file(struct follow *f, follow_error_fn efn, void *arg)
{
	struct stat st;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0) {
		int e = -errno;

		if (e == -ENOENT) {
			f->state = FOLLOW_WAITING;
		} else if (f->state != FOLLOW_ERROR || f->error != e) {
			char what[PATH_MAX + 64];

			f->state = FOLLOW_ERROR;
			f->error = e;
			snprintf(what, sizeof(what), "cannot open %s: %s", f->path, strerror(-e));
			efn(arg, e, what);
		}
		return e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		if (f->state != FOLLOW_ERROR || f->error != -EINVAL) {
			char what[PATH_MAX + 64];

			f->state = FOLLOW_ERROR;
			f->error = -EINVAL;
			snprintf(what, sizeof(what), "%s is not a regular file", f->path);
			efn(arg, -EINVAL, what);
		}
		return -EINVAL;
	}
	f->fd = fd;
	f->dev = (uint64_t)st.st_dev;
	f->ino = (uint64_t)st.st_ino;
	f->state = FOLLOW_FOLLOWING;
	f->error = 0;
	if (f->have_saved) {
		f->have_saved = false;
		seek_to(f, same_file(f, &st, &f->saved) ? f->saved.off : 0);
	} else if (!f->started) {
		seek_to(f, (uint64_t)st.st_size);
	} else {
		seek_to(f, 0);
	}
	f->started = true;
	return 0;
}

/* One read into the lines.  Bytes read, 0 at the end, -errno. */
static ssize_t read_some(struct follow *f, size_t max, follow_line_fn fn, follow_error_fn efn,
			 void *arg)
{
	ssize_t r = read(f->fd, f->chunk, max < FOLLOW_CHUNK ? max : FOLLOW_CHUNK);
	size_t used;

	if (r <= 0)
		return r < 0 ? -errno : 0;
	used = linebuf_feed(&f->lb, f->chunk, (size_t)r, fn, efn, arg, &f->st.lines,
			    &f->st.too_long);
	f->off += (uint64_t)r;
	f->st.bytes += (uint64_t)r;
	if (used)
		f->done = f->off - ((size_t)r - used);
	return r;
}

/* What we read of a file is done with (rotated, truncated): a last line
 * without its newline is lost, and said so. */
static void finish_line(struct follow *f, follow_error_fn efn, void *arg, const char *why)
{
	if (linebuf_reset(&f->lb)) {
		char what[PATH_MAX + 96];

		f->st.partial_lost++;
		snprintf(what, sizeof(what), "%s %s with an unfinished last line (dropped)",
			 f->path, why);
		efn(arg, -ENODATA, what);
	}
}

/* Whether the file still starts as it did when we looked last, and
 * the head hashed further while the file is shorter than FOLLOW_HEAD. */
static bool head_same(struct follow *f, uint64_t size)
{
	uint64_t h;

	if (f->hlen && (head_hash(f->fd, f->hlen, &h) < 0 || h != f->head))
		return false;
	if (f->hlen < FOLLOW_HEAD && size > f->hlen) {
		uint32_t n = size < FOLLOW_HEAD ? (uint32_t)size : FOLLOW_HEAD;

		if (head_hash(f->fd, n, &h) == 0) {
			f->hlen = n;
			f->head = h;
		}
	}
	return true;
}

size_t follow_poll(struct follow *f, size_t budget, follow_line_fn fn, follow_error_fn efn,
		   void *arg)
{
	size_t total = 0;
	struct stat st, path_st;

	if (f->fd < 0 && open_file(f, efn, arg) < 0)
		return 0;
	while (total < budget) {
		if (fstat(f->fd, &st) < 0)
			return total;
		if ((uint64_t)st.st_size < f->off) {
			/* copytruncate: the same file, from its start. */
			f->st.truncations++;
			finish_line(f, efn, arg, "truncated");
			seek_to(f, 0);
			continue;
		}
		if ((uint64_t)st.st_size > f->off) {
			ssize_t r;

			if (!head_same(f, (uint64_t)st.st_size)) {
				/* Truncated and written again past our offset
				 * between two looks. */
				f->st.rewritten++;
				finish_line(f, efn, arg, "rewritten");
				seek_to(f, 0);
				continue;
			}
			while (total < budget &&
			       (r = read_some(f, budget - total, fn, efn, arg)) > 0)
				total += (size_t)r;
			continue;
		}
		/* At the end of what we hold: has the path moved on?  (Gone
		 * and not yet created again: keep what we hold.) */
		if (stat(f->path, &path_st) < 0 ||
		    ((uint64_t)path_st.st_dev == f->dev && (uint64_t)path_st.st_ino == f->ino))
			return total;
		f->st.rotations++;
		finish_line(f, efn, arg, "rotated");
		close_file(f);
		if (open_file(f, efn, arg) < 0)
			return total;
	}
	return total;
}

bool follow_position(const struct follow *f, struct follow_pos *ret)
{
	struct follow_pos p;

	if (f->fd < 0)
		return false;
	memset(&p, 0, sizeof(p));
	p.dev = f->dev;
	p.ino = f->ino;
	p.off = f->done;
	p.hlen = f->done < FOLLOW_HEAD ? (uint32_t)f->done : FOLLOW_HEAD;
	if (head_hash(f->fd, p.hlen, &p.hash) < 0)
		return false;
	*ret = p;
	return true;
}
