// SPDX-License-Identifier: Apache-2.0
/*
 * VMM threads: each starts in vmm_thread_start(), which gives it its role's
 * seccomp filter (vmm/seccomp.c) before the thread function runs. Once the
 * calling thread is filtered, a spawner thread, started unfiltered by
 * vmm_seccomp_prepare(), creates the thread instead: a thread inherits its
 * creator's filter, so a device worker started by a vCPU's MMIO write
 * would otherwise be held to the vCPU's list as well as its own.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/seccomp.h"

struct thread_start {
	enum vmm_thread_role role;
	void *(*fn)(void *);
	void *arg;
	sem_t ready; /* posted once the new thread has its filter, or failed to */
	int result;
};

static void *thread_main(void *opaque)
{
	struct thread_start *ts = opaque;
	void *(*fn)(void *) = ts->fn;
	void *arg = ts->arg;
	char name[16];
	sigset_t all;

	/* Signals are the caller's thread's business; SIGSYS reports a violation. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	snprintf(name, sizeof(name), "krun-%s", vmm_thread_role_name(ts->role));
	pthread_setname_np(pthread_self(), name);
	ts->result = vmm_seccomp_enter(ts->role);
	if (ts->result < 0) {
		sem_post(&ts->ready);
		return NULL;
	}
	sem_post(&ts->ready); /* ts is the starter's: not touched after this */
	return fn(arg);
}

static int start_here(pthread_t *thread, struct thread_start *ts)
{
	int ret;

	sem_init(&ts->ready, 0, 0);
	ret = pthread_create(thread, NULL, thread_main, ts);
	if (ret) {
		ret = -ret;
	} else {
		while (sem_wait(&ts->ready) < 0 && errno == EINTR)
			;
		ret = ts->result;
		if (ret < 0)
			pthread_join(*thread, NULL);
	}
	sem_destroy(&ts->ready);
	return ret;
}

/* ---- the spawner: one request at a time, the caller waits for its answer */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stop;
	struct thread_start *req; /* being served */
	pthread_t *req_thread;
	bool req_done;
} spawner = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *spawner_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&spawner.lock);
	for (;;) {
		while (!spawner.stop && (!spawner.req || spawner.req_done))
			pthread_cond_wait(&spawner.cond, &spawner.lock);
		if (spawner.stop)
			break;
		spawner.req->result = start_here(spawner.req_thread, spawner.req);
		spawner.req_done = true;
		pthread_cond_broadcast(&spawner.cond);
	}
	pthread_mutex_unlock(&spawner.lock);
	return NULL;
}

static int start_by_spawner(pthread_t *thread, struct thread_start *ts)
{
	int ret;

	pthread_mutex_lock(&spawner.lock);
	while (spawner.running && spawner.req)
		pthread_cond_wait(&spawner.cond, &spawner.lock);
	if (!spawner.running) {
		pthread_mutex_unlock(&spawner.lock);
		return -ESRCH;
	}
	spawner.req = ts;
	spawner.req_thread = thread;
	spawner.req_done = false;
	pthread_cond_broadcast(&spawner.cond);
	while (!spawner.req_done)
		pthread_cond_wait(&spawner.cond, &spawner.lock);
	ret = ts->result;
	spawner.req = NULL;
	pthread_cond_broadcast(&spawner.cond);
	pthread_mutex_unlock(&spawner.lock);
	return ret;
}

int vmm_seccomp_spawner_start(void)
{
	struct thread_start ts = {.role = VMM_THREAD_SPAWNER, .fn = spawner_thread};
	int ret;

	spawner.stop = false;
	ret = start_here(&spawner.thread, &ts);
	if (ret < 0)
		return ret;
	spawner.running = true;
	return 0;
}

void vmm_seccomp_spawner_stop(void)
{
	if (!spawner.running)
		return;
	pthread_mutex_lock(&spawner.lock);
	spawner.stop = true;
	pthread_cond_broadcast(&spawner.cond);
	pthread_mutex_unlock(&spawner.lock);
	pthread_join(spawner.thread, NULL);
	spawner.running = false;
}

int vmm_thread_start(pthread_t *thread, enum vmm_thread_role role, void *(*fn)(void *), void *arg)
{
	struct thread_start ts = {.role = role, .fn = fn, .arg = arg};
	int ret;

	if (vmm_seccomp_enabled() && vmm_seccomp_thread_filtered())
		ret = start_by_spawner(thread, &ts);
	else
		ret = start_here(thread, &ts);
	if (ret < 0)
		pr_err("cannot start a %s thread: %s", vmm_thread_role_name(role), strerror(-ret));
	return ret;
}
