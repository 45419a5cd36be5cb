/*
 * repo — the repository handle: opening, creating, and the public object API.
 *
 * On disk, a repository is a directory:
 *
 *   FORMAT     "udr repository\nformat 1\n": what this is and which version
 *              of the layout; written last by init, so a half-made
 *              repository is never mistaken for one
 *   objects/   the content-addressed store (store.h)
 *   log/       the catalog log (later layers)
 *   tmp/       temporary files of writes in progress
 *
 * The handle owns the error record of every layer below it, and one of
 * each: store, catalog, query engine.
 */
#ifndef UDR_REPO_H
#define UDR_REPO_H

#include "catalog.h"
#include "query.h"
#include "store.h"
#include "udr.h"
#include "util/err.h"

enum { REPO_FORMAT_VERSION = 1 };

struct udr_repo {
    udr_err err;
    store store;
    char path[PATH_MAX];
    catalog cat;               /* the index of tables and commits */
    int cat_open;
    query q;                   /* DuckDB, started on first use */
    int usable;                /* 1 once opened successfully */
    int tmp_removed;           /* stale temporary files removed at open */
    struct udr_tx *tx;         /* the open transaction, if any */
    struct feed_state *feed;   /* polls and waits of this handle (feedapi.c) */
};

/* For the other files of the public API: */
int repo_begin(udr_repo *repo);           /* clears the error; refuses a closed handle */
const char *repo_author(const char *given);   /* given, else $UDR_AUTHOR, $USER, the account */
udr_result *repo_wrap_result(duckdb_result *r);   /* takes r over; NULL: out of memory */
/* The same for a result a user reads: columns shown as text (lists, UUIDs,
 * TIMESTAMP_NS ...) keep the names of their own types. */
udr_result *repo_wrap_shown(duckdb_result *r, query *q);

/* For tests and front ends inside the project: the store of an open repo. */
store *repo_store(udr_repo *repo);

#endif
