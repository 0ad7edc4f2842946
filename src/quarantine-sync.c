/* quarantine-sync: shares this gateway's containment decisions with the
 * other gateways through a NATS JetStream key-value bucket, and applies
 * theirs through the local daemon's control socket (quarantine-sync(8)).
 *
 * A program of its own, with its own unit: it holds the credentials of
 * the bus, and no capability; the daemon holds CAP_NET_ADMIN and never
 * talks to the network.  What comes from the bus is hostile input:
 * decoded and checked here (syncmsg.h), then checked again by the daemon,
 * whose own policy decides.
 *
 * One poll loop: the control socket's event stream, an eventfd by which
 * the client library's threads hand over messages and connection changes,
 * a signalfd, and a timer (the poll timeout).  The library's threads
 * inherit the signal mask of the thread that starts them, so the signals
 * are blocked before nats_Open(); nothing forks after it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libconfig.h>
#include <limits.h>
#include <nats/nats.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ctlproto.h"
#include "log.h"
#include "syncevents.h"
#include "syncmsg.h"
#include "types.h"

#define SYNC_CONF_DEFAULT "/etc/quarantined/sync.conf"
#define MAX_SERVERS	  8
#define PATHLEN		  256
/* Decisions of this gateway waiting for the bus (disconnected): kept in
 * memory, oldest dropped first past this many. */
#define PENDING_MAX 4096
/* The client library's messages waiting for the loop: past this, the
 * ordered consumer is reset from the last revision applied. */
#define INBOX_MAX      65536
#define REPORT_S       5
#define CTL_TIMEOUT_MS 5000
/* The events stream (syncevents.h): messages published in one turn of
 * the loop (the bucket's records wait for none longer), how long one
 * publish waits for the server's acknowledgement, how long after a
 * refused publish the next try is, and how often drops are told. */
#define EVENTS_TURN    256
#define EVENTS_ACK_MS  2000
#define EVENTS_RETRY_S 5
#define EVENTS_TELL_S  10
/* A connection that stops answering (a link cut somewhere, no reset) is
 * seen when MAX_PINGS_OUT pings in a row get no answer: a ping every
 * PING_MS, so within 3 PING_MS (4 to 6 s).  The library's default, one
 * every 2 minutes, would take 4 to 6 minutes. */
#define PING_MS	      2000
#define MAX_PINGS_OUT 2
/* The library closes the connection for good when a node refuses the
 * credentials twice; a new one is made this long after. */
#define RECONNECT_CLOSED_S 10
/* The ordered consumer's heartbeat: two missed and the library makes
 * the consumer again from the next revision.  Its server side dies with
 * the node that held it; the library's default (5 s) left the records
 * waiting 10 s after that. */
#define ORDERED_HB_MS 2000

struct sync_conf {
	char gateway[SYNC_GATEWAY_MAX];
	char servers[MAX_SERVERS][PATHLEN];
	int nservers;
	char bucket[64];
	char socket[108];
	char state_dir[PATHLEN];
	char user[64];
	char password_file[PATHLEN];
	char ca_file[PATHLEN], cert_file[PATHLEN], key_file[PATHLEN];
	bool create_bucket;
	int replicas;
	int view_size;
	char events_stream[64];		    /* "": no events stream */
	char events_prefix[SEV_PREFIX_MAX]; /* subjects PREFIX.GATEWAY.EVENT */
};

/* What the library's threads hand the loop (under lock). */
struct inbox {
	pthread_mutex_t lock;
	natsMsg **v;
	unsigned head, n;
	bool overflow;
	bool conn_changed;
	int efd;
};

struct syncd {
	struct sync_conf c;
	struct inbox in;
	natsConnection *nc;
	jsCtx *js;
	kvStore *kv;
	natsSubscription *sub;
	bool connected;
	bool rev_known;
	uint64_t rev;	     /* the last revision the daemon applied, or seen */
	uint64_t handed_rev; /* the last one the daemon took (applied or refused) */
	bool resync;	     /* the daemon lost records: consume again from its own */
	int evfd;	     /* events --follow, -1: none */
	char evbuf[65536];   /* a partial line */
	size_t evlen;
	bool ev_status; /* its status line was read */
	struct syncmsg pending[PENDING_MAX];
	unsigned npending;
	uint64_t pending_dropped;
	struct sync_view view;
	/* The view rebuilt at start (view_rebuild()): done, records read,
	 * how long it took. */
	bool rebuilt;
	uint64_t rebuilt_records;
	usec_t rebuilt_us;
	/* What the last report said of the connection: since when (wall). */
	bool was_connected;
	usec_t conn_since_us;
	usec_t next_report, next_try, next_connect;
	char bus_why[128]; /* why the bus is not connected, as last logged */
	uint64_t published, applied, refused, skipped;
	/* The events stream: what waits for the bus, and how it went. */
	struct syncevents evq;
	bool ev_failing;
	usec_t ev_retry, ev_told;
	uint64_t ev_published, ev_duplicates;
};

static volatile sig_atomic_t quit;

/* ---- configuration ---- */

