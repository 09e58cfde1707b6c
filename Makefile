# libkrun in C: an in-process KVM microVM library.
#
#   make                 library, guest kernel bundle, CLI (into build/)
#   make check           unit tests, then the guest-booting tests: on this host
#                        when its KVM can boot standard guests, otherwise inside
#                        the KVM test host (tests/kvm-host/run.sh)
#   make check-asan      unit and API tests under ASan + UBSan
#   make install PREFIX=/usr/local DESTDIR=
#   make bench           boot, virtio-fs, virtio-blk and memory given back, against QEMU -M microvm

VERSION_MAJOR := 1
VERSION       := 1.0.0
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin

BUILD   ?= build
B       := $(abspath $(BUILD))
CC      ?= gcc
MUSLCC  ?= musl-gcc

WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -O2 -g
BASE_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude -Isrc
LIB_CFLAGS  := $(BASE_CFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP
LIB_LDLIBS  := -ldl -lpthread -lz -lbz2 -lzstd -luring -lseccomp

SONAME  := libkrun.so.$(VERSION_MAJOR)
LIBREAL := libkrun.so.$(VERSION)

LIB_SRCS := $(wildcard src/api/*.c src/vmm/*.c src/arch/x86_64/*.c src/devices/*.c \
	src/devices/legacy/*.c src/devices/virtio/*.c src/devices/virtio/*/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)

TOOLS := $(B)/krun-boot $(B)/krun-chroot

UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(wildcard tests/unit/test_*.c))
GUEST_PROGS := $(B)/tests/guest/hello-init $(B)/tests/guest/krun-probe $(B)/tests/guest/krun-stress \
	$(B)/tests/guest/exit-ioctl $(B)/tests/guest/vsock-io $(B)/tests/guest/devprobe \
	$(B)/tests/guest/balloon-hostile $(B)/tests/guest/tsi-io $(B)/tests/guest/net-io \
	$(B)/tests/guest/blk-zero $(B)/tests/guest/tsi-kernel
TEST_SCRIPTS := $(addprefix $(B)/tests/,guest-tests.sh chroot-tests.sh api-tests.sh testlib.sh hardening-tests.sh \
	examples-tests.sh manifest.sh exit-tests.sh vsock-tests.sh blk-tests.sh container-tests.sh \
	container-tests.needs balloon-tests.sh tsi-tests.sh tsi-kernel-tests.sh net-tests.sh net-tests.needs net-dhcp-tests.sh net-dhcp-tests.needs) \
	$(B)/tests/init/init-tests.sh $(B)/tests/init/krun-config.sh
INIT_TEST_CPIO := $(B)/tests/init/base.cpio
TEST_INITRAMFS := $(B)/tests/guest/hello.cpio.gz
DEVPROBE_INITRAMFS := $(B)/tests/guest/devprobe.cpio.gz
KERNEL_TEST_DIR := $(B)/tests/kernel
KERNEL_TEST_FILES := $(addprefix $(KERNEL_TEST_DIR)/,vmlinux.gz bzImage.bz2 vmlinux.zst bzImage.zboot)
NOIOPERM_KERNEL := $(B)/krunfw-noioperm/vmlinux

.PHONY: all lib krunfw tools install check check-unit check-guest check-guest-here \
	check-asan bench clean tests fuzz rootfs demo examples
.DELETE_ON_ERROR:

all: lib krunfw tools

lib: $(B)/$(LIBREAL) $(B)/$(SONAME) $(B)/libkrun.so $(B)/libkrun.pc

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

# The guest init: static (musl), embedded in the library by init_blob.c.
# musl has no Linux UAPI headers (netlink): MUSL_UAPI links Debian's
# (linux-libc-dev) into a directory of their own, so no glibc header
# comes along.
INIT := $(B)/init/krun-init
MUSL_UAPI := $(B)/musl-uapi
UAPI_ARCH := /usr/include/$(shell $(CC) -dumpmachine)
$(MUSL_UAPI)/linux:
	@mkdir -p $(MUSL_UAPI)
	ln -sfn /usr/include/linux $(MUSL_UAPI)/linux
	ln -sfn /usr/include/asm-generic $(MUSL_UAPI)/asm-generic
	ln -sfn $(UAPI_ARCH)/asm $(MUSL_UAPI)/asm

