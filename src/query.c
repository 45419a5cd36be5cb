/*
 * query — the DuckDB binding; see query.h for how tables are written and
 * read.
 */
#include "query.h"
#include "delvec.h"
#include "patch.h"
#include "query_int.h"
#include "frame.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

static void shown_clear(query *q);

void query_close(query *q)
{
    for (size_t i = 0; i < QUERY_CACHE; i++)
        if (q->cache[i].full) {
            catv_free(&q->cache[i].tv);
            q->cache[i].full = 0;
        }
    free(q->ranges);
    q->ranges = NULL;
    free(q->delcache);
    q->delcache = NULL;
    q->ndelcache = 0;
    q->nranges = q->ranges_cap = 0;
    frame_free_all(q);
    shown_clear(q);
    if (q->open) {
        if (q->con2_open)
            duckdb_disconnect(&q->con2);
        q->con2_open = 0;
        if (q->con_dv_open)
            duckdb_disconnect(&q->con_dv);
        q->con_dv_open = 0;
        duckdb_disconnect(&q->con);
        duckdb_close(&q->db);
        char dir[PATH_MAX * 2];
        snprintf(dir, sizeof dir, "%s/tmp/duckdb.%ld", q->root, (long)getpid());
        rmdir(dir);
        q->open = 0;
    }
    /* after DuckDB: its udr_live points here */
    delvec_close(q->dv);
    q->dv = NULL;
    patch_close(q->ps);
    q->ps = NULL;
}

/* A quoted SQL identifier. */
/* Small chunks at a table's end that small changes let pile up before
 * they are folded into one; delete files a version keeps: in all, and of
 * those under 8^QUERY_SMALL_DELETE_TIER (4096) rows (see pick_deletes). */
enum {
    QUERY_MAX_PIECES = 8,
    QUERY_MAX_DELETE_FILES = 64,
    QUERY_MAX_SMALL_DELETE_FILES = 8,
    QUERY_SMALL_DELETE_TIER = 4,
    /* A change that would leave more than 1/QUERY_COMPACT_SHARE of the
     * stored rows deleted writes the table anew: the automatic compaction.
     * A scan reads deleted rows and leaves them out through a bitmap
     * (delvec.h), so at half deleted it reads twice the live rows; a
     * compaction writes the whole table again. Once a fifth, when deleted
     * rows were anti-joined and cost a scan five times as much at a third
     * (docs/tables.md). */
    QUERY_COMPACT_SHARE = 2
};

static int exec(query *q, const char *sql, duckdb_result *out, const char *what);
void qi_add_ident(buf *b, const char *s)
{
    buf_quoted(b, s, '"');
}

/* An SQL string literal. */
void qi_add_literal(buf *b, const char *s)
{
    buf_quoted(b, s, '\'');
}

/* ---- the replacement scan --------------------------------------------------- */

void qi_object_path(const query *q, const udr_hash *h, char *out, size_t size)
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
            qi_object_path(q, &chunks[i].hash, path, sizeof path);
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

/* 1 for the integer types whose chunk ranges a table version records
 * (their values fit an int64 and read back exactly). */
static int ranged_type(const char *type)
{
    static const char *const types[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT",
                                        "UTINYINT", "USMALLINT", "UINTEGER"};
    for (size_t k = 0; type != NULL && k < sizeof types / sizeof types[0]; k++)
        if (strcmp(type, types[k]) == 0)
            return 1;
    return 0;
}

/* The type of column name among n columns, or NULL. */
static const char *type_of(const cat_column *cols, size_t n, const char *name)
{
    for (size_t i = 0; name != NULL && i < n; i++)
        if (strcmp(cols[i].name, name) == 0)
            return cols[i].type;
    return NULL;
}

/* 1 if tv's first key column is an integer: its chunks' ranges rule out
 * conditions on it. */
static int prunable_key(const cat_tablever *tv)
{
    return tv->nkey > 0 && ranged_type(type_of(tv->cols, tv->ncols, tv->key[0]));
}

int qi_needs_cast(const cat_tablever *tv)
{
    for (size_t i = 0; i < tv->ncols; i++)
        if (stored_as_text(tv->cols[i].type))
            return 1;
    return 0;
}

void qi_add_path_list(buf *b, const query *q, const cat_chunk *chunks, size_t n)
{
    buf_addc(b, '[');
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX * 2];
        qi_object_path(q, &chunks[i].hash, path, sizeof path);
        if (i)
            buf_adds(b, ", ");
        qi_add_literal(b, path);
    }
    buf_addc(b, ']');
}

/* After "x ANTI JOIN (rows of chunk, row)": the rest of the join, naming
 * a chunk by its file as read_parquet's filename column does. */
static void add_positions_join(buf *b, const query *q)
{
    buf_adds(b, " AS __udr_d ON __udr_d.\"row\" = file_row_number AND ");
    qi_add_literal(b, q->root);
    buf_adds(b, " || '/objects/' || substr(__udr_d.chunk, 1, 2) || '/' || "
                "substr(__udr_d.chunk, 3, 2) || '/' || __udr_d.chunk = filename");
}

/* 1 if tv has a column that would hide one of DuckDB's virtual columns
 * file_index and file_row_number. */
static int hides_positions(const cat_tablever *tv)
{
    for (size_t i = 0; i < tv->ncols; i++)
        if (strcasecmp(tv->cols[i].name, "file_index") == 0 ||
            strcasecmp(tv->cols[i].name, "file_row_number") == 0)
            return 1;
    return 0;
}

/* 1 and *id if tv's deletes can be left out through a deletion vector;
 * 0 to anti-join them (the vectors' memory bound is reached, or building one
 * failed: the anti-join then reports what is wrong with the delete files). */
static int use_delvec(const query *q, const cat_tablever *tv, uint64_t *id)
{
    if (q->dv == NULL || !q->con_dv_open || hides_positions(tv))
        return 0;
    udr_err scratch = {0};
    return delvec_for(q->dv, q->con_dv, q->root, tv, id, &scratch) == 1;
}

/* The same for tv's patches (patch.h): 0 to join the patch files in SQL. */
static int use_patchmap(const query *q, const cat_tablever *tv, uint64_t *id)
{
    if (q->ps == NULL || !q->con_dv_open || hides_positions(tv))
        return 0;
    udr_err scratch = {0};
    return patch_for(q->ps, q->con_dv, q->root, tv, id, &scratch) == 1;
}

/* The columns some patch of tv names, as a bit set over its columns. */
static uint64_t patched_columns(const cat_tablever *tv)
{
    uint64_t m = 0;
    for (size_t i = 0; i < tv->npatches; i++)
        m |= tv->patches[i].cols;
    return m;
}

/* Column i of tv as a scan reads it: cast back if stored as text, through
 * udr_patched if a patch names it and pid is not UINT64_MAX. */
static void add_scan_column(buf *b, const cat_tablever *tv, size_t i, uint64_t patched,
                            uint64_t pid)
{
    if (stored_as_text(tv->cols[i].type)) {
        buf_adds(b, "CAST(");
        qi_add_ident(b, tv->cols[i].name);
        buf_printf(b, " AS %s) AS ", tv->cols[i].type);
    } else if (pid != UINT64_MAX && i < CAT_PATCH_MAX_COLUMN && (patched >> i & 1)) {
        buf_printf(b, "udr_patched(%llu, %zu, file_index, file_row_number, ",
                   (unsigned long long)pid, i);
        qi_add_ident(b, tv->cols[i].name);
        buf_adds(b, ") AS ");
    }
    qi_add_ident(b, tv->cols[i].name);
}

/* The rows of tv's chunks less its deletes (patches left out unless pid is
 * an ID of patch.h's for tv). */
static void add_scan_rows(buf *b, const query *q, const cat_tablever *tv, int positions,
                          uint64_t pid)
{
    /* With a deletion vector, file_index and file_row_number are read as
     * DuckDB's virtual columns; filename = true would make every row carry
     * its file's name. */
    uint64_t dv = 0;
    int vec = tv->ndeletes > 0 && use_delvec(q, tv, &dv);
    int marks = positions || (tv->ndeletes > 0 && !vec);
    uint64_t patched = pid != UINT64_MAX ? patched_columns(tv) : 0;
    buf_adds(b, "SELECT ");
    for (size_t i = 0; i < tv->ncols; i++) {
        buf_adds(b, i ? ", " : "");
        add_scan_column(b, tv, i, patched, pid);
    }
    if (positions)
        buf_adds(b, ", filename, file_row_number");
    buf_adds(b, " FROM read_parquet(");
    qi_add_path_list(b, q, tv->chunks, tv->nchunks);
    buf_adds(b, marks ? ", filename = true, file_row_number = true)" : ")");
    if (vec) {
        /* file_index is the position in the list above; see delvec.h */
        buf_printf(b, " WHERE udr_live(%llu, file_index, file_row_number)",
                   (unsigned long long)dv);
    } else if (tv->ndeletes > 0) {
        buf_adds(b, " ANTI JOIN ");
        buf_adds(b, "(SELECT chunk, \"row\" FROM read_parquet(");
        qi_add_path_list(b, q, tv->deletes, tv->ndeletes);
        buf_adds(b, "))");
        add_positions_join(b, q);
    }
}

/* Without patch maps: tv's rows (with positions) left-joined, for each
 * patched column, with the latest value a patch gives it at each position. */
static void add_patch_joins(buf *b, const query *q, const cat_tablever *tv, int positions)
{
    uint64_t patched = patched_columns(tv);
    buf_adds(b, "SELECT ");
    for (size_t i = 0; i < tv->ncols; i++) {
        buf_adds(b, i ? ", " : "");
        if (i < CAT_PATCH_MAX_COLUMN && (patched >> i & 1)) {
            buf_printf(b, "CASE WHEN __udr_p%zu.__r IS NULL THEN __udr_s.", i);
            qi_add_ident(b, tv->cols[i].name);
            buf_printf(b, " ELSE __udr_p%zu.__v END AS ", i);
        } else {
            buf_adds(b, "__udr_s.");
        }
        qi_add_ident(b, tv->cols[i].name);
    }
    if (positions)
        buf_adds(b, ", __udr_s.filename, __udr_s.file_row_number");
    buf_adds(b, " FROM (");
    cat_tablever plain = *tv;
    plain.npatches = 0;
    add_scan_rows(b, q, &plain, 1, UINT64_MAX);
    buf_adds(b, ") AS __udr_s");
    for (size_t i = 0; i < tv->ncols && i < CAT_PATCH_MAX_COLUMN; i++) {
        if (!(patched >> i & 1))
            continue;
        /* The files naming column i, the later one winning at a position. */
        buf_adds(b, " LEFT JOIN (SELECT chunk AS __c, \"row\" AS __r, CAST(");
        qi_add_ident(b, tv->cols[i].name);
        buf_printf(b, " AS %s) AS __v FROM (", tv->cols[i].type);
        size_t n = 0;
        for (size_t k = 0; k < tv->npatches; k++) {
            if (!(tv->patches[k].cols >> i & 1))
                continue;
            buf_adds(b, n++ ? " UNION ALL " : "");
            buf_printf(b, "SELECT %zu AS __o, chunk, \"row\", ", k);
            qi_add_ident(b, tv->cols[i].name);
            char path[PATH_MAX * 2];
            qi_object_path(q, &tv->patches[k].hash, path, sizeof path);
            buf_adds(b, " FROM read_parquet(");
            qi_add_literal(b, path);
            buf_addc(b, ')');
        }
        buf_printf(b, ") QUALIFY row_number() OVER (PARTITION BY chunk, \"row\" ORDER BY __o "
                      "DESC) = 1) AS __udr_p%zu ON __udr_p%zu.__r = __udr_s.file_row_number "
                      "AND ", i, i);
        qi_add_literal(b, q->root);
        buf_printf(b, " || '/objects/' || substr(__udr_p%zu.__c, 1, 2) || '/' || "
                      "substr(__udr_p%zu.__c, 3, 2) || '/' || __udr_p%zu.__c = __udr_s.filename",
                   i, i, i);
    }
}

/* The live rows of a table version as SQL: its chunks, less the rows its
 * delete files name, with its patches applied and columns stored as text
 * cast back. positions adds filename and file_row_number (where each row
 * lies). */
