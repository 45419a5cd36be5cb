/*
 * bench_python_base — DuckDB's own time, in C, for what bench_python.py
 * times through the Python module: writing a 5-column table held in memory
 * as one Parquet file, and reading that file back into memory. It links
 * only DuckDB (no libudr), so the figures are the engine's alone.
 *
 *   write  loads the columns bench_python.py dumped into DIR (untimed):
 *          id.bin (int64), score.bin (float64), active.bin (bool, a byte
 *          each), ts.bin (int64 microseconds since the epoch: a TIMESTAMP,
 *          as UDR stores the DataFrame's whole microseconds) and name.txt
 *          (the strings, one a line). Then, each run: sync(), remove
 *          DIR/x.parquet, and time
 *            COPY (SELECT * FROM arrays()) TO 'DIR/x.parquet'
 *                (FORMAT parquet, COMPRESSION zstd)
 *          plus an fsync of the file (UDR makes every write durable).
 *          arrays() is a table function of the C API over the in-memory
 *          arrays, filling DuckDB's vectors 2,048 rows at a time: a memcpy
 *          per fixed-width column, a string assignment per name (the
 *          fastest way to hand arrays to DuckDB, and what UDR's udr_frame
 *          does too).
 *   read   each run: time SELECT * FROM read_parquet('DIR/x.parquet') and
 *          the copy of every column out of the result's chunks into C
 *          arrays, each string into memory of its own (malloc), the NULL
 *          masks into byte arrays: what a C program needs to hold the data.
 *          Then (after the peak memory is taken) the copy is checked
 *          against the dumped columns.
 *
 * The runs are driven from stdin, so that bench_python.py can alternate
 * them with its own: the program loads what it needs, prints "ready", then
 * for each line "run" does one timed run and prints "t SECONDS"; at the end
 * of its input it prints "key value" lines: base_MODE_best_s,
 * base_MODE_median_s, base_MODE_rss_before_kb (resident memory before the
 * first run: the loaded arrays, for a write), base_MODE_peak_rss_kb (the
 * process's ru_maxrss), and base_parquet_bytes or base_read_rows. One
 * database (in memory) and connection per process, opened untimed.
 * Usage: bench_python_base write|read DIR
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duckdb.h"

#define BENCH_NAME "bench_python_base"
#include "bench_util.h"              /* now_s, cmp_double (nothing of libudr) */

enum { NCOLS = 5, MAX_RUNS = 100 };

static const char *const COL_NAMES[NCOLS] = {"id", "name", "score", "active", "ts"};

/* The table in memory: the columns bench_python.py's DataFrame holds. */
typedef struct table {
    size_t nrows;
    int64_t *id;
    char **name;                      /* NUL-terminated; name_len[i] bytes */
    uint32_t *name_len;
    double *score;
    bool *active;
    int64_t *ts;                      /* microseconds since the epoch */
    uint8_t *nulls[NCOLS];            /* 1 = NULL; only in a copy read back */
    char *name_blob;                  /* loaded: the names point into it */
} table;

static void fail(const char *what, const char *why)
{
    fprintf(stderr, BENCH_NAME ": %s: %s\n", what, why ? why : "");
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        fail("malloc", "out of memory");
    return p;
}

static char *read_file(const char *dir, const char *name, size_t *size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail(path, "cannot open");
    if (fseek(f, 0, SEEK_END) != 0)
        fail(path, "cannot seek");
    long n = ftell(f);
    if (n < 0)
        fail(path, "cannot tell its size");
    rewind(f);
    char *buf = xmalloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        fail(path, "cannot read");
    fclose(f);
    buf[n] = '\0';
    *size = (size_t)n;
    return buf;
}

/* A fixed-width column of exactly nrows values of width bytes. */
static void *read_column(const char *dir, const char *name, size_t width, size_t nrows)
{
    size_t size;
    char *buf = read_file(dir, name, &size);
    if (size != nrows * width)
        fail(name, "not one value per row of the id column");
    return buf;
}

