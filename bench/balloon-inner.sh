#!/bin/sh
# balloon-inner.sh BUILD [RUNS]: memory given back, ours against QEMU, run
# where KVM boots standard guests (bench/balloon.sh picks the place). Same
# kernel (the bundled vmlinux; QEMU boots it through PVH), same initramfs
# (build/tests/guest/devprobe.cpio.gz), same page reporting order, 1 vCPU,
# 512 MiB:
#   krun:  krun-boot: COM1 console, virtio-rng, virtio-balloon (implicit)
#   qemu:  -M microvm, ISA serial console, virtio-rng-device,
#          virtio-balloon-device,free-page-reporting=on (modern virtio-mmio)
# 1. Free page reporting: the guest touches 300 MiB, frees it; the VMM's RSS
#    is sampled here every 100 ms: how much comes back, and how fast.
# 2. Idle footprint: the guest idles; 15 s after its init started, the
#    VMM's own overhead = its RSS minus the guest RAM mapping's resident
#    pages (both from /proc/PID/smaps), and the largest other mappings.
build=$1
runs=${2:-3}
initrd="$build/tests/guest/devprobe.cpio.gz"
vmlinux="$build/krunfw/vmlinux"
work=$(mktemp -d /tmp/krun-balloonbench.XXXXXX)
order=9 # what our balloon puts on the command line, given to QEMU's guest too

now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# guest_kib PID: resident KiB of the guest RAM mapping (the largest anonymous one).
guest_kib() {
	awk 'NF >= 5 && $1 ~ /^[0-9a-f]+-[0-9a-f]+$/ { anon = (NF == 5) }
		/^Size:/ { size = $2 }
		/^Rss:/ { if (anon && size > best) { best = size; rss = $2 } }
		END { print rss + 0 }' "/proc/$1/smaps"
}

# top_mappings PID: the largest resident mappings but the guest RAM.
top_mappings() {
	awk 'NF >= 5 && $1 ~ /^[0-9a-f]+-[0-9a-f]+$/ { name = (NF >= 6) ? $6 : "[anon]"; anon = (NF == 5) }
		/^Size:/ { size = $2 }
		/^Rss:/ { r[name] += $2; if (anon && size > best) { best = size; g = $2 } }
		END { r["[anon]"] -= g; for (n in r) if (r[n] >= 256) printf "%d %s\n", r[n], n }' \
		"/proc/$1/smaps" | sort -rn | head -6 | awk '{ n = split($2, p, "/"); printf "%s%s %.1f", (NR > 1 ? ", " : ""), p[n], $1 / 1024 }'
}

wait_line() { # PID TEXT SECONDS
	deadline=$(($(now_ms) + $3 * 1000))
	while [ "$(now_ms)" -lt $deadline ]; do
		grep -q "$2" "$work/out" 2>/dev/null && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

qemu_cmd() { # APPEND...: the QEMU peer, as a command line
	echo qemu-system-x86_64 -M microvm,acpi=off -accel kvm -cpu host -m 512 -smp 1 -nodefaults \
		-no-user-config -nographic -no-reboot -serial stdio -global virtio-mmio.force-legacy=false \
		-device virtio-rng-device -device virtio-balloon-device,free-page-reporting=on \
		-kernel "$vmlinux" -initrd "$initrd"
}
qemu_append="console=ttyS0 reboot=t panic=-1 quiet io_delay=none no_timer_check page_reporting.page_reporting_order=$order"

start_vm() { # krun|qemu GUEST-ARGS: starts it, sets $pid
	if [ "$1" = krun ]; then
		"$build/krun-boot" --memory 512 --append "$2" "$initrd" >"$work/out" 2>"$work/err" &
	else
		$(qemu_cmd) -append "$qemu_append $2" >"$work/out" 2>"$work/err" &
	fi
	pid=$!
}

# One reporting run: prints "PEAK_MIB BACK_MIB MS_TO_250 MS_TO_SETTLE".
reporting_run() {
	start_vm "$1" "krun_test_mode=balloon krun_test_hold=3 krun_test_idle=40"
	if ! wait_line $pid "balloon: touched" 600; then
		echo "$1: the guest never touched its memory" >&2
		stop $pid
		return
	fi
	sleep 1
	peak=$(rss_kib $pid)
	wait_line $pid "balloon: freed" 60
	start=$(now_ms) low=$peak t250= tlow=0
	while [ $(($(now_ms) - start)) -lt 20000 ]; do
		r=$(rss_kib $pid)
		t=$(($(now_ms) - start))
		if [ -n "$r" ] && [ "$r" -lt $((low - 1024)) ]; then low=$r tlow=$t; fi
		[ -z "$t250" ] && [ $((peak - low)) -ge $((250 * 1024)) ] && t250=$t
		sleep 0.1
	done
	stop $pid
	echo "$((peak / 1024)) $(((peak - low) / 1024)) ${t250:-99999} $tlow"
}

reporting() { # krun|qemu
	: >"$work/runs"
	i=0
	while [ $i -lt "$runs" ]; do
		reporting_run "$1" >>"$work/runs"
		i=$((i + 1))
	done
	echo "$1: 300 MiB freed: RSS peak $(awk '{ print $1 }' "$work/runs" | median) MiB," \
		"given back $(awk '{ print $2 }' "$work/runs" | median) MiB," \
		"250 MiB back in $(awk '{ print $3 }' "$work/runs" | median) ms," \
		"all of it in $(awk '{ print $4 }' "$work/runs" | median) ms" \
		"(medians of $(wc -l <"$work/runs") runs: $(awk '{ printf "%s%s/%s/%s", (NR > 1 ? "; " : ""), $2, $3, $4 }' "$work/runs"))"
}

idle() { # krun|qemu
	start_vm "$1" "krun_test_mode=idle krun_test_idle=60"
	if ! wait_line $pid "devprobe: mode" 600; then
		echo "$1: the guest did not start" >&2
		stop $pid
		return
	fi
	sleep 15
	rss=$(rss_kib $pid)
	guest=$(guest_kib $pid)
	threads=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")
	top=$(top_mappings $pid)
	stop $pid
	echo "$1: idle 512 MiB guest: RSS $((rss / 1024)) MiB, guest RAM resident $((guest / 1024)) MiB," \
		"VMM overhead $(awk -v r="$rss" -v g="$guest" 'BEGIN { printf "%.1f", (r - g) / 1024 }') MiB," \
		"$threads threads; largest other mappings (MiB): $top"
}

echo "host: $(uname -r), $(nproc) CPUs; $(basename "$vmlinux") + $(basename "$initrd"), page_reporting_order=$order"
reporting krun
command -v qemu-system-x86_64 >/dev/null && reporting qemu
idle krun
command -v qemu-system-x86_64 >/dev/null && idle qemu
rm -rf "$work"
