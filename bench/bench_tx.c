/*
 * bench_tx — what small writes and commits cost:
 *
 *   update    a ROWS-row keyed table (default 10,000,000); 50 single-row
 *             UPDATEs, each committed on its own (udr_query, autocommit) at a
 *             random key: time of each (first, median, p90, max) and the
 *             bytes each added to the repository (objects and log)
 *   commits   single-row UPDATE commits per second from 1 process and from
 *             4 processes at once (each on its own rows of one table), for
 *             SECONDS each, with group commit and without it
 *             (UDR_GROUP_COMMIT=0: the fsync under the log's lock), on this
 *             disk and with each log fsync made 10 ms slower
 *             (UDR_SIMULATE_FSYNC_US), as on a disk without a write cache
 *   compact   1,000 small commits (80% updates, 10% inserts, 10% deletes)
 *             on the ROWS-row table, then three queries on it against the
 *             same queries on a fresh write of the same rows (median of
 *             per-round ratios, alternating order), before and after
 *             `udr compact`, whose time is reported too
 *
 * Prints "key value" lines that bench/run.sh turns into bench/RESULTS.md.
 * Usage: bench_tx DIR [ROWS] [SECONDS]
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "bench_tx"
#include "bench_util.h"
#include "udr.h"

/* Bytes of the files under dir (recursively). */
static unsigned long long du(const char *dir)
{
    DIR *d = opendir(dir);
    unsigned long long n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4600];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) != 0)
            continue;
        n += S_ISDIR(st.st_mode) ? du(p) : (unsigned long long)st.st_size;
    }
    if (d)
        closedir(d);
    return n;
}

static unsigned long long repo_bytes(const char *path)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/objects", path);
    unsigned long long n = du(p);
    snprintf(p, sizeof p, "%s/log", path);
    return n + du(p);
}

static const char TABLE_SQL[] =
    "SELECT range AS id, (hash(range) %% 1000)::INTEGER AS v, md5(range::VARCHAR) AS name, "
    "(hash(range * 7) %% 100000) / 100.0 AS score, DATE '2026-01-01' + (range %% 365)::INTEGER "
    "AS day FROM range(%llu)";

static void write_table(udr_repo *r, const char *name, unsigned long long rows)
{
    char sql[512];
    snprintf(sql, sizeof sql, TABLE_SQL, rows);
    const char *key[] = {"id", NULL};
    udr_write_opts o = {key, NULL, "bench"};
    if (udr_table_write(r, name, sql, &o, NULL) != UDR_OK)
        die("write", r);
}

static void bench_update(const char *path, unsigned long long rows)
{
    enum { N = 50 };
    udr_repo *r;
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    write_table(r, "t", rows);
    udr_close(r);
    if (udr_open(path, &r) != UDR_OK)
        die("open", r);
    double t[N];
    unsigned long long grew[N], maxgrew = 0;
    srand(7);
    for (int i = 0; i < N; i++) {
        char sql[256];
        unsigned long long id = ((unsigned long long)rand() * 7919ULL) % rows;
        snprintf(sql, sizeof sql, "UPDATE t SET v = v + 1, name = 'changed' WHERE id = %llu", id);
        unsigned long long b0 = repo_bytes(path);
        double s = now_s();
        if (int_of(r, sql) != 1)
            die("the update changed no row", NULL);
        t[i] = now_s() - s;
        grew[i] = repo_bytes(path) - b0;
        if (grew[i] > maxgrew)
            maxgrew = grew[i];
    }
    double first = t[0];
    unsigned long long sum = 0;
    for (int i = 0; i < N; i++)
        sum += grew[i];
    qsort(t + 1, N - 1, sizeof t[0], cmp_double);
    printf("update_rows %llu\nupdate_count %d\nupdate_first_s %.5f\nupdate_median_s %.5f\n"
           "update_p90_s %.5f\nupdate_max_s %.5f\nupdate_bytes_mean %llu\nupdate_bytes_max %llu\n",
           rows, N, first, t[1 + (N - 1) / 2], t[1 + (N - 1) * 9 / 10], t[N - 1], sum / N,
           maxgrew);
    if (int_of(r, "SELECT count(*) FROM t WHERE name = 'changed'") < N - 2)
        die("the updates are not there", NULL);
    udr_close(r);
    /* The same statement from a fresh process, as `udr sql` runs it. */
    if (udr_open(path, &r) != UDR_OK)
        die("open", r);
    double s = now_s();
    run_sql(r, "UPDATE t SET v = 0 WHERE id = 1");
    printf("update_cold_s %.5f\n", now_s() - s);
    udr_close(r);
}

