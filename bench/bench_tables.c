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
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "duckdb.h"
#include "udr.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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

/* ---- import: each run in a child process, for its own peak memory ---------- */

typedef struct import_job {
    const char *dir;
    long rows;
    const char *input;                 /* "parquet" or "csv" */
    int udr;                           /* else DuckDB's COPY */
} import_job;

/* Runs fn(arg) in a child; returns the seconds it reports, and its peak RSS. */
static double in_child(double (*fn)(const import_job *), const import_job *job, long *rss_kb)
{
    int fd[2];
    if (pipe(fd) != 0)
        die("pipe", NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", NULL);
    if (pid == 0) {
        close(fd[0]);
        double t = fn(job);
        if (write(fd[1], &t, sizeof t) != sizeof t)
            _exit(1);
        _exit(0);
    }
    close(fd[1]);
    double t = -1;
    ssize_t got = read(fd[0], &t, sizeof t);
    close(fd[0]);
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
        got != sizeof t)
        die("a child run failed", NULL);
    *rss_kb = ru.ru_maxrss;
    return t;
}

static double generate_inputs(const import_job *job)
{
    char sql[8192];
    duckdb_database db;
    duckdb_connection c;
    if (duckdb_open(NULL, &db) != DuckDBSuccess || duckdb_connect(db, &c) != DuckDBSuccess)
        die("duckdb", NULL);
    const char *dir = job->dir;
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
             job->rows, dir);
    duck(c, sql);
    snprintf(sql, sizeof sql,
             "COPY (SELECT range + 1 AS o_orderkey, (hash(range) %% 150000)::INTEGER AS o_custkey,"
             " ['1-URGENT','2-HIGH','3-MEDIUM','4-NOT SPECIFIED','5-LOW']"
             "[(hash(range + 9) %% 5)::INTEGER + 1] AS o_orderpriority,"
             " DATE '1992-01-01' + (hash(range + 8) %% 2400)::INTEGER AS o_orderdate"
             " FROM range(%ld)) TO '%s/orders-src.parquet' (FORMAT parquet)",
             job->rows / 4, dir);
    duck(c, sql);
    snprintf(sql, sizeof sql,
             "COPY (SELECT * FROM '%s/lineitem-src.parquet') TO '%s/lineitem-src.csv'", dir, dir);
    duck(c, sql);
    duckdb_disconnect(&c);
    duckdb_close(&db);
    return 0;
}

/* One import of lineitem: DuckDB's COPY of the input to one zstd Parquet
 * file, or udr_table_write of it into a fresh repository. */
static double import_once(const import_job *job)
{
    char sql[4096], path[4096];
    snprintf(sql, sizeof sql, "SELECT * FROM read_%s('%s/lineitem-src.%s')", job->input, job->dir,
             job->input);
    if (!job->udr) {
        duckdb_database db;
        duckdb_connection c;
        if (duckdb_open(NULL, &db) != DuckDBSuccess || duckdb_connect(db, &c) != DuckDBSuccess)
            die("duckdb", NULL);
        char copy[8192];
        snprintf(copy, sizeof copy, "COPY (%s) TO '%s/lineitem-duck.parquet' "
                 "(FORMAT parquet, COMPRESSION zstd)", sql, job->dir);
        double t = time_duck(c, copy, 1);
        duckdb_disconnect(&c);
        duckdb_close(&db);
        return t;
    }
    snprintf(path, sizeof path, "rm -rf '%s/import-repo'", job->dir);
    if (system(path) != 0)
        die("rm", NULL);
    snprintf(path, sizeof path, "%s/import-repo", job->dir);
    udr_repo *r;
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    const char *key[] = {"l_orderkey", "l_linenumber", NULL};
    udr_write_opts o = {key, "load lineitem", "bench"};
    udr_write_info wi;
    double t = now_s();
    if (udr_table_write(r, "lineitem", sql, &o, &wi) != UDR_OK)
        die("import lineitem", r);
    t = now_s() - t;
    udr_close(r);
    return t;
}

/* Best of several alternating runs of each, so both see the same machine. */
static void bench_import(const char *dir, long rows)
{
    long rss;
    import_job gen = {dir, rows, NULL, 0};
    in_child(generate_inputs, &gen, &rss);
    static const struct {
        const char *input;
        int runs;
    } inputs[] = {{"parquet", 3}, {"csv", 2}};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        double best_u = 1e9, best_d = 1e9;
        long rss_u = 0, rss_d = 0;
        for (int k = 0; k < inputs[i].runs; k++) {
            import_job d = {dir, rows, inputs[i].input, 0}, u = {dir, rows, inputs[i].input, 1};
            double td = in_child(import_once, &d, &rss);
            rss_d = rss > rss_d ? rss : rss_d;
            double tu = in_child(import_once, &u, &rss);
            rss_u = rss > rss_u ? rss : rss_u;
            best_d = td < best_d ? td : best_d;
            best_u = tu < best_u ? tu : best_u;
        }
        const char *tag = strcmp(inputs[i].input, "csv") == 0 ? "_csv" : "";
        printf("import%s_udr_s %.4f\nimport%s_duckdb_s %.4f\n", tag, best_u, tag, best_d);
        printf("import%s_udr_rss_kb %ld\nimport%s_duckdb_rss_kb %ld\n", tag, rss_u, tag, rss_d);
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/import-repo' '%s/lineitem-src.csv'", dir, dir);
    if (system(cmd) != 0)
        die("rm", NULL);
}

