/* Antivirus console exports in CSV; see avcsv.h.
 *
 * Two passes over each record: the bytes are gathered (bounded) until a
 * line break outside quotes ends the record, then the record is split
 * into fields by RFC 4180 and its fields checked.  A record is never
 * longer than AVCSV_RECORD_MAX in memory, whatever the file holds. */
#include "avcsv.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "types.h"

/* The column names consoles give each role, lower case, letters and
 * digits only (avcsv.h: spaces and punctuation are ignored), in order of
 * preference: when a header has two, the earlier name wins.  From the
 * consoles' documentation: Microsoft Defender and Intune ("Device name",
 * "Threat name", "Detection time"), Sophos Central ("Computer name", "IP
 * address", "Threat name", "Detected at"), ESET PROTECT ("Computer name",
 * "Threat name", "Occurred"), Symantec/Broadcom SEP ("Computer Name", "IP
 * Address", "Risk Name", "Event Time"), Trend Micro Apex One and Apex
 * Central ("Endpoint", "Product/Endpoint IP", "Virus/Malware",
 * "Generated"), Kaspersky Security Center ("Device", "IP address",
 * "Detected object", "Time"), and ClamAV-style reports ("Host",
 * "Signature"). */
static const char *const names_host[] = {
	"computername", "devicename", "machinename", "hostname",
	"endpointname", "clientname", "computer",    "device",
	"machine",	"host",	      "endpoint",    "workstation",
	"client",	"dnsname",    "fqdn",	     "productentityendpoint",
};
static const char *const names_addr[] = {
	"ipaddress", "ipv4address", "ipaddresses", "endpointip",     "productendpointip",
	"deviceip",  "computerip",  "clientip",	   "lastipaddress",  "ip",
	"ipv4",	     "ipv6address", "address",	   "networkaddress",
};
static const char *const names_mac[] = {
	"macaddress", "endpointmac", "productendpointmac", "physicaladdress", "mac",
};
static const char *const names_threat[] = {
	"threatname",	  "virusname",	   "malwarename",  "riskname",	       "detectionname",
	"detectedobject", "signaturename", "virusmalware", "virusmalwarename", "threat",
	"virus",	  "malware",	   "risk",	   "securitythreat",   "detectedthreat",
	"threatdetected", "infection",	   "signature",	   "spywaregrayware",  "objectname",
	"detection",
};
static const char *const names_time[] = {
	"detectiontime",
	"timedetected",
	"datedetected",
	"detectedat",
	"detectedon",
	"firstdetected",
	"initialdetectiontime",
	"eventtime",
	"timeofoccurrence",
	"occurred",
	"occurredat",
	"generated",
	"timegenerated",
	"begintime",
	"datetime",
	"dateandtime",
	"timestamp",
	"time",
	"date",
	"detected",
	"firstseen",
	"lastseen",
	"received",
};

static const struct {
	const char *const *v;
	size_t n;
} role_names[AVCSV_ROLES] = {
	[AVCSV_HOST] = {names_host, ARRAY_SIZE(names_host)},
	[AVCSV_ADDR] = {names_addr, ARRAY_SIZE(names_addr)},
	[AVCSV_MAC] = {names_mac, ARRAY_SIZE(names_mac)},
	[AVCSV_THREAT] = {names_threat, ARRAY_SIZE(names_threat)},
	[AVCSV_TIME] = {names_time, ARRAY_SIZE(names_time)},
};

static const char *const role_words[AVCSV_ROLES] = {
	[AVCSV_HOST] = "host",	   [AVCSV_ADDR] = "address", [AVCSV_MAC] = "mac",
	[AVCSV_THREAT] = "threat", [AVCSV_TIME] = "time",
};

int avcsv_role_parse(const char *s)
{
	for (unsigned i = 0; i < AVCSV_ROLES; i++)
		if (strcmp(s, role_words[i]) == 0)
			return (int)i;
	return -1;
}

const char *avcsv_role_name(enum avcsv_role r)
{
	return (unsigned)r < AVCSV_ROLES ? role_words[r] : "?";
}

void avcsv_init(struct avcsv *p, const char *const *columns)
{
	memset(p, 0, sizeof(*p));
	for (unsigned i = 0; i < AVCSV_ROLES; i++) {
		p->col[i] = -1;
		p->column[i] = columns ? columns[i] : NULL;
	}
	p->line = 1;
	p->rec_line = 1;
}

/* A column name as compared: lower-case letters and digits only. */
static void normalise(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	for (; *s && n + 1 < len; s++)
		if (isalnum((unsigned char)*s))
			buf[n++] = (char)tolower((unsigned char)*s);
	buf[n] = '\0';
}

