#!/bin/sh
# Branches driven through the udr tool: the README's example, tags, log,
# show, diff of refs, merges with conflicts, revert, reset, and bad input.
. "$(dirname "$0")/lib.sh"

setup() {
    "$UDR" init -q >/dev/null
    printf 'id,score\n1,80\n2,90\n' > scores1.csv
    printf 'id,score\n1,85\n2,95\n' > scores2.csv
}

test_readme_branching() {
    setup
    "$UDR" -q import scores scores1.csv
    run "$UDR" branch create feature/new-scoring --description "Testing new algorithm"
    expect_rc 0
    run "$UDR" checkout feature/new-scoring
    expect_rc 0
    expect_out "on branch feature/new-scoring"
    "$UDR" -q import scores scores2.csv
    run "$UDR" --branch main sql --format csv "SELECT AVG(score) AS avg FROM scores"
    check [ "$out" = "$(printf 'avg\n85.0')" ]
    run "$UDR" sql --format csv "SELECT AVG(score) AS avg FROM scores"
    check [ "$out" = "$(printf 'avg\n90.0')" ]
    run "$UDR" diff feature/new-scoring main --format csv
    expect_rc 0
    check [ "$out" = "$(printf 'table,change,version_a,version_b\nscores,modified,2,1')" ]
    run "$UDR" checkout main
    run "$UDR" merge feature/new-scoring --into main
    expect_rc 0
    expect_out "fast-forward"
    run "$UDR" sql --format csv "SELECT AVG(score) AS avg FROM scores"
    check [ "$out" = "$(printf 'avg\n90.0')" ]
    run "$UDR" branch --format csv
    expect_out "feature/new-scoring"
    expect_out "Testing new algorithm"
}

test_log_show_tags() {
    setup
    "$UDR" -q import scores scores1.csv
    run "$UDR" tag v1.0 -m "first"
    expect_rc 0
    "$UDR" -q import scores scores2.csv
    run "$UDR" sql --format csv 'SELECT sum(score) FROM "scores@v1.0"'
    expect_out "170"
    run "$UDR" tag --format csv
    expect_out "v1.0"
    expect_out "first"
    run "$UDR" log --format csv
    expect_rc 0
    expect_out "import scores2.csv"
    expect_out "scores 1->2"
    run "$UDR" log --graph
    expect_out "* "
    run "$UDR" show main
    expect_out "version 1 -> 2"
    run "$UDR" show v1.0
    expect_out "added, version 1"
    # the table forms still work
    run "$UDR" log scores --format csv
    expect_out "version,time"
    run "$UDR" show scores@v1.0
    expect_out "version  1"
    run "$UDR" diff v1.0 main --rows --format csv
    expect_rc 0
    expect_out "added,1,85"
    run "$UDR" tag delete v1.0
    expect_rc 0
}

test_merge_conflict_and_strategies() {
    "$UDR" init -q >/dev/null
    printf 'id,v\n1,10\n2,20\n3,30\n' > base.csv
    printf 'id,v\n1,11\n2,20\n3,30\n' > main.csv
    printf 'id,v\n1,12\n2,22\n3,30\n' > feat.csv
    "$UDR" -q import t base.csv --key id
    "$UDR" -q branch create feature
    "$UDR" -q import t main.csv
    "$UDR" -q --branch feature import t feat.csv
    run "$UDR" merge feature --format csv
    expect_rc 1
    expect_err "1 conflict"
    expect_err "id=1"
    expect_err "--strategy"
    run "$UDR" sql --format csv "SELECT v FROM t WHERE id = 1"
    expect_out "11"
    run "$UDR" merge feature --strategy theirs -m "take theirs"
    expect_rc 0
    expect_out "1 conflict resolved by theirs"
    run "$UDR" sql --format csv "SELECT string_agg(v::VARCHAR, ' ' ORDER BY id) FROM t"
    expect_out "12 22 30"
    run "$UDR" log -n 1 --format csv
    expect_out "take theirs"
    # revert the merge: back to main's rows
    run "$UDR" revert main
    expect_rc 0
    run "$UDR" sql --format csv "SELECT string_agg(v::VARCHAR, ' ' ORDER BY id) FROM t"
    expect_out "11 20 30"
    # reset refuses to lose commits without --force
    run "$UDR" reset main~3
    expect_rc 1
    expect_err "--force"
    run "$UDR" reset main~1
    expect_rc 1
    expect_err "would leave commits"
    run "$UDR" tag reverted
    run "$UDR" reset main~1
    expect_rc 0
    run "$UDR" sql --format csv "SELECT string_agg(v::VARCHAR, ' ' ORDER BY id) FROM t"
    expect_out "12 22 30"
}

test_bad_input() {
    setup
    "$UDR" -q import scores scores1.csv
    for name in "../x" "" "a..b" "x/" "123" "$(printf 'a\tb')"; do
        run "$UDR" branch create "$name"
        expect_rc 1
        expect_err "branch name"
    done
    long=$(head -c 1000 /dev/zero | tr '\0' a)
    run "$UDR" branch create "$long"
    expect_rc 1
    expect_err "too long"
    run "$UDR" checkout nosuch
    expect_rc 1
    expect_err "no branch nosuch"
    run "$UDR" branch create x mian
    expect_rc 1
    expect_err "did you mean main"
    run "$UDR" branch delete main
    expect_rc 1
    expect_err "main cannot be deleted"
    run "$UDR" merge
    expect_rc 2
    run "$UDR" merge main --strategy sometimes
    expect_rc 2
    run "$UDR" --branch nosuch tables
    expect_rc 1
    expect_err "no branch nosuch"
    run "$UDR" sql "SELECT * FROM \"scores@nosuch\""
    expect_rc 1
    expect_err "not a version, a branch, a tag, a commit or a time"
    for verb in branch checkout tag log show diff merge revert reset; do
        run "$UDR" "$verb" --help
        expect_rc 0
        expect_out "usage: udr $verb"
    done
}

run_tests
