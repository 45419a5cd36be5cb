/*
 * delvec — deletion vectors; see delvec.h.
 */
#include "delvec.h"
#include "udfarg.h"

#include <assert.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "store.h"
#include "util/buf.h"
#include "util/grow.h"

/* One version's vectors: a bitmap per position in its chunk list (NULL
 * where no row is deleted). Positions holding the same chunk share one
 * bitmap, as the anti-join matched a chunk by its file: owned lists each
 * bitmap once, for freeing. */
typedef struct dv {
    udr_hash key;
    uint64_t id;
    size_t bytes;                  /* of its bitmaps */
    uint64_t refs;                 /* bound udr_live expressions holding it */
    uint64_t used;                 /* tick when last handed out */
    size_t nchunks;
    uint64_t **bits;
    uint64_t *rows;
    uint64_t **owned;
    size_t nowned, owncap;
} dv;

struct delvec_set {
    pthread_mutex_t mu;
    dv **v;                        /* live ones, by increasing ID */
    size_t n, cap;
    size_t bytes, limit;
    uint64_t tick;                 /* delvec_for calls so far (recency) */
    uint64_t next_id;              /* IDs are never reused */
};

/* A bound udr_live expression's hold on its vectors. */
typedef struct hold {
    delvec_set *s;
    dv *d;
} hold;

static void dv_free(dv *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nowned; i++)
        free(d->owned[i]);
    free(d->owned);
    free(d->bits);
    free(d->rows);
    free(d);
}

/* ---- udr_live(id, file_index, file_row_number) -------------------------- */

static void live(duckdb_function_info info, duckdb_data_chunk in, duckdb_vector out)
{
    idx_t n = duckdb_data_chunk_get_size(in);
    const uint64_t *id = duckdb_vector_get_data(duckdb_data_chunk_get_vector(in, 0));
    const uint64_t *fi = duckdb_vector_get_data(duckdb_data_chunk_get_vector(in, 1));
    const int64_t *row = duckdb_vector_get_data(duckdb_data_chunk_get_vector(in, 2));
    bool *o = duckdb_vector_get_data(out);
    /* The vectors the constant ID named at bind, held until the plan goes. */
    const hold *h = duckdb_scalar_function_get_bind_data(info);
    const dv *d = h != NULL ? h->d : NULL;
    for (idx_t i = 0; i < n; i++) {
        if (d == NULL || d->id != id[i]) {
            duckdb_scalar_function_set_error(info, "udr_live: no such deletion vector");
            return;
        }
        uint64_t f = fi[i], r = (uint64_t)row[i];
        const uint64_t *b = f < d->nchunks ? d->bits[f] : NULL;
        o[i] = !(b != NULL && r < d->rows[f] && (b[r >> 6] >> (r & 63) & 1));
    }
}

/* Under s->mu: the live vectors of ID id, or NULL. */
static dv *dv_by_id(const delvec_set *s, uint64_t id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid]->id == id)
            return s->v[mid];
        if (s->v[mid]->id < id)
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
    assert(h->d->refs > 0);
    h->d->refs--;
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
    h->d->refs++;
    pthread_mutex_unlock(&h->s->mu);
    return c;
}

/* udr_live's bind: its first argument, a constant ID, to a hold on the
 * vectors for as long as the expression lives (bind data, which DuckDB
 * copies and destroys with the plan), so that eviction leaves them be. */
static void live_bind(duckdb_bind_info info)
{
    delvec_set *s = duckdb_scalar_function_bind_get_extra_info(info);
    uint64_t id;
    int ok = udfarg_const_id(info, &id);
    if (!ok) {
        duckdb_scalar_function_bind_set_error(info, "udr_live takes a constant ID");
        return;
    }
    hold *h = malloc(sizeof *h);
    if (h == NULL) {
        duckdb_scalar_function_bind_set_error(info, "udr_live: out of memory");
        return;
    }
    pthread_mutex_lock(&s->mu);
    dv *d = dv_by_id(s, id);
    if (d != NULL)
        d->refs++;
    pthread_mutex_unlock(&s->mu);
    if (d == NULL) {
        free(h);
        duckdb_scalar_function_bind_set_error(info, "udr_live: no such deletion vector");
        return;
    }
    h->s = s;
    h->d = d;
    duckdb_scalar_function_set_bind_data(info, h, hold_free);
    duckdb_scalar_function_set_bind_data_copy(info, hold_copy);
}

