/* kvtool: what the sync tests do to the bus besides the sync programs:
 * create the bucket (as the cluster's administrator would), and write a
 * value straight into it (hostile records).  Not installed.
 *
 *   kvtool URL USER PASSWORD create BUCKET REPLICAS
 *   kvtool URL USER PASSWORD put BUCKET KEY     (the value on stdin)
 *   kvtool URL USER PASSWORD stream-create STREAM SUBJECTS REPLICAS MAX_MB
 *   kvtool URL USER PASSWORD stream-read STREAM
 *
 * stream-create makes the events stream of quarantine-sync(8) as its page
 * says an administrator does (limits by age and bytes, a duplicate
 * window); stream-read prints every message of a stream as a control
 * center reads them: "SEQ<TAB>SUBJECT<TAB>NATS-MSG-ID<TAB>STORED<TAB>DATA" a
 * line, STORED the time the server stored it (nanoseconds since the
 * epoch).
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

static natsStatus stream_cmd(jsCtx *js, int argc, char **argv);

int main(int argc, char **argv)
{
	natsConnection *nc = NULL;
	natsOptions *o = NULL;
	jsCtx *js = NULL;
	kvStore *kv = NULL;
	natsStatus st;
	int rc = 1;

	if (!(argc == 7 && (strcmp(argv[4], "create") == 0 || strcmp(argv[4], "put") == 0)) &&
	    !(argc == 9 && strcmp(argv[4], "stream-create") == 0) &&
	    !(argc == 6 && strcmp(argv[4], "stream-read") == 0)) {
		fprintf(stderr,
			"usage: kvtool URL USER PASSWORD create BUCKET REPLICAS\n"
			"       kvtool URL USER PASSWORD put BUCKET KEY <VALUE\n"
			"       kvtool URL USER PASSWORD stream-create STREAM SUBJECTS REPLICAS "
			"MAX_MB\n"
			"       kvtool URL USER PASSWORD stream-read STREAM\n");
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
	if (st == NATS_OK && strncmp(argv[4], "stream-", 7) == 0) {
		st = stream_cmd(js, argc, argv);
	} else if (st == NATS_OK && strcmp(argv[4], "create") == 0) {
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

/* The events stream (quarantine-sync(8), CONTROL CENTER). */
static natsStatus stream_cmd(jsCtx *js, int argc, char **argv)
{
	jsErrCode jerr = 0;
	jsStreamInfo *si = NULL;
	natsStatus st;

	(void)argc;
	if (strcmp(argv[4], "stream-create") == 0) {
		jsStreamConfig sc;
		const char *subj[1] = {argv[6]};

		jsStreamConfig_Init(&sc);
		sc.Name = argv[5];
		sc.Subjects = subj;
		sc.SubjectsLen = 1;
		sc.Retention = js_LimitsPolicy;
		sc.Discard = js_DiscardOld;
		sc.Storage = js_FileStorage;
		sc.Replicas = atoi(argv[7]);
		/* The page's limits: 30 days, MAX_MB (the page says 1 GiB;
		 * the test's servers have less), the oldest goes first; a
		 * message published again within 10 minutes is dropped. */
		sc.MaxAge = 30LL * 86400 * 1000000000LL;
		sc.MaxBytes = atoll(argv[8]) * 1024 * 1024;
		sc.Duplicates = 600LL * 1000000000LL;
		st = js_AddStream(&si, js, &sc, NULL, &jerr);
		jsStreamInfo_Destroy(si);
		return st;
	}
	st = js_GetStreamInfo(&si, js, argv[5], NULL, &jerr);
	if (st != NATS_OK)
		return st;
	for (uint64_t seq = si->State.FirstSeq; seq && seq <= si->State.LastSeq; seq++) {
		natsMsg *m = NULL;
		const char *id = NULL;

		st = js_GetMsg(&m, js, argv[5], seq, NULL, &jerr);
		if (st == NATS_NOT_FOUND)
			continue;
		if (st != NATS_OK)
			break;
		if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) != NATS_OK)
			id = "-";
		printf("%llu\t%s\t%s\t%lld\t%.*s\n", (unsigned long long)seq, natsMsg_GetSubject(m),
		       id, (long long)natsMsg_GetTime(m), natsMsg_GetDataLength(m),
		       natsMsg_GetData(m));
		natsMsg_Destroy(m);
	}
	jsStreamInfo_Destroy(si);
	return st == NATS_NOT_FOUND ? NATS_OK : st;
}
