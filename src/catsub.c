/*
 * catsub — subscriptions in the catalog: their records in the log, the
 * index's entries for them, and the checks of acknowledgements (formats in
 * catalog.h; what subscriptions are for, in feed.h and docs/changelog.md).
 * Part of the catalog layer: catalog.c replays the records through it.
 */
#include <stdlib.h>
#include <string.h>

#include "catalog_int.h"
#include "util/buf.h"

enum { SUB_CREATE = 1, SUB_DROP = 2, SUB_ACK = 3 };

static int find_sub(const catalog *c, const char *name, size_t *at)
{
    return cat_find_name(c->subs, c->nsubs, sizeof *c->subs, offsetof(cat_sub, name), name, at);
}

const cat_sub *catalog_sub(const catalog *c, const char *name)
{
    size_t at;
    return find_sub(c, name, &at) ? &c->subs[at] : NULL;
}

static void free_sub(cat_sub *s)
{
    free(s->name);
    free(s->branch);
    for (size_t i = 0; i < s->ntables; i++)
        free(s->tables[i]);
    free(s->tables);
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds a subscription to the index (its name new). */
int catsub_add(catalog *c, const char *name, const char *branch, char *const *tables,
                   size_t n, uint64_t cursor, int64_t created_us)
{
    size_t at;
    if (find_sub(c, name, &at))
        return UDR_ECORRUPT;
    cat_sub *v = grow(c->subs, &c->scap, c->nsubs, sizeof *v);
    if (v == NULL)
        return UDR_ENOMEM;
    c->subs = v;
    cat_sub s = {strdup(name), strdup(branch), calloc(n + 1, sizeof(char *)), 0, cursor,
                 created_us};
    int rc = s.name && s.branch && s.tables ? UDR_OK : UDR_ENOMEM;
    for (size_t i = 0; rc == UDR_OK && i < n; i++)
        if ((s.tables[s.ntables++] = strdup(tables[i])) == NULL)
            rc = UDR_ENOMEM;
    if (rc) {
        free_sub(&s);
        return rc;
    }
    qsort(s.tables, s.ntables, sizeof *s.tables, cmp_strp);
    memmove(&v[at + 1], &v[at], (c->nsubs - at) * sizeof *v);
    v[at] = s;
    c->nsubs++;
    return UDR_OK;
}

/* A cursor names a record delivered before the one that sets it (the
 * writers check it against the log's end, under the lock): one at or past
 * its own record is damage, and would skip records not yet written. */
static int cursor_ahead(catalog *c, uint64_t seq, const char *name, uint64_t cursor)
{
    return err_set(c->err, UDR_ECORRUPT,
                   "log record %llu is malformed: it puts subscription %s at record %llu, "
                   "which is not before it",
                   (unsigned long long)seq, name, (unsigned long long)cursor);
}

int catsub_apply(catalog *c, uint64_t seq, reader *r)
{
    uint8_t kind = rd_u8(r);
    int64_t time_us = (int64_t)rd_u64(r);
    char *name = rd_str16(r), *branch = NULL;
    char **tables = NULL;
    uint32_t n = 0;
    uint64_t at_seq = 0;
    int rc = UDR_OK;
    if (kind == SUB_CREATE) {
        branch = rd_str16(r);
        at_seq = rd_u64(r);
        n = rd_u32(r);
        if (!r->bad && n <= r->len && (tables = calloc(n + 1, sizeof *tables)) == NULL)
            rc = err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        for (uint32_t i = 0; tables != NULL && i < n && !r->bad; i++)
            tables[i] = rd_str16(r);
    } else if (kind == SUB_ACK) {
        at_seq = rd_u64(r);
    }
    size_t at;
    if (rc == UDR_OK && (r->bad || !rd_done(r) || name == NULL))
        rc = cat_malformed(c, seq);
    else if (rc == UDR_OK && (kind == SUB_CREATE || kind == SUB_ACK) && at_seq >= seq)
        rc = cursor_ahead(c, seq, name, at_seq);
    else if (rc == UDR_OK && kind == SUB_CREATE) {
        if (branch == NULL || tables == NULL || n == 0)
            rc = cat_malformed(c, seq);
        else if ((rc = catsub_add(c, name, branch, tables, n, at_seq, time_us)) == UDR_ENOMEM)
            rc = err_set(c->err, UDR_ENOMEM, "out of memory in the catalog");
        else if (rc)
            rc = cat_malformed(c, seq);
    } else if (rc == UDR_OK && kind == SUB_DROP) {
        if (!find_sub(c, name, &at))
            rc = cat_malformed(c, seq);
        else {
            free_sub(&c->subs[at]);
            memmove(&c->subs[at], &c->subs[at + 1], (c->nsubs - at - 1) * sizeof *c->subs);
            c->nsubs--;
        }
    } else if (rc == UDR_OK && kind == SUB_ACK) {
        if (!find_sub(c, name, &at))
            rc = cat_malformed(c, seq);
        else
            c->subs[at].cursor = at_seq;
    } else if (rc == UDR_OK) {
        rc = err_set(c->err, UDR_EFORMAT,
                     "log record %llu is a subscription change of kind %u, which this udr does "
                     "not know; upgrade udr",
                     (unsigned long long)seq, kind);
    }
    for (uint32_t i = 0; tables != NULL && i < n; i++)
        free(tables[i]);
    free(tables);
    free(name);
    free(branch);
    return rc;
}

static int check_ack(catalog *c, const char *name, uint64_t expect, uint64_t seq)
{
    const cat_sub *sb = catalog_sub(c, name);
    if (sb == NULL)
        return err_set(c->err, UDR_ENOTFOUND,
                       "there is no subscription %s (see 'udr subscribe list')", name);
    if (seq < sb->cursor)
        return err_set(c->err, UDR_EINVAL,
                       "subscription %s is acknowledged through %llu already; %llu would move "
                       "it back (its cursor stays)",
                       name, (unsigned long long)sb->cursor, (unsigned long long)seq);
    if (seq > log_last_seq(&c->log))
        return err_set(c->err, UDR_EINVAL,
                       "cannot acknowledge %llu for subscription %s: the log ends at %llu, so "
                       "it cannot have been delivered (its cursor stays at %llu)",
                       (unsigned long long)seq, name,
                       (unsigned long long)log_last_seq(&c->log),
                       (unsigned long long)sb->cursor);
    if (expect != UINT64_MAX && sb->cursor != expect)
        return err_set(c->err, UDR_ECONFLICT,
                       "subscription %s was acknowledged through %llu by another consumer "
                       "meanwhile (this one read from %llu); nothing was committed: poll "
                       "again",
                       name, (unsigned long long)sb->cursor, (unsigned long long)expect);
    return UDR_OK;
}

int catalog_check_acks(catalog *c, const cat_ack *acks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = check_ack(c, acks[i].name, acks[i].expect, acks[i].seq);
        if (rc)
            return rc;
    }
    return UDR_OK;
}

