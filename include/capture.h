/* Packet sources.  The only module that includes <pcap.h>. */
#ifndef QD_CAPTURE_H
#define QD_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

struct capture;

struct capture_packet {
	const uint8_t *data; /* valid until the next capture_next() */
	uint32_t caplen, wirelen;
	usec_t ts;
	int dlt;
};

/* Opens a pcap or pcapng file for reading.  0, or -errno with a message in
 * err (which names the problem, not the file). */
int capture_open_file(const char *path, struct capture **ret, char *err, size_t errlen);
/* 1: a packet in *ret; 0: end of file; -EIO: read error (message in err). */
int capture_next(struct capture *c, struct capture_packet *ret, char *err, size_t errlen);
int capture_datalink(const struct capture *c);
const char *capture_datalink_name(int dlt);
void capture_close(struct capture *c); /* NULL is a no-op */

#endif
