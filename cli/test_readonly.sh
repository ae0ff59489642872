#!/bin/sh
# test_readonly.sh DELTAVEC WRITER DIR -- the read-only commands (stats,
# query, get, log dump, log verify) on a directory that another process
# (WRITER, test_writer.c) holds open as its writer: first while it inserts
# and checkpoints, then while it holds the lock idle; a writing command meanwhile is refused
# as locked. Run by ctest (cli_readonly).
set -u
bin=$1
writer=$2
dir=$3
rm -rf "$dir"
mkdir -p "$dir"
db="$dir/db"
fail() {
    echo "FAIL: $*"
    touch "$dir/stop1" "$dir/stop2"
    exit 1
}

"$bin" create "$db" --dim 8 >/dev/null || fail "create"
"$bin" insert "$db" seed --vector 1,2,3,4,5,6,7,8 >/dev/null || fail "insert"
"$writer" "$db" "$dir/stop1" "$dir/done" "$dir/stop2" 2>"$dir/writer.err" &
wpid=$!

# 1. while the writer inserts: every read-only command succeeds and sees a growing prefix.
n=0
until "$bin" get "$db" w2 >/dev/null 2>&1; do
    kill -0 $wpid 2>/dev/null || fail "writer died: $(cat "$dir/writer.err")"
    n=$((n + 1))
    [ $n -lt 1000 ] || fail "the writer wrote nothing"
    sleep 0.01
done
last=0
i=0
while [ $i -lt 10 ]; do
    "$bin" stats "$db" --json >"$dir/stats.json" 2>"$dir/err" || fail "stats during writes: $(cat "$dir/err")"
    count=$(sed -E 's/.*"count":([0-9]+).*/\1/' "$dir/stats.json")
    [ "$count" -ge "$last" ] || fail "count went back from $last to $count"
    last=$count
    "$bin" query "$db" --vector 1,2,3,4,5,6,7,8 -k 3 >"$dir/q" 2>"$dir/err" || fail "query during writes: $(cat "$dir/err")"
    [ "$(wc -l <"$dir/q")" -eq 3 ] || fail "query during writes: $(cat "$dir/q")"
    "$bin" get "$db" seed >/dev/null 2>"$dir/err" || fail "get during writes: $(cat "$dir/err")"
    "$bin" log dump "$db" --from 2 >/dev/null 2>"$dir/err" || fail "log dump during writes: $(cat "$dir/err")"
    i=$((i + 1))
done
[ "$last" -gt 1 ] || fail "the writer wrote nothing while the readers ran ($last)"

# 2. the writer stops writing but keeps the directory open (and locked).
touch "$dir/stop1"
n=0
while [ ! -f "$dir/done" ]; do
    kill -0 $wpid 2>/dev/null || fail "writer died: $(cat "$dir/writer.err")"
    n=$((n + 1))
    [ $n -lt 2000 ] || fail "writer never reported"
    sleep 0.01
done
written=$(cat "$dir/done")
"$bin" stats "$db" --json >"$dir/stats.json" || fail "stats"
grep -q "\"count\":$((written + 1))," "$dir/stats.json" || fail "stats count: $(cat "$dir/stats.json"), writer wrote $written + 1"
grep -q "\"position\":$((written + 1))," "$dir/stats.json" || fail "stats position: $(cat "$dir/stats.json")"
"$bin" get "$db" "w$((written - 1))" >/dev/null || fail "get of the last write"
"$bin" query "$db" --vector 1,2,3,4,5,6,7,8 -k 5 --json >"$dir/q" || fail "query"
[ "$(grep -o '"id"' "$dir/q" | wc -l)" -eq 5 ] || fail "query -k 5: $(cat "$dir/q")"
"$bin" log verify "$db" >"$dir/out" || fail "log verify with a writer idle: $(cat "$dir/out")"
grep -q "^ok: " "$dir/out" || fail "log verify: $(cat "$dir/out")"
"$bin" log dump "$db" --from "$((written + 1))" --json >"$dir/out" || fail "log dump --from"
[ "$(wc -l <"$dir/out")" -eq 1 ] || fail "log dump --from the last sequence: $(cat "$dir/out")"

# 3. writing commands need the lock the writer holds.
"$bin" snapshot "$db" >/dev/null 2>"$dir/err"
[ $? -eq 1 ] || fail "snapshot while another process writes: not exit 1"
grep -q "another process is writing" "$dir/err" || fail "locked message: $(cat "$dir/err")"
"$bin" insert "$db" x --vector 1,2,3,4,5,6,7,8 >/dev/null 2>&1 && fail "insert while another process writes"

touch "$dir/stop2"
wait $wpid || fail "writer exit status: $(cat "$dir/writer.err")"
"$bin" snapshot "$db" >/dev/null || fail "snapshot once the writer is gone"
echo ok
