/*
 * catalog — metadata objects, the log's commit records, and the index; the
 * formats are described in catalog.h.
 */
#include "catalog.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "hash.h"
#include "util/buf.h"

enum { REC_COMMIT = 1, REC_CHECKPOINT = 2 };

static const char TV_MAGIC[] = "udr table-version 1";
static const char COMMIT_MAGIC[] = "udr commit 1";
static const char CHECKPOINT_MAGIC[] = "udr checkpoint 1";

/* ---- names ------------------------------------------------------------- */

int catalog_check_name(const char *name, udr_err *err)
{
    if (name == NULL || name[0] == '\0')
        return err_set(err, UDR_EINVAL, "a table name cannot be empty");
    size_t n = strlen(name);
    if (n > CATALOG_NAME_MAX)
        return err_set(err, UDR_EINVAL, "table name '%.40s...' is too long (%zu bytes; at most %d)",
                       name, n, CATALOG_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
                 (i > 0 && ch >= '0' && ch <= '9');
        if (!ok) {
            buf b;
            buf_init(&b);
            buf_escaped(&b, name);
            char *shown = buf_take(&b, NULL);
            int rc = err_set(err, UDR_EINVAL,
                             "'%s' is not a valid table name: use letters, digits and _, not "
                             "starting with a digit (at most %d bytes)",
                             shown ? shown : "?", CATALOG_NAME_MAX);
            free(shown);
            return rc;
        }
    }
    return UDR_OK;
}

/* ---- text lines ---------------------------------------------------------- */

enum { MAX_FIELDS = 8 };

typedef struct line {
    const char *f[MAX_FIELDS];       /* fields, not NUL-terminated */
    size_t flen[MAX_FIELDS];
    int n;
} line;

/* Splits the next line off *p (up to end); 0 at the end, -1 if malformed. */
static int next_line(const char **p, const char *end, line *l)
{
    if (*p >= end)
        return 0;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (nl == NULL)
        return -1;                   /* every line ends with \n */
    l->n = 0;
    const char *s = *p;
    while (s <= nl) {
        const char *e = s;
        while (e < nl && *e != ' ')
            e++;
        if (e == s || l->n == MAX_FIELDS)
            return -1;               /* empty field, or too many */
        l->f[l->n] = s;
        l->flen[l->n] = (size_t)(e - s);
        l->n++;
        s = e + 1;
    }
    *p = nl + 1;
    return 1;
}

static int field_is(const line *l, int i, const char *word)
{
    return i < l->n && l->flen[i] == strlen(word) && memcmp(l->f[i], word, l->flen[i]) == 0;
}

