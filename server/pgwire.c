/*
 * pgwire — PostgreSQL protocol 3.0 messages as bytes (see pgwire.h).
 *
 * Parsing never trusts a count: every count is checked against the bytes
 * left before anything is read or allocated, so a message claiming 65,535
 * parameters in ten bytes fails at once.
 */
#include "pgwire.h"

#include <stdlib.h>
#include <string.h>

/* ---- reading ----------------------------------------------------------------- */

void pgw_rd_init(pgw_rd *r, const void *body, size_t len)
{
    r->p = body;
    r->end = r->p + len;
    r->bad = 0;
}

size_t pgw_rd_left(const pgw_rd *r)
{
    return r->bad ? 0 : (size_t)(r->end - r->p);
}

const uint8_t *pgw_rd_bytes(pgw_rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *at = r->p;
    r->p += n;
    return at;
}

uint32_t pgw_u32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint16_t pgw_u16_at(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

uint8_t pgw_rd_u8(pgw_rd *r)
{
    const uint8_t *p = pgw_rd_bytes(r, 1);
    return p ? p[0] : 0;
}

int16_t pgw_rd_i16(pgw_rd *r)
{
    const uint8_t *p = pgw_rd_bytes(r, 2);
    return p ? (int16_t)pgw_u16_at(p) : 0;
}

int32_t pgw_rd_i32(pgw_rd *r)
{
    const uint8_t *p = pgw_rd_bytes(r, 4);
    return p ? (int32_t)pgw_u32_at(p) : 0;
}

const char *pgw_rd_str(pgw_rd *r)
{
    if (r->bad)
        return NULL;
    const uint8_t *nul = memchr(r->p, 0, (size_t)(r->end - r->p));
    if (nul == NULL) {
        r->bad = 1;
        return NULL;
    }
    const char *s = (const char *)r->p;
    r->p = nul + 1;
    return s;
}

int pgw_next_frame(const uint8_t *buf, size_t len, int startup, size_t max_bytes,
                   pgw_frame *out, size_t *need)
{
    size_t head = startup ? 4 : 5;
    if (need != NULL)
        *need = head;
    if (len < head)
        return 0;
    uint32_t n = pgw_u32_at(buf + head - 4);
    if (n < 4 || n > max_bytes)
        return -1;
    size_t total = head - 4 + (size_t)n;
    if (need != NULL)
        *need = total;
    if (len < total)
        return 0;
    out->type = startup ? 0 : (char)buf[0];
    out->body = buf + head;
    out->len = total - head;
    out->total = total;
    return 1;
}

/* Ends a parse: 0 if everything was read and nothing is left over. */
static int finish(pgw_rd *r, const char **why, const char *what)
{
    if (r->bad) {
        *why = what;
        return -1;
    }
    if (r->p != r->end) {
        *why = "message longer than its fields";
        return -1;
    }
    return 0;
}

int pgw_parse_startup(const void *body, size_t len, pgw_startup *out, const char **why)
{
    memset(out, 0, sizeof *out);
    pgw_rd r;
    pgw_rd_init(&r, body, len);
    out->code = (uint32_t)pgw_rd_i32(&r);
    if (r.bad)
        return *why = "startup packet shorter than its protocol code", -1;
    if (out->code == PGW_SSL_REQUEST || out->code == PGW_GSS_REQUEST)
        return finish(&r, why, "bad SSL request");
    if (out->code == PGW_CANCEL) {
        out->cancel_pid = (uint32_t)pgw_rd_i32(&r);
        out->cancel_key = (uint32_t)pgw_rd_i32(&r);
        return finish(&r, why, "cancel request too short");
    }
    if (out->code >> 16 != 3) {
        *why = "unsupported frontend protocol (UDR speaks 3.0)";
        return -1;
    }
    for (;;) {
        const char *k = pgw_rd_str(&r);
        if (k == NULL)
            return *why = "startup packet: a name without its end", -1;
        if (k[0] == '\0')
            break;
        const char *v = pgw_rd_str(&r);
        if (v == NULL)
            return *why = "startup packet: a parameter without its value", -1;
        if (out->npairs == PGW_MAX_STARTUP_PAIRS)
            return *why = "startup packet: too many parameters", -1;
        out->keys[out->npairs] = k;
        out->values[out->npairs++] = v;
        if (strcmp(k, "user") == 0)
            out->user = v;
        else if (strcmp(k, "database") == 0)
            out->database = v;
        else if (strcmp(k, "options") == 0)
            out->options = v;
        else if (strcmp(k, "application_name") == 0)
            out->application_name = v;
    }
    if (finish(&r, why, "startup packet") != 0)
        return -1;
    if (out->user == NULL || out->user[0] == '\0')
        return *why = "no PostgreSQL user name specified in startup packet", -1;
    return 0;
}

int pgw_parse_sasl_initial(const void *body, size_t len, pgw_sasl_initial *out,
                           const char **why)
{
    pgw_rd r;
    pgw_rd_init(&r, body, len);
    out->mechanism = pgw_rd_str(&r);
    int32_t n = pgw_rd_i32(&r);
    out->data = NULL;
    out->len = 0;
    if (!r.bad && n >= 0) {
        out->data = pgw_rd_bytes(&r, (size_t)n);
        out->len = (size_t)n;
    } else if (n < -1) {
        r.bad = 1;
    }
    return finish(&r, why, "malformed SASLInitialResponse");
}

int pgw_parse_parse(const void *body, size_t len, pgw_parse *out, const char **why)
{
    pgw_rd r;
    pgw_rd_init(&r, body, len);
    out->name = pgw_rd_str(&r);
    out->query = pgw_rd_str(&r);
    out->ntypes = (uint16_t)pgw_rd_i16(&r);
    out->types = pgw_rd_bytes(&r, (size_t)out->ntypes * 4);
    return finish(&r, why, "malformed Parse message");
}

int pgw_parse_bind(const void *body, size_t len, pgw_bind *out, const char **why)
{
    pgw_rd r;
    pgw_rd_init(&r, body, len);
    out->portal = pgw_rd_str(&r);
    out->statement = pgw_rd_str(&r);
    out->nformats = (uint16_t)pgw_rd_i16(&r);
    out->formats = pgw_rd_bytes(&r, (size_t)out->nformats * 2);
    out->nparams = (uint16_t)pgw_rd_i16(&r);
    out->values = r.p;
    for (uint16_t i = 0; i < out->nparams && !r.bad; i++) {
        int32_t n = pgw_rd_i32(&r);
        if (n < -1)
            r.bad = 1;
        else if (n > 0)
            pgw_rd_bytes(&r, (size_t)n);
    }
    out->values_len = r.bad ? 0 : (size_t)(r.p - out->values);
    out->nresult_formats = (uint16_t)pgw_rd_i16(&r);
    out->result_formats = pgw_rd_bytes(&r, (size_t)out->nresult_formats * 2);
    if (finish(&r, why, "malformed Bind message") != 0)
        return -1;
    /* Formats: none (all text), one (for all) or one per parameter. */
    if (out->nformats > 1 && out->nformats != out->nparams)
        return *why = "Bind: parameter formats do not match the parameters", -1;
    for (uint16_t i = 0; i < out->nformats; i++)
        if (pgw_u16_at(out->formats + 2 * i) > 1)
            return *why = "Bind: unknown parameter format", -1;
    for (uint16_t i = 0; i < out->nresult_formats; i++)
        if (pgw_u16_at(out->result_formats + 2 * i) > 1)
            return *why = "Bind: unknown result format", -1;
    return 0;
}

/* Parameter i's format under the Bind's rule: none (text), one for all,
 * or one each. */
static int bind_format(const pgw_bind *b, uint16_t i)
{
    return b->nformats == 0   ? 0
           : b->nformats == 1 ? pgw_u16_at(b->formats)
                              : pgw_u16_at(b->formats + 2 * i);
}

int pgw_bind_value(const pgw_bind *b, uint16_t i, const uint8_t **data, int32_t *len,
                   int *format)
{
    if (i >= b->nparams)
        return -1;
    pgw_rd r;
    pgw_rd_init(&r, b->values, b->values_len);
    for (uint16_t k = 0;; k++) {
        int32_t n = pgw_rd_i32(&r);
        const uint8_t *v = n > 0 ? pgw_rd_bytes(&r, (size_t)n) : r.p;
        if (r.bad)
            return -1;
        if (k == i) {
            *data = n < 0 ? NULL : v;
            *len = n < 0 ? 0 : n;
            break;
        }
    }
    *format = bind_format(b, i);
    return 0;
}

int pgw_bind_values(const pgw_bind *b, const uint8_t **data, int32_t *len, uint8_t *format)
{
    pgw_rd r;
    pgw_rd_init(&r, b->values, b->values_len);
    for (uint16_t i = 0; i < b->nparams; i++) {
        int32_t n = pgw_rd_i32(&r);
        const uint8_t *v = n > 0 ? pgw_rd_bytes(&r, (size_t)n) : r.p;
        data[i] = n < 0 ? NULL : v;
        len[i] = n < 0 ? 0 : n;
        format[i] = (uint8_t)bind_format(b, i);
    }
    return r.bad ? -1 : 0;
}

int pgw_bind_result_format(const pgw_bind *b, uint16_t i)
{
    if (b->nresult_formats == 0)
        return 0;
    if (b->nresult_formats == 1)
        return pgw_u16_at(b->result_formats);
    return i < b->nresult_formats ? pgw_u16_at(b->result_formats + 2 * i) : 0;
}

int pgw_parse_target(const void *body, size_t len, pgw_target *out, const char **why)
{
    pgw_rd r;
    pgw_rd_init(&r, body, len);
    out->kind = (char)pgw_rd_u8(&r);
    out->name = pgw_rd_str(&r);
    if (finish(&r, why, "malformed Describe or Close message") != 0)
        return -1;
    if (out->kind != 'S' && out->kind != 'P')
        return *why = "Describe or Close of something neither 'S' nor 'P'", -1;
    return 0;
}

int pgw_parse_execute(const void *body, size_t len, pgw_execute *out, const char **why)
{
    pgw_rd r;
    pgw_rd_init(&r, body, len);
    out->portal = pgw_rd_str(&r);
    int32_t n = pgw_rd_i32(&r);
    out->max_rows = n <= 0 ? 0 : (uint32_t)n;
    return finish(&r, why, "malformed Execute message");
}

int pgw_parse_cstring(const void *body, size_t len, const char **out, const char **why)
{
    pgw_rd r;
    pgw_rd_init(&r, body, len);
    *out = pgw_rd_str(&r);
    return finish(&r, why, "malformed message: not one string");
}

/* ---- writing ------------------------------------------------------------------ */

void pgw_out_init(pgw_out *o)
{
    memset(o, 0, sizeof *o);
}

void pgw_out_free(pgw_out *o)
{
    free(o->data);
    memset(o, 0, sizeof *o);
}

void pgw_out_reset(pgw_out *o)
{
    o->len = 0;
    o->msg_start = 0;
    o->oom = 0;
}

static void put(pgw_out *o, const void *p, size_t n)
{
    if (o->oom)
        return;
    if (o->cap - o->len < n) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap - o->len < n) {
            if (cap > SIZE_MAX / 2) {
                o->oom = 1;
                return;
            }
            cap *= 2;
        }
        uint8_t *d = realloc(o->data, cap);
        if (d == NULL) {
            o->oom = 1;
            return;
        }
        o->data = d;
        o->cap = cap;
    }
    memcpy(o->data + o->len, p, n);
    o->len += n;
}

