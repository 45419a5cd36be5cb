/*
 * txapi — transactions in the public API; see txapi.h.
 */
#include "txapi.h"

#include "feedapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "dml.h"
#include "hash.h"
#include "query.h"
#include "repo.h"
#include "tx.h"
#include "util/buf.h"

struct udr_tx {
    udr_repo *repo;
    tx_state t;
    query_view view;
    int failed;                        /* a call failed: only rollback now */
    const char *author;                /* NULL: the default */
    char first_error[ERR_MSG_BYTES];
    int *rerun;                        /* a statement of udr_query on its own: set
                                          when it should run again rather than merge */
    cat_ack *acks;                     /* subscriptions' cursors to move with it */
    size_t nacks;
};

static int view_lookup(void *ctx, const char *table, cat_entry *out, int *found)
{
    udr_tx *tx = ctx;
    return tx_lookup(&tx->t, table, out, found);
}

static void view_read(void *ctx, const char *table)
{
    udr_tx *tx = ctx;
    tx_record_read(&tx->t, table);
}

int udr_tx_begin(udr_repo *repo, const char *branch, udr_isolation isolation, udr_tx **out)
{
    *out = NULL;
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    if (repo->tx != NULL)
        return err_set(&repo->err, UDR_EINVAL,
                       "a transaction is open on this handle already: commit or roll it back");
    udr_tx *tx = calloc(1, sizeof *tx);
    if (tx == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    if ((rc = tx_begin(&repo->cat, branch, isolation == UDR_SERIALIZABLE, &tx->t)) != 0) {
        free(tx);
        return rc;
    }
    tx->repo = repo;
    tx->view = (query_view){view_lookup, view_read, tx};
    repo->tx = tx;
    *out = tx;
    return UDR_OK;
}

/* Starts a call inside the transaction. */
static int enter(udr_tx *tx)
{
    int rc = repo_begin(tx->repo);
    if (rc)
        return rc;
    if (tx->failed)
        return err_set(&tx->repo->err, UDR_EINVAL,
                       "the transaction failed earlier (%s); roll it back", tx->first_error);
    tx->repo->q.view = &tx->view;
    return UDR_OK;
}

/* Ends a call: a failure aborts the transaction. */
static int leave(udr_tx *tx, int rc)
{
    tx->repo->q.view = NULL;
    if (rc != UDR_OK && !tx->failed) {
        tx->failed = 1;
        snprintf(tx->first_error, sizeof tx->first_error, "%.200s", tx->repo->err.msg);
    }
    return rc;
}

static int do_write(udr_tx *tx, const char *table, const char *select_sql,
                    const udr_write_opts *opts, udr_write_info *info, int append)
{
    udr_write_info scratch;
    if (info == NULL)
        info = &scratch;
    int rc = enter(tx);
    if (rc)
        return rc;
    cat_entry base;
    int found = 0;
    udr_hash tvh;
    if ((rc = catalog_check_name(table, &tx->repo->err)) == UDR_OK)
        rc = tx_lookup(&tx->t, table, &base, &found);
    if (rc == UDR_OK) {
        query_progress_begin(&tx->repo->q, table);
        rc = query_build(&tx->repo->q, table, select_sql, opts ? opts->key : NULL, append,
                         found ? &base.hash : NULL, &tvh, info);
    }
    if (rc == UDR_OK && tx_record_write(&tx->t, table, &tvh) != UDR_OK)
        rc = err_set(&tx->repo->err, UDR_ENOMEM, "out of memory");
    if (rc && catalog_check_name(table, NULL) == UDR_OK)
        err_prefix(&tx->repo->err, "cannot %s table %s", append ? "append to" : "write", table);
    return leave(tx, rc);
}

int udr_tx_write(udr_tx *tx, const char *table, const char *select_sql,
                 const udr_write_opts *opts, udr_write_info *info)
{
    return do_write(tx, table, select_sql, opts, info, 0);
}

int udr_tx_append(udr_tx *tx, const char *table, const char *select_sql,
                  const udr_write_opts *opts, udr_write_info *info)
{
    return do_write(tx, table, select_sql, opts, info, 1);
}

int udr_tx_drop(udr_tx *tx, const char *table)
{
    int rc = enter(tx);
    if (rc)
        return rc;
    cat_entry e;
    int found = 0;
    if ((rc = catalog_check_name(table, &tx->repo->err)) == UDR_OK &&
        (rc = tx_lookup(&tx->t, table, &e, &found)) == UDR_OK && !found)
        rc = err_set(&tx->repo->err, UDR_ENOTFOUND, "there is no table %s to drop", table);
    if (rc == UDR_OK && tx_record_write(&tx->t, table, NULL) != UDR_OK)
        rc = err_set(&tx->repo->err, UDR_ENOMEM, "out of memory");
    return leave(tx, rc);
}

/* A one-value result: "count" = n. */
static int count_result(udr_repo *repo, uint64_t n, udr_result **out)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT %llu::BIGINT AS count", (unsigned long long)n);
    duckdb_result r;
    int rc = query_run(&repo->q, sql, NULL, 0, &r);
    if (rc == UDR_OK && (*out = repo_wrap_result(&r)) == NULL)
        rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
    return rc;
}

