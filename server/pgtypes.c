/*
 * pgtypes — DuckDB's types as PostgreSQL's (see pgtypes.h for what is
 * converted and why).
 *
 * A DuckDB type text is read as a scalar name followed by zero or more
 * "[]": the scalar is looked up in DUCK_NAMES (exact names, any case;
 * DECIMAL and NUMERIC with or without "(p,s)"), which gives its PostgreSQL
 * type and how its values are converted (a conv). A list is sent as the
 * array type of its scalar when there is one (PostgreSQL's arrays are
 * multi-dimensional, so INTEGER[][] is int4[] too), else as text.
 *
 * Lists are parsed from DuckDB's text: "[" elements separated by ", " "]",
 * where an element is a nested list, a quoted string ('...' with \' and \\
 * escapes, which DuckDB uses when an element holds , [ ] { } ' " : = or
 * outer spaces, is empty or spells null), or raw text up to the next , or ]
 * (the raw word NULL is a SQL NULL). Each element is converted as a scalar
 * of its type, then quoted as PostgreSQL's array_out() does. Text that does
 * not parse is sent as it came rather than failing the row.
 */
#include "pgtypes.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

/* How a type's values are rewritten for PostgreSQL. */
typedef enum conv {
    CONV_NONE = 0,        /* DuckDB's text is PostgreSQL's */
    CONV_BOOL,            /* true/false -> t/f */
    CONV_FLOAT4,          /* shortest digits, PostgreSQL's notation */
    CONV_FLOAT8,
    CONV_INTERVAL,        /* month(s) -> mon(s) */
    CONV_DATETIME,        /* " (BC)" -> trailing " BC" */
    CONV_BLOB,            /* raw bytes (or, in a list, DuckDB's \xHH text) -> \x hex */
} conv;

/* The types this module knows, by oid. */
static const pg_type TYPES[] = {
    {16, 1, "bool", "boolean", 0, 1000, 'B'},
    {17, -1, "bytea", "bytea", 0, 1001, 'U'},
    {18, 1, "char", "\"char\"", 0, 1002, 'Z'},
    {19, 64, "name", "name", 18, 1003, 'S'},
    {20, 8, "int8", "bigint", 0, 1016, 'N'},
    {21, 2, "int2", "smallint", 0, 1005, 'N'},
    {23, 4, "int4", "integer", 0, 1007, 'N'},
    {25, -1, "text", "text", 0, 1009, 'S'},
    {26, 4, "oid", "oid", 0, 1028, 'N'},
    {114, -1, "json", "json", 0, 199, 'U'},
    {199, -1, "_json", "json[]", 114, 0, 'A'},
    {700, 4, "float4", "real", 0, 1021, 'N'},
    {701, 8, "float8", "double precision", 0, 1022, 'N'},
    {1000, -1, "_bool", "boolean[]", 16, 0, 'A'},
    {1001, -1, "_bytea", "bytea[]", 17, 0, 'A'},
    {1002, -1, "_char", "\"char\"[]", 18, 0, 'A'},
    {1003, -1, "_name", "name[]", 19, 0, 'A'},
    {1005, -1, "_int2", "smallint[]", 21, 0, 'A'},
    {1007, -1, "_int4", "integer[]", 23, 0, 'A'},
    {1009, -1, "_text", "text[]", 25, 0, 'A'},
    {1014, -1, "_bpchar", "character[]", 1042, 0, 'A'},
    {1015, -1, "_varchar", "character varying[]", 1043, 0, 'A'},
    {1016, -1, "_int8", "bigint[]", 20, 0, 'A'},
    {1021, -1, "_float4", "real[]", 700, 0, 'A'},
    {1022, -1, "_float8", "double precision[]", 701, 0, 'A'},
    {1028, -1, "_oid", "oid[]", 26, 0, 'A'},
    {1042, -1, "bpchar", "character", 0, 1014, 'S'},
    {1043, -1, "varchar", "character varying", 0, 1015, 'S'},
    {1082, 4, "date", "date", 0, 1182, 'D'},
    {1083, 8, "time", "time without time zone", 0, 1183, 'D'},
    {1114, 8, "timestamp", "timestamp without time zone", 0, 1115, 'D'},
    {1115, -1, "_timestamp", "timestamp without time zone[]", 1114, 0, 'A'},
    {1182, -1, "_date", "date[]", 1082, 0, 'A'},
    {1183, -1, "_time", "time without time zone[]", 1083, 0, 'A'},
    {1184, 8, "timestamptz", "timestamp with time zone", 0, 1185, 'D'},
    {1185, -1, "_timestamptz", "timestamp with time zone[]", 1184, 0, 'A'},
    {1186, 16, "interval", "interval", 0, 1187, 'T'},
    {1187, -1, "_interval", "interval[]", 1186, 0, 'A'},
    {1231, -1, "_numeric", "numeric[]", 1700, 0, 'A'},
    {1266, 12, "timetz", "time with time zone", 0, 1270, 'D'},
    {1270, -1, "_timetz", "time with time zone[]", 1266, 0, 'A'},
    {1700, -1, "numeric", "numeric", 0, 1231, 'N'},
    {2950, 16, "uuid", "uuid", 0, 2951, 'U'},
    {2951, -1, "_uuid", "uuid[]", 2950, 0, 'A'},
    {3802, -1, "jsonb", "jsonb", 0, 3807, 'U'},
    {3807, -1, "_jsonb", "jsonb[]", 3802, 0, 'A'},
};
#define NTYPES (sizeof TYPES / sizeof TYPES[0])

