#!/bin/sh
# Runs the test suites against one or more build directories and prints the
# total. Usage: tests/run.sh [ONLY] BUILD_DIR...
#   ONLY     empty for everything, or one suite: a C test (hash, store, repo)
#            or a shell test (cli, install), python (the pytest suite) or fuzz
#            (each libFuzzer target for $FUZZ_SECONDS, default 10; build only)
# Each suite prints "SUITE: N passed, N failed"; the last line here is
# "total: N passed, N failed", and the exit status is non-zero on any failure.
only=$1
shift
top=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0 broken=""

tally() {   # tally NAME LOGFILE STATUS
    line=$(grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed$' "$2" | tail -n 1)
    if [ -z "$line" ]; then
        failed=$((failed + 1))
        broken="$broken $1(no summary, exit $3)"
        return
    fi
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$3" != 0 ] && [ "$f" = 0 ]; then
        failed=$((failed + 1))
        broken="$broken $1(exit $3)"
    elif [ "$f" != 0 ]; then
        broken="$broken $1"
    fi
}

for build in "$@"; do
    echo "== tests of $build"
    log=$(mktemp)
    for bin in "$build"/tests/test_*; do
        name=${bin##*/test_}
        [ -n "$only" ] && [ "$only" != "$name" ] && continue
        echo "-- $name ($build)"
        "$bin" >"$log" 2>&1 </dev/null
        st=$?
        cat "$log"
        tally "$build/$name" "$log" "$st"
    done
    for sh in "$top"/tests/cli/test_*.sh; do
        name=${sh##*/test_}
        name=${name%.sh}
        [ -n "$only" ] && [ "$only" != "$name" ] && continue
        # the install test builds and installs; once, with the normal build
        [ "$name" = install ] && [ "$build" != build ] && continue
        echo "-- $name ($build)"
        UDR_BIN="$build/udr" BUILD_DIR="$build" sh "$sh" >"$log" 2>&1 </dev/null
        st=$?
        cat "$log"
        tally "$build/$name" "$log" "$st"
    done
    # the fuzz targets (make fuzz, build/fuzz), FUZZ_SECONDS each; once, with the normal build
    if { [ -z "$only" ] || [ "$only" = fuzz ]; } && [ "$build" = build ]; then
        echo "-- fuzz ($build)"
        { make -C "$top" --no-print-directory fuzz >/dev/null &&
            sh "$top/fuzz/run.sh" "${FUZZ_SECONDS:-10}" "$top/build/fuzz"; } >"$log" 2>&1 </dev/null
        st=$?
        cat "$log"
        tally "$build/fuzz" "$log" "$st"
    fi
    if [ -z "$only" ] || [ "$only" = python ]; then
        echo "-- python ($build)"
        sh "$top/tests/python.sh" "$build" >"$log" 2>&1 </dev/null
        st=$?
        cat "$log"
        tally "$build/python" "$log" "$st"
    fi
    rm -f "$log"
done
[ -n "$broken" ] && echo "failing:$broken"
echo "total: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