/* The first value of a query (in the transaction's view) as a number. */
static int scalar_u64(udr_repo *repo, const char *sql, uint64_t *v)
{
    duckdb_result r;
    int rc = query_run(&repo->q, sql, NULL, 0, &r);
    if (rc)
        return rc;
    *v = duckdb_row_count(&r) > 0 ? (uint64_t)duckdb_value_int64(&r, 0, 0) : 0;
    duckdb_destroy_result(&r);
    return UDR_OK;
}

/* INSERT's rows as the table's columns: the ones named, NULL for others. */
static int insert_source(udr_repo *repo, const dml *d, buf *b)
{
    buf q;
    buf_init(&q);
    buf_adds(&q, "DESCRIBE SELECT * FROM ");
    buf_quoted(&q, d->table, '"');
    char *sql = buf_take(&q, NULL);
    if (sql == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    duckdb_result r;
    int rc = query_run(&repo->q, sql, NULL, 0, &r);
    free(sql);
    if (rc)
        return rc;
    idx_t n = duckdb_row_count(&r);
    for (size_t k = 0; k < d->ncolumns; k++) {
        int known = 0;
        for (idx_t i = 0; i < n && !known; i++) {
            char *name = duckdb_value_varchar(&r, 0, i);
            known = name && strcmp(name, d->columns[k]) == 0;
            duckdb_free(name);
        }
        if (!known) {
            duckdb_destroy_result(&r);
            return err_set(&repo->err, UDR_EINVAL, "table %s has no column %s", d->table,
                           d->columns[k]);
        }
    }
    buf_adds(b, "SELECT ");
    for (idx_t i = 0; i < n; i++) {
        char *name = duckdb_value_varchar(&r, 0, i), *type = duckdb_value_varchar(&r, 1, i);
        int given = d->ncolumns == 0;
        for (size_t k = 0; k < d->ncolumns && !given; k++)
            given = strcmp(name, d->columns[k]) == 0;
        buf_adds(b, i ? ", " : "");
        if (given) {
            buf_quoted(b, name, '"');
        } else {
            buf_printf(b, "CAST(NULL AS %s) AS ", type);
            buf_quoted(b, name, '"');
        }
        duckdb_free(name);
        duckdb_free(type);
    }
    buf_adds(b, " FROM (");
    buf_adds(b, d->source);
    buf_adds(b, "\n) AS __udr_v(");
    for (size_t k = 0; k < (d->ncolumns ? d->ncolumns : (size_t)n); k++) {
        buf_adds(b, k ? ", " : "");
        if (d->ncolumns) {
            buf_quoted(b, d->columns[k], '"');
        } else {
            char *name = duckdb_value_varchar(&r, 0, k);
            buf_quoted(b, name ? name : "?", '"');
            duckdb_free(name);
        }
    }
    buf_addc(b, ')');
    duckdb_destroy_result(&r);
    return UDR_OK;
}

/* UPDATE or DELETE as a delta over the table's version *base (the rows
 * changed only); *done 0 when it is not small and the table is to be
 * written whole. */
static int small_change(udr_tx *tx, const dml *d, const udr_hash *base, int *done,
                        udr_result **out)
{
    udr_repo *repo = tx->repo;
    buf b;
    buf_init(&b);
    const char **cols = calloc(d->nsets + 1, sizeof *cols);
    for (size_t i = 0; i < d->nsets; i++) {
        buf_printf(&b, "%s(%s) AS ", i ? ", " : "", d->sets[i].expr);
        buf_quoted(&b, d->sets[i].column, '"');
        if (cols != NULL)
            cols[i] = d->sets[i].column;
    }
    char *replace = buf_take(&b, NULL);
    if (cols == NULL || replace == NULL) {
        free(cols);
        free(replace);
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    }
    /* The rows it looks at are a read (SERIALIZABLE checks them). */
    tx_record_read(&tx->t, d->table);
    query_change_req req = {d->where, d->kind == DML_UPDATE ? replace : NULL, cols};
    udr_hash tvh;
    uint64_t matched = 0;
    udr_write_info info;
    query_progress_begin(&repo->q, d->table);     /* a change may compact the table */
    int rc = query_change(&repo->q, d->table, base, &req, &tvh, &matched, done, &info);
    free(cols);
    free(replace);
    if (rc == UDR_OK && *done && matched > 0 && tx_record_write(&tx->t, d->table, &tvh) != UDR_OK)
        rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
    if (rc == UDR_OK && *done)
        rc = count_result(repo, matched, out);
    return rc;
}

/* A write statement on a UDR table, inside the transaction (view set). */
static int run_dml(udr_tx *tx, const dml *d, udr_result **out)
{
    udr_repo *repo = tx->repo;
    cat_entry e;
    int found = 0;
    int rc = catalog_check_name(d->table, &repo->err);
    if (rc == UDR_OK)
        rc = tx_lookup(&tx->t, d->table, &e, &found);
    if (rc)
        return rc;
    if (!found && d->kind != DML_CREATE_AS)
        return err_set(&repo->err, UDR_ENOTFOUND,
                       "there is no table %s (see 'udr tables'; CREATE TABLE %s AS ... makes one)",
                       d->table, d->table);
    if (found && d->kind == DML_CREATE_AS && !d->replace)
        return err_set(&repo->err, UDR_EEXIST,
                       "table %s exists already (CREATE OR REPLACE TABLE replaces its rows)",
                       d->table);
    if (found && (d->kind == DML_UPDATE || d->kind == DML_DELETE)) {
        int done = 0;
        if ((rc = small_change(tx, d, &e.hash, &done, out)) != UDR_OK || done)
            return rc;
    }
    buf b, cnt;
    buf_init(&b);
    buf_init(&cnt);
    uint64_t before = 0, n = 0;
    int append = 0;
    switch (d->kind) {
    case DML_INSERT:
        append = 1;
        rc = query_rows(&repo->q, &e.hash, &before);   /* from its metadata */
        if (rc == UDR_OK)
            rc = insert_source(repo, d, &b);
        break;
    case DML_UPDATE:
        buf_adds(&b, "SELECT * REPLACE (");
        for (size_t i = 0; i < d->nsets; i++) {
            buf_adds(&b, i ? ", " : "");
            if (d->where) {
                buf_printf(&b, "CASE WHEN (%s) THEN (%s) ELSE ", d->where, d->sets[i].expr);
                buf_quoted(&b, d->sets[i].column, '"');
                buf_adds(&b, " END AS ");
            } else {
                buf_printf(&b, "(%s) AS ", d->sets[i].expr);
            }
            buf_quoted(&b, d->sets[i].column, '"');
        }
        buf_adds(&b, ") FROM ");
        buf_quoted(&b, d->table, '"');
        buf_adds(&cnt, "SELECT count(*) FROM ");
        buf_quoted(&cnt, d->table, '"');
        if (d->where)
            buf_printf(&cnt, " WHERE (%s)", d->where);
        break;
    case DML_DELETE:
        buf_adds(&b, "SELECT * FROM ");
        buf_quoted(&b, d->table, '"');
        if (d->where)
            buf_printf(&b, " WHERE (%s) IS NOT TRUE", d->where);
        else
            buf_adds(&b, " LIMIT 0");
        buf_adds(&cnt, "SELECT count(*) FROM ");
        buf_quoted(&cnt, d->table, '"');
        if (d->where)
            buf_printf(&cnt, " WHERE (%s)", d->where);
        break;
    default:                           /* CREATE [OR REPLACE] TABLE ... AS */
        buf_adds(&b, d->source);
        break;
    }
    char *src = buf_take(&b, NULL), *count_sql = buf_take(&cnt, NULL);
    if (rc == UDR_OK && src == NULL)
        rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
    if (rc == UDR_OK && count_sql != NULL && count_sql[0])
        rc = scalar_u64(repo, count_sql, &before);
    udr_write_info info;
    query_progress_begin(&repo->q, d->table);
    if (rc == UDR_OK)
        rc = query_build(&repo->q, d->table, src, NULL, append, found ? &e.hash : NULL, &e.hash,
                         &info);
    if (rc == UDR_OK && tx_record_write(&tx->t, d->table, &e.hash) != UDR_OK)
        rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
    if (rc == UDR_OK) {
        n = d->kind == DML_INSERT ? info.rows - before
            : d->kind == DML_CREATE_AS ? info.rows
                                       : before;
        rc = count_result(repo, n, out);
    }
    free(src);
    free(count_sql);
    return rc;
}

/* One statement in the transaction: a write to a UDR table, or DuckDB's. */
static int tx_statement(udr_tx *tx, const char *sql, udr_result **out)
{
    udr_repo *repo = tx->repo;
    dml d;
    char why[256];
    int kind = dml_parse(sql, &d, why, sizeof why);
    if (kind < 0)
        return err_set(&repo->err, UDR_EINVAL, "%s", why);
    int rc;
    if (kind == DML_BEGIN || kind == DML_COMMIT || kind == DML_ROLLBACK) {
        rc = err_set(&repo->err, UDR_EINVAL,
                     kind == DML_BEGIN ? "a transaction is open already"
                                       : "end a transaction with udr_tx_commit or "
                                         "udr_tx_rollback (in udr sql: COMMIT, ROLLBACK)");
    } else if (kind != DML_NONE) {
        rc = run_dml(tx, &d, out);
    } else {
        duckdb_result r;
        rc = query_run(&repo->q, sql, NULL, 0, &r);
        if (rc == UDR_OK && (*out = repo_wrap_shown(&r, &repo->q)) == NULL)
            rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
    }
    dml_free(&d);
    return rc;
}

int udr_tx_query(udr_tx *tx, const char *sql, udr_result **out)
{
    *out = NULL;
    int rc = enter(tx);
    if (rc)
        return rc;
    rc = tx_statement(tx, sql, out);
    return leave(tx, rc);
}

int txapi_query(udr_repo *repo, const char *sql, udr_result **out, int *handled)
{
    *handled = 0;
    dml d;
    char why[256];
    int kind = dml_parse(sql, &d, why, sizeof why);
    dml_free(&d);
    if (kind == DML_NONE)
        return UDR_OK;
    *handled = 1;
    if (kind < 0)
        return err_set(&repo->err, UDR_EINVAL, "%s", why);
    if (kind == DML_BEGIN || kind == DML_COMMIT || kind == DML_ROLLBACK)
        return err_set(&repo->err, UDR_EINVAL,
                       "udr_query runs each call on its own: use udr_tx_begin for a "
                       "transaction (udr sql accepts BEGIN and COMMIT)");
    if (repo->tx != NULL)
        return err_set(&repo->err, UDR_EINVAL,
                       "a transaction is open on this handle: run it with udr_tx_query");
    /* Outside a transaction a statement is its own: if another commit
     * changed its table meanwhile, it runs again on the new state (as a
     * statement that began a moment later would), up to 10 times. */
    int rc = UDR_OK;
    for (int attempt_no = 0; attempt_no < 10; attempt_no++) {
        udr_tx *tx;
        int rerun = 0;
        if ((rc = udr_tx_begin(repo, NULL, UDR_SNAPSHOT, &tx)) != UDR_OK)
            return rc;
        tx->rerun = &rerun;
        if ((rc = udr_tx_query(tx, sql, out)) != UDR_OK) {
            udr_tx_rollback(tx);
            return rc;
        }
        if ((rc = udr_tx_commit(tx, NULL, NULL)) == UDR_OK)
            return UDR_OK;
        udr_result_free(*out);
        *out = NULL;
        if (!rerun)
            return rc;
    }
    return err_set(&repo->err, UDR_ECONFLICT,
                   "the statement's table kept changing under it (10 tries, each losing to "
                   "another commit); nothing was committed: run it again");
}

static void tx_end(udr_tx *tx)
{
    for (size_t i = 0; i < tx->nacks; i++)
        free((char *)tx->acks[i].name);
    free(tx->acks);
    tx->repo->q.view = NULL;
    tx->repo->tx = NULL;
    tx_free(&tx->t);
    free(tx);
}

void udr_tx_rollback(udr_tx *tx)
{
    if (tx != NULL)
        tx_end(tx);
}

void txapi_abandon(udr_repo *repo)
{
    if (repo->tx != NULL)
        tx_end(repo->tx);
}

/* One attempt: check, merge rows where needed, commit on the head checked.
 * UDR_ECONFLICT with *retry set: the head moved in between; try again. */
static int attempt(udr_tx *tx, const char *message, int locked, udr_hash *commit, int *retry)
{
    udr_repo *repo = tx->repo;
    *retry = 0;
    tx_clash *cl;
    size_t ncl;
    int has_head;
    udr_hash head;
    int rc = tx_check(&repo->cat, &tx->t, &cl, &ncl, &has_head, &head);
    if (rc)
        return rc;
    cat_change *ch = calloc(tx->t.nw + 1, sizeof *ch);
    udr_hash *merged = calloc(tx->t.nw + 1, sizeof *merged);
    if (ch == NULL || merged == NULL)
        rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
    for (size_t i = 0; rc == UDR_OK && i < tx->t.nw; i++) {
        const tx_write *w = &tx->t.w[i];
        ch[i] = (cat_change){w->table, w->dropped ? NULL : &w->tv, 0};
        for (size_t k = 0; k < ncl; k++) {
            if (strcmp(cl[k].table, w->table) != 0)
                continue;
            uint64_t nconf = 0;
            int mergeable = 0, applies = 0, conflict = 0;
            udr_write_info wi;
            /* Two small changes: a merge of their deltas; else by rows. */
            rc = query_merge_deltas(&repo->q, &cl[k].base.hash, &w->tv, &cl[k].theirs.hash,
                                    &merged[i], &applies, &conflict);
            if (rc == UDR_OK && applies) {
                mergeable = 1;
                nconf = conflict;
                if (conflict && tx->rerun != NULL) {
                    *tx->rerun = 1;    /* a statement on its own: run it again */
                    rc = err_set(&repo->err, UDR_ECONFLICT, "table %s changed meanwhile",
                                 w->table);
                    break;
                }
            } else if (rc == UDR_OK && tx->rerun != NULL) {
                /* A statement on its own: running it again on what is there
                 * now costs less than merging its rows. */
                *tx->rerun = 1;
                rc = err_set(&repo->err, UDR_ECONFLICT, "table %s changed meanwhile", w->table);
                break;
            } else if (rc == UDR_OK) {
                /* The rows this transaction changed go onto what committed
                 * (a delete file and a chunk on the head's version), not the
                 * other way round: the head may have been compacted, and
                 * the snapshot's patches and folds must not come back. */
                if ((rc = query_report_begin(&repo->q)) == UDR_OK)
                    rc = query_merge_rows(&repo->q, w->table, &cl[k].base.hash,
                                          &cl[k].theirs.hash, &w->tv, 0, 0, 1, &merged[i],
                                          &nconf, &mergeable, &wi);
                duckdb_result rep;
                uint64_t nrep;
                if (query_report_take(&repo->q, &rep, &nrep) == UDR_OK)
                    duckdb_destroy_result(&rep);
            }
            if (rc)
                break;
            if (!mergeable || nconf > 0) {
                char hex[UDR_HASH_HEX + 1];
                hash_to_hex(&cl[k].commit, hex);
                rc = err_set(&repo->err, UDR_ECONFLICT,
                             "table %s was changed by commit %.12s since this transaction "
                             "began, %s; nothing was committed (the first committer wins): run "
                             "the transaction again",
                             w->table, hex,
                             mergeable ? "in rows this transaction changed too"
                                       : "and its rows cannot be merged (no key, or another "
                                         "schema)");
                break;
            }
            ch[i].tv = &merged[i];
        }
    }
    if (rc == UDR_OK) {
        cat_commit_opts o = {tx->t.branch, message, repo_author(tx->author), NULL, 1, has_head,
                             head, locked, tx->acks, tx->nacks};
        rc = catalog_commit_on(&repo->cat, &o, ch, tx->t.nw, commit);
        if (rc == UDR_ECONFLICT)
            *retry = 1;
    }
    free(ch);
    free(merged);
    free(cl);
    return rc;
}

int udr_tx_commit(udr_tx *tx, const char *message, char *commit_hex)
{
    if (commit_hex != NULL)
        commit_hex[0] = '\0';
    int rc = enter(tx);
    if (rc) {
        tx_end(tx);
        return rc;
    }
    tx->repo->q.view = NULL;
    if (tx->t.nw == 0) {
        /* Nothing written: the acknowledgements alone (each still checked
         * against the cursor this transaction's poll started from). */
        for (size_t i = 0; rc == UDR_OK && i < tx->nacks; i++)
            rc = catalog_sub_ack(&tx->repo->cat, tx->acks[i].name, tx->acks[i].expect,
                                 tx->acks[i].seq);
        tx_end(tx);
        return rc;
    }
    char msg[256];
    if (message == NULL) {
        size_t used = (size_t)snprintf(msg, sizeof msg, "write");
        for (size_t i = 0; i < tx->t.nw && used < sizeof msg; i++)
            used += (size_t)snprintf(msg + used, sizeof msg - used, "%s %s", i ? "," : "",
                                     tx->t.w[i].table);
        message = msg;
    }
    /* Optimistic first: check and merge, then commit if the branch did not
     * move meanwhile. If it did, again under the log's lock, so that what
     * is checked is what is committed on (others wait for the merge). */
    udr_hash commit;
    int retry = 0;
    /* A merge at commit may run under the log's lock: the hook, which must
     * never be called with a lock held, hears nothing of it. */
    udr_work_progress_fn hook = tx->repo->q.progress;
    tx->repo->q.progress = NULL;
    rc = attempt(tx, message, 0, &commit, &retry);
    if (retry && (rc = catalog_lock(&tx->repo->cat)) == UDR_OK) {
        rc = attempt(tx, message, 1, &commit, &retry);
        catalog_unlock(&tx->repo->cat);
        if (rc == UDR_OK)
            rc = catalog_sync(&tx->repo->cat);
    }
    tx->repo->q.progress = hook;
    if (rc == UDR_OK && commit_hex != NULL)
        hash_to_hex(&commit, commit_hex);
    tx_end(tx);
    return rc;
}

int txapi_ack(udr_tx *tx, const char *name, uint64_t seq)
{
    uint64_t expect;
    int rc = feedapi_check_ack(tx->repo, name, seq, &expect);
    if (rc)
        return rc;
    for (size_t i = 0; i < tx->nacks; i++)
        if (strcmp(tx->acks[i].name, name) == 0) {
            tx->acks[i].seq = seq;     /* the last one counts; expect stays */
            return UDR_OK;
        }
    cat_ack *v = realloc(tx->acks, (tx->nacks + 1) * sizeof *v);
    if (v == NULL)
        return err_set(&tx->repo->err, UDR_ENOMEM, "out of memory");
    tx->acks = v;
    if ((v[tx->nacks].name = strdup(name)) == NULL)
        return err_set(&tx->repo->err, UDR_ENOMEM, "out of memory");
    v[tx->nacks].expect = expect;
    v[tx->nacks].seq = seq;
    tx->nacks++;
    return UDR_OK;
}

int udr_tx_ack(udr_tx *tx, const char *name, uint64_t seq)
{
    int rc = enter(tx);
    if (rc)
        return rc;
    return leave(tx, txapi_ack(tx, name, seq));
}

int txapi_write_alone(udr_repo *repo, const char *table, const char *select_sql,
                      const udr_write_opts *opts, udr_write_info *info, int append)
{
    udr_tx *tx;
    int rc = udr_tx_begin(repo, NULL, UDR_SNAPSHOT, &tx);
    if (rc)
        return rc;
    udr_write_info scratch;
    if (info == NULL)
        info = &scratch;
    tx->author = opts ? opts->author : NULL;
    if ((rc = do_write(tx, table, select_sql, opts, info, append)) != 0) {
        udr_tx_rollback(tx);
        return rc;
    }
    char msg[256];
    const char *m = opts ? opts->message : NULL;
    if (m == NULL) {
        snprintf(msg, sizeof msg, "%s %s", append ? "append to" : "write", table);
        m = msg;
    }
    char hex[UDR_HASH_HEX + 1];
    if ((rc = udr_tx_commit(tx, m, hex)) != 0) {
        if (catalog_check_name(table, NULL) == UDR_OK)
            err_prefix(&repo->err, "cannot %s table %s", append ? "append to" : "write", table);
        return rc;
    }
    /* The version number the commit gave the table. */
    const cat_entry *e = catalog_head_entry(&repo->cat, table);
    info->version = e ? e->version : 0;
    query_progress_done(&repo->q, info->rows, info->chunks, info->bytes);
    return UDR_OK;
}

int udr_table_compact(udr_repo *repo, const char *table, udr_write_info *info)
{
    udr_write_info scratch;
    if (info == NULL)
        info = &scratch;
    memset(info, 0, sizeof *info);
    udr_tx *tx;
    int rc = udr_tx_begin(repo, NULL, UDR_SNAPSHOT, &tx);
    if (rc)
        return rc;
    int changed = 0;
    cat_entry e;
    int found = 0;
    if ((rc = enter(tx)) == UDR_OK) {
        if ((rc = catalog_check_name(table, &repo->err)) == UDR_OK &&
            (rc = tx_lookup(&tx->t, table, &e, &found)) == UDR_OK && !found)
            rc = err_set(&repo->err, UDR_ENOTFOUND,
                         "there is no table %s to compact (see 'udr tables')", table);
        udr_hash tvh;
        query_progress_begin(&repo->q, table);
        if (rc == UDR_OK)
            rc = query_compact(&repo->q, table, &e.hash, &tvh, &changed, info);
        if (rc == UDR_OK && changed && tx_record_write(&tx->t, table, &tvh) != UDR_OK)
            rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
        rc = leave(tx, rc);
    }
    if (rc == UDR_OK && !changed) {
        info->version = e.version;
        udr_tx_rollback(tx);
        query_progress_done(&repo->q, info->rows, info->chunks, info->bytes);
        return UDR_OK;
    }
    char msg[CATALOG_NAME_MAX + 16], hex[UDR_HASH_HEX + 1];
    snprintf(msg, sizeof msg, "compact %s", table);
    if (rc != UDR_OK)
        udr_tx_rollback(tx);
    else
        rc = udr_tx_commit(tx, msg, hex);
    if (rc != UDR_OK) {
        if (catalog_check_name(table, NULL) == UDR_OK)
            err_prefix(&repo->err, "cannot compact table %s", table);
        return rc;
    }
    const cat_entry *h = catalog_head_entry(&repo->cat, table);
    info->version = h ? h->version : 0;
    query_progress_done(&repo->q, info->rows, info->chunks, info->bytes);
    return UDR_OK;
}

int udr_sql_tx_control(udr_repo *repo, const char *sql, udr_isolation *isolation)
{
    dml d;
    char why[256];
    int kind = dml_parse(sql, &d, why, sizeof why);
    int serializable = d.serializable;
    dml_free(&d);
    if (kind < 0 && (strncasecmp(sql, "BEGIN", 5) == 0 || strncasecmp(sql, "COMMIT", 6) == 0 ||
                     strncasecmp(sql, "ROLLBACK", 8) == 0 || strncasecmp(sql, "START", 5) == 0))
        return err_set(&repo->err, UDR_EINVAL, "%s", why);
    *isolation = serializable ? UDR_SERIALIZABLE : UDR_SNAPSHOT;
    return kind == DML_BEGIN ? 1 : kind == DML_COMMIT ? 2 : kind == DML_ROLLBACK ? 3 : 0;
}
