/*
 * bench_feed — what the change feed costs, and how soon a subscriber in
 * another process sees a commit:
 *
 *   follow    a small repository with a subscription (made before the
 *             fork); a follower process loops udr_sub_poll, reads the rows,
 *             udr_sub_ack (only after a delivery: an acknowledgement is a
 *             log record too), udr_wait; this process commits COMMITS
 *             single-row INSERTs (default 1,000), one commit each, 0-5 ms
 *             apart. Latency of each row: when the follower read it less
 *             the commit's time in the log; for comparison, less when the
 *             producer's udr_query returned, and less when it began. The
 *             follower's CPU time (every thread's: /proc/PID/task/T/
 *             schedstat) and context switches over 2 s of idle waiting
 *             before the commits and 2 s after them. SIGTERM to the
 *             follower's main thread ends it (udr_wait returns 0 on a
 *             signal).
 *   follow_cli  the same with `udr subscribe poll NAME --follow --ack
 *             --format json` as the follower, its NDJSON read by a thread
 *             here, stamping each line as it arrives; and the same without
 *             --ack (follow_cli_noack: the cursor stays, and each poll
 *             starts after what the follower printed). Only if UDR_BINARY
 *             is given and has the subscribe verb.
 *   cost      a ROWS-row keyed table (default 10,000,000); 40 UPDATEs of
 *             100 rows each (udr_query, autocommit), alternately at 100
 *             random keys ("scattered") and 100 consecutive ones ("range");
 *             after each, the feed of that one commit through the C
 *             iterator (udr_changes_open with from = to = the new version,
 *             udr_changes_next to the end), which must be 1 batch of 100
 *             update_before + 100 update_after rows. Per kind: first,
 *             median, p90, max ms and the bytes the process read (rchar);
 *             how many of the commits folded the table's delete files into
 *             one, and their feeds' median. References, after each feed, in
 *             the same state: the feed in SQL (SELECT count(*) FROM
 *             udr_changes('t', 'V', 'V')), SELECT count(*) FROM t (which
 *             reads little beyond the Parquet footers), and a scan that
 *             reads columns (bench_tx's: sum(v), count(*), max(name)); the
 *             feed's median over each's.
 *
 * Prints "key value" lines that bench/run.sh turns into bench/RESULTS.md;
 * exits 1 if a feed gave other rows than its update made, or a follower
 * missed a commit or failed.
 * Usage: bench_feed DIR [ROWS] [COMMITS] [UDR_BINARY]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "bench_feed"
#include "bench_util.h"
#include "udr.h"

enum { UPDATES = 40, UPDATE_ROWS = 100, IDLE_MS = 2000 };

/* Wall-clock microseconds: comparable across processes, and with the
 * commit times the log records. */
