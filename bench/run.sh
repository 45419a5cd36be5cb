#!/bin/sh
# make bench: the object store's speed against the plain tools on the same
# file, in the same run, written to bench/RESULTS.md.
#
#   hash  UDR's BLAKE3 of a file (udr_hash_fd, as the store hashes files: mapped,
#         all cores)  vs  b3sum (default: mapped, all cores; and one thread);
#         best of 7
#   put   udr_object_put_file into a fresh repository (durable: fsync)  vs
#         cp + b3sum, and vs a durable copy (dd conv=fsync) + b3sum
#   get   udr_object_write_to_fd to a file (verified)  vs  cat FILE > OUT
#
#   tables bench_tables: import and four queries against DuckDB on the same
#         Parquet files, time travel, opening with 10,000 versions
#   branches, tx, feed, stats: bench_branches, bench_tx, bench_feed, bench_stats
#         (see their heads)
#   python bench_python.py: write_table and query().to_pandas() of a 1,000,000-row
#         DataFrame against DuckDB in C (bench_python_base) on the same data
#   serve bench_serve: 32 clients for 60 s through `udr serve` (libpq), then the
#         same workload through the C API in one process (BENCH_SERVE_SECONDS,
#         SERVE_CLIENTS)
#
# Each figure is the best of RUNS runs; `sync` runs before each so one run
# does not pay for another's write-back. BENCH_MB sets the file size
# (default 1024). Ratios are ours / theirs in time (lower is better), except
# hash throughput, which is ours / theirs in bytes per second (higher is better).
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
MB=${BENCH_MB:-1024}
RUNS=${BENCH_RUNS:-3}
data="$build/bench-data"
mkdir -p "$data"
big="$data/random-$MB.bin"
if [ ! -f "$big" ]; then
    echo "bench: making a $MB MiB random file"
    head -c "${MB}M" /dev/urandom > "$big.tmp" && mv "$big.tmp" "$big"
fi
cat "$big" > /dev/null      # in the page cache for every contender alike

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.4f", b - a }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rate() { awk -v s="$1" -v mb="$MB" 'BEGIN { printf "%.0f MiB/s", mb / s }'; }

time_cmd() {   # time_cmd N CMD...: best wall time of N runs
    n=$1
    shift
    best=""
    i=0
    while [ $i -lt "$n" ]; do
        sync
        t0=$(now)
        "$@" >/dev/null
        t=$(elapsed "$t0")
        best=$(min "$best" "$t")
        i=$((i + 1))
    done
    echo "$best"
}

echo "bench: hashing"
ours_hash=$("$build/bench/bench_hash" "$big" | cut -d' ' -f1)
b3_default=$(time_cmd 7 b3sum --no-names "$big")
b3_one=$(time_cmd 7 b3sum --num-threads 1 --no-names "$big")
want=$(b3sum --no-names "$big")
got=$("$build/bench/bench_hash" "$big" | cut -d' ' -f3)
[ "$want" = "$got" ] || { echo "bench: hash mismatch: $got vs b3sum $want" >&2; exit 1; }

echo "bench: put"
put_best="" rss=""
i=0
while [ $i -lt "$RUNS" ]; do
    rm -rf "$data/repo"
    sync
    line=$("$build/bench/bench_store" put "$data/repo" "$big")
    put_best=$(min "$put_best" "$(echo "$line" | cut -d' ' -f1)")
    rss=$(echo "$line" | cut -d' ' -f2)
    hex=$(echo "$line" | cut -d' ' -f3)
    i=$((i + 1))
done
[ "$hex" = "$want" ] || { echo "bench: put stored $hex, b3sum says $want" >&2; exit 1; }
cp_b3() { rm -f "$data/copy"; cp "$big" "$data/copy"; b3sum --no-names "$big"; }
cpsync_b3() { rm -f "$data/copy"; dd if="$big" of="$data/copy" bs=1M conv=fsync status=none; b3sum --no-names "$big"; }
t_cp_b3=$(time_cmd "$RUNS" cp_b3)
t_cpsync_b3=$(time_cmd "$RUNS" cpsync_b3)

echo "bench: dedup put (the object is already stored)"
dedup_best=""
i=0
while [ $i -lt "$RUNS" ]; do
    line=$("$build/bench/bench_store" put "$data/repo" "$big")
    dedup_best=$(min "$dedup_best" "$(echo "$line" | cut -d' ' -f1)")
    i=$((i + 1))
done

echo "bench: get"
get_best=""
i=0
while [ $i -lt "$RUNS" ]; do
    rm -f "$data/out"
    sync
    line=$("$build/bench/bench_store" get "$data/repo" "$want" "$data/out")
    get_best=$(min "$get_best" "$(echo "$line" | cut -d' ' -f1)")
    i=$((i + 1))