/* Splits record r (n bytes) into fields by delim, unquoting them into
 * out (room for n bytes and a NUL per field).  The number of fields, or
 * -1 with why set. */
static int split(const char *r, size_t n, char delim, char *out, const char **f, unsigned max,
		 const char **why)
{
	size_t i = 0;
	unsigned nf = 0;

	for (;;) {
		if (nf == max) {
			*why = "too many fields";
			return -1;
		}
		f[nf++] = out;
		if (i < n && r[i] == '"') {
			for (i++;; i++) {
				if (i == n) {
					*why = "a quoted field is not closed";
					return -1;
				}
				if (r[i] == '"') {
					if (i + 1 < n && r[i + 1] == '"') {
						*out++ = '"';
						i++;
						continue;
					}
					i++;
					break;
				}
				*out++ = r[i];
			}
			if (i < n && r[i] != delim) {
				*why = "text after a closing quote";
				return -1;
			}
		} else {
			for (; i < n && r[i] != delim; i++) {
				if (r[i] == '"') {
					*why = "a quote inside a field that is not quoted";
					return -1;
				}
				*out++ = r[i];
			}
		}
		*out++ = '\0';
		if (i == n)
			return (int)nf;
		i++; /* the delimiter */
	}
}

/* The delimiter the header uses: whichever of ',', ';' and TAB it has
 * most of outside quotes (',' when none). */
static char find_delim(const char *r, size_t n)
{
	unsigned comma = 0, semi = 0, tab = 0;
	bool q = false;

	for (size_t i = 0; i < n; i++) {
		if (r[i] == '"')
			q = !q;
		else if (!q)
			comma += r[i] == ',', semi += r[i] == ';', tab += r[i] == '\t';
	}
	if (semi > comma && semi >= tab)
		return ';';
	if (tab > comma && tab > semi)
		return '\t';
	return ',';
}

static void header(struct avcsv *p, const char **f, unsigned nf)
{
	char norm[AVCSV_FIELDS_MAX][64], want[64];
	size_t best[AVCSV_ROLES];

	for (unsigned i = 0; i < nf; i++)
		normalise(f[i], norm[i], sizeof(norm[i]));
	for (unsigned r = 0; r < AVCSV_ROLES; r++) {
		best[r] = SIZE_MAX;
		if (p->column[r]) {
			normalise(p->column[r], want, sizeof(want));
			for (unsigned i = 0; i < nf && p->col[r] < 0; i++)
				if (strcmp(norm[i], want) == 0)
					p->col[r] = (int)i;
			if (p->col[r] < 0) {
				snprintf(p->fatal, sizeof(p->fatal),
					 "line %u: no column named '%.60s' (--column %s)",
					 p->rec_line, p->column[r], role_words[r]);
				return;
			}
			continue;
		}
		for (unsigned i = 0; i < nf; i++)
			for (size_t k = 0; k < role_names[r].n && k < best[r]; k++)
				if (strcmp(norm[i], role_names[r].v[k]) == 0) {
					best[r] = k;
					p->col[r] = (int)i;
				}
	}
	if (p->col[AVCSV_THREAT] < 0)
		snprintf(p->fatal, sizeof(p->fatal),
			 "line %u: no column of the header names the threat "
			 "(--column threat=NAME says which)",
			 p->rec_line);
	else if (p->col[AVCSV_HOST] < 0 && p->col[AVCSV_ADDR] < 0 && p->col[AVCSV_MAC] < 0)
		snprintf(p->fatal, sizeof(p->fatal),
			 "line %u: no column of the header names the machine or its address "
			 "(--column host=NAME or address=NAME says which)",
			 p->rec_line);
	else
		p->header_done = true;
}

/* Field of role r, trimmed of surrounding spaces into buf (len bytes):
 * 0, 1 when the row has none, or -1 with why set. */
static int field(const struct avcsv *p, const char **f, unsigned nf, enum avcsv_role r, char *buf,
		 size_t len, const char **why)
{
	const char *v, *e;
	size_t n;

	buf[0] = '\0';
	if (p->col[r] < 0 || (unsigned)p->col[r] >= nf)
		return 1;
	v = f[p->col[r]];
	while (*v == ' ')
		v++;
	e = v + strlen(v);
	while (e > v && e[-1] == ' ')
		e--;
	n = (size_t)(e - v);
	if (outside_utf8_valid(v, n, false) != n) {
		*why = "a control character in a field";
		return -1;
	}
	if (n >= len) {
		*why = "a field too long";
		return -1;
	}
	memcpy(buf, v, n);
	buf[n] = '\0';
	return n ? 0 : 1;
}

