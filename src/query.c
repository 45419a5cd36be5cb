/*
 * query — the DuckDB binding; see query.h for how tables are written and
 * read.
 */
#include "query.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "util/buf.h"
#include "util/fs.h"

void query_init(query *q, catalog *cat, store *s, const char *root, udr_err *err)
{
    memset(q, 0, sizeof *q);
    q->err = err;
    q->cat = cat;
    q->store = s;
    if (realpath(root, q->root) == NULL)
        fs_path(q->root, sizeof q->root, "%s", root);
    q->chunking = (query_chunking){QUERY_CHUNK_AVG_ROWS, QUERY_CHUNK_MIN_ROWS,
                                   QUERY_CHUNK_MAX_ROWS};
}

void query_close(query *q)
{
    for (size_t i = 0; i < QUERY_CACHE; i++)
        if (q->cache[i].full) {
            catv_free(&q->cache[i].tv);
            q->cache[i].full = 0;
        }
    if (q->open) {
        duckdb_disconnect(&q->con);
        duckdb_close(&q->db);
        char dir[PATH_MAX * 2];
        snprintf(dir, sizeof dir, "%s/tmp/duckdb.%ld", q->root, (long)getpid());
        rmdir(dir);
        q->open = 0;
    }
}

/* Appends s quoted with q, a quote inside doubled: "a""b" or 'it''s'. */
static void add_quoted(buf *b, const char *s, char q)
{
    buf_addc(b, q);
    for (; *s; s++) {
        if (*s == q)
            buf_addc(b, q);
        buf_addc(b, *s);
    }
    buf_addc(b, q);
}

/* A quoted SQL identifier. */
static void add_ident(buf *b, const char *s)
{
    add_quoted(b, s, '"');
}

/* An SQL string literal. */
static void add_literal(buf *b, const char *s)
{
    add_quoted(b, s, '\'');
}

/* ---- the replacement scan --------------------------------------------------- */

static void object_path(const query *q, const udr_hash *h, char *out, size_t size)
{
    char rel[128];
    store_object_relpath(h, rel, sizeof rel);
    snprintf(out, size, "%s/%s", q->root, rel);
}

static duckdb_value path_list(const query *q, const cat_chunk *chunks, size_t n)
{
    duckdb_logical_type vt = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    duckdb_value *vals = calloc(n ? n : 1, sizeof *vals);
    duckdb_value list = NULL;
    if (vals != NULL) {
        char path[PATH_MAX * 2];
        for (size_t i = 0; i < n; i++) {
            object_path(q, &chunks[i].hash, path, sizeof path);
            vals[i] = duckdb_create_varchar(path);
        }
        list = duckdb_create_list_value(vt, vals, n);
        for (size_t i = 0; i < n; i++)
            duckdb_destroy_value(&vals[i]);
        free(vals);
    }
    duckdb_destroy_logical_type(&vt);
    return list;
}

/* HUGEINT and UHUGEINT: Parquet has no 128-bit integers (DuckDB would write
 * a lossy DOUBLE), so chunks hold them as text and reads cast them back. */
static int stored_as_text(const char *type)
{
    return strcmp(type, "HUGEINT") == 0 || strcmp(type, "UHUGEINT") == 0;
}

static int needs_cast(const cat_tablever *tv)
{
    for (size_t i = 0; i < tv->ncols; i++)
        if (stored_as_text(tv->cols[i].type))
            return 1;
    return 0;
}

static void add_path_list(buf *b, const query *q, const cat_chunk *chunks, size_t n)
{
    buf_addc(b, '[');
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX * 2];
        object_path(q, &chunks[i].hash, path, sizeof path);
        if (i)
            buf_adds(b, ", ");
        add_literal(b, path);
    }
    buf_addc(b, ']');
}

/* The live rows of a table version as SQL: its chunks, less the rows its
 * delete files name, with columns stored as text cast back. positions adds
 * filename and file_row_number (where each row lies). */
static void add_scan(buf *b, const query *q, const cat_tablever *tv, int positions)
{
    int marks = positions || tv->ndeletes > 0;
    buf_adds(b, "SELECT ");
    for (size_t i = 0; i < tv->ncols; i++) {
        if (i)
            buf_adds(b, ", ");
        if (stored_as_text(tv->cols[i].type)) {
            buf_adds(b, "CAST(");
            add_ident(b, tv->cols[i].name);
            buf_printf(b, " AS %s) AS ", tv->cols[i].type);
        }
        add_ident(b, tv->cols[i].name);
    }
    if (positions)
        buf_adds(b, ", filename, file_row_number");
    buf_adds(b, " FROM read_parquet(");
    add_path_list(b, q, tv->chunks, tv->nchunks);
    buf_adds(b, marks ? ", filename = true, file_row_number = true)" : ")");
    if (tv->ndeletes > 0) {
        buf_adds(b, " ANTI JOIN (SELECT ");
        add_literal(b, q->root);
        buf_adds(b, " || '/objects/' || substr(chunk, 1, 2) || '/' || substr(chunk, 3, 2) || "
                    "'/' || chunk AS filename, \"row\" AS file_row_number FROM read_parquet(");
        add_path_list(b, q, tv->deletes, tv->ndeletes);
        buf_adds(b, ")) USING (filename, file_row_number)");
    }
}

static char *scan_sql(const query *q, const cat_tablever *tv)
{
    buf b;
    buf_init(&b);
    add_scan(&b, q, tv, 0);
    return buf_take(&b, NULL);
}

static const cat_tablever *cache_get(query *q, const udr_hash *h)
{
    for (size_t i = 0; i < QUERY_CACHE; i++)
        if (q->cache[i].full && hash_equal(&q->cache[i].hash, h)) {
            q->cache[i].last_used = ++q->uses;
            return &q->cache[i].tv;
        }
    return NULL;
}

/* Keeps tv (taking it over), evicting the least recently used entry. */
static const cat_tablever *cache_put(query *q, const udr_hash *h, cat_tablever *tv)
{
    size_t victim = 0;
    for (size_t i = 0; i < QUERY_CACHE; i++) {
        if (!q->cache[i].full) {
            victim = i;
            break;
        }
        if (q->cache[i].last_used < q->cache[victim].last_used)
            victim = i;
    }
    query_cached *e = &q->cache[victim];
    if (e->full)
        catv_free(&e->tv);
    e->hash = *h;
    e->tv = *tv;
    e->full = 1;
    e->last_used = ++q->uses;
    return &e->tv;
}

/* 1 (and a message) if a chunk or delete file of tv is not in the store. */
static int missing_object(const query *q, const char *table, uint64_t version,
                          const cat_tablever *tv, char *msg, size_t size)
{
    for (size_t i = 0; i < tv->nchunks + tv->ndeletes; i++) {
        const cat_chunk *ch = i < tv->nchunks ? &tv->chunks[i] : &tv->deletes[i - tv->nchunks];
        char path[PATH_MAX * 2], hex[UDR_HASH_HEX + 1];
        object_path(q, &ch->hash, path, sizeof path);
        if (access(path, F_OK) != 0) {
            hash_to_hex(&ch->hash, hex);
            snprintf(msg, size,
                     "table %s version %llu cannot be read: its %s %s is missing (%s); "
                     "'udr fsck' lists what else is damaged",
                     table, (unsigned long long)version, i < tv->nchunks ? "chunk" : "delete file",
                     hex, path);
            return 1;
        }
    }
    return 0;
}

