/*
 * sqlrun — one SQL statement of a `udr serve` session (see session.h).
 *
 * What a statement is decides where it goes:
 *   BEGIN / COMMIT / ROLLBACK   a UDR transaction (udr_tx_*), with
 *                               PostgreSQL's rules: COMMIT of a failed block
 *                               rolls it back; BEGIN inside one warns
 *   SET / SHOW / RESET          udr.branch switches the session's branch;
 *                               PostgreSQL's session settings (DateStyle,
 *                               extra_float_digits ...) are kept and shown;
 *                               anything else is DuckDB's
 *   COPY ... FROM STDIN         the rows arrive as CopyData, are spooled to a
 *                               CSV file and inserted with one INSERT
 *   COPY ... TO STDOUT          the rows go out as CopyData, text or CSV
 *   catalog queries             rewritten by pgcat.c (psql's \dt, \d ...)
 *   anything else               libudr: udr_tx_query in a block, else
 *                               udr_query (each write its own commit)
 *
 * Values go out in PostgreSQL's text format (pgtypes.c), or binary for the
 * types where that is cheap (bool, integers, floats, bytea, text).
 * Errors carry a SQLSTATE chosen from libudr's code and DuckDB's message:
 * 40001 for a conflict, 42P01 for an unknown table, 42601 for a syntax error.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgcat.h"
#include "pgtypes.h"
#include "session.h"

/* ---- errors ---------------------------------------------------------------------- */

char sqlrun_status(const session *s)
{
    return s->tx == NULL ? 'I' : s->tx_failed ? 'E' : 'T';
}

static const char *sqlstate_of(int rc, const char *msg)
{
    if (rc == UDR_ECONFLICT)
        return "40001";
    if (strstr(msg, "Interrupted") != NULL)
        return "57014";
    if (strstr(msg, "Parser Error") != NULL || strstr(msg, "syntax error") != NULL)
        return "42601";
    if ((strstr(msg, "Table with name") != NULL && strstr(msg, "does not exist") != NULL) ||
        strstr(msg, "has no table") != NULL || strstr(msg, "has no version") != NULL)
        return "42P01";
    if (strstr(msg, "Permission Error") != NULL ||
        strstr(msg, "configuration has been locked") != NULL)
        return "42501";
    if (strstr(msg, "unrecognized configuration parameter") != NULL)
        return "42704";
    if (strstr(msg, "Referenced column") != NULL ||
        (strstr(msg, "column") != NULL && strstr(msg, "not found") != NULL))
        return "42703";
    if (strstr(msg, "Conversion Error") != NULL || strstr(msg, "Could not convert") != NULL)
        return "22P02";
    if (strstr(msg, "Constraint Error") != NULL || strstr(msg, "duplicate key") != NULL)
        return strstr(msg, "NOT NULL") != NULL ? "23502" : "23505";
    if (strstr(msg, "Scalar Function with name") != NULL ||
        strstr(msg, "Table Function with name") != NULL)
        return "42883";
    if (strstr(msg, "Binder Error") != NULL)
        return "42000";
    if (strstr(msg, "Out of Memory") != NULL)
        return "53200";
    switch (rc) {
    case UDR_ENOTFOUND: return "42704";
    case UDR_EINVAL: return "22023";
    case UDR_EFULL: return "53100";
    case UDR_ENOMEM: return "53200";
    case UDR_EIO: return "58030";
    case UDR_ECORRUPT: return "XX001";
    case UDR_EPERM: return "42501";
    case UDR_EEXIST: return "42P07";
    default: return "XX000";
    }
}

/* Sends an error: the message's first line as the message, the rest as a
 * hint. The block, if any, is failed. */
static int send_error(session *s, const char *sqlstate, const char *msg)
{
    const char *nl = strchr(msg, '\n');
    char first[1024];
    snprintf(first, sizeof first, "%.*s", nl ? (int)(nl - msg) : (int)strlen(msg), msg);
    const char *rest = nl;
    while (rest != NULL && (*rest == '\n' || *rest == ' '))
        rest++;
    pgw_error(&s->out, 'E', "ERROR", sqlstate, first, NULL, rest && *rest ? rest : NULL);
    s->errors++;
    if (s->tx != NULL)
        s->tx_failed = 1;
    serve_log(s, "error %s: %s", sqlstate, first);
    return -1;
}

int sqlrun_error(session *s, int rc, const char *msg)
{
    return send_error(s, sqlstate_of(rc, msg), msg);
}

int sqlrun_fail(session *s, const char *sqlstate, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_error(s, sqlstate, msg);
}

static void notice(session *s, const char *sqlstate, const char *msg)
{
    pgw_error(&s->out, 'N', "WARNING", sqlstate, msg, NULL, NULL);
}

/* ---- what a statement is ------------------------------------------------------------ */