static int conf_str(config_setting_t *s, const char *name, char *dst, size_t len, char *err,
		    size_t errlen)
{
	const char *v;

	if (!config_setting_lookup_string(s, name, &v))
		return config_setting_get_member(s, name) ? -EINVAL : 0;
	if (strlen(v) >= len) {
		snprintf(err, errlen, "%s: too long (max %zu)", name, len - 1);
		return -EINVAL;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int conf_load(const char *path, struct sync_conf *c, char *err, size_t errlen)
{
	config_t cfg;
	config_setting_t *s, *a;
	int k = -EINVAL, v;

	memset(c, 0, sizeof(*c));
	snprintf(c->bucket, sizeof(c->bucket), "quarantine");
	snprintf(c->socket, sizeof(c->socket), "/run/quarantined/control.sock");
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/quarantine-sync");
	snprintf(c->events_stream, sizeof(c->events_stream), "QD_EVENTS");
	snprintf(c->events_prefix, sizeof(c->events_prefix), "qd.events");
	c->replicas = 3;
	c->view_size = 65536;
	config_init(&cfg);
	if (!config_read_file(&cfg, path)) {
		snprintf(err, errlen, "%s:%d: %s",
			 config_error_file(&cfg) ? config_error_file(&cfg) : path,
			 config_error_line(&cfg), config_error_text(&cfg));
		goto out;
	}
	s = config_lookup(&cfg, "sync");
	if (!s || !config_setting_is_group(s)) {
		snprintf(err, errlen, "%s: no sync section", path);
		goto out;
	}
	for (unsigned i = 0; i < (unsigned)config_setting_length(s); i++) {
		static const char *const known[] = {
			"gateway",	 "servers",	  "bucket",	   "socket",   "user",
			"password_file", "tls",		  "create_bucket", "replicas", "view_size",
			"state_dir",	 "events_stream", "events_prefix"};
		const char *n = config_setting_name(config_setting_get_elem(s, i));
		bool ok = false;

		for (size_t j = 0; j < sizeof(known) / sizeof(known[0]); j++)
			ok |= strcmp(n, known[j]) == 0;
		if (!ok) {
			snprintf(err, errlen, "%s: unknown setting sync.%s", path, n);
			goto out;
		}
	}
	if (conf_str(s, "gateway", c->gateway, sizeof(c->gateway), err, errlen) < 0 ||
	    !sync_gateway_valid(c->gateway)) {
		snprintf(err, errlen, "%s: sync.gateway: want 1 to 32 of [A-Za-z0-9_-]", path);
		goto out;
	}
	if (conf_str(s, "bucket", c->bucket, sizeof(c->bucket), err, errlen) < 0 ||
	    !sync_gateway_valid(c->bucket) ||
	    conf_str(s, "socket", c->socket, sizeof(c->socket), err, errlen) < 0 ||
	    conf_str(s, "state_dir", c->state_dir, sizeof(c->state_dir), err, errlen) < 0 ||
	    conf_str(s, "user", c->user, sizeof(c->user), err, errlen) < 0 ||
	    conf_str(s, "password_file", c->password_file, sizeof(c->password_file), err, errlen) <
		    0) {
		if (!err[0])
			snprintf(err, errlen,
				 "%s: sync.bucket, socket, user or password_file invalid", path);
		goto out;
	}
	if ((a = config_setting_get_member(s, "tls")) &&
	    (conf_str(a, "ca", c->ca_file, sizeof(c->ca_file), err, errlen) < 0 ||
	     conf_str(a, "cert", c->cert_file, sizeof(c->cert_file), err, errlen) < 0 ||
	     conf_str(a, "key", c->key_file, sizeof(c->key_file), err, errlen) < 0 ||
	     !c->cert_file[0] != !c->key_file[0])) {
		snprintf(err, errlen,
			 "%s: sync.tls: ca, cert and key are file names (cert and key together)",
			 path);
		goto out;
	}
	/* A stream name is a subject token too ("" turns the stream off). */
	if (conf_str(s, "events_stream", c->events_stream, sizeof(c->events_stream), err, errlen) <
		    0 ||
	    (c->events_stream[0] && !sync_gateway_valid(c->events_stream)) ||
	    conf_str(s, "events_prefix", c->events_prefix, sizeof(c->events_prefix), err, errlen) <
		    0 ||
	    !syncevents_prefix_valid(c->events_prefix)) {
		snprintf(err, errlen,
			 "%s: sync.events_stream: \"\" or 1 to 32 of [A-Za-z0-9_-]; "
			 "sync.events_prefix: tokens of [A-Za-z0-9_-] joined by dots (at most %d)",
			 path, SEV_PREFIX_MAX - 1);
		goto out;
	}
	if (config_setting_lookup_bool(s, "create_bucket", &v))
		c->create_bucket = v;
	if (config_setting_lookup_int(s, "replicas", &v)) {
		if (v < 1 || v > 5) {
			snprintf(err, errlen, "%s: sync.replicas: 1 to 5", path);
			goto out;
		}
		c->replicas = v;
	}
	if (config_setting_lookup_int(s, "view_size", &v)) {
		if (v < 16 || v > 4 * 1024 * 1024) {
			snprintf(err, errlen, "%s: sync.view_size: 16 to 4194304", path);
			goto out;
		}
		c->view_size = v;
	}
	a = config_setting_get_member(s, "servers");
	if (!a || !config_setting_is_array(a) || config_setting_length(a) < 1 ||
	    config_setting_length(a) > MAX_SERVERS) {
		snprintf(err, errlen, "%s: sync.servers: a list of 1 to %d URLs", path,
			 MAX_SERVERS);
		goto out;
	}
	for (int i = 0; i < config_setting_length(a); i++) {
		const char *u = config_setting_get_string_elem(a, i);

		if (!u || strlen(u) >= PATHLEN ||
		    (strncmp(u, "nats://", 7) != 0 && strncmp(u, "tls://", 6) != 0)) {
			snprintf(err, errlen,
				 "%s: sync.servers: nats://HOST:PORT or tls://HOST:PORT", path);
			goto out;
		}
		snprintf(c->servers[c->nservers++], PATHLEN, "%s", u);
	}
	if (c->password_file[0] && !c->user[0]) {
		snprintf(err, errlen, "%s: sync.password_file needs sync.user", path);
		goto out;
	}
	k = 0;
out:
	config_destroy(&cfg);
	return k;
}

/* The first line of the password file, without its LF. */
static int read_password(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] ? 0 : -ENODATA;
}

/* ---- the control socket ---- */

static int ctl_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int k = -errno;

		close(fd);
		return k;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One request (header, body), its status line read back: the status, and
 * its message in msg.  The daemon is local and answers within its loop's
 * turn; a daemon that does not answer in CTL_TIMEOUT_MS is an error. */
static int ctl_call(const char *path, const char *hdr, const char *body, size_t bodylen,
		    int *ret_status, char *msg, size_t msglen)
{
	char line[CTL_MAX_HEADER];
	size_t n = 0;
	int fd = ctl_connect(path), k;

	if (fd < 0)
		return fd;
	if ((k = write_all(fd, hdr, strlen(hdr))) < 0 ||
	    (bodylen && (k = write_all(fd, body, bodylen)) < 0))
		goto out;
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;
		char *lf;

		if ((k = poll(&p, 1, CTL_TIMEOUT_MS)) <= 0) {
			k = k == 0 ? -ETIMEDOUT : -errno;
			goto out;
		}
		r = read(fd, line + n, sizeof(line) - 1 - n);
		if (r <= 0) {
			k = r == 0 ? -EPIPE : -errno;
			goto out;
		}
		n += (size_t)r;
		line[n] = '\0';
		if ((lf = strchr(line, '\n'))) {
			*lf = '\0';
			k = ctl_status_parse(line, ret_status, msg, msglen);
			goto out;
		}
		if (n >= sizeof(line) - 1) {
			k = -E2BIG;
			goto out;
		}
	}
out:
	close(fd);
	return k;
}

/* How far the bucket's stream is ahead of the last record this program
 * handled: its last sequence, and the bus's time of the first record
 * after s->rev (0 when there is none or it is gone: a key written again
 * replaces its record).  Two requests to the cluster, each bounded by
 * REPORT_WAIT_MS, at each report: only while the consumer is open.
 * 0 or -EAGAIN. */
#define REPORT_WAIT_MS 500

static int stream_ahead(struct syncd *s, uint64_t *ret_last, uint64_t *ret_oldest_us)
{
	char stream[80];
	jsStreamInfo *si = NULL;
	natsMsg *m = NULL;
	jsOptions jo;
	jsErrCode jerr = 0;
	uint64_t last;

	if (!s->js || !s->kv || !s->connected)
		return -EAGAIN;
	snprintf(stream, sizeof(stream), "KV_%s", s->c.bucket);
	jsOptions_Init(&jo);
	jo.Wait = REPORT_WAIT_MS;
	if (js_GetStreamInfo(&si, s->js, stream, &jo, &jerr) != NATS_OK || !si)
		return -EAGAIN;
	last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	*ret_last = last;
	*ret_oldest_us = 0;
	if (last > s->rev && js_GetMsg(&m, s->js, stream, s->rev + 1, &jo, &jerr) == NATS_OK) {
		int64_t t = natsMsg_GetTime(m);

		*ret_oldest_us = t > 0 ? (uint64_t)t / 1000u : 0;
		natsMsg_Destroy(m);
	}
	return 0;
}