/* The first of a list of addresses ("10.1.0.5, fe80::1"). */
static void first_token(char *s)
{
	s[strcspn(s, ",; ")] = '\0';
}

static void row(struct avcsv *p, const char *raw, size_t n, const char **f, unsigned nf,
		avcsv_cb cb, void *arg)
{
	static const struct avcsv_row zero;
	struct avcsv_row w = zero;
	const char *why = NULL;
	char t[64];
	struct qaddr a;
	uint8_t mac[MAC_LEN];
	size_t k;

	w.line = p->rec_line;
	if (field(p, f, nf, AVCSV_HOST, w.host, sizeof(w.host), &why) < 0 ||
	    field(p, f, nf, AVCSV_ADDR, w.addr, sizeof(w.addr), &why) < 0 ||
	    field(p, f, nf, AVCSV_MAC, w.mac, sizeof(w.mac), &why) < 0 ||
	    field(p, f, nf, AVCSV_THREAT, w.threat, sizeof(w.threat), &why) < 0 ||
	    field(p, f, nf, AVCSV_TIME, t, sizeof(t), &why) < 0)
		goto bad;
	first_token(w.addr);
	first_token(w.mac);
	if (!w.threat[0])
		why = "no threat name";
	else if (!w.host[0] && !w.addr[0] && !w.mac[0])
		why = "no machine name, address or MAC";
	else if (w.addr[0] && addr_parse(w.addr, &a) < 0)
		why = "not an IP address in the address column";
	else if (w.mac[0] && mac_parse(w.mac, mac) < 0)
		why = "not a MAC address in the MAC column";
	if (why)
		goto bad;
	if (t[0] && avcsv_time_parse(t, &w.ts_us) < 0)
		w.ts_us = 0; /* a time not understood is no time, not an error */
	/* The evidence: the record as read, its line breaks and tabs made
	 * spaces (history lines are printable text). */
	k = outside_utf8_cut(raw, n, sizeof(w.evidence) - 1);
	for (size_t i = 0; i < k; i++)
		w.evidence[i] = (unsigned char)raw[i] < 0x20 || raw[i] == 0x7f ? ' ' : raw[i];
	w.evidence[k] = '\0';
	/* The C1 controls a record may hold in a quoted field are made
	 * spaces too: two bytes, U+0080..U+009F. */
	for (size_t i = 0; i + 1 < k; i++)
		if ((unsigned char)w.evidence[i] == 0xc2 && (unsigned char)w.evidence[i + 1] < 0xa0)
			w.evidence[i] = w.evidence[i + 1] = ' ';
	p->rows++;
	cb(arg, &w, NULL);
	return;
bad:
	p->refused++;
	w = zero;
	w.line = p->rec_line;
	cb(arg, &w, why);
}

static void refuse(struct avcsv *p, const char *why, avcsv_cb cb, void *arg)
{
	struct avcsv_row w;

	memset(&w, 0, sizeof(w));
	w.line = p->rec_line;
	p->refused++;
	cb(arg, &w, why);
}

static void record(struct avcsv *p, avcsv_cb cb, void *arg)
{
	const char *f[AVCSV_FIELDS_MAX], *why = NULL, *r = p->rec;
	size_t n = p->len;
	int nf;

	/* A CR before the LF (CRLF) is the line break's. */
	if (n && r[n - 1] == '\r')
		n--;
	if (p->rec_line == 1 && n >= 3 && memcmp(r, "\xef\xbb\xbf", 3) == 0)
		r += 3, n -= 3;
	if (n == 0)
		return; /* a blank line */
	if (outside_utf8_valid(r, n, true) != n) {
		if (!p->header_done)
			snprintf(p->fatal, sizeof(p->fatal), "line %u: the header is not UTF-8",
				 p->rec_line);
		else
			refuse(p, "not valid UTF-8", cb, arg);
		return;
	}
	if (!p->delim)
		p->delim = find_delim(r, n);
	nf = split(r, n, p->delim, p->fields, f, AVCSV_FIELDS_MAX, &why);
	if (nf < 0) {
		if (!p->header_done)
			snprintf(p->fatal, sizeof(p->fatal), "line %u: header: %s", p->rec_line,
				 why);
		else
			refuse(p, why, cb, arg);
		return;
	}
	if (!p->header_done)
		header(p, f, (unsigned)nf);
	else
		row(p, r, n, f, (unsigned)nf, cb, arg);
}