/* Skips space, comments and opening parentheses. */
static const char *skip_space(const char *p)
{
    for (;;) {
        while (isspace((unsigned char)*p) || *p == '(')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

/* The word at p, upper-cased, into w (at most n-1 letters); returns the end. */
static const char *word(const char *p, char *w, size_t n)
{
    size_t i = 0;
    p = skip_space(p);
    while ((isalnum((unsigned char)*p) || *p == '_' || *p == '.') && i + 1 < n)
        w[i++] = (char)toupper((unsigned char)*p++);
    w[i] = '\0';
    return p;
}

static int has_word(const char *sql, const char *kw)
{
    size_t n = strlen(kw);
    for (const char *p = sql; (p = strcasestr(p, kw)) != NULL; p += n) {
        int before = p == sql || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (before && after)
            return 1;
    }
    return 0;
}

int sqlrun_returns_rows(const char *sql)
{
    static const char *const ROWS[] = {"SELECT", "WITH", "VALUES", "TABLE", "FROM", "SHOW",
                                       "DESCRIBE", "EXPLAIN", "PRAGMA", "SUMMARIZE", "CALL"};
    char w[16];
    word(sql, w, sizeof w);
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++)
        if (strcmp(w, ROWS[i]) == 0)
            return 1;
    return (strcmp(w, "INSERT") == 0 || strcmp(w, "UPDATE") == 0 || strcmp(w, "DELETE") == 0) &&
           has_word(sql, "RETURNING");
}

/* ---- rows out ------------------------------------------------------------------------ */

typedef struct colinfo {
    const char *duck;           /* DuckDB's type */
    const pg_type *pg;
    int binary;
} colinfo;

static int col_format(const int16_t *formats, uint16_t n, size_t col)
{
    if (formats == NULL || n == 0)
        return 0;
    return n == 1 ? formats[0] : col < n ? formats[col] : 0;
}

static int binary_ok(uint32_t oid)
{
    return oid == 16 || oid == 21 || oid == 23 || oid == 20 || oid == 700 || oid == 701 ||
           oid == 17 || oid == 25;
}

static void describe_cols(session *s, size_t n, const char *const *names,
                          const char *const *types, const int16_t *formats, uint16_t nformats)
{
    pgw_begin(&s->out, 'T');
    pgw_i16(&s->out, (int16_t)n);
    for (size_t i = 0; i < n; i++) {
        const pg_type *t = pg_type_of(types[i]);
        pgw_str(&s->out, names[i]);
        pgw_i32(&s->out, 0);
        pgw_i16(&s->out, 0);
        pgw_i32(&s->out, (int32_t)t->oid);
        pgw_i16(&s->out, t->len);
        pgw_i32(&s->out, -1);
        pgw_i16(&s->out, (int16_t)(col_format(formats, nformats, i) && binary_ok(t->oid)));
    }
    pgw_end(&s->out);
}

void sqlrun_describe(session *s, const udr_result *r, const int16_t *formats, uint16_t nformats)
{
    size_t n = udr_result_columns(r);
    const char **names = calloc(n + 1, sizeof *names);
    const char **types = calloc(n + 1, sizeof *types);
    if (names == NULL || types == NULL) {
        s->out.oom = 1;
    } else {
        for (size_t i = 0; i < n; i++) {
            names[i] = udr_result_column_name(r, i);
            types[i] = udr_result_column_type(r, i);
        }
        describe_cols(s, n, names, types, formats, nformats);
    }
    free(names);
    free(types);
}

/* One value in binary format (the types binary_ok accepts). */
static void put_binary(session *s, const udr_result *r, uint64_t row, size_t col, uint32_t oid)
{
    switch (oid) {
    case 16:
        pgw_i32(&s->out, 1);
        pgw_u8(&s->out, udr_result_int64(r, row, col) != 0);
        return;
    case 21:
        pgw_i32(&s->out, 2);
        pgw_i16(&s->out, (int16_t)udr_result_int64(r, row, col));
        return;
    case 23:
        pgw_i32(&s->out, 4);
        pgw_i32(&s->out, (int32_t)udr_result_int64(r, row, col));
        return;
    case 20: {
        uint64_t v = (uint64_t)udr_result_int64(r, row, col);
        pgw_i32(&s->out, 8);
        pgw_i32(&s->out, (int32_t)(v >> 32));
        pgw_i32(&s->out, (int32_t)v);
        return;
    }
    case 700: {
        float f = (float)udr_result_double(r, row, col);
        uint32_t w;
        memcpy(&w, &f, 4);
        pgw_i32(&s->out, 4);
        pgw_i32(&s->out, (int32_t)w);
        return;
    }
    case 701: {
        double d = udr_result_double(r, row, col);
        uint64_t w;
        memcpy(&w, &d, 8);
        pgw_i32(&s->out, 8);
        pgw_i32(&s->out, (int32_t)(w >> 32));
        pgw_i32(&s->out, (int32_t)w);
        return;
    }
    default: {
        size_t len = 0;
        const char *b = udr_result_bytes(r, row, col, &len);
        char *t = b ? NULL : udr_result_text(r, row, col);
        if (t != NULL)
            len = strlen(t);
        pgw_i32(&s->out, (int32_t)len);
        pgw_bytes(&s->out, b ? b : t, len);
        udr_free(t);
    }
    }
}

/* A value's text (PostgreSQL's form); NULL for SQL NULL or out of memory
 * (*oom set). Free with free(). */
static char *value_text(const udr_result *r, uint64_t row, size_t col, const char *duck,
                        size_t *len, int *oom)
{
    *oom = 0;
    if (udr_result_is_null(r, row, col))
        return NULL;
    size_t blen = 0;
    const char *b = udr_result_bytes(r, row, col, &blen);
    char *t = NULL;
    if (b == NULL || strcmp(duck, "BLOB") != 0) {
        t = udr_result_text(r, row, col);
        if (t == NULL) {
            *oom = 1;
            return NULL;
        }
        b = t;
        blen = strlen(t);
    }
    char *v = pg_type_text(duck, b, blen, len);
    udr_free(t);
    if (v == NULL)
        *oom = 1;
    return v;
}

static int send_rows(session *s, const udr_result *r, uint64_t from, uint64_t to,
                     const int16_t *formats, uint16_t nformats)
{
    size_t n = udr_result_columns(r);
    colinfo *ci = calloc(n + 1, sizeof *ci);
    if (ci == NULL)
        return sqlrun_fail(s, "53200", "out of memory");
    for (size_t c = 0; c < n; c++) {
        ci[c].duck = udr_result_column_type(r, c);
        ci[c].pg = pg_type_of(ci[c].duck);
        ci[c].binary = col_format(formats, nformats, c) && binary_ok(ci[c].pg->oid);
    }
    int rc = 0;
    for (uint64_t row = from; row < to && rc == 0; row++) {
        pgw_begin(&s->out, 'D');
        pgw_i16(&s->out, (int16_t)n);
        for (size_t c = 0; c < n; c++) {
            if (udr_result_is_null(r, row, c)) {
                pgw_i32(&s->out, -1);
            } else if (ci[c].binary) {
                put_binary(s, r, row, c, ci[c].pg->oid);
            } else {
                size_t len;
                int oom;
                char *v = value_text(r, row, c, ci[c].duck, &len, &oom);
                if (oom) {
                    free(ci);
                    return sqlrun_fail(s, "53200", "out of memory");
                }
                pgw_i32(&s->out, (int32_t)len);
                pgw_bytes(&s->out, v, len);
                free(v);
            }
        }
        pgw_end(&s->out);
        if (s->out.len > 256 * 1024 && session_flush(s) != 0)
            rc = -1;
    }
    free(ci);
    return rc;
}

int sqlrun_send_rows(session *s, portal *p, uint32_t max_rows)
{
    uint64_t total = udr_result_rows(p->r);
    uint64_t to = total;
    if (max_rows > 0 && total - p->next_row > max_rows)
        to = p->next_row + max_rows;
    if (send_rows(s, p->r, p->next_row, to, p->formats, p->nformats) != 0)
        return -1;
    p->next_row = to;
    if (to < total) {
        pgw_begin(&s->out, 's');
        pgw_end(&s->out);
    } else {
        pgw_complete(&s->out, p->tag);
    }
    return 0;
}

/* ---- command tags ------------------------------------------------------------------- */

/* The count a write returns (its "count" column), else the rows. */
static uint64_t result_count(const udr_result *r)
{
    if (r == NULL)
        return 0;
    if (udr_result_columns(r) == 1 && udr_result_rows(r) == 1 &&
        strcasecmp(udr_result_column_name(r, 0), "count") == 0)
        return (uint64_t)udr_result_int64(r, 0, 0);
    return udr_result_rows(r);
}

static void make_tag(const char *sql, const udr_result *r, int rows, char *tag, size_t n)
{
    char w1[32], w2[32];
    const char *p = word(sql, w1, sizeof w1);
    word(p, w2, sizeof w2);
    if (rows)
        snprintf(tag, n, "SELECT %llu", (unsigned long long)(r ? udr_result_rows(r) : 0));
    else if (strcmp(w1, "INSERT") == 0)
        snprintf(tag, n, "INSERT 0 %llu", (unsigned long long)result_count(r));
    else if (strcmp(w1, "UPDATE") == 0 || strcmp(w1, "DELETE") == 0)
        snprintf(tag, n, "%s %llu", w1, (unsigned long long)result_count(r));
    else if (strcmp(w1, "CREATE") == 0 && has_word(sql, "AS") &&
             (strcmp(w2, "TABLE") == 0 || strcmp(w2, "OR") == 0))
        snprintf(tag, n, "SELECT %llu", (unsigned long long)result_count(r));
    else if (strcmp(w1, "CREATE") == 0 || strcmp(w1, "DROP") == 0 || strcmp(w1, "ALTER") == 0)
        snprintf(tag, n, "%s %s", w1, strcmp(w2, "OR") == 0 ? "TABLE" : w2);
    else
        snprintf(tag, n, "%s", w1[0] ? w1 : "OK");
}

/* ---- running ---------------------------------------------------------------------------- */

/* Runs sql on the session's handle or block. */
static int run_sql(session *s, const char *sql, udr_result **r)
{
    *r = NULL;
    int rc = s->tx != NULL ? udr_tx_query(s->tx, sql, r) : udr_query(s->repo, sql, NULL, 0, r);
    if (rc != UDR_OK)
        return sqlrun_error(s, rc, udr_errmsg(s->repo));
    return 0;
}

/* Runs a SELECT of one text value named name. */
static int select_value(session *s, const char *name, const char *value, udr_result **r)
{
    size_t cap = 2 * (strlen(name) + strlen(value)) + 32;
    char *sql = malloc(cap), *o = sql;
    if (sql == NULL)
        return sqlrun_fail(s, "53200", "out of memory");
    o += sprintf(o, "SELECT '");
    for (const char *v = value; *v; v++)
        o += sprintf(o, *v == '\'' ? "''" : "%c", *v);
    o += sprintf(o, "' AS \"");
    for (const char *v = name; *v; v++)
        o += sprintf(o, *v == '"' ? "\"\"" : "%c", *v);
    sprintf(o, "\"");
    int rc = udr_query(s->repo, sql, NULL, 0, r);
    free(sql);
    return rc == UDR_OK ? 0 : sqlrun_error(s, rc, udr_errmsg(s->repo));
}

/* -- transaction control -- */

static int tx_control(session *s, int ctl, udr_isolation iso, char *tag, size_t n)
{
    if (ctl == 1) {
        snprintf(tag, n, "BEGIN");
        if (s->tx != NULL) {
            notice(s, "25001", "there is already a transaction in progress");
            return 0;
        }
        int rc = udr_tx_begin(s->repo, NULL, iso, &s->tx);
        if (rc != UDR_OK) {
            s->tx = NULL;
            return sqlrun_error(s, rc, udr_errmsg(s->repo));
        }
        s->tx_failed = 0;
        return 0;
    }
    if (s->tx == NULL) {
        notice(s, "25P01", "there is no transaction in progress");
        snprintf(tag, n, "%s", ctl == 2 ? "COMMIT" : "ROLLBACK");
        return 0;
    }
    udr_tx *tx = s->tx;
    s->tx = NULL;
    if (ctl == 3 || s->tx_failed) {
        udr_tx_rollback(tx);
        s->tx_failed = 0;
        snprintf(tag, n, "ROLLBACK");
        return 0;
    }
    snprintf(tag, n, "COMMIT");
    int rc = udr_tx_commit(tx, NULL, NULL);
    return rc == UDR_OK ? 0 : sqlrun_error(s, rc, udr_errmsg(s->repo));
}

/* A BEGIN libudr does not take (READ COMMITTED, READ WRITE ...): a snapshot
 * block is at least as strong as what was asked, so it is one. */
static int loose_begin(const char *sql, udr_isolation *iso)
{
    char w1[32], w2[32];
    const char *p = word(sql, w1, sizeof w1);
    word(p, w2, sizeof w2);
    if (strcmp(w1, "BEGIN") != 0 && !(strcmp(w1, "START") == 0 && strcmp(w2, "TRANSACTION") == 0))
        return 0;
    *iso = has_word(sql, "SERIALIZABLE") ? UDR_SERIALIZABLE : UDR_SNAPSHOT;
    return 1;
}

/* -- settings -- */

/* PostgreSQL settings a session keeps (clients set and show them). */
static const char *const PG_SETTINGS[][2] = {
    {"application_name", ""},       {"client_encoding", "UTF8"},
    {"datestyle", "ISO, MDY"},      {"timezone", "UTC"},
    {"extra_float_digits", "1"},    {"search_path", "public"},
    {"statement_timeout", "0"},     {"lock_timeout", "0"},
    {"client_min_messages", "notice"}, {"standard_conforming_strings", "on"},
    {"intervalstyle", "postgres"},  {"bytea_output", "hex"},
    {"default_transaction_isolation", "repeatable read"},
    {"transaction_isolation", "repeatable read"},
    {"idle_in_transaction_session_timeout", "0"}, {"synchronous_commit", "on"},
    {"jit", "off"},                 {"lc_messages", "C"},
    {"lc_monetary", "C"},           {"lc_numeric", "C"},
    {"lc_time", "C"},               {"lc_collate", "C"},
    {"lc_ctype", "C"},              {"row_security", "on"},
    {"server_encoding", "UTF8"},    {"integer_datetimes", "on"},
    {"max_identifier_length", "63"}, {"is_superuser", "off"},
    {"default_transaction_read_only", "off"}, {"transaction_read_only", "off"},
    {"escape_string_warning", "on"}, {"work_mem", "4MB"},
};
#define NSETTINGS (sizeof PG_SETTINGS / sizeof PG_SETTINGS[0])

static int setting_index(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcasecmp(PG_SETTINGS[i][0], name) == 0)
            return (int)i;
    return -1;
}

