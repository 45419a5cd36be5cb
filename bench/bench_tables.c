/*
 * bench_tables — tables against raw DuckDB, in one process, on one machine:
 *
 *   import   udr_table_write of a generated lineitem-like table (ROWS rows)
 *            vs DuckDB's own COPY ... TO parquet of the same input
 *   queries  full scan, selective filter, group-by, join: UDR (by table
 *            name) vs DuckDB on read_parquet() of the very same chunk files
 *   travel   version 1 vs the latest of 100 versions, and by-time lookups
 *   open     udr_open + SELECT 1 with 10,000 versions in the log vs an empty
 *            repository
 *
 * Prints "key value" lines that bench/run.sh turns into bench/RESULTS.md.
 * Usage: bench_tables DIR [ROWS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "duckdb.h"
#include "udr.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, udr_repo *r)
{
    fprintf(stderr, "bench_tables: %s: %s\n", what, r ? udr_errmsg(r) : "");
    exit(1);
}

static void duck(duckdb_connection c, const char *sql)
{
    duckdb_result r;
    if (duckdb_query(c, sql, &r) != DuckDBSuccess) {
        fprintf(stderr, "bench_tables: DuckDB: %s\n%s\n", duckdb_result_error(&r), sql);
        exit(1);
    }
    duckdb_destroy_result(&r);
}

static double time_duck(duckdb_connection c, const char *sql, int runs)
{
    double best = 1e9;
    for (int i = 0; i < runs; i++) {
        double t = now_s();
        duck(c, sql);
        t = now_s() - t;
        if (t < best)
            best = t;
    }
    return best;
}

static double time_udr(udr_repo *r, const char *sql, const udr_pin *pins, size_t n, int runs)
{
    double best = 1e9;
    for (int i = 0; i < runs; i++) {
        udr_result *res;
        double t = now_s();
        if (udr_query(r, sql, pins, n, &res) != UDR_OK)
            die(sql, r);
        t = now_s() - t;
        udr_result_free(res);
        if (t < best)
            best = t;
    }
    return best;
}

/* read_parquet([...]) of a table's current chunks, for the raw DuckDB side. */
static char *chunk_list(udr_repo *r, const char *dir, const char *table)
{
    udr_table_detail *d;
    if (udr_table_show(r, table, NULL, &d) != UDR_OK)
        die("show", r);
    size_t cap = 64 + d->nchunks * (strlen(dir) + 128);
    char *s = malloc(cap);
    size_t n = (size_t)snprintf(s, cap, "read_parquet([");
    for (size_t i = 0; i < d->nchunks; i++) {
        const char *h = d->chunk_hash[i];
        n += (size_t)snprintf(s + n, cap - n, "%s'%s/repo/objects/%.2s/%.2s/%s'", i ? ", " : "",
                              dir, h, h + 2, h);
    }
    snprintf(s + n, cap - n, "])");
    printf("%s_chunks %zu\n", table, d->nchunks);
    udr_table_detail_free(d);
    return s;
}