/* DuckDB's scalar type names (and their aliases) and what they are sent as. */
static const struct duck_name {
    const char *name;
    uint32_t oid;
    conv conv;
} DUCK_NAMES[] = {
    {"BOOLEAN", 16, CONV_BOOL},     {"BOOL", 16, CONV_BOOL},
    {"TINYINT", 21, CONV_NONE},     {"SMALLINT", 21, CONV_NONE},
    {"UTINYINT", 21, CONV_NONE},    {"INT2", 21, CONV_NONE},
    {"INTEGER", 23, CONV_NONE},     {"INT", 23, CONV_NONE},
    {"INT4", 23, CONV_NONE},        {"USMALLINT", 23, CONV_NONE},
    {"BIGINT", 20, CONV_NONE},      {"INT8", 20, CONV_NONE},
    {"UINTEGER", 20, CONV_NONE},    {"UBIGINT", 1700, CONV_NONE},
    {"HUGEINT", 1700, CONV_NONE},   {"UHUGEINT", 1700, CONV_NONE},
    {"VARINT", 1700, CONV_NONE},    {"BIGNUM", 1700, CONV_NONE},
    {"FLOAT", 700, CONV_FLOAT4},    {"REAL", 700, CONV_FLOAT4},
    {"FLOAT4", 700, CONV_FLOAT4},   {"DOUBLE", 701, CONV_FLOAT8},
    {"FLOAT8", 701, CONV_FLOAT8},   {"VARCHAR", 25, CONV_NONE},
    {"TEXT", 25, CONV_NONE},        {"STRING", 25, CONV_NONE},
    {"BLOB", 17, CONV_BLOB},        {"BYTEA", 17, CONV_BLOB},
    {"DATE", 1082, CONV_DATETIME},  {"TIME", 1083, CONV_NONE},
    {"TIME WITH TIME ZONE", 1266, CONV_NONE}, {"TIMETZ", 1266, CONV_NONE},
    {"TIMESTAMP", 1114, CONV_DATETIME},       {"DATETIME", 1114, CONV_DATETIME},
    {"TIMESTAMP_S", 1114, CONV_DATETIME},     {"TIMESTAMP_MS", 1114, CONV_DATETIME},
    {"TIMESTAMP_NS", 1114, CONV_DATETIME},
    {"TIMESTAMP WITH TIME ZONE", 1184, CONV_DATETIME},
    {"TIMESTAMPTZ", 1184, CONV_DATETIME},
    {"INTERVAL", 1186, CONV_INTERVAL},        {"UUID", 2950, CONV_NONE},
    {"JSON", 114, CONV_NONE},
};

