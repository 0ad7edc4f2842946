/* Configuration: built-in defaults, libconfig file parsing and validation.
 *
 * Every key is checked for its name, type and range; problems are collected
 * as FILE:LINE diagnostics so that -t can print them all at once.  The
 * result is a self-contained struct conf; the daemon swaps a whole new one
 * in on reload. */
#ifndef QD_CONF_H
#define QD_CONF_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "lpm.h"
#include "types.h"

#define CONF_DEFAULT_PATH   "/etc/quarantined/quarantined.conf"
#define CONF_MAX_RULES	    32 /* bounded: rule bits live in a uint32_t per peer */
#define CONF_MAX_RULE_PORTS 16
#define CONF_MAX_IFACES	    16
#define CONF_NAME_MAX	    48
#define CONF_AV_PATTERNS    16 /* threat-name patterns per level (antivirus) */
#define CONF_MAX_DIAGS	    64

enum rule_type {
	RULE_HORIZONTAL = 0, /* N distinct destinations on the rule's proto/ports */
	RULE_VERTICAL,	     /* N distinct ports of one destination */
	RULE_FORGERY,	     /* N distinct source addresses a machine does not own */
	RULE_BRUTE,	     /* N short connections to one server on the rule's ports */
};

enum rule_count {
	COUNT_FIRST_CONTACTS = 0, /* every first contact counts */
	COUNT_FAILURES,		  /* only first contacts whose outcome is a failure */
};

struct rule {
	char name[CONF_NAME_MAX];
	bool enabled;
	bool builtin; /* from the built-in set (possibly replaced by the file) */
	enum rule_type type;
	unsigned protos; /* PROTO_* mask */
	uint16_t ports[CONF_MAX_RULE_PORTS];
	unsigned nports; /* 0: counted on any one port (per port) */
	/* distinct_dst (horizontal), distinct_ports (vertical),
	 * distinct_src (forgery) or connections (brute force) */
	unsigned threshold;
	unsigned window_s; /* sliding window */
	enum severity severity;
	enum rule_count count;
	unsigned exempt_roles; /* ROLE_* bits whose hosts this rule never flags */
	/* Only failed first contacts to internal dark space count: a
	 * protected address no machine is known to use, that nothing
	 * answered within scan.timeout. */
	bool dark;
	/* Brute-force rules: a connection counts when it lasted at most
	 * max_duration_s and its client sent at most max_bytes; a longer or
	 * larger one to the same server is a session that worked, and
	 * clears the count. */
	unsigned max_duration_s;
	uint32_t max_bytes;
	int line; /* line in the config file, 0 when built in */
};

struct prefix {
	struct qaddr addr;
	uint8_t plen;
};

/* A list of prefixes with a trie for lookups.  Owned by the conf. */
struct prefix_list {
	struct prefix *v;
	unsigned n;
	struct lpm *lpm; /* value = index into v */
};

struct inv_entry {
	struct prefix net; /* family 0 for an entry that names a MAC only */
	bool has_net;
	bool has_mac;
	uint8_t mac
		[MAC_LEN]; /* the machine's MAC: with a host net (/32, /128) it pins the binding */
	char name[64];
	char department[64];
	char floor[32];
	char owner[96];
	bool critical;	/* automatic actions capped at policy.critical_max */
	unsigned roles; /* ROLE_* */
	int line;
};

struct inventory {
	struct inv_entry *v;
	unsigned n;
	struct lpm *lpm; /* value = index into v; longest prefix wins */
};

/* A list of MAC addresses (networks.routers). */
struct mac_list {
	uint8_t (*v)[MAC_LEN];
	unsigned n;
};

enum enforce_mode {
	ENFORCE_ENFORCE = 0,
	ENFORCE_ALERT,
};

enum nft_family_conf {
	NFT_FAMILY_INET = 0,
	NFT_FAMILY_BRIDGE,
};

/* How outbreak mode groups the protected networks (outbreak.h). */
enum outbreak_by {
	OUTBREAK_BY_DEPARTMENT = 0,
	OUTBREAK_BY_FLOOR,
	OUTBREAK_BY_SUBNET,
};

/* Essential services every group may still use in outbreak mode. */
#define CONF_MAX_OUTBREAK_SERVICES 32
struct outbreak_service {
	uint8_t l4proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
};

/* IDS feeds (the feeds reader, feeds.h): Suricata's eve.json and Zeek's
 * notice.log, and how their alerts map to levels (feedmap.h). */
