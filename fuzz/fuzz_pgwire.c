/*
 * fuzz_pgwire — the PostgreSQL wire codec (server/pgwire.c) on arbitrary
 * client byte streams, as `udr serve` reads them off a socket.
 *
 * The input's first byte chooses the mode, the rest is the stream:
 *   bit 0   the stream starts with a startup packet (else typed messages)
 *   bit 1   the length limit is the server's (PGW_MAX_STARTUP_BYTES for a
 *           startup packet, 1 MiB for others); else a small one,
 *           4 + 8 * (mode >> 2) bytes, so that refusals are common too
 * pgw_next_frame cuts the stream into frames as the session would: a
 * startup packet first (and again after an SSLRequest or GSSENCRequest,
 * which a client follows with its real startup packet), typed messages after.
 * Each frame's body is copied into a buffer of exactly its size, so ASan
 * sees a parser read one byte past the body, and handed to the parser its
 * type calls for and then to every other parser as well (a parser must
 * refuse a stranger's body as safely as it reads its own).
 *
 * Invariants checked, each a finding (abort) if broken:
 *   - framing: a frame lies in the stream where it starts, its total is its
 *     header plus its body, the position moves forward; -1 exactly when the
 *     length word is below 4 or over the limit; 0 only with a need beyond
 *     the bytes there, and every shorter prefix of a frame also gives 0;
 *   - every string a parser returns starts inside the body and has its NUL
 *     inside it; every byte range it returns lies inside it; a parser that
 *     accepts has read the body to its end (the last field ends at the end);
 *   - a refusal says why (a non-empty message);
 *   - startup: an accepted protocol-3 packet has a non-empty user, at most
 *     PGW_MAX_STARTUP_PAIRS pairs, user and database among its values;
 *     SSLRequest/GSSENCRequest are exactly 4 bytes, CancelRequest 12 with
 *     the pid and key as sent;
 *   - Bind: pgw_bind_value gives every parameter 0..nparams-1, each within
 *     the values as walked independently here, formats 0 or 1; nparams
 *     itself is refused; pgw_bind_result_format is 0 or 1 for any column;
 *   - the writer: an ErrorResponse (and a few other replies) built from
 *     strings of the input has length words that frame it exactly, and its
 *     fields read back as written.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TYPED_BYTES ((size_t)1 << 20)

static void finding(const char *what, size_t at)
{
    fprintf(stderr, "fuzz_pgwire: %s (at byte %zu)\n", what, at);
    abort();
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* s is NULL, or a string starting in [body, body+len) with its NUL there too.
 * Returns the byte after its NUL (NULL for NULL). */
static const uint8_t *check_str(const char *s, const uint8_t *body, size_t len,
                                const char *what)
{
    if (s == NULL)
        return NULL;
    const uint8_t *p = (const uint8_t *)s;
    if (p < body || p >= body + len)
        finding(what, 0);
    const uint8_t *nul = memchr(p, 0, (size_t)(body + len - p));
    if (nul == NULL)
        finding(what, (size_t)(p - body));
    return nul + 1;
}

static void check_range(const uint8_t *p, size_t n, const uint8_t *body, size_t len,
                        const char *what)
{
    if (p == NULL)
        return;
    if (p < body || p > body + len || n > (size_t)(body + len - p))
        finding(what, 0);
}

static void check_refusal(int rc, const char *why, const char *what)
{
    if (rc != -1)
        finding(what, 0);
    if (why == NULL || why[0] == '\0')
        finding("a refusal without a reason", 0);
}

/* ---- one parser each ---------------------------------------------------- */

