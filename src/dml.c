/*
 * dml — the outline of transaction-control and write statements; see dml.h.
 */
#include "dml.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A cursor over the statement: skips blanks and comments between tokens. */
typedef struct cur {
    const char *p;
} cur;

static void skip_space(cur *c)
{
    for (;;) {
        while (isspace((unsigned char)*c->p))
            c->p++;
        if (c->p[0] == '-' && c->p[1] == '-') {
            while (*c->p && *c->p != '\n')
                c->p++;
        } else if (c->p[0] == '/' && c->p[1] == '*') {
            const char *e = strstr(c->p + 2, "*/");
            c->p = e ? e + 2 : c->p + strlen(c->p);
        } else {
            return;
        }
    }
}

/* Takes the keyword word (case-insensitive, whole word); 1 if it was there. */
static int keyword(cur *c, const char *word)
{
    skip_space(c);
    size_t n = strlen(word);
    if (strncasecmp(c->p, word, n) != 0)
        return 0;
    unsigned char next = (unsigned char)c->p[n];
    if (isalnum(next) || next == '_')
        return 0;
    c->p += n;
    return 1;
}

/* An identifier, bare or "quoted" (a "" inside is one "); malloc'd. */
static char *identifier(cur *c)
{
    skip_space(c);
    const char *p = c->p;
    if (*p == '"') {
        size_t cap = strlen(p), k = 0;
        char *out = malloc(cap + 1);
        if (out == NULL)
            return NULL;
        for (p++; *p; p++) {
            if (*p == '"') {
                if (p[1] != '"')
                    break;
                p++;
            }
            out[k++] = *p;
        }
        if (*p != '"' || k == 0) {
            free(out);
            return NULL;
        }
        out[k] = '\0';
        c->p = p + 1;
        return out;
    }
    if (!(isalpha((unsigned char)*p) || *p == '_'))
        return NULL;
    const char *s = p;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    c->p = p;
    return strndup(s, (size_t)(p - s));
}

/* If p starts a quoted string or a comment, the text after it; else p. */
static const char *skip_opaque(const char *p)
{
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        while (*p && !(*p == q && p[1] != q)) {
            if (*p == q)
                p++;
            p++;
        }
        return *p ? p + 1 : p;
    }
    if (p[0] == '-' && p[1] == '-') {
        while (*p && *p != '\n')
            p++;
        return p;
    }
    if (p[0] == '/' && p[1] == '*') {
        const char *e = strstr(p + 2, "*/");
        return e ? e + 2 : p + strlen(p);
    }
    return p;
}

/* The end of the top-level text from p: stops at a top-level keyword in
 * stop (NULL-terminated list), a top-level comma if comma, a top-level ')'
 * or the end. Quotes, parentheses and comments are stepped over. */
static const char *scan(const char *p, const char *const *stop, int comma)
{
    int depth = 0;
    while (*p) {
        const char *after = skip_opaque(p);
        if (after != p) {
            p = after;
            continue;
        }
        if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            if (depth == 0)
                return p;
            depth--;
        } else if (depth == 0 && comma && *p == ',') {
            return p;
        } else if (depth == 0 && stop != NULL) {
            for (size_t i = 0; stop[i]; i++) {
                size_t n = strlen(stop[i]);
                if (strncasecmp(p, stop[i], n) == 0 && !isalnum((unsigned char)p[n]) &&
                    p[n] != '_' && (p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n' ||
                                    p[-1] == '\r' || p[-1] == ')'))
                    return p;
            }
        }
        p++;
    }
    return p;
}

/* The text from a to b, trimmed, without a trailing ';'; malloc'd. */
static char *slice(const char *a, const char *b)
{
    while (a < b && isspace((unsigned char)*a))
        a++;
    while (b > a && (isspace((unsigned char)b[-1]) || b[-1] == ';'))
        b--;
    return strndup(a, (size_t)(b - a));
}

static int at_end(cur *c)
{
    skip_space(c);
    while (*c->p == ';') {
        c->p++;
        skip_space(c);
    }
    return *c->p == '\0';
}