static int add_u64(char *hdr, size_t len, const char *key, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRIu64, v);
	return ctl_header_add(hdr, len, key, b);
}

/* The revision the daemon last applied (cmd=sync op=report), with what
 * this program says of the bus (quarantine-sync(8), STATUS): the
 * connection and since when, the server, the peers (SYNC_REPORT_PEERS
 * named, the most recent first, and how many more), the last revision
 * handled and the stream's last, the outbox, the view. */
static int report(struct syncd *s)
{
	char hdr[CTL_MAX_HEADER] = "", msg[CTL_VALUE_MAX], peers[CTL_VALUE_MAX] = "",
	     url[PATHLEN] = "", rebuilt[48];
	uint64_t last = 0, oldest = 0;
	bool ahead = false;
	unsigned more;
	int status, k;
	uint64_t rev;

	if (s->connected != s->was_connected || !s->conn_since_us) {
		s->was_connected = s->connected;
		s->conn_since_us = time_wall_us();
	}
	more = sync_view_peers_format(&s->view, SYNC_REPORT_PEERS, peers, sizeof(peers));
	if (s->connected && natsConnection_GetConnectedUrl(s->nc, url, sizeof(url)) != NATS_OK)
		url[0] = '\0';
	/* A user and password in a server's URL stay here. */
	{
		char *sep = strstr(url, "://"), *at = sep ? strchr(sep + 3, '@') : NULL;

		if (at)
			memmove(sep + 3, at + 1, strlen(at + 1) + 1);
	}
	if (s->connected && s->rev_known)
		ahead = stream_ahead(s, &last, &oldest) == 0;
	snprintf(rebuilt, sizeof(rebuilt), "%" PRIu64 "/%" PRIu64, s->rebuilt_records,
		 s->rebuilt_us / 1000u);
	if ((k = ctl_header_add(hdr, sizeof(hdr), "cmd", "sync")) < 0 ||
	    (k = ctl_header_add(hdr, sizeof(hdr), "op", "report")) < 0 ||
	    (k = ctl_header_add(hdr, sizeof(hdr), "connected", s->connected ? "1" : "0")) < 0 ||
	    (k = ctl_header_add(hdr, sizeof(hdr), "gateway", s->c.gateway)) < 0 ||
	    (k = add_u64(hdr, sizeof(hdr), "since", s->conn_since_us)) < 0 ||
	    (url[0] && (k = ctl_header_add(hdr, sizeof(hdr), "server", url)) < 0) ||
	    (peers[0] && (k = ctl_header_add(hdr, sizeof(hdr), "peers", peers)) < 0) ||
	    (more && (k = add_u64(hdr, sizeof(hdr), "peers_more", more)) < 0) ||
	    (s->rev_known && (k = add_u64(hdr, sizeof(hdr), "seen", s->rev)) < 0) ||
	    (ahead && (k = add_u64(hdr, sizeof(hdr), "last", last)) < 0) ||
	    (ahead && oldest && (k = add_u64(hdr, sizeof(hdr), "oldest", oldest)) < 0) ||
	    (k = add_u64(hdr, sizeof(hdr), "outbox", s->npending)) < 0 ||
	    (k = add_u64(hdr, sizeof(hdr), "view", s->view.n)) < 0 ||
	    (s->rebuilt && (k = ctl_header_add(hdr, sizeof(hdr), "rebuilt", rebuilt)) < 0) ||
	    (k = ctl_header_end(hdr, sizeof(hdr))) < 0)
		return k;
	if ((k = ctl_call(s->c.socket, hdr, NULL, 0, &status, msg, sizeof(msg))) < 0)
		return k;
	if (status != 0 || sscanf(msg, "rev=%" SCNu64, &rev) != 1) {
		log_warnx("the daemon refused the report: %s", msg);
		return -EPROTO;
	}
	/* Behind what it took: the daemon restarted before it saved them
	 * (kill -9): they are handed to it again. */
	if (s->rev_known && rev < s->handed_rev) {
		log_warnx("the daemon is at revision %" PRIu64 ", behind %" PRIu64
			  ": consuming again from there",
			  rev, s->handed_rev);
		s->resync = true;
		s->rev_known = false;
	}
	if (!s->rev_known) {
		s->rev = rev;
		s->rev_known = true;
		log_info("the daemon applied the bus up to revision %" PRIu64, rev);
	}
	return 0;
}

/* A record of the bus for the daemon: applied (op=apply, the value in
 * the body) or refused here (op=refuse: the daemon tells it as an error
 * event and resumes after it). */
static void hand_over(struct syncd *s, uint64_t rev, const char *value, size_t len,
		      const char *refused, const char *gw, const struct qaddr *host)
{
	char hb[ADDR_STRLEN] = "";

	char hdr[CTL_MAX_HEADER] = "", msg[CTL_VALUE_MAX], r[24];
	int status = 0, k;

	snprintf(r, sizeof(r), "%" PRIu64, rev);
	if ((k = ctl_header_add(hdr, sizeof(hdr), "cmd", "sync")) < 0 ||
	    (k = ctl_header_add(hdr, sizeof(hdr), "op", refused ? "refuse" : "apply")) < 0 ||
	    (k = ctl_header_add(hdr, sizeof(hdr), "rev", r)) < 0 ||
	    (refused && (k = ctl_header_add(hdr, sizeof(hdr), "why", refused)) < 0) ||
	    (refused && gw && (k = ctl_header_add(hdr, sizeof(hdr), "origin", gw)) < 0) ||
	    (refused && host && host->family &&
	     (k = ctl_header_add(hdr, sizeof(hdr), "host", addr_ntop(host, hb))) < 0) ||
	    (k = ctl_header_end(hdr, sizeof(hdr))) < 0) {
		log_warnx("revision %" PRIu64 ": cannot ask the daemon: %s", rev, strerror(-k));
		return;
	}
	k = ctl_call(s->c.socket, hdr, refused ? NULL : value, refused ? 0 : len, &status, msg,
		     sizeof(msg));
	if (k < 0) {
		/* The daemon is away: consume again from its own revision
		 * once it answers, so that nothing is lost but time. */
		log_warnx("revision %" PRIu64 ": the daemon did not answer: %s", rev, strerror(-k));
		s->resync = true;
		s->rev_known = false;
		return;
	}
	s->handed_rev = rev;
	if (status == 0 && !refused)
		s->applied++;
	else
		s->refused++;
	log_debug("revision %" PRIu64 ": %s", rev, msg);
}

/* ---- the daemon's events: this gateway's decisions, published ---- */

