/*
 * Tests of column patches (patch.h) against DuckDB directly: chunk and
 * patch Parquet files written where a repository keeps objects, table
 * versions made by hand, and scans through udr_patched compared with a
 * model of what each row should read: later patches winning, NULLs set and
 * kept, every patchable type, views sharing maps, a chunk at two positions,
 * broken patch files, the memory bound, and 1,000 random patches over
 * 100,000 rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duckdb.h"
#include "harness.h"
#include "hash.h"
#include "patch.h"
#include "store.h"
#include "util/buf.h"

/* ---- a database, a fake repository root, a patch set -------------------- */

typedef struct env {
    duckdb_database db;
    duckdb_connection q;             /* registers udr_patched, runs scans */
    duckdb_connection b;             /* reads patch files */
    patch_set *ps;
    char root[4096];
} env;

static void env_open(env *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->root, sizeof e->root, "%s", t_path("repo"));
    mkdir(e->root, 0755);                            /* kept from an env before */
    mkdir(t_path("repo/objects"), 0755);
    REQUIRE(duckdb_open(NULL, &e->db) == DuckDBSuccess);
    REQUIRE(duckdb_connect(e->db, &e->q) == DuckDBSuccess);
    REQUIRE(duckdb_connect(e->db, &e->b) == DuckDBSuccess);
    udr_err err = {0};
    int rc = patch_open(e->q, &e->ps, &err);
    if (rc != UDR_OK)
        harness_fail(__FILE__, __LINE__, "patch_open: %s", err.msg);
    REQUIRE(rc == UDR_OK);
}

static void env_close(env *e)
{
    duckdb_disconnect(&e->q);
    duckdb_disconnect(&e->b);
    duckdb_close(&e->db);
    patch_close(e->ps);
}

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

static udr_hash named(const char *name)
{
    udr_hash h;
    hash_buffer(name, strlen(name), &h);
    return h;
}

/* The object's path under the root, its fan-out directories made. */
static const char *obj_path(const env *e, const udr_hash *h)
{
    static char path[8192];
    char rel[128];
    REQUIRE(store_object_relpath(h, rel, sizeof rel) == 0);
    snprintf(path, sizeof path, "%s/%.10s", e->root, rel);       /* objects/ab */
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%.13s", e->root, rel);       /* objects/ab/cd */
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s", e->root, rel);
    return path;
}

/* Writes the rows of select as the Parquet object h. */
static void write_parquet(env *e, const udr_hash *h, const char *select)
{
    buf sql;
    buf_init(&sql);
    buf_printf(&sql, "COPY (%s) TO ", select);
    buf_quoted(&sql, obj_path(e, h), '\'');
    buf_adds(&sql, " (FORMAT parquet)");
    char *text = buf_take(&sql, NULL);
    REQUIRE(text != NULL);
    exec(e->q, text);
    free(text);
}

/* One row of a patch: its chunk, row and the values x1..xn as SQL. */
typedef struct prow {
    const udr_hash *chunk;
    int64_t row;
    const char *vals;
} prow;

/* Writes patch h: (chunk, row, then sel over x1..xn of each row). */
static void write_patch(env *e, const udr_hash *h, const char *sel, int nvals,
                        const prow *rows, size_t n)
{
    buf sql;
    buf_init(&sql);
    buf_printf(&sql, "SELECT chunk, \"row\", %s FROM (VALUES ", sel);
    for (size_t i = 0; i < n; i++) {
        char hex[UDR_HASH_HEX + 1];
        hash_to_hex(rows[i].chunk, hex);
        buf_printf(&sql, "%s('%s', CAST(%lld AS BIGINT), %s)", i ? ", " : "", hex,
                   (long long)rows[i].row, rows[i].vals);
    }
    buf_adds(&sql, ") t(chunk, \"row\"");
    for (int k = 1; k <= nvals; k++)
        buf_printf(&sql, ", x%d", k);
    buf_adds(&sql, ")");
    char *text = buf_take(&sql, NULL);
    REQUIRE(text != NULL);
    write_parquet(e, h, text);
    free(text);
}

/* ---- a table version made by hand -------------------------------------- */

typedef struct table {
    cat_tablever tv;
    cat_column cols[16];
    cat_chunk chunks[8];
    cat_patch patches[8];
} table;

static void table_init(table *t, const char *const *names, const char *const *types, size_t n)
{
    memset(t, 0, sizeof *t);
    REQUIRE(n <= 16);
    for (size_t i = 0; i < n; i++) {
        t->cols[i].name = (char *)names[i];
        t->cols[i].type = (char *)types[i];
    }
    t->tv.cols = t->cols;
    t->tv.ncols = n;
    t->tv.chunks = t->chunks;
    t->tv.patches = t->patches;
}

static void table_chunk(table *t, const udr_hash *h, uint64_t rows)
{
    REQUIRE(t->tv.nchunks < 8);
    t->chunks[t->tv.nchunks].hash = *h;
    t->chunks[t->tv.nchunks++].rows = rows;
    t->tv.rows += rows;
}

static void table_patch(table *t, const udr_hash *h, uint64_t rows, uint64_t cols)
{
    REQUIRE(t->tv.npatches < 8);
    t->patches[t->tv.npatches].hash = *h;
    t->patches[t->tv.npatches].rows = rows;
    t->patches[t->tv.npatches++].cols = cols;
}

static uint64_t id_for(env *e, const table *t)
{
    uint64_t id = UINT64_MAX;
    udr_err err = {0};
    int rc = patch_for(e->ps, e->b, e->root, &t->tv, &id, &err);
    if (rc != 1)
        harness_fail(__FILE__, __LINE__, "patch_for returned %d: %s", rc, err.msg);
    REQUIRE(rc == 1);
    return id;
}