static int field_u64(const line *l, int i, uint64_t *v)
{
    if (i >= l->n || l->flen[i] == 0 || l->flen[i] > 20 || (l->flen[i] > 1 && l->f[i][0] == '0'))
        return -1;                   /* canonical: no leading zeros */
    uint64_t x = 0;
    for (size_t k = 0; k < l->flen[i]; k++) {
        char c = l->f[i][k];
        if (c < '0' || c > '9' || x > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(c - '0');
    }
    *v = x;
    return 0;
}

static int field_hash(const line *l, int i, udr_hash *h)
{
    char hex[UDR_HASH_HEX + 1];
    if (i >= l->n || l->flen[i] != UDR_HASH_HEX)
        return -1;
    memcpy(hex, l->f[i], UDR_HASH_HEX);
    hex[UDR_HASH_HEX] = '\0';
    return hash_from_hex(hex, h);
}

static char *field_str(const line *l, int i)
{
    return i < l->n ? unescape(l->f[i], l->flen[i]) : NULL;
}

static void add_hash(buf *b, const udr_hash *h)
{
    char hex[UDR_HASH_HEX + 1];
    hash_to_hex(h, hex);
    buf_adds(b, hex);
}

/* ---- table versions ------------------------------------------------------ */

char *catv_encode(const cat_tablever *tv, size_t *len)
{
    buf b;
    buf_init(&b);
    buf_printf(&b, "%s\n", TV_MAGIC);
    if (tv->has_parent) {
        buf_adds(&b, "parent ");
        add_hash(&b, &tv->parent);
        buf_addc(&b, '\n');
    }
    buf_printf(&b, "rows %llu\n", (unsigned long long)tv->rows);
    for (size_t i = 0; i < tv->ncols; i++) {
        buf_adds(&b, "column ");
        buf_escaped(&b, tv->cols[i].name);
        buf_addc(&b, ' ');
        buf_escaped(&b, tv->cols[i].type);
        buf_addc(&b, '\n');
    }
    for (size_t i = 0; i < tv->nkey; i++) {
        buf_adds(&b, "key ");
        buf_escaped(&b, tv->key[i]);
        buf_addc(&b, '\n');
    }
    for (size_t i = 0; i < tv->nchunks; i++) {
        buf_adds(&b, "chunk ");
        add_hash(&b, &tv->chunks[i].hash);
        buf_printf(&b, " %llu %llu\n", (unsigned long long)tv->chunks[i].rows,
                   (unsigned long long)tv->chunks[i].bytes);
    }
    for (size_t i = 0; i < tv->ndeletes; i++) {
        buf_adds(&b, "delete ");
        add_hash(&b, &tv->deletes[i].hash);
        buf_printf(&b, " %llu\n", (unsigned long long)tv->deletes[i].rows);
    }
    return buf_take(&b, len);
}

void catv_free(cat_tablever *tv)
{
    for (size_t i = 0; i < tv->ncols; i++) {
        free(tv->cols[i].name);
        free(tv->cols[i].type);
    }
    for (size_t i = 0; i < tv->nkey; i++)
        free(tv->key[i]);
    free(tv->cols);
    free(tv->key);
    free(tv->chunks);
    free(tv->deletes);
    memset(tv, 0, sizeof *tv);
}

/* Appends one element to a growable array. */
static void *grow_array(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t c = *cap ? *cap * 2 : 8;
    void *a = realloc(arr, c * elem);
    if (a != NULL)
        *cap = c;
    return a;
}

int catv_decode(const void *data, size_t len, cat_tablever *tv, udr_err *err)
{
    memset(tv, 0, sizeof *tv);
    const char *p = data, *end = p + len;
    size_t ccap = 0, kcap = 0, chcap = 0, dcap = 0;
    uint64_t sum_rows = 0, sum_deleted = 0;
    line l;
    int r = next_line(&p, end, &l);
    const char *why = "it does not start with \"udr table-version 1\"";
    if (r != 1 || l.n != 3 || !field_is(&l, 0, "udr") || !field_is(&l, 1, "table-version") ||
        !field_is(&l, 2, "1"))
        goto bad;
    int seen_rows = 0, stage = 0;    /* parent, rows, columns, keys, chunks in order */
    while ((r = next_line(&p, end, &l)) == 1) {
        why = "a line is malformed or out of order";
        if (field_is(&l, 0, "parent") && l.n == 2 && stage == 0) {
            if (field_hash(&l, 1, &tv->parent) != 0)
                goto bad;
            tv->has_parent = 1;
            stage = 1;
        } else if (field_is(&l, 0, "rows") && l.n == 2 && stage <= 1) {
            if (field_u64(&l, 1, &tv->rows) != 0)
                goto bad;
            seen_rows = 1;
            stage = 2;
        } else if (field_is(&l, 0, "column") && l.n == 3 && stage >= 2 && stage <= 3) {
            if (tv->ncols >= CATALOG_MAX_COLUMNS)
                goto bad;
            cat_column *c = grow_array(tv->cols, &ccap, tv->ncols, sizeof *c);
            if (c == NULL)
                goto oom;
            tv->cols = c;
            c[tv->ncols].name = field_str(&l, 1);
            c[tv->ncols].type = field_str(&l, 2);
            tv->ncols++;
            if (c[tv->ncols - 1].name == NULL || c[tv->ncols - 1].type == NULL)
                goto bad;
            stage = 3;
        } else if (field_is(&l, 0, "key") && l.n == 2 && stage >= 3 && stage <= 4) {
            char **k = grow_array(tv->key, &kcap, tv->nkey, sizeof *k);
            if (k == NULL)
                goto oom;
            tv->key = k;
            k[tv->nkey++] = field_str(&l, 1);
            if (k[tv->nkey - 1] == NULL)
                goto bad;
            stage = 4;
        } else if (field_is(&l, 0, "chunk") && l.n == 4 && stage >= 3) {
            cat_chunk *ch = grow_array(tv->chunks, &chcap, tv->nchunks, sizeof *ch);
            if (ch == NULL)
                goto oom;
            tv->chunks = ch;
            cat_chunk *c = &ch[tv->nchunks];
            if (field_hash(&l, 1, &c->hash) || field_u64(&l, 2, &c->rows) ||
                field_u64(&l, 3, &c->bytes))
                goto bad;
            tv->nchunks++;
            sum_rows += c->rows;
            stage = 5;
        } else if (field_is(&l, 0, "delete") && l.n == 3 && stage >= 5) {
            cat_chunk *d = grow_array(tv->deletes, &dcap, tv->ndeletes, sizeof *d);
            if (d == NULL)
                goto oom;
            tv->deletes = d;
            cat_chunk *e = &d[tv->ndeletes];
            e->bytes = 0;
            if (field_hash(&l, 1, &e->hash) || field_u64(&l, 2, &e->rows) || e->rows == 0)
                goto bad;
            tv->ndeletes++;
            sum_deleted += e->rows;
            stage = 6;
        } else {
            goto bad;
        }
    }
    why = "it is cut short or has a malformed line";
    if (r < 0)
        goto bad;
    why = "it has no columns or no rows line";
    if (!seen_rows || tv->ncols == 0)
        goto bad;
    why = "its chunks, less its deletes, do not add up to its row count";
    if (sum_deleted > sum_rows || sum_rows - sum_deleted != tv->rows)
        goto bad;
    if (tv->nkey > 0) {
        /* NULL-terminated too, as the write API takes keys. */
        char **k = realloc(tv->key, (tv->nkey + 1) * sizeof *k);
        if (k == NULL)
            goto oom;
        tv->key = k;
        k[tv->nkey] = NULL;
    }
    return UDR_OK;
bad:
    catv_free(tv);
    return err_set(err, UDR_ECORRUPT, "a table version object is malformed: %s", why);
oom:
    catv_free(tv);
    return err_set(err, UDR_ENOMEM, "out of memory decoding a table version");
}

/* ---- commits ----------------------------------------------------------- */

char *catc_encode(const cat_commit *c, size_t *len)
{
    buf b;
    buf_init(&b);
    buf_printf(&b, "%s\n", COMMIT_MAGIC);
    for (int i = 0; i < c->nparents; i++) {
        buf_adds(&b, "parent ");
        add_hash(&b, &c->parents[i]);
        buf_addc(&b, '\n');
    }
    buf_printf(&b, "time %lld\nauthor ", (long long)c->time_us);
    buf_escaped(&b, c->author);
    buf_adds(&b, "\nmessage ");
    buf_escaped(&b, c->message);
    buf_addc(&b, '\n');
    for (size_t i = 0; i < c->ntables; i++) {
        buf_adds(&b, "table ");
        buf_escaped(&b, c->tables[i].table);
        buf_printf(&b, " %llu ", (unsigned long long)c->tables[i].version);
        add_hash(&b, &c->tables[i].hash);
        buf_addc(&b, '\n');
    }
    return buf_take(&b, len);
}

void catc_free(cat_commit *c)
{
    free(c->author);
    free(c->message);
    for (size_t i = 0; i < c->ntables; i++)
        free(c->tables[i].table);
    free(c->tables);
    memset(c, 0, sizeof *c);
}

int catc_decode(const void *data, size_t len, cat_commit *c, udr_err *err)
{
    memset(c, 0, sizeof *c);
    const char *p = data, *end = p + len;
    size_t tcap = 0;
    line l;
    const char *why = "it does not start with \"udr commit 1\"";
    int r = next_line(&p, end, &l);
    if (r != 1 || l.n != 3 || !field_is(&l, 0, "udr") || !field_is(&l, 1, "commit") ||
        !field_is(&l, 2, "1"))
        goto bad;
    int stage = 0;
    while ((r = next_line(&p, end, &l)) == 1) {
        why = "a line is malformed or out of order";
        uint64_t v;
        if (field_is(&l, 0, "parent") && l.n == 2 && stage == 0 && c->nparents < 2) {
            if (field_hash(&l, 1, &c->parents[c->nparents]) != 0)
                goto bad;
            c->nparents++;
        } else if (field_is(&l, 0, "time") && l.n == 2 && stage == 0) {
            if (field_u64(&l, 1, &v) != 0 || v > INT64_MAX)
                goto bad;
            c->time_us = (int64_t)v;
            stage = 1;
        } else if (field_is(&l, 0, "author") && l.n == 2 && stage == 1) {
            if ((c->author = field_str(&l, 1)) == NULL)
                goto bad;
            stage = 2;
        } else if (field_is(&l, 0, "message") && l.n == 2 && stage == 2) {
            if ((c->message = field_str(&l, 1)) == NULL)
                goto bad;
            stage = 3;
        } else if (field_is(&l, 0, "table") && l.n == 4 && stage == 3) {
            cat_entry *t = grow_array(c->tables, &tcap, c->ntables, sizeof *t);
            if (t == NULL)
                goto oom;
            c->tables = t;
            cat_entry *e = &t[c->ntables];
            e->table = field_str(&l, 1);
            c->ntables++;
            if (e->table == NULL || field_u64(&l, 2, &e->version) || field_hash(&l, 3, &e->hash))
                goto bad;
            if (c->ntables > 1 && strcmp(t[c->ntables - 2].table, e->table) >= 0)
                goto bad;            /* sorted, no duplicates */
        } else {
            goto bad;
        }
    }
    why = "it is cut short";
    if (r < 0 || stage != 3)
        goto bad;
    return UDR_OK;
bad:
    catc_free(c);
    return err_set(err, UDR_ECORRUPT, "a commit object is malformed: %s", why);
oom:
    catc_free(c);
    return err_set(err, UDR_ENOMEM, "out of memory decoding a commit");
}

/* ---- time ---------------------------------------------------------------- */

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int catalog_parse_time(const char *s, int64_t *us)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    long frac_us = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    const char *p = s + n;
    int64_t offset_s = 0;
    if (*p == 'T' || *p == ' ') {
        int k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &k) != 2 || k != 5)
            return -1;
        p += 1 + k;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &sec, &k) != 1 || k != 2)
                return -1;
            p += 1 + k;
            if (*p == '.') {
                long scale = 100000;
                p++;
                if (*p < '0' || *p > '9')
                    return -1;
                for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
                    frac_us += (*p - '0') * scale;
            }
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5 || oh > 23 || om > 59)
                return -1;
            offset_s = (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
            p += 1 + k;
        }
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *us = ((days * 86400 + h * 3600 + mi * 60 + sec) - offset_s) * 1000000 + frac_us;
    return 0;
}