static int publish(struct syncd *s, const struct syncmsg *m)
{
	char key[SYNC_KEY_MAX], val[SYNC_VALUE_MAX];
	uint64_t rev = 0;
	natsStatus st;
	int n;

	if (syncmsg_key_of(s->c.gateway, m, key, sizeof(key)) < 0 ||
	    (n = syncmsg_encode(m, val, sizeof(val))) < 0)
		return -EINVAL;
	st = kvStore_Put(&rev, s->kv, key, val, n);
	if (st != NATS_OK) {
		log_warnx("publishing %s: %s", key, natsStatus_GetText(st));
		return -EAGAIN;
	}
	s->published++;
	log_debug("published %s %s at revision %" PRIu64, key, sync_op_name(m->op), rev);
	return 0;
}

/* ---- the outbox: decisions waiting for the bus, on disk ----
 *
 * STATE_DIR/outbox holds them, one value a line, so that a sync program
 * stopped while the bus is away (a partition, a reboot) publishes them
 * when it is back.  Appended and synced as each waits; written anew
 * (a temporary file, fsync, rename, fsync of the directory) when some
 * have been published or dropped. */

static int outbox_dir(struct syncd *s)
{
	return open(s->c.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int outbox_append(struct syncd *s, const struct syncmsg *m)
{
	char val[SYNC_VALUE_MAX + 1];
	int dfd, fd, n, k = 0;

	if ((n = syncmsg_encode(m, val, sizeof(val) - 1)) < 0)
		return n;
	val[n++] = '\n';
	if ((dfd = outbox_dir(s)) < 0)
		return -errno;
	fd = openat(dfd, "outbox", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, val, (size_t)n) < 0 || fdatasync(fd) < 0)
		k = -errno;
	if (fd >= 0)
		close(fd);
	close(dfd);
	return k;
}

/* The pending decisions, all, as the outbox. */
static int outbox_rewrite(struct syncd *s)
{
	char val[SYNC_VALUE_MAX + 1];
	int dfd, fd, n, k = 0;

	if ((dfd = outbox_dir(s)) < 0)
		return -errno;
	if (s->npending == 0) {
		if (unlinkat(dfd, "outbox", 0) < 0 && errno != ENOENT)
			k = -errno;
		goto out;
	}
	fd = openat(dfd, "outbox.new", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		k = -errno;
		goto out;
	}
	for (unsigned i = 0; i < s->npending && k == 0; i++) {
		if ((n = syncmsg_encode(&s->pending[i], val, sizeof(val) - 1)) < 0)
			continue;
		val[n++] = '\n';
		k = write_all(fd, val, (size_t)n);
	}
	if (k == 0 && fsync(fd) < 0)
		k = -errno;
	close(fd);
	if (k == 0 && renameat(dfd, "outbox.new", dfd, "outbox") < 0)
		k = -errno;
out:
	if (k == 0 && fsync(dfd) < 0)
		k = -errno;
	close(dfd);
	return k;
}

/* At start: what the outbox holds, this gateway's own decisions only. */
static void outbox_load(struct syncd *s)
{
	char line[SYNC_VALUE_MAX + 2], err[160];
	int dfd = outbox_dir(s), fd;
	unsigned bad = 0;
	FILE *f;

	if (dfd < 0) {
		log_warn("%s: no outbox: decisions made while the bus is away are lost if "
			 "this program stops",
			 s->c.state_dir);
		return;
	}
	fd = openat(dfd, "outbox", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0 || !(f = fdopen(fd, "r"))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		struct syncmsg m;
		size_t n = strcspn(line, "\n");

		if (syncmsg_decode(line, n, &m, err, sizeof(err)) < 0 ||
		    strcmp(m.origin, s->c.gateway) != 0 || s->npending == PENDING_MAX) {
			bad++;
			continue;
		}
		s->pending[s->npending++] = m;
	}
	fclose(f);
	if (s->npending || bad)
		log_info("outbox: %u decisions to publish, %u lines not read", s->npending, bad);
}

static void queue_pending(struct syncd *s, const struct syncmsg *m)
{
	bool dropped = false;

	if (s->npending == PENDING_MAX) {
		memmove(s->pending, s->pending + 1, (PENDING_MAX - 1) * sizeof(*s->pending));
		s->npending--;
		s->pending_dropped++;
		dropped = true;
	}
	s->pending[s->npending++] = *m;
	if ((dropped ? outbox_rewrite(s) : outbox_append(s, m)) < 0)
		log_warn("%s/outbox", s->c.state_dir);
}

/* A decision that waited, published with compare-and-set against what
 * the bucket holds of its key: a decision of this gateway stored after
 * it (by another instance of this gateway, or before a restart) is newer
 * and stays.  0, 1 when it was stale and dropped, or -EAGAIN. */
static int publish_cas(struct syncd *s, const struct syncmsg *m)
{
	char key[SYNC_KEY_MAX], val[SYNC_VALUE_MAX], err[160];
	kvEntry *e = NULL;
	uint64_t rev = 0;
	natsStatus st;
	int n;

	if (syncmsg_key_of(s->c.gateway, m, key, sizeof(key)) < 0 ||
	    (n = syncmsg_encode(m, val, sizeof(val))) < 0)
		return 1;
	st = kvStore_Get(&e, s->kv, key);
	if (st == NATS_NOT_FOUND) {
		st = kvStore_Create(&rev, s->kv, key, val, n);
	} else if (st == NATS_OK) {
		struct syncmsg cur;
		const char *v = kvEntry_Value(e);
		int len = kvEntry_ValueLen(e);

		/* The same time is the same decision: a publish whose
		 * answer was lost (a timeout while the link went down)
		 * had landed; writing it again would hand it to every
		 * gateway a second time. */
		if (v && len > 0 && syncmsg_decode(v, (size_t)len, &cur, err, sizeof(err)) == 0 &&
		    cur.ts_us >= m->ts_us) {
			kvEntry_Destroy(e);
			log_info("outbox: %s %s %s the bucket's %s: dropped", key,
				 sync_op_name(m->op),
				 cur.ts_us == m->ts_us ? "is already" : "is older than",
				 sync_op_name(cur.op));
			return 1;
		}
		st = kvStore_Update(&rev, s->kv, key, val, n, kvEntry_Revision(e));
		kvEntry_Destroy(e);
	}
	if (st != NATS_OK) {
		log_warnx("outbox: publishing %s: %s", key, natsStatus_GetText(st));
		return -EAGAIN;
	}
	s->published++;
	log_debug("outbox: published %s %s at revision %" PRIu64, key, sync_op_name(m->op), rev);
	return 0;
}

static void flush_pending(struct syncd *s)
{
	unsigned i = 0;

	while (i < s->npending && s->kv && s->connected && publish_cas(s, &s->pending[i]) >= 0)
		i++;
	if (!i)
		return;
	memmove(s->pending, s->pending + i, (s->npending - i) * sizeof(*s->pending));
	s->npending -= i;
	if (outbox_rewrite(s) < 0)
		log_warn("%s/outbox", s->c.state_dir);
	log_info("outbox: %u published, %u waiting", i, s->npending);
}

/* ---- the events stream (syncevents.h) ---- */

/* An event of the daemon, queued for the stream when it is one for it. */
static void events_push(struct syncd *s, const char *line)
{
	struct syncevents *q = &s->evq;
	usec_t now = time_mono_us();
	int k;

	if (!s->c.events_stream[0])
		return;
	k = syncevents_push(q, s->c.events_prefix, s->c.gateway, line);
	if (k == -ENOMEM)
		log_warnx("events stream: out of memory: an event was not queued");
	else if (k < 0)
		log_debug("events stream: an event not queued (%s): %.120s", strerror(-k), line);
	if (q->untold && now >= s->ev_told + EVENTS_TELL_S * USEC_PER_SEC) {
		log_warnx("events stream: %" PRIu64 " events dropped, the queue being full (%u "
			  "events or %zu bytes, detections first): %" PRIu64 " in all, %" PRIu64
			  " of them detections",
			  q->untold, q->cap, q->max_bytes, q->dropped, q->dropped_detect);
		q->untold = 0;
		s->ev_told = now;
	}
}

/* What waits, published in order while the bus takes it.  Each message
 * carries its Nats-Msg-Id: one published again after an acknowledgement
 * was lost is dropped by the server (the stream's duplicate window). */
static void events_publish(struct syncd *s)
{
	const struct sev_item *it;
	usec_t now = time_mono_us();
	unsigned n = 0;

	if (!s->c.events_stream[0] || !s->connected || !s->js || now < s->ev_retry)
		return;
	while (n < EVENTS_TURN && (it = syncevents_peek(&s->evq))) {
		jsPubOptions po;
		jsPubAck *pa = NULL;
		jsErrCode je = 0;
		natsStatus st;

		jsPubOptions_Init(&po);
		po.MsgId = it->msgid;
		po.ExpectStream = s->c.events_stream;
		po.MaxWait = EVENTS_ACK_MS;
		st = js_Publish(&pa, s->js, it->subject, it->data, (int)it->len, &po, &je);
		if (st != NATS_OK) {
			if (!s->ev_failing)
				log_warnx(
					"events stream %s: publishing %s: %s (%d): %u events wait",
					s->c.events_stream, it->subject, natsStatus_GetText(st),
					(int)je, s->evq.n);
			s->ev_failing = true;
			s->ev_retry = now + EVENTS_RETRY_S * USEC_PER_SEC;
			return;
		}
		if (s->ev_failing)
			log_info("events stream %s: publishing again", s->c.events_stream);
		s->ev_failing = false;
		s->ev_duplicates += pa && pa->Duplicate;
		jsPubAck_Destroy(pa);
		syncevents_pop(&s->evq);
		s->ev_published++;
		n++;
	}
}

static void on_event_line(struct syncd *s, const char *line)
{
	struct syncmsg m;
	int k;

	if (!s->ev_status) {
		int status;
		char msg[256];

		s->ev_status = true;
		if (ctl_status_parse(line, &status, msg, sizeof(msg)) < 0 || status != 0)
			log_warnx("events --follow refused: %s", line);
		return;
	}
	events_push(s, line);
	k = syncmsg_from_event(line, s->c.gateway, &m);
	if (k < 0)
		log_warnx("an event of the daemon could not be read: %.200s", line);
	if (k <= 0)
		return;
	/* A machine known by its MAC: its address's record, then its MAC's,
	 * which another gateway applies where the machine shows up with
	 * another address (quarantine-sync(8), THE MACHINE). */
	for (int i = 0; i < 2; i++) {
		struct syncmsg mm;

		if (i == 1 && !syncmsg_machine(&m, &mm))
			break;
		if (s->npending || !s->connected || !s->kv || publish(s, i ? &mm : &m) < 0)
			queue_pending(s, i ? &mm : &m);
	}
}

static void events_open(struct syncd *s)
{
	char hdr[CTL_MAX_HEADER] = "";
	int fd;

	if (ctl_header_add(hdr, sizeof(hdr), "cmd", "events") < 0 ||
	    ctl_header_add(hdr, sizeof(hdr), "follow", "1") < 0 ||
	    ctl_header_add(hdr, sizeof(hdr), "json", "1") < 0 ||
	    ctl_header_end(hdr, sizeof(hdr)) < 0)
		return;
	fd = ctl_connect(s->c.socket);
	if (fd < 0)
		return;
	if (write_all(fd, hdr, strlen(hdr)) < 0) {
		close(fd);
		return;
	}
	shutdown(fd, SHUT_WR);
	s->evfd = fd;
	s->evlen = 0;
	s->ev_status = false;
	log_info("following the daemon's events");
}

static void events_read(struct syncd *s)
{
	ssize_t r = read(s->evfd, s->evbuf + s->evlen, sizeof(s->evbuf) - 1 - s->evlen);
	char *p, *lf;

	if (r <= 0) {
		if (r < 0 && errno == EINTR)
			return;
		log_warnx("the daemon's event stream ended: following again");
		close(s->evfd);
		s->evfd = -1;
		return;
	}
	s->evlen += (size_t)r;
	s->evbuf[s->evlen] = '\0';
	p = s->evbuf;
	while ((lf = strchr(p, '\n'))) {
		*lf = '\0';
		on_event_line(s, p);
		p = lf + 1;
	}
	s->evlen -= (size_t)(p - s->evbuf);
	memmove(s->evbuf, p, s->evlen);
	if (s->evlen == sizeof(s->evbuf) - 1) {
		log_warnx("an event line longer than %zu bytes: dropped", sizeof(s->evbuf));
		s->evlen = 0;
	}
}

/* ---- the bus: the library's threads hand over to the loop ---- */

static void wake(struct inbox *in)
{
	uint64_t one = 1;

	(void)!write(in->efd, &one, sizeof(one));
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	struct inbox *in = arg;

	(void)nc;
	(void)sub;
	pthread_mutex_lock(&in->lock);
	if (in->n == INBOX_MAX) {
		in->overflow = true;
		natsMsg_Destroy(msg);
	} else {
		in->v[(in->head + in->n) % INBOX_MAX] = msg;
		in->n++;
	}
	pthread_mutex_unlock(&in->lock);
	wake(in);
}

static void on_conn(natsConnection *nc, void *arg)
{
	struct inbox *in = arg;

	(void)nc;
	pthread_mutex_lock(&in->lock);
	in->conn_changed = true;
	pthread_mutex_unlock(&in->lock);
	wake(in);
}

/* Drops what waits: the subscription is gone, so no callback adds to it. */
static void inbox_clear(struct inbox *in)
{
	pthread_mutex_lock(&in->lock);
	while (in->n) {
		natsMsg_Destroy(in->v[in->head]);
		in->head = (in->head + 1) % INBOX_MAX;
		in->n--;
	}
	in->overflow = false;
	pthread_mutex_unlock(&in->lock);
}

static void on_record(struct syncd *s, natsMsg *msg)
{
	const char *subj = natsMsg_GetSubject(msg), *op = NULL;
	const char *data = natsMsg_GetData(msg);
	int len = natsMsg_GetDataLength(msg);
	jsMsgMetaData *meta = NULL;
	char prefix[80], gw[SYNC_GATEWAY_MAX], err[200], why[300];
	struct qaddr host;
	struct syncmsg m;
	uint64_t rev, stored;
	enum sync_verdict v;
	bool keyed = false;

	if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
		log_warnx("a record without JetStream metadata: ignored");
		return;
	}
	rev = meta->Sequence.Stream;
	stored = meta->Timestamp > 0 ? (uint64_t)meta->Timestamp / 1000u : 0;
	jsMsgMetaData_Destroy(meta);
	if (rev <= s->rev)
		return;
	s->rev = rev;
	snprintf(prefix, sizeof(prefix), "$KV.%s.", s->c.bucket);
	if (strncmp(subj, prefix, strlen(prefix)) != 0 ||
	    syncmsg_key_parse(subj + strlen(prefix), gw, &host) < 0) {
		snprintf(why, sizeof(why), "invalid key %.100s", subj);
		goto refuse;
	}
	keyed = true;
	/* A key deleted or purged says nothing: decisions are ended by a
	 * release, never by a key going away. */
	if (natsMsgHeader_Get(msg, "KV-Operation", &op) == NATS_OK && op) {
		s->skipped++;
		return;
	}
	if (strcmp(gw, s->c.gateway) == 0) {
		/* In force here already; in the view, so that another
		 * gateway's older release does not undo this newer block. */
		if (len > 0 && syncmsg_decode(data, (size_t)len, &m, err, sizeof(err)) == 0 &&
		    strcmp(m.origin, gw) == 0 && addr_eq(&m.host, &host))
			(void)sync_view_merge(&s->view, s->c.gateway, &m, stored, time_wall_us());
		s->skipped++;
		return;
	}
	if (len < 0 || syncmsg_decode(data ? data : "", (size_t)len, &m, err, sizeof(err)) < 0) {
		snprintf(why, sizeof(why), "key %s: %s", subj + strlen(prefix), err);
		goto refuse;
	}
	/* A gateway writes only its own keys, about the machine the key
	 * names: anything else is forged or broken. */
	if (strcmp(m.origin, gw) != 0 || !addr_eq(&m.host, &host) || m.host.family != host.family ||
	    syncmsg_key_plen(subj + strlen(prefix)) != m.plen) {
		snprintf(why, sizeof(why), "key %s: origin %s or host does not match the key",
			 subj + strlen(prefix), m.origin);
		goto refuse;
	}
	v = sync_view_merge(&s->view, s->c.gateway, &m, stored, time_wall_us());
	if (v != SYNC_APPLY) {
		s->skipped++;
		log_debug("revision %" PRIu64 " (%s): %s", rev, subj, sync_verdict_name(v));
		return;
	}
	hand_over(s, rev, data, (size_t)len, NULL, NULL, NULL);
	return;
refuse:
	log_warnx("revision %" PRIu64 " refused: %s", rev, why);
	hand_over(s, rev, NULL, 0, why, keyed ? gw : NULL, keyed ? &host : NULL);
}

