/* Typed, length-checked messages between the daemon's processes (the
 * sensor and the parent), in the discipline of OpenBSD's imsg: every
 * message type has a declared length (exact, or a range for the few that
 * carry a variable part) and says whether it carries a file descriptor;
 * a message that breaks its type's declaration, or of a type the
 * receiver does not know, is a protocol error and the receiver ends the
 * connection.  Nothing is parsed beyond the header: the payload is handed
 * over as bytes of a checked length, for the caller to copy into its own
 * fixed-size structure.
 *
 * The transport is a SOCK_SEQPACKET socketpair: one message is one
 * datagram (no reassembly, no partial reads), delivery is reliable and in
 * order, and the peer's death is an end of file.  Both ends are
 * non-blocking: a full socket is -EAGAIN for the sender to handle (the
 * parent never waits for its sensor).  Nothing here allocates. */
#ifndef QD_IPC_H
#define QD_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The largest payload of any message. */
#define IPC_MAX_PAYLOAD (128 * 1024)

struct ipc_hdr {
	uint16_t type;
	uint16_t flags; /* 0; anything else is refused */
	uint32_t len;	/* of the payload */
};

/* What the receiver accepts of one type. */
struct ipc_type {
	uint16_t type;	  /* nonzero */
	uint32_t min_len; /* min_len == max_len: exactly that long */
	uint32_t max_len;
	bool fd; /* carries exactly one descriptor (else none) */
};

struct ipc_stats {
	uint64_t sent, received;
	uint64_t full; /* sends refused with -EAGAIN */
};

struct ipc {
	int fd;
	const struct ipc_type *types; /* borrowed */
	unsigned ntypes;
	struct ipc_stats st;
	/* The last received message's header and payload, aligned for any
	 * structure the payload is copied into. */
	union {
		struct ipc_hdr h;
		max_align_t align;
		uint8_t b[sizeof(struct ipc_hdr) + IPC_MAX_PAYLOAD + 1];
	} buf;
};

struct ipc_msg {
	uint16_t type;
	const void *data; /* in the ipc's buffer, valid until the next receive */
	size_t len;
	int fd; /* -1: none; else the receiver's to close */
};

/* A connected pair, non-blocking and close-on-exec.  0 or -errno. */
int ipc_pair(int fds[2]);

/* Takes fd (closed by ipc_close()); types is what this end accepts. */
void ipc_init(struct ipc *c, int fd, const struct ipc_type *types, unsigned ntypes);
void ipc_close(struct ipc *c);

/* Sends one message; fd >= 0 passes that descriptor along (it stays
 * open here).  0; -EAGAIN when the socket is full (nothing was sent);
 * -EMSGSIZE beyond IPC_MAX_PAYLOAD; -EPIPE when the peer has gone;
 * -errno otherwise. */
int ipc_send(struct ipc *c, uint16_t type, const void *data, size_t len, int fd);

/* Receives one message into m.  1; 0 at end of file (the peer closed or
 * died); -EAGAIN when none is queued; -EPROTO for a message that breaks
 * the declarations (unknown type, wrong length, flags set, a descriptor
 * where none belongs or none where one must be, truncation): any
 * descriptor that came with it is closed, and the caller must end the
 * connection; -errno otherwise. */
int ipc_recv(struct ipc *c, struct ipc_msg *m);

/* The declaration of type in types, NULL when unknown (for tests and for
 * the checks of ipc_recv()). */
const struct ipc_type *ipc_type_find(const struct ipc_type *types, unsigned ntypes, uint16_t type);

#endif
