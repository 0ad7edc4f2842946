/* Packet sources over libpcap. */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

struct capture {
	pcap_t *p;
	int dlt;
};

int capture_open_file(const char *path, struct capture **ret, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c;
	pcap_t *p;
	FILE *f;

	/* Open the file ourselves so that it gets O_CLOEXEC ("e"). */
	f = fopen(path, "rbe");
	if (!f) {
		int r = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		return r;
	}
	p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!p) {
		fclose(f);
		snprintf(err, errlen, "not a readable pcap or pcapng file: %s",
			 ebuf[0] ? ebuf : "unknown error");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		pcap_close(p);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->p = p;
	c->dlt = pcap_datalink(p);
	if (!decode_link_supported(c->dlt)) {
		snprintf(err, errlen, "unsupported link type %d (%s)", c->dlt,
			 capture_datalink_name(c->dlt));
		capture_close(c);
		return -EPROTONOSUPPORT;
	}
	*ret = c;
	return 0;
}

int capture_next(struct capture *c, struct capture_packet *ret, char *err, size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int r = pcap_next_ex(c->p, &h, &data);

	if (r == 1) {
		ret->data = data;
		ret->caplen = h->caplen;
		ret->wirelen = h->len;
		ret->ts = (usec_t)h->ts.tv_sec * USEC_PER_SEC + (usec_t)h->ts.tv_usec;
		ret->dlt = c->dlt;
		return 1;
	}
	if (r == PCAP_ERROR_BREAK)
		return 0; /* end of a savefile */
	snprintf(err, errlen, "%s", pcap_geterr(c->p));
	return -EIO;
}

int capture_datalink(const struct capture *c)
{
	return c->dlt;
}

const char *capture_datalink_name(int dlt)
{
	const char *n = pcap_datalink_val_to_name(dlt);

	return n ? n : "unknown";
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	pcap_close(c->p);
	free(c);
}
