/* Detection engine: bounded per-host state, first contacts and their
 * outcomes, port/protocol pattern rules, vertical scans and the Threshold
 * Random Walk (SPEC section 4).
 *
 * Pure logic: time is passed in (packet time), nothing is read from the
 * clock, nothing is printed.  All tables are sized once by detect_new()
 * from the configuration and never grow; the packet path never allocates.
 *
 * Vocabulary:
 *   probe   a first contact from a tracked host to (destination, proto,
 *           port); retransmissions and duplicates of it are the same probe.
 *   peer    a (host, destination) pair the host has talked to inside the
 *           window; the first probe to a new peer drives the TRW.
 *   outcome success (SYN-ACK, UDP reply, echo reply, ARP reply), failure
 *           (RST, ICMP unreachable quoting the probe, no answer within
 *           scan.timeout), or neutral (ICMP time exceeded: traceroute).
 *   bare ACK a TCP segment with ACK alone, no options, no payload, to a
 *           (destination, port) without a probe: an ACK scan's probe, or
 *           the ACK of a connection seen from its middle.  It counts only
 *           once it failed, and only for the rules that count failures
 *           (silence: the vertical ones); see on_ack() in detect.c. */
#ifndef QD_DETECT_H
#define QD_DETECT_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "conf.h"
#include "decode.h"
#include "identity.h"
#include "probes.h"
#include "siphash.h"
#include "table.h"
#include "types.h"

/* Pseudo rule index of the Threshold Random Walk. */
#define DETECT_RULE_TRW CONF_MAX_RULES
#define DETECT_NRULES	(CONF_MAX_RULES + 1)
#define DETECT_TRW_NAME "scan-trw"
/* Ports of a host's failed probes remembered for `contain` (SPEC section 5:
 * "up to a configured count"); more than this sets ports_overflow. */
#define DETECT_MAX_PORTS 16
#define DETECT_DARK_MAX	 4 /* dark destinations named in a detection */

enum evidence_kind {
	EVIDENCE_DISTINCT_DST = 0,
	EVIDENCE_DISTINCT_PORTS,
	EVIDENCE_TRW,
	EVIDENCE_FORGED,      /* count: distinct source addresses not its own; target: the last */
	EVIDENCE_CONNECTIONS, /* count: short connections to target (brute force) */
};

/* One rule firing for one host.  Passed to the callback; valid only during
 * the call. */
struct detection {
	struct qaddr host; /* who: a machine (family AF_MAC) or an address */
	struct qaddr addr; /* the source address of the packet that crossed the threshold */
	unsigned rule;	   /* index into conf.rules, or DETECT_RULE_TRW */
	const char *rule_name;
	enum severity severity;
	const char *proto; /* "tcp", "udp", "icmp", "icmpv6", "arp" */
	uint16_t ports[DETECT_MAX_PORTS];
	uint8_t port_protos[DETECT_MAX_PORTS]; /* PROTO_TCP/PROTO_UDP mask of each port */
	unsigned nports;
	bool ports_overflow; /* more distinct ports than fit in ports[] */
	bool fixed_ports;    /* ports are the rule's own list */
	/* Family != 0: the ports are to be contained towards this one
	 * destination only, not towards everyone (brute force against one
	 * server); family 0: towards every destination. */
	struct qaddr peer;
	enum evidence_kind kind;
	unsigned count; /* distinct destinations or ports in the window */
	unsigned window_s;
	struct qaddr target; /* vertical scans: the destination; forgery: a forged address */
	unsigned failures, successes;
	double llr;	       /* TRW log-likelihood ratio at the alarm */
	uint64_t probes;       /* first-contact probes of the host since its release */
	usec_t first_probe_us; /* first probe counted towards this detection */
	usec_t ts_us;	       /* when the threshold was crossed */
	unsigned roles;	       /* the host's inventory roles */
	/* Dark-space rules: the latest dark destinations, oldest first. */
	struct qaddr dark[DETECT_DARK_MAX];
	unsigned ndark;
	/* Who probed the host before it was flagged (probes.h), earliest
	 * first; filled by sense.c, not by the detector. */
	struct probe_edge by[PROBES_BY_MAX];
	unsigned nby;
};

typedef void (*detect_cb)(void *arg, const struct detection *d);

