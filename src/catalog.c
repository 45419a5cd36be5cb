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

#include "catalog_int.h"
#include "hash.h"
#include "util/buf.h"


static const char TV_MAGIC[] = "udr table-version 1";
static const char COMMIT_MAGIC[] = "udr commit 1";
static const char CHECKPOINT_MAGIC[] = "udr checkpoint 3";

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

int catalog_check_ref_name(const char *name, const char *what, udr_err *err)
{
    if (name == NULL || name[0] == '\0')
        return err_set(err, UDR_EINVAL, "a %s name cannot be empty", what);
    size_t n = strlen(name);
    if (n > CATALOG_REF_MAX)
        return err_set(err, UDR_EINVAL, "%s name '%.40s...' is too long (%zu bytes; at most %d)",
                       what, name, n, CATALOG_REF_MAX);
    const char *why = NULL;
    int digits = 1;
    for (size_t i = 0; i < n && why == NULL; i++) {
        unsigned char ch = (unsigned char)name[i];
        int part_start = i == 0 || name[i - 1] == '/';
        digits &= ch >= '0' && ch <= '9';
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.' || ch == '/'))
            why = "use letters, digits and . _ - /";
        else if (ch == '/' && part_start)
            why = "its /-separated parts cannot be empty";
        else if (part_start && (ch == '.' || ch == '-'))
            why = "its parts cannot start with . or -";
        else if (ch == '.' && name[i + 1] == '.')
            why = "it cannot contain ..";
    }
    int64_t t;
    if (why == NULL && (name[n - 1] == '/' || name[n - 1] == '.'))
        why = "it cannot end with / or .";
    if (why == NULL && n >= 5 && strcmp(name + n - 5, ".lock") == 0)
        why = "it cannot end with .lock";
    if (why == NULL && digits)
        why = "all digits would mean a version number after a table's @";
    if (why == NULL && catalog_parse_time(name, &t) == 0)
        why = "a time would mean an instant after a table's @";
    if (why == NULL)
        return UDR_OK;
    buf b;
    buf_init(&b);
    buf_escaped(&b, name);
    char *shown = buf_take(&b, NULL);
    int rc = err_set(err, UDR_EINVAL, "'%s' is not a valid %s name: %s", shown ? shown : "?",
                     what, why);
    free(shown);
    return rc;
}

/* ---- text lines ---------------------------------------------------------- */

enum { MAX_FIELDS = 3 + 64 };        /* a patch line: 3 + its columns */

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

/* A signed number in its one spelling ("%lld"). */
static int field_i64(const line *l, int i, int64_t *v)
{
    char text[24], again[24];
    if (i >= l->n || l->flen[i] == 0 || l->flen[i] >= sizeof text)
        return -1;
    memcpy(text, l->f[i], l->flen[i]);
    text[l->flen[i]] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(text, &end, 10);
    /* end, not *end: a NUL inside the field would end the text early. */
    if (errno != 0 || end != text + l->flen[i])
        return -1;
    snprintf(again, sizeof again, "%lld", x);
    if (strcmp(text, again) != 0)
        return -1;
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
        buf_printf(&b, " %llu %llu", (unsigned long long)tv->chunks[i].rows,
                   (unsigned long long)tv->chunks[i].bytes);
        if (tv->chunks[i].has_range)
            buf_printf(&b, " %lld %lld", (long long)tv->chunks[i].lo, (long long)tv->chunks[i].hi);
        buf_addc(&b, '\n');
    }
    for (size_t i = 0; i < tv->ndeletes; i++) {
        buf_adds(&b, "delete ");
        add_hash(&b, &tv->deletes[i].hash);
        buf_printf(&b, " %llu\n", (unsigned long long)tv->deletes[i].rows);
    }
    for (size_t i = 0; i < tv->npatches; i++) {
        buf_adds(&b, "patch ");
        add_hash(&b, &tv->patches[i].hash);
        buf_printf(&b, " %llu", (unsigned long long)tv->patches[i].rows);
        for (size_t c = 0; c < tv->ncols && c < CAT_PATCH_MAX_COLUMN; c++)
            if (tv->patches[i].cols >> c & 1) {
                buf_addc(&b, ' ');
                buf_escaped(&b, tv->cols[c].name);
            }
        buf_addc(&b, '\n');
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
    free(tv->patches);
    memset(tv, 0, sizeof *tv);
}

int catv_is_raw(const cat_tablever *tv)
{
    return tv->ncols == 0;
}

int catv_same_columns(const cat_tablever *a, const cat_tablever *b)
{
    if (a->ncols != b->ncols)
        return 0;
    for (size_t i = 0; i < a->ncols; i++)
        if (strcmp(a->cols[i].name, b->cols[i].name) != 0 ||
            strcmp(a->cols[i].type, b->cols[i].type) != 0)
            return 0;
    return 1;
}

int catv_raw_error(udr_err *err, const char *table, uint64_t version, const char *why)
{
    char which[64] = "";
    if (version > 0)
        snprintf(which, sizeof which, " version %llu", (unsigned long long)version);
    return err_set(err, UDR_EINVAL,
                   "table %s%s is a raw version (objects committed with "
                   "udr_table_commit_chunks): %s",
                   table, which, why);
}

/* The columns a patch line names (fields 3...) as a bit set over tv's
 * columns: each a column of tv, not of its key, among the first
 * CAT_PATCH_MAX_COLUMN, in the table's order. 0, or -1 if not so. */
static int patch_columns(const cat_tablever *tv, const line *l, uint64_t *out)
{
    *out = 0;
    size_t next = 0;
    for (int f = 3; f < l->n; f++) {
        char *name = field_str(l, f);
        if (name == NULL)
            return -1;
        size_t c = next;
        while (c < tv->ncols && strcmp(tv->cols[c].name, name) != 0)
            c++;
        int in_key = 0;
        for (size_t k = 0; k < tv->nkey; k++)
            in_key |= strcmp(tv->key[k], name) == 0;
        free(name);
        if (c >= tv->ncols || c >= CAT_PATCH_MAX_COLUMN || in_key)
            return -1;
        *out |= (uint64_t)1 << c;
        next = c + 1;
    }
    return 0;
}