done
cat_out() { rm -f "$data/out"; cat "$big" > "$data/out"; }
t_cat=$(time_cmd "$RUNS" cat_out)
cmp -s "$big" "$data/out" || { echo "bench: get returned other bytes" >&2; exit 1; }
rm -rf "$data/repo" "$data/copy" "$data/out"

echo "bench: tables (${TABLE_ROWS:=10000000} rows; takes a few minutes)"
rm -rf "$data/tables"
mkdir -p "$data/tables"
"$build/bench/bench_tables" "$data/tables" "$TABLE_ROWS" > "$data/tables.txt"
val() { awk -v k="$1" '$1 == k { print $2 }' "$data/tables.txt"; }
rm -rf "$data/tables"

mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
echo "bench: branches (${BRANCH_TABLES:=200} tables of 1,000,000 rows, then merges)"
rm -rf "$data/branches"
mkdir -p "$data/branches"
"$build/bench/bench_branches" "$data/branches" "$BRANCH_TABLES" > "$data/branches.txt"
bval() { awk -v k="$1" '$1 == k { print $2 }' "$data/branches.txt"; }
ms() { awk -v s="$1" 'BEGIN { printf "%.2f ms", s * 1000 }'; }
rm -rf "$data/branches"

echo "bench: transactions (${TX_ROWS:=10000000} rows; commits for ${TX_SECONDS:=10} s each)"
rm -rf "$data/tx"
mkdir -p "$data/tx"
"$build/bench/bench_tx" "$data/tx" "$TX_ROWS" "$TX_SECONDS" > "$data/tx.txt"
tval() { awk -v k="$1" '$1 == k { print $2 }' "$data/tx.txt"; }
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }
rm -rf "$data/tx"

