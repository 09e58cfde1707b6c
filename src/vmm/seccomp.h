/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_SECCOMP_H
#define KRUN_SECCOMP_H

#include <pthread.h>
#include <stdbool.h>

/*
 * Every VMM thread runs under a seccomp allowlist for its role, installed
 * when the VM starts (vmm/seccomp.c has the lists, by role). A syscall
 * outside the list logs the role and the syscall number and kills the
 * process with SIGSYS. KRUN_SECCOMP=0 in the environment turns the filter
 * off, KRUN_SECCOMP=log lets violations through and has the kernel log
 * them (audit "type=1326" lines naming the thread and the syscall, with
 * auditing on): both for debugging.
 *
 * A device that starts a thread does it with vmm_thread_start() and the role
 * whose list covers what the thread does; a syscall it needs that its role
 * lacks goes into that role's list in seccomp.c, with a comment saying who
 * needs it.
 */
enum vmm_thread_role {
	VMM_THREAD_VCPU,    /* KVM_RUN, and the MMIO/port I/O handlers it calls */
	VMM_THREAD_MAIN,    /* the caller of krun_start_enter(): the event loop, then exit */
	VMM_THREAD_FS,	    /* virtio-fs workers: the FUSE server on the shared directory */
	VMM_THREAD_BLK,	    /* virtio-blk queue threads (io_uring) and their sync pool */
	VMM_THREAD_SOCKET,  /* vsock and network devices: host sockets, tap */
	VMM_THREAD_CONSOLE, /* console port readers and output writers */
	VMM_THREAD_SPAWNER, /* starts the threads asked for once filters are on */
	VMM_THREAD_ROLES,
};

/*
 * pthread_create() for VMM threads: the new thread gets the role's filter
 * before fn runs, with every signal blocked but SIGSYS. Once filters are on,
 * the thread is started by a spawner thread (a thread inherits its
 * creator's filter, and a vCPU's is narrower than a device worker's), so it
 * can be called from any VMM thread. Returns 0 or a negative errno.
 */
int vmm_thread_start(pthread_t *thread, enum vmm_thread_role role, void *(*fn)(void *), void *arg);

/*
 * Called by vm_run() before the first VMM thread starts: reads KRUN_SECCOMP,
 * compiles every role's filter and starts the spawner. 0 or a negative errno.
 */
int vmm_seccomp_prepare(void);
/* The calling thread takes the role's filter (last of all: the caller's thread). */
int vmm_seccomp_enter(enum vmm_thread_role role);
/* Stops the spawner and frees the filters (a VM that failed to start). */
void vmm_seccomp_release(void);
bool vmm_seccomp_enabled(void);
const char *vmm_thread_role_name(enum vmm_thread_role role);

/* Between seccomp.c and thread.c. */
bool vmm_seccomp_thread_filtered(void);
int vmm_seccomp_spawner_start(void);
void vmm_seccomp_spawner_stop(void);

#endif