struct detect_stats {
	uint64_t packets;	   /* packets handed to detect_packet() */
	uint64_t probes;	   /* first contacts */
	uint64_t probes_untracked; /* first contacts beyond their host's quota */
	uint64_t probes_dropped;   /* first contacts our own blocks dropped (detect_set_block()) */
	uint64_t forged;	   /* packets from addresses not their sender's */
	uint64_t successes, failures, timeouts, neutral;
	uint64_t detections;
	uint64_t hosts_evicted, probes_evicted, peers_evicted;
	uint64_t blocks_full; /* blocks not known for want of room (their probes count) */
	uint64_t conns, conns_short,
		conns_untracked; /* brute force: followed, short, beyond quota */
	uint32_t hosts, probes_tracked, peers, blocks; /* current occupancy */
	uint32_t max_hosts, max_probes, max_peers, max_blocks;
};

struct detect;

/* Sizes the tables from c (limits.*) and precomputes rule lookups.  c is
 * borrowed and must outlive the detect (or be replaced with
 * detect_set_conf()).  cb is called for every detection.  NULL on
 * allocation failure (errno set). */
struct detect *detect_new(const struct conf *c, const struct siphash_key *key, detect_cb cb,
			  void *arg);
void detect_free(struct detect *d);
/* Detections go to cb(arg) from now on (the owner of the detector moved). */
void detect_set_cb(struct detect *d, detect_cb cb, void *arg);
/* Switches to configuration c (reload), keeping every table, when the
 * rules are the same ones in the same places and the limits are equal:
 * thresholds, windows, severities, ports and TRW parameters may differ.
 * 0, or -EAGAIN when a new detector is needed (windows then restart). */
int detect_reconfigure(struct detect *d, const struct conf *c);

/* Feeds one decoded packet seen at now_us, charged as a says (NULL: to its
 * source address).  Time never goes backwards: an older timestamp is
 * treated as the latest one seen. */
void detect_packet(struct detect *d, const struct pkt *p, const struct attribution *a,
		   usec_t now_us);
/* The lookups detect_packet() will most likely make for p, charged to id,
 * as hints (table.h) in ret[]: the probe it looks up first, its host's
 * entry and the host's peer entry for p's destination (which a new
 * probe looks up); how many, at most DETECT_HINTS.  Changes nothing (the
 * hints point at the tables for table_expect()); a guess that misses
 * costs time, not a result. */
#define DETECT_HINTS 3
unsigned detect_hints(struct detect *d, const struct pkt *p, const struct qaddr *id,
		      struct tab_hint ret[DETECT_HINTS]);
/* A packet seen at now_us that no detector looks at (decode_midflow()):
 * it moves the clock as detect_packet() would, and nothing else. */
void detect_midflow(struct detect *d, usec_t now_us);
/* Runs the timers (probe timeouts, window expiry) up to now_us. */
void detect_advance(struct detect *d, usec_t now_us);
/* End of input: every pending probe times out (at its own deadline) and is
 * evaluated.  Used at the end of an offline capture. */
void detect_flush(struct detect *d);

/* After a release of host (a MAC or an address): forgets which rules
 * already fired for it, so that it is reported again if it goes on
 * spreading, and everything it did before (windows, the walk, the ports
 * of its failed probes, its destinations): only probes sent from now on
 * count against it. */
void detect_forget(struct detect *d, const struct qaddr *host);

/* Our own blocks.  The capture sees a host's packets before nftables
 * drops them, so a probe that our own block dropped fails for want of an
 * answer we prevented: a host isolated for SMB that tried the web while
 * isolated was, once released and flagged again, contained on 80 and 443
 * too.  So the detector is told of every block in force, keyed as hosts
 * are, and a probe sent while a block drops it is a dropped probe:
 *
 *   - its outcome is neutral, whatever is seen: it is no step of the walk,
 *     counts towards no rule that counts failures, and its port is never
 *     among the ports of a detection (those of the host's failed probes);
 *   - it is a first contact only for the rules whose evidence is the
 *     packet itself and that name their own ports (rules with ports, ICMP
 *     and ARP rules, counting every first contact): an SMB worm contained
 *     on 445 by the walk that sweeps on is still flagged by
 *     smb-propagation, and escalated as policy says; per-port and
 *     vertical counts, whose evidence is the probe's port, skip it.
 *
 * What a block drops follows the table's rules:
 *
 *   isolate  key a MAC: whatever the machine sends (but ARP); key an
 *            address: what it sends and what is sent to it.  Traffic
 *            whose other end is in networks.remediation or
 *            networks.admin passes.  (What isolation lets through to the
 *            gateway itself, DHCP and DNS, is taken as dropped too: the
 *            detector does not know the gateway's addresses, and a host's
 *            requests to its own gateway are no evidence either way.)
 *   contain  what key (a MAC or a source address) sends to the listed
 *            protocol/ports, whatever the destination, or, for a port
 *            with a destination (to[i] != 0), to that destination
 *            (dests[to[i] - 1]) only.
 *
 * A probe is judged by its send time (the detector's clock): one sent
 * before a block was put in force is an ordinary probe; once a block is
 * lifted, probes are ordinary again.  With privilege separation this is
 * the one thing the parent tells the sensor about blocks: one fixed-size
 * message per key. */
