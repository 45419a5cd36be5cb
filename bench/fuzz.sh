#!/bin/sh
# make fuzz-bench: each libFuzzer target to FUZZ_RUNS executions (default
# 10,000,000, the goal of issue 8) on a scratch copy of its corpus, one after
# the other; reports executions, wall time, executions per second and
# findings, and writes them as the "Fuzzing" section of bench/RESULTS.md
# (replacing the section if there is one; bench/run.sh rewrites the file, so
# run this after `make bench`). Not part of bench/run.sh: at 20,000 to
# 100,000 executions per second the first four take about a quarter of an
# hour; fuzz_replay (a log and a catalog opened per run, about 3,000 per
# second) most of an hour more.
# A finding's input is kept in the scratch directory, whose path is printed.
# Usage: bench/fuzz.sh [FUZZ_DIR]   (default build/fuzz; make fuzz first)
set -u
dir=${1:-build/fuzz}
runs=${FUZZ_RUNS:-10000000}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
rows="" bad=0
for name in log meta names sqlsplit pgwire replay; do
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/udr-fuzzbench-$name.XXXXXX")
    mkdir "$scratch/corpus"
    cp fuzz/corpus/"$name"/* "$scratch/corpus/"
    echo "fuzz-bench: fuzz_$name, $runs runs"
    t0=$(date +%s.%N)
    "$dir/fuzz_$name" -runs="$runs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$scratch/" "$scratch/corpus" >"$scratch/log" 2>&1
    st=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    done_runs=$(sed -n -E 's/^Done ([0-9]+) runs.*/\1/p' "$scratch/log" | tail -n 1)
    if [ -z "$done_runs" ]; then    # stopped by a finding: the last status line
        done_runs=$(sed -n -E 's/^#([0-9]+).*/\1/p' "$scratch/log" | tail -n 1)
    fi
    done_runs=${done_runs:-0}
    rate=$(awk -v n="$done_runs" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
    cov=$(grep -E '^#[0-9]+' "$scratch/log" | tail -n 1 | sed -n -E 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/\1 edges, \3 inputs/p')
    if [ "$st" = 0 ]; then
        found="none"
        rm -rf "$scratch"
    else
        found="exit $st: $(grep -E '^(fuzz_|SUMMARY)' "$scratch/log" | head -n 1) (kept in $scratch)"
        bad=$((bad + 1))
    fi
    echo "fuzz-bench: fuzz_$name: $done_runs runs in $secs s ($rate/s), findings: $found"
    rows="$rows| fuzz_$name | $done_runs | $secs s | $rate | $cov | $found |
"
done

res=bench/RESULTS.md
tmp=$(mktemp)
if [ -f "$res" ]; then   # everything but an earlier Fuzzing section
    awk '/^## Fuzzing$/ { skip = 1; next } /^## / { skip = 0 } !skip' "$res" >"$tmp"
fi
{
    cat "$tmp"
    echo "## Fuzzing"
    echo
    echo "Written by \`make fuzz-bench\` (bench/fuzz.sh) on $(date -u '+%Y-%m-%d %H:%M') UTC:"
    echo "each libFuzzer target (fuzz/README.md) to $runs executions, one at a time,"
    echo "starting from its seed corpus; clang 14, ASan + UBSan. Goal: at least"
    echo "10,000,000 executions each without a finding."
    echo
    echo "| target | executions | time | exec/s | coverage at the end | findings |"
    echo "|---|---|---|---|---|---|"
    printf '%s' "$rows"
    echo
} >"$res.new" && mv "$res.new" "$res"
rm -f "$tmp"
[ "$bad" = 0 ]
