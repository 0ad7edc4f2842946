/* An engine over a fake kernel (commits counted, nothing listed) whose
 * events go to memory: for the unit tests that drive the engine whole
 * (test_outside, test_incident).  Used as cmocka setup and teardown. */
#ifndef QD_TEST_ENGINEFIX_H
#define QD_TEST_ENGINEFIX_H

#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "enforce.h"
#include "engine.h"
#include "output.h"

static int fake_commit(void *arg, struct nft_op *ops, unsigned nops)
{
	unsigned *n = arg;

	(void)ops;
	*n += nops;
	return 0;
}

static int fake_list(void *arg, enum nft_set set, int (*cb)(void *, const struct nft_elem *),
		     void *cbarg)
{
	(void)arg;
	(void)set;
	(void)cb;
	(void)cbarg;
	return 0;
}

struct fix {
	struct conf c;
	struct output out;
	unsigned commits;
	struct enforcer enf;
	struct engine e;
	char *events;
	size_t events_len;
};

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));
	struct enforce_backend be = {.commit = fake_commit, .list = fake_list};
	FILE *f;

	assert_non_null(x);
	assert_int_equal(conf_init_default(&x->c), 0);
	be.arg = &x->commits;
	enforce_init(&x->enf, &be);
	f = open_memstream(&x->events, &x->events_len);
	assert_non_null(f);
	output_init(&x->out, f, OUTPUT_JSON, false);
	assert_int_equal(engine_init(&x->e, &x->c, MODE_ENFORCE, &x->out, &x->enf, NULL), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	engine_fini(&x->e);
	fclose(x->out.stdout_fp);
	free(x->events);
	conf_fini(&x->c);
	free(x);
	return 0;
}

static const char *events(struct fix *x)
{
	fflush(x->out.stdout_fp);
	return x->events ? x->events : "";
}

#endif
