/* kvtool: what the sync tests do to the bus besides the sync programs:
 * create the bucket (as the cluster's administrator would), and write a
 * value straight into it (hostile records).  Not installed.
 *
 *   kvtool URL USER PASSWORD create BUCKET REPLICAS
 *   kvtool URL USER PASSWORD put BUCKET KEY     (the value on stdin)
 *
 * URL may name several servers, separated by commas (any one that
 * answers).  With TLS (tls:// URLs), the CA certificate and the client's
 * certificate and key come from the environment: KVTOOL_CA, KVTOOL_CERT,
 * KVTOOL_KEY.
 *
 * Exit 0, or 1 with the library's words on stderr. */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_MAX (1u << 20)

int main(int argc, char **argv)
{
	natsConnection *nc = NULL;
	natsOptions *o = NULL;
	jsCtx *js = NULL;
	kvStore *kv = NULL;
	natsStatus st;
	int rc = 1;

	if (argc != 7 || (strcmp(argv[4], "create") != 0 && strcmp(argv[4], "put") != 0)) {
		fprintf(stderr, "usage: kvtool URL USER PASSWORD create BUCKET REPLICAS\n"
				"       kvtool URL USER PASSWORD put BUCKET KEY <VALUE\n");
		return 2;
	}
	st = natsOptions_Create(&o);
	if (st == NATS_OK) {
		const char *urls[8];
		int n = 0;

		for (char *u = strtok(argv[1], ","); u && n < 8; u = strtok(NULL, ","))
			urls[n++] = u;
		st = natsOptions_SetServers(o, urls, n);
	}
	if (st == NATS_OK)
		st = natsOptions_SetUserInfo(o, argv[2], argv[3]);
	if (st == NATS_OK && getenv("KVTOOL_CA"))
		st = natsOptions_SetSecure(o, true);
	if (st == NATS_OK && getenv("KVTOOL_CA"))
		st = natsOptions_LoadCATrustedCertificates(o, getenv("KVTOOL_CA"));
	if (st == NATS_OK && getenv("KVTOOL_CERT") && getenv("KVTOOL_KEY"))
		st = natsOptions_LoadCertificatesChain(o, getenv("KVTOOL_CERT"),
						       getenv("KVTOOL_KEY"));
	if (st == NATS_OK)
		st = natsConnection_Connect(&nc, o);
	if (st == NATS_OK)
		st = natsConnection_JetStream(&js, nc, NULL);
	if (st == NATS_OK && strcmp(argv[4], "create") == 0) {
		kvConfig kc;

		kvConfig_Init(&kc);
		kc.Bucket = argv[5];
		kc.History = 1;
		kc.Replicas = atoi(argv[6]);
		kc.StorageType = js_FileStorage;
		/* Bigger than the sync programs accept: the tests write a
		 * huge value to see it refused by them, not by the server. */
		kc.MaxValueSize = VALUE_MAX;
		st = js_CreateKeyValue(&kv, js, &kc);
	} else if (st == NATS_OK) {
		static char buf[VALUE_MAX];
		size_t n = fread(buf, 1, sizeof(buf), stdin);
		uint64_t rev = 0;

		/* A value as written: its last LF is the shell's, not ours. */
		if (n && buf[n - 1] == '\n')
			n--;
		st = js_KeyValue(&kv, js, argv[5]);
		if (st == NATS_OK)
			st = kvStore_Put(&rev, kv, argv[6], buf, (int)n);
		if (st == NATS_OK)
			printf("%llu\n", (unsigned long long)rev);
	}
	if (st == NATS_OK)
		rc = 0;
	else
		fprintf(stderr, "kvtool: %s: %s\n", natsStatus_GetText(st),
			nats_GetLastError(NULL));
	kvStore_Destroy(kv);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	natsOptions_Destroy(o);
	nats_Close();
	return rc;
}