static void load(const char *dir, table *t)
{
    memset(t, 0, sizeof *t);
    size_t size;
    t->id = (int64_t *)read_file(dir, "id.bin", &size);
    t->nrows = size / sizeof(int64_t);
    t->score = read_column(dir, "score.bin", sizeof(double), t->nrows);
    t->active = read_column(dir, "active.bin", sizeof(bool), t->nrows);
    t->ts = read_column(dir, "ts.bin", sizeof(int64_t), t->nrows);
    t->name_blob = read_file(dir, "name.txt", &size);
    t->name = xmalloc(t->nrows * sizeof *t->name);
    t->name_len = xmalloc(t->nrows * sizeof *t->name_len);
    char *p = t->name_blob, *end = t->name_blob + size;
    for (size_t i = 0; i < t->nrows; i++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL && i + 1 < t->nrows)
            fail("name.txt", "fewer lines than rows");
        if (nl == NULL)
            nl = end;
        *nl = '\0';
        t->name[i] = p;
        t->name_len[i] = (uint32_t)(nl - p);
        p = nl < end ? nl + 1 : end;
    }
}

static long rss_now_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    long kb = 0;
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void exec_sql(duckdb_connection con, const char *sql)
{
    duckdb_result res;
    if (duckdb_query(con, sql, &res) == DuckDBError)
        fail(sql, duckdb_result_error(&res));
    duckdb_destroy_result(&res);
}

/* ---- write: a table function over the arrays ------------------------------ */

typedef struct cursor {
    const table *t;
    size_t next;
} cursor;

static void arrays_bind(duckdb_bind_info info)
{
    const table *t = duckdb_bind_get_extra_info(info);
    static const duckdb_type types[NCOLS] = {DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_VARCHAR,
                                             DUCKDB_TYPE_DOUBLE, DUCKDB_TYPE_BOOLEAN,
                                             DUCKDB_TYPE_TIMESTAMP};
    for (int c = 0; c < NCOLS; c++) {
        duckdb_logical_type lt = duckdb_create_logical_type(types[c]);
        duckdb_bind_add_result_column(info, COL_NAMES[c], lt);
        duckdb_destroy_logical_type(&lt);
    }
    duckdb_bind_set_cardinality(info, t->nrows, true);
}

static void arrays_init(duckdb_init_info info)
{
    cursor *c = calloc(1, sizeof *c);
    if (c == NULL) {
        duckdb_init_set_error(info, "out of memory");
        return;
    }
    c->t = duckdb_init_get_extra_info(info);
    duckdb_init_set_init_data(info, c, free);
}

static void arrays_scan(duckdb_function_info info, duckdb_data_chunk out)
{
    cursor *c = duckdb_function_get_init_data(info);
    const table *t = c->t;
    size_t from = c->next;
    size_t n = t->nrows - from < duckdb_vector_size() ? t->nrows - from : duckdb_vector_size();
    memcpy(duckdb_vector_get_data(duckdb_data_chunk_get_vector(out, 0)), t->id + from,
           n * sizeof *t->id);
    duckdb_vector names = duckdb_data_chunk_get_vector(out, 1);
    for (size_t i = 0; i < n; i++)
        duckdb_vector_assign_string_element_len(names, i, t->name[from + i],
                                                t->name_len[from + i]);
    memcpy(duckdb_vector_get_data(duckdb_data_chunk_get_vector(out, 2)), t->score + from,
           n * sizeof *t->score);
    memcpy(duckdb_vector_get_data(duckdb_data_chunk_get_vector(out, 3)), t->active + from,
           n * sizeof *t->active);
    memcpy(duckdb_vector_get_data(duckdb_data_chunk_get_vector(out, 4)), t->ts + from,
           n * sizeof *t->ts);
    c->next += n;
    duckdb_data_chunk_set_size(out, n);
}