static long long real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* The value at fraction p (0..1) of n sorted values. */
static double pct(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void run(udr_repo *r, const char *sql)
{
    udr_result *res;
    if (udr_query(r, sql, NULL, 0, &res) != UDR_OK)
        die(sql, r);
    udr_result_free(res);
}

static size_t column(const udr_result *res, const char *name)
{
    for (size_t c = 0; c < udr_result_columns(res); c++)
        if (strcmp(udr_result_column_name(res, c), name) == 0)
            return c;
    fprintf(stderr, "bench_feed: the feed's rows have no column %s\n", name);
    exit(1);
}

/* ---- cost: the feed of a 100-row update --------------------------------- */

static const char TABLE_SQL[] =
    "SELECT range AS id, (hash(range) %% 1000)::INTEGER AS v, md5(range::VARCHAR) AS name, "
    "(hash(range * 7) %% 100000) / 100.0 AS score, DATE '2026-01-01' + (range %% 365)::INTEGER "
    "AS day FROM range(%llu)";

typedef struct feed_count {
    long long rows, before, after, other, batches;
    uint64_t version, from_version;
} feed_count;

/* The feed of version v of t through the C iterator, counted by _op. */
static void read_feed(udr_repo *r, uint64_t v, feed_count *fc)
{
    char ver[32];
    snprintf(ver, sizeof ver, "%llu", (unsigned long long)v);
    memset(fc, 0, sizeof *fc);
    udr_changes *it;
    if (udr_changes_open(r, "t", ver, ver, &it) != UDR_OK)
        die("udr_changes_open(t, V, V)", r);
    const udr_change_batch *b;
    for (;;) {
        if (udr_changes_next(it, &b) != UDR_OK)
            die("udr_changes_next", r);
        if (b == NULL)
            break;
        fc->batches++;
        fc->version = b->version;
        fc->from_version = b->from_version;
        uint64_t n = udr_result_rows(b->rows);
        fc->rows += (long long)n;
        for (uint64_t i = 0; i < n; i++) {
            char *op = udr_result_text(b->rows, i, 0);
            if (op != NULL && strcmp(op, "update_before") == 0)
                fc->before++;
            else if (op != NULL && strcmp(op, "update_after") == 0)
                fc->after++;
            else
                fc->other++;
            udr_free(op);
        }
    }
    udr_changes_close(it);
}

/* t's current version and its number of delete files. */
static uint64_t current_version(udr_repo *r, size_t *ndeletes)
{
    udr_table_detail *d;
    if (udr_table_show(r, "t", NULL, &d) != UDR_OK)
        die("udr_table_show(t)", r);
    uint64_t v = d->info.version;
    *ndeletes = d->ndeletes;
    udr_table_detail_free(d);
    return v;
}

/* An UPDATE of 100 rows: scattered random keys, or consecutive ones. */
static void update_sql(char *sql, size_t cap, int scattered, unsigned long long rows,
                       unsigned *seed)
{
    size_t len = (size_t)snprintf(sql, cap, "UPDATE t SET v = v + 1 WHERE id ");
    if (!scattered) {
        unsigned long long k =
            ((unsigned long long)rand_r(seed) * 7919ULL) % (rows - UPDATE_ROWS + 1);
        snprintf(sql + len, cap - len, "BETWEEN %llu AND %llu", k, k + UPDATE_ROWS - 1);
        return;
    }
    unsigned long long ids[UPDATE_ROWS];
    len += (size_t)snprintf(sql + len, cap - len, "IN (");
    for (int i = 0; i < UPDATE_ROWS; i++) {
        int dup;
        do {
            ids[i] = ((unsigned long long)rand_r(seed) * 104729ULL +
                      (unsigned long long)rand_r(seed)) % rows;
            dup = 0;
            for (int j = 0; j < i; j++)
                dup |= ids[j] == ids[i];
        } while (dup);
        len += (size_t)snprintf(sql + len, cap - len, "%s%llu", i ? ", " : "", ids[i]);
    }
    snprintf(sql + len, cap - len, ")");
}

typedef struct kind_times {
    double feed[UPDATES], sql[UPDATES], count[UPDATES], scan[UPDATES];
    double feed_read[UPDATES], count_read[UPDATES], scan_read[UPDATES];
    double fold[UPDATES];                /* feed times of the commits that folded */
    size_t n, nfold;
} kind_times;

static void print_kind(const char *kind, kind_times *k)
{
    size_t n = k->n;
    double first = k->feed[0] * 1000;
    qsort(k->feed, n, sizeof k->feed[0], cmp_double);
    qsort(k->sql, n, sizeof k->sql[0], cmp_double);
    qsort(k->count, n, sizeof k->count[0], cmp_double);
    qsort(k->scan, n, sizeof k->scan[0], cmp_double);
    qsort(k->feed_read, n, sizeof k->feed_read[0], cmp_double);
    qsort(k->count_read, n, sizeof k->count_read[0], cmp_double);
    qsort(k->scan_read, n, sizeof k->scan_read[0], cmp_double);
    qsort(k->fold, k->nfold, sizeof k->fold[0], cmp_double);
    double feed_med = pct(k->feed, n, 0.5), count_med = pct(k->count, n, 0.5);
    double scan_med = pct(k->scan, n, 0.5);
    printf("feed_%s_count %zu\nfeed_%s_first_ms %.2f\nfeed_%s_median_ms %.2f\n"
           "feed_%s_p90_ms %.2f\nfeed_%s_max_ms %.2f\nfeed_%s_read_bytes %.0f\n",
           kind, n, kind, first, kind, feed_med * 1000, kind, pct(k->feed, n, 0.9) * 1000, kind,
           k->feed[n - 1] * 1000, kind, pct(k->feed_read, n, 0.5));
    printf("feed_%s_folds %zu\nfeed_%s_fold_median_ms %.2f\n", kind, k->nfold, kind,
           k->nfold ? pct(k->fold, k->nfold, 0.5) * 1000 : 0.0);
    printf("feed_%s_sql_median_ms %.2f\nfeed_%s_sql_max_ms %.2f\n"
           "feed_%s_count_median_ms %.2f\nfeed_%s_count_read_bytes %.0f\n"
           "feed_%s_scan_median_ms %.2f\nfeed_%s_scan_read_bytes %.0f\n"
           "feed_%s_ratio_count %.3f\nfeed_%s_ratio_scan %.3f\n",
           kind, pct(k->sql, n, 0.5) * 1000, kind, k->sql[n - 1] * 1000, kind, count_med * 1000,
           kind, pct(k->count_read, n, 0.5), kind, scan_med * 1000, kind,
           pct(k->scan_read, n, 0.5), kind, feed_med / count_med, kind, feed_med / scan_med);
}

/* After the update that made version v of t (folded: it folded the delete
 * files): the feed of that commit, checked, and the references. */
static void measure(udr_repo *r, uint64_t v, int folded, unsigned long long rows, kind_times *k)
{
    feed_count fc;
    unsigned long long r0 = rchar();
    double s = now_s();
    read_feed(r, v, &fc);
    k->feed[k->n] = now_s() - s;
    k->feed_read[k->n] = (double)(rchar() - r0);
    if (folded)
        k->fold[k->nfold++] = k->feed[k->n];
    if (fc.rows != 2 * UPDATE_ROWS || fc.before != UPDATE_ROWS || fc.after != UPDATE_ROWS ||
        fc.batches != 1 || fc.version != v || fc.from_version != v - 1) {
        fprintf(stderr,
                "bench_feed: the feed of version %llu of t (udr_changes_open(t, \"%llu\", "
                "\"%llu\")) gave %lld batches, %lld rows: %lld update_before, %lld "
                "update_after, %lld other; last batch versions %llu -> %llu; expected 1 "
                "batch of %d + %d rows, %llu -> %llu\n",
                (unsigned long long)v, (unsigned long long)v, (unsigned long long)v,
                fc.batches, fc.rows, fc.before, fc.after, fc.other,
                (unsigned long long)fc.from_version, (unsigned long long)fc.version,
                UPDATE_ROWS, UPDATE_ROWS, (unsigned long long)v - 1, (unsigned long long)v);
        exit(1);
    }

    char q[160];
    snprintf(q, sizeof q, "SELECT count(*) FROM udr_changes('t', '%llu', '%llu')",
             (unsigned long long)v, (unsigned long long)v);
    s = now_s();
    long long n = int_of(r, q);
    k->sql[k->n] = now_s() - s;
    if (n != 2 * UPDATE_ROWS) {
        fprintf(stderr, "bench_feed: %s gave %lld, expected %d\n", q, n, 2 * UPDATE_ROWS);
        exit(1);
    }

    r0 = rchar();
    s = now_s();
    n = int_of(r, "SELECT count(*) FROM t");
    k->count[k->n] = now_s() - s;
    k->count_read[k->n] = (double)(rchar() - r0);
    if (n != (long long)rows) {
        fprintf(stderr, "bench_feed: SELECT count(*) FROM t gave %lld, expected %llu\n", n,
                rows);
        exit(1);
    }
    /* count(*) reads little more than the Parquet footers; this reads the
     * columns (bench_tx's scan). */
    r0 = rchar();
    s = now_s();
    run(r, "SELECT sum(v), count(*), max(name) FROM t");
    k->scan[k->n] = now_s() - s;
    k->scan_read[k->n] = (double)(rchar() - r0);
    k->n++;
}

static void bench_cost(const char *path, unsigned long long rows)
{
    udr_repo *r;
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    char sql[UPDATE_ROWS * 24 + 128];
    snprintf(sql, sizeof sql, TABLE_SQL, rows);
    const char *key[] = {"id", NULL};
    udr_write_opts o = {key, NULL, "bench"};
    udr_write_info wi;
    double s = now_s();
    if (udr_table_write(r, "t", sql, &o, &wi) != UDR_OK)
        die("write", r);
    printf("feed_rows %llu\nfeed_table_chunks %llu\nfeed_table_bytes %llu\nfeed_write_s %.2f\n",
           rows, (unsigned long long)wi.chunks, (unsigned long long)wi.bytes, now_s() - s);
    printf("feed_chunk_bytes %llu\n",
           (unsigned long long)(wi.chunks ? wi.bytes / wi.chunks : 0));
    udr_close(r);
    if (udr_open(path, &r) != UDR_OK)
        die("open", r);
    kind_times kinds[2];
    memset(kinds, 0, sizeof kinds);
    unsigned seed = 7;
    size_t ndel = 0, ndel_before;
    current_version(r, &ndel);
    for (int i = 0; i < UPDATES; i++) {
        int scattered = i % 2 == 0;
        kind_times *k = &kinds[scattered ? 0 : 1];
        update_sql(sql, sizeof sql, scattered, rows, &seed);
        long long changed = int_of(r, sql);
        if (changed != UPDATE_ROWS) {
            fprintf(stderr, "bench_feed: the UPDATE changed %lld rows, not %d: %.120s...\n",
                    changed, UPDATE_ROWS, sql);
            exit(1);
        }
        ndel_before = ndel;
        uint64_t v = current_version(r, &ndel);
        int folded = ndel <= ndel_before;   /* it folded the delete files into one */
        measure(r, v, folded, rows, k);
    }
    print_kind("scattered", &kinds[0]);
    print_kind("range", &kinds[1]);
    udr_close(r);
}

/* ---- follow: a subscriber in another process ------------------------------ */

/* A follower's CPU time (every thread's, ns) and context switches. */
static void usage_of(pid_t pid, unsigned long long *cpu_ns, unsigned long long *switches)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    *cpu_ns = *switches = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[400], line[256];
        snprintf(p, sizeof p, "%s/%s/schedstat", dir, e->d_name);
        FILE *f = fopen(p, "r");
        unsigned long long ns = 0, a = 0;
        if (f && fscanf(f, "%llu", &ns) == 1)
            *cpu_ns += ns;
        if (f)
            fclose(f);
        snprintf(p, sizeof p, "%s/%s/status", dir, e->d_name);
        f = fopen(p, "r");
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "voluntary_ctxt_switches: %llu", &a) == 1 ||
                sscanf(line, "nonvoluntary_ctxt_switches: %llu", &a) == 1)
                *switches += a;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
}

