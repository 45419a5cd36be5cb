# `udr serve` under 10,000 hostile connections (tests/serve_hostile.c: random
# bytes, bad length words, truncated and oversized messages, half-open
# sockets, floods ...) while a libpq client runs SELECT 42 throughout. The
# server must stay up, keep every normal query under 5 s, answer every
# hostile kind that needs an answer, drop half-open connections after its
# startup timeout (default 10 s), keep its peak RSS (VmHWM) under 1 GiB
# (2 GiB built with ASan), still serve psql afterwards and exit 0 on SIGTERM.
# Needs psql and pg_isready (postgresql-client) and python3 (a free port).
# SERVE_HOSTILE_N and SERVE_HOSTILE_SEED change the run, SERVE_HOSTILE_SKIP
# (e.g. flood,cancel) leaves kinds out (see serve_hostile.c); the bytes each
# anomalous connection sent are kept in the test's directory (anomaly-*).
. "$(dirname "$0")/lib.sh"

BUILD_DIR=${BUILD_DIR:-$(dirname "$UDR")}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$(pwd)/$BUILD_DIR" ;; esac
HOSTILE="$BUILD_DIR/tests/serve_hostile"
N=${SERVE_HOSTILE_N:-10000}
SEED=${SERVE_HOSTILE_SEED:-20261126}
RSS_LIMIT_KB=$((1024 * 1024))       # 1 GiB; 2 GiB for an ASan build (shadow, quarantine)
ldd "$UDR" 2>/dev/null | grep -q libasan && RSS_LIMIT_KB=$((2 * 1024 * 1024))

# alive PID: running (a zombie, exited but not yet waited for, is not).
alive() {
    [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server DIR: udr serve in the background; sets $port and $pid.
start_server() {
    port=$(free_port)
    "$UDR" --repo "$1" serve --listen "127.0.0.1:$port" --max-connections 64 \
        >serve.out 2>serve.err </dev/null &
    pid=$!
    i=0
    while [ $i -lt 100 ]; do
        pg_isready -q -h 127.0.0.1 -p "$port" -t 1 && return 0
        alive "$pid" || break
        sleep 0.1
        i=$((i + 1))
    done
    _fail "udr serve did not come up on port $port (stderr: $(tail -n 5 serve.err))"
    kill -KILL "$pid" 2>/dev/null
    return 1
}

# stop_server: SIGTERM, and its exit status in $rc (within 30 s, else killed).
stop_server() {
    kill -TERM "$pid" 2>/dev/null
    i=0
    while alive "$pid" && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if alive "$pid"; then
        _fail "udr serve still running 30 s after SIGTERM (killed; stderr: $(tail -n 3 serve.err))"
        kill -KILL "$pid"
    fi
    wait "$pid"
    rc=$?
}

test_serve_survives_hostile_clients() {
    for tool in psql pg_isready python3; do
        command -v $tool >/dev/null 2>&1 || { _fail "$tool is needed (postgresql-client)"; return; }
    done
    [ -x "$HOSTILE" ] || { _fail "$HOSTILE is not built (make)"; return; }
    "$UDR" init -q repo >/dev/null || { _fail "udr init failed"; return; }
    start_server repo || return

    SERVE_HOSTILE_DUMP="$T" "$HOSTILE" 127.0.0.1 "$port" "$N" "$SEED" >hostile.out 2>hostile.err
    hrc=$?
    sed 's/^/    /' hostile.out
    grep -q '^serve_hostile: ok$' hostile.out ||
        _fail "the normal client failed (exit $hrc): $(grep -E 'FAILED|normal' hostile.out hostile.err | head -n 5)"
    anomalies=$(sed -n 's/^anomalies: \([0-9]*\).*/\1/p' hostile.out)
    [ "${anomalies:-x}" = 0 ] ||
        _fail "anomalies: ${anomalies:-no report}: $(grep anomaly hostile.err | head -n 5)"

    if alive "$pid"; then
        hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/"$pid"/status)
        echo "    udr serve peak RSS (VmHWM): $((hwm / 1024)) MiB (limit $((RSS_LIMIT_KB / 1024)) MiB)"
        [ "$hwm" -lt "$RSS_LIMIT_KB" ] || _fail "peak RSS ${hwm} kB over ${RSS_LIMIT_KB} kB"
    else
        _fail "udr serve died during the hostile run (stderr: $(tail -n 5 serve.err))"
        wait "$pid"
        echo "    udr serve exit status: $?"
        return
    fi

    run env PGCONNECT_TIMEOUT=10 psql -X -A -t -h 127.0.0.1 -p "$port" -U normal -d main \
        -c 'select 1'
    expect_rc 0
    expect_out 1

    stop_server
    expect_rc 0
    return 0
}

run_tests
