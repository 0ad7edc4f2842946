/* Fuzz target for Zeek's notice.log lines in JSON (zeek.c) and what the feeds
 * reader makes of them: the harness and its invariants are feedline.h's. */
#include "zeek.h"
#include "feedline.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	feedline_init(FEED_ZEEK);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return feedline_one(zeek_parse, FEED_ZEEK, SOURCE_ZEEK, data, size);
}