/* Reads a setting's value: 'quoted' (unquoted), or words up to the end. */
static void setting_value(const char *p, char *out, size_t n)
{
    p = skip_space(p);
    size_t i = 0;
    if (*p == '\'') {
        for (p++; *p && i + 1 < n; p++) {
            if (*p == '\'' && p[1] == '\'')
                p++;
            else if (*p == '\'')
                break;
            out[i++] = *p;
        }
    } else {
        for (; *p && *p != ';' && i + 1 < n; p++)
            out[i++] = *p;
        while (i > 0 && isspace((unsigned char)out[i - 1]))
            i--;
        if (i >= 2 && out[0] == '"' && out[i - 1] == '"') {
            memmove(out, out + 1, i - 2);
            i -= 2;
        }
    }
    out[i] = '\0';
}

static int set_branch(session *s, const char *value, char *tag, size_t n)
{
    if (s->tx != NULL)
        return sqlrun_fail(s, "25001",
                           "udr.branch cannot change inside a transaction block: COMMIT or "
                           "ROLLBACK first");
    int dflt = value[0] == '\0' || strcasecmp(value, "DEFAULT") == 0;
    int rc = udr_use_branch(s->repo, dflt ? NULL : value);
    if (rc != UDR_OK)
        return send_error(s, "3D000", udr_errmsg(s->repo));
    s->follow_current = dflt;
    snprintf(s->branch, sizeof s->branch, "%s", udr_branch_current(s->repo));
    pgw_param_status(&s->out, "udr.branch", s->branch);
    serve_log(s, "branch %s", s->branch);
    snprintf(tag, n, "SET");
    return 0;
}