#define CONF_MAX_FEEDS	  8
#define CONF_MAX_FEED_MAP 64
#define CONF_FEED_TEXT	  128 /* a category, signature or note pattern */
#define CONF_FEED_SIDS	  16
#define FEED_LINE_MIN	  1024
#define FEED_LINE_MAX	  (1024 * 1024)
#define FEED_LINE_DEFAULT 65536 /* eve.json alerts with payloads stay under it */
#define FEED_SOCKET_MAX	  108	/* sun_path with its NUL */

enum feed_kind {
	FEED_ANY = 0, /* in a map entry: any kind */
	FEED_SURICATA,
	FEED_ZEEK,
};

struct feed_conf {
	char name[CONF_NAME_MAX];
	uint8_t kind;		      /* FEED_SURICATA or FEED_ZEEK */
	char path[PATH_MAX];	      /* the file to follow; "" with a socket */
	char socket[FEED_SOCKET_MAX]; /* Suricata's unix_stream output, ours to listen on */
	int line;
};

/* One entry of the map: every matcher given must match (an empty one
 * matches anything); the first entry that matches gives the level. */
struct feed_map_entry {
	uint8_t kind;			/* enum feed_kind; FEED_ANY */
	char category[CONF_FEED_TEXT];	/* Suricata's alert.category, case-insensitive */
	char signature[CONF_FEED_TEXT]; /* a pattern (fnmatch, case-insensitive) on the
					 * signature or the Zeek note */
	uint32_t sids[CONF_FEED_SIDS];	/* Suricata's alert.signature_id */
	unsigned nsids;
	unsigned max_severity; /* alert.severity at most this (1 is the highest); 0: any */
	enum level level;      /* LEVEL_NONE: the alert is ignored */
	bool builtin;
	int line;
};

struct feeds_conf {
	struct feed_conf feed[CONF_MAX_FEEDS];
	unsigned n;
	/* The file's entries first, then (builtin_map) the built-in ones. */
	struct feed_map_entry map[CONF_MAX_FEED_MAP];
	unsigned nmap;
	bool builtin_map;	  /* default true */
	enum level default_level; /* what no entry matches: watch */
	unsigned max_line;	  /* bytes; a longer line is skipped, with an error */
};

struct conf {
	char path[PATH_MAX]; /* the file read; "" for built-in defaults */

	struct {
		char interfaces[CONF_MAX_IFACES][IF_NAMESIZE];
		unsigned ninterfaces;
		unsigned snaplen;   /* bytes; default 160 (headers only) */
		unsigned buffer_mb; /* kernel ring; default 32 */
	} capture;

	struct {
		struct prefix_list protected_; /* default RFC 1918 + fc00::/7 */
		struct prefix_list never_block;
		struct prefix_list remediation;
		struct prefix_list admin;
		/* LAN routers and relays whose frames legitimately carry many
		 * source addresses: by address ... */
		struct prefix_list routers;
		/* ... or by MAC. */
		struct mac_list router_macs;
		/* Apply the allows and disallows other gateways share over the
		 * bus (quarantine-sync(8)); default false. */
		bool allow_from_gateways;
	} networks;

	/* Machine identity (identity.h): who sent a packet, and which
	 * addresses belong to which machine. */
	struct {
		unsigned max_addresses;	   /* addresses one machine may own; default 32 */
		unsigned trust_after_s;	   /* uncontested use before a binding is trusted; 600 */
		unsigned move_after_s;	   /* an owner quiet this long may lose an address; 600 */
		enum level unverified_max; /* cap for sources that cannot be verified; contain */
		bool auto_relay;	   /* a machine the gateway routes many addresses to
					    * is taken for a relay; default true */
	} identity;

	struct {
		enum enforce_mode mode;
		enum nft_family_conf family;
		char table[32];
		unsigned max_actions_per_minute; /* default 100 */
		uint64_t default_ttl_s;		 /* 0: until released */
	} enforce;

	struct {
		enum level level[SEV_HIGH + 1]; /* indexed by enum severity */
		enum level critical_max;	/* cap for critical assets; default contain */
	} policy;

	struct rule rules[CONF_MAX_RULES];
	unsigned nrules;

	/* Threshold Random Walk (Jung et al. 2004) on first-contact outcomes. */
	struct {
		bool enabled;
		double theta0, theta1, detection, false_alarm;
		unsigned timeout_ms;	/* no answer within this is a failure (all detectors) */
		enum severity severity; /* when the failures touch a worm port */
		enum severity other_ports_severity; /* when they touch none (P2P-like) */
		unsigned protos;		    /* PROTO_TCP by default (as the paper) */
		/* Dark-space rules count only after the daemon has watched the
		 * network this long (what it knows of who uses which address
		 * starts empty); default 600 s. */
		unsigned dark_warmup_s;
	} scan;

