/*
 * gc — removing objects nothing refers to; see gc.c and udr_gc in udr.h.
 */
#ifndef UDR_GC_H
#define UDR_GC_H
#include <stdint.h>

#include "udr.h"

/* A set of object hashes (sorted once gc_mark returns). */
typedef struct gc_refs {
    udr_hash *v;
    size_t n, cap;
    int oom;
} gc_refs;

/* Everything the log refers to: each commit, each table version that is
 * not a drop (nor expired before expired_before_us, in microseconds since
 * 1970: INT64_MAX leaves out every expired one), each chunk, delete file
 * and patch those name. strict: a table version that cannot be read is an
 * error naming it; else it is skipped (fsck names it). refs is emptied
 * first; free it with gc_refs_free. */
int gc_mark(udr_repo *repo, gc_refs *refs, int strict, int64_t expired_before_us);
int gc_refs_has(const gc_refs *r, const udr_hash *h);
void gc_refs_free(gc_refs *r);

#endif
