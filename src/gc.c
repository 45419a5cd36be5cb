/*
 * gc — removing objects nothing refers to (udr_gc).
 *
 * Mark: every object the log refers to — each checkpoint, each commit,
 * each table version that is neither a drop nor expired, each chunk,
 * delete file and patch those versions name. Retention (udr expire,
 * expire.c) decides which versions expire, and never expires a branch or
 * tag head, a merge base of two branches, or what a subscription has still
 * to read; so marking what is kept marks what they need. A version that expired within the grace
 * period is still marked: a reader that resolved it just before it expired
 * has the grace period to finish. A table version that cannot be read
 * stops GC: what it names is unknown, so nothing may go (fsck says why).
 *
 * Sweep: every object not marked and older than the grace period is moved
 * into tmp/gc.<pid>/ (a rename, so a reader either finds the object or not,
 * never half of it).
 *
 * Check: the log is read again, and each object taken is put back if a
 * commit made meanwhile refers to it, or if it was freshened after GC began
 * (a put that found those bytes stored relies on them: store.c freshens an
 * object it dedups against). Only then are the taken objects deleted.
 *
 * So a writer in another process never loses an object it commits, as long
 * as it commits within the grace period of writing its objects (the default,
 * an hour, is far longer than any write takes): objects younger than that
 * are never taken, and older ones it relies on are freshened by its put.
 */
#include "gc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "hash.h"
#include "repo.h"
#include "store.h"
#include "util/fs.h"
#include "util/grow.h"

static void set_add(gc_refs *r, const udr_hash *h)
{
    udr_hash *v = grow(r->v, &r->cap, r->n, sizeof *v);
    if (v == NULL) {
        r->oom = 1;
        return;
    }
    r->v = v;
    r->v[r->n++] = *h;
}

static int64_t ns_of(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(udr_hash));
}

int gc_refs_has(const gc_refs *r, const udr_hash *h)
{
    return r->n > 0 && bsearch(h, r->v, r->n, sizeof *h, cmp_hash) != NULL;
}

void gc_refs_free(gc_refs *r)
{
    free(r->v);
    memset(r, 0, sizeof *r);
}

int gc_mark(udr_repo *repo, gc_refs *refs, int strict, int64_t expired_before_us)
{
    catalog *c = &repo->cat;
    int rc = catalog_refresh(c);
    if (rc == UDR_OK)
        rc = catalog_complete(c);
    if (rc)
        return rc;
    refs->n = 0;
    for (size_t i = 0; i < c->nhist; i++)
        set_add(refs, &c->history[i].commit);
    for (size_t i = 0; i < c->nckpt; i++)      /* opening reads the newest */
        set_add(refs, &c->checkpoints[i]);
    for (size_t t = 0; t < c->ntables; t++) {
        const cat_table *tb = &c->tables[t];
        for (size_t v = 0; v < tb->nv; v++) {
            if (tb->v[v].dropped)
                continue;
            if (tb->v[v].expired_us != 0 && tb->v[v].expired_us < expired_before_us)
                continue;
            set_add(refs, &tb->v[v].hash);
            cat_tablever tv;
            if (catalog_read_tablever(c, &tb->v[v].hash, &tv) != UDR_OK) {
                if (!strict)
                    continue;
                char why[ERR_MSG_BYTES];        /* err_set writes where msg is */
                snprintf(why, sizeof why, "%s", repo->err.msg);
                return err_set(&repo->err, repo->err.code ? repo->err.code : UDR_ECORRUPT,
                               "gc stops: table %s version %llu cannot be read, so what it "
                               "refers to is unknown (%s); run udr fsck",
                               tb->name, (unsigned long long)tb->v[v].version, why);
            }
            for (size_t k = 0; k < tv.nchunks; k++)
                set_add(refs, &tv.chunks[k].hash);
            for (size_t k = 0; k < tv.ndeletes; k++)
                set_add(refs, &tv.deletes[k].hash);
            for (size_t k = 0; k < tv.npatches; k++)
                set_add(refs, &tv.patches[k].hash);
            catv_free(&tv);
        }
    }
    if (refs->oom)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory marking objects");
    if (refs->n > 0)
        qsort(refs->v, refs->n, sizeof *refs->v, cmp_hash);
    return UDR_OK;
}

typedef struct sweep {
    udr_repo *repo;
    const gc_refs *refs;
    const udr_gc_opts *opts;
    int64_t cutoff_ns;                /* objects modified before this may go */
    int64_t expired_before_us;        /* versions expired before this may go */
    char trash[PATH_MAX];
    gc_refs taken;
    udr_gc_report *out;
    int rc;
} sweep;

static void progress(sweep *w)
{
    if (w->opts->progress != NULL)
        w->opts->progress(w->opts->ctx, w->out);
}

static int on_object(void *ctx, const udr_hash *h, uint64_t size_bytes)
{
    sweep *w = ctx;
    udr_gc_report *o = w->out;
    o->objects++;
    o->bytes += size_bytes;
    if (o->objects % 4096 == 0)
        progress(w);
    if (gc_refs_has(w->refs, h)) {
        o->referenced++;
        return 0;
    }
    char path[PATH_MAX], hex[UDR_HASH_HEX + 1], dest[PATH_MAX * 2];
    store_object_path(repo_store(w->repo), h, path, sizeof path);
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;                      /* gone meanwhile */
    if (ns_of(&st.st_mtim) >= w->cutoff_ns) {
        o->young++;
        o->young_bytes += size_bytes;
        return 0;
    }
    o->unreferenced++;
    o->unreferenced_bytes += size_bytes;
    if (w->opts->dry_run)
        return 0;
    hash_to_hex(h, hex);
    snprintf(dest, sizeof dest, "%s/%s", w->trash, hex);
    if (rename(path, dest) != 0) {
        if (errno == ENOENT)
            return 0;
        w->rc = err_sys(&w->repo->err, errno, "gc cannot move object %s to %s", hex, w->trash);
        return 1;
    }
    set_add(&w->taken, h);
    return w->taken.oom;
}

