/*
 * Tests of the hash layer: BLAKE3 against b3sum (Debian's, an independent
 * implementation in Rust) and the hex form.
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "hash.h"
#include "udr.h"

/* b3sum's hex digest of a file, or REQUIRE failure. */
static void b3sum_of(const char *path, char out[UDR_HASH_HEX + 1])
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "b3sum --no-names '%s' 2>&1", path);
    int status;
    const char *line = t_run(cmd, &status);
    if (status != 0)
        harness_fail(__FILE__, __LINE__, "b3sum failed (is it installed?): %s",
                     line ? line : "");
    REQUIRE(status == 0 && line != NULL && strlen(line) == UDR_HASH_HEX);
    memcpy(out, line, UDR_HASH_HEX + 1);
}

/* Hashes buf in pieces whose sizes cycle through odd values. */
static void hash_in_pieces(const unsigned char *buf, size_t len, udr_hash *out)
{
    static const size_t pieces[] = {1, 7, 63, 64, 65, 1000, 1023, 1025, 4097, 65537, 3};
    hasher h;
    hash_init(&h);
    size_t off = 0;
    for (size_t i = 0; off < len; i++) {
        size_t n = pieces[i % (sizeof pieces / sizeof pieces[0])];
        if (n > len - off)
            n = len - off;
        hash_update(&h, buf + off, n);
        off += n;
    }
    hash_final(&h, out);
    CHECK_INT(h.bytes, ==, len);
}

static void check_size(size_t len, uint64_t seed)
{
    unsigned char *buf = malloc(len ? len : 1);
    REQUIRE(buf != NULL);
    t_fill(buf, len, seed);
    char name[64];
    snprintf(name, sizeof name, "input-%zu", len);
    const char *path = t_path(name);
    t_write_file(path, buf, len);

    char want[UDR_HASH_HEX + 1], got[UDR_HASH_HEX + 1];
    b3sum_of(path, want);

    udr_hash h;
    hash_buffer(buf, len, &h);
    hash_to_hex(&h, got);
    if (strcmp(got, want) != 0)
        harness_fail(__FILE__, __LINE__, "one-shot, %zu bytes: b3sum %s, ours %s", len, want, got);

    hash_in_pieces(buf, len, &h);
    hash_to_hex(&h, got);
    if (strcmp(got, want) != 0)
        harness_fail(__FILE__, __LINE__, "streamed, %zu bytes: b3sum %s, ours %s", len, want, got);

    udr_hasher *pub = udr_hasher_new();
    REQUIRE(pub != NULL);
    for (size_t off = 0; off < len; off += 333)
        udr_hasher_update(pub, buf + off, len - off < 333 ? len - off : 333);
    udr_hasher_final(pub, &h);
    udr_hasher_free(pub);
    udr_hash_to_hex(&h, got);
    if (strcmp(got, want) != 0)
        harness_fail(__FILE__, __LINE__, "public hasher, %zu bytes: b3sum %s, ours %s", len, want,
                     got);
    free(buf);
}

static void test_matches_b3sum_at_boundaries(void)
{
    static const size_t sizes[] = {0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 3073, 31744, 102400};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_size(sizes[i], i + 1);
}

static void test_matches_b3sum_10mib_random(void)
{
    check_size(10u << 20, 42);
}