void dml_free(dml *d)
{
    free(d->table);
    for (size_t i = 0; i < d->ncolumns; i++)
        free(d->columns[i]);
    free(d->columns);
    free(d->source);
    for (size_t i = 0; i < d->nsets; i++) {
        free(d->sets[i].column);
        free(d->sets[i].expr);
    }
    free(d->sets);
    free(d->where);
    memset(d, 0, sizeof *d);
}

static int fail(dml *d, char *err, size_t size, const char *what)
{
    snprintf(err, size, "%s", what);
    dml_free(d);
    return -1;
}

static int parse_begin(cur *c, dml *d, char *err, size_t size)
{
    d->kind = DML_BEGIN;
    if (!keyword(c, "TRANSACTION"))
        keyword(c, "WORK");
    if (keyword(c, "ISOLATION")) {
        if (!keyword(c, "LEVEL"))
            return fail(d, err, size, "BEGIN ... ISOLATION needs LEVEL");
        if (keyword(c, "SERIALIZABLE"))
            d->serializable = 1;
        else if (keyword(c, "SNAPSHOT"))
            d->serializable = 0;
        else if (keyword(c, "REPEATABLE") && keyword(c, "READ"))
            d->serializable = 0;
        else
            return fail(d, err, size,
                        "UDR's isolation levels are SNAPSHOT (also REPEATABLE READ) and "
                        "SERIALIZABLE");
    }
    if (!at_end(c))
        return fail(d, err, size, "unexpected words after BEGIN");
    return DML_BEGIN;
}

/* Whether sql holds more than one statement (a top-level ';' with more
 * after it). */
static int several(const char *p)
{
    int depth = 0;
    while (*p) {
        const char *after = skip_opaque(p);
        if (after != p) {
            p = after;
            continue;
        }
        if (*p == '(')
            depth++;
        else if (*p == ')')
            depth--;
        else if (*p == ';' && depth == 0) {
            cur c = {p};
            return !at_end(&c);
        }
        p++;
    }
    return 0;
}

static int parse_one(const char *sql, dml *d, char *err, size_t size);

int dml_parse(const char *sql, dml *d, char *err, size_t size)
{
    int kind = parse_one(sql, d, err, size);
    if (kind > DML_ROLLBACK && several(sql)) {
        dml_free(d);
        snprintf(err, size, "a write to a UDR table must be a statement of its own (one per "
                            "call)");
        return -1;
    }
    return kind;
}