$(INIT): $(wildcard init/*.c init/*.h) src/guest_abi.h | $(MUSL_UAPI)/linux
	@mkdir -p $(dir $@)
	$(MUSLCC) -std=gnu11 $(WARN) -Os -static -Isrc -idirafter $(MUSL_UAPI) -o $@ $(filter %.c,$^)

$(B)/obj/src/vmm/init_blob.o: src/vmm/init_blob.c $(INIT)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -DKRUN_INIT_BINARY='"$(INIT)"' -c -o $@ $<

# Exported symbols are exactly the KRUN_EXPORT functions (visibility=hidden).
# libkrunfw.so.5 is found next to libkrun through $ORIGIN.
$(B)/$(LIBREAL): $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined -Wl,-z,relro -Wl,-z,now \
		-Wl,-rpath,'$$ORIGIN' $(CFLAGS) -o $@ $^ $(LIB_LDLIBS)

$(B)/$(SONAME): $(B)/$(LIBREAL)
	ln -sfn $(LIBREAL) $@

$(B)/libkrun.so: $(B)/$(SONAME)
	ln -sfn $(SONAME) $@

PC_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
	-e 's|@VERSION@|$(VERSION)|'

$(B)/libkrun.pc: libkrun.pc.in Makefile
	@mkdir -p $(B)
	$(PC_SUBST) $< > $@

krunfw:
	$(MAKE) -C krunfw BUILD=$(B)

tools: $(TOOLS)

# rpath: next to the library in build/, and PREFIX/lib once installed.
$(B)/krun-%: tools/krun-%.c $(B)/$(SONAME)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< -L$(B) -lkrun -Wl,-rpath,'$$ORIGIN:$$ORIGIN/../lib'

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 755 $(B)/$(LIBREAL) $(DESTDIR)$(LIBDIR)/
	ln -sfn $(LIBREAL) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libkrun.so
	cp -P $(B)/libkrunfw.so* $(DESTDIR)$(LIBDIR)/
	install -m 644 include/libkrun.h $(DESTDIR)$(INCDIR)/
	$(PC_SUBST) libkrun.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libkrun.pc
	install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/

# ---------------------------------------------------------------------------
# Tests

# Unit tests link the library's objects directly: internals are testable.
$(B)/tests/unit/%: tests/unit/%.c $(LIB_OBJS) tests/unit/test.h tests/unit/elf_fixture.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Itests/unit -o $@ $< $(LIB_OBJS) $(LIB_LDLIBS)

# Plain-C parts of the guest init, unit-tested on the host: the JSON reader
# and the /.krun_config.json handling (with the records' parser it extends).
INIT_JSON_SRCS := init/json.c
INIT_OCI_SRCS := init/json.c init/oci_config.c init/config.c
$(B)/tests/unit/test_json: tests/unit/test_json.c $(INIT_JSON_SRCS) init/json.h tests/unit/test.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Itests/unit -Iinit -o $@ $< $(INIT_JSON_SRCS)

$(B)/tests/unit/test_oci_config: tests/unit/test_oci_config.c $(INIT_OCI_SRCS) init/json.h init/init.h \
		tests/unit/test.h src/guest_abi.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Itests/unit -Iinit -o $@ $< $(INIT_OCI_SRCS)

# The init's DHCP client and rtnetlink code built for this host, and a
# hostile DHCP server: dhcp-tests.sh runs them in network namespaces.
INIT_NET_SRCS := init/net.c init/dhcp.c
NET_TEST_PROGS := $(B)/tests/net/dhcp-client $(B)/tests/net/dhcp-garbage
$(B)/tests/net/dhcp-client: tests/integration/net/dhcp-client.c $(INIT_NET_SRCS) init/net.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Iinit -o $@ $< $(INIT_NET_SRCS)

$(B)/tests/net/dhcp-garbage: tests/integration/net/dhcp-garbage.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $<

$(B)/tests/unit/test_dhcp: tests/unit/test_dhcp.c $(INIT_NET_SRCS) init/net.h tests/unit/test.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Itests/unit -Iinit -o $@ $< $(INIT_NET_SRCS)

# The guest side of the integration tests: static, so an initramfs holds it alone.
$(B)/tests/guest/%: tests/integration/guest/%.c
	@mkdir -p $(dir $@)
	$(MUSLCC) -std=gnu11 $(WARN) -Os -static -Isrc -o $@ $<

$(B)/tests/guest/vsock-io: tests/integration/vsock-pattern.h
$(B)/tests/guest/tsi-io $(B)/tests/guest/tsi-kernel: tests/integration/guest/inet-addr.h

# The host end of the vsock tests: runs in the test host, beside the VMM.
VSOCK_PEER := $(B)/tests/vsock-peer
$(VSOCK_PEER): tests/integration/vsock-peer.c tests/integration/vsock-pattern.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $<

# The host-side peers of the virtio-net tests (net-tests.sh).
NET_PEER := $(B)/tests/net-peer
$(NET_PEER): tests/integration/net-peer.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $<

# A bare-metal guest, loaded like a vmlinux, that drives the balloon as a
# hostile driver would (balloon-tests.sh): no libc, no SSE, linked at 2 MiB.
$(B)/tests/guest/balloon-hostile: tests/integration/guest/balloon-hostile.c src/guest_abi.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -Isrc -ffreestanding -nostdlib -static -fno-pic -no-pie \
		-mno-red-zone -mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables \
		-Wl,-e,_start -Wl,-Ttext-segment=0x200000 -Wl,-z,max-page-size=4096 \
		-Wl,--build-id=none -Wl,-z,noexecstack -o $@ $<

# A client of the public API with one option per call (api-tests.sh).
API_CLIENT := $(B)/tests/krun-api-client
$(API_CLIENT): tests/integration/api-client.c $(B)/$(SONAME)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< -L$(B) -lkrun -lpthread -Wl,-rpath,'$$ORIGIN/..'

# A client that calls the library as newer crun does (container-tests.sh):
# dlopen, like crun, so it is not linked with -lkrun.
OCI_CLIENT := $(B)/tests/krun-oci-client
$(OCI_CLIENT): tests/integration/oci-client.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< -ldl

# Debian's crun, built with --with-libkrun against include/libkrun.h and
# cached outside the tree by its package version (the first build takes
# a few minutes).
CRUN := $(B)/crun/crun
$(CRUN): scripts/build-crun.sh
	scripts/build-crun.sh $(B)/crun

$(TEST_INITRAMFS): $(GUEST_PROGS) tests/integration/mkinitramfs.sh
	tests/integration/mkinitramfs.sh $@ $(B)/tests/guest/hello-init

$(DEVPROBE_INITRAMFS): $(B)/tests/guest/devprobe tests/integration/mkinitramfs.sh
	tests/integration/mkinitramfs.sh $@ $(B)/tests/guest/devprobe

# The test kernel in krun_set_kernel()'s compressed formats, with a vmlinux
# or a bzImage inside. The kernel comes from the (phony) krunfw target, so it
# is ordered first; $(wildcard) adds it as a prerequisite once it exists.
$(KERNEL_TEST_DIR)/vmlinux.gz: $(wildcard $(B)/krunfw/vmlinux) | krunfw
	@mkdir -p $(dir $@)
	gzip -9 -n -c $(B)/krunfw/vmlinux > $@

$(KERNEL_TEST_DIR)/vmlinux.zst: $(wildcard $(B)/krunfw/vmlinux) | krunfw
	@mkdir -p $(dir $@)
	zstd -q -c $(B)/krunfw/vmlinux > $@

$(KERNEL_TEST_DIR)/bzImage.bz2: $(wildcard $(B)/krunfw/bzImage) | krunfw
	@mkdir -p $(dir $@)
	bzip2 -9 -c $(B)/krunfw/bzImage > $@

$(KERNEL_TEST_DIR)/bzImage.zboot: $(wildcard $(B)/krunfw/bzImage) tests/integration/mkzboot.sh | krunfw
	tests/integration/mkzboot.sh $(B)/krunfw/bzImage $@

# Our kernel without CONFIG_X86_IOPL_IOPERM, as upstream libkrunfw builds it,
# for exit-tests.sh: cached outside the tree under its own key (about 10
# minutes on a cache miss), after the bundled kernel so the two builds do
# not share the CPUs.
$(NOIOPERM_KERNEL): krunfw/build-test-kernel.sh krunfw/build-kernel.sh krunfw/config-fragment $(wildcard krunfw/patches/*.patch) | krunfw
	krunfw/build-test-kernel.sh $(B)/krunfw-noioperm

# Guest test scripts run from build/ so the test host, which copies build/,
# has them.
$(B)/tests/%.sh: tests/integration/%.sh
	@mkdir -p $(dir $@)
	cp $< $@

# Host files a guest test needs in the KVM test host (run-all.sh passes them).
$(B)/tests/%.needs: tests/integration/%.needs
	@mkdir -p $(dir $@)
	cp $< $@

# The init's own tests boot it from an initramfs with busybox.
$(INIT_TEST_CPIO): $(INIT) tests/integration/init/mkinitramfs.sh
	@mkdir -p $(dir $@)
	tests/integration/init/mkinitramfs.sh $@ $(INIT)

# The disk tests make and check images inside the test host, which copies
# build/ (and the libraries of every ELF file in it): the host's tools come
# along in build/tests/bin.
BLK_TEST_TOOLS := $(B)/tests/bin/qemu-img $(B)/tests/bin/mke2fs $(B)/tests/libsynccount.so \
	$(B)/tests/libseccomp-probe.so
$(B)/tests/bin/%: /usr/bin/%
	@mkdir -p $(dir $@)
	cp $< $@
$(B)/tests/bin/mke2fs: /usr/sbin/mke2fs
	@mkdir -p $(dir $@)
	cp $< $@
$(B)/tests/libsynccount.so: tests/integration/synccount.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -shared -fPIC -o $@ $< -ldl
# hardening-tests.sh: a VMM thread making a syscall its seccomp role lacks.
$(B)/tests/libseccomp-probe.so: tests/integration/seccomp-probe.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

# The disk benchmark's guest tool: static, it runs in any guest.
$(B)/bench/blkbench: bench/blkbench.c
	@mkdir -p $(dir $@)
	$(MUSLCC) -std=gnu11 $(WARN) -O2 -static -o $@ $<

$(B)/bench/tslines: bench/tslines.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $<

tests: all examples rootfs $(NET_TEST_PROGS) $(B)/bench/tslines $(B)/bench/blkbench $(BLK_TEST_TOOLS) $(UNIT_TESTS) $(GUEST_PROGS) $(API_CLIENT) $(VSOCK_PEER) $(NET_PEER) \
	$(TEST_INITRAMFS) $(DEVPROBE_INITRAMFS) $(TEST_SCRIPTS) $(OCI_CLIENT) $(CRUN) \
	$(INIT_TEST_CPIO) $(KERNEL_TEST_FILES) $(NOIOPERM_KERNEL)

# The example clients, built against an installed copy with pkg-config, as
# a user builds them; the guest tests run them.
EXAMPLES_PREFIX := $(B)/examples-prefix
examples: all
	$(MAKE) --no-print-directory install PREFIX=$(EXAMPLES_PREFIX) DESTDIR=
	PKG_CONFIG_PATH=$(EXAMPLES_PREFIX)/lib/pkgconfig $(MAKE) -C examples OUT=$(B)/examples \
		LDFLAGS=-Wl,-rpath,$(EXAMPLES_PREFIX)/lib

check: tests
	tests/run-all.sh $(B)

check-unit: tests
	tests/unit/run.sh $(B)

# Guest-booting tests in the current environment (needs a real /dev/kvm).
check-guest-here: tests
	$(B)/tests/guest-tests.sh $(B)

check-guest: tests
	tests/guest-env.sh sh $(B)/tests/guest-tests.sh $(B)

check-asan:
	$(MAKE) BUILD=$(BUILD)-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		lib $(patsubst $(B)/%,$(B)-asan/%,$(UNIT_TESTS))
	tests/unit/run.sh $(B)-asan

# libFuzzer targets (clang), each run for FUZZ_TIME seconds from the seed
# corpus in tests/fuzz/corpus/TARGET where there is one (new inputs go to
# build/fuzz/corpus-TARGET), with the dictionary tests/fuzz/TARGET.dict
# where there is one; one line per target says how many executions
# that was. The library's objects are built once more with the sanitizers and
# the fuzzer's coverage, and every target links them all.
FUZZ_TIME ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc -g -O1 -fsanitize=address,undefined
FUZZ_OBJS := $(LIB_SRCS:%.c=$(B)/fuzz/obj/%.o)

$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(B)/fuzz/obj/src/vmm/init_blob.o: src/vmm/init_blob.c $(INIT)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -DKRUN_INIT_BINARY='"$(INIT)"' -c -o $@ $<

$(B)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_vm.h tests/fuzz/fuzz_fds.h $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LIB_LDLIBS)

# The guest init's JSON reader: its own sources (init/), no library code.
$(B)/fuzz/fuzz_json: tests/fuzz/fuzz_json.c $(INIT_OCI_SRCS) init/json.h init/init.h
	@mkdir -p $(dir $@)
	clang -std=gnu11 -D_GNU_SOURCE -Isrc -Iinit -g -O1 \
		-fsanitize=fuzzer,address,undefined -o $@ $< $(INIT_OCI_SRCS)

# The guest init's DHCP reply parser: its own sources too.
$(B)/fuzz/fuzz_dhcp: tests/fuzz/fuzz_dhcp.c $(INIT_NET_SRCS) init/net.h
	@mkdir -p $(dir $@)
	clang -std=gnu11 -D_GNU_SOURCE -Isrc -Iinit -g -O1 \
		-fsanitize=fuzzer,address,undefined -o $@ $< $(INIT_NET_SRCS)

fuzz: $(FUZZ_TARGETS)
	@for f in $(FUZZ_TARGETS); do \
		t=$$(basename $$f); mkdir -p $(B)/fuzz/corpus-$$t; \
		seeds=$$(ls -d tests/fuzz/corpus/$$t 2>/dev/null); \
		dict=$$(ls tests/fuzz/$$t.dict 2>/dev/null); \
		echo "fuzz: $$t for $(FUZZ_TIME) s$${dict:+, dictionary $$dict}"; \
		KRUN_LOG_LEVEL=off $$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
			$${dict:+-dict=$$dict} $(B)/fuzz/corpus-$$t $$seeds >$(B)/fuzz/$$t.log 2>&1; \
		rc=$$?; \
		grep -E 'ERROR|SUMMARY|fds still' $(B)/fuzz/$$t.log; \
		execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(B)/fuzz/$$t.log); \
		echo "fuzz: $$t: $${execs:-?} executions in $(FUZZ_TIME) s ($$(( $${execs:-0} / $(FUZZ_TIME) ))/s), corpus $$(ls $(B)/fuzz/corpus-$$t | wc -l) new + $$(ls $$seeds 2>/dev/null | wc -l) seeds"; \
		[ $$rc -eq 0 ] || { echo "fuzz: $$t FAILED (log: $(B)/fuzz/$$t.log)"; exit 1; }; \
	done

# The README's main job: a command in a microVM, on a busybox root filesystem
# (directly, or inside the KVM test host where this host's KVM cannot).
ROOTFS := $(B)/rootfs

$(ROOTFS)/bin/busybox: scripts/mkrootfs.sh
	scripts/mkrootfs.sh $(ROOTFS)

rootfs: $(ROOTFS)/bin/busybox

$(B)/tests/demo.sh: tests/demo.sh
	@mkdir -p $(dir $@)
	cp $< $@

demo: all rootfs $(B)/tests/demo.sh
	tests/guest-env.sh $(B)/tests/demo.sh $(B); echo "demo: exit status $$?"

bench: tests
	bench/boot.sh $(B)
	bench/fs.sh $(B)
	bench/vsock.sh $(B)
	bench/blk.sh $(B)
	bench/balloon.sh $(B)
	bench/tsi.sh $(B)

clean:
	rm -rf $(B) $(B)-asan

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