/* ---- the index ----------------------------------------------------------- */

/* Binary search of a name in an array sorted by it: elements of size bytes
 * whose name (a char *) sits at offset off. 1 and *at = its index if found;
 * 0 and *at = where it would go otherwise. */
static int find_name(const void *base, size_t n, size_t size, size_t off, const char *name,
                     size_t *at)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *const *elem = (const char *const *)((const char *)base + mid * size + off);
        int cmp = strcmp(*elem, name);
        if (cmp == 0) {
            *at = mid;
            return 1;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return 0;
}

static int find_table(const catalog *c, const char *name, size_t *at)
{
    return find_name(c->tables, c->ntables, sizeof *c->tables, offsetof(cat_table, name), name,
                     at);
}

static int find_head(const catalog *c, const char *name, size_t *at)
{
    return find_name(c->head, c->nhead, sizeof *c->head, offsetof(cat_entry, table), name, at);
}

const cat_table *catalog_table(const catalog *c, const char *name)
{
    size_t at;
    return find_table(c, name, &at) ? &c->tables[at] : NULL;
}

const cat_entry *catalog_head_entry(const catalog *c, const char *name)
{
    size_t at;
    return find_head(c, name, &at) ? &c->head[at] : NULL;
}

/* Applies one change of a commit record to the index. */
static int apply_change(catalog *c, const char *name, uint64_t version, const udr_hash *h,
                        int64_t time_us, uint64_t seq, const udr_hash *commit)
{
    static const udr_hash zero;
    int dropped = hash_equal(h, &zero);
    size_t at;
    if (!find_table(c, name, &at)) {
        cat_table *t = grow_array(c->tables, &c->tcap, c->ntables, sizeof *t);
        if (t == NULL)
            return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        c->tables = t;
        memmove(&t[at + 1], &t[at], (c->ntables - at) * sizeof *t);
        memset(&t[at], 0, sizeof *t);
        if ((t[at].name = strdup(name)) == NULL)
            return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        c->ntables++;
    }
    cat_table *t = &c->tables[at];
    if (t->nv > 0 && t->v[t->nv - 1].version >= version)
        return err_set(c->err, UDR_ECORRUPT,
                       "the log is inconsistent: record %llu gives table %s version %llu after "
                       "version %llu",
                       (unsigned long long)seq, name, (unsigned long long)version,
                       (unsigned long long)t->v[t->nv - 1].version);
    cat_version *v = grow_array(t->v, &t->cap, t->nv, sizeof *v);
    if (v == NULL)
        return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
    t->v = v;
    v[t->nv++] = (cat_version){version, *h, dropped, time_us, seq, *commit};

    /* main's head */
    int present = find_head(c, name, &at);
    if (dropped) {
        if (present) {
            free(c->head[at].table);
            memmove(&c->head[at], &c->head[at + 1], (c->nhead - at - 1) * sizeof *c->head);
            c->nhead--;
        }
        return UDR_OK;
    }
    if (!present) {
        cat_entry *e = grow_array(c->head, &c->hcap, c->nhead, sizeof *e);
        if (e == NULL)
            return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        c->head = e;
        memmove(&e[at + 1], &e[at], (c->nhead - at) * sizeof *e);
        if ((e[at].table = strdup(name)) == NULL)
            return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        c->nhead++;
    }
    c->head[at].version = version;
    c->head[at].hash = *h;
    return UDR_OK;
}

