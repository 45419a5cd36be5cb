/*
 * tx — snapshots, write and read sets, and the check at commit; see tx.h.
 */
#include "tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

static void free_entries(cat_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].table);
    free(e);
}

void tx_free(tx_state *t)
{
    free_entries(t->snap, t->nsnap);
    for (size_t i = 0; i < t->nw; i++)
        free(t->w[i].table);
    free(t->w);
    for (size_t i = 0; i < t->nread; i++)
        free(t->read[i]);
    free(t->read);
    memset(t, 0, sizeof *t);
}

int tx_begin(catalog *c, const char *branch, int serializable, tx_state *t)
{
    memset(t, 0, sizeof *t);
    int rc = catalog_refresh(c);
    if (rc)
        return rc;
    const cat_branch *b = catalog_branch(c, branch);
    if (b == NULL)
        return catalog_branch_error(c, branch);
    snprintf(t->branch, sizeof t->branch, "%s", b->name);
    t->serializable = serializable;
    t->has_head = b->has_head;
    t->head = b->head;
    t->snap = calloc(b->ntables + 1, sizeof *t->snap);
    if (t->snap == NULL)
        return err_set(c->err, UDR_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->ntables; i++) {
        t->snap[i] = b->tables[i];
        if ((t->snap[i].table = strdup(b->tables[i].table)) == NULL) {
            t->nsnap = i;
            tx_free(t);
            return err_set(c->err, UDR_ENOMEM, "out of memory");
        }
    }
    t->nsnap = b->ntables;
    return UDR_OK;
}

static const cat_entry *branch_entry(const cat_branch *b, const char *table)
{
    for (size_t k = 0; k < b->ntables; k++)
        if (strcmp(b->tables[k].table, table) == 0)
            return &b->tables[k];
    return NULL;
}

static const cat_entry *snap_entry(const tx_state *t, const char *table)
{
    for (size_t i = 0; i < t->nsnap; i++)
        if (strcmp(t->snap[i].table, table) == 0)
            return &t->snap[i];
    return NULL;
}

static tx_write *write_of(const tx_state *t, const char *table)
{
    for (size_t i = 0; i < t->nw; i++)
        if (strcmp(t->w[i].table, table) == 0)
            return &t->w[i];
    return NULL;
}

int tx_lookup(const tx_state *t, const char *table, cat_entry *out, int *found)
{
    const tx_write *w = write_of(t, table);
    *found = 0;
    if (w != NULL) {
        if (!w->dropped) {
            *out = (cat_entry){NULL, 0, w->tv};   /* version 0: not committed yet */
            *found = 1;
        }
        return UDR_OK;
    }
    const cat_entry *e = snap_entry(t, table);
    if (e != NULL) {
        *out = *e;
        out->table = NULL;
        *found = 1;
    }
    return UDR_OK;
}

int tx_record_write(tx_state *t, const char *table, const udr_hash *tv)
{
    tx_write *w = write_of(t, table);
    if (w == NULL) {
        if (t->nw == t->wcap) {
            size_t cap = t->wcap ? t->wcap * 2 : 8;
            tx_write *nw = realloc(t->w, cap * sizeof *nw);
            if (nw == NULL)
                return UDR_ENOMEM;
            t->w = nw;
            t->wcap = cap;
        }
        w = &t->w[t->nw];
        memset(w, 0, sizeof *w);
        if ((w->table = strdup(table)) == NULL)
            return UDR_ENOMEM;
        t->nw++;
    }
    w->dropped = tv == NULL;
    if (tv != NULL)
        w->tv = *tv;
    return UDR_OK;
}

int tx_record_read(tx_state *t, const char *table)
{
    for (size_t i = 0; i < t->nread; i++)
        if (strcmp(t->read[i], table) == 0)
            return UDR_OK;
    if (t->nread == t->rcap) {
        size_t cap = t->rcap ? t->rcap * 2 : 8;
        char **nr = realloc(t->read, cap * sizeof *nr);
        if (nr == NULL)
            return UDR_ENOMEM;
        t->read = nr;
        t->rcap = cap;
    }
    if ((t->read[t->nread] = strdup(table)) == NULL)
        return UDR_ENOMEM;
    t->nread++;
    return UDR_OK;
}

