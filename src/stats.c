/*
 * stats — storage statistics; see stats.h.
 */
#include "stats.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "repo.h"

/* ---- a set of object hashes, with each one's bytes ------------------------
 *
 * Open addressing, linear probing; BLAKE3 hashes are uniform, so their first
 * eight bytes are the slot. Grown at half full. */

typedef struct hslot {
    udr_hash h;
    uint64_t bytes;
    int used;
} hslot;

typedef struct hset {
    hslot *slots;
    size_t cap, n;             /* cap: a power of two, or 0 */
} hset;

static size_t hset_home(const hset *s, const udr_hash *h)
{
    uint64_t k;
    memcpy(&k, h->bytes, sizeof k);
    return (size_t)k & (s->cap - 1);
}

/* The slot of h, or NULL if absent. */
static hslot *hset_find(hset *s, const udr_hash *h)
{
    if (s->cap == 0)
        return NULL;
    for (size_t i = hset_home(s, h);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slots[i].used)
            return NULL;
        if (hash_equal(&s->slots[i].h, h))
            return &s->slots[i];
    }
}

static int hset_grow(hset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    hslot *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -1;
    hset old = *s;
    s->slots = slots;
    s->cap = cap;
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.slots[i].used)
            continue;
        size_t j = hset_home(s, &old.slots[i].h);
        while (s->slots[j].used)
            j = (j + 1) & (cap - 1);
        s->slots[j] = old.slots[i];
    }
    free(old.slots);
    return 0;
}

/* Adds h (absent) with its bytes; -1 when memory runs out. */
static int hset_add(hset *s, const udr_hash *h, uint64_t bytes)
{
    if ((s->n + 1) * 2 > s->cap && hset_grow(s) != 0)
        return -1;
    size_t i = hset_home(s, h);
    while (s->slots[i].used)
        i = (i + 1) & (s->cap - 1);
    s->slots[i] = (hslot){*h, bytes, 1};
    s->n++;
    return 0;
}

static void hset_free(hset *s)
{
    free(s->slots);
    *s = (hset){0};
}

/* ---- the walk ------------------------------------------------------------ */

typedef struct walk {
    catalog *c;
    store *s;
    hset all, table;           /* objects seen in the repository, in this table */
    udr_fsck_stats sofar;      /* for progress: versions read, logical bytes */
    udr_progress_fn progress;
    void *ctx;
} walk;

/* What a version refers to: its chunks, delete files and patches. */
typedef enum obj_kind { OBJ_CHUNK, OBJ_DELETE, OBJ_PATCH } obj_kind;

/* The bytes of one object a version refers to: a chunk's from the version
 * (known), a delete file's or a patch's from the store (sized once, then
 * remembered). */
static int object_bytes(walk *w, const udr_hash *h, uint64_t known, obj_kind kind,
                        const char *table, uint64_t version, uint64_t *bytes)
{
    hslot *seen = hset_find(&w->all, h);
    if (seen != NULL) {
        *bytes = seen->bytes;
        return UDR_OK;
    }
    *bytes = known;
    if (kind != OBJ_CHUNK) {
        int rc = store_size(w->s, h, bytes);
        if (rc != UDR_OK) {
            char hex[UDR_HASH_HEX + 1];
            hash_to_hex(h, hex);
            err_prefix(w->c->err, "table %s version %llu: %s %s", table,
                       (unsigned long long)version, kind == OBJ_DELETE ? "delete file" : "patch",
                       hex);
            return rc;
        }
    }
    if (hset_add(&w->all, h, *bytes) != 0)
        return err_set(w->c->err, UDR_ENOMEM, "out of memory");
    return UDR_OK;
}