/* ---- checkpoints --------------------------------------------------------- */

static char *encode_checkpoint(const catalog *c, size_t *len)
{
    buf b;
    buf_init(&b);
    buf_printf(&b, "%s\n", CHECKPOINT_MAGIC);
    if (c->nhist > 0) {
        const cat_point *p = &c->history[c->nhist - 1];
        buf_printf(&b, "commit %llu %lld ", (unsigned long long)p->seq, (long long)p->time_us);
        add_hash(&b, &p->commit);
        buf_addc(&b, '\n');
    }
    for (size_t i = 0; i < c->ntables; i++) {
        const cat_version *v = &c->tables[i].v[c->tables[i].nv - 1];
        buf_adds(&b, "table ");
        buf_escaped(&b, c->tables[i].name);
        buf_printf(&b, " %llu %llu %lld ", (unsigned long long)v->version,
                   (unsigned long long)v->seq, (long long)v->time_us);
        add_hash(&b, &v->hash);
        buf_addc(&b, ' ');
        add_hash(&b, &v->commit);
        buf_addc(&b, '\n');
    }
    return buf_take(&b, len);
}

static int load_checkpoint(catalog *c, const udr_hash *h)
{
    void *data;
    size_t len;
    int rc = store_get(c->store, h, 1, &data, &len);
    if (rc) {
        err_prefix(c->err, "the log's checkpoint");
        return rc;
    }
    const char *p = data, *end = p + len;
    line l;
    int r = next_line(&p, end, &l);
    if (r != 1 || l.n != 3 || !field_is(&l, 0, "udr") || !field_is(&l, 1, "checkpoint") ||
        !field_is(&l, 2, "1"))
        rc = UDR_ECORRUPT;
    while (rc == UDR_OK && (r = next_line(&p, end, &l)) == 1) {
        uint64_t seq, t, version;
        udr_hash a, b;
        if (field_is(&l, 0, "commit") && l.n == 4 && field_u64(&l, 1, &seq) == 0 &&
            field_u64(&l, 2, &t) == 0 && field_hash(&l, 3, &a) == 0 && c->nhist == 0) {
            cat_point *hp = grow_array(c->history, &c->histcap, c->nhist, sizeof *hp);
            if (hp == NULL)
                rc = UDR_ENOMEM;
            else {
                c->history = hp;
                hp[c->nhist++] = (cat_point){seq, (int64_t)t, a};
            }
        } else if (field_is(&l, 0, "table") && l.n == 7 && field_u64(&l, 2, &version) == 0 &&
                   field_u64(&l, 3, &seq) == 0 && field_u64(&l, 4, &t) == 0 &&
                   field_hash(&l, 5, &a) == 0 && field_hash(&l, 6, &b) == 0) {
            char *name = field_str(&l, 1);
            if (name == NULL || catalog_check_name(name, NULL) != UDR_OK)
                rc = UDR_ECORRUPT;
            else
                rc = apply_change(c, name, version, &a, (int64_t)t, seq, &b);
            free(name);
        } else {
            rc = UDR_ECORRUPT;
        }
    }
    free(data);
    if (rc == UDR_OK && r < 0)
        rc = UDR_ECORRUPT;
    if (rc == UDR_ECORRUPT) {
        char hex[UDR_HASH_HEX + 1];
        hash_to_hex(h, hex);
        return err_set(c->err, UDR_ECORRUPT, "the log's checkpoint %s is malformed", hex);
    }
    if (rc == UDR_ENOMEM)
        return err_set(c->err, UDR_ENOMEM, "out of memory loading a checkpoint");
    c->complete = 0;
    return rc;
}

