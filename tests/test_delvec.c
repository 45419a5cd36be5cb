/*
 * Tests of deletion vectors (delvec.h) against DuckDB directly: a chunk
 * and delete files written where a repository keeps objects, table
 * versions made by hand, scans filtered by udr_live, and what a long-lived
 * set keeps of the versions it was asked for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "delvec.h"
#include "duckdb.h"
#include "harness.h"
#include "hash.h"
#include "store.h"

typedef struct env {
    duckdb_database db;
    duckdb_connection q;             /* registers udr_live, runs scans */
    duckdb_connection b;             /* reads delete files */
    delvec_set *s;
    char root[4096];
} env;

static void exec(duckdb_connection con, const char *sql)
{
    duckdb_result res;
    if (duckdb_query(con, sql, &res) != DuckDBSuccess) {
        harness_fail(__FILE__, __LINE__, "%s: %s", sql, duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        harness_abort_test();
    }
    duckdb_destroy_result(&res);
}

static void env_open(env *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->root, sizeof e->root, "%s", t_path("repo"));
    mkdir(e->root, 0755);
    mkdir(t_path("repo/objects"), 0755);
    REQUIRE(duckdb_open(NULL, &e->db) == DuckDBSuccess);
    REQUIRE(duckdb_connect(e->db, &e->q) == DuckDBSuccess);
    REQUIRE(duckdb_connect(e->db, &e->b) == DuckDBSuccess);
    udr_err err = {0};
    REQUIRE(delvec_open(e->q, &e->s, &err) == UDR_OK);
}

static void env_close(env *e)
{
    duckdb_disconnect(&e->q);
    duckdb_disconnect(&e->b);
    duckdb_close(&e->db);
    delvec_close(e->s);
}

/* The object h's path, its directories made. */
static void obj_path(const env *e, const udr_hash *h, char *path, size_t size)
{
    char rel[128];
    REQUIRE(store_object_relpath(h, rel, sizeof rel) == 0);
    REQUIRE(snprintf(path, size, "%s/%.10s", e->root, rel) < (int)size);    /* objects/ab */
    mkdir(path, 0755);
    REQUIRE(snprintf(path, size, "%s/%.13s", e->root, rel) < (int)size);    /* objects/ab/cd */
    mkdir(path, 0755);
    REQUIRE(snprintf(path, size, "%s/%s", e->root, rel) < (int)size);
}

static void write_parquet(env *e, const udr_hash *h, const char *select)
{
    char path[4096], sql[8192];
    obj_path(e, h, path, sizeof path);
    snprintf(sql, sizeof sql, "COPY (%s) TO '%s' (FORMAT parquet)", select, path);
    exec(e->q, sql);
}

static udr_hash named(const char *name)
{
    udr_hash h;
    hash_buffer(name, strlen(name), &h);
    return h;
}

/* count(*) of chunk a's rows that udr_live(id) keeps; -1 when the query
 * fails, its error in why. */
static long long live_rows(env *e, const udr_hash *a, uint64_t id, char *why, size_t size)
{
    char path[4096], sql[8192];
    obj_path(e, a, path, sizeof path);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM read_parquet(['%s']) "
             "WHERE udr_live(%llu, file_index, file_row_number)",
             path, (unsigned long long)id);
    duckdb_result r;
    long long n = -1;
    if (duckdb_query(e->q, sql, &r) == DuckDBSuccess)
        n = duckdb_value_int64(&r, 0, 0);
    else
        snprintf(why, size, "%s", duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return n;
}

/* Far under the bound, a set asked for version after version (each with
 * one more delete file, as a session deleting row by row makes) keeps the
 * vectors of a few: at most DELVEC_FRESH + DELVEC_STALE unheld ones, so
 * its bytes stop growing; the newest ID filters right, an evicted one
 * fails by name, and asked again that version gets vectors anew. */
static void test_stale_versions_go(void)
{
    enum { NV = 100, ROWS = 64000 };
    env e;
    env_open(&e);
    udr_hash a = named("chunk a");
    char sel[512], hex[UDR_HASH_HEX + 1];
    snprintf(sel, sizeof sel, "SELECT range AS id FROM range(%d)", ROWS);
    write_parquet(&e, &a, sel);
    hash_to_hex(&a, hex);
    cat_chunk chunk = {.hash = a, .rows = ROWS};
    cat_chunk dels[NV];
    uint64_t ids[NV];
    size_t one = 0, most = 0;
    udr_err err = {0};
    for (int i = 0; i < NV; i++) {
        char name[32];
        snprintf(name, sizeof name, "delete %d", i);
        dels[i] = (cat_chunk){.hash = named(name), .rows = 1};
        snprintf(sel, sizeof sel, "SELECT '%s' AS chunk, %d::BIGINT AS \"row\"", hex, i * 7);
        write_parquet(&e, &dels[i].hash, sel);
        cat_tablever tv = {.rows = ROWS, .chunks = &chunk, .nchunks = 1,
                           .deletes = dels, .ndeletes = (size_t)i + 1};
        REQUIRE(delvec_for(e.s, e.b, e.root, &tv, &ids[i], &err) == 1);
        if (i == 0)
            one = delvec_bytes(e.s);
        if (delvec_bytes(e.s) > most)
            most = delvec_bytes(e.s);
    }
    CHECK(one >= ROWS / 8);
    CHECK(most <= one * (DELVEC_FRESH + DELVEC_STALE + 1));
    char why[512] = "";
    CHECK_INT(live_rows(&e, &a, ids[NV - 1], why, sizeof why), ==, ROWS - NV);
    CHECK_INT(live_rows(&e, &a, ids[0], why, sizeof why), ==, -1);
    CHECK_CONTAINS(why, "no such deletion vector");
    cat_tablever first = {.rows = ROWS, .chunks = &chunk, .nchunks = 1, .deletes = dels,
                          .ndeletes = 1};
    uint64_t again;
    REQUIRE(delvec_for(e.s, e.b, e.root, &first, &again, &err) == 1);
    CHECK(again != ids[0]);
    CHECK_INT(live_rows(&e, &a, again, why, sizeof why), ==, ROWS - 1);
    env_close(&e);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_stale_versions_go),
};
HARNESS_MAIN("delvec", TESTS)
