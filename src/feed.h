/*
 * feed — the changelog: what each commit of a branch did to some tables,
 * in log order, and waiting for the next commit.
 *
 * The log numbers every record (seq); a branch's history is the list of
 * heads it had (cat_branch.points), each with the seq of the record that
 * set it: a commit, or a ref record (a reset, a fast-forward). A walk goes
 * along those points after a position: at each it reads the head's commit
 * object and compares each table's entry with the one before. A table whose
 * table-version differs is a step: (seq, commit, table, version before,
 * version after). The rows of a step are the query layer's business
 * (query_changes): they come from the chunks and delete files in which the
 * two versions differ.
 *
 * So the feed of a branch is a function of the log alone: replaying it from
 * the beginning gives each table's state at the head, whatever mix of
 * commits, merges and resets made it. Subscriptions (cursors in the log,
 * kept by the catalog) walk from their cursor; the position a walk has read
 * through is what a consumer acknowledges.
 *
 * Waiting uses inotify on log/: every append modifies a segment file, so a
 * waiter wakes on the commit and sleeps, using no CPU, in between.
 */
#ifndef UDR_FEED_H
#define UDR_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

/* One table's change at one point of a branch. */
typedef struct feed_step {
    uint64_t seq;
    int64_t time_us;
    udr_hash commit;
    size_t table;                    /* index into the walk's tables */
    int has_from, has_to;            /* 0: the table was not there */
    uint64_t from_version, to_version;
    udr_hash from, to;               /* table-version objects */
} feed_step;

typedef struct feed_walk {
    char branch[CATALOG_REF_MAX + 1];
    char **tables;                   /* sorted, owned */
    size_t ntables;
    uint64_t pos;                    /* read through this record */
    uint64_t upto;                   /* the last record to consider */
    size_t max_points;               /* points with steps to deliver (0: no limit) */
    size_t points;                   /* delivered so far */
    cat_entry *prev;                 /* each table's entry at pos (.table NULL: absent),
                                        or at its last step delivered while behind */
    uint64_t *behind;                /* each table's expired version skipped since its
                                        last step delivered (0: none) */
    feed_step *queue;                /* steps of the point being delivered */
    size_t nqueue, qnext;
    uint64_t qseq;                   /* that point's seq */
} feed_walk;

/* A walk of branch's points after record `after` up to record upto
 * (UINT64_MAX: the log's end now), at most max_points points that changed
 * one of the tables (0: all). Loads the whole history (catalog_complete). */
int feed_walk_begin(catalog *c, feed_walk *w, const char *branch, const char *const *tables,
                    size_t ntables, uint64_t after, uint64_t upto, size_t max_points);
/* The next step (*got 0 at the end). A step to a version that expired
 * (udr expire) from one still kept, or from no table, is not delivered:
 * the table's next step goes from where it was to the next kept version,
 * so a walk from the beginning of an expired history starts from the
 * earliest version kept (all its rows new), as a Kafka consumer starts at
 * the earliest offset retained. A step from an expired version, or a walk
 * that ends on one, fails, naming it. */
int feed_walk_next(catalog *c, feed_walk *w, feed_step *out, int *got);
/* The record every step delivered so far is complete through. */
uint64_t feed_walk_position(const feed_walk *w);
void feed_walk_free(feed_walk *w);

/* Where a change feed starts or ends, as a walk's after / upto: ref is a
 * version number of table, a commit on branch, or an instant; NULL or ""
 * is the beginning (from) or the end (to). */
int feed_bound(catalog *c, const char *table, const char *branch, const char *ref, int is_from,
               uint64_t *seq);

/* Waits until the log has a record after seq, or timeout_ms (negative: no
 * limit). *ifd: the handle's inotify descriptor (-1: made here, kept).
 * 1: there is one; 0: timeout or a signal. */
int feed_wait(catalog *c, int *ifd, uint64_t seq, int timeout_ms);

#endif