/* Called by a committer (lock held, record appended): starts a new segment
 * with a checkpoint when this one is full. A failure here loses nothing:
 * the commit is in the log; the next committer tries again. */
static void maybe_checkpoint(catalog *c)
{
    udrlog *l = &c->log;
    if (log_last_seq(l) + 1 - l->seg_first_seq < c->checkpoint_every)
        return;
    size_t len;
    char *text = encode_checkpoint(c, &len);
    udr_hash h;
    if (text == NULL || store_put(c->store, text, len, &h) != UDR_OK) {
        free(text);
        return;
    }
    free(text);
    unsigned char rec[1 + UDR_HASH_BYTES];
    rec[0] = REC_CHECKPOINT;
    memcpy(rec + 1, h.bytes, UDR_HASH_BYTES);
    uint64_t seq;
    udr_err saved = *c->err;
    if (log_start_segment(l, rec, sizeof rec, &seq) != UDR_OK)
        *c->err = saved;       /* the commit succeeded; say nothing of this */
}

static int apply_record(void *ctx, uint64_t seq, const void *payload, size_t len);

static void free_index(catalog *c)
{
    for (size_t i = 0; i < c->ntables; i++) {
        free(c->tables[i].name);
        free(c->tables[i].v);
    }
    free(c->tables);
    for (size_t i = 0; i < c->nhead; i++)
        free(c->head[i].table);
    free(c->head);
    free(c->history);
    c->tables = NULL;
    c->head = NULL;
    c->history = NULL;
    c->ntables = c->tcap = c->nhead = c->hcap = c->nhist = c->histcap = 0;
}

