/* pcaploop: the floor of reading a capture, as a whole process.
 *
 *   pcaploop [-q] FILE
 *
 * A bare libpcap pcap_next_ex() loop over FILE that touches each packet
 * (timestamp, length, first and last captured byte) and does nothing
 * else: the baseline for `quarantined -r FILE` (issue 11).  With
 * -q the same loop goes through quarantined's own reading of capture
 * files (capture_next(), src/capture.c, which reads classic pcap files
 * itself and leaves the rest to libpcap): what `quarantined -r` cannot
 * go below, so that the cost of detection alone is the difference.
 * bench/offline-throughput.sh times both as processes beside quarantined,
 * so that all pay the same start-up, page cache reads and exit.  Prints
 * the number of packets and the sum of what it touched (so that the
 * compiler keeps the reads). */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "capture.h"

static int loop_pcap(const char *path, uint64_t *ret_n, uint64_t *ret_sum)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t sum = 0, n = 0;
	pcap_t *p;
	int r;

	/* Microseconds, as capture_open_file() asks. */
	p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!p) {
		fprintf(stderr, "pcaploop: %s\n", ebuf);
		return 1;
	}
	while ((r = pcap_next_ex(p, &h, &data)) == 1) {
		sum += (uint64_t)h->ts.tv_usec + h->len;
		if (h->caplen)
			sum += data[0] + data[h->caplen - 1];
		n++;
	}
	if (r == PCAP_ERROR) {
		fprintf(stderr, "pcaploop: %s\n", pcap_geterr(p));
		pcap_close(p);
		return 1;
	}
	pcap_close(p);
	*ret_n = n;
	*ret_sum = sum;
	return 0;
}

static int loop_capture(const char *path, uint64_t *ret_n, uint64_t *ret_sum)
{
	struct capture *c;
	struct capture_packet pkt;
	char err[512];
	uint64_t sum = 0, n = 0;
	int r;

	if (capture_open_file(path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "pcaploop: %s\n", err);
		return 1;
	}
	while ((r = capture_next(c, &pkt, err, sizeof(err))) == 1) {
		/* The microseconds of the second, as the libpcap loop sums. */
		sum += pkt.ts % USEC_PER_SEC + pkt.wirelen;
		if (pkt.caplen)
			sum += pkt.data[0] + pkt.data[pkt.caplen - 1];
		n++;
	}
	capture_close(c);
	if (r < 0) {
		fprintf(stderr, "pcaploop: %s\n", err);
		return 1;
	}
	*ret_n = n;
	*ret_sum = sum;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n = 0, sum = 0;
	bool own = argc == 3 && strcmp(argv[1], "-q") == 0;
	int r;

	if (argc != 2 && !own) {
		fprintf(stderr, "usage: pcaploop [-q] FILE\n");
		return 2;
	}
	r = own ? loop_capture(argv[2], &n, &sum) : loop_pcap(argv[1], &n, &sum);
	if (r)
		return r;
	printf("%" PRIu64 " packets, sum %" PRIu64 "\n", n, sum);
	return 0;
}