/* CPU ms per second and context switches per second of pid over IDLE_MS. */
static void idle_usage(pid_t pid, double *cpu_ms_per_s, double *switches_per_s)
{
    unsigned long long c0, s0, c1, s1;
    sleep_ms(2000);                      /* let it settle: DuckDB's worker threads go
                                            idle about a second after a query */
    usage_of(pid, &c0, &s0);
    double t0 = now_s();
    sleep_ms(IDLE_MS);
    usage_of(pid, &c1, &s1);
    double secs = now_s() - t0;
    *cpu_ms_per_s = (double)(c1 - c0) / 1e6 / secs;
    *switches_per_s = (double)(s1 - s0) / secs;
}

static volatile sig_atomic_t stop_flag;

static void on_term(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* Writes all of a line to fd (a pipe to the parent). */
static void say(int fd, const char *line)
{
    size_t len = strlen(line), off = 0;
    while (off < len) {
        ssize_t w = write(fd, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(3);
        off += (size_t)w;
    }
}

static void follower_fail(int fd, const char *what, udr_repo *r)
{
    char line[1200];
    snprintf(line, sizeof line, "error %s: %s\n", what, r ? udr_errmsg(r) : "");
    for (char *p = line; *p && p[1]; p++)
        if (*p == '\n')
            *p = ' ';
    say(fd, line);
    _exit(1);
}

/* The follower: poll, read, acknowledge, wait, until SIGTERM. Writes to fd
 * "row ID SEEN_US COMMIT_US" for each row it reads, "ready" after its first
 * poll, "bye" at the end, or "error MESSAGE". */
static void follower(const char *path, int fd)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;             /* no SA_RESTART: udr_wait returns 0 */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    udr_repo *r;
    if (udr_open(path, &r) != UDR_OK)
        follower_fail(fd, "open", r);
    int ready = 0;
    while (!stop_flag) {
        udr_changes *it;
        if (udr_sub_poll(r, "lat", 0, &it) != UDR_OK)
            follower_fail(fd, "udr_sub_poll(lat)", r);
        const udr_change_batch *b;
        long batches = 0;
        for (;;) {
            if (udr_changes_next(it, &b) != UDR_OK)
                follower_fail(fd, "udr_changes_next", r);
            if (b == NULL)
                break;
            batches++;
            uint64_t n = udr_result_rows(b->rows);
            if (n == 0)
                continue;
            size_t cid = column(b->rows, "id");
            for (uint64_t i = 0; i < n; i++) {
                char line[128];
                snprintf(line, sizeof line, "row %lld %lld %lld\n",
                         (long long)udr_result_int64(b->rows, i, cid), real_us(),
                         (long long)b->time_us);
                say(fd, line);
            }
        }
        uint64_t pos = udr_changes_position(it);
        udr_changes_close(it);
        /* Only after a delivery: the acknowledgement is a log record too,
         * and acknowledging it would wake the wait below again, forever. */
        if (batches > 0 && udr_sub_ack(r, "lat", pos) != UDR_OK)
            follower_fail(fd, "udr_sub_ack(lat)", r);
        if (!ready) {
            say(fd, "ready\n");
            ready = 1;
        }
        if (stop_flag)
            break;
        int rc = udr_wait(r, pos, -1);
        if (rc < 0)
            follower_fail(fd, "udr_wait", r);
    }
    udr_close(r);
    say(fd, "bye\n");
    _exit(0);
}

/* A row as a follower saw it (wall-clock microseconds). */
typedef struct arrival {
    long long seen_us, commit_us;        /* when it read it; the commit's time */
    int times;                           /* 0: not seen; > 1: delivered again */
} arrival;

/* The parent's end of the forked follower's pipe. */
typedef struct reader {
    int fd;
    char buf[65536];
    size_t len;
    int ready, bye, eof;
    char error[1024];
} reader;

/* Reads what the follower wrote within timeout_ms (0: what is there) and
 * records it. */
static void drain(reader *rd, arrival *a, long commits, int timeout_ms)
{
    struct pollfd p = {rd->fd, POLLIN, 0};
    while (!rd->eof && poll(&p, 1, timeout_ms) > 0) {
        ssize_t got = read(rd->fd, rd->buf + rd->len, sizeof rd->buf - 1 - rd->len);
        if (got <= 0) {
            rd->eof = 1;
            break;
        }
        rd->len += (size_t)got;
        rd->buf[rd->len] = '\0';
        char *line = rd->buf, *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = '\0';
            long long id, seen, commit;
            if (sscanf(line, "row %lld %lld %lld", &id, &seen, &commit) == 3) {
                if (id >= 0 && id < commits) {
                    if (a[id].times++ == 0) {
                        a[id].seen_us = seen;
                        a[id].commit_us = commit;
                    }
                }
            } else if (strcmp(line, "ready") == 0) {
                rd->ready = 1;
            } else if (strcmp(line, "bye") == 0) {
                rd->bye = 1;
            } else if (strncmp(line, "error ", 6) == 0) {
                snprintf(rd->error, sizeof rd->error, "%s", line + 6);
            }
            line = nl + 1;
        }
        rd->len = (size_t)(rd->buf + rd->len - line);
        memmove(rd->buf, line, rd->len);
        timeout_ms = 0;
    }
}