/* ---- scanning and comparing -------------------------------------------- */

static size_t width_of(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_BOOLEAN: case DUCKDB_TYPE_TINYINT: case DUCKDB_TYPE_UTINYINT:
        return 1;
    case DUCKDB_TYPE_SMALLINT: case DUCKDB_TYPE_USMALLINT:
        return 2;
    case DUCKDB_TYPE_INTEGER: case DUCKDB_TYPE_UINTEGER: case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DATE:
        return 4;
    default:
        return 8;
    }
}

/* What a scan should read at one position of its chunk list. */
typedef struct want {
    uint64_t rows;
    const uint64_t *raw;             /* a value's bytes, in the low bytes */
    const unsigned char *null;
} want;

/* Scans chunks[0..n) through udr_patched(id, col, ..., name) and compares
 * each row with w[position], and the result's type with type. */
static void check_scan(env *e, const udr_hash *chunks, size_t n, uint64_t id, unsigned col,
                       const char *name, duckdb_type type, const want *w)
{
    buf sql;
    buf_init(&sql);
    buf_printf(&sql, "SELECT file_index, file_row_number, udr_patched(%llu, %u, file_index, "
               "file_row_number, ", (unsigned long long)id, col);
    buf_quoted(&sql, name, '"');
    buf_adds(&sql, ") FROM read_parquet([");
    for (size_t i = 0; i < n; i++) {
        buf_adds(&sql, i ? ", " : "");
        buf_quoted(&sql, obj_path(e, &chunks[i]), '\'');
    }
    buf_adds(&sql, "]) ORDER BY 1, 2");
    char *text = buf_take(&sql, NULL);
    REQUIRE(text != NULL);
    duckdb_result res;
    if (duckdb_query(e->q, text, &res) != DuckDBSuccess) {
        harness_fail(__FILE__, __LINE__, "%s: %s", text, duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        free(text);
        harness_abort_test();
    }
    free(text);
    CHECK_INT(duckdb_column_type(&res, 2), ==, type);
    size_t wd = width_of(type), pos = 0, bad = 0;
    uint64_t row = 0, seen = 0;
    for (;;) {
        duckdb_data_chunk ch = duckdb_fetch_chunk(res);
        if (ch == NULL)
            break;
        idx_t m = duckdb_data_chunk_get_size(ch);
        const uint64_t *fi = duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 0));
        const int64_t *rn = duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 1));
        duckdb_vector vv = duckdb_data_chunk_get_vector(ch, 2);
        const unsigned char *v = duckdb_vector_get_data(vv);
        uint64_t *ok = duckdb_vector_get_validity(vv);
        for (idx_t i = 0; i < m; i++, seen++) {
            while (pos < n && row == w[pos].rows) {
                pos++;
                row = 0;
            }
            if (pos == n || fi[i] != pos || (uint64_t)rn[i] != row) {
                harness_fail(__FILE__, __LINE__, "row %llu: at %llu:%lld, wanted %zu:%llu",
                             (unsigned long long)seen, (unsigned long long)fi[i],
                             (long long)rn[i], pos, (unsigned long long)row);
                duckdb_destroy_data_chunk(&ch);
                duckdb_destroy_result(&res);
                harness_abort_test();
            }
            int null = ok != NULL && !duckdb_validity_row_is_valid(ok, i);
            uint64_t got = 0;
            if (!null)
                memcpy(&got, v + i * wd, wd);
            int wnull = w[pos].null[row];
            uint64_t wraw = wnull ? 0 : w[pos].raw[row];
            if ((null != wnull || got != wraw) && bad++ < 10)
                harness_fail(__FILE__, __LINE__,
                             "%s at %zu:%llu: wanted %s0x%llx, got %s0x%llx", name, pos,
                             (unsigned long long)row, wnull ? "NULL " : "",
                             (unsigned long long)wraw, null ? "NULL " : "",
                             (unsigned long long)got);
            row++;
        }
        duckdb_destroy_data_chunk(&ch);
    }
    duckdb_destroy_result(&res);
    while (pos < n && row == w[pos].rows) {
        pos++;
        row = 0;
    }
    CHECK_INT(pos, ==, n);
    CHECK_INT(bad, ==, 0);
}

/* ---- a BIGINT table: (id, v), v NULL at every 7th row ------------------- */

static const char *const BIG_NAMES[] = {"id", "v"};
static const char *const BIG_TYPES[] = {"BIGINT", "BIGINT"};

static int64_t big_v(int k, uint64_t i)
{
    return k * 1000 + (int64_t)i * 10;
}

static int big_null(uint64_t i)
{
    return i % 7 == 6;
}

/* Chunk k of rows rows, as object h. */
static void big_chunk(env *e, const udr_hash *h, int k, uint64_t rows)
{
    char sel[512];
    snprintf(sel, sizeof sel,
             "SELECT CAST(%d * 1000000 + i AS BIGINT) AS id, CASE WHEN i %% 7 = 6 THEN NULL "
             "ELSE CAST(%d * 1000 + i * 10 AS BIGINT) END AS v FROM range(%llu) t(i)",
             k, k, (unsigned long long)rows);
    write_parquet(e, h, sel);
}

/* What chunk k reads unpatched. */
typedef struct model {
    uint64_t raw[64];
    unsigned char null[64];
} model;

