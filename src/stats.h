/*
 * stats — what a repository stores against what its history would take
 * (udr_stats_get in udr.h: the definitions of logical and physical bytes).
 *
 * It reads the catalog's index (every version of every table, loaded whole
 * with catalog_complete) and the store: each table version object is
 * decoded once; its chunks' bytes come from the version, its delete files'
 * and patches' bytes from the store (the version does not record them). Physical bytes
 * are counted through two sets of object hashes: one for the whole
 * repository, one for the table being walked (tables are walked one at a
 * time, so the second is emptied between them). Nothing is written.
 */
#ifndef UDR_STATS_H
#define UDR_STATS_H

#include "catalog.h"
#include "store.h"
#include "udr.h"

/* How often (in table versions) the progress callback is called. */
enum { STATS_PROGRESS_EVERY = 16 };

/* Fills out from a complete, refreshed catalog and its store; errors go to
 * c->err, naming the table, version and object. */
int stats_collect(catalog *c, store *s, udr_progress_fn progress, void *ctx, udr_stats *out);

#endif
