/* The parent's end of the sensor (sensor.h): starting it, telling it
 * what the engine decides (struct engine_sensor, as messages), taking
 * what it reports to the engine after checking every field
 * (sensorproto.h), and starting a new one when it dies.
 *
 * A sensor that dies (a crash, SIGSYS from its filter, a kill) or breaks
 * the protocol is killed, reaped and alerted; a new one starts after a
 * backoff (1 s, doubling up to 60 s for a sensor that dies within 10 s
 * of its start, else 1 s), with the whole start-up state: every block stays in the kernel
 * meanwhile, and nothing the parent knows is lost.  A capture that
 * cannot be opened (the interface is missing or down) is retried by a
 * new sensor once the interface is up.  The parent never waits on its
 * sensor but at start-up, for its first SP_READY. */
#ifndef QD_SENSORLINK_H
#define QD_SENSORLINK_H

#include <stdbool.h>
#include <sys/types.h>

#include "engine.h"
#include "evidence.h"
#include "ipc.h"
#include "output.h"
#include "sensor.h"
#include "sensorproto.h"

struct sensorlink_params {
	struct engine *eng;	   /* borrowed: where reports go */
	struct output *out;	   /* alerts */
	struct evidence *evidence; /* the parent's files (evidence_create()); NULL: none */
	struct sensor_params sp;   /* for each sensor started (fd is set per start) */
	/* The gateway's own MACs (neighmon_own_macs()), sent at start and
	 * whenever they change. */
	unsigned (*own_macs)(void *arg, const uint8_t (**ret)[MAC_LEN]);
	void *own_arg;
	/* What the child runs in place of sensor_main() (the tests' hostile
	 * sensors); NULL: sensor_main().  Its return is the exit status. */
	int (*child)(void *arg, int fd);
	void *child_arg;
	/* A sensor has started (it said ready): what the parent follows for
	 * it (the kernel's neighbour tables) is to be reported anew. */
	void (*on_start)(void *arg);
	void *start_arg;
};

struct sensorlink {
	struct sensorlink_params p;
	struct ipc ipc;
	pid_t pid; /* 0: none running */
	bool ready;
	/* Start-up records written instead of sent (the SP_START memfd). */
	int rec_fd;
	uint32_t nrec;
	bool rec_failed;
	usec_t restart_at; /* monotonic; 0: nothing scheduled */
	usec_t backoff_us;
	usec_t started_mono;
	uint64_t starts, deaths, protocol_errors;
	bool iface_down[CONF_MAX_IFACES]; /* the sensor could not open it */
	int iface_error[CONF_MAX_IFACES]; /* why (-errno) */
	usec_t iface_check_at;
	usec_t iface_wait_us;  /* between checks: 2 s, doubled by each try that failed */
	struct sp_stats stats; /* the latest */
	bool have_stats;
	uint64_t lost_told;
	struct sp_own_macs own; /* as last sent */
	/* Blocks not yet sent: the engine's set_block calls of one batch
	 * go in messages of SP_BLOCK_MAX (sensorlink_flush()). */
	struct sp_block pend[SP_BLOCK_MAX];
	unsigned npend;
	struct engine_sensor ops;
};

/* Sets up the link (no sensor yet); p is copied. */
void sensorlink_init(struct sensorlink *l, const struct sensorlink_params *p);
/* Starts a sensor and waits (at most timeout_ms) for it to say ready,
 * feeding it the engine's state.  0, or -errno with err filled. */
int sensorlink_start(struct sensorlink *l, int timeout_ms, char *err, size_t errlen);
/* Sends the blocks the engine gave since the last message (set_block
 * keeps them for one message of up to SP_BLOCK_MAX); the daemon calls it
 * at the end of every turn of its loop. */
void sensorlink_flush(struct sensorlink *l);
/* Kills and reaps the sensor (shutdown, reload). */
void sensorlink_stop(struct sensorlink *l);
/* The configuration changed (reload): a new sensor with it, now. */
int sensorlink_restart(struct sensorlink *l, const struct conf *c, const char *filter, char *err,
		       size_t errlen);

/* For poll(): the channel's descriptor (-1: no sensor). */
int sensorlink_fd(const struct sensorlink *l);
/* Reads what the sensor sent (a bounded number a call) into the engine;
 * mono for the backoff. */
void sensorlink_read(struct sensorlink *l, usec_t wall, usec_t mono);
/* One message of the sensor, as ipc_recv() passed it (its type declared
 * and its length within the declaration): checked (sensorproto.h) and
 * handed to the engine.  0, or -EPROTO: the sensor was ended (a protocol
 * error, alerted).  sensorlink_read()'s step, for the fuzzer. */
int sensorlink_handle(struct sensorlink *l, const struct ipc_msg *m, usec_t wall);
/* The timer: a due restart, a missing interface back. */
void sensorlink_tick(struct sensorlink *l, usec_t wall, usec_t mono);
/* A kernel neighbour entry or bridge FDB entry for the sensor's identity. */
void sensorlink_neigh(struct sensorlink *l, const struct qaddr *addr, const uint8_t *mac,
		      enum ident_neigh state, usec_t now);
void sensorlink_fdb(struct sensorlink *l, const uint8_t *mac, int port, usec_t now);

#endif
