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

/* ---- multi-threaded hashing of large inputs -----------------------------
 *
 * BLAKE3 is a tree: 1 KiB chunks, paired up into parent nodes. Any complete
 * subtree (a power-of-two number of chunks, aligned) can be hashed on its own
 * thread down to one chaining value, and the parents joined after. That is
 * what these do, on all cores, with the official SIMD compression functions
 * (blake3_impl.h); only the tree walk is ours. The result is the same
 * BLAKE3-256 as hash_buffer (the tests check both against b3sum).
 */

/* One-shot, on all cores for large inputs. */
void hash_buffer_mt(const void *data, size_t len, udr_hash *out);

/* As hash_buffer_mt for a read-only shared mapping of a file: each piece's
 * pages are dropped from the process (MADV_DONTNEED) once hashed, so the
 * memory held stays small however large the file. Never pass memory that is
 * not a file mapping: dropped anonymous pages read back as zeros. */
void hash_mapped_file(const void *map, size_t len, udr_hash *out);

/* For tests: the tree walk itself with a given number of threads, for
 * inputs of any size, so that its edges are tested on small inputs. */
void hash_tree_for_test(const void *data, size_t len, int threads, udr_hash *out);

/* The BLAKE3 implementation's version, e.g. "1.3.1". */
const char *hash_impl_version(void);

#endif