const pg_type *pg_type_by_oid(uint32_t oid)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (TYPES[i].oid == oid)
            return &TYPES[i];
    return NULL;
}

const pg_type *pg_type_at(size_t n)
{
    return n < NTYPES ? &TYPES[n] : NULL;
}

/* The text type, what anything unknown is sent as. */
static const pg_type *text_type(void)
{
    return pg_type_by_oid(25);
}

/* Splits a DuckDB type into its scalar (name, nlen: without trailing
 * spaces) and its list depth (the number of trailing "[]"). */
static void split_list(const char *t, size_t *nlen, int *depth)
{
    size_t n = strlen(t);
    *depth = 0;
    for (;;) {
        while (n > 0 && isspace((unsigned char)t[n - 1]))
            n--;
        if (n >= 2 && t[n - 2] == '[' && t[n - 1] == ']') {
            n -= 2;
            (*depth)++;
            continue;
        }
        break;
    }
    while (n > 0 && isspace((unsigned char)*t)) {
        t++;
        n--;
    }
    *nlen = n;
}

/* 1 if t (n bytes) is DECIMAL or NUMERIC, with or without "(p,s)". */
static int is_decimal(const char *t, size_t n)
{
    static const char *const names[] = {"DECIMAL", "NUMERIC"};
    for (size_t i = 0; i < 2; i++) {
        size_t k = strlen(names[i]);
        if (n >= k && strncasecmp(t, names[i], k) == 0 && (n == k || t[k] == '('))
            return 1;
    }
    return 0;
}

/* The PostgreSQL scalar type and conversion of a DuckDB scalar type (t, n
 * bytes), or NULL (sent as text, unconverted). */
static const pg_type *scalar_of(const char *t, size_t n, conv *cv)
{
    *cv = CONV_NONE;
    if (is_decimal(t, n))
        return pg_type_by_oid(1700);
    for (size_t i = 0; i < sizeof DUCK_NAMES / sizeof DUCK_NAMES[0]; i++) {
        if (strlen(DUCK_NAMES[i].name) == n && strncasecmp(t, DUCK_NAMES[i].name, n) == 0) {
            *cv = DUCK_NAMES[i].conv;
            return pg_type_by_oid(DUCK_NAMES[i].oid);
        }
    }
    return NULL;
}

/* What a DuckDB type is sent as: its type, the conversion of its scalars
 * and its list depth (0 when it is sent as a scalar or as plain text). */
static const pg_type *classify(const char *duckdb_type, conv *cv, int *depth)
{
    *cv = CONV_NONE;
    *depth = 0;
    if (duckdb_type == NULL)
        return text_type();
    /* Leading spaces are skipped by split_list; the name starts after them. */
    const char *t = duckdb_type;
    while (isspace((unsigned char)*t))
        t++;
    size_t n;
    int d;
    split_list(t, &n, &d);
    const pg_type *s = scalar_of(t, n, cv);
    if (s == NULL) {
        *cv = CONV_NONE;
        return text_type();
    }
    if (d == 0)
        return s;
    const pg_type *a = s->array ? pg_type_by_oid(s->array) : NULL;
    if (a == NULL) {
        *cv = CONV_NONE;
        return text_type();
    }
    *depth = d;
    return a;
}

const pg_type *pg_type_of(const char *duckdb_type)
{
    conv cv;
    int depth;
    return classify(duckdb_type, &cv, &depth);
}

