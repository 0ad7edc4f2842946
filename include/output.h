/* Where events go: stdout (text or JSON lines), syslog (key=value), an
 * optional JSON-lines events file, and a tap: a function that gets every
 * event rendered both ways (the daemon keeps the recent ones and hands
 * them to the followers of its control socket). */
#ifndef QD_OUTPUT_H
#define QD_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "event.h"

enum output_format {
	OUTPUT_TEXT = 0,
	OUTPUT_JSON,
};

/* text is the line stdout gets in text format (timestamp, then
 * key=value), json the JSON object; neither has a newline.  Both borrowed
 * for the call. */
typedef void (*output_tap_fn)(void *arg, usec_t ts, const char *text, const char *json);

struct output {
	FILE *stdout_fp; /* NULL: not printed */
	enum output_format format;
	bool syslog;
	FILE *events_fp;      /* NULL: no events file */
	unsigned long errors; /* lines that could not be written */
	output_tap_fn tap;    /* NULL: none */
	void *tap_arg;
	/* Outbreak mode (borrowed; NULL: none): while it is on, every event
	 * says so (event.outbreak). */
	const struct outbreak_state *outbreak;
};

void output_init(struct output *o, FILE *stdout_fp, enum output_format format, bool syslog);
/* Opens (append, O_CLOEXEC) the JSON-lines events file.  0 or -errno. */
int output_open_events_file(struct output *o, const char *path);
void output_close(struct output *o);
/* Sets the tap (NULL: none); arg is borrowed. */
void output_set_tap(struct output *o, output_tap_fn fn, void *arg);
void output_event(struct output *o, const struct event *e);
/* An error event about no host in particular (an alert to the operator:
 * a failed save, a repair, a limit reached), stamped ts. */
void output_error(struct output *o, usec_t ts, const char *msg);
int output_format_parse(const char *s, enum output_format *ret);

#endif