static void register_arrays(duckdb_connection con, table *t)
{
    duckdb_table_function f = duckdb_create_table_function();
    duckdb_table_function_set_name(f, "arrays");
    duckdb_table_function_set_extra_info(f, t, NULL);
    duckdb_table_function_set_bind(f, arrays_bind);
    duckdb_table_function_set_init(f, arrays_init);
    duckdb_table_function_set_function(f, arrays_scan);
    if (duckdb_register_table_function(con, f) == DuckDBError)
        fail("duckdb_register_table_function", "arrays");
    duckdb_destroy_table_function(&f);
}

/* One timed write: COPY to the file, then its fsync. */
static double write_once(duckdb_connection con, const char *path)
{
    char sql[4200];
    snprintf(sql, sizeof sql,
             "COPY (SELECT * FROM arrays()) TO '%s' (FORMAT parquet, COMPRESSION zstd)", path);
    unlink(path);
    sync();
    double t0 = now_s();
    exec_sql(con, sql);
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0)
        fail(path, "cannot fsync");
    close(fd);
    return now_s() - t0;
}

/* ---- read: the file's rows into C arrays ---------------------------------- */

static void table_alloc(table *t, size_t nrows)
{
    memset(t, 0, sizeof *t);
    t->nrows = nrows;
    t->id = xmalloc(nrows * sizeof *t->id);
    t->name = xmalloc(nrows * sizeof *t->name);
    t->name_len = xmalloc(nrows * sizeof *t->name_len);
    t->score = xmalloc(nrows * sizeof *t->score);
    t->active = xmalloc(nrows * sizeof *t->active);
    t->ts = xmalloc(nrows * sizeof *t->ts);
    for (int c = 0; c < NCOLS; c++)
        t->nulls[c] = xmalloc(nrows);
}

static void table_free(table *t)
{
    if (t->name != NULL && t->name_blob == NULL)
        for (size_t i = 0; i < t->nrows; i++)
            free(t->name[i]);
    free(t->id);
    free(t->name);
    free(t->name_len);
    free(t->score);
    free(t->active);
    free(t->ts);
    free(t->name_blob);
    for (int c = 0; c < NCOLS; c++)
        free(t->nulls[c]);
    memset(t, 0, sizeof *t);
}

/* A vector's NULL mask into nulls[0..n) (1 = NULL). */
static void copy_nulls(duckdb_vector v, uint8_t *nulls, size_t n)
{
    uint64_t *valid = duckdb_vector_get_validity(v);
    for (size_t i = 0; i < n; i++)
        nulls[i] = valid != NULL && !duckdb_validity_row_is_valid(valid, i);
}

/* One timed read: the query, and every value out of its chunks into out. */
static double read_once(duckdb_connection con, const char *path, size_t nrows, table *out)
{
    char sql[4200];
    snprintf(sql, sizeof sql, "SELECT * FROM read_parquet('%s')", path);
    double t0 = now_s();
    duckdb_result res;
    if (duckdb_query(con, sql, &res) == DuckDBError)
        fail(sql, duckdb_result_error(&res));
    if (duckdb_column_count(&res) != NCOLS)
        fail(path, "not the 5 columns written");
    size_t at = 0;
    table_alloc(out, nrows);
    for (;;) {
        duckdb_data_chunk ch = duckdb_fetch_chunk(res);
        if (ch == NULL)
            break;
        size_t n = duckdb_data_chunk_get_size(ch);
        if (at + n > nrows)
            fail(path, "more rows than written");
        duckdb_vector v[NCOLS];
        for (int c = 0; c < NCOLS; c++) {
            v[c] = duckdb_data_chunk_get_vector(ch, (idx_t)c);
            copy_nulls(v[c], out->nulls[c] + at, n);
        }
        memcpy(out->id + at, duckdb_vector_get_data(v[0]), n * sizeof *out->id);
        duckdb_string_t *s = duckdb_vector_get_data(v[1]);
        for (size_t i = 0; i < n; i++) {
            uint32_t len = duckdb_string_t_length(s[i]);
            char *p = xmalloc((size_t)len + 1);
            memcpy(p, duckdb_string_t_data(&s[i]), len);
            p[len] = '\0';
            out->name[at + i] = p;
            out->name_len[at + i] = len;
        }
        memcpy(out->score + at, duckdb_vector_get_data(v[2]), n * sizeof *out->score);
        memcpy(out->active + at, duckdb_vector_get_data(v[3]), n * sizeof *out->active);
        memcpy(out->ts + at, duckdb_vector_get_data(v[4]), n * sizeof *out->ts);
        at += n;
        duckdb_destroy_data_chunk(&ch);
    }
    duckdb_destroy_result(&res);
    double t = now_s() - t0;
    if (at != nrows)
        fail(path, "fewer rows than written");
    return t;
}

