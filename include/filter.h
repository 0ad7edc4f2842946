/* The BPF filter for live capture, built from the active rules so that the
 * kernel hands over only what the detectors need: first contacts and their
 * answers, bare ACKs (probes without SYN), ICMP errors, and ARP.  Pure. */
#ifndef QD_FILTER_H
#define QD_FILTER_H

#include <stddef.h>

#include "conf.h"

/* Which pure ACKs over IPv4 pass, when a rule counts bare ACKs (the
 * horizontal and vertical rules that count failures): none (before issue
 * 10), bare ones only (no options, no payload: the probes of ACK scans),
 * or every pure ACK.  The daemon uses FILTER_ACKS_BARE; the others are
 * for measuring (docs/BENCHMARKS.md). */
enum filter_acks {
	FILTER_ACKS_NONE = 0,
	FILTER_ACKS_BARE,
	FILTER_ACKS_PURE,
};

/* Writes a pcap filter expression for c into buf.  Returns its length, or
 * -ENOSPC.  filter_build() is filter_build_acks() with FILTER_ACKS_BARE. */
int filter_build(const struct conf *c, char *buf, size_t len);
int filter_build_acks(const struct conf *c, enum filter_acks acks, char *buf, size_t len);

#endif
