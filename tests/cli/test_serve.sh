#!/bin/sh
# udr serve with the PostgreSQL clients of Debian: psql runs queries, time
# travel, branch switching, a transaction, \copy and the catalog commands
# (\dt, \d TABLE); psycopg2 runs parameterized queries and round-trips every
# type (serve_psycopg2.py). Each test starts a server on a free port and
# stops it with SIGTERM, which must end it with status 0.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# serve [ARGS...]: a repository with users(id key, name, score) and a server on $PORT.
serve() {
    "$UDR" init -q repo >/dev/null
    cat > users.csv <<'CSV'
id,name,score
1,Alice,10
2,Bob,20
3,Carol,30
CSV
    "$UDR" -q --repo repo import users users.csv --key id >/dev/null
    PORT=$(free_port)
    "$UDR" --repo repo serve --listen "127.0.0.1:$PORT" "$@" 2>server.log &
    SERVER=$!
    i=0
    while ! pg_isready -q -h 127.0.0.1 -p "$PORT" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 200 ] && { _fail "server did not start: $(cat server.log)"; return 1; }
        sleep 0.05
    done
    export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=tester PGDATABASE=main PGCONNECT_TIMEOUT=10
}

# stop: SIGTERM; the server must exit 0.
stop() {
    kill -TERM "$SERVER"
    wait "$SERVER"
    st=$?
    [ "$st" = 0 ] || _fail "server exited $st after SIGTERM: $(tail -5 server.log)"
}

q() {   # q SQL...: psql, unaligned, tuples only
    run psql -X -A -t -v ON_ERROR_STOP=1 "$@"
}

test_psql_queries_and_errors() {
    serve || return
    q -c "SELECT name FROM users WHERE score > 15 ORDER BY id"
    expect_rc 0
    check [ "$out" = "$(printf 'Bob\nCarol')" ]
    q -c "SELECT * FROM nope"
    expect_rc 1
    expect_err "does not exist"
    run psql -X -v VERBOSITY=verbose -c "SELEC 1"
    expect_err "42601"
    run psql -X -v VERBOSITY=verbose -c "SELECT * FROM nope"
    expect_err "42P01"
    stop
    check grep -q "connected: user=tester database=main branch=main application=psql" server.log
    check grep -q "error 42P01" server.log
}

test_psql_time_travel() {
    serve || return
    q -c "UPDATE users SET score = 99 WHERE id = 1"
    expect_out "UPDATE 1"
    q -c "SELECT score FROM users WHERE id = 1"
    check [ "$out" = "99" ]
    q -c 'SELECT score FROM "users@1" WHERE id = 1'
    check [ "$out" = "10" ]
    q -c 'SELECT count(*) FROM "users@2"'
    check [ "$out" = "3" ]
    q -c 'SELECT count(*) FROM "users@7"'
    expect_rc 1
    expect_err "no version 7"
    stop
}

test_psql_branches() {
    serve || return
    "$UDR" -q --repo repo branch create feature/x >/dev/null
    q -d feature/x -c "INSERT INTO users VALUES (4, 'Dan', 40)"
    expect_out "INSERT 0 1"
    q -d feature/x -c "SELECT count(*) FROM users"
    check [ "$out" = "4" ]
    q -c "SELECT count(*) FROM users"
    check [ "$out" = "3" ]
    # SET udr.branch switches within one session
    q -c "SET udr.branch = 'feature/x'" -c "SELECT count(*) FROM users" -c "SHOW udr.branch" \
      -c "SET udr.branch = main" -c "SELECT count(*) FROM users"
    expect_rc 0
    check [ "$(printf '%s\n' "$out" | grep -v '^SET$')" = "$(printf '4\nfeature/x\n3')" ]
    q -d no-such-branch -c "SELECT 1"
    expect_rc 2
    expect_err 'database "no-such-branch" does not exist'
    stop
}

test_psql_transaction() {
    serve || return
    cat > tx.sql <<'SQL'
BEGIN;
UPDATE users SET score = score - 5 WHERE id = 1;
UPDATE users SET score = score + 5 WHERE id = 2;
SELECT sum(score) FROM users;
COMMIT;
BEGIN;
DELETE FROM users;
ROLLBACK;
SELECT count(*), sum(score) FROM users;
SQL
    q -f tx.sql
    expect_rc 0
    expect_out "60"
    expect_out "3|60"
    # one commit for the block
    run "$UDR" --repo repo log users --format csv
    check [ "$(printf '%s\n' "$out" | grep -c .)" = 3 ]
    # an error inside a block: the rest is refused until ROLLBACK
    printf 'BEGIN;\nSELECT * FROM nope;\nSELECT 1;\nROLLBACK;\n' > bad.sql
    run psql -X -f bad.sql
    expect_err "current transaction is aborted"
    stop
}

test_psql_copy() {
    serve || return
    printf '10\tEve\t50\n11\tFrank\t\\N\n' > more.tsv
    q -c "\\copy users FROM more.tsv"
    expect_rc 0
    expect_out "COPY 2"
    q -c "SELECT name FROM users WHERE score IS NULL"
    check [ "$out" = "Frank" ]
    q -c "\\copy (SELECT id, name FROM users ORDER BY id) TO out.csv WITH CSV HEADER"
    expect_rc 0
    check [ "$(head -n 1 out.csv)" = "id,name" ]
    check [ "$(wc -l < out.csv)" = 6 ]
    stop
}

test_psql_catalog() {
    serve || return
    "$UDR" -q --repo repo sql "CREATE TABLE orders AS SELECT 1 AS id, 2.5::DOUBLE AS total" >/dev/null
    run psql -X -c '\dt'
    expect_rc 0
    expect_out "users"
    expect_out "orders"
    run psql -X -c '\d users'
    expect_rc 0
    expect_out "bigint"
    expect_out "name"
    expect_out "score"
    run psql -X -c '\d'
    expect_rc 0
    expect_out "orders"
    stop
}

test_psycopg2() {
    serve || return
    run $PY "$HERE/serve_psycopg2.py" "$PORT"
    expect_rc 0
    [ "$rc" = 0 ] || echo "$out$err" | tail -20
    expect_out "psycopg2: ok"
    stop
}

test_sigterm_with_clients() {
    serve || return
    # A client idle in a session (psql reading a script from a pipe that
    # stays open) is told 57P01 and let go; the server exits 0.
    mkfifo in.fifo
    psql -X -f in.fifo > idle.out 2> idle.err &
    PSQL=$!
    exec 7> in.fifo
    echo "SELECT 41 + 1;" >&7
    i=0
    while ! grep -q 42 idle.out && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    stop
    echo "SELECT 2;" >&7
    exec 7>&-
    wait $PSQL
    check grep -q 42 idle.out
    check grep -q "terminating connection due to administrator command" idle.err
    check grep -q "shutting down" server.log
    check grep -q "stopped" server.log
}

run_tests
