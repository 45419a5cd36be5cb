/*
 * grow — room in a growable array; see grow.h.
 */
#include "util/grow.h"

#include <stdlib.h>

void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t c = *cap ? *cap * 2 : 8;
    void *a = realloc(arr, c * elem);
    if (a != NULL)
        *cap = c;
    return a;
}
