/* Fuzz target for what quarantine-sync reads (syncmsg.c): the input is a
 * value of the bus's bucket (hostile: anyone who can write a key), then,
 * after its first NUL, a key, then after a second NUL a daemon's event
 * line.  Invariants: errors are the documented ones with a message; a
 * value that decodes passes syncmsg_check(), encodes again and decodes to
 * the same record, and its encoding is stable; a key that parses is
 * written back the same way; an event read as a decision passes
 * syncmsg_check(), and so does its machine's record by MAC
 * (syncmsg_machine()); the merge of whatever decodes says one of its
 * verdicts. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "syncmsg.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static void value(const char *data, size_t size, struct sync_view *w)
{
	static char buf[SYNC_VALUE_MAX], buf2[SYNC_VALUE_MAX];
	struct syncmsg m, again;
	char err[256] = "";
	int r, n, n2;

	r = syncmsg_decode(data, size, &m, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -E2BIG);
	if (r < 0) {
		FUZZ_CHECK(err[0] != '\0');
		return;
	}
	FUZZ_CHECK(syncmsg_check(&m, NULL, 0) == 0);
	n = syncmsg_encode(&m, buf, sizeof(buf));
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(buf) && memchr(buf, '\n', (size_t)n) == NULL);
	FUZZ_CHECK(syncmsg_decode(buf, (size_t)n, &again, err, sizeof(err)) == 0);
	FUZZ_CHECK(memcmp(&m, &again, sizeof(m)) == 0);
	n2 = syncmsg_encode(&again, buf2, sizeof(buf2));
	FUZZ_CHECK(n2 == n && memcmp(buf, buf2, (size_t)n) == 0);
	FUZZ_CHECK(sync_view_merge(w, "gw-self", &m, m.ts_us, m.ts_us) <= SYNC_SUPERSEDED);
}

static void key(const char *data, size_t size)
{
	char k[SYNC_KEY_MAX + 8], g[SYNC_GATEWAY_MAX], back[SYNC_KEY_MAX];
	struct qaddr a;
	int plen;

	if (size >= sizeof(k))
		return;
	memcpy(k, data, size);
	k[size] = '\0';
	if (syncmsg_key_parse(k, g, &a) < 0)
		return;
	FUZZ_CHECK(sync_gateway_valid(g));
	plen = syncmsg_key_plen(k);
	FUZZ_CHECK(plen >= 0);
	FUZZ_CHECK((plen ? syncmsg_key_prefix(g, &a, (unsigned)plen, back, sizeof(back))
			 : syncmsg_key(g, &a, back, sizeof(back))) == 0);
	FUZZ_CHECK(strcmp(back, k) == 0);
}

static void event(const char *data, size_t size)
{
	static char line[65536];
	struct syncmsg m;
	int r;

	if (size >= sizeof(line))
		return;
	memcpy(line, data, size);
	line[size] = '\0';
	r = syncmsg_from_event(line, "gw-self", &m);
	FUZZ_CHECK(r == 0 || r == 1 || r == -EINVAL);
	if (r == 1) {
		struct syncmsg mm;

		FUZZ_CHECK(syncmsg_check(&m, NULL, 0) == 0);
		FUZZ_CHECK(strcmp(m.origin, "gw-self") == 0);
		/* The machine's record by MAC is as valid as its address's. */
		if (syncmsg_machine(&m, &mm)) {
			FUZZ_CHECK(syncmsg_check(&mm, NULL, 0) == 0);
			FUZZ_CHECK(mm.host.family == AF_MAC && mm.addr.family != 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	const char *z1 = memchr(p, '\0', size);
	const char *z2 = z1 ? memchr(z1 + 1, '\0', (size_t)(end - z1 - 1)) : NULL;
	struct sync_view w;

	if (sync_view_init(&w, 16) < 0)
		return 0;
	value(p, z1 ? (size_t)(z1 - p) : size, &w);
	if (z1)
		key(z1 + 1, z2 ? (size_t)(z2 - z1 - 1) : (size_t)(end - z1 - 1));
	if (z2)
		event(z2 + 1, (size_t)(end - z2 - 1));
	sync_view_fini(&w);
	return 0;
}