echo "bench: change feed (${FEED_ROWS:=10000000} rows; ${FEED_COMMITS:=1000} commits followed; takes a few minutes)"
rm -rf "$data/feed"
mkdir -p "$data/feed"
"$build/bench/bench_feed" "$data/feed" "$FEED_ROWS" "$FEED_COMMITS" "$build/udr" > "$data/feed.txt"
fval() { awk -v k="$1" '$1 == k { print $2 }' "$data/feed.txt"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
rm -rf "$data/feed"

echo "bench: storage and dedup (${STATS_ROWS:=1000000} rows, ${STATS_VERSIONS:=50} versions; about two minutes)"
rm -rf "$data/stats"
mkdir -p "$data/stats"
"$build/bench/bench_stats" "$data/stats" "$STATS_ROWS" "$STATS_VERSIONS" > "$data/stats.txt"
sval() { awk -v k="$1" '$1 == k { print $2 }' "$data/stats.txt"; }
rm -rf "$data/stats"

echo "bench: python module (${PY_ROWS:=1000000} rows written and read back, against DuckDB in C)"
make -s --no-print-directory BUILD="$build" python "$build/bench/bench_python_base" >/dev/null
py_rc=0     # a DataFrame read back wrong fails the bench, after RESULTS.md is written
PYTHONPATH="$build/python" "${PYTHON:-/usr/bin/python3}" bench/bench_python.py "$data/python" \
    "$build/bench/bench_python_base" "$PY_ROWS" > "$data/python.txt" || py_rc=$?
pval() { awk -v k="$1" '$1 == k { print $2 }' "$data/python.txt"; }

echo "bench: PostgreSQL wire server (${SERVE_CLIENTS:=32} clients, ${BENCH_SERVE_SECONDS:=60} s through udr serve, then as long through the C API)"
rm -rf "$data/serve"
mkdir -p "$data/serve"
serve_rc=0  # an error, a wrong sum or growing memory fails the bench, after RESULTS.md is written
"$build/bench/bench_serve" "$data/serve" "$build/udr" "$BENCH_SERVE_SECONDS" "$SERVE_CLIENTS" \
    > "$data/serve.txt" 2> "$data/serve.err" || serve_rc=$?
cat "$data/serve.err" >&2
wval() { awk -v k="$1" '$1 == k { print $2 }' "$data/serve.txt"; }
rm -rf "$data/serve/serve-repo" "$data/serve/capi-repo"   # the server's log stays

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
mem=$(free -g | awk '/^Mem:/ { print $2 " GiB" }')
fs=$(df -T "$data" | awk 'NR == 2 { print $2 }')
out="$top/bench/RESULTS.md"
# The Fuzzing section is bench/fuzz.sh's (make fuzz-bench, an hour): kept
# as it was, with its own date, and moved to the end.
fuzz_section="$data/fuzz-section.md"
: >"$fuzz_section"
[ -f "$out" ] && awk '/^## / { keep = ($0 == "## Fuzzing") } keep' "$out" >"$fuzz_section"
{
    echo "# Benchmark results"
    echo
    echo "Written by \`make bench\` ($(basename "$0")) on $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Machine: $cpu, $(nproc) cores, $mem, $(uname -sr), $fs file system."
    echo "File: $MB MiB of random bytes, in the page cache. Best of $RUNS runs each (hashing: of 7)."
    echo
    echo "## Object store"
    echo
    echo "| what | UDR | baseline | baseline time | ratio | goal |"
    echo "|---|---|---|---|---|---|"
    echo "| BLAKE3 of the file | $ours_hash s ($(rate "$ours_hash")) | b3sum (all cores) | $b3_default s ($(rate "$b3_default")) | **$(ratio "$b3_default" "$ours_hash")** throughput | >= 0.9 |"
    echo "| BLAKE3 of the file | $ours_hash s | b3sum --num-threads 1 | $b3_one s | $(ratio "$b3_one" "$ours_hash") throughput | |"
    echo "| put (durable) | $put_best s | cp + b3sum (not durable) | $t_cp_b3 s | **$(ratio "$put_best" "$t_cp_b3")** time | <= 1.5 |"
    echo "| put (durable) | $put_best s | dd conv=fsync + b3sum | $t_cpsync_b3 s | $(ratio "$put_best" "$t_cpsync_b3") time | |"
    echo "| put of a stored file (dedup) | $dedup_best s | cp + b3sum | $t_cp_b3 s | $(ratio "$dedup_best" "$t_cp_b3") time | |"
    echo "| get to a file (verified) | $get_best s | cat FILE > OUT | $t_cat s | **$(ratio "$get_best" "$t_cat")** time | |"
    echo
    echo "Peak resident memory of the put: $rss KiB (the limit is 64 MiB)."
    echo
    echo "## Tables"
    echo
    echo "A lineitem-like table of $(val rows) rows ($(val lineitem_chunks) chunks) and an orders-like"
    echo "table of a quarter as many ($(val orders_chunks) chunks), generated in SQL. \"DuckDB\" is a"
    echo "separate DuckDB in the same process reading the very same chunk files with"
    echo "read_parquet([...]); \"UDR\" names the tables and lets UDR resolve them;"
    echo "\"same engine\" runs the raw read_parquet SQL through UDR's own DuckDB, so"
    echo "UDR / same engine is what name resolution costs. Each query runs in rounds"
    echo "of the three, in a rotating order: at least 15 rounds, more for the quick"
    echo "ones (scan $(val query_scan_rounds), filter $(val query_filter_rounds), groupby $(val query_groupby_rounds), join $(val query_join_rounds)). Times are the best"
    echo "of the rounds; a ratio is the median of the rounds' own ratios, each taken"
    echo "within one round, so both sides of it saw the same machine."
    echo
    echo "| what | UDR | DuckDB | ratio | same engine | UDR / same | goal |"
    echo "|---|---|---|---|---|---|---|"
    for q in scan filter groupby join; do
        echo "| query: $q | $(val query_${q}_udr_s) s | $(val query_${q}_duckdb_s) s | **$(val query_${q}_ratio)** | $(val query_${q}_same_s) s | $(val query_${q}_ratio_same) | <= 1.10 |"
    done
    echo
    echo "Import: udr_table_write of the lineitem input, keyed by (l_orderkey,"
    echo "l_linenumber), into a fresh repository (chunked, hashed, fsynced, committed)"
    echo "against DuckDB's own COPY of the same input to one zstd Parquet file; each"
    echo "run in a child process, alternating, best of 3 (Parquet input) and of 2 (CSV)."
    echo
    echo "| import | UDR | DuckDB COPY | ratio | UDR peak RSS | DuckDB peak RSS | goal |"
    echo "|---|---|---|---|---|---|---|"
    echo "| from Parquet | $(val import_udr_s) s | $(val import_duckdb_s) s | **$(ratio "$(val import_udr_s)" "$(val import_duckdb_s)")** | $(mib "$(val import_udr_rss_kb)") | $(mib "$(val import_duckdb_rss_kb)") | <= 1.5 |"
    echo "| from CSV | $(val import_csv_udr_s) s | $(val import_csv_duckdb_s) s | **$(ratio "$(val import_csv_udr_s)" "$(val import_csv_duckdb_s)")** | $(mib "$(val import_csv_udr_rss_kb)") | $(mib "$(val import_csv_duckdb_rss_kb)") | <= 1.5 |"
    echo
    echo "| what | figure | goal |"
    echo "|---|---|---|"
    echo "| time travel: version 1 of 100 / the latest (200,000 rows each; best times, median of 41 per-round ratios) | $(val travel_v1_s) s / $(val travel_latest_s) s, **$(val travel_ratio)** | <= 1.1 |"
    echo "| by-time lookups that found the version current at that instant | $(val travel_by_time_right) of $(val travel_by_time_of) | all |"
    echo "| udr_open + SELECT 1, 10,000 versions in the log | **$(awk -v s="$(val open_select1_10k_s)" 'BEGIN { printf "%.1f ms", s * 1000 }')** | < 20 ms |"
    echo "| udr_open + SELECT 1, empty repository | $(awk -v s="$(val open_select1_empty_s)" 'BEGIN { printf "%.1f ms", s * 1000 }') | |"
    echo
    echo "## Branches"
    echo
    echo "Creating a branch: 15 creations in a repository with 1 table of 10 rows, and"
    echo "in one with $(bval create_large_tables) tables of 1,000,000 rows each."
    echo
    echo "| repository | best | median | objects stored | goal |"
    echo "|---|---|---|---|---|"
    echo "| 1 table, 10 rows | $(ms "$(bval create_small_best_s)") | $(ms "$(bval create_small_median_s)") | $(bval create_small_new_objects) | < 5 ms |"
    echo "| $(bval create_large_tables) tables, 1,000,000 rows each | $(ms "$(bval create_large_best_s)") | $(ms "$(bval create_large_median_s)") | $(bval create_large_new_objects) | < 5 ms |"
    echo "| ratio (median, large / small) | | **$(ratio "$(bval create_large_median_s)" "$(bval create_small_median_s)")** | | <= 1.5 |"
    echo
    echo "Diff and merge: a 1,000,000-row keyed table ($(bval merge_scattered_table_chunks) chunks, $(bval merge_scattered_table_bytes) bytes);"
    echo "main and a branch each update 1,000 rows (as delta writes); then, on a freshly"
    echo "opened repository, udr_table_diff of the two versions and udr_merge of the"
    echo "branch into main. Bytes read: the process's read() bytes (rchar) during the call."
    echo "Scattered rows (every 1,000th key) touch every chunk; clustered ones (1,000"
    echo "consecutive keys) one or two."
    echo
    echo "| rows changed | diff | diff bytes read | merge | merge bytes read | rows changed after merge | goal |"
    echo "|---|---|---|---|---|---|---|"
    for k in scattered clustered; do
        echo "| 2 x 1,000 $k | $(bval merge_${k}_diff_s) s | $(bval merge_${k}_diff_read_bytes) | $(bval merge_${k}_merge_s) s | $(bval merge_${k}_merge_read_bytes) | $(bval merge_${k}_result_changed) of $(bval merge_${k}_result_rows) | < 1 s |"
    done
    echo
    echo "## Transactions"
    echo
    echo "Single-row \`UPDATE\`s committed one by one (\`udr_query\`, autocommit) on a"
    echo "$(tval update_rows)-row keyed table, at random keys, in one process: $(tval update_count)"
    echo "of them. Bytes: what each added under objects/ and log/."
    echo
    echo "| what | first | median | p90 | max | goal |"
    echo "|---|---|---|---|---|---|"
    echo "| time per UPDATE + commit | $(ms "$(tval update_first_s)") | **$(ms "$(tval update_median_s)")** | $(ms "$(tval update_p90_s)") | $(ms "$(tval update_max_s)") | < 20 ms |"
    echo "| storage per UPDATE | | $(kib "$(tval update_bytes_mean)") (mean) | | **$(kib "$(tval update_bytes_max)")** | < 64 KiB |"
    echo
    echo "The first UPDATE of a process reads every chunk's footer (it finds the row"
    echo "by scanning); later ones read only the chunks whose key range holds the key."
    echo "Every eighth or ninth folds the small delete files and chunks of the ones"
    echo "before into one (the p90). From a fresh process (\`udr sql\`): $(ms "$(tval update_cold_s)")."
    echo
    echo "Single-row commits per second, each process updating its own rows of one"
    echo "100,000-row table for ${TX_SECONDS} s in all:"
    echo
    echo "| processes | group commit | commits/s | log fsyncs per commit | commits | conflicts |"
    echo "|---|---|---|---|---|---|"
    for k in 1p 1p_nogroup 4p 4p_nogroup 1p_slow 1p_nogroup_slow 4p_slow 4p_nogroup_slow; do
        n=${k%%_*}; g=yes; case $k in *nogroup*) g="no (fsync under the lock)" ;; esac
        case $k in *slow) g="$g; fsync +10 ms" ;; esac
        echo "| ${n%p} | $g | **$(tval commits_${k}_per_s)** | $(tval commits_${k}_fsyncs_per_commit) | $(tval commits_${k}_commits) | $(tval commits_${k}_conflicts) |"
    done
    echo
    echo "Each configuration ran twice for half the time, the second pass in reverse"
    echo "order. A log fsync costs about 0.2 ms on this machine's disk, against about"
    echo "15 ms of work per commit, so commits rarely overlap their fsyncs and there is"
    echo "little to share. \"fsync +10 ms\" makes each log fsync 10 ms slower"
    echo "(\`UDR_SIMULATE_FSYNC_US=10000\`, benchmarks only), as on a disk without a"
    echo "write cache: with group commit the fsync runs after the writers' lock is"
    echo "released, so other commits append (and work) while it runs, instead of"
    echo "waiting for it. Commits here rarely arrive together, so an fsync is seldom"
    echo "shared outright (fsyncs per commit just under 1). Four processes on two"
    echo "cores share the CPU."
    echo
    echo "After 1,000 small commits (80% single-row updates, 10% inserts, 10% deletes)"
    echo "on the $(tval update_rows)-row table ($(tval compact_commits_s) s in all; $(tval compact_before_chunks) chunks and"
    echo "$(tval compact_before_deletes) delete files after them), three queries against the same"
    echo "queries on a fresh write of the same rows (median of 15 per-round ratios),"
    echo "then after \`udr compact\` ($(tval compact_s) s, $(tval compact_new_bytes) new bytes):"
    echo
    echo "| query | before compaction | after compaction |"
    echo "|---|---|---|"
    for q in scan filter groupby; do
        echo "| $q | **$(tval compact_before_${q}_ratio)** ($(ms "$(tval compact_before_${q}_s)")) | **$(tval compact_after_${q}_ratio)** ($(ms "$(tval compact_after_${q}_s)")) |"
    done
    echo
    echo "## Change feed and subscriptions"
    echo
    echo "The feed of one commit: a $(fval feed_rows)-row keyed table ($(fval feed_table_chunks) chunks, $(mb "$(fval feed_table_bytes)"),"
    echo "$(mb "$(fval feed_chunk_bytes)") a chunk); 40 UPDATEs of 100 rows, each committed alone (\`udr_query\`),"
    echo "alternately at 100 consecutive keys and at 100 random ones. After each, the feed of"
    echo "that commit through the C API (\`udr_changes_open(t, V, V)\`, \`udr_changes_next\` to"
    echo "the end), checked to be 100 update_before and 100 update_after rows. Bytes read:"
    echo "the process's read() bytes (rchar) during it."
    echo
    echo "| update of 100 rows | first | median | p90 | max | bytes read (median) | goal |"
    echo "|---|---|---|---|---|---|---|"
    for k in range scattered; do
        case $k in range) what="consecutive keys" ;; *) what="random keys" ;; esac
        echo "| 100 $what | $(fval feed_${k}_first_ms) ms | **$(fval feed_${k}_median_ms) ms** | $(fval feed_${k}_p90_ms) ms | $(fval feed_${k}_max_ms) ms | $(mb "$(fval feed_${k}_read_bytes)") | < 50 ms |"
    done
    echo
    echo "100 consecutive keys lie in one or two chunks; 100 random ones in about"
    echo "$(awk -v c="$(fval feed_table_chunks)" 'BEGIN { printf "%.0f", c * (1 - (1 - 1 / c) ^ 100) }') of the $(fval feed_table_chunks), and the feed reads each chunk an update touched"
    echo "(at those rows) for the rows as they were. About every eighth small change folds"
    echo "the table's delete files into one ($(fval feed_range_folds) and $(fval feed_scattered_folds) of the 20 here); the feed compares"
    echo "the (chunk, row) sets of the delete files only one side has, so that commit"
    echo "costs only the rows it newly deletes: median $(fval feed_range_fold_median_ms) ms and $(fval feed_scattered_fold_median_ms) ms."
    echo
    echo "References, in the same state after each feed: the same feed in SQL"
    echo "(\`SELECT count(*) FROM udr_changes('t', 'V', 'V')\`), \`SELECT count(*) FROM t\`"
    echo "(which DuckDB answers from the Parquet footers and the delete files), and a"
    echo "scan that reads columns (\`SELECT sum(v), count(*), max(name) FROM t\`). Ratios:"
    echo "the feed's median over theirs."
    echo
    echo "| update of 100 rows | feed in SQL | count(*) | scan | feed / count(*) | feed / scan |"
    echo "|---|---|---|---|---|---|"
    for k in range scattered; do
        case $k in range) what="consecutive keys" ;; *) what="random keys" ;; esac
        echo "| 100 $what | $(fval feed_${k}_sql_median_ms) ms | $(fval feed_${k}_count_median_ms) ms | $(fval feed_${k}_scan_median_ms) ms ($(mb "$(fval feed_${k}_scan_read_bytes)") read) | $(fval feed_${k}_ratio_count) | **$(fval feed_${k}_ratio_scan)** |"
    done
    echo
    echo "Following: a follower process and a producer process on a small repository."
    echo "The producer commits $(fval follow_commits) single-row INSERTs one by one, 0-5 ms apart"
    echo "($(fval follow_commits_s) s in all with the C follower, $(fval follow_commits_per_s) commits/s). The C follower loops"
    echo "\`udr_sub_poll\`,"
    echo "reads the rows, \`udr_sub_ack\`, \`udr_wait\`; the CLI's is \`udr subscribe poll NAME"
    echo "--follow --ack --format json\` (and without --ack), its lines read as they come."
    echo "A row's latency: when the follower read it, less the commit's time in the log;"
    echo "then less when the producer's \`udr_query\` returned (negative if the follower"
    echo "saw it first), and less when the INSERT began (the commit's own work included)."
    echo
    echo "| follower | seen | median | p99 | max | from the return: median, p99 | from the start: median, p99 | goal |"
    echo "|---|---|---|---|---|---|---|---|"
    for k in follow follow_cli follow_cli_noack; do
        case $k in
        follow) what="C API" ;;
        follow_cli) what="\`udr subscribe poll --follow --ack\`" ;;
        *) what="\`udr subscribe poll --follow\` (no --ack)" ;;
        esac
        [ -n "$(fval ${k}_seen)" ] || continue
        echo "| $what | $(fval ${k}_seen) of $(fval ${k}_commits) | **$(fval ${k}_median_ms) ms** | **$(fval ${k}_p99_ms) ms** | $(fval ${k}_max_ms) ms | $(fval ${k}_from_return_median_ms), $(fval ${k}_from_return_p99_ms) ms | $(fval ${k}_from_send_median_ms), $(fval ${k}_from_send_p99_ms) ms | < 50 ms |"
    done
    echo
    echo "Without --ack the cursor never moves; the follower keeps its own place and"
    echo "polls after it (\`udr_sub_poll_after\`), so each poll reads only the new commits."
    echo
    echo "Idle: the follower's CPU time (all its threads) and context switches per"
    echo "second over 2 s of waiting before the commits, and 2 s after them, each from"
    echo "2 s after the follower's last work (DuckDB's worker threads wake once about a"
    echo "second after a query, then sleep); the goal is no CPU while idle."
    echo
    echo "| follower | CPU before | CPU after | switches/s before, after | ends on SIGTERM |"
    echo "|---|---|---|---|---|"
    for k in follow follow_cli follow_cli_noack; do
        case $k in
        follow) what="C API" ;;
        follow_cli) what="\`udr subscribe poll --follow --ack\`" ;;
        *) what="\`udr subscribe poll --follow\` (no --ack)" ;;
        esac
        [ -n "$(fval ${k}_seen)" ] || continue
        echo "| $what | **$(fval ${k}_idle_before_cpu_ms_per_s) ms/s** | $(fval ${k}_idle_after_cpu_ms_per_s) ms/s | $(fval ${k}_idle_before_switches_per_s), $(fval ${k}_idle_after_switches_per_s) | $(fval ${k}_exit_on_sigterm) |"
    done
    echo
    echo "\`udr_wait\` without a timeout sleeps in poll() on an inotify watch of log/ and"
    echo "wakes only when the log grows. The CLI waits the same way; a thread of its own"
    echo "takes SIGINT and SIGTERM and pokes the wait, so no timer runs while idle."
    echo
    echo "## Storage and dedup"
    echo
    echo "\`udr stats\` (\`udr_stats_get\`) on a keyed table of $(sval stats_rows) rows (id, an integer, a"
    echo "string; $(sval stats_version_chunks) chunks, $(mb "$(sval stats_version_bytes)") a version) with $(sval stats_versions) versions: the"
    echo "first, then $(($(sval stats_versions) - 1)) UPDATEs of 1 % of the rows each, at keys drawn afresh each time"
    echo "(\`WHERE hash(id + k * 1000003) % 100 = 0\`), each committed on its own. Logical: every"
    echo "version stored whole; physical: the distinct chunks, delete files and patches they use."
    echo
    echo "| what | figure | goal |"
    echo "|---|---|---|"
    echo "| logical bytes ($(sval stats_table_versions) versions) | $(mb "$(sval stats_logical_bytes)") | |"
    echo "| physical bytes | $(mb "$(sval stats_physical_bytes)") | |"
    echo "| physical / one version | **$(sval stats_physical_over_version)x** | <= 1.6x |"
    echo "| dedup ratio (1 - physical / logical) | **$(awk -v r="$(sval stats_dedup_ratio)" 'BEGIN { printf "%.1f %%", r * 100 }')** | 60-85 % (the original README) |"
    echo "| all objects, metadata included | $(sval stats_objects) objects, $(mb "$(sval stats_object_bytes)") | |"
    echo "| \`udr_stats_get\` (best of 3) | $(sval stats_time_ms) ms | |"
    echo
    echo "Where the physical bytes are: the first version's chunks $(mb "$(sval stats_first_chunk_bytes)"),"
    echo "later chunks $(mb "$(sval stats_later_chunk_bytes)") (the updated rows, and whole new chunks where a"
    echo "change compacted the table), delete files $(mb "$(sval stats_delete_bytes)"), patches $(mb "$(sval stats_patch_bytes)")"
    echo "(an UPDATE of fixed-width columns stores each row's position and new values only;"
    echo "docs/tables.md, \"What small changes store\"). $(sval stats_compactions) of the updates"
    echo "compacted (past half the stored rows deleted ones): with 1 % of the rows at"
    echo "random keys, every chunk holds updated rows, so a compaction re-chunks the table"
    echo "into chunks no version had: $(mb "$(sval stats_compacted_bytes)") of the later chunks. Without them,"
    echo "physical bytes would be $(sval stats_physical_over_version_uncompacted)x one version. The $(($(sval stats_versions) - 1)) UPDATEs took $(sval stats_updates_s) s."
    echo
    echo "Reading the last version, its patches applied and deleted rows left out through"
    echo "in-memory maps (docs/tables.md, \"Reading a table\"), against the same rows written afresh as a"
    echo "table of their own (median of 15 per-round ratios, alternating order; best times):"
    echo
    echo "| query | last version | fresh | ratio |"
    echo "|---|---|---|---|"
    for k in scan filter point; do
        case $k in scan) what="full scan: sum, count, max" ;; filter) what="key range, 1 % of rows" ;; *) what="one key" ;; esac
        echo "| $what | $(sval stats_query_${k}_s) s | $(sval stats_query_${k}_fresh_s) s | **$(sval stats_query_${k}_ratio)** |"
    done
    echo
    echo "## Python module"
    echo
    echo "A DataFrame of $(pval rows) rows and 5 columns (id int64, name str, score float64,"
    echo "active bool, ts datetime64[ns]; bench/bench_python.py). UDR: \`write_table(\"t\", df)\`"
    echo "into a fresh repository (chunked, hashed, fsynced, committed), and"
    echo "\`query(\"SELECT * FROM t\").to_pandas()\` back, checked equal to df. DuckDB: a C"
    echo "program linking only DuckDB (bench_python_base) with the same columns in memory:"
    echo "\`COPY\` from a table function over the arrays to one zstd Parquet file, then its"
    echo "fsync; and \`SELECT * FROM read_parquet()\` with every value copied out of the"
    echo "result into C arrays (each string malloc'd). Each of the four in a process of its"
    echo "own; the two sides alternate for $(pval runs) rounds. Times are the best; a ratio is the"
    echo "median of the rounds' own ratios. Memory: the process's peak (ru_maxrss), and in"
    echo "brackets its resident memory before the first run (the DataFrame or the arrays"
    echo "to write are in it; Python, NumPy and pandas take about 70 MiB)."
    echo
    echo "| step | UDR (Python) | DuckDB (C) | ratio | UDR peak (before) | DuckDB peak (before) | goal |"
    echo "|---|---|---|---|---|---|---|"
    for k in write read; do
        case $k in write) what="\`write_table\`" ;; *) what="\`query().to_pandas()\`" ;; esac
        echo "| $what | $(pval ${k}_best_s) s | $(pval base_${k}_best_s) s | **$(pval ${k}_ratio)** | $(mib "$(pval ${k}_peak_rss_kb)") ($(mib "$(pval ${k}_rss_before_kb)")) | $(mib "$(pval base_${k}_peak_rss_kb)") ($(mib "$(pval base_${k}_rss_before_kb)")) | <= 2.0 |"
    done
    echo
    echo "Where UDR's time goes (best of 5 each, after the rounds): writing,"
    echo "\`udr.frame_of\` (the DataFrame to column arrays) $(pval write_frame_of_s) s and the extension's"
    echo "write of them (chunks, hashes, fsyncs, the commit) $(pval write_ext_s) s; reading, the query"
    echo "$(pval read_query_s) s, \`Result.arrays()\` (NumPy arrays, a str per name) $(pval read_arrays_s) s and"
    echo "\`udr.dataframe_of\` $(pval read_dataframe_of_s) s. Stored: $(mb "$(pval write_objects_bytes)") of chunks; DuckDB's"
    echo "file $(mb "$(pval base_parquet_bytes)")."
    if [ -n "$(pval read_differs)" ]; then
        echo
        echo "**The DataFrame read back differed from the one written, in: $(pval read_differs).**"
    fi
    echo
    echo "## PostgreSQL wire server (udr serve)"
    echo
    echo "$(wval clients) clients for $(wval seconds) s through \`udr serve\` (the server on loopback, started by"
    echo "bench/bench_serve.c; each client a thread with its own libpq connection, each"
    echo "connection its own libudr handle in the server), then the same workload for as long"
    echo "through the C API in one process (each client a thread with its own \`udr_open\`"
    echo "handle), each side on a fresh repository: a bank of $(wval accounts) accounts"
    echo "(\`accounts(id BIGINT, balance BIGINT)\`, primary key id) holding $(wval total) in all."
    echo "Each client loops: 76 % \`SELECT balance FROM accounts WHERE id = \$1\` (through"
    echo "the server, the extended protocol), 4 % \`SELECT sum(balance) FROM accounts\`, which"
    echo "must be the total (every statement reads one snapshot), and 20 % transfers"
    echo "(\`BEGIN\`; two single-row \`UPDATE\`s, each checked to change one row; \`COMMIT\`)."
    echo "A transfer that meets a conflict (SQLSTATE 40001, \`UDR_ECONFLICT\`) is counted and"
    echo "not retried; any other error fails the run. Latency: from the first statement sent"
    echo "to the last reply; a transfer's only when it committed. Ratios: server / C API."
    echo
    echo "| what | udr serve | C API | ratio | goal |"
    echo "|---|---|---|---|---|"
    echo "| operations/s | $(wval serve_ops_per_s) | $(wval capi_ops_per_s) | **$(wval ratio_ops_per_s)** | |"
    echo "| point reads/s | $(wval serve_reads_per_s) | $(wval capi_reads_per_s) | $(wval ratio_reads_per_s) | |"
    echo "| transfers committed/s | $(wval serve_transfers_per_s) | $(wval capi_transfers_per_s) | $(wval ratio_transfers_per_s) | |"
    for k in read sum transfer; do
        case $k in read) what="point read" ;; sum) what="sum" ;; *) what="transfer" ;; esac
        echo "| $what p50 / p99 | $(wval serve_${k}_p50_ms) / $(wval serve_${k}_p99_ms) ms | $(wval capi_${k}_p50_ms) / $(wval capi_${k}_p99_ms) ms | **$(wval ratio_${k}_p50)** / **$(wval ratio_${k}_p99)** | |"
    done
    echo "| conflicts (40001), not retried | $(wval serve_conflicts) | $(wval capi_conflicts) | | expected |"
    echo "| other errors | **$(wval serve_errors)** | **$(wval capi_errors)** | | 0 |"
    echo "| sums checked during the run, wrong | $(wval serve_sums), **$(wval serve_sums_bad)** | $(wval capi_sums), **$(wval capi_sums_bad)** | | 0 wrong |"
    echo "| sum at the end | $(wval serve_final_sum) | $(wval capi_final_sum) | | $(wval total) |"
    echo
    echo "Resident memory (VmRSS), sampled every second: the server's, and for comparison"
    echo "the bench process's while it ran the C API side; after the warm-up ($(wval serve_rss_warm_s) s in),"
    echo "at the end and the most; and over the second half (the median of the last 10"
    echo "samples over that of the 10 at the half), which a leak would raise."
    echo
    echo "| process | after warm-up | end | max | end / warm-up | second half | goal |"
    echo "|---|---|---|---|---|---|---|"
    echo "| \`udr serve\` | $(mib "$(wval serve_rss_warm_kb)") | $(mib "$(wval serve_rss_end_kb)") | $(mib "$(wval serve_rss_max_kb)") | **$(wval serve_rss_growth)** | **$(wval serve_rss_late_growth)** | <= 1.5, <= 1.15 |"
    echo "| C API (the bench process) | $(mib "$(wval capi_rss_warm_kb)") | $(mib "$(wval capi_rss_end_kb)") | $(mib "$(wval capi_rss_max_kb)") | $(wval capi_rss_growth) | $(wval capi_rss_late_growth) | |"
    echo
    echo "The server's memory every 5 s from 1 s in (MiB): $(wval serve_rss_samples_mib | sed 's/,/, /g')."
    echo "It answered $(wval serve_ready_s) s after it was started, and on SIGTERM at the end:"
    echo "$(wval serve_exit). All checks passed: $(wval ok)."
    if [ "$serve_rc" != 0 ]; then
        echo
        echo "**bench_serve failed (status $serve_rc).** The first of its messages:"
        echo
        echo '```'
        n=$(wc -l < "$data/serve.err")
        head -n 6 "$data/serve.err"
        [ "$n" -le 7 ] || echo "... ($((n - 7)) more lines)"
        [ "$n" -le 6 ] || tail -n 1 "$data/serve.err"
        echo '```'
    fi
    if [ -s "$fuzz_section" ]; then
        echo
        cat "$fuzz_section"
    fi
} > "$out"
cat "$out"
[ "$py_rc" = 0 ] || echo "bench: bench_python.py failed (status $py_rc)" >&2
[ "$serve_rc" = 0 ] || echo "bench: bench_serve failed (status $serve_rc); the server's log: $data/serve/serve.log" >&2
[ "$py_rc" = 0 ] && [ "$serve_rc" = 0 ] || exit 1
