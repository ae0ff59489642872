#!/bin/sh
# test_commands.sh DELTAVEC DIR -- each database command on a real
# directory: create, insert, get, query (--vector, --file of an .fvecs,
# --filter), update, delete, stats, snapshot, a logical log, log dump, log verify (intact, then a
# damaged and a torn segment, reported at the right offset), log compact.
# JSON output is checked with Python's json parser. Run by ctest (cli_commands).
set -u
bin=$1
dir=$2
rm -rf "$dir"
mkdir -p "$dir"
db="$dir/db"
fail() {
    echo "FAIL: $*"
    exit 1
}
# json FILE EXPR: FILE parses as JSON and the Python expression EXPR (over d) is true.
json() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" || fail "JSON check '$2' on $(cat "$1")"
}
run() { "$@" >"$dir/out" 2>"$dir/err" || fail "'$*' failed: $(cat "$dir/err")"; }

run "$bin" create "$db" --dim 4 --metric l2 --m 8 --ef-construction 50 --sync interval
grep -q "created $db: dim 4, metric l2, M 8, ef_construction 50, structural log, sync interval" "$dir/out" ||
    fail "create: $(cat "$dir/out")"
json "$db/cli.json" 'd == {"sync": "interval"}'
run "$bin" insert "$db" a --vector 1,0,0,0 --meta color=red --meta size=small
run "$bin" insert "$db" b --vector 0,1,0,0 --meta color=blue
run "$bin" insert "$db" c --vector 0,0,1,0
grep -q "^inserted c at sequence 3$" "$dir/out" || fail "insert: $(cat "$dir/out")"
"$bin" insert "$db" c --vector 0,0,1,0 2>"$dir/err" && fail "insert of a live id"
grep -q "c: DV_EEXIST" "$dir/err" || fail "insert of a live id: $(cat "$dir/err")"

# get
run "$bin" get "$db" a
printf 'id a\nvector 1,0,0,0\nmeta color=red\nmeta size=small\n' | cmp -s - "$dir/out" || fail "get: $(cat "$dir/out")"
run "$bin" get "$db" a --json
cp "$dir/out" "$dir/get.json"
json "$dir/get.json" 'd == {"id": "a", "vector": [1, 0, 0, 0], "metadata": {"color": "red", "size": "small"}}'
run "$bin" get "$db" b --json
cp "$dir/out" "$dir/get.json"
json "$dir/get.json" 'd["vector"] == [0, 1, 0, 0] and d["metadata"] == {"color": "blue"}'

# query: --vector, --json, -k, and --file rows of an .fvecs file
run "$bin" query "$db" --vector 0.9,0.1,0,0 -k 2
printf 'a\t0.02\nb\t1.62\n' | cmp -s - "$dir/out" || fail "query: $(cat "$dir/out")"
run "$bin" query "$db" --vector 0.9,0.1,0,0 --json
cp "$dir/out" "$dir/q.json"
json "$dir/q.json" '[h["id"] for h in d["hits"]] == ["a", "b", "c"] and abs(d["hits"][0]["distance"] - 0.02) < 1e-6'
python3 -c 'import struct, sys
rows = [[0, 0, 0.8, 0], [0, 0.9, 0, 0.1]]
with open(sys.argv[1], "wb") as f:
    for r in rows:
        f.write(struct.pack("<i4f", 4, *r))' "$dir/q.fvecs" || fail "writing q.fvecs"
run "$bin" query "$db" --file "$dir/q.fvecs" -k 1
[ "$(cat "$dir/out")" = "c	0.04" ] || fail "query --file: $(cat "$dir/out")"
run "$bin" query "$db" --file "$dir/q.fvecs" --row 1 -k 1
[ "$(cat "$dir/out")" = "b	0.02" ] || fail "query --file --row 1: $(cat "$dir/out")"
"$bin" query "$db" --file "$dir/q.fvecs" --row 2 2>"$dir/err" && fail "query of a row past the end"
grep -q "no row 2" "$dir/err" || fail "row past the end: $(cat "$dir/err")"
python3 -c 'import struct, sys; open(sys.argv[1], "wb").write(struct.pack("<i3f", 3, 1, 2, 3))' "$dir/d3.fvecs"
"$bin" query "$db" --file "$dir/d3.fvecs" 2>"$dir/err" && fail "query of an .fvecs of another dim"
grep -q "rows have dim 3, the database has dim 4" "$dir/err" || fail "fvecs dim: $(cat "$dir/err")"

