/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TSI, Transparent Socket Impersonation: the guest kernel (libkrunfw's
 * patches, booted with tsi_hijack / tsi_hijack_unix) turns the AF_INET,
 * AF_INET6 and AF_UNIX sockets of guest programs into sockets of its
 * AF_TSI/AF_TSI6/AF_TSIU families, which ask the VMM, over vsock, to make
 * the real socket on the host and carry its data.
 *
 * The wire protocol (the same as upstream libkrun's, so that either kernel
 * works with either VMM):
 *
 *  - Control messages are vsock datagrams (type 3, op RW) from the guest's
 *    control socket (any port, "ctrl") to host CID 2, dst_port = the message
 *    number below. Replies are datagrams from src_port = the same number to
 *    dst_port = ctrl, with len = the exact size of the reply.
 *  - Payloads are packed little-endian; addresses are Linux struct sockaddr
 *    bytes (u16 family in the guest's byte order, then port and address in
 *    network order) in a 128-byte field with its length beside it.
 *  - Each guest TSI socket has a vsock port, svm_port. The VMM's proxy for it
 *    is keyed (svm_port, 620); a proxy for a connection a host listener took
 *    is keyed (guest listening port, the host side's vsock port of it).
 *  - Stream data goes over an ordinary vsock stream connection from svm_port
 *    to host port 620 (after CONNECT) or from the VMM to the guest's
 *    listening vsock port (after LISTEN), with the usual credit. Our
 *    extension: with tsi_pipeline on the guest's command line (ours puts it
 *    there), the guest may connect to port 620 before CONNECT or its answer;
 *    the VMM holds that connect and answers it with CONNECT's result.
 *  - UDP data goes to the host as datagrams to port 1028 (or any port that is
 *    not a control message) from svm_port, and comes back as datagrams from
 *    port 1028 to svm_port (upstream sends them from port 0; the guest looks
 *    only at the destination). A datagram larger than the guest's receive
 *    buffer is cut to it.
 *
 *  port  message        request payload                        reply
 *  1024  PROXY_CREATE   u32 svm_port, u16 family, u16 type     none
 *  1025  CONNECT        u32 svm_port, u32 addr_len, addr[128]  i32 result (maybe later)
 *  1026  GETNAME        u32 svm_port, u32 peer_port, u32 peer  i32 result, u32 addr_len, addr[128]
 *  1027  SENDTO_ADDR    as CONNECT                             none
 *  1028  SENDTO_DATA    the datagram                           none
 *  1029  LISTEN         u32 svm_port, u32 vm_port, u32 backlog, u32 addr_len, addr[128]
 *                                                              i32 result
 *  1030  ACCEPT         u32 svm_port, i32 flags                i32 result (maybe later)
 *  1031  PROXY_RELEASE  u32 svm_port, u32 peer_port            none
 *
 * Results are 0 or a negative Linux errno.
 */
#ifndef KRUN_VSOCK_TSI_H
#define KRUN_VSOCK_TSI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "devices/virtio/vsock/vsock.h"

#define TSI_PROXY_PORT	  620 /* stream proxies connect here */
#define TSI_PROXY_CREATE  1024
#define TSI_CONNECT	  1025
#define TSI_GETNAME	  1026
#define TSI_SENDTO_ADDR	  1027
#define TSI_SENDTO_DATA	  1028
#define TSI_LISTEN	  1029
#define TSI_ACCEPT	  1030
#define TSI_PROXY_RELEASE 1031

#define TSI_ADDR_MAX 128 /* the address field of the messages */

/* Guest socket types in PROXY_CREATE (Linux values). */
#define TSI_SOCK_STREAM 1
#define TSI_SOCK_DGRAM	2

/* The guest's O_NONBLOCK in ACCEPT's flags (Linux x86). */
#define TSI_O_NONBLOCK 04000

/* The features of krun_add_vsock() (KRUN_TSI_HIJACK_*). */
#define TSI_INET (1u << 0)
#define TSI_UNIX (1u << 1)

/* A control message, parsed and checked (the address not yet: tsi_addr_check). */
struct tsi_msg {
	uint32_t port; /* TSI_* */
	uint32_t svm_port;
	uint32_t peer_port; /* GETNAME, PROXY_RELEASE */
	uint32_t vm_port;   /* LISTEN */
	uint32_t backlog;   /* LISTEN */
	uint32_t peer;	    /* GETNAME: nonzero for the peer's name */
	int32_t flags;	    /* ACCEPT */
	uint16_t family;    /* PROXY_CREATE */
	uint16_t type;	    /* PROXY_CREATE */
	uint32_t addr_len;  /* CONNECT, SENDTO_ADDR, LISTEN: at most TSI_ADDR_MAX */
	uint8_t addr[TSI_ADDR_MAX];
};

enum tsi_verdict {
	TSI_MSG_OK,
	TSI_MSG_NOT_CONTROL, /* not a control message port: data */
	TSI_MSG_SHORT,	     /* shorter than its message */
	TSI_MSG_BAD_ADDR_LEN /* addr_len over 128 or beyond the payload */
};

/* The control message in payload[0..len) sent to dst_port. */
enum tsi_verdict tsi_msg_parse(uint32_t dst_port, const uint8_t *payload, uint32_t len,
			       struct tsi_msg *m);

/* The largest request payload: LISTEN's. */
#define TSI_MSG_MAX (16 + TSI_ADDR_MAX)

/*
 * A guest address for a host socket of "family" (AF_INET, AF_INET6 or
 * AF_UNIX): checked and copied into *sa, *sa_len set. -EAFNOSUPPORT for
 * another family or one not matching, -EINVAL for a short or malformed
 * address (unix: only absolute paths, NUL-terminated within the field).
 */
int tsi_addr_check(int family, const uint8_t *addr, uint32_t len, struct sockaddr_storage *sa,
		   socklen_t *sa_len);

/* May a proxy of this family/type be made with these TSI_* features? */
bool tsi_family_allowed(uint32_t features, uint16_t family, uint16_t type);

struct tsi_port_pair {
	uint16_t host, guest;
};

/*
 * The host port a guest listener on guest_port gets: with no map (NULL),
 * the same port; otherwise the mapped one, or -1 when it is unmapped.
 * Port 0 (the guest asks the kernel for any) is kept only without a map.
 */
int tsi_port_map_lookup(const struct tsi_port_pair *map, unsigned int n, uint16_t guest_port);

/* ---- tsi.c --------------------------------------------------------------- */

/* Proxies (host sockets) a guest may hold at once; PROXY_CREATE past it is refused. */
#define TSI_MAX_PROXIES 512
/* Immediate replies waiting for receive buffers; transmit waits when full. */
#define TSI_REPLY_RING 64
/* Blocked accepts on one listener at once. */
#define TSI_MAX_WAITING_ACCEPTS 64

struct tsi_config {
	uint32_t features; /* TSI_* */
	bool port_map_set; /* false: every guest port on the same host port */
	const struct tsi_port_pair *port_map;
	unsigned int nport_map;
};

int tsi_create(struct vsock_core *vc, const struct tsi_config *cfg, struct vsock_backend **out);
/* The driver reset the device: every proxy goes. */
void tsi_reset(struct vsock_backend *b);
/* The VM stops: unix sockets the guest listened on are removed. */
void tsi_unlink(struct vsock_backend *b);
void tsi_free(struct vsock_backend *b);
/* Proxies in use (tests). */
unsigned int tsi_nproxies(const struct vsock_backend *b);

#endif
