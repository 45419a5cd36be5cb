/*
 * fsck — the repository checker; see fsck.h.
 */
#include "fsck.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "gc.h"
#include "hash.h"
#include "repo.h"
#include "store.h"

typedef struct walk {
    udr_repo *repo;
    udr_fsck_fn fn;
    udr_progress_fn progress;
    void *ctx;
    udr_fsck_stats stats;
} walk;

static void report(walk *w, int code, const char *object, const char *path, const char *msg)
{
    w->stats.problems++;
    if (w->fn != NULL) {
        udr_fsck_problem p = {code, object, path, msg};
        w->fn(w->ctx, &p);
    }
}

static void on_stray(void *ctx, const char *relpath, const char *why)
{
    report(ctx, UDR_EINVAL, NULL, relpath, why);
}

static int on_object(void *ctx, const udr_hash *h, uint64_t size_bytes)
{
    walk *w = ctx;
    store *s = repo_store(w->repo);
    int rc = store_verify(s, h);
    w->stats.objects++;
    w->stats.bytes += size_bytes;
    if (rc != UDR_OK && rc != UDR_ENOTFOUND) {   /* ENOTFOUND: deleted meanwhile */
        char hex[UDR_HASH_HEX + 1], rel[128];
        hash_to_hex(h, hex);
        store_object_relpath(h, rel, sizeof rel);
        report(w, rc, hex, rel, w->repo->err.msg);
    }
    if (w->progress != NULL && w->stats.objects % FSCK_PROGRESS_EVERY == 0)
        w->progress(w->ctx, &w->stats);
    return 0;
}

/* Every reference from the log: each commit object, each table version
 * object, each chunk they name. */
static void check_references(walk *w)
{
    catalog *c = &w->repo->cat;
    store *s = repo_store(w->repo);
    char hex[UDR_HASH_HEX + 1], rel[128], msg[ERR_MSG_BYTES + 256];
    for (size_t i = 0; i < c->nhist; i++) {
        cat_commit cm;
        if (catalog_read_commit(c, &c->history[i].commit, &cm) != UDR_OK) {
            hash_to_hex(&c->history[i].commit, hex);
            store_object_relpath(&c->history[i].commit, rel, sizeof rel);
            snprintf(msg, sizeof msg, "commit of log record %llu: %s",
                     (unsigned long long)c->history[i].seq, w->repo->err.msg);
            report(w, w->repo->err.code, hex, rel, msg);
            continue;
        }
        catc_free(&cm);
    }
    for (size_t t = 0; t < c->ntables; t++) {
        const cat_table *tb = &c->tables[t];
        for (size_t v = 0; v < tb->nv; v++) {
            if (tb->v[v].dropped || tb->v[v].expired_us != 0)
                continue;              /* an expired version's objects may be gone */
            cat_tablever tv;
            hash_to_hex(&tb->v[v].hash, hex);
            store_object_relpath(&tb->v[v].hash, rel, sizeof rel);
            if (catalog_read_tablever(c, &tb->v[v].hash, &tv) != UDR_OK) {
                snprintf(msg, sizeof msg, "table %s version %llu: %s", tb->name,
                         (unsigned long long)tb->v[v].version, w->repo->err.msg);
                report(w, w->repo->err.code, hex, rel, msg);
                continue;
            }
            for (size_t k = 0; k < tv.nchunks + tv.ndeletes; k++) {
                const cat_chunk *ch = k < tv.nchunks ? &tv.chunks[k] : &tv.deletes[k - tv.nchunks];
                if (store_exists(s, &ch->hash) == 1)
                    continue;
                hash_to_hex(&ch->hash, hex);
                store_object_relpath(&ch->hash, rel, sizeof rel);
                snprintf(msg, sizeof msg,
                         "table %s version %llu: its %s %s (%llu rows) is missing", tb->name,
                         (unsigned long long)tb->v[v].version,
                         k < tv.nchunks ? "chunk" : "delete file", hex,
                         (unsigned long long)ch->rows);
                report(w, UDR_ENOTFOUND, hex, rel, msg);
            }
            catv_free(&tv);
        }
    }
}

int udr_fsck(udr_repo *repo, udr_fsck_fn fn, udr_progress_fn progress, void *ctx,
             udr_fsck_stats *stats)
{
    assert(repo != NULL);
    walk w = {repo, fn, progress, ctx, {0, 0, 0}};
    if (!repo->usable)
        return err_set(&repo->err, UDR_EINVAL, "the repository handle is not open");
    err_clear(&repo->err);
    int rc = store_foreach(repo_store(repo), on_object, on_stray, &w);
    if (rc == UDR_OK && (rc = catalog_refresh(&repo->cat)) == UDR_OK &&
        (rc = catalog_complete(&repo->cat)) == UDR_OK)
        check_references(&w);
    if (progress != NULL)
        progress(ctx, &w.stats);
    if (stats != NULL)
        *stats = w.stats;
    if (rc == UDR_OK)
        err_clear(&repo->err);
    return rc;
}

/* ---- recovery report ------------------------------------------------------ */

typedef struct unref_walk {
    const gc_refs *refs;
    uint64_t objects, bytes;
} unref_walk;

static int on_unref(void *ctx, const udr_hash *h, uint64_t size_bytes)
{
    unref_walk *u = ctx;
    if (!gc_refs_has(u->refs, h)) {
        u->objects++;
        u->bytes += size_bytes;
    }
    return 0;
}

int udr_recovery_report_get(udr_repo *repo, udr_recovery_report *out)
{
    memset(out, 0, sizeof *out);
    if (!repo->usable)
        return err_set(&repo->err, UDR_EINVAL, "the repository handle is not open");
    udr_open_report rep;
    udr_open_report_get(repo, &rep);
    out->torn_log_bytes = rep.torn_log_bytes;
    out->stale_tmp_files = rep.stale_tmp_files;
    /* What the log refers to (gc_mark reads the log to its end first); the
     * rest is unreferenced: objects of writes that never committed (or are
     * being committed right now). */
    gc_refs refs = {0};
    int rc = gc_mark(repo, &refs, 0, INT64_MAX);
    if (rc != UDR_OK) {
        gc_refs_free(&refs);
        return rc;
    }
    catalog *c = &repo->cat;
    out->log_records = log_last_seq(&c->log);
    out->commits = c->nhist;
    if (c->nhist > 0) {
        const cat_point *p = &c->history[c->nhist - 1];
        hash_to_hex(&p->commit, out->last_commit);
        out->last_commit_seq = p->seq;
    }
    unref_walk u = {&refs, 0, 0};
    rc = store_foreach(repo_store(repo), on_unref, NULL, &u);
    gc_refs_free(&refs);
    out->unreferenced_objects = u.objects;
    out->unreferenced_bytes = u.bytes;
    if (rc == UDR_OK)
        err_clear(&repo->err);
    return rc;
}
