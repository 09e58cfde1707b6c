// SPDX-License-Identifier: Apache-2.0
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/kvm.h"
#include "vmm/log.h"

#define CPUID_1_ECX_VMX	       (1u << 5)
#define CPUID_80000001_ECX_SVM (1u << 2)

int kvm_open(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int version;

	if (fd < 0) {
		int err = errno;

		pr_err("cannot open /dev/kvm: %s", strerror(err));
		return -err;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		pr_err("/dev/kvm speaks API version %d, this library needs %d", version,
		       KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	return fd;
}

static bool host_has_hw_virt(void)
{
	unsigned int eax, ebx, ecx, edx;

	if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & CPUID_1_ECX_VMX))
		return true;
	if (__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx) && (ecx & CPUID_80000001_ECX_SVM))
		return true;
	return false;
}

static bool module_loaded(const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return access(path, F_OK) == 0;
}

bool kvm_can_boot_standard_guests(char *why, size_t why_len)
{
	/*
	 * KVM proper needs VMX or SVM. A /dev/kvm on a CPU that has neither is a
	 * paravirtual hypervisor (kvm_pvm): it only runs guests built for it,
	 * and an ordinary kernel would be emulated instruction by instruction
	 * until it dies on an emulation failure.
	 */
	if (host_has_hw_virt())
		return true;
	snprintf(why, why_len,
		 "/dev/kvm is %s on a CPU without VMX or SVM: it cannot run standard "
		 "(non-PVM) guest kernels",
		 module_loaded("kvm_pvm") ? "kvm_pvm (paravirtual KVM)" : "a software KVM");
	return false;
}

int kvm_max_vcpus(void)
{
	int fd = kvm_open();
	int n;

	if (fd < 0)
		return fd;
	n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (n <= 0)
		n = 4; /* KVM's documented floor when the capability is absent */
	close(fd);
	return n;
}

static int read_bool_param(const char *path)
{
	char c = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	if (fread(&c, 1, 1, f) != 1)
		c = 0;
	fclose(f);
	return c == 'Y' || c == 'y' || c == '1';
}

int kvm_nested_supported(void)
{
	char why[160];
	int ret;

	if (!kvm_can_boot_standard_guests(why, sizeof(why)))
		return 0;
	ret = read_bool_param("/sys/module/kvm_intel/parameters/nested");
	if (ret < 0)
		ret = read_bool_param("/sys/module/kvm_amd/parameters/nested");
	return ret < 0 ? 0 : ret;
}
