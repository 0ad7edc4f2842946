/* kvfill: fills a sync bucket with N records of gateway gw-x, one per
 * address of 10.64.0.0/12 (10.64.0.1 on), for bench/sync-rebuild.sh.
 * Each is a well-formed block (syncmsg_encode()) that expired a second
 * after it was decided, so that a sync program reading them merges each
 * into its view and hands none to its daemon.  Creates the bucket (one
 * replica, history 1) when it does not exist.  Not installed.
 *
 *   kvfill URL BUCKET N
 *
 * Exit 0, or 1 with the library's words on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncmsg.h"
#include "types.h"

int main(int argc, char **argv)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	kvStore *kv = NULL;
	natsStatus st;
	unsigned long n;
	usec_t now = time_wall_us();
	int rc = 1;

	if (argc != 4 || (n = strtoul(argv[3], NULL, 10)) == 0 || n > 1000000) {
		fprintf(stderr, "usage: kvfill URL BUCKET N (1 to 1000000)\n");
		return 2;
	}
	st = natsConnection_ConnectTo(&nc, argv[1]);
	if (st == NATS_OK)
		st = natsConnection_JetStream(&js, nc, NULL);
	if (st == NATS_OK)
		st = js_KeyValue(&kv, js, argv[2]);
	if (st == NATS_NOT_FOUND) {
		kvConfig kc;

		kvConfig_Init(&kc);
		kc.Bucket = argv[2];
		kc.History = 1;
		kc.Replicas = 1;
		kc.MaxValueSize = SYNC_VALUE_MAX;
		kc.StorageType = js_FileStorage;
		st = js_CreateKeyValue(&kv, js, &kc);
	}
	for (unsigned long i = 0, a = 1; st == NATS_OK && i < n; a++) {
		char key[SYNC_KEY_MAX], val[SYNC_VALUE_MAX];
		struct syncmsg m;
		uint32_t v = (10u << 24) | (64u << 16) | (uint32_t)a;
		int len;

		if ((v & 0xff) == 0 || (v & 0xff) == 255)
			continue;
		memset(&m, 0, sizeof(m));
		m.op = SYNC_BLOCK;
		snprintf(m.origin, sizeof(m.origin), "gw-x");
		{
			const uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
					      (uint8_t)(v >> 8), (uint8_t)v};

			addr_set_v4(&m.host, b);
		}
		m.level = LEVEL_ISOLATE;
		m.severity = SEV_HIGH;
		m.ts_us = now - 3600 * USEC_PER_SEC;
		m.expires_us = m.ts_us + USEC_PER_SEC;
		snprintf(m.rule, sizeof(m.rule), "bench");
		if (syncmsg_key("gw-x", &m.host, key, sizeof(key)) < 0 ||
		    (len = syncmsg_encode(&m, val, sizeof(val))) < 0) {
			fprintf(stderr, "kvfill: cannot encode record %lu\n", i);
			goto out;
		}
		st = kvStore_Put(NULL, kv, key, val, len);
		i++;
	}
	if (st != NATS_OK) {
		fprintf(stderr, "kvfill: %s\n", natsStatus_GetText(st));
		goto out;
	}
	rc = 0;
out:
	kvStore_Destroy(kv);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return rc;
}