int catv_decode(const void *data, size_t len, cat_tablever *tv, udr_err *err)
{
    memset(tv, 0, sizeof *tv);
    const char *p = data, *end = p + len;
    size_t ccap = 0, kcap = 0, chcap = 0, dcap = 0, pcap = 0;
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
            cat_column *c = grow(tv->cols, &ccap, tv->ncols, sizeof *c);
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
            char **k = grow(tv->key, &kcap, tv->nkey, sizeof *k);
            if (k == NULL)
                goto oom;
            tv->key = k;
            k[tv->nkey++] = field_str(&l, 1);
            if (k[tv->nkey - 1] == NULL)
                goto bad;
            stage = 4;
        } else if (field_is(&l, 0, "chunk") && (l.n == 4 || l.n == 6) && stage >= 2) {
            /* stage 2: no column line before it, a raw version's (checked below) */
            cat_chunk *ch = grow(tv->chunks, &chcap, tv->nchunks, sizeof *ch);
            if (ch == NULL)
                goto oom;
            tv->chunks = ch;
            cat_chunk *c = &ch[tv->nchunks];
            memset(c, 0, sizeof *c);
            if (field_hash(&l, 1, &c->hash) || field_u64(&l, 2, &c->rows) ||
                field_u64(&l, 3, &c->bytes))
                goto bad;
            if (l.n == 6 && (field_i64(&l, 4, &c->lo) || field_i64(&l, 5, &c->hi) ||
                             c->lo > c->hi || tv->nkey == 0))
                goto bad;
            c->has_range = l.n == 6;
            tv->nchunks++;
            sum_rows += c->rows;
            stage = 5;
        } else if (field_is(&l, 0, "delete") && l.n == 3 && stage >= 5 && stage <= 6) {
            cat_chunk *d = grow(tv->deletes, &dcap, tv->ndeletes, sizeof *d);
            if (d == NULL)
                goto oom;
            tv->deletes = d;
            cat_chunk *e = &d[tv->ndeletes];
            memset(e, 0, sizeof *e);
            if (field_hash(&l, 1, &e->hash) || field_u64(&l, 2, &e->rows) || e->rows == 0)
                goto bad;
            tv->ndeletes++;
            sum_deleted += e->rows;
            stage = 6;
        } else if (field_is(&l, 0, "patch") && l.n >= 4 && stage >= 5) {
            cat_patch *pv = grow(tv->patches, &pcap, tv->npatches, sizeof *pv);
            if (pv == NULL)
                goto oom;
            tv->patches = pv;
            cat_patch *e = &pv[tv->npatches];
            memset(e, 0, sizeof *e);
            if (field_hash(&l, 1, &e->hash) || field_u64(&l, 2, &e->rows) || e->rows == 0)
                goto bad;
            why = "a patch names a column it cannot patch";
            if (patch_columns(tv, &l, &e->cols) != 0)
                goto bad;
            tv->npatches++;
            stage = 7;
        } else {
            goto bad;
        }
    }
    why = "it is cut short or has a malformed line";
    if (r < 0)
        goto bad;
    why = "it has no rows line";
    if (!seen_rows)
        goto bad;
    /* No columns: only a raw version (udr_table_commit_chunks), whose
     * objects hold no rows a query could read. */
    why = "it has no columns, yet rows";
    if (tv->ncols == 0 && (tv->rows != 0 || sum_rows != 0))
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
            cat_entry *t = grow(c->tables, &tcap, c->ntables, sizeof *t);
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
int cat_find_name(const void *base, size_t n, size_t size, size_t off, const char *name,
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
    return cat_find_name(c->tables, c->ntables, sizeof *c->tables, offsetof(cat_table, name), name,
                     at);
}

static int find_branch(const catalog *c, const char *name, size_t *at)
{
    return cat_find_name(c->branches, c->nbranches, sizeof *c->branches,
                     offsetof(cat_branch, name), name, at);
}

static int find_tag(const catalog *c, const char *name, size_t *at)
{
    return cat_find_name(c->tags, c->ntags, sizeof *c->tags, offsetof(cat_tag, name), name, at);
}

static int find_entry(const cat_branch *b, const char *name, size_t *at)
{
    return cat_find_name(b->tables, b->ntables, sizeof *b->tables, offsetof(cat_entry, table), name,
                     at);
}

const cat_table *catalog_table(const catalog *c, const char *name)
{
    size_t at;
    return find_table(c, name, &at) ? &c->tables[at] : NULL;
}

const char *catalog_work_branch(const catalog *c)
{
    return c->work[0] ? c->work : c->current;
}

const cat_branch *catalog_branch(const catalog *c, const char *name)
{
    const cat_branch *b = catalog_branch_any(c, name);
    return b != NULL && b->broken == NULL ? b : NULL;
}

int catalog_branch_error(const catalog *c, const char *name)
{
    const cat_branch *b = catalog_branch_any(c, name);
    if (b != NULL && b->broken != NULL)
        return err_set(c->err, UDR_ECORRUPT, "%s", b->broken);
    return err_set(c->err, UDR_ENOTFOUND, "there is no branch %s (see 'udr branch')",
                   name ? name : catalog_work_branch(c));
}

const cat_branch *catalog_branch_any(const catalog *c, const char *name)
{
    size_t at;
    return find_branch(c, name ? name : catalog_work_branch(c), &at) ? &c->branches[at] : NULL;
}

const cat_tag *catalog_tag(const catalog *c, const char *name)
{
    size_t at;
    return find_tag(c, name, &at) ? &c->tags[at] : NULL;
}

int catalog_set_work_branch(catalog *c, const char *name)
{
    if (name == NULL || name[0] == '\0') {
        c->work[0] = '\0';
        return UDR_OK;
    }
    if (catalog_branch(c, name) == NULL)
        return catalog_branch_error(c, name);
    snprintf(c->work, sizeof c->work, "%s", name);
    return UDR_OK;
}

const cat_entry *catalog_head_entry(const catalog *c, const char *name)
{
    const cat_branch *b = catalog_branch(c, NULL);
    size_t at;
    return b != NULL && find_entry(b, name, &at) ? &b->tables[at] : NULL;
}

const cat_version *catalog_version(const catalog *c, const char *table, uint64_t version)
{
    const cat_table *t = catalog_table(c, table);
    if (t == NULL)
        return NULL;
    size_t lo = 0, hi = t->nv;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->v[mid].version == version)
            return &t->v[mid];
        if (t->v[mid].version < version)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void free_entries(cat_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].table);
    free(e);
}

static void free_branch(cat_branch *b)
{
    free(b->broken);
    free(b->name);
    free(b->description);
    free_entries(b->tables, b->ntables);
    free(b->points);
}

/* The branch called name, made (empty) if need be; NULL when out of memory.
 * Adding a branch moves the others: hold indices, not pointers, across it. */
static cat_branch *branch_get(catalog *c, const char *name, int make, int64_t time_us)
{
    size_t at;
    if (find_branch(c, name, &at))
        return &c->branches[at];
    if (!make)
        return NULL;
    cat_branch *b = grow(c->branches, &c->bcap, c->nbranches, sizeof *b);
    if (b == NULL)
        return NULL;
    c->branches = b;
    memmove(&b[at + 1], &b[at], (c->nbranches - at) * sizeof *b);
    memset(&b[at], 0, sizeof *b);
    if ((b[at].name = strdup(name)) == NULL) {
        memmove(&b[at], &b[at + 1], (c->nbranches - at) * sizeof *b);
        return NULL;
    }
    b[at].created_us = time_us;
    c->nbranches++;
    return &b[at];
}

/* Sets a table's entry in a branch's head (hash zero: removes it). */
static int branch_set_entry(catalog *c, cat_branch *b, const char *name, uint64_t version,
                            const udr_hash *h)
{
    static const udr_hash zero;
    size_t at;
    int present = find_entry(b, name, &at);
    if (hash_equal(h, &zero)) {
        if (present) {
            free(b->tables[at].table);
            memmove(&b->tables[at], &b->tables[at + 1],
                    (b->ntables - at - 1) * sizeof *b->tables);
            b->ntables--;
        }
        return UDR_OK;
    }
    if (!present) {
        cat_entry *e = grow(b->tables, &b->tcap, b->ntables, sizeof *e);
        if (e == NULL)
            return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        b->tables = e;
        memmove(&e[at + 1], &e[at], (b->ntables - at) * sizeof *e);
        if ((e[at].table = strdup(name)) == NULL)
            return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        b->ntables++;
    }
    b->tables[at].version = version;
    b->tables[at].hash = *h;
    return UDR_OK;
}

