/*
 * test_progress — the handle's progress hook (udr_progress_set): import,
 * whole-table writes, compaction and export report as they go, with counts
 * that never go down, and end with one done report whose totals are what
 * the call returns (udr_write_info, udr_export_info); an unset hook hears
 * nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "udrtest.h"

static const char *const KEY[] = {"id", NULL};

enum { MAX_REPORTS = 100000 };

typedef struct report {
    char phase[32];
    char table[64];
    uint64_t rows, total_rows, chunks, bytes;
    int done;
} report;

typedef struct heard {
    report *v;
    size_t n;
} heard;

static void on_work(void *ctx, const udr_work_progress *p)
{
    heard *h = ctx;
    if (h->n == MAX_REPORTS)
        return;
    report *r = &h->v[h->n++];
    snprintf(r->phase, sizeof r->phase, "%s", p->phase);
    snprintf(r->table, sizeof r->table, "%s", p->table ? p->table : "(null)");
    r->rows = p->rows;
    r->total_rows = p->total_rows;
    r->chunks = p->chunks;
    r->bytes = p->bytes;
    r->done = p->done;
}

static heard *listen(udr_repo *r)
{
    heard *h = calloc(1, sizeof *h);
    REQUIRE(h != NULL);
    h->v = calloc(MAX_REPORTS, sizeof *h->v);
    REQUIRE(h->v != NULL);
    udr_progress_set(r, on_work, h);
    return h;
}

static void heard_free(heard *h)
{
    free(h->v);
    free(h);
}

/* Every report of one call: the table named, counts never down, one done
 * report, last, with these totals. */
static void check_reports(const heard *h, const char *table, uint64_t rows, uint64_t chunks,
                          uint64_t bytes)
{
    REQUIRE(h->n >= 2);
    for (size_t i = 0; i < h->n; i++) {
        CHECK_STR(h->v[i].table, table);
        CHECK_INT(h->v[i].done, ==, i + 1 == h->n);
        if (i > 0 && i + 1 < h->n) {
            CHECK_INT(h->v[i].rows, >=, h->v[i - 1].rows);
            CHECK_INT(h->v[i].chunks, >=, h->v[i - 1].chunks);
            CHECK_INT(h->v[i].bytes, >=, h->v[i - 1].bytes);
        }
    }
    const report *last = &h->v[h->n - 1];
    CHECK_STR(last->phase, "done");
    CHECK_INT(last->rows, ==, rows);
    CHECK_INT(last->total_rows, ==, rows);
    CHECK_INT(last->chunks, ==, chunks);
    CHECK_INT(last->bytes, ==, bytes);
}

/* The reports of phase in h; the last of them to *last. */
static size_t count_phase(const heard *h, const char *phase, const report **last)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->v[i].phase, phase) == 0) {
            n++;
            if (last)
                *last = &h->v[i];
        }
    return n;
}

/* A CSV of n rows, ids ascending (or descending: a keyed import must then
 * sort them first). */
static const char *write_csv(const char *name, int n, int descending)
{
    const char *path = t_path(name);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs("id,name,score\n", f);
    for (int i = 0; i < n; i++) {
        int id = descending ? n - i : i + 1;
        fprintf(f, "%d,name %d,%d.5\n", id, id, id % 97);
    }
    REQUIRE(fclose(f) == 0);
    return path;
}

