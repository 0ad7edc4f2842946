/* The BPF filter for live capture, built from the active rules so that the
 * kernel hands over only what the detectors need: first contacts and their
 * answers, ICMP errors, and ARP.  Pure. */
#ifndef QD_FILTER_H
#define QD_FILTER_H

#include <stddef.h>

#include "conf.h"

/* Writes a pcap filter expression for c into buf.  Returns its length, or
 * -ENOSPC. */
int filter_build(const struct conf *c, char *buf, size_t len);

#endif
