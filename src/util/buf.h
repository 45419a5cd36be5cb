/*
 * buf — a growable byte buffer for encoding, and a bounded reader for
 * decoding, so that every encoder and decoder shares one careful piece.
 *
 * A buf that failed to grow remembers it (oom) and ignores further appends;
 * check once at the end. A reader that runs past its end or finds a bad
 * field remembers that (bad); check once at the end as well.
 */
#ifndef UDR_UTIL_BUF_H
#define UDR_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    char *data;
    size_t len, cap;
    int oom;
} buf;

void buf_init(buf *b);
void buf_free(buf *b);
void buf_add(buf *b, const void *data, size_t len);
void buf_addc(buf *b, char c);
void buf_adds(buf *b, const char *s);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_u8(buf *b, uint8_t v);
void buf_u16(buf *b, uint16_t v);
void buf_u32(buf *b, uint32_t v);
void buf_u64(buf *b, uint64_t v);
/* A string as u16 length + bytes (at most 65535 bytes). */
void buf_str16(buf *b, const char *s);
/* Percent-escapes s for a line of text: bytes below '!', above '~', and '%'
 * become %XX, so a field never holds a space or a newline; the empty string
 * is a lone %. */
void buf_escaped(buf *b, const char *s);
/* s quoted with q, a q inside doubled: "a""b" (an SQL identifier) or 'it''s'
 * (an SQL string). */
void buf_quoted(buf *b, const char *s, char q);
/* Returns the NUL-terminated contents (the buf is reset), or NULL on oom. */
char *buf_take(buf *b, size_t *len);

typedef struct reader {
    const unsigned char *p;
    size_t len, pos;
    int bad;
} reader;

void rd_init(reader *r, const void *data, size_t len);
uint8_t rd_u8(reader *r);
uint16_t rd_u16(reader *r);
uint32_t rd_u32(reader *r);
uint64_t rd_u64(reader *r);
void rd_bytes(reader *r, void *out, size_t n);
/* A u16-length string, malloc'd and NUL-terminated; NULL (and bad) on error
 * or if it holds a NUL byte. */
char *rd_str16(reader *r);
int rd_done(const reader *r);   /* all consumed and nothing bad */

/* Reverses buf_escaped into a malloc'd string; NULL if malformed. */
char *unescape(const char *s, size_t len);

#endif