/* A new head for a branch: its tables become the commit's. */
static int branch_move(catalog *c, cat_branch *b, const udr_hash *commit, uint64_t seq,
                       int64_t time_us)
{
    cat_entry *tables = NULL;
    char *broken = NULL;
    size_t n = 0;
    /* A branch made at another's head (the usual case) takes its tables
     * from the index rather than reading the commit object again. */
    const cat_branch *same = NULL;
    for (size_t i = 0; commit != NULL && same == NULL && i < c->nbranches; i++)
        if (&c->branches[i] != b && c->branches[i].has_head && !c->branches[i].broken &&
            hash_equal(&c->branches[i].head, commit))
            same = &c->branches[i];
    if (same != NULL) {
        if ((tables = calloc(same->ntables + 1, sizeof *tables)) == NULL)
            return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        for (size_t i = 0; i < same->ntables; i++) {
            tables[i] = same->tables[i];
            if ((tables[i].table = strdup(same->tables[i].table)) == NULL) {
                free_entries(tables, i);
                return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
            }
        }
        n = same->ntables;
    } else if (commit != NULL) {
        cat_commit cm;
        int rc = catalog_read_commit(c, commit, &cm);
        if (rc == UDR_ENOTFOUND || rc == UDR_ECORRUPT) {
            /* The head is kept, without tables, and the branch marked: the
             * other branches stay usable (salvage: fsck names it). */
            char hex[UDR_HASH_HEX + 1];
            hash_to_hex(commit, hex);
            char why[ERR_MSG_BYTES + 256];
            snprintf(why, sizeof why,
                     "branch %s cannot be used: its head, commit %s, cannot be read (%s); "
                     "'udr fsck' names what is damaged, 'udr branch delete %s --force' "
                     "removes the branch",
                     b->name, hex, c->err->msg, b->name);
            err_clear(c->err);
            memset(&cm, 0, sizeof cm);
            free(broken);
            if ((broken = strdup(why)) == NULL)
                return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        } else if (rc) {
            return rc;
        }
        tables = cm.tables;            /* taken over: sorted, owned */
        n = cm.ntables;
        cm.tables = NULL;
        cm.ntables = 0;
        catc_free(&cm);
    }
    free_entries(b->tables, b->ntables);
    b->tables = tables;
    b->ntables = b->tcap = n;
    free(b->broken);
    b->broken = broken;
    b->has_head = commit != NULL;
    if (commit != NULL) {
        b->head = *commit;
        cat_point *p = grow(b->points, &b->pcap, b->npoints, sizeof *p);
        if (p == NULL)
            return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        b->points = p;
        p[b->npoints++] = (cat_point){seq, time_us, *commit};
    }
    return UDR_OK;
}

/* Records a version of a table: a new number, or one it has already (a
 * merge reusing the other side's version). */