static void replace_scan(duckdb_replacement_scan_info info, const char *name, void *data)
{
    query *q = data;
    char table[CATALOG_NAME_MAX + 1], ref[64];
    const char *at = strchr(name, '@');
    size_t tlen = at ? (size_t)(at - name) : strlen(name);
    if (tlen > CATALOG_NAME_MAX || (at && strlen(at + 1) >= sizeof ref)) {
        if (at)
            duckdb_replacement_scan_set_error(info, "that table reference is too long");
        return;
    }
    memcpy(table, name, tlen);
    table[tlen] = '\0';
    snprintf(ref, sizeof ref, "%s", at ? at + 1 : "");
    if (catalog_table(q->cat, table) == NULL) {
        if (at) {
            char msg[512];
            snprintf(msg, sizeof msg, "there is no table %s (see 'udr tables')", table);
            duckdb_replacement_scan_set_error(info, msg);
        }
        return;                        /* not ours: DuckDB says it does not exist */
    }
    if (!at) {
        for (size_t i = 0; i < q->npins; i++)
            if (strcmp(q->pins[i].table, table) == 0)
                snprintf(ref, sizeof ref, "%llu", (unsigned long long)q->pins[i].version);
    }
    cat_version v;
    if (catalog_resolve(q->cat, table, ref, &v) != UDR_OK) {
        duckdb_replacement_scan_set_error(info, q->err->msg);
        return;
    }
    const cat_tablever *cached = cache_get(q, &v.hash);
    if (cached == NULL) {
        cat_tablever fresh;
        if (catalog_read_tablever(q->cat, &v.hash, &fresh) != UDR_OK) {
            duckdb_replacement_scan_set_error(info, q->err->msg);
            return;
        }
        char msg[PATH_MAX * 3];
        if (missing_object(q, table, v.version, &fresh, msg, sizeof msg)) {
            catv_free(&fresh);
            duckdb_replacement_scan_set_error(info, msg);
            return;
        }
        cached = cache_put(q, &v.hash, &fresh);
    }
    const cat_tablever tv = *cached;
    if (needs_cast(&tv) || tv.ndeletes > 0) {
        /* Deleted rows to leave out, or types Parquet cannot hold stored as
         * text to cast back: a query rather than a plain read_parquet. */
        char *sql = scan_sql(q, &tv);
        if (sql == NULL) {
            duckdb_replacement_scan_set_error(info, "out of memory");
            return;
        }
        duckdb_value v_sql = duckdb_create_varchar(sql);
        free(sql);
        duckdb_replacement_scan_set_function_name(info, "query");
        duckdb_replacement_scan_add_parameter(info, v_sql);
        duckdb_destroy_value(&v_sql);
        return;
    }
    duckdb_value list = path_list(q, tv.chunks, tv.nchunks);
    if (list == NULL) {
        duckdb_replacement_scan_set_error(info, "out of memory");
        return;
    }
    duckdb_replacement_scan_set_function_name(info, "read_parquet");
    duckdb_replacement_scan_add_parameter(info, list);
    duckdb_destroy_value(&list);
}

/* ---- running SQL ------------------------------------------------------------ */

static int db_error(query *q, const char *what, const char *msg)
{
    /* Our own messages from the replacement scan need no DuckDB prefix. */
    static const char scan[] = "Binder Error: Error in replacement scan: ";
    if (msg != NULL && strncmp(msg, scan, sizeof scan - 1) == 0)
        msg += sizeof scan - 1;
    return err_set(q->err, UDR_EINVAL, "%s%s%s", what, what[0] ? ": " : "",
                   msg ? msg : "unknown DuckDB error");
}

static int ensure_open(query *q)
{
    if (q->open)
        return UDR_OK;
    duckdb_config cfg;
    if (duckdb_create_config(&cfg) != DuckDBSuccess)
        return err_set(q->err, UDR_ENOMEM, "cannot configure DuckDB");
    char tmpdir[PATH_MAX * 2];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp/duckdb.%ld", q->root, (long)getpid());
    duckdb_set_config(cfg, "temp_directory", tmpdir);
    char *error = NULL;
    if (duckdb_open_ext(NULL, &q->db, cfg, &error) != DuckDBSuccess) {
        int rc = err_set(q->err, UDR_ERROR, "cannot start DuckDB: %s", error ? error : "?");
        duckdb_free(error);
        duckdb_destroy_config(&cfg);
        return rc;
    }
    duckdb_destroy_config(&cfg);
    if (duckdb_connect(q->db, &q->con) != DuckDBSuccess) {
        duckdb_close(&q->db);
        return err_set(q->err, UDR_ERROR, "cannot connect to DuckDB");
    }
    duckdb_add_replacement_scan(q->db, replace_scan, q, NULL);
    q->open = 1;
    return UDR_OK;
}

/* Runs one internal statement; its result to *out if non-NULL. */
static int exec(query *q, const char *sql, duckdb_result *out, const char *what)
{
    duckdb_result r;
    if (duckdb_query(q->con, sql, &r) != DuckDBSuccess) {
        int rc = db_error(q, what, duckdb_result_error(&r));
        duckdb_destroy_result(&r);
        return rc;
    }
    if (out)
        *out = r;
    else
        duckdb_destroy_result(&r);
    return UDR_OK;
}

/* Adds a hint to DuckDB's "does not exist" message. */
static void hint_unknown_table(query *q)
{
    if (strstr(q->err->msg, "does not exist") != NULL && strlen(q->err->msg) + 80 < ERR_MSG_BYTES)
        strcat(q->err->msg, "\n(the UDR tables are listed by 'udr tables')");
}

static int is_nested(duckdb_type t)
{
    return t == DUCKDB_TYPE_LIST || t == DUCKDB_TYPE_STRUCT || t == DUCKDB_TYPE_MAP ||
           t == DUCKDB_TYPE_ARRAY || t == DUCKDB_TYPE_UNION;
}

/* For a single SELECT with list, struct, map, array or union columns: the
 * same query with those columns cast to text, so that every value can be
 * shown (DuckDB's C API reads nested values only through vectors). NULL if
 * the statement needs no rewriting or cannot have it. */