void pg_type_format(const char *duckdb_type, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    conv cv;
    int depth;
    const pg_type *t = classify(duckdb_type, &cv, &depth);
    const pg_type *scalar = t->elem ? pg_type_by_oid(t->elem) : t;
    const char *suffix = t->elem ? "[]" : "";
    if (scalar->oid == 1700 && duckdb_type != NULL) {
        /* DECIMAL(p,s) keeps its precision and scale: numeric(p,s). */
        const char *paren = strchr(duckdb_type, '(');
        unsigned p, s;
        if (paren != NULL && sscanf(paren, "(%u ,%u)", &p, &s) == 2) {
            snprintf(out, outlen, "numeric(%u,%u)%s", p, s, suffix);
            return;
        }
    }
    snprintf(out, outlen, "%s%s", scalar->sql, suffix);
}

const char *pg_type_param_cast(uint32_t oid)
{
    switch (oid) {
    case 16: return "BOOLEAN";
    case 17: return "BLOB";
    case 20: return "BIGINT";
    case 21: return "SMALLINT";
    case 23: return "INTEGER";
    case 26: return "UINTEGER";
    case 700: return "FLOAT";
    case 701: return "DOUBLE";
    case 1082: return "DATE";
    case 1083: return "TIME";
    case 1114: return "TIMESTAMP";
    case 1184: return "TIMESTAMPTZ";
    case 1186: return "INTERVAL";
    case 1266: return "TIMETZ";
    case 2950: return "UUID";
    default: return NULL;
    }
}

/* ---- scalar conversions ------------------------------------------------- */

/* Appends bytes as PostgreSQL's hex bytea: \x then two lowercase digits a byte. */
static void add_hex(buf *b, const unsigned char *p, size_t n)
{
    static const char HEX[] = "0123456789abcdef";
    buf_adds(b, "\\x");
    for (size_t i = 0; i < n; i++) {
        buf_addc(b, HEX[p[i] >> 4]);
        buf_addc(b, HEX[p[i] & 15]);
    }
}

/* Appends DuckDB's text of a blob (printable bytes as they are, others as
 * \xHH) as PostgreSQL's hex bytea. */
static void add_blob_text(buf *b, const char *v, size_t n)
{
    buf raw;
    buf_init(&raw);
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\\' && i + 3 < n && v[i + 1] == 'x' && isxdigit((unsigned char)v[i + 2]) &&
            isxdigit((unsigned char)v[i + 3])) {
            char two[3] = {v[i + 2], v[i + 3], 0};
            buf_addc(&raw, (char)strtoul(two, NULL, 16));
            i += 3;
            continue;
        }
        buf_addc(&raw, v[i]);
    }
    if (raw.oom)
        b->oom = 1;
    else
        add_hex(b, (const unsigned char *)raw.data, raw.len);
    buf_free(&raw);
}

/* Appends a float in PostgreSQL's notation (float4out/float8out with
 * extra_float_digits = 1): the shortest digits that read back as the same
 * value, in fixed notation for decimal exponents -4 .. dig-1, else
 * d.ddde+XX. Returns -1 if v is not a number DuckDB would print. */
