/*
 * chunkapi — udr_table_commit_chunks (declared in udr.h): a table version
 * made of objects already in the store, as the original prototype's
 * low-level catalog.commit(TableVersion(table, version, [hashes])) made one.
 *
 * No row is written. Each object is looked at where it lies:
 *
 *   - its size (a chunk line's bytes) from the store;
 *   - whether it is a Parquet file: "PAR1" at both ends, as the format
 *     puts it (the footer's magic is what readers trust; the leading one
 *     rules out most files that happen to end so);
 *   - for Parquet files, their columns (DESCRIBE of read_parquet, so types
 *     are spelled as every other table version spells them) and their rows
 *     (parquet_file_metadata: from the footer, no data read).
 *
 * Parquet files of one schema make an ordinary table version without a key,
 * its chunks those objects in the order given (an object given twice is read
 * twice, as a version with a chunk listed twice is elsewhere). Anything else
 * makes a raw version: the objects kept in order as chunks of 0 rows, no
 * columns, rows 0 (see docs/format.md). Readers refuse to read rows from a
 * raw version with a message saying what it is; a write over it starts the
 * table afresh.
 *
 * The version number is the caller's, and must be the table's next one.
 * It is checked before any work (a quick answer) and again under the log's
 * lock, where the commit numbers it: nothing can commit in between, so the
 * number the caller asked for is the number it gets.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "hash.h"
#include "query.h"
#include "repo.h"
#include "util/buf.h"
#include "util/fs.h"

/* The number the table's next version gets: after its latest one on any
 * branch (drops count), as catalog_commit_on numbers it. */
static uint64_t next_version(const catalog *c, const char *table)
{
    const cat_table *t = catalog_table(c, table);
    return t != NULL && t->nv > 0 ? t->v[t->nv - 1].version + 1 : 1;
}

static int check_version(udr_repo *repo, const char *table, uint64_t version)
{
    uint64_t next = next_version(&repo->cat, table);
    if (version == next)
        return UDR_OK;
    return err_set(&repo->err, UDR_EINVAL,
                   "cannot commit table %s version %llu: the table's next version is %llu "
                   "(versions are numbered per table across all branches, 1 for a new table)",
                   table, (unsigned long long)version, (unsigned long long)next);
}

/* *yes 1 if the object's file has Parquet's magic at both ends. */
static int is_parquet(udr_repo *repo, const udr_hash *h, uint64_t size_bytes, int *yes)
{
    *yes = 0;
    if (size_bytes < 12)               /* magic, footer length, magic */
        return UDR_OK;
    char path[PATH_MAX], head[4], tail[4];
    int rc = store_object_path(&repo->store, h, path, sizeof path);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(&repo->err, errno, "cannot open object file %s", path);
    size_t got1 = 0, got2 = 0;
    int e = fs_pread_full(fd, head, 4, 0, &got1, NULL, path);
    if (e == 0)
        e = fs_pread_full(fd, tail, 4, (off_t)(size_bytes - 4), &got2, NULL, path);
    close(fd);
    if (e)
        return err_sys(&repo->err, e, "cannot read object file %s", path);
    *yes = got1 == 4 && got2 == 4 && memcmp(head, "PAR1", 4) == 0 && memcmp(tail, "PAR1", 4) == 0;
    return UDR_OK;
}

/* Fills each chunk's hash and bytes; *all_parquet: every object is one. */
static int look_at_objects(udr_repo *repo, const char *table, uint64_t version,
                           const udr_hash *objects, size_t n, cat_chunk *chunks,
                           int *all_parquet)
{
    *all_parquet = n > 0;
    for (size_t i = 0; i < n; i++) {
        char hex[UDR_HASH_HEX + 1];
        hash_to_hex(&objects[i], hex);
        chunks[i].hash = objects[i];
        int rc = store_size(&repo->store, &objects[i], &chunks[i].bytes);
        if (rc == UDR_ENOTFOUND)
            return err_set(&repo->err, UDR_ENOTFOUND,
                           "cannot commit table %s version %llu: object %s (number %zu of %zu) "
                           "is not in the store (put it first, with udr_object_put)",
                           table, (unsigned long long)version, hex, i + 1, n);
        int yes = 0;
        if (rc == UDR_OK)
            rc = is_parquet(repo, &objects[i], chunks[i].bytes, &yes);
        if (rc) {
            err_prefix(&repo->err, "cannot commit table %s version %llu: object %s", table,
                       (unsigned long long)version, hex);
            return rc;
        }
        *all_parquet &= yes;
    }
    return UDR_OK;
}

