/*
 * buf — see buf.h.
 */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void buf_free(buf *b)
{
    free(b->data);
    buf_init(b);
}

static int grow(buf *b, size_t more)
{
    if (b->oom)
        return 0;
    if (b->len + more + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (d == NULL) {
        b->oom = 1;
        return 0;
    }
    b->data = d;
    b->cap = cap;
    return 1;
}

void buf_add(buf *b, const void *data, size_t len)
{
    if (!grow(b, len))
        return;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void buf_addc(buf *b, char c)
{
    buf_add(b, &c, 1);
}

void buf_adds(buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_u8(buf *b, uint8_t v)
{
    buf_add(b, &v, 1);
}

void buf_u16(buf *b, uint16_t v)
{
    unsigned char p[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    buf_add(b, p, 2);
}

void buf_u32(buf *b, uint32_t v)
{
    unsigned char p[4];
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    buf_add(b, p, 4);
}

void buf_u64(buf *b, uint64_t v)
{
    unsigned char p[8];
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    buf_add(b, p, 8);
}

void buf_str16(buf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > 65535) {
        b->oom = 1;            /* callers validate lengths first */
        return;
    }
    buf_u16(b, (uint16_t)n);
    buf_add(b, s, n);
}

void buf_escaped(buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s[0] == '\0') {
        buf_addc(b, '%');      /* the empty string: a lone %, never made otherwise */
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < '!' || *p > '~' || *p == '%') {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_add(b, e, 3);
        } else {
            buf_addc(b, (char)*p);
        }
    }
}

void buf_quoted(buf *b, const char *s, char q)
{
    buf_addc(b, q);
    for (; *s; s++) {
        if (*s == q)
            buf_addc(b, q);
        buf_addc(b, *s);
    }
    buf_addc(b, q);
}

char *buf_take(buf *b, size_t *len)
{
    if (b->oom) {
        buf_free(b);
        return NULL;
    }
    if (b->data == NULL && !grow(b, 0))
        return NULL;
    if (b->data)
        b->data[b->len] = '\0';
    char *d = b->data;
    if (len)
        *len = b->len;
    buf_init(b);
    return d;
}

void rd_init(reader *r, const void *data, size_t len)
{
    r->p = data;
    r->len = len;
    r->pos = 0;
    r->bad = 0;
}

static const unsigned char *take(reader *r, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->p + r->pos;
    r->pos += n;
    return p;
}

uint8_t rd_u8(reader *r)
{
    const unsigned char *p = take(r, 1);
    return p ? p[0] : 0;
}

uint16_t rd_u16(reader *r)
{
    const unsigned char *p = take(r, 2);
    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t rd_u32(reader *r)
{
    const unsigned char *p = take(r, 4);
    uint32_t v = 0;
    for (int i = 0; p && i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

uint64_t rd_u64(reader *r)
{
    const unsigned char *p = take(r, 8);
    uint64_t v = 0;
    for (int i = 0; p && i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void rd_bytes(reader *r, void *out, size_t n)
{
    const unsigned char *p = take(r, n);
    if (p)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

char *rd_str16(reader *r)
{
    uint16_t n = rd_u16(r);
    const unsigned char *p = take(r, n);
    if (p == NULL || memchr(p, 0, n) != NULL) {
        r->bad = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (s == NULL) {
        r->bad = 1;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int rd_done(const reader *r)
{
    return !r->bad && r->pos == r->len;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *unescape(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    if (len == 1 && s[0] == '%') {
        out[0] = '\0';
        return out;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (len - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                goto bad;
            int v = hexval(s[i + 1]) << 4 | hexval(s[i + 2]);
            if (v == 0 || (v >= '!' && v <= '~' && v != '%'))
                goto bad;      /* NUL, or not the one canonical spelling */
            out[o++] = (char)v;
            i += 2;
        } else if (c < '!' || c > '~') {
            goto bad;
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}