void pgw_u8(pgw_out *o, uint8_t v)
{
    put(o, &v, 1);
}

void pgw_i16(pgw_out *o, int16_t v)
{
    uint8_t b[2] = {(uint8_t)((uint16_t)v >> 8), (uint8_t)v};
    put(o, b, 2);
}

void pgw_i32(pgw_out *o, int32_t v)
{
    uint32_t u = (uint32_t)v;
    uint8_t b[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    put(o, b, 4);
}

void pgw_str(pgw_out *o, const char *s)
{
    put(o, s, strlen(s) + 1);
}

void pgw_bytes(pgw_out *o, const void *p, size_t n)
{
    put(o, p, n);
}

void pgw_begin(pgw_out *o, char type)
{
    pgw_u8(o, (uint8_t)type);
    o->msg_start = o->len;
    pgw_i32(o, 0);
}

void pgw_end(pgw_out *o)
{
    if (o->oom)
        return;
    uint32_t n = (uint32_t)(o->len - o->msg_start);
    uint8_t *p = o->data + o->msg_start;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
}

void pgw_auth(pgw_out *o, int32_t code)
{
    pgw_begin(o, 'R');
    pgw_i32(o, code);
    pgw_end(o);
}

void pgw_param_status(pgw_out *o, const char *name, const char *value)
{
    pgw_begin(o, 'S');
    pgw_str(o, name);
    pgw_str(o, value);
    pgw_end(o);
}

void pgw_ready(pgw_out *o, char status)
{
    pgw_begin(o, 'Z');
    pgw_u8(o, (uint8_t)status);
    pgw_end(o);
}

void pgw_complete(pgw_out *o, const char *tag)
{
    pgw_begin(o, 'C');
    pgw_str(o, tag);
    pgw_end(o);
}

void pgw_error(pgw_out *o, char type, const char *severity, const char *sqlstate,
               const char *message, const char *detail, const char *hint)
{
    pgw_begin(o, type);
    pgw_u8(o, 'S');
    pgw_str(o, severity);
    pgw_u8(o, 'V');
    pgw_str(o, severity);
    pgw_u8(o, 'C');
    pgw_str(o, sqlstate);
    pgw_u8(o, 'M');
    pgw_str(o, message);
    if (detail != NULL) {
        pgw_u8(o, 'D');
        pgw_str(o, detail);
    }
    if (hint != NULL) {
        pgw_u8(o, 'H');
        pgw_str(o, hint);
    }
    pgw_u8(o, 0);
    pgw_end(o);
}
