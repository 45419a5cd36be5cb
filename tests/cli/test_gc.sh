# udr gc: removes what nothing refers to, keeps every version, refuses bad input.
. "$(dirname "$0")/lib.sh"

setup() {
    "$UDR" init -q >/dev/null
    printf 'id,v\n1,a\n2,b\n' > a.csv
    "$UDR" -q import t a.csv --key id
    "$UDR" sql "UPDATE t SET v = 'c' WHERE id = 1" >/dev/null
}

test_gc_dry_run_then_gc() {
    setup
    echo stray1 | "$UDR" object put - >/dev/null
    echo stray2 | "$UDR" object put - >/dev/null
    run "$UDR" gc
    expect_rc 0
    expect_out "2 unreferenced but younger than the grace period"
    expect_out "removed 0 objects"
    run "$UDR" gc --grace 0 --dry-run
    expect_rc 0
    expect_out "would remove 2 objects (14 bytes)"
    run "$UDR" gc --grace 0
    expect_rc 0
    expect_out "removed 2 objects (14 bytes)"
    run "$UDR" sql --format csv 'SELECT v FROM "t@1" WHERE id = 1'
    expect_out "a"
    run "$UDR" fsck
    expect_rc 0
    run "$UDR" gc --grace 0 --quiet
    expect_rc 0
    expect_no_out
}

test_gc_bad_input() {
    setup
    run "$UDR" gc --grace soon
    expect_rc 2
    expect_err "--grace takes a duration"
    run "$UDR" gc --now
    expect_rc 2
    expect_err "unknown argument '--now'"
    run "$UDR" gc --help
    expect_rc 0
    expect_out "usage: udr gc"
}

run_tests
