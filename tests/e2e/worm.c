/* worm: a worm-like scanner for the end-to-end tests.
 *
 *   worm -n CIDR -p PORT[,PORT...] [-r RATE] [-d SECONDS] [-m random|seq]
 *        [-t TIMEOUT_MS] [-s SEED]
 *
 * From the network namespace it runs in, it makes non-blocking TCP
 * connect() probes to addresses of CIDR, RATE probes per second (default
 * 50) for SECONDS (default 10), cycling through the ports, to random
 * (default) or sequential addresses.  A probe is over when the connection
 * is accepted, refused, fails otherwise, or after TIMEOUT_MS (default 900:
 * below the kernel's first SYN retransmission at 1 s, so every probe is
 * one SYN on the wire).  At the end (or on SIGINT/SIGTERM) it waits for
 * the probes still open and prints one JSON line:
 *
 *   {"attempts":N,"connected":N,"refused":N,"timed_out":N,
 *    "unreachable":N,"other":N,"duration_s":S}
 *
 * Safety: the tests give the "outside" namespace all of 10.66.128.0/17
 * with a local route, so every target is one of our own test hosts.  Any
 * CIDR that is not inside 10.66.128.0/17 is refused here, in code, before
 * a single packet is sent.
 *
 * Exit status: 0 done, 1 runtime failure, 2 usage error or refused range. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The only address space a probe may go to (see above). */
#define SAFE_NET    0x0a428000u /* 10.66.128.0 */
#define SAFE_PREFIX 17

#define MAX_PORTS 16
/* Probes open at once; RATE * TIMEOUT_MS / 1000 must fit (checked). */
#define MAX_OPEN 1000

struct probe {
	int fd;
	int64_t deadline_ms;
};

struct counts {
	uint64_t attempts, connected, refused, timed_out, unreachable, other;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static _Noreturn void usage(void)
{
	fprintf(stderr,
		"usage: worm -n CIDR -p PORT[,PORT...] [-r RATE] [-d SECONDS] "
		"[-m random|seq] [-t TIMEOUT_MS] [-s SEED]\n"
		"CIDR must lie inside 10.66.128.0/17 (the test namespaces' target range)\n");
	exit(2);
}

static bool parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

/* Parses "A.B.C.D/LEN" into host-order network and prefix length. */
static bool parse_cidr(const char *s, uint32_t *ret_net, unsigned *ret_len)
{
	char buf[32];
	char *slash;
	struct in_addr a;
	unsigned long len = 32;
	uint32_t net, mask;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (!parse_uint(slash + 1, 0, 32, &len))
			return false;
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return false;
	net = ntohl(a.s_addr);
	mask = len ? 0xffffffffu << (32 - len) : 0;
	if (net & ~mask)
		return false;
	*ret_net = net;
	*ret_len = (unsigned)len;
	return true;
}

/* True when net/len lies entirely inside SAFE_NET/SAFE_PREFIX. */
static bool inside_safe_range(uint32_t net, unsigned len)
{
	uint32_t safe_mask = 0xffffffffu << (32 - SAFE_PREFIX);

	return len >= SAFE_PREFIX && (net & safe_mask) == SAFE_NET;
}

static unsigned parse_ports(char *s, uint16_t *ports)
{
	unsigned n = 0;

	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		unsigned long v;

		if (n == MAX_PORTS || !parse_uint(tok, 1, 65535, &v))
			return 0;
		ports[n++] = (uint16_t)v;
	}
	return n;
}

/* xorshift64*: reproducible with -s, no libc state. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* The i-th target address: sequential or random inside net/len, never the
 * all-zeros or all-ones host part when the network has more than two. */
static uint32_t pick_addr(uint32_t net, unsigned len, bool rand_order, uint64_t i, uint64_t *rng)
{
	uint64_t size = UINT64_C(1) << (32 - len);
	uint64_t off;

	if (size <= 2)
		off = i % size;
	else if (rand_order)
		off = 1 + rng_next(rng) % (size - 2);
	else
		off = 1 + i % (size - 2);
	return net + (uint32_t)off;
}

static void finish(struct counts *c, int fd, int err)
{
	switch (err) {
	case 0:
		c->connected++;
		break;
	case ECONNREFUSED:
		c->refused++;
		break;
	case ETIMEDOUT:
		c->timed_out++;
		break;
	case EHOSTUNREACH:
	case ENETUNREACH:
		c->unreachable++;
		break;
	default:
		c->other++;
		break;
	}
	if (fd >= 0)
		close(fd);
}

/* Starts one probe; returns the fd still connecting, or -1 when the probe
 * is already over (counted). */