int delvec_open(duckdb_connection con, delvec_set **out, udr_err *err)
{
    delvec_set *s = calloc(1, sizeof *s);
    if (s == NULL)
        return err_set(err, UDR_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    s->limit = DELVEC_MAX_BYTES;
    const char *env = getenv("UDR_DELVEC_MAX_BYTES");
    if (env != NULL && *env != '\0') {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == '\0')
            s->limit = (size_t)v;
    }
    duckdb_scalar_function f = duckdb_create_scalar_function();
    duckdb_scalar_function_set_name(f, "udr_live");
    duckdb_logical_type ub = duckdb_create_logical_type(DUCKDB_TYPE_UBIGINT);
    duckdb_logical_type bi = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    duckdb_logical_type bo = duckdb_create_logical_type(DUCKDB_TYPE_BOOLEAN);
    duckdb_scalar_function_add_parameter(f, ub);
    duckdb_scalar_function_add_parameter(f, ub);
    duckdb_scalar_function_add_parameter(f, bi);
    duckdb_scalar_function_set_return_type(f, bo);
    duckdb_scalar_function_set_function(f, live);
    duckdb_scalar_function_set_bind(f, live_bind);
    duckdb_scalar_function_set_extra_info(f, s, NULL);
    int ok = duckdb_register_scalar_function(con, f) == DuckDBSuccess;
    duckdb_destroy_logical_type(&ub);
    duckdb_destroy_logical_type(&bi);
    duckdb_destroy_logical_type(&bo);
    duckdb_destroy_scalar_function(&f);
    if (!ok) {
        delvec_close(s);
        return err_set(err, UDR_ERROR, "cannot register udr_live with DuckDB");
    }
    *out = s;
    return UDR_OK;
}

void delvec_close(delvec_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        dv_free(s->v[i]);
    free(s->v);
    pthread_mutex_destroy(&s->mu);
    free(s);
}


/* ---- building ------------------------------------------------------------ */

static void version_key(const cat_tablever *tv, udr_hash *out)
{
    hasher h;
    hash_init(&h);
    uint64_t n[2] = {tv->nchunks, tv->ndeletes};
    hash_update(&h, n, sizeof n);
    for (size_t i = 0; i < tv->nchunks; i++)
        hash_update(&h, tv->chunks[i].hash.bytes, sizeof tv->chunks[i].hash.bytes);
    for (size_t i = 0; i < tv->ndeletes; i++)
        hash_update(&h, tv->deletes[i].hash.bytes, sizeof tv->deletes[i].hash.bytes);
    hash_final(&h, out);
}

/* A chunk's position in the list, sorted by hash, to find a delete file's
 * chunk names in. */
typedef struct byhex {
    char hex[UDR_HASH_HEX + 1];
    size_t pos;
} byhex;

static int byhex_cmp(const void *a, const void *b)
{
    return strcmp(((const byhex *)a)->hex, ((const byhex *)b)->hex);
}

/* The bitmap of every position holding the chunk named hex (len chars);
 * made on first use. Returns 0, or -1 when memory runs out. */
