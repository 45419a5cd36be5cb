/*
 * hash — BLAKE3-256 and its hex form; see hash.h.
 */
#include "hash.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blake3_impl.h"   /* the official compression functions, IV, flags */

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

/* ---- the tree walk ------------------------------------------------------ */

enum {
    CHUNK = BLAKE3_CHUNK_LEN,
    LEAF_CHUNKS = 256,                 /* chunks hashed by one hash_many batch */
    PAR_MIN_CHUNKS = 2 * LEAF_CHUNKS,  /* smaller subtrees are not worth a thread */
    DROP_CHUNKS = 2048,                /* hash_mapped_file drops pages 2 MiB at a time */
};

static void words_to_bytes(const uint32_t w[8], uint8_t out[32])
{
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)w[i];
        out[4 * i + 1] = (uint8_t)(w[i] >> 8);
        out[4 * i + 2] = (uint8_t)(w[i] >> 16);
        out[4 * i + 3] = (uint8_t)(w[i] >> 24);
    }
}

/* A parent node's chaining value (or, with ROOT, the root hash). */
static void parent_cv(const uint8_t children[64], uint8_t flags, uint8_t out[32])
{
    uint32_t cv[8];
    memcpy(cv, IV, sizeof cv);
    blake3_compress_in_place(cv, children, BLAKE3_BLOCK_LEN, 0, (uint8_t)(PARENT | flags));
    words_to_bytes(cv, out);
}

/* The chaining value of one chunk of 1..1024 bytes (0 only for the empty
 * input, which is a root), at chunk index counter. */
static void chunk_cv(const uint8_t *in, size_t len, uint64_t counter, uint8_t flags,
                     uint8_t out[32])
{
    assert(len <= CHUNK);
    uint32_t cv[8];
    memcpy(cv, IV, sizeof cv);
    size_t blocks = len == 0 ? 1 : (len + BLAKE3_BLOCK_LEN - 1) / BLAKE3_BLOCK_LEN;
    for (size_t b = 0; b < blocks; b++) {
        uint8_t block[BLAKE3_BLOCK_LEN] = {0};
        size_t n = len - b * BLAKE3_BLOCK_LEN;
        if (n > BLAKE3_BLOCK_LEN)
            n = BLAKE3_BLOCK_LEN;
        if (n > 0)
            memcpy(block, in + b * BLAKE3_BLOCK_LEN, n);
        uint8_t f = (uint8_t)((b == 0 ? CHUNK_START : 0) | (b + 1 == blocks ? CHUNK_END | flags : 0));
        blake3_compress_in_place(cv, block, (uint8_t)n, counter, f);
    }
    words_to_bytes(cv, out);
}

/* The walk's settings, shared by all its threads. */
typedef struct walk {
    int drop;                  /* drop pages of a file mapping once hashed */
    long page_bytes;
} walk;

/* Up to LEAF_CHUNKS full chunks (a power of two), with SIMD across chunks. */
static void leaf_cv(const uint8_t *in, size_t chunks, uint64_t counter, uint8_t out[32])
{
    assert(chunks >= 1 && chunks <= LEAF_CHUNKS && (chunks & (chunks - 1)) == 0);
    const uint8_t *ptrs[LEAF_CHUNKS];
    uint8_t a[LEAF_CHUNKS * 32], b[LEAF_CHUNKS / 2 * 32];
    for (size_t i = 0; i < chunks; i++)
        ptrs[i] = in + i * CHUNK;
    blake3_hash_many(ptrs, chunks, CHUNK / BLAKE3_BLOCK_LEN, IV, counter, true, 0, CHUNK_START,
                     CHUNK_END, a);
    uint8_t *cur = a, *next = b;
    for (size_t n = chunks; n > 1; n /= 2) {
        for (size_t i = 0; i < n / 2; i++)
            ptrs[i] = cur + i * 64;
        blake3_hash_many(ptrs, n / 2, 1, IV, 0, false, PARENT, 0, 0, next);
        uint8_t *t = cur;
        cur = next;
        next = t;
    }
    memcpy(out, cur, 32);
}

/* Read-only file pages: dropping them only unmaps them from this process; a
 * neighbour sharing an edge page faults it back in from the page cache.
 * Dropping costs a TLB shoot-down on every core, hence DROP_CHUNKS pieces. */
static void drop_pages(const walk *w, const uint8_t *in, size_t len)
{
    uintptr_t from = (uintptr_t)in & ~((uintptr_t)w->page_bytes - 1);
    madvise((void *)from, (uintptr_t)(in + len) - from, MADV_DONTNEED);
}