/* ---- the view, rebuilt at start ----
 *
 * The latest record of every key of the bucket (an ordered consumer of
 * its stream that delivers the last message of each subject, read until
 * the server says none is pending), merged into the view and handed to
 * nobody: what was applied before this program started is applied
 * already.  Without it, the view after a restart holds only what is read
 * since, and a record read again from the daemon's revision (records this
 * program skipped are not the daemon's: it resumes before them; a daemon
 * started from empty; a gateway that joins) is merged against nothing:
 * another gateway's block is applied and then released when the release
 * stored after it comes, and a release older than this gateway's own
 * newer block undoes it.  With it, the peers are named from the start.
 *
 * The library's watcher (kvStore_WatchAll) would do it, but it looks the
 * stream up by subject, which a gateway's permissions need not allow: the
 * consumer here names its stream, as the one that consumes after it.
 *
 * Bounded: at most view_size * SYNC_VIEW_PEERS records (the most the view
 * can hold), stopping when the view is full (every machine taken and a
 * record of another not kept), and REBUILD_WAIT_MS for each
 * record.  The loop waits meanwhile (10,000 keys: docs/BENCHMARKS.md). */
#define REBUILD_WAIT_MS 2000

static bool rebuild_one(struct syncd *s, natsMsg *msg, const char *prefix, uint64_t stored)
{
	char gw[SYNC_GATEWAY_MAX], err[160];
	const char *subj = natsMsg_GetSubject(msg), *v = natsMsg_GetData(msg), *op = NULL;
	int len = natsMsg_GetDataLength(msg);
	struct qaddr host;
	struct syncmsg m;

	/* A key deleted or purged says nothing (on_record()). */
	if (natsMsgHeader_Get(msg, "KV-Operation", &op) == NATS_OK && op)
		return true;
	if (!subj || strncmp(subj, prefix, strlen(prefix)) != 0 ||
	    syncmsg_key_parse(subj + strlen(prefix), gw, &host) < 0 || !v || len <= 0 ||
	    syncmsg_decode(v, (size_t)len, &m, err, sizeof(err)) < 0 || strcmp(m.origin, gw) != 0 ||
	    !addr_eq(&m.host, &host) || m.host.family != host.family || !stored)
		return false;
	(void)sync_view_merge(&s->view, s->c.gateway, &m, stored, time_wall_us());
	return true;
}