/* Appends a sub record under the lock, after the check (may be NULL). */
static int sub_record(catalog *c, int kind, const char *name, int (*check)(catalog *, void *),
                      void *arg, void (*body)(catalog *, buf *, void *))
{
    int rc = catalog_check_ref_name(name, "subscription", c->err);
    if (rc == UDR_OK)
        rc = log_lock(&c->log);
    if (rc)
        return rc;
    if ((rc = catalog_refresh(c)) == UDR_OK && check != NULL)
        rc = check(c, arg);
    if (rc == UDR_OK) {
        buf b;
        buf_init(&b);
        buf_u8(&b, REC_SUB);
        buf_u8(&b, (uint8_t)kind);
        buf_u64(&b, (uint64_t)cat_record_time(c));
        buf_str16(&b, name);
        if (body != NULL)
            body(c, &b, arg);
        rc = cat_append_record(c, &b);
    }
    log_unlock(&c->log);
    return rc == UDR_OK ? log_sync(&c->log) : rc;
}

typedef struct sub_args {
    const char *name, *branch;
    const char *const *tables;
    size_t ntables;
    uint64_t expect, seq;
} sub_args;

static int check_create(catalog *c, void *arg)
{
    sub_args *a = arg;
    if (catalog_sub(c, a->name) != NULL)
        return err_set(c->err, UDR_EEXIST, "subscription %s exists already", a->name);
    if (catalog_branch(c, a->branch) == NULL)
        return catalog_branch_error(c, a->branch);
    if (a->ntables == 0 || a->ntables > 256)
        return err_set(c->err, UDR_EINVAL, "a subscription names 1 to 256 tables, not %zu",
                       a->ntables);
    for (size_t i = 0; i < a->ntables; i++) {
        int rc = catalog_check_name(a->tables[i], c->err);
        if (rc)
            return rc;
        if (catalog_table(c, a->tables[i]) == NULL)
            return err_set(c->err, UDR_ENOTFOUND, "there is no table %s (see 'udr tables')",
                           a->tables[i]);
        for (size_t k = 0; k < i; k++)
            if (strcmp(a->tables[k], a->tables[i]) == 0)
                return err_set(c->err, UDR_EINVAL, "table %s is named twice", a->tables[i]);
    }
    if (a->seq == UINT64_MAX)
        a->seq = log_last_seq(&c->log);
    return UDR_OK;
}

