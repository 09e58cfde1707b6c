#!/usr/bin/env bash
# check-symbols.sh BUILD: the functions exported by libkrun.so.1 are exactly the
# functions declared in include/libkrun.h, both ways.
set -euo pipefail
build=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
header_funcs=$(gcc -E -P "$top/include/libkrun.h" | grep -oE '\bkrun_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u)
exported=$(nm -D --defined-only "$build/libkrun.so.1" | awk '$2 == "T" { print $3 }' | sort -u)
missing=$(comm -23 <(echo "$header_funcs") <(echo "$exported"))
extra=$(comm -13 <(echo "$header_funcs") <(echo "$exported"))
nh=$(echo "$header_funcs" | wc -l)
ne=$(echo "$exported" | wc -l)
if [ -n "$missing$extra" ]; then
	[ -n "$missing" ] && echo "declared but not exported: $missing"
	[ -n "$extra" ] && echo "exported but not declared: $extra"
	echo "symbols: 0 passed, 1 failed"
	exit 1
fi
echo "symbols: header declares $nh functions, library exports $ne, identical"
echo "symbols: 1 passed, 0 failed"