static int start_probe(struct counts *c, uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int fd;

	c->attempts++;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		finish(c, -1, errno);
		return -1;
	}
	sin.sin_addr.s_addr = htonl(addr);
	sin.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
		finish(c, fd, 0);
		return -1;
	}
	if (errno != EINPROGRESS) {
		finish(c, fd, errno);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *cidr = NULL;
	char *portarg = NULL;
	unsigned long rate = 50, duration_s = 10, timeout_ms = 900, seed = 0;
	bool rand_order = true;
	uint16_t ports[MAX_PORTS];
	unsigned nports, len;
	uint32_t net;
	static struct probe open_probes[MAX_OPEN];
	static struct pollfd pfds[MAX_OPEN];
	unsigned nopen = 0;
	struct counts c = {0};
	uint64_t rng, sent = 0;
	int64_t start, end, next;
	struct sigaction sa = {.sa_handler = on_signal};
	int opt;

	while ((opt = getopt(argc, argv, "n:p:r:d:m:t:s:h")) != -1) {
		switch (opt) {
		case 'n':
			cidr = optarg;
			break;
		case 'p':
			portarg = optarg;
			break;
		case 'r':
			if (!parse_uint(optarg, 1, 10000, &rate))
				usage();
			break;
		case 'd':
			if (!parse_uint(optarg, 0, 3600, &duration_s))
				usage();
			break;
		case 'm':
			if (strcmp(optarg, "random") == 0)
				rand_order = true;
			else if (strcmp(optarg, "seq") == 0)
				rand_order = false;
			else
				usage();
			break;
		case 't':
			if (!parse_uint(optarg, 10, 60000, &timeout_ms))
				usage();
			break;
		case 's':
			if (!parse_uint(optarg, 0, ULONG_MAX, &seed))
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !cidr || !portarg)
		usage();
	if (!parse_cidr(cidr, &net, &len)) {
		fprintf(stderr, "worm: bad CIDR %s\n", cidr);
		return 2;
	}
	if (!inside_safe_range(net, len)) {
		fprintf(stderr, "worm: refusing %s: targets must lie inside 10.66.128.0/17\n",
			cidr);
		return 2;
	}
	nports = parse_ports(portarg, ports);
	if (nports == 0) {
		fprintf(stderr, "worm: bad port list\n");
		return 2;
	}
	if (rate * timeout_ms / 1000 + 1 > MAX_OPEN) {
		fprintf(stderr, "worm: RATE * TIMEOUT_MS must stay under %d open probes\n",
			MAX_OPEN);
		return 2;
	}
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < MAX_OPEN + 16 &&
		    rl.rlim_max >= MAX_OPEN + 16) {
			rl.rlim_cur = MAX_OPEN + 16;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rng = seed ? seed : ((uint64_t)getpid() << 32 ^ (uint64_t)time(NULL));
	rng |= 1;

	start = now_ms();
	end = start + (int64_t)duration_s * 1000;
	next = start;
	for (;;) {
		int64_t now = now_ms(), wait;
		bool sending = !stop && now < end;

		/* Send every probe that is due (catching up after a stall). */
		while (sending && now >= next && nopen < MAX_OPEN) {
			uint32_t addr = pick_addr(net, len, rand_order, sent, &rng);
			int fd = start_probe(&c, addr, ports[sent % nports]);

			sent++;
			next = start + (int64_t)(sent * 1000 / rate);
			if (fd >= 0) {
				open_probes[nopen].fd = fd;
				open_probes[nopen].deadline_ms = now + (int64_t)timeout_ms;
				nopen++;
			}
		}
		/* Expire the probes past their deadline. */
		for (unsigned i = 0; i < nopen;) {
			if (now >= open_probes[i].deadline_ms) {
				finish(&c, open_probes[i].fd, ETIMEDOUT);
				open_probes[i] = open_probes[--nopen];
			} else {
				i++;
			}
		}
		if (!sending && nopen == 0)
			break;

		wait = 1000;
		if (sending)
			wait = next > now ? next - now : 0;
		for (unsigned i = 0; i < nopen; i++) {
			int64_t d = open_probes[i].deadline_ms - now;

			if (d < wait)
				wait = d < 0 ? 0 : d;
			pfds[i].fd = open_probes[i].fd;
			pfds[i].events = POLLOUT;
			pfds[i].revents = 0;
		}
		if (poll(pfds, nopen, (int)wait) < 0) {
			if (errno == EINTR)
				continue;
			perror("worm: poll");
			return 1;
		}
		/* pfds[i] matches open_probes[i]: walk backwards so that moving
		 * the last entry into a finished slot keeps the pairing. */
		for (unsigned i = nopen; i-- > 0;) {
			int err = 0;
			socklen_t elen = sizeof(err);

			if (!pfds[i].revents)
				continue;
			if (getsockopt(pfds[i].fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
				err = errno;
			finish(&c, open_probes[i].fd, err);
			open_probes[i] = open_probes[--nopen];
			pfds[i] = pfds[nopen];
		}
	}
	printf("{\"attempts\":%" PRIu64 ",\"connected\":%" PRIu64 ",\"refused\":%" PRIu64
	       ",\"timed_out\":%" PRIu64 ",\"unreachable\":%" PRIu64 ",\"other\":%" PRIu64
	       ",\"duration_s\":%.3f}\n",
	       c.attempts, c.connected, c.refused, c.timed_out, c.unreachable, c.other,
	       (double)(now_ms() - start) / 1000.0);
	return 0;
}