static void view_rebuild(struct syncd *s)
{
	uint64_t max = (uint64_t)s->c.view_size * SYNC_VIEW_PEERS, n = 0, bad = 0;
	uint64_t full0 = s->view.full;
	char subj[96], stream[80], prefix[80];
	usec_t t0 = time_mono_us();
	natsSubscription *sub = NULL;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	jsSubOptions so;
	jsOptions jo;
	natsStatus st;
	bool done = false;

	snprintf(subj, sizeof(subj), "$KV.%s.>", s->c.bucket);
	snprintf(prefix, sizeof(prefix), "$KV.%s.", s->c.bucket);
	snprintf(stream, sizeof(stream), "KV_%s", s->c.bucket);
	jsOptions_Init(&jo);
	jo.Wait = REBUILD_WAIT_MS;
	/* An empty bucket: nothing to wait for. */
	st = js_GetStreamInfo(&si, s->js, stream, &jo, &jerr);
	if (st == NATS_OK && si) {
		done = si->State.Msgs == 0;
		jsStreamInfo_Destroy(si);
	}
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverLastPerSubject;
	if (st == NATS_OK && !done)
		st = js_SubscribeSync(&sub, s->js, subj, &jo, &so, &jerr);
	if (st == NATS_OK && sub)
		natsSubscription_SetPendingLimits(sub, -1, -1);
	while (st == NATS_OK && !done) {
		jsMsgMetaData *meta = NULL;
		natsMsg *msg = NULL;
		uint64_t stored = 0;

		st = natsSubscription_NextMsg(&msg, sub, REBUILD_WAIT_MS);
		if (st != NATS_OK)
			break;
		if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
			stored = meta->Timestamp > 0 ? (uint64_t)meta->Timestamp / 1000u : 0;
			/* The server's count of what follows: 0 after the last. */
			done = meta->NumPending == 0;
			jsMsgMetaData_Destroy(meta);
		}
		n++;
		if (!rebuild_one(s, msg, prefix, stored))
			bad++;
		natsMsg_Destroy(msg);
		/* Full: every machine taken, and a record of another one was
		 * not kept (a machine's 16 gateways full is not the view's). */
		if (!done && (n >= max || (s->view.n >= s->view.cap && s->view.full > full0))) {
			log_warnx("view: full after %" PRIu64 " records of the bucket "
				  "(sync.view_size %d): rebuilt in part",
				  n, s->c.view_size);
			done = true;
		}
	}
	if (sub) {
		natsSubscription_Unsubscribe(sub);
		natsSubscription_Destroy(sub);
	}
	if (st != NATS_OK) {
		/* Consuming goes on all the same: the view fills as it did
		 * before this program rebuilt it; tried again at the next
		 * consumer's start. */
		log_warnx("view: reading the bucket: %s (%d) after %" PRIu64 " records",
			  natsStatus_GetText(st), (int)jerr, n);
		return;
	}
	s->rebuilt = true;
	s->rebuilt_records = n;
	s->rebuilt_us = time_mono_us() - t0;
	log_info("view: rebuilt from %" PRIu64 " records of the bucket (%" PRIu64
		 " invalid) in %" PRIu64 " ms: %u machines, %u peers",
		 n, bad, (uint64_t)(s->rebuilt_us / 1000u), s->view.n, s->view.npeers);
}