static int bitmap_of(dv *d, const byhex *sorted, const char *hex, size_t len, uint64_t ***first,
                     size_t *bytes)
{
    *first = NULL;
    if (len != UDR_HASH_HEX)
        return 0;
    char key[UDR_HASH_HEX + 1];
    memcpy(key, hex, len);
    key[len] = '\0';
    size_t lo = 0, hi = d->nchunks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(sorted[mid].hex, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == d->nchunks || strcmp(sorted[lo].hex, key) != 0)
        return 0;                      /* a chunk not in this version: matches nothing */
    size_t p = sorted[lo].pos;
    if (d->bits[p] == NULL) {
        size_t words = (size_t)((d->rows[p] + 63) / 64);
        uint64_t *b = calloc(words ? words : 1, sizeof *b);
        uint64_t **o = grow(d->owned, &d->owncap, d->nowned, sizeof *o);
        if (b == NULL || o == NULL) {
            free(b);
            if (o != NULL)
                d->owned = o;
            return -1;
        }
        d->owned = o;
        d->owned[d->nowned++] = b;
        *bytes += words * sizeof *b;
        for (size_t k = lo; k < d->nchunks && strcmp(sorted[k].hex, key) == 0; k++)
            d->bits[sorted[k].pos] = b;
    }
    *first = &d->bits[p];
    return 0;
}