/* Adds one table version to the totals and its table's. */
static int add_version(walk *w, const cat_table *tb, const cat_version *cv, udr_stats *out,
                       udr_table_stats *ts, uint64_t *rows)
{
    cat_tablever tv;
    int rc = catalog_read_tablever(w->c, &cv->hash, &tv);
    if (rc != UDR_OK) {
        char hex[UDR_HASH_HEX + 1];
        hash_to_hex(&cv->hash, hex);
        err_prefix(w->c->err, "table %s version %llu (object %s)", tb->name,
                   (unsigned long long)cv->version, hex);
        return rc;
    }
    *rows = tv.rows;
    size_t nd = tv.nchunks + tv.ndeletes;
    for (size_t k = 0; k < nd + tv.npatches && rc == UDR_OK; k++) {
        obj_kind kind = k < tv.nchunks ? OBJ_CHUNK : k < nd ? OBJ_DELETE : OBJ_PATCH;
        const udr_hash *h = kind == OBJ_CHUNK    ? &tv.chunks[k].hash
                            : kind == OBJ_DELETE ? &tv.deletes[k - tv.nchunks].hash
                                                 : &tv.patches[k - nd].hash;
        int is_chunk = kind == OBJ_CHUNK;
        int new_here = hset_find(&w->table, h) == NULL;
        int new_anywhere = hset_find(&w->all, h) == NULL;
        uint64_t bytes;
        rc = object_bytes(w, h, is_chunk ? tv.chunks[k].bytes : 0, kind, tb->name, cv->version,
                          &bytes);
        if (rc != UDR_OK)
            break;
        out->logical_bytes += bytes;
        ts->logical_bytes += bytes;
        w->sofar.bytes += bytes;
        if (new_anywhere) {
            out->physical_bytes += bytes;
            out->unique_chunks += is_chunk;
        }
        if (is_chunk) {
            ts->chunks++;
            out->chunks++;
        }
        if (new_here) {
            if (hset_add(&w->table, h, bytes) != 0)
                rc = err_set(w->c->err, UDR_ENOMEM, "out of memory");
            ts->physical_bytes += bytes;
            ts->unique_chunks += is_chunk;
        }
    }
    catv_free(&tv);
    out->versions++;
    ts->versions++;
    w->sofar.objects++;
    if (w->progress != NULL && w->sofar.objects % STATS_PROGRESS_EVERY == 0)
        w->progress(w->ctx, &w->sofar);
    return rc;
}

static int walk_table(walk *w, const cat_table *tb, udr_stats *out, udr_table_stats *ts)
{
    if ((ts->table = strdup(tb->name)) == NULL)
        return err_set(w->c->err, UDR_ENOMEM, "out of memory");
    hset_free(&w->table);              /* sized by each table anew: a small table
                                          after a large one costs little */
    const cat_entry *head = catalog_head_entry(w->c, tb->name);
    for (size_t v = 0; v < tb->nv; v++) {
        if (tb->v[v].dropped || tb->v[v].expired_us != 0)
            continue;                  /* an expired version's rows may be gone */
        uint64_t rows = 0;
        int rc = add_version(w, tb, &tb->v[v], out, ts, &rows);
        if (rc != UDR_OK)
            return rc;
        if (head != NULL && head->version == tb->v[v].version)
            ts->live_rows = rows;
    }
    return UDR_OK;
}

static int on_object(void *ctx, const udr_hash *h, uint64_t size_bytes)
{
    udr_stats *out = ctx;
    (void)h;
    out->objects++;
    out->object_bytes += size_bytes;
    return 0;
}

int stats_collect(catalog *c, store *s, udr_progress_fn progress, void *ctx, udr_stats *out)
{
    assert(c != NULL && s != NULL && out != NULL);
    assert(c->complete);
    memset(out, 0, sizeof *out);
    walk w = {c, s, {0}, {0}, {0}, progress, ctx};
    int rc = UDR_OK;
    if (c->ntables > 0 && (out->tables = calloc(c->ntables, sizeof *out->tables)) == NULL)
        return err_set(c->err, UDR_ENOMEM, "out of memory");
    out->ntables = c->ntables;
    for (size_t t = 0; t < c->ntables && rc == UDR_OK; t++)
        rc = walk_table(&w, &c->tables[t], out, &out->tables[t]);
    hset_free(&w.all);
    hset_free(&w.table);
    if (rc == UDR_OK)
        rc = store_foreach(s, on_object, NULL, out);
    if (rc != UDR_OK) {
        udr_stats_clear(out);
        return rc;
    }
    out->commits = c->nhist;
    out->branches = c->nbranches;
    out->tags = c->ntags;
    out->subscriptions = c->nsubs;
    out->dedup_ratio = out->logical_bytes > 0
                           ? 1.0 - (double)out->physical_bytes / (double)out->logical_bytes
                           : 0.0;
    if (progress != NULL)
        progress(ctx, &w.sofar);
    return UDR_OK;
}

/* ---- the public API -------------------------------------------------------- */

int udr_stats_get(udr_repo *repo, udr_stats *out, udr_progress_fn progress, void *ctx)
{
    assert(repo != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    int rc = repo_begin(repo);
    if (rc == UDR_OK)
        rc = catalog_refresh(&repo->cat);
    if (rc == UDR_OK)
        rc = catalog_complete(&repo->cat);
    if (rc == UDR_OK)
        rc = stats_collect(&repo->cat, repo_store(repo), progress, ctx, out);
    return rc;
}

void udr_stats_clear(udr_stats *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->ntables; i++)
        free(s->tables[i].table);
    free(s->tables);
    memset(s, 0, sizeof *s);
}