/* SET / RESET / SHOW of the session's own settings. 1 if handled (0 or -1
 * in *rc), 0 to let DuckDB have it. */
static int settings(session *s, const char *sql, udr_result **r, char *tag, size_t n, int *rc)
{
    char w1[16], name[128];
    const char *p = word(sql, w1, sizeof w1);
    int set = strcmp(w1, "SET") == 0, reset = strcmp(w1, "RESET") == 0;
    if (!set && !reset && strcmp(w1, "SHOW") != 0)
        return 0;
    p = word(p, name, sizeof name);
    if (set && (strcmp(name, "SESSION") == 0 || strcmp(name, "LOCAL") == 0)) {
        p = word(p, name, sizeof name);
        if (strcmp(name, "CHARACTERISTICS") == 0) {     /* ... AS TRANSACTION ISOLATION ... */
            snprintf(tag, n, "SET");
            return *rc = 0, 1;
        }
    }
    if (set && strcmp(name, "TIME") == 0) {             /* SET TIME ZONE x */
        char zone[8];
        p = word(p, zone, sizeof zone);
        snprintf(name, sizeof name, "TIMEZONE");
    }
    for (char *c = name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (strcmp(name, "udr.branch") == 0) {
        if (!set && !reset) {
            *rc = select_value(s, "udr.branch", udr_branch_current(s->repo), r);
            return 1;
        }
        char value[256] = "";
        if (set) {
            p = skip_space(p);
            if (*p == '=')
                p++;
            else if (strncasecmp(p, "TO", 2) == 0)
                p += 2;
            setting_value(p, value, sizeof value);
        }
        *rc = set_branch(s, value, tag, n);
        return 1;
    }
    int i = setting_index(name);
    if (i < 0) {
        if (reset && strcmp(name, "all") == 0) {
            snprintf(tag, n, "RESET");
            return *rc = 0, 1;
        }
        if (!set && !reset && strcmp(name, "server_version") == 0) {
            char v[64];
            snprintf(v, sizeof v, "15.0 (UDR %s)", udr_version());
            *rc = select_value(s, name, v, r);
            return 1;
        }
        return 0;
    }
    if (!set && !reset) {
        *rc = select_value(s, name, PG_SETTINGS[i][1], r);
        return 1;
    }
    if (set && strcmp(name, "client_encoding") == 0) {
        char value[32];
        p = skip_space(p);
        p += *p == '=' ? 1 : strncasecmp(p, "TO", 2) == 0 ? 2 : 0;
        setting_value(p, value, sizeof value);
        if (strcasecmp(value, "UTF8") != 0 && strcasecmp(value, "UTF-8") != 0 &&
            strcasecmp(value, "UNICODE") != 0 && strcasecmp(value, "DEFAULT") != 0) {
            *rc = sqlrun_fail(s, "22023", "client_encoding %s is not supported: UDR speaks UTF8",
                              value);
            return 1;
        }
    }
    snprintf(tag, n, "%s", set ? "SET" : "RESET");
    return *rc = 0, 1;
}

/* -- COPY -- */

typedef struct copy_opts {
    int csv, header, binary;
    char delim;
    char null[32];
} copy_opts;

/* Reads COPY's options after STDIN/STDOUT: WITH (FORMAT csv, HEADER, ...)
 * or the old CSV HEADER DELIMITER 'x' NULL 'x'. */
static int copy_options(const char *p, copy_opts *o)
{
    o->csv = has_word(p, "CSV");
    o->binary = has_word(p, "BINARY");
    o->header = has_word(p, "HEADER") && !has_word(p, "FALSE");
    o->delim = o->csv ? ',' : '\t';
    snprintf(o->null, sizeof o->null, "%s", o->csv ? "" : "\\N");
    const char *d = strcasestr(p, "DELIMITER");
    if (d != NULL) {
        d = strchr(d, '\'');
        if (d == NULL || d[1] == '\0' || d[2] != '\'')
            return -1;
        o->delim = d[1];
    }
    const char *nl = NULL;
    for (const char *q = p; (q = strcasestr(q, "NULL")) != NULL; q += 4)
        if (has_word(q, "NULL") && strncasecmp(q, "NULL", 4) == 0 &&
            (q == p || !isalnum((unsigned char)q[-1])))
            nl = q;
    if (nl != NULL) {
        nl = strchr(nl, '\'');
        const char *e = nl ? strchr(nl + 1, '\'') : NULL;
        if (e == NULL || (size_t)(e - nl - 1) >= sizeof o->null)
            return -1;
        snprintf(o->null, sizeof o->null, "%.*s", (int)(e - nl - 1), nl + 1);
    }
    return o->delim == '\'' || o->delim == '\n' || o->delim == '\\' ? -1 : 0;
}

/* A text-format COPY line (no newline) as one CSV line. */
static int text_line_to_csv(FILE *f, const char *line, size_t len, const copy_opts *o)
{
    size_t i = 0;
    int first = 1;
    while (i <= len) {
        size_t j = i;
        while (j < len && line[j] != o->delim)
            j++;
        if (!first)
            fputc(',', f);
        first = 0;
        size_t nlen = strlen(o->null);
        if (j - i == nlen && memcmp(line + i, o->null, nlen) == 0) {
            /* NULL: an empty unquoted field */
        } else {
            fputc('"', f);
            for (size_t k = i; k < j; k++) {
                char c = line[k];
                if (c == '\\' && k + 1 < j) {
                    char e = line[++k];
                    c = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r'
                      : e == 't' ? '\t' : e == 'v' ? '\v' : e;
                    if (e >= '0' && e <= '7') {
                        int v = e - '0';
                        for (int d = 0; d < 2 && k + 1 < j && line[k + 1] >= '0' && line[k + 1] <= '7'; d++)
                            v = v * 8 + (line[++k] - '0');
                        c = (char)v;
                    }
                }
                if (c == '"')
                    fputc('"', f);
                fputc(c, f);
            }
            fputc('"', f);
        }
        i = j + 1;
    }
    return fputc('\n', f) == EOF ? -1 : 0;
}

/* COPY target [(cols)] FROM STDIN. */
static int copy_in(session *s, const char *target, const char *cols, const copy_opts *o,
                   char *tag, size_t n)
{
    if (o->binary)
        return sqlrun_fail(s, "0A000", "COPY in binary format is not supported: use text or CSV");
    /* The table must exist, and says how many columns to expect. */
    char *probe = NULL;
    if (asprintf(&probe, "DESCRIBE SELECT %s FROM %s", cols[0] ? cols : "*", target) < 0)
        return sqlrun_fail(s, "53200", "out of memory");
    udr_result *d = NULL;
    int rc = run_sql(s, probe, &d);
    free(probe);
    if (rc != 0)
        return -1;
    uint64_t ncols = udr_result_rows(d);
    udr_result_free(d);

    /* The spool file lives in the repository's tmp/ (the one directory
     * besides objects/ a locked-down session may read), named for this
     * process so that no other process takes it for a dead writer's. */
    char path[sizeof s->root + 96];
    static uint64_t spool_seq;
    snprintf(path, sizeof path, "%s/tmp/copy.%ld.%llu.%llu.csv", s->root,
             (long)getpid(), (unsigned long long)s->id,
             (unsigned long long)__atomic_add_fetch(&spool_seq, 1, __ATOMIC_RELAXED));
    if (strchr(path, '\'') != NULL)
        return sqlrun_fail(s, "58030", "COPY: the repository's path holds a quote");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0)
            close(fd), unlink(path);
        return sqlrun_fail(s, "58030", "COPY: cannot make a spool file %s: %s", path,
                           strerror(errno));
    }
    pgw_begin(&s->out, 'G');
    pgw_u8(&s->out, 0);
    pgw_i16(&s->out, (int16_t)ncols);
    for (uint64_t i = 0; i < ncols; i++)
        pgw_i16(&s->out, 0);
    pgw_end(&s->out);
    session_flush(s);

    char *line = NULL;          /* a text line split across CopyData messages */
    size_t llen = 0, lcap = 0;
    int failed = 0, ended = 0, done = 0;
    char failmsg[512] = "";
    pgw_frame fr;
    while (!done && session_read(s, &fr)) {
        if (fr.type == 'd' && !failed && !ended) {
            if (o->csv) {
                if (fwrite(fr.body, 1, fr.len, f) != fr.len)
                    failed = 1, snprintf(failmsg, sizeof failmsg, "COPY: spool file: %s",
                                         strerror(errno));
            } else {
                for (size_t i = 0; i < fr.len && !failed && !ended; i++) {
                    char c = (char)fr.body[i];
                    if (c != '\n') {
                        if (llen + 1 >= lcap) {
                            size_t cap = lcap ? lcap * 2 : 1024;
                            char *nl = cap <= s->opts->max_message_bytes ? realloc(line, cap) : NULL;
                            if (nl == NULL) {
                                failed = 1;
                                snprintf(failmsg, sizeof failmsg, "COPY: a line is too long");
                                break;
                            }
                            line = nl;
                            lcap = cap;
                        }
                        line[llen++] = c;
                        continue;
                    }
                    if (llen > 0 && line[llen - 1] == '\r')
                        llen--;
                    if (llen == 2 && line[0] == '\\' && line[1] == '.')
                        ended = 1;
                    else if (text_line_to_csv(f, line ? line : "", llen, o) != 0)
                        failed = 1, snprintf(failmsg, sizeof failmsg, "COPY: spool file: %s",
                                             strerror(errno));
                    llen = 0;
                }
            }
        } else if (fr.type == 'c') {
            done = 1;
        } else if (fr.type == 'f') {
            const char *why = NULL, *m = NULL;
            if (pgw_parse_cstring(fr.body, fr.len, &m, &why) != 0)
                m = "?";
            snprintf(failmsg, sizeof failmsg, "COPY from stdin failed: %s", m);
            failed = 2;
            done = 1;
        } else if (fr.type != 'd' && fr.type != 'H' && fr.type != 'S') {
            snprintf(failmsg, sizeof failmsg,
                     "unexpected message type 0x%02x during COPY from stdin", (unsigned char)fr.type);
            failed = 3;
            done = 1;
        }
        session_consume(s, &fr);
    }
    if (!done && !failed)
        failed = 4, snprintf(failmsg, sizeof failmsg, "the client went away during COPY");
    if (!failed && !o->csv && llen > 0 && !ended &&
        text_line_to_csv(f, line, llen, o) != 0)
        failed = 1, snprintf(failmsg, sizeof failmsg, "COPY: spool file: %s", strerror(errno));
    free(line);
    long size = ftell(f);
    if (fclose(f) != 0 && !failed)
        failed = 1, snprintf(failmsg, sizeof failmsg, "COPY: spool file: %s", strerror(errno));
    if (failed) {
        unlink(path);
        if (failed == 4)
            return -1;
        return sqlrun_fail(s, failed == 2 ? "57014" : failed == 3 ? "08P01" : "58030", "%s",
                           failmsg);
    }
    uint64_t count = 0;
    if (size > 0) {
        char *sql = NULL;
        if (asprintf(&sql,
                     "INSERT INTO %s %s SELECT * FROM read_csv('%s', header = %s, delim = '%c', "
                     "quote = '\"', escape = '\"', all_varchar = true, "
                     "allow_quoted_nulls = false, nullstr = '%s')",
                     target, cols, path, o->csv && o->header ? "true" : "false",
                     o->csv ? o->delim : ',', o->csv ? o->null : "") < 0) {
            unlink(path);
            return sqlrun_fail(s, "53200", "out of memory");
        }
        udr_result *r = NULL;
        rc = run_sql(s, sql, &r);
        free(sql);
        count = rc == 0 ? result_count(r) : 0;
        udr_result_free(r);
        if (rc != 0) {
            unlink(path);
            return -1;
        }
    }
    unlink(path);
    snprintf(tag, n, "COPY %llu", (unsigned long long)count);
    return 0;
}


