/*
 * fuzz_sqlsplit — the SQL front's statement splitter (cli/sqlsplit.c) on
 * arbitrary text, as the shell and `udr sql -f` feed it.
 *
 * The input, cut at its first NUL (the splitter takes C strings), lives in a
 * buffer of exactly its length plus the NUL, so a read past the end is
 * ASan's to see. Invariants checked, each a finding (abort) if broken:
 *   - every statement lies within the text, after the previous one;
 *   - statements are trimmed (no space at either end) and never empty;
 *   - the read position only moves forward, never past the NUL, and the
 *     loop ends within one step per byte;
 *   - splitting is deterministic: sql_is_complete agrees with the last
 *     step's completeness.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlsplit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void finding(const char *what, size_t at)
{
    fprintf(stderr, "fuzz_sqlsplit: %s (at byte %zu)\n", what, at);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *end = text + strlen(text);

    const char *p = text, *prev_end = text, *st = NULL;
    size_t len = 0, steps = 0;
    int complete = 1, last = 1, any = 0;
    while (sql_next(&p, &st, &len, &complete)) {
        if (++steps > (size_t)(end - text) + 1)
            finding("more statements than bytes", (size_t)(p - text));
        if (st < prev_end || st + len > end || len == 0)
            finding("a statement out of the text or out of order", (size_t)(st - text));
        if (isspace((unsigned char)st[0]) || isspace((unsigned char)st[len - 1]))
            finding("an untrimmed statement", (size_t)(st - text));
        if (p < st + len || p > end)
            finding("the read position is behind the statement or past the end",
                    (size_t)(p - text));
        prev_end = st + len;
        any = 1;
        last = complete;
    }
    if (p < prev_end || p > end)
        finding("the read position moved back or past the end", (size_t)(p - text));
    if (sql_is_complete(text) != (any && last && complete))
        finding("sql_is_complete disagrees with sql_next", 0);
    free(text);
    return 0;
}
