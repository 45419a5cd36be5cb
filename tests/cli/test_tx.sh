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

run_tests