static void test_import_streamed(void)
{
    udr_repo *r = new_repo();
    const char *csv = write_csv("in.csv", 200000, 0);
    heard *h = listen(r);
    udr_write_opts o = {KEY, NULL, "tester"};
    udr_write_info info;
    MUST(r, udr_table_import(r, "t", csv, NULL, 0, &o, &info));
    CHECK_INT(info.rows, ==, 200000);
    CHECK_INT(info.chunks, >, 2);
    check_reports(h, "t", info.rows, info.chunks, info.bytes);
    /* One report per chunk stored at most, and the last of them has every
     * chunk (a first write stores them all). */
    const report *w = NULL;
    size_t n = count_phase(h, "writing chunks", &w);
    CHECK_INT(n, >=, 2);
    CHECK_INT(n, <=, 2 * info.chunks + 1);
    REQUIRE(w != NULL);
    CHECK_INT(w->rows, ==, info.rows);
    CHECK_INT(w->chunks, ==, info.chunks);
    CHECK_INT(w->bytes, ==, info.bytes);
    CHECK_INT(count_phase(h, "reading", NULL), ==, 0);     /* in key order: streamed */
    udr_progress_set(r, NULL, NULL);
    heard_free(h);
    udr_close(r);
}

static void test_import_staged(void)
{
    udr_repo *r = new_repo();
    const char *csv = write_csv("in.csv", 150000, 1);
    heard *h = listen(r);
    udr_write_opts o = {KEY, NULL, "tester"};
    udr_write_info info;
    MUST(r, udr_table_import(r, "t", csv, NULL, 0, &o, &info));
    CHECK_INT(info.staged, ==, 1);
    check_reports(h, "t", info.rows, info.chunks, info.bytes);
    /* "reading" (the sort) comes before any chunk. */
    REQUIRE(h->n >= 3);
    CHECK_STR(h->v[0].phase, "reading");
    CHECK_INT(h->v[0].rows, ==, 0);
    const report *w = NULL;
    CHECK_INT(count_phase(h, "writing chunks", &w), >=, 1);
    REQUIRE(w != NULL);
    CHECK_INT(w->chunks, ==, info.chunks);
    CHECK_INT(w->rows, ==, info.rows);
    udr_progress_set(r, NULL, NULL);
    heard_free(h);
    udr_close(r);
}

static void test_table_write_and_sql(void)
{
    udr_repo *r = new_repo();
    heard *h = listen(r);
    udr_write_info info;
    must_write(r, "t", "SELECT range AS id, range * 2 AS v FROM range(120000)", NULL, &info);
    check_reports(h, "t", info.rows, info.chunks, info.bytes);
    /* A SQL statement that writes a whole table reports its chunks too (it
     * has no done report: udr_query returns no udr_write_info). */
    h->n = 0;
    udr_result *res;
    MUST(r, udr_query(r, "CREATE TABLE u AS SELECT range AS id FROM range(100000)", NULL, 0,
                      &res));
    udr_result_free(res);
    const report *w = NULL;
    CHECK_INT(count_phase(h, "writing chunks", &w), >=, 1);
    REQUIRE(w != NULL);
    CHECK_STR(w->table, "u");
    CHECK_INT(w->rows, ==, 100000);
    udr_progress_set(r, NULL, NULL);
    heard_free(h);
    udr_close(r);
}

static void test_compact(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", "SELECT range AS id, 'x' AS s FROM range(150000)", KEY, NULL);
    udr_result *res;
    MUST(r, udr_query(r, "UPDATE t SET s = 'y' WHERE id % 5000 = 7", NULL, 0, &res));
    udr_result_free(res);
    MUST(r, udr_query(r, "DELETE FROM t WHERE id = 8", NULL, 0, &res));
    udr_result_free(res);
    heard *h = listen(r);
    udr_write_info info;
    MUST(r, udr_table_compact(r, "t", &info));
    CHECK_INT(info.rows, ==, 149999);
    check_reports(h, "t", info.rows, info.chunks, info.bytes);
    const report *w = NULL;
    CHECK_INT(count_phase(h, "writing chunks", &w), >=, 1);
    REQUIRE(w != NULL);
    CHECK_INT(w->chunks, ==, info.chunks);
    CHECK_INT(w->bytes, ==, info.bytes);
    /* Clean already: a done report alone. */
    h->n = 0;
    MUST(r, udr_table_compact(r, "t", &info));
    CHECK_INT(h->n, ==, 1);
    CHECK_INT(h->v[0].done, ==, 1);
    udr_progress_set(r, NULL, NULL);
    heard_free(h);
    udr_close(r);
}