/* One writer process: single-row updates of its own keys until `until`. */
static void commit_worker(const char *path, int w, int nw, double until, int fd, int group,
                          int slow)
{
    setenv("UDR_GROUP_COMMIT", group ? "1" : "0", 1);
    if (slow)
        setenv("UDR_SIMULATE_FSYNC_US", "10000", 1);
    udr_repo *r;
    if (udr_open(path, &r) != UDR_OK)
        die("open", r);
    long commits = 0, conflicts = 0;
    unsigned seed = (unsigned)w * 7919u + 1;
    run_sql(r, "SELECT 1");
    while (now_s() < until) {
        char sql[128];
        long id = (long)(rand_r(&seed) % 25000) * nw + w;
        snprintf(sql, sizeof sql, "UPDATE acc SET v = v + 1 WHERE id = %ld", id);
        udr_result *res;
        int rc = udr_query(r, sql, NULL, 0, &res);
        if (rc == UDR_OK) {
            udr_result_free(res);
            commits++;
        } else if (rc == UDR_ECONFLICT) {
            conflicts++;
        } else {
            die("update", r);
        }
    }
    udr_sync_stats ss;
    udr_sync_stats_get(r, &ss);
    udr_close(r);
    dprintf(fd, "%ld %ld %llu %llu\n", commits, conflicts, (unsigned long long)ss.fsyncs,
            (unsigned long long)ss.shared);
    _exit(0);
}

static void bench_commits(const char *path, double seconds)
{
    udr_repo *r;
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    const char *key[] = {"id", NULL};
    udr_write_opts o = {key, NULL, "bench"};
    if (udr_table_write(r, "acc", "SELECT range AS id, 0 AS v FROM range(100000)", &o, NULL) !=
        UDR_OK)
        die("write", r);
    udr_close(r);
    static const struct {
        int nw, group, slow;
        const char *tag;
    } runs[] = {{1, 1, 0, "1p"},       {1, 0, 0, "1p_nogroup"},      {4, 1, 0, "4p"},
                {4, 0, 0, "4p_nogroup"}, {1, 1, 1, "1p_slow"},       {1, 0, 1, "1p_nogroup_slow"},
                {4, 1, 1, "4p_slow"},  {4, 0, 1, "4p_nogroup_slow"}};
    enum { NRUNS = sizeof runs / sizeof runs[0] };
    long commits[NRUNS] = {0}, conflicts[NRUNS] = {0};
    unsigned long long fsyncs[NRUNS] = {0}, shared[NRUNS] = {0};
    double secs[NRUNS] = {0};
    /* Two passes, the second in reverse order, so that no configuration
     * always runs first (on a warm or a cold machine). */
    for (int pass = 0; pass < 2; pass++)
        for (size_t kk = 0; kk < NRUNS; kk++) {
            size_t k = pass ? NRUNS - 1 - kk : kk;
            int nw = runs[k].nw;
            int pfd[2];
            if (pipe(pfd) != 0)
                die("pipe", NULL);
            double until = now_s() + seconds / 2, t0 = now_s();
            for (int w = 0; w < nw; w++)
                if (fork() == 0) {
                    close(pfd[0]);
                    commit_worker(path, w, nw, until, pfd[1], runs[k].group, runs[k].slow);
                }
            close(pfd[1]);
            for (int w = 0; w < nw; w++)
                wait(NULL);
            secs[k] += now_s() - t0;
            FILE *f = fdopen(pfd[0], "r");
            long a, b;
            unsigned long long x, y;
            while (f && fscanf(f, "%ld %ld %llu %llu", &a, &b, &x, &y) == 4) {
                commits[k] += a;
                conflicts[k] += b;
                fsyncs[k] += x;
                shared[k] += y;
            }
            if (f)
                fclose(f);
        }
    for (size_t k = 0; k < NRUNS; k++)
        printf("commits_%s_commits %ld\ncommits_%s_conflicts %ld\ncommits_%s_per_s %.1f\n"
               "commits_%s_fsyncs_per_commit %.3f\n",
               runs[k].tag, commits[k], runs[k].tag, conflicts[k], runs[k].tag,
               (double)commits[k] / secs[k], runs[k].tag,
               commits[k] ? (double)fsyncs[k] / (double)commits[k] : 0.0);
    if (udr_open(path, &r) != UDR_OK)
        die("open", r);
    printf("commits_sum_v %lld\n", int_of(r, "SELECT sum(v) FROM acc"));
    udr_close(r);
}

