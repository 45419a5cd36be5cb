/*
 * bench_branches — what branching costs:
 *
 *   create   udr_branch_create in a repository with 1 table of 10 rows and in
 *            one with 200 tables of 1,000,000 rows: time (best and median of
 *            15) and the objects it stored (none expected)
 *   merge    two branches each update 1,000 scattered rows of a 1,000,000-row
 *            keyed table; the diff of the two versions and the three-way
 *            merge: time, and bytes read (the process's rchar) against the
 *            table's bytes
 *
 * Prints "key value" lines that bench/run.sh turns into bench/RESULTS.md.
 * Usage: bench_branches DIR [TABLES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_NAME "bench_branches"
#include "bench_util.h"
#include "udr.h"

static int count_object(void *ctx, const udr_hash *h, uint64_t size)
{
    (void)h;
    (void)size;
    (*(unsigned long long *)ctx)++;
    return 0;
}

static unsigned long long objects(udr_repo *r)
{
    unsigned long long n = 0;
    if (udr_object_foreach(r, count_object, &n) != UDR_OK)
        die("objects", r);
    return n;
}

/* 15 branch creations: best and median seconds, and new objects. */
static void time_creations(udr_repo *r, const char *tag)
{
    enum { N = 15 };
    double t[N];
    unsigned long long before = objects(r);
    for (int i = 0; i < N; i++) {
        char name[64];
        snprintf(name, sizeof name, "b%d", i);
        double s = now_s();
        if (udr_branch_create(r, name, NULL, NULL) != UDR_OK)
            die("branch create", r);
        t[i] = now_s() - s;
    }
    unsigned long long after = objects(r);
    qsort(t, N, sizeof t[0], cmp_double);
    printf("create_%s_best_s %.6f\ncreate_%s_median_s %.6f\ncreate_%s_new_objects %llu\n", tag,
           t[0], tag, t[N / 2], tag, after - before);
}

static void bench_create(const char *dir, int ntables)
{
    char path[4096], sql[256];
    udr_repo *r;
    snprintf(path, sizeof path, "%s/small", dir);
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    if (udr_table_write(r, "t", "SELECT range AS id FROM range(10)", NULL, NULL) != UDR_OK)
        die("write", r);
    time_creations(r, "small");
    udr_close(r);

    snprintf(path, sizeof path, "%s/large", dir);
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    const char *key[] = {"id", NULL};
    udr_write_opts o = {key, NULL, "bench"};
    for (int i = 0; i < ntables; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%03d", i);
        snprintf(sql, sizeof sql,
                 "SELECT range AS id, (range * %d) %% 1000 AS v FROM range(1000000)", i + 1);
        if (udr_table_write(r, name, sql, &o, NULL) != UDR_OK)
            die("write", r);
    }
    printf("create_large_tables %d\ncreate_large_rows_each 1000000\n", ntables);
    time_creations(r, "large");
    udr_close(r);
}

/* clustered: the 1,000 rows of each side are consecutive keys (one or two
 * chunks touched) rather than every 1,000th (every chunk touched). */
static void bench_merge(const char *dir, int clustered)
{
    char path[4096], sql[512];
    const char *tag = clustered ? "clustered" : "scattered";
    udr_repo *r;
    snprintf(path, sizeof path, "%s/merge-%s", dir, tag);
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    const char *key[] = {"id", NULL};
    udr_write_opts o = {key, NULL, "bench"};
    udr_write_info base;
    if (udr_table_write(r, "big",
                        "SELECT range AS id, md5(range::VARCHAR) AS name, "
                        "(hash(range) % 100000) / 100.0 AS score FROM range(1000000)",
                        &o, &base) != UDR_OK)
        die("write", r);
    if (udr_branch_create(r, "feature", NULL, NULL) != UDR_OK)
        die("branch", r);
    udr_write_info wm, wf;
    snprintf(sql, sizeof sql,
             "SELECT id, name, CASE WHEN %s THEN -3 ELSE score END AS score FROM big",
             clustered ? "id BETWEEN 100000 AND 100999" : "id % 1000 = 3");
    if (udr_table_write(r, "big", sql, &o, &wm) != UDR_OK)
        die("update main", r);
    snprintf(sql, sizeof sql,
             "SELECT id, name, CASE WHEN %s THEN -7 ELSE score END AS score FROM big",
             clustered ? "id BETWEEN 600000 AND 600999" : "id % 1000 = 7");
    if (udr_use_branch(r, "feature") != UDR_OK ||
        udr_table_write(r, "big", sql, &o, &wf) != UDR_OK ||
        udr_use_branch(r, "main") != UDR_OK)
        die("update feature", r);
    udr_close(r);

    /* Fresh handles, as a user's commands would have. */
    if (udr_open(path, &r) != UDR_OK)
        die("open", r);
    udr_diff d;
    char va[32], vb[32];
    snprintf(va, sizeof va, "%llu", (unsigned long long)wm.version);
    snprintf(vb, sizeof vb, "%llu", (unsigned long long)wf.version);
    udr_result *warm;
    if (udr_query(r, "SELECT 1", NULL, 0, &warm) != UDR_OK)
        die("start", r);
    udr_result_free(warm);
    unsigned long long r0 = rchar();
    double t = now_s();
    if (udr_table_diff(r, "big", va, vb, NULL, &d, NULL) != UDR_OK)
        die("diff", r);
    double tdiff = now_s() - t;
    unsigned long long rdiff = rchar() - r0;
    if (d.rows_modified != 2000)
        fprintf(stderr, "bench_branches: the diff found %llu modified rows, not 2000\n",
                (unsigned long long)d.rows_modified);
    r0 = rchar();
    t = now_s();
    udr_merge_opts mo = {"main", UDR_MERGE_FAIL, NULL, "bench"};
    udr_merge_info mi;
    if (udr_merge(r, "feature", &mo, &mi) != UDR_OK)
        die("merge", r);
    double tmerge = now_s() - t;
    unsigned long long rmerge = rchar() - r0;
    udr_merge_info_clear(&mi);
    udr_result *res;
    if (udr_query(r, "SELECT count(*) FILTER (score < 0), count(*) FROM big", NULL, 0, &res) !=
        UDR_OK)
        die("check", r);
    long long neg = udr_result_int64(res, 0, 0), all = udr_result_int64(res, 0, 1);
    udr_result_free(res);
    printf("merge_%s_rows 1000000\nmerge_%s_table_bytes %llu\nmerge_%s_table_chunks %llu\n"
           "merge_%s_diff_s %.4f\nmerge_%s_diff_read_bytes %llu\nmerge_%s_diff_modified %llu\n"
           "merge_%s_merge_s %.4f\nmerge_%s_merge_read_bytes %llu\n"
           "merge_%s_result_changed %lld\nmerge_%s_result_rows %lld\n",
           tag, tag, (unsigned long long)base.bytes, tag, (unsigned long long)base.chunks, tag,
           tdiff, tag, rdiff, tag, (unsigned long long)d.rows_modified, tag, tmerge, tag, rmerge,
           tag, neg, tag, all);
    udr_close(r);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_branches DIR [TABLES]\n");
        return 2;
    }
    int ntables = argc > 2 ? atoi(argv[2]) : 200;
    bench_create(argv[1], ntables);
    bench_merge(argv[1], 0);
    bench_merge(argv[1], 1);
    return 0;
}
