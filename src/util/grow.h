/*
 * grow — room in a growable array.
 */
#ifndef UDR_UTIL_GROW_H
#define UDR_UTIL_GROW_H

#include <stddef.h>

/* arr (of *cap elements of elem bytes, n in use) with room for one more:
 * the same array, or a larger one (capacity doubled, from 8) with *cap
 * updated. NULL when memory runs out; arr is then left as it was. */
void *grow(void *arr, size_t *cap, size_t n, size_t elem);

#endif
