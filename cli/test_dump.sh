#!/bin/sh
# test_dump.sh DELTAVEC DIR -- `deltavec demo --stream` then `deltavec dump`
# on the stream and on broken copies of it; run by ctest (cli_dump).
set -u
bin=$1
dir=$2
mkdir -p "$dir"
s="$dir/demo.dvs"
fail() { echo "FAIL: $*"; exit 1; }

"$bin" demo --n 200 --dim 8 --updates 100 --queries 5 --stream "$s" >/dev/null || fail "demo"
"$bin" dump "$s" >"$dir/out" 2>"$dir/err" || fail "dump of a good stream: $(cat "$dir/err")"
grep -q "^config: dim 8, metric l2" "$dir/out" || fail "header not printed"
grep -q "^@80 seq=1 " "$dir/out" || fail "first record not at offset 80"
grep -q " 0 problems" "$dir/err" || fail "problems in a good stream"

: >"$dir/empty.dvs"
"$bin" dump "$dir/empty.dvs" 2>"$dir/err" && fail "empty file accepted"
grep -q "empty file" "$dir/err" || fail "empty file message"

printf 'hello\n' >"$dir/text.dvs"
"$bin" dump "$dir/text.dvs" 2>"$dir/err" && fail "text file accepted"
grep -q "not a deltavec stream" "$dir/err" || fail "not-a-stream message"

size=$(wc -c <"$s")
head -c $((size - 3)) "$s" >"$dir/torn.dvs"
"$bin" dump "$dir/torn.dvs" >"$dir/out" 2>/dev/null && fail "torn tail accepted"
grep -q "DV_ETRUNCATED" "$dir/out" || fail "torn tail not reported"
echo ok