static void bench_import_and_queries(const char *dir, long rows)
{
    char sql[8192], path[4096];
    bench_import(dir, rows);
    duckdb_database db;
    duckdb_connection c;
    if (duckdb_open(NULL, &db) != DuckDBSuccess || duckdb_connect(db, &c) != DuckDBSuccess)
        die("duckdb", NULL);

    snprintf(path, sizeof path, "%s/repo", dir);
    udr_repo *r;
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    const char *lkey[] = {"l_orderkey", "l_linenumber", NULL}, *okey[] = {"o_orderkey", NULL};
    udr_write_opts lo = {lkey, "load lineitem", "bench"}, oo = {okey, "load orders", "bench"};
    udr_write_info wi;
    snprintf(sql, sizeof sql, "SELECT * FROM read_parquet('%s/lineitem-src.parquet')", dir);
    if (udr_table_write(r, "lineitem", sql, &lo, &wi) != UDR_OK)
        die("import lineitem", r);
    snprintf(sql, sizeof sql, "SELECT * FROM read_parquet('%s/orders-src.parquet')", dir);
    if (udr_table_write(r, "orders", sql, &oo, &wi) != UDR_OK)
        die("import orders", r);
    printf("rows %ld\n", rows);
    /* Queries run as a user's would: on a repository just opened. */
    udr_close(r);
    if (udr_open(path, &r) != UDR_OK)
        die("open", r);

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
        /* Alternate, best of many each, so all see the same machine state. The
         * same raw SQL is also run through UDR's own DuckDB: the difference
         * to the by-name query is what name resolution costs. */
        double tu = 1e9, td = 1e9, ts = 1e9, spent = 0;
        double ru[99], rs[99];          /* per round: UDR / DuckDB, UDR / same engine */
        int k = 0;
        /* At least 15 rounds, more for quick queries (a few ms move with
         * the machine's noise): until 3 s were spent, at most 99. */
        for (; k < 15 || (spent < 3.0 && k < 99); k++) {
            double t0 = now_s(), a = 0, b = 0, d = 0;
            /* The three in a rotating order: none always goes first. */
            for (int j = 0; j < 3; j++) {
                switch ((j + k) % 3) {
                case 0: a = time_udr(r, q[i].udr, NULL, 0, 1); break;
                case 1: b = time_duck(c, raw, 1); break;
                default: d = time_udr(r, raw, NULL, 0, 1); break;
                }
            }
            tu = a < tu ? a : tu;
            td = b < td ? b : td;
            ts = d < ts ? d : ts;
            ru[k] = a / b;
            rs[k] = a / d;
            spent += now_s() - t0;
        }
        /* The ratio: the median of the rounds' ratios, each taken within one
         * round (the same machine state for both). */
        qsort(ru, (size_t)k, sizeof ru[0], cmp_double);
        qsort(rs, (size_t)k, sizeof rs[0], cmp_double);
        printf("query_%s_rounds %d\n", q[i].name, k);
        printf("query_%s_udr_s %.5f\nquery_%s_duckdb_s %.5f\nquery_%s_same_s %.5f\n", q[i].name,
               tu, q[i].name, td, q[i].name, ts);
        printf("query_%s_ratio %.3f\nquery_%s_ratio_same %.3f\n", q[i].name, ru[k / 2], q[i].name,
               rs[k / 2]);
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
    double tfirst = 1e9, tlast = 1e9, ratios[41];
    /* 41 rounds, the two in alternating order; the ratio is the median of
     * the rounds' own ratios. */
    for (int k = 0; k < 41; k++) {
        double a, b;
        if (k % 2) {
            a = time_udr(r, "SELECT sum(v), count(*) FROM t", &first, 1, 1);
            b = time_udr(r, "SELECT sum(v), count(*) FROM t", NULL, 0, 1);
        } else {
            b = time_udr(r, "SELECT sum(v), count(*) FROM t", NULL, 0, 1);
            a = time_udr(r, "SELECT sum(v), count(*) FROM t", &first, 1, 1);
        }
        tfirst = a < tfirst ? a : tfirst;
        tlast = b < tlast ? b : tlast;
        ratios[k] = a / b;
    }
    qsort(ratios, 41, sizeof ratios[0], cmp_double);
    printf("travel_v1_s %.5f\ntravel_latest_s %.5f\ntravel_ratio %.3f\n", tfirst, tlast,
           ratios[20]);
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
