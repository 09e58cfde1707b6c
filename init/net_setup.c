// SPDX-License-Identifier: Apache-2.0
/*
 * The guest's network, before the workload starts: loopback always up;
 * every virtio-net interface up (eth0, eth1... in the VMM's order), and
 * configured by DHCP when a "net_dhcp" record names it, else left to the
 * workload, as upstream does; with TSI ("tsi_hijack" on), a dummy interface
 * with an address so that programs looking for a network find one. Nothing
 * here is fatal: a failure is one line and the workload runs anyway.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "init.h"
#include "net.h"

/* Per interface; passt answers at once, a server that does not is given up. */
#define DHCP_TIMEOUT_MS 5000

/* As upstream: TEST-NET-3, which no real destination (or DNS server) uses. */
#define TSI_DUMMY_IF	 "dummy0"
#define TSI_DUMMY_ADDR	 "203.0.113.1"
#define TSI_DUMMY_PREFIX 24
/* For a root without /etc/resolv.conf under TSI: a public resolver. */
#define TSI_RESOLVER "1.1.1.1"

#define RESOLV_CONF "/etc/resolv.conf"

/* lo is always interface 1 (LOOPBACK_IFINDEX): this works without /sys too. */
static void loopback_up(void)
{
	int index = net_ifindex("lo"), err;

	err = net_link_up(index > 0 ? index : 1);
	if (err)
		say("warning: cannot bring up the loopback interface: %s", strerror(-err));
}

/* The interface's driver is virtio_net (its device's driver link says so). */
static bool is_virtio_net(const char *ifname)
{
	char path[96], target[256];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/net/%s/device/driver", ifname);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	base = strrchr(target, '/');
	return !strcmp(base ? base + 1 : target, "virtio_net");
}

static void virtio_net_up(void)
{
	DIR *dir = opendir("/sys/class/net");
	struct dirent *e;
	int index, err;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.' || !is_virtio_net(e->d_name))
			continue;
		index = net_ifindex(e->d_name);
		err = index < 0 ? index : net_link_up(index);
		if (err)
			say("warning: cannot bring up %s: %s", e->d_name, strerror(-err));
	}
	closedir(dir);
}

static void dhcp_interfaces(const struct config *cfg)
{
	struct dhcp_lease lease;

	for (size_t i = 0; i < cfg->nnet_dhcp; i++) {
		if (net_ifindex(cfg->net_dhcp[i]) < 0) {
			say("net_dhcp: no interface %.32s in the guest", cfg->net_dhcp[i]);
			continue;
		}
		dhcp_configure(cfg->net_dhcp[i], DHCP_TIMEOUT_MS, RESOLV_CONF, &lease);
	}
}

/*
 * TSI hijacks the guest's sockets: the kernel's tsi_hijack parameter says
 * so, in sysfs. "tsi_hijack" on a command line whose kernel lacks the
 * parameter (a kernel without TSI) hijacks nothing, so it gets no dummy
 * network that would tell programs there is one.
 */
static bool tsi_hijack_on(void)
{
	char c = 0;
	int fd;

	fd = open("/sys/module/kernel/parameters/tsi_hijack", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == 'Y' || c == '1';
}

static void tsi_dummy(void)
{
	uint32_t resolver = inet_addr(TSI_RESOLVER);
	int index = net_ifindex(TSI_DUMMY_IF), err = 0;

	/* A kernel with CONFIG_DUMMY=y makes dummy0 itself, down. */
	if (index < 0) {
		err = net_dummy_create(TSI_DUMMY_IF);
		index = err ? err : net_ifindex(TSI_DUMMY_IF);
	}
	if (index >= 0)
		err = net_addr_add(index, inet_addr(TSI_DUMMY_ADDR), TSI_DUMMY_PREFIX);
	if (index >= 0 && !err)
		err = net_link_up(index);
	if (index < 0 || err)
		say("TSI: no dummy interface %s (a kernel without CONFIG_DUMMY?): %s", TSI_DUMMY_IF,
		    strerror(-(index < 0 ? index : err)));
	/* Only a writable root without one gets a resolv.conf. */
	err = net_write_resolv_conf(RESOLV_CONF, &resolver, 1, false);
	if (err && err != -EEXIST && err != -EROFS && err != -ENOENT)
		say("TSI: cannot write %s: %s", RESOLV_CONF, strerror(-err));
}

void network_setup(const struct config *cfg)
{
	loopback_up();
	virtio_net_up();
	dhcp_interfaces(cfg);
	if (tsi_hijack_on())
		tsi_dummy();
}