#define DETECT_BLOCK_PORTS 16
#define DETECT_BLOCK_DESTS 4 /* hostdb.h HOST_MAX_DESTS */

struct detect_block {
	uint8_t level;	/* enum level: LEVEL_CONTAIN or LEVEL_ISOLATE */
	uint8_t nports; /* contain: how many of the following */
	/* IPPROTO_TCP or IPPROTO_UDP with a port; IPPROTO_ICMP or
	 * IPPROTO_ICMPV6 with port 0: the whole protocol. */
	uint8_t protos[DETECT_BLOCK_PORTS];
	uint16_t ports[DETECT_BLOCK_PORTS];
	/* The one destination each port is blocked towards (a TCP or UDP
	 * port only): dests[to[i] - 1]; 0: every destination.  As the
	 * registry keeps them (hostrec.dests), a few for all the ports. */
	uint8_t to[DETECT_BLOCK_PORTS];
	struct qaddr dests[DETECT_BLOCK_DESTS];
};

/* From at_us on, key (a MAC or an address) is blocked as b says, in place
 * of what was in force for it; b NULL, or a level below contain: nothing
 * is in force for key from at_us on.  The table of blocks holds
 * 2 * limits.max_blocked + 1024 keys (a machine's MAC and its addresses);
 * 0, -EINVAL for a bad block, or -ENOSPC when it is full (that key's
 * probes then count as anyone's; counted in blocks_full). */
int detect_set_block(struct detect *d, const struct qaddr *key, const struct detect_block *b,
		     usec_t at_us);

/* Surveillance after a release (surveillance in quarantined.conf(5)):
 * until until_us, a rule fires for key (a MAC or an address, keyed as
 * blocks are) at its threshold times surveillance.factor, rounded up,
 * so that a badly cleaned machine is caught on its first probes.  The
 * Threshold Random Walk keeps its threshold: it already fires at four
 * failures.  Kept in the table of blocks; 0 or a past time ends it; 0,
 * or -ENOSPC when the table is full. */
int detect_set_surveil(struct detect *d, const struct qaddr *key, usec_t until_us);

/* Outbreak mode (outbreak.h): while on, a rule fires for every host at
 * its threshold times outbreak.factor, rounded up (at least 1); the
 * windows stay, so the rate a rule needs falls by the same factor.  The
 * Threshold Random Walk keeps its threshold, as under surveillance. */
void detect_set_outbreak(struct detect *d, bool on);

/* Dark space (rules with dark = true): known(arg, a) says whether a
 * machine is known to use address a (identity: any binding); without it
 * no probe is dark.  Darkness counts from since_us + scan.dark_warmup
 * (since: when the network began to be watched, e.g. the earliest binding
 * restored; by default the first packet's time). */
void detect_set_known(struct detect *d, bool (*known)(void *arg, const struct qaddr *a), void *arg);
void detect_set_watched_since(struct detect *d, usec_t since_us);

/* First contacts on the ports of the worm rules (horizontal rules of
 * severity medium or more) to protected destinations, neither dropped by
 * our own blocks nor bare ACKs: cb(arg, id, src, dst, proto, port, ts),
 * id the host charged, proto a PROTO_* bit.  The record of who probed
 * whom (probes.h) is fed from it.  NULL: none. */
typedef void (*detect_contact_cb)(void *arg, const struct qaddr *id, const struct qaddr *src,
				  const struct qaddr *dst, unsigned proto, uint16_t port,
				  usec_t ts);
void detect_set_contact(struct detect *d, detect_contact_cb cb, void *arg);

/* The detector's clock: the latest time seen. */
usec_t detect_now(const struct detect *d);
void detect_get_stats(const struct detect *d, struct detect_stats *ret);

/* Sizes in bytes of one entry of each table, for documentation/benchmarks. */
size_t detect_memory(const struct detect *d);

/* TRW thresholds and steps from the scan parameters (Jung et al. 2004). */
struct trw_params {
	double eta0, eta1;   /* lower (benign) and upper (scanner) thresholds */
	double step_fail;    /* ln((1-theta1)/(1-theta0)) */
	double step_success; /* ln(theta1/theta0) */
};
void trw_params_init(struct trw_params *p, double theta0, double theta1, double detection,
		     double false_alarm);
/* The number of consecutive failures that crosses eta1 from 0. */
unsigned trw_failures_to_alarm(const struct trw_params *p);

#endif
