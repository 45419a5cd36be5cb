/*
 * patch — column patches; see patch.h.
 *
 * Two levels, both kept until patch_close:
 *
 *   maps   one per list of patch files (keyed by the BLAKE3 hash of each
 *          patch's hash and column bits, in order): a record per chunk a
 *          patch names (by hex), sorted by hex, holding per patched column
 *          a dense value array up to the highest row patched, a bitmap of
 *          the rows patched and one of the rows patched to NULL.
 *   views  one per (maps, list of chunks): the record of the chunk at each
 *          position of the list (NULL where no patch names it). A view's
 *          index is the ID udr_patched takes.
 *
 * The bytes of both count against the limit. Maps no statement holds are
 * evicted, least recently handed out first: to make room for new ones, and
 * beyond PATCH_STALE of them whatever the bytes, since each UPDATE makes a
 * version with a patch list of its own and a long-lived handle would
 * otherwise keep the maps of every version it ever read, up to the limit.
 * udr_patched's bind callback resolves its constant ID to the view and
 * takes a reference to the view's maps for as long as the bound expression
 * lives (DuckDB copies and destroys bind data with the plan), and the maps
 * of the last PATCH_FRESH IDs handed out are kept too, since the SQL that
 * names them may not be bound yet (a statement is built with several
 * scans before it runs). IDs are never reused: an evicted view leaves the
 * set, and an unbound statement naming it fails at bind ("no such patch
 * map"), it never reads freed memory. The set holds live maps and views
 * only (views in the order of their IDs), so neither its memory nor a
 * lookup grows with the versions a handle has read.
 */
#include "patch.h"
#include "udfarg.h"

#include <assert.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"
#include "store.h"
#include "util/buf.h"
#include "util/grow.h"

/* The types a column may have to be patched, and their bytes a value. */
static const struct ptype {
    const char *name;
    duckdb_type type;
    size_t width;
} TYPES[] = {
    {"BOOLEAN", DUCKDB_TYPE_BOOLEAN, 1},     {"TINYINT", DUCKDB_TYPE_TINYINT, 1},
    {"SMALLINT", DUCKDB_TYPE_SMALLINT, 2},   {"INTEGER", DUCKDB_TYPE_INTEGER, 4},
    {"BIGINT", DUCKDB_TYPE_BIGINT, 8},       {"UTINYINT", DUCKDB_TYPE_UTINYINT, 1},
    {"USMALLINT", DUCKDB_TYPE_USMALLINT, 2}, {"UINTEGER", DUCKDB_TYPE_UINTEGER, 4},
    {"UBIGINT", DUCKDB_TYPE_UBIGINT, 8},     {"FLOAT", DUCKDB_TYPE_FLOAT, 4},
    {"DOUBLE", DUCKDB_TYPE_DOUBLE, 8},       {"DATE", DUCKDB_TYPE_DATE, 4},
    {"TIMESTAMP", DUCKDB_TYPE_TIMESTAMP, 8},
};
enum { NTYPES = sizeof TYPES / sizeof TYPES[0] };

/* One patched column of one chunk: rows 0..len-1. */
typedef struct pcol {
    size_t width;
    uint64_t len, cap;               /* rows */
    unsigned char *vals;             /* width bytes a row */
    uint64_t *set;                   /* rows some patch names */
    uint64_t *null;                  /*   of those, the ones set to NULL */
} pcol;

/* The patched columns of one chunk (NULL: not patched). Shared by the maps
 * of patch lists that agree on the chunk (patch_derive); copied before a
 * change (rec_of). */
typedef struct prec {
    char hex[UDR_HASH_HEX + 1];
    pcol *col[CAT_PATCH_MAX_COLUMN];
    uint32_t refs;                   /* maps holding it */
    size_t bytes;                    /* its own and its columns' */
} prec;

typedef struct pmaps {
    udr_hash key;
    prec **recs;                     /* sorted by hex */
    size_t nrecs, cap;
    size_t bytes;                    /* its array, and records only it holds */
    uint64_t refs;                   /* bound expressions using it */
    uint64_t used;                   /* tick when last handed out */
} pmaps;

typedef struct pview {
    pmaps *m;
    uint64_t id;
    udr_hash key;                    /* of the chunk list */
    size_t nchunks;
    const prec **at;                 /* by position */
    size_t bytes;
} pview;

/* What each overload's callback is handed. */
typedef struct overload {
    patch_set *s;
    size_t width;
} overload;

