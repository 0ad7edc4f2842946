/* What an IDS alert means for us, once parsed (eve.h, zeek.h): who is to
 * be contained (the attacker or the infected host, never the victim of an
 * inbound exploit), at which level (the configuration's map), and the
 * outside detection (outside.h) that goes to the parent.
 *
 * src_ip and dest_ip of an eve.json alert are the endpoints of the packet
 * that matched, not attacker and victim: an ET TROJAN rule on to_client
 * traffic has the outside server as src_ip and the infected host as
 * dest_ip.  feed_attacker() decides, in this order: alert.source (the
 * rule's own word, Suricata 6+ with the target keyword); else the flow's
 * client (flow.src_ip in Suricata 7, else src_ip for to_server or no
 * direction, dest_ip for to_client), since a client is the side that
 * acts: it connects out to its command server, scans, exploits; an
 * outside client is an inbound attack, and its inside victim is not
 * contained.  Zeek: the notice's src (the scanner for Scan:: notes, the
 * actor the script names for the others), else id.orig_h.
 *
 * Pure: no I/O; the protected networks come from the configuration. */
#ifndef QD_FEEDMAP_H
#define QD_FEEDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "conf.h"
#include "outside.h"
#include "types.h"

#define FEED_SIG_MAX	  (OUTSIDE_RULE_MAX - 4) /* the rule is "ids:" and this */
#define FEED_CATEGORY_MAX CONF_FEED_TEXT

enum feed_dir {
	FEED_DIR_UNKNOWN = 0,
	FEED_DIR_TO_SERVER,
	FEED_DIR_TO_CLIENT,
};

/* One alert, as parsed from a line.  Strings are NUL-terminated UTF-8,
 * cut at a character boundary, control characters replaced. */
struct feed_alert {
	uint8_t kind;			  /* FEED_SURICATA or FEED_ZEEK */
	char signature[FEED_SIG_MAX];	  /* alert.signature, or Zeek's note */
	char category[FEED_CATEGORY_MAX]; /* alert.category; "" for Zeek */
	uint32_t sid;			  /* alert.signature_id; 0: none */
	unsigned severity;		  /* alert.severity (1 is the highest); 0: none */
	uint8_t proto;			  /* PROTO_TCP, PROTO_UDP, or 0 */
	struct qaddr src, dst;		  /* the packet's (eve) or src/dst (Zeek) */
	uint16_t sport, dport;
	struct qaddr client;	     /* flow.src_ip (Suricata 7); family 0: none */
	uint8_t dir;		     /* enum feed_dir (eve's "direction") */
	struct qaddr source, target; /* alert.source/target.ip; family 0: none */
	uint64_t ts_us;		     /* the tool's time; 0: none */
};

enum feed_verdict {
	FEED_CONTAIN = 0, /* ret_host is inside: the detection goes up */
	FEED_INBOUND,	  /* the attacker is outside: its inside victim is left alone */
	FEED_NOT_OURS,	  /* no endpoint is in the protected networks */
	FEED_NO_ADDRESS,  /* nothing to go by */
	FEED_MAPPED_OUT,  /* the map says ignore */
};

/* Who is to be contained, and the other end.  Pure. */
enum feed_verdict feed_attacker(const struct conf *c, const struct feed_alert *a,
				struct qaddr *ret_host, struct qaddr *ret_peer);

/* The level the map gives a (LEVEL_NONE: ignore), and the index of the
 * entry that matched in *ret_entry (-1: default_level). */
enum level feed_map_level(const struct feeds_conf *fc, const struct feed_alert *a, int *ret_entry);

/* The outside detection of alert a of feed f, line (len bytes, as read)
 * its evidence.  FEED_CONTAIN with *ret filled, or why not. */
enum feed_verdict feed_detection(const struct conf *c, const struct feed_conf *f,
				 const struct feed_alert *a, const char *line, size_t len,
				 struct outside_detection *ret);

/* Copies at most size-1 bytes of the UTF-8 text s (n bytes) into dst, cut
 * at a character boundary, control characters as '?' (a tab as a
 * space).  For every string that comes from a feed. */
void feed_text(char *dst, size_t size, const char *s, size_t n);

/* "2026-12-03T14:20:01.123456+0000", "...Z", "...+01:00": microseconds
 * since the epoch.  0 or -EINVAL. */
int feed_iso8601(const char *s, uint64_t *ret_us);

/* The verdict's name, for counters and tests. */
const char *feed_verdict_name(enum feed_verdict v);

#endif