static void try_startup(const uint8_t *body, size_t len, pgw_startup *st)
{
    const char *why = NULL;
    int rc = pgw_parse_startup(body, len, st, &why);
    if (rc != 0) {
        check_refusal(rc, why, "pgw_parse_startup returned neither 0 nor -1");
        return;
    }
    if (len < 4 || st->code != be32(body))
        finding("startup: the code is not the first word", 0);
    if (st->code == PGW_SSL_REQUEST || st->code == PGW_GSS_REQUEST) {
        if (len != 4)
            finding("an SSL or GSS request with more than its code", len);
        return;
    }
    if (st->code == PGW_CANCEL) {
        if (len != 12 || st->cancel_pid != be32(body + 4) || st->cancel_key != be32(body + 8))
            finding("a cancel request misread", len);
        return;
    }
    if (st->code >> 16 != 3)
        finding("startup: a protocol other than 3 accepted", 0);
    if (st->user == NULL || st->user[0] == '\0')
        finding("startup accepted without a user", 0);
    if (st->npairs > PGW_MAX_STARTUP_PAIRS)
        finding("startup: too many pairs", st->npairs);
    int user_seen = 0, db_seen = st->database == NULL;
    const uint8_t *last = body + 4;
    for (size_t i = 0; i < st->npairs; i++) {
        if ((const uint8_t *)st->keys[i] != last)
            finding("startup: pairs not in order", i);
        last = check_str(st->keys[i], body, len, "startup: a key outside the body");
        if ((const uint8_t *)st->values[i] != last)
            finding("startup: a value not after its key", i);
        last = check_str(st->values[i], body, len, "startup: a value outside the body");
        if (st->keys[i][0] == '\0')
            finding("startup: an empty key taken as a pair", i);
        user_seen |= st->values[i] == st->user;
        db_seen |= st->values[i] == st->database;
    }
    if (!user_seen || !db_seen)
        finding("startup: user or database not among the values", 0);
    /* The list ends with an empty name, the packet's last byte. */
    if (last + 1 != body + len || *last != 0)
        finding("startup: accepted with bytes after its end", len);
    check_str(st->options, body, len, "startup: options outside the body");
    check_str(st->application_name, body, len, "startup: application_name outside");
}

static void try_sasl(const uint8_t *body, size_t len)
{
    pgw_sasl_initial s;
    const char *why = NULL;
    int rc = pgw_parse_sasl_initial(body, len, &s, &why);
    if (rc != 0) {
        check_refusal(rc, why, "pgw_parse_sasl_initial returned neither 0 nor -1");
        return;
    }
    const uint8_t *after = check_str(s.mechanism, body, len, "SASL: mechanism outside");
    if (after == NULL || (size_t)(body + len - after) < 4)
        finding("SASL: accepted without mechanism and length", 0);
    int32_t n = (int32_t)be32(after);
    if (n == -1) {
        if (s.data != NULL || s.len != 0 || after + 4 != body + len)
            finding("SASL: a -1 length with data", 0);
        return;
    }
    if (n < 0 || s.data != after + 4 || s.len != (size_t)n)
        finding("SASL: data not where its length says", 0);
    check_range(s.data, s.len, body, len, "SASL: data outside the body");
    if (s.data + s.len != body + len)
        finding("SASL: accepted with bytes after the data", 0);
}

static void try_parse(const uint8_t *body, size_t len)
{
    pgw_parse p;
    const char *why = NULL;
    int rc = pgw_parse_parse(body, len, &p, &why);
    if (rc != 0) {
        check_refusal(rc, why, "pgw_parse_parse returned neither 0 nor -1");
        return;
    }
    const uint8_t *after = check_str(p.name, body, len, "Parse: name outside");
    if (after == NULL || (const uint8_t *)p.query != after)
        finding("Parse: the query does not follow the name", 0);
    after = check_str(p.query, body, len, "Parse: query outside");
    if (after == NULL || (size_t)(body + len - after) < 2 ||
        p.ntypes != (after[0] << 8 | after[1]))
        finding("Parse: type count misread", 0);
    if (p.types != after + 2)
        finding("Parse: types not after their count", 0);
    check_range(p.types, (size_t)p.ntypes * 4, body, len, "Parse: types outside");
    if (p.types + (size_t)p.ntypes * 4 != body + len)
        finding("Parse: accepted with bytes after the types", 0);
    for (uint16_t i = 0; i < p.ntypes; i++)
        (void)pgw_u32_at(p.types + 4 * (size_t)i);
}

