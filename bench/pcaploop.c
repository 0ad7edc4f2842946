/* pcaploop: the floor of reading a capture, as a whole process.
 *
 *   pcaploop FILE
 *
 * A bare libpcap pcap_next_ex() loop over FILE that touches each packet
 * (timestamp, length, first and last captured byte) and does nothing
 * else: what `quarantined -r FILE` cannot go below, since it reads the
 * file the same way (capture.c).  bench/offline-throughput.sh times it
 * as a process beside quarantined, so that both pay the same start-up,
 * page cache reads and exit.  Prints the number of packets and the sum of
 * what it touched (so that the compiler keeps the reads). */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t sum = 0, n = 0;
	pcap_t *p;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: pcaploop FILE\n");
		return 2;
	}
	/* Microseconds, as capture_open_file() asks. */
	p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_MICRO, ebuf);
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
	printf("%" PRIu64 " packets, sum %" PRIu64 "\n", n, sum);
	return 0;
}