struct patch_set {
    pthread_mutex_t mu;
    overload ov[NTYPES];
    pmaps **maps;                    /* live ones, in no order */
    size_t nmaps, mapcap;
    pview **views;                   /* live ones, by increasing ID */
    size_t nviews, viewcap;
    size_t bytes, limit;
    uint64_t tick;                   /* maps handed out or made (recency) */
    uint64_t next_id;                /* IDs are never reused */
};

/* A bound udr_patched expression's hold on its view's maps. */
typedef struct hold {
    patch_set *s;
    const pview *v;
} hold;

static void pcol_free(pcol *p)
{
    if (p == NULL)
        return;
    free(p->vals);
    free(p->set);
    free(p->null);
    free(p);
}

static void rec_free(prec *r)
{
    for (size_t c = 0; c < CAT_PATCH_MAX_COLUMN; c++)
        pcol_free(r->col[c]);
    free(r);
}

/* Frees m and the records no other maps hold; returns the bytes of the
 * set's count that went with them. */
static size_t maps_free(pmaps *m)
{
    if (m == NULL)
        return 0;
    size_t freed = m->cap * sizeof *m->recs;
    for (size_t i = 0; i < m->nrecs; i++)
        if (--m->recs[i]->refs == 0) {
            freed += m->recs[i]->bytes;
            rec_free(m->recs[i]);
        }
    free(m->recs);
    free(m);
    return freed;
}

static void view_free(pview *v)
{
    if (v == NULL)
        return;
    free(v->at);
    free(v);
}

static int bit(const uint64_t *b, uint64_t r)
{
    return (int)(b[r >> 6] >> (r & 63) & 1);
}

/* ---- udr_patched(id, col, file_index, file_row_number, value) ------------ */

static void put(unsigned char *dst, const unsigned char *src, size_t w)
{
    switch (w) {
    case 1: memcpy(dst, src, 1); break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    default: memcpy(dst, src, 8); break;
    }
}

static int valid(uint64_t *mask, idx_t i)
{
    return mask == NULL || duckdb_validity_row_is_valid(mask, i);
}

static void patched(duckdb_function_info info, duckdb_data_chunk in, duckdb_vector out)
{
    const overload *o = duckdb_scalar_function_get_extra_info(info);
    size_t w = o->width;
    idx_t n = duckdb_data_chunk_get_size(in);
    duckdb_vector v[5];
    uint64_t *ok[5];
    for (idx_t k = 0; k < 5; k++) {
        v[k] = duckdb_data_chunk_get_vector(in, k);
        ok[k] = duckdb_vector_get_validity(v[k]);
    }
    const uint64_t *id = duckdb_vector_get_data(v[0]);
    const uint32_t *col = duckdb_vector_get_data(v[1]);
    const uint64_t *fi = duckdb_vector_get_data(v[2]);
    const int64_t *row = duckdb_vector_get_data(v[3]);
    const unsigned char *val = duckdb_vector_get_data(v[4]);
    unsigned char *res = duckdb_vector_get_data(out);
    uint64_t *resok = duckdb_vector_get_validity(out);
    /* The view the constant ID named at bind, held until the plan goes. */
    const hold *h = duckdb_scalar_function_get_bind_data(info);
    const pview *pv = h != NULL ? h->v : NULL;
    for (idx_t i = 0; i < n; i++) {
        const pcol *p = NULL;
        if (valid(ok[0], i) && valid(ok[1], i) && valid(ok[2], i) && valid(ok[3], i)) {
            if (pv == NULL || pv->id != id[i]) {
                duckdb_scalar_function_set_error(info, "udr_patched: no such patch map");
                return;
            }
            const prec *r = fi[i] < pv->nchunks ? pv->at[fi[i]] : NULL;
            if (r != NULL && col[i] < CAT_PATCH_MAX_COLUMN)
                p = r->col[col[i]];
        }
        int null;
        uint64_t rn = (uint64_t)row[i];
        if (p != NULL && row[i] >= 0 && rn < p->len && bit(p->set, rn)) {
            null = bit(p->null, rn);
            if (!null)
                put(res + i * w, p->vals + rn * w, w);
        } else {
            null = !valid(ok[4], i);
            put(res + i * w, val + i * w, w);
        }
        if (null) {
            if (resok == NULL) {
                duckdb_vector_ensure_validity_writable(out);
                resok = duckdb_vector_get_validity(out);
            }
            duckdb_validity_set_row_invalid(resok, i);
        } else if (resok != NULL) {
            duckdb_validity_set_row_valid(resok, i);
        }
    }
}