/* Puts back, before marking, the taken table versions the log names now:
 * a commit made meanwhile may name one, and marking must read it to learn
 * its chunks. (Commits and checkpoints the log names by hash alone.) */
static int put_back_versions(sweep *w)
{
    catalog *c = &w->repo->cat;
    int rc = catalog_refresh(c);
    gc_refs tvs = {0};
    for (size_t t = 0; rc == UDR_OK && t < c->ntables; t++)
        for (size_t v = 0; v < c->tables[t].nv; v++) {
            const cat_version *cv = &c->tables[t].v[v];
            if (!cv->dropped && !(cv->expired_us != 0 && cv->expired_us < w->expired_before_us))
                set_add(&tvs, &cv->hash);
        }
    if (rc == UDR_OK && tvs.oom)
        rc = err_set(&w->repo->err, UDR_ENOMEM, "out of memory checking what gc took");
    if (rc == UDR_OK && tvs.n > 0)
        qsort(tvs.v, tvs.n, sizeof *tvs.v, cmp_hash);
    for (size_t i = 0; rc == UDR_OK && i < w->taken.n; i++) {
        const udr_hash *h = &w->taken.v[i];
        if (!gc_refs_has(&tvs, h))
            continue;
        char hex[UDR_HASH_HEX + 1], from[PATH_MAX * 2], path[PATH_MAX];
        hash_to_hex(h, hex);
        snprintf(from, sizeof from, "%s/%s", w->trash, hex);
        store_object_path(repo_store(w->repo), h, path, sizeof path);
        if (access(path, F_OK) != 0 && rename(from, path) != 0)
            rc = err_sys(&w->repo->err, errno, "gc cannot put object %s back", hex);
    }
    gc_refs_free(&tvs);
    return rc;
}

/* Puts back what a commit made meanwhile refers to, or what a put
   freshened; deletes the rest. */
static int settle(sweep *w, int64_t started_ns)
{
    gc_refs now = {0};
    int rc = put_back_versions(w);
    if (rc == UDR_OK)
        rc = gc_mark(w->repo, &now, 1, w->expired_before_us);
    for (size_t i = 0; i < w->taken.n; i++) {
        const udr_hash *h = &w->taken.v[i];
        char hex[UDR_HASH_HEX + 1], from[PATH_MAX * 2], path[PATH_MAX];
        hash_to_hex(h, hex);
        snprintf(from, sizeof from, "%s/%s", w->trash, hex);
        store_object_path(repo_store(w->repo), h, path, sizeof path);
        struct stat st;
        int keep = rc != UDR_OK || gc_refs_has(&now, h) ||
                   (stat(from, &st) == 0 && ns_of(&st.st_mtim) >= started_ns);
        if (keep) {
            /* if a writer stored the object again meanwhile, that copy stands */
            if (access(path, F_OK) == 0 || rename(from, path) == 0) {
                w->out->restored++;
                unlink(from);
                continue;
            }
            rc = rc ? rc : err_sys(&w->repo->err, errno, "gc cannot put object %s back", hex);
            continue;                   /* left in the trash, named in the error */
        }
        if (stat(from, &st) == 0) {
            w->out->removed++;
            w->out->removed_bytes += (uint64_t)st.st_size;
        }
        unlink(from);
    }
    gc_refs_free(&now);
    return rc;
}

int udr_gc(udr_repo *repo, const udr_gc_opts *opts, udr_gc_report *out)
{
    udr_gc_opts defaults = {0, -1, NULL, NULL};
    udr_gc_report scratch;
    if (opts == NULL)
        opts = &defaults;
    if (out == NULL)
        out = &scratch;
    memset(out, 0, sizeof *out);
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t started = ns_of(&now);
    int64_t grace = opts->grace_s < 0 ? UDR_GC_GRACE_S : opts->grace_s;
    gc_refs refs = {0};
    int64_t cutoff = started - grace * 1000000000LL;
    sweep w = {repo, &refs, opts, cutoff, cutoff / 1000, "", {0}, out, UDR_OK};
    if ((rc = gc_mark(repo, &refs, 1, w.expired_before_us)) != UDR_OK)
        goto done;
    snprintf(w.trash, sizeof w.trash, "%s/tmp/gc.%ld", udr_repo_path(repo), (long)getpid());
    if (!opts->dry_run && mkdir(w.trash, 0700) != 0 && errno != EEXIST) {
        rc = err_sys(&repo->err, errno, "gc cannot create %s", w.trash);
        goto done;
    }
    rc = store_foreach(repo_store(repo), on_object, NULL, &w);
    if (rc == UDR_OK && w.rc != UDR_OK)
        rc = w.rc;
    if (rc == UDR_OK && w.taken.oom)
        rc = err_set(&repo->err, UDR_ENOMEM, "out of memory sweeping objects");
    if (!opts->dry_run) {
        progress(&w);                   /* swept: what was taken is in the trash */
        int rc2 = settle(&w, started);
        rc = rc ? rc : rc2;
        rmdir(w.trash);
    } else {
        out->removed = out->unreferenced;
        out->removed_bytes = out->unreferenced_bytes;
    }
    progress(&w);
done:
    gc_refs_free(&refs);
    gc_refs_free(&w.taken);
    if (rc == UDR_OK)
        err_clear(&repo->err);
    return rc;
}