static void try_bind(const uint8_t *body, size_t len)
{
    pgw_bind b;
    const char *why = NULL;
    int rc = pgw_parse_bind(body, len, &b, &why);
    if (rc != 0) {
        check_refusal(rc, why, "pgw_parse_bind returned neither 0 nor -1");
        return;
    }
    const uint8_t *after = check_str(b.portal, body, len, "Bind: portal outside");
    if (after == NULL || (const uint8_t *)b.statement != after)
        finding("Bind: statement does not follow the portal", 0);
    check_str(b.statement, body, len, "Bind: statement outside");
    check_range(b.formats, (size_t)b.nformats * 2, body, len, "Bind: formats outside");
    check_range(b.values, b.values_len, body, len, "Bind: values outside");
    check_range(b.result_formats, (size_t)b.nresult_formats * 2, body, len,
                "Bind: result formats outside");
    if (b.formats == NULL || b.values == NULL || b.result_formats == NULL)
        finding("Bind: accepted with a missing part", 0);
    if (b.values != b.formats + 2 * (size_t)b.nformats + 2)
        finding("Bind: values not after formats and count", 0);
    if (b.result_formats != b.values + b.values_len + 2)
        finding("Bind: result formats not after the values", 0);
    if (b.result_formats + 2 * (size_t)b.nresult_formats != body + len)
        finding("Bind: accepted with bytes after the result formats", 0);
    if (b.nformats > 1 && b.nformats != b.nparams)
        finding("Bind: formats neither 0, 1 nor one per parameter", b.nformats);

    /* Walk the values independently and compare. */
    const uint8_t *p = b.values, *vend = b.values + b.values_len;
    for (uint32_t i = 0; i < b.nparams; i++) {
        if ((size_t)(vend - p) < 4)
            finding("Bind: fewer values than parameters", i);
        int32_t n = (int32_t)be32(p);
        p += 4;
        if (n < -1 || (n > 0 && (size_t)(vend - p) < (size_t)n))
            finding("Bind: a value longer than what is left", i);
        const uint8_t *d = NULL;
        int32_t dlen = -7;
        int fmt = -7;
        if (pgw_bind_value(&b, (uint16_t)i, &d, &dlen, &fmt) != 0)
            finding("pgw_bind_value refused a parameter in range", i);
        if (n == -1) {
            if (d != NULL || dlen != 0)
                finding("pgw_bind_value: a NULL with data", i);
        } else {
            if (d != p || dlen != n)
                finding("pgw_bind_value: data not where the walk found it", i);
            check_range(d, (size_t)dlen, b.values, b.values_len,
                        "pgw_bind_value: data outside the values");
            for (int32_t k = 0; k < dlen; k++)     /* touch it all for ASan */
                if (d[k] == 0xfe && d[dlen - 1 - k] == 0xef)
                    break;
            p += n;
        }
        int want = b.nformats == 0 ? 0 : pgw_u16_at(b.formats + (b.nformats == 1 ? 0 : 2 * i));
        if (fmt != want || (fmt != 0 && fmt != 1))
            finding("pgw_bind_value: wrong format", i);
    }
    if (p != vend)
        finding("Bind: values longer than the parameters", 0);
    const uint8_t *d;
    int32_t dlen;
    int fmt;
    if (pgw_bind_value(&b, b.nparams, &d, &dlen, &fmt) != -1)
        finding("pgw_bind_value accepted the parameter after the last", b.nparams);
    /* pgw_bind_values, in one walk, gives what pgw_bind_value gives each. */
    size_t np = b.nparams ? b.nparams : 1;
    const uint8_t **all = malloc(np * sizeof *all);
    int32_t *lens = malloc(np * sizeof *lens);
    uint8_t *fmts = malloc(np);
    if (all != NULL && lens != NULL && fmts != NULL) {
        if (pgw_bind_values(&b, all, lens, fmts) != 0)
            finding("pgw_bind_values refused a parsed Bind", 0);
        for (uint32_t i = 0; i < b.nparams; i++) {
            pgw_bind_value(&b, (uint16_t)i, &d, &dlen, &fmt);
            if (all[i] != d || lens[i] != dlen || fmts[i] != fmt)
                finding("pgw_bind_values and pgw_bind_value disagree", i);
        }
    }
    free(all);
    free(lens);
    free(fmts);
    for (uint32_t i = 0; i <= (uint32_t)b.nresult_formats + 1 && i <= 0xffff; i++) {
        int f = pgw_bind_result_format(&b, (uint16_t)i);
        if (f != 0 && f != 1)
            finding("pgw_bind_result_format: neither 0 nor 1", i);
    }
    int f = pgw_bind_result_format(&b, 0xffff);
    if (f != 0 && f != 1)
        finding("pgw_bind_result_format: neither 0 nor 1 for column 65535", 0);
}

static void try_target(const uint8_t *body, size_t len)
{
    pgw_target t;
    const char *why = NULL;
    int rc = pgw_parse_target(body, len, &t, &why);
    if (rc != 0) {
        check_refusal(rc, why, "pgw_parse_target returned neither 0 nor -1");
        return;
    }
    if (t.kind != 'S' && t.kind != 'P')
        finding("Describe/Close: accepted a kind neither S nor P", 0);
    if ((const uint8_t *)t.name != body + 1)
        finding("Describe/Close: name not after the kind", 0);
    if (check_str(t.name, body, len, "Describe/Close: name outside") != body + len)
        finding("Describe/Close: accepted with bytes after the name", 0);
}