static long count_seen(const arrival *a, long commits)
{
    long n = 0;
    for (long i = 0; i < commits; i++)
        n += a[i].times > 0;
    return n;
}

/* Makes the small repository (if need be), a table of one row (id -1) and
 * a subscription to it from now on. */
static void make_follow_repo(const char *path, const char *table, const char *sub)
{
    udr_repo *r;
    int rc = udr_open(path, &r);
    if (rc == UDR_ENOTFOUND) {
        udr_close(r);
        rc = udr_init(path, &r);
    }
    if (rc != UDR_OK)
        die("init", r);
    const char *key[] = {"id", NULL};
    udr_write_opts o = {key, NULL, "bench"};
    if (udr_table_write(r, table, "SELECT -1::BIGINT AS id, 0::BIGINT AS sent_us", &o, NULL) !=
        UDR_OK)
        die("write", r);
    if (udr_sub_create(r, sub, &table, 1, NULL, "now") != UDR_OK)
        die("udr_sub_create", r);
    udr_close(r);
}

/* Commits `commits` single-row INSERTs into table, 0-5 ms apart, noting
 * when each began and returned, and draining the follower's reports (rd)
 * between them. Returns the seconds it took. */
static double produce(const char *path, const char *table, long commits, reader *rd,
                      arrival *a, long long *sent_us, long long *done_us)
{
    udr_repo *r;
    if (udr_open(path, &r) != UDR_OK)
        die("open", r);
    run(r, "SELECT 1");
    unsigned seed = 13;
    double t0 = now_s();
    for (long i = 0; i < commits; i++) {
        char sql[160];
        sent_us[i] = real_us();
        snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (%ld, %lld)", table, i, sent_us[i]);
        run(r, sql);
        done_us[i] = real_us();
        if (rd != NULL) {                /* (else a thread reads the follower) */
            drain(rd, a, commits, 0);
            if (rd->error[0] != '\0' || rd->eof)
                break;
        }
        sleep_ms((int)(rand_r(&seed) % 6));
    }
    double secs = now_s() - t0;
    udr_close(r);
    return secs;
}