/* One value of COPY TO, in text or CSV form, appended to the line. */
static void copy_value(pgw_out *line, const char *v, size_t len, const copy_opts *o)
{
    if (v == NULL) {
        pgw_bytes(line, o->null, strlen(o->null));
        return;
    }
    if (o->csv) {
        int quote = len == 0 || (len == strlen(o->null) && memcmp(v, o->null, len) == 0);
        for (size_t i = 0; i < len && !quote; i++)
            quote = v[i] == o->delim || v[i] == '"' || v[i] == '\n' || v[i] == '\r';
        if (!quote) {
            pgw_bytes(line, v, len);
            return;
        }
        pgw_u8(line, '"');
        for (size_t i = 0; i < len; i++) {
            if (v[i] == '"')
                pgw_u8(line, '"');
            pgw_u8(line, (uint8_t)v[i]);
        }
        pgw_u8(line, '"');
        return;
    }
    for (size_t i = 0; i < len; i++) {
        char c = v[i], e = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't'
                       : c == o->delim ? c : 0;
        if (e) {
            pgw_u8(line, '\\');
            pgw_u8(line, (uint8_t)e);
        } else {
            pgw_u8(line, (uint8_t)c);
        }
    }
}

/* COPY {table | (query)} TO STDOUT. */
static int copy_out(session *s, const char *query, const copy_opts *o, char *tag, size_t n)
{
    if (o->binary)
        return sqlrun_fail(s, "0A000", "COPY in binary format is not supported: use text or CSV");
    udr_result *r = NULL;
    if (run_sql(s, query, &r) != 0)
        return -1;
    size_t ncols = udr_result_columns(r);
    uint64_t nrows = udr_result_rows(r);
    pgw_begin(&s->out, 'H');
    pgw_u8(&s->out, 0);
    pgw_i16(&s->out, (int16_t)ncols);
    for (size_t i = 0; i < ncols; i++)
        pgw_i16(&s->out, 0);
    pgw_end(&s->out);
    pgw_out line;
    pgw_out_init(&line);
    int rc = 0;
    for (uint64_t row = o->header ? 0 : 1; row <= nrows && rc == 0; row++) {
        pgw_out_reset(&line);
        for (size_t c = 0; c < ncols; c++) {
            if (c > 0)
                pgw_u8(&line, (uint8_t)o->delim);
            if (row == 0) {
                const char *name = udr_result_column_name(r, c);
                copy_value(&line, name, strlen(name), o);
                continue;
            }
            size_t len;
            int oom;
            char *v = value_text(r, row - 1, c, udr_result_column_type(r, c), &len, &oom);
            if (oom)
                line.oom = 1;
            copy_value(&line, v, v ? len : 0, o);
            free(v);
        }
        pgw_u8(&line, '\n');
        if (line.oom) {
            rc = sqlrun_fail(s, "53200", "out of memory");
            break;
        }
        pgw_begin(&s->out, 'd');
        pgw_bytes(&s->out, line.data, line.len);
        pgw_end(&s->out);
        if (s->out.len > 256 * 1024 && session_flush(s) != 0)
            rc = -1;
    }
    pgw_out_free(&line);
    udr_result_free(r);
    if (rc != 0)
        return -1;
    pgw_begin(&s->out, 'c');
    pgw_end(&s->out);
    snprintf(tag, n, "COPY %llu", (unsigned long long)nrows);
    return 0;
}