static void big_model(model *m, int k, uint64_t rows)
{
    for (uint64_t i = 0; i < rows; i++) {
        m->raw[i] = (uint64_t)big_v(k, i);
        m->null[i] = (unsigned char)big_null(i);
    }
}

static void set(model *m, uint64_t row, const int64_t *v)
{
    m->null[row] = v == NULL;
    m->raw[row] = v ? (uint64_t)*v : 0;
}

static const int64_t V[] = {100, 300, 333, 600, 1010, 4242, -7};

/* Two patches name row 3 and row 8: the later one's values are read; a
 * patch can set NULL and can set a value where the chunk holds NULL; a NULL
 * nothing patches stays NULL. */
static void test_later_patch_wins(void)
{
    env e;
    env_open(&e);
    udr_hash a = named("chunk a"), p1 = named("patch 1"), p2 = named("patch 2");
    big_chunk(&e, &a, 1, 20);
    const prow r1[] = {{&a, 1, "100"}, {&a, 3, "300"}, {&a, 5, "NULL"},
                       {&a, 6, "600"}, {&a, 8, "800"}};
    const prow r2[] = {{&a, 3, "333"}, {&a, 8, "NULL"}, {&a, 10, "1010"}};
    write_patch(&e, &p1, "CAST(x1 AS BIGINT) AS v", 1, r1, 5);
    write_patch(&e, &p2, "CAST(x1 AS BIGINT) AS v", 1, r2, 3);
    table t;
    table_init(&t, BIG_NAMES, BIG_TYPES, 2);
    table_chunk(&t, &a, 20);
    table_patch(&t, &p1, 5, 1u << 1);
    table_patch(&t, &p2, 3, 1u << 1);
    uint64_t id = id_for(&e, &t);

    model m;
    big_model(&m, 1, 20);
    set(&m, 1, &V[0]);
    set(&m, 3, &V[2]);
    set(&m, 5, NULL);
    set(&m, 6, &V[3]);                 /* the chunk holds NULL there */
    set(&m, 8, NULL);
    set(&m, 10, &V[4]);
    CHECK(m.null[13]);                 /* NULL, not patched */
    want w = {20, m.raw, m.null};
    check_scan(&e, &a, 1, id, 1, "v", DUCKDB_TYPE_BIGINT, &w);
    /* the same version again: the same ID */
    CHECK_INT(id_for(&e, &t), ==, id);

    /* a constant NULL value is not folded to NULL: patched rows read theirs */
    char sql[8400];
    snprintf(sql, sizeof sql,
             "SELECT count(x), CAST(sum(x) AS BIGINT) FROM (SELECT udr_patched(%llu, 1, file_index, "
             "file_row_number, CAST(NULL AS BIGINT)) AS x FROM read_parquet(['%s']))",
             (unsigned long long)id, obj_path(&e, &a));
    duckdb_result res;
    REQUIRE(duckdb_query(e.q, sql, &res) == DuckDBSuccess);
    duckdb_data_chunk ch = duckdb_fetch_chunk(res);
    REQUIRE(ch != NULL);
    int64_t n, sum;
    memcpy(&n, duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 0)), 8);
    memcpy(&sum, duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 1)), 8);
    CHECK_INT(n, ==, 4);
    CHECK_INT(sum, ==, 100 + 333 + 600 + 1010);
    duckdb_destroy_data_chunk(&ch);
    duckdb_destroy_result(&res);
    env_close(&e);
}

/* ---- every patchable type ------------------------------------------------ */

static const char *const TYPE_NAMES[] = {
    "BOOLEAN", "TINYINT",  "SMALLINT", "INTEGER", "BIGINT", "UTINYINT",  "USMALLINT",
    "UINTEGER", "UBIGINT", "FLOAT",    "DOUBLE",  "DATE",   "TIMESTAMP",
};
static const duckdb_type TYPE_IDS[] = {
    DUCKDB_TYPE_BOOLEAN,  DUCKDB_TYPE_TINYINT,  DUCKDB_TYPE_SMALLINT,  DUCKDB_TYPE_INTEGER,
    DUCKDB_TYPE_BIGINT,   DUCKDB_TYPE_UTINYINT, DUCKDB_TYPE_USMALLINT, DUCKDB_TYPE_UINTEGER,
    DUCKDB_TYPE_UBIGINT,  DUCKDB_TYPE_FLOAT,    DUCKDB_TYPE_DOUBLE,    DUCKDB_TYPE_DATE,
    DUCKDB_TYPE_TIMESTAMP,
};
enum { NT = 13, TROWS = 50 };

/* Type t's value for an integer j (0..55), as SQL over x ... */
static void type_sql(char *out, size_t size, int t, const char *x)
{
    static const char *const fmt[NT] = {
        "(%s %% 3 = 0)",
        "CAST(%s - 20 AS TINYINT)",
        "CAST(%s * 300 AS SMALLINT)",
        "CAST(%s * 100000 AS INTEGER)",
        "CAST(%s * 10000000000 AS BIGINT)",
        "CAST(%s + 200 AS UTINYINT)",
        "CAST(%s * 1000 AS USMALLINT)",
        "CAST(%s * 50000000 AS UINTEGER)",
        "CAST(%s AS UBIGINT) * CAST(300000000000 AS UBIGINT)",
        "CAST(%s AS FLOAT) / CAST(4 AS FLOAT)",
        "CAST(%s AS DOUBLE) / 8",
        "CAST(DATE '1970-01-01' + CAST(%s * 3 AS INTEGER) AS DATE)",
        "make_timestamp(CAST(%s * 7 AS BIGINT))",
    };
    char big[64];
    snprintf(big, sizeof big, "CAST(%s AS BIGINT)", x);
    snprintf(out, size, fmt[t], big);
}