static void bench_import_and_queries(const char *dir, long rows)
{
    char sql[8192], path[4096];
    duckdb_database db;
    duckdb_connection c;
    if (duckdb_open(NULL, &db) != DuckDBSuccess || duckdb_connect(db, &c) != DuckDBSuccess)
        die("duckdb", NULL);
    /* The input: lineitem-like and orders-like tables, as Parquet files. */
    snprintf(sql, sizeof sql,
             "COPY (SELECT range // 4 + 1 AS l_orderkey, range %% 4 + 1 AS l_linenumber,"
             " (hash(range) %% 200000)::INTEGER + 1 AS l_partkey,"
             " (hash(range + 1) %% 50)::INTEGER + 1 AS l_quantity,"
             " ((hash(range + 2) %% 100000) / 100.0)::DECIMAL(12,2) AS l_extendedprice,"
             " ((hash(range + 3) %% 11) / 100.0)::DECIMAL(12,2) AS l_discount,"
             " ['A','N','R'][(hash(range + 4) %% 3)::INTEGER + 1] AS l_returnflag,"
             " ['F','O'][(hash(range + 5) %% 2)::INTEGER + 1] AS l_linestatus,"
             " DATE '1992-01-01' + (hash(range + 6) %% 2500)::INTEGER AS l_shipdate,"
             " 'comment ' || (hash(range + 7) %% 100000) AS l_comment"
             " FROM range(%ld)) TO '%s/lineitem-src.parquet' (FORMAT parquet)",
             rows, dir);
    duck(c, sql);
    snprintf(sql, sizeof sql,
             "COPY (SELECT range + 1 AS o_orderkey, (hash(range) %% 150000)::INTEGER AS o_custkey,"
             " ['1-URGENT','2-HIGH','3-MEDIUM','4-NOT SPECIFIED','5-LOW']"
             "[(hash(range + 9) %% 5)::INTEGER + 1] AS o_orderpriority,"
             " DATE '1992-01-01' + (hash(range + 8) %% 2400)::INTEGER AS o_orderdate"
             " FROM range(%ld)) TO '%s/orders-src.parquet' (FORMAT parquet)",
             rows / 4, dir);
    duck(c, sql);

    /* DuckDB's own import: the same input to zstd Parquet. */
    snprintf(sql, sizeof sql,
             "COPY (SELECT * FROM read_parquet('%s/lineitem-src.parquet')) TO "
             "'%s/lineitem-duck.parquet' (FORMAT parquet, COMPRESSION zstd)",
             dir, dir);
    double duck_import = time_duck(c, sql, 1);

    snprintf(path, sizeof path, "%s/repo", dir);
    udr_repo *r;
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    const char *lkey[] = {"l_orderkey", "l_linenumber", NULL}, *okey[] = {"o_orderkey", NULL};
    udr_write_opts lo = {lkey, "load lineitem", "bench"}, oo = {okey, "load orders", "bench"};
    udr_write_info wi;
    snprintf(sql, sizeof sql, "SELECT * FROM read_parquet('%s/lineitem-src.parquet')", dir);
    double t = now_s();
    if (udr_table_write(r, "lineitem", sql, &lo, &wi) != UDR_OK)
        die("import lineitem", r);
    double udr_import = now_s() - t;
    snprintf(sql, sizeof sql, "SELECT * FROM read_parquet('%s/orders-src.parquet')", dir);
    if (udr_table_write(r, "orders", sql, &oo, &wi) != UDR_OK)
        die("import orders", r);
    printf("rows %ld\nimport_udr_s %.4f\nimport_duckdb_s %.4f\n", rows, udr_import, duck_import);

    char *lineitem = chunk_list(r, dir, "lineitem");
    char *orders = chunk_list(r, dir, "orders");
    static const struct {
        const char *name, *udr, *raw;
    } q[] = {
        {"scan", "SELECT sum(l_extendedprice), count(*), max(l_comment) FROM lineitem",
         "SELECT sum(l_extendedprice), count(*), max(l_comment) FROM %s"},
        {"filter", "SELECT count(*), sum(l_quantity) FROM lineitem WHERE l_orderkey BETWEEN "
                   "100000 AND 101000",
         "SELECT count(*), sum(l_quantity) FROM %s WHERE l_orderkey BETWEEN 100000 AND 101000"},
        {"groupby", "SELECT l_returnflag, l_linestatus, sum(l_quantity), avg(l_extendedprice), "
                    "count(*) FROM lineitem GROUP BY ALL ORDER BY ALL",
         "SELECT l_returnflag, l_linestatus, sum(l_quantity), avg(l_extendedprice), count(*) "
         "FROM %s GROUP BY ALL ORDER BY ALL"},
        {"join", "SELECT o_orderpriority, count(*) FROM orders JOIN lineitem ON l_orderkey = "
                 "o_orderkey WHERE l_shipdate > DATE '1997-01-01' GROUP BY ALL ORDER BY ALL",
         "SELECT o_orderpriority, count(*) FROM %s JOIN %s ON l_orderkey = o_orderkey WHERE "
         "l_shipdate > DATE '1997-01-01' GROUP BY ALL ORDER BY ALL"},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        char *raw = malloc(strlen(q[i].raw) + strlen(lineitem) + strlen(orders) + 1);
        if (strcmp(q[i].name, "join") == 0)
            sprintf(raw, q[i].raw, orders, lineitem);
        else
            sprintf(raw, q[i].raw, lineitem);
        /* Alternate, best of 9 each, so all see the same machine state. The
         * same raw SQL is also run through UDR's own DuckDB: the difference
         * to the by-name query is what name resolution costs. */
        double tu = 1e9, td = 1e9, ts = 1e9;
        for (int k = 0; k < 9; k++) {
            double a = time_udr(r, q[i].udr, NULL, 0, 1), b = time_duck(c, raw, 1);
            double d = time_udr(r, raw, NULL, 0, 1);
            tu = a < tu ? a : tu;
            td = b < td ? b : td;
            ts = d < ts ? d : ts;
        }
        printf("query_%s_udr_s %.5f\nquery_%s_duckdb_s %.5f\nquery_%s_same_s %.5f\n", q[i].name,
               tu, q[i].name, td, q[i].name, ts);
        free(raw);
    }
    free(lineitem);
    free(orders);
    udr_close(r);
    duckdb_disconnect(&c);
    duckdb_close(&db);
}