static void try_execute(const uint8_t *body, size_t len)
{
    pgw_execute e;
    const char *why = NULL;
    int rc = pgw_parse_execute(body, len, &e, &why);
    if (rc != 0) {
        check_refusal(rc, why, "pgw_parse_execute returned neither 0 nor -1");
        return;
    }
    const uint8_t *after = check_str(e.portal, body, len, "Execute: portal outside");
    if (after == NULL || after + 4 != body + len)
        finding("Execute: accepted with other than a portal and a count", 0);
    int32_t n = (int32_t)be32(after);
    if (e.max_rows != (n <= 0 ? 0u : (uint32_t)n))
        finding("Execute: row limit misread", 0);
}

static void try_cstring(const uint8_t *body, size_t len)
{
    const char *s = NULL, *why = NULL;
    int rc = pgw_parse_cstring(body, len, &s, &why);
    if (rc != 0) {
        check_refusal(rc, why, "pgw_parse_cstring returned neither 0 nor -1");
        return;
    }
    if ((const uint8_t *)s != body ||
        check_str(s, body, len, "cstring: outside") != body + len)
        finding("cstring: accepted other than one string filling the body", 0);
}

/* ---- the writer --------------------------------------------------------- */

/* Reads the reply stream in o back with pgw_next_frame; the length words
 * must cut it exactly into n messages of the given types. Returns the
 * frames in fr. */
static void check_out(const pgw_out *o, const char *types, pgw_frame *fr)
{
    if (o->oom)
        return;
    size_t pos = 0, n = strlen(types);
    for (size_t i = 0; i < n; i++) {
        size_t need = 0;
        int rc = pgw_next_frame(o->data + pos, o->len - pos, 0, SIZE_MAX, &fr[i], &need);
        if (rc != 1 || fr[i].type != types[i])
            finding("writer: a reply does not frame as written", i);
        pos += fr[i].total;
    }
    if (pos != o->len)
        finding("writer: bytes after the last reply", pos);
}

/* Expects a field of code c holding s at *p in an error's body. */
static void expect_field(const uint8_t **p, const uint8_t *end, char c, const char *s)
{
    size_t n = strlen(s) + 1;
    if (*p >= end || **p != (uint8_t)c || (size_t)(end - *p - 1) < n ||
        memcmp(*p + 1, s, n) != 0)
        finding("writer: an error field not as written", (size_t)c);
    *p += 1 + n;
}

/* Builds replies from the frame's body cut into strings at its NULs (up to
 * three: message, detail, hint) and checks they read back. */
static void try_writer(pgw_out *o, const uint8_t *body, size_t len, char type)
{
    char *text = malloc(len + 1);
    if (text == NULL)
        return;
    if (len > 0)
        memcpy(text, body, len);
    text[len] = '\0';
    const char *msg = text, *detail = NULL, *hint = NULL;
    size_t a = strlen(msg);
    if (a < len) {
        detail = text + a + 1;
        size_t b = a + 1 + strlen(detail);
        if (b < len)
            hint = text + b + 1;
    }
    char sev[2] = {type ? type : 'X', 0};

    pgw_out_reset(o);
    pgw_error(o, type & 1 ? 'E' : 'N', "ERROR", "08P01", msg, detail, hint);
    pgw_complete(o, msg);
    pgw_param_status(o, sev, msg);
    pgw_auth(o, (int32_t)len);
    pgw_ready(o, 'I');
    pgw_frame fr[5];
    check_out(o, type & 1 ? "ECSRZ" : "NCSRZ", fr);
    if (!o->oom) {
        const uint8_t *p = fr[0].body, *end = fr[0].body + fr[0].len;
        expect_field(&p, end, 'S', "ERROR");
        expect_field(&p, end, 'V', "ERROR");
        expect_field(&p, end, 'C', "08P01");
        expect_field(&p, end, 'M', msg);
        if (detail != NULL)
            expect_field(&p, end, 'D', detail);
        if (hint != NULL)
            expect_field(&p, end, 'H', hint);
        if (p + 1 != end || *p != 0)
            finding("writer: an error not ended by one zero byte", 0);
        const char *s, *why;
        if (pgw_parse_cstring(fr[1].body, fr[1].len, &s, &why) != 0 || strcmp(s, msg) != 0)
            finding("writer: CommandComplete does not read back", 0);
        if (fr[2].len != 2 + strlen(msg) + 1 || fr[2].body[0] != (uint8_t)sev[0] ||
            fr[2].body[1] != 0 || strcmp((const char *)fr[2].body + 2, msg) != 0)
            finding("writer: ParameterStatus does not read back", 0);
        if (fr[3].len != 4 || be32(fr[3].body) != (uint32_t)len)
            finding("writer: Authentication does not read back", 0);
        if (fr[4].len != 1 || fr[4].body[0] != 'I')
            finding("writer: ReadyForQuery does not read back", 0);
    }
    free(text);
}

