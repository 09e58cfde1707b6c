#!/bin/sh
# balloon-tests.sh BUILD: the devices every VM has, seen from outside.
#  - virtio-balloon free page reporting: a guest touches 300 MiB and frees
#    it; the VMM's RSS (read here, from /proc/PID/status) rises by about
#    300 MiB, then falls back by >= 250 MiB within 10 s. With reporting
#    switched off (KRUN_TEST_BALLOON=no-reporting) it does not fall: the
#    device is what gives the memory back.
#  - a balloon target set by the host: the guest inflates to it.
#  - virtio-rng: /dev/hwrng yields 1 MiB; two VMs get different bytes.
#  - a hostile balloon driver: refused ranges, logged once, the VM runs on.
# POSIX sh: it runs under busybox inside the KVM test host.
build=$1
boot="$build/krun-boot"
initrd="$build/tests/guest/devprobe.cpio.gz"
work=$(mktemp -d)
. "$(dirname "$0")/testlib.sh"

rss_mib() { awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }

# wait_line PID TEXT SECONDS: until TEXT is in $work/out, or PID ended.
wait_line() {
	deadline=$(($(now_ms) + $3 * 1000))
	while [ "$(now_ms)" -lt $deadline ]; do
		grep -q "$2" "$work/out" 2>/dev/null && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# balloon_run LABEL: boot the 300 MiB guest in the background and measure.
# Sets $base, $peak (MiB at "ready" and after "touched"), $low (lowest RSS
# seen in the 10 s after "freed") and $fall_ms (when it fell by 250 MiB, or
# empty).
balloon_run() {
	base=0 peak=0 low=0 fall_ms=
	"$boot" --memory 512 --append "krun_test_mode=balloon krun_test_idle=20" "$initrd" \
		>"$work/out" 2>"$work/err" &
	pid=$!
	if wait_line $pid "devprobe: mode" 240; then
		base=$(rss_mib $pid)
	fi
	if wait_line $pid "balloon: touched" 120; then
		sleep 1
		peak=$(rss_mib $pid)
	fi
	if wait_line $pid "balloon: freed" 60; then
		start=$(now_ms)
		low=$peak
		while [ $(($(now_ms) - start)) -lt 10000 ]; do
			r=$(rss_mib $pid)
			[ -n "$r" ] && [ "$r" -lt "$low" ] && low=$r
			if [ -z "$fall_ms" ] && [ $((peak - low)) -ge 250 ]; then
				fall_ms=$(($(now_ms) - start))
			fi
			sleep 0.25
		done
	fi
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	echo "     $1: RSS $base MiB at boot, $peak MiB touched, $low MiB within 10 s of the free" \
		"(fell by 250 MiB in ${fall_ms:-never} ms)"
}

balloon_run "reporting on"
check "reporting: RSS rose by about 300 MiB while the guest held it" \
	[ $((peak - base)) -ge 280 ]
check "reporting: RSS fell back by >= 250 MiB within 10 s of the guest's free" \
	[ -n "$fall_ms" ]
check "reporting: no guest range was refused" sh -c "! grep -q refused '$work/err'"

KRUN_TEST_BALLOON=no-reporting balloon_run "reporting off"
check "reporting off: RSS rose by about 300 MiB" [ $((peak - base)) -ge 280 ]
check "reporting off: RSS did not fall (the balloon is what gives memory back)" \
	[ $((peak - low)) -lt 50 ]

# A host-driven target (KRUN_TEST_BALLOON=target=MIB sets num_pages): the
# guest inflates the balloon to it through the inflate queue, so its free
# memory drops by as much, and it tells the device how far it got.
meminfo_run() { # LABEL: sets $free (KiB)
	run_timed "$1" "$boot" --log-level 4 --append "krun_test_mode=meminfo krun_test_hold=20" "$initrd"
	free=$(sed -n 's/^meminfo: free=\([0-9]*\).*/\1/p' "$work/out" | tr -d '\r')
	echo "     $1: MemFree ${free:-?} KiB"
}
meminfo_run "no target"
free_before=${free:-0}
check "stats: the guest's memory statistics reach the log at debug level" \
	grep -q "virtio-balloon: guest memory: .*free-memory=[0-9]" "$work/err"
KRUN_TEST_BALLOON=target=256 meminfo_run "target 256 MiB"
check "target: the guest put 65536 pages in the balloon and said so" \
	grep -q "the guest holds 65536 pages in the balloon (target 65536)" "$work/err"
check "target: its free memory dropped by >= 240 MiB" \
	[ $((free_before - ${free:-0})) -ge $((240 * 1024)) ]

# A hostile driver (a bare-metal guest: tests/integration/guest/balloon-hostile.c)
# reports ranges outside RAM, of zero length, across both edges of the MMIO
# hole (4 GiB of RAM: the hole is inside it), over its own image, unaligned:
# each refused, each kind logged once, the good pages around them given
# back, and the VM runs on to report its own checks.
run_timed "hostile balloon driver" "$boot" --memory 4096 \
	--kernel "$build/tests/guest/balloon-hostile" --kernel-format elf "$initrd"
sed -n 's/^balloon-hostile: /     guest: /p' "$work/out"
check "hostile: the guest's checks all pass and it reports status 0" \
	sh -c "[ $status -eq 0 ] && grep -q 'all checks passed' '$work/out'"
once() { [ "$(grep -c "refused.*$1" "$work/err")" -eq 1 ]; }
check "hostile: outside RAM / across the hole: refused, logged once" \
	once "outside guest RAM or across the MMIO hole"
check "hostile: zero length: refused, logged once" once "zero length"
check "hostile: over the kernel image: refused, logged once" once "overlaps the kernel"
check "hostile: not whole pages: refused, logged once" once "not whole 4 KiB pages"
grep "refused" "$work/err" | sed 's/^/     /'

hwrng_run() { # LABEL: sets $line, the guest's hwrng line
	run_timed "$1" "$boot" --append "krun_test_mode=hwrng" "$initrd"
	line=$(grep -a "hwrng:" "$work/out" | tr -d '\r')
	echo "     $line"
}
hwrng_run "hwrng VM 1"
first=$line
check "hwrng: the guest reads 1 MiB from /dev/hwrng, served by virtio-rng" \
	sh -c "[ $status -eq 0 ] && echo '$first' | grep -q 'rng=virtio_rng.0 bytes=1048576 '"
chi2=$(echo "$first" | sed -n 's/.*chi2=\([0-9]*\).*/\1/p')
# 255 degrees of freedom: mean 255, sd 22.6; 400 is beyond 6 sd.
check "hwrng: the byte counts look uniform (chi-square ${chi2:-?} < 400)" \
	[ "${chi2:-999}" -lt 400 ]
hwrng_run "hwrng VM 2"
check "hwrng: a second VM gets different bytes" \
	sh -c "[ $status -eq 0 ] && [ -n '$line' ] && [ '${first#*hash=}' != '${line#*hash=}' ]"

rm -rf "$work"
echo "balloon: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