/* The copy read back equals the dumped columns, row by row. */
static void check(const table *got, const table *want)
{
    if (got->nrows != want->nrows)
        fail("check", "another number of rows");
    for (size_t i = 0; i < got->nrows; i++) {
        for (int c = 0; c < NCOLS; c++)
            if (got->nulls[c][i])
                fail("check", "a NULL where none was written");
        if (got->id[i] != want->id[i] || got->score[i] != want->score[i] ||
            got->active[i] != want->active[i] || got->ts[i] != want->ts[i] ||
            got->name_len[i] != want->name_len[i] ||
            memcmp(got->name[i], want->name[i], got->name_len[i]) != 0) {
            fprintf(stderr, BENCH_NAME ": row %zu read back differs\n", i);
            exit(1);
        }
    }
}

/* The next command on stdin: 1 for "run", 0 at the end of the input. */
static int next_run(void)
{
    char line[64];
    while (fgets(line, sizeof line, stdin) != NULL)
        if (strncmp(line, "run", 3) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "read") != 0)) {
        fprintf(stderr, "usage: " BENCH_NAME " write|read DIR   (then \"run\" lines on stdin)\n");
        return 2;
    }
    const char *mode = argv[1], *dir = argv[2];
    int writing = strcmp(mode, "write") == 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/x.parquet", dir);

    duckdb_database db;
    duckdb_connection con;
    if (duckdb_open(NULL, &db) == DuckDBError || duckdb_connect(db, &con) == DuckDBError)
        fail("duckdb_open", "in memory");
    table t = {0}, got = {0};
    size_t nrows = 0;
    if (writing) {
        load(dir, &t);
        register_arrays(con, &t);
    } else {
        size_t size;
        free(read_file(dir, "ts.bin", &size));
        nrows = size / sizeof(int64_t);
    }
    long rss_before = rss_now_kb();
    printf("ready\n");
    fflush(stdout);
    double times[MAX_RUNS];
    int runs = 0;
    while (next_run()) {
        if (runs == MAX_RUNS)
            fail("run", "too many runs");
        if (writing) {
            times[runs] = write_once(con, path);
        } else {
            table_free(&got);
            times[runs] = read_once(con, path, nrows, &got);
        }
        printf("t %.6f\n", times[runs++]);
        fflush(stdout);
    }
    long peak = peak_rss_kb();
    if (runs == 0)
        fail("run", "no runs asked for");
    if (writing) {
        struct stat st;
        if (stat(path, &st) != 0)
            fail(path, "not written");
        printf("base_parquet_bytes %lld\n", (long long)st.st_size);
    } else {
        load(dir, &t);
        check(&got, &t);
        printf("base_read_rows %zu\n", nrows);
    }
    table_free(&got);
    table_free(&t);
    duckdb_disconnect(&con);
    duckdb_close(&db);

    double best = times[0];
    for (int i = 1; i < runs; i++)
        best = times[i] < best ? times[i] : best;
    qsort(times, (size_t)runs, sizeof times[0], cmp_double);
    printf("base_%s_best_s %.4f\n", mode, best);
    printf("base_%s_median_s %.4f\n", mode, times[runs / 2]);
    printf("base_%s_rss_before_kb %ld\n", mode, rss_before);
    printf("base_%s_peak_rss_kb %ld\n", mode, peak);
    return 0;
}