# --filter: metadata equality, every pair must hold
run "$bin" query "$db" --vector 0.9,0.1,0,0 --filter color=blue
[ "$(cat "$dir/out")" = "b	1.62" ] || fail "query --filter color=blue: $(cat "$dir/out")"
run "$bin" query "$db" --vector 0,0,1,0 --filter size=small --filter color=red --json
cp "$dir/out" "$dir/q.json"
json "$dir/q.json" '[h["id"] for h in d["hits"]] == ["a"]'
run "$bin" query "$db" --vector 0,0,1,0 --filter size=small --filter color=blue
[ ! -s "$dir/out" ] || fail "query with filters no vector matches: $(cat "$dir/out")"
run "$bin" query "$db" --vector 0,0,1,0 --filter color=green --json
[ "$(cat "$dir/out")" = '{"hits":[]}' ] || fail "query --json without matches: $(cat "$dir/out")"
"$bin" query "$db" --vector 0,0,1,0 --filter color=red --filter color=blue 2>"$dir/err"
[ $? -eq 2 ] || fail "a filter key given twice: not exit 2"
"$bin" query "$db" --vector 0,0,1,0 --filter =red 2>"$dir/err"
[ $? -eq 2 ] || fail "a filter without a key: not exit 2"

# update, delete
run "$bin" update "$db" c --vector 0,0,0,1 --meta color=green
run "$bin" get "$db" c --json
cp "$dir/out" "$dir/get.json"
json "$dir/get.json" 'd["vector"] == [0, 0, 0, 1] and d["metadata"] == {"color": "green"}'
"$bin" update "$db" zz --vector 0,0,0,1 2>"$dir/err" && fail "update of a missing id"
grep -q "zz: DV_ENOTFOUND" "$dir/err" || fail "update of a missing id: $(cat "$dir/err")"
run "$bin" delete "$db" b
grep -q "^deleted 1 at sequence 6$" "$dir/out" || fail "delete: $(cat "$dir/out")"
"$bin" get "$db" b 2>/dev/null && fail "get of a deleted id"

# stats
run "$bin" stats "$db" --json
cp "$dir/out" "$dir/stats.json"
json "$dir/stats.json" 'd["count"] == 2 and d["dim"] == 4 and d["metric"] == "l2" and d["mode"] == "structural" and d["M"] == 8 and d["position"] == 6 and len(d["state_hash"]) == 16 and d["log_segments"] == 1 and d["snapshot_sequence"] is None'
hash=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["state_hash"])' "$dir/stats.json")
run "$bin" stats "$db"
grep -q "^state_hash       $hash$" "$dir/out" || fail "stats text: $(cat "$dir/out")"
grep -q "^snapshot         none$" "$dir/out" || fail "stats text: $(cat "$dir/out")"

# log dump and verify of an intact log
run "$bin" log dump "$db"
[ "$(wc -l <"$dir/out")" -eq 6 ] || fail "log dump: $(cat "$dir/out")"
grep -q "^00000000000000000001.dvs@80 seq=1 op=insert" "$dir/out" || fail "log dump: $(cat "$dir/out")"
run "$bin" log dump "$db" --from 4 --json
cp "$dir/out" "$dir/dump.jsonl"
python3 -c 'import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["sequence"] for r in recs] == [4, 5, 6], recs
assert recs[2]["op"] == "delete" and recs[0]["file"] == "00000000000000000001.dvs" and len(recs[0]["checksum"]) == 16
' "$dir/dump.jsonl" || fail "log dump --json: $(cat "$dir/dump.jsonl")"
run "$bin" log verify "$db"
grep -q "^ok: 1 segment, 6 records (sequences 1..6), 0 snapshots$" "$dir/out" || fail "log verify: $(cat "$dir/out")"

# snapshot, more writes, another snapshot, compact
run "$bin" snapshot "$db"
grep -q "^snapshot 00000000000000000006.dvp: sequence 6, 2 vectors, state hash $hash$" "$dir/out" ||
    fail "snapshot: $(cat "$dir/out")"
run "$bin" insert "$db" d --vector 0.5,0.5,0,0
run "$bin" snapshot "$db"
run "$bin" insert "$db" e --vector 0,0.5,0.5,0
run "$bin" stats "$db" --json
cp "$dir/out" "$dir/stats.json"
json "$dir/stats.json" 'd["count"] == 4 and d["position"] == 8 and d["snapshot_sequence"] == 7 and d["snapshots"] == 2 and d["log_segments"] == 2 and 0 <= d["snapshot_age_s"] < 600'
hash=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["state_hash"])' "$dir/stats.json")
run "$bin" log verify "$db"
grep -q "^ok: 2 segments, 2 records (sequences 7..8), 2 snapshots$" "$dir/out" || fail "log verify: $(cat "$dir/out")"
run "$bin" log compact "$db"
grep -q "^compacted $db at sequence 8: 2 segments + 2 snapshots, [0-9]* bytes -> 1 segment + 1 snapshot, [0-9]* bytes; state hash $hash unchanged$" "$dir/out" ||
    fail "log compact: $(cat "$dir/out")"
