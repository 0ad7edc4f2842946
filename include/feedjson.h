/* The few JSON helpers the eve.json and notice.log parsers share
 * (jansson).  Pure. */
#ifndef QD_FEEDJSON_H
#define QD_FEEDJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Depth of nesting accepted in a line: eve.json's deepest objects
 * (metadata's arrays in an alert) are four levels down. */
#define FJ_MAX_DEPTH 16

/* The line as one JSON value (jansson refuses invalid UTF-8 and NUL
 * bytes; deeper than FJ_MAX_DEPTH is refused here), NULL with why in
 * err.  Caller frees (json_decref). */
json_t *fj_load(const char *line, size_t len, char *err, size_t errlen);
/* Member key of o as text (feed_text()); false when absent or not a
 * string. */
bool fj_text(const json_t *o, const char *key, char *buf, size_t size);
/* Member key as a non-negative integer at most max; 0 when absent or
 * anything else. */
uint64_t fj_uint(const json_t *o, const char *key, uint64_t max);
/* Member key as an address: 0 (family 0 when absent), -EINVAL when it is
 * there and not an address. */
int fj_addr(const json_t *o, const char *key, struct qaddr *ret);
/* Member key ("TCP", "udp"...) as PROTO_TCP, PROTO_UDP or 0. */
uint8_t fj_proto(const json_t *o, const char *key);

#endif
