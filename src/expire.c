/*
 * expire — retention: which table versions a rule lets go (udr_expire).
 *
 * The rule (older than a duration, beyond the newest N of each table)
 * names candidates; what something still needs is held back:
 *
 *   newest        each table's newest version (a checkpoint's index holds
 *                 only those, so it never has to know of an expiry);
 *   branch, tag   every version its head commit names;
 *   merge base    every version the merge base of two branches names (the
 *                 next merge of those branches reads it);
 *   subscription  for its tables, the versions its branch had at its cursor
 *                 and at every point after (the next batches compare them).
 *
 * All of it is decided under the log's lock, after reading what others
 * committed, and recorded as one expire record (catexp.c): so a commit, a
 * new branch or an acknowledgement is either before the decision (and
 * counted) or after it (and checked against it: catalog_set_ref refuses a
 * head at an expired version). Objects are not touched here: udr_gc frees
 * what no kept version names, after its grace period.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "branch.h"
#include "catalog.h"
#include "hash.h"
#include "repo.h"
#include "util/grow.h"

typedef struct held {
    const char *table;               /* the catalog's name (stable under the lock) */
    uint64_t version;
    udr_expire_verdict why;
    char *holder;
} held;

typedef struct holds {
    held *v;
    size_t n, cap;
    int oom;
} holds;

static void hold(holds *h, catalog *c, const char *table, uint64_t version,
                 udr_expire_verdict why, const char *holder)
{
    const cat_table *t = catalog_table(c, table);
    if (t == NULL)
        return;
    held *v = grow(h->v, &h->cap, h->n, sizeof *v);
    if (v == NULL) {
        h->oom = 1;
        return;
    }
    h->v = v;
    char *name = strdup(holder);
    if (name == NULL) {
        h->oom = 1;
        return;
    }
    h->v[h->n++] = (held){t->name, version, why, name};
}

/* Every version a commit names. */
static int hold_commit(holds *h, catalog *c, const udr_hash *commit, udr_expire_verdict why,
                       const char *holder)
{
    cat_commit cm;
    int rc = catalog_read_commit(c, commit, &cm);
    if (rc)
        return rc;
    for (size_t i = 0; i < cm.ntables; i++)
        hold(h, c, cm.tables[i].table, cm.tables[i].version, why, holder);
    catc_free(&cm);
    return UDR_OK;
}

static int cmp_held(const void *a, const void *b)
{
    const held *x = a, *y = b;
    int d = strcmp(x->table, y->table);
    if (d != 0)
        return d;
    if (x->version != y->version)
        return x->version < y->version ? -1 : 1;
    return (int)x->why - (int)y->why;
}

/* The first (strongest) hold on a version, or NULL. */
static const held *held_by(const holds *h, const char *table, uint64_t version)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int d = strcmp(h->v[mid].table, table);
        if (d < 0 || (d == 0 && h->v[mid].version < version))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < h->n && strcmp(h->v[lo].table, table) == 0 && h->v[lo].version == version
               ? &h->v[lo]
               : NULL;
}

static void holds_free(holds *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->v[i].holder);
    free(h->v);
}

/* What branches, tags, merges and subscriptions need, and the newest. */
static int collect_holds(catalog *c, holds *h)
{
    int rc = UDR_OK;
    for (size_t t = 0; t < c->ntables; t++) {
        const cat_table *tb = &c->tables[t];
        if (tb->nv > 0)
            hold(h, c, tb->name, tb->v[tb->nv - 1].version, UDR_EXPIRE_KEPT_NEWEST, "");
    }
    for (size_t i = 0; i < c->nbranches; i++) {
        const cat_branch *b = &c->branches[i];
        for (size_t k = 0; k < b->ntables; k++)
            hold(h, c, b->tables[k].table, b->tables[k].version, UDR_EXPIRE_KEPT_BRANCH, b->name);
    }
    for (size_t i = 0; rc == UDR_OK && i < c->ntags; i++)
        rc = hold_commit(h, c, &c->tags[i].commit, UDR_EXPIRE_KEPT_TAG, c->tags[i].name);
    for (size_t i = 0; rc == UDR_OK && i < c->nbranches; i++) {
        for (size_t j = i + 1; rc == UDR_OK && j < c->nbranches; j++) {
            const cat_branch *a = &c->branches[i], *b = &c->branches[j];
            if (!a->has_head || !b->has_head || hash_equal(&a->head, &b->head))
                continue;
            udr_hash base[2];
            size_t nb = 0;
            if ((rc = branch_merge_base(c, &a->head, &b->head, base, &nb)) != UDR_OK)
                break;
            size_t len = strlen(a->name) + strlen(b->name) + 4;
            char *pair = malloc(len);
            if (pair == NULL)
                return err_set(c->err, UDR_ENOMEM, "out of memory");
            snprintf(pair, len, "%s...%s", a->name, b->name);
            for (size_t k = 0; rc == UDR_OK && k < nb; k++)
                rc = hold_commit(h, c, &base[k], UDR_EXPIRE_KEPT_MERGE_BASE, pair);
            free(pair);
        }
    }
    for (size_t i = 0; rc == UDR_OK && i < c->nsubs; i++) {
        const cat_sub *s = &c->subs[i];
        const cat_branch *b = catalog_branch(c, s->branch);
        if (b == NULL)
            continue;
        /* The last point at or before the cursor, and every one after. */
        size_t k = 0;
        while (k < b->npoints && b->points[k].seq <= s->cursor)
            k++;
        for (size_t p = k > 0 ? k - 1 : 0; rc == UDR_OK && p < b->npoints; p++) {
            cat_commit cm;
            if ((rc = catalog_read_commit(c, &b->points[p].commit, &cm)) != UDR_OK)
                break;
            for (size_t e = 0; e < cm.ntables; e++)
                for (size_t t = 0; t < s->ntables; t++)
                    if (strcmp(cm.tables[e].table, s->tables[t]) == 0)
                        hold(h, c, cm.tables[e].table, cm.tables[e].version,
                             UDR_EXPIRE_KEPT_SUBSCRIPTION, s->name);
            catc_free(&cm);
        }
    }
    if (rc == UDR_OK && h->oom)
        rc = err_set(c->err, UDR_ENOMEM, "out of memory");
    if (rc == UDR_OK && h->n > 0)
        qsort(h->v, h->n, sizeof *h->v, cmp_held);
    return rc;
}

