# libkrun in C: an in-process KVM microVM library.
#
#   make                 library, guest kernel bundle, CLI (into build/)
#   make check           unit tests, then the guest-booting tests: on this host
#                        when its KVM can boot standard guests, otherwise inside
#                        the KVM test host (tests/kvm-host/run.sh)
#   make check-asan      unit and API tests under ASan + UBSan
#   make install PREFIX=/usr/local DESTDIR=
#   make bench           boot-time benchmark against QEMU -M microvm

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
LIB_LDLIBS  := -ldl -lpthread

SONAME  := libkrun.so.$(VERSION_MAJOR)
LIBREAL := libkrun.so.$(VERSION)

LIB_SRCS := $(wildcard src/api/*.c src/vmm/*.c src/arch/x86_64/*.c src/devices/legacy/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)

TOOLS := $(B)/krun-boot

UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(wildcard tests/unit/test_*.c))
GUEST_PROGS := $(B)/tests/guest/hello-init
TEST_INITRAMFS := $(B)/tests/guest/hello.cpio.gz

.PHONY: all lib krunfw tools install check check-unit check-guest check-guest-here \
	check-asan bench clean tests
.DELETE_ON_ERROR:

all: lib krunfw tools

lib: $(B)/$(LIBREAL) $(B)/$(SONAME) $(B)/libkrun.so $(B)/libkrun.pc

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

# Exported symbols are exactly the KRUN_EXPORT functions (visibility=hidden).
# libkrunfw.so.5 is found next to libkrun through $ORIGIN.
$(B)/$(LIBREAL): $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined -Wl,-z,relro -Wl,-z,now \
		-Wl,-rpath,'$$ORIGIN' $(CFLAGS) -o $@ $^ $(LIB_LDLIBS)

$(B)/$(SONAME): $(B)/$(LIBREAL)
	ln -sfn $(LIBREAL) $@

$(B)/libkrun.so: $(B)/$(SONAME)
	ln -sfn $(SONAME) $@

$(B)/libkrun.pc: libkrun.pc.in Makefile
	@mkdir -p $(B)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' $< > $@

krunfw:
	$(MAKE) -C krunfw BUILD=$(B)

tools: $(TOOLS)

$(B)/krun-%: tools/krun-%.c $(B)/$(SONAME)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< -L$(B) -lkrun -Wl,-rpath,'$$ORIGIN'

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 755 $(B)/$(LIBREAL) $(DESTDIR)$(LIBDIR)/
	ln -sfn $(LIBREAL) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libkrun.so
	cp -P $(B)/libkrunfw.so* $(DESTDIR)$(LIBDIR)/
	install -m 644 include/libkrun.h $(DESTDIR)$(INCDIR)/
	install -m 644 $(B)/libkrun.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/

# ---------------------------------------------------------------------------
# Tests

# Unit tests link the library's objects directly: internals are testable.
$(B)/tests/unit/%: tests/unit/%.c $(LIB_OBJS) tests/unit/test.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Itests/unit -o $@ $< $(LIB_OBJS) $(LIB_LDLIBS)

# The guest side of the integration tests: static, so an initramfs holds it alone.
$(B)/tests/guest/%: tests/integration/guest/%.c
	@mkdir -p $(dir $@)
	$(MUSLCC) -std=gnu11 $(WARN) -Os -static -Isrc -o $@ $<

$(TEST_INITRAMFS): $(GUEST_PROGS) tests/integration/mkinitramfs.sh
	tests/integration/mkinitramfs.sh $@ $(B)/tests/guest/hello-init

# The guest test script runs from build/ so the test host, which copies
# build/, has it.
$(B)/tests/guest-tests.sh: tests/integration/guest-tests.sh
	@mkdir -p $(dir $@)
	cp $< $@

$(B)/bench/tslines: bench/tslines.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $<

tests: all $(B)/bench/tslines $(UNIT_TESTS) $(TEST_INITRAMFS) $(B)/tests/guest-tests.sh

check: tests
	tests/run-all.sh $(B)

check-unit: tests
	tests/unit/run.sh $(B)

# Guest-booting tests in the current environment (needs a real /dev/kvm).
check-guest-here: tests
	$(B)/tests/guest-tests.sh $(B)

check-guest: tests
	tests/guest-env.sh $(B) $(B)/tests/guest-tests.sh $(B)

check-asan:
	$(MAKE) BUILD=$(BUILD)-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		lib $(patsubst $(B)/%,$(B)-asan/%,$(UNIT_TESTS))
	tests/unit/run.sh $(B)-asan

bench: tests
	bench/boot.sh $(B)

clean:
	rm -rf $(B) $(B)-asan

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