/* ... and its bytes, as DuckDB holds them. */
static uint64_t type_raw(int t, int64_t j)
{
    uint64_t r = 0;
    switch (t) {
    case 0: { unsigned char b = j % 3 == 0; memcpy(&r, &b, 1); break; }
    case 1: { int8_t v = (int8_t)(j - 20); memcpy(&r, &v, 1); break; }
    case 2: { int16_t v = (int16_t)(j * 300); memcpy(&r, &v, 2); break; }
    case 3: { int32_t v = (int32_t)(j * 100000); memcpy(&r, &v, 4); break; }
    case 4: { int64_t v = j * 10000000000LL; memcpy(&r, &v, 8); break; }
    case 5: { uint8_t v = (uint8_t)(j + 200); memcpy(&r, &v, 1); break; }
    case 6: { uint16_t v = (uint16_t)(j * 1000); memcpy(&r, &v, 2); break; }
    case 7: { uint32_t v = (uint32_t)(j * 50000000); memcpy(&r, &v, 4); break; }
    case 8: { uint64_t v = (uint64_t)j * 300000000000ULL; memcpy(&r, &v, 8); break; }
    case 9: { float v = (float)j / 4; memcpy(&r, &v, 4); break; }
    case 10: { double v = (double)j / 8; memcpy(&r, &v, 8); break; }
    case 11: { int32_t v = (int32_t)(j * 3); memcpy(&r, &v, 4); break; }
    default: { int64_t v = j * 7; memcpy(&r, &v, 8); break; }
    }
    return r;
}

/* A table of each type, input NULL at every 10th row; one patch names
 * every column (a value, a value over NULL, a NULL), a later one two of
 * them: those read the later values, the others the first patch's. */
static void test_every_type(void)
{
    env e;
    env_open(&e);
    const char *names[NT + 1] = {"id"};
    const char *types[NT + 1] = {"BIGINT"};
    static char colname[NT][16];
    buf sel;
    buf_init(&sel);
    buf_adds(&sel, "SELECT i AS id");
    for (int t = 0; t < NT; t++) {
        snprintf(colname[t], sizeof colname[t], "c%d", t + 1);
        names[t + 1] = colname[t];
        types[t + 1] = TYPE_NAMES[t];
        char ex[200];
        type_sql(ex, sizeof ex, t, "i");
        buf_printf(&sel, ", CASE WHEN i %% 10 = 9 THEN NULL ELSE %s END AS c%d", ex, t + 1);
    }
    buf_printf(&sel, " FROM range(%d) t(i)", TROWS);
    char *text = buf_take(&sel, NULL);
    REQUIRE(text != NULL);
    udr_hash a = named("typed chunk"), p1 = named("typed patch 1"), p2 = named("typed patch 2");
    write_parquet(&e, &a, text);
    free(text);

    /* patch 1: row 2 -> j 47, row 9 (NULL) -> j 40, row 5 -> NULL */
    buf_init(&sel);
    for (int t = 0; t < NT; t++) {
        char x[16], ex[200];
        snprintf(x, sizeof x, "x%d", t + 1);
        type_sql(ex, sizeof ex, t, x);
        buf_printf(&sel, "%s%s AS c%d", t ? ", " : "", ex, t + 1);
    }
    char *s1 = buf_take(&sel, NULL);
    REQUIRE(s1 != NULL);
    char v47[100] = "", v40[100] = "", vnull[400] = "";
    for (int t = 0; t < NT; t++) {
        strcat(v47, t ? ", 47" : "47");
        strcat(v40, t ? ", 40" : "40");
        strcat(vnull, t ? ", CAST(NULL AS INTEGER)" : "CAST(NULL AS INTEGER)");
    }
    const prow r1[] = {{&a, 2, v47}, {&a, 9, v40}, {&a, 5, vnull}};
    write_patch(&e, &p1, s1, NT, r1, 3);
    free(s1);
    /* patch 2: columns c2 and c11 (DOUBLE), row 2 -> j 30, row 5 -> j 31 */
    char sel2[600], e1[200], e2[200];
    type_sql(e1, sizeof e1, 1, "x1");
    type_sql(e2, sizeof e2, 10, "x2");
    snprintf(sel2, sizeof sel2, "%s AS c2, %s AS c11", e1, e2);
    const prow r2[] = {{&a, 2, "30, 30"}, {&a, 5, "31, 31"}};
    write_patch(&e, &p2, sel2, 2, r2, 2);

    table t;
    table_init(&t, names, types, NT + 1);
    table_chunk(&t, &a, TROWS);
    table_patch(&t, &p1, 3, ((uint64_t)1 << (NT + 1)) - 2);
    table_patch(&t, &p2, 2, (1u << 2) | (1u << 11));
    uint64_t id = id_for(&e, &t);

    for (int ty = 0; ty < NT; ty++) {
        uint64_t raw[TROWS];
        unsigned char null[TROWS];
        for (int i = 0; i < TROWS; i++) {
            raw[i] = type_raw(ty, i);
            null[i] = i % 10 == 9;
        }
        raw[2] = type_raw(ty, 47);
        raw[9] = type_raw(ty, 40);
        null[9] = 0;
        null[5] = 1;
        if (ty == 1 || ty == 10) {
            raw[2] = type_raw(ty, 30);
            raw[5] = type_raw(ty, 31);
            null[5] = 0;
        }
        want w = {TROWS, raw, null};
        check_scan(&e, &a, 1, id, (unsigned)ty + 1, colname[ty], TYPE_IDS[ty], &w);
    }
    env_close(&e);
}

