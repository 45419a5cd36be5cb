#!/bin/sh
# The change feed and subscriptions through the udr tool: udr changes over
# several commits and its bounds, the subscribe create / list / poll / ack
# flow, poll --ack and --max, JSON lines, --follow with a commit from another
# process and a clean exit on SIGTERM and SIGINT, and bad input.
. "$(dirname "$0")/lib.sh"

# users (keyed by id) at version 1, and an unrelated table.
setup() {
    "$UDR" init -q >/dev/null
    printf 'id,name,score\n1,a,10\n2,b,20\n' > users.csv
    "$UDR" -q import users users.csv --key id >/dev/null
    "$UDR" -q sql "CREATE TABLE other AS SELECT * FROM (VALUES (1, 'x')) t(k, v)" >/dev/null
}

sql() {
    "$UDR" -q sql "$1" >/dev/null || _fail "SQL failed: $1"
}

# The cursor of subscription $1, as `subscribe list` prints it.
cursor_of() {
    "$UDR" subscribe list --format csv | awk -F, -v n="$1" '$1 == n { print $(NF - 2) }'
}

# The pending commits of subscription $1.
pending_of() {
    "$UDR" subscribe list --format csv | awk -F, -v n="$1" '$1 == n { print $(NF - 1) }'
}

# The lines of file $1 (0 if it is not there yet: a background job opens
# its output file when it gets to it).
lines_of() {
    if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi
}

