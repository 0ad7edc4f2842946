/* Zeek's notice.log written as JSON (LogAscii::use_json): one object a
 * line with note, msg, src, dst, p, proto and the connection's id.*
 * fields, ts as an epoch float or ISO 8601 (LogAscii::json_timestamps).
 * Parsed with jansson, in the feeds reader only.  Pure. */
#ifndef QD_ZEEK_H
#define QD_ZEEK_H

#include <stddef.h>

#include "feedmap.h"

/* One line (len bytes, no newline).  1: a notice, in *ret; -EINVAL: not
 * a notice (malformed JSON, invalid UTF-8, no note), with why in err. */
int zeek_parse(const char *line, size_t len, struct feed_alert *ret, char *err, size_t errlen);

#endif