/* ---- views ---------------------------------------------------------------- */

/* Versions over the same patches with other chunk lists (a subset, another
 * order) have IDs of their own and share the maps: once built, the patch
 * file is not read again. */
static void test_views_share_maps(void)
{
    env e;
    env_open(&e);
    udr_hash c[3] = {named("chunk a"), named("chunk b"), named("chunk c")};
    udr_hash p = named("the patch");
    for (int k = 0; k < 3; k++)
        big_chunk(&e, &c[k], k + 1, 10);
    const prow r[] = {{&c[0], 0, "100"}, {&c[1], 4, "4242"}, {&c[2], 9, "-7"},
                      {&c[2], 6, "600"}};
    write_patch(&e, &p, "CAST(x1 AS BIGINT) AS v", 1, r, 4);
    model m[3];
    for (int k = 0; k < 3; k++)
        big_model(&m[k], k + 1, 10);
    set(&m[0], 0, &V[0]);
    set(&m[1], 4, &V[5]);
    set(&m[2], 9, &V[6]);
    set(&m[2], 6, &V[3]);

    table t1, t2, t3;
    table_init(&t1, BIG_NAMES, BIG_TYPES, 2);
    for (int k = 0; k < 3; k++)
        table_chunk(&t1, &c[k], 10);
    table_patch(&t1, &p, 4, 1u << 1);
    table_init(&t2, BIG_NAMES, BIG_TYPES, 2);
    table_chunk(&t2, &c[2], 10);
    table_chunk(&t2, &c[0], 10);
    table_patch(&t2, &p, 4, 1u << 1);
    table_init(&t3, BIG_NAMES, BIG_TYPES, 2);
    table_chunk(&t3, &c[1], 10);
    table_patch(&t3, &p, 4, 1u << 1);

    uint64_t id1 = id_for(&e, &t1);
    uint64_t id2 = id_for(&e, &t2);
    CHECK(id1 != id2);
    REQUIRE(unlink(obj_path(&e, &p)) == 0);
    uint64_t id3 = id_for(&e, &t3);    /* made without the file */
    CHECK(id3 != id1 && id3 != id2);
    CHECK_INT(id_for(&e, &t1), ==, id1);
    CHECK_INT(id_for(&e, &t2), ==, id2);

    want w1[3] = {{10, m[0].raw, m[0].null}, {10, m[1].raw, m[1].null},
                  {10, m[2].raw, m[2].null}};
    check_scan(&e, c, 3, id1, 1, "v", DUCKDB_TYPE_BIGINT, w1);
    const udr_hash l2[2] = {c[2], c[0]};
    want w2[2] = {w1[2], w1[0]};
    check_scan(&e, l2, 2, id2, 1, "v", DUCKDB_TYPE_BIGINT, w2);
    check_scan(&e, &c[1], 1, id3, 1, "v", DUCKDB_TYPE_BIGINT, &w1[1]);
    env_close(&e);
}

/* The same chunk at two positions reads its patches at both. */
static void test_same_chunk_twice(void)
{
    env e;
    env_open(&e);
    udr_hash a = named("chunk a"), b = named("chunk b"), p = named("the patch");
    big_chunk(&e, &a, 1, 12);
    big_chunk(&e, &b, 2, 5);
    const prow r[] = {{&a, 3, "300"}, {&a, 11, "NULL"}, {&b, 0, "100"}};
    write_patch(&e, &p, "CAST(x1 AS BIGINT) AS v", 1, r, 3);
    table t;
    table_init(&t, BIG_NAMES, BIG_TYPES, 2);
    table_chunk(&t, &a, 12);
    table_chunk(&t, &b, 5);
    table_chunk(&t, &a, 12);
    table_patch(&t, &p, 3, 1u << 1);
    uint64_t id = id_for(&e, &t);
    model ma, mb;
    big_model(&ma, 1, 12);
    big_model(&mb, 2, 5);
    set(&ma, 3, &V[1]);
    set(&ma, 11, NULL);
    set(&mb, 0, &V[0]);
    const udr_hash list[3] = {a, b, a};
    want w[3] = {{12, ma.raw, ma.null}, {5, mb.raw, mb.null}, {12, ma.raw, ma.null}};
    check_scan(&e, list, 3, id, 1, "v", DUCKDB_TYPE_BIGINT, w);
    env_close(&e);
}

/* ---- failures ------------------------------------------------------------ */

static void expect_corrupt(env *e, const table *t, const udr_hash *named_hash)
{
    uint64_t id = 0;
    udr_err err = {0};
    char hex[UDR_HASH_HEX + 1];
    hash_to_hex(named_hash, hex);
    int rc = patch_for(e->ps, e->b, e->root, &t->tv, &id, &err);
    CHECK_INT(rc, ==, UDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, hex);
}

/* A patch file that is missing, not Parquet or without a column its
 * cat_patch names, or a cat_patch naming a column the version lacks or one
 * that cannot be patched: UDR_ECORRUPT naming the patch. Nothing is kept:
 * a good version still works after. */
