#!/bin/sh
# Runs each libFuzzer target for SECONDS on a scratch copy of its corpus
# (fuzz/corpus/NAME/ is never written) and prints "fuzz: N passed, N failed",
# one count per target. A crash, leak, sanitizer report or timeout fails the
# target; its input is kept in the scratch directory, whose path is printed.
# Usage: fuzz/run.sh [SECONDS] [FUZZ_DIR]   (defaults: $FUZZ_SECONDS or 10,
# build/fuzz). Build the targets first: make fuzz.
secs=${1:-${FUZZ_SECONDS:-10}}
dir=${2:-build/fuzz}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
passed=0 failed=0
for name in log meta names replay sqlsplit pgwire; do
    bin="$dir/fuzz_$name"
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/udr-fuzz-$name.XXXXXX")
    mkdir "$scratch/corpus"
    cp fuzz/corpus/"$name"/* "$scratch/corpus/"
    if [ ! -x "$bin" ]; then
        echo "fuzz_$name: FAILED ($bin is not built: make fuzz)"
        failed=$((failed + 1))
        continue
    fi
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$scratch/" "$scratch/corpus" >"$scratch/log" 2>&1
    st=$?
    runs=$(grep -E '^Done [0-9]+ runs' "$scratch/log" | tail -n 1)
    if [ "$st" = 0 ]; then
        echo "fuzz_$name: ok ($runs)"
        passed=$((passed + 1))
        rm -rf "$scratch"
    else
        echo "fuzz_$name: FAILED (exit $st); input and log kept in $scratch"
        grep -E 'ERROR|SUMMARY|^fuzz_' "$scratch/log" | head -n 5
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
