/*
 * pgcat — enough of pg_catalog for psql and drivers, over UDR's tables.
 *
 * Why pattern matching: UDR's tables are not in DuckDB's catalog (a query
 * names them and UDR's replacement scan resolves the name to Parquet
 * chunks), so DuckDB's own pg_catalog and information_schema do not list
 * them; and psql's queries use PostgreSQL-only syntax DuckDB cannot parse
 * or bind (OPERATOR(pg_catalog.~), COLLATE pg_catalog.default, ::regclass,
 * pg_get_userbyid, array(select ...)). So the queries clients send are
 * recognised by their shape and answered by SQL of our own over a VALUES
 * list of the tables, with the select list the client asked for.
 *
 * Recognising. The text is normalised (whitespace runs outside quotes
 * become one space), then sorted by the first relation after the top-level
 * FROM; the WHERE clause is searched for the filters psql writes
 * (c.relname OPERATOR(pg_catalog.~) '^(users)$', n.nspname ..., d.datname
 * ..., c.relkind IN (...), c.oid = '16384', a.attrelid = '16384'):
 *
 *   FROM pg_catalog.pg_class c      \dt \d \dt+ \d+ (relation lists, the
 *                                   "Schema"/"Name"/"Type"/"Owner"... form),
 *                                   \d NAME's lookup (c.oid, n.nspname,
 *                                   c.relname) and its table details
 *                                   (relchecks, relkind, relhasindex ...)
 *     ... with pg_catalog.pg_index  \d NAME's indexes: "NAME_pkey" PRIMARY
 *                                   KEY, btree (key columns), if it has a key
 *     ... with pg_catalog.pg_inherits  parents / partitions: no rows
 *   FROM pg_catalog.pg_attribute a  \d NAME's columns (format_type,
 *                                   attnotnull: the key's columns; \d+ adds
 *                                   storage, compression, stats, description)
 *   FROM pg_catalog.pg_namespace n  \dn: the one schema, public
 *   FROM pg_catalog.pg_database d   \l: the one database
 *   FROM pg_catalog.pg_roles r      \du: the one user
 *   FROM pg_catalog.pg_policy / pg_statistic_ext / pg_publication /
 *        pg_trigger / pg_rewrite / pg_constraint / pg_inherits / pg_index /
 *        pg_proc / pg_extension     no rows, with the columns asked for (\df
 *                                   and \dx list nothing; \di, a pg_class
 *                                   list without 'r', lists nothing)
 *   FROM [pg_catalog.]pg_type [+ pg_namespace]   drivers' type look-ups:
 *                                   the query as it is, with pg_type and
 *                                   pg_namespace replaced by VALUES of the
 *                                   types pgtypes knows (DuckDB's own
 *                                   pg_type has no text, no arrays and
 *                                   wrong typlen)
 *   FROM information_schema.tables / .columns   the same, over UDR's tables
 *   SELECT [pg_catalog.]version()   "PostgreSQL 15.0 (UDR ...)", which
 *                                   drivers parse for the server version
 *
 * Select lists are answered item by item: each item's text is matched
 * against the family's patterns (relname, format_type, indisprimary ...),
 * first match wins, and gives the expression over our VALUES; an item
 * nothing matches is NULL. Each item keeps the name PostgreSQL would give
 * it (its alias, its column, its function, "case", "?column?"). So the
 * variants psql sends for other server versions and for the + forms
 * mostly work too; a query that is rewritten from another shape is not
 * recognised (it runs as it is, against DuckDB's own catalog).
 *
 * Tables are in schema public, owned by the names' user, with oid
 * pgcat_table_oid(name). Values come from udr_table_list (names, rows,
 * bytes) and udr_table_show (columns, key) on the handle's branch; every
 * name and string goes into the SQL as a quoted literal ('' doubled), and
 * only SQL string literals of the client's are copied (whole, quotes and
 * all, as the tokenizer delimited them).
 */
#include "pgcat.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pgtypes.h"
#include "util/buf.h"

#define UDR_PG_VERSION "15.0"

/* One UDR table as the catalog shows it. */
typedef struct rel {
    char *name;
    uint32_t oid;
    uint64_t rows, bytes;
    udr_table_detail *detail;     /* columns and key, when loaded */
} rel;

/* An expression for a select item that contains pat (case-insensitive). */
typedef struct colmap {
    const char *pat;
    const char *expr;
} colmap;

/* What a query needs: its normalised text, the repo, the names. */
typedef struct ctx {
    udr_repo *repo;
    char *q;                      /* normalised SQL */
    const char *db, *user;
    rel *rels;
    size_t nrels;
} ctx;

uint32_t pgcat_table_oid(const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return 16384u + h % 1000000000u;
}

/* ---- scanning the client's SQL ------------------------------------------ */

/* sql with each run of whitespace outside quotes made one space, trimmed,
 * a trailing ';' removed. NULL on OOM. */
static char *normalise(const char *sql)
{
    size_t n = strlen(sql);
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    char quote = 0;
    for (size_t i = 0; i < n; i++) {
        char c = sql[i];
        if (quote) {
            if (c == quote)
                quote = 0;
            out[o++] = c;
        } else if (c == '\'' || c == '"') {
            quote = c;
            out[o++] = c;
        } else if (isspace((unsigned char)c)) {
            if (o > 0 && out[o - 1] != ' ')
                out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == ';'))
        o--;
    out[o] = '\0';
    return out;
}

/* The end of the SQL string literal or quoted identifier starting at p
 * (p[0] the quote): past the closing quote, doubled quotes inside. */
static const char *skip_quoted(const char *p)
{
    char q = *p++;
    for (; *p; p++) {
        if (*p == q) {
            if (p[1] == q) {
                p++;
                continue;
            }
            return p + 1;
        }
    }
    return p;
}