static const query_case QUERIES[] = {
    {"scan", "SELECT sum(v), count(*), max(name) FROM %s"},
    {"filter", "SELECT count(*), avg(score) FROM %s WHERE id BETWEEN 4000000 AND 4100000"},
    {"groupby", "SELECT day, count(*), avg(score) FROM %s GROUP BY day ORDER BY day LIMIT 5"},
};

static void compare(udr_repo *r, const char *stage)
{
    compare_queries(r, "compact", stage, QUERIES, sizeof QUERIES / sizeof QUERIES[0], "t",
                    "fresh");
}

static void bench_compact(const char *path, unsigned long long rows)
{
    udr_repo *r;
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    write_table(r, "t", rows);
    srand(11);
    double s = now_s();
    unsigned long long next = rows;
    for (int i = 0; i < 1000; i++) {
        char sql[512];
        unsigned long long id = ((unsigned long long)rand() * 104729ULL) % rows;
        int kind = rand() % 10;
        if (kind == 0)
            snprintf(sql, sizeof sql,
                     "INSERT INTO t VALUES (%llu, 1, 'new', 1.5, DATE '2026-06-01')", next++);
        else if (kind == 1)
            snprintf(sql, sizeof sql, "DELETE FROM t WHERE id = %llu", id);
        else
            snprintf(sql, sizeof sql, "UPDATE t SET score = score + 1 WHERE id = %llu", id);
        run_sql(r, sql);
    }
    double tcommits = now_s() - s;
    udr_table_detail *d;
    if (udr_table_show(r, "t", NULL, &d) != UDR_OK)
        die("show", r);
    printf("compact_commits 1000\ncompact_commits_s %.3f\ncompact_before_chunks %zu\n"
           "compact_before_deletes %zu\n",
           tcommits, d->nchunks, d->ndeletes);
    udr_table_detail_free(d);
    const char *key[] = {"id", NULL};
    udr_write_opts o = {key, NULL, "bench"};
    if (udr_table_write(r, "fresh", "SELECT * FROM t", &o, NULL) != UDR_OK)
        die("fresh", r);
    compare(r, "before");
    udr_write_info ci;
    s = now_s();
    if (udr_table_compact(r, "t", &ci) != UDR_OK)
        die("compact", r);
    printf("compact_s %.3f\ncompact_new_bytes %llu\ncompact_bytes %llu\n", now_s() - s,
           (unsigned long long)ci.new_bytes, (unsigned long long)ci.bytes);
    compare(r, "after");
    if (int_of(r, "SELECT count(*) FROM (SELECT * FROM t EXCEPT SELECT * FROM fresh)") != 0 ||
        int_of(r, "SELECT count(*) FROM t") != int_of(r, "SELECT count(*) FROM fresh"))
        die("compaction changed the rows", NULL);
    udr_close(r);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_tx DIR [ROWS] [SECONDS]\n");
        return 2;
    }
    unsigned long long rows = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000ULL;
    double seconds = argc > 3 ? atof(argv[3]) : 10.0;
    char path[4096];
    snprintf(path, sizeof path, "%s/update", argv[1]);
    bench_update(path, rows);
    snprintf(path, sizeof path, "%s/commits", argv[1]);
    bench_commits(path, seconds);
    snprintf(path, sizeof path, "%s/compact", argv[1]);
    bench_compact(path, rows);
    return 0;
}
