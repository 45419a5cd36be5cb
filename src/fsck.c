/*
 * fsck — the repository checker; see fsck.h.
 */
#include "fsck.h"

#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "gc.h"
#include "hash.h"
#include "log.h"
#include "query.h"
#include "repo.h"
#include "store.h"
#include "util/buf.h"

/* What refers to an object: its first referrer in the log, in the order
 * the reference pass meets them (commits in log order, then branch heads,
 * tags, and every table's versions by number). */
typedef enum ref_kind { REF_COMMIT, REF_TABLEVER, REF_CHUNK, REF_DELETE, REF_PATCH } ref_kind;
typedef enum ref_via { VIA_LOG, VIA_BRANCH, VIA_TAG } ref_via;

typedef struct ref {
    udr_hash hash;
    uint64_t order;            /* when the pass met it: the first referrer wins */
    uint8_t kind, via;
    uint8_t raw;               /* a chunk of a raw version: not Parquet, not read */
    uint8_t seen;              /* the object walk found it */
    uint8_t reported;          /* a problem named it already */
    uint8_t bad;               /* it failed a check: the deep pass skips it */
    const char *name;          /* the table, branch or tag (the catalog's string) */
    uint64_t version;          /* the table's version */
    uint64_t seq;              /* a commit's log record */
    uint64_t rows;             /* chunk, delete file, patch: rows the version records */
    uint64_t cols;             /* a patch: the columns it holds (cat_patch) */
    uint64_t others;           /* more referrers of the same object */
    const char *alt_name;      /* a later referrer that records other rows (or
                                  patched columns), or NULL */
    uint64_t alt_version, alt_rows, alt_cols;
} ref;

typedef struct walk {
    udr_repo *repo;
    const udr_fsck_opts *o;
    udr_fsck_stats stats;
    ref *refs;
    size_t nrefs, cap;
    int oom;
} walk;

static const char *const KIND_NAME[] = {"commit", "table version", "chunk", "delete file",
                                        "patch"};

/* A chunk, delete file or patch: a Parquet file (unless its version is raw). */
static int is_data(const ref *r)
{
    return r->kind == REF_CHUNK || r->kind == REF_DELETE || r->kind == REF_PATCH;
}

static void progress(walk *w)
{
    if (w->o->progress != NULL)
        w->o->progress(w->o->ctx, &w->stats);
}

static void report(walk *w, const udr_fsck_problem *p)
{
    w->stats.problems++;
    if (w->o->fn != NULL)
        w->o->fn(w->o->ctx, p);
}

/* A problem with an object: what, table, version and record from its
 * referrer r (NULL: nothing in the log refers to it). */
static void report_object(walk *w, int code, const udr_hash *h, const ref *r, const char *fmt,
                          ...) __attribute__((format(printf, 5, 6)));

static void report_object(walk *w, int code, const udr_hash *h, const ref *r, const char *fmt,
                          ...)
{
    char hex[UDR_HASH_HEX + 1], rel[128], msg[ERR_MSG_BYTES + 512];
    hash_to_hex(h, hex);
    store_object_relpath(h, rel, sizeof rel);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    udr_fsck_problem p = {code, hex, rel, msg, "object", NULL, 0, 0};
    if (r != NULL) {
        p.what = r->kind == REF_COMMIT && r->via == VIA_BRANCH ? "branch"
                 : r->kind == REF_COMMIT && r->via == VIA_TAG  ? "tag"
                                                               : KIND_NAME[r->kind];
        p.table = r->kind == REF_COMMIT ? NULL : r->name;
        p.version = r->version;
        p.record = r->seq;
    }
    report(w, &p);
}

/* "table T version V: its chunk H" and the like, for messages. */
static void referrer(const ref *r, char *out, size_t size)
{
    char hex[UDR_HASH_HEX + 1];
    hash_to_hex(&r->hash, hex);
    if (r->kind != REF_COMMIT)
        snprintf(out, size, "table %s version %" PRIu64 ": its %s %s", r->name, r->version,
                 KIND_NAME[r->kind], hex);
    else if (r->via == VIA_BRANCH)
        snprintf(out, size, "branch %s: its head, commit %s,", r->name, hex);
    else if (r->via == VIA_TAG)
        snprintf(out, size, "tag %s: its commit %s", r->name, hex);
    else
        snprintf(out, size, "log record %" PRIu64 ": its commit %s", r->seq, hex);
}

