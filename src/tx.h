/*
 * tx — transactions: a snapshot of a branch, the writes kept aside until
 * commit, and the check at commit against what others committed meanwhile.
 *
 * A transaction begins at its branch's head (the snapshot). Its reads see
 * the snapshot plus its own writes; its writes are new table-version
 * objects, stored at once (objects are harmless until a commit names them)
 * but named only by the transaction. At commit, under the log's lock, each
 * table it wrote is compared with the branch's head now:
 *
 *   - unchanged since the snapshot: the write goes in;
 *   - changed by another commit: a conflict (first committer wins), unless
 *     the table has a key and the other commit changed other keys: then the
 *     upper layer merges the rows (three-way, base = the snapshot's version)
 *     and commits the merge. tx_check says which tables need that.
 *
 * SERIALIZABLE also fails a transaction if a table it read (and did not
 * write) changed since the snapshot: that is write skew. All tables of a
 * transaction become visible in one log record.
 */
#ifndef UDR_TX_H
#define UDR_TX_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

typedef struct tx_write {
    char *table;
    int dropped;                     /* the transaction drops the table */
    udr_hash tv;                     /* else its new content */
    int key_changed;                 /* its key or columns differ from the base's */
} tx_write;

typedef struct tx_state {
    char branch[CATALOG_REF_MAX + 1];
    int serializable;
    int has_head;
    udr_hash head;                   /* the snapshot: the branch head at begin */
    cat_entry *snap;                 /* its tables, sorted by name (owned) */
    size_t nsnap;
    tx_write *w;                     /* writes, one per table (the last) */
    size_t nw, wcap;
    char **read;                     /* tables read */
    size_t nread, rcap;
} tx_state;

/* Takes the snapshot of branch (NULL: the working branch). */
int tx_begin(catalog *c, const char *branch, int serializable, tx_state *t);
void tx_free(tx_state *t);

/* The table's entry as the transaction sees it: its own write, else the
 * snapshot's. *found 0: no such table (or dropped by the transaction). */
int tx_lookup(const tx_state *t, const char *table, cat_entry *out, int *found);

/* Records a write (tv NULL: a drop). */
int tx_record_write(tx_state *t, const char *table, const udr_hash *tv);
/* Records that a table was read (for SERIALIZABLE). */
int tx_record_read(tx_state *t, const char *table);

/* A table both this transaction and a later commit changed. */
typedef struct tx_clash {
    const char *table;
    int has_base;
    cat_entry base;                  /* in the snapshot */
    cat_entry theirs;                /* at the head now (hash zero: dropped) */
    int theirs_present;
    udr_hash commit;                 /* the commit that changed it last */
} tx_clash;

/* Compares the writes and (SERIALIZABLE) the reads with the branch's head
 * now. Conflicts that rows cannot resolve fail with UDR_ECONFLICT naming the
 * table and the commit; *clashes lists the written tables another commit
 * changed too, for the caller to merge by rows. head_out: the head compared
 * against (commit with check_head on it). */
int tx_check(catalog *c, tx_state *t, tx_clash **clashes, size_t *n, int *has_head,
             udr_hash *head_out);

#endif