static void print_latency(const char *prefix, const char *suffix, const arrival *a,
                          const long long *base, long n)
{
    double *v = malloc((size_t)n * sizeof *v);
    if (v == NULL)
        die("out of memory", NULL);
    size_t k = 0;
    for (long i = 0; i < n; i++)
        if (a[i].times > 0)
            v[k++] = (double)(a[i].seen_us - (base ? base[i] : a[i].commit_us)) / 1000.0;
    if (k > 0) {
        qsort(v, k, sizeof v[0], cmp_double);
        printf("%s%s_median_ms %.2f\n%s%s_p99_ms %.2f\n%s%s_max_ms %.2f\n%s%s_min_ms %.2f\n",
               prefix, suffix, pct(v, k, 0.5), prefix, suffix, pct(v, k, 0.99), prefix, suffix,
               v[k - 1], prefix, suffix, v[0]);
    }
    free(v);
}

/* What one follower run measured. */
typedef struct follow_run {
    long commits;
    arrival *a;                          /* by the row's id */
    long long *sent_us, *done_us;        /* when the producer's INSERT began, returned */
    double secs;                         /* the producer's, for all commits */
    double idle_cpu[2], idle_switches[2];   /* per second: before, after the commits */
    int clean_exit;                      /* it ended by itself on SIGTERM, status 0 */
} follow_run;

