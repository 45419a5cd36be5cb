/*
 * catalog_int — what the catalog layer's files share (catalog.c, catsub.c);
 * nothing outside the layer includes it.
 */
#ifndef UDR_CATALOG_INT_H
#define UDR_CATALOG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "util/buf.h"
#include "util/grow.h"

enum { REC_COMMIT = 1, REC_CHECKPOINT = 2, REC_REF = 3, REC_SUB = 4, REC_EXPIRE = 5 };

/* Binary search of a name in an array sorted by it (see catalog.c). */
int cat_find_name(const void *base, size_t n, size_t size, size_t off, const char *name,
                  size_t *at);
/* UDR_ECORRUPT: log record seq is malformed. */
int cat_malformed(catalog *c, uint64_t seq);
/* The next record's time: now, after every record before. */
int64_t cat_record_time(const catalog *c);
/* Appends a record (lock held) and applies it to the index. */
int cat_append_record(catalog *c, buf *b);

/* catsub.c */
int catsub_add(catalog *c, const char *name, const char *branch, char *const *tables, size_t n,
               uint64_t cursor, int64_t created_us);
void catsub_free_all(catalog *c);
int catsub_apply(catalog *c, uint64_t seq, reader *r);
int catsub_apply_acks(catalog *c, uint64_t seq, reader *r);

/* catexp.c */
int catexp_apply(catalog *c, uint64_t seq, reader *r);

#endif