typedef struct job {
    const walk *w;
    const uint8_t *in;
    size_t chunks;
    uint64_t counter;
    int threads;
    uint8_t *out;
} job;

static void pow2_cv(const walk *w, const uint8_t *in, size_t chunks, uint64_t counter,
                    int threads, uint8_t out[32]);

static void *pow2_job(void *arg)
{
    job *j = arg;
    pow2_cv(j->w, j->in, j->chunks, j->counter, j->threads, j->out);
    return NULL;
}

/* Runs the left job on a new thread when threads > 1 and it is big enough;
 * returns 1 if it did (join with pthread_join), 0 if the caller must run it. */
static int spawn(pthread_t *th, job *left)
{
    return left->threads >= 1 && left->chunks >= PAR_MIN_CHUNKS &&
           pthread_create(th, NULL, pow2_job, left) == 0;
}

/* The chaining value of a complete subtree of `chunks` full chunks (a power
 * of two) starting at chunk index counter, using up to `threads` threads. */
static void pow2_cv(const walk *w, const uint8_t *in, size_t chunks, uint64_t counter,
                    int threads, uint8_t out[32])
{
    if (chunks <= LEAF_CHUNKS) {
        leaf_cv(in, chunks, counter, out);
        return;
    }
    size_t half = chunks / 2;
    uint8_t children[64];
    pthread_t th;
    job left = {w, in, half, counter, threads / 2, children};
    int spawned = threads > 1 && spawn(&th, &left);
    if (!spawned)
        pow2_cv(w, in, half, counter, 1, children);
    pow2_cv(w, in + half * CHUNK, half, counter + half, spawned ? threads - threads / 2 : 1,
            children + 32);
    if (spawned)
        pthread_join(th, NULL);
    parent_cv(children, 0, out);
    if (w->drop && chunks == DROP_CHUNKS)
        drop_pages(w, in, chunks * CHUNK);
}

static size_t round_down_pow2(size_t x)
{
    size_t p = 1;
    while (p <= x / 2)
        p *= 2;
    return p;
}

/* The chaining value (non-root), or with flags = ROOT the root hash, of any
 * len bytes starting at chunk index counter (len 0 only for the root). */
static void any_cv(const walk *w, const uint8_t *in, size_t len, uint64_t counter, int threads,
                   uint8_t flags, uint8_t out[32])
{
    if (len <= CHUNK) {
        chunk_cv(in, len, counter, flags, out);
        return;
    }
    /* The left subtree: the largest power of two of full chunks that leaves
     * at least one byte for the right (the specification's left_len). */
    size_t left_chunks = round_down_pow2((len - 1) / CHUNK);
    size_t left_len = left_chunks * CHUNK;
    /* Threads in proportion to the work on each side. */
    int left_threads = (int)((double)threads * (double)left_len / (double)len + 0.5);
    if (left_threads >= threads)
        left_threads = threads - 1;
    uint8_t children[64];
    pthread_t th;
    job left = {w, in, left_chunks, counter, left_threads, children};
    int spawned = threads > 1 && spawn(&th, &left);
    if (!spawned)
        pow2_cv(w, in, left_chunks, counter, threads, children);
    any_cv(w, in + left_len, len - left_len, counter + left_chunks,
           spawned ? threads - left_threads : 1, 0, children + 32);
    if (spawned)
        pthread_join(th, NULL);
    parent_cv(children, flags, out);
}

/* More threads than cores: the tree's halves are often unequal, and small
 * pieces on many threads even the load out. */
static int walk_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 1)
        return 1;
    return n > 16 ? 64 : (int)n * 4;
}

static void tree_hash(const void *data, size_t len, int threads, int drop, udr_hash *out)
{
    walk w = {drop, sysconf(_SC_PAGESIZE)};
    any_cv(&w, data, len, 0, threads, ROOT, out->bytes);
}

void hash_buffer_mt(const void *data, size_t len, udr_hash *out)
{
    /* Below a few MiB, thread start-up costs more than it saves. */
    int threads = walk_threads();
    if (len < 4u * 1024 * 1024 || threads == 1)
        hash_buffer(data, len, out);
    else
        tree_hash(data, len, threads, 0, out);
}

void hash_mapped_file(const void *map, size_t len, udr_hash *out)
{
    tree_hash(map, len, walk_threads(), 1, out);
}

void hash_tree_for_test(const void *data, size_t len, int threads, udr_hash *out)
{
    tree_hash(data, len, threads, 0, out);
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
