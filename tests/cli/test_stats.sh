#!/bin/sh
# udr stats through the udr tool: the json fields and figures, csv, the
# table on a terminal's format, --table, and a table that is not there.
. "$(dirname "$0")/lib.sh"

setup() {
    "$UDR" init -q >/dev/null
    printf 'id,name,score\n1,Alice,85.5\n2,Bob,92.0\n3,Charlie,78.5\n' > users.csv
    "$UDR" -q import users users.csv --key id
    "$UDR" -q import users users.csv --key id     # the same content again: version 2
}

# The value of a numeric field in json (the first one of that name).
field() {
    printf '%s\n' "$out" | grep -o "\"$1\": [0-9.]*" | head -n 1 | sed 's/.*: //'
}

test_json_fields() {
    setup
    run "$UDR" stats --format json
    expect_rc 0
    for f in objects object_bytes logical_bytes physical_bytes dedup_ratio versions commits \
             branches tags subscriptions tables live_rows unique_chunks; do
        expect_out "\"$f\""
    done
    expect_out '"table": "users"'
    expect_out '"versions": 2'
    expect_out '"live_rows": 3'
    logical=$(field logical_bytes)
    physical=$(field physical_bytes)
    check [ "$logical" -gt 0 ]
    check [ "$logical" = $((physical * 2)) ]     # written twice, stored once
    check [ "$(field dedup_ratio)" = "0.500000" ]
    # json that a parser takes
    if command -v python3 >/dev/null; then
        printf '%s\n' "$out" > s.json
        check python3 -c 'import json,sys; d=json.load(open("s.json")); assert d["tables"][0]["versions"] == 2'
    fi
}

test_csv_and_table() {
    setup
    run "$UDR" stats --format csv
    expect_rc 0
    expect_out "table,versions,live_rows,logical_bytes,physical_bytes,dedup_ratio,chunks,unique_chunks"
    expect_out "users,2,3,"
    expect_out "(all),2,3,"
    run "$UDR" stats --format table
    expect_rc 0
    expect_out "dedup          50.0 %"
    expect_out "bytes"
    expect_out "users"
    run "$UDR" stats --table users --format csv
    expect_rc 0
    expect_out "users,2,3,"
}

test_bad_table() {
    setup
    run "$UDR" stats --table nosuch --format json
    expect_rc 1
    expect_err "nosuch"
    expect_no_out
    run "$UDR" stats --format yaml
    expect_rc 2
    run "$UDR" stats extra
    expect_rc 2
}

test_help_and_empty() {
    run "$UDR" stats --help
    expect_rc 0
    expect_out "usage: udr stats"
    "$UDR" init -q >/dev/null
    run "$UDR" stats --format json
    expect_rc 0
    expect_out '"logical_bytes": 0'
    expect_out '"tables": []'
    run "$UDR" help
    expect_out "stats"
}

run_tests
