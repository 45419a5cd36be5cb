#!/bin/sh
# The quick-start: what UDR does today, on a default repository made fresh in
# build/quickstart/.udr. Usage: scripts/quickstart.sh PATH_TO_UDR
set -eu
udr=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
work="$top/build/quickstart"
rm -rf "$work"
mkdir -p "$work"
cd "$work"
export UDR_DIR="$work/.udr"
cp "$top/examples/users.csv" "$top/examples/users_v2.csv" .

if [ -t 1 ]; then b='\033[1m' n='\033[0m'; else b='' n=''; fi
step() { printf "\n${b}== %s${n}\n" "$*"; }
show() { printf '$ udr %s\n' "$(shift; echo "$*")"; "$@"; }

step "UDR $("$udr" version | sed 's/^udr //')"
show "$udr" init

step "Import a CSV file as a table with a primary key"
cat users.csv
show "$udr" import users users.csv --key id

step "Query it with SQL (DuckDB)"
show "$udr" sql --format table "SELECT name, score FROM users WHERE score > 80 ORDER BY id"

step "A second version: the scores are revised, a user is added"
show "$udr" import users users_v2.csv
show "$udr" log users --format table

step "Time travel: every version stays queryable"
show "$udr" sql --format table 'SELECT avg(score) AS v1 FROM "users@1"'
show "$udr" sql --format table 'SELECT avg(score) AS v2 FROM users'

step "What changed from version 1 to 2, by key"
show "$udr" diff users 1 2 --format table

step "The table's chunks are content-addressed Parquet objects"
show "$udr" show users

step "Importing the same content again stores nothing new (dedup)"
show "$udr" import users users_v2.csv

step "A branch: try a change without touching main (no data is copied)"
show "$udr" branch create experiment --description "curve the scores"
show "$udr" checkout experiment
"$udr" sql --format csv \
    "COPY (SELECT id, name, least(score + 5, 100) AS score FROM users) TO 'curved.csv'" >/dev/null
show "$udr" import users curved.csv -m "curve: +5, at most 100"

step "Meanwhile main gets a new user"
printf 'id,name,score\n5,Eve,91.0\n' > eve.csv
show "$udr" --branch main import users eve.csv --append
show "$udr" sql --format table 'SELECT avg(score) AS main_avg FROM "users@main"'
show "$udr" sql --format table 'SELECT avg(score) AS experiment_avg FROM users'

step "What differs between the branches, table by table, then row by row"
show "$udr" diff experiment main --format table
show "$udr" diff main experiment --rows --format table

step "Merge: both sides changed users, so rows merge by key (three-way)"
show "$udr" checkout main
show "$udr" merge experiment
show "$udr" sql --format table "SELECT * FROM users ORDER BY id"
show "$udr" log --graph

step "A transaction over two tables: one commit, or nothing"
show "$udr" sql --format table "BEGIN;
UPDATE users SET score = score + 1 WHERE id = 2;
CREATE TABLE audit AS SELECT 'bonus' AS action, 2 AS user_id;
SELECT name, score FROM users WHERE id = 2;
COMMIT;"
show "$udr" log -n 1 --format table

step "The changelog: every commit's rows, as a feed (and in SQL: udr_changes)"
show "$udr" changes users --from 4 --format table

step "A subscriber catches up on history, then sees a live change"
show "$udr" subscribe create dashboard --tables users,audit
show "$udr" subscribe poll dashboard --max 2 --ack
show "$udr" subscribe list --format table
"$udr" subscribe poll dashboard --ack >/dev/null       # the rest of history
"$udr" subscribe poll dashboard --follow --ack > follow.out 2>&1 &
follower=$!
sleep 1
show "$udr" sql "UPDATE users SET score = 100 WHERE id = 3"
i=0
while [ $i -lt 50 ] && ! grep -q update_after follow.out; do sleep 0.1; i=$((i + 1)); done
kill -TERM "$follower"
wait "$follower" || true
echo "(a follower, waiting on the log with no CPU, printed:)"
cat follow.out

step "From Python with pandas: the same repository (build/python, docs/python.md)"
cat > demo.py <<'PY'
import os, udr, pandas as pd
from udr_query import QueryEngine
repo = os.environ["UDR_DIR"]
engine = QueryEngine(udr.PyChunkStore(repo), udr.PyCatalog(repo))
print(engine.query("SELECT * FROM users ORDER BY id").to_pandas())
v1 = engine.query("SELECT avg(score) AS a FROM users", versions={"users": 1}).fetchone()[0]
print(f"average score at version 1: {v1:.2f}, now:",
      round(engine.query("SELECT avg(score) FROM users").fetchone()[0], 2))
with engine.transaction() as tx:           # one commit for both tables, or none
    tx.write_table("teams", pd.DataFrame({"team": ["red", "blue"], "size": [3, 2]}))
    tx.append_table("audit", pd.DataFrame({"action": ["teams"], "user_id": [0]}))
print("tables:", engine.list_tables())
sub = engine.subscribe("py_demo", ["teams"])
for batch in sub.poll():
    print(f"commit {batch.seq}: {batch.table} v{batch.version}")
    print(batch.rows)
sub.ack()
PY
printf '$ python3 demo.py\n'
PYTHONPATH="$(dirname "$udr")/python" /usr/bin/python3 demo.py

step "PostgreSQL clients: udr serve, then psql (docs/server.md)"
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$udr" serve --listen "127.0.0.1:$port" 2>serve.log &
server=$!
i=0
while ! pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
pq() { printf '$ psql -h 127.0.0.1 -p %s -d main -c %s\n' "$port" "'$1'"; psql -X -h 127.0.0.1 -p "$port" -d main -c "$1"; }
printf '$ udr serve --listen 127.0.0.1:%s &\n' "$port"
pq '\dt'
pq 'SELECT id, name, score FROM "users@1" ORDER BY id'
pq "SELECT count(*) AS users FROM users"
kill -TERM "$server"
wait "$server"
echo "(the server's log:)"
cat serve.log

step "Small changes store only their rows; compact folds them back"
show "$udr" sql "DELETE FROM users WHERE id = 1"
show "$udr" show users
show "$udr" compact users
show "$udr" recover --report

step "Retention: keep each table's last 2 versions; gc frees what only older ones used"
show "$udr" expire --keep-last 2 --dry-run --verbose
show "$udr" expire --keep-last 2
show "$udr" gc --grace 0
show "$udr" stats

step "Every object verified against its BLAKE3 name, every reference followed"
show "$udr" fsck

step "Damage a chunk on disk, and fsck names it"
chunk=$("$udr" show users | awk '/^chunks$/ { getline; print $1 }')
obj=".udr/objects/$(echo "$chunk" | cut -c1-2)/$(echo "$chunk" | cut -c3-4)/$chunk"
chmod u+w "$obj"
printf 'X' | dd of="$obj" bs=1 seek=100 conv=notrunc status=none
show "$udr" fsck || echo "(fsck exited $?: problems were found)"

printf '\nThe repository is in %s. Try: %s sql (an interactive shell).\n' "$UDR_DIR" "$udr"