static char *nested_as_text(query *q, const char *sql, duckdb_prepared_statement ps)
{
    if (duckdb_prepared_statement_type(ps) != DUCKDB_STATEMENT_TYPE_SELECT)
        return NULL;
    idx_t n = duckdb_prepared_statement_column_count(ps);
    int any = 0;
    for (idx_t i = 0; i < n; i++)
        any |= is_nested(duckdb_prepared_statement_column_type(ps, i));
    if (!any)
        return NULL;
    (void)q;
    char **names = calloc(n, sizeof *names);
    if (names == NULL)
        return NULL;
    for (idx_t i = 0; i < n; i++)
        names[i] = (char *)duckdb_prepared_statement_column_name(ps, i);
    buf b;
    buf_init(&b);
    buf_adds(&b, "SELECT ");
    int clash = 0;
    for (idx_t i = 0; i < n && !clash; i++) {
        for (idx_t j = 0; j < i; j++)
            clash |= names[i] == NULL || strcmp(names[i], names[j]) == 0;
        if (clash || names[i] == NULL)
            break;                     /* two columns of one name: leave it */
        if (i)
            buf_adds(&b, ", ");
        if (is_nested(duckdb_prepared_statement_column_type(ps, i))) {
            buf_adds(&b, "CAST(");
            add_ident(&b, names[i]);
            buf_adds(&b, " AS VARCHAR) AS ");
        }
        add_ident(&b, names[i]);
    }
    for (idx_t i = 0; i < n; i++)
        duckdb_free(names[i]);
    free(names);
    if (clash) {
        buf_free(&b);
        return NULL;
    }
    /* Strip trailing semicolons and space from the statement. */
    size_t len = strlen(sql);
    while (len > 0 && (sql[len - 1] == ';' || sql[len - 1] == ' ' || sql[len - 1] == '\n' ||
                       sql[len - 1] == '\t' || sql[len - 1] == '\r'))
        len--;
    buf_adds(&b, " FROM (");
    buf_add(&b, sql, len);
    buf_adds(&b, "\n)");
    return buf_take(&b, NULL);
}

int query_run(query *q, const char *sql, const udr_pin *pins, size_t npins, duckdb_result *out)
{
    int rc = ensure_open(q);
    if (rc == UDR_OK)
        rc = catalog_refresh(q->cat);
    if (rc)
        return rc;
    duckdb_extracted_statements st;
    idx_t n = duckdb_extract_statements(q->con, sql, &st);
    if (n == 0) {
        const char *e = duckdb_extract_statements_error(st);
        rc = e ? db_error(q, "", e) : err_set(q->err, UDR_EINVAL, "no SQL statement to run");
        duckdb_destroy_extracted(&st);
        return rc;
    }
    q->pins = pins;
    q->npins = npins;
    for (idx_t i = 0; i < n && rc == UDR_OK; i++) {
        duckdb_prepared_statement ps;
        duckdb_result r;
        if (duckdb_prepare_extracted_statement(q->con, st, i, &ps) != DuckDBSuccess) {
            rc = db_error(q, "", duckdb_prepare_error(ps));
            duckdb_destroy_prepare(&ps);
            break;
        }
        char *wrapped = n == 1 && out != NULL ? nested_as_text(q, sql, ps) : NULL;
        if (wrapped != NULL) {
            duckdb_prepared_statement ps2;
            if (duckdb_prepare(q->con, wrapped, &ps2) == DuckDBSuccess) {
                duckdb_destroy_prepare(&ps);
                ps = ps2;
            } else {
                duckdb_destroy_prepare(&ps2);
            }
            free(wrapped);
        }
        if (duckdb_execute_prepared(ps, &r) != DuckDBSuccess) {
            rc = db_error(q, "", duckdb_result_error(&r));
            duckdb_destroy_result(&r);
        } else if (i + 1 == n && out != NULL) {
            *out = r;
        } else {
            duckdb_destroy_result(&r);
        }
        duckdb_destroy_prepare(&ps);
    }
    q->pins = NULL;
    q->npins = 0;
    duckdb_destroy_extracted(&st);
    if (rc)
        hint_unknown_table(q);
    return rc;
}

/* The single value of a one-row result as a string (malloc'd), or NULL. */
static char *scalar(query *q, const char *sql, const char *what)
{
    duckdb_result r;
    if (exec(q, sql, &r, what) != UDR_OK)
        return NULL;
    char *v = NULL;
    if (duckdb_row_count(&r) > 0 && duckdb_column_count(&r) > 0 && !duckdb_value_is_null(&r, 0, 0)) {
        char *d = duckdb_value_varchar(&r, 0, 0);
        v = d ? strdup(d) : NULL;
        duckdb_free(d);
    }
    duckdb_destroy_result(&r);
    if (v == NULL && q->err->code == UDR_OK)
        err_set(q->err, UDR_ERROR, "%s: no value", what);
    return v;
}

/* ---- writing tables --------------------------------------------------------- */

typedef struct schema {
    cat_column *cols;
    size_t n;
} schema;

static void schema_free(schema *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->cols[i].name);
        free(s->cols[i].type);
    }
    free(s->cols);
    s->cols = NULL;
    s->n = 0;
}

/* The columns of a table or of a parenthesised query, less the row hash. */
static int read_schema(query *q, const char *what, schema *s)
{
    buf b;
    buf_init(&b);
    buf_adds(&b, "DESCRIBE ");
    buf_adds(&b, what[0] == '(' ? "SELECT * FROM " : "");
    buf_adds(&b, what);
    char *sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    duckdb_result r;
    int rc = exec(q, sql, &r, "cannot read the rows to write");
    free(sql);
    if (rc)
        return rc;
    idx_t n = duckdb_row_count(&r);
    s->cols = calloc(n ? n : 1, sizeof *s->cols);
    s->n = 0;
    for (idx_t i = 0; s->cols && i < n; i++) {
        char *name = duckdb_value_varchar(&r, 0, i), *type = duckdb_value_varchar(&r, 1, i);
        if (name && strcmp(name, "__udr_h") != 0) {
            s->cols[s->n].name = strdup(name);
            s->cols[s->n].type = strdup(type ? type : "?");
            s->n++;
        }
        duckdb_free(name);
        duckdb_free(type);
    }
    duckdb_destroy_result(&r);
    if (s->cols == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory reading a schema");
    if (s->n == 0)
        return err_set(q->err, UDR_EINVAL, "the rows to write have no columns");
    return UDR_OK;
}

static int has_column(const schema *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->cols[i].name, name) == 0)
            return 1;
    return 0;
}

static void add_column_list(buf *b, const schema *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            buf_adds(b, ", ");
        add_ident(b, s->cols[i].name);
    }
}

/* 'name=' as an SQL literal. */
static void add_key_label(buf *b, const char *name)
{
    buf_adds(b, "'");
    for (const char *p = name; *p; p++) {
        if (*p == '\'')
            buf_addc(b, '\'');
        buf_addc(b, *p);
    }
    buf_adds(b, "='");
}

/* concat_ws(', ', 'k1=' || "k1"::VARCHAR, ...): a key as text for messages. */
static void add_key_text(buf *b, const char *const *key)
{
    buf_adds(b, "concat_ws(', ', ");
    for (size_t i = 0; key[i]; i++) {
        buf_adds(b, i ? ", " : "");
        add_key_label(b, key[i]);
        buf_adds(b, " || ");
        add_ident(b, key[i]);
        buf_adds(b, "::VARCHAR");
    }
    buf_adds(b, ")");
}

