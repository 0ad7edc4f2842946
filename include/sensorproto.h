/* The messages between the sensor and the parent (sensor.h), on an ipc
 * channel (ipc.h): every type has a fixed size (or a bounded string), and
 * every field a checked range.  The sensor parses hostile packets, so the
 * parent treats what it says as hostile too: sp_*_decode() check every
 * field against the parent's own configuration and clock, and a message
 * that fails is a protocol error, which ends the sensor (the parent then
 * starts a new one).  What passes is no more than a request: the parent
 * puts every detection through its own policy (never-block, own
 * addresses, protected networks, caps), exactly as one it made itself.
 *
 * Pure: no I/O.  The wire structures are the same on both ends (one
 * binary, one machine), memset before they are filled, so no padding
 * carries stale bytes. */
#ifndef QD_SENSORPROTO_H
#define QD_SENSORPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "capture.h"
#include "conf.h"
#include "decode.h"
#include "detect.h"
#include "evidence.h"
#include "identity.h"
#include "ipc.h"
#include "probes.h"

enum sp_type {
	/* sensor -> parent */
	SP_READY = 1,	    /* the start-up state is applied; capturing */
	SP_DETECTION,	    /* struct sp_detection */
	SP_MACHINE,	    /* struct ident_snap: a machine's bindings, before what concerns it */
	SP_IDENT,	    /* struct sp_ident: an identity event */
	SP_STATS,	    /* struct sp_stats, once a second */
	SP_CAPFAIL,	    /* struct sp_capfail: a capture failed; the sensor goes on without it */
	SP_EVIDENCE_CLOSED, /* struct sp_evclosed: an evidence file is closed */
	/* parent -> sensor */
	SP_START =
		32,  /* struct sp_start + a memfd of start-up records (blocks, frozen, bindings) */
	SP_BLOCK,    /* struct sp_block */
	SP_FORGET,   /* struct sp_key */
	SP_FROZEN,   /* struct sp_frozen */
	SP_NEIGH,    /* struct sp_neigh: a kernel neighbour entry */
	SP_FDB,	     /* struct sp_fdb: a bridge FDB entry */
	SP_OWN_MACS, /* struct sp_own_macs: the gateway's own MACs, all of them */
	SP_EVIDENCE, /* struct sp_evidence + the file's descriptor */
	SP_SURVEIL,  /* struct sp_surveil */
	SP_OUTBREAK, /* struct sp_outbreak */
};

/* The largest payload: a machine's snapshot, which goes as its header and
 * the bindings in use. */
#define SP_MAX_PAYLOAD sizeof(struct ident_snap)
#define SP_MACHINE_MIN offsetof(struct ident_snap, b)
/* The length of a snapshot's message. */
static inline size_t sp_machine_len(const struct ident_snap *s)
{
	return SP_MACHINE_MIN + (size_t)s->nbind * sizeof(s->b[0]);
}

/* One edge of who probed whom (struct probe_edge). */
struct sp_edge {
	struct qaddr from; /* a MAC, or an address when unverified */
	uint8_t proto;	   /* PROTO_TCP or PROTO_UDP */
	uint8_t unverified;
	uint8_t pad;
	uint16_t port;
	uint8_t pad2[2];
	int64_t first_us;
};

struct sp_detection {
	struct qaddr host, addr, target;
	uint8_t severity; /* enum severity */
	uint8_t proto;	  /* index into sp_proto_names */
	uint8_t kind;	  /* enum evidence_kind */
	uint8_t nports;
	uint8_t ports_overflow, fixed_ports;
	uint8_t port_protos[DETECT_MAX_PORTS];
	uint16_t ports[DETECT_MAX_PORTS];
	uint32_t rule; /* index into conf.rules, or DETECT_RULE_TRW */
	uint32_t count, window_s, failures, successes, roles;
	uint64_t probes;
	int64_t first_probe_us, ts_us;
	double llr;
	struct qaddr dark[DETECT_DARK_MAX]; /* dark-space rules: the addresses */
	uint8_t ndark;
	struct qaddr peer; /* family 0, or the one destination to contain towards */
	uint8_t pad[10];
	/* Who probed the host before (detection.by, probes.h): by[0..nby),
	 * earliest first; the rest zero. */
	struct sp_edge by[PROBES_BY_MAX];
	uint8_t nby;
	uint8_t pad2[7];
};

struct sp_ident {
	struct qaddr addr;
	uint8_t kind; /* enum ident_event_kind */
	uint8_t how;  /* index into sp_how_names */
	uint8_t mac[MAC_LEN];
	uint8_t other[MAC_LEN];
	uint8_t pad[2];
	uint32_t count;
	int32_t port, other_port;
	int64_t ts;
};

struct sp_iface_stats {
	uint8_t up;
	uint8_t pad[7];
	struct capture_stats st;
};