static int build(dv *d, duckdb_connection con, const char *root, const cat_tablever *tv,
                 size_t *bytes, udr_err *err)
{
    byhex *sorted = calloc(tv->nchunks ? tv->nchunks : 1, sizeof *sorted);
    d->bits = calloc(tv->nchunks ? tv->nchunks : 1, sizeof *d->bits);
    d->rows = calloc(tv->nchunks ? tv->nchunks : 1, sizeof *d->rows);
    if (sorted == NULL || d->bits == NULL || d->rows == NULL) {
        free(sorted);
        return err_set(err, UDR_ENOMEM, "out of memory");
    }
    d->nchunks = tv->nchunks;
    for (size_t i = 0; i < tv->nchunks; i++) {
        hash_to_hex(&tv->chunks[i].hash, sorted[i].hex);
        sorted[i].pos = i;
        d->rows[i] = tv->chunks[i].rows;
    }
    qsort(sorted, tv->nchunks, sizeof *sorted, byhex_cmp);

    buf sql;
    buf_init(&sql);
    buf_adds(&sql, "SELECT chunk, \"row\" FROM read_parquet([");
    for (size_t i = 0; i < tv->ndeletes; i++) {
        char rel[128];
        store_object_relpath(&tv->deletes[i].hash, rel, sizeof rel);
        char path[PATH_MAX * 2];
        snprintf(path, sizeof path, "%s/%s", root, rel);
        buf_adds(&sql, i ? ", " : "");
        buf_quoted(&sql, path, '\'');
    }
    buf_adds(&sql, "])");
    char *text = buf_take(&sql, NULL);
    if (text == NULL) {
        free(sorted);
        return err_set(err, UDR_ENOMEM, "out of memory");
    }
    duckdb_result res;
    int rc = UDR_OK;
    if (duckdb_query(con, text, &res) != DuckDBSuccess) {
        rc = err_set(err, UDR_ECORRUPT, "cannot read the delete files: %s",
                     duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        free(text);
        free(sorted);
        return rc;
    }
    free(text);
    char last[UDR_HASH_HEX + 1] = "";
    uint64_t **lastbits = NULL;
    size_t lastpos = 0;
    for (;;) {
        duckdb_data_chunk ch = duckdb_fetch_chunk(res);
        if (ch == NULL)
            break;
        idx_t n = duckdb_data_chunk_get_size(ch);
        duckdb_vector vc = duckdb_data_chunk_get_vector(ch, 0);
        duckdb_vector vr = duckdb_data_chunk_get_vector(ch, 1);
        duckdb_string_t *names = duckdb_vector_get_data(vc);
        const int64_t *rows = duckdb_vector_get_data(vr);
        uint64_t *vn = duckdb_vector_get_validity(vc), *vrv = duckdb_vector_get_validity(vr);
        for (idx_t i = 0; i < n && rc == UDR_OK; i++) {
            if ((vn && !duckdb_validity_row_is_valid(vn, i)) ||
                (vrv && !duckdb_validity_row_is_valid(vrv, i)))
                continue;
            uint32_t len = duckdb_string_t_length(names[i]);
            const char *hex = duckdb_string_t_data(&names[i]);
            if (len != strlen(last) || memcmp(hex, last, len) != 0) {
                if (bitmap_of(d, sorted, hex, len, &lastbits, bytes) != 0) {
                    rc = err_set(err, UDR_ENOMEM, "out of memory");
                    break;
                }
                if (len == UDR_HASH_HEX) {
                    memcpy(last, hex, len);
                    last[len] = '\0';
                } else {
                    last[0] = '\0';
                }
                lastpos = lastbits ? (size_t)(lastbits - d->bits) : 0;
            }
            if (lastbits == NULL || rows[i] < 0 || (uint64_t)rows[i] >= d->rows[lastpos])
                continue;                  /* names no row of this version */
            uint64_t r = (uint64_t)rows[i];
            (*lastbits)[r >> 6] |= (uint64_t)1 << (r & 63);
        }
        duckdb_destroy_data_chunk(&ch);
        if (rc != UDR_OK)
            break;
    }
    duckdb_destroy_result(&res);
    free(sorted);
    return rc;
}

/* Under s->mu: frees the vectors least recently handed out that nothing
 * holds nor may soon bind, until `need` more bytes fit under the limit or
 * none is left to free. */
static void evict(delvec_set *s, uint64_t need)
{
    for (;;) {
        size_t victim = SIZE_MAX, stale = 0;
        for (size_t i = 0; i < s->n; i++) {
            const dv *d = s->v[i];
            if (d->refs > 0 || s->tick - d->used < DELVEC_FRESH)
                continue;
            stale++;
            if (victim == SIZE_MAX || d->used < s->v[victim]->used)
                victim = i;
        }
        if (victim == SIZE_MAX || (s->bytes + need <= s->limit && stale <= DELVEC_STALE))
            return;
        s->bytes -= s->v[victim]->bytes;
        dv_free(s->v[victim]);
        memmove(&s->v[victim], &s->v[victim + 1], (s->n - victim - 1) * sizeof *s->v);
        s->n--;                    /* the rest still by ID */
    }
}

int delvec_for(delvec_set *s, duckdb_connection con, const char *root, const cat_tablever *tv,
               uint64_t *id, udr_err *err)
{
    udr_hash key;
    version_key(tv, &key);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        if (hash_equal(&s->v[i]->key, &key)) {
            s->v[i]->used = ++s->tick;
            *id = s->v[i]->id;
            pthread_mutex_unlock(&s->mu);
            return 1;
        }
    uint64_t need = 0;
    for (size_t i = 0; i < tv->nchunks; i++)
        need += (tv->chunks[i].rows + 63) / 64 * 8;
    if (s->limit > 0)
        evict(s, need);
    int over = s->limit == 0 || s->bytes + need > s->limit;
    pthread_mutex_unlock(&s->mu);
    if (over)
        return 0;

    dv *d = calloc(1, sizeof *d);
    if (d == NULL)
        return err_set(err, UDR_ENOMEM, "out of memory");
    d->key = key;
    size_t bytes = 0;
    int rc = build(d, con, root, tv, &bytes, err);
    if (rc != UDR_OK) {
        dv_free(d);
        return rc;
    }
    d->bytes = bytes;
    pthread_mutex_lock(&s->mu);
    dv **v = grow(s->v, &s->cap, s->n, sizeof *v);
    if (v == NULL) {
        pthread_mutex_unlock(&s->mu);
        dv_free(d);
        return err_set(err, UDR_ENOMEM, "out of memory");
    }
    s->v = v;
    d->id = s->next_id++;
    d->used = ++s->tick;
    *id = d->id;
    s->v[s->n++] = d;
    s->bytes += bytes;
    pthread_mutex_unlock(&s->mu);
    return 1;
}

size_t delvec_bytes(delvec_set *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->bytes;
    pthread_mutex_unlock(&s->mu);
    return n;
}