static int add_version(catalog *c, const char *name, uint64_t version, const udr_hash *h,
                       int64_t time_us, uint64_t seq, const udr_hash *commit)
{
    static const udr_hash zero;
    int dropped = hash_equal(h, &zero);
    size_t at;
    if (!find_table(c, name, &at)) {
        cat_table *t = grow(c->tables, &c->tcap, c->ntables, sizeof *t);
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
    if (t->nv > 0 && t->v[t->nv - 1].version >= version) {
        const cat_version *old = catalog_version(c, name, version);
        if (old != NULL && hash_equal(&old->hash, h))
            return UDR_OK;             /* a version reused */
        if (old == NULL && !c->complete)
            return UDR_OK;             /* older than the checkpoint: reused */
        return err_set(c->err, UDR_ECORRUPT,
                       "the log is inconsistent: record %llu gives table %s version %llu after "
                       "version %llu",
                       (unsigned long long)seq, name, (unsigned long long)version,
                       (unsigned long long)t->v[t->nv - 1].version);
    }
    cat_version *v = grow(t->v, &t->cap, t->nv, sizeof *v);
    if (v == NULL)
        return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
    t->v = v;
    v[t->nv++] = (cat_version){version, *h, dropped, time_us, seq, *commit, 0, 0};
    return UDR_OK;
}

/* ---- checkpoints --------------------------------------------------------- */

/* Text as a field: escaped, so never empty ("" is a lone %). */
static void add_text_field(buf *b, const char *text)
{
    buf_escaped(b, text ? text : "");
}

static char *text_field(const line *l, int i)
{
    return field_str(l, i);
}

static char *encode_checkpoint(const catalog *c, size_t *len)
{
    buf b;
    buf_init(&b);
    buf_printf(&b, "%s\ncurrent ", CHECKPOINT_MAGIC);
    buf_escaped(&b, c->current);
    buf_addc(&b, '\n');
    for (size_t i = 0; i < c->nbranches; i++) {
        const cat_branch *br = &c->branches[i];
        const cat_point *p = br->npoints ? &br->points[br->npoints - 1] : NULL;
        buf_adds(&b, "branch ");
        buf_escaped(&b, br->name);
        buf_printf(&b, " %lld %llu %lld ", (long long)br->created_us,
                   (unsigned long long)(p ? p->seq : 0), (long long)(p ? p->time_us : 0));
        if (br->has_head)
            add_hash(&b, &br->head);
        else
            buf_addc(&b, '-');
        buf_addc(&b, ' ');
        add_text_field(&b, br->description);
        buf_addc(&b, '\n');
    }
    for (size_t i = 0; i < c->ntags; i++) {
        buf_adds(&b, "tag ");
        buf_escaped(&b, c->tags[i].name);
        buf_printf(&b, " %lld ", (long long)c->tags[i].time_us);
        add_hash(&b, &c->tags[i].commit);
        buf_addc(&b, ' ');
        add_text_field(&b, c->tags[i].message);
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
    for (size_t i = 0; i < c->nsubs; i++) {
        const cat_sub *sb = &c->subs[i];
        buf_adds(&b, "sub ");
        buf_escaped(&b, sb->name);
        buf_addc(&b, ' ');
        buf_escaped(&b, sb->branch);
        buf_printf(&b, " %lld %llu ", (long long)sb->created_us, (unsigned long long)sb->cursor);
        for (size_t k = 0; k < sb->ntables; k++)
            buf_printf(&b, "%s%s", k ? "," : "", sb->tables[k]);
        buf_addc(&b, '\n');
    }
    if (c->nhist > 0) {
        const cat_point *p = &c->history[c->nhist - 1];
        buf_printf(&b, "commit %llu %lld ", (unsigned long long)p->seq, (long long)p->time_us);
        add_hash(&b, &p->commit);
        buf_addc(&b, '\n');
    }
    return buf_take(&b, len);
}

static int add_tag(catalog *c, const char *name, const udr_hash *commit, int64_t time_us,
                   const char *message)
{
    size_t at;
    if (find_tag(c, name, &at)) {
        cat_tag *t = &c->tags[at];
        char *m = strdup(message ? message : "");
        if (m == NULL)
            return UDR_ENOMEM;
        free(t->message);
        t->message = m;
        t->commit = *commit;
        t->time_us = time_us;
        return UDR_OK;
    }
    cat_tag *t = grow(c->tags, &c->tgcap, c->ntags, sizeof *t);
    if (t == NULL)
        return UDR_ENOMEM;
    c->tags = t;
    memmove(&t[at + 1], &t[at], (c->ntags - at) * sizeof *t);
    t[at] = (cat_tag){strdup(name), *commit, time_us, strdup(message ? message : "")};
    c->ntags++;
    if (t[at].name == NULL || t[at].message == NULL)
        return UDR_ENOMEM;
    return UDR_OK;
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
    int r = next_line(&p, end, &l), format = 0;
    if (r == 1 && l.n == 3 && field_is(&l, 0, "udr") && field_is(&l, 1, "checkpoint"))
        format = field_is(&l, 2, "1") ? 1 : field_is(&l, 2, "2") ? 2 : field_is(&l, 2, "3") ? 3 : 0;
    if (format == 0)
        rc = UDR_ECORRUPT;
    udr_hash last = {{0}};
    int have_last = 0;
    while (rc == UDR_OK && (r = next_line(&p, end, &l)) == 1) {
        uint64_t seq, t, version, created;
        udr_hash a, b;
        if (field_is(&l, 0, "commit") && l.n == 4 && field_u64(&l, 1, &seq) == 0 &&
            field_u64(&l, 2, &t) == 0 && field_hash(&l, 3, &a) == 0 && c->nhist == 0) {
            cat_point *hp = grow(c->history, &c->histcap, c->nhist, sizeof *hp);
            if (hp == NULL)
                rc = UDR_ENOMEM;
            else {
                c->history = hp;
                hp[c->nhist++] = (cat_point){seq, (int64_t)t, a};
                last = a;
                have_last = 1;
            }
        } else if (field_is(&l, 0, "table") && l.n == 7 && field_u64(&l, 2, &version) == 0 &&
                   field_u64(&l, 3, &seq) == 0 && field_u64(&l, 4, &t) == 0 &&
                   field_hash(&l, 5, &a) == 0 && field_hash(&l, 6, &b) == 0) {
            char *name = field_str(&l, 1);
            if (name == NULL || catalog_check_name(name, NULL) != UDR_OK)
                rc = UDR_ECORRUPT;
            else
                rc = add_version(c, name, version, &a, (int64_t)t, seq, &b);
            free(name);
        } else if (format >= 2 && field_is(&l, 0, "current") && l.n == 2) {
            char *name = field_str(&l, 1);
            if (name == NULL || strlen(name) > CATALOG_REF_MAX)
                rc = UDR_ECORRUPT;
            else
                snprintf(c->current, sizeof c->current, "%s", name);
            free(name);
        } else if (format >= 2 && field_is(&l, 0, "branch") && l.n == 7 &&
                   field_u64(&l, 2, &created) == 0 && field_u64(&l, 3, &seq) == 0 &&
                   field_u64(&l, 4, &t) == 0) {
            char *name = field_str(&l, 1), *desc = text_field(&l, 6);
            int has = !field_is(&l, 5, "-");
            cat_branch *br = NULL;
            if (name == NULL || desc == NULL || (has && field_hash(&l, 5, &a) != 0) ||
                catalog_check_ref_name(name, "branch", NULL) != UDR_OK)
                rc = UDR_ECORRUPT;
            else if ((br = branch_get(c, name, 1, (int64_t)created)) == NULL)
                rc = UDR_ENOMEM;
            if (br != NULL) {
                free(br->description);
                br->description = desc;
                desc = NULL;
                if (has)
                    rc = branch_move(c, br, &a, seq, (int64_t)t);
            }
            free(name);
            free(desc);
        } else if (format >= 2 && field_is(&l, 0, "tag") && l.n == 5 &&
                   field_u64(&l, 2, &t) == 0 && field_hash(&l, 3, &a) == 0) {
            char *name = field_str(&l, 1), *msg = text_field(&l, 4);
            if (name == NULL || msg == NULL || catalog_check_ref_name(name, "tag", NULL) != UDR_OK)
                rc = UDR_ECORRUPT;
            else
                rc = add_tag(c, name, &a, (int64_t)t, msg);
            free(name);
            free(msg);
        } else if (format >= 3 && field_is(&l, 0, "sub") && l.n == 6 &&
                   field_u64(&l, 3, &created) == 0 && field_u64(&l, 4, &seq) == 0) {
            char *name = field_str(&l, 1), *branch = field_str(&l, 2), *list = field_str(&l, 5);
            char *tables[256];
            size_t nt = 0;
            for (char *save = NULL, *tk = list ? strtok_r(list, ",", &save) : NULL;
                 tk != NULL && nt < sizeof tables / sizeof *tables; tk = strtok_r(NULL, ",", &save))
                tables[nt++] = tk;
            if (name == NULL || branch == NULL || list == NULL || nt == 0)
                rc = UDR_ECORRUPT;
            else
                rc = catsub_add(c, name, branch, tables, nt, seq, (int64_t)created);
            free(name);
            free(branch);
            free(list);
        } else {
            rc = UDR_ECORRUPT;
        }
    }
    free(data);
    /* Format 1 knew main only: its head is the last commit. */
    if (rc == UDR_OK && format == 1 && have_last) {
        cat_branch *br = branch_get(c, "main", 1, 0);
        rc = br ? branch_move(c, br, &last, c->history[0].seq, c->history[0].time_us) : UDR_ENOMEM;
    }
    if (rc == UDR_OK && r < 0)
        rc = UDR_ECORRUPT;
    if (rc == UDR_OK && catalog_branch_any(c, c->current) == NULL)
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
static int apply_record(void *ctx, uint64_t seq, const void *payload, size_t len);

static void maybe_checkpoint(catalog *c)
{
    udrlog *l = &c->log;
    if (log_last_seq(l) + 1 - l->seg_first_seq < c->checkpoint_every)
        return;
    /* A broken branch's tables are not known: a checkpoint would record
     * it as a branch without tables. Replaying the log keeps it broken. */
    for (size_t i = 0; i < c->nbranches; i++)
        if (c->branches[i].broken != NULL)
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
    if (log_start_segment(l, rec, sizeof rec, &seq) != UDR_OK ||
        apply_record(c, seq, rec, sizeof rec) != UDR_OK)   /* the index notes it */
        *c->err = saved;       /* the commit succeeded; say nothing of this */
}

static void free_index(catalog *c)
{
    for (size_t i = 0; i < c->ntables; i++) {
        free(c->tables[i].name);
        free(c->tables[i].v);
    }
    free(c->tables);
    for (size_t i = 0; i < c->nbranches; i++)
        free_branch(&c->branches[i]);
    free(c->branches);
    for (size_t i = 0; i < c->ntags; i++) {
        free(c->tags[i].name);
        free(c->tags[i].message);
    }
    free(c->tags);
    catsub_free_all(c);
    free(c->history);
    free(c->checkpoints);
    c->checkpoints = NULL;
    c->nckpt = c->ckcap = 0;
    c->tables = NULL;
    c->branches = NULL;
    c->tags = NULL;
    c->history = NULL;
    c->ntables = c->tcap = c->nbranches = c->bcap = c->ntags = c->tgcap = 0;
    c->nhist = c->histcap = 0;
}

/* An empty index: main, with nothing on it, is the current branch. */
static int init_index(catalog *c)
{
    snprintf(c->current, sizeof c->current, "main");
    if (branch_get(c, "main", 1, 0) == NULL)
        return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
    return UDR_OK;
}

/* Salvage: damage met reading the log is noted, not fatal. */
static int salvage(catalog *c, int rc)
{
    if (rc != UDR_ECORRUPT || !(c->flags & CATALOG_SALVAGE))
        return rc;
    c->damaged = 1;
    snprintf(c->damage, sizeof c->damage, "%s", c->err->msg);
    err_clear(c->err);
    return UDR_OK;
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
    memcpy(full.work, c->work, sizeof full.work);
    fs_path(full.repo, sizeof full.repo, "%s", c->repo);
    int rc = init_index(&full);
    full.flags = c->flags;
    if (rc == UDR_OK)
        rc = log_open_at(&full.log, c->repo, 1, c->err);
    if (rc == UDR_OK && (c->flags & CATALOG_READONLY))
        log_set_readonly(&full.log);
    if (rc == UDR_OK) {
        full.complete = 1;
        rc = log_read(&full.log, apply_record, &full);
        /* Salvage: a history that stops at the damage the handle met. */
        if (rc == UDR_ECORRUPT && c->damaged && log_last_seq(&full.log) >= log_last_seq(&c->log))
            rc = salvage(&full, rc);
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

int cat_malformed(catalog *c, uint64_t seq)
{
    return err_set(c->err, UDR_ECORRUPT, "log record %llu is malformed", (unsigned long long)seq);
}

/* A broken branch (see branch_move) that a commit record moved on: the
 * record names only the tables it changed, so the branch's tables are the
 * new head commit's, if that can be read; else it stays broken, with none. */
static int unbreak(catalog *c, cat_branch *b, const udr_hash *commit)
{
    cat_commit cm;
    if (catalog_read_commit(c, commit, &cm) != UDR_OK) {
        err_clear(c->err);
        free_entries(b->tables, b->ntables);
        b->tables = NULL;
        b->ntables = b->tcap = 0;
        return UDR_OK;
    }
    free_entries(b->tables, b->ntables);
    b->tables = cm.tables;             /* taken over: sorted, owned */
    b->ntables = b->tcap = cm.ntables;
    cm.tables = NULL;
    cm.ntables = 0;
    catc_free(&cm);
    free(b->broken);
    b->broken = NULL;
    return UDR_OK;
}

static int apply_commit(catalog *c, uint64_t seq, reader *r, size_t len)
{
    int64_t time_us = (int64_t)rd_u64(r);
    udr_hash commit;
    rd_bytes(r, commit.bytes, UDR_HASH_BYTES);
    char *branch = rd_str16(r);
    uint32_t n = rd_u32(r);
    int rc = UDR_OK;
    cat_branch *b = NULL;
    if (r->bad || branch == NULL || n > len)
        rc = cat_malformed(c, seq);
    else if ((b = branch_get(c, branch, 0, 0)) == NULL)
        rc = err_set(c->err, UDR_ECORRUPT, "log record %llu commits to branch %s, which is not there",
                     (unsigned long long)seq, branch);
    free(branch);
    for (uint32_t i = 0; rc == UDR_OK && i < n; i++) {
        char *name = rd_str16(r);
        uint64_t version = rd_u64(r);
        udr_hash h;
        rd_bytes(r, h.bytes, UDR_HASH_BYTES);
        if (r->bad || name == NULL || catalog_check_name(name, NULL) != UDR_OK)
            rc = cat_malformed(c, seq);
        else if ((rc = add_version(c, name, version, &h, time_us, seq, &commit)) == UDR_OK)
            rc = branch_set_entry(c, b, name, version, &h);
        free(name);
    }
    /* Acknowledgements that commit with it. */
    if (rc == UDR_OK && r->pos < r->len)
        rc = catsub_apply_acks(c, seq, r);
    if (rc == UDR_OK && !rd_done(r))
        rc = cat_malformed(c, seq);
    if (rc == UDR_OK) {
        cat_point *h = grow(c->history, &c->histcap, c->nhist, sizeof *h);
        cat_point *p = grow(b->points, &b->pcap, b->npoints, sizeof *p);
        if (h != NULL)
            c->history = h;
        if (p != NULL)
            b->points = p;
        if (h == NULL || p == NULL)
            return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        h[c->nhist++] = (cat_point){seq, time_us, commit};
        p[b->npoints++] = (cat_point){seq, time_us, commit};
        b->has_head = 1;
        b->head = commit;
    }
    if (rc == UDR_OK && b->broken != NULL)
        rc = unbreak(c, b, &commit);
    return rc;
}

static int apply_ref(catalog *c, uint64_t seq, reader *r)
{
    uint8_t kind = rd_u8(r);
    int64_t time_us = (int64_t)rd_u64(r);
    char *name = rd_str16(r);
    int has = rd_u8(r);
    udr_hash commit = {{0}};
    if (has)
        rd_bytes(r, commit.bytes, UDR_HASH_BYTES);
    char *text = rd_str16(r);
    int rc = UDR_OK;
    const char *what = kind == CAT_REF_TAG || kind == CAT_REF_TAG_DELETE ? "tag" : "branch";
    if (r->bad || !rd_done(r) || name == NULL || text == NULL || has > 1 ||
        catalog_check_ref_name(name, what, NULL) != UDR_OK) {
        rc = cat_malformed(c, seq);
        goto out;
    }
    size_t at;
    switch (kind) {
    case CAT_REF_BRANCH: {
        int existed = find_branch(c, name, &at);
        /* Writers move a branch to a commit, never back to no commit: a
         * record that did would leave a head-less branch with a history. */
        if (existed && !has && c->branches[at].has_head) {
            rc = cat_malformed(c, seq);
            break;
        }
        cat_branch *b = branch_get(c, name, 1, time_us);
        if (b == NULL) {
            rc = err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
            break;
        }
        if (!existed && (b->description = strdup(text)) == NULL) {
            rc = err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
            break;
        }
        rc = branch_move(c, b, has ? &commit : NULL, seq, time_us);
        break;
    }
    case CAT_REF_BRANCH_DELETE:
        if (strcmp(name, "main") == 0 || !find_branch(c, name, &at)) {
            rc = cat_malformed(c, seq);
            break;
        }
        free_branch(&c->branches[at]);
        memmove(&c->branches[at], &c->branches[at + 1],
                (c->nbranches - at - 1) * sizeof *c->branches);
        c->nbranches--;
        if (strcmp(c->current, name) == 0)
            snprintf(c->current, sizeof c->current, "main");
        if (strcmp(c->work, name) == 0)
            c->work[0] = '\0';
        break;
    case CAT_REF_TAG:
        if (!has) {
            rc = cat_malformed(c, seq);
            break;
        }
        if (add_tag(c, name, &commit, time_us, text) != UDR_OK)
            rc = err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        break;
    case CAT_REF_TAG_DELETE:
        if (!find_tag(c, name, &at)) {
            rc = cat_malformed(c, seq);
            break;
        }
        free(c->tags[at].name);
        free(c->tags[at].message);
        memmove(&c->tags[at], &c->tags[at + 1], (c->ntags - at - 1) * sizeof *c->tags);
        c->ntags--;
        break;
    case CAT_REF_CHECKOUT:
        if (!find_branch(c, name, &at)) {
            rc = cat_malformed(c, seq);
            break;
        }
        snprintf(c->current, sizeof c->current, "%s", name);
        break;
    default:
        rc = err_set(c->err, UDR_EFORMAT,
                     "log record %llu is a ref change of kind %u, which this udr does not know; "
                     "upgrade udr",
                     (unsigned long long)seq, kind);
    }
out:
    free(name);
    free(text);
    return rc;
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
            return cat_malformed(c, seq);
        /* Kept by GC: opening reads the newest. */
        udr_hash *v = grow(c->checkpoints, &c->ckcap, c->nckpt, sizeof *v);
        if (v == NULL)
            return err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        c->checkpoints = v;
        v[c->nckpt++] = h;
        /* A reader that holds the history already has this state (one
         * that read from record 1 has, even if its index looks empty). */
        return !c->complete && c->nhist == 0 && c->ntables == 0 && c->nbranches == 1 &&
                       c->ntags == 0 && c->nsubs == 0 && !c->branches[0].has_head
                   ? load_checkpoint(c, &h)
                   : UDR_OK;
    }
    if (type == REC_COMMIT)
        return apply_commit(c, seq, &r, len);
    if (type == REC_REF)
        return apply_ref(c, seq, &r);
    if (type == REC_SUB)
        return catsub_apply(c, seq, &r);
    if (type == REC_EXPIRE)
        return catexp_apply(c, seq, &r);
    return err_set(c->err, UDR_EFORMAT,
                   "log record %llu has type %u, which this udr does not know; upgrade udr",
                   (unsigned long long)seq, type);
}

int catalog_open(catalog *c, store *s, const char *repo, udr_err *err)
{
    return catalog_open_flags(c, s, repo, 0, err);
}

int catalog_open_flags(catalog *c, store *s, const char *repo, int flags, udr_err *err)
{
    memset(c, 0, sizeof *c);
    c->flags = flags;
    c->store = s;
    c->err = err;
    c->checkpoint_every = CATALOG_CHECKPOINT_EVERY;
    if (fs_path(c->repo, sizeof c->repo, "%s", repo))
        return err_set(err, UDR_EINVAL, "repository path is too long");
    int rc = init_index(c);
    int log_opened = rc == UDR_OK;
    if (rc == UDR_OK)
        rc = log_open_mode(&c->log, repo, (flags & CATALOG_READONLY) != 0, err);
    if (rc == UDR_OK) {
        c->complete = c->log.seg_first_seq == 1;
        rc = salvage(c, log_read(&c->log, apply_record, c));
    }
    if (rc != UDR_OK) {
        /* The caller will not close what did not open: free it here. */
        if (log_opened)
            log_close(&c->log);
        free_index(c);
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
    if (c->damaged)
        return UDR_OK;                 /* salvage: the index stays at the damage */
    int rc = log_read(&c->log, apply_record, c);
    /* The handle's branch may have been deleted by another process. */
    if (rc == UDR_OK && c->work[0] && catalog_branch_any(c, c->work) == NULL)
        c->work[0] = '\0';
    return rc;
}

static int cmp_change(const void *a, const void *b)
{
    return strcmp(((const cat_change *)a)->table, ((const cat_change *)b)->table);
}

/* The commit object for a branch's head with changes applied. */
static int make_commit(catalog *c, const cat_branch *br, const cat_commit_opts *o,
                       const cat_change *ch, size_t n, int64_t time_us, udr_hash *out)
{
    cat_commit cm = {0};
    if (br->has_head)
        cm.parents[cm.nparents++] = br->head;
    if (o->merge_parent != NULL)
        cm.parents[cm.nparents++] = *o->merge_parent;
    cm.time_us = time_us;
    cm.author = (char *)(o->author ? o->author : "");
    cm.message = (char *)(o->message ? o->message : "");
    cm.tables = calloc(br->ntables + n + 1, sizeof *cm.tables);
    if (cm.tables == NULL)
        return err_set(c->err, UDR_ENOMEM, "out of memory making a commit");
    /* Merge the head (sorted) with the changes (sorted). */
    size_t i = 0, j = 0;
    while (i < br->ntables || j < n) {
        int cmp = i == br->ntables ? 1 : j == n ? -1 : strcmp(br->tables[i].table, ch[j].table);
        if (cmp < 0) {
            cm.tables[cm.ntables++] = br->tables[i++];
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

/* The next record time: now, but after every record before (times in the
 * log strictly increase, so "as of" lookups are unambiguous). */
int64_t cat_record_time(const catalog *c)
{
    int64_t t_us = now_us();
    if (c->nhist > 0 && t_us <= c->history[c->nhist - 1].time_us)
        t_us = c->history[c->nhist - 1].time_us + 1;
    for (size_t i = 0; i < c->nbranches; i++) {
        const cat_branch *b = &c->branches[i];
        if (b->npoints > 0 && t_us <= b->points[b->npoints - 1].time_us)
            t_us = b->points[b->npoints - 1].time_us + 1;
    }
    return t_us;
}

static int head_is(const cat_branch *b, int expect_has, const udr_hash *expect)
{
    return b->has_head == expect_has && (!expect_has || hash_equal(&b->head, expect));
}

/* Appends a record (lock held) and applies it to the index. */
int cat_append_record(catalog *c, buf *b)
{
    size_t len;
    char *rec = buf_take(b, &len);
    if (rec == NULL)
        return err_set(c->err, UDR_ENOMEM, "out of memory making a log record");
    uint64_t seq;
    int rc = log_append(&c->log, rec, len, &seq);
    if (rc == UDR_OK)
        rc = apply_record(c, seq, rec, len);
    free(rec);
    if (rc == UDR_OK)
        maybe_checkpoint(c);
    return rc;
}

int catalog_commit_on(catalog *c, const cat_commit_opts *o, cat_change *changes, size_t n,
                      udr_hash *commit_out)
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
    int rc = o->locked ? UDR_OK : log_lock(&c->log);
    if (rc)
        return rc;
    if ((rc = catalog_refresh(c)) != 0)
        goto out;
    char branch[CATALOG_REF_MAX + 1];
    snprintf(branch, sizeof branch, "%s", o->branch ? o->branch : catalog_work_branch(c));
    const cat_branch *br = catalog_branch(c, branch);
    if (br == NULL) {
        rc = catalog_branch_error(c, branch);
        goto out;
    }
    if (o->check_head && !head_is(br, o->expect_has_head, &o->expect_head)) {
        rc = err_set(c->err, UDR_ECONFLICT,
                     "branch %s moved while this change was being made (another process "
                     "committed to it); nothing was changed: run it again",
                     branch);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t at;
        if (changes[i].tv == NULL && changes[i].version == 0 &&
            !find_entry(br, changes[i].table, &at)) {
            rc = err_set(c->err, UDR_ENOTFOUND, "there is no table %s to drop (see udr tables)",
                         changes[i].table);
            goto out;
        }
        if (changes[i].version != 0) {
            static const udr_hash zero;
            const cat_version *v = catalog_version(c, changes[i].table, changes[i].version);
            const udr_hash *want = changes[i].tv ? changes[i].tv : &zero;
            if (v != NULL && !hash_equal(&v->hash, want)) {
                rc = err_set(c->err, UDR_EINVAL, "table %s version %llu is other content",
                             changes[i].table, (unsigned long long)changes[i].version);
                goto out;
            }
            /* (a revert to it, say: its rows may be gone) */
            if (v != NULL && (rc = catalog_check_kept(c, changes[i].table, v)) != UDR_OK)
                goto out;
            continue;
        }
        const cat_table *t = catalog_table(c, changes[i].table);
        changes[i].version = t != NULL && t->nv > 0 ? t->v[t->nv - 1].version + 1 : 1;
    }
    if ((rc = catalog_check_acks(c, o->acks, o->nacks)) != 0)
        goto out;
    int64_t t_us = cat_record_time(c);
    udr_hash commit;
    if ((rc = make_commit(c, br, o, changes, n, t_us, &commit)) != 0)
        goto out;
    buf b;
    buf_init(&b);
    buf_u8(&b, REC_COMMIT);
    buf_u64(&b, (uint64_t)t_us);
    buf_add(&b, commit.bytes, UDR_HASH_BYTES);
    buf_str16(&b, branch);
    buf_u32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        static const udr_hash zero;
        buf_str16(&b, changes[i].table);
        buf_u64(&b, changes[i].version);
        buf_add(&b, (changes[i].tv ? changes[i].tv : &zero)->bytes, UDR_HASH_BYTES);
    }
    if (o->nacks > 0) {
        buf_u32(&b, (uint32_t)o->nacks);
        for (size_t i = 0; i < o->nacks; i++) {
            buf_str16(&b, o->acks[i].name);
            buf_u64(&b, o->acks[i].seq);
        }
    }
    rc = cat_append_record(c, &b);
    if (rc == UDR_OK && commit_out != NULL)
        *commit_out = commit;
out:
    if (o->locked)
        return rc;
    log_unlock(&c->log);
    return rc == UDR_OK ? log_sync(&c->log) : rc;
}

int catalog_lock(catalog *c)
{
    int rc = log_lock(&c->log);
    if (rc == UDR_OK && (rc = catalog_refresh(c)) != UDR_OK)
        log_unlock(&c->log);
    return rc;
}

void catalog_unlock(catalog *c)
{
    log_unlock(&c->log);
}

int catalog_sync(catalog *c)
{
    return log_sync(&c->log);
}

int catalog_commit(catalog *c, const char *message, const char *author, cat_change *changes,
                   size_t n, udr_hash *commit_out)
{
    cat_commit_opts o = {NULL, message, author, NULL, 0, 0, {{0}}, 0, NULL, 0};
    return catalog_commit_on(c, &o, changes, n, commit_out);
}

/* 1 if commit is a branch's head or a tag's commit: expire never lets its
 * versions go, so a new ref there needs no check (the usual case: a branch
 * made from another's head). */
static int is_held(const catalog *c, const udr_hash *commit)
{
    for (size_t i = 0; i < c->nbranches; i++)
        if (c->branches[i].has_head && hash_equal(&c->branches[i].head, commit))
            return 1;
    for (size_t i = 0; i < c->ntags; i++)
        if (hash_equal(&c->tags[i].commit, commit))
            return 1;
    return 0;
}

int catalog_set_ref(catalog *c, const cat_ref_change *r)
{
    int tag = r->kind == CAT_REF_TAG || r->kind == CAT_REF_TAG_DELETE;
    int rc = catalog_check_ref_name(r->name, tag ? "tag" : "branch", c->err);
    if (rc)
        return rc;
    /* A head or tag at a commit whose versions expired would name rows GC
     * may have taken. Checking needs every version's state: load it now
     * (catalog_complete reopens the log, so never under the lock). */
    int check_kept = (r->kind == CAT_REF_BRANCH || r->kind == CAT_REF_TAG) && r->commit != NULL &&
                     !is_held(c, r->commit);
    if (check_kept && (rc = catalog_complete(c)) != 0)
        return rc;
    if ((rc = log_lock(&c->log)) != 0)
        return rc;
    if ((rc = catalog_refresh(c)) != 0)
        goto out;
    const cat_branch *br = catalog_branch_any(c, r->name);
    const cat_tag *tg = catalog_tag(c, r->name);
    if (r->kind == CAT_REF_BRANCH && r->create && br != NULL)
        rc = err_set(c->err, UDR_EEXIST, "branch %s exists already", r->name);
    else if (r->kind == CAT_REF_BRANCH && !r->create && br == NULL)
        rc = err_set(c->err, UDR_ENOTFOUND, "there is no branch %s (see 'udr branch')", r->name);
    else if (r->kind == CAT_REF_BRANCH && r->check_head &&
             !head_is(br, r->expect_has_head, &r->expect_head))
        rc = err_set(c->err, UDR_ECONFLICT,
                     "branch %s moved while this change was being made (another process "
                     "committed to it); nothing was changed: run it again",
                     r->name);
    else if ((r->kind == CAT_REF_BRANCH_DELETE || r->kind == CAT_REF_CHECKOUT) && br == NULL)
        rc = err_set(c->err, UDR_ENOTFOUND, "there is no branch %s (see 'udr branch')", r->name);
    else if (r->kind == CAT_REF_BRANCH_DELETE && strcmp(r->name, "main") == 0)
        rc = err_set(c->err, UDR_EINVAL, "main cannot be deleted");
    else if (r->kind == CAT_REF_TAG && r->create && tg != NULL)
        rc = err_set(c->err, UDR_EEXIST, "tag %s exists already", r->name);
    else if (r->kind == CAT_REF_TAG && r->commit == NULL)
        rc = err_set(c->err, UDR_EINVAL, "tag %s must name a commit", r->name);
    else if (r->kind == CAT_REF_TAG_DELETE && tg == NULL)
        rc = err_set(c->err, UDR_ENOTFOUND, "there is no tag %s (see 'udr tag')", r->name);
    else if (check_kept && !is_held(c, r->commit))
        rc = catalog_check_commit_kept(c, r->commit);
    if (rc)
        goto out;
    buf b;
    buf_init(&b);
    buf_u8(&b, REC_REF);
    buf_u8(&b, (uint8_t)r->kind);
    buf_u64(&b, (uint64_t)cat_record_time(c));
    buf_str16(&b, r->name);
    buf_u8(&b, r->commit != NULL);
    if (r->commit != NULL)
        buf_add(&b, r->commit->bytes, UDR_HASH_BYTES);
    buf_str16(&b, r->text ? r->text : "");
    rc = cat_append_record(c, &b);
out:
    log_unlock(&c->log);
    return rc == UDR_OK ? log_sync(&c->log) : rc;
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
            return catalog_check_kept(c, table, out);
        if ((rc = catalog_complete(c)) != UDR_OK)
            return rc;
    }
    int rc = resolve_in(c, table, ref, out);
    return rc == UDR_OK ? catalog_check_kept(c, table, out) : rc;
}

int catalog_commit_entry(catalog *c, const udr_hash *commit, const char *table, cat_entry *out,
                         int *found)
{
    cat_commit cm;
    int rc = catalog_read_commit(c, commit, &cm);
    if (rc)
        return rc;
    *found = 0;
    for (size_t i = 0; i < cm.ntables; i++)
        if (strcmp(cm.tables[i].table, table) == 0) {
            *out = cm.tables[i];
            out->table = NULL;
            *found = 1;
        }
    catc_free(&cm);
    return UDR_OK;
}

/* The version of table an entry names, as the index has it. */
static int entry_version(catalog *c, const char *table, const cat_entry *e, const char *where,
                         cat_version *out)
{
    const cat_version *v = catalog_version(c, table, e->version);
    if (v == NULL || !hash_equal(&v->hash, &e->hash))
        return err_set(c->err, UDR_ECORRUPT,
                       "the catalog index is inconsistent for table %s (%s names version %llu)",
                       table, where, (unsigned long long)e->version);
    *out = *v;
    return UDR_OK;
}

/* The table as a commit has it. */
static int resolve_commit(catalog *c, const char *table, const udr_hash *commit,
                          const char *where, cat_version *out)
{
    cat_entry e;
    int found;
    int rc = catalog_commit_entry(c, commit, table, &e, &found);
    if (rc)
        return rc;
    if (!found)
        return err_set(c->err, UDR_ENOTFOUND, "%s has no table %s (see 'udr tables --branch')",
                       where, table);
    return entry_version(c, table, &e, where, out);
}

/* The commit a branch had at an instant: its newest head at or before it,
 * else, before the branch's first known head, the first-parent ancestor of
 * that head made at or before it. *found 0 if there was none. */
static int branch_at(catalog *c, const cat_branch *b, int64_t at_us, udr_hash *out, int *found)
{
    *found = 0;
    for (size_t i = b->npoints; i-- > 0;)
        if (b->points[i].time_us <= at_us) {
            *out = b->points[i].commit;
            *found = 1;
            return UDR_OK;
        }
    if (b->npoints == 0)
        return UDR_OK;
    udr_hash h = b->points[0].commit;
    for (;;) {
        cat_commit cm;
        int rc = catalog_read_commit(c, &h, &cm);
        if (rc)
            return rc;
        int64_t t = cm.time_us;
        int np = cm.nparents;
        udr_hash parent = cm.parents[0];
        catc_free(&cm);
        if (t <= at_us) {
            *out = h;
            *found = 1;
            return UDR_OK;
        }
        if (np == 0)
            return UDR_OK;
        h = parent;
    }
}

static int resolve_in(catalog *c, const char *table, const char *ref, cat_version *out)
{
    const cat_table *t = catalog_table(c, table);
    const char *work = catalog_work_branch(c);
    if (t == NULL)
        return err_set(c->err, UDR_ENOTFOUND,
                       "there is no table %s (see 'udr tables' for the tables there are)", table);
    if (ref == NULL || ref[0] == '\0') {
        const cat_entry *e = catalog_head_entry(c, table);
        if (e == NULL && catalog_branch(c, NULL) == NULL)
            return catalog_branch_error(c, NULL);        /* broken */
        if (e == NULL) {
            if (t->nv > 0 && t->v[t->nv - 1].dropped)
                return err_set(c->err, UDR_ENOTFOUND,
                               "table %s was dropped (its versions are still there: see 'udr "
                               "log %s')",
                               table, table);
            return err_set(c->err, UDR_ENOTFOUND,
                           "branch %s has no table %s (it is on other branches: see 'udr log "
                           "%s')",
                           work, table, table);
        }
        return entry_version(c, table, e, work, out);
    }
    int digits = 1;
    for (const char *p = ref; *p; p++)
        digits &= *p >= '0' && *p <= '9';
    /* Digits: a version number; from 7 digits on, maybe a commit's hash. */
    if (digits && (strlen(ref) < 7 || catalog_version(c, table, strtoull(ref, NULL, 10)))) {
        uint64_t want = strtoull(ref, NULL, 10);
        const cat_version *v = catalog_version(c, table, want);
        if (v != NULL && !v->dropped) {
            *out = *v;
            return UDR_OK;
        }
        return err_set(c->err, UDR_ENOTFOUND,
                       "table %s has no version %s (it has versions 1 to %llu: see 'udr log %s')",
                       table, ref, (unsigned long long)t->v[t->nv - 1].version, table);
    }
    const cat_branch *b = catalog_branch(c, ref);
    if (b == NULL && catalog_branch_any(c, ref) != NULL)
        return catalog_branch_error(c, ref);      /* broken */
    if (b != NULL) {
        size_t at;
        if (!find_entry(b, table, &at))
            return err_set(c->err, UDR_ENOTFOUND, "branch %s has no table %s", ref, table);
        char where[CATALOG_REF_MAX + 16];
        snprintf(where, sizeof where, "branch %s", ref);
        return entry_version(c, table, &b->tables[at], where, out);
    }
    const cat_tag *tg = catalog_tag(c, ref);
    if (tg != NULL) {
        char where[CATALOG_REF_MAX + 16];
        snprintf(where, sizeof where, "tag %s", ref);
        return resolve_commit(c, table, &tg->commit, where, out);
    }
    /* A commit: 7 or more hex digits of its hash. */
    size_t rl = strlen(ref), hexd = 0;
    while (hexd < rl && ((ref[hexd] >= '0' && ref[hexd] <= '9') || (ref[hexd] >= 'a' && ref[hexd] <= 'f')))
        hexd++;
    if (hexd == rl && rl >= 7 && rl <= UDR_HASH_HEX) {
        int rc = catalog_complete(c);
        if (rc)
            return rc;
        const udr_hash *hit = NULL;
        char hex[UDR_HASH_HEX + 1];
        for (size_t i = 0; i < c->nhist; i++) {
            hash_to_hex(&c->history[i].commit, hex);
            if (strncmp(hex, ref, rl) != 0)
                continue;
            if (hit != NULL && !hash_equal(hit, &c->history[i].commit))
                return err_set(c->err, UDR_EINVAL, "'%s@%s': the commit prefix is ambiguous",
                               table, ref);
            hit = &c->history[i].commit;
        }
        if (hit != NULL) {
            char where[32];
            snprintf(where, sizeof where, "commit %.12s", ref);
            udr_hash h = *hit;
            return resolve_commit(c, table, &h, where, out);
        }
    }
    int64_t at_us;
    if (catalog_parse_time(ref, &at_us) != 0)
        return err_set(c->err, UDR_ENOTFOUND,
                       "'%s@%s': %s is not a version, a branch, a tag, a commit or a time such as "
                       "2026-11-24T10:00:00Z (see 'udr log %s', 'udr branch', 'udr tag')",
                       table, ref, ref, table);
    b = catalog_branch(c, NULL);
    if (b == NULL)
        return catalog_branch_error(c, NULL);
    udr_hash commit;
    int found = 0;
    int rc = b ? branch_at(c, b, at_us, &commit, &found) : UDR_OK;
    if (rc)
        return rc;
    if (!found)
        return err_set(c->err, UDR_ENOTFOUND, "table %s did not exist yet at %s (see 'udr log %s')",
                       table, ref, table);
    cat_entry e;
    if ((rc = catalog_commit_entry(c, &commit, table, &e, &found)) != 0)
        return rc;
    if (!found) {
        int before = 1;
        for (size_t i = 0; i < t->nv; i++)
            before &= t->v[i].time_us > at_us;
        return err_set(c->err, UDR_ENOTFOUND, "table %s %s at %s on branch %s (see 'udr log %s')",
                       table, before ? "did not exist yet" : "had been dropped", ref, work, table);
    }
    return entry_version(c, table, &e, work, out);
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