run "$bin" stats "$db" --json
cp "$dir/out" "$dir/stats.json"
json "$dir/stats.json" "d['state_hash'] == '$hash' and d['count'] == 4 and d['log_segments'] == 1 and d['snapshots'] == 1"

# a logical log: no graph parts in the records, the same answers after reopening
run "$bin" create "$dir/lg" --dim 4 --mode logical --sync none
grep -q "logical log" "$dir/out" || fail "create --mode logical: $(cat "$dir/out")"
for i in 1 2 3 4 5 6; do run "$bin" insert "$dir/lg" "v$i" --vector "$i,1,0,0" --meta "n=$i"; done
run "$bin" update "$dir/lg" v2 --vector 2,1,1,0
run "$bin" delete "$dir/lg" v5
run "$bin" stats "$dir/lg" --json
cp "$dir/out" "$dir/stats.json"
json "$dir/stats.json" 'd["mode"] == "logical" and d["count"] == 5 and d["position"] == 8'
run "$bin" query "$dir/lg" --vector 3,1,0,0 -k 2
printf 'v3\t0\nv4\t1\n' | cmp -s - "$dir/out" || fail "query of a logical directory: $(cat "$dir/out")"
run "$bin" log dump "$dir/lg"
grep -q "hnsw" "$dir/out" && fail "a logical log has graph parts: $(cat "$dir/out")"
run "$bin" log verify "$dir/lg"
run "$bin" snapshot "$dir/lg"
run "$bin" insert "$dir/lg" v7 --vector 7,1,0,0
run "$bin" get "$dir/lg" v7
run "$bin" stats "$dir/lg" --json
cp "$dir/out" "$dir/stats.json"
json "$dir/stats.json" 'd["mode"] == "logical" and d["count"] == 6 and d["snapshot_sequence"] == 8'

# a damaged segment: log verify names the first bad record's offset; a torn one, the torn record's
run "$bin" create "$dir/d2" --dim 4 --sync none
for i in 1 2 3 4 5; do run "$bin" insert "$dir/d2" "v$i" --vector "$i,1,0,0"; done
seg="$dir/d2/00000000000000000001.dvs"
run "$bin" log dump "$dir/d2"
third=$(sed -n 3p "$dir/out" | sed -E 's/^[0-9]+\.dvs@([0-9]+) .*/\1/')
fourth=$(sed -n 4p "$dir/out" | sed -E 's/^[0-9]+\.dvs@([0-9]+) .*/\1/')
fifth=$(sed -n 5p "$dir/out" | sed -E 's/^[0-9]+\.dvs@([0-9]+) .*/\1/')
cp "$seg" "$dir/good.dvs"
python3 -c 'import sys
p, at = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[at] ^= 0xff; open(p, "wb").write(b)' "$seg" $((third + 70))
"$bin" log verify "$dir/d2" >"$dir/out" 2>&1
[ $? -eq 1 ] || fail "log verify of a damaged segment: not exit 1: $(cat "$dir/out")"
grep -q "^00000000000000000001.dvs at offset $third: DV_ECHECKSUM" "$dir/out" || fail "damage offset ($third): $(cat "$dir/out")"
"$bin" log verify "$seg" >"$dir/out" 2>&1 && fail "log verify FILE of a damaged segment"
grep -q "at offset $third: DV_ECHECKSUM" "$dir/out" || fail "damage offset, FILE: $(cat "$dir/out")"
"$bin" stats "$dir/d2" 2>"$dir/err" && fail "stats of a damaged directory"
grep -q "damaged in 00000000000000000001.dvs at offset $third" "$dir/err" || fail "stats of damage: $(cat "$dir/err")"
head -c $((fifth + 10)) "$dir/good.dvs" >"$seg"
"$bin" log verify "$dir/d2" >"$dir/out" 2>&1 && fail "log verify of a torn segment"
grep -q "at offset $fifth: DV_ETRUNCATED" "$dir/out" || fail "torn offset ($fifth): $(cat "$dir/out")"
run "$bin" log dump "$dir/d2"
grep -q "note: .* at offset $fifth: the last record is incomplete" "$dir/err" || fail "torn note: $(cat "$dir/err")"
run "$bin" stats "$dir/d2" --json
cp "$dir/out" "$dir/stats.json"
json "$dir/stats.json" 'd["count"] == 4 and d["position"] == 4'
printf 'not a stream' >"$dir/text.dvs"
"$bin" log verify "$dir/text.dvs" >"$dir/out" 2>&1 && fail "log verify of a text file"
grep -q "text.dvs at offset 0: DV_ENOTSTREAM" "$dir/out" || fail "not a stream: $(cat "$dir/out")"
[ "$fourth" -gt "$third" ] || fail "offsets"
echo ok
