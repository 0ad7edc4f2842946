/* A child's messages waiting for its parent; see outbox.h. */
#include "outbox.h"

#include <errno.h>
#include <string.h>

/* A message waiting: this header, then its payload, then padding to 8
 * bytes so that the next header is aligned. */
struct outhdr {
	uint16_t type;
	uint16_t pad;
	uint32_t len;
};

static size_t out_size(size_t len)
{
	return (sizeof(struct outhdr) + len + 7) & ~(size_t)7;
}

void outbox_init(struct outbox *o, void *buf, size_t cap)
{
	memset(o, 0, sizeof(*o));
	o->b = buf;
	o->cap = cap;
}

bool outbox_put(struct outbox *o, uint16_t type, const void *data, size_t len)
{
	struct outhdr *h;
	size_t need = out_size(len);

	if (o->n == 0)
		o->head = o->tail = 0;
	if (o->tail + need > o->cap && o->head) {
		/* Room at the front: move what waits there. */
		memmove(o->b, o->b + o->head, o->tail - o->head);
		o->tail -= o->head;
		o->head = 0;
	}
	if (o->tail + need > o->cap) {
		o->lost++;
		return false;
	}
	h = (struct outhdr *)(o->b + o->tail);
	h->type = type;
	h->pad = 0;
	h->len = (uint32_t)len;
	if (len)
		memcpy(h + 1, data, len);
	o->tail += need;
	o->n++;
	return true;
}

bool outbox_peek(const struct outbox *o, uint16_t *ret_type, const void **ret_data, size_t *ret_len)
{
	const struct outhdr *h;

	if (!o->n)
		return false;
	h = (const struct outhdr *)(o->b + o->head);
	*ret_type = h->type;
	*ret_data = h + 1;
	*ret_len = h->len;
	return true;
}

void outbox_pop(struct outbox *o)
{
	const struct outhdr *h;

	if (!o->n)
		return;
	h = (const struct outhdr *)(o->b + o->head);
	o->head += out_size(h->len);
	if (--o->n == 0)
		o->head = o->tail = 0;
}

int outbox_send(struct outbox *o, struct ipc *c, uint16_t type, const void *data, size_t len)
{
	if (o->n == 0) {
		int r = ipc_send(c, type, data, len, -1);

		if (r != -EAGAIN)
			return r;
		o->full++;
	}
	return outbox_put(o, type, data, len) ? 0 : -ENOBUFS;
}

int outbox_flush(struct outbox *o, struct ipc *c)
{
	uint16_t type;
	const void *data;
	size_t len;

	while (outbox_peek(o, &type, &data, &len)) {
		int r = ipc_send(c, type, data, len, -1);

		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r;
		outbox_pop(o);
	}
	return 0;
}