	struct {
		unsigned max_hosts;    /* tracked internal hosts; default 65536 */
		unsigned max_blocked;  /* flagged / blocked hosts; default 100000, min 100000 */
		unsigned max_probes;   /* first-contact probes awaiting or holding an outcome */
		unsigned max_peers;    /* (host, destination) pairs inside the window */
		unsigned max_machines; /* MACs tracked (identity); default 65536 */
		unsigned max_bindings; /* address-to-MAC bindings; default 131072 */
	} limits;

	struct {
		unsigned window_s; /* same rule within this joins the open incident */
	} incident;

	/* After a release: the host is watched more closely for a while. */
	struct {
		uint64_t period_s; /* 0: no surveillance; default 7 days */
		double factor;	   /* rule thresholds times this, rounded up; (0, 1], 0.5 */
	} surveillance;

	/* Detections imported from antivirus consoles (quarantinectl
	 * import): the level they ask for, by threat name.  A threat name
	 * matching a pattern of isolate (first) or watch asks for that
	 * level, any other for level. */
	struct {
		enum level level;	/* default contain */
		enum severity severity; /* default high */
		char watch[CONF_AV_PATTERNS][CONF_NAME_MAX];
		unsigned nwatch;
		char isolate[CONF_AV_PATTERNS][CONF_NAME_MAX];
		unsigned nisolate;
	} antivirus;

	struct inventory inventory;

	/* Outbreak mode (outbreak.h, quarantined.conf(5) outbreak). */
	struct {
		enum outbreak_by by; /* the grouping when `outbreak on` names none */
		/* Servers every group may reach, both ways (with the
		 * never-block list and the gateway's own addresses). */
		struct prefix_list essential;
		struct outbreak_service services[CONF_MAX_OUTBREAK_SERVICES];
		unsigned nservices;
		/* Rule thresholds times this while it is on, rounded up;
		 * (0, 1], default 0.5. */
		double factor;
		/* watch decisions become contain while it is on; default true. */
		bool contain_watch;
	} outbreak;

	struct {
		char socket[108];
		char group[64];
	} control;

	struct {
		char dir[PATH_MAX];
		unsigned evidence_max_mb;
		bool release_cleaned; /* mark cleaned unblocks the host (default) */
		/* Released (or certified clean) hosts unchanged for this long
		 * leave the registry (their history stays in the state
		 * database); 0: never (default). */
		uint64_t purge_released_s;
		/* History lines older than this leave the state database
		 * (statedb.h), hosts still registered or not; 0: kept for
		 * ever.  Default a year. */
		uint64_t history_retention_s;
	} state;

	struct {
		int facility; /* LOG_DAEMON etc. */
		char events_file[PATH_MAX];
	} log;

	struct feeds_conf feeds;
};

struct conf_diag {
	char file[256];
	int line; /* 0 when the problem has no line */
	char msg[256];
};

struct conf_diags {
	struct conf_diag d[CONF_MAX_DIAGS];
	unsigned n;
	unsigned dropped; /* diagnostics beyond CONF_MAX_DIAGS */
};

/* Fills c with the built-in defaults (SPEC section 6).  0 or -ENOMEM. */
int conf_init_default(struct conf *c);
/* Reads path over the built-in defaults into c (which must not be
 * initialised).  0 on success; -ENOENT when the file is absent, -EINVAL when
 * it has errors (all of them in diags), -ENOMEM.  On failure c holds
 * nothing to free. */
int conf_load(struct conf *c, const char *path, struct conf_diags *diags);
void conf_fini(struct conf *c);

/* The keys group takes ("" for the groups at the top level; "rules" and
 * "inventory" for an entry of theirs), NULL-terminated; NULL for no such
 * group.  For diagnostics ("did you mean") and tests. */
const char *const *conf_keys(const char *group);

/* Index of the rule named name, or -1. */
int conf_rule_find(const struct conf *c, const char *name);

bool prefix_list_contains(const struct prefix_list *l, const struct qaddr *a);
/* The most specific inventory entry for a, or NULL.  For a MAC (family
 * AF_MAC): the entry that names that MAC, or NULL. */
const struct inv_entry *inventory_lookup(const struct inventory *inv, const struct qaddr *a);
/* The entry whose name is name (case-insensitive), or NULL. */
const struct inv_entry *inventory_find_name(const struct inventory *inv, const char *name);
/* The level an antivirus console's threat asks for (antivirus block):
 * isolate's patterns first, then watch's (shell patterns, any case),
 * else antivirus.level. */
enum level conf_av_level(const struct conf *c, const char *threat);
bool mac_list_contains(const struct mac_list *l, const uint8_t mac[MAC_LEN]);

#endif
