/* Fuzz target for Suricata's eve.json lines (eve.c) and what the feeds
 * reader makes of them: the harness and its invariants are feedline.h's. */
#include "eve.h"
#include "feedline.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	feedline_init(FEED_SURICATA);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return feedline_one(eve_parse, FEED_SURICATA, SOURCE_SURICATA, data, size);
}