static void add_key_list(buf *b, const char *const *key)
{
    for (size_t i = 0; key[i]; i++) {
        if (i)
            buf_adds(b, ", ");
        add_ident(b, key[i]);
    }
}

/* Checks that the key's columns exist and hold no NULL and no duplicate. */
static int check_key(query *q, const char *table, const schema *s, const char *const *key)
{
    for (size_t i = 0; key[i]; i++)
        if (!has_column(s, key[i]))
            return err_set(q->err, UDR_EINVAL,
                           "key column %s is not a column of the rows written to %s", key[i],
                           table);
    buf b;
    buf_init(&b);
    buf_adds(&b, "SELECT count(*) FROM __udr_rows WHERE ");
    for (size_t i = 0; key[i]; i++) {
        if (i)
            buf_adds(&b, " OR ");
        add_ident(&b, key[i]);
        buf_adds(&b, " IS NULL");
    }
    char *sql = buf_take(&b, NULL);
    char *nulls = sql ? scalar(q, sql, "cannot check the key") : NULL;
    free(sql);
    if (nulls == NULL)
        return q->err->code ? q->err->code : UDR_ENOMEM;
    long long n = atoll(nulls);
    free(nulls);
    if (n > 0)
        return err_set(q->err, UDR_EINVAL,
                       "the key of %s cannot be NULL, and %lld row%s have a NULL in it", table, n,
                       n == 1 ? "" : "s");
    if (q->staged_strict)
        return UDR_OK;                 /* strictly increasing: no repeats */
    /* The staged rows are sorted by the key: a repeated key sits next to
     * itself. Compare each row with the next, by position. */
    buf_init(&b);
    buf_adds(&b, "SELECT concat_ws(', ', ");
    for (size_t i = 0; key[i]; i++) {
        buf_adds(&b, i ? ", " : "");
        add_key_label(&b, key[i]);
        buf_printf(&b, " || a%zu::VARCHAR", i);
    }
    buf_adds(&b, ") FROM (SELECT ");
    for (size_t i = 0; key[i]; i++) {
        buf_printf(&b, "%s", i ? ", " : "");
        add_ident(&b, key[i]);
        buf_printf(&b, " AS a%zu", i);
    }
    buf_adds(&b, " FROM __udr_rows) POSITIONAL JOIN (SELECT ");
    for (size_t i = 0; key[i]; i++) {
        buf_printf(&b, "%s", i ? ", " : "");
        add_ident(&b, key[i]);
        buf_printf(&b, " AS b%zu", i);
    }
    buf_adds(&b, " FROM __udr_rows OFFSET 1) WHERE ");
    for (size_t i = 0; key[i]; i++)
        buf_printf(&b, "%sa%zu = b%zu", i ? " AND " : "", i, i);
    buf_adds(&b, " LIMIT 1");
    char *find = buf_take(&b, NULL);
    if (find == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    duckdb_result r;
    int rc = exec(q, find, &r, "cannot check the key");
    if (rc || duckdb_row_count(&r) == 0) {
        if (rc == UDR_OK)
            duckdb_destroy_result(&r);
        free(find);
        return rc;
    }
    duckdb_destroy_result(&r);
    /* There is one (rare): say which, and how often it repeats. */
    buf_init(&b);
    buf_adds(&b, "SELECT k || ' (' || count(*) || ' times)' FROM (SELECT ");
    add_key_text(&b, key);
    buf_adds(&b, " AS k FROM __udr_rows) WHERE k IN (");
    buf_adds(&b, find);
    buf_adds(&b, ") GROUP BY k");
    free(find);
    sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    rc = exec(q, sql, &r, "cannot check the key");
    free(sql);
    if (rc)
        return rc;
    char *dup = duckdb_row_count(&r) > 0 ? duckdb_value_varchar(&r, 0, 0) : NULL;
    rc = err_set(q->err, UDR_EINVAL, "the key of %s must be unique, and a value repeats: %s",
                 table, dup ? dup : "?");
    duckdb_free(dup);
    duckdb_destroy_result(&r);
    return rc;
}

/* Chunk boundaries: the row numbers where chunks start, plus the total. */
typedef struct cuts {
    uint64_t *at;                      /* at[0] = 0, ..., at[n] = rows */
    size_t n;
} cuts;

static int find_cuts(query *q, uint64_t rows, cuts *c)
{
    const query_chunking *k = &q->chunking;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT rowid FROM __udr_rows WHERE __udr_h %% %llu = 0 ORDER BY rowid",
             (unsigned long long)k->avg_rows);
    duckdb_result r;
    int rc = exec(q, sql, &r, "cannot find chunk boundaries");
    if (rc)
        return rc;
    idx_t cand = duckdb_row_count(&r);
    size_t cap = (size_t)(cand + rows / k->max_rows + 3);
    c->at = malloc(cap * sizeof *c->at);
    c->n = 0;
    if (c->at == NULL) {
        duckdb_destroy_result(&r);
        return err_set(q->err, UDR_ENOMEM, "out of memory chunking");
    }
    uint64_t start = 0;
    c->at[0] = 0;
    for (idx_t i = 0; i < cand; i++) {
        /* A candidate cut after row x: the next chunk starts at x + 1. */
        uint64_t next = (uint64_t)duckdb_value_int64(&r, 0, i) + 1;
        while (next - start > k->max_rows) {
            start += k->max_rows;
            c->at[++c->n] = start;
        }
        if (next - start >= k->min_rows) {
            start = next;
            c->at[++c->n] = start;
        }
    }
    while (rows - start > k->max_rows) {
        start += k->max_rows;
        c->at[++c->n] = start;
    }
    if (rows > start)
        c->at[++c->n] = rows;
    duckdb_destroy_result(&r);
    if (c->n == 0)                      /* no rows: one empty chunk */
        c->at[++c->n] = 0;
    return UDR_OK;
}

/* The COPY statement of chunk i into path. */
static char *chunk_copy_sql(const schema *s, const cuts *c, size_t i, const char *path)
{
    buf b;
    buf_init(&b);
    buf_adds(&b, "COPY (SELECT ");
    for (size_t k = 0; k < s->n; k++) {
        if (k)
            buf_adds(&b, ", ");
        if (stored_as_text(s->cols[k].type)) {
            buf_adds(&b, "CAST(");
            add_ident(&b, s->cols[k].name);
            buf_adds(&b, " AS VARCHAR) AS ");
        }
        add_ident(&b, s->cols[k].name);
    }
    buf_printf(&b, " FROM __udr_rows WHERE rowid >= %llu AND rowid < %llu) TO ",
               (unsigned long long)c->at[i], (unsigned long long)c->at[i + 1]);
    add_literal(&b, path);
    buf_adds(&b, " (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)");
    return buf_take(&b, NULL);
}