static int parse_one(const char *sql, dml *d, char *err, size_t size)
{
    memset(d, 0, sizeof *d);
    cur c = {sql};
    if (keyword(&c, "BEGIN") || (keyword(&c, "START") && keyword(&c, "TRANSACTION")))
        return parse_begin(&c, d, err, size);
    c.p = sql;
    if (keyword(&c, "COMMIT") || keyword(&c, "END")) {
        if (!keyword(&c, "TRANSACTION"))
            keyword(&c, "WORK");
        d->kind = DML_COMMIT;
        return at_end(&c) ? DML_COMMIT : fail(d, err, size, "unexpected words after COMMIT");
    }
    if (keyword(&c, "ROLLBACK") || keyword(&c, "ABORT")) {
        if (!keyword(&c, "TRANSACTION"))
            keyword(&c, "WORK");
        d->kind = DML_ROLLBACK;
        return at_end(&c) ? DML_ROLLBACK
                          : fail(d, err, size, "unexpected words after ROLLBACK (savepoints "
                                               "are not supported)");
    }
    if (keyword(&c, "INSERT")) {
        if (!keyword(&c, "INTO"))
            return DML_NONE;
        cur save = c;
        if ((d->table = identifier(&c)) == NULL)
            return DML_NONE;
        skip_space(&c);
        if (*c.p == '.') {             /* schema.table: DuckDB's */
            dml_free(d);
            (void)save;
            return DML_NONE;
        }
        if (*c.p == '(') {
            c.p++;
            for (;;) {
                char *col = identifier(&c);
                if (col == NULL)
                    return fail(d, err, size, "INSERT: a column list holds column names");
                char **cols = realloc(d->columns, (d->ncolumns + 1) * sizeof *cols);
                if (cols == NULL) {
                    free(col);
                    return fail(d, err, size, "out of memory");
                }
                d->columns = cols;
                d->columns[d->ncolumns++] = col;
                skip_space(&c);
                if (*c.p == ',') {
                    c.p++;
                    continue;
                }
                if (*c.p == ')') {
                    c.p++;
                    break;
                }
                return fail(d, err, size, "INSERT: a column list ends with )");
            }
        }
        skip_space(&c);
        cur body = c;
        if (!keyword(&c, "VALUES") && !keyword(&c, "SELECT") && !keyword(&c, "WITH") &&
            !keyword(&c, "FROM") && *c.p != '(')
            return fail(d, err, size, "INSERT: the rows come from VALUES or a query "
                                      "(DEFAULT VALUES, ON CONFLICT and RETURNING are not "
                                      "supported)");
        d->source = slice(body.p, body.p + strlen(body.p));
        d->kind = DML_INSERT;
        return DML_INSERT;
    }
    if (keyword(&c, "UPDATE")) {
        if ((d->table = identifier(&c)) == NULL)
            return DML_NONE;
        skip_space(&c);
        if (*c.p == '.') {
            dml_free(d);
            return DML_NONE;
        }
        if (!keyword(&c, "SET"))
            return fail(d, err, size, "UPDATE: SET column = value expected");
        static const char *const stops[] = {"WHERE", "FROM", "RETURNING", NULL};
        for (;;) {
            char *col = identifier(&c);
            skip_space(&c);
            if (col == NULL || *c.p != '=') {
                free(col);
                return fail(d, err, size, "UPDATE: SET column = value expected");
            }
            c.p++;
            const char *e = scan(c.p, stops, 1);
            dml_set *sets = realloc(d->sets, (d->nsets + 1) * sizeof *sets);
            if (sets == NULL) {
                free(col);
                return fail(d, err, size, "out of memory");
            }
            d->sets = sets;
            d->sets[d->nsets++] = (dml_set){col, slice(c.p, e)};
            c.p = e;
            if (*c.p == ',') {
                c.p++;
                continue;
            }
            break;
        }
        if (keyword(&c, "FROM") || keyword(&c, "RETURNING"))
            return fail(d, err, size, "UPDATE ... FROM and RETURNING are not supported");
        if (keyword(&c, "WHERE"))
            d->where = slice(c.p, c.p + strlen(c.p));
        else if (!at_end(&c))
            return fail(d, err, size, "UPDATE: unexpected text after SET");
        d->kind = DML_UPDATE;
        return DML_UPDATE;
    }
    if (keyword(&c, "DELETE")) {
        if (!keyword(&c, "FROM") || (d->table = identifier(&c)) == NULL)
            return DML_NONE;
        skip_space(&c);
        if (*c.p == '.') {
            dml_free(d);
            return DML_NONE;
        }
        if (keyword(&c, "USING") || keyword(&c, "RETURNING"))
            return fail(d, err, size, "DELETE ... USING and RETURNING are not supported");
        if (keyword(&c, "WHERE"))
            d->where = slice(c.p, c.p + strlen(c.p));
        else if (!at_end(&c))
            return fail(d, err, size, "DELETE: unexpected text after the table");
        d->kind = DML_DELETE;
        return DML_DELETE;
    }
    if (keyword(&c, "CREATE")) {
        if (keyword(&c, "OR")) {
            if (!keyword(&c, "REPLACE"))
                return DML_NONE;
            d->replace = 1;
        }
        if (!keyword(&c, "TABLE"))
            return DML_NONE;           /* TEMP tables, views...: DuckDB's */
        if ((d->table = identifier(&c)) == NULL) {
            dml_free(d);
            return DML_NONE;
        }
        skip_space(&c);
        if (*c.p == '.' || !keyword(&c, "AS")) {
            dml_free(d);
            return DML_NONE;           /* qualified, or CREATE TABLE t (columns) */
        }
        d->source = slice(c.p, c.p + strlen(c.p));
        d->kind = DML_CREATE_AS;
        return DML_CREATE_AS;
    }
    return DML_NONE;
}
