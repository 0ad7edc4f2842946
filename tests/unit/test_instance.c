/* Unit tests of the single-instance claims: a second claim of the same
 * state directory (by any path to it) or of the same family and table is
 * refused with a message that names the lock, from this process or from
 * another; different tables do not collide; both claims die with their
 * process, even by SIGKILL, and a forked child that lets go of its copies
 * leaves them to its parent.  No root needed: flock() and abstract sockets
 * are open to any user. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "instance.h"

struct fx {
	char dir[64];
	char link[80];
	char table[32]; /* unique per run: tests may run in parallel */
	char err[512];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/qd-instance-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->link, sizeof(f->link), "%s.link", f->dir);
	assert_int_equal(symlink(f->dir, f->link), 0);
	snprintf(f->table, sizeof(f->table), "t%ld", (long)getpid());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->link);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void dir_second_claim_refused(void **state)
{
	struct fx *f = *state;
	struct instance a, b;

	instance_init(&a);
	instance_init(&b);
	assert_int_equal(instance_lock_dir(&a, f->dir, f->err, sizeof(f->err)), 0);
	assert_int_equal(instance_lock_dir(&b, f->dir, f->err, sizeof(f->err)), -EBUSY);
	assert_non_null(strstr(f->err, "state-dir lock"));
	assert_non_null(strstr(f->err, f->dir));
	assert_int_equal(b.dir_fd, -1);
	/* Another path to the same directory is the same lock. */
	assert_int_equal(instance_lock_dir(&b, f->link, f->err, sizeof(f->err)), -EBUSY);
	instance_release(&a);
	assert_int_equal(instance_lock_dir(&b, f->link, f->err, sizeof(f->err)), 0);
	instance_release(&b);
}

static void dir_missing(void **state)
{
	struct fx *f = *state;
	struct instance a;
	char path[96];

	instance_init(&a);
	snprintf(path, sizeof(path), "%s/none", f->dir);
	assert_int_equal(instance_lock_dir(&a, path, f->err, sizeof(f->err)), -ENOENT);
	assert_non_null(strstr(f->err, "state-dir lock"));
	assert_int_equal(a.dir_fd, -1);
}

static void table_second_claim_refused(void **state)
{
	struct fx *f = *state;
	struct instance a, b, c;
	char want[128];

	instance_init(&a);
	instance_init(&b);
	instance_init(&c);
	assert_int_equal(instance_lock_table(&a, "inet", f->table, f->err, sizeof(f->err)), 0);
	assert_int_equal(instance_lock_table(&b, "inet", f->table, f->err, sizeof(f->err)), -EBUSY);
	snprintf(want, sizeof(want), "@quarantined/inet/%s", f->table);
	assert_non_null(strstr(f->err, "table lock"));
	assert_non_null(strstr(f->err, want));
	assert_int_equal(b.table_fd, -1);
	/* Another family or another table is another name. */
	assert_int_equal(instance_lock_table(&b, "bridge", f->table, f->err, sizeof(f->err)), 0);
	char other[40];
	snprintf(other, sizeof(other), "%sx", f->table);
	assert_int_equal(instance_lock_table(&c, "inet", other, f->err, sizeof(f->err)), 0);
	instance_release(&a);
	instance_release(&b);
	instance_release(&c);
	assert_int_equal(instance_lock_table(&a, "inet", f->table, f->err, sizeof(f->err)), 0);
	instance_release(&a);
}

static void table_name_bounds(void **state)
{
	struct fx *f = *state;
	char buf[INSTANCE_NAME_MAX + 1], table[128];
	struct instance a;

	assert_int_equal(instance_table_name("inet", "quarantined", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "quarantined/inet/quarantined");
	memset(table, 'x', sizeof(table) - 1);
	table[sizeof(table) - 1] = '\0';
	assert_int_equal(instance_table_name("inet", table, buf, sizeof(buf)), -ENAMETOOLONG);
	instance_init(&a);
	assert_int_equal(instance_lock_table(&a, "inet", table, f->err, sizeof(f->err)),
			 -ENAMETOOLONG);
	assert_int_equal(a.table_fd, -1);
}

/* A child tries both claims and exits with 0 when both were refused as
 * busy, 1 otherwise. */
static int child_claims(const struct fx *f)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct instance b;
		char err[512];

		instance_init(&b);
		int rd = instance_lock_dir(&b, f->dir, err, sizeof(err));
		int rt = instance_lock_table(&b, "inet", f->table, err, sizeof(err));
		_exit(rd == -EBUSY && rt == -EBUSY ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void other_process_refused(void **state)
{
	struct fx *f = *state;
	struct instance a;

	instance_init(&a);
	assert_int_equal(instance_lock_dir(&a, f->dir, f->err, sizeof(f->err)), 0);
	assert_int_equal(instance_lock_table(&a, "inet", f->table, f->err, sizeof(f->err)), 0);
	assert_int_equal(child_claims(f), 0);
	instance_release(&a);
	assert_int_equal(child_claims(f), 1);
}

/* The claims of a process killed with SIGKILL are free at once: a restart
 * after kill -9 never finds a stale lock. */
static void killed_holder_frees_both(void **state)
{
	struct fx *f = *state;
	int p[2], status;
	struct instance a;
	char c;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct instance b;
		char err[512];

		close(p[0]);
		instance_init(&b);
		c = instance_lock_dir(&b, f->dir, err, sizeof(err)) == 0 &&
				    instance_lock_table(&b, "inet", f->table, err, sizeof(err)) == 0
			    ? 'y'
			    : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	assert_int_equal(c, 'y');
	instance_init(&a);
	assert_int_equal(instance_lock_dir(&a, f->dir, f->err, sizeof(f->err)), -EBUSY);
	assert_int_equal(instance_lock_table(&a, "inet", f->table, f->err, sizeof(f->err)), -EBUSY);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(instance_lock_dir(&a, f->dir, f->err, sizeof(f->err)), 0);
	assert_int_equal(instance_lock_table(&a, "inet", f->table, f->err, sizeof(f->err)), 0);
	instance_release(&a);
}

/* A forked child that lets go of its copies leaves the parent's claims
 * in place (a sensor process must not take them along, nor free them). */
static void child_release_keeps_parent_claims(void **state)
{
	struct fx *f = *state;
	struct instance a, b;
	int status;
	pid_t pid;

	instance_init(&a);
	assert_int_equal(instance_lock_dir(&a, f->dir, f->err, sizeof(f->err)), 0);
	assert_int_equal(instance_lock_table(&a, "inet", f->table, f->err, sizeof(f->err)), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		instance_release(&a);
		_exit(a.dir_fd == -1 && a.table_fd == -1 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	instance_init(&b);
	assert_int_equal(instance_lock_dir(&b, f->dir, f->err, sizeof(f->err)), -EBUSY);
	assert_int_equal(instance_lock_table(&b, "inet", f->table, f->err, sizeof(f->err)), -EBUSY);
	assert_int_equal(child_claims(f), 0);
	instance_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(dir_second_claim_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(dir_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(table_second_claim_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(table_name_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(other_process_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(killed_holder_frees_both, setup, teardown),
		cmocka_unit_test_setup_teardown(child_release_keeps_parent_claims, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