/* Runs sql (built in b) through the query layer; its result to *r. */
static int run(udr_repo *repo, buf *b, duckdb_result *r)
{
    char *sql = buf_take(b, NULL);
    if (sql == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    int rc = query_run(&repo->q, sql, NULL, 0, r);
    free(sql);
    return rc;
}

/* The columns and rows of the Parquet object h. */
static int parquet_shape(udr_repo *repo, const udr_hash *h, cat_tablever *tv, uint64_t *rows)
{
    char path[PATH_MAX];
    int rc = store_object_path(&repo->store, h, path, sizeof path);
    if (rc)
        return rc;
    buf b;
    buf_init(&b);
    buf_adds(&b, "DESCRIBE SELECT * FROM read_parquet(");
    buf_quoted(&b, path, '\'');
    buf_adds(&b, ")");
    duckdb_result r;
    if ((rc = run(repo, &b, &r)) != 0)
        return rc;
    idx_t n = duckdb_row_count(&r);
    tv->cols = calloc(n + 1, sizeof *tv->cols);
    for (idx_t i = 0; tv->cols != NULL && i < n; i++) {
        char *name = duckdb_value_varchar(&r, 0, i), *type = duckdb_value_varchar(&r, 1, i);
        tv->cols[i].name = name ? strdup(name) : NULL;
        tv->cols[i].type = type ? strdup(type) : NULL;
        tv->ncols++;
        duckdb_free(name);
        duckdb_free(type);
        if (tv->cols[i].name == NULL || tv->cols[i].type == NULL)
            rc = err_set(&repo->err, UDR_ENOMEM, "out of memory reading a schema");
    }
    duckdb_destroy_result(&r);
    if (tv->cols == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory reading a schema");
    if (rc == UDR_OK && n == 0)
        rc = err_set(&repo->err, UDR_EINVAL, "DuckDB finds no columns in it");
    if (rc)
        return rc;
    buf_init(&b);
    buf_adds(&b, "SELECT sum(num_rows)::UBIGINT FROM parquet_file_metadata(");
    buf_quoted(&b, path, '\'');
    buf_adds(&b, ")");
    if ((rc = run(repo, &b, &r)) != 0)
        return rc;
    *rows = duckdb_value_uint64(&r, 0, 0);
    duckdb_destroy_result(&r);
    return UDR_OK;
}

/* "(a BIGINT, b VARCHAR)" into b, cut short past a few hundred bytes. */
static void add_columns(buf *b, const cat_tablever *tv)
{
    buf_addc(b, '(');
    size_t start = b->len;
    for (size_t i = 0; i < tv->ncols && b->len - start < 300; i++)
        buf_printf(b, "%s%s %s", i ? ", " : "", tv->cols[i].name, tv->cols[i].type);
    buf_adds(b, b->len - start >= 300 ? ", ...)" : ")");
}

/* Reads each Parquet chunk's rows and the columns they share into tv:
 * UDR_EINVAL naming two objects whose columns differ. */
static int read_parquet_chunks(udr_repo *repo, const char *table, uint64_t version,
                               cat_tablever *tv)
{
    for (size_t i = 0; i < tv->nchunks; i++) {
        cat_tablever one = {0};
        char hex[UDR_HASH_HEX + 1];
        hash_to_hex(&tv->chunks[i].hash, hex);
        int rc = parquet_shape(repo, &tv->chunks[i].hash, &one, &tv->chunks[i].rows);
        if (rc) {
            catv_free(&one);
            err_prefix(&repo->err,
                       "cannot commit table %s version %llu: object %s looks like Parquet but "
                       "cannot be read as a table",
                       table, (unsigned long long)version, hex);
            return rc;
        }
        tv->rows += tv->chunks[i].rows;
        if (i == 0) {
            tv->cols = one.cols;
            tv->ncols = one.ncols;
            continue;
        }
        if (!catv_same_columns(tv, &one)) {
            char first[UDR_HASH_HEX + 1];
            hash_to_hex(&tv->chunks[0].hash, first);
            buf b;
            buf_init(&b);
            add_columns(&b, tv);
            buf_adds(&b, " and ");
            add_columns(&b, &one);
            char *cols = buf_take(&b, NULL);
            catv_free(&one);
            rc = err_set(&repo->err, UDR_EINVAL,
                         "cannot commit table %s version %llu: Parquet objects %s (number 1) "
                         "and %s (number %zu) have different columns: %s",
                         table, (unsigned long long)version, first, hex, i + 1,
                         cols ? cols : "?");
            free(cols);
            return rc;
        }
        catv_free(&one);
    }
    return UDR_OK;
}

/* Under the log's lock: the version number checked again, the parent (the
 * table's version on this branch), the table-version object stored and
 * committed. */
static int commit_locked(udr_repo *repo, const char *table, uint64_t version, cat_tablever *tv,
                         const udr_write_opts *opts)
{
    catalog *c = &repo->cat;
    int rc = catalog_lock(c);
    if (rc)
        return rc;
    if ((rc = check_version(repo, table, version)) != 0)
        goto out;
    const cat_entry *e = catalog_head_entry(c, table);
    tv->has_parent = e != NULL;
    if (e != NULL)
        tv->parent = e->hash;
    size_t len;
    char *text = catv_encode(tv, &len);
    udr_hash tvh;
    rc = text ? store_put(&repo->store, text, len, &tvh)
              : err_set(&repo->err, UDR_ENOMEM, "out of memory");
    free(text);
    if (rc)
        goto out;
    char msg[CATALOG_NAME_MAX + 32];
    snprintf(msg, sizeof msg, "commit chunks to %s", table);
    cat_change ch = {table, &tvh, 0};
    cat_commit_opts o = {0};
    o.message = opts && opts->message ? opts->message : msg;
    o.author = repo_author(opts ? opts->author : NULL);
    o.locked = 1;
    rc = catalog_commit_on(c, &o, &ch, 1, NULL);
    assert(rc != UDR_OK || ch.version == version);
out:
    catalog_unlock(c);
    return rc == UDR_OK ? catalog_sync(c) : rc;
}

int udr_table_commit_chunks(udr_repo *repo, const char *table, uint64_t version,
                            const udr_hash *objects, size_t n, const udr_write_opts *opts,
                            udr_write_info *info)
{
    assert(objects != NULL || n == 0);
    udr_write_info scratch;
    if (info == NULL)
        info = &scratch;
    memset(info, 0, sizeof *info);
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    if (repo->tx != NULL)
        return err_set(&repo->err, UDR_EINVAL,
                       "a transaction is open on this handle: commit or roll it back first");
    if ((rc = catalog_check_name(table, &repo->err)) != 0)
        return rc;
    if (opts != NULL && opts->key != NULL && opts->key[0] != NULL)
        return err_set(&repo->err, UDR_EINVAL,
                       "cannot commit table %s version %llu with a key: objects committed as "
                       "they are have none (write the table with udr_table_write to key it)",
                       table, (unsigned long long)version);
    if ((rc = catalog_refresh(&repo->cat)) != 0 || (rc = check_version(repo, table, version)) != 0)
        return rc;
    cat_tablever tv = {0};
    tv.chunks = calloc(n + 1, sizeof *tv.chunks);
    if (tv.chunks == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    tv.nchunks = n;
    int all_parquet = 0;
    rc = look_at_objects(repo, table, version, objects, n, tv.chunks, &all_parquet);
    if (rc == UDR_OK && all_parquet)
        rc = read_parquet_chunks(repo, table, version, &tv);
    if (rc == UDR_OK)
        rc = commit_locked(repo, table, version, &tv, opts);
    if (rc == UDR_OK) {
        info->version = version;
        info->rows = tv.rows;
        info->chunks = tv.nchunks;
        for (size_t i = 0; i < tv.nchunks; i++)
            info->bytes += tv.chunks[i].bytes;
    }
    catv_free(&tv);
    return rc;
}
