# lib.sh — a small harness for shell tests that drive the udr binary like a user.
#
# A test file sources this, defines functions named test_*, and ends with
# `run_tests`. Each test runs in a fresh directory ($T) with $UDR pointing at
# the binary under test (UDR_BIN, set by tests/run.sh). Helpers:
#   run CMD...        runs CMD, keeping $out, $err and $rc
#   expect_rc N       the last run exited N
#   expect_out TEXT   its stdout contains TEXT;  expect_err TEXT: its stderr
#   expect_no_out     its stdout is empty
#   check COND...     any shell condition, e.g. check [ -f file ]
# The last line is "SUITE: N passed, N failed".

UDR=${UDR_BIN:?UDR_BIN must name the udr binary}
case "$UDR" in /*) ;; *) UDR="$(pwd)/$UDR" ;; esac
_failed_checks=0

_fail() {
    echo "    $_current: $*"
    _failed_checks=$((_failed_checks + 1))
}

run() {
    "$@" >"$T/.out" 2>"$T/.err" </dev/null
    rc=$?
    out=$(cat "$T/.out")
    err=$(cat "$T/.err")
}

run_stdin() {   # run_stdin FILE CMD...: like run, with FILE as stdin
    _in=$1; shift
    "$@" >"$T/.out" 2>"$T/.err" <"$_in"
    rc=$?
    out=$(cat "$T/.out")
    err=$(cat "$T/.err")
}

expect_rc() {
    [ "$rc" = "$1" ] || _fail "expected exit $1, got $rc (stderr: $err)"
}

expect_out() {
    case "$out" in *"$1"*) ;; *) _fail "expected stdout to contain '$1', got '$out'" ;; esac
}

expect_err() {
    case "$err" in *"$1"*) ;; *) _fail "expected stderr to contain '$1', got '$err'" ;; esac
}

expect_no_out() {
    [ -z "$out" ] || _fail "expected no stdout, got '$out'"
}

check() {
    "$@" || _fail "check failed: $*"
}

run_tests() {
    suite=$(basename "$0" .sh)
    passed=0 failed=0
    for t in $(grep -o '^test_[a-z0-9_]*' "$0"); do
        [ -n "${ONLY:-}" ] && [ "$ONLY" != "$t" ] && continue
        T=$(mktemp -d "${TMPDIR:-/tmp}/udr-cli-XXXXXX")
        if (cd "$T" && unset UDR_DIR && _current=$t && $t; [ "$_failed_checks" = 0 ]); then
            echo "ok   $t"
            passed=$((passed + 1))
            rm -rf "$T"
        else
            echo "FAIL $t (its files are kept in $T)"
            failed=$((failed + 1))
        fi
    done
    echo "$suite: $passed passed, $failed failed"
    [ "$failed" = 0 ]
}