# Waits up to 5 s for file $1 to have at least $2 lines.
wait_lines() {
    _i=0
    while [ "$(lines_of "$1")" -lt "$2" ] && [ $_i -lt 50 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    [ "$(lines_of "$1")" -ge "$2" ]
}

# Sends signal $1 to process $2; it must end within 2 s, with exit 0.
stop_follower() {
    kill -"$1" "$2"
    _i=0
    while kill -0 "$2" 2>/dev/null && [ $_i -lt 20 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    if kill -0 "$2" 2>/dev/null; then
        _fail "the follower ignored SIG$1 for 2 s"
        kill -KILL "$2"
    fi
    wait "$2"
    _st=$?
    [ "$_st" = 0 ] || _fail "the follower exited $_st after SIG$1 (stderr: $(cat follow.err))"
}

json_lines_parse() {
    python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' < "$1"
}

test_changes_over_commits() {
    setup
    sql "UPDATE users SET score = 11 WHERE id = 1"
    sql "INSERT INTO users VALUES (3, 'c', 30)"
    sql "DELETE FROM users WHERE id = 2"
    run "$UDR" changes users --format csv
    expect_rc 0
    check [ "$(printf '%s\n' "$out" | head -n 1)" = "_seq,_version,_time,_op,id,name,score" ]
    # _version, _op and the row (the time varies)
    got=$(printf '%s\n' "$out" | sed 1d | cut -d, -f2,4-)
    want=$(printf '%s\n' 1,insert,1,a,10 1,insert,2,b,20 2,update_before,1,a,10 \
        2,update_after,1,a,11 3,insert,3,c,30 4,delete,2,b,20)
    check [ "$got" = "$want" ]
    # _seq grows with the commits
    seqs=$(printf '%s\n' "$out" | sed 1d | cut -d, -f1 | uniq)
    check [ "$seqs" = "$(printf '%s\n' "$seqs" | sort -n -u)" ]
    check [ "$(printf '%s\n' "$seqs" | wc -l)" = 4 ]
    # bounds, both included
    run "$UDR" changes users --from 2 --to 3 --format csv
    expect_rc 0
    got=$(printf '%s\n' "$out" | sed 1d | cut -d, -f2,4-)
    want=$(printf '%s\n' 2,update_before,1,a,10 2,update_after,1,a,11 3,insert,3,c,30)
    check [ "$got" = "$want" ]
    run "$UDR" changes users --from=4 --format csv
    check [ "$(printf '%s\n' "$out" | sed 1d | cut -d, -f2,4-)" = "4,delete,2,b,20" ]
    run "$UDR" changes users --to 1 --format csv
    check [ "$(printf '%s\n' "$out" | sed 1d | wc -l)" = 2 ]
    # a commit as a bound: the head
    run "$UDR" changes users --from main --format csv
    check [ "$(printf '%s\n' "$out" | sed 1d | cut -d, -f2,4-)" = "4,delete,2,b,20" ]
    run "$UDR" changes users --format json
    expect_rc 0
    expect_out '"_op": "update_after"'
    run "$UDR" changes users --from 99
    expect_rc 1
    expect_err "99"
}

test_changes_of_a_table_without_key() {
    setup
    sql "UPDATE other SET v = 'y' WHERE k = 1"
    run "$UDR" changes other --from 2 --format csv
    expect_rc 0
    got=$(printf '%s\n' "$out" | sed 1d | cut -d, -f4- | sort)
    check [ "$got" = "$(printf '%s\n' delete,1,x insert,1,y)" ]
}

test_subscribe_flow() {
    setup
    run "$UDR" subscribe create s --tables users
    expect_rc 0
    expect_out "created subscription s on branch main (table users), from the beginning"
    run "$UDR" subscribe list --format csv
    expect_rc 0
    expect_out "name,branch,tables,cursor,pending,created"
    expect_out "s,main,users,0,1,"
    # the first poll replays the history: version 1's rows as inserts
    run "$UDR" subscribe poll s
    expect_rc 0
    expect_out "users (new) -> 1: 2 rows"
    expect_out "-- commit "
    run "$UDR" subscribe poll s --format json
    expect_rc 0
    check [ "$(printf '%s\n' "$out" | wc -l)" = 2 ]
    expect_out '"op":"insert","row":{"id":1,"name":"a","score":10}'
    seq=$(printf '%s\n' "$out" | head -n 1 | sed -E 's/.*"seq":([0-9]+).*/\1/')
    # polling moved nothing
    check [ "$(cursor_of s)" = 0 ]
    run "$UDR" subscribe ack s "$seq"
    expect_rc 0
    expect_out "acknowledged through $seq"
    check [ "$(cursor_of s)" = "$seq" ]
    run "$UDR" subscribe list --format csv
    expect_out "s,main,users,$seq,0,"
    # nothing new
    run "$UDR" subscribe poll s --format json
    expect_rc 0
    expect_no_out
    run "$UDR" subscribe poll s
    expect_out "no new changes"
    # a commit to another table is not delivered; one to users is, alone
    sql "INSERT INTO other VALUES (2, 'z')"
    sql "UPDATE users SET score = 21 WHERE id = 2"
    run "$UDR" subscribe poll s --format json
    expect_rc 0
    check [ "$(printf '%s\n' "$out" | wc -l)" = 2 ]
    expect_out '"version":2,"op":"update_before","row":{"id":2,"name":"b","score":20}'
    expect_out '"version":2,"op":"update_after","row":{"id":2,"name":"b","score":21}'
    case "$out" in *'"table":"other"'*) _fail "other was delivered: $out" ;; esac
    run "$UDR" subscribe drop s
    expect_rc 0
    expect_out "dropped subscription s"
    run "$UDR" subscribe list --format csv
    check [ "$out" = "name,branch,tables,cursor,pending,created" ]
}

test_poll_ack_and_max() {
    setup
    "$UDR" -q subscribe create s --tables users,other
    sql "UPDATE users SET score = 11 WHERE id = 1"
    run "$UDR" subscribe list --format csv
    expect_out 's,main,"other, users",0,3,'     # sorted
    # one commit at a time
    run "$UDR" subscribe poll s --max 1 --format json
    check [ "$(printf '%s\n' "$out" | grep -c '"table":"users"')" = 2 ]
    case "$out" in *'"table":"other"'*) _fail "--max 1 gave two commits: $out" ;; esac
    run "$UDR" subscribe poll s --max 1 --ack
    expect_rc 0
    expect_out "users (new) -> 1: 2 rows"
    expect_out "-- acknowledged through"
    run "$UDR" subscribe poll s --max 1 --ack --format json
    expect_out '"table":"other","version":1,"op":"insert"'
    check [ "$(pending_of s)" = 1 ]        # the update
    run "$UDR" subscribe poll s --ack --format json
    check [ "$(printf '%s\n' "$out" | wc -l)" = 2 ]
    expect_out '"op":"update_after"'
    check [ "$(pending_of s)" = 0 ]
    run "$UDR" subscribe poll s --ack --format json
    expect_rc 0
    expect_no_out
    # -q: no chatter
    run "$UDR" -q subscribe poll s --ack
    expect_rc 0
    expect_no_out
}

test_poll_json_lines() {
    setup
    sql "CREATE TABLE t AS SELECT * FROM (VALUES
        (1, 'say \"hi\", then' || chr(10) || 'go', 1.5, true),
        (2, NULL, NULL, false),
        (3, 'Grüße ☃ \\ /', -2.25, NULL)) v(id, txt, x, ok)"
    "$UDR" -q subscribe create s --tables t
    sql "DELETE FROM t WHERE id = 3"
    "$UDR" subscribe poll s --format json > p.json
    check [ "$(wc -l < p.json)" = 4 ]
    check json_lines_parse p.json
    python3 - p.json <<'PY' || _fail "the JSON lines do not hold what was committed: $(cat p.json)"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = {"seq", "time", "commit", "table", "version", "op", "row"}