static const char *also(const ref *r, char *out, size_t size)
{
    if (r->others == 0)
        return "";
    snprintf(out, size, "; %" PRIu64 " other reference%s to it as well", r->others,
             r->others == 1 ? "" : "s");
    return out;
}

static ref *add_ref(walk *w, const udr_hash *h, ref_kind kind, ref_via via, const char *name)
{
    if (w->nrefs == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 256;
        ref *nr = realloc(w->refs, nc * sizeof *nr);
        if (nr == NULL) {
            w->oom = 1;
            return NULL;
        }
        w->refs = nr;
        w->cap = nc;
    }
    ref *r = &w->refs[w->nrefs];
    memset(r, 0, sizeof *r);
    r->hash = *h;
    r->order = w->nrefs++;
    r->kind = (uint8_t)kind;
    r->via = (uint8_t)via;
    r->name = name;
    return r;
}

static int cmp_ref(const void *a, const void *b)
{
    const ref *x = a, *y = b;
    int c = memcmp(x->hash.bytes, y->hash.bytes, UDR_HASH_BYTES);
    return c != 0 ? c : x->order < y->order ? -1 : x->order > y->order;
}

/* Sorts by hash and keeps each object's first referrer (counting the
 * others), carrying what was reported: O(n log n). */
static void dedup_refs(walk *w)
{
    if (w->nrefs == 0)
        return;
    qsort(w->refs, w->nrefs, sizeof *w->refs, cmp_ref);
    size_t out = 0;
    for (size_t i = 0; i < w->nrefs; i++) {
        if (out > 0 && hash_equal(&w->refs[out - 1].hash, &w->refs[i].hash)) {
            ref *first = &w->refs[out - 1];
            if (first->alt_name == NULL && w->refs[i].kind == first->kind &&
                (w->refs[i].rows != first->rows || w->refs[i].cols != first->cols)) {
                first->alt_name = w->refs[i].name;
                first->alt_version = w->refs[i].version;
                first->alt_rows = w->refs[i].rows;
                first->alt_cols = w->refs[i].cols;
            }
            w->refs[out - 1].others++;
            w->refs[out - 1].reported |= w->refs[i].reported;
            w->refs[out - 1].bad |= w->refs[i].bad;
            continue;
        }
        w->refs[out++] = w->refs[i];
    }
    w->nrefs = out;
}