typedef struct plan {
    cat_expiry *v;
    size_t n, cap;
} plan;

/* Decides one table's versions: oldest first, by the rule, then the holds. */
static int decide_table(const cat_table *tb, const udr_expire_opts *o, int64_t now_us,
                        const holds *h, plan *p, udr_expire_report *out)
{
    uint64_t live = 0;                 /* versions neither dropped nor expired */
    for (size_t v = 0; v < tb->nv; v++)
        live += !tb->v[v].dropped && tb->v[v].expired_us == 0;
    uint64_t seen = 0;
    for (size_t v = 0; v < tb->nv; v++) {
        const cat_version *cv = &tb->v[v];
        if (cv->dropped)
            continue;
        if (cv->expired_us != 0) {
            out->expired_before++;
            continue;
        }
        out->considered++;
        uint64_t newer = live - ++seen;    /* kept versions newer than this one */
        int go = 1;
        if (o->keep_last > 0 && newer < o->keep_last)
            go = 0;
        /* (an age beyond 1970 keeps everything, without overflowing) */
        if (o->older_than_s >= 0 &&
            (o->older_than_s > now_us / 1000000 || cv->time_us > now_us - o->older_than_s * 1000000))
            go = 0;
        const held *hd = go ? held_by(h, tb->name, cv->version) : NULL;
        udr_expire_verdict verdict = !go ? UDR_EXPIRE_KEPT_RULE
                                     : hd != NULL ? hd->why
                                                  : UDR_EXPIRE_EXPIRED;
        if (verdict == UDR_EXPIRE_EXPIRED) {
            cat_expiry *nv = grow(p->v, &p->cap, p->n, sizeof *nv);
            if (nv == NULL)
                return UDR_ENOMEM;
            p->v = nv;
            p->v[p->n++] = (cat_expiry){tb->name, cv->version};
            out->expired++;
        } else if (verdict == UDR_EXPIRE_KEPT_RULE) {
            out->kept_by_rule++;
        } else {
            out->kept_held++;
        }
        if (o->each != NULL)
            o->each(o->ctx, tb->name, cv->version, verdict, hd != NULL ? hd->holder : "");
    }
    return UDR_OK;
}

int udr_expire(udr_repo *repo, const udr_expire_opts *o, udr_expire_report *out)
{
    udr_expire_report scratch;
    if (out == NULL)
        out = &scratch;
    memset(out, 0, sizeof *out);
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    if (o == NULL || (o->older_than_s < 0 && o->keep_last == 0))
        return err_set(&repo->err, UDR_EINVAL,
                       "expire needs a rule: an age (older than) or a count (keep the last N)");
    catalog *c = &repo->cat;
    if (o->table != NULL && (rc = catalog_check_name(o->table, &repo->err)) != UDR_OK)
        return rc;
    /* Every version's state first (this reopens the log: never under the
     * lock), then the lock, and what others did since. */
    if ((rc = catalog_refresh(c)) != UDR_OK || (rc = catalog_complete(c)) != UDR_OK)
        return rc;
    if ((rc = catalog_lock(c)) != UDR_OK)
        return rc;
    holds h = {0};
    plan p = {0};
    if ((rc = catalog_refresh(c)) != UDR_OK)
        goto out;
    if (o->table != NULL && catalog_table(c, o->table) == NULL) {
        rc = err_set(&repo->err, UDR_ENOTFOUND,
                     "there is no table %s (see 'udr tables' for the tables there are)",
                     o->table);
        goto out;
    }
    if ((rc = collect_holds(c, &h)) != UDR_OK)
        goto out;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    for (size_t t = 0; rc == UDR_OK && t < c->ntables; t++)
        if (o->table == NULL || strcmp(o->table, c->tables[t].name) == 0)
            if (decide_table(&c->tables[t], o, now_us, &h, &p, out) != UDR_OK)
                rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
    if (rc == UDR_OK && p.n > 0 && !o->dry_run) {
        char rule[CATALOG_NAME_MAX + 96];
        int len = 0;
        if (o->older_than_s >= 0)
            len += snprintf(rule + len, sizeof rule - (size_t)len, "older-than %llds",
                            (long long)o->older_than_s);
        if (o->keep_last > 0)
            len += snprintf(rule + len, sizeof rule - (size_t)len, "%skeep-last %llu",
                            len ? " " : "", (unsigned long long)o->keep_last);
        if (o->table != NULL)
            snprintf(rule + len, sizeof rule - (size_t)len, " table %s", o->table);
        rc = catalog_expire(c, rule, p.v, p.n, &out->seq);
    }
out:
    catalog_unlock(c);
    if (rc == UDR_OK && out->seq != 0)
        rc = catalog_sync(c);
    holds_free(&h);
    free(p.v);
    if (rc == UDR_OK)
        err_clear(&repo->err);
    return rc;
}
