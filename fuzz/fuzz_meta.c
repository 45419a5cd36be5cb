/*
 * fuzz_meta — the metadata object decoders (src/catalog.c): table versions
 * (catv_decode) and commits (catc_decode) on arbitrary bytes.
 *
 * Both decoders see every input (the first line decides which one accepts).
 * The invariant is the canonical form (catalog.h): one spelling for one
 * content, so equal metadata hashes equal. A decoder must therefore accept
 * only what its encoder writes: when decoding succeeds, encoding the result
 * must give back the input byte for byte, and decoding that again must
 * succeed. A mismatch is a finding: the target prints both texts and aborts.
 *
 * Checkpoint objects are decoded by load_checkpoint, which reads them from
 * a repository's store into a live catalog; they are not fuzzed here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void mismatch(const char *what, const uint8_t *in, size_t in_len, const char *out,
                     size_t out_len)
{
    fprintf(stderr, "fuzz_meta: %s decoded, but encodes differently\n--- input (%zu bytes)\n%.*s\n"
                    "--- encoding (%zu bytes)\n%.*s\n",
            what, in_len, (int)in_len, (const char *)in, out_len, (int)out_len, out);
    abort();
}

static void check_tablever(const uint8_t *data, size_t size)
{
    udr_err err = {0};
    cat_tablever tv;
    memset(&tv, 0, sizeof tv);
    if (catv_decode(data, size, &tv, &err) != UDR_OK)
        return;
    size_t len = 0;
    char *enc = catv_encode(&tv, &len);
    if (enc == NULL)
        abort();
    if (len != size || memcmp(enc, data, size) != 0)
        mismatch("table version", data, size, enc, len);
    cat_tablever again;
    memset(&again, 0, sizeof again);
    if (catv_decode(enc, len, &again, &err) != UDR_OK)
        abort();
    catv_free(&again);
    free(enc);
    catv_free(&tv);
}

static void check_commit(const uint8_t *data, size_t size)
{
    udr_err err = {0};
    cat_commit c;
    memset(&c, 0, sizeof c);
    if (catc_decode(data, size, &c, &err) != UDR_OK)
        return;
    size_t len = 0;
    char *enc = catc_encode(&c, &len);
    if (enc == NULL)
        abort();
    if (len != size || memcmp(enc, data, size) != 0)
        mismatch("commit", data, size, enc, len);
    cat_commit again;
    memset(&again, 0, sizeof again);
    if (catc_decode(enc, len, &again, &err) != UDR_OK)
        abort();
    catc_free(&again);
    free(enc);
    catc_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes: a read past the end is ASan's to see. */
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    check_tablever(copy, size);
    check_commit(copy, size);
    free(copy);
    return 0;
}
