#!/usr/bin/env bash
# check-status-table.sh -- the status table of docs/API.md lists exactly the dv_status enum of
# include/deltavec.h: every code once, with the header's number, and nothing else (a CTest test).
# Prints each difference and exits 1 if there is one.
# Usage: tests/docs/check-status-table.sh [SOURCE_DIR]   (default: the repository holding this script)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
header=$root/include/deltavec.h
doc=$root/docs/API.md

# "NAME VALUE" per enumerator between `typedef enum dv_status {` and `} dv_status;`
enum=$(awk '/^typedef enum dv_status \{/ { on = 1; next }
            on && /^\} dv_status;/ { exit }
            on && match($0, /DV_[A-Z0-9_]+ *= *-?[0-9]+/) {
                split(substr($0, RSTART, RLENGTH), p, /[ =]+/); print p[1], p[2] }' "$header" | sort)
# "NAME VALUE" per row of the table under `## Status codes`: | `DV_X` | -N | meaning |
table=$(awk '/^## / { on = ($0 == "## Status codes"); next }
             on && /^\| `DV_/ { split($0, c, "|"); n = c[2]; v = c[3]; gsub(/[ `]/, "", n); gsub(/ /, "", v); print n, v }' \
             "$doc" | sort)

[ -n "$enum" ] || { echo "check-status-table: no dv_status enum found in $header" >&2; exit 1; }
[ -n "$table" ] || { echo "check-status-table: no status table under '## Status codes' in $doc" >&2; exit 1; }
dups=$(cut -d' ' -f1 <<<"$table" | uniq -d)
[ -z "$dups" ] || { echo "check-status-table: listed twice in docs/API.md: $dups" >&2; exit 1; }
if [ "$enum" != "$table" ]; then
    echo "check-status-table: docs/API.md's status table differs from include/deltavec.h" >&2
    echo "  (< only in the header, > only in the table; NAME VALUE)" >&2
    diff <(echo "$enum") <(echo "$table") | grep '^[<>]' | sed 's/^/  /' >&2
    exit 1
fi
echo "check-status-table: $(wc -l <<<"$enum") codes, docs/API.md matches include/deltavec.h"
