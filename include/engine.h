/* The engine ties the pieces together for one run: decoded packets go to
 * the detector; each detection goes through policy, the host registry and
 * incident grouping, and comes out as events. */
#ifndef QD_ENGINE_H
#define QD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "decode.h"
#include "detect.h"
#include "hostdb.h"
#include "incident.h"
#include "output.h"
#include "policy.h"

#define ENGINE_MAX_INCIDENTS 16384

struct engine_stats {
	struct decode_stats decode;
	uint64_t detections_suppressed; /* same host, rule and level as before */
	uint64_t registry_full;
};

struct engine {
	const struct conf *c;
	struct output *out;
	struct detect *det;
	struct policy pol;
	struct hostdb hosts;
	struct incidents incidents;
	struct engine_stats st;
};

/* c and out are borrowed and must outlive the engine.  0 or -errno. */
int engine_init(struct engine *e, const struct conf *c, enum run_mode mode, struct output *out);
void engine_fini(struct engine *e);
/* Decodes and processes one captured frame. */
void engine_frame(struct engine *e, int dlt, const uint8_t *data, size_t caplen, size_t wirelen,
		  usec_t ts);
/* Runs timers up to now (live mode calls this from the loop). */
void engine_tick(struct engine *e, usec_t now);
/* End of an offline capture: flush pending timeouts and windows. */
void engine_flush(struct engine *e);

#endif
