/* Unit tests for the rtnetlink message and attribute walkers: what a
 * datagram with lengths that lie does to them.  (The sockets are tested
 * against the kernel through netmon's and neighmon's tests.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "rtnl.h"

/* Appends a message of type with the payload to buf at *len. */
static void put_msg(union rtnl_buf *buf, size_t *len, uint16_t type, const void *payload,
		    size_t plen)
{
	struct nlmsghdr h = {.nlmsg_len = (uint32_t)NLMSG_LENGTH(plen), .nlmsg_type = type};

	memcpy(buf->b + *len, &h, sizeof(h));
	if (plen)
		memcpy(buf->b + *len + NLMSG_HDRLEN, payload, plen);
	*len += NLMSG_ALIGN(h.nlmsg_len);
}

/* Appends an attribute to a payload being built at *len. */
static void put_attr(uint8_t *p, size_t *len, uint16_t type, const void *data, size_t dlen)
{
	struct rtattr rta = {.rta_len = (unsigned short)RTA_LENGTH(dlen), .rta_type = type};

	memcpy(p + *len, &rta, sizeof(rta));
	memcpy(p + *len + RTA_LENGTH(0), data, dlen);
	*len += RTA_ALIGN(rta.rta_len);
}

static void test_messages(void **state)
{
	static union rtnl_buf buf;
	const uint8_t one[3] = {1, 2, 3}, two[8] = {0};
	struct rtnl_iter it;
	struct rtnl_msg msg;
	size_t len = 0;

	(void)state;
	put_msg(&buf, &len, RTM_NEWADDR, one, sizeof(one));
	put_msg(&buf, &len, RTM_DELADDR, two, sizeof(two));
	rtnl_iter_init(&it, &buf, len);
	assert_int_equal(rtnl_next(&it, &msg), 1);
	assert_int_equal(msg.h.nlmsg_type, RTM_NEWADDR);
	assert_int_equal(msg.plen, 3);
	assert_memory_equal(msg.payload, one, 3);
	assert_int_equal(rtnl_next(&it, &msg), 1);
	assert_int_equal(msg.h.nlmsg_type, RTM_DELADDR);
	assert_int_equal(msg.plen, 8);
	assert_int_equal(rtnl_next(&it, &msg), 0);
	assert_int_equal(rtnl_next(&it, &msg), 0);

	/* A datagram that ends inside a header: nothing more to read. */
	rtnl_iter_init(&it, &buf, NLMSG_HDRLEN - 1);
	assert_int_equal(rtnl_next(&it, &msg), 0);
	/* The last message without its alignment padding still reads. */
	rtnl_iter_init(&it, &buf, NLMSG_LENGTH(3));
	assert_int_equal(rtnl_next(&it, &msg), 1);
	assert_int_equal(rtnl_next(&it, &msg), 0);
}

static void test_lying_lengths(void **state)
{
	static union rtnl_buf buf;
	struct nlmsghdr h = {.nlmsg_type = RTM_NEWADDR};
	struct rtnl_iter it;
	struct rtnl_msg msg;

	(void)state;
	/* Longer than the datagram. */
	h.nlmsg_len = 64;
	memcpy(buf.b, &h, sizeof(h));
	rtnl_iter_init(&it, &buf, 40);
	assert_int_equal(rtnl_next(&it, &msg), -EBADMSG);
	/* Shorter than its own header. */
	h.nlmsg_len = NLMSG_HDRLEN - 1;
	memcpy(buf.b, &h, sizeof(h));
	rtnl_iter_init(&it, &buf, 40);
	assert_int_equal(rtnl_next(&it, &msg), -EBADMSG);
	/* Zero, which would loop for ever if it were taken. */
	h.nlmsg_len = 0;
	memcpy(buf.b, &h, sizeof(h));
	rtnl_iter_init(&it, &buf, 40);
	assert_int_equal(rtnl_next(&it, &msg), -EBADMSG);
}