int catalog_complete(catalog *c)
{
    if (c->complete)
        return UDR_OK;
    /* Read every segment from the first, checkpoints skipped (the history
     * makes them redundant), into a fresh index; then take its place. */
    catalog full;
    memset(&full, 0, sizeof full);
    full.store = c->store;
    full.err = c->err;
    full.checkpoint_every = c->checkpoint_every;
    fs_path(full.repo, sizeof full.repo, "%s", c->repo);
    int rc = log_open_at(&full.log, c->repo, 1, c->err);
    if (rc == UDR_OK) {
        full.complete = 1;
        /* A history that starts empty: a checkpoint record in a later
         * segment is then skipped because the index is not empty... unless
         * nothing was committed before it, which cannot be. */
        rc = log_read(&full.log, apply_record, &full);
    }
    if (rc != UDR_OK) {
        log_close(&full.log);
        free_index(&full);
        return rc;
    }
    log_close(&c->log);
    free_index(c);
    *c = full;
    return UDR_OK;
}

static int apply_record(void *ctx, uint64_t seq, const void *payload, size_t len)
{
    catalog *c = ctx;
    reader r;
    rd_init(&r, payload, len);
    uint8_t type = rd_u8(&r);
    if (type == REC_CHECKPOINT) {
        udr_hash h;
        rd_bytes(&r, h.bytes, UDR_HASH_BYTES);
        if (!rd_done(&r))
            return err_set(c->err, UDR_ECORRUPT, "log record %llu is malformed",
                           (unsigned long long)seq);
        /* A reader that holds the history already has this state. */
        return c->nhist == 0 && c->ntables == 0 ? load_checkpoint(c, &h) : UDR_OK;
    }
    if (type != REC_COMMIT)
        return err_set(c->err, UDR_EFORMAT,
                       "log record %llu has type %u, which this udr does not know; upgrade udr",
                       (unsigned long long)seq, type);
    int64_t time_us = (int64_t)rd_u64(&r);
    udr_hash commit;
    rd_bytes(&r, commit.bytes, UDR_HASH_BYTES);
    char *branch = rd_str16(&r);
    uint32_t n = rd_u32(&r);
    int rc = UDR_OK;
    if (r.bad || branch == NULL || strcmp(branch, "main") != 0 || n > len)
        rc = err_set(c->err, UDR_ECORRUPT, "log record %llu is malformed",
                     (unsigned long long)seq);
    for (uint32_t i = 0; rc == UDR_OK && i < n; i++) {
        char *name = rd_str16(&r);
        uint64_t version = rd_u64(&r);
        udr_hash h;
        rd_bytes(&r, h.bytes, UDR_HASH_BYTES);
        if (r.bad || name == NULL || catalog_check_name(name, NULL) != UDR_OK)
            rc = err_set(c->err, UDR_ECORRUPT, "log record %llu is malformed",
                         (unsigned long long)seq);
        else
            rc = apply_change(c, name, version, &h, time_us, seq, &commit);
        free(name);
    }
    free(branch);
    if (rc == UDR_OK && !rd_done(&r))
        rc = err_set(c->err, UDR_ECORRUPT, "log record %llu is malformed",
                     (unsigned long long)seq);
    if (rc == UDR_OK) {
        cat_point *h = grow_array(c->history, &c->histcap, c->nhist, sizeof *h);
        if (h == NULL)
            return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        c->history = h;
        h[c->nhist++] = (cat_point){seq, time_us, commit};
    }
    return rc;
}

