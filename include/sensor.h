/* The sensor process: everything that reads packets, and nothing else.
 *
 * libpcap cannot make a live handle from a received descriptor, so the
 * captures are opened in the child, between fork() and its sandbox: the
 * parent forks (it runs as the daemon's user with CAP_NET_ADMIN and
 * CAP_NET_RAW), the child opens its captures (CAP_NET_RAW, inherited),
 * closes every other descriptor but its end of the channel to the parent
 * and stderr, builds its tables (sense.h), and enters its sandbox (sandbox.h: no
 * capability at all, no_new_privs, a seccomp filter of the system calls
 * listed in sensor.c, measured with strace) before it reads a single
 * packet.  It then waits for the start-up state (SP_START: the blocks in
 * force, the frozen machines, the trusted bindings, the gateway's MACs),
 * says SP_READY, and loops: captures, the parent's messages, a 100 ms
 * timer.  Detections, identity events with the snapshots of the machines
 * they concern, stats once a second and capture failures go up
 * (sensorproto.h); it decides nothing and writes no file but the evidence
 * descriptors the parent hands it.
 *
 * Its death costs nothing that lasts: the parent keeps every block and
 * binding and starts a new sensor (sensorlink.h).  What dies with it is
 * what is short-lived by nature (detection windows, pending probes, the
 * evidence ring, who probed whom): see quarantined(8), PROCESS MODEL. */
#ifndef QD_SENSOR_H
#define QD_SENSOR_H

#include <net/if.h>
#include <stdbool.h>
#include <sys/types.h>

#include "capture.h"
#include "conf.h"

struct sensor_params {
	const struct conf *c;
	/* The interfaces, in the parent's order. */
	char ifnames[CONF_MAX_IFACES][IF_NAMESIZE];
	unsigned ncaps;
	struct capture_opts copts;
	int fd;	      /* the child's end of the channel */
	pid_t parent; /* the parent's pid: the child ends when it has gone */
	/* The evidence ring (0 packets: none). */
	unsigned ring_packets, snaplen, follow;
};

/* The child's whole life after fork().  Returns its exit status; it
 * returns only when the parent has gone (0) or at a fatal error (1). */
int sensor_main(const struct sensor_params *p);

/* The system calls the sensor's filter allows (for the tests). */
const char *const *sensor_syscalls(unsigned *ret_n);

#endif
