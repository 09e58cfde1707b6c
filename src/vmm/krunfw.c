// SPDX-License-Identifier: Apache-2.0
/*
 * libkrunfw.so.5, the bundled guest kernel, is loaded as soon as this
 * library is: an OCI runtime (crun's krun handler) dlopens libkrun on the
 * host, then enters the container's root before it creates a context, and
 * no libkrunfw exists there. So a constructor loads it, krun_create_ctx()
 * tries again if that failed (as upstream, which loads it there), and only
 * a VM that boots the bundled kernel fails without it, with a message that
 * names every place searched.
 *
 * Search: the directory libkrun.so itself was loaded from, then the
 * dynamic loader's own search (LD_LIBRARY_PATH, libkrun's RUNPATH,
 * /etc/ld.so.cache, the system directories).
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/krunfw.h"
#include "vmm/log.h"

static pthread_mutex_t krunfw_lock = PTHREAD_MUTEX_INITIALIZER;
static void *krunfw_handle;
static char krunfw_failure[PATH_MAX + 1024]; /* why the last attempt failed */

/* Directory of the object that holds this function, with a final '/'. */
static int own_directory(char *dir, size_t size)
{
	Dl_info info;
	const char *slash;
	size_t len;

	if (!dladdr((void *)own_directory, &info) || !info.dli_fname ||
	    !(slash = strrchr(info.dli_fname, '/')))
		return -1;
	len = (size_t)(slash - info.dli_fname) + 1;
	if (len >= size)
		return -1;
	memcpy(dir, info.dli_fname, len);
	dir[len] = '\0';
	return 0;
}

static void *try_load(void)
{
	char dir[PATH_MAX], path[PATH_MAX + sizeof(KRUNFW_SONAME)], first[sizeof(path) + 300] = "";
	const char *ldpath = getenv("LD_LIBRARY_PATH");
	void *h;

	if (!own_directory(dir, sizeof(dir))) {
		snprintf(path, sizeof(path), "%s%s", dir, KRUNFW_SONAME);
		h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (h)
			return h;
		snprintf(first, sizeof(first), "%s (%.255s); ", path, dlerror());
	}
	h = dlopen(KRUNFW_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h)
		return h;
	snprintf(krunfw_failure, sizeof(krunfw_failure),
		 "searched %sthen the loader's path (LD_LIBRARY_PATH=%s, libkrun's RUNPATH, "
		 "/etc/ld.so.cache, /lib, /usr/lib): %s",
		 first, ldpath ? ldpath : "unset", dlerror());
	return NULL;
}

void krunfw_preload(void)
{
	pthread_mutex_lock(&krunfw_lock);
	if (!krunfw_handle)
		krunfw_handle = try_load();
	pthread_mutex_unlock(&krunfw_lock);
}

/* At load time: before any caller can chroot, pivot_root or unshare. */
__attribute__((constructor)) static void krunfw_load_early(void)
{
	krunfw_preload();
}

int krunfw_kernel(const char **data, uint64_t *load_addr, uint64_t *entry, size_t *size)
{
	krunfw_get_kernel_fn get_kernel;
	char *image;

	krunfw_preload();
	pthread_mutex_lock(&krunfw_lock);
	if (!krunfw_handle) {
		pthread_mutex_unlock(&krunfw_lock);
		pr_err("cannot load the guest kernel bundle %s (it is loaded with libkrun, "
		       "before the caller changes its root); %s",
		       KRUNFW_SONAME, krunfw_failure);
		return -ENOENT;
	}
	get_kernel = (krunfw_get_kernel_fn)dlsym(krunfw_handle, "krunfw_get_kernel");
	pthread_mutex_unlock(&krunfw_lock);
	image = get_kernel ? get_kernel(load_addr, entry, size) : NULL;
	if (!image || !*size) {
		pr_err("%s does not provide a kernel", KRUNFW_SONAME);
		return -ENOEXEC;
	}
	*data = image;
	return 0;
}
