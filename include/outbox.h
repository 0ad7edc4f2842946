/* A child process's messages to its parent that wait for room on the
 * channel (the sensor's, the feeds reader's).  The channel is
 * non-blocking and the child never waits for its parent: a message that
 * finds the channel full waits here, in order behind any that already
 * wait, and goes out with outbox_flush() once the parent has read.  The
 * outbox is bounded; a message without room is lost and counted, never
 * half queued.
 *
 * The queue itself (outbox_put(), outbox_peek(), outbox_pop()) is pure;
 * outbox_send() and outbox_flush() put it on an ipc channel. */
#ifndef QD_OUTBOX_H
#define QD_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc.h"

struct outbox {
	uint8_t *b; /* borrowed; cap bytes; messages from head to tail */
	size_t cap, head, tail;
	unsigned n;    /* messages waiting */
	uint64_t full; /* messages that found the channel full and waited */
	uint64_t lost; /* messages that found no room here either */
};

/* An empty outbox in buf (borrowed, of cap bytes, aligned for a
 * uint64_t; the caller keeps it as long as the outbox). */
void outbox_init(struct outbox *o, void *buf, size_t cap);

/* Queues a message after those waiting.  false, and counted lost, when
 * it does not fit (a message larger than the outbox never does). */
bool outbox_put(struct outbox *o, uint16_t type, const void *data, size_t len);

/* The first message waiting: its type, payload (in the outbox, valid
 * until the next outbox_pop() or outbox_put()) and length.  false when
 * none waits. */
bool outbox_peek(const struct outbox *o, uint16_t *ret_type, const void **ret_data,
		 size_t *ret_len);

/* Drops the first message waiting (sent). */
void outbox_pop(struct outbox *o);

/* Sends a message, at once when nothing waits and the channel has room,
 * else queued.  0 when sent or queued; -ENOBUFS when lost (no room here
 * either); any other -errno of ipc_send(): the parent has gone. */
int outbox_send(struct outbox *o, struct ipc *c, uint16_t type, const void *data, size_t len);

/* Sends what waits, in order, until the channel is full.  0; -errno of
 * ipc_send() but -EAGAIN: the parent has gone. */
int outbox_flush(struct outbox *o, struct ipc *c);

#endif