static int add_float(buf *b, const char *v, size_t n, int is_float4)
{
    char in[64];
    if (n == 0 || n >= sizeof in)
        return -1;
    memcpy(in, v, n);
    in[n] = '\0';
    const char *num = in[0] == '-' || in[0] == '+' ? in + 1 : in;
    if (strcasecmp(num, "inf") == 0 || strcasecmp(num, "infinity") == 0) {
        buf_adds(b, in[0] == '-' ? "-Infinity" : "Infinity");
        return 0;
    }
    if (strcasecmp(num, "nan") == 0) {
        buf_adds(b, "NaN");
        return 0;
    }
    char *end;
    double d = strtod(in, &end);
    if (*end != '\0' || !isfinite(d))
        return -1;
    char e[40];
    int maxp = is_float4 ? 9 : 17;
    for (int p = 1; p <= maxp; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, is_float4 ? (double)(float)d : d);
        if (is_float4 ? strtof(e, NULL) == (float)d : strtod(e, NULL) == d)
            break;
    }
    /* e: [-]d[.ddd]e[+-]XX */
    const char *p = e;
    if (*p == '-')
        buf_addc(b, *p++);
    char digits[24];
    size_t nd = 0;
    for (; *p != 'e' && *p != '\0'; p++)
        if (isdigit((unsigned char)*p) && nd < sizeof digits - 1)
            digits[nd++] = *p;
    if (*p != 'e')
        return -1;
    int x = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    if (d == 0) {
        buf_addc(b, '0');
        return 0;
    }
    int dig = is_float4 ? 6 : 15;
    if (x < -4 || x >= dig) {
        buf_addc(b, digits[0]);
        if (nd > 1) {
            buf_addc(b, '.');
            buf_adds(b, digits + 1);
        }
        buf_printf(b, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    } else if (x < 0) {
        buf_adds(b, "0.");
        for (int i = 0; i < -x - 1; i++)
            buf_addc(b, '0');
        buf_adds(b, digits);
    } else {
        for (int i = 0; i <= x; i++)
            buf_addc(b, (size_t)i < nd ? digits[i] : '0');
        if (nd > (size_t)x + 1) {
            buf_addc(b, '.');
            buf_adds(b, digits + x + 1);
        }
    }
    return 0;
}

/* Appends DuckDB's interval text with PostgreSQL's unit names: "month" and
 * "months" become "mon" and "mons"; the rest is spelt alike. */
static void add_interval(buf *b, const char *v, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (n - i >= 5 && memcmp(v + i, "month", 5) == 0) {
            buf_adds(b, "mon");
            i += 5;
            continue;
        }
        buf_addc(b, v[i++]);
    }
}

/* Appends a date or timestamp, DuckDB's " (BC)" after the date moved to
 * the end as PostgreSQL's " BC". */
static void add_datetime(buf *b, const char *v, size_t n)
{
    static const char BC[] = " (BC)";
    for (size_t i = 0; i + sizeof BC - 1 <= n; i++) {
        if (memcmp(v + i, BC, sizeof BC - 1) == 0) {
            buf_add(b, v, i);
            buf_add(b, v + i + sizeof BC - 1, n - i - (sizeof BC - 1));
            buf_adds(b, " BC");
            return;
        }
    }
    buf_add(b, v, n);
}

/* Appends one scalar value converted; in_list: a blob's value is DuckDB's
 * escaped text rather than raw bytes. */
static void add_scalar(buf *b, conv cv, const char *v, size_t n, int in_list)
{
    switch (cv) {
    case CONV_BOOL:
        if (n == 4 && memcmp(v, "true", 4) == 0)
            buf_addc(b, 't');
        else if (n == 5 && memcmp(v, "false", 5) == 0)
            buf_addc(b, 'f');
        else
            buf_add(b, v, n);
        return;
    case CONV_FLOAT4:
    case CONV_FLOAT8: {
        size_t mark = b->len;
        if (add_float(b, v, n, cv == CONV_FLOAT4) != 0) {
            b->len = mark;
            buf_add(b, v, n);
        }
        return;
    }
    case CONV_INTERVAL:
        add_interval(b, v, n);
        return;
    case CONV_DATETIME:
        add_datetime(b, v, n);
        return;
    case CONV_BLOB:
        if (in_list)
            add_blob_text(b, v, n);
        else
            add_hex(b, (const unsigned char *)v, n);
        return;
    case CONV_NONE:
        break;
    }
    buf_add(b, v, n);
}

/* ---- lists -------------------------------------------------------------- */

/* Appends an array element as array_out() writes it: in double quotes,
 * with \ before " and \, when it is empty, spells NULL, or holds a space,
 * a quote, a backslash, a brace or the delimiter. */
