/*
 * fsck — the repository checker; see fsck.h.
 */
#include "fsck.h"

#include <assert.h>
#include <string.h>

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

int udr_fsck(udr_repo *repo, udr_fsck_fn fn, udr_progress_fn progress, void *ctx,
             udr_fsck_stats *stats)
{
    assert(repo != NULL);
    walk w = {repo, fn, progress, ctx, {0, 0, 0}};
    if (!repo->usable)
        return err_set(&repo->err, UDR_EINVAL, "the repository handle is not open");
    err_clear(&repo->err);
    int rc = store_foreach(repo_store(repo), on_object, on_stray, &w);
    if (progress != NULL)
        progress(ctx, &w.stats);
    if (stats != NULL)
        *stats = w.stats;
    if (rc == UDR_OK)
        err_clear(&repo->err);
    return rc;
}