/* ---- the stream ---------------------------------------------------------- */

/* Every parser on one body, copied to a buffer of exactly its size. */
static void try_all(pgw_out *o, const pgw_frame *fr, pgw_startup *st)
{
    uint8_t *body = malloc(fr->len);    /* ASan: malloc(0) has no byte to read */
    if (body == NULL)
        return;
    if (fr->len > 0)
        memcpy(body, fr->body, fr->len);
    /* The parser for the type first (the others follow anyway). */
    switch (fr->type) {
    case 0:   try_startup(body, fr->len, st); break;
    case 'p': try_sasl(body, fr->len); break;
    case 'P': try_parse(body, fr->len); break;
    case 'B': try_bind(body, fr->len); break;
    case 'D': case 'C': try_target(body, fr->len); break;
    case 'E': try_execute(body, fr->len); break;
    case 'Q': case 'f': try_cstring(body, fr->len); break;
    default: break;
    }
    if (fr->type != 0) {
        pgw_startup other;
        try_startup(body, fr->len, &other);
    }
    try_sasl(body, fr->len);
    try_parse(body, fr->len);
    try_bind(body, fr->len);
    try_target(body, fr->len);
    try_execute(body, fr->len);
    try_cstring(body, fr->len);
    try_writer(o, body, fr->len, fr->type);
    free(body);
}

/* pgw_next_frame on buf[0..len), checked against the length word read here. */
static int frame_at(const uint8_t *buf, size_t len, int startup, size_t max_bytes,
                    pgw_frame *fr, size_t pos)
{
    size_t head = startup ? 4 : 5, need = 0;
    int rc = pgw_next_frame(buf, len, startup, max_bytes, fr, &need);
    if (len < head) {
        if (rc != 0 || need != head)
            finding("a frame found before its header is in", pos);
        return 0;
    }
    uint32_t n = be32(buf + head - 4);
    if (n < 4 || n > max_bytes) {
        if (rc != -1)
            finding("an impossible length word accepted", pos);
        return -1;
    }
    size_t total = head - 4 + n;
    if (rc == -1)
        finding("a possible length word refused", pos);
    if (need != total)
        finding("need is not the message's size", pos);
    if (len < total) {
        if (rc != 0)
            finding("a frame found before all of it is in", pos);
        return 0;
    }
    if (rc != 1)
        finding("a whole frame not found", pos);
    if (fr->total != total || fr->body != buf + head || fr->len != total - head ||
        fr->type != (startup ? 0 : (char)buf[0]))
        finding("a frame not where its header says", pos);
    if (fr->total == 0 || fr->total > len)
        finding("a frame outside the stream or not advancing", pos);
    /* Any shorter prefix is incomplete: try the header alone and one short. */
    pgw_frame tmp;
    if (pgw_next_frame(buf, head, startup, max_bytes, &tmp, NULL) != (total == head) ||
        pgw_next_frame(buf, total - 1, startup, max_bytes, &tmp, NULL) != 0)
        finding("a frame found in a prefix of itself", pos);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    size_t len = size - 1;
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL)
        return 0;
    if (len > 0)
        memcpy(buf, data + 1, len);
    int startup = mode & 1;
    int server_limits = (mode & 2) != 0;
    size_t small = 4 + 8 * (size_t)(mode >> 2);

    pgw_out o;
    pgw_out_init(&o);
    pgw_startup st;
    size_t pos = 0, frames = 0;
    while (pos <= len) {
        size_t max_bytes = !server_limits ? small
                         : startup ? PGW_MAX_STARTUP_BYTES : MAX_TYPED_BYTES;
        pgw_frame fr;
        int rc = frame_at(buf + pos, len - pos, startup, max_bytes, &fr, pos);
        if (rc != 1)
            break;
        if (++frames > len / 4 + 1)
            finding("more frames than the stream can hold", pos);
        try_all(&o, &fr, &st);
        /* After an SSL or GSS request the client sends its startup packet. */
        if (startup && fr.type == 0) {
            const char *why;
            pgw_startup s2;
            startup = pgw_parse_startup(fr.body, fr.len, &s2, &why) == 0 &&
                      (s2.code == PGW_SSL_REQUEST || s2.code == PGW_GSS_REQUEST);
        }
        pos += fr.total;
    }
    if (pos > len)
        finding("the position went past the stream", pos);
    pgw_out_free(&o);
    free(buf);
    return 0;
}
