/*
 * hash — BLAKE3-256, the name of every object.
 *
 * A thin layer over the official BLAKE3 C implementation (compiled from
 * Debian's librust-blake3-dev, with its SIMD assembly and run-time dispatch),
 * plus the hex form used in object paths and on the command line. Hex is
 * always 64 lower-case digits: one spelling per hash, so a hash string can be
 * used as a file name without any other check.
 */
#ifndef UDR_HASH_H
#define UDR_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "blake3.h"
#include "udr.h"

typedef struct hasher {
    blake3_hasher b3;
    uint64_t bytes;            /* bytes fed so far */
} hasher;

void hash_init(hasher *h);
void hash_update(hasher *h, const void *data, size_t len);
void hash_final(const hasher *h, udr_hash *out);

/* One-shot: hash_init + hash_update + hash_final. */
void hash_buffer(const void *data, size_t len, udr_hash *out);

/* 64 lower-case hex digits and a NUL. */
void hash_to_hex(const udr_hash *h, char out[UDR_HASH_HEX + 1]);

/* 0 and *out set if hex is exactly 64 lower-case hex digits; -1 otherwise. */
int hash_from_hex(const char *hex, udr_hash *out);

int hash_equal(const udr_hash *a, const udr_hash *b);

/* The BLAKE3 implementation's version, e.g. "1.3.1". */
const char *hash_impl_version(void);

#endif
