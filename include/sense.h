/* Sensing: what the daemon does with every captured frame, and nothing
 * else.  A frame is decoded, charged to the machine that sent it
 * (identity), kept in the evidence ring, and handed to the detector; what
 * comes out is detections and identity events, through callbacks.
 *
 * This is the part that parses hostile bytes at line rate, so in the live
 * daemon it runs in the sensor process, which holds no capability (see
 * sensor.h); offline (-r) and in the tests it runs inside the engine's
 * process.  It decides nothing: policy, the registry and the kernel are
 * the engine's.  What the engine tells it back (the blocks in force, the
 * frozen machines, the kernel's neighbours, evidence files to write) goes
 * through the functions below, called directly or by the sensor for the
 * parent's messages.
 *
 * No I/O but the evidence descriptors it is given; the packet path never
 * allocates. */
#ifndef QD_SENSE_H
#define QD_SENSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "conf.h"
#include "decode.h"
#include "detect.h"
#include "evidence.h"
#include "identity.h"
#include "probes.h"

struct sense_batch;

struct sense_params {
	const struct conf *c; /* borrowed; must outlive the sense */
	bool offline;	      /* identity judges routed packets by their TTL */
	/* The identity to use; NULL: a new one of the sense's own.  A
	 * borrowed one keeps its own event callback (the engine's, offline). */
	struct identity *id;
	detect_cb on_detection;
	ident_event_cb on_identity; /* for an identity of the sense's own */
	void *arg;
	/* The gateway's own MACs, for an identity of the sense's own. */
	bool (*is_own_mac)(void *arg, const uint8_t *mac);
	void *own_arg;
	struct evidence *evidence; /* borrowed; NULL: no evidence ring */
};

struct sense {
	const struct conf *c;
	struct identity *id;
	bool own_id;
	struct detect *det;
	/* Who probed whom (probes.h): limits.max_hosts destinations.  Each
	 * detection goes out with who probed the host before (detection.by). */
	struct probes *probes;
	detect_cb on_detection;
	void *arg;
	const struct attribution *cur; /* the frame being inspected's, or NULL */
	struct evidence *evidence;
	struct decode_stats decode;
	struct sense_batch *batch; /* sense_frames()'s room */
};

/* 0 or -errno (nothing to free then). */
int sense_init(struct sense *s, const struct sense_params *p);
void sense_fini(struct sense *s);
/* A sense was copied into s (a detector renewed at a reload takes the
 * old one's place): the detector's callbacks are pointed at s, and s
 * takes over old's record of who probed whom (old's own goes to old, to
 * be freed with it). */
void sense_moved(struct sense *s, struct sense *old);

/* Decodes, attributes, keeps and inspects one captured frame.  A first
 * contact on a worm rule's port (detect_set_contact()) from a source that
 * is its machine's own or unverified, to a protected address, is kept in
 * the record of who probed whom. */
void sense_frame(struct sense *s, int dlt, const uint8_t *data, size_t caplen, size_t wirelen,
		 usec_t ts);
/* The same for n frames in a row, each as sense_frame() would, in order
 * (and to the same effect): all of them are decoded first, and the table
 * lookups they will make asked for from memory together, so that their
 * waits overlap (table.h).  The frames must all stay readable meanwhile
 * (capture_next_batch()).  At most SENSE_BATCH are decoded at a time. */
#define SENSE_BATCH 256
void sense_frames(struct sense *s, const struct capture_packet *f, unsigned n);
/* Runs the detector's timers (probe timeouts, windows) up to now. */
void sense_advance(struct sense *s, usec_t now);
/* End of an offline capture: what is still pending is judged now. */
void sense_flush(struct sense *s);
/* The detector's clock: the latest time seen. */
usec_t sense_now(const struct sense *s);

#endif