/* Under s->mu: the live view of ID id, or NULL. */
static const pview *view_by_id(const patch_set *s, uint64_t id)
{
    size_t lo = 0, hi = s->nviews;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->views[mid]->id == id)
            return s->views[mid];
        if (s->views[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void hold_free(void *p)
{
    hold *h = p;
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->s->mu);
    assert(h->v->m->refs > 0);
    h->v->m->refs--;
    pthread_mutex_unlock(&h->s->mu);
    free(h);
}

static void *hold_copy(void *p)
{
    const hold *h = p;
    hold *c = malloc(sizeof *c);
    if (c == NULL)
        return NULL;
    *c = *h;
    pthread_mutex_lock(&h->s->mu);
    h->v->m->refs++;
    pthread_mutex_unlock(&h->s->mu);
    return c;
}

/* udr_patched's bind: its first argument, a constant ID, to a hold on the
 * view (and so its maps) for as long as the expression lives. */
static void patched_bind(duckdb_bind_info info)
{
    const overload *o = duckdb_scalar_function_bind_get_extra_info(info);
    patch_set *s = o->s;
    uint64_t id;
    int ok = udfarg_const_id(info, &id);
    if (!ok) {
        duckdb_scalar_function_bind_set_error(info, "udr_patched takes a constant ID");
        return;
    }
    hold *h = malloc(sizeof *h);
    if (h == NULL) {
        duckdb_scalar_function_bind_set_error(info, "udr_patched: out of memory");
        return;
    }
    pthread_mutex_lock(&s->mu);
    const pview *pv = view_by_id(s, id);
    if (pv != NULL)
        pv->m->refs++;
    pthread_mutex_unlock(&s->mu);
    if (pv == NULL) {
        free(h);
        duckdb_scalar_function_bind_set_error(info, "udr_patched: no such patch map");
        return;
    }
    h->s = s;
    h->v = pv;
    duckdb_scalar_function_set_bind_data(info, h, hold_free);
    duckdb_scalar_function_set_bind_data_copy(info, hold_copy);
}

static int register_all(duckdb_connection con, patch_set *s)
{
    duckdb_scalar_function_set set = duckdb_create_scalar_function_set("udr_patched");
    duckdb_logical_type ub = duckdb_create_logical_type(DUCKDB_TYPE_UBIGINT);
    duckdb_logical_type ui = duckdb_create_logical_type(DUCKDB_TYPE_UINTEGER);
    duckdb_logical_type bi = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    int ok = 1;
    for (size_t t = 0; t < NTYPES && ok; t++) {
        s->ov[t].s = s;
        s->ov[t].width = TYPES[t].width;
        duckdb_logical_type vt = duckdb_create_logical_type(TYPES[t].type);
        duckdb_scalar_function f = duckdb_create_scalar_function();
        duckdb_scalar_function_set_name(f, "udr_patched");
        duckdb_scalar_function_add_parameter(f, ub);
        duckdb_scalar_function_add_parameter(f, ui);
        duckdb_scalar_function_add_parameter(f, ub);
        duckdb_scalar_function_add_parameter(f, bi);
        duckdb_scalar_function_add_parameter(f, vt);
        duckdb_scalar_function_set_return_type(f, vt);
        /* a NULL value may be patched to one: the function sees NULLs */
        duckdb_scalar_function_set_special_handling(f);
        duckdb_scalar_function_set_function(f, patched);
        duckdb_scalar_function_set_bind(f, patched_bind);
        duckdb_scalar_function_set_extra_info(f, &s->ov[t], NULL);
        ok = duckdb_add_scalar_function_to_set(set, f) == DuckDBSuccess;
        duckdb_destroy_scalar_function(&f);
        duckdb_destroy_logical_type(&vt);
    }
    if (ok)
        ok = duckdb_register_scalar_function_set(con, set) == DuckDBSuccess;
    duckdb_destroy_logical_type(&ub);
    duckdb_destroy_logical_type(&ui);
    duckdb_destroy_logical_type(&bi);
    duckdb_destroy_scalar_function_set(&set);
    return ok;
}

int patch_open(duckdb_connection con, patch_set **out, udr_err *err)
{
    patch_set *s = calloc(1, sizeof *s);
    if (s == NULL)
        return err_set(err, UDR_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    s->limit = PATCH_MAX_BYTES;
    const char *env = getenv("UDR_PATCH_MAX_BYTES");
    if (env != NULL && *env != '\0') {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == '\0')
            s->limit = (size_t)v;
    }
    if (!register_all(con, s)) {
        patch_close(s);
        return err_set(err, UDR_ERROR, "cannot register udr_patched with DuckDB");
    }
    *out = s;
    return UDR_OK;
}

void patch_close(patch_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nviews; i++)
        view_free(s->views[i]);
    free(s->views);
    for (size_t i = 0; i < s->nmaps; i++)
        maps_free(s->maps[i]);             /* records shared: counted down */
    free(s->maps);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const struct ptype *type_of(const char *type)
{
    for (size_t t = 0; t < NTYPES; t++)
        if (strcasecmp(type, TYPES[t].name) == 0)
            return &TYPES[t];
    return NULL;
}

int patch_type_ok(const char *type)
{
    return type != NULL && type_of(type) != NULL;
}

/* ---- building maps ------------------------------------------------------- */

static void maps_key(const cat_tablever *tv, udr_hash *out)
{
    hasher h;
    hash_init(&h);
    uint64_t n = tv->npatches;
    hash_update(&h, &n, sizeof n);
    for (size_t i = 0; i < tv->npatches; i++) {
        hash_update(&h, tv->patches[i].hash.bytes, sizeof tv->patches[i].hash.bytes);
        hash_update(&h, &tv->patches[i].cols, sizeof tv->patches[i].cols);
    }
    hash_final(&h, out);
}

static void chunks_key(const cat_tablever *tv, udr_hash *out)
{
    hasher h;
    hash_init(&h);
    uint64_t n = tv->nchunks;
    hash_update(&h, &n, sizeof n);
    for (size_t i = 0; i < tv->nchunks; i++)
        hash_update(&h, tv->chunks[i].hash.bytes, sizeof tv->chunks[i].hash.bytes);
    hash_final(&h, out);
}

/* The position of hex in m's sorted records: *found, or where it goes. */
static size_t rec_find(const pmaps *m, const char *hex, int *found)
{
    size_t lo = 0, hi = m->nrecs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->recs[mid]->hex, hex);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

/* The record of hex, made (in its sorted place) on first use; NULL when
 * memory runs out. */
static prec *rec_of(pmaps *m, const char *hex)
{
    int found;
    size_t at = rec_find(m, hex, &found);
    if (found && m->recs[at]->refs == 1)
        return m->recs[at];
    if (found) {
        /* shared with the maps it was derived from: a copy of its own */
        const prec *old = m->recs[at];
        prec *c = calloc(1, sizeof *c);
        if (c == NULL)
            return NULL;
        memcpy(c->hex, old->hex, sizeof c->hex);
        c->refs = 1;
        for (size_t k = 0; k < CAT_PATCH_MAX_COLUMN; k++) {
            const pcol *o = old->col[k];
            if (o == NULL)
                continue;
            pcol *n = calloc(1, sizeof *n);
            size_t words = (size_t)((o->cap + 63) / 64);
            if (n != NULL) {
                *n = *o;
                n->vals = malloc(o->cap * o->width + 1);
                n->set = malloc(words * sizeof *n->set + 1);
                n->null = malloc(words * sizeof *n->null + 1);
            }
            c->col[k] = n;
            if (n == NULL || n->vals == NULL || n->set == NULL || n->null == NULL) {
                if (n != NULL && (n->vals == NULL || n->set == NULL || n->null == NULL)) {
                    free(n->vals);
                    free(n->set);
                    free(n->null);
                    free(n);
                    c->col[k] = NULL;
                }
                rec_free(c);
                return NULL;
            }
            memcpy(n->vals, o->vals, o->cap * o->width);
            memcpy(n->set, o->set, words * sizeof *n->set);
            memcpy(n->null, o->null, words * sizeof *n->null);
        }
        m->recs[at]->refs--;           /* still held by the other maps */
        m->recs[at] = c;
        return c;
    }
    prec **r = grow(m->recs, &m->cap, m->nrecs, sizeof *r);
    if (r == NULL)
        return NULL;
    m->recs = r;
    prec *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    memcpy(p->hex, hex, UDR_HASH_HEX + 1);
    p->refs = 1;
    memmove(&m->recs[at + 1], &m->recs[at], (m->nrecs - at) * sizeof *m->recs);
    m->recs[at] = p;
    m->nrecs++;
    return p;
}

static size_t pcol_bytes(uint64_t cap, size_t width)
{
    return (size_t)(cap * width + 2 * ((cap + 63) / 64) * sizeof(uint64_t));
}

/* Room in p for row r. 0; -1 when memory runs out; 1 past budget bytes. */
static int pcol_reserve(pcol *p, uint64_t r, size_t *bytes, size_t budget)
{
    if (r < p->cap)
        return 0;
    /* double, or (near the budget) just what holds r; a row takes a byte
     * at least, so a cap past budget is past it (and pcol_bytes cannot
     * overflow) */
    uint64_t cap = p->cap ? p->cap * 2 : 64;
    if (cap <= r)
        cap = r + 1;
    if (cap > budget || *bytes + pcol_bytes(cap, p->width) > budget)
        cap = r + 1;
    if (cap > budget)
        return 1;
    size_t more = pcol_bytes(cap, p->width) - pcol_bytes(p->cap, p->width);
    if (*bytes + more > budget)
        return 1;
    size_t words = (size_t)((p->cap + 63) / 64), nwords = (size_t)((cap + 63) / 64);
    unsigned char *vals = realloc(p->vals, (size_t)cap * p->width);
    if (vals == NULL)
        return -1;
    p->vals = vals;
    uint64_t *set = realloc(p->set, nwords * sizeof *set);
    if (set == NULL)
        return -1;
    p->set = set;
    uint64_t *null = realloc(p->null, nwords * sizeof *null);
    if (null == NULL)
        return -1;
    p->null = null;
    memset(p->set + words, 0, (nwords - words) * sizeof *set);
    memset(p->null + words, 0, (nwords - words) * sizeof *null);
    p->cap = cap;
    *bytes += more;
    return 0;
}

/* Trims each array of the records only m holds to the rows patched, and
 * counts m's bytes anew: its array and those records (the others are
 * counted with the maps they came from). */
static void maps_trim(pmaps *m)
{
    m->bytes = m->cap * sizeof *m->recs;
    for (size_t i = 0; i < m->nrecs; i++) {
        prec *r = m->recs[i];
        if (r->refs > 1)
            continue;
        r->bytes = sizeof *r;
        for (size_t c = 0; c < CAT_PATCH_MAX_COLUMN; c++) {
            pcol *p = m->recs[i]->col[c];
            if (p == NULL)
                continue;
            if (p->len < p->cap) {
                size_t nwords = (size_t)((p->len + 63) / 64);
                /* len >= 1: a column is made for a row */
                unsigned char *vals = realloc(p->vals, (size_t)p->len * p->width);
                uint64_t *set = realloc(p->set, nwords * sizeof *set);
                uint64_t *null = realloc(p->null, nwords * sizeof *null);
                if (vals != NULL)
                    p->vals = vals;
                if (set != NULL)
                    p->set = set;
                if (null != NULL)
                    p->null = null;
                if (vals != NULL && set != NULL && null != NULL)
                    p->cap = p->len;
            }
            r->bytes += sizeof *p + pcol_bytes(p->cap, p->width);
        }
        m->bytes += r->bytes;
    }
}

/* The columns of patch pt as positions in tv, in increasing order, and
 * their types. UDR_ECORRUPT naming the patch for a column tv lacks or one
 * that cannot be patched. */
static int patch_columns(const cat_tablever *tv, const cat_patch *pt, const char *hex,
                         size_t cols[CAT_PATCH_MAX_COLUMN], const struct ptype **types,
                         size_t *ncols, udr_err *err)
{
    *ncols = 0;
    for (size_t c = 0; c < CAT_PATCH_MAX_COLUMN; c++) {
        if (!(pt->cols >> c & 1))
            continue;
        if (c >= tv->ncols)
            return err_set(err, UDR_ECORRUPT,
                           "patch %s names column %zu of a table version of %zu columns", hex,
                           c + 1, tv->ncols);
        const struct ptype *t = type_of(tv->cols[c].type);
        if (t == NULL)
            return err_set(err, UDR_ECORRUPT,
                           "patch %s names column %s of type %s, which cannot be patched", hex,
                           tv->cols[c].name, tv->cols[c].type);
        types[*ncols] = t;
        cols[(*ncols)++] = c;
    }
    return UDR_OK;
}

static char *patch_sql(const char *root, const cat_tablever *tv, const cat_patch *pt,
                       const size_t *cols, const struct ptype **types, size_t ncols)
{
    char rel[128];
    store_object_relpath(&pt->hash, rel, sizeof rel);
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    buf sql;
    buf_init(&sql);
    buf_adds(&sql, "SELECT CAST(chunk AS VARCHAR), CAST(\"row\" AS BIGINT)");
    for (size_t k = 0; k < ncols; k++) {
        buf_adds(&sql, ", CAST(");
        buf_quoted(&sql, tv->cols[cols[k]].name, '"');
        buf_printf(&sql, " AS %s)", types[k]->name);
    }
    buf_adds(&sql, " FROM read_parquet(");
    buf_quoted(&sql, path, '\'');
    buf_adds(&sql, ")");
    return buf_take(&sql, NULL);
}

/* Applies one fetched chunk of patch rows to m. 0, -1 (memory), 1 (budget). */
static int apply_rows(pmaps *m, duckdb_data_chunk ch, const size_t *cols,
                      const struct ptype **types, size_t ncols, size_t *bytes, size_t budget)
{
    idx_t n = duckdb_data_chunk_get_size(ch);
    duckdb_vector vc = duckdb_data_chunk_get_vector(ch, 0);
    duckdb_vector vr = duckdb_data_chunk_get_vector(ch, 1);
    duckdb_string_t *names = duckdb_vector_get_data(vc);
    const int64_t *rows = duckdb_vector_get_data(vr);
    uint64_t *okc = duckdb_vector_get_validity(vc), *okr = duckdb_vector_get_validity(vr);
    prec *last = NULL;
    for (idx_t i = 0; i < n; i++) {
        if (!valid(okc, i) || !valid(okr, i) || rows[i] < 0)
            continue;
        uint32_t len = duckdb_string_t_length(names[i]);
        const char *hex = duckdb_string_t_data(&names[i]);
        if (len != UDR_HASH_HEX)
            continue;                  /* names no chunk */
        if (last == NULL || memcmp(last->hex, hex, UDR_HASH_HEX) != 0) {
            char key[UDR_HASH_HEX + 1];
            memcpy(key, hex, UDR_HASH_HEX);
            key[UDR_HASH_HEX] = '\0';
            last = rec_of(m, key);
            if (last == NULL)
                return -1;
        }
        uint64_t r = (uint64_t)rows[i];
        for (size_t k = 0; k < ncols; k++) {
            pcol *p = last->col[cols[k]];
            if (p == NULL) {
                p = calloc(1, sizeof *p);
                if (p == NULL)
                    return -1;
                p->width = types[k]->width;
                last->col[cols[k]] = p;
            }
            int rc = pcol_reserve(p, r, bytes, budget);
            if (rc != 0)
                return rc;
            duckdb_vector vv = duckdb_data_chunk_get_vector(ch, k + 2);
            const unsigned char *vals = duckdb_vector_get_data(vv);
            if (r >= p->len)
                p->len = r + 1;
            p->set[r >> 6] |= (uint64_t)1 << (r & 63);
            if (valid(duckdb_vector_get_validity(vv), i)) {
                p->null[r >> 6] &= ~((uint64_t)1 << (r & 63));
                put(p->vals + r * p->width, vals + i * p->width, p->width);
            } else {
                p->null[r >> 6] |= (uint64_t)1 << (r & 63);
            }
        }
    }
    return 0;
}

/* Reads patch pt into m. UDR_OK; 1 past budget bytes; or an error. */
static int read_patch(pmaps *m, duckdb_connection con, const char *root, const cat_tablever *tv,
                      const cat_patch *pt, size_t *bytes, size_t budget, udr_err *err)
{
    char hex[UDR_HASH_HEX + 1];
    hash_to_hex(&pt->hash, hex);
    size_t cols[CAT_PATCH_MAX_COLUMN], ncols;
    const struct ptype *types[CAT_PATCH_MAX_COLUMN];
    int rc = patch_columns(tv, pt, hex, cols, types, &ncols, err);
    if (rc != UDR_OK)
        return rc;
    char *text = patch_sql(root, tv, pt, cols, types, ncols);
    if (text == NULL)
        return err_set(err, UDR_ENOMEM, "out of memory");
    duckdb_result res;
    if (duckdb_query(con, text, &res) != DuckDBSuccess) {
        rc = err_set(err, UDR_ECORRUPT, "cannot read patch %s: %s", hex,
                     duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        free(text);
        return rc;
    }
    free(text);
    for (;;) {
        duckdb_data_chunk ch = duckdb_fetch_chunk(res);
        if (ch == NULL)
            break;
        int got = apply_rows(m, ch, cols, types, ncols, bytes, budget);
        duckdb_destroy_data_chunk(&ch);
        if (got < 0) {
            rc = err_set(err, UDR_ENOMEM, "out of memory reading patch %s", hex);
            break;
        }
        if (got > 0) {
            rc = 1;
            break;
        }
    }
    if (rc == UDR_OK) {
        const char *e = duckdb_result_error(&res);
        if (e != NULL && *e != '\0')
            rc = err_set(err, UDR_ECORRUPT, "cannot read patch %s: %s", hex, e);
    }
    duckdb_destroy_result(&res);
    return rc;
}

/* tv's maps in *out. UDR_OK; 1 past budget bytes (*out NULL); or an error. */
static int maps_build(duckdb_connection con, const char *root, const cat_tablever *tv,
                      const udr_hash *key, size_t budget, pmaps **out, udr_err *err)
{
    *out = NULL;
    pmaps *m = calloc(1, sizeof *m);
    if (m == NULL)
        return err_set(err, UDR_ENOMEM, "out of memory");
    m->key = *key;
    size_t bytes = 0;
    int rc = UDR_OK;
    for (size_t i = 0; i < tv->npatches && rc == UDR_OK; i++)
        rc = read_patch(m, con, root, tv, &tv->patches[i], &bytes, budget, err);
    if (rc != UDR_OK) {
        maps_free(m);
        return rc;
    }
    maps_trim(m);
    if (m->bytes > budget) {
        maps_free(m);
        return 1;
    }
    *out = m;
    return UDR_OK;
}

/* A view of tv's chunk list over maps m. NULL on no memory. */
static pview *view_build(pmaps *m, const cat_tablever *tv, const udr_hash *key)
{
    pview *v = calloc(1, sizeof *v);
    if (v == NULL)
        return NULL;
    v->at = calloc(tv->nchunks ? tv->nchunks : 1, sizeof *v->at);
    if (v->at == NULL) {
        free(v);
        return NULL;
    }
    v->m = m;
    v->key = *key;
    v->nchunks = tv->nchunks;
    v->bytes = sizeof *v + tv->nchunks * sizeof *v->at;
    for (size_t i = 0; i < tv->nchunks; i++) {
        char hex[UDR_HASH_HEX + 1];
        hash_to_hex(&tv->chunks[i].hash, hex);
        int found;
        size_t at = rec_find(m, hex, &found);
        v->at[i] = found ? m->recs[at] : NULL;
    }
    return v;
}

/* Under s->mu: the live maps keyed key, or NULL. */
static pmaps *find_maps(const patch_set *s, const udr_hash *key)
{
    for (size_t i = 0; i < s->nmaps; i++)
        if (hash_equal(&s->maps[i]->key, key))
            return s->maps[i];
    return NULL;
}

/* Under s->mu: the view of maps m keyed key, or NULL. */
static pview *find_view(const patch_set *s, const pmaps *m, const udr_hash *key)
{
    for (size_t i = 0; i < s->nviews; i++)
        if (s->views[i]->m == m && hash_equal(&s->views[i]->key, key))
            return s->views[i];
    return NULL;
}

/* Lower bound of the bytes of tv's maps: each patched value, its bits. */
static uint64_t maps_estimate(const cat_tablever *tv)
{
    uint64_t need = 0;
    for (size_t i = 0; i < tv->npatches; i++) {
        uint64_t w = 0;
        for (size_t c = 0; c < CAT_PATCH_MAX_COLUMN && c < tv->ncols; c++) {
            const struct ptype *t = type_of(tv->cols[c].type);
            if (tv->patches[i].cols >> c & 1 && t != NULL)
                w += t->width;
        }
        need += tv->patches[i].rows * w + tv->patches[i].rows / 4;
    }
    return need;
}

/* Under s->mu: frees maps (and their views) that nothing holds nor may
 * soon bind, least recently handed out first, until `need` more bytes fit
 * under the limit and at most PATCH_STALE such maps are left, or none is
 * left to free. */
static void evict(patch_set *s, uint64_t need)
{
    for (;;) {
        size_t victim = SIZE_MAX, stale = 0;
        for (size_t i = 0; i < s->nmaps; i++) {
            const pmaps *m = s->maps[i];
            if (m->refs > 0 || s->tick - m->used < PATCH_FRESH)
                continue;
            stale++;
            if (victim == SIZE_MAX || m->used < s->maps[victim]->used)
                victim = i;
        }
        if (victim == SIZE_MAX || (s->bytes + need <= s->limit && stale <= PATCH_STALE))
            return;
        pmaps *m = s->maps[victim];
        size_t kept = 0;
        for (size_t i = 0; i < s->nviews; i++) {
            if (s->views[i]->m == m) {
                s->bytes -= s->views[i]->bytes;
                view_free(s->views[i]);
            } else {
                s->views[kept++] = s->views[i];      /* in ID order still */
            }
        }
        s->nviews = kept;
        s->maps[victim] = s->maps[--s->nmaps];
        s->bytes -= maps_free(m);
    }
}

/* Under s->mu: m added, or the equal maps another thread added first (m
 * freed), marked as just handed out (so not evicted before its view is),
 * in *out. 1; 0 past the limit (m freed); or UDR_ENOMEM. */
static int publish_maps(patch_set *s, pmaps *m, pmaps **out)
{
    *out = find_maps(s, &m->key);
    if (*out != NULL) {
        maps_free(m);
        (*out)->used = ++s->tick;
        return 1;
    }
    evict(s, m->bytes);
    if (s->bytes + m->bytes > s->limit) {
        maps_free(m);
        return 0;
    }
    pmaps **a = grow(s->maps, &s->mapcap, s->nmaps, sizeof *a);
    if (a == NULL) {
        maps_free(m);
        return UDR_ENOMEM;
    }
    s->maps = a;
    s->maps[s->nmaps++] = m;
    s->bytes += m->bytes;
    m->used = ++s->tick;
    *out = m;
    return 1;
}

int patch_for(patch_set *s, duckdb_connection con, const char *root, const cat_tablever *tv,
              uint64_t *id, udr_err *err)
{
    assert(s != NULL && root != NULL && tv != NULL && id != NULL);
    if (s->limit == 0)
        return 0;
    udr_hash mkey, ckey;
    maps_key(tv, &mkey);
    chunks_key(tv, &ckey);

    pthread_mutex_lock(&s->mu);
    pmaps *m = find_maps(s, &mkey);
    pthread_mutex_unlock(&s->mu);
    if (m == NULL) {
        /* Built up to the whole bound (for a moment beside what the set
         * holds), then room made for it by evicting (publish_maps). */
        if (maps_estimate(tv) > s->limit)
            return 0;
        pmaps *built;
        int rc = maps_build(con, root, tv, &mkey, s->limit, &built, err);
        if (rc != UDR_OK)
            return rc > 0 ? 0 : rc;
        pthread_mutex_lock(&s->mu);
        rc = publish_maps(s, built, &m);
        pthread_mutex_unlock(&s->mu);
        if (rc != 1)
            return rc == 0 ? 0 : err_set(err, UDR_ENOMEM, "out of memory");
    }

    /* The view, under the lock (maps are only freed under it), of the maps
     * found again: the lock was let go since. */
    pthread_mutex_lock(&s->mu);
    m = find_maps(s, &mkey);
    if (m == NULL) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    pview *v = find_view(s, m, &ckey);
    if (v == NULL) {
        v = view_build(m, tv, &ckey);
        pview **a = v != NULL ? grow(s->views, &s->viewcap, s->nviews, sizeof *a) : NULL;
        if (a == NULL) {
            pthread_mutex_unlock(&s->mu);
            view_free(v);
            return err_set(err, UDR_ENOMEM, "out of memory");
        }
        s->views = a;
        v->id = s->next_id++;
        s->views[s->nviews++] = v;
        s->bytes += v->bytes;
    }
    m->used = ++s->tick;
    *id = v->id;
    pthread_mutex_unlock(&s->mu);
    return 1;
}

int patch_derive(patch_set *s, duckdb_connection con, const char *root, const cat_tablever *from,
                 const cat_tablever *to, udr_err *err)
{
    assert(s != NULL && from != NULL && to != NULL);
    if (s->limit == 0 || to->npatches == 0)
        return 0;
    udr_hash fk, tk;
    maps_key(from, &fk);
    maps_key(to, &tk);
    /* Under the lock throughout: the source's records are shared, and
     * only an eviction (under the lock) could free them. */
    pthread_mutex_lock(&s->mu);
    const pmaps *src = find_maps(s, &fk);
    pmaps *mi;
    if (src == NULL || find_maps(s, &tk) != NULL) {
        pthread_mutex_unlock(&s->mu);
        return src == NULL ? 0 : 1;
    }
    pmaps *m = calloc(1, sizeof *m);
    prec **recs = malloc((src->nrecs + 1) * sizeof *recs);
    if (m == NULL || recs == NULL) {
        pthread_mutex_unlock(&s->mu);
        free(m);
        free(recs);
        return err_set(err, UDR_ENOMEM, "out of memory");
    }
    m->key = tk;
    m->recs = recs;
    m->nrecs = src->nrecs;
    m->cap = src->nrecs + 1;
    for (size_t i = 0; i < src->nrecs; i++) {
        recs[i] = src->recs[i];
        recs[i]->refs++;
    }
    size_t bytes = 0;
    int rc = read_patch(m, con, root, to, &to->patches[to->npatches - 1], &bytes, s->limit, err);
    if (rc != UDR_OK) {
        maps_free(m);
        pthread_mutex_unlock(&s->mu);
        return rc > 0 ? 0 : rc;
    }
    maps_trim(m);
    rc = publish_maps(s, m, &mi);
    pthread_mutex_unlock(&s->mu);
    return rc == UDR_ENOMEM ? err_set(err, UDR_ENOMEM, "out of memory") : rc;
}

size_t patch_bytes(patch_set *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->bytes;
    pthread_mutex_unlock(&s->mu);
    return n;
}