/* The first case-insensitive occurrence of word in s at parenthesis depth 0
 * and outside quotes, as a whole word; NULL if none. */
static const char *find_top(const char *s, const char *word)
{
    size_t k = strlen(word);
    int depth = 0;
    for (const char *p = s; *p;) {
        if (*p == '\'' || *p == '"') {
            p = skip_quoted(p);
            continue;
        }
        if (*p == '(')
            depth++;
        else if (*p == ')')
            depth--;
        else if (depth == 0 && strncasecmp(p, word, k) == 0 &&
                 (p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
                 !(isalnum((unsigned char)p[k]) || p[k] == '_'))
            return p;
        p++;
    }
    return NULL;
}

/* The relation named first after the top-level FROM, lowercased into out
 * ("pg_catalog.pg_class"); "" if none. */
static void first_relation(const char *q, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *f = find_top(q, "FROM");
    if (f == NULL)
        return;
    f += 4;
    while (*f == ' ')
        f++;
    size_t i = 0;
    while ((isalnum((unsigned char)*f) || *f == '_' || *f == '.') && i + 1 < outlen)
        out[i++] = (char)tolower((unsigned char)*f++);
    out[i] = '\0';
}

/* The SQL literal after "<col> OPERATOR(pg_catalog.~) " or "<col> ~ " in q
 * (the literal's text with its quotes, into *lit and *litlen); 0 if there is
 * none. */
static int find_regex(const char *q, const char *col, const char **lit, size_t *litlen)
{
    static const char *const ops[] = {" OPERATOR(pg_catalog.~) ", " ~ "};
    size_t k = strlen(col);
    for (const char *p = strcasestr(q, col); p != NULL; p = strcasestr(p + 1, col)) {
        if (p > q && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        for (size_t i = 0; i < 2; i++) {
            size_t n = strlen(ops[i]);
            if (strncasecmp(p + k, ops[i], n) == 0 && p[k + n] == '\'') {
                *lit = p + k + n;
                *litlen = (size_t)(skip_quoted(*lit) - *lit);
                return 1;
            }
        }
    }
    return 0;
}

/* The number in "<col> = '123'" or "<col> = 123" (also "='123'"); 0 if none. */
static int find_oid(const char *q, const char *col, uint32_t *oid)
{
    size_t k = strlen(col);
    for (const char *p = strcasestr(q, col); p != NULL; p = strcasestr(p + 1, col)) {
        if (p > q && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        const char *s = p + k;
        while (*s == ' ')
            s++;
        if (*s != '=')
            continue;
        s++;
        while (*s == ' ')
            s++;
        if (*s == '\'')
            s++;
        if (!isdigit((unsigned char)*s))
            continue;
        unsigned long long v = strtoull(s, NULL, 10);
        *oid = v > UINT32_MAX ? 0 : (uint32_t)v;
        return 1;
    }
    return 0;
}

/* ---- select lists --------------------------------------------------------- */

/* The name PostgreSQL gives a select item (text, n bytes) into out: its
 * alias, else its column, its function, a CASE's ELSE result's name or
 * "case", a scalar subquery's column's name, or "?column?". depth bounds
 * the recursion. */
static void item_name_at(const char *t, size_t n, char *out, size_t outlen, int depth)
{
    char *item = strndup(t, n);
    if (item == NULL) {
        snprintf(out, outlen, "?column?");
        return;
    }
    /* the last top-level AS */
    const char *as = NULL;
    for (const char *p = item; (p = find_top(p, "AS")) != NULL; p += 2)
        as = p;
    if (as != NULL) {
        const char *a = as + 2;
        while (*a == ' ')
            a++;
        size_t o = 0;
        if (*a == '"') {
            for (a++; *a && o + 1 < outlen; a++) {
                if (*a == '"') {
                    if (a[1] != '"')
                        break;
                    a++;
                }
                out[o++] = *a;
            }
        } else {
            for (; *a && *a != ' ' && o + 1 < outlen; a++)
                out[o++] = (char)tolower((unsigned char)*a);
        }
        out[o] = '\0';
        goto done;
    }
    /* a cast names the expression cast */
    char *cast = strstr(item, "::");
    if (cast != NULL && find_top(item, "CASE") == NULL)
        *cast = '\0';
    if (strncasecmp(item, "CASE", 4) == 0 && !isalnum((unsigned char)item[4])) {
        /* named as its ELSE result is, else "case" */
        const char *els = find_top(item + 4, "ELSE");
        const char *end = els ? find_top(els, "END") : NULL;
        if (els != NULL && end != NULL && depth < 8) {
            els += 4;
            while (*els == ' ')
                els++;
            size_t k = (size_t)(end - els);
            while (k > 0 && els[k - 1] == ' ')
                k--;
            item_name_at(els, k, out, outlen, depth + 1);
            if (strcmp(out, "?column?") != 0)
                goto done;
        }
        snprintf(out, outlen, "case");
        goto done;
    }
    if (item[0] == '(' && strncasecmp(item + 1, "SELECT ", 7) == 0 && depth < 8) {
        /* a scalar subquery: named as its one column is */
        const char *from = find_top(item + 8, "FROM");
        size_t k = from ? (size_t)(from - (item + 8)) : strlen(item + 8);
        while (k > 0 && item[8 + k - 1] == ' ')
            k--;
        item_name_at(item + 8, k, out, outlen, depth + 1);
        goto done;
    }
    size_t i = 0;
    while (isalnum((unsigned char)item[i]) || item[i] == '_' || item[i] == '.')
        i++;
    int literal = strcasecmp(item, "NULL") == 0 || strcasecmp(item, "true") == 0 ||
                  strcasecmp(item, "false") == 0;
    if (i > 0 && !literal && !isdigit((unsigned char)item[0]) &&
        (item[i] == '\0' || item[i] == '(')) {
        item[i] = '\0';
        const char *dot = strrchr(item, '.');
        snprintf(out, outlen, "%s", dot ? dot + 1 : item);
        for (char *c = out; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        goto done;
    }
    snprintf(out, outlen, "?column?");
done:
    free(item);
}

/* Calls fn for each item of q's first top-level select list. Returns the
 * number of items, or -1 if q has no SELECT ... FROM (or a select list
 * without FROM when from_optional). */
typedef void (*item_fn)(void *arg, const char *item, size_t n);

static int each_item(const char *q, item_fn fn, void *arg)
{
    const char *s = find_top(q, "SELECT");
    if (s == NULL)
        return -1;
    s += 6;
    if (strncasecmp(s, " DISTINCT ", 10) == 0)
        s += 9;
    const char *end = find_top(s, "FROM");
    if (end == NULL)
        end = s + strlen(s);
    int count = 0, depth = 0;
    const char *start = s;
    for (const char *p = s;; ) {
        if (p >= end || (*p == ',' && depth == 0)) {
            const char *a = start, *b = p;
            while (a < b && *a == ' ')
                a++;
            while (b > a && b[-1] == ' ')
                b--;
            if (b > a) {
                fn(arg, a, (size_t)(b - a));
                count++;
            }
            if (p >= end)
                break;
            start = ++p;
            continue;
        }
        if (*p == '\'' || *p == '"') {
            p = skip_quoted(p);
            continue;
        }
        if (*p == '(')
            depth++;
        else if (*p == ')')
            depth--;
        p++;
    }
    return count;
}

typedef struct select_arg {
    buf *b;
    const colmap *map;
    int n;
    int star;                     /* an item was * or x.*: columns unknown */
} select_arg;

/* Appends one select item, mapped: "expr AS "name"". */
static void add_item(void *arg, const char *item, size_t n)
{
    select_arg *sa = arg;
    if (item[n - 1] == '*' && (n == 1 || item[n - 2] == '.')) {
        sa->star = 1;
        return;
    }
    char name[128];
    item_name_at(item, n, name, sizeof name, 0);
    const char *expr = "NULL::VARCHAR";
    for (const colmap *m = sa->map; m != NULL && m->pat != NULL; m++) {
        size_t k = strlen(m->pat);
        int hit = 0;
        for (size_t i = 0; i + k <= n && !hit; i++)
            hit = strncasecmp(item + i, m->pat, k) == 0;
        if (hit) {
            expr = m->expr;
            break;
        }
    }
    if (sa->n++ > 0)
        buf_adds(sa->b, ", ");
    buf_adds(sa->b, expr);
    buf_adds(sa->b, " AS ");
    buf_quoted(sa->b, name, '"');
}

/* Appends "SELECT <the client's items, mapped>"; -1 without a select list
 * or with a * in it (the columns of a catalog table we do not have). */
static int add_select(buf *b, const char *q, const colmap *map)
{
    select_arg sa = {b, map, 0, 0};
    buf_adds(b, "SELECT ");
    if (each_item(q, add_item, &sa) <= 0 || sa.star)
        return -1;
    return 0;
}

/* ---- UDR's tables --------------------------------------------------------- */

static void free_rels(ctx *c)
{
    for (size_t i = 0; i < c->nrels; i++) {
        free(c->rels[i].name);
        if (c->rels[i].detail)
            udr_table_detail_free(c->rels[i].detail);
    }
    free(c->rels);
    c->rels = NULL;
    c->nrels = 0;
}

static int rel_cmp(const void *a, const void *b)
{
    return strcmp(((const rel *)a)->name, ((const rel *)b)->name);
}

/* Loads the tables of the handle's branch (only the one with oid only_oid
 * if only_oid != 0), with their columns and key if detail. */
static int load_rels(ctx *c, uint32_t only_oid, int detail)
{
    udr_version_info *v = NULL;
    size_t n = 0;
    int rc = udr_table_list(c->repo, &v, &n);
    if (rc != UDR_OK)
        return rc;
    c->rels = calloc(n ? n : 1, sizeof *c->rels);
    if (c->rels == NULL) {
        rc = UDR_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].dropped)
            continue;
        uint32_t oid = pgcat_table_oid(v[i].table);
        if (only_oid != 0 && oid != only_oid)
            continue;
        rel *r = &c->rels[c->nrels];
        r->name = strdup(v[i].table);
        if (r->name == NULL) {
            rc = UDR_ENOMEM;
            goto fail;
        }
        c->nrels++;
        r->oid = oid;
        r->rows = v[i].rows;
        r->bytes = v[i].bytes;
    }
    qsort(c->rels, c->nrels, sizeof *c->rels, rel_cmp);
    if (only_oid != 0 && c->nrels > 1) {
        /* an oid shared by two names: the first in name order */
        for (size_t i = 1; i < c->nrels; i++)
            free(c->rels[i].name);
        c->nrels = 1;
    }
    for (size_t i = 0; detail && i < c->nrels; i++) {
        rc = udr_table_show(c->repo, c->rels[i].name, NULL, &c->rels[i].detail);
        if (rc != UDR_OK)
            goto fail;
    }
    udr_version_info_free(v, n);
    return UDR_OK;
fail:
    udr_version_info_free(v, n);
    free_rels(c);
    return rc;
}

/* pg_size_pretty's spelling of a size: "8192 bytes", "16 kB", "12 MB". */
static void size_pretty(uint64_t bytes, char *out, size_t outlen)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB", "PB"};
    if (bytes < 10 * 1024) {
        snprintf(out, outlen, "%llu bytes", (unsigned long long)bytes);
        return;
    }
    uint64_t v = bytes;
    for (size_t i = 0;; i++) {
        uint64_t halves = v >> 9;
        if (halves < 20 * 1024 || i == 4) {
            snprintf(out, outlen, "%llu %s", (unsigned long long)((halves + 1) / 2), units[i]);
            return;
        }
        v >>= 10;
    }
}

/* A PostgreSQL identifier as quote_ident() writes it: as it is when it is
 * lower case letters, digits and _ (not starting with a digit), else in
 * double quotes. */
static void add_ident(buf *b, const char *s)
{
    int plain = *s != '\0' && !isdigit((unsigned char)*s);
    for (const char *p = s; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || isdigit((unsigned char)*p) || *p == '_';
    if (plain)
        buf_adds(b, s);
    else
        buf_quoted(b, s, '"');
}

/* The key columns of a table, "id, name" (identifiers as PostgreSQL writes
 * them), into b. */
static void add_key_list(buf *b, const udr_table_detail *d)
{
    for (size_t k = 0; k < d->nkey; k++) {
        if (k > 0)
            buf_adds(b, ", ");
        add_ident(b, d->key[k]);
    }
}

/* 1 if column name is one of the table's key columns. */
static int is_key(const udr_table_detail *d, const char *name)
{
    for (size_t k = 0; k < d->nkey; k++)
        if (strcmp(d->key[k], name) == 0)
            return 1;
    return 0;
}

/* ---- the families --------------------------------------------------------- */

/* Appends " WHERE regexp_matches(expr, lit)" (or AND) for a psql pattern on
 * column col of the client's query. */
static void add_regex_filter(buf *b, const char *q, const char *col, const char *expr, int *where)
{
    const char *lit;
    size_t litlen;
    if (!find_regex(q, col, &lit, &litlen))
        return;
    buf_adds(b, *where ? " AND " : " WHERE ");
    *where = 1;
    buf_printf(b, "regexp_matches(%s, ", expr);
    buf_add(b, lit, litlen);
    buf_addc(b, ')');
}

static const colmap CLASS_MAP[] = {
    {"pg_table_size", "c.size_pretty"},
    {"relkind WHEN", "'table'"},
    {"relpersistence WHEN", "'permanent'"},
    {"pg_get_userbyid", "c.owner"},
    {"obj_description", "NULL::VARCHAR"},
    {"nspname", "'public'"},
    {"relname", "c.relname"},
    {"relchecks", "0"},
    {"relhasindex", "c.haskey"},
    {"relhasoids", "false"},
    {"relhasrules", "false"},
    {"relhastriggers", "false"},
    {"rowsecurity", "false"},
    {"relispartition", "false"},
    {"reloptions", "''"},
    {"reltablespace", "0"},
    {"reloftype", "''"},
    {"relpersistence", "'p'"},
    {"relreplident", "'d'"},
    {"relkind", "'r'"},
    {"amname", "'heap'"},
    {"reltuples", "c.reltuples"},
    {"relpages", "0"},
    {"relnatts", "c.relnatts"},
    {"c.oid", "c.oid"},
    {"''", "''"},
    {NULL, NULL},
};

/* pg_class: the relation lists, \d NAME's look-up and details. */
static int rewrite_class(ctx *c, buf *b)
{
    uint32_t oid = 0;
    int by_oid = find_oid(c->q, "c.oid", &oid);
    int rc = load_rels(c, by_oid ? (oid ? oid : 1) : 0,
                       strcasestr(c->q, "relhasindex") != NULL || strcasestr(c->q, "relnatts") != NULL);
    if (rc != UDR_OK)
        return rc;
    if (add_select(b, c->q, CLASS_MAP) != 0)
        return 1;
    buf_adds(b, " FROM (");
    if (c->nrels == 0)
        buf_adds(b, "SELECT 0::BIGINT, ''::VARCHAR, 0::BIGINT, ''::VARCHAR, false, ''::VARCHAR, "
                    "0::BIGINT WHERE false");
    for (size_t i = 0; i < c->nrels; i++) {
        const rel *r = &c->rels[i];
        char size[64];
        size_pretty(r->bytes, size, sizeof size);
        buf_adds(b, i == 0 ? "VALUES (" : ", (");
        buf_printf(b, "%u::BIGINT, ", r->oid);
        buf_quoted(b, r->name, '\'');
        buf_printf(b, ", %llu::BIGINT, ", (unsigned long long)r->rows);
        buf_quoted(b, size, '\'');
        buf_printf(b, ", %s, ", r->detail && r->detail->nkey > 0 ? "true" : "false");
        buf_quoted(b, c->user, '\'');
        buf_printf(b, ", %zu::BIGINT)", r->detail ? r->detail->ncols : (size_t)0);
    }
    buf_adds(b, ") c(oid, relname, reltuples, size_pretty, haskey, owner, relnatts)");
    int where = 0;
    const char *kinds = strcasestr(c->q, "relkind IN (");
    if (kinds != NULL) {
        const char *close = strchr(kinds, ')');
        const char *r = strstr(kinds, "'r'");
        if (r == NULL || (close != NULL && r > close)) {
            buf_adds(b, " WHERE false");
            where = 1;
        }
    }
    add_regex_filter(b, c->q, "c.relname", "c.relname", &where);
    add_regex_filter(b, c->q, "n.nspname", "'public'", &where);
    buf_adds(b, " ORDER BY c.relname");
    return UDR_OK;
}

/* Appends "SELECT NULL AS "name", ... WHERE false": the client's columns,
 * no rows. */
static int rewrite_empty(ctx *c, buf *b)
{
    if (add_select(b, c->q, NULL) != 0)
        return 1;
    buf_adds(b, " WHERE false");
    return UDR_OK;
}

static const colmap INDEX_MAP[] = {
    {"indexdef", "i.indexdef"},
    {"constraintdef", "i.condef"},
    {"indisprimary", "true"},
    {"indisunique", "true"},
    {"indisclustered", "false"},
    {"indisvalid", "true"},
    {"indisreplident", "false"},
    {"contype", "'p'"},
    {"condeferrable", "false"},
    {"condeferred", "false"},
    {"reltablespace", "0"},
    {"relname", "i.relname"},
    {NULL, NULL},
};

/* pg_index: a table's primary key as its one index, "NAME_pkey". */
static int rewrite_index(ctx *c, buf *b)
{
    uint32_t oid = 0;
    if (!find_oid(c->q, "c.oid", &oid) || oid == 0)
        return rewrite_empty(c, b);
    int rc = load_rels(c, oid, 1);
    if (rc != UDR_OK)
        return rc;
    if (c->nrels == 0 || c->rels[0].detail->nkey == 0)
        return rewrite_empty(c, b);
    const rel *r = &c->rels[0];
    buf name, def, con;
    buf_init(&name);
    buf_init(&def);
    buf_init(&con);
    buf_adds(&name, r->name);
    buf_adds(&name, "_pkey");
    char *pkey = buf_take(&name, NULL);
    if (pkey == NULL) {
        buf_free(&def);
        buf_free(&con);
        return UDR_ENOMEM;
    }
    buf_adds(&def, "CREATE UNIQUE INDEX ");
    add_ident(&def, pkey);
    buf_adds(&def, " ON public.");
    add_ident(&def, r->name);
    buf_adds(&def, " USING btree (");
    add_key_list(&def, r->detail);
    buf_adds(&def, ")");
    buf_adds(&con, "PRIMARY KEY (");
    add_key_list(&con, r->detail);
    buf_adds(&con, ")");
    char *d = buf_take(&def, NULL), *k = buf_take(&con, NULL);
    rc = UDR_OK;
    if (d == NULL || k == NULL) {
        rc = UDR_ENOMEM;
    } else if (add_select(b, c->q, INDEX_MAP) != 0) {
        rc = 1;
    } else {
        buf_adds(b, " FROM (VALUES (");
        buf_quoted(b, pkey, '\'');
        buf_adds(b, ", ");
        buf_quoted(b, d, '\'');
        buf_adds(b, ", ");
        buf_quoted(b, k, '\'');
        buf_adds(b, ")) i(relname, indexdef, condef)");
    }
    free(pkey);
    free(d);
    free(k);
    return rc;
}

static const colmap ATTR_MAP[] = {
    {"pg_attrdef", "NULL::VARCHAR"},
    {"format_type", "a.fmt"},
    {"collname", "NULL::VARCHAR"},
    {"col_description", "NULL::VARCHAR"},
    {"attstattarget", "NULL::VARCHAR"},
    {"attcompression", "''"},
    {"attstorage", "a.storage"},
    {"attidentity", "''"},
    {"attgenerated", "''"},
    {"attnotnull", "a.attnotnull"},
    {"atthasdef", "false"},
    {"attname", "a.attname"},
    {"attnum", "a.attnum"},
    {"atttypid", "a.typid"},
    {"atttypmod", "-1"},
    {"attrelid", "a.attrelid"},
    {NULL, NULL},
};

/* pg_attribute: a table's columns, as \d shows them. */
static int rewrite_attribute(ctx *c, buf *b)
{
    uint32_t oid = 0;
    if (!find_oid(c->q, "a.attrelid", &oid) || oid == 0)
        return rewrite_empty(c, b);
    int rc = load_rels(c, oid, 1);
    if (rc != UDR_OK)
        return rc;
    if (c->nrels == 0 || c->rels[0].detail->ncols == 0)
        return rewrite_empty(c, b);
    const udr_table_detail *d = c->rels[0].detail;
    if (add_select(b, c->q, ATTR_MAP) != 0)
        return 1;
    buf_adds(b, " FROM (VALUES ");
    for (size_t i = 0; i < d->ncols; i++) {
        char fmt[128];
        pg_type_format(d->col_types[i], fmt, sizeof fmt);
        const pg_type *t = pg_type_of(d->col_types[i]);
        char storage = t->len != -1 ? 'p' : t->oid == 1700 ? 'm' : 'x';
        buf_printf(b, "%s(%zu, ", i ? ", " : "", i + 1);
        buf_quoted(b, d->col_names[i], '\'');
        buf_adds(b, ", ");
        buf_quoted(b, fmt, '\'');
        buf_printf(b, ", %u::BIGINT, %s, '%c', %u::BIGINT)", t->oid,
                   is_key(d, d->col_names[i]) ? "true" : "false", storage, c->rels[0].oid);
    }
    buf_adds(b, ") a(attnum, attname, fmt, typid, attnotnull, storage, attrelid) ORDER BY a.attnum");
    return UDR_OK;
}

static const colmap NAMESPACE_MAP[] = {
    {"pg_get_userbyid", "n.owner"},
    {"nspacl", "NULL::VARCHAR"},
    {"obj_description", "NULL::VARCHAR"},
    {"nspname", "n.nspname"},
    {"oid", "2200"},
    {NULL, NULL},
};

/* pg_namespace: \dn, the one schema. */
static int rewrite_namespace(ctx *c, buf *b)
{
    if (add_select(b, c->q, NAMESPACE_MAP) != 0)
        return 1;
    buf_adds(b, " FROM (VALUES ('public', ");
    buf_quoted(b, c->user, '\'');
    buf_adds(b, ")) n(nspname, owner)");
    int where = 0;
    add_regex_filter(b, c->q, "n.nspname", "n.nspname", &where);
    return UDR_OK;
}

static const colmap DATABASE_MAP[] = {
    {"pg_database_size", "d.size_pretty"},
    {"pg_get_userbyid", "d.owner"},
    {"pg_encoding_to_char", "'UTF8'"},
    {"datcollate", "'C'"},
    {"datctype", "'C'"},
    {"daticulocale", "NULL::VARCHAR"},
    {"datlocprovider", "'libc'"},
    {"datacl", "NULL::VARCHAR"},
    {"spcname", "'pg_default'"},
    {"description", "NULL::VARCHAR"},
    {"datname", "d.datname"},
    {NULL, NULL},
};

/* pg_database: \l, the one database. */
static int rewrite_database(ctx *c, buf *b)
{
    uint64_t total = 0;
    if (strcasestr(c->q, "pg_database_size") != NULL) {
        int rc = load_rels(c, 0, 0);
        if (rc != UDR_OK)
            return rc;
        for (size_t i = 0; i < c->nrels; i++)
            total += c->rels[i].bytes;
    }
    char size[64];
    size_pretty(total, size, sizeof size);
    if (add_select(b, c->q, DATABASE_MAP) != 0)
        return 1;
    buf_adds(b, " FROM (VALUES (");
    buf_quoted(b, c->db, '\'');
    buf_adds(b, ", ");
    buf_quoted(b, c->user, '\'');
    buf_adds(b, ", ");
    buf_quoted(b, size, '\'');
    buf_adds(b, ")) d(datname, owner, size_pretty)");
    int where = 0;
    add_regex_filter(b, c->q, "d.datname", "d.datname", &where);
    buf_adds(b, " ORDER BY 1");
    return UDR_OK;
}

static const colmap ROLES_MAP[] = {
    {"memberof", "'{}'"},
    {"rolsuper", "true"},
    {"rolinherit", "true"},
    {"rolcreaterole", "false"},
    {"rolcreatedb", "false"},
    {"rolcanlogin", "true"},
    {"rolconnlimit", "-1"},
    {"rolvaliduntil", "NULL::VARCHAR"},
    {"rolreplication", "false"},
    {"rolbypassrls", "false"},
    {"rolname", "r.rolname"},
    {NULL, NULL},
};

/* pg_roles: \du, the one user the session logged in as. */
static int rewrite_roles(ctx *c, buf *b)
{
    if (add_select(b, c->q, ROLES_MAP) != 0)
        return 1;
    buf_adds(b, " FROM (VALUES (");
    buf_quoted(b, c->user, '\'');
    buf_adds(b, ")) r(rolname)");
    int where = 0;
    add_regex_filter(b, c->q, "r.rolname", "r.rolname", &where);
    return UDR_OK;
}

/* ---- substituted relations (drivers' pg_type, information_schema) -------- */

/* Appends pg_type as a parenthesised VALUES query. */
static void add_pg_type_rows(buf *b)
{
    buf_adds(b, "(SELECT * FROM (VALUES ");
    const pg_type *t;
    for (size_t i = 0; (t = pg_type_at(i)) != NULL; i++) {
        buf_printf(b, "%s(%u::BIGINT, '%s', 11::BIGINT, 10::BIGINT, %d::BIGINT, %s, "
                      "'b', '%c', ',', 0::BIGINT, %u::BIGINT, %u::BIGINT, 0::BIGINT, -1, 0, "
                      "0::BIGINT, false, true)",
                   i ? ", " : "", t->oid, t->name, t->len,
                   t->len > 0 && t->len <= 8 ? "true" : "false", t->category, t->elem,
                   t->array);
    }
    buf_adds(b, ") v(oid, typname, typnamespace, typowner, typlen, typbyval, typtype, "
                "typcategory, typdelim, typrelid, typelem, typarray, typbasetype, typtypmod, "
                "typndims, typcollation, typnotnull, typisdefined))");
}

static void add_pg_namespace_rows(buf *b)
{
    buf_adds(b, "(SELECT * FROM (VALUES (11::BIGINT, 'pg_catalog'), (2200::BIGINT, 'public'), "
                "(13000::BIGINT, 'information_schema')) v(oid, nspname))");
}

/* information_schema.tables over UDR's tables (loaded). */
static void add_is_tables(ctx *c, buf *b)
{
    buf_adds(b, "(SELECT * FROM (");
    if (c->nrels == 0)
        buf_adds(b, "SELECT ''::VARCHAR, ''::VARCHAR, ''::VARCHAR, ''::VARCHAR, ''::VARCHAR, "
                    "''::VARCHAR WHERE false");
    for (size_t i = 0; i < c->nrels; i++) {
        buf_adds(b, i ? ", (" : "VALUES (");
        buf_quoted(b, c->db, '\'');
        buf_adds(b, ", 'public', ");
        buf_quoted(b, c->rels[i].name, '\'');
        buf_adds(b, ", 'BASE TABLE', 'YES', 'NO')");
    }
    buf_adds(b, ") v(table_catalog, table_schema, table_name, table_type, is_insertable_into, "
                "is_typed))");
}

/* information_schema.columns over UDR's tables (loaded with detail). */
static void add_is_columns(ctx *c, buf *b)
{
    buf_adds(b, "(SELECT * FROM (");
    int any = 0;
    for (size_t i = 0; i < c->nrels; i++) {
        const udr_table_detail *d = c->rels[i].detail;
        for (size_t j = 0; j < d->ncols; j++) {
            const pg_type *t = pg_type_of(d->col_types[j]);
            char fmt[128];
            pg_type_format(d->col_types[j], fmt, sizeof fmt);
            char *paren = strchr(fmt, '(');
            if (paren != NULL)
                *paren = '\0';
            unsigned p = 0, s = 0;
            const char *dp = strchr(d->col_types[j], '(');
            int has_ps = t->oid == 1700 && dp != NULL && sscanf(dp, "(%u ,%u)", &p, &s) == 2;
            buf_adds(b, any++ ? ", (" : "VALUES (");
            buf_quoted(b, c->db, '\'');
            buf_adds(b, ", 'public', ");
            buf_quoted(b, c->rels[i].name, '\'');
            buf_adds(b, ", ");
            buf_quoted(b, d->col_names[j], '\'');
            buf_printf(b, ", %zu::BIGINT, NULL::VARCHAR, '%s', '%s', ", j + 1,
                       is_key(d, d->col_names[j]) ? "NO" : "YES", t->elem ? "ARRAY" : fmt);
            if (has_ps)
                buf_printf(b, "%u::BIGINT, %u::BIGINT, ", p, s);
            else
                buf_adds(b, "NULL::BIGINT, NULL::BIGINT, ");
            buf_quoted(b, c->db, '\'');
            buf_printf(b, ", 'pg_catalog', '%s')", t->name);
        }
    }
    if (!any)
        buf_adds(b, "SELECT ''::VARCHAR, ''::VARCHAR, ''::VARCHAR, ''::VARCHAR, 0::BIGINT, "
                    "''::VARCHAR, ''::VARCHAR, ''::VARCHAR, 0::BIGINT, 0::BIGINT, ''::VARCHAR, "
                    "''::VARCHAR, ''::VARCHAR WHERE false");
    buf_adds(b, ") v(table_catalog, table_schema, table_name, column_name, ordinal_position, "
                "column_default, is_nullable, data_type, numeric_precision, numeric_scale, "
                "udt_catalog, udt_schema, udt_name))");
}

/* 1 if the word at p (n bytes) ends a FROM item rather than aliasing it. */
static int is_clause_word(const char *p)
{
    static const char *const words[] = {"WHERE", "JOIN", "LEFT", "RIGHT", "INNER", "OUTER",
                                        "CROSS", "FULL", "ON", "ORDER", "GROUP", "LIMIT",
                                        "UNION", "NATURAL", "USING", "HAVING", "WINDOW",
                                        "OFFSET", "FETCH", "FOR", "EXCEPT", "INTERSECT", NULL};
    for (size_t i = 0; words[i]; i++) {
        size_t k = strlen(words[i]);
        if (strncasecmp(p, words[i], k) == 0 && !(isalnum((unsigned char)p[k]) || p[k] == '_'))
            return 1;
    }
    return 0;
}

/* The relations substituted: their names in the client's SQL, the alias
 * they get when the client gives none, and who appends their rows. */
typedef enum subst_kind { SUB_PG_TYPE, SUB_PG_NAMESPACE, SUB_IS_TABLES, SUB_IS_COLUMNS } subst_kind;

static const struct subst {
    const char *name;
    const char *alias;
    subst_kind kind;
} SUBSTS[] = {
    {"pg_catalog.pg_type", "pg_type", SUB_PG_TYPE},
    {"pg_type", "pg_type", SUB_PG_TYPE},
    {"pg_catalog.pg_namespace", "pg_namespace", SUB_PG_NAMESPACE},
    {"pg_namespace", "pg_namespace", SUB_PG_NAMESPACE},
    {"information_schema.tables", "tables", SUB_IS_TABLES},
    {"information_schema.columns", "columns", SUB_IS_COLUMNS},
};

/* The client's query with each relation of SUBSTS after FROM, JOIN or a
 * comma replaced by our rows (aliased as the client names it). */
static int rewrite_subst(ctx *c, buf *b)
{
    int need_cols = strcasestr(c->q, "information_schema.columns") != NULL;
    if (need_cols || strcasestr(c->q, "information_schema.tables") != NULL) {
        int rc = load_rels(c, 0, need_cols);
        if (rc != UDR_OK)
            return rc;
    }
    const char *q = c->q;
    char prev[16] = "";
    for (const char *p = q; *p;) {
        if (*p == '\'' || *p == '"') {
            const char *e = skip_quoted(p);
            buf_add(b, p, (size_t)(e - p));
            p = e;
            prev[0] = '\0';
            continue;
        }
        int word_start = p == q || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.');
        const struct subst *hit = NULL;
        if (word_start && (strcasecmp(prev, "FROM") == 0 || strcasecmp(prev, "JOIN") == 0 ||
                           strcmp(prev, ",") == 0)) {
            for (size_t i = 0; i < sizeof SUBSTS / sizeof SUBSTS[0] && !hit; i++) {
                size_t k = strlen(SUBSTS[i].name);
                if (strncasecmp(p, SUBSTS[i].name, k) == 0 &&
                    !(isalnum((unsigned char)p[k]) || p[k] == '_' || p[k] == '.'))
                    hit = &SUBSTS[i];
            }
        }
        if (hit != NULL) {
            p += strlen(hit->name);
            switch (hit->kind) {
            case SUB_PG_TYPE: add_pg_type_rows(b); break;
            case SUB_PG_NAMESPACE: add_pg_namespace_rows(b); break;
            case SUB_IS_TABLES: add_is_tables(c, b); break;
            case SUB_IS_COLUMNS: add_is_columns(c, b); break;
            }
            const char *a = p;
            while (*a == ' ')
                a++;
            int aliased = (isalpha((unsigned char)*a) || *a == '_' || *a == '"') && !is_clause_word(a);
            if (!aliased)
                buf_printf(b, " AS %s", hit->alias);
            prev[0] = '\0';
            continue;
        }
        if (isalnum((unsigned char)*p) || *p == '_') {
            size_t k = 0;
            while (isalnum((unsigned char)p[k]) || p[k] == '_' || p[k] == '.')
                k++;
            snprintf(prev, sizeof prev, "%.*s", (int)(k < sizeof prev ? k : sizeof prev - 1), p);
            buf_add(b, p, k);
            p += k;
            continue;
        }
        if (*p == ',')
            snprintf(prev, sizeof prev, ",");
        else if (*p != ' ')
            prev[0] = '\0';
        buf_addc(b, *p++);
    }
    return UDR_OK;
}

/* ---- recognising ---------------------------------------------------------- */

/* 1 if sql can be a catalog query at all (the cheap test). */
static int maybe_catalog(const char *sql)
{
    return strcasestr(sql, "pg_") != NULL || strcasestr(sql, "information_schema") != NULL ||
           strcasestr(sql, "version") != NULL;
}

/* 1 if q (normalised) mentions a pg_catalog relation other than pg_type and
 * pg_namespace. */
static int other_catalog(const char *q)
{
    for (const char *p = strcasestr(q, "pg_"); p != NULL; p = strcasestr(p + 3, "pg_")) {
        if (p > q && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        static const char *const rels[] = {"pg_class", "pg_attribute", "pg_proc", "pg_index",
                                           "pg_range", "pg_enum", "pg_attrdef", "pg_constraint",
                                           "pg_database", "pg_settings", "pg_roles", NULL};
        for (size_t i = 0; rels[i]; i++) {
            size_t k = strlen(rels[i]);
            if (strncasecmp(p, rels[i], k) == 0 && !(isalnum((unsigned char)p[k]) || p[k] == '_'))
                return 1;
        }
    }
    return 0;
}

/* Writes the replacement of c->q into b: UDR_OK, 1 if q is not a query we
 * answer, < 0 on failure. */
static int rewrite(ctx *c, buf *b)
{
    const char *q = c->q;
    if (strncasecmp(q, "SELECT ", 7) != 0 && strncasecmp(q, "WITH ", 5) != 0)
        return 1;
    if (strcasecmp(q, "SELECT version()") == 0 || strcasecmp(q, "SELECT pg_catalog.version()") == 0) {
        buf_adds(b, "SELECT 'PostgreSQL " UDR_PG_VERSION " (UDR " UDR_VERSION
                    ", DuckDB ' || library_version || ')' AS version FROM pragma_version()");
        return UDR_OK;
    }
    char first[64];
    first_relation(q, first, sizeof first);
    if (strcmp(first, "pg_catalog.pg_class") == 0) {
        if (strcasestr(q, "pg_catalog.pg_index") != NULL && strcasestr(q, "indisprimary") != NULL)
            return rewrite_index(c, b);
        if (strcasestr(q, "pg_catalog.pg_inherits") != NULL)
            return rewrite_empty(c, b);
        return rewrite_class(c, b);
    }
    if (strcmp(first, "pg_catalog.pg_attribute") == 0)
        return rewrite_attribute(c, b);
    if (strcmp(first, "pg_catalog.pg_namespace") == 0)
        return rewrite_namespace(c, b);
    if (strcmp(first, "pg_catalog.pg_database") == 0)
        return rewrite_database(c, b);
    if (strcmp(first, "pg_catalog.pg_roles") == 0)
        return rewrite_roles(c, b);
    static const char *const empty[] = {
        "pg_catalog.pg_policy", "pg_catalog.pg_statistic_ext", "pg_catalog.pg_publication",
        "pg_catalog.pg_trigger", "pg_catalog.pg_rewrite", "pg_catalog.pg_constraint",
        "pg_catalog.pg_inherits", "pg_catalog.pg_index", "pg_catalog.pg_proc",
        "pg_catalog.pg_extension", NULL};
    for (size_t i = 0; empty[i]; i++)
        if (strcmp(first, empty[i]) == 0)
            return rewrite_empty(c, b);
    if ((strcmp(first, "pg_catalog.pg_type") == 0 || strcmp(first, "pg_type") == 0) &&
        !other_catalog(q))
        return rewrite_subst(c, b);
    if (strcmp(first, "information_schema.tables") == 0 ||
        strcmp(first, "information_schema.columns") == 0)
        return rewrite_subst(c, b);
    return 1;
}

char *pgcat_rewrite_names(udr_repo *repo, const char *sql, const pgcat_names *names, int *rc)
{
    *rc = 0;
    if (sql == NULL || !maybe_catalog(sql))
        return NULL;
    ctx c = {repo, NULL, "udr", "udr", NULL, 0};
    if (names != NULL && names->database != NULL)
        c.db = names->database;
    if (names != NULL && names->user != NULL)
        c.user = names->user;
    buf b;
    buf_init(&b);
    char *out = NULL;
    c.q = normalise(sql);
    if (c.q == NULL) {
        *rc = UDR_ENOMEM;
        goto done;
    }
    int r = rewrite(&c, &b);
    if (r < 0) {
        *rc = r;
        goto done;
    }
    if (r > 0)
        goto done;
    out = buf_take(&b, NULL);
    if (out == NULL)
        *rc = UDR_ENOMEM;
done:
    buf_free(&b);
    free_rels(&c);
    free(c.q);
    return out;
}

char *pgcat_rewrite(udr_repo *repo, const char *sql, int *rc)
{
    return pgcat_rewrite_names(repo, sql, NULL, rc);
}