static void add_scan(buf *b, const query *q, const cat_tablever *tv, int positions)
{
    uint64_t pid = UINT64_MAX;
    if (tv->npatches > 0 && !use_patchmap(q, tv, &pid))
        add_patch_joins(b, q, tv, positions);
    else
        add_scan_rows(b, q, tv, positions, pid);
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

/* 1 (and a message) if a chunk, delete file or patch of tv is not in the store. */
static int missing_object(const query *q, const char *table, uint64_t version,
                          const cat_tablever *tv, char *msg, size_t size)
{
    size_t nd = tv->nchunks + tv->ndeletes;
    for (size_t i = 0; i < nd + tv->npatches; i++) {
        const udr_hash *h = i < tv->nchunks ? &tv->chunks[i].hash
                            : i < nd        ? &tv->deletes[i - tv->nchunks].hash
                                            : &tv->patches[i - nd].hash;
        char path[PATH_MAX * 2], hex[UDR_HASH_HEX + 1];
        qi_object_path(q, h, path, sizeof path);
        if (access(path, F_OK) != 0) {
            hash_to_hex(h, hex);
            snprintf(msg, size,
                     "table %s version %llu cannot be read: its %s %s is missing (%s); "
                     "'udr fsck' lists what else is damaged",
                     table, (unsigned long long)version,
                     i < tv->nchunks ? "chunk" : i < nd ? "delete file" : "patch", hex, path);
            return 1;
        }
    }
    return 0;
}

/* The number of table's version with content h, newest first; 0 if the
 * index does not hold it (loaded from a checkpoint, or not committed). */
static uint64_t version_of(const query *q, const char *table, const udr_hash *h)
{
    const cat_table *t = catalog_table(q->cat, table);
    for (size_t i = t != NULL ? t->nv : 0; i > 0; i--)
        if (!t->v[i - 1].dropped && hash_equal(&t->v[i - 1].hash, h))
            return t->v[i - 1].version;
    return 0;
}

static void replace_scan(duckdb_replacement_scan_info info, const char *name, void *data)
{
    query *q = data;
    char table[CATALOG_NAME_MAX + 1], ref[CATALOG_REF_MAX + 1];
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
    cat_version v;
    /* In a transaction, a plain name is what the transaction sees: its own
     * writes, else its snapshot. */
    if (!at && q->view != NULL && catalog_check_name(table, NULL) == UDR_OK) {
        cat_entry e;
        int found = 0;
        if (q->view->lookup(q->view->ctx, table, &e, &found) != UDR_OK)
            return;
        if (!found) {
            if (catalog_table(q->cat, table) != NULL) {
                char msg[512];
                snprintf(msg, sizeof msg,
                         "table %s is not in this transaction's snapshot (it was dropped, or is "
                         "on another branch)",
                         table);
                duckdb_replacement_scan_set_error(info, msg);
            }
            return;
        }
        if (q->view->on_read != NULL)
            q->view->on_read(q->view->ctx, table);
        memset(&v, 0, sizeof v);
        v.hash = e.hash;
        v.version = e.version;
        goto resolved;
    }
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
    if (catalog_resolve(q->cat, table, ref, &v) != UDR_OK) {
        duckdb_replacement_scan_set_error(info, q->err->msg);
        return;
    }
resolved:;
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
    if (catv_is_raw(&tv)) {
        catv_raw_error(q->err, table, v.version, "it has no columns to query");
        duckdb_replacement_scan_set_error(info, q->err->msg);
        return;
    }
    if (qi_needs_cast(&tv) || tv.ndeletes > 0 || tv.npatches > 0) {
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

static int register_part_function(query *q);


static int db_error(query *q, const char *what, const char *msg)
{
    /* Our own messages from the replacement scan need no DuckDB prefix. */
    static const char scan[] = "Binder Error: Error in replacement scan: ";
    if (msg != NULL && strncmp(msg, scan, sizeof scan - 1) == 0)
        msg += sizeof scan - 1;
    /* Our SQL functions' messages (QUERY_MSG_MARK) stand on their own:
     * without DuckDB's prefix, and with their status code. */
    const char *own = msg ? strstr(msg, QUERY_MSG_MARK) : NULL;
    if (own != NULL) {
        own += strlen(QUERY_MSG_MARK);
        int code = UDR_EINVAL;
        if (own[0] == '-' && own[1] >= '0' && own[1] <= '9')
            code = -(int)strtol(own + 1, (char **)&own, 10);
        own += *own == ' ';
        const char *end = strstr(own, "\n\nLINE ");
        int len = end ? (int)(end - own) : (int)strlen(own);
        return err_set(q->err, code, "%s%s%.*s", what, what[0] ? ": " : "", len, own);
    }
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
    /* Released: query_interrupt, on another thread, reads con after open. */
    __atomic_store_n(&q->open, 1, __ATOMIC_RELEASE);
    /* Deletion vectors (delvec.h), built through a connection of their own:
     * scans are planned while another connection binds. */
    int drc = delvec_open(q->con, &q->dv, q->err);
    if (drc == UDR_OK)
        drc = patch_open(q->con, &q->ps, q->err);
    if (drc != UDR_OK)
        return drc;
    if (duckdb_connect(q->db, &q->con_dv) != DuckDBSuccess)
        return err_set(q->err, UDR_ERROR, "cannot connect to DuckDB");
    q->con_dv_open = 1;
    /* A streamed write reads its source through a streaming result: with
     * DuckDB's default buffer (1 MB) its threads keep stopping for the
     * reader; 64 MB lets them run (measured: a 10M-row CSV streams in 3.7 s
     * instead of 5.0, Parquet in 0.75 s instead of 1.15).
     * DuckDB's external file cache would keep a copy of every file block a
     * handle reads, in its own buffer pool, freed only under memory pressure
     * (the bound is DuckDB's memory_limit, 80 % of RAM, per handle): a handle
     * that reads version after version grew by ~21 KB each new version, and
     * 32 handles in one process by 2 GB in five minutes. The kernel's page
     * cache already holds the objects once; scans measured no slower
     * without it (3M rows: 15.0 / 27.5 / 57 ms with, 15.2 / 28.1 / 57 ms
     * without). */
    int rc = exec(q,
                  "SET streaming_buffer_size = '64MB'; SET parquet_metadata_cache = true; "
                  "SET enable_external_file_cache = false",
                  NULL, "cannot configure DuckDB");
    if (rc == UDR_OK)
        rc = register_part_function(q);
    if (rc == UDR_OK)
        rc = changes_register(q);
    return rc ? rc : frame_register_function(q);
}

/* The number in a temporary file's name (tmp/chunk.<pid>.<n>.parquet ...):
 * one counter for the whole process, since several handles in one process
 * (udr serve's connections, threads each with their own) write into the
 * same tmp/, and DuckDB's COPY TO overwrites a file of the same name. */
static uint64_t next_tmp_seq(void)
{
    static uint64_t seq;
    return __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
}

void query_interrupt(query *q)
{
    if (__atomic_load_n(&q->open, __ATOMIC_ACQUIRE))
        duckdb_interrupt(q->con);
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

/* Runs the statement built in b (and frees it). */
int qi_exec_buf(query *q, buf *b, const char *what)
{
    char *sql = buf_take(b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    int rc = exec(q, sql, NULL, what);
    free(sql);
    return rc;
}

/* Runs the statement built in b (and frees it); its result to *out. */
int qi_exec_result(query *q, buf *b, duckdb_result *out, const char *what)
{
    char *sql = buf_take(b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    int rc = exec(q, sql, out, what);
    free(sql);
    return rc;
}

/* Adds a hint to DuckDB's "does not exist" message. */
static void hint_unknown_table(query *q)
{
    if (strstr(q->err->msg, "does not exist") != NULL && strlen(q->err->msg) + 80 < ERR_MSG_BYTES)
        strcat(q->err->msg, "\n(the UDR tables are listed by 'udr tables')");
}

static void shown_clear(query *q)
{
    query_free_shown(q->shown, q->nshown);
    q->shown = NULL;
    q->nshown = 0;
}

char **query_take_shown(query *q, size_t *n)
{
    char **t = q->shown;
    *n = q->nshown;
    q->shown = NULL;
    q->nshown = 0;
    return t;
}

void query_free_shown(char **types, size_t n)
{
    for (size_t i = 0; types != NULL && i < n; i++)
        free(types[i]);
    free(types);
}

/* DuckDB's name for a type, as far as the C API tells it. */
void query_type_name(duckdb_logical_type t, buf *b)
{
    duckdb_type id = duckdb_get_type_id(t);
    switch (id) {
    case DUCKDB_TYPE_DECIMAL:
        buf_printf(b, "DECIMAL(%u,%u)", duckdb_decimal_width(t), duckdb_decimal_scale(t));
        return;
    case DUCKDB_TYPE_LIST: {
        duckdb_logical_type c = duckdb_list_type_child_type(t);
        query_type_name(c, b);
        duckdb_destroy_logical_type(&c);
        buf_adds(b, "[]");
        return;
    }
    case DUCKDB_TYPE_STRUCT: {
        buf_adds(b, "STRUCT(");
        idx_t n = duckdb_struct_type_child_count(t);
        for (idx_t i = 0; i < n; i++) {
            char *name = duckdb_struct_type_child_name(t, i);
            duckdb_logical_type c = duckdb_struct_type_child_type(t, i);
            buf_printf(b, "%s%s ", i ? ", " : "", name ? name : "?");
            query_type_name(c, b);
            duckdb_destroy_logical_type(&c);
            duckdb_free(name);
        }
        buf_addc(b, ')');
        return;
    }
    default:
        break;
    }
    static const struct {
        duckdb_type id;
        const char *name;
    } names[] = {
        {DUCKDB_TYPE_BOOLEAN, "BOOLEAN"},     {DUCKDB_TYPE_TINYINT, "TINYINT"},
        {DUCKDB_TYPE_SMALLINT, "SMALLINT"},   {DUCKDB_TYPE_INTEGER, "INTEGER"},
        {DUCKDB_TYPE_BIGINT, "BIGINT"},       {DUCKDB_TYPE_UTINYINT, "UTINYINT"},
        {DUCKDB_TYPE_USMALLINT, "USMALLINT"}, {DUCKDB_TYPE_UINTEGER, "UINTEGER"},
        {DUCKDB_TYPE_UBIGINT, "UBIGINT"},     {DUCKDB_TYPE_FLOAT, "FLOAT"},
        {DUCKDB_TYPE_DOUBLE, "DOUBLE"},       {DUCKDB_TYPE_TIMESTAMP, "TIMESTAMP"},
        {DUCKDB_TYPE_DATE, "DATE"},           {DUCKDB_TYPE_TIME, "TIME"},
        {DUCKDB_TYPE_INTERVAL, "INTERVAL"},   {DUCKDB_TYPE_HUGEINT, "HUGEINT"},
        {DUCKDB_TYPE_UHUGEINT, "UHUGEINT"},   {DUCKDB_TYPE_VARCHAR, "VARCHAR"},
        {DUCKDB_TYPE_BLOB, "BLOB"},           {DUCKDB_TYPE_TIMESTAMP_S, "TIMESTAMP_S"},
        {DUCKDB_TYPE_TIMESTAMP_MS, "TIMESTAMP_MS"}, {DUCKDB_TYPE_TIMESTAMP_NS, "TIMESTAMP_NS"},
        {DUCKDB_TYPE_ENUM, "ENUM"},           {DUCKDB_TYPE_MAP, "MAP"},
        {DUCKDB_TYPE_UUID, "UUID"},           {DUCKDB_TYPE_UNION, "UNION"},
        {DUCKDB_TYPE_BIT, "BIT"},             {DUCKDB_TYPE_TIME_TZ, "TIME WITH TIME ZONE"},
        {DUCKDB_TYPE_TIMESTAMP_TZ, "TIMESTAMP WITH TIME ZONE"}, {DUCKDB_TYPE_ARRAY, "ARRAY"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].id == id) {
            buf_adds(b, names[i].name);
            return;
        }
    buf_adds(b, "UNKNOWN");
}

/* Whether DuckDB's C API reads values of a type one by one (duckdb_value_*
 * and duckdb_column_data). Others (lists, structs, maps, arrays, unions,
 * UUID, TIMESTAMP_NS, TIME WITH TIME ZONE, BIT, ENUM ...) it reads only
 * through vectors: a result holding one cannot be read value by value at
 * all (every column comes back empty). */
static int is_nested(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_BOOLEAN: case DUCKDB_TYPE_TINYINT: case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER: case DUCKDB_TYPE_BIGINT: case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT: case DUCKDB_TYPE_UINTEGER: case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_FLOAT: case DUCKDB_TYPE_DOUBLE: case DUCKDB_TYPE_DATE:
    case DUCKDB_TYPE_TIME: case DUCKDB_TYPE_TIMESTAMP: case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS: case DUCKDB_TYPE_TIMESTAMP_TZ: case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_HUGEINT: case DUCKDB_TYPE_UHUGEINT: case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB: case DUCKDB_TYPE_DECIMAL:
        return 0;
    default:
        return 1;
    }
}

/* For a single SELECT with columns of the types is_nested names: the same
 * query with those columns cast to text, so that every value can be shown.
 * NULL if the statement needs no rewriting or cannot have it. */
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
    shown_clear(q);
    if ((q->shown = calloc(n, sizeof *q->shown)) != NULL) {
        q->nshown = n;
        for (idx_t i = 0; i < n; i++) {
            if (!is_nested(duckdb_prepared_statement_column_type(ps, i)))
                continue;
            duckdb_logical_type t = duckdb_prepared_statement_column_logical_type(ps, i);
            buf tb;
            buf_init(&tb);
            query_type_name(t, &tb);
            duckdb_destroy_logical_type(&t);
            q->shown[i] = buf_take(&tb, NULL);
        }
    }
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
            qi_add_ident(&b, names[i]);
            buf_adds(&b, " AS VARCHAR) AS ");
        }
        qi_add_ident(&b, names[i]);
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
    shown_clear(q);
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
    if (n == 1) {
        /* One statement: run it as DuckDB's own duckdb_query does. A
         * prepared statement over read_parquet() is bound again when it runs
         * (every file's footer read twice: measured 1.5 ms more on a 72-chunk
         * table). Only a SELECT with nested columns takes the prepared path
         * below, for its text rewrite, and runs again there. */
        duckdb_result r;
        if (duckdb_query(q->con, sql, &r) != DuckDBSuccess) {
            rc = db_error(q, "", duckdb_result_error(&r));
            duckdb_destroy_result(&r);
            n = 0;
        } else {
            int nested = 0;
            if (out != NULL && duckdb_result_statement_type(r) == DUCKDB_STATEMENT_TYPE_SELECT)
                for (idx_t c = 0; c < duckdb_column_count(&r); c++)
                    nested |= is_nested(duckdb_column_type(&r, c));
            if (!nested) {
                if (out != NULL)
                    *out = r;
                else
                    duckdb_destroy_result(&r);
                n = 0;
            } else {
                duckdb_destroy_result(&r);
            }
        }
    }
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

void qi_schema_free(schema *s)
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
int qi_read_schema(query *q, const char *what, schema *s)
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

int qi_has_column(const schema *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->cols[i].name, name) == 0)
            return 1;
    return 0;
}

void qi_add_column_list(buf *b, const schema *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            buf_adds(b, ", ");
        qi_add_ident(b, s->cols[i].name);
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
void qi_add_key_text(buf *b, const char *const *key)
{
    buf_adds(b, "concat_ws(', ', ");
    for (size_t i = 0; key[i]; i++) {
        buf_adds(b, i ? ", " : "");
        add_key_label(b, key[i]);
        buf_adds(b, " || ");
        qi_add_ident(b, key[i]);
        buf_adds(b, "::VARCHAR");
    }
    buf_adds(b, ")");
}

static void add_key_list(buf *b, const char *const *key)
{
    for (size_t i = 0; key[i]; i++) {
        if (i)
            buf_adds(b, ", ");
        qi_add_ident(b, key[i]);
    }
}

/* Checks that the key's columns exist and hold no NULL and no duplicate. */
static int check_key(query *q, const char *table, const schema *s, const char *const *key)
{
    for (size_t i = 0; key[i]; i++)
        if (!qi_has_column(s, key[i]))
            return err_set(q->err, UDR_EINVAL,
                           "key column %s is not a column of the rows written to %s", key[i],
                           table);
    buf b;
    buf_init(&b);
    buf_adds(&b, "SELECT count(*) FROM __udr_rows WHERE ");
    for (size_t i = 0; key[i]; i++) {
        if (i)
            buf_adds(&b, " OR ");
        qi_add_ident(&b, key[i]);
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
        qi_add_ident(&b, key[i]);
        buf_printf(&b, " AS a%zu", i);
    }
    buf_adds(&b, " FROM __udr_rows) POSITIONAL JOIN (SELECT ");
    for (size_t i = 0; key[i]; i++) {
        buf_printf(&b, "%s", i ? ", " : "");
        qi_add_ident(&b, key[i]);
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
    qi_add_key_text(&b, key);
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

/* "(src_sql\n)": a query usable as a subquery (a trailing comment ends). */
static char *parenthesise(const char *src_sql)
{
    buf b;
    buf_init(&b);
    buf_adds(&b, "(");
    buf_adds(&b, src_sql);
    buf_adds(&b, "\n)");
    return buf_take(&b, NULL);
}

/* Whether a chunk ends after a row: n is the chunk's rows with this one,
 * h the row's hash. One rule for the staged and the streamed path. */
static int cut_after(const query_chunking *k, uint64_t n, uint64_t h)
{
    return n >= k->max_rows || (n >= k->min_rows && h % k->avg_rows == 0);
}

int qi_find_cuts(query *q, uint64_t rows, cuts *c)
{
    const query_chunking *k = &q->chunking;
    char sql[256];
    /* Only rows that may end a chunk by their hash; the rest is counting. */
    snprintf(sql, sizeof sql,
             "SELECT rowid, __udr_h FROM __udr_rows WHERE __udr_h %% %llu = 0 ORDER BY rowid",
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
    for (idx_t i = 0; i <= cand; i++) {
        /* Rows up to the next candidate (or the end) without one: only the
         * size limit cuts there. */
        uint64_t row = i < cand ? (uint64_t)duckdb_value_int64(&r, 0, i) : rows;
        while (row - start >= k->max_rows) {
            start += k->max_rows;
            c->at[++c->n] = start;
        }
        if (i < cand && cut_after(k, row + 1 - start, duckdb_value_uint64(&r, 1, i))) {
            start = row + 1;
            c->at[++c->n] = start;
        }
    }
    if (rows > start)
        c->at[++c->n] = rows;
    duckdb_destroy_result(&r);
    if (c->n == 0)                      /* no rows: one empty chunk */
        c->at[++c->n] = 0;
    return UDR_OK;
}

/* How chunks are written. zstd level 1 (see query.h). One row group per
 * chunk, whatever the chunk's size (at most QUERY_CHUNK_MAX_ROWS): DuckDB
 * otherwise ends row groups where its input batches end, which depends on
 * where the rows came from, and equal rows must give equal bytes. */
#define CHUNK_FORMAT "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE 1048576)"

/* How the pieces of small changes are written: delta chunks (the rows an
 * UPDATE wrote, in one chunk) and delete files. Parquet's version 2
 * encodings (DELTA_BINARY_PACKED integers, DELTA_LENGTH_BYTE_ARRAY
 * strings) suit their sparse, sorted keys and row numbers better than the
 * plain encoding, and their rows are few, so they afford zstd level 15
 * (about 20 ms for 10,000 rows): in bench_stats a delta chunk is 37 %
 * smaller than in CHUNK_FORMAT, a merged delete file 25 % (levels above
 * 15 are slower and no smaller). Chunks cut by write_chunks keep
 * CHUNK_FORMAT, so that a rewrite of the same rows still gives the same
 * bytes as before. Deterministic too (equal rows, equal bytes); every
 * DuckDB since 1.2 reads it. See docs/tables.md, "What small changes
 * store". */
#define DELTA_FORMAT                                                                               \
    "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 15, ROW_GROUP_SIZE 1048576, "          \
    "PARQUET_VERSION V2)"

/* The select list of rows as chunks hold them: 128-bit integers as text. */
static void add_stored_columns(buf *b, const schema *s)
{
    for (size_t k = 0; k < s->n; k++) {
        if (k)
            buf_adds(b, ", ");
        if (stored_as_text(s->cols[k].type)) {
            buf_adds(b, "CAST(");
            qi_add_ident(b, s->cols[k].name);
            buf_adds(b, " AS VARCHAR) AS ");
        }
        qi_add_ident(b, s->cols[k].name);
    }
}

/* The COPY statement of staged chunk i into path. */
static char *chunk_copy_sql(const schema *s, const cuts *c, size_t i, const char *path)
{
    buf b;
    buf_init(&b);
    buf_adds(&b, "COPY (SELECT ");
    add_stored_columns(&b, s);
    buf_printf(&b, " FROM __udr_rows WHERE rowid >= %llu AND rowid < %llu) TO ",
               (unsigned long long)c->at[i], (unsigned long long)c->at[i + 1]);
    qi_add_literal(&b, path);
    buf_adds(&b, " " CHUNK_FORMAT);
    return buf_take(&b, NULL);
}

/* ---- the chunk writers ------------------------------------------------------

   A pool of threads, each with a DuckDB connection of its own, takes chunk
   jobs from a queue: a COPY of the chunk's rows into tmp/, then adoption
   into the store (hash, fsync, rename). The staged path queues every chunk
   at once; the streamed one queues each chunk as its rows arrive, and waits
   when the writers are behind, which bounds its memory. */

/* Streamed rows: a fetched DataChunk, shared by the chunks it feeds. */
typedef struct held_chunk {
    duckdb_data_chunk ch;
    atomic_int refs;
} held_chunk;

typedef struct slice {
    held_chunk *h;
    idx_t off, len;
} slice;

typedef struct wjob {
    char path[PATH_MAX];
    char *sql;
    uint64_t rows;
    int has_range;                     /* first and last key (streamed, integer key) */
    int64_t lo, hi;
    udr_hash hash;
    int fresh, adopted;
    slice *slices;                     /* streamed: the rows, in order */
    size_t nslices, cap;
    struct wjob *next;                 /* in the queue */
} wjob;

struct query_pool {
    query *q;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wjob *head, *tail;
    size_t queued;                     /* jobs queued or being written */
    int closed, failed;
    char error[ERR_MSG_BYTES];
    wjob **jobs;                       /* every job, in chunk order */
    size_t njobs, cap;
    pthread_t th[8];
    size_t nthreads;
    /* with a progress hook: what the writers stored (under mu), and what
     * the call had reported before this pool started */
    uint64_t stored_rows, stored_chunks, stored_bytes;
    udr_work_progress base;
    /* streamed: the columns __udr_part() returns */
    duckdb_logical_type *types;
    char **names;
    size_t ncols;
};

static void held_release(held_chunk *h)
{
    if (h != NULL && atomic_fetch_sub(&h->refs, 1) == 1) {
        duckdb_destroy_data_chunk(&h->ch);
        free(h);
    }
}

static void job_release_rows(wjob *j)
{
    for (size_t i = 0; i < j->nslices; i++)
        held_release(j->slices[i].h);
    free(j->slices);
    j->slices = NULL;
    j->nslices = j->cap = 0;
}

static void pool_fail(query_pool *p, const char *why)
{
    pthread_mutex_lock(&p->mu);
    if (!p->failed)
        snprintf(p->error, sizeof p->error, "%s", why);
    p->failed = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *pool_thread(void *arg)
{
    query_pool *p = arg;
    duckdb_connection con;
    if (duckdb_connect(p->q->db, &con) != DuckDBSuccess) {
        pool_fail(p, "cannot open a DuckDB connection");
        return NULL;
    }
    /* Each thread adopts its own files, with a store handle of its own for
     * its error messages. */
    udr_err err = {0, ""};
    store st = *p->q->store;
    st.err = &err;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->head == NULL && !p->closed && !p->failed)
            pthread_cond_wait(&p->cv, &p->mu);
        wjob *j = p->failed ? NULL : p->head;
        if (j != NULL) {
            p->head = j->next;
            if (p->head == NULL)
                p->tail = NULL;
        }
        pthread_mutex_unlock(&p->mu);
        if (j == NULL)
            break;
        duckdb_result r;
        int ok = duckdb_query(con, j->sql, &r) == DuckDBSuccess;
        if (!ok)
            pool_fail(p, duckdb_result_error(&r));
        duckdb_destroy_result(&r);
        job_release_rows(j);
        if (ok && store_adopt(&st, j->path, &j->hash, &j->fresh) != UDR_OK)
            pool_fail(p, err.msg);
        else if (ok)
            j->adopted = 1;
        uint64_t size = 0;
        if (j->adopted && p->q->progress != NULL)
            store_size(&st, &j->hash, &size);
        pthread_mutex_lock(&p->mu);
        if (j->adopted) {
            p->stored_rows += j->rows;
            p->stored_chunks++;
            p->stored_bytes += size;
        }
        p->queued--;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    duckdb_disconnect(&con);
    return NULL;
}

static int pool_start(query *q, query_pool *p)
{
    memset(p, 0, sizeof *p);
    p->q = q;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    /* One writer per core, and one more to use a core while another
     * waits for its fsync. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cpus < 1 ? 2 : (size_t)cpus + 1;
    if (want > sizeof p->th / sizeof p->th[0])
        want = sizeof p->th / sizeof p->th[0];
    for (; p->nthreads < want; p->nthreads++)
        if (pthread_create(&p->th[p->nthreads], NULL, pool_thread, p) != 0)
            break;
    if (p->nthreads == 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        return err_set(q->err, UDR_ERROR, "cannot start a thread to write chunks");
    }
    q->pool = p;
    p->base = q->prog;
    return UDR_OK;
}

/* Tells the hook what the writers stored so far. Only the thread that runs
 * the pool calls it, never with mu held. */
static void pool_report(query_pool *p)
{
    if (p->q->progress == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    uint64_t rows = p->stored_rows, chunks = p->stored_chunks, bytes = p->stored_bytes;
    pthread_mutex_unlock(&p->mu);
    query_progress_note(p->q, "writing chunks", p->base.rows + rows, p->base.chunks + chunks,
                        p->base.bytes + bytes);
}

/* A new job for the next chunk, its file named; NULL (error set) if out of
 * memory. Jobs are only added by the thread that runs the pool. */
static wjob *pool_job(query_pool *p)
{
    query *q = p->q;
    wjob *j = calloc(1, sizeof *j);
    if (j == NULL) {
        err_set(q->err, UDR_ENOMEM, "out of memory");
        return NULL;
    }
    if (fs_path(j->path, sizeof j->path, "%s/tmp/chunk.%ld.%llu.parquet", q->root,
                (long)getpid(), (unsigned long long)next_tmp_seq()) != 0) {
        free(j);
        err_set(q->err, UDR_EINVAL, "repository path too long: %s", q->root);
        return NULL;
    }
    pthread_mutex_lock(&p->mu);
    if (p->njobs == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        wjob **jobs = realloc(p->jobs, cap * sizeof *jobs);
        if (jobs == NULL) {
            pthread_mutex_unlock(&p->mu);
            free(j);
            err_set(q->err, UDR_ENOMEM, "out of memory");
            return NULL;
        }
        p->jobs = jobs;
        p->cap = cap;
    }
    p->jobs[p->njobs++] = j;
    pthread_mutex_unlock(&p->mu);
    return j;
}

/* Queues a job; with wait, first waits while the writers have two jobs
 * each in hand. 0 if the pool has failed. */
static int pool_submit(query_pool *p, wjob *j, int wait)
{
    pthread_mutex_lock(&p->mu);
    while (wait && !p->failed && p->queued >= 2 * p->nthreads)
        pthread_cond_wait(&p->cv, &p->mu);
    int ok = !p->failed;
    if (ok) {
        p->queued++;
        if (p->tail)
            p->tail->next = j;
        else
            p->head = j;
        p->tail = j;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    pool_report(p);
    return ok;
}

/* Waits for the writers; on success (and keep) the chunks go to *out
 * (malloc'd, in order) and the counts to info. Temporary files left by a
 * failure are removed; chunks already adopted stay for GC. */
static int pool_finish(query_pool *p, int keep, cat_chunk **out, size_t *n,
                       udr_write_info *info)
{
    query *q = p->q;
    pthread_mutex_lock(&p->mu);
    while (keep && q->progress != NULL && p->queued > 0 && !p->failed) {
        uint64_t before = p->stored_chunks;
        pthread_cond_wait(&p->cv, &p->mu);
        if (p->stored_chunks != before) {
            pthread_mutex_unlock(&p->mu);
            pool_report(p);
            pthread_mutex_lock(&p->mu);
        }
    }
    p->closed = 1;
    if (!keep)
        p->failed = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->th[i], NULL);
    q->pool = NULL;
    int rc = UDR_OK;
    if (keep && p->failed)
        rc = err_set(q->err, UDR_EINVAL, "cannot write a chunk: %s", p->error);
    if (keep && rc == UDR_OK) {
        *out = calloc(p->njobs ? p->njobs : 1, sizeof **out);
        if (*out == NULL)
            rc = err_set(q->err, UDR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->njobs; i++) {
        wjob *j = p->jobs[i];
        if (keep && rc == UDR_OK) {
            uint64_t size = 0;
            store_size(q->store, &j->hash, &size);
            (*out)[i] = (cat_chunk){j->hash, j->rows, size, j->has_range, j->lo, j->hi};
            info->bytes += size;
            if (j->fresh) {
                info->new_chunks++;
                info->new_bytes += size;
            }
        }
        if (!j->adopted)
            unlink(j->path);
        job_release_rows(j);
        free(j->sql);
        free(j);
    }
    if (keep && rc == UDR_OK) {
        *n = p->njobs;
        info->chunks += p->njobs;
    }
    free(p->jobs);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    return rc;
}

/* The first key's range of each written chunk of the staged rows (sorted
 * by it): its values at the chunk's first and last row. */
static int fill_ranges(query *q, const schema *s, const char *const *key, const cuts *c,
                       cat_chunk *out, size_t n)
{
    if (key == NULL || key[0] == NULL || !ranged_type(type_of(s->cols, s->n, key[0])) ||
        n != c->n)
        return UDR_OK;
    buf b;
    buf_init(&b);
    buf_adds(&b, "SELECT rowid, CAST(");
    qi_add_ident(&b, key[0]);
    buf_adds(&b, " AS BIGINT) FROM __udr_rows WHERE rowid IN (");
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s%llu, %llu", i ? ", " : "", (unsigned long long)c->at[i],
                   (unsigned long long)(c->at[i + 1] > c->at[i] ? c->at[i + 1] - 1 : c->at[i]));
    buf_adds(&b, ") ORDER BY rowid");
    duckdb_result r;
    int rc = qi_exec_result(q, &b, &r, "cannot read key ranges");
    if (rc)
        return rc;
    idx_t k = 0, m = duckdb_row_count(&r);
    for (size_t i = 0; i < n; i++) {
        if (c->at[i + 1] <= c->at[i])
            continue;                  /* an empty chunk: no range */
        uint64_t first = c->at[i], last = c->at[i + 1] - 1;
        while (k < m && (uint64_t)duckdb_value_int64(&r, 0, k) < first)
            k++;
        if (k >= m || (uint64_t)duckdb_value_int64(&r, 0, k) != first)
            continue;
        int64_t lo = duckdb_value_int64(&r, 1, k);
        idx_t e = k;
        while (e < m && (uint64_t)duckdb_value_int64(&r, 0, e) < last)
            e++;
        if (e >= m || (uint64_t)duckdb_value_int64(&r, 0, e) != last)
            continue;
        out[i].has_range = 1;
        out[i].lo = lo;
        out[i].hi = duckdb_value_int64(&r, 1, e);
    }
    duckdb_destroy_result(&r);
    return UDR_OK;
}

/* Writes the staged rows' chunks (sorted by key, when key is given). */
int qi_write_chunks(query *q, const schema *s, const char *const *key, const cuts *c,
                        cat_chunk **out, size_t *n, udr_write_info *info)
{
    query_pool p;
    int rc = pool_start(q, &p);
    if (rc)
        return rc;
    for (size_t i = 0; i < c->n && rc == UDR_OK; i++) {
        wjob *j = pool_job(&p);
        if (j == NULL || (j->sql = chunk_copy_sql(s, c, i, j->path)) == NULL) {
            rc = q->err->code ? q->err->code : err_set(q->err, UDR_ENOMEM, "out of memory");
            break;
        }
        j->rows = c->at[i + 1] - c->at[i];
        pool_submit(&p, j, 0);
    }
    int frc = pool_finish(&p, rc == UDR_OK, out, n, info);
    if (rc == UDR_OK && frc == UDR_OK)
        frc = fill_ranges(q, s, key, c, *out, *n);
    return rc ? rc : frc;
}

/* ---- __udr_part(N): the rows of streamed chunk N, to the writer's COPY ---- */

typedef struct part_cursor {
    const wjob *j;
    size_t next;
} part_cursor;

static void part_bind(duckdb_bind_info info)
{
    query *q = duckdb_bind_get_extra_info(info);
    query_pool *p = q->pool;
    duckdb_value v = duckdb_bind_get_parameter(info, 0);
    int64_t id = duckdb_get_int64(v);
    duckdb_destroy_value(&v);
    const wjob *j = NULL;
    if (p != NULL && p->types != NULL) {
        pthread_mutex_lock(&p->mu);
        if (id >= 0 && (uint64_t)id < p->njobs)
            j = p->jobs[id];
        pthread_mutex_unlock(&p->mu);
    }
    if (j == NULL) {
        duckdb_bind_set_error(info, "__udr_part: no such chunk being written");
        return;
    }
    for (size_t i = 0; i < p->ncols; i++)
        duckdb_bind_add_result_column(info, p->names[i], p->types[i]);
    duckdb_bind_set_bind_data(info, (void *)j, NULL);
}

static void part_init(duckdb_init_info info)
{
    part_cursor *c = calloc(1, sizeof *c);
    if (c == NULL) {
        duckdb_init_set_error(info, "out of memory");
        return;
    }
    c->j = duckdb_init_get_bind_data(info);
    duckdb_init_set_init_data(info, c, free);
}

static void part_scan(duckdb_function_info info, duckdb_data_chunk out)
{
    part_cursor *c = duckdb_function_get_init_data(info);
    if (c->next >= c->j->nslices) {
        duckdb_data_chunk_set_size(out, 0);
        return;
    }
    const slice *sl = &c->j->slices[c->next++];
    duckdb_selection_vector sel = NULL;
    if (sl->off != 0 || sl->len != duckdb_data_chunk_get_size(sl->h->ch)) {
        sel = duckdb_create_selection_vector(sl->len);
        sel_t *d = duckdb_selection_vector_get_data_ptr(sel);
        for (idx_t i = 0; i < sl->len; i++)
            d[i] = (sel_t)(sl->off + i);
    }
    idx_t ncols = duckdb_data_chunk_get_column_count(out);
    for (idx_t k = 0; k < ncols; k++) {
        duckdb_vector v = duckdb_data_chunk_get_vector(out, k);
        duckdb_vector_reference_vector(v, duckdb_data_chunk_get_vector(sl->h->ch, k));
        if (sel != NULL)
            duckdb_slice_vector(v, sel, sl->len);
    }
    if (sel != NULL)
        duckdb_destroy_selection_vector(sel);
    duckdb_data_chunk_set_size(out, sl->len);
}

static int register_part_function(query *q)
{
    static const duckdb_type params[] = {DUCKDB_TYPE_BIGINT};
    return qi_register_table_function(q, "__udr_part", params, 1, part_bind, part_init,
                                      part_scan);
}

/* ---- the streamed path -------------------------------------------------------

   The source is read once, as DuckDB produces it: each row's hash decides
   where chunks end, and each chunk goes to a writer as soon as its last row
   has arrived. Nothing is staged, so memory stays at a few chunks whatever
   the table's size. With a key, the rows must arrive in strictly increasing
   key order (data exported in key order does); the first row out of order,
   a repeated or a NULL key, or a key type compared here only by DuckDB,
   hands the write to the staged path, which sorts and checks. */

typedef enum { KEY_SIGNED, KEY_UNSIGNED, KEY_HUGE, KEY_TEXT, KEY_BOOL } key_kind;

typedef struct key_col {
    idx_t col;
    key_kind kind;
    size_t width;                      /* bytes, for the integer kinds */
} key_col;

/* How a key column's values compare, from its type; 0 if not here. */
static int key_kind_of(duckdb_logical_type t, key_col *k)
{
    duckdb_type id = duckdb_get_type_id(t);
    if (id == DUCKDB_TYPE_DECIMAL)
        id = duckdb_decimal_internal_type(t);
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN:
        k->kind = KEY_BOOL, k->width = 1;
        return 1;
    case DUCKDB_TYPE_TINYINT:
        k->kind = KEY_SIGNED, k->width = 1;
        return 1;
    case DUCKDB_TYPE_SMALLINT:
        k->kind = KEY_SIGNED, k->width = 2;
        return 1;
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_DATE:
        k->kind = KEY_SIGNED, k->width = 4;
        return 1;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        k->kind = KEY_SIGNED, k->width = 8;
        return 1;
    case DUCKDB_TYPE_UTINYINT:
        k->kind = KEY_UNSIGNED, k->width = 1;
        return 1;
    case DUCKDB_TYPE_USMALLINT:
        k->kind = KEY_UNSIGNED, k->width = 2;
        return 1;
    case DUCKDB_TYPE_UINTEGER:
        k->kind = KEY_UNSIGNED, k->width = 4;
        return 1;
    case DUCKDB_TYPE_UBIGINT:
        k->kind = KEY_UNSIGNED, k->width = 8;
        return 1;
    case DUCKDB_TYPE_HUGEINT:         /* a DECIMAL's, here: HUGEINT columns are text */
        k->kind = KEY_HUGE, k->width = 16;
        return 1;
    case DUCKDB_TYPE_VARCHAR:
        k->kind = KEY_TEXT, k->width = sizeof(duckdb_string_t);
        return 1;
    default:
        return 0;
    }
}

static int64_t signed_at(const void *d, size_t w, idx_t i)
{
    switch (w) {
    case 1: return ((const int8_t *)d)[i];
    case 2: return ((const int16_t *)d)[i];
    case 4: return ((const int32_t *)d)[i];
    default: return ((const int64_t *)d)[i];
    }
}

static uint64_t unsigned_at(const void *d, size_t w, idx_t i)
{
    switch (w) {
    case 1: return ((const uint8_t *)d)[i];
    case 2: return ((const uint16_t *)d)[i];
    case 4: return ((const uint32_t *)d)[i];
    default: return ((const uint64_t *)d)[i];
    }
}

static int cmp3(int lt, int gt)
{
    return lt ? -1 : gt ? 1 : 0;
}

/* Compares row a of chunk ca with row b of chunk cb on one key column, as
 * DuckDB orders them (strings: bytes, then length). */
static int key_cmp(const key_col *k, duckdb_data_chunk ca, idx_t a, duckdb_data_chunk cb, idx_t b)
{
    const void *da = duckdb_vector_get_data(duckdb_data_chunk_get_vector(ca, k->col));
    const void *db = duckdb_vector_get_data(duckdb_data_chunk_get_vector(cb, k->col));
    switch (k->kind) {
    case KEY_SIGNED: {
        int64_t x = signed_at(da, k->width, a), y = signed_at(db, k->width, b);
        return cmp3(x < y, x > y);
    }
    case KEY_UNSIGNED: {
        uint64_t x = unsigned_at(da, k->width, a), y = unsigned_at(db, k->width, b);
        return cmp3(x < y, x > y);
    }
    case KEY_BOOL: {
        int x = ((const bool *)da)[a], y = ((const bool *)db)[b];
        return cmp3(x < y, x > y);
    }
    case KEY_HUGE: {
        duckdb_hugeint x = ((const duckdb_hugeint *)da)[a], y = ((const duckdb_hugeint *)db)[b];
        if (x.upper != y.upper)
            return cmp3(x.upper < y.upper, x.upper > y.upper);
        return cmp3(x.lower < y.lower, x.lower > y.lower);
    }
    case KEY_TEXT: {
        duckdb_string_t *x = &((duckdb_string_t *)da)[a], *y = &((duckdb_string_t *)db)[b];
        uint32_t lx = duckdb_string_t_length(*x), ly = duckdb_string_t_length(*y);
        int c = memcmp(duckdb_string_t_data(x), duckdb_string_t_data(y), lx < ly ? lx : ly);
        return c ? cmp3(c < 0, c > 0) : cmp3(lx < ly, lx > ly);
    }
    }
    return 0;
}

static int key_has_null(const key_col *keys, size_t nkeys, duckdb_data_chunk ch, idx_t row)
{
    for (size_t i = 0; i < nkeys; i++) {
        uint64_t *valid = duckdb_vector_get_validity(duckdb_data_chunk_get_vector(ch, keys[i].col));
        if (valid != NULL && !duckdb_validity_row_is_valid(valid, row))
            return 1;
    }
    return 0;
}

/* Widens job j's key range by the len rows at off of ch (in key order). */
static void note_range(wjob *j, const key_col *k, duckdb_data_chunk ch, idx_t off, idx_t len)
{
    if (len == 0)
        return;
    const void *d = duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, k->col));
    int64_t first = k->kind == KEY_SIGNED ? signed_at(d, k->width, off)
                                          : (int64_t)unsigned_at(d, k->width, off);
    int64_t last = k->kind == KEY_SIGNED ? signed_at(d, k->width, off + len - 1)
                                         : (int64_t)unsigned_at(d, k->width, off + len - 1);
    if (!j->has_range)
        j->lo = first;
    j->has_range = 1;
    j->hi = last;
}

static int slice_add(query *q, wjob *j, held_chunk *h, idx_t off, idx_t len)
{
    if (len == 0)
        return UDR_OK;
    if (j->nslices == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        slice *s = realloc(j->slices, cap * sizeof *s);
        if (s == NULL)
            return err_set(q->err, UDR_ENOMEM, "out of memory");
        j->slices = s;
        j->cap = cap;
    }
    atomic_fetch_add(&h->refs, 1);
    j->slices[j->nslices++] = (slice){h, off, len};
    j->rows += len;
    return UDR_OK;
}

static int stream_job(query_pool *p, wjob **out)
{
    wjob *j = pool_job(p);
    if (j == NULL)
        return p->q->err->code;
    buf b;
    buf_init(&b);
    buf_printf(&b, "COPY (SELECT * FROM __udr_part(%zu)) TO ", p->njobs - 1);
    qi_add_literal(&b, j->path);
    buf_adds(&b, " " CHUNK_FORMAT);
    if ((j->sql = buf_take(&b, NULL)) == NULL)
        return err_set(p->q->err, UDR_ENOMEM, "out of memory");
    *out = j;
    return UDR_OK;
}

/* Writes the rows of src (parenthesised) as chunks, if it can: *streamed
 * says whether it did. s: the source's columns; key: NULL or the key. */
static int write_streamed(query *q, const char *src, const schema *s, const char *const *key,
                          cat_chunk **out, size_t *n, uint64_t *rows, udr_write_info *info,
                          int *streamed)
{
    *streamed = 0;
    size_t nkeys = 0;
    while (key != NULL && key[nkeys] != NULL)
        nkeys++;
    key_col keys[16];
    if (nkeys > sizeof keys / sizeof keys[0])
        return UDR_OK;
    buf b;
    buf_init(&b);
    buf_adds(&b, "SELECT ");
    add_stored_columns(&b, s);
    buf_adds(&b, ", hash(");
    if (nkeys)
        add_key_list(&b, key);
    else
        qi_add_column_list(&b, s);
    buf_adds(&b, ") AS __udr_h FROM ");
    buf_adds(&b, src);
    buf_adds(&b, " AS __udr_src");
    char *sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    duckdb_prepared_statement ps;
    int prepared = duckdb_prepare(q->con, sql, &ps) == DuckDBSuccess;
    free(sql);
    if (!prepared) {
        duckdb_destroy_prepare(&ps);
        return UDR_OK;                 /* e.g. a key column missing: staged says */
    }
    size_t ncols = (size_t)duckdb_prepared_statement_column_count(ps);
    int usable = ncols == s->n + 1;
    for (size_t i = 0; usable && i < nkeys; i++) {
        usable = 0;
        for (size_t c = 0; c < s->n; c++)
            if (strcmp(s->cols[c].name, key[i]) == 0 && !stored_as_text(s->cols[c].type)) {
                duckdb_logical_type t = duckdb_prepared_statement_column_logical_type(ps, c);
                keys[i].col = c;
                usable = key_kind_of(t, &keys[i]);
                duckdb_destroy_logical_type(&t);
            }
    }
    if (!usable) {
        duckdb_destroy_prepare(&ps);
        return UDR_OK;
    }
    query_pool p;
    int rc = pool_start(q, &p);
    if (rc) {
        duckdb_destroy_prepare(&ps);
        return rc;
    }
    p.ncols = s->n;
    p.types = calloc(s->n, sizeof *p.types);
    p.names = calloc(s->n, sizeof *p.names);
    if (p.types == NULL || p.names == NULL)
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
    for (size_t c = 0; rc == UDR_OK && c < s->n; c++) {
        p.types[c] = duckdb_prepared_statement_column_logical_type(ps, c);
        p.names[c] = s->cols[c].name;
    }
    duckdb_result r;
    int executing = 0;
    if (rc == UDR_OK) {
        if (duckdb_execute_prepared_streaming(ps, &r) != DuckDBSuccess) {
            rc = db_error(q, "cannot read the rows to write", duckdb_result_error(&r));
            duckdb_destroy_result(&r);
        } else {
            executing = 1;
        }
    }
    /* The loop: cut, check the key order, hand full chunks to the writers. */
    const query_chunking *k = &q->chunking;
    int fallback = 0;
    uint64_t total = 0, in_chunk = 0;
    /* An integer first key: each chunk's first and last values (the rows
     * come in key order) are its range. */
    int ranged = nkeys > 0 && ranged_type(type_of(s->cols, s->n, key[0])) &&
                 (keys[0].kind == KEY_SIGNED || keys[0].kind == KEY_UNSIGNED);
    held_chunk *prev = NULL;
    idx_t prev_row = 0;
    wjob *cur = NULL;
    if (rc == UDR_OK)
        rc = stream_job(&p, &cur);
    while (rc == UDR_OK && !fallback) {
        duckdb_data_chunk ch = duckdb_fetch_chunk(r);
        if (ch == NULL)
            break;
        held_chunk *h = malloc(sizeof *h);
        if (h == NULL) {
            duckdb_destroy_data_chunk(&ch);
            rc = err_set(q->err, UDR_ENOMEM, "out of memory");
            break;
        }
        h->ch = ch;
        atomic_init(&h->refs, 1);
        idx_t size = duckdb_data_chunk_get_size(ch), from = 0;
        const uint64_t *hash = duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, s->n));
        for (idx_t i = 0; i < size && rc == UDR_OK; i++) {
            if (nkeys) {
                if (key_has_null(keys, nkeys, ch, i)) {
                    fallback = 1;
                    break;
                }
                if (prev != NULL) {
                    int c = 0;
                    for (size_t kk = 0; kk < nkeys && c == 0; kk++)
                        c = key_cmp(&keys[kk], prev->ch, prev_row, ch, i);
                    if (c >= 0) {      /* out of order, or repeated */
                        fallback = 1;
                        break;
                    }
                }
                if (prev != h) {
                    held_release(prev);
                    atomic_fetch_add(&h->refs, 1);
                    prev = h;
                }
                prev_row = i;
            }
            total++;
            if (cut_after(k, ++in_chunk, hash[i])) {
                if (ranged)
                    note_range(cur, &keys[0], ch, from, i + 1 - from);
                if ((rc = slice_add(q, cur, h, from, i + 1 - from)) != UDR_OK)
                    break;
                from = i + 1;
                in_chunk = 0;
                if (!pool_submit(&p, cur, 1))
                    break;            /* a writer failed: pool_finish says */
                rc = stream_job(&p, &cur);
            }
        }
        if (rc == UDR_OK && !fallback) {
            if (ranged)
                note_range(cur, &keys[0], ch, from, size - from);
            rc = slice_add(q, cur, h, from, size - from);
        }
        held_release(h);
        pthread_mutex_lock(&p.mu);
        int failed = p.failed;
        pthread_mutex_unlock(&p.mu);
        if (failed)
            break;
    }
    held_release(prev);
    if (executing && rc == UDR_OK && !fallback && duckdb_result_error(&r) != NULL)
        rc = db_error(q, "cannot read the rows to write", duckdb_result_error(&r));
    /* The last chunk: what is left, or one empty chunk for no rows at all. */
    if (rc == UDR_OK && !fallback && cur != NULL && (cur->rows > 0 || total == 0))
        pool_submit(&p, cur, 1);
    else if (cur != NULL && rc == UDR_OK && !fallback) {
        /* an empty job after the last cut: not a chunk */
        pthread_mutex_lock(&p.mu);
        p.njobs--;
        pthread_mutex_unlock(&p.mu);
        job_release_rows(cur);
        free(cur->sql);
        free(cur);
    }
    int keep = rc == UDR_OK && !fallback;
    int frc = pool_finish(&p, keep, out, n, info);
    if (executing)
        duckdb_destroy_result(&r);
    duckdb_destroy_prepare(&ps);
    for (size_t c = 0; p.types != NULL && c < s->n; c++)
        if (p.types[c] != NULL)
            duckdb_destroy_logical_type(&p.types[c]);
    free(p.types);
    free(p.names);
    if (rc)
        return rc;
    if (keep) {
        *streamed = 1;
        *rows = total;
        return frc;
    }
    memset(info, 0, sizeof *info);
    return UDR_OK;
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
        qi_add_ident(&b, key[i]);
    }
    buf_adds(&b, ") AS a FROM __udr_rows) POSITIONAL JOIN (SELECT (");
    for (size_t i = 0; key[i]; i++) {
        buf_printf(&b, "%s", i ? ", " : "");
        qi_add_ident(&b, key[i]);
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

int qi_stage(query *q, const char *src_sql, const char *const *key, const cat_tablever *old,
                 int append)
{
    buf b;
    char *sub = parenthesise(src_sql);
    if (sub == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    /* The source's schema without running it; then one pass into the staging
     * table (a plain table, so that several connections can write chunks). */
    schema src = {0};
    int rc = qi_read_schema(q, sub, &src);
    if (rc) {
        free(sub);
        return rc;
    }
    buf_init(&b);
    buf_adds(&b, "CREATE OR REPLACE TABLE __udr_rows AS SELECT ");
    if (append && old != NULL) {
        /* The appended rows take the table's columns and types. */
        for (size_t i = 0; i < old->ncols; i++) {
            if (!qi_has_column(&src, old->cols[i].name)) {
                rc = err_set(q->err, UDR_EINVAL,
                             "the rows have no column %s (the table's columns must all be "
                             "there; to change the schema, write the whole table)",
                             old->cols[i].name);
                qi_schema_free(&src);
                buf_free(&b);
                free(sub);
                return rc;
            }
            if (i)
                buf_adds(&b, ", ");
            buf_adds(&b, "CAST(");
            qi_add_ident(&b, old->cols[i].name);
            buf_printf(&b, " AS %s) AS ", old->cols[i].type);
            qi_add_ident(&b, old->cols[i].name);
        }
        if (src.n != old->ncols) {
            rc = err_set(q->err, UDR_EINVAL,
                         "the rows have %zu columns and the table %zu (to change the schema, "
                         "write the whole table)",
                         src.n, old->ncols);
            qi_schema_free(&src);
            buf_free(&b);
            free(sub);
            return rc;
        }
    } else {
        qi_add_column_list(&b, &src);
    }
    buf_adds(&b, ", hash(");
    if (key != NULL && key[0] != NULL)
        add_key_list(&b, key);
    else
        qi_add_column_list(&b, &src);
    buf_adds(&b, ") AS __udr_h FROM ");
    buf_adds(&b, sub);
    buf_adds(&b, " AS __udr_src");
    free(sub);
    qi_schema_free(&src);
    char *sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    query_progress_note(q, "reading", 0, 0, 0);
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
        qi_object_path(q, &old->chunks[i].hash, path, sizeof path);
        if (i)
            buf_adds(&b, ", ");
        qi_add_literal(&b, path);
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
    qi_add_key_text(&b, key);
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

/* The appended (staged) rows' keys must be new: with chunk key ranges,
 * only the chunks whose range meets the new keys' are read (none, for keys
 * above every key: an append at the end); else the table's keys are. */
static int check_appended_keys(query *q, const char *table, const cat_tablever *old,
                               const char *const *key)
{
    int known = prunable_key(old) && strcmp(key[0], old->key[0]) == 0;
    for (size_t i = 0; known && i < old->nchunks; i++)
        known = old->chunks[i].has_range || old->chunks[i].rows == 0;
    if (!known) {
        int above = 0;
        int rc = keys_above(q, old, key, &above);
        return rc != UDR_OK || above ? rc : check_new_keys(q, table, old, key);
    }
    buf b;
    buf_init(&b);
    buf_adds(&b, "SELECT CAST(min(");
    qi_add_ident(&b, key[0]);
    buf_adds(&b, ") AS BIGINT), CAST(max(");
    qi_add_ident(&b, key[0]);
    buf_adds(&b, ") AS BIGINT) FROM __udr_rows");
    duckdb_result r;
    int rc = qi_exec_result(q, &b, &r, "cannot read the appended keys");
    if (rc)
        return rc;
    int none = duckdb_value_is_null(&r, 0, 0);
    int64_t lo = duckdb_value_int64(&r, 0, 0), hi = duckdb_value_int64(&r, 1, 0);
    duckdb_destroy_result(&r);
    if (none)
        return UDR_OK;
    cat_tablever view = *old;
    view.nchunks = 0;
    if ((view.chunks = calloc(old->nchunks + 1, sizeof *view.chunks)) == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    for (size_t i = 0; i < old->nchunks; i++)
        if (old->chunks[i].rows > 0 && old->chunks[i].lo <= hi && old->chunks[i].hi >= lo)
            view.chunks[view.nchunks++] = old->chunks[i];
    if (view.nchunks > 0)
        rc = check_new_keys(q, table, &view, key);
    free(view.chunks);
    return rc;
}

uint64_t qi_count_of(query *q, const char *table_name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table_name);
    char *v = scalar(q, sql, "cannot count rows");
    uint64_t n = v ? strtoull(v, NULL, 10) : 0;
    free(v);
    return n;
}

/* Writes the rows (chunk, "row") of select_sql, sorted, as a delete file. */
int qi_write_delete_file(query *q, const char *select_sql, uint64_t rows, cat_chunk *del,
                             udr_write_info *info)
{
    char tmp[PATH_MAX];
    if (fs_path(tmp, sizeof tmp, "%s/tmp/delete.%ld.%llu.parquet", q->root, (long)getpid(),
                (unsigned long long)next_tmp_seq()) != 0)
        return err_set(q->err, UDR_EINVAL, "repository path too long");
    buf b;
    buf_init(&b);
    buf_adds(&b, "COPY (SELECT chunk, \"row\" FROM (");
    buf_adds(&b, select_sql);
    buf_adds(&b, ") ORDER BY 1, 2) TO ");
    qi_add_literal(&b, tmp);
    buf_adds(&b, " " DELTA_FORMAT);
    int rc = qi_exec_buf(q, &b, "cannot write a delete file"), fresh = 0;
    if (rc == UDR_OK && (rc = store_adopt(q->store, tmp, &del->hash, &fresh)) == UDR_OK) {
        uint64_t size = 0;
        store_size(q->store, &del->hash, &size);
        del->rows = rows;
        del->bytes = 0;
        if (fresh)
            info->new_bytes += size;
    }
    if (rc)
        unlink(tmp);
    return rc;
}

/* Writes the rows of old that changed as a delete file and leaves only the
 * new and changed rows staged, if the change is small: at most a fifth of
 * the rows, old's deletes, with these, at most 1/QUERY_COMPACT_SHARE of
 * its chunks' rows, and old's patches, with these, no more rows than its
 * chunks hold (beyond that, a full rewrite is the compaction; an UPDATE
 * whose patch would pass that bound comes here for it, see
 * change_by_patch). *delta says which. */
static int try_delta(query *q, const cat_tablever *old, const schema *s, const char *const *key,
                     uint64_t *staged_rows, int *delta, cat_chunk *del, udr_write_info *info)
{
    *delta = 0;
    uint64_t chunk_rows = 0;
    for (size_t i = 0; i < old->nchunks; i++)
        chunk_rows += old->chunks[i].rows;
    uint64_t old_deleted = chunk_rows - old->rows, old_patched = 0;
    for (size_t i = 0; i < old->npatches; i++)
        old_patched += old->patches[i].rows;
    buf b;
    buf_init(&b);
    buf_adds(&b, "CREATE OR REPLACE TABLE __udr_old AS ");
    add_scan(&b, q, old, 1);
    buf_adds(&b, "; CREATE OR REPLACE TABLE __udr_ins AS SELECT ");
    qi_add_column_list(&b, s);
    buf_adds(&b, " FROM __udr_rows EXCEPT SELECT ");
    qi_add_column_list(&b, s);
    buf_adds(&b, " FROM __udr_old; CREATE OR REPLACE TABLE __udr_gone AS SELECT ");
    add_key_list(&b, key);
    buf_adds(&b, " FROM (SELECT ");
    qi_add_column_list(&b, s);
    buf_adds(&b, " FROM __udr_old EXCEPT SELECT ");
    qi_add_column_list(&b, s);
    buf_adds(&b, " FROM __udr_rows)");
    char *sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    int rc = exec(q, sql, NULL, "cannot compare with the current version");
    free(sql);
    uint64_t nins = rc ? 0 : qi_count_of(q, "__udr_ins"), ngone = rc ? 0 : qi_count_of(q, "__udr_gone");
    if (rc || (nins + ngone) * 5 > *staged_rows ||
        (old_deleted + ngone) * QUERY_COMPACT_SHARE > chunk_rows ||
        old_patched + ngone > chunk_rows)
        goto out;
    if (ngone > 0) {
        buf_init(&b);
        buf_adds(&b, "SELECT string_split(filename, '/')[-1] AS chunk, file_row_number AS "
                     "\"row\" FROM __udr_old SEMI JOIN __udr_gone USING (");
        add_key_list(&b, key);
        buf_addc(&b, ')');
        if ((sql = buf_take(&b, NULL)) == NULL) {
            rc = err_set(q->err, UDR_ENOMEM, "out of memory");
            goto out;
        }
        rc = qi_write_delete_file(q, sql, ngone, del, info);
        free(sql);
    }
    if (rc == UDR_OK && (rc = qi_stage(q, "SELECT * FROM __udr_ins", key, NULL, 0)) == UDR_OK) {
        *staged_rows = nins;
        *delta = 1;
    }
out:
    exec(q, "DROP TABLE IF EXISTS __udr_old; DROP TABLE IF EXISTS __udr_ins; "
            "DROP TABLE IF EXISTS __udr_gone", NULL, "");
    return rc;
}

int qi_has_chunk(const cat_chunk *v, size_t n, const udr_hash *h)
{
    for (size_t i = 0; i < n; i++)
        if (hash_equal(&v[i].hash, h))
            return 1;
    return 0;
}


size_t qi_patch_prefix(const cat_tablever *a, const cat_tablever *b)
{
    size_t n = 0;
    while (n < a->npatches && n < b->npatches &&
           hash_equal(&a->patches[n].hash, &b->patches[n].hash))
        n++;
    return n;
}

static void add_chunk_names(buf *b, const cat_chunk *v, size_t n)
{
    buf_addc(b, '(');
    for (size_t i = 0; i < n; i++) {
        char hex[UDR_HASH_HEX + 1];
        hash_to_hex(&v[i].hash, hex);
        buf_printf(b, "%s'%s'", i ? ", " : "", hex);
    }
    buf_addc(b, ')');
}

/* ---- pruning chunks by key ----------------------------------------------- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* An identifier at *p (plain or "quoted") into out; 0 if there is none. */
static int take_ident(const char **p, char *out, size_t size)
{
    const char *s = *p;
    size_t n = 0;
    if (*s == '"') {
        for (s++; *s && n + 1 < size; s++) {
            if (*s == '"' && s[1] == '"')
                s++;
            else if (*s == '"')
                break;
            out[n++] = *s;
        }
        if (*s != '"')
            return 0;
        s++;
    } else {
        while ((isalnum((unsigned char)*s) || *s == '_') && n + 1 < size)
            out[n++] = *s++;
        if (n == 0 || isdigit((unsigned char)out[0]))
            return 0;
    }
    out[n] = '\0';
    *p = s;
    return 1;
}

/* The values of a condition `key = v` or `key IN (v, ...)` on the first key
 * column (qualified by the table's name or not), whole numbers; *n 0 for any
 * other condition. *vals is malloc'd. */
static void key_values(const char *where, const cat_tablever *tv, const char *table,
                       int64_t **vals, size_t *n)
{
    *vals = NULL;
    *n = 0;
    if (where == NULL || !prunable_key(tv))
        return;
    char id[CATALOG_NAME_MAX + 2];
    const char *p = skip_ws(where);
    if (!take_ident(&p, id, sizeof id))
        return;
    if (*p == '.') {
        p++;
        if (strcasecmp(id, table) != 0 || !take_ident(&p, id, sizeof id))
            return;
    }
    if (strcasecmp(id, tv->key[0]) != 0)
        return;
    p = skip_ws(p);
    int list = 0;
    if (strncasecmp(p, "IN", 2) == 0 && *skip_ws(p + 2) == '(')
        list = 1, p = skip_ws(skip_ws(p + 2) + 1);
    else if (*p == '=')
        p = skip_ws(p + 1);
    else
        return;
    size_t cap = 0, k = 0;
    int64_t *v = NULL;
    for (;;) {
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p || errno != 0 || isalnum((unsigned char)*end) || *end == '.')
            break;
        if (k == cap) {
            int64_t *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof *v);
            if (nv == NULL)
                break;
            v = nv;
        }
        v[k++] = x;
        p = skip_ws(end);
        if (!list) {
            if (*p == '\0')
                goto ok;
            break;
        }
        if (*p == ')' && *skip_ws(p + 1) == '\0')
            goto ok;
        if (*p != ',')
            break;
        p = skip_ws(p + 1);
    }
    free(v);
    return;
ok:
    *vals = v;
    *n = k;
}

/* The key range of a chunk, from its Parquet statistics: kept per process
 * (a chunk never changes), in an open-addressing table by hash. */
static query_range *range_slot(query *q, const udr_hash *h)
{
    size_t mask = q->ranges_cap - 1, i;
    memcpy(&i, h->bytes, sizeof i);
    for (i &= mask;; i = (i + 1) & mask)
        if (!q->ranges[i].used || hash_equal(&q->ranges[i].chunk, h))
            return &q->ranges[i];
}

static int ranges_reserve(query *q, size_t more)
{
    if ((q->nranges + more) * 2 <= q->ranges_cap)
        return UDR_OK;
    size_t cap = q->ranges_cap ? q->ranges_cap : 256;
    while ((q->nranges + more) * 2 > cap)
        cap *= 2;
    query_range *old = q->ranges;
    size_t oldcap = q->ranges_cap;
    if ((q->ranges = calloc(cap, sizeof *q->ranges)) == NULL) {
        q->ranges = old;
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    }
    q->ranges_cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].used)
            *range_slot(q, &old[i].chunk) = old[i];
    free(old);
    return UDR_OK;
}

/* Reads the key ranges of tv's chunks not known yet (one footer each). */
static int load_ranges(query *q, const cat_tablever *tv)
{
    int rc = ranges_reserve(q, tv->nchunks);
    if (rc)
        return rc;
    cat_chunk *todo = calloc(tv->nchunks + 1, sizeof *todo);
    if (todo == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < tv->nchunks; i++)
        if (!tv->chunks[i].has_range && !range_slot(q, &tv->chunks[i].hash)->used)
            todo[n++] = tv->chunks[i];
    /* A few unknown chunks are cheaper to read than to look up: they are
     * kept. Many (a table written before versions kept key ranges) are
     * looked up from the second small change of the process on, when the
     * footer reads will pay for themselves. */
    if (n > QUERY_MAX_PIECES + 2 && q->small_changes++ > 0) {
        buf b;
        buf_init(&b);
        buf_adds(&b, "SELECT string_split(file_name, '/')[-1], min(TRY_CAST(stats_min_value AS "
                     "BIGINT)), max(TRY_CAST(stats_max_value AS BIGINT)), count(*) = "
                     "count(TRY_CAST(stats_min_value AS BIGINT)) AND count(*) = "
                     "count(TRY_CAST(stats_max_value AS BIGINT)) FROM parquet_metadata(");
        qi_add_path_list(&b, q, todo, n);
        buf_adds(&b, ") WHERE path_in_schema = ");
        qi_add_literal(&b, tv->key[0]);
        buf_adds(&b, " GROUP BY 1");
        duckdb_result r;
        rc = qi_exec_result(q, &b, &r, "cannot read chunk statistics");
        for (idx_t k = 0; rc == UDR_OK && k < duckdb_row_count(&r); k++) {
            char *hex = duckdb_value_varchar(&r, 0, k);
            udr_hash h;
            if (hex != NULL && udr_hash_from_hex(hex, &h) == UDR_OK) {
                query_range *g = range_slot(q, &h);
                if (!g->used)
                    q->nranges++;
                g->used = 1;
                g->chunk = h;
                g->known = duckdb_value_boolean(&r, 3, k) && !duckdb_value_is_null(&r, 1, k) &&
                           !duckdb_value_is_null(&r, 2, k);
                g->lo = duckdb_value_int64(&r, 1, k);
                g->hi = duckdb_value_int64(&r, 2, k);
            }
            duckdb_free(hex);
        }
        if (rc == UDR_OK)
            duckdb_destroy_result(&r);
        /* Chunks without statistics: kept, never ruled out. */
        for (size_t i = 0; rc == UDR_OK && i < n; i++) {
            query_range *g = range_slot(q, &todo[i].hash);
            if (!g->used) {
                g->used = 1;
                g->chunk = todo[i].hash;
                g->known = 0;
                q->nranges++;
            }
        }
    }
    free(todo);
    return rc;
}

/* The chunks of tv that may hold a row whose first key is one of vals, into
 * view (tv's other fields shared; free view->chunks only). */
static int prune_by_key(query *q, const cat_tablever *tv, const int64_t *vals, size_t nvals,
                        cat_tablever *view)
{
    *view = *tv;
    view->nchunks = 0;
    if ((view->chunks = calloc(tv->nchunks + 1, sizeof *view->chunks)) == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    int rc = load_ranges(q, tv);
    for (size_t i = 0; rc == UDR_OK && i < tv->nchunks; i++) {
        const cat_chunk *ch = &tv->chunks[i];
        const query_range *g = ch->has_range ? NULL : range_slot(q, &ch->hash);
        int known = ch->has_range || (g->used && g->known);
        int64_t lo = ch->has_range ? ch->lo : g->lo, hi = ch->has_range ? ch->hi : g->hi;
        int keep = !known;
        for (size_t k = 0; k < nvals && !keep; k++)
            keep = vals[k] >= lo && vals[k] <= hi;
        if (keep)
            view->chunks[view->nchunks++] = tv->chunks[i];
    }
    return rc;
}

/* Makes __udr_delrows hold the rows of tv's delete files (chunk, "row"):
 * files already there stay (they never change), those of other versions
 * go. */
static int cache_deletes(query *q, const cat_tablever *tv)
{
    size_t keep = 0;
    for (size_t i = 0; i < q->ndelcache; i++)
        if (qi_has_chunk(tv->deletes, tv->ndeletes, &q->delcache[i]))
            keep++;
    int rc = UDR_OK;
    if (q->ndelcache == 0)
        rc = exec(q, "CREATE OR REPLACE TABLE __udr_delrows (file VARCHAR, chunk VARCHAR, "
                     "\"row\" BIGINT)", NULL, "cannot cache deleted rows");
    if (rc == UDR_OK && keep < q->ndelcache) {
        buf b;
        buf_init(&b);
        buf_adds(&b, "DELETE FROM __udr_delrows WHERE file NOT IN ");
        add_chunk_names(&b, tv->deletes, tv->ndeletes);
        rc = qi_exec_buf(q, &b, "cannot cache deleted rows");
    }
    udr_hash *now = calloc(tv->ndeletes + 1, sizeof *now);
    if (now == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    for (size_t i = 0; rc == UDR_OK && i < tv->ndeletes; i++) {
        int have = 0;
        for (size_t k = 0; k < q->ndelcache && !have; k++)
            have = hash_equal(&q->delcache[k], &tv->deletes[i].hash);
        if (!have) {
            char hex[UDR_HASH_HEX + 1];
            hash_to_hex(&tv->deletes[i].hash, hex);
            buf b;
            buf_init(&b);
            buf_printf(&b, "INSERT INTO __udr_delrows SELECT '%s', chunk, \"row\" FROM "
                           "read_parquet(", hex);
            qi_add_path_list(&b, q, &tv->deletes[i], 1);
            buf_addc(&b, ')');
            rc = qi_exec_buf(q, &b, "cannot read a delete file");
        }
        now[i] = tv->deletes[i].hash;
    }
    free(q->delcache);
    q->delcache = now;
    q->ndelcache = rc == UDR_OK ? tv->ndeletes : 0;
    if (rc != UDR_OK)
        exec(q, "DROP TABLE IF EXISTS __udr_delrows", NULL, "");
    return rc;
}

/* The small chunks at the end of tv: the deltas of small changes, under an
 * eighth of the smallest chunk a write cuts (so the last chunk of a write,
 * which may be short, is not folded again and again). */
static size_t small_tail(const query *q, const cat_tablever *tv)
{
    uint64_t small = q->chunking.min_rows / 8 > 0 ? q->chunking.min_rows / 8 : 1;
    size_t tail = 0;
    while (tail < tv->nchunks && tv->chunks[tv->nchunks - 1 - tail].rows < small)
        tail++;
    return tail;
}

/* The size tier of a delete file of `rows` rows: floor(log8(rows)). */
static unsigned delete_tier(uint64_t rows)
{
    unsigned t = 0;
    while (rows >= 8) {
        rows /= 8;
        t++;
    }
    return t;
}

/* Which of a version's n delete files a change that deletes new_rows rows
 * merges its own deletes with, so that the version keeps at most
 * QUERY_MAX_SMALL_DELETE_FILES small ones (under 4096 rows) and
 * QUERY_MAX_DELETE_FILES in all: none while there is room; else,
 * repeatedly, every file of the lowest size tiers that hold two files or
 * more (the change's own, as merged so far, counts as one). pick[i] = 1 for
 * the files taken; returns how many. Size-tiered, as in an LSM tree: a
 * deleted row is rewritten once per tier it climbs (a factor 8 in rows
 * each), so the bytes of all delete files stay O(n log n) in the rows
 * deleted, where one file rewritten whole at every change would be O(n^2).
 * Small files merge sooner: opening one costs a scan about 0.4 ms, about
 * what anti-joining 600 deleted rows costs, so a file of 4096 rows or more
 * costs a query several times more for its rows than for being a file of
 * its own (24 files of 10,000 rows scan as fast as one of 240,000). Files
 * are never split, so the deletes of one change stay in one. */
static size_t pick_deletes(const cat_chunk *dels, size_t n, uint64_t new_rows, unsigned char *pick)
{
    memset(pick, 0, n);
    size_t count = n + 1, npick = 0;
    uint64_t merged = new_rows;
    for (;;) {
        size_t small = delete_tier(merged) < QUERY_SMALL_DELETE_TIER;
        for (size_t i = 0; i < n; i++)
            small += !pick[i] && delete_tier(dels[i].rows) < QUERY_SMALL_DELETE_TIER;
        if (count <= QUERY_MAX_DELETE_FILES && small <= QUERY_MAX_SMALL_DELETE_FILES)
            break;
        /* The lowest tier t with two files or more at or below it. */
        unsigned t = 0;
        for (;; t++) {
            assert(t < 64);
            size_t at_or_below = delete_tier(merged) <= t;
            for (size_t i = 0; i < n; i++)
                at_or_below += !pick[i] && delete_tier(dels[i].rows) <= t;
            if (at_or_below >= 2)
                break;
        }
        for (size_t i = 0; i < n; i++)
            if (!pick[i] && delete_tier(dels[i].rows) <= t) {
                pick[i] = 1;
                merged += dels[i].rows;
                npick++;
                count--;
            }
    }
    return npick;
}

/* Gathers the rows of the ndels delete files at dels and those of
 * more_sql (a SELECT of chunk, "row"; may be NULL) into __udr_del, and
 * writes the ones not in the nskip chunks at skip as one delete file
 * (*del; rows 0 when none is left). */
static int merge_deletes(query *q, const cat_chunk *dels, size_t ndels, const char *more_sql,
                         const cat_chunk *skip, size_t nskip, cat_chunk *del,
                         udr_write_info *info)
{
    memset(del, 0, sizeof *del);
    buf b;
    buf_init(&b);
    buf_adds(&b, "CREATE OR REPLACE TABLE __udr_del AS SELECT NULL::VARCHAR AS chunk, "
                 "NULL::BIGINT AS \"row\" WHERE false");
    if (ndels > 0) {
        buf_adds(&b, " UNION ALL SELECT chunk, \"row\" FROM read_parquet(");
        qi_add_path_list(&b, q, dels, ndels);
        buf_addc(&b, ')');
    }
    if (more_sql != NULL)
        buf_printf(&b, " UNION ALL %s", more_sql);
    int rc = qi_exec_buf(q, &b, "cannot read the delete files");
    if (rc)
        return rc;
    buf_init(&b);
    buf_adds(&b, "SELECT chunk, \"row\" FROM __udr_del");
    if (nskip > 0) {
        buf_adds(&b, " WHERE chunk NOT IN ");
        add_chunk_names(&b, skip, nskip);
    }
    char *sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    buf_init(&b);
    buf_printf(&b, "SELECT count(*) FROM (%s)", sql);
    duckdb_result r;
    if ((rc = qi_exec_result(q, &b, &r, "cannot count deleted rows")) == UDR_OK) {
        uint64_t n = (uint64_t)duckdb_value_int64(&r, 0, 0);
        duckdb_destroy_result(&r);
        if (n > 0)
            rc = qi_write_delete_file(q, sql, n, del, info);
    }
    free(sql);
    return rc;
}

/* ---- column patches (patch.h) ---------------------------------------------- */

/* The columns of tv a patch holds, as a bit set: those of a type patch.h
 * takes, not in the key, among the first CAT_PATCH_MAX_COLUMN. */
static uint64_t patchable_columns(const cat_tablever *tv)
{
    uint64_t m = 0;
    for (size_t i = 0; i < tv->ncols && i < CAT_PATCH_MAX_COLUMN; i++) {
        int in_key = 0;
        for (size_t k = 0; k < tv->nkey; k++)
            in_key |= strcmp(tv->key[k], tv->cols[i].name) == 0;
        if (!in_key && patch_type_ok(tv->cols[i].type))
            m |= (uint64_t)1 << i;
    }
    return m;
}

/* The columns a patch of tv for an UPDATE assigning `columns` holds, as a
 * bit set; 0 when the UPDATE cannot be a patch. Each column assigned must
 * be patchable, and no column of tv named like a patch file's own. A
 * version's patches all hold the same columns, so that they merge and a
 * scan reads only those through udr_patched: the first patch holds the
 * columns its UPDATE assigns; a later UPDATE is a patch when it assigns
 * some of those (the others keep the row's values), else a delta. */
static uint64_t update_patch_columns(const cat_tablever *tv, const char *const *columns)
{
    uint64_t m = patchable_columns(tv), want = 0;
    if (m == 0 || columns == NULL || columns[0] == NULL || hides_positions(tv))
        return 0;
    for (size_t i = 0; i < tv->ncols; i++)
        if (strcasecmp(tv->cols[i].name, "chunk") == 0 || strcasecmp(tv->cols[i].name, "row") == 0 ||
            strcasecmp(tv->cols[i].name, "filename") == 0)
            return 0;
    for (size_t k = 0; columns[k] != NULL; k++) {
        size_t i = 0;
        while (i < tv->ncols && strcmp(tv->cols[i].name, columns[k]) != 0)
            i++;
        if (i >= CAT_PATCH_MAX_COLUMN || !(m >> i & 1))
            return 0;
        want |= (uint64_t)1 << i;
    }
    if (tv->npatches == 0)
        return want;
    uint64_t have = tv->patches[0].cols;
    for (size_t i = 1; i < tv->npatches; i++)
        if (tv->patches[i].cols != have)
            return 0;
    return (want & ~have) == 0 ? have : 0;
}

/* Writes the rows of select_sql (chunk, "row" and tv's columns cols, by
 * name) as a patch (*out; rows 0, and nothing stored, when there is none),
 * in the table's types. */
static int write_patch_file(query *q, const cat_tablever *tv, uint64_t cols,
                            const char *select_sql, cat_patch *out, udr_write_info *info)
{
    memset(out, 0, sizeof *out);
    out->cols = cols;
    char tmp[PATH_MAX];
    if (fs_path(tmp, sizeof tmp, "%s/tmp/patch.%ld.%llu.parquet", q->root, (long)getpid(),
                (unsigned long long)next_tmp_seq()) != 0)
        return err_set(q->err, UDR_EINVAL, "repository path too long");
    buf b;
    buf_init(&b);
    buf_adds(&b, "COPY (SELECT chunk, \"row\"");
    for (size_t i = 0; i < tv->ncols && i < CAT_PATCH_MAX_COLUMN; i++) {
        if (!(cols >> i & 1))
            continue;
        buf_adds(&b, ", CAST(");
        qi_add_ident(&b, tv->cols[i].name);
        buf_printf(&b, " AS %s) AS ", tv->cols[i].type);
        qi_add_ident(&b, tv->cols[i].name);
    }
    buf_printf(&b, " FROM (%s) ORDER BY 1, 2) TO ", select_sql);
    qi_add_literal(&b, tmp);
    buf_adds(&b, " " DELTA_FORMAT);
    duckdb_result r;
    int rc = qi_exec_result(q, &b, &r, "cannot write a patch"), fresh = 0;
    if (rc == UDR_OK) {
        out->rows = (uint64_t)duckdb_value_int64(&r, 0, 0);
        duckdb_destroy_result(&r);
    }
    if (rc == UDR_OK && out->rows > 0 &&
        (rc = store_adopt(q->store, tmp, &out->hash, &fresh)) == UDR_OK) {
        uint64_t size = 0;
        store_size(q->store, &out->hash, &size);
        if (fresh)
            info->new_bytes += size;
        return UDR_OK;
    }
    unlink(tmp);
    return rc;
}

/* Writes as one patch (*out; rows 0 when none is left) the rows of tv's
 * patches from `from` on and those of more_sql (a SELECT of chunk, "row"
 * and the patched columns; may be NULL), the later winning at a position,
 * less the rows of the nskip chunks at skip (folded: their positions are
 * gone). The patches merged, and more_sql, hold the columns cols. */
static int merge_patches(query *q, const cat_tablever *tv, size_t from, uint64_t cols,
                         const char *more_sql, const cat_chunk *skip, size_t nskip,
                         cat_patch *out, udr_write_info *info)
{
    memset(out, 0, sizeof *out);
    for (size_t i = from; i < tv->npatches; i++)
        if (tv->patches[i].cols != cols)
            return err_set(q->err, UDR_EINVAL,
                           "the patches of this table version name different columns; "
                           "compact the table (udr compact) first");
    buf list;                          /* the patched columns, by name */
    buf_init(&list);
    for (size_t i = 0; i < tv->ncols && i < CAT_PATCH_MAX_COLUMN; i++)
        if (cols >> i & 1) {
            buf_adds(&list, ", ");
            qi_add_ident(&list, tv->cols[i].name);
        }
    const char *names = list.data ? list.data : "";
    buf b;
    buf_init(&b);
    assert(from < tv->npatches || more_sql != NULL);
    buf_printf(&b, "SELECT chunk, \"row\"%s FROM (", names);
    for (size_t i = from; i < tv->npatches; i++) {
        char path[PATH_MAX * 2];
        qi_object_path(q, &tv->patches[i].hash, path, sizeof path);
        buf_printf(&b, "%sSELECT %zu AS __o, chunk, \"row\"%s FROM read_parquet(",
                   i > from ? " UNION ALL " : "", i, names);
        qi_add_literal(&b, path);
        buf_addc(&b, ')');
    }
    if (more_sql != NULL)
        buf_printf(&b, "%sSELECT %zu AS __o, chunk, \"row\"%s FROM (%s)",
                   from < tv->npatches ? " UNION ALL " : "", tv->npatches, names, more_sql);
    buf_adds(&b, ")");
    if (nskip > 0) {
        buf_adds(&b, " WHERE chunk NOT IN ");
        add_chunk_names(&b, skip, nskip);
    }
    buf_adds(&b, " QUALIFY row_number() OVER (PARTITION BY chunk, \"row\" ORDER BY __o DESC) = 1");
    buf_free(&list);
    char *sql = buf_take(&b, NULL);
    int rc = sql ? write_patch_file(q, tv, cols, sql, out, info)
                 : err_set(q->err, UDR_ENOMEM, "out of memory");
    free(sql);
    return rc;
}

/* Which of tv's patches a change patching new_rows rows merges its own
 * with: those from the returned index on. As for delete files
 * (pick_deletes), at most QUERY_MAX_DELETE_FILES in all and
 * QUERY_MAX_SMALL_DELETE_FILES small ones; but a later patch wins over an
 * earlier one where both name a row, so only a run at the end can merge:
 * the newest files, as many as the size tiers of what is merged so far
 * take. */
static size_t pick_patches(const cat_patch *p, size_t n, uint64_t new_rows)
{
    size_t from = n;
    uint64_t merged = new_rows;
    for (;;) {
        size_t small = delete_tier(merged) < QUERY_SMALL_DELETE_TIER;
        for (size_t i = 0; i < from; i++)
            small += delete_tier(p[i].rows) < QUERY_SMALL_DELETE_TIER;
        if (from + 1 <= QUERY_MAX_DELETE_FILES && small <= QUERY_MAX_SMALL_DELETE_FILES)
            return from;
        do {
            from--;
            merged += p[from].rows;
        } while (from > 0 && delete_tier(p[from - 1].rows) <= delete_tier(merged));
    }
}

int qi_patches_fit(const cat_tablever *tv, const cat_patch *more, size_t n)
{
    size_t small = 0;
    for (size_t i = 0; i < tv->npatches + n; i++) {
        const cat_patch *p = i < tv->npatches ? &tv->patches[i] : &more[i - tv->npatches];
        small += delete_tier(p->rows) < QUERY_SMALL_DELETE_TIER;
    }
    return tv->npatches + n <= QUERY_MAX_DELETE_FILES && small <= QUERY_MAX_SMALL_DELETE_FILES;
}

int qi_patches_with(query *q, const cat_tablever *tv, uint64_t cols, const char *more_sql,
                    uint64_t new_rows, cat_patch **list, size_t *n, udr_write_info *info)
{
    *list = NULL;
    *n = 0;
    size_t from = pick_patches(tv->patches, tv->npatches, new_rows);
    cat_patch np;
    int rc = from < tv->npatches ? merge_patches(q, tv, from, cols, more_sql, NULL, 0, &np, info)
                                 : write_patch_file(q, tv, cols, more_sql, &np, info);
    if (rc)
        return rc;
    if ((*list = calloc(from + 2, sizeof **list)) == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    if (from > 0)
        memcpy(*list, tv->patches, from * sizeof **list);
    *n = from;
    if (np.rows > 0)
        (*list)[(*n)++] = np;
    return UDR_OK;
}

/* An UPDATE of tv (base) that update_patch_columns took (cols), whose rows as updated are in
 * __udr_hit (with filename and file_row_number): a patch of them. *done 0
 * when patches would then name more rows than the chunks hold: the caller
 * writes the table anew (the compaction). */
static int change_by_patch(query *q, const cat_tablever *old, const udr_hash *base,
                           uint64_t cols, uint64_t matched, udr_hash *out, int *done,
                           udr_write_info *info)
{
    uint64_t chunk_rows = 0, patched = matched;
    for (size_t i = 0; i < old->nchunks; i++)
        chunk_rows += old->chunks[i].rows;
    for (size_t i = 0; i < old->npatches; i++)
        patched += old->patches[i].rows;
    if (patched > chunk_rows)
        return UDR_OK;
    const char *hit = "SELECT string_split(filename, '/')[-1] AS chunk, file_row_number AS "
                      "\"row\", * EXCLUDE (filename, file_row_number) FROM __udr_hit";
    cat_tablever tv = *old;
    int rc = qi_patches_with(q, old, cols, hit, matched, &tv.patches, &tv.npatches, info);
    if (rc)
        return rc;
    tv.has_parent = 1;
    tv.parent = *base;
    rc = qi_put_tablever(q, &tv, out);
    /* The next statement reads the new version: its maps are old's and
     * the new patch (patch_derive); when that fails they are built whole
     * on first use, so the error is not the change's. */
    if (rc == UDR_OK && q->ps != NULL && q->con_dv_open) {
        udr_err scratch = {0};
        patch_derive(q->ps, q->con_dv, q->root, old, &tv, &scratch);
    }
    free(tv.patches);
    if (rc == UDR_OK) {
        *done = 1;
        info->rows = tv.rows;
        info->chunks = tv.nchunks;
        for (size_t i = 0; i < tv.nchunks; i++)
            info->bytes += tv.chunks[i].bytes;
    }
    return rc;
}

/* tv's patches less the rows of the nskip chunks at skip (a fold removes
 * them), into *list (malloc'd; tv's own when nothing changes: *owned 0). */
static int patches_without(query *q, const cat_tablever *tv, const cat_chunk *skip, size_t nskip,
                           cat_patch **list, size_t *n, int *owned, udr_write_info *info)
{
    *list = tv->patches;
    *n = tv->npatches;
    *owned = 0;
    if (tv->npatches == 0 || nskip == 0)
        return UDR_OK;
    cat_patch np;
    int rc = merge_patches(q, tv, 0, tv->patches[0].cols, NULL, skip, nskip, &np, info);
    if (rc)
        return rc;
    if ((*list = calloc(1, sizeof **list)) == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    *owned = 1;
    *n = 0;
    if (np.rows > 0)
        (*list)[(*n)++] = np;
    return UDR_OK;
}

/* Adds to the staged rows (__udr_rows, in tv's columns) the live rows of
 * tv's last `tail` chunks (less the rows in __udr_del; see merge_deletes),
 * and puts them back in key order. */
static int stage_tail(query *q, const cat_tablever *tv, size_t tail)
{
    cat_tablever t = *tv;
    t.chunks = tv->chunks + (tv->nchunks - tail);
    t.nchunks = tail;
    t.ndeletes = 0;
    buf b;
    buf_init(&b);
    buf_adds(&b, "INSERT INTO __udr_rows SELECT * EXCLUDE (filename, file_row_number), hash(");
    if (tv->nkey > 0) {
        add_key_list(&b, (const char *const *)tv->key);
    } else {
        for (size_t i = 0; i < tv->ncols; i++) {
            buf_adds(&b, i ? ", " : "");
            qi_add_ident(&b, tv->cols[i].name);
        }
    }
    buf_adds(&b, ") FROM (");
    add_scan(&b, q, &t, 1);
    buf_adds(&b, ") ANTI JOIN __udr_del");
    add_positions_join(&b, q);
    int rc = qi_exec_buf(q, &b, "cannot fold the last chunks");
    if (rc == UDR_OK && tv->nkey > 0)
        rc = order_by_key(q, (const char *const *)tv->key);
    return rc;
}

/* Stores a table-version object; its hash to *out. */
int qi_put_tablever(query *q, const cat_tablever *tv, udr_hash *out)
{
    size_t len;
    char *text = catv_encode(tv, &len);
    if (text == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    int rc = store_put(q->store, text, len, out);
    free(text);
    return rc;
}

/* 1 if no chunk appears twice (a delete file names rows by chunk). */
int qi_chunks_unique(const cat_chunk *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t k = 0; k < i; k++)
            if (hash_equal(&v[i].hash, &v[k].hash))
                return 0;
    return 1;
}

static int build(query *q, const char *table, const char *src_sql, const char *const *key,
                 int append, const udr_hash *base, int full, udr_hash *out, udr_write_info *info);

/* Writes the table whole: src_sql's rows (and, for an append, old's live
 * rows before them, the appended ones being staged in __udr_rows). */
static int rewrite_whole(query *q, const char *table, const char *src_sql, const char *const *key,
                         int append, const cat_tablever *old, const udr_hash *base, udr_hash *out,
                         udr_write_info *info)
{
    if (!append)
        return build(q, table, src_sql, key, 0, base, 1, out, info);
    buf b;
    buf_init(&b);
    buf_adds(&b, "CREATE OR REPLACE TABLE __udr_app AS SELECT * FROM (");
    add_scan(&b, q, old, 0);
    buf_adds(&b, ") UNION ALL SELECT ");
    for (size_t i = 0; i < old->ncols; i++) {
        buf_adds(&b, i ? ", " : "");
        qi_add_ident(&b, old->cols[i].name);
    }
    buf_adds(&b, " FROM __udr_rows");
    int rc = qi_exec_buf(q, &b, "cannot rewrite the table");
    if (rc == UDR_OK)
        rc = build(q, table, "SELECT * FROM __udr_app", key, 0, base, 1, out, info);
    exec(q, "DROP TABLE IF EXISTS __udr_app", NULL, "");
    return rc;
}

/* query_build; full: write every row anew (a compaction), never a delta. */
static int build(query *q, const char *table, const char *src_sql, const char *const *key,
                 int append, const udr_hash *base, int full, udr_hash *out, udr_write_info *info)
{
    memset(info, 0, sizeof *info);
    int rc = catalog_check_name(table, q->err);
    if (rc == UDR_OK)
        rc = ensure_open(q);
    if (rc)
        return rc;
    cat_tablever old = {0};
    int have_old = base != NULL;
    if (have_old && (rc = catalog_read_tablever(q->cat, base, &old)) != 0)
        return rc;
    /* A raw version has no rows to keep: a write starts the table afresh
     * (its parent still the raw version); an append has no columns to take. */
    if (have_old && catv_is_raw(&old)) {
        catv_free(&old);
        if (append)
            return catv_raw_error(q->err, table, version_of(q, table, base),
                                  "it has no columns to append to; write the table whole "
                                  "instead");
        have_old = 0;
    }
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
    cat_chunk *written = NULL;
    size_t nwritten = 0;
    uint64_t rows = 0, appended = UINT64_MAX;  /* set when an append folds */
    int keep_old = 0, streamed = 0, replace_deletes = 0, own_patches = 0;
    size_t keep_chunks = old.nchunks;
    cat_chunk newdel = {0};
    /* A write that needs nothing of the old version streams; appends and
     * keyed rewrites (which may become deltas) are staged. */
    if (!have_old || full || (!append && !keyed)) {
        char *sub = parenthesise(src_sql);
        if (sub == NULL) {
            rc = err_set(q->err, UDR_ENOMEM, "out of memory");
            goto done;
        }
        rc = qi_read_schema(q, sub, &s);
        if (rc == UDR_OK)
            rc = write_streamed(q, sub, &s, use_key, &written, &nwritten, &rows, info, &streamed);
        free(sub);
        if (rc)
            goto done;
        if (!streamed)
            qi_schema_free(&s);
    }
    if (!streamed) {
        info->staged = 1;
        if ((rc = qi_stage(q, src_sql, use_key, have_old ? &old : NULL, append)) != 0)
            goto done;
        if ((rc = qi_read_schema(q, "__udr_rows", &s)) != 0)
            goto done;
        if (keyed && (rc = check_key(q, table, &s, use_key)) != 0)
            goto done;
        char *count = scalar(q, "SELECT count(*) FROM __udr_rows", "cannot count the rows");
        if (count == NULL) {
            rc = q->err->code ? q->err->code : UDR_ENOMEM;
            goto done;
        }
        rows = strtoull(count, NULL, 10);
        free(count);
        /* Appending keeps every existing chunk: the new rows go into new
         * chunks, after a check that their keys are new. A keyed write close
         * to the current content becomes a delta too: the rows that changed
         * go into new chunks, the rows they replace into a delete file. */
        if (append && have_old) {
            keep_old = 1;
            if (keyed)
                rc = check_appended_keys(q, table, &old, use_key);
            /* Many small chunks at the end (earlier small appends and
             * updates): their rows join the new ones, and the delete files
             * become one. */
            size_t tail = small_tail(q, &old);
            if (rc == UDR_OK && tail + 1 > QUERY_MAX_PIECES && rows > 0 && rows < q->chunking.min_rows) {
                appended = rows;
                keep_chunks = old.nchunks - tail;
                replace_deletes = 1;
                if ((rc = merge_deletes(q, old.deletes, old.ndeletes, NULL,
                                        old.chunks + keep_chunks, tail, &newdel, info)) == UDR_OK &&
                    (rc = stage_tail(q, &old, tail)) == UDR_OK)
                    rows = qi_count_of(q, "__udr_rows");
                exec(q, "DROP TABLE IF EXISTS __udr_del", NULL, "");
            }
            if (rc)
                goto done;
        } else if (!append && !full && have_old && keyed && same_shape(&s, &old, use_key) &&
                   !qi_needs_cast(&old)) {
            int delta = 0;
            if ((rc = try_delta(q, &old, &s, use_key, &rows, &delta, &newdel, info)) != 0)
                goto done;
            keep_old = delta;
        }
        if (!(keep_old && rows == 0)) {
            if ((rc = qi_find_cuts(q, rows, &c)) != 0 ||
                (rc = qi_write_chunks(q, &s, keyed ? use_key : NULL, &c, &written, &nwritten,
                                   info)) != 0)
                goto done;
        }
    }
    size_t nold = keep_old ? keep_chunks : 0;
    tv.chunks = calloc(nold + nwritten + 1, sizeof *tv.chunks);
    if (tv.chunks == NULL) {
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        goto done;
    }
    if (nold)
        memcpy(tv.chunks, old.chunks, nold * sizeof *tv.chunks);
    if (nwritten)
        memcpy(tv.chunks + nold, written, nwritten * sizeof *tv.chunks);
    tv.nchunks = nold + nwritten;
    /* An empty table written before keeps a 0-row chunk; drop it when rows come. */
    if (keep_old && nold > 0 && tv.chunks[0].rows == 0 && tv.nchunks > 1) {
        memmove(tv.chunks, tv.chunks + 1, (tv.nchunks - 1) * sizeof *tv.chunks);
        tv.nchunks--;
    }
    if (keep_old && !qi_chunks_unique(tv.chunks, tv.nchunks)) {
        /* A new chunk has the bytes of one kept (rows deleted, then written
         * again): a delete file could not tell the two apart, so the whole
         * table is written anew. */
        rc = rewrite_whole(q, table, src_sql, use_key, append, &old, base, out, info);
        goto done;
    }
    /* The old chunks kept keep their patches, less those of chunks folded. */
    if (keep_old && (rc = patches_without(q, &old, old.chunks + keep_chunks,
                                          old.nchunks - keep_chunks, &tv.patches, &tv.npatches,
                                          &own_patches, info)) != UDR_OK)
        goto done;
    size_t kept_del = keep_old && !replace_deletes ? old.ndeletes : 0;
    size_t ndel = kept_del + (newdel.rows > 0);
    tv.deletes = calloc(ndel + 1, sizeof *tv.deletes);
    if (tv.deletes == NULL) {
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        goto done;
    }
    if (kept_del)
        memcpy(tv.deletes, old.deletes, kept_del * sizeof *tv.deletes);
    if (newdel.rows > 0)
        tv.deletes[ndel - 1] = newdel;
    tv.ndeletes = ndel;
    if (appended != UINT64_MAX)
        tv.rows = old.rows + appended;        /* the folded rows only moved */
    else
        tv.rows = (keep_old ? old.rows - newdel.rows : 0) + rows;
    tv.has_parent = base != NULL;
    if (base != NULL)
        tv.parent = *base;
    tv.cols = s.cols;
    tv.ncols = s.n;
    size_t nkey = 0;
    while (keyed && use_key[nkey])
        nkey++;
    tv.key = (char **)use_key;
    tv.nkey = nkey;
    rc = qi_put_tablever(q, &tv, out);
    tv.cols = NULL;
    tv.key = NULL;
    if (rc)
        goto done;
    info->rows = tv.rows;
    info->chunks = tv.nchunks;
    info->bytes = 0;
    for (size_t i = 0; i < tv.nchunks; i++)
        info->bytes += tv.chunks[i].bytes;
done:
    exec(q, "DROP TABLE IF EXISTS __udr_rows", NULL, "");
    free(tv.chunks);
    free(tv.deletes);
    if (own_patches)
        free(tv.patches);
    free(written);
    free(c.at);
    qi_schema_free(&s);
    catv_free(&old);
    return rc;
}

int query_build(query *q, const char *table, const char *src_sql, const char *const *key,
                int append, const udr_hash *base, udr_hash *out, udr_write_info *info)
{
    return build(q, table, src_sql, key, append, base, 0, out, info);
}

int qi_build_whole(query *q, const char *table, const char *src_sql, const char *const *key,
                   const udr_hash *base, udr_hash *out, udr_write_info *info)
{
    return build(q, table, src_sql, key, 0, base, 1, out, info);
}

int query_compact(query *q, const char *table, const udr_hash *base, udr_hash *out,
                  int *changed, udr_write_info *info)
{
    memset(info, 0, sizeof *info);
    *changed = 0;
    int rc = ensure_open(q);
    cat_tablever old = {0};
    if (rc == UDR_OK)
        rc = catalog_read_tablever(q->cat, base, &old);
    if (rc)
        return rc;
    /* Clean already: no deletes, and (keyed) chunks written in key order,
     * which a delta's chunks at the end are not. */
    int clean = old.ndeletes == 0 && old.npatches == 0;
    if (clean && old.nkey > 0 && old.nchunks > 1) {
        buf b;
        buf_init(&b);
        buf_adds(&b, "SELECT bool_and(ok) FROM (SELECT (");
        add_key_list(&b, (const char *const *)old.key);
        buf_adds(&b, ") > lag((");
        add_key_list(&b, (const char *const *)old.key);
        buf_adds(&b, ")) OVER () OR lag(1) OVER () IS NULL AS ok FROM (");
        add_scan(&b, q, &old, 0);
        buf_adds(&b, "))");
        char *sql = buf_take(&b, NULL);
        char *v = sql ? scalar(q, sql, "cannot check the key order") : NULL;
        free(sql);
        if (v == NULL)
            rc = q->err->code ? q->err->code : err_set(q->err, UDR_ENOMEM, "out of memory");
        clean = v != NULL && strcmp(v, "true") == 0;
        free(v);
    }
    if (rc == UDR_OK && !clean) {
        buf b;
        buf_init(&b);
        add_scan(&b, q, &old, 0);
        if (old.nkey > 0) {
            buf_adds(&b, " ORDER BY ");
            add_key_list(&b, (const char *const *)old.key);
        }
        char *src = buf_take(&b, NULL);
        rc = src ? build(q, table, src, (const char *const *)old.key, 0, base, 1, out, info)
                 : err_set(q->err, UDR_ENOMEM, "out of memory");
        free(src);
        *changed = rc == UDR_OK;
    }
    if (rc == UDR_OK && !*changed) {
        *out = *base;
        info->rows = old.rows;
        info->chunks = old.nchunks;
        for (size_t i = 0; i < old.nchunks; i++)
            info->bytes += old.chunks[i].bytes;
    }
    catv_free(&old);
    return rc;
}

int query_rows(query *q, const udr_hash *tvh, uint64_t *rows)
{
    const cat_tablever *cached = cache_get(q, tvh);
    if (cached != NULL) {
        *rows = cached->rows;
        return UDR_OK;
    }
    cat_tablever tv;
    int rc = catalog_read_tablever(q->cat, tvh, &tv);
    if (rc == UDR_OK) {
        *rows = tv.rows;
        catv_free(&tv);
    }
    return rc;
}

/* ---- small changes in place -------------------------------------------------- */

/* The rows of relation `from` (a table's columns, maybe more) as one chunk
 * of tv's schema, in key order. Its key range: *range when non-NULL (known
 * to hold every key of the rows), else read from the rows. */
static int write_one_chunk(query *q, const cat_tablever *tv, const char *from,
                           const int64_t *range, cat_chunk *ch, udr_write_info *info)
{
    char tmp[PATH_MAX];
    if (fs_path(tmp, sizeof tmp, "%s/tmp/chunk.%ld.%llu.parquet", q->root, (long)getpid(),
                (unsigned long long)next_tmp_seq()) != 0)
        return err_set(q->err, UDR_EINVAL, "repository path too long");
    schema s = {tv->cols, tv->ncols};
    buf b;
    buf_init(&b);
    buf_adds(&b, "COPY (SELECT ");
    add_stored_columns(&b, &s);
    buf_adds(&b, " FROM (SELECT ");
    for (size_t i = 0; i < tv->ncols; i++) {
        buf_adds(&b, i ? ", CAST(" : "CAST(");
        qi_add_ident(&b, tv->cols[i].name);
        buf_printf(&b, " AS %s) AS ", tv->cols[i].type);
        qi_add_ident(&b, tv->cols[i].name);
    }
    buf_printf(&b, " FROM %s)", from);
    if (tv->nkey > 0) {
        buf_adds(&b, " ORDER BY ");
        add_key_list(&b, (const char *const *)tv->key);
    }
    buf_adds(&b, ") TO ");
    qi_add_literal(&b, tmp);
    buf_adds(&b, " " DELTA_FORMAT);
    duckdb_result r;
    char *sql = buf_take(&b, NULL);
    int rc = sql ? exec(q, sql, &r, "cannot write the changed rows")
                 : err_set(q->err, UDR_ENOMEM, "out of memory");
    free(sql);
    int fresh = 0;
    if (rc == UDR_OK) {
        ch->rows = (uint64_t)duckdb_value_int64(&r, 0, 0);
        duckdb_destroy_result(&r);
        rc = store_adopt(q->store, tmp, &ch->hash, &fresh);
    }
    if (rc == UDR_OK) {
        store_size(q->store, &ch->hash, &ch->bytes);
        if (fresh) {
            info->new_chunks++;
            info->new_bytes += ch->bytes;
        }
    } else {
        unlink(tmp);
    }
    if (rc == UDR_OK && ch->rows > 0 && prunable_key(tv) && range != NULL) {
        ch->has_range = 1;
        ch->lo = range[0];
        ch->hi = range[1];
    } else if (rc == UDR_OK && ch->rows > 0 && prunable_key(tv)) {
        buf_init(&b);
        buf_adds(&b, "SELECT CAST(min(");
        qi_add_ident(&b, tv->key[0]);
        buf_adds(&b, ") AS BIGINT), CAST(max(");
        qi_add_ident(&b, tv->key[0]);
        buf_printf(&b, ") AS BIGINT) FROM %s", from);
        if ((rc = qi_exec_result(q, &b, &r, "cannot read a key range")) == UDR_OK) {
            ch->has_range = !duckdb_value_is_null(&r, 0, 0) && !duckdb_value_is_null(&r, 1, 0);
            ch->lo = duckdb_value_int64(&r, 0, 0);
            ch->hi = duckdb_value_int64(&r, 1, 0);
            duckdb_destroy_result(&r);
        }
    }
    return rc;
}

int query_change(query *q, const char *table, const udr_hash *base, const query_change_req *req,
                 udr_hash *out, uint64_t *matched, int *done, udr_write_info *info)
{
    memset(info, 0, sizeof *info);
    *done = 0;
    *matched = 0;
    int rc = ensure_open(q);
    cat_tablever old = {0}, tv = {0};
    schema s = {0};
    cuts c = {0};
    cat_chunk *written = NULL;
    size_t nwritten = 0;
    int fold_tail = 0, fold_deletes = 0, own_patches = 0;
    unsigned char *pick = NULL;        /* old delete files merged with this change's */
    size_t npick = 0;
    if (rc == UDR_OK)
        rc = catalog_read_tablever(q->cat, base, &old);
    if (rc == UDR_OK && catv_is_raw(&old))
        rc = catv_raw_error(q->err, table, version_of(q, table, base),
                            "it has no rows to update or delete");
    if (rc) {
        catv_free(&old);
        return rc;
    }
    /* Assigning a key column may make keys collide; a chunk listed twice
     * makes positions ambiguous: the whole-table path handles both. */
    for (size_t i = 0; req->replace != NULL && req->columns[i] != NULL; i++)
        for (size_t k = 0; k < old.nkey; k++)
            if (strcmp(req->columns[i], old.key[k]) == 0)
                goto out;
    if (!qi_chunks_unique(old.chunks, old.nchunks))
        goto out;
    /* A condition on the key reads only the chunks whose range holds it. */
    cat_tablever view = old;
    int64_t *vals;
    size_t nvals;
    key_values(req->where, &old, table, &vals, &nvals);
    int64_t range[2] = {0, 0};         /* of vals: every key the change can touch */
    for (size_t i = 0; i < nvals; i++) {
        range[0] = i == 0 || vals[i] < range[0] ? vals[i] : range[0];
        range[1] = i == 0 || vals[i] > range[1] ? vals[i] : range[1];
    }
    if (nvals > 0) {
        rc = prune_by_key(q, &old, vals, nvals, &view);
        if (rc == UDR_OK && view.nchunks == 0) {
            free(view.chunks);
            free(vals);
            *out = *base;
            *done = 1;
            goto out;
        }
        if (rc) {
            free(view.chunks);
            free(vals);
            goto out;
        }
    }
    free(vals);
    buf b;
    buf_init(&b);
    buf_adds(&b, "CREATE OR REPLACE TABLE __udr_hit AS SELECT ");
    if (req->replace != NULL)
        buf_printf(&b, "* REPLACE (%s)", req->replace);
    else
        buf_adds(&b, "filename, file_row_number");
    buf_adds(&b, " FROM (");
    if (old.ndeletes > 0 && (rc = cache_deletes(q, &old)) == UDR_OK) {
        /* The deleted rows from memory, those of the chunks read only. */
        view.ndeletes = 0;
        add_scan(&b, q, &view, 1);
        buf_adds(&b, " ANTI JOIN (SELECT chunk, \"row\" FROM __udr_delrows WHERE chunk IN ");
        add_chunk_names(&b, view.chunks, view.nchunks);
        buf_addc(&b, ')');
        add_positions_join(&b, q);
    } else {
        add_scan(&b, q, &view, 1);
    }
    if (view.chunks != old.chunks)
        free(view.chunks);
    if (rc) {
        buf_free(&b);
        goto out;
    }
    buf_adds(&b, ") AS ");
    qi_add_ident(&b, table);
    if (req->where != NULL)
        buf_printf(&b, " WHERE (%s)", req->where);
    char *hit_sql = buf_take(&b, NULL);
    duckdb_result hr;
    rc = hit_sql ? exec(q, hit_sql, &hr, "cannot find the rows to change")
                 : err_set(q->err, UDR_ENOMEM, "out of memory");
    free(hit_sql);
    if (rc)
        goto out;
    *matched = (uint64_t)duckdb_value_int64(&hr, 0, 0);     /* CREATE ... AS: the count */
    duckdb_destroy_result(&hr);
    if (*matched == 0) {
        *out = *base;
        *done = 1;
        goto out;
    }
    /* Fixed-width columns assigned: only their new values are stored. */
    uint64_t pcols = req->replace != NULL ? update_patch_columns(&old, req->columns) : 0;
    if (pcols != 0) {
        rc = change_by_patch(q, &old, base, pcols, *matched, out, done, info);
        goto out;
    }
    uint64_t chunk_rows = 0;
    for (size_t i = 0; i < old.nchunks; i++)
        chunk_rows += old.chunks[i].rows;
    /* Past 1/QUERY_COMPACT_SHARE of the rows deleted, the table is written
     * anew: that is the automatic compaction. */
    if ((chunk_rows - old.rows + *matched) * QUERY_COMPACT_SHARE > chunk_rows)
        goto out;
    size_t tail = small_tail(q, &old);
    fold_tail = req->replace != NULL && tail + 1 > QUERY_MAX_PIECES;
    size_t keep = fold_tail ? old.nchunks - tail : old.nchunks;
    cat_chunk del = {0};
    const char *hit_positions = "SELECT string_split(filename, '/')[-1] AS chunk, "
                                "file_row_number AS \"row\" FROM __udr_hit";
    if ((pick = calloc(old.ndeletes + 1, 1)) == NULL) {
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        goto out;
    }
    if (fold_tail) {
        /* Every deleted row in one file, less those of the chunks folded. */
        memset(pick, 1, old.ndeletes);
        npick = old.ndeletes;
    } else {
        npick = pick_deletes(old.deletes, old.ndeletes, *matched, pick);
    }
    /* Folding the tail needs every deleted row in __udr_del (stage_tail). */
    fold_deletes = fold_tail || npick > 0;
    if (fold_deletes) {
        /* This change's deleted rows with those of the files picked. */
        cat_chunk *merge = calloc(npick + 1, sizeof *merge);
        size_t m = 0;
        for (size_t i = 0; merge != NULL && i < old.ndeletes; i++)
            if (pick[i])
                merge[m++] = old.deletes[i];
        rc = merge ? merge_deletes(q, merge, m, hit_positions, old.chunks + keep,
                                   fold_tail ? tail : 0, &del, info)
                   : err_set(q->err, UDR_ENOMEM, "out of memory");
        free(merge);
    } else {
        rc = qi_write_delete_file(q, hit_positions, *matched, &del, info);
        /* The next change finds these rows in memory, not in the file. */
        if (rc == UDR_OK && q->ndelcache > 0) {
            udr_hash *more = realloc(q->delcache, (q->ndelcache + 1) * sizeof *more);
            char hex[UDR_HASH_HEX + 1];
            hash_to_hex(&del.hash, hex);
            buf_init(&b);
            buf_printf(&b, "INSERT INTO __udr_delrows SELECT '%s', chunk, \"row\" FROM (%s)", hex,
                       hit_positions);
            if (more != NULL && qi_exec_buf(q, &b, "cannot cache deleted rows") == UDR_OK)
                more[q->ndelcache++] = del.hash;
            if (more != NULL)
                q->delcache = more;
        }
    }
    if (rc)
        goto out;
    uint64_t rows = 0;
    if (req->replace != NULL && !fold_tail && *matched <= q->chunking.max_rows) {
        /* A few rows: one chunk, in key order, in the table's types. */
        if ((written = calloc(1, sizeof *written)) == NULL) {
            rc = err_set(q->err, UDR_ENOMEM, "out of memory");
            goto out;
        }
        rc = write_one_chunk(q, &old, "__udr_hit", nvals > 0 ? range : NULL, written, info);
        if (rc)
            goto out;
        nwritten = 1;
        rows = *matched;
    } else if (req->replace != NULL) {
        /* The rows as updated, and those of the small chunks folded, into
         * new chunks in key order. */
        rc = qi_stage(q, "SELECT * EXCLUDE (filename, file_row_number) FROM __udr_hit",
                   (const char *const *)old.key, &old, 1);
        if (rc == UDR_OK && fold_tail)
            rc = stage_tail(q, &old, tail);
        if (rc == UDR_OK)
            rc = qi_read_schema(q, "__udr_rows", &s);
        if (rc == UDR_OK)
            rows = qi_count_of(q, "__udr_rows");
        if (rc == UDR_OK && rows > 0 && (rc = qi_find_cuts(q, rows, &c)) == UDR_OK)
            rc = qi_write_chunks(q, &s, (const char *const *)old.key, &c, &written, &nwritten,
                              info);
        if (rc)
            goto out;
    }
    tv = old;
    /* Patches of the folded chunks name positions no longer there. */
    if (fold_tail && (rc = patches_without(q, &old, old.chunks + keep, tail, &tv.patches,
                                           &tv.npatches, &own_patches, info)) != UDR_OK)
        goto out;
    tv.chunks = calloc(keep + nwritten + 1, sizeof *tv.chunks);
    tv.deletes = calloc(old.ndeletes + 2, sizeof *tv.deletes);
    if (tv.chunks == NULL || tv.deletes == NULL) {
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(tv.chunks, old.chunks, keep * sizeof *tv.chunks);
    if (nwritten)
        memcpy(tv.chunks + keep, written, nwritten * sizeof *tv.chunks);
    tv.nchunks = keep + nwritten;
    tv.ndeletes = 0;
    for (size_t i = 0; i < old.ndeletes; i++)
        if (!pick[i])
            tv.deletes[tv.ndeletes++] = old.deletes[i];
    if (del.rows > 0)
        tv.deletes[tv.ndeletes++] = del;
    if (!qi_chunks_unique(tv.chunks, tv.nchunks))
        goto out;                      /* a new chunk as one kept: rewrite */
    /* An update keeps the count (folded chunks' rows only move). */
    tv.rows = req->replace != NULL ? old.rows : old.rows - *matched;
    tv.has_parent = 1;
    tv.parent = *base;
    rc = qi_put_tablever(q, &tv, out);
    if (rc == UDR_OK) {
        *done = 1;
        info->rows = tv.rows;
        info->chunks = tv.nchunks;
        for (size_t i = 0; i < tv.nchunks; i++)
            info->bytes += tv.chunks[i].bytes;
    }
out:
    /* A few rows found are left to the next change to replace. */
    if (*matched > 1000 || fold_deletes || rc != UDR_OK)
        exec(q, "DROP TABLE IF EXISTS __udr_hit; DROP TABLE IF EXISTS __udr_del; "
                "DROP TABLE IF EXISTS __udr_rows",
             NULL, "");
    free(tv.chunks);
    free(tv.deletes);
    if (own_patches)
        free(tv.patches);
    free(pick);
    free(written);
    free(c.at);
    qi_schema_free(&s);
    catv_free(&old);
    return rc;
}

/* ---- for the layer's other files (query_int.h) ------------------------------ */

int qi_open(query *q)
{
    return ensure_open(q);
}

int qi_exec(query *q, const char *sql, duckdb_result *out, const char *what)
{
    return exec(q, sql, out, what);
}

int qi_db_error(query *q, const char *what, const char *msg)
{
    return db_error(q, what, msg);
}

void qi_add_scan(buf *b, const query *q, const cat_tablever *tv, int positions)
{
    add_scan(b, q, tv, positions);
}

int qi_missing_object(const query *q, const char *table, uint64_t version,
                      const cat_tablever *tv, char *msg, size_t size)
{
    return missing_object(q, table, version, tv, msg, size);
}

void qi_add_key_list(buf *b, const char *const *key)
{
    add_key_list(b, key);
}

int qi_exec_shown(query *q, const char *sql, duckdb_result *out, const char *what)
{
    shown_clear(q);
    duckdb_prepared_statement ps;
    if (duckdb_prepare(q->con, sql, &ps) != DuckDBSuccess) {
        int rc = db_error(q, what, duckdb_prepare_error(ps));
        duckdb_destroy_prepare(&ps);
        return rc;
    }
    char *wrapped = nested_as_text(q, sql, ps);
    duckdb_destroy_prepare(&ps);
    int rc = exec(q, wrapped ? wrapped : sql, out, what);
    free(wrapped);
    return rc;
}
