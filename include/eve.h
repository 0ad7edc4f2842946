/* Suricata's eve.json (EVE JSON output): one JSON object a line, of
 * which the alerts (event_type "alert") concern us.  Parsed with jansson
 * (strict UTF-8, a depth limit), in the feeds reader only.  Pure. */
#ifndef QD_EVE_H
#define QD_EVE_H

#include <stddef.h>

#include "feedmap.h"

/* One line (len bytes, no newline).  1: an alert, in *ret; 0: a valid
 * line of another event type (flow, dns, stats...); -EINVAL: not an
 * eve.json record (malformed JSON, invalid UTF-8, an alert without its
 * signature or addresses), with why in err. */
int eve_parse(const char *line, size_t len, struct feed_alert *ret, char *err, size_t errlen);

#endif
