#!/bin/sh
# The Python module's pytest suite (python/tests) against one build:
#   tests/python.sh BUILD_DIR
# With the sanitizer build (a build whose udr was linked with ASan), Python
# runs with ASan preloaded and PYTHONMALLOC=malloc, so every allocation is
# seen; leaks are then reported by LeakSanitizer at exit and any whose
# stack passes through UDR's code (the extension, libudr) fails the suite.
# Python's own objects that live until exit are not UDR's and are ignored.
# Prints "python: N passed, N failed" like the other suites.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-/usr/bin/python3}
export PYTHONPATH="$top/$build/python"
export UDR_BIN="$top/$build/udr"
export PYTHONDONTWRITEBYTECODE=1
log=$(mktemp)
leaks=$(mktemp -d)
if nm -D "$top/$build/python"/_udr*.so 2>/dev/null | grep -q __asan; then
    export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
    export PYTHONMALLOC=malloc
    export ASAN_OPTIONS="detect_leaks=1:exitcode=0:log_path=$leaks/asan"
    export LSAN_OPTIONS="exitcode=0"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
fi
cd "$top"
"$py" -m pytest -q -p no:cacheprovider python/tests >"$log" 2>&1
st=$?
cat "$log"
passed=$(grep -Eo '[0-9]+ passed' "$log" | tail -n 1 | cut -d' ' -f1)
failed=$(grep -Eo '[0-9]+ (failed|error)' "$log" | awk '{ s += $1 } END { print s + 0 }')
passed=${passed:-0}
[ "$st" != 0 ] && [ "$failed" = 0 ] && failed=1
# LeakSanitizer's reports: a leak is UDR's if its stack has a frame in our
# sources (src/, python/*.c).
for f in "$leaks"/asan*; do
    [ -f "$f" ] || continue
    if grep -q "ERROR: AddressSanitizer" "$f"; then
        echo "python: AddressSanitizer report:"; cat "$f"; failed=$((failed + 1))
    fi
    ours=$(awk '/^(Direct|Indirect) leak/ { blk = $0; keep = 0; next }
                /^ *#[0-9]+ / { blk = blk "\n" $0; if ($0 ~ /[ \/](src|python)\/[a-z_]+\.c:/) keep = 1; next }
                /^$/ { if (keep) print blk "\n"; keep = 0; blk = "" }
                END { if (keep) print blk }' "$f")
    if [ -n "$ours" ]; then
        echo "python: leaks of UDR objects:"; echo "$ours" | head -n 80
        failed=$((failed + 1))
    fi
done
rm -rf "$log" "$leaks"
echo "python: $passed passed, $failed failed"
[ "$failed" = 0 ]