static int was_read(const tx_state *t, const char *table)
{
    for (size_t i = 0; i < t->nread; i++)
        if (strcmp(t->read[i], table) == 0)
            return 1;
    return 0;
}

/* The commit that made the head's entry of table (or dropped it). */
static void last_commit(const catalog *c, const char *table, const cat_entry *now,
                        udr_hash *out, char hex[13])
{
    const cat_table *tb = catalog_table(c, table);
    const cat_version *v = now ? catalog_version(c, table, now->version)
                           : tb && tb->nv ? &tb->v[tb->nv - 1] : NULL;
    memset(out, 0, sizeof *out);
    snprintf(hex, 13, "?");
    if (v != NULL) {
        char full[UDR_HASH_HEX + 1];
        *out = v->commit;
        hash_to_hex(&v->commit, full);
        snprintf(hex, 13, "%.12s", full);
    }
}

static int same(const cat_entry *a, const cat_entry *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return hash_equal(&a->hash, &b->hash);
}

int tx_check(catalog *c, tx_state *t, tx_clash **clashes, size_t *n, int *has_head,
             udr_hash *head_out)
{
    *clashes = NULL;
    *n = 0;
    int rc = catalog_refresh(c);
    if (rc)
        return rc;
    const cat_branch *b = catalog_branch(c, t->branch);
    if (b == NULL && catalog_branch_any(c, t->branch) != NULL)
        return catalog_branch_error(c, t->branch);       /* broken */
    if (b == NULL)
        return err_set(c->err, UDR_ECONFLICT,
                       "branch %s was deleted while this transaction ran; nothing was committed",
                       t->branch);
    *has_head = b->has_head;
    *head_out = b->head;
    if (b->has_head == t->has_head && (!b->has_head || hash_equal(&b->head, &t->head)))
        return UDR_OK;                 /* nothing committed since the snapshot */
    tx_clash *v = calloc(t->nw + 1, sizeof *v);
    if (v == NULL)
        return err_set(c->err, UDR_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->nw; i++) {
        const char *table = t->w[i].table;
        const cat_entry *s = snap_entry(t, table), *now = branch_entry(b, table);
        if (same(s, now))
            continue;
        udr_hash who;
        char hex[13];
        last_commit(c, table, now, &who, hex);
        /* Rows can reconcile two changes of one keyed table: both sides
         * wrote a content, the snapshot had one, and (SERIALIZABLE) the
         * transaction did not read the table. */
        if (t->serializable && was_read(t, table)) {
            free(v);
            return err_set(c->err, UDR_ECONFLICT,
                           "table %s, which this SERIALIZABLE transaction read and wrote, was "
                           "changed by commit %s since it began; nothing was committed: run it "
                           "again",
                           table, hex);
        }
        if (s == NULL || now == NULL || t->w[i].dropped) {
            free(v);
            return err_set(c->err, UDR_ECONFLICT,
                           "table %s was changed by commit %s since this transaction began; "
                           "nothing was committed (the first committer wins): run the "
                           "transaction again",
                           table, hex);
        }
        v[*n] = (tx_clash){table, 1, *s, *now, 1, who};
        v[*n].base.table = v[*n].theirs.table = NULL;
        (*n)++;
    }
    for (size_t i = 0; t->serializable && i < t->nread; i++) {
        const char *table = t->read[i];
        if (write_of(t, table) != NULL)
            continue;
        const cat_entry *s = snap_entry(t, table), *now = branch_entry(b, table);
        if (same(s, now))
            continue;
        udr_hash who;
        char hex[13];
        last_commit(c, table, now, &who, hex);
        free(v);
        return err_set(c->err, UDR_ECONFLICT,
                       "table %s, which this SERIALIZABLE transaction read, was changed by "
                       "commit %s since it began; nothing was committed: run it again",
                       table, hex);
    }
    *clashes = v;
    return UDR_OK;
}