/* Chunks are written by several connections at once; each takes the next
 * chunk number under a lock. */
typedef struct writer_pool {
    query *q;
    const schema *s;
    const cuts *c;
    char (*paths)[PATH_MAX];
    cat_chunk *out;
    int *fresh;
    pthread_mutex_t mu;
    size_t next;
    int failed;
    char error[ERR_MSG_BYTES];
} writer_pool;

static void *chunk_writer(void *arg)
{
    writer_pool *p = arg;
    duckdb_connection con;
    if (duckdb_connect(p->q->db, &con) != DuckDBSuccess) {
        pthread_mutex_lock(&p->mu);
        p->failed = 1;
        snprintf(p->error, sizeof p->error, "cannot open a DuckDB connection");
        pthread_mutex_unlock(&p->mu);
        return NULL;
    }
    /* Each thread adopts its own files into the store (hash, fsync,
     * rename), with a store handle of its own for its error messages. */
    udr_err err = {0, ""};
    store st = *p->q->store;
    st.err = &err;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->failed ? p->c->n : p->next++;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->c->n)
            break;
        char *sql = chunk_copy_sql(p->s, p->c, i, p->paths[i]);
        duckdb_result r;
        int ok = sql != NULL && duckdb_query(con, sql, &r) == DuckDBSuccess;
        const char *why = ok ? NULL : sql ? duckdb_result_error(&r) : "out of memory";
        if (ok && store_adopt(&st, p->paths[i], &p->out[i].hash, &p->fresh[i]) != UDR_OK) {
            ok = 0;
            why = err.msg;
        }
        if (!ok) {
            pthread_mutex_lock(&p->mu);
            if (!p->failed)
                snprintf(p->error, sizeof p->error, "%s", why);
            p->failed = 1;
            pthread_mutex_unlock(&p->mu);
        }
        if (sql != NULL)
            duckdb_destroy_result(&r);
        free(sql);
    }
    duckdb_disconnect(&con);
    return NULL;
}

enum { WRITER_THREADS_MAX = 8 };

static int write_chunks(query *q, const schema *s, const cuts *c, cat_chunk *out,
                        udr_write_info *info)
{
    writer_pool p = {q, s, c, calloc(c->n, PATH_MAX), out, calloc(c->n, sizeof(int)),
                     PTHREAD_MUTEX_INITIALIZER, 0, 0, ""};
    if (p.paths == NULL || p.fresh == NULL) {
        free(p.paths);
        free(p.fresh);
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < c->n; i++)
        if (fs_path(p.paths[i], PATH_MAX, "%s/tmp/chunk.%ld.%llu.parquet", q->root,
                    (long)getpid(), (unsigned long long)++q->tmp_seq) != 0) {
            free(p.paths);
            free(p.fresh);
            return err_set(q->err, UDR_EINVAL, "repository path too long: %s", q->root);
        }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nthreads = cpus < 1 ? 1 : (size_t)cpus;
    if (nthreads > WRITER_THREADS_MAX)
        nthreads = WRITER_THREADS_MAX;
    if (nthreads > c->n)
        nthreads = c->n;
    pthread_t th[WRITER_THREADS_MAX];
    size_t started = 0;
    for (; started < nthreads; started++)
        if (pthread_create(&th[started], NULL, chunk_writer, &p) != 0)
            break;
    if (started == 0)
        chunk_writer(&p);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    int rc = p.failed ? err_set(q->err, UDR_EINVAL, "cannot write a chunk: %s", p.error) : UDR_OK;
    for (size_t i = 0; i < c->n; i++) {
        if (rc != UDR_OK) {
            unlink(p.paths[i]);        /* those not adopted yet */
            continue;
        }
        uint64_t size = 0;
        store_size(q->store, &out[i].hash, &size);
        out[i].rows = c->at[i + 1] - c->at[i];
        out[i].bytes = size;
        info->bytes += size;
        if (p.fresh[i]) {
            info->new_chunks++;
            info->new_bytes += size;
        }
    }
    pthread_mutex_destroy(&p.mu);
    free(p.paths);
    free(p.fresh);
    info->chunks += c->n;
    return rc;
}

/* The current content of a table (its head), decoded; *found 0 if none. */
static int head_version(query *q, const char *table, cat_version *v, cat_tablever *tv, int *found)
{
    *found = 0;
    const cat_entry *e = catalog_head_entry(q->cat, table);
    if (e == NULL)
        return UDR_OK;
    int rc = catalog_resolve(q->cat, table, NULL, v);
    if (rc == UDR_OK)
        rc = catalog_read_tablever(q->cat, &v->hash, tv);
    if (rc == UDR_OK)
        *found = 1;
    return rc;
}

/* Builds the staging table __udr_rows from src_sql (cast to the table's
 * schema when appending). */
/* Sorts the staged rows by the key, unless they come sorted already (rows
 * exported in key order often do): each key compared with the next, by
 * position. Strictly increasing keys are also unique: q->staged_strict. */
