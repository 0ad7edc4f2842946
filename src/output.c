/* Event sinks. */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Long enough for a detect with every inventory field at its maximum. */
#define LINE_MAX_LEN 4096

void output_init(struct output *o, FILE *stdout_fp, enum output_format format, bool syslog)
{
	memset(o, 0, sizeof(*o));
	o->stdout_fp = stdout_fp;
	o->format = format;
	o->syslog = syslog;
}

int output_open_events_file(struct output *o, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	o->events_fp = fdopen(fd, "a");
	if (!o->events_fp) {
		int r = -errno;
		close(fd);
		return r;
	}
	setvbuf(o->events_fp, NULL, _IOLBF, 0);
	return 0;
}

void output_close(struct output *o)
{
	if (o->events_fp)
		fclose(o->events_fp);
	o->events_fp = NULL;
	if (o->stdout_fp)
		fflush(o->stdout_fp);
}

void output_set_tap(struct output *o, output_tap_fn fn, void *arg)
{
	o->tap = fn;
	o->tap_arg = arg;
}

int output_format_parse(const char *s, enum output_format *ret)
{
	if (strcmp(s, "text") == 0)
		*ret = OUTPUT_TEXT;
	else if (strcmp(s, "json") == 0)
		*ret = OUTPUT_JSON;
	else
		return -EINVAL;
	return 0;
}

void output_event(struct output *o, const struct event *ev)
{
	char json[LINE_MAX_LEN], kv[LINE_MAX_LEN], ts[32];
	struct event copy;
	const struct event *e = ev;
	bool need_json = (o->stdout_fp && o->format == OUTPUT_JSON) || o->events_fp || o->tap;
	bool need_kv = (o->stdout_fp && o->format == OUTPUT_TEXT) || o->syslog || o->tap;

	if (!ev->outbreak && o->outbreak && o->outbreak->on) {
		copy = *ev;
		copy.outbreak = o->outbreak;
		e = &copy;
	}
	/* A line cut short by the buffer is still written: losing the tail of
	 * an owner name is better than losing the event. */
	if (need_json)
		event_format_json(e, json, sizeof(json));
	if (need_kv)
		event_format_kv(e, kv, sizeof(kv));
	if (o->stdout_fp) {
		int r;
		if (o->format == OUTPUT_JSON)
			r = fprintf(o->stdout_fp, "%s\n", json);
		else
			r = fprintf(o->stdout_fp, "%s %s\n", event_format_ts(e->ts, ts), kv);
		if (r < 0)
			o->errors++;
	}
	if (o->syslog)
		log_event(event_priority(e), kv);
	if (o->events_fp && fprintf(o->events_fp, "%s\n", json) < 0)
		o->errors++;
	if (o->tap) {
		char text[32 + LINE_MAX_LEN];

		snprintf(text, sizeof(text), "%s %s", event_format_ts(e->ts, ts), kv);
		o->tap(o->tap_arg, e->ts, text, json);
	}
}

void output_error(struct output *o, usec_t ts, const char *msg)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_ERROR;
	ev.ts = ts;
	ev.by_uid = -1;
	ev.message = msg;
	output_event(o, &ev);
}
