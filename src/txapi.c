/*
 * txapi — transactions in the public API; see txapi.h.
 */
#include "txapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "hash.h"
#include "query.h"
#include "repo.h"
#include "tx.h"

struct udr_tx {
    udr_repo *repo;
    tx_state t;
    query_view view;
    int failed;                        /* a call failed: only rollback now */
    const char *author;                /* NULL: the default */
    char first_error[ERR_MSG_BYTES];
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
    if (rc == UDR_OK)
        rc = query_build(&tx->repo->q, table, select_sql, opts ? opts->key : NULL, append,
                         found ? &base.hash : NULL, &tvh, info);
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

int udr_tx_query(udr_tx *tx, const char *sql, udr_result **out)
{
    *out = NULL;
    int rc = enter(tx);
    if (rc)
        return rc;
    duckdb_result r;
    rc = query_run(&tx->repo->q, sql, NULL, 0, &r);
    if (rc == UDR_OK && (*out = repo_wrap_result(&r)) == NULL)
        rc = err_set(&tx->repo->err, UDR_ENOMEM, "out of memory");
    return leave(tx, rc);
}

static void tx_end(udr_tx *tx)
{
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
static int attempt(udr_tx *tx, const char *message, udr_hash *commit, int *retry)
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
            int mergeable = 0;
            udr_write_info wi;
            if ((rc = query_report_begin(&repo->q)) == UDR_OK)
                rc = query_merge_rows(&repo->q, w->table, &cl[k].base.hash, &w->tv,
                                      &cl[k].theirs.hash, 0, 0, &merged[i], &nconf, &mergeable,
                                      &wi);
            duckdb_result rep;
            uint64_t nrep;
            if (query_report_take(&repo->q, &rep, &nrep) == UDR_OK)
                duckdb_destroy_result(&rep);
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
                             head};
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
        tx_end(tx);
        return UDR_OK;
    }
    char msg[256];
    if (message == NULL) {
        size_t used = (size_t)snprintf(msg, sizeof msg, "write");
        for (size_t i = 0; i < tx->t.nw && used < sizeof msg; i++)
            used += (size_t)snprintf(msg + used, sizeof msg - used, "%s %s", i ? "," : "",
                                     tx->t.w[i].table);
        message = msg;
    }
    udr_hash commit;
    int retry = 0;
    for (int k = 0; k < 8; k++) {
        rc = attempt(tx, message, &commit, &retry);
        if (!retry)
            break;
    }
    if (rc == UDR_OK && commit_hex != NULL)
        hash_to_hex(&commit, commit_hex);
    tx_end(tx);
    return rc;
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
    return UDR_OK;
}
