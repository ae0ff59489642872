#!/bin/sh
# test_args.sh DELTAVEC DIR -- the argument rules every command shares
# (docs/CLI.md "Arguments" and "Exit status"): help exits 0 with the usage
# on stdout, an unknown command or option exits 2 naming it, numbers are
# strict, an output path that cannot be written is an error. Run by ctest
# (cli_args).
set -u
bin=$1
dir=$2
rm -rf "$dir"
mkdir -p "$dir"
fail() {
    echo "FAIL: $*"
    exit 1
}
# expect STATUS PATTERN CMD...: CMD exits STATUS and its stdout+stderr match PATTERN (grep -E;
# expectf: the fixed string PATTERN).
expect() { match -E "$@"; }
expectf() { match -F "$@"; }
match() {
    how=$1
    want=$2
    pattern=$3
    shift 3
    "$@" >"$dir/out" 2>&1
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, not $want: $(cat "$dir/out")"
    grep -q $how -- "$pattern" "$dir/out" || fail "'$*' output does not match '$pattern': $(cat "$dir/out")"
}
# help: on stdout, exit 0
for args in "--help" "-h" "help"; do
    "$bin" $args >"$dir/out" 2>/dev/null || fail "deltavec $args exit status"
    grep -q "^  create " "$dir/out" || fail "deltavec $args: no command list on stdout"
done
for c in create insert update delete get query stats snapshot log dump demo version help; do
    "$bin" help $c >"$dir/out" 2>/dev/null || fail "help $c exit status"
    grep -q "^usage: deltavec $c" "$dir/out" || fail "help $c: $(cat "$dir/out")"
    "$bin" $c --help >"$dir/out2" 2>/dev/null || fail "$c --help exit status"
    cmp -s "$dir/out" "$dir/out2" || fail "$c --help differs from help $c"
done
for s in dump verify compact; do
    "$bin" log $s --help >"$dir/out" 2>/dev/null || fail "log $s --help exit status"
    grep -q "^usage: deltavec log $s" "$dir/out" || fail "log $s --help: $(cat "$dir/out")"
done
expect 2 "usage: deltavec COMMAND" "$bin"
expect 2 "unknown command 'ingestx'" "$bin" ingestx
expect 2 "unknown command 'nope'" "$bin" help nope
expect 2 "unknown subcommand 'shrink'" "$bin" log shrink "$dir"
expect 2 "missing subcommand" "$bin" log
expect 2 "unknown option '--bogus'" "$bin" create "$dir/db" --dim 4 --bogus
expect 2 "unknown option '-x'" "$bin" stats "$dir/db" -x
expect 2 "unknown option '--n'" "$bin" query "$dir/db" --n 3
expect 2 "missing argument" "$bin" get "$dir/db"
expect 2 "unexpected argument 'extra'" "$bin" stats "$dir/db" extra
expect 2 "--dim needs a value" "$bin" create "$dir/db" --dim
expect 2 "--dim is required" "$bin" create "$dir/db"
expect 2 "--dim given twice" "$bin" create "$dir/db" --dim 4 --dim 5
expect 2 "--json takes no value" "$bin" stats "$dir/db" --json=yes
# strict numbers: negative, overflow, trailing junk, empty, out of range, other notations
for v in -5 +5 18446744073709551616 99999999999999999999999 4x " 4" "" 0x10 1e3 4.0 0 4097; do
    expectf 2 "--dim: '$v' is not a whole number from 1 to 4096" "$bin" create "$dir/db" --dim "$v"
done
expect 2 "--dim: '-1' is not a whole number" "$bin" create "$dir/db" --dim=-1
expect 2 "--n: '-5' is not a whole number" "$bin" demo --n -5
expect 2 "-k: '0' is not a whole number from 1" "$bin" query "$dir/db" --vector 1 -k 0
expect 2 "--from: '-3' is not a whole number" "$bin" log dump "$dir/db" --from -3
expect 2 "--metric: 'hamming' is not one of l2\|dot\|cosine" "$bin" create "$dir/db" --dim 4 --metric hamming
expect 2 "--sync: 'sometimes' is not one of always\|interval\|none" "$bin" create "$dir/db" --dim 4 --sync sometimes
[ -e "$dir/db" ] && fail "a refused create left $dir/db"
# vectors: every value a finite number, exactly dim of them
"$bin" create "$dir/db" --dim 3 >/dev/null || fail "create"
expect 2 "--vector: 2 values, the database has dim 3" "$bin" insert "$dir/db" a --vector 1,2
expect 2 "--vector: 5 values, the database has dim 3" "$bin" insert "$dir/db" a --vector 1,2,3,4,5
expect 2 "value 2 'x' is not a finite number" "$bin" insert "$dir/db" a --vector 1,x,3
expect 2 "value 2 'inf' is not a finite number" "$bin" insert "$dir/db" a --vector 1,inf,3
expect 2 "value 3 is empty" "$bin" insert "$dir/db" a --vector 1,2,
expect 2 "'color' is not KEY=VALUE" "$bin" insert "$dir/db" a --vector 1,2,3 --meta color
expect 2 "give exactly one of --vector and --file" "$bin" query "$dir/db"
expect 2 "--row goes with --file" "$bin" query "$dir/db" --vector 1,2,3 --row 2
# failures (exit 1), each saying what
expect 1 "no such directory" "$bin" stats "$dir/missing"
expect 1 "no database here" "$bin" stats "$dir"
expect 1 "already holds a database" "$bin" create "$dir/db" --dim 3
expect 1 "nope: not found" "$bin" get "$dir/db" nope
expect 1 "nope: not found \(nothing was deleted\)" "$bin" delete "$dir/db" nope
"$bin" insert "$dir/db" twice --vector 1,2,3 >/dev/null || fail "insert"
expect 2 "twice given twice" "$bin" delete "$dir/db" twice twice
"$bin" get "$dir/db" twice >/dev/null || fail "a refused delete deleted"
expect 2 "--mode: 'physical' is not one of structural\|logical" "$bin" create "$dir/db2" --dim 3 --mode physical
# output paths that cannot be written: refused before any work, exit 1
expect 1 "--json $dir/no/such/dir/x.json: No such file or directory" "$bin" demo --n 100 --dim 4 --json "$dir/no/such/dir/x.json"
expect 1 "--stream $dir/no/such/dir/x.dvs" "$bin" demo --n 100 --dim 4 --stream "$dir/no/such/dir/x.dvs"
if [ -w /dev/full ]; then
    "$bin" help >/dev/full 2>"$dir/err"
    [ $? -eq 1 ] || fail "output to a full device: not exit 1"
    grep -q "writing the output" "$dir/err" || fail "full device message: $(cat "$dir/err")"
    "$bin" stats "$dir/db" --json >/dev/full 2>/dev/null && fail "stats --json to a full device: exit 0"
fi
# -- ends the options: an id that starts with '-'
"$bin" insert "$dir/db" -- -neg --vector 1,2,3 >/dev/null 2>&1 && fail "options after -- were parsed"
"$bin" insert "$dir/db" --vector 1,2,3 -- -neg >/dev/null || fail "insert of the id -neg after --"
"$bin" get "$dir/db" -- -neg >/dev/null || fail "get of the id -neg after --"
echo ok