assert all(set(r) == keys for r in rows), rows
assert [r["op"] for r in rows] == ["insert"] * 3 + ["delete"], rows
assert rows[0]["row"] == {"id": 1, "txt": 'say "hi", then\ngo', "x": 1.5, "ok": True}, rows[0]
assert rows[1]["row"] == {"id": 2, "txt": None, "x": None, "ok": False}, rows[1]
assert rows[2]["row"]["txt"] == "Grüße ☃ \\ /", rows[2]
assert rows[3]["row"]["id"] == 3 and rows[3]["version"] == 2, rows[3]
assert rows[0]["seq"] < rows[3]["seq"] and len(rows[0]["commit"]) == 64, rows
assert rows[0]["time"].endswith("Z") and "T" in rows[0]["time"], rows[0]
PY
}

test_follow() {
    setup
    "$UDR" -q subscribe create s --tables users --from now
    cursor=$(cursor_of s)
    "$UDR" subscribe poll s --follow --format json > follow.out 2> follow.err < /dev/null &
    pid=$!
    sql "INSERT INTO users VALUES (3, 'c', 30)"
    check wait_lines follow.out 1
    sql "INSERT INTO other VALUES (2, 'z')"
    sql "UPDATE users SET score = 31 WHERE id = 3"
    check wait_lines follow.out 3
    sleep 0.3
    stop_follower TERM "$pid"
    check json_lines_parse follow.out
    # each commit once, though nothing was acknowledged
    check [ "$(wc -l < follow.out)" = 3 ]
    check [ "$(grep -c '"op":"insert","row":{"id":3,"name":"c","score":30}' follow.out)" = 1 ]
    check [ "$(grep -c '"op":"update_after","row":{"id":3,"name":"c","score":31}' follow.out)" = 1 ]
    check [ "$(cursor_of s)" = "$cursor" ]
    run "$UDR" subscribe poll s --format json
    check [ "$(printf '%s\n' "$out" | wc -l)" = 3 ]
}