static int order_by_key(query *q, const char *const *key)
{
    buf b;
    buf_init(&b);
    buf_adds(&b, "SELECT count(*) FROM (SELECT (");
    for (size_t i = 0; key[i]; i++) {
        buf_printf(&b, "%s", i ? ", " : "");
        add_ident(&b, key[i]);
    }
    buf_adds(&b, ") AS a FROM __udr_rows) POSITIONAL JOIN (SELECT (");
    for (size_t i = 0; key[i]; i++) {
        buf_printf(&b, "%s", i ? ", " : "");
        add_ident(&b, key[i]);
    }
    buf_adds(&b, ") AS b FROM __udr_rows OFFSET 1) WHERE b IS NOT NULL AND NOT (a < b)");
    char *sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    char *n = scalar(q, sql, "cannot check the order of the rows");
    free(sql);
    if (n == NULL)
        return q->err->code ? q->err->code : UDR_ENOMEM;
    int sorted = strcmp(n, "0") == 0;
    free(n);
    if (sorted) {
        q->staged_strict = 1;
        return UDR_OK;
    }
    buf_init(&b);
    buf_adds(&b, "CREATE OR REPLACE TABLE __udr_sorted AS SELECT * FROM __udr_rows ORDER BY ");
    add_key_list(&b, key);
    buf_adds(&b, "; DROP TABLE __udr_rows; ALTER TABLE __udr_sorted RENAME TO __udr_rows");
    if ((sql = buf_take(&b, NULL)) == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    int rc = exec(q, sql, NULL, "cannot sort the rows by the key");
    free(sql);
    return rc;
}

static int stage(query *q, const char *src_sql, const char *const *key, const cat_tablever *old,
                 int append)
{
    buf b;
    buf_init(&b);
    buf_adds(&b, "(");
    buf_adds(&b, src_sql);
    buf_adds(&b, "\n)");
    char *sub = buf_take(&b, NULL);
    if (sub == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    /* The source's schema without running it; then one pass into the staging
     * table (a plain table, so that several connections can write chunks). */
    schema src = {0};
    int rc = read_schema(q, sub, &src);
    if (rc) {
        free(sub);
        return rc;
    }
    buf_init(&b);
    buf_adds(&b, "CREATE OR REPLACE TABLE __udr_rows AS SELECT ");
    if (append && old != NULL) {
        /* The appended rows take the table's columns and types. */
        for (size_t i = 0; i < old->ncols; i++) {
            if (!has_column(&src, old->cols[i].name)) {
                rc = err_set(q->err, UDR_EINVAL,
                             "the rows have no column %s (the table's columns must all be "
                             "there; to change the schema, write the whole table)",
                             old->cols[i].name);
                schema_free(&src);
                buf_free(&b);
                free(sub);
                return rc;
            }
            if (i)
                buf_adds(&b, ", ");
            buf_adds(&b, "CAST(");
            add_ident(&b, old->cols[i].name);
            buf_printf(&b, " AS %s) AS ", old->cols[i].type);
            add_ident(&b, old->cols[i].name);
        }
        if (src.n != old->ncols) {
            rc = err_set(q->err, UDR_EINVAL,
                         "the rows have %zu columns and the table %zu (to change the schema, "
                         "write the whole table)",
                         src.n, old->ncols);
            schema_free(&src);
            buf_free(&b);
            free(sub);
            return rc;
        }
    } else {
        add_column_list(&b, &src);
    }
    buf_adds(&b, ", hash(");
    if (key != NULL && key[0] != NULL)
        add_key_list(&b, key);
    else
        add_column_list(&b, &src);
    buf_adds(&b, ") AS __udr_h FROM ");
    buf_adds(&b, sub);
    buf_adds(&b, " AS __udr_src");
    free(sub);
    schema_free(&src);
    char *sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    rc = exec(q, sql, NULL, "cannot read the rows to write");
    free(sql);
    q->staged_strict = 0;
    if (rc == UDR_OK && key != NULL && key[0] != NULL)
        rc = order_by_key(q, key);
    return rc;
}

/* 1 if every key of the staged rows is above every key of old's chunks. */
static int keys_above(query *q, const cat_tablever *old, const char *const *key, int *above)
{
    *above = 0;
    if (old->rows == 0) {
        *above = 1;
        return UDR_OK;
    }
    buf b;
    buf_init(&b);
    buf_adds(&b, "SELECT (SELECT min((");
    add_key_list(&b, key);
    buf_adds(&b, ")) FROM __udr_rows) > (SELECT max((");
    add_key_list(&b, key);
    buf_adds(&b, ")) FROM read_parquet([");
    for (size_t i = 0; i < old->nchunks; i++) {
        char path[PATH_MAX * 2];
        object_path(q, &old->chunks[i].hash, path, sizeof path);
        if (i)
            buf_adds(&b, ", ");
        add_literal(&b, path);
    }
    buf_adds(&b, "]))");
    char *sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    char *v = scalar(q, sql, "cannot compare keys");
    free(sql);
    *above = v != NULL && strcmp(v, "true") == 0;
    int rc = v == NULL && q->err->code != UDR_OK ? q->err->code : UDR_OK;
    free(v);
    return rc;
}

/* The staged rows have exactly the old version's columns, types and key. */
static int same_shape(const schema *s, const cat_tablever *old, const char *const *key)
{
    if (s->n != old->ncols)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->cols[i].name, old->cols[i].name) || strcmp(s->cols[i].type, old->cols[i].type))
            return 0;
    size_t n = 0;
    for (; key[n]; n++)
        if (n >= old->nkey || strcmp(key[n], old->key[n]) != 0)
            return 0;
    return n == old->nkey;
}

/* Appended keys must not be in the table already. */
static int check_new_keys(query *q, const char *table, const cat_tablever *old,
                          const char *const *key)
{
    buf b;
    buf_init(&b);
    buf_adds(&b, "SELECT ");
    add_key_text(&b, key);
    buf_adds(&b, " FROM __udr_rows SEMI JOIN (");
    add_scan(&b, q, old, 0);
    buf_adds(&b, ") AS __udr_old USING (");
    add_key_list(&b, key);
    buf_adds(&b, ") LIMIT 1");
    char *sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    duckdb_result r;
    int rc = exec(q, sql, &r, "cannot check the appended keys");
    free(sql);
    if (rc)
        return rc;
    if (duckdb_row_count(&r) > 0) {
        char *k = duckdb_value_varchar(&r, 0, 0);
        rc = err_set(q->err, UDR_EINVAL,
                     "the key of %s must be unique, and an appended row has a key the table "
                     "has already: %s",
                     table, k ? k : "?");
        duckdb_free(k);
    }
    duckdb_destroy_result(&r);
    return rc;
}

static uint64_t count_of(query *q, const char *table_name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table_name);
    char *v = scalar(q, sql, "cannot count rows");
    uint64_t n = v ? strtoull(v, NULL, 10) : 0;
    free(v);
    return n;
}

/* Writes the rows of old that changed as a delete file and leaves only the
 * new and changed rows staged, if the change is small: at most a fifth of
 * the rows, and old's deletes, with these, at most a fifth of its chunks'
 * rows (beyond that, a full rewrite is the compaction). *delta says which. */
