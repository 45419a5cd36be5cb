/*
 * branch — commits as a graph: naming them (branches, tags, hash prefixes,
 * REF~N), walking history, the merge base of two commits, and what differs
 * between two commits table by table. Refs themselves are log records kept
 * by the catalog (catalog_set_ref); this layer reads commit objects.
 *
 * Merge base: git's "paint" walk. Both sides' commits are visited newest
 * first; a commit reached from both sides is a candidate and its ancestors
 * are not; the walk stops when only such ancestors are left. Of the
 * candidates, those that are ancestors of another are dropped. Two left
 * means criss-cross history: branch_merge_base says so and gives both.
 */
#ifndef UDR_BRANCH_H
#define UDR_BRANCH_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

/* A commit named by ref: a branch (its head), a tag, a hash or a unique
 * prefix of at least 4 hex digits, each optionally followed by ~N (N
 * first-parent steps back). UDR_ENOTFOUND names the ref and suggests the
 * closest branch and tag names. */
int branch_resolve(catalog *c, const char *ref, udr_hash *out);

/* The merge base of a and b. *n: 0 (unrelated histories), 1, or 2 (more
 * than one best common ancestor: criss-cross; both given). */
int branch_merge_base(catalog *c, const udr_hash *a, const udr_hash *b, udr_hash out[2],
                      size_t *n);

/* Whether a is an ancestor of b (or b itself). */
int branch_is_ancestor(catalog *c, const udr_hash *a, const udr_hash *b, int *yes);

/* A commit, decoded, with its hash. */
typedef struct branch_commit {
    udr_hash hash;
    cat_commit c;
} branch_commit;

/* Commits reachable from start (every parent), newest first, at most max
 * (0: all): malloc'd; free with branch_commits_free. */
int branch_history(catalog *c, const udr_hash *start, size_t max, branch_commit **out,
                   size_t *n);
void branch_commits_free(branch_commit *v, size_t n);

/* What differs between two table maps (sorted by name, as commits hold
 * them): each table in either, with its version on each side (0: absent). */
typedef struct branch_table_diff {
    const char *table;                  /* points into a or b */
    uint64_t va, vb;
    udr_hash ha, hb;
} branch_table_diff;

/* The tables that differ (added, removed or another version); malloc'd. */
int branch_diff_tables(const cat_entry *a, size_t na, const cat_entry *b, size_t nb,
                       branch_table_diff **out, size_t *n);

#endif
