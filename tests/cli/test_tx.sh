#!/bin/sh
# Transactions in SQL through the udr tool: the README's example as a script,
# an error inside rolling everything back, SQL that ends inside a
# transaction, and writes outside one.
. "$(dirname "$0")/lib.sh"

setup() {
    "$UDR" init -q >/dev/null
    "$UDR" -q sql "CREATE TABLE users AS SELECT * FROM (VALUES (1, 'Alice'), (2, 'Bob')) t(id, name)" >/dev/null
}

test_readme_transaction_script() {
    setup
    cat > tx.sql <<'SQL'
BEGIN;
SELECT count(*) AS before FROM users;
CREATE OR REPLACE TABLE users AS
    SELECT * FROM (VALUES (1, 'Alice'), (2, 'Bob'), (3, 'Charlie')) t(id, name);
CREATE TABLE audit_log AS SELECT 'added_user' AS action, 3 AS user_id;
SELECT COUNT(*) AS cnt FROM users;
COMMIT;
SELECT COUNT(*) AS after FROM users;
SQL
    run "$UDR" sql -f tx.sql --format csv
    expect_rc 0
    check [ "$(printf '%s\n' "$out" | sed -n 2p)" = "2" ]
    expect_out "$(printf 'cnt\n3')"
    expect_out "$(printf 'after\n3')"
    run "$UDR" sql --format csv "SELECT action, user_id FROM audit_log"
    expect_out "added_user,3"
    # one commit for both tables
    run "$UDR" log -n 1 --format csv
    expect_out "audit_log+1"
    expect_out "users 1->2"
}

test_error_rolls_back_both() {
    setup
    cat > bad.sql <<'SQL'
BEGIN;
INSERT INTO users VALUES (3, 'Charlie');
CREATE TABLE audit_log AS SELECT 'added_user' AS action;
SELECT no_such_column FROM users;
COMMIT;
SQL
    run "$UDR" sql -f bad.sql --format csv
    expect_rc 1
    expect_err "statement 4"
    run "$UDR" sql --format csv "SELECT count(*) FROM users"
    expect_out "2"
    run "$UDR" sql --format csv "SELECT * FROM audit_log"
    expect_rc 1
    # no COMMIT at the end: rolled back, and said
    printf 'BEGIN;\nDELETE FROM users;\n' > open.sql
    run "$UDR" sql -f open.sql --format csv
    expect_rc 1
    expect_err "rolled back"
    run "$UDR" sql --format csv "SELECT count(*) FROM users"
    expect_out "2"
}

test_writes_outside_a_transaction() {
    setup
    run "$UDR" sql --format csv "INSERT INTO users VALUES (3, 'Charlie')"
    expect_rc 0
    run "$UDR" sql --format csv "UPDATE users SET name = upper(name) WHERE id = 3"
    expect_out "1"
    run "$UDR" sql --format csv "DELETE FROM users WHERE id = 1"
    expect_out "1"
    run "$UDR" sql --format csv "SELECT string_agg(name, ' ' ORDER BY id) FROM users"
    expect_out "Bob CHARLIE"
    run "$UDR" log users --format csv
    expect_out "write users"
    run "$UDR" sql "BEGIN ISOLATION LEVEL READ UNCOMMITTED"
    expect_rc 1
    expect_err "SNAPSHOT"
    run "$UDR" sql "COMMIT"
    expect_rc 0
    expect_err "no transaction"
}

test_compact() {
    setup
    "$UDR" -q sql "COPY (SELECT range AS id, range * 10 AS v FROM range(100)) TO 'nums.csv'" >/dev/null
    "$UDR" -q import nums nums.csv --key id >/dev/null
    # an UPDATE of v alone (BIGINT, not the key) is a patch; a DELETE a
    # delete file
    run "$UDR" sql --format csv "UPDATE nums SET v = -1 WHERE id = 42"
    expect_out "1"
    run "$UDR" sql --format csv "DELETE FROM nums WHERE id = 7"
    expect_out "1"
    run "$UDR" show nums
    expect_out "delete files"
    expect_out "patches"
    expect_out "1 rows  v"
    run "$UDR" compact nums
    expect_rc 0
    expect_out "nums: version 4, 99 rows in 1 chunks"
    expect_out "was 1 chunks, 1 delete files and 1 patches"
    run "$UDR" compact nums
    expect_out "version 4 is clean already"
    run "$UDR" sql --format csv "SELECT sum(v) FROM nums"
    expect_out "49009"
    run "$UDR" compact nope
    expect_rc 1
    expect_err "nope"
    run "$UDR" compact
    expect_rc 2
}

# What a crash leaves: a torn log record, a temporary file of a dead
# writer, an object no commit names. Opening repairs the first two;
# recover --report says so and counts the third.
test_recover_report() {
    setup
    seg=$(ls .udr/log/*.seg | tail -1)
    printf '\144\000\000\000\001\002\003\004partial' >> "$seg"
    echo stale > .udr/tmp/obj.999999999.1.deadbeef
    touch -d '2 hours ago' .udr/tmp/obj.999999999.1.deadbeef
    echo "never committed" > orphan.txt
    run "$UDR" recover --report
    expect_rc 0
    expect_out "torn log tail: 15 bytes cut"
    expect_out "temporary files of dead writers: 1 removed"
    expect_out "unreferenced objects: 0"
    check [ ! -e .udr/tmp/obj.999999999.1.deadbeef ]
    "$UDR" -q object put orphan.txt >/dev/null
    run "$UDR" recover --report
    expect_out "torn log tail: none"
    expect_out "unreferenced objects: 1 ("
    expect_out "log: 1 records, 1 commits"
    run "$UDR" sql --format csv "SELECT count(*) FROM users"
    expect_out "2"
    run "$UDR" fsck
    expect_rc 0
    run "$UDR" recover --bogus
    expect_rc 2
}

run_tests
