/* Following a log file as it grows (tail -F), for the feeds reader:
 * appended lines are handed over whole, as they come; a partial last
 * line waits for its end; a line longer than the limit is skipped to its
 * end without being held, with an error.
 *
 * Rotation: when the path names another file (rename and a new file, as
 * logrotate and Zeek do), the file we hold open is read to its end first
 * (Zeek renames, then compresses: the renamed file is finished through
 * our descriptor, whatever happens to its name), then the new one from
 * its start.  Truncation (copytruncate) starts again at offset 0.
 *
 * The position survives restarts (follow_pos): (device, inode, offset)
 * alone is ambiguous, since a rotated file's inode is reused by the next
 * file, so a hash of the file's first bytes (FOLLOW_HEAD) goes with it; a
 * saved position is taken up only when all of them agree, else the file
 * is read from its start.  A file met for the first time without a
 * saved position is read from its end (its past is not news); a file
 * that appears later, or after a rotation, from its start.
 *
 * Bounded: at most the caller's budget of bytes a call, and the line
 * buffer of max_line bytes. */
#ifndef QD_FOLLOW_H
#define QD_FOLLOW_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FOLLOW_HEAD  1024	 /* bytes hashed at the start of a file */
#define FOLLOW_CHUNK (64 * 1024) /* one read */

/* Where a file was left: saved by the parent, given back at start. */
struct follow_pos {
	uint64_t dev, ino;
	uint64_t off;  /* the end of the last whole line handed over */
	uint32_t hlen; /* bytes hashed: min(FOLLOW_HEAD, off) */
	uint32_t pad;
	uint64_t hash; /* of the first hlen bytes */
};

enum follow_state {
	FOLLOW_WAITING = 0, /* no such file (yet) */
	FOLLOW_FOLLOWING,
	FOLLOW_ERROR, /* it exists but cannot be read (permissions): retried */
};

struct follow_stats {
	uint64_t lines, bytes;
	uint64_t too_long;     /* lines skipped for their length */
	uint64_t partial_lost; /* a rotated or truncated file's unfinished last line */
	uint64_t rotations, truncations, rewritten;
};

/* A line, without its newline (nor a CR before it); borrowed for the
 * call. */
typedef void (*follow_line_fn)(void *arg, const char *line, size_t len);
/* Something the operator should hear of (-errno and words). */
typedef void (*follow_error_fn)(void *arg, int error, const char *what);

/* Lines out of a byte stream (a file or a socket). */
struct linebuf {
	char *b;
	size_t len, max;
	bool skipping; /* inside an over-long line: dropped to its end */
};

int linebuf_init(struct linebuf *lb, size_t max_line);
void linebuf_fini(struct linebuf *lb);
/* Hands every line ended in data to fn; what follows the last newline
 * waits.  Returns the bytes of data up to and with the last newline
 * (what is done with). */
size_t linebuf_feed(struct linebuf *lb, const char *data, size_t n, follow_line_fn fn,
		    follow_error_fn efn, void *arg, uint64_t *ret_lines, uint64_t *ret_too_long);
/* Drops what waits (the stream ended). */
bool linebuf_reset(struct linebuf *lb);

struct follow {
	char path[PATH_MAX];
	int fd; /* -1: none open */
	uint64_t dev, ino;
	uint64_t off;  /* bytes of fd read */
	uint64_t done; /* end of the last whole line: the position kept */
	uint32_t hlen; /* the file's first hlen bytes hash to head */
	uint64_t head;
	bool started; /* a file was met since init (else: from its end) */
	bool have_saved;
	struct follow_pos saved;
	enum follow_state state;
	int error; /* -errno of FOLLOW_ERROR */
	struct linebuf lb;
	char *chunk;
	struct follow_stats st;
};

/* saved may be NULL.  0 or -ENOMEM. */
int follow_init(struct follow *f, const char *path, size_t max_line,
		const struct follow_pos *saved);
void follow_fini(struct follow *f);
/* Reads at most budget bytes of what was appended (and takes up a
 * rotation or truncation).  The bytes read (the caller polls again soon
 * when it is the whole budget), 0 when nothing new. */
size_t follow_poll(struct follow *f, size_t budget, follow_line_fn fn, follow_error_fn efn,
		   void *arg);
/* The position to keep; false while no file is followed. */
bool follow_position(const struct follow *f, struct follow_pos *ret);

#endif