static void bench_time_travel(const char *dir)
{
    char path[4096], sql[512];
    snprintf(path, sizeof path, "%s/travel", dir);
    udr_repo *r;
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    const char *key[] = {"id", NULL};
    udr_write_opts o = {key, NULL, "bench"};
    udr_write_info wi;
    int64_t when[101];
    for (int v = 1; v <= 100; v++) {
        snprintf(sql, sizeof sql,
                 "SELECT range AS id, (hash(range) + %d) %% 1000 AS v FROM range(200000)", v);
        if (udr_table_write(r, "t", sql, &o, &wi) != UDR_OK)
            die("travel write", r);
        udr_version_info *info;
        size_t n;
        udr_table_log(r, "t", &info, &n);
        when[v] = info[0].time_us;
        udr_version_info_free(info, n);
    }
    udr_pin first = {"t", 1};
    double tfirst = 1e9, tlast = 1e9;
    for (int k = 0; k < 10; k++) {
        double a = time_udr(r, "SELECT sum(v), count(*) FROM t", &first, 1, 1);
        double b = time_udr(r, "SELECT sum(v), count(*) FROM t", NULL, 0, 1);
        tfirst = a < tfirst ? a : tfirst;
        tlast = b < tlast ? b : tlast;
    }
    printf("travel_v1_s %.5f\ntravel_latest_s %.5f\n", tfirst, tlast);
    /* By time: the version current at each commit's instant, and between. */
    int right = 0;
    for (int v = 1; v <= 100; v++) {
        time_t s = (time_t)(when[v] / 1000000);
        struct tm tm;
        char iso[64];
        gmtime_r(&s, &tm);
        size_t n = strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(iso + n, sizeof iso - n, ".%06lldZ", (long long)(when[v] % 1000000));
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM (SELECT * FROM \"t@%s\" EXCEPT SELECT * FROM \"t@%d\")",
                 iso, v);
        udr_result *res;
        if (udr_query(r, sql, NULL, 0, &res) != UDR_OK)
            die("travel by time", r);
        right += udr_result_int64(res, 0, 0) == 0;
        udr_result_free(res);
    }
    printf("travel_by_time_right %d\ntravel_by_time_of 100\n", right);
    udr_close(r);
}

static void bench_open(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/open-empty", dir);
    udr_repo *r;
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    udr_close(r);
    snprintf(path, sizeof path, "%s/open-10k", dir);
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    const char *names[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 10000; i++) {
        /* Small versions through the full write path: 10,000 commits. */
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT %d AS x", i);
        udr_write_info wi;
        if (udr_table_write(r, names[i % 4], sql, NULL, &wi) != UDR_OK)
            die("open write", r);
    }
    udr_close(r);
    for (int which = 0; which < 2; which++) {
        snprintf(path, sizeof path, "%s/%s", dir, which ? "open-10k" : "open-empty");
        double best = 1e9;
        for (int k = 0; k < 20; k++) {
            double t = now_s();
            if (udr_open(path, &r) != UDR_OK)
                die("open", r);
            udr_result *res;
            if (udr_query(r, "SELECT 1", NULL, 0, &res) != UDR_OK)
                die("select 1", r);
            udr_result_free(res);
            udr_close(r);
            t = now_s() - t;
            best = t < best ? t : best;
        }
        printf("open_select1_%s_s %.5f\n", which ? "10k" : "empty", best);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_tables DIR [ROWS]\n");
        return 2;
    }
    long rows = argc > 2 ? atol(argv[2]) : 10000000;
    setvbuf(stdout, NULL, _IOLBF, 0);
    bench_import_and_queries(argv[1], rows);
    bench_time_travel(argv[1]);
    bench_open(argv[1]);
    return 0;
}