static void test_broken_patches(void)
{
    env e;
    env_open(&e);
    udr_hash a = named("chunk a"), good = named("good patch"), missing = named("missing"),
             junk = named("junk"), other = named("other column");
    big_chunk(&e, &a, 1, 10);
    const prow r[] = {{&a, 2, "100"}};
    write_patch(&e, &good, "CAST(x1 AS BIGINT) AS v", 1, r, 1);
    write_patch(&e, &other, "CAST(x1 AS BIGINT) AS w", 1, r, 1);
    t_write_file(obj_path(&e, &junk), "not parquet at all", 18);

    table t;
    table_init(&t, BIG_NAMES, BIG_TYPES, 2);
    table_chunk(&t, &a, 10);
    table_patch(&t, &good, 1, 1u << 1);
    table_patch(&t, &missing, 1, 1u << 1);
    expect_corrupt(&e, &t, &missing);
    t.patches[1].hash = junk;
    expect_corrupt(&e, &t, &junk);
    t.patches[1].hash = other;
    expect_corrupt(&e, &t, &other);
    t.patches[1].hash = good;
    t.patches[1].cols = 1u << 2;       /* the version has 2 columns */
    expect_corrupt(&e, &t, &good);

    static const char *const text_types[] = {"BIGINT", "VARCHAR"};
    table tt;
    table_init(&tt, BIG_NAMES, text_types, 2);
    table_chunk(&tt, &a, 10);
    table_patch(&tt, &good, 1, 1u << 1);
    expect_corrupt(&e, &tt, &good);

    table ok;
    table_init(&ok, BIG_NAMES, BIG_TYPES, 2);
    table_chunk(&ok, &a, 10);
    table_patch(&ok, &good, 1, 1u << 1);
    uint64_t id = id_for(&e, &ok);
    model m;
    big_model(&m, 1, 10);
    set(&m, 2, &V[0]);
    want w = {10, m.raw, m.null};
    check_scan(&e, &a, 1, id, 1, "v", DUCKDB_TYPE_BIGINT, &w);
    env_close(&e);
}

/* An ID udr_patched was never handed fails the statement. */
static void test_unknown_id(void)
{
    env e;
    env_open(&e);
    udr_hash a = named("chunk a");
    big_chunk(&e, &a, 1, 10);
    char sql[8400];
    snprintf(sql, sizeof sql,
             "SELECT udr_patched(7, 1, file_index, file_row_number, v) FROM read_parquet(['%s'])",
             obj_path(&e, &a));
    duckdb_result res;
    CHECK(duckdb_query(e.q, sql, &res) == DuckDBError);
    CHECK_CONTAINS(duckdb_result_error(&res), "udr_patched");
    duckdb_destroy_result(&res);
    env_close(&e);
}

/* $UDR_PATCH_MAX_BYTES: 0 turns maps off; a small bound takes small maps
 * and leaves large ones (a row far into a chunk) to SQL. */
static void test_memory_bound(void)
{
    env e;
    setenv("UDR_PATCH_MAX_BYTES", "0", 1);
    env_open(&e);
    unsetenv("UDR_PATCH_MAX_BYTES");
    udr_hash a = named("chunk a"), small = named("small patch"), far = named("far patch");
    big_chunk(&e, &a, 1, 100000);
    const prow r1[] = {{&a, 5, "1"}, {&a, 6, "2"}, {&a, 7, "3"}};
    const prow r2[] = {{&a, 99999, "4"}};
    write_patch(&e, &small, "CAST(x1 AS BIGINT) AS v", 1, r1, 3);
    write_patch(&e, &far, "CAST(x1 AS BIGINT) AS v", 1, r2, 1);
    table t;
    table_init(&t, BIG_NAMES, BIG_TYPES, 2);
    table_chunk(&t, &a, 100000);
    table_patch(&t, &small, 3, 1u << 1);
    uint64_t id = 0;
    udr_err err = {0};
    CHECK_INT(patch_for(e.ps, e.b, e.root, &t.tv, &id, &err), ==, 0);
    env_close(&e);

    setenv("UDR_PATCH_MAX_BYTES", "4000", 1);
    env_open(&e);
    unsetenv("UDR_PATCH_MAX_BYTES");
    CHECK_INT(patch_for(e.ps, e.b, e.root, &t.tv, &id, &err), ==, 1);
    table_patch(&t, &far, 1, 1u << 1);
    CHECK_INT(patch_for(e.ps, e.b, e.root, &t.tv, &id, &err), ==, 0);
    env_close(&e);
}

/* A long-lived set over many versions: past the bound, the maps nothing
 * holds are evicted, least recently used first, so every new version still
 * gets maps and the bytes stay under the bound; maps a prepared statement
 * holds survive; an evicted ID that nothing bound fails at bind, by name. */
