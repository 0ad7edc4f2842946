/* Antivirus console exports in CSV (quarantinectl import --format csv):
 * the machine name, address, threat name and time of each detection, as
 * the common consoles write them.  Parsed in the client, where no
 * capability is held; what reaches the daemon is typed fields.
 *
 * RFC 4180 (quoted fields, "" inside them, line breaks inside them), a
 * UTF-8 byte-order mark, CRLF or LF, and ',' or ';' or TAB as the
 * delimiter (whichever the header row has most of, outside quotes).  The
 * header row's column names are recognised case-insensitively, ignoring
 * spaces and punctuation, from the names consoles use (avcsv.c lists
 * them); an operator's --column ROLE=NAME overrides.  Every record is
 * bounded (AVCSV_RECORD_MAX bytes): a longer one is refused with its line
 * number and skipped to its end without being held, and the next one is
 * read as usual; a record that is not valid UTF-8, or has a control
 * character in a field, is refused the same way.
 *
 * Pure: bytes in, rows out through a callback; no I/O, no allocation. */
#ifndef QD_AVCSV_H
#define QD_AVCSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outside.h"

enum avcsv_role {
	AVCSV_HOST = 0, /* the machine's name (short or FQDN) */
	AVCSV_ADDR,	/* its IP address (the first, when a list) */
	AVCSV_MAC,	/* its MAC address */
	AVCSV_THREAT,	/* the threat's name */
	AVCSV_TIME,	/* when it was detected */
	AVCSV_ROLES,
};

/* A record's bytes: far beyond any console's line (a path and a few
 * names), small enough that a hostile file costs nothing. */
#define AVCSV_RECORD_MAX 8192
#define AVCSV_FIELDS_MAX 128
#define AVCSV_NAME_MAX	 256 /* a machine name: an FQDN is at most 253 */
/* A threat name, so that "av:" and it fit outside_detection.rule. */
#define AVCSV_THREAT_MAX (OUTSIDE_RULE_MAX - sizeof(OUTSIDE_AV_PREFIX) + 1)

struct avcsv_row {
	unsigned line; /* the physical line the record starts on, from 1 */
	char host[AVCSV_NAME_MAX];
	char addr[64];
	char mac[32];
	char threat[AVCSV_THREAT_MAX];
	uint64_t ts_us; /* 0: none, or not understood */
	/* The record as read, control characters made spaces, cut at a
	 * character boundary: the evidence kept in the host's history. */
	char evidence[OUTSIDE_EVIDENCE_MAX];
};

/* A row (error NULL), or a record refused (error says why; row->line
 * says where, the rest is empty). */
typedef void (*avcsv_cb)(void *arg, const struct avcsv_row *row, const char *error);

struct avcsv {
	/* The operator's column names by role (--column ROLE=NAME), NULL:
	 * recognised from the header. */
	const char *column[AVCSV_ROLES];
	int col[AVCSV_ROLES]; /* index of each role's column, -1 none */
	char delim;	      /* 0 until the header is read */
	bool header_done;
	unsigned line;	     /* the physical line being read */
	unsigned rec_line;   /* where the current record began */
	unsigned long bytes; /* consumed so far (the BOM check) */
	bool quoted;	     /* inside a quoted field */
	bool after_quote;    /* a quote seen inside a quoted field: "" or its end */
	bool cr;	     /* a CR seen outside quotes */
	bool skipping;	     /* the record outgrew AVCSV_RECORD_MAX: to its end */
	size_t len;
	char rec[AVCSV_RECORD_MAX];
	/* The fields of rec, unquoted, each with its NUL. */
	char fields[AVCSV_RECORD_MAX + AVCSV_FIELDS_MAX];
	/* Why the file cannot be read (the header is unusable): set once,
	 * nothing more is parsed. */
	char fatal[160];
	unsigned rows, refused;
};

/* columns: NULL or AVCSV_ROLES names (each NULL: recognised), borrowed
 * for the parser's life. */
void avcsv_init(struct avcsv *p, const char *const *columns);
/* Parses n more bytes.  0, or -EINVAL once the header is unusable
 * (p->fatal says why; later calls do nothing). */
int avcsv_feed(struct avcsv *p, const char *buf, size_t n, avcsv_cb cb, void *arg);
/* End of input: the last record without its line break.  0 or -EINVAL
 * (no usable header: an empty file included). */
int avcsv_finish(struct avcsv *p, avcsv_cb cb, void *arg);
/* The role a name given to --column names ("host", "address", "mac",
 * "threat", "time"), or -1. */
int avcsv_role_parse(const char *s);
const char *avcsv_role_name(enum avcsv_role r);
/* Parses a console's time: ISO 8601 (time_since_parse()), M/D/YYYY or
 * D.M.YYYY with H:MM[:SS] [AM|PM]; without a zone, local time.  0 with
 * *ret_us set, or -EINVAL. */
int avcsv_time_parse(const char *s, uint64_t *ret_us);

#endif