static void follow_run_init(follow_run *f, long commits)
{
    memset(f, 0, sizeof *f);
    f->commits = commits;
    f->a = calloc((size_t)commits, sizeof *f->a);
    f->sent_us = calloc((size_t)commits, sizeof *f->sent_us);
    f->done_us = calloc((size_t)commits, sizeof *f->done_us);
    if (f->a == NULL || f->sent_us == NULL || f->done_us == NULL)
        die("out of memory", NULL);
    f->idle_cpu[1] = f->idle_switches[1] = -1;
}

static void follow_run_free(follow_run *f)
{
    free(f->a);
    free(f->sent_us);
    free(f->done_us);
}

/* Prints the run's figures under prefix; 1 if every commit was seen. */
static int print_follow(const char *prefix, const follow_run *f)
{
    long seen = 0, extra = 0;
    for (long i = 0; i < f->commits; i++) {
        seen += f->a[i].times > 0;
        extra += f->a[i].times > 1 ? f->a[i].times - 1 : 0;
    }
    printf("%s_commits %ld\n%s_commits_s %.2f\n%s_commits_per_s %.1f\n%s_seen %ld\n"
           "%s_duplicates %ld\n",
           prefix, f->commits, prefix, f->secs, prefix, (double)f->commits / f->secs, prefix,
           seen, prefix, extra);
    print_latency(prefix, "", f->a, NULL, f->commits);
    print_latency(prefix, "_from_return", f->a, f->done_us, f->commits);
    print_latency(prefix, "_from_send", f->a, f->sent_us, f->commits);
    double worst = f->idle_cpu[0] > f->idle_cpu[1] ? f->idle_cpu[0] : f->idle_cpu[1];
    printf("%s_idle_before_cpu_ms_per_s %.3f\n%s_idle_before_switches_per_s %.2f\n"
           "%s_idle_after_cpu_ms_per_s %.3f\n%s_idle_after_switches_per_s %.2f\n"
           "%s_idle_cpu_ms_per_s %.3f\n%s_exit_on_sigterm %s\n",
           prefix, f->idle_cpu[0], prefix, f->idle_switches[0], prefix, f->idle_cpu[1], prefix,
           f->idle_switches[1], prefix, worst, prefix, f->clean_exit ? "yes" : "no");
    fflush(stdout);
    if (seen != f->commits)
        fprintf(stderr, "bench_feed: %s: the follower saw %ld of %ld commits\n", prefix, seen,
                f->commits);
    return seen == f->commits;
}