static void test_eviction(void)
{
    enum { NV = 60 };
    env e;
    env_open(&e);
    udr_hash a = named("chunk a"), p[NV];
    big_chunk(&e, &a, 1, 1000);
    for (int i = 0; i < NV; i++) {
        char name[32], val[32], last[32];
        snprintf(name, sizeof name, "patch %d", i);
        snprintf(val, sizeof val, "%d", 5000 + i);
        snprintf(last, sizeof last, "%d", 9000 + i);
        const prow rows[] = {{&a, i, val}, {&a, 999, last}};
        p[i] = named(name);
        write_patch(&e, &p[i], "CAST(x1 AS BIGINT) AS v", 1, rows, 2);
    }
    table t[NV];
    for (int i = 0; i < NV; i++) {
        table_init(&t[i], BIG_NAMES, BIG_TYPES, 2);
        table_chunk(&t[i], &a, 1000);
        table_patch(&t[i], &p[i], 2, 1u << 1);
    }
    /* One version's maps and view: the bound fits 20 of them. */
    id_for(&e, &t[0]);
    size_t one = patch_bytes(e.ps);
    CHECK(one > 8000);
    env_close(&e);
    char limit[32];
    snprintf(limit, sizeof limit, "%zu", one * 20 + one / 2);
    setenv("UDR_PATCH_MAX_BYTES", limit, 1);
    env_open(&e);
    unsetenv("UDR_PATCH_MAX_BYTES");
    char sql[8192], path[4096];
    snprintf(path, sizeof path, "%s", obj_path(&e, &a));
    /* Version 0 held by a prepared statement. */
    uint64_t id0 = id_for(&e, &t[0]);
    snprintf(sql, sizeof sql,
             "SELECT udr_patched(%llu, 1, file_index, file_row_number, v) FROM read_parquet('%s') "
             "WHERE file_row_number = 0",
             (unsigned long long)id0, path);
    duckdb_prepared_statement ps;
    REQUIRE(duckdb_prepare(e.q, sql, &ps) == DuckDBSuccess);
    uint64_t ids[NV];
    for (int i = 1; i < NV; i++) {
        ids[i] = id_for(&e, &t[i]);
        CHECK(patch_bytes(e.ps) <= one * 20 + one / 2);
        snprintf(sql, sizeof sql,
                 "SELECT sum(udr_patched(%llu, 1, file_index, file_row_number, v)) FILTER "
                 "(file_row_number = %d) || ',' || sum(udr_patched(%llu, 1, file_index, "
                 "file_row_number, v)) FILTER (file_row_number = 999) FROM read_parquet('%s')",
                 (unsigned long long)ids[i], i, (unsigned long long)ids[i], path);
        duckdb_result r;
        REQUIRE(duckdb_query(e.q, sql, &r) == DuckDBSuccess);
        char *got = duckdb_value_varchar(&r, 0, 0), expect[64];
        snprintf(expect, sizeof expect, "%d,%d", 5000 + i, 9000 + i);
        CHECK_STR(got, expect);
        duckdb_free(got);
        duckdb_destroy_result(&r);
    }
    /* The held maps were kept. */
    duckdb_result r;
    REQUIRE(duckdb_execute_prepared(ps, &r) == DuckDBSuccess);
    CHECK_INT(duckdb_value_int64(&r, 0, 0), ==, 5000);
    duckdb_destroy_result(&r);
    duckdb_destroy_prepare(&ps);
    /* Version 1's were evicted: its ID, unbound, fails by name. */
    snprintf(sql, sizeof sql,
             "SELECT udr_patched(%llu, 1, file_index, file_row_number, v) FROM read_parquet('%s')",
             (unsigned long long)ids[1], path);
    CHECK(duckdb_query(e.q, sql, &r) == DuckDBError);
    CHECK_CONTAINS(duckdb_result_error(&r), "no such patch map");
    duckdb_destroy_result(&r);
    /* Asked again, version 1 gets maps anew (a new ID). */
    uint64_t again = id_for(&e, &t[1]);
    CHECK(again != ids[1]);
    env_close(&e);
}

/* Far under the bound, a handle that reads version after version keeps
 * the maps of a few: at most PATCH_FRESH + PATCH_STALE unheld ones, so its
 * bytes stop growing; the newest IDs work, an old one fails by name. */
static void test_stale_versions_go(void)
{
    enum { NV = 120 };
    env e;
    env_open(&e);
    udr_hash a = named("chunk a"), p[NV];
    big_chunk(&e, &a, 1, 1000);
    table t[NV];
    uint64_t ids[NV];
    size_t one = 0, most = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s", obj_path(&e, &a));
    for (int i = 0; i < NV; i++) {
        char name[32], val[32];
        snprintf(name, sizeof name, "patch %d", i);
        snprintf(val, sizeof val, "%d", 7000 + i);
        const prow rows[] = {{&a, 999 - i, val}};
        p[i] = named(name);
        write_patch(&e, &p[i], "CAST(x1 AS BIGINT) AS v", 1, rows, 1);
        table_init(&t[i], BIG_NAMES, BIG_TYPES, 2);
        table_chunk(&t[i], &a, 1000);
        table_patch(&t[i], &p[i], 1, 1u << 1);
        ids[i] = id_for(&e, &t[i]);
        if (i == 0)
            one = patch_bytes(e.ps);
        if (patch_bytes(e.ps) > most)
            most = patch_bytes(e.ps);
    }
    CHECK(one > 1000);
    CHECK(most <= one * (PATCH_FRESH + PATCH_STALE + 1));
    char sql[8192];
    duckdb_result r;
    snprintf(sql, sizeof sql,
             "SELECT sum(udr_patched(%llu, 1, file_index, file_row_number, v)) FILTER "
             "(file_row_number = %d) FROM read_parquet('%s')",
             (unsigned long long)ids[NV - 1], 999 - (NV - 1), path);
    REQUIRE(duckdb_query(e.q, sql, &r) == DuckDBSuccess);
    CHECK_INT(duckdb_value_int64(&r, 0, 0), ==, 7000 + NV - 1);
    duckdb_destroy_result(&r);
    snprintf(sql, sizeof sql,
             "SELECT udr_patched(%llu, 1, file_index, file_row_number, v) FROM read_parquet('%s')",
             (unsigned long long)ids[0], path);
    CHECK(duckdb_query(e.q, sql, &r) == DuckDBError);
    CHECK_CONTAINS(duckdb_result_error(&r), "no such patch map");
    duckdb_destroy_result(&r);
    env_close(&e);
}

static void test_type_ok(void)
{
    for (int t = 0; t < NT; t++)
        CHECK(patch_type_ok(TYPE_NAMES[t]));
    CHECK(patch_type_ok("bigint"));
    CHECK(!patch_type_ok("VARCHAR"));
    CHECK(!patch_type_ok("DECIMAL(18,3)"));
    CHECK(!patch_type_ok("HUGEINT"));
    CHECK(!patch_type_ok("TIMESTAMP WITH TIME ZONE"));
    CHECK(!patch_type_ok("INTERVAL"));
    CHECK(!patch_type_ok(""));
}

