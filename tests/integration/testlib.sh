# testlib.sh: helpers shared by the guest test scripts (POSIX sh, sourced).
# The caller sets $work (a scratch directory); results are counted in
# $passed and $failed, and a script ends with its "NAME: N passed, M failed"
# line, which run-all.sh adds up.
passed=0
failed=0

now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; }
show() {
	echo "     status: ${status:-}"
	echo "     stdout: $(head -c 1500 "$work/out")"
	echo "     stderr: $(head -c 1500 "$work/err")"
}
check() { # check DESCRIPTION COMMAND...
	desc=$1
	shift
	if "$@"; then ok "$desc"; else fail "$desc"; show; fi
}

# run_timed NAME COMMAND...: COMMAND with a time limit, stdin from $work/in
# (or empty), output in $work/out and $work/err; sets $status and $elapsed.
run_timed() {
	name=$1
	shift
	[ -e "$work/in" ] || : >"$work/in"
	start=$(now_ms)
	timeout "${GUEST_TEST_TIMEOUT:-300}" "$@" <"$work/in" >"$work/out" 2>"$work/err"
	status=$?
	elapsed=$(($(now_ms) - start))
	echo "     $name $(shift; echo "$*" | cut -c1-70): exit $status in $elapsed ms"
	rm -f "$work/in"
}

# wait_for_line FILE PATTERN [SECONDS]: until a line of FILE matches PATTERN
# (120 s at most by default); false if it never did.
wait_for_line() {
	_i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -gt $((${3:-120} * 10)) ] && return 1
		sleep 0.1
	done
}