static void bus_close(struct syncd *s)
{
	if (s->sub) {
		natsSubscription_Unsubscribe(s->sub);
		natsSubscription_Destroy(s->sub);
		s->sub = NULL;
	}
	kvStore_Destroy(s->kv);
	s->kv = NULL;
	jsCtx_Destroy(s->js);
	s->js = NULL;
}

/* The bucket and the ordered consumer on its stream, from the revision
 * after the daemon's.  0, or -EAGAIN to try again later. */
static int bus_open(struct syncd *s)
{
	jsOptions jo;
	jsSubOptions so;
	jsErrCode jerr = 0;
	char subj[96], stream[80];
	natsStatus st;

	jsOptions_Init(&jo);
	st = natsConnection_JetStream(&s->js, s->nc, &jo);
	if (st == NATS_OK)
		st = js_KeyValue(&s->kv, s->js, s->c.bucket);
	if (st == NATS_NOT_FOUND && s->c.create_bucket) {
		kvConfig kc;

		kvConfig_Init(&kc);
		kc.Bucket = s->c.bucket;
		kc.History = 1;
		kc.Replicas = s->c.replicas;
		kc.MaxValueSize = SYNC_VALUE_MAX;
		kc.StorageType = js_FileStorage;
		st = js_CreateKeyValue(&s->kv, s->js, &kc);
	}
	if (st != NATS_OK) {
		log_warnx("bucket %s: %s", s->c.bucket, natsStatus_GetText(st));
		bus_close(s);
		return -EAGAIN;
	}
	if (!s->rebuilt)
		view_rebuild(s);
	snprintf(subj, sizeof(subj), "$KV.%s.>", s->c.bucket);
	snprintf(stream, sizeof(stream), "KV_%s", s->c.bucket);
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverByStartSequence;
	so.Config.OptStartSeq = s->rev + 1;
	so.Config.Heartbeat = (int64_t)ORDERED_HB_MS * 1000000;
	st = js_Subscribe(&s->sub, s->js, subj, on_msg, &s->in, &jo, &so, &jerr);
	if (st != NATS_OK) {
		log_warnx("consuming %s from revision %" PRIu64 ": %s (%d)", stream, s->rev + 1,
			  natsStatus_GetText(st), (int)jerr);
		bus_close(s);
		return -EAGAIN;
	}
	natsSubscription_SetPendingLimits(s->sub, -1, -1);
	log_info("consuming %s from revision %" PRIu64, stream, s->rev + 1);
	return 0;
}

static int nats_connect(struct syncd *s)
{
	natsOptions *o = NULL;
	const char *servers[MAX_SERVERS];
	char pw[256];
	natsStatus st;

	for (int i = 0; i < s->c.nservers; i++)
		servers[i] = s->c.servers[i];
	st = natsOptions_Create(&o);
	if (st == NATS_OK)
		st = natsOptions_SetServers(o, servers, s->c.nservers);
	if (st == NATS_OK)
		st = natsOptions_SetName(o, s->c.gateway);
	/* Forever: the library gives up after 60 tries by default, and a
	 * gateway cut off for longer must come back by itself. */
	if (st == NATS_OK)
		st = natsOptions_SetMaxReconnect(o, -1);
	if (st == NATS_OK)
		st = natsOptions_SetReconnectWait(o, 1000);
	if (st == NATS_OK)
		st = natsOptions_SetPingInterval(o, PING_MS);
	if (st == NATS_OK)
		st = natsOptions_SetMaxPingsOut(o, MAX_PINGS_OUT);
	/* The first connect too: the unit starts before the network is. */
	if (st == NATS_OK)
		st = natsOptions_SetRetryOnFailedConnect(o, true, on_conn, &s->in);
	if (st == NATS_OK)
		st = natsOptions_SetDisconnectedCB(o, on_conn, &s->in);
	if (st == NATS_OK)
		st = natsOptions_SetReconnectedCB(o, on_conn, &s->in);
	if (st == NATS_OK)
		st = natsOptions_SetClosedCB(o, on_conn, &s->in);
	if (st == NATS_OK)
		st = natsOptions_SetMaxPendingMsgs(o, INBOX_MAX);
	if (st == NATS_OK && s->c.user[0]) {
		if (read_password(s->c.password_file, pw, sizeof(pw)) < 0) {
			log_warnx("%s: cannot read the password", s->c.password_file);
			natsOptions_Destroy(o);
			return -EINVAL;
		}
		st = natsOptions_SetUserInfo(o, s->c.user, pw);
		explicit_bzero(pw, sizeof(pw));
	}
	if (st == NATS_OK && (s->c.ca_file[0] || s->c.cert_file[0]))
		st = natsOptions_SetSecure(o, true);
	if (st == NATS_OK && s->c.ca_file[0])
		st = natsOptions_LoadCATrustedCertificates(o, s->c.ca_file);
	if (st == NATS_OK && s->c.cert_file[0])
		st = natsOptions_LoadCertificatesChain(o, s->c.cert_file, s->c.key_file);
	if (st == NATS_OK) {
		st = natsConnection_Connect(&s->nc, o);
		if (st == NATS_NOT_YET_CONNECTED)
			st = NATS_OK;
	}
	natsOptions_Destroy(o);
	if (st != NATS_OK) {
		log_warnx("NATS: %s", natsStatus_GetText(st));
		return -EINVAL;
	}
	return 0;
}