static int try_delta(query *q, const cat_tablever *old, const schema *s, const char *const *key,
                     uint64_t *staged_rows, int *delta, cat_chunk *del, udr_write_info *info)
{
    *delta = 0;
    uint64_t chunk_rows = 0;
    for (size_t i = 0; i < old->nchunks; i++)
        chunk_rows += old->chunks[i].rows;
    uint64_t old_deleted = chunk_rows - old->rows;
    buf b;
    buf_init(&b);
    buf_adds(&b, "CREATE OR REPLACE TABLE __udr_old AS ");
    add_scan(&b, q, old, 1);
    buf_adds(&b, "; CREATE OR REPLACE TABLE __udr_ins AS SELECT ");
    add_column_list(&b, s);
    buf_adds(&b, " FROM __udr_rows EXCEPT SELECT ");
    add_column_list(&b, s);
    buf_adds(&b, " FROM __udr_old; CREATE OR REPLACE TABLE __udr_gone AS SELECT ");
    add_key_list(&b, key);
    buf_adds(&b, " FROM (SELECT ");
    add_column_list(&b, s);
    buf_adds(&b, " FROM __udr_old EXCEPT SELECT ");
    add_column_list(&b, s);
    buf_adds(&b, " FROM __udr_rows)");
    char *sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    int rc = exec(q, sql, NULL, "cannot compare with the current version");
    free(sql);
    uint64_t nins = rc ? 0 : count_of(q, "__udr_ins"), ngone = rc ? 0 : count_of(q, "__udr_gone");
    if (rc || (nins + ngone) * 5 > *staged_rows || (old_deleted + ngone) * 5 > chunk_rows)
        goto out;
    if (ngone > 0) {
        char tmp[PATH_MAX];
        if (fs_path(tmp, sizeof tmp, "%s/tmp/delete.%ld.%llu.parquet", q->root, (long)getpid(),
                    (unsigned long long)++q->tmp_seq) != 0) {
            rc = err_set(q->err, UDR_EINVAL, "repository path too long");
            goto out;
        }
        buf_init(&b);
        buf_adds(&b, "COPY (SELECT string_split(filename, '/')[-1] AS chunk, file_row_number AS "
                     "\"row\" FROM __udr_old SEMI JOIN __udr_gone USING (");
        add_key_list(&b, key);
        buf_adds(&b, ") ORDER BY 1, 2) TO ");
        add_literal(&b, tmp);
        buf_adds(&b, " (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)");
        if ((sql = buf_take(&b, NULL)) == NULL) {
            rc = err_set(q->err, UDR_ENOMEM, "out of memory");
            goto out;
        }
        rc = exec(q, sql, NULL, "cannot write a delete file");
        free(sql);
        int fresh = 0;
        if (rc == UDR_OK && (rc = store_adopt(q->store, tmp, &del->hash, &fresh)) == UDR_OK) {
            uint64_t size = 0;
            store_size(q->store, &del->hash, &size);
            del->rows = ngone;
            if (fresh)
                info->new_bytes += size;   /* not a chunk, but new bytes */
        }
        if (rc)
            unlink(tmp);
    }
    if (rc == UDR_OK && (rc = stage(q, "SELECT * FROM __udr_ins", key, NULL, 0)) == UDR_OK) {
        *staged_rows = nins;
        *delta = 1;
    }
out:
    exec(q, "DROP TABLE IF EXISTS __udr_old; DROP TABLE IF EXISTS __udr_ins; "
            "DROP TABLE IF EXISTS __udr_gone", NULL, "");
    return rc;
}

int query_write(query *q, const char *table, const char *src_sql, const char *const *key,
                int append, const char *message, const char *author, udr_write_info *info)
{
    memset(info, 0, sizeof *info);
    int rc = catalog_check_name(table, q->err);
    if (rc == UDR_OK)
        rc = ensure_open(q);
    if (rc == UDR_OK)
        rc = catalog_refresh(q->cat);
    if (rc)
        return rc;
    cat_version oldv;
    cat_tablever old = {0};
    int have_old = 0;
    if ((rc = head_version(q, table, &oldv, &old, &have_old)) != 0)
        return rc;
    /* A table keeps its key unless a write names another one; an append
     * must not name another. */
    const char *const *use_key = key;
    if (have_old && old.nkey > 0 && (append || key == NULL || key[0] == NULL))
        use_key = (const char *const *)old.key;
    if (append && have_old && key != NULL && key[0] != NULL) {
        int same = old.nkey > 0;
        for (size_t i = 0; same && (key[i] || i < old.nkey); i++)
            same = i < old.nkey && key[i] && strcmp(key[i], old.key[i]) == 0;
        if (!same) {
            catv_free(&old);
            return err_set(q->err, UDR_EINVAL,
                           "cannot append to %s with another key than its own; write the whole "
                           "table to change the key",
                           table);
        }
    }
    int keyed = use_key != NULL && use_key[0] != NULL;
    schema s = {0};
    cuts c = {0};
    cat_tablever tv = {0};
    if ((rc = stage(q, src_sql, use_key, have_old ? &old : NULL, append)) != 0)
        goto done;
    if ((rc = read_schema(q, "__udr_rows", &s)) != 0)
        goto done;
    if (keyed && (rc = check_key(q, table, &s, use_key)) != 0)
        goto done;
    char *count = scalar(q, "SELECT count(*) FROM __udr_rows", "cannot count the rows");
    if (count == NULL) {
        rc = q->err->code ? q->err->code : UDR_ENOMEM;
        goto done;
    }
    uint64_t rows = strtoull(count, NULL, 10);
    free(count);

    /* Appending keeps every existing chunk: the new rows go into new
     * chunks, after a check that their keys are new. A keyed write close to
     * the current content becomes a delta too: the rows that changed go into
     * new chunks, the rows they replace into a delete file. */
    int keep_old = 0;
    cat_chunk newdel = {{{0}}, 0, 0};
    if (append && have_old) {
        keep_old = 1;
        int above = 0;
        if (keyed && (rc = keys_above(q, &old, use_key, &above)) == UDR_OK && !above)
            rc = check_new_keys(q, table, &old, use_key);
        if (rc)
            goto done;
    } else if (!append && have_old && keyed && same_shape(&s, &old, use_key) &&
               !needs_cast(&old)) {
        int delta = 0;
        if ((rc = try_delta(q, &old, &s, use_key, &rows, &delta, &newdel, info)) != 0)
            goto done;
        keep_old = delta;
    }
    if ((rc = find_cuts(q, rows, &c)) != 0)
        goto done;
    size_t nold = keep_old ? old.nchunks : 0;
    int skip_empty = keep_old && rows == 0;
    tv.chunks = calloc(nold + c.n + 1, sizeof *tv.chunks);
    if (tv.chunks == NULL) {
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        goto done;
    }
    if (nold)
        memcpy(tv.chunks, old.chunks, nold * sizeof *tv.chunks);
    if (!skip_empty && (rc = write_chunks(q, &s, &c, tv.chunks + nold, info)) != 0)
        goto done;
    tv.nchunks = nold + (skip_empty ? 0 : c.n);
    /* An empty table written before keeps a 0-row chunk; drop it when rows come. */
    if (keep_old && nold > 0 && tv.chunks[0].rows == 0 && tv.nchunks > 1) {
        memmove(tv.chunks, tv.chunks + 1, (tv.nchunks - 1) * sizeof *tv.chunks);
        tv.nchunks--;
    }
    size_t ndel = (keep_old ? old.ndeletes : 0) + (newdel.rows > 0);
    tv.deletes = calloc(ndel + 1, sizeof *tv.deletes);
    if (tv.deletes == NULL) {
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        goto done;
    }
    if (keep_old && old.ndeletes)
        memcpy(tv.deletes, old.deletes, old.ndeletes * sizeof *tv.deletes);
    if (newdel.rows > 0)
        tv.deletes[ndel - 1] = newdel;
    tv.ndeletes = ndel;
    tv.rows = (keep_old ? old.rows - newdel.rows : 0) + rows;
    tv.has_parent = have_old;
    if (have_old)
        tv.parent = oldv.hash;
    tv.cols = s.cols;
    tv.ncols = s.n;
    size_t nkey = 0;
    while (keyed && use_key[nkey])
        nkey++;
    tv.key = (char **)use_key;
    tv.nkey = nkey;
    size_t len;
    char *text = catv_encode(&tv, &len);
    tv.cols = NULL;
    tv.key = NULL;
    if (text == NULL) {
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        goto done;
    }
    udr_hash tvh;
    rc = store_put(q->store, text, len, &tvh);
    free(text);
    if (rc)
        goto done;
    char msg[256];
    if (message == NULL) {
        snprintf(msg, sizeof msg, "%s %s", append ? "append to" : "write", table);
        message = msg;
    }
    cat_change ch = {table, &tvh, 0};
    if ((rc = catalog_commit(q->cat, message, author ? author : "", &ch, 1, NULL)) != 0)
        goto done;
    info->version = ch.version;
    info->rows = tv.rows;
    info->chunks = tv.nchunks;
    info->bytes = 0;
    for (size_t i = 0; i < tv.nchunks; i++)
        info->bytes += tv.chunks[i].bytes;
done:
    exec(q, "DROP TABLE IF EXISTS __udr_rows", NULL, "");
    free(tv.chunks);
    free(tv.deletes);
    free(c.at);
    schema_free(&s);
    catv_free(&old);
    return rc;
}