struct sp_stats {
	struct decode_stats decode;
	struct detect_stats detect;
	struct ident_stats ident;
	struct evidence_stats evidence;
	uint64_t out_full; /* messages that waited for room on the channel */
	uint64_t out_lost; /* messages lost for want of room: an alert */
	uint32_t nifaces;
	uint32_t pad;
	struct sp_iface_stats iface[CONF_MAX_IFACES];
};

#define SP_CAPFAIL_TEXT 256
struct sp_capfail {
	uint32_t iface;		    /* index into the parent's interfaces */
	int32_t error;		    /* -errno */
	char text[SP_CAPFAIL_TEXT]; /* libpcap's words, NUL-terminated */
};

struct sp_evclosed {
	struct qaddr host;
	uint8_t pad[7];
	uint64_t file_id;
};

struct sp_start {
	uint32_t records; /* in the memfd */
	uint32_t pad;
};

struct sp_key {
	struct qaddr key;
};

/* An SP_BLOCK message carries 1 to SP_BLOCK_MAX of these: the parent
 * sends the blocks of a batch together, since one message a host cost as
 * much as the kernel's own work in a bulk import of 100,000 hosts (about
 * 24 KiB a message). */
#define SP_BLOCK_MAX 128

struct sp_block {
	struct qaddr key;
	uint8_t has; /* 0: nothing in force for key */
	uint8_t pad[6];
	struct detect_block b;
	int64_t at_us;
};

struct sp_surveil {
	struct qaddr key;
	uint8_t pad[7];
	int64_t until_us;
};

/* Outbreak mode on (1) or off (0): the rules' thresholds
 * (detect_set_outbreak()). */
struct sp_outbreak {
	uint8_t on;
	uint8_t pad[7];
};

struct sp_frozen {
	uint8_t mac[MAC_LEN];
	uint8_t frozen;
	uint8_t pad;
};

struct sp_neigh {
	struct qaddr addr;
	uint8_t mac[MAC_LEN];
	uint8_t state; /* enum ident_neigh */
	uint8_t pad;
	int64_t ts;
};

struct sp_fdb {
	uint8_t mac[MAC_LEN];
	uint8_t pad[2];
	int32_t port;
	int64_t ts;
};

#define SP_OWN_MACS_MAX 256
struct sp_own_macs {
	uint32_t n;
	uint8_t mac[SP_OWN_MACS_MAX][MAC_LEN];
};

struct sp_evidence {
	struct qaddr host; /* the MAC or address whose packets go to the file */
	uint8_t pad[7];
	uint64_t max_file_bytes;
};

/* A start-up record in the SP_START memfd: a header and one of the
 * parent->sensor payloads (SP_BLOCK, SP_SURVEIL, SP_OUTBREAK, SP_FROZEN,
 * SP_OWN_MACS) or a binding
 * (SP_START itself as the type: struct ident_binding). */
struct sp_record {
	uint16_t type;
	uint16_t pad;
	uint32_t len;
};

/* What each end accepts: ipc_init()'s tables. */
extern const struct ipc_type sp_parent_types[]; /* what the parent receives */
extern const unsigned sp_parent_ntypes;
extern const struct ipc_type sp_sensor_types[]; /* what the sensor receives */
extern const unsigned sp_sensor_ntypes;

/* The texts a detection's proto and an identity event's how may be. */
extern const char *const sp_proto_names[];
extern const unsigned sp_proto_count;
extern const char *const sp_how_names[];
extern const unsigned sp_how_count;

/* Sensor side: a detection or an identity event as a message. */
void sp_detection_encode(const struct detection *d, struct sp_detection *ret);
void sp_ident_encode(const struct ident_event *ev, struct sp_ident *ret);

/* Parent side: the message as the engine's structure, checked against
 * c and the wall clock now.  Strings point at c or static text.  0, or
 * -EPROTO with what is wrong in err. */
int sp_detection_decode(const struct sp_detection *m, const struct conf *c, usec_t now,
			struct detection *ret, char *err, size_t errlen);
int sp_ident_decode(const struct sp_ident *m, usec_t now, struct ident_event *ret, char *err,
		    size_t errlen);
/* The stats message checked (counts cannot be checked; the interface
 * count can).  0 or -EPROTO. */
int sp_stats_check(struct sp_stats *m, unsigned nifaces, char *err, size_t errlen);
/* The capture failure checked: the interface index and a terminated,
 * printable text (anything else is replaced by '?').  0 or -EPROTO. */
int sp_capfail_check(struct sp_capfail *m, unsigned nifaces, char *err, size_t errlen);

/* Parent side: a snapshot's length agrees with its count.  0 or -EPROTO. */
int sp_machine_check(const struct ident_snap *s, size_t len);

/* Sensor side: the parent's messages checked (the parent is trusted, but
 * a bug must not become memory corruption).  0 or -EPROTO. */
int sp_block_check(const struct sp_block *m);
int sp_surveil_check(const struct sp_surveil *m);
int sp_outbreak_check(const struct sp_outbreak *m);
int sp_key_check(const struct sp_key *m);
int sp_neigh_check(const struct sp_neigh *m);
int sp_own_macs_check(const struct sp_own_macs *m);

#endif