static uint64_t size_of(const char *path)
{
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    return (uint64_t)st.st_size;
}

static void test_export(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", "SELECT range AS id, 'name ' || range AS s FROM range(300000)", KEY, NULL);
    must_write(r, "t", "SELECT range AS id, 'name ' || range AS s FROM range(1000)", KEY, NULL);
    const char *formats[] = {"out.parquet", "out.csv"};
    for (int i = 0; i < 2; i++) {
        heard *h = listen(r);
        const char *path = t_path(formats[i]);
        udr_export_info info;
        MUST(r, udr_table_export(r, "t@1", path, NULL, &info));
        CHECK_INT(info.rows, ==, 300000);
        CHECK_INT(info.bytes, ==, size_of(path));
        check_reports(h, "t@1", info.rows, 0, info.bytes);
        /* The first report: nothing done yet, the total from the catalog. */
        CHECK_STR(h->v[0].phase, "exporting");
        CHECK_INT(h->v[0].rows, ==, 0);
        CHECK_INT(h->v[0].total_rows, ==, 300000);
        for (size_t k = 0; k + 1 < h->n; k++)
            CHECK_INT(h->v[k].rows, <=, 300000);
        udr_progress_set(r, NULL, NULL);
        heard_free(h);
    }
    /* The files hold the rows. */
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) || ',' || max(id) FROM read_parquet('%s')",
             t_path("out.parquet"));
    CHECK_STR(value(r, sql), "300000,299999");
    snprintf(sql, sizeof sql, "SELECT count(*) || ',' || max(id) FROM read_csv('%s')",
             t_path("out.csv"));
    CHECK_STR(value(r, sql), "300000,299999");
    udr_close(r);
}

static void test_export_failure_keeps_file(void)
{
    udr_repo *r = new_repo();
    const char *path = t_path("keep.csv");
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs("old\n", f);
    REQUIRE(fclose(f) == 0);
    heard *h = listen(r);
    udr_export_info info;
    CHECK(udr_table_export(r, "nope", path, NULL, &info) != UDR_OK);
    CHECK_CONTAINS(udr_errmsg(r), "nope");
    CHECK_INT(size_of(path), ==, 4);                 /* untouched */
    for (size_t i = 0; i < h->n; i++)
        CHECK_INT(h->v[i].done, ==, 0);              /* no done report for a failure */
    CHECK(udr_table_export(r, "t", t_path("x.json"), NULL, &info) == UDR_EINVAL);
    udr_progress_set(r, NULL, NULL);
    heard_free(h);
    udr_close(r);
}

static void test_unset_hears_nothing(void)
{
    udr_repo *r = new_repo();
    heard *h = listen(r);
    udr_progress_set(r, NULL, NULL);
    const char *csv = write_csv("in.csv", 100000, 1);
    udr_write_opts o = {KEY, NULL, "tester"};
    udr_write_info info;
    MUST(r, udr_table_import(r, "t", csv, NULL, 0, &o, &info));
    MUST(r, udr_table_compact(r, "t", &info));
    udr_export_info ei;
    MUST(r, udr_table_export(r, "t", t_path("o.parquet"), NULL, &ei));
    CHECK_INT(ei.rows, ==, 100000);
    CHECK_INT(h->n, ==, 0);
    heard_free(h);
    udr_close(r);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_import_streamed),
    TEST_ENTRY(test_import_staged),
    TEST_ENTRY(test_table_write_and_sql),
    TEST_ENTRY(test_compact),
    TEST_ENTRY(test_export),
    TEST_ENTRY(test_export_failure_keeps_file),
    TEST_ENTRY(test_unset_hears_nothing),
};

HARNESS_MAIN("progress", TESTS)