static void bus_tick(struct syncd *s)
{
	natsConnStatus cs = s->nc ? natsConnection_Status(s->nc) : NATS_CONN_STATUS_CLOSED;
	bool conn = cs == NATS_CONN_STATUS_CONNECTED;

	if (conn != s->connected) {
		s->connected = conn;
		log_info("the bus is %s", conn ? "connected" : "DISCONNECTED");
		s->next_report = 0;
	}
	/* Not connected: why, each time it changes (a refused password, a
	 * failed TLS handshake, a node that does not answer), once. */
	if (!conn && s->nc) {
		const char *why = NULL;

		if (natsConnection_GetLastError(s->nc, &why) != NATS_OK && why && why[0] &&
		    strncmp(why, s->bus_why, sizeof(s->bus_why) - 1) != 0) {
			snprintf(s->bus_why, sizeof(s->bus_why), "%s", why);
			log_warnx("the bus is not connected: %s", s->bus_why);
		}
	} else if (conn) {
		s->bus_why[0] = '\0';
	}
	/* Closed for good (the credentials refused twice in a row): the
	 * library will not try again, this program does, with a new
	 * connection, so that credentials fixed at the nodes (or a node
	 * that refused them by mistake) are taken without a restart. */
	if (cs == NATS_CONN_STATUS_CLOSED && s->nc) {
		const char *why = NULL;

		(void)natsConnection_GetLastError(s->nc, &why);
		log_warnx("the bus closed the connection%s%s: connecting again in %d s",
			  why && why[0] ? ": " : "", why && why[0] ? why : "", RECONNECT_CLOSED_S);
		bus_close(s);
		inbox_clear(&s->in);
		natsConnection_Destroy(s->nc);
		s->nc = NULL;
		s->next_connect = time_mono_us() + RECONNECT_CLOSED_S * USEC_PER_SEC;
	}
	if (!s->nc && time_mono_us() >= s->next_connect && nats_connect(s) < 0)
		s->next_connect = time_mono_us() + RECONNECT_CLOSED_S * USEC_PER_SEC;
	/* Consuming again from the daemon's revision: what waits in the
	 * inbox comes again, in order. */
	if (s->resync && s->kv) {
		bus_close(s);
		inbox_clear(&s->in);
	}
	if (s->resync && s->rev_known)
		s->resync = false;
	if (conn && s->rev_known && !s->kv)
		(void)bus_open(s);
	if (conn && s->kv && s->npending)
		flush_pending(s);
	events_publish(s);
}

static void drain_inbox(struct syncd *s)
{
	for (;;) {
		natsMsg *m = NULL;
		bool overflow;

		pthread_mutex_lock(&s->in.lock);
		overflow = s->in.overflow;
		s->in.overflow = false;
		s->in.conn_changed = false;
		if (s->in.n) {
			m = s->in.v[s->in.head];
			s->in.head = (s->in.head + 1) % INBOX_MAX;
			s->in.n--;
		}
		pthread_mutex_unlock(&s->in.lock);
		if (overflow) {
			/* Records were dropped: consume again from the last one
			 * handled, rather than miss any. */
			log_warnx("more than %d records waiting: consuming again from revision "
				  "%" PRIu64,
				  INBOX_MAX, s->rev + 1);
			bus_close(s);
		}
		if (!m)
			return;
		on_record(s, m);
		natsMsg_Destroy(m);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: quarantine-sync [-dhnV] [-c FILE]\n"
		   "  -c FILE  configuration (default " SYNC_CONF_DEFAULT ")\n"
		   "  -d       log to stderr, with debugging\n"
		   "  -n       check the configuration and exit\n"
		   "  -h       this help\n"
		   "  -V       version\n");
}

int main(int argc, char **argv)
{
	const char *conf = SYNC_CONF_DEFAULT;
	bool check = false, debug = false;
	struct syncd *s;
	sigset_t mask;
	char err[512] = "";
	int opt, sfd, k;

	while ((opt = getopt(argc, argv, "c:dhnV")) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 'd':
			debug = true;
			break;
		case 'n':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("quarantine-sync %s\n", QD_VERSION_STRING);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("quarantine-sync", LOG_DAEMON, debug ? LOG_TO_STDERR : LOG_TO_SYSLOG, debug);
	s = calloc(1, sizeof(*s));
	if (!s)
		fatal("out of memory");
	if (conf_load(conf, &s->c, err, sizeof(err)) < 0) {
		fprintf(stderr, "quarantine-sync: %s\n", err);
		return 1;
	}
	if (check) {
		printf("%s: OK\n", conf);
		return 0;
	}
	if (sync_view_init(&s->view, (unsigned)s->c.view_size) < 0 ||
	    syncevents_init(&s->evq, 0, 0) < 0)
		fatal("out of memory");
	outbox_load(s);
	s->evfd = -1;
	/* Before the library starts a thread: they inherit this mask, so
	 * the signals reach the signalfd and nothing else. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fatal("sigprocmask");
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s->in.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->in.v = calloc(INBOX_MAX, sizeof(*s->in.v));
	if (sfd < 0 || s->in.efd < 0 || !s->in.v)
		fatal("signalfd, eventfd or memory");
	pthread_mutex_init(&s->in.lock, NULL);
	if (nats_Open(-1) != NATS_OK)
		fatal("nats_Open");
	if (nats_connect(s) < 0)
		return 1;
	log_info("gateway %s, bucket %s, %d servers, events stream %s", s->c.gateway, s->c.bucket,
		 s->c.nservers, s->c.events_stream[0] ? s->c.events_stream : "(none)");
	while (!quit) {
		struct pollfd p[3] = {{.fd = sfd, .events = POLLIN},
				      {.fd = s->in.efd, .events = POLLIN},
				      {.fd = s->evfd, .events = POLLIN}};
		usec_t now = time_mono_us();

		if (now >= s->next_report) {
			k = report(s);
			if (k < 0 && !s->rev_known)
				log_debug("the daemon: %s", strerror(-k));
			s->next_report = now + (k < 0 ? 1 : REPORT_S) * USEC_PER_SEC;
		}
		if (s->evfd < 0 && s->rev_known && now >= s->next_try) {
			events_open(s);
			s->next_try = now + USEC_PER_SEC;
		}
		bus_tick(s);
		/* More events than a turn publishes: the next turn at once. */
		if (poll(p, 3, s->evq.n && !s->ev_failing && s->connected && s->js ? 0 : 500) < 0 &&
		    errno != EINTR)
			fatal("poll");
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
					quit = 1;
		}
		if (p[1].revents & POLLIN) {
			uint64_t v;

			(void)!read(s->in.efd, &v, sizeof(v));
			drain_inbox(s);
		}
		if (s->evfd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)))
			events_read(s);
	}
	log_info("stopping: %" PRIu64 " published, %" PRIu64 " applied, %" PRIu64
		 " refused, %u waiting for the bus",
		 s->published, s->applied, s->refused, s->npending);
	if (s->c.events_stream[0])
		log_info("events stream %s: %" PRIu64 " published (%" PRIu64
			 " duplicates the server dropped), %" PRIu64 " dropped, %u not published",
			 s->c.events_stream, s->ev_published, s->ev_duplicates, s->evq.dropped,
			 s->evq.n);
	s->connected = false;
	(void)report(s);
	bus_close(s);
	natsConnection_Close(s->nc);
	natsConnection_Destroy(s->nc);
	nats_CloseAndWait(2000);
	sync_view_fini(&s->view);
	syncevents_fini(&s->evq);
	return 0;
}