/* ---- 1,000 random patched rows of 100,000 -------------------------------- */

enum { RROWS = 100000 };

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Three patches over (v BIGINT, w DOUBLE): 400 rows of both, 400 of v, 200
 * of w, rows repeating across patches, 1 in 20 values NULL; scanned by
 * DuckDB's threads and compared with a model. */
static void test_random_100k(void)
{
    env e;
    env_open(&e);
    udr_hash a = named("big chunk"), p[3] = {named("rand 1"), named("rand 2"), named("rand 3")};
    char sel[300];
    snprintf(sel, sizeof sel,
             "SELECT i AS id, CASE WHEN i %% 97 = 0 THEN NULL ELSE i * 3 END AS v, "
             "CAST(i AS DOUBLE) / 2 AS w FROM range(%d) t(i)", RROWS);
    write_parquet(&e, &a, sel);
    uint64_t *vraw = malloc(RROWS * sizeof *vraw), *wraw = malloc(RROWS * sizeof *wraw);
    unsigned char *vnull = malloc(RROWS), *wnull = malloc(RROWS), *used = malloc(RROWS);
    REQUIRE(vraw && wraw && vnull && wnull && used);
    for (uint64_t i = 0; i < RROWS; i++) {
        vraw[i] = i * 3;
        vnull[i] = i % 97 == 0;
        double d = (double)i / 2;
        memcpy(&wraw[i], &d, 8);
        wnull[i] = 0;
    }
    static const int counts[3] = {400, 400, 200};
    static const uint64_t cols[3] = {6, 2, 4};        /* v and w, v, w */
    static const char *const sels[3] = {
        "CAST(x1 AS BIGINT) AS v, CAST(x2 AS DOUBLE) AS w",
        "CAST(x1 AS BIGINT) AS v",
        "CAST(x1 AS DOUBLE) AS w",
    };
    uint64_t x = 88172645463325252ULL, first[400];
    char (*vals)[96] = malloc(400 * sizeof *vals);
    prow *rows = malloc(400 * sizeof *rows);
    REQUIRE(vals && rows);
    for (int k = 0; k < 3; k++) {
        memset(used, 0, RROWS);
        for (int n = 0; n < counts[k]; n++) {
            uint64_t r;
            do                         /* a row once per patch; a quarter of the */
                r = k > 0 && next_rand(&x) % 4 == 0   /* later ones where patch 1 was */
                        ? first[next_rand(&x) % 400]
                        : next_rand(&x) % RROWS;
            while (used[r]);
            used[r] = 1;
            if (k == 0)
                first[n] = r;
            int vn = next_rand(&x) % 20 == 0, wn = next_rand(&x) % 20 == 0;
            int64_t v = (int64_t)(next_rand(&x) % 2000000) - 1000000;
            double d = (double)(int64_t)(next_rand(&x) % 100000) / 16;
            char vs[32], ws[40];
            snprintf(vs, sizeof vs, vn ? "NULL" : "%lld", (long long)v);
            snprintf(ws, sizeof ws, wn ? "NULL" : "%.4f", d);
            if (k == 0)
                snprintf(vals[n], sizeof vals[n], "%s, %s", vs, ws);
            else
                snprintf(vals[n], sizeof vals[n], "%s", k == 1 ? vs : ws);
            rows[n] = (prow){&a, (int64_t)r, vals[n]};
            if (cols[k] & 2) {
                vnull[r] = (unsigned char)vn;
                vraw[r] = vn ? 0 : (uint64_t)v;
            }
            if (cols[k] & 4) {
                wnull[r] = (unsigned char)wn;
                if (wn)
                    wraw[r] = 0;
                else
                    memcpy(&wraw[r], &d, 8);
            }
        }
        write_patch(&e, &p[k], sels[k], k == 0 ? 2 : 1, rows, (size_t)counts[k]);
    }
    static const char *const names[] = {"id", "v", "w"};
    static const char *const types[] = {"BIGINT", "BIGINT", "DOUBLE"};
    table t;
    table_init(&t, names, types, 3);
    table_chunk(&t, &a, RROWS);
    for (int k = 0; k < 3; k++)
        table_patch(&t, &p[k], (uint64_t)counts[k], cols[k]);
    uint64_t id = id_for(&e, &t);
    want wv = {RROWS, vraw, vnull}, ww = {RROWS, wraw, wnull};
    check_scan(&e, &a, 1, id, 1, "v", DUCKDB_TYPE_BIGINT, &wv);
    check_scan(&e, &a, 1, id, 2, "w", DUCKDB_TYPE_DOUBLE, &ww);
    free(vals);
    free(rows);
    free(vraw);
    free(wraw);
    free(vnull);
    free(wnull);
    free(used);
    env_close(&e);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_later_patch_wins),
    TEST_ENTRY(test_every_type),
    TEST_ENTRY(test_views_share_maps),
    TEST_ENTRY(test_same_chunk_twice),
    TEST_ENTRY(test_broken_patches),
    TEST_ENTRY(test_unknown_id),
    TEST_ENTRY(test_memory_bound),
    TEST_ENTRY(test_eviction),
    TEST_ENTRY(test_stale_versions_go),
    TEST_ENTRY(test_type_ok),
    TEST_ENTRY(test_random_100k),
};
HARNESS_MAIN("patch", TESTS)