static void test_attributes(void **state)
{
	static union rtnl_buf buf;
	struct ifaddrmsg ifa = {.ifa_family = AF_INET};
	const uint8_t v4[4] = {10, 1, 0, 5};
	uint8_t p[256];
	size_t plen = NLMSG_ALIGN(sizeof(ifa)), len = 0, off = 0;
	struct rtnl_iter it;
	struct rtnl_msg msg;
	struct rtnl_attr at;
	struct rtattr bad;

	(void)state;
	memcpy(p, &ifa, sizeof(ifa));
	put_attr(p, &plen, IFA_LOCAL, v4, sizeof(v4));
	put_attr(p, &plen, IFA_ADDRESS | NLA_F_NESTED, v4, sizeof(v4));
	put_msg(&buf, &len, RTM_NEWADDR, p, plen);
	rtnl_iter_init(&it, &buf, len);
	assert_int_equal(rtnl_next(&it, &msg), 1);
	assert_int_equal(rtnl_attr_next(&msg, sizeof(ifa), &off, &at), 1);
	assert_int_equal(at.type, IFA_LOCAL);
	assert_int_equal(at.len, 4);
	assert_memory_equal(at.data, v4, 4);
	assert_int_equal(rtnl_attr_next(&msg, sizeof(ifa), &off, &at), 1);
	assert_int_equal(at.type, IFA_ADDRESS); /* flags masked off */
	assert_int_equal(rtnl_attr_next(&msg, sizeof(ifa), &off, &at), 0);

	/* An attribute longer than what is left of its message. */
	bad.rta_len = 200;
	bad.rta_type = IFA_LOCAL;
	memcpy(p + NLMSG_ALIGN(sizeof(ifa)), &bad, sizeof(bad));
	len = 0;
	put_msg(&buf, &len, RTM_NEWADDR, p, plen);
	rtnl_iter_init(&it, &buf, len);
	assert_int_equal(rtnl_next(&it, &msg), 1);
	off = 0;
	assert_int_equal(rtnl_attr_next(&msg, sizeof(ifa), &off, &at), -EBADMSG);
	/* One shorter than its own header. */
	bad.rta_len = 2;
	memcpy(buf.b + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifa)), &bad, sizeof(bad));
	off = 0;
	assert_int_equal(rtnl_attr_next(&msg, sizeof(ifa), &off, &at), -EBADMSG);

	/* A message too short for its family header has no attributes. */
	len = 0;
	put_msg(&buf, &len, RTM_NEWADDR, p, 2);
	rtnl_iter_init(&it, &buf, len);
	assert_int_equal(rtnl_next(&it, &msg), 1);
	off = 0;
	assert_int_equal(rtnl_attr_next(&msg, sizeof(ifa), &off, &at), 0);
}

static void test_dump_status(void **state)
{
	static union rtnl_buf buf;
	int32_t ok = 0, fail = -EPERM;
	struct nlmsgerr err = {.error = -ENOBUFS};
	struct rtnl_iter it;
	struct rtnl_msg msg;
	size_t len = 0;

	(void)state;
	put_msg(&buf, &len, NLMSG_DONE, &ok, sizeof(ok));
	put_msg(&buf, &len, NLMSG_DONE, &fail, sizeof(fail));
	put_msg(&buf, &len, NLMSG_DONE, NULL, 0); /* old kernels: no status */
	put_msg(&buf, &len, NLMSG_ERROR, &err, sizeof(err));
	put_msg(&buf, &len, NLMSG_ERROR, &ok, 2); /* too short to say */
	put_msg(&buf, &len, RTM_NEWADDR, NULL, 0);
	rtnl_iter_init(&it, &buf, len);
	assert_int_equal(rtnl_next(&it, &msg), 1);
	assert_int_equal(rtnl_dump_status(&msg), 1);
	assert_int_equal(rtnl_next(&it, &msg), 1);
	assert_int_equal(rtnl_dump_status(&msg), -EPERM);
	assert_int_equal(rtnl_next(&it, &msg), 1);
	assert_int_equal(rtnl_dump_status(&msg), 1);
	assert_int_equal(rtnl_next(&it, &msg), 1);
	assert_int_equal(rtnl_dump_status(&msg), -ENOBUFS);
	assert_int_equal(rtnl_next(&it, &msg), 1);
	assert_int_equal(rtnl_dump_status(&msg), -EBADMSG);
	assert_int_equal(rtnl_next(&it, &msg), 1);
	assert_int_equal(rtnl_dump_status(&msg), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_lying_lengths),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_dump_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