/* COPY ...: 1 if handled (result in *rc), 0 if not a COPY. */
static int copy(session *s, const char *sql, char *tag, size_t n, int *rc)
{
    char w[16];
    const char *p = word(sql, w, sizeof w);
    if (strcmp(w, "COPY") != 0)
        return 0;
    *rc = -1;
    while (isspace((unsigned char)*p))
        p++;
    /* The source: (query), or a table name with an optional column list. */
    const char *t0 = p, *t1;
    char *target = NULL, *cols = NULL;
    if (*p == '(') {
        int depth = 1;
        for (t1 = p + 1; *t1 && depth > 0; t1++) {
            if (*t1 == '\'') {
                for (t1++; *t1 && *t1 != '\''; t1++) {}
                if (*t1 == '\0')
                    break;
            }
            depth += *t1 == '(' ? 1 : *t1 == ')' ? -1 : 0;
        }
        p = t1;
    } else {
        for (t1 = p; *t1 && !isspace((unsigned char)*t1) && *t1 != '('; t1++)
            if (*t1 == '"')
                for (t1++; *t1 && *t1 != '"'; t1++) {}
        for (p = t1; isspace((unsigned char)*p); p++) {}
        if (*p == '(') {
            const char *c1 = strchr(p, ')');
            if (c1 == NULL)
                return *rc = sqlrun_fail(s, "42601", "COPY: unclosed column list"), 1;
            cols = strndup(p, (size_t)(c1 - p + 1));
            p = c1 + 1;
        }
    }
    target = strndup(t0, (size_t)(t1 - t0));
    char dir[16], where[16];
    p = word(p, dir, sizeof dir);
    p = word(p, where, sizeof where);
    copy_opts o;
    if (target == NULL) {
        *rc = sqlrun_fail(s, "53200", "out of memory");
    } else if (copy_options(p, &o) != 0) {
        *rc = sqlrun_fail(s, "42601", "COPY: malformed DELIMITER or NULL option");
    } else if (strcmp(dir, "FROM") == 0 && strcmp(where, "STDIN") == 0) {
        if (target[0] == '(')
            *rc = sqlrun_fail(s, "42601", "COPY FROM takes a table, not a query");
        else
            *rc = copy_in(s, target, cols ? cols : "", &o, tag, n);
    } else if (strcmp(dir, "TO") == 0 && strcmp(where, "STDOUT") == 0) {
        char *q = NULL;
        if (target[0] == '(' ? asprintf(&q, "%s", target) < 0
                             : asprintf(&q, "SELECT %.*s FROM %s", cols ? (int)strlen(cols) - 2 : 1,
                                        cols ? cols + 1 : "*", target) < 0)
            *rc = sqlrun_fail(s, "53200", "out of memory");
        else
            *rc = copy_out(s, q, &o, tag, n);
        free(q);
    } else if (s->opts->allow_files) {
        free(target);
        free(cols);
        return 0;       /* COPY ... TO 'file' and FROM 'file': DuckDB's */
    } else {
        *rc = sqlrun_fail(s, "42501",
                          "COPY to or from a file of the server is not allowed: use COPY ... "
                          "FROM STDIN or TO STDOUT (psql's \\copy), or start the server with "
                          "--allow-file-access");
    }
    free(target);
    free(cols);
    return 1;
}

