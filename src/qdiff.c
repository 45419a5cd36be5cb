/*
 * qdiff — where two versions of a table differ, and merging them: the rows
 * of a diff (query_diff), the positions two versions do not share (the
 * change feed's rows, changes.c), the three-way merge of a keyed table's
 * rows (query_merge_rows), and a small change rebased onto what committed
 * meanwhile (query_merge_deltas). Part of the query layer: it builds on
 * query.c's helpers (query_int.h).
 */
#include "query.h"
#include "query_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "util/buf.h"

/* ---- diff ------------------------------------------------------------------- */

/* A view of a (sharing its columns, key and deletes; free view->chunks
 * only) restricted to the chunks whose live rows other may not have as
 * they are: chunks other lacks, and chunks named by a delete file that only
 * one of the two has (their deleted rows may differ). Reads those delete
 * files only. */
static int differing_view(query *q, const cat_tablever *a, const cat_tablever *other,
                          cat_tablever *view)
{
    *view = *a;
    view->chunks = calloc(a->nchunks + 1, sizeof *view->chunks);
    view->nchunks = 0;
    if (view->chunks == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    char *touched = calloc(a->nchunks + 1, 1);
    if (touched == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    /* Delete files and patches on one side only: which chunks they touch. */
    buf b;
    buf_init(&b);
    size_t nfiles = 0, common = qi_patch_prefix(a, other);
    for (int side = 0; side < 2; side++) {
        const cat_tablever *x = side ? other : a, *y = side ? a : other;
        for (size_t i = 0; i < x->ndeletes + x->npatches; i++) {
            int del = i < x->ndeletes;
            const udr_hash *h = del ? &x->deletes[i].hash : &x->patches[i - x->ndeletes].hash;
            if (del ? qi_has_chunk(y->deletes, y->ndeletes, h) : i - x->ndeletes < common)
                continue;
            char path[PATH_MAX * 2];
            qi_object_path(q, h, path, sizeof path);
            buf_adds(&b, nfiles++ ? " UNION SELECT chunk FROM read_parquet("
                                  : "SELECT DISTINCT chunk FROM read_parquet(");
            qi_add_literal(&b, path);
            buf_addc(&b, ')');
        }
    }
    int rc = UDR_OK;
    if (nfiles > 0) {
        char *sql = buf_take(&b, NULL);
        duckdb_result r;
        rc = sql ? qi_exec(q, sql, &r, "cannot read delete files") : UDR_ENOMEM;
        free(sql);
        for (idx_t i = 0; rc == UDR_OK && i < duckdb_row_count(&r); i++) {
            char *hex = duckdb_value_varchar(&r, 0, i);
            udr_hash h;
            if (hex != NULL && udr_hash_from_hex(hex, &h) == UDR_OK)
                for (size_t k = 0; k < a->nchunks; k++)
                    if (hash_equal(&a->chunks[k].hash, &h))
                        touched[k] = 1;
            duckdb_free(hex);
        }
        if (rc == UDR_OK)
            duckdb_destroy_result(&r);
    } else {
        buf_free(&b);
    }
    for (size_t i = 0; rc == UDR_OK && i < a->nchunks; i++)
        if (touched[i] || !qi_has_chunk(other->chunks, other->nchunks, &a->chunks[i].hash))
            view->chunks[view->nchunks++] = a->chunks[i];
    free(touched);
    return rc;
}

/* ---- where two versions differ ------------------------------------------------

   Rows two versions may not share as they are: the chunks one side lacks
   (read whole, less that side's deletes), and rows of chunks both share that
   one side deletes and the other does not. Those rows are found by comparing
   the (chunk, row) sets of the delete files only one side has, so a fold
   (eight delete files rewritten as one) costs the rows it newly deletes,
   not the rows it folds; only the chunks holding them are read. */


static void add_path(buf *b, const query *q, const udr_hash *h)
{
    char path[PATH_MAX * 2];
    qi_object_path(q, h, path, sizeof path);
    qi_add_literal(b, path);
}

/* read_parquet([the delete files of x that y lacks]) as (chunk, row), or
 * an empty relation. */
static void add_only_deletes(buf *b, const query *q, const cat_tablever *x,
                             const cat_tablever *y, int common)
{
    size_t n = 0;
    for (size_t i = 0; i < x->ndeletes; i++) {
        if (qi_has_chunk(y->deletes, y->ndeletes, &x->deletes[i].hash) != common)
            continue;
        buf_adds(b, n++ ? ", " : "(SELECT chunk, \"row\" FROM read_parquet([");
        add_path(b, q, &x->deletes[i].hash);
    }
    buf_adds(b, n ? "]))" : "(SELECT NULL::VARCHAR AS chunk, NULL::BIGINT AS \"row\" LIMIT 0)");
}

/* The positions (chunk, row) named by the patches of x and of y after the
 * ones they list alike (qi_patch_prefix), or an empty relation. */
static void add_only_patches(buf *b, const query *q, const cat_tablever *x,
                             const cat_tablever *y)
{
    size_t n = 0, common = qi_patch_prefix(x, y);
    for (int side = 0; side < 2; side++) {
        const cat_tablever *u = side ? y : x;
        for (size_t i = common; i < u->npatches; i++) {
            buf_adds(b, n++ ? " UNION SELECT chunk, \"row\" FROM read_parquet("
                            : "(SELECT chunk, \"row\" FROM read_parquet(");
            add_path(b, q, &u->patches[i].hash);
            buf_addc(b, ')');
        }
    }
    buf_adds(b, n ? ")" : "(SELECT NULL::VARCHAR AS chunk, NULL::BIGINT AS \"row\" LIMIT 0)");
}

/* The rows of chunks both versions have that may differ: those one
 * deletes and the other does not, side 1 (live in a, deleted in b), side 0
 * (the other way); and those a patch of one side names, on each side where
 * live (their values are compared by the reader). */
int qi_read_diffs(query *q, const cat_tablever *a, const cat_tablever *b, diffs *d)
{
    memset(d, 0, sizeof *d);
    int any = 0;
    for (size_t i = 0; i < a->ndeletes && !any; i++)
        any = !qi_has_chunk(b->deletes, b->ndeletes, &a->deletes[i].hash);
    for (size_t i = 0; i < b->ndeletes && !any; i++)
        any = !qi_has_chunk(a->deletes, a->ndeletes, &b->deletes[i].hash);
    size_t common = qi_patch_prefix(a, b);
    any = any || common != a->npatches || common != b->npatches;
    if (!any)
        return UDR_OK;      /* the same delete files and patches: no such row */
    /* x: deleted in b only; y: in a only; c: in both; p: named by a patch
     * one side lacks (its values may differ: read on each side where live). */
    buf s;
    buf_init(&s);
    buf_adds(&s, "WITH x AS (SELECT * FROM ");
    add_only_deletes(&s, q, b, a, 0);
    buf_adds(&s, "), y AS (SELECT * FROM ");
    add_only_deletes(&s, q, a, b, 0);
    buf_adds(&s, "), c AS (SELECT * FROM ");
    add_only_deletes(&s, q, a, b, 1);
    buf_adds(&s, "), p AS (SELECT * FROM ");
    add_only_patches(&s, q, a, b);
    buf_adds(&s, ") SELECT 1, * FROM (SELECT * FROM x UNION SELECT * FROM p EXCEPT SELECT * "
                 "FROM y EXCEPT SELECT * FROM c) UNION ALL SELECT 0, * FROM (SELECT * FROM y "
                 "UNION SELECT * FROM p EXCEPT SELECT * FROM x EXCEPT SELECT * FROM c)");
    duckdb_result r;
    int rc = qi_exec_result(q, &s, &r, "cannot read delete files");
    if (rc)
        return rc;
    idx_t n = duckdb_row_count(&r);
    d->v = calloc(n + 1, sizeof *d->v);
    for (idx_t i = 0; d->v != NULL && i < n; i++) {
        char *hex = duckdb_value_varchar(&r, 1, i);
        pos p = {duckdb_value_int32(&r, 0, i) != 0, {{0}}, duckdb_value_int64(&r, 2, i)};
        /* Only chunks both have: the others are read whole. */
        if (hex != NULL && udr_hash_from_hex(hex, &p.chunk) == UDR_OK &&
            qi_has_chunk(a->chunks, a->nchunks, &p.chunk) &&
            qi_has_chunk(b->chunks, b->nchunks, &p.chunk))
            d->v[d->n++] = p;
        duckdb_free(hex);
    }
    duckdb_destroy_result(&r);
    return d->v ? UDR_OK : err_set(q->err, UDR_ENOMEM, "out of memory");
}

/* SELECT x's columns FROM the rows x may have and y not: x's own chunks
 * (less x's deletes), and the rows of shared chunks on this side of d. */
void qi_add_side(buf *s, const query *q, const cat_tablever *x, const cat_tablever *y,
                     const diffs *d, int side)
{
    cat_tablever own = *x;
    cat_chunk *chunks = calloc(x->nchunks + 1, sizeof *chunks);
    own.chunks = chunks;
    own.nchunks = 0;
    for (size_t i = 0; chunks != NULL && i < x->nchunks; i++)
        if (!qi_has_chunk(y->chunks, y->nchunks, &x->chunks[i].hash))
            chunks[own.nchunks++] = x->chunks[i];
    size_t parts = 0;
    if (own.nchunks > 0) {
        qi_add_scan(s, q, &own, 0);
        parts++;
    }
    /* The shared chunks' rows, by position: one scan of the chunks that
     * hold them (in parallel), joined with the positions. */
    cat_tablever touched = *x;
    cat_chunk *tc = calloc(d->n + 1, sizeof *tc);
    touched.chunks = tc;
    touched.nchunks = 0;
    touched.ndeletes = 0;
    buf places;
    buf_init(&places);
    for (size_t i = 0; tc != NULL && i < d->n; i++) {
        if (d->v[i].side != side)
            continue;
        if (!qi_has_chunk(tc, touched.nchunks, &d->v[i].chunk))
            tc[touched.nchunks++] = (cat_chunk){d->v[i].chunk, 0, 0, 0, 0, 0};
        char path[PATH_MAX * 2];
        qi_object_path(q, &d->v[i].chunk, path, sizeof path);
        buf_adds(&places, places.len ? ", (" : "(");
        qi_add_literal(&places, path);
        buf_printf(&places, ", %lld)", (long long)d->v[i].row);
    }
    if (touched.nchunks > 0) {
        buf_adds(s, parts++ ? " UNION ALL SELECT * EXCLUDE (filename, file_row_number) FROM ("
                            : "SELECT * EXCLUDE (filename, file_row_number) FROM (");
        qi_add_scan(s, q, &touched, 1);
        buf_adds(s, ") SEMI JOIN (VALUES ");
        buf_add(s, places.data, places.len);
        buf_adds(s, ") AS __udr_p(f, r) ON filename = __udr_p.f AND file_row_number = __udr_p.r");
    }
    buf_free(&places);
    free(tc);
    if (parts == 0) {
        /* Nothing: an empty relation of x's shape. */
        cat_tablever any = *x;
        any.nchunks = x->nchunks > 0 ? 1 : 0;
        any.ndeletes = 0;
        buf_adds(s, "SELECT * FROM (");
        qi_add_scan(s, q, &any, 0);
        buf_adds(s, ") LIMIT 0");
    }
    free(chunks);
}

/* (SELECT cols FROM the rows a has and other may not have as they are):
 * what a diff of a against other reads. Chunks other lacks are read whole
 * (less a's deleted rows); from a chunk both share, only the rows other
 * deletes and a does not (the chunk is the same file on both sides, so
 * nothing else in it can differ). */
static int add_only_chunks(buf *b, query *q, const cat_tablever *a, const cat_tablever *other,
                           const schema *cols)
{
    diffs d;
    int rc = qi_read_diffs(q, a, other, &d);
    if (rc)
        return rc;
    buf_adds(b, "(SELECT ");
    qi_add_column_list(b, cols);
    buf_adds(b, " FROM (");
    qi_add_side(b, q, a, other, &d, 1);
    buf_adds(b, "))");
    free(d.v);
    return UDR_OK;
}

int query_diff(query *q, const char *table, const char *from, const char *to,
               const char *const *key, udr_diff *counts, duckdb_result *rows)
{
    memset(counts, 0, sizeof *counts);
    int rc = qi_open(q);
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
    if (catv_is_raw(&a) || catv_is_raw(&b)) {
        rc = catv_raw_error(q->err, table, catv_is_raw(&a) ? va.version : vb.version,
                            "it has no rows to compare");
        catv_free(&a);
        catv_free(&b);
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
        if (!qi_has_column(&common, k[i])) {
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
    if ((rc = add_only_chunks(&s, q, &a, &b, &common)) != 0) {
        buf_free(&s);
        goto done;
    }
    buf_adds(&s, ", b AS ");
    if ((rc = add_only_chunks(&s, q, &b, &a, &common)) != 0) {
        buf_free(&s);
        goto done;
    }
    if (nk == 0) {
        /* Whole rows, as multisets: what is in one and not the other. */
        buf_adds(&s, " SELECT * FROM (SELECT 'added' AS change, * FROM "
                     "(SELECT * FROM b EXCEPT ALL SELECT * FROM a) UNION ALL "
                     "SELECT 'removed', * FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)) "
                     "ORDER BY ALL");
    } else {
        buf kl;
        buf_init(&kl);
        qi_add_key_list(&kl, k);
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
    rc = qi_exec_shown(q, sql, &r, "cannot compute the diff");
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
    qi_schema_free(&common);
    catv_free(&a);
    catv_free(&b);
    return rc;
}

/* ---- three-way merge of a keyed table's rows -------------------------------- */

static int report_rows(query *q, const char *table, const char *const *key,
                       const char *resolution);

/* {'c1': "c1", ...}: a row as a struct with the columns' names. */
static void add_row_struct(buf *b, const cat_tablever *tv)
{
    buf_addc(b, '{');
    for (size_t i = 0; i < tv->ncols; i++) {
        buf_adds(b, i ? ", " : "");
        qi_add_literal(b, tv->cols[i].name);
        buf_adds(b, ": ");
        qi_add_ident(b, tv->cols[i].name);
    }
    buf_addc(b, '}');
}

/* CREATE TABLE name AS the keys whose rows differ between from and to (each
 * side read only where it may differ), with both rows as structs. */
static int changes_table(query *q, const char *name, const cat_tablever *from,
                         const cat_tablever *to, const char *from_col, const char *to_col)
{
    schema cols = {from->cols, from->ncols};
    const char *const *key = (const char *const *)from->key;
    buf b;
    buf_init(&b);
    buf_printf(&b, "CREATE OR REPLACE TABLE %s AS SELECT ", name);
    qi_add_key_list(&b, key);
    buf_printf(&b, ", f.__r AS %s, t.__r AS %s FROM (SELECT ", from_col, to_col);
    qi_add_key_list(&b, key);
    buf_adds(&b, ", ");
    add_row_struct(&b, from);
    buf_adds(&b, " AS __r FROM ");
    int rc = add_only_chunks(&b, q, from, to, &cols);
    buf_adds(&b, ") f FULL JOIN (SELECT ");
    qi_add_key_list(&b, key);
    buf_adds(&b, ", ");
    add_row_struct(&b, to);
    buf_adds(&b, " AS __r FROM ");
    if (rc == UDR_OK)
        rc = add_only_chunks(&b, q, to, from, &cols);
    buf_adds(&b, ") t USING (");
    qi_add_key_list(&b, key);
    buf_adds(&b, ") WHERE f.__r IS DISTINCT FROM t.__r");
    char *sql = buf_take(&b, NULL);
    if (rc == UDR_OK)
        rc = sql ? qi_exec(q, sql, NULL, "cannot compare two versions") : UDR_ENOMEM;
    free(sql);
    return rc;
}

static int same_columns(const cat_tablever *a, const cat_tablever *b)
{
    if (a->nkey != b->nkey || a->nkey == 0 || !catv_same_columns(a, b))
        return 0;
    for (size_t i = 0; i < a->nkey; i++)
        if (strcmp(a->key[i], b->key[i]) != 0)
            return 0;
    return 1;
}

/* The merge written whole: ours' rows less the keys in __udr_ma, plus
 * theirs' rows there. For when a chunk the merge wrote has the bytes of
 * one ours lists (an earlier merge wrote the same rows, which ours then
 * changed): a delete file names rows by chunk, so it could not tell the
 * two apart. */
static int merge_whole(query *q, const char *table, const cat_tablever *ours,
                       const udr_hash *ours_h, const char *keys, const char *const *key,
                       udr_hash *out, udr_write_info *info)
{
    buf b;
    buf_init(&b);
    buf_adds(&b, "SELECT * FROM (");
    qi_add_scan(&b, q, ours, 0);
    buf_printf(&b, ") ANTI JOIN __udr_ma USING (%s) UNION ALL SELECT unnest(their_r) FROM "
                   "__udr_ma WHERE their_r IS NOT NULL", keys);
    char *sql = buf_take(&b, NULL);
    int rc = sql ? qi_build_whole(q, table, sql, key, ours_h, out, info)
                 : err_set(q->err, UDR_ENOMEM, "out of memory");
    free(sql);
    return rc;
}

int query_merge_rows(query *q, const char *table, const udr_hash *base_h,
                     const udr_hash *ours_h, const udr_hash *theirs_h, int take_theirs,
                     int keep_ours, int strict, udr_hash *out, uint64_t *nconflicts,
                     int *mergeable, udr_write_info *info)
{
    memset(info, 0, sizeof *info);
    *nconflicts = 0;
    *mergeable = 0;
    int rc = qi_open(q);
    if (rc)
        return rc;
    cat_tablever base = {0}, ours = {0}, theirs = {0};
    if ((rc = catalog_read_tablever(q->cat, base_h, &base)) != 0 ||
        (rc = catalog_read_tablever(q->cat, ours_h, &ours)) != 0 ||
        (rc = catalog_read_tablever(q->cat, theirs_h, &theirs)) != 0)
        goto done;
    /* Row by row only with one key and one schema on all three sides. */
    if (!same_columns(&base, &ours) || !same_columns(&base, &theirs))
        goto done;
    *mergeable = 1;
    const char *const *key = (const char *const *)ours.key;
    buf kl;
    buf_init(&kl);
    qi_add_key_list(&kl, key);
    char *keys = buf_take(&kl, NULL);
    if (keys == NULL) {
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = changes_table(q, "__udr_mt", &base, &theirs, "base_r", "their_r")) != 0 ||
        (rc = changes_table(q, "__udr_mo", &base, &ours, "base_r", "our_r")) != 0) {
        free(keys);
        goto done;
    }
    /* Conflicts: a key both sides changed, differently. The rows theirs
     * brings: its changes to keys ours left alone, and under "theirs" the
     * conflicting ones. */
    buf b;
    buf_init(&b);
    buf_printf(&b,
               "CREATE OR REPLACE TABLE __udr_conflicts AS SELECT %s, t.base_r, o.our_r, "
               "t.their_r FROM __udr_mt t JOIN __udr_mo o USING (%s) "
               "WHERE %s; "
               "CREATE OR REPLACE TABLE __udr_ma AS SELECT %s, their_r FROM __udr_mt "
               "ANTI JOIN __udr_mo USING (%s)%s",
               keys, keys, strict ? "true" : "t.their_r IS DISTINCT FROM o.our_r", keys, keys,
               take_theirs ? " UNION ALL SELECT * EXCLUDE (base_r, our_r) FROM __udr_conflicts"
                           : "");
    char *sql = buf_take(&b, NULL);
    rc = sql ? qi_exec(q, sql, NULL, "cannot merge rows") : err_set(q->err, UDR_ENOMEM, "out of memory");
    free(sql);
    if (rc == UDR_OK) {
        *nconflicts = qi_count_of(q, "__udr_conflicts");
        if (*nconflicts > 0)
            rc = report_rows(q, table, key,
                             take_theirs ? "took theirs" : keep_ours ? "kept ours" : "conflict");
    }
    if (rc == UDR_OK) {
        uint64_t napply = qi_count_of(q, "__udr_ma");
        if ((*nconflicts > 0 && !take_theirs && !keep_ours) || napply == 0) {
            *out = *ours_h;            /* nothing to write (or not allowed to) */
            free(keys);
            goto done;
        }
        /* Where the rows to replace lie in ours: only in chunks that differ
         * from base or from theirs (elsewhere nothing changed on theirs'
         * side, and ours kept base's rows). */
        cat_tablever va = {0}, vb = {0};
        rc = differing_view(q, &ours, &base, &va);
        if (rc == UDR_OK)
            rc = differing_view(q, &ours, &theirs, &vb);
        cat_tablever where = ours;
        where.chunks = calloc(ours.nchunks + 1, sizeof *where.chunks);
        where.nchunks = 0;
        for (size_t i = 0; rc == UDR_OK && where.chunks && i < ours.nchunks; i++)
            if (qi_has_chunk(va.chunks, va.nchunks, &ours.chunks[i].hash) ||
                qi_has_chunk(vb.chunks, vb.nchunks, &ours.chunks[i].hash))
                where.chunks[where.nchunks++] = ours.chunks[i];
        free(va.chunks);
        free(vb.chunks);
        if (rc == UDR_OK && where.chunks == NULL)
            rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        cat_chunk del = {0};
        uint64_t ndel = 0;
        if (rc == UDR_OK && where.nchunks > 0) {
            buf_init(&b);
            buf_adds(&b, "CREATE OR REPLACE TABLE __udr_gone AS SELECT string_split(filename, '/')"
                         "[-1] AS chunk, file_row_number AS \"row\" FROM (");
            qi_add_scan(&b, q, &where, 1);
            buf_printf(&b, ") SEMI JOIN __udr_ma USING (%s) ORDER BY 1, 2", keys);
            sql = buf_take(&b, NULL);
            rc = sql ? qi_exec(q, sql, NULL, "cannot find the rows to replace") : UDR_ENOMEM;
            free(sql);
            ndel = rc == UDR_OK ? qi_count_of(q, "__udr_gone") : 0;
        }
        free(where.chunks);
        if (rc == UDR_OK && ndel > 0)
            rc = qi_write_delete_file(q, "SELECT chunk, \"row\" FROM __udr_gone", ndel, &del, info);
        /* Theirs' rows go into new chunks, sorted by the key. */
        cuts c = {0};
        schema s = {0};
        cat_chunk *written = NULL;
        size_t nwritten = 0;
        uint64_t nins = 0;
        if (rc == UDR_OK &&
            (rc = qi_stage(q, "SELECT unnest(their_r) FROM __udr_ma WHERE their_r IS NOT NULL", key,
                        NULL, 0)) == UDR_OK &&
            (rc = qi_read_schema(q, "__udr_rows", &s)) == UDR_OK) {
            nins = qi_count_of(q, "__udr_rows");
            if (nins > 0 && (rc = qi_find_cuts(q, nins, &c)) == UDR_OK)
                rc = qi_write_chunks(q, &s, key, &c, &written, &nwritten, info);
        }
        qi_exec(q, "DROP TABLE IF EXISTS __udr_rows; DROP TABLE IF EXISTS __udr_gone", NULL, "");
        cat_tablever tv = ours;
        tv.chunks = NULL;
        tv.deletes = NULL;
        if (rc == UDR_OK) {
            tv.chunks = calloc(ours.nchunks + nwritten + 1, sizeof *tv.chunks);
            tv.deletes = calloc(ours.ndeletes + 2, sizeof *tv.deletes);
            if (tv.chunks == NULL || tv.deletes == NULL)
                rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        }
        if (rc == UDR_OK) {
            memcpy(tv.chunks, ours.chunks, ours.nchunks * sizeof *tv.chunks);
            if (nwritten)
                memcpy(tv.chunks + ours.nchunks, written, nwritten * sizeof *tv.chunks);
            tv.nchunks = ours.nchunks + nwritten;
            if (ours.ndeletes)
                memcpy(tv.deletes, ours.deletes, ours.ndeletes * sizeof *tv.deletes);
            tv.ndeletes = ours.ndeletes;
            if (ndel > 0)
                tv.deletes[tv.ndeletes++] = del;
            tv.rows = ours.rows - ndel + nins;
            tv.has_parent = 1;
            tv.parent = *ours_h;
            if (qi_chunks_unique(tv.chunks, tv.nchunks)) {
                rc = qi_put_tablever(q, &tv, out);
                info->rows = tv.rows;
                info->chunks = tv.nchunks;
            } else {
                rc = merge_whole(q, table, &ours, ours_h, keys, key, out, info);
            }
        }
        free(tv.chunks);
        free(tv.deletes);
        free(written);
        free(c.at);
        qi_schema_free(&s);
    }
    free(keys);
done:
    qi_exec(q, "DROP TABLE IF EXISTS __udr_mt; DROP TABLE IF EXISTS __udr_mo; "
            "DROP TABLE IF EXISTS __udr_ma",
         NULL, "");
    catv_free(&base);
    catv_free(&ours);
    catv_free(&theirs);
    return rc;
}

/* ---- merging a small change into what committed meanwhile --------------- */

static int same_schema(const cat_tablever *a, const cat_tablever *b)
{
    if (a->ncols != b->ncols || a->nkey != b->nkey)
        return 0;
    for (size_t i = 0; i < a->ncols; i++)
        if (strcmp(a->cols[i].name, b->cols[i].name) || strcmp(a->cols[i].type, b->cols[i].type))
            return 0;
    for (size_t i = 0; i < a->nkey; i++)
        if (strcmp(a->key[i], b->key[i]) != 0)
            return 0;
    return 1;
}

/* 1 if tv is base with chunks and delete files added after base's own
 * (none of base's folded or rewritten), and patches in the table's one
 * set of columns. Its patches may have merged base's last ones into its
 * own (the size tiers of an UPDATE): add_patch_delta tells its changes
 * apart. */
static int extends(const cat_tablever *tv, const cat_tablever *base)
{
    if (tv->nchunks < base->nchunks || tv->ndeletes < base->ndeletes || !same_schema(tv, base))
        return 0;
    for (size_t i = 0; i < base->nchunks; i++)
        if (!hash_equal(&tv->chunks[i].hash, &base->chunks[i].hash))
            return 0;
    for (size_t i = 0; i < base->ndeletes; i++)
        if (!hash_equal(&tv->deletes[i].hash, &base->deletes[i].hash))
            return 0;
    if (tv->npatches > 0 && base->npatches > 0 && tv->patches[0].cols != base->patches[0].cols)
        return 0;
    return 1;
}

/* SELECT chunk, "row" and the patched columns of tv's patches from `from`
 * on (from < tv->npatches), the later winning at a position. */
static void add_patch_rows(buf *b, const query *q, const cat_tablever *tv, size_t from)
{
    buf names;
    buf_init(&names);
    for (size_t i = 0; i < tv->ncols && i < CAT_PATCH_MAX_COLUMN; i++)
        if (tv->patches[from].cols >> i & 1) {
            buf_adds(&names, ", ");
            qi_add_ident(&names, tv->cols[i].name);
        }
    const char *cols = names.data ? names.data : "";
    buf_printf(b, "SELECT chunk, \"row\"%s FROM (", cols);
    for (size_t i = from; i < tv->npatches; i++) {
        buf_printf(b, "%sSELECT %zu AS __o, chunk, \"row\"%s FROM read_parquet(",
                   i > from ? " UNION ALL " : "", i, cols);
        add_path(b, q, &tv->patches[i].hash);
        buf_addc(b, ')');
    }
    buf_adds(b, ") QUALIFY row_number() OVER (PARTITION BY chunk, \"row\" ORDER BY __o DESC) = 1");
    buf_free(&names);
}

/* SELECT chunk, "row" and the patched columns: the rows tv's patches
 * (those after the ones it lists like base) set to values base's patches
 * after those do not give them. A patch that merged base's last patches
 * into a change's restates their rows as base has them: those are not the
 * change's. (A row set to the value it had is no change, as for a row
 * merge.) Empty SQL when tv has no patch of its own; all of its rows when
 * base's patches hold other columns (tv's chunks were written anew). */
static void add_patch_delta(buf *b, const query *q, const cat_tablever *tv,
                            const cat_tablever *base)
{
    size_t p = qi_patch_prefix(tv, base);
    if (p == tv->npatches)
        return;
    buf_addc(b, '(');
    add_patch_rows(b, q, tv, p);
    if (p < base->npatches && base->patches[p].cols == tv->patches[p].cols) {
        buf_adds(b, " EXCEPT ");
        add_patch_rows(b, q, base, p);
    }
    buf_addc(b, ')');
}

/* (SELECT chunk, "row" ...): the positions the delete files at dels and
 * the rows of more (SQL as add_patch_delta's; may be empty) name, or an
 * empty relation. */
static void add_positions(buf *b, const query *q, const cat_chunk *dels, size_t ndels,
                          const char *more)
{
    size_t n = 0;
    for (size_t i = 0; i < ndels; i++) {
        buf_adds(b, n++ ? " UNION ALL SELECT chunk, \"row\" FROM read_parquet("
                        : "(SELECT chunk, \"row\" FROM read_parquet(");
        add_path(b, q, &dels[i].hash);
        buf_addc(b, ')');
    }
    if (more != NULL && more[0] != '\0')
        buf_printf(b, "%sSELECT chunk, \"row\" FROM %s", n++ ? " UNION ALL " : "(", more);
    buf_adds(b, n ? ")" : "(SELECT NULL::VARCHAR AS chunk, NULL::BIGINT AS \"row\" LIMIT 0)");
}

/* 1 if every chunk the positions name is one of target's. */
static int positions_in(query *q, buf *positions, const cat_tablever *target, int *rc)
{
    buf b;
    buf_init(&b);
    buf_adds(&b, "SELECT DISTINCT chunk FROM ");
    buf_adds(&b, positions->data ? positions->data : "");
    duckdb_result r;
    if ((*rc = qi_exec_result(q, &b, &r, "cannot read a delete file")) != UDR_OK)
        return 0;
    int all = 1;
    for (idx_t i = 0; all && i < duckdb_row_count(&r); i++) {
        char *hex = duckdb_value_varchar(&r, 0, i);
        udr_hash h;
        all = hex != NULL && udr_hash_from_hex(hex, &h) == UDR_OK &&
              qi_has_chunk(target->chunks, target->nchunks, &h);
        duckdb_free(hex);
    }
    duckdb_destroy_result(&r);
    return all;
}

/* 1 if a row x changed target changed too since base, or a key x added
 * target added too: first committer wins by row. x's patched rows are in
 * __udr_pd when it has any. */
static int clashes(query *q, const cat_tablever *base, const cat_tablever *x,
                   const cat_tablever *target, buf *xpos, int *rc)
{
    size_t na = x->nchunks - base->nchunks;
    buf b, tdelta;
    buf_init(&b);
    buf_init(&tdelta);
    add_patch_delta(&tdelta, q, target, base);
    buf_adds(&b, "SELECT 0");
    if (target->ndeletes > 0 || tdelta.len > 0) {
        buf_adds(&b, " + (SELECT count(*) FROM (SELECT * FROM ");
        buf_adds(&b, xpos->data ? xpos->data : "");
        buf_adds(&b, " INTERSECT SELECT * FROM ");
        add_positions(&b, q, target->deletes, target->ndeletes, tdelta.data);
        buf_adds(&b, "))");
    }
    buf_free(&tdelta);
    cat_tablever added = *x, fresh = *target;
    added.chunks = x->chunks + base->nchunks;
    added.nchunks = na;
    fresh.nchunks = 0;
    if ((fresh.chunks = calloc(target->nchunks + 1, sizeof *fresh.chunks)) == NULL) {
        buf_free(&b);
        *rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        return 0;
    }
    for (size_t i = 0; i < target->nchunks; i++)
        if (!qi_has_chunk(base->chunks, base->nchunks, &target->chunks[i].hash))
            fresh.chunks[fresh.nchunks++] = target->chunks[i];
    if (na > 0 && fresh.nchunks > 0) {
        buf_adds(&b, " + (SELECT count(*) FROM (SELECT ");
        qi_add_key_list(&b, (const char *const *)base->key);
        buf_adds(&b, " FROM (");
        qi_add_scan(&b, q, &added, 0);
        buf_adds(&b, ") INTERSECT SELECT ");
        qi_add_key_list(&b, (const char *const *)base->key);
        buf_adds(&b, " FROM (");
        qi_add_scan(&b, q, &fresh, 0);
        buf_adds(&b, ")))");
    }
    free(fresh.chunks);
    duckdb_result r;
    if ((*rc = qi_exec_result(q, &b, &r, "cannot compare the two changes")) != UDR_OK)
        return 0;
    int clash = duckdb_value_int64(&r, 0, 0) > 0;
    duckdb_destroy_result(&r);
    return clash;
}

/* target with x's changes to base (x extends base): its new chunks and
 * delete files, and the rows its patches changed as one patch after
 * target's (merged with target's newest by size tiers). *applies 0 when a
 * row x deleted or patched is not where it was in target (a fold moved
 * it), or target's patches hold other columns. */
static int apply_delta(query *q, const cat_tablever *base, const cat_tablever *x,
                       const cat_tablever *target, const udr_hash *target_h, udr_hash *out,
                       int *applies, int *conflict)
{
    size_t na = x->nchunks - base->nchunks, nd = x->ndeletes - base->ndeletes;
    size_t px = qi_patch_prefix(x, base);
    uint64_t cols = px < x->npatches ? x->patches[px].cols : 0, npd = 0;
    if (cols != 0 && target->npatches > 0 && target->patches[0].cols != cols)
        return UDR_OK;
    int rc = UDR_OK;
    if (cols != 0) {
        buf b;
        buf_init(&b);
        buf_adds(&b, "CREATE OR REPLACE TABLE __udr_pd AS SELECT * FROM ");
        add_patch_delta(&b, q, x, base);
        if ((rc = qi_exec_buf(q, &b, "cannot read the patches")) != UDR_OK)
            return rc;
        npd = qi_count_of(q, "__udr_pd");
    }
    buf xpos;
    buf_init(&xpos);
    add_positions(&xpos, q, x->deletes + base->ndeletes, nd, npd > 0 ? "__udr_pd" : NULL);
    /* The rows x deleted or patched must lie in chunks target still has. */
    if (nd + npd > 0 && !positions_in(q, &xpos, target, &rc)) {
        buf_free(&xpos);
        return rc;
    }
    *conflict = clashes(q, base, x, target, &xpos, &rc);
    buf_free(&xpos);
    if (rc != UDR_OK || *conflict) {
        *applies = rc == UDR_OK;
        return rc;
    }
    cat_tablever tv = *target;
    tv.chunks = calloc(target->nchunks + na + 1, sizeof *tv.chunks);
    tv.deletes = calloc(target->ndeletes + nd + 1, sizeof *tv.deletes);
    tv.patches = NULL;
    if (tv.chunks == NULL || tv.deletes == NULL) {
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(tv.chunks, target->chunks, target->nchunks * sizeof *tv.chunks);
    if (na)
        memcpy(tv.chunks + target->nchunks, x->chunks + base->nchunks, na * sizeof *tv.chunks);
    tv.nchunks = target->nchunks + na;
    if (target->ndeletes)
        memcpy(tv.deletes, target->deletes, target->ndeletes * sizeof *tv.deletes);
    if (nd)
        memcpy(tv.deletes + target->ndeletes, x->deletes + base->ndeletes,
               nd * sizeof *tv.deletes);
    tv.ndeletes = target->ndeletes + nd;
    if (!qi_chunks_unique(tv.chunks, tv.nchunks))
        goto done;                     /* the row merge handles it */
    /* x's own patch files go on as they are when it merged none of base's
     * and they fit; else what it changed is written as one patch. */
    udr_write_info scratch = {0};
    size_t own = x->npatches - px;
    int as_they_are = px == base->npatches && qi_patches_fit(target, x->patches + px, own);
    if (npd > 0 && as_they_are && (tv.patches = calloc(target->npatches + own + 1,
                                                       sizeof *tv.patches)) == NULL) {
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        goto done;
    }
    if (npd > 0 && as_they_are) {
        if (target->npatches)
            memcpy(tv.patches, target->patches, target->npatches * sizeof *tv.patches);
        memcpy(tv.patches + target->npatches, x->patches + px, own * sizeof *tv.patches);
        tv.npatches = target->npatches + own;
    } else if (npd > 0) {
        rc = qi_patches_with(q, target, cols, "SELECT * FROM __udr_pd", npd, &tv.patches,
                             &tv.npatches, &scratch);
    } else {
        tv.patches = target->patches;
    }
    if (rc == UDR_OK) {
        tv.rows = target->rows + x->rows - base->rows;
        tv.has_parent = 1;
        tv.parent = *target_h;
        rc = qi_put_tablever(q, &tv, out);
        *applies = rc == UDR_OK;
    }
    if (npd > 0)
        free(tv.patches);
done:
    free(tv.chunks);
    free(tv.deletes);
    return rc;
}

int query_merge_deltas(query *q, const udr_hash *base_h, const udr_hash *ours_h,
                       const udr_hash *theirs_h, udr_hash *out, int *applies, int *conflict)
{
    *applies = 0;
    *conflict = 0;
    cat_tablever base = {0}, ours = {0}, theirs = {0};
    int rc = qi_open(q);
    if (rc == UDR_OK && (rc = catalog_read_tablever(q->cat, base_h, &base)) == UDR_OK &&
        (rc = catalog_read_tablever(q->cat, ours_h, &ours)) == UDR_OK)
        rc = catalog_read_tablever(q->cat, theirs_h, &theirs);
    /* The side that only added to base has its additions put on the other
     * (which may have folded base's last chunks or delete files). */
    if (rc == UDR_OK && base.nkey > 0 && !qi_needs_cast(&base) && same_schema(&ours, &base) &&
        same_schema(&theirs, &base)) {
        if (extends(&ours, &base))
            rc = apply_delta(q, &base, &ours, &theirs, theirs_h, out, applies, conflict);
        else if (extends(&theirs, &base))
            rc = apply_delta(q, &base, &theirs, &ours, theirs_h, out, applies, conflict);
    }
    qi_exec(q, "DROP TABLE IF EXISTS __udr_pd", NULL, "");
    catv_free(&base);
    catv_free(&ours);
    catv_free(&theirs);
    if (rc)
        *applies = 0;
    return rc;
}

int query_report_begin(query *q)
{
    int rc = qi_open(q);
    return rc ? rc
              : qi_exec(q, "CREATE OR REPLACE TABLE __udr_merge_report (\"table\" VARCHAR, "
                        "\"key\" VARCHAR, base VARCHAR, ours VARCHAR, theirs VARCHAR, "
                        "resolution VARCHAR)",
                     NULL, "cannot start a merge report");
}

int query_report_table(query *q, const char *table, const char *resolution)
{
    buf b;
    buf_init(&b);
    buf_adds(&b, "INSERT INTO __udr_merge_report VALUES (");
    qi_add_literal(&b, table);
    buf_adds(&b, ", '', NULL, NULL, NULL, ");
    qi_add_literal(&b, resolution);
    buf_adds(&b, ")");
    return qi_exec_buf(q, &b, "cannot report a conflict");
}

/* The conflicts query_merge_rows left in __udr_conflicts, into the report. */
static int report_rows(query *q, const char *table, const char *const *key,
                       const char *resolution)
{
    buf b;
    buf_init(&b);
    buf_adds(&b, "INSERT INTO __udr_merge_report SELECT ");
    qi_add_literal(&b, table);
    buf_adds(&b, ", ");
    qi_add_key_text(&b, key);
    buf_adds(&b, ", CAST(base_r AS VARCHAR), CAST(our_r AS VARCHAR), CAST(their_r AS VARCHAR), ");
    qi_add_literal(&b, resolution);
    buf_adds(&b, " FROM __udr_conflicts ORDER BY ALL");
    return qi_exec_buf(q, &b, "cannot report conflicts");
}

int query_report_take(query *q, duckdb_result *out, uint64_t *rows)
{
    int rc = qi_exec(q, "SELECT * FROM __udr_merge_report", out, "cannot read the merge report");
    *rows = rc == UDR_OK ? (uint64_t)duckdb_row_count(out) : 0;
    qi_exec(q, "DROP TABLE IF EXISTS __udr_merge_report; DROP TABLE IF EXISTS __udr_conflicts",
         NULL, "");
    return rc;
}