static void end_record(struct avcsv *p, avcsv_cb cb, void *arg)
{
	if (p->skipping) {
		char why[64];

		snprintf(why, sizeof(why), "longer than %u bytes", AVCSV_RECORD_MAX);
		if (!p->header_done)
			snprintf(p->fatal, sizeof(p->fatal), "line %u: the header is %s",
				 p->rec_line, why);
		else
			refuse(p, why, cb, arg);
	} else {
		record(p, cb, arg);
	}
	p->len = 0;
	p->quoted = false;
	p->skipping = false;
	p->rec_line = p->line;
}

int avcsv_feed(struct avcsv *p, const char *buf, size_t n, avcsv_cb cb, void *arg)
{
	for (size_t i = 0; i < n && !p->fatal[0]; i++) {
		char c = buf[i];

		if (p->skipping) {
			/* A record too long ends at the next line break,
			 * quotes or not: what follows is read as usual.  Not
			 * byte by byte: a 1 GiB line costs a memchr(). */
			const char *nl = memchr(buf + i, '\n', n - i);

			if (!nl)
				break;
			i = (size_t)(nl - buf);
			p->line++;
			end_record(p, cb, arg);
			continue;
		}
		if (c == '\n') {
			p->line++;
			if (!p->quoted) {
				end_record(p, cb, arg);
				continue;
			}
		} else if (c == '"') {
			p->quoted = !p->quoted;
		}
		if (p->len == sizeof(p->rec)) {
			p->skipping = true;
			/* The line break that made it too long is its end. */
			if (c == '\n')
				end_record(p, cb, arg);
			continue;
		}
		p->rec[p->len++] = c;
	}
	return p->fatal[0] ? -EINVAL : 0;
}

int avcsv_finish(struct avcsv *p, avcsv_cb cb, void *arg)
{
	if (!p->fatal[0] && (p->len || p->skipping))
		end_record(p, cb, arg);
	if (!p->fatal[0] && !p->header_done)
		snprintf(p->fatal, sizeof(p->fatal), "no header row");
	return p->fatal[0] ? -EINVAL : 0;
}

/* ---- times ---- */

static int local_time(int y, int mo, int d, int h, int mi, int s, uint64_t *ret_us)
{
	struct tm tm;
	time_t t;

	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || s < 0 || s > 60)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t < 0)
		return -EINVAL;
	*ret_us = (uint64_t)t * USEC_PER_SEC;
	return 0;
}

int avcsv_time_parse(const char *s, uint64_t *ret_us)
{
	int a, b, y, h = 0, mi = 0, sec = 0, k = 0;
	char ampm[3] = "";
	char iso[64];

	/* ISO 8601, or the same with '/' (2026/12/03 10:00:00). */
	if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3]) &&
	    (s[4] == '-' || s[4] == '/') && strlen(s) < sizeof(iso)) {
		snprintf(iso, sizeof(iso), "%s", s);
		if (iso[4] == '/' && iso[7] == '/')
			iso[4] = iso[7] = '-';
		/* A duration is no time here: only what looks like a date. */
		return time_since_parse(iso, 0, ret_us) < 0 ? -EINVAL : 0;
	}
	/* 12/3/2026 2:05:09 PM (US consoles), 03.12.2026 14:05 (European). */
	if (sscanf(s, "%d/%d/%d %d:%d:%d%n", &a, &b, &y, &h, &mi, &sec, &k) == 6 ||
	    sscanf(s, "%d/%d/%d %d:%d%n", &a, &b, &y, &h, &mi, &k) == 5) {
		const char *rest = s + k;

		while (*rest == ' ')
			rest++;
		if (*rest) {
			snprintf(ampm, sizeof(ampm), "%.2s", rest);
			if (strcasecmp(ampm, "PM") == 0 && h < 12)
				h += 12;
			else if (strcasecmp(ampm, "AM") == 0 && h == 12)
				h = 0;
			else if (strcasecmp(ampm, "AM") != 0 && strcasecmp(ampm, "PM") != 0)
				return -EINVAL;
		}
		return local_time(y, a, b, h, mi, sec, ret_us);
	}
	if (sscanf(s, "%d.%d.%d %d:%d:%d", &a, &b, &y, &h, &mi, &sec) == 6 ||
	    sscanf(s, "%d.%d.%d %d:%d", &a, &b, &y, &h, &mi) == 5)
		return local_time(y, b, a, h, mi, sec, ret_us);
	return -EINVAL;
}