static void test_known_vectors(void)
{
    /* From the BLAKE3 test vectors: the empty input, and the input of
     * length 1 whose byte is 0 (the vectors' inputs are i % 251). */
    char hex[UDR_HASH_HEX + 1];
    udr_hash h;
    udr_hash_buffer("", 0, &h);
    udr_hash_to_hex(&h, hex);
    CHECK_STR(hex, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
    unsigned char zero = 0;
    udr_hash_buffer(&zero, 1, &h);
    udr_hash_to_hex(&h, hex);
    CHECK_STR(hex, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213");
}

static void test_hex_round_trip(void)
{
    unsigned char buf[100];
    for (int seed = 0; seed < 50; seed++) {
        t_fill(buf, sizeof buf, (uint64_t)seed);
        udr_hash h, back;
        hash_buffer(buf, sizeof buf, &h);
        char hex[UDR_HASH_HEX + 1];
        hash_to_hex(&h, hex);
        CHECK_INT(strlen(hex), ==, UDR_HASH_HEX);
        REQUIRE(udr_hash_from_hex(hex, &back) == UDR_OK);
        CHECK(hash_equal(&h, &back));
    }
}

static void test_hex_refuses_hostile_strings(void)
{
    const char *good = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
    udr_hash h;
    REQUIRE(udr_hash_from_hex(good, &h) == UDR_OK);
    const char *bad[] = {
        "",
        "../../etc/passwd",
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f326",   /* 63 */
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f32620", /* 65 */
        "AF1349B9F5F9A1A6A0404DEA36DCC9499BCB25C9ADC112B7CC9A93CAE41F3262", /* upper */
        "Af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", /* one upper */
        "gf1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", /* non-hex */
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f326 ", /* space */
        "af/349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", /* slash */
        "../af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        udr_hash out;
        memset(&out, 0x5a, sizeof out);
        int rc = udr_hash_from_hex(bad[i], &out);
        if (rc != UDR_EINVAL)
            harness_fail(__FILE__, __LINE__, "accepted hostile hash \"%s\"", bad[i]);
        CHECK(out.bytes[0] == 0x5a);            /* output untouched on failure */
    }
    CHECK_INT(udr_hash_from_hex(NULL, &h), ==, UDR_EINVAL);
    /* An embedded NUL ends the string early: too short. */
    char nul[UDR_HASH_HEX + 1];
    memcpy(nul, good, sizeof nul);
    nul[10] = '\0';
    CHECK_INT(udr_hash_from_hex(nul, &h), ==, UDR_EINVAL);
}

/* The tree walk against the one-threaded official hasher, on inputs small
 * enough to cover its edges: 0, 1 and partial chunks, powers of two and one
 * more, with 1 to 4 threads. */
static void test_tree_small_inputs(void)
{
    size_t max = 70 * 1024 + 1;
    unsigned char *buf = malloc(max);
    REQUIRE(buf != NULL);
    t_fill(buf, max, 77);
    for (size_t len = 0; len <= max; len += len < 4200 ? 1 : 1023) {
        udr_hash want, got;
        hash_buffer(buf, len, &want);
        for (int threads = 1; threads <= 4; threads++) {
            hash_tree_for_test(buf, len, threads, &got);
            if (!hash_equal(&want, &got)) {
                harness_fail(__FILE__, __LINE__, "tree hash differs at %zu bytes, %d threads",
                             len, threads);
                free(buf);
                return;
            }
        }
    }
    free(buf);
}

/* Large inputs: k pieces of 8 MiB and a tail, so that the walk splits into
 * threads at many shapes of tree (equal halves, a small right side...). */
enum { SUBTREE_BYTES = 8 << 20 };
static void test_tree_subtrees_and_tails(void)
{
    size_t max = 9 * (size_t)SUBTREE_BYTES + 3 * 1024 * 1024 + 7;
    unsigned char *buf = malloc(max);
    REQUIRE(buf != NULL);
    t_fill(buf, max, 78);
    static const size_t subtrees[] = {0, 1, 2, 3, 4, 5, 7, 8, 9};
    static const size_t tails[] = {0, 1, 1024, 1025, 3 * 1024 * 1024 + 7};
    for (size_t i = 0; i < sizeof subtrees / sizeof subtrees[0]; i++) {
        for (size_t j = 0; j < sizeof tails / sizeof tails[0]; j++) {
            size_t len = subtrees[i] * SUBTREE_BYTES + tails[j];
            udr_hash want, got, mt;
            hash_buffer(buf, len, &want);
            hash_tree_for_test(buf, len, 2, &got);
            hash_buffer_mt(buf, len, &mt);
            if (!hash_equal(&want, &got) || !hash_equal(&want, &mt))
                harness_fail(__FILE__, __LINE__, "tree hash differs: %zu subtrees + %zu bytes",
                             subtrees[i], tails[j]);
        }
    }
    free(buf);
}

/* The multi-threaded hash of a file's bytes equals b3sum's. */
static void test_tree_matches_b3sum(void)
{
    size_t len = 3 * (size_t)SUBTREE_BYTES + 12345;
    unsigned char *buf = malloc(len);
    REQUIRE(buf != NULL);
    t_fill(buf, len, 79);
    t_write_file(t_path("tree-input"), buf, len);
    char want[UDR_HASH_HEX + 1], got[UDR_HASH_HEX + 1];
    b3sum_of(t_path("tree-input"), want);
    udr_hash h;
    hash_buffer_mt(buf, len, &h);
    hash_to_hex(&h, got);
    CHECK_STR(got, want);
    free(buf);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_tree_small_inputs),
    TEST_ENTRY(test_tree_subtrees_and_tails),
    TEST_ENTRY(test_tree_matches_b3sum),
    TEST_ENTRY(test_matches_b3sum_at_boundaries),
    TEST_ENTRY(test_matches_b3sum_10mib_random),
    TEST_ENTRY(test_known_vectors),
    TEST_ENTRY(test_hex_round_trip),
    TEST_ENTRY(test_hex_refuses_hostile_strings),
};
HARNESS_MAIN("hash", TESTS)