/* -- bytea literals -- */

/* PostgreSQL clients send bytea as '\x0a0b...'::bytea (hex form, as
 * bytea_output = hex); DuckDB reads '\x0a' in a string as one escaped byte
 * and the rest as text. Returns sql with each such literal made
 * from_hex('0a0b...') (malloc'd), or NULL when there is none or memory ran
 * out (then sql runs as it is). */
static char *rewrite_bytea(const char *sql)
{
    if (strcasestr(sql, "::bytea") == NULL)
        return NULL;
    size_t cap = strlen(sql) + 64, len = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    int changed = 0;
    for (const char *p = sql; *p;) {
        if (*p == '\'' && p[1] == '\\' && p[2] == 'x') {
            const char *h = p + 3;
            while (isxdigit((unsigned char)*h))
                h++;
            if (*h == '\'' && (h - p - 3) % 2 == 0 && strncasecmp(h + 1, "::bytea", 7) == 0 &&
                !isalnum((unsigned char)h[8]) && h[8] != '_') {
                size_t need = (size_t)(h - p) + 32;
                if (len + need >= cap) {
                    cap = (cap + need) * 2;
                    char *g = realloc(out, cap);
                    if (g == NULL)
                        return free(out), NULL;
                    out = g;
                }
                len += (size_t)sprintf(out + len, "from_hex('%.*s')", (int)(h - p - 3), p + 3);
                p = h + 8;
                changed = 1;
                continue;
            }
        }
        if (*p == '\'' || *p == '"') {     /* copy a whole string or name */
            char q = *p;
            const char *e = p + 1;
            while (*e && !(*e == q && e[1] != q))
                e += *e == q ? 2 : 1;
            size_t n = (size_t)(e - p) + (*e ? 1 : 0);
            if (len + n + 1 >= cap) {
                cap = (cap + n) * 2;
                char *g = realloc(out, cap);
                if (g == NULL)
                    return free(out), NULL;
                out = g;
            }
            memcpy(out + len, p, n);
            len += n;
            p += n;
            continue;
        }
        if (len + 2 >= cap) {
            cap *= 2;
            char *g = realloc(out, cap);
            if (g == NULL)
                return free(out), NULL;
            out = g;
        }
        out[len++] = *p++;
    }
    out[len] = '\0';
    if (!changed) {
        free(out);
        return NULL;
    }
    return out;
}