static void add_array_elem(buf *b, const char *v, size_t n)
{
    int quote = n == 0 || (n == 4 && strncasecmp(v, "NULL", 4) == 0);
    for (size_t i = 0; i < n && !quote; i++)
        quote = strchr("\"\\{},", v[i]) != NULL || v[i] == ' ' || v[i] == '\t' ||
                v[i] == '\n' || v[i] == '\r' || v[i] == '\v' || v[i] == '\f';
    if (!quote) {
        buf_add(b, v, n);
        return;
    }
    buf_addc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"' || v[i] == '\\')
            buf_addc(b, '\\');
        buf_addc(b, v[i]);
    }
    buf_addc(b, '"');
}

/* Converts the DuckDB list at v[*pos] (a '[') of depth levels to a
 * PostgreSQL array appended to b; *pos moves past its ']'. Returns 0, or -1
 * if the text is not a list as DuckDB prints one. */
static int add_list(buf *b, const char *v, size_t n, size_t *pos, conv cv, int depth)
{
    size_t i = *pos;
    if (i >= n || v[i] != '[')
        return -1;
    i++;
    buf_addc(b, '{');
    if (i < n && v[i] == ']') {
        buf_addc(b, '}');
        *pos = i + 1;
        return 0;
    }
    buf elem;
    buf_init(&elem);
    int rc = -1;
    for (;;) {
        if (i >= n)
            goto done;
        if (depth > 1 && v[i] == '[') {
            if (add_list(b, v, n, &i, cv, depth - 1) != 0)
                goto done;
        } else if (v[i] == '\'') {
            /* quoted: \x stands for x */
            elem.len = 0;
            for (i++; i < n && v[i] != '\''; i++) {
                if (v[i] == '\\' && i + 1 < n)
                    i++;
                buf_addc(&elem, v[i]);
            }
            if (i >= n)
                goto done;
            i++;
            buf tmp;
            buf_init(&tmp);
            add_scalar(&tmp, cv, elem.data ? elem.data : "", elem.len, 1);
            if (tmp.oom)
                b->oom = 1;
            else
                add_array_elem(b, tmp.data ? tmp.data : "", tmp.len);
            buf_free(&tmp);
        } else {
            size_t start = i;
            while (i < n && v[i] != ',' && v[i] != ']')
                i++;
            if (i - start == 4 && memcmp(v + start, "NULL", 4) == 0) {
                buf_adds(b, "NULL");
            } else {
                buf tmp;
                buf_init(&tmp);
                add_scalar(&tmp, cv, v + start, i - start, 1);
                if (tmp.oom)
                    b->oom = 1;
                else
                    add_array_elem(b, tmp.data ? tmp.data : "", tmp.len);
                buf_free(&tmp);
            }
        }
        if (i >= n)
            goto done;
        if (v[i] == ']') {
            buf_addc(b, '}');
            *pos = i + 1;
            rc = 0;
            goto done;
        }
        if (v[i] != ',')
            goto done;
        i++;
        if (i < n && v[i] == ' ')
            i++;
        buf_addc(b, ',');
    }
done:
    buf_free(&elem);
    return rc;
}

char *pg_type_text(const char *duckdb_type, const char *value, size_t value_len, size_t *len)
{
    conv cv;
    int depth;
    classify(duckdb_type, &cv, &depth);
    buf b;
    buf_init(&b);
    if (value == NULL)
        value = "";
    if (depth > 0) {
        size_t pos = 0;
        if (add_list(&b, value, value_len, &pos, cv, depth) != 0 || pos != value_len) {
            int oom = b.oom;
            buf_free(&b);
            buf_init(&b);
            b.oom = oom;
            buf_add(&b, value, value_len);
        }
    } else {
        add_scalar(&b, cv, value, value_len, 0);
    }
    size_t n = 0;
    char *out = buf_take(&b, &n);
    if (out != NULL && len != NULL)
        *len = n;
    return out;
}
