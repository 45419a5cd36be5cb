/*
 * hash — BLAKE3-256 and its hex form; see hash.h.
 */
#include "hash.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void hash_init(hasher *h)
{
    blake3_hasher_init(&h->b3);
    h->bytes = 0;
}

void hash_update(hasher *h, const void *data, size_t len)
{
    assert(data != NULL || len == 0);
    if (len == 0)
        return;
    blake3_hasher_update(&h->b3, data, len);
    h->bytes += len;
}

void hash_final(const hasher *h, udr_hash *out)
{
    blake3_hasher_finalize(&h->b3, out->bytes, UDR_HASH_BYTES);
}

void hash_buffer(const void *data, size_t len, udr_hash *out)
{
    hasher h;
    hash_init(&h);
    hash_update(&h, data, len);
    hash_final(&h, out);
}

void hash_to_hex(const udr_hash *h, char out[UDR_HASH_HEX + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < UDR_HASH_BYTES; i++) {
        out[2 * i] = digits[h->bytes[i] >> 4];
        out[2 * i + 1] = digits[h->bytes[i] & 0xf];
    }
    out[UDR_HASH_HEX] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;                 /* upper case is refused: one spelling per hash */
}

int hash_from_hex(const char *hex, udr_hash *out)
{
    if (hex == NULL)
        return -1;
    udr_hash h;
    for (int i = 0; i < UDR_HASH_BYTES; i++) {
        int hi = hexval(hex[2 * i]);
        if (hi < 0)
            return -1;         /* also stops at a NUL: the string is too short */
        int lo = hexval(hex[2 * i + 1]);
        if (lo < 0)
            return -1;
        h.bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    if (hex[UDR_HASH_HEX] != '\0')
        return -1;
    *out = h;
    return 0;
}

int hash_equal(const udr_hash *a, const udr_hash *b)
{
    return memcmp(a->bytes, b->bytes, UDR_HASH_BYTES) == 0;
}

const char *hash_impl_version(void)
{
    return blake3_version();
}

/* ---- public API (udr.h) ------------------------------------------------- */

void udr_hash_buffer(const void *data, size_t len, udr_hash *out)
{
    hash_buffer(data, len, out);
}

void udr_hash_to_hex(const udr_hash *h, char out[UDR_HASH_HEX + 1])
{
    hash_to_hex(h, out);
}

int udr_hash_from_hex(const char *hex, udr_hash *out)
{
    return hash_from_hex(hex, out) == 0 ? UDR_OK : UDR_EINVAL;
}

const char *udr_blake3_version(void)
{
    return blake3_version();
}

struct udr_hasher {
    hasher h;
};

udr_hasher *udr_hasher_new(void)
{
    udr_hasher *hs = malloc(sizeof *hs);
    if (hs != NULL)
        hash_init(&hs->h);
    return hs;
}

void udr_hasher_update(udr_hasher *hs, const void *data, size_t len)
{
    hash_update(&hs->h, data, len);
}

void udr_hasher_final(const udr_hasher *hs, udr_hash *out)
{
    hash_final(&hs->h, out);
}

void udr_hasher_free(udr_hasher *hs)
{
    free(hs);
}