static ref *find_ref(walk *w, const udr_hash *h)
{
    size_t lo = 0, hi = w->nrefs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(w->refs[mid].hash.bytes, h->bytes, UDR_HASH_BYTES);
        if (c == 0)
            return &w->refs[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- the log ------------------------------------------------------------- */

static void on_log_damage(void *ctx, uint64_t seg, uint64_t seq, uint64_t byte, const char *msg)
{
    (void)byte;
    char rel[64];
    snprintf(rel, sizeof rel, "log/%016llx.seg", (unsigned long long)seg);
    udr_fsck_problem p = {UDR_ECORRUPT, NULL, rel, msg, "log", NULL, 0, seq};
    report(ctx, &p);
}

static int check_log(walk *w)
{
    log_verify_stats ls;
    int rc = log_verify(w->repo->path, on_log_damage, w, &ls, &w->repo->err);
    if (rc != UDR_OK)
        return rc;
    w->stats.log_segments = ls.segments;
    w->stats.log_records = ls.records;
    catalog *c = &w->repo->cat;
    /* Damage the log's checksums cannot see (a malformed record), which
     * stopped the (salvage) open. */
    if (c->damaged && ls.damaged == 0) {
        udr_fsck_problem p = {UDR_ECORRUPT, NULL, "log", c->damage, "log", NULL, 0,
                              log_last_seq(&c->log) + 1};
        report(w, &p);
    }
    return UDR_OK;
}

/* ---- references ---------------------------------------------------------- */

/* Reads a commit a ref names; a failure is reported, naming the ref. */
static void read_commit(walk *w, ref *r)
{
    catalog *c = &w->repo->cat;
    cat_commit cm;
    char who[UDR_HASH_HEX + CATALOG_REF_MAX + 64];
    if (catalog_read_commit(c, &r->hash, &cm) == UDR_OK) {
        catc_free(&cm);
        return;
    }
    int code = w->repo->err.code;
    referrer(r, who, sizeof who);
    r->reported = r->bad = 1;
    report_object(w, code, &r->hash, r, "%s is %s (%s)", who,
                  code == UDR_ENOTFOUND ? "missing" : "damaged", w->repo->err.msg);
}

static void collect_commits(walk *w)
{
    catalog *c = &w->repo->cat;
    for (size_t i = 0; i < c->nhist && !w->oom; i++) {
        ref *r = add_ref(w, &c->history[i].commit, REF_COMMIT, VIA_LOG, NULL);
        if (r != NULL) {
            r->seq = c->history[i].seq;
            read_commit(w, r);
        }
    }
    /* A branch head or a tag names its commit itself: a dangling one is
     * reported under its own name (a head is in the history too). */
    for (size_t i = 0; i < c->nbranches && !w->oom; i++) {
        const cat_branch *b = &c->branches[i];
        ref *r = b->has_head ? add_ref(w, &b->head, REF_COMMIT, VIA_BRANCH, b->name) : NULL;
        if (r != NULL)
            read_commit(w, r);
    }
    for (size_t i = 0; i < c->ntags && !w->oom; i++) {
        ref *r = add_ref(w, &c->tags[i].commit, REF_COMMIT, VIA_TAG, c->tags[i].name);
        if (r != NULL)
            read_commit(w, r);
    }
}

static void check_subscriptions(walk *w)
{
    catalog *c = &w->repo->cat;
    uint64_t last = log_last_seq(&c->log);
    for (size_t i = 0; i < c->nsubs; i++) {
        const cat_sub *s = &c->subs[i];
        char msg[CATALOG_REF_MAX * 2 + 256];
        if (s->cursor > last) {
            snprintf(msg, sizeof msg,
                     "subscription %s: its cursor, log record %" PRIu64
                     ", is past the log's last record (%" PRIu64 ")",
                     s->name, s->cursor, last);
            udr_fsck_problem p = {UDR_ECORRUPT, NULL, "log", msg, "subscription", NULL, 0,
                                  s->cursor};
            report(w, &p);
        }
    }
}

static void collect_versions(walk *w)
{
    catalog *c = &w->repo->cat;
    for (size_t t = 0; t < c->ntables && !w->oom; t++) {
        const cat_table *tb = &c->tables[t];
        for (size_t v = 0; v < tb->nv && !w->oom; v++) {
            const cat_version *cv = &tb->v[v];
            if (cv->dropped || cv->expired_us != 0)
                continue;              /* an expired version's objects may be gone */
            ref *r = add_ref(w, &cv->hash, REF_TABLEVER, VIA_LOG, tb->name);
            if (r == NULL)
                break;
            r->version = cv->version;
            r->seq = cv->seq;
            cat_tablever tv;
            if (catalog_read_tablever(c, &cv->hash, &tv) != UDR_OK) {
                char who[CATALOG_NAME_MAX + UDR_HASH_HEX + 64];
                int code = w->repo->err.code;
                referrer(r, who, sizeof who);
                r->reported = r->bad = 1;
                report_object(w, code, &cv->hash, r, "%s is %s (%s)", who,
                              code == UDR_ENOTFOUND ? "missing" : "damaged", w->repo->err.msg);
                continue;
            }
            int raw = catv_is_raw(&tv);
            for (size_t k = 0; k < tv.nchunks + tv.ndeletes; k++) {
                int del = k >= tv.nchunks;
                const cat_chunk *ch = del ? &tv.deletes[k - tv.nchunks] : &tv.chunks[k];
                ref *cr = add_ref(w, &ch->hash, del ? REF_DELETE : REF_CHUNK, VIA_LOG, tb->name);
                if (cr == NULL)
                    break;
                cr->version = cv->version;
                cr->seq = cv->seq;
                cr->rows = ch->rows;
                cr->raw = (uint8_t)raw;
            }
            for (size_t k = 0; k < tv.npatches && !w->oom; k++) {
                ref *pr = add_ref(w, &tv.patches[k].hash, REF_PATCH, VIA_LOG, tb->name);
                if (pr == NULL)
                    break;
                pr->version = cv->version;
                pr->seq = cv->seq;
                pr->rows = tv.patches[k].rows;
                pr->cols = tv.patches[k].cols;
            }
            catv_free(&tv);
        }
    }
}

/* ---- objects ------------------------------------------------------------- */

/* A chunk, delete file or patch of a version with rows is a Parquet file: "PAR1",
 * the data, the footer, its length (u32), "PAR1". Reads 12 bytes. */
static void check_parquet(walk *w, ref *r, uint64_t size_bytes)
{
    unsigned char head[4], tail[8];
    char why[160] = "", who[CATALOG_NAME_MAX + UDR_HASH_HEX + 64], more[64];
    store *s = repo_store(w->repo);
    size_t got1 = 0, got2 = 0;
    int rc = size_bytes < 12 ? UDR_OK : store_pread(s, &r->hash, head, 4, 0, &got1);
    if (rc == UDR_OK && size_bytes >= 12)
        rc = store_pread(s, &r->hash, tail, 8, size_bytes - 8, &got2);
    if (rc != UDR_OK) {
        if (rc == UDR_ENOTFOUND)
            return;                    /* deleted meanwhile: the missing pass sees it */
        snprintf(why, sizeof why, "cannot be read: %.100s", w->repo->err.msg);
    } else if (size_bytes < 12) {
        snprintf(why, sizeof why, "is not a Parquet file: %" PRIu64 " bytes is too short",
                 size_bytes);
    } else if (got1 != 4 || got2 != 8) {
        snprintf(why, sizeof why, "changed size while it was read");
    } else if (memcmp(head, "PAR1", 4) != 0) {
        snprintf(why, sizeof why, "is not a Parquet file: it does not begin with PAR1");
    } else if (memcmp(tail + 4, "PAR1", 4) != 0) {
        snprintf(why, sizeof why,
                 "is not a whole Parquet file: it does not end with PAR1 (truncated?)");
    } else {
        uint32_t footer = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 |
                          (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
        if (footer == 0 || (uint64_t)footer + 12 > size_bytes)
            snprintf(why, sizeof why,
                     "is not a whole Parquet file: its footer length (%" PRIu32
                     " bytes) does not fit in its %" PRIu64 " bytes",
                     footer, size_bytes);
    }
    if (why[0] == '\0')
        return;
    referrer(r, who, sizeof who);
    r->reported = r->bad = 1;
    report_object(w, UDR_ECORRUPT, &r->hash, r, "%s %s%s", who, why, also(r, more, sizeof more));
}

static void on_stray(void *ctx, const char *relpath, const char *why)
{
    udr_fsck_problem p = {UDR_EINVAL, NULL, relpath, why, "stray", NULL, 0, 0};
    report(ctx, &p);
}

static int on_object(void *ctx, const udr_hash *h, uint64_t size_bytes)
{
    walk *w = ctx;
    store *s = repo_store(w->repo);
    int rc = store_verify(s, h);
    ref *r = find_ref(w, h);
    w->stats.objects++;
    w->stats.bytes += size_bytes;
    if (r != NULL)
        r->seen = 1;
    if (rc != UDR_OK && rc != UDR_ENOTFOUND) {   /* ENOTFOUND: deleted meanwhile */
        if (r == NULL) {
            report_object(w, rc, h, NULL, "%s (nothing in the log refers to it)",
                          w->repo->err.msg);
        } else if (!r->reported) {
            char who[CATALOG_NAME_MAX + UDR_HASH_HEX + 64], more[64];
            referrer(r, who, sizeof who);
            r->reported = r->bad = 1;
            report_object(w, rc, h, r, "%s is corrupt (%s)%s", who, w->repo->err.msg,
                          also(r, more, sizeof more));
        }
    } else if (rc == UDR_OK && r != NULL && !r->raw && !r->reported && is_data(r)) {
        check_parquet(w, r, size_bytes);
    }
    if (w->stats.objects % FSCK_PROGRESS_EVERY == 0)
        progress(w);
    return 0;
}

/* What the log refers to and the walk did not find. */
static void check_missing(walk *w)
{
    store *s = repo_store(w->repo);
    for (size_t i = 0; i < w->nrefs; i++) {
        ref *r = &w->refs[i];
        if (r->seen || r->reported || store_exists(s, &r->hash) != 0)
            continue;
        char who[CATALOG_NAME_MAX + UDR_HASH_HEX + 64], more[64], rows[48] = "";
        referrer(r, who, sizeof who);
        if (is_data(r))
            snprintf(rows, sizeof rows, " (%" PRIu64 " rows)", r->rows);
        r->reported = r->bad = 1;
        report_object(w, UDR_ENOTFOUND, &r->hash, r, "%s%s is missing%s", who, rows,
                      also(r, more, sizeof more));
    }
}

/* ---- the deep pass: every chunk read through DuckDB ----------------------- */

/* The columns of a patch file: how many, and whether the first two are
 * chunk and "row" (what patch.h's scan reads). Only running out of memory
 * is an error; a file DuckDB cannot describe gives *ncols 0. */
static int patch_columns(walk *w, const char *path, uint64_t *ncols, int *positions)
{
    *ncols = 0;
    *positions = 0;
    buf sql;
    buf_init(&sql);
    buf_adds(&sql, "SELECT * FROM read_parquet(");
    buf_quoted(&sql, path, '\'');
    buf_adds(&sql, ") LIMIT 0");
    char *text = buf_take(&sql, NULL);
    if (text == NULL)
        return err_set(&w->repo->err, UDR_ENOMEM, "out of memory");
    duckdb_result res;
    int rc = query_run(&w->repo->q, text, NULL, 0, &res);
    free(text);
    if (rc == UDR_ENOMEM)
        return rc;
    if (rc != UDR_OK) {
        err_clear(&w->repo->err);
        return UDR_OK;
    }
    *ncols = duckdb_column_count(&res);
    const char *c0 = *ncols > 1 ? duckdb_column_name(&res, 0) : NULL;
    const char *c1 = *ncols > 1 ? duckdb_column_name(&res, 1) : NULL;
    *positions = c0 != NULL && c1 != NULL && strcmp(c0, "chunk") == 0 && strcmp(c1, "row") == 0;
    duckdb_destroy_result(&res);
    return UDR_OK;
}

/* The columns a patch of these patched columns holds: chunk, row and them. */
static uint64_t patch_width(uint64_t cols)
{
    uint64_t n = 2;
    for (; cols != 0; cols &= cols - 1)
        n++;
    return n;
}

/* A patch's columns against those its referrers record (as rows are, in
 * deep_read): a problem is reported, naming the referrer that is wrong. */
static int check_patch_columns(walk *w, ref *r, const char *path)
{
    uint64_t ncols;
    int positions;
    int rc = patch_columns(w, path, &ncols, &positions);
    if (rc != UDR_OK)
        return rc;
    ref alt = *r;
    alt.name = r->alt_name;
    alt.version = r->alt_version;
    alt.cols = r->alt_cols;
    const ref *wrong = patch_width(r->cols) != ncols                           ? r
                       : r->alt_name != NULL && patch_width(alt.cols) != ncols ? &alt
                                                                               : NULL;
    char who[CATALOG_NAME_MAX + UDR_HASH_HEX + 64], more[64];
    if (wrong != NULL) {
        referrer(wrong, who, sizeof who);
        report_object(w, UDR_ECORRUPT, &r->hash, wrong,
                      "%s holds %" PRIu64 " columns, but the version records %" PRIu64
                      " (chunk, row and the %" PRIu64 " it patches)%s",
                      who, ncols, patch_width(wrong->cols), patch_width(wrong->cols) - 2,
                      also(r, more, sizeof more));
    } else if (!positions) {
        referrer(r, who, sizeof who);
        report_object(w, UDR_ECORRUPT, &r->hash, r,
                      "%s does not begin with the columns chunk and row%s", who,
                      also(r, more, sizeof more));
    }
    r->bad |= wrong != NULL || !positions;
    return UDR_OK;
}

static int deep_read(walk *w, ref *r)
{
    char path[PATH_MAX], who[CATALOG_NAME_MAX + UDR_HASH_HEX + 64], more[64];
    store *s = repo_store(w->repo);
    uint64_t size = 0;
    if (store_object_path(s, &r->hash, path, sizeof path) != 0)
        return err_set(&w->repo->err, UDR_EINVAL, "repository path is too long");
    store_size(s, &r->hash, &size);
    buf sql;
    buf_init(&sql);
    /* hash() of the whole row makes DuckDB decode every column of every
     * row; count(*) alone would be answered from the footer. */
    buf_adds(&sql, "SELECT count(*), bit_xor(hash(t)) FROM read_parquet(");
    buf_quoted(&sql, path, '\'');
    buf_adds(&sql, ") AS t");
    char *text = buf_take(&sql, NULL);
    if (text == NULL)
        return err_set(&w->repo->err, UDR_ENOMEM, "out of memory");
    duckdb_result res;
    int rc = query_run(&w->repo->q, text, NULL, 0, &res);
    free(text);
    referrer(r, who, sizeof who);
    if (rc == UDR_ENOMEM)
        return rc;
    if (rc != UDR_OK) {
        r->bad = 1;
        report_object(w, UDR_ECORRUPT, &r->hash, r, "%s cannot be read (%s)%s", who,
                      w->repo->err.msg, also(r, more, sizeof more));
        err_clear(&w->repo->err);
    } else {
        uint64_t n = duckdb_value_uint64(&res, 0, 0);
        duckdb_destroy_result(&res);
        /* The first referrer's count, and another's that differs from it
         * (two versions cannot both be right about one chunk). */
        ref alt = *r;
        alt.name = r->alt_name;
        alt.version = r->alt_version;
        alt.rows = r->alt_rows;
        const ref *wrong = n != r->rows ? r : r->alt_name != NULL && n != alt.rows ? &alt : NULL;
        if (wrong != NULL) {
            r->bad = 1;
            referrer(wrong, who, sizeof who);
            report_object(w, UDR_ECORRUPT, &r->hash, wrong,
                          "%s holds %" PRIu64 " rows, but the version records %" PRIu64 "%s",
                          who, n, wrong->rows, also(r, more, sizeof more));
        }
    }
    if (r->kind == REF_PATCH && !r->bad && (rc = check_patch_columns(w, r, path)) != UDR_OK)
        return rc;
    w->stats.chunks_read++;
    w->stats.chunk_bytes_read += size;
    progress(w);
    return UDR_OK;
}

static int check_deep(walk *w)
{
    w->stats.phase = UDR_FSCK_PHASE_DEEP;
    progress(w);
    for (size_t i = 0; i < w->nrefs; i++) {
        ref *r = &w->refs[i];
        if (!is_data(r) || r->raw || r->bad || !r->seen)
            continue;
        int rc = deep_read(w, r);
        if (rc != UDR_OK)
            return rc;
    }
    return UDR_OK;
}

/* ---- the whole check ----------------------------------------------------- */

/* The index to follow: the whole history, read again now. If the log
 * cannot be read in full (damage before the newest segment), what the
 * handle has is followed, and the problem says what was not. */
static int load_history(walk *w)
{
    catalog *c = &w->repo->cat;
    int rc = catalog_refresh(c);
    if (rc == UDR_OK)
        rc = catalog_complete(c);
    if (rc != UDR_ECORRUPT)
        return rc;
    char msg[ERR_MSG_BYTES + 256];
    snprintf(msg, sizeof msg,
             "the log's history cannot be read in full (%s): only the references of its "
             "newest segment (from record %" PRIu64 ") were followed",
             w->repo->err.msg, c->log.seg_first_seq);
    udr_fsck_problem p = {UDR_ECORRUPT, NULL, "log", msg, "history", NULL, 0, 0};
    report(w, &p);
    err_clear(&w->repo->err);
    return UDR_OK;
}

int udr_fsck_v2(udr_repo *repo, const udr_fsck_opts *opts, udr_fsck_stats *stats)
{
    assert(repo != NULL);
    udr_fsck_opts none = {0, NULL, NULL, NULL};
    walk w;
    memset(&w, 0, sizeof w);
    w.repo = repo;
    w.o = opts != NULL ? opts : &none;
    if (stats != NULL)
        memset(stats, 0, sizeof *stats);
    if (!repo->usable)
        return err_set(&repo->err, UDR_EINVAL, "the repository handle is not open");
    if ((w.o->flags & ~UDR_FSCK_DEEP) != 0)
        return err_set(&repo->err, UDR_EINVAL, "udr_fsck_v2: unknown flags 0x%x",
                       (unsigned)w.o->flags);
    err_clear(&repo->err);
    w.stats.phase = UDR_FSCK_PHASE_LOG;
    int rc = check_log(&w);
    if (rc == UDR_OK) {
        w.stats.phase = UDR_FSCK_PHASE_REFERENCES;
        progress(&w);
        rc = load_history(&w);
    }
    if (rc == UDR_OK) {
        collect_commits(&w);
        check_subscriptions(&w);
        collect_versions(&w);
        if (w.oom)
            rc = err_set(&repo->err, UDR_ENOMEM, "out of memory following the log's references");
    }
    if (rc == UDR_OK) {
        dedup_refs(&w);
        w.stats.phase = UDR_FSCK_PHASE_OBJECTS;
        rc = store_foreach(repo_store(repo), on_object, on_stray, &w);
    }
    if (rc == UDR_OK)
        check_missing(&w);
    if (rc == UDR_OK && (w.o->flags & UDR_FSCK_DEEP))
        rc = check_deep(&w);
    progress(&w);
    free(w.refs);
    if (stats != NULL)
        *stats = w.stats;
    if (rc == UDR_OK)
        err_clear(&repo->err);
    return rc;
}

int udr_fsck(udr_repo *repo, udr_fsck_fn fn, udr_progress_fn progress_fn, void *ctx,
             udr_fsck_stats *stats)
{
    udr_fsck_opts o = {0, fn, progress_fn, ctx};
    return udr_fsck_v2(repo, &o, stats);
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