/* -- the dispatcher -- */

/* Runs sql: its result (or NULL) to *r and its CommandComplete tag. 0, or
 * -1 after an error was sent. */
static int exec_sql(session *s, const char *sql, udr_result **r, char *tag, size_t n, int *rows)
{
    *r = NULL;
    *rows = 0;
    tag[0] = '\0';
    s->statements++;
    udr_isolation iso = UDR_SNAPSHOT;
    int ctl = udr_sql_tx_control(s->repo, sql, &iso);
    if (ctl < 0 && loose_begin(sql, &iso))
        ctl = 1;
    if (ctl > 0) {
        if (s->tx_failed && ctl == 1)
            return sqlrun_fail(s, "25P02", "current transaction is aborted, commands ignored "
                                           "until end of transaction block");
        return tx_control(s, ctl, iso, tag, n);
    }
    if (s->tx_failed)
        return sqlrun_fail(s, "25P02", "current transaction is aborted, commands ignored until "
                                       "end of transaction block");
    if (ctl < 0)
        return sqlrun_error(s, ctl, udr_errmsg(s->repo));
    char w[16];
    word(sql, w, sizeof w);
    static const char *const WRITES[] = {"INSERT", "UPDATE", "DELETE", "CREATE", "DROP",
                                         "COPY", "ALTER", "MERGE", "CALL"};
    for (size_t i = 0; i < sizeof WRITES / sizeof WRITES[0]; i++)
        s->writes += strcmp(w, WRITES[i]) == 0;
    if (strcmp(w, "SAVEPOINT") == 0 || strcmp(w, "RELEASE") == 0)
        return sqlrun_fail(s, "0A000", "savepoints are not supported by UDR transactions");
    int rc = 0;
    if (settings(s, sql, r, tag, n, &rc)) {
        if (rc == 0 && *r != NULL)
            snprintf(tag, n, "SHOW"), *rows = 1;
        return rc;
    }
    if (copy(s, sql, tag, n, &rc))
        return rc;
    int crc = 0;
    pgcat_names who = {.database = s->database, .user = s->user};
    char *rewritten = pgcat_rewrite_names(s->repo, sql, &who, &crc);
    if (crc < 0)
        return sqlrun_error(s, crc, udr_errmsg(s->repo));
    char *bytea = rewritten ? NULL : rewrite_bytea(sql);
    rc = run_sql(s, rewritten ? rewritten : bytea ? bytea : sql, r);
    free(bytea);
    free(rewritten);
    if (rc != 0)
        return -1;
    *rows = *r != NULL && udr_result_columns(*r) > 0 &&
            (sqlrun_returns_rows(sql) || rewritten != NULL);
    make_tag(sql, *r, *rows, tag, n);
    return 0;
}

int sqlrun_statement(session *s, const char *sql, const run_opts *ro)
{
    udr_result *r = NULL;
    char tag[64];
    int rows;
    if (exec_sql(s, sql, &r, tag, sizeof tag, &rows) != 0)
        return -1;
    int rc = 0;
    if (rows) {
        if (ro->describe)
            sqlrun_describe(s, r, ro->formats, ro->nformats);
        rc = send_rows(s, r, 0, udr_result_rows(r), ro->formats, ro->nformats);
    }
    if (rc == 0)
        pgw_complete(&s->out, tag);
    udr_result_free(r);
    return rc;
}

int sqlrun_portal(session *s, portal *p)
{
    p->run = 1;
    udr_result_free(p->r);
    p->r = NULL;
    p->next_row = 0;
    int rows;
    if (exec_sql(s, p->sql, &p->r, p->tag, sizeof p->tag, &rows) != 0)
        return -1;
    if (p->r != NULL && !rows) {
        udr_result_free(p->r);
        p->r = NULL;
    }
    return 0;
}

int sqlrun_describe_sql(session *s, const char *sql)
{
    char w[16];
    word(sql, w, sizeof w);
    int plain = strcmp(w, "SELECT") == 0 || strcmp(w, "WITH") == 0 ||
                strcmp(w, "VALUES") == 0 || strcmp(w, "FROM") == 0 || strcmp(w, "TABLE") == 0;
    int crc = 0;
    pgcat_names who = {.database = s->database, .user = s->user};
    char *rewritten = plain ? pgcat_rewrite_names(s->repo, sql, &who, &crc) : NULL;
    if (crc < 0)
        return sqlrun_error(s, crc, udr_errmsg(s->repo));
    if (!plain || rewritten != NULL) {
        /* SHOW, catalog queries ...: cheap and read-only; run them. */
        udr_result *r = NULL;
        char tag[64];
        int rows;
        free(rewritten);
        if (exec_sql(s, sql, &r, tag, sizeof tag, &rows) != 0)
            return -1;
        if (r == NULL || !rows) {
            pgw_begin(&s->out, 'n');
            pgw_end(&s->out);
        } else {
            sqlrun_describe(s, r, NULL, 0);
        }
        udr_result_free(r);
        return 0;
    }
    char *d = NULL;
    if (asprintf(&d, "DESCRIBE %s", sql) < 0)
        return sqlrun_fail(s, "53200", "out of memory");
    udr_result *r = NULL;
    int rc = run_sql(s, d, &r);
    free(d);
    if (rc != 0)
        return -1;
    size_t n = (size_t)udr_result_rows(r);
    char **names = calloc(n + 1, sizeof *names), **types = calloc(n + 1, sizeof *types);
    for (size_t i = 0; names && types && i < n; i++) {
        names[i] = udr_result_text(r, i, 0);
        types[i] = udr_result_text(r, i, 1);
        if (names[i] == NULL || types[i] == NULL)
            s->out.oom = 1;
    }
    if (names == NULL || types == NULL)
        s->out.oom = 1;
    else if (!s->out.oom)
        describe_cols(s, n, (const char *const *)names, (const char *const *)types, NULL, 0);
    for (size_t i = 0; names && types && i < n; i++) {
        udr_free(names[i]);
        udr_free(types[i]);
    }
    free(names);
    free(types);
    udr_result_free(r);
    return 0;
}