int catalog_open(catalog *c, store *s, const char *repo, udr_err *err)
{
    memset(c, 0, sizeof *c);
    c->store = s;
    c->err = err;
    c->checkpoint_every = CATALOG_CHECKPOINT_EVERY;
    if (fs_path(c->repo, sizeof c->repo, "%s", repo))
        return err_set(err, UDR_EINVAL, "repository path is too long");
    int rc = log_open(&c->log, repo, err);
    if (rc == UDR_OK) {
        c->complete = c->log.seg_first_seq == 1;
        rc = log_read(&c->log, apply_record, c);
    }
    return rc;
}

void catalog_close(catalog *c)
{
    log_close(&c->log);
    free_index(c);
    memset(c, 0, sizeof *c);
}

int catalog_refresh(catalog *c)
{
    return log_read(&c->log, apply_record, c);
}

static int cmp_change(const void *a, const void *b)
{
    return strcmp(((const cat_change *)a)->table, ((const cat_change *)b)->table);
}

/* The commit object for main's head with changes applied. */
static int make_commit(catalog *c, const char *message, const char *author, const cat_change *ch,
                       size_t n, int64_t time_us, udr_hash *out)
{
    cat_commit cm = {0};
    if (c->nhist > 0) {
        cm.nparents = 1;
        cm.parents[0] = c->history[c->nhist - 1].commit;
    }
    cm.time_us = time_us;
    cm.author = (char *)author;
    cm.message = (char *)message;
    cm.tables = calloc(c->nhead + n + 1, sizeof *cm.tables);
    if (cm.tables == NULL)
        return err_set(c->err, UDR_ENOMEM, "out of memory making a commit");
    /* Merge the head (sorted) with the changes (sorted). */
    size_t i = 0, j = 0;
    while (i < c->nhead || j < n) {
        int cmp = i == c->nhead ? 1 : j == n ? -1 : strcmp(c->head[i].table, ch[j].table);
        if (cmp < 0) {
            cm.tables[cm.ntables++] = c->head[i++];
            continue;
        }
        if (ch[j].tv != NULL)
            cm.tables[cm.ntables++] = (cat_entry){(char *)ch[j].table, ch[j].version, *ch[j].tv};
        if (cmp == 0)
            i++;
        j++;
    }
    size_t len;
    char *text = catc_encode(&cm, &len);
    free(cm.tables);
    if (text == NULL)
        return err_set(c->err, UDR_ENOMEM, "out of memory making a commit");
    int rc = store_put(c->store, text, len, out);
    free(text);
    return rc;
}

int catalog_commit(catalog *c, const char *message, const char *author, cat_change *changes,
                   size_t n, udr_hash *commit_out)
{
    qsort(changes, n, sizeof *changes, cmp_change);
    for (size_t i = 0; i < n; i++) {
        int rc = catalog_check_name(changes[i].table, c->err);
        if (rc)
            return rc;
        if (i > 0 && strcmp(changes[i - 1].table, changes[i].table) == 0)
            return err_set(c->err, UDR_EINVAL, "table %s is changed twice in one commit",
                           changes[i].table);
    }
    int rc = log_lock(&c->log);
    if (rc)
        return rc;
    if ((rc = catalog_refresh(c)) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const cat_table *t = catalog_table(c, changes[i].table);
        if (changes[i].tv == NULL && catalog_head_entry(c, changes[i].table) == NULL) {
            rc = err_set(c->err, UDR_ENOTFOUND, "there is no table %s to drop (see udr tables)",
                         changes[i].table);
            goto out;
        }
        changes[i].version = t != NULL && t->nv > 0 ? t->v[t->nv - 1].version + 1 : 1;
    }
    int64_t t_us = now_us();
    if (c->nhist > 0 && t_us <= c->history[c->nhist - 1].time_us)
        t_us = c->history[c->nhist - 1].time_us + 1;   /* times strictly increase */
    udr_hash commit;
    if ((rc = make_commit(c, message, author, changes, n, t_us, &commit)) != 0)
        goto out;
    buf b;
    buf_init(&b);
    buf_u8(&b, REC_COMMIT);
    buf_u64(&b, (uint64_t)t_us);
    buf_add(&b, commit.bytes, UDR_HASH_BYTES);
    buf_str16(&b, "main");
    buf_u32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        static const udr_hash zero;
        buf_str16(&b, changes[i].table);
        buf_u64(&b, changes[i].version);
        buf_add(&b, (changes[i].tv ? changes[i].tv : &zero)->bytes, UDR_HASH_BYTES);
    }
    size_t len;
    char *rec = buf_take(&b, &len);
    if (rec == NULL) {
        rc = err_set(c->err, UDR_ENOMEM, "out of memory making a log record");
        goto out;
    }
    uint64_t seq;
    rc = log_append(&c->log, rec, len, &seq);
    if (rc == UDR_OK)
        rc = apply_record(c, seq, rec, len);
    free(rec);
    if (rc == UDR_OK)
        maybe_checkpoint(c);
    if (rc == UDR_OK && commit_out != NULL)
        *commit_out = commit;