/* ---- diff ------------------------------------------------------------------- */

/* read_parquet([...]) of the chunks of a that are not chunks of b. With
 * delete files on either side a shared chunk may hold rows one version
 * deleted: then all of a's live rows. */
static void add_only_chunks(buf *b, const query *q, const cat_tablever *a, const cat_tablever *other,
                            const schema *cols)
{
    if (a->ndeletes > 0 || other->ndeletes > 0 || needs_cast(a) || needs_cast(other)) {
        buf_adds(b, "(SELECT ");
        add_column_list(b, cols);
        buf_adds(b, " FROM (");
        add_scan(b, q, a, 0);
        buf_adds(b, "))");
        return;
    }
    buf_adds(b, "(SELECT ");
    add_column_list(b, cols);
    buf_adds(b, " FROM read_parquet([");
    int any = 0;
    for (size_t i = 0; i < a->nchunks; i++) {
        int shared = 0;
        for (size_t j = 0; j < other->nchunks && !shared; j++)
            shared = hash_equal(&a->chunks[i].hash, &other->chunks[j].hash);
        if (shared)
            continue;
        char path[PATH_MAX * 2];
        object_path(q, &a->chunks[i].hash, path, sizeof path);
        buf_adds(b, any ? ", " : "");
        add_literal(b, path);
        any = 1;
    }
    if (!any) {
        /* Nothing differs on this side: an empty relation of the right shape. */
        char path[PATH_MAX * 2];
        object_path(q, &a->chunks[0].hash, path, sizeof path);
        add_literal(b, path);
        buf_adds(b, "]) LIMIT 0)");
        return;
    }
    buf_adds(b, "]))");
}

int query_diff(query *q, const char *table, const char *from, const char *to,
               const char *const *key, udr_diff *counts, duckdb_result *rows)
{
    memset(counts, 0, sizeof *counts);
    int rc = ensure_open(q);
    if (rc == UDR_OK)
        rc = catalog_refresh(q->cat);
    if (rc)
        return rc;
    cat_version va, vb;
    cat_tablever a = {0}, b = {0};
    if ((rc = catalog_resolve(q->cat, table, from, &va)) != 0 ||
        (rc = catalog_resolve(q->cat, table, to, &vb)) != 0 ||
        (rc = catalog_read_tablever(q->cat, &va.hash, &a)) != 0 ||
        (rc = catalog_read_tablever(q->cat, &vb.hash, &b)) != 0) {
        catv_free(&a);
        return rc;
    }
    /* Compare on the columns both versions have; the key: the one given,
     * else the newer version's own. */
    schema common = {calloc(b.ncols + 1, sizeof(cat_column)), 0};
    for (size_t i = 0; common.cols && i < b.ncols; i++)
        for (size_t j = 0; j < a.ncols; j++)
            if (strcmp(b.cols[i].name, a.cols[j].name) == 0) {
                common.cols[common.n].name = strdup(b.cols[i].name);
                common.cols[common.n].type = strdup(b.cols[i].type);
                common.n++;
                break;
            }
    const char *const *k = key != NULL && key[0] != NULL ? key : (const char *const *)b.key;
    size_t nk = 0;
    while (k != NULL && k[nk] != NULL)
        nk++;
    for (size_t i = 0; i < nk; i++)
        if (!has_column(&common, k[i])) {
            rc = err_set(q->err, UDR_EINVAL, "key column %s is not in both versions of %s", k[i],
                         table);
            goto done;
        }
    if (common.n == 0) {
        rc = err_set(q->err, UDR_EINVAL, "the two versions of %s have no column in common", table);
        goto done;
    }
    buf s;
    buf_init(&s);
    buf_adds(&s, "WITH a AS ");
    add_only_chunks(&s, q, &a, &b, &common);
    buf_adds(&s, ", b AS ");
    add_only_chunks(&s, q, &b, &a, &common);
    if (nk == 0) {
        /* Whole rows, as multisets: what is in one and not the other. */
        buf_adds(&s, " SELECT * FROM (SELECT 'added' AS change, * FROM "
                     "(SELECT * FROM b EXCEPT ALL SELECT * FROM a) UNION ALL "
                     "SELECT 'removed', * FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)) "
                     "ORDER BY ALL");
    } else {
        buf kl;
        buf_init(&kl);
        add_key_list(&kl, k);
        const char *keys = kl.data ? kl.data : "";
        buf_printf(&s,
                   ", added AS (SELECT * FROM b ANTI JOIN a USING (%s)),"
                   " removed AS (SELECT * FROM a ANTI JOIN b USING (%s)),"
                   " after AS (SELECT * FROM (SELECT * FROM b EXCEPT SELECT * FROM a)"
                   " SEMI JOIN a USING (%s)),"
                   " before AS (SELECT * FROM (SELECT * FROM a EXCEPT SELECT * FROM b)"
                   " SEMI JOIN b USING (%s))"
                   " SELECT * FROM (SELECT 'added' AS change, * FROM added UNION ALL"
                   " SELECT 'removed', * FROM removed UNION ALL"
                   " SELECT 'before', * FROM before UNION ALL SELECT 'after', * FROM after)"
                   " ORDER BY %s, change = 'after'",
                   keys, keys, keys, keys, keys);
        buf_free(&kl);
    }
    char *sql = buf_take(&s, NULL);
    if (sql == NULL) {
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        goto done;
    }
    duckdb_result r;
    rc = exec(q, sql, &r, "cannot compute the diff");
    free(sql);
    if (rc)
        goto done;
    idx_t n = duckdb_row_count(&r);
    for (idx_t i = 0; i < n; i++) {
        char *c = duckdb_value_varchar(&r, 0, i);
        if (c && strcmp(c, "added") == 0)
            counts->rows_added++;
        else if (c && strcmp(c, "removed") == 0)
            counts->rows_removed++;
        else if (c && strcmp(c, "after") == 0)
            counts->rows_modified++;
        duckdb_free(c);
    }
    counts->from_version = va.version;
    counts->to_version = vb.version;
    if (rows != NULL)
        *rows = r;
    else
        duckdb_destroy_result(&r);
done:
    schema_free(&common);
    catv_free(&a);
    catv_free(&b);
    return rc;
}