/* Ends the follower: SIGTERM to its main thread (where udr_wait runs; a
 * signal to the process may land on one of DuckDB's threads), again every
 * 100 ms, SIGKILL after 5 s. 1 if it exited by itself with status 0. */
static int stop_follower(pid_t pid, reader *rd, arrival *a, long commits)
{
    double until = now_s() + 5;
    int status = 0;
    while (now_s() < until) {
        syscall(SYS_tgkill, pid, pid, SIGTERM);
        drain(rd, a, commits, 100);
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return 0;
}

/* fork() with a pipe from the child (pfd[1], its read end closed there) to
 * the parent (pfd[0]). */
static pid_t fork_piped(int pfd[2])
{
    if (pipe(pfd) != 0)
        die("pipe", NULL);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", NULL);
    if (pid == 0)
        close(pfd[0]);
    return pid;
}

static int bench_follow(const char *path, long commits)
{
    make_follow_repo(path, "lat", "lat");
    int pfd[2];
    pid_t pid = fork_piped(pfd);
    if (pid == 0)
        follower(path, pfd[1]);
    close(pfd[1]);
    reader rd;
    memset(&rd, 0, sizeof rd);
    rd.fd = pfd[0];
    follow_run f;
    follow_run_init(&f, commits);
    for (double until = now_s() + 30; !rd.ready && !rd.eof && now_s() < until;)
        drain(&rd, f.a, commits, 100);
    if (!rd.ready) {
        fprintf(stderr, "bench_feed: the follower did not start: %s\n", rd.error);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        exit(1);
    }
    idle_usage(pid, &f.idle_cpu[0], &f.idle_switches[0]);
    f.secs = produce(path, "lat", commits, &rd, f.a, f.sent_us, f.done_us);
    for (double until = now_s() + 10;
         count_seen(f.a, commits) < commits && !rd.eof && !rd.error[0] && now_s() < until;)
        drain(&rd, f.a, commits, 100);
    if (!rd.eof && !rd.error[0])
        idle_usage(pid, &f.idle_cpu[1], &f.idle_switches[1]);
    f.clean_exit = stop_follower(pid, &rd, f.a, commits) && rd.bye;
    close(pfd[0]);
    int ok = print_follow("follow", &f);
    if (rd.error[0] != '\0') {
        fprintf(stderr, "bench_feed: the follower failed: %s\n", rd.error);
        ok = 0;
    }
    follow_run_free(&f);
    return ok;
}

/* ---- follow_cli: `udr subscribe poll --follow` as the follower ------------ */

/* The CLI's stdout, read by a thread; a, seen and warm under mu. */
typedef struct cli_reader {
    int fd;
    long commits;
    arrival *a;
    pthread_mutex_t mu;
    long seen, warm;                     /* warm: the warm-up row (id -2) came */
} cli_reader;

/* "2026-11-24T10:00:00.123456Z" as microseconds since 1970; 0 if not that. */
static long long iso_us(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char frac[8] = "";
    if (sscanf(s, "%d-%d-%dT%d:%d:%d.%6[0-9]", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, frac) < 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    long long us = 0;                    /* ".12" is 120000 us */
    for (int i = 0; i < 6; i++)
        us = us * 10 + (frac[i] >= '0' && frac[i] <= '9' ? frac[i] - '0' : 0);
    return (long long)timegm(&tm) * 1000000LL + us;
}

/* Reads the CLI's NDJSON lines, stamping each as it arrives. */
static void *cli_read(void *arg)
{
    cli_reader *c = arg;
    FILE *f = fdopen(c->fd, "r");
    char line[4096];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        long long seen = real_us();
        const char *row = strstr(line, "\"row\":{"), *t = strstr(line, "\"time\":\"");
        const char *id = row ? strstr(row, "\"id\":") : NULL;
        pthread_mutex_lock(&c->mu);
        if (id != NULL && strstr(line, "\"op\":\"insert\"") != NULL) {
            long long k = strtoll(id + 5, NULL, 10);
            if (k == -2)
                c->warm = 1;
            if (k >= 0 && k < c->commits && c->a[k].times++ == 0) {
                c->a[k].seen_us = seen;
                c->a[k].commit_us = t ? iso_us(t + 8) : 0;
                c->seen++;
            }
        }
        pthread_mutex_unlock(&c->mu);
    }
    if (f != NULL)
        fclose(f);
    return NULL;
}

/* Rows seen so far (and whether the warm-up row came). */
static long cli_count(cli_reader *c, long *warm)
{
    pthread_mutex_lock(&c->mu);
    long n = c->seen;
    if (warm)
        *warm = c->warm;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* 1 if udr has the subscribe verb. */
static int cli_has_subscribe(const char *udr)
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(udr, udr, "subscribe", "--help", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Starts `udr --repo path subscribe poll table --follow [--ack] --format
 * json`, its stdout into *fd. */
static pid_t spawn_cli(const char *udr, const char *path, const char *table, int ack, int *fd)
{
    int pfd[2];
    pid_t pid = fork_piped(pfd);
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[1]);
        const char *argv[] = {udr,      "--repo",   path,     "subscribe", "poll", table,
                              "--follow", "--format", "json", ack ? "--ack" : NULL, NULL};
        execv(udr, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    *fd = pfd[0];
    return pid;
}

/* Commits a warm-up row (id -2) and waits for the CLI to print it: then it
 * is following. 0 if it did not within 30 s. */
static int cli_warm_up(const char *path, const char *table, cli_reader *c)
{
    udr_repo *r;
    if (udr_open(path, &r) != UDR_OK)
        die("open", r);
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (-2, 0)", table);
    run(r, sql);
    udr_close(r);
    long warm = 0;
    for (double until = now_s() + 30; !warm && now_s() < until;) {
        cli_count(c, &warm);
        sleep_ms(10);
    }
    return (int)warm;
}

/* SIGTERM to the process, as a user stops it; SIGKILL after 5 s. 1 if it
 * exited by itself with status 0. */
static int stop_cli(pid_t pid)
{
    kill(pid, SIGTERM);
    int status = 0;
    for (double until = now_s() + 5; now_s() < until; sleep_ms(10))
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return 0;
}

/* ack: `--ack`, keys follow_cli_*; else without (the cursor never moves;
 * the follower polls after what it printed), keys follow_cli_noack_*. */
static int bench_follow_cli(const char *path, const char *udr, long commits, int ack)
{
    const char *prefix = ack ? "follow_cli" : "follow_cli_noack";
    const char *table = ack ? "lat2" : "lat3";
    if (access(udr, X_OK) != 0 || !cli_has_subscribe(udr)) {
        printf("%s_skipped 1\n", prefix);
        return 1;
    }
    make_follow_repo(path, table, table);
    follow_run f;
    follow_run_init(&f, commits);
    cli_reader c;
    memset(&c, 0, sizeof c);
    c.commits = commits;
    c.a = f.a;
    pthread_mutex_init(&c.mu, NULL);
    pid_t pid = spawn_cli(udr, path, table, ack, &c.fd);
    pthread_t th;
    if (pthread_create(&th, NULL, cli_read, &c) != 0)
        die("pthread_create", NULL);
    if (!cli_warm_up(path, table, &c)) {
        fprintf(stderr, "bench_feed: %s subscribe poll %s --follow printed no row in 30 s\n",
                udr, table);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        exit(1);
    }
    idle_usage(pid, &f.idle_cpu[0], &f.idle_switches[0]);
    f.secs = produce(path, table, commits, NULL, f.a, f.sent_us, f.done_us);
    for (double until = now_s() + 10; cli_count(&c, NULL) < commits && now_s() < until;)
        sleep_ms(10);
    idle_usage(pid, &f.idle_cpu[1], &f.idle_switches[1]);
    f.clean_exit = stop_cli(pid);
    pthread_join(th, NULL);                 /* at the end of its output */
    pthread_mutex_destroy(&c.mu);
    int ok = print_follow(prefix, &f);
    follow_run_free(&f);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_feed DIR [ROWS] [COMMITS] [UDR_BINARY]\n");
        return 2;
    }
    unsigned long long rows = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000ULL;
    long commits = argc > 3 ? atol(argv[3]) : 1000;
    if (rows < 1000 || commits < 1) {
        fprintf(stderr, "bench_feed: ROWS must be at least 1,000 and COMMITS at least 1\n");
        return 2;
    }
    char path[4096];
    int ok = 1;
    snprintf(path, sizeof path, "%s/follow", argv[1]);
    ok &= bench_follow(path, commits);
    if (argc > 4) {
        ok &= bench_follow_cli(path, argv[4], commits, 1);
        ok &= bench_follow_cli(path, argv[4], commits, 0);
    }
    snprintf(path, sizeof path, "%s/cost", argv[1]);
    bench_cost(path, rows);
    return ok ? 0 : 1;
}
