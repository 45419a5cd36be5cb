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

# 6 versions of t, a tag at version 2: keep-last 2 lets 1, 3 and 4 go; the
# log says so; querying them says they expired; gc
# frees their chunks; everything kept still reads.
test_expire_then_gc() {
    setup                                   # t@1 (import), t@2 (update)
    for v in d e f g; do
        "$UDR" sql "UPDATE t SET v = '$v' WHERE id = 2" >/dev/null
    done
    "$UDR" -q tag v1 main~4                 # t@2
    run "$UDR" expire --keep-last 2 --dry-run --verbose
    expect_rc 0
    expect_out "t@1	would expire"
    expect_out "t@2	kept: tag v1"
    expect_out "t@5	kept by the rule"
    expect_out "t@6	kept by the rule"
    expect_out "would expire 3 of 6 versions"
    run "$UDR" sql --format csv 'SELECT v FROM "t@1" WHERE id = 1'
    expect_rc 0
    run "$UDR" expire --keep-last 2
    expect_rc 0
    expect_out "expired 3 of 6 versions (log record"
    expect_out "run 'udr gc'"
    run "$UDR" log t
    expect_out "(expired "
    run "$UDR" sql 'SELECT * FROM "t@1"'
    expect_rc 1
    expect_err "table t version 1 has expired"
    run "$UDR" gc --grace 0
    expect_rc 0
    run "$UDR" sql --format csv 'SELECT v FROM "t@2" WHERE id = 1'
    expect_out "c"
    run "$UDR" sql --format csv 'SELECT v FROM t WHERE id = 2'
    expect_out "g"
    run "$UDR" fsck
    expect_rc 0
    run "$UDR" expire --keep-last 2
    expect_rc 0
    expect_out "nothing to expire among 3 versions"
    expect_out "3 expired before"
}

test_expire_bad_input() {
    setup
    run "$UDR" expire
    expect_rc 2
    expect_err "--keep-last N or --older-than DURATION"
    run "$UDR" expire --keep-last 0
    expect_rc 2
    expect_err "--keep-last takes a count of 1 or more"
    run "$UDR" expire --older-than yesterday
    expect_rc 2
    expect_err "--older-than takes a duration"
    run "$UDR" expire --keep-last 1 --table nosuch
    expect_rc 1
    expect_err "there is no table nosuch"
    run "$UDR" expire --keep-last 1 --table ../../etc
    expect_rc 1
    run "$UDR" expire --help
    expect_rc 0
    expect_out "usage: udr expire"
}

run_tests