static void body_create(catalog *c, buf *b, void *arg)
{
    (void)c;
    sub_args *a = arg;
    buf_str16(b, a->branch);
    buf_u64(b, a->seq);
    buf_u32(b, (uint32_t)a->ntables);
    for (size_t i = 0; i < a->ntables; i++)
        buf_str16(b, a->tables[i]);
}

int catalog_sub_create(catalog *c, const char *name, const char *branch,
                       const char *const *tables, size_t ntables, uint64_t cursor)
{
    sub_args a = {name, branch, tables, ntables, 0, cursor};
    return sub_record(c, SUB_CREATE, name, check_create, &a, body_create);
}

static int check_drop(catalog *c, void *arg)
{
    const char *name = arg;
    if (catalog_sub(c, name) == NULL)
        return err_set(c->err, UDR_ENOTFOUND,
                       "there is no subscription %s (see 'udr subscribe list')", name);
    return UDR_OK;
}

int catalog_sub_drop(catalog *c, const char *name)
{
    return sub_record(c, SUB_DROP, name, check_drop, (void *)name, NULL);
}

static int check_ack_args(catalog *c, void *arg)
{
    sub_args *a = arg;
    return check_ack(c, a->name, a->expect, a->seq);
}

static void body_ack(catalog *c, buf *b, void *arg)
{
    (void)c;
    buf_u64(b, ((sub_args *)arg)->seq);
}

int catalog_sub_ack(catalog *c, const char *name, uint64_t expect, uint64_t seq)
{
    sub_args a = {name, NULL, NULL, 0, expect, seq};
    return sub_record(c, SUB_ACK, name, check_ack_args, &a, body_ack);
}


void catsub_free_all(catalog *c)
{
    for (size_t i = 0; i < c->nsubs; i++)
        free_sub(&c->subs[i]);
    free(c->subs);
    c->subs = NULL;
    c->nsubs = c->scap = 0;
}

int catsub_apply_acks(catalog *c, uint64_t seq, reader *r)
{
    uint32_t nacks = rd_u32(r);
    for (uint32_t i = 0; i < nacks && !r->bad; i++) {
        char *name = rd_str16(r);
        uint64_t to = rd_u64(r);
        size_t at;
        int bad = r->bad || name == NULL;
        if (!bad && to >= seq) {
            int rc = cursor_ahead(c, seq, name, to);
            free(name);
            return rc;
        }
        if (!bad && find_sub(c, name, &at))
            c->subs[at].cursor = to;
        free(name);
        if (bad)
            return cat_malformed(c, seq);
    }
    return r->bad ? cat_malformed(c, seq) : UDR_OK;
}