out:
    log_unlock(&c->log);
    return rc;
}

/* ---- resolving ----------------------------------------------------------- */

static int resolve_in(catalog *c, const char *table, const char *ref, cat_version *out);

int catalog_resolve(catalog *c, const char *table, const char *ref, cat_version *out)
{
    /* A version number or a time may need history a checkpoint left out:
     * look in what is loaded first, and load the rest only if need be. */
    if (ref != NULL && ref[0] != '\0' && !c->complete) {
        int rc = resolve_in(c, table, ref, out);
        if (rc == UDR_OK)
            return UDR_OK;
        if ((rc = catalog_complete(c)) != UDR_OK)
            return rc;
    }
    return resolve_in(c, table, ref, out);
}

static int resolve_in(catalog *c, const char *table, const char *ref, cat_version *out)
{
    const cat_table *t = catalog_table(c, table);
    if (t == NULL)
        return err_set(c->err, UDR_ENOTFOUND,
                       "there is no table %s (see 'udr tables' for the tables there are)", table);
    if (ref == NULL || ref[0] == '\0') {
        const cat_entry *e = catalog_head_entry(c, table);
        if (e == NULL)
            return err_set(c->err, UDR_ENOTFOUND,
                           "table %s was dropped (its versions are still there: see 'udr log %s')",
                           table, table);
        for (size_t i = t->nv; i-- > 0;)
            if (t->v[i].version == e->version) {
                *out = t->v[i];
                return UDR_OK;
            }
        return err_set(c->err, UDR_ECORRUPT, "the catalog index is inconsistent for table %s",
                       table);
    }
    int digits = 1;
    for (const char *p = ref; *p; p++)
        digits &= *p >= '0' && *p <= '9';
    if (digits) {
        uint64_t want = strtoull(ref, NULL, 10);
        for (size_t i = 0; i < t->nv; i++)
            if (t->v[i].version == want && !t->v[i].dropped) {
                *out = t->v[i];
                return UDR_OK;
            }
        return err_set(c->err, UDR_ENOTFOUND,
                       "table %s has no version %s (it has versions 1 to %llu: see 'udr log %s')",
                       table, ref, (unsigned long long)t->v[t->nv - 1].version, table);
    }
    int64_t at_us;
    if (catalog_parse_time(ref, &at_us) != 0)
        return err_set(c->err, UDR_EINVAL,
                       "'%s@%s': after @ comes a version number or a time such as "
                       "2026-11-24T10:00:00Z",
                       table, ref);
    /* The last version made at or before that instant. */
    const cat_version *best = NULL;
    for (size_t i = 0; i < t->nv && t->v[i].time_us <= at_us; i++)
        best = &t->v[i];
    if (best == NULL)
        return err_set(c->err, UDR_ENOTFOUND, "table %s did not exist yet at %s (see 'udr log %s')",
                       table, ref, table);
    if (best->dropped)
        return err_set(c->err, UDR_ENOTFOUND, "table %s had been dropped at %s (see 'udr log %s')",
                       table, ref, table);
    *out = *best;
    return UDR_OK;
}

/* Reads an object (verified) and decodes it; a decoding error names it. */
static int read_decoded(catalog *c, const udr_hash *h,
                        int (*decode)(const void *, size_t, void *, udr_err *), void *out)
{
    void *data;
    size_t len;
    int rc = store_get(c->store, h, 1, &data, &len);
    if (rc)
        return rc;
    rc = decode(data, len, out, c->err);
    free(data);
    if (rc) {
        char hex[UDR_HASH_HEX + 1];
        hash_to_hex(h, hex);
        err_prefix(c->err, "object %s", hex);
    }
    return rc;
}

static int decode_tv(const void *data, size_t len, void *out, udr_err *err)
{
    return catv_decode(data, len, out, err);
}

static int decode_commit(const void *data, size_t len, void *out, udr_err *err)
{
    return catc_decode(data, len, out, err);
}

int catalog_read_tablever(catalog *c, const udr_hash *h, cat_tablever *tv)
{
    return read_decoded(c, h, decode_tv, tv);
}

int catalog_read_commit(catalog *c, const udr_hash *h, cat_commit *cm)
{
    return read_decoded(c, h, decode_commit, cm);
}