test_follow_ack_and_sigint() {
    setup
    "$UDR" -q subscribe create s --tables users
    "$UDR" subscribe poll s --follow --ack > follow.out 2> follow.err < /dev/null &
    pid=$!
    check wait_lines follow.out 1
    sql "DELETE FROM users WHERE id = 1"
    _i=0
    while ! grep -q "users 1 -> 2: 1 row" follow.out 2>/dev/null && [ $_i -lt 50 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    check grep -q "users 1 -> 2: 1 row" follow.out
    sleep 0.3
    stop_follower INT "$pid"
    check [ "$(grep -c '^-- commit ' follow.out)" = 2 ]
    # what was printed was acknowledged
    run "$UDR" subscribe poll s --format json
    expect_rc 0
    expect_no_out
    check [ "$(cursor_of s)" -gt 0 ]
}

test_from_now_commit_and_branch() {
    setup
    sql "UPDATE users SET score = 11 WHERE id = 1"
    run "$UDR" subscribe create n --tables users --from now
    expect_out "from now on"
    run "$UDR" subscribe poll n --format json
    expect_no_out
    head=$("$UDR" log -n 1 --format csv | sed -n 2p | cut -c1-12)
    run "$UDR" subscribe create c --tables users --from "$head"
    expect_rc 0
    run "$UDR" subscribe poll c --format json
    check [ "$(printf '%s\n' "$out" | wc -l)" = 2 ]
    expect_out '"op":"update_before"'
    "$UDR" -q branch create dev
    run "$UDR" subscribe create d --tables users --branch dev --from now
    expect_rc 0
    expect_out "on branch dev"
    sql "INSERT INTO users VALUES (8, 'main', 0)"
    "$UDR" -q --branch dev sql "INSERT INTO users VALUES (9, 'dev', 0)" >/dev/null
    run "$UDR" subscribe poll d --format json
    check [ "$(printf '%s\n' "$out" | wc -l)" = 1 ]
    expect_out '"row":{"id":9,"name":"dev","score":0}'
    run "$UDR" subscribe list --format csv
    expect_out "d,dev,users,"
}

test_bad_input() {
    setup
    "$UDR" -q subscribe create s --tables users
    run "$UDR" subscribe poll nosub
    expect_rc 1
    expect_err "nosub"
    run "$UDR" subscribe ack nosub 1
    expect_rc 1
    expect_err "nosub"
    run "$UDR" subscribe drop nosub
    expect_rc 1
    expect_err "nosub"
    run "$UDR" subscribe create s --tables other
    expect_rc 1
    expect_err "s exists already"
    # acknowledging what cannot have been delivered changes nothing
    run "$UDR" subscribe ack s 999999
    expect_rc 1
    expect_err "999999"
    check [ "$(cursor_of s)" = 0 ]
    run "$UDR" subscribe ack s abc
    expect_rc 2
    expect_err "abc"
    run "$UDR" subscribe ack s -1
    expect_rc 2
    run "$UDR" subscribe ack s 12abc
    expect_rc 2
    run "$UDR" subscribe ack s
    expect_rc 2
    run "$UDR" subscribe create ../../etc --tables users
    expect_rc 1
    expect_err "../../etc"
    check [ ! -e ../../etc/.udr ]
    run "$UDR" subscribe create x --tables users,nosuch
    expect_rc 1
    expect_err "nosuch"
    run "$UDR" subscribe create x --tables "users,,other"
    expect_rc 2
    run "$UDR" subscribe create x
    expect_rc 2
    run "$UDR" subscribe create x --tables users --from nowhere
    expect_rc 1
    expect_err "nowhere"
    run "$UDR" subscribe list --format csv
    check [ "$(printf '%s\n' "$out" | sed 1d | cut -d, -f1)" = s ]
    run "$UDR" changes nosuch
    expect_rc 1
    expect_err "nosuch"
    # the name is a SQL string: quoted, not spliced
    run "$UDR" changes "x'y"
    expect_rc 1
    expect_err "x'y"
    run "$UDR" changes users --to "1'); DROP TABLE users; --"
    expect_rc 1
    run "$UDR" sql --format csv "SELECT count(*) FROM users"
    expect_out "2"
    run "$UDR" changes
    expect_rc 2
    run "$UDR" changes users --bogus
    expect_rc 2
    run "$UDR" subscribe poll s --format csv
    expect_rc 2
    run "$UDR" subscribe poll s --max x
    expect_rc 2
    run "$UDR" subscribe poll s --bogus
    expect_rc 2
    run "$UDR" subscribe frob
    expect_rc 2
    expect_err "frob"
    run "$UDR" subscribe
    expect_rc 2
}

test_sql_ack_in_a_transaction() {
    setup
    "$UDR" -q sql "CREATE TABLE out AS SELECT 0 AS n" >/dev/null
    "$UDR" -q subscribe create s --tables users
    "$UDR" -q sql "INSERT INTO users VALUES (3, 'c', 30)" >/dev/null
    end=$("$UDR" subscribe poll s --format json | tail -n 1 | sed -E 's/.*"seq":([0-9]+).*/\1/')
    # rolled back: neither the write nor the cursor
    run "$UDR" sql "BEGIN; INSERT INTO out VALUES (1); CALL udr_ack('s', $end); ROLLBACK;"
    expect_rc 0
    check [ "$(cursor_of s)" = 0 ]
    # committed: both, in one commit
    run "$UDR" sql --format csv "BEGIN; INSERT INTO out VALUES (2); CALL udr_ack('s', $end); COMMIT;"
    expect_rc 0
    expect_out "acknowledged
$end"
    check [ "$(cursor_of s)" = "$end" ]
    run "$UDR" sql --format csv "SELECT string_agg(n::VARCHAR, ',' ORDER BY n) AS ns FROM out"
    expect_out "0,2"
    # an acknowledgement past the log's end fails the transaction: nothing moves
    run "$UDR" sql "BEGIN; INSERT INTO out VALUES (3); CALL udr_ack('s', 999999); COMMIT;"
    expect_rc 1
    expect_err "cannot have been delivered"
    check [ "$(cursor_of s)" = "$end" ]
    run "$UDR" sql --format csv "SELECT count(*) AS c FROM out"
    expect_out "c
2"
}

test_nested_values_as_text() {
    "$UDR" init -q >/dev/null
    "$UDR" -q sql "CREATE TABLE w AS SELECT 1 AS id, [1,2] AS l, {'a': 1} AS st" >/dev/null
    "$UDR" -q subscribe create s --tables w
    run "$UDR" subscribe poll s --format json
    expect_rc 0
    expect_out '"row":{"id":1,"l":"[1, 2]","st":"{'"'"'a'"'"': 1}"}'
    "$UDR" -q sql "INSERT INTO w VALUES (2, [3], {'a': 2})" >/dev/null
    run "$UDR" diff w 1 2 --format csv
    expect_out "added,2,[3],{'a': 2}"
}

test_help() {
    run "$UDR" subscribe --help
    expect_rc 0
    expect_out "usage: udr subscribe create NAME --tables"
    for v in create list ack drop; do
        run "$UDR" subscribe $v --help
        expect_rc 0
        expect_out "usage: udr subscribe"
    done
    run "$UDR" subscribe poll --help
    expect_rc 0
    expect_out "usage: udr subscribe poll NAME"
    expect_out "--follow"
    run "$UDR" help subscribe
    expect_rc 0
    expect_out "usage: udr subscribe"
    run "$UDR" changes --help
    expect_rc 0
    expect_out "usage: udr changes TABLE"
    run "$UDR" --help
    expect_out "subscribe poll NAME"
    expect_out "changes TABLE"
}

run_tests
