/*
 * branch — naming commits, walking history, merge bases, table diffs; see
 * branch.h.
 */
#include "branch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

/* ---- a set of commits being walked --------------------------------------- */

enum { F_A = 1, F_B = 2, F_STALE = 4, F_RESULT = 8 };

typedef struct node {
    udr_hash hash;
    int64_t time_us;
    udr_hash parents[2];
    int nparents;
    int flags, done;                  /* done: flags already passed on */
} node;

typedef struct walk {
    catalog *c;
    node *nodes;
    size_t n, cap;
    size_t *slots;                    /* open addressing: index + 1, 0 empty */
    size_t nslots;
    size_t *heap;                     /* node indices, newest first */
    size_t nheap, heapcap;
} walk;

static size_t slot_of(const udr_hash *h, size_t nslots)
{
    uint64_t x;
    memcpy(&x, h->bytes, sizeof x);
    return (size_t)(x % nslots);
}

static int rehash(walk *w)
{
    size_t ns = w->nslots ? w->nslots * 2 : 256;
    size_t *slots = calloc(ns, sizeof *slots);
    if (slots == NULL)
        return UDR_ENOMEM;
    for (size_t i = 0; i < w->n; i++) {
        size_t s = slot_of(&w->nodes[i].hash, ns);
        while (slots[s])
            s = (s + 1) % ns;
        slots[s] = i + 1;
    }
    free(w->slots);
    w->slots = slots;
    w->nslots = ns;
    return UDR_OK;
}

/* The node of a commit, read from the store the first time; *idx. */
static int node_of(walk *w, const udr_hash *h, size_t *idx)
{
    if (w->nslots) {
        for (size_t s = slot_of(h, w->nslots); w->slots[s]; s = (s + 1) % w->nslots)
            if (hash_equal(&w->nodes[w->slots[s] - 1].hash, h)) {
                *idx = w->slots[s] - 1;
                return UDR_OK;
            }
    }
    cat_commit cm;
    int rc = catalog_read_commit(w->c, h, &cm);
    if (rc)
        return rc;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        node *nn = realloc(w->nodes, cap * sizeof *nn);
        if (nn == NULL) {
            catc_free(&cm);
            return err_set(w->c->err, UDR_ENOMEM, "out of memory walking history");
        }
        w->nodes = nn;
        w->cap = cap;
    }
    node *x = &w->nodes[w->n];
    memset(x, 0, sizeof *x);
    x->hash = *h;
    x->time_us = cm.time_us;
    x->nparents = cm.nparents;
    memcpy(x->parents, cm.parents, sizeof x->parents);
    catc_free(&cm);
    w->n++;
    if (w->n * 2 > w->nslots) {
        if (rehash(w) != UDR_OK)       /* places every node, the new one too */
            return err_set(w->c->err, UDR_ENOMEM, "out of memory walking history");
    } else {
        size_t s = slot_of(h, w->nslots);
        while (w->slots[s])
            s = (s + 1) % w->nslots;
        w->slots[s] = w->n;
    }
    *idx = w->n - 1;
    return UDR_OK;
}

static int newer(const walk *w, size_t a, size_t b)
{
    return w->nodes[a].time_us > w->nodes[b].time_us;
}

static int heap_push(walk *w, size_t idx)
{
    if (w->nheap == w->heapcap) {
        size_t cap = w->heapcap ? w->heapcap * 2 : 64;
        size_t *h = realloc(w->heap, cap * sizeof *h);
        if (h == NULL)
            return err_set(w->c->err, UDR_ENOMEM, "out of memory walking history");
        w->heap = h;
        w->heapcap = cap;
    }
    size_t i = w->nheap++;
    w->heap[i] = idx;
    while (i > 0 && newer(w, w->heap[i], w->heap[(i - 1) / 2])) {
        size_t p = (i - 1) / 2, t = w->heap[i];
        w->heap[i] = w->heap[p];
        w->heap[p] = t;
        i = p;
    }
    return UDR_OK;
}

static size_t heap_pop(walk *w)
{
    size_t top = w->heap[0];
    w->heap[0] = w->heap[--w->nheap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->nheap && newer(w, w->heap[l], w->heap[m]))
            m = l;
        if (r < w->nheap && newer(w, w->heap[r], w->heap[m]))
            m = r;
        if (m == i)
            break;
        size_t t = w->heap[i];
        w->heap[i] = w->heap[m];
        w->heap[m] = t;
        i = m;
    }
    return top;
}

static void walk_free(walk *w)
{
    free(w->nodes);
    free(w->slots);
    free(w->heap);
}

/* ---- naming commits ------------------------------------------------------ */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

/* "; did you mean x or y?" for the closest branch and tag names. */
static void suggest(const catalog *c, const char *ref, char *out, size_t size)
{
    out[0] = '\0';
    size_t limit = strlen(ref) / 3 + 2, used = 0, shown = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass ? c->ntags : c->nbranches;
        for (size_t i = 0; i < n && shown < 3; i++) {
            const char *name = pass ? c->tags[i].name : c->branches[i].name;
            if (edit_distance(ref, name) > limit && strstr(name, ref) == NULL)
                continue;
            int k = snprintf(out + used, size - used, "%s%s", shown ? " or " : "; did you mean ",
                             name);
            if (k < 0 || (size_t)k >= size - used)
                return;
            used += (size_t)k;
            shown++;
        }
    }
    if (shown)
        snprintf(out + used, size - used, "?");
}

static int is_hex_prefix(const char *s, size_t n)
{
    if (n < 4 || n > UDR_HASH_HEX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int by_prefix(catalog *c, const char *prefix, udr_hash *out, int *found)
{
    int rc = catalog_complete(c);
    if (rc)
        return rc;
    *found = 0;
    size_t n = strlen(prefix);
    char hex[UDR_HASH_HEX + 1];
    for (size_t i = 0; i < c->nhist; i++) {
        hash_to_hex(&c->history[i].commit, hex);
        if (strncmp(hex, prefix, n) != 0)
            continue;
        if (*found && !hash_equal(out, &c->history[i].commit))
            return err_set(c->err, UDR_EINVAL,
                           "commit prefix %s is ambiguous: give more of the hash", prefix);
        *out = c->history[i].commit;
        *found = 1;
    }
    return UDR_OK;
}

int branch_resolve(catalog *c, const char *ref, udr_hash *out)
{
    if (ref == NULL || ref[0] == '\0')
        return err_set(c->err, UDR_EINVAL, "no commit named");
    char name[CATALOG_REF_MAX + 1];
    const char *tilde = strrchr(ref, '~');
    uint64_t back = 0;
    size_t len = tilde ? (size_t)(tilde - ref) : strlen(ref);
    if (tilde != NULL) {
        char *end;
        back = tilde[1] ? strtoull(tilde + 1, &end, 10) : 1;
        if (tilde[1] && (*end != '\0' || tilde[1] < '0' || tilde[1] > '9'))
            return err_set(c->err, UDR_EINVAL, "'%s': after ~ comes a number of commits back",
                           ref);
    }
    if (len == 0 || len > CATALOG_REF_MAX)
        return err_set(c->err, UDR_EINVAL, "'%.60s' does not name a commit", ref);
    memcpy(name, ref, len);
    name[len] = '\0';
    const cat_branch *b = catalog_branch(c, name);
    if (b == NULL && catalog_branch_any(c, name) != NULL)
        return catalog_branch_error(c, name);     /* broken */
    const cat_tag *t = catalog_tag(c, name);
    int found = 0;
    if (b != NULL) {
        if (!b->has_head)
            return err_set(c->err, UDR_ENOTFOUND, "branch %s has no commits yet", name);
        *out = b->head;
        found = 1;
    } else if (t != NULL) {
        *out = t->commit;
        found = 1;
    } else if (is_hex_prefix(name, len)) {
        int rc = by_prefix(c, name, out, &found);
        if (rc)
            return rc;
    }
    if (!found) {
        char hint[600];
        suggest(c, name, hint, sizeof hint);
        return err_set(c->err, UDR_ENOTFOUND,
                       "'%s' is not a branch, a tag or a commit%s (see 'udr branch', 'udr tag', "
                       "'udr log')",
                       name, hint);
    }
    for (uint64_t i = 0; i < back; i++) {
        cat_commit cm;
        int rc = catalog_read_commit(c, out, &cm);
        if (rc)
            return rc;
        int np = cm.nparents;
        udr_hash p = cm.parents[0];
        catc_free(&cm);
        if (np == 0)
            return err_set(c->err, UDR_ENOTFOUND, "'%s' goes back past the first commit", ref);
        *out = p;
    }
    return UDR_OK;
}

/* ---- ancestry ------------------------------------------------------------ */

int branch_is_ancestor(catalog *c, const udr_hash *a, const udr_hash *b, int *yes)
{
    *yes = 0;
    if (hash_equal(a, b)) {
        *yes = 1;
        return UDR_OK;
    }
    walk w = {.c = c};
    size_t ia, ib;
    int rc = node_of(&w, a, &ia);
    int64_t floor = rc == UDR_OK ? w.nodes[ia].time_us : 0;
    if (rc == UDR_OK)
        rc = node_of(&w, b, &ib);
    if (rc == UDR_OK) {
        w.nodes[ib].flags = F_B;
        rc = heap_push(&w, ib);
    }
    /* Parents are older than their children: nothing older than a can
     * lead to it. */
    while (rc == UDR_OK && w.nheap > 0 && !*yes) {
        size_t x = heap_pop(&w);
        if (w.nodes[x].done)
            continue;
        w.nodes[x].done = 1;
        for (int p = 0; p < w.nodes[x].nparents && rc == UDR_OK; p++) {
            udr_hash ph = w.nodes[x].parents[p];
            if (hash_equal(&ph, a)) {
                *yes = 1;
                break;
            }
            size_t ip;
            if ((rc = node_of(&w, &ph, &ip)) == UDR_OK && !w.nodes[ip].flags &&
                w.nodes[ip].time_us >= floor) {
                w.nodes[ip].flags = F_B;
                rc = heap_push(&w, ip);
            }
        }
    }
    walk_free(&w);
    return rc;
}

int branch_merge_base(catalog *c, const udr_hash *a, const udr_hash *b, udr_hash out[2],
                      size_t *n)
{
    *n = 0;
    if (hash_equal(a, b)) {
        out[(*n)++] = *a;
        return UDR_OK;
    }
    walk w = {.c = c};
    size_t ia, ib;
    int rc = node_of(&w, a, &ia);
    if (rc == UDR_OK)
        rc = node_of(&w, b, &ib);
    if (rc == UDR_OK) {
        w.nodes[ia].flags |= F_A;
        w.nodes[ib].flags |= F_B;
        rc = heap_push(&w, ia);
        if (rc == UDR_OK)
            rc = heap_push(&w, ib);
    }
    size_t *found = NULL, nfound = 0, capfound = 0;
    while (rc == UDR_OK && w.nheap > 0) {
        int live = 0;
        for (size_t i = 0; i < w.nheap && !live; i++)
            live = !(w.nodes[w.heap[i]].flags & F_STALE);
        if (!live)
            break;
        size_t x = heap_pop(&w);
        int f = w.nodes[x].flags & (F_A | F_B | F_STALE);
        if (w.nodes[x].done == f + 1)
            continue;                  /* passed on with these flags already */
        if ((f & (F_A | F_B)) == (F_A | F_B) && !(f & F_STALE)) {
            if (!(w.nodes[x].flags & F_RESULT)) {
                w.nodes[x].flags |= F_RESULT;
                if (nfound == capfound) {
                    capfound = capfound ? capfound * 2 : 4;
                    size_t *nf = realloc(found, capfound * sizeof *nf);
                    if (nf == NULL) {
                        rc = err_set(c->err, UDR_ENOMEM, "out of memory walking history");
                        break;
                    }
                    found = nf;
                }
                found[nfound++] = x;
            }
            f |= F_STALE;
            w.nodes[x].flags |= F_STALE;
        }
        w.nodes[x].done = f + 1;
        for (int p = 0; p < w.nodes[x].nparents && rc == UDR_OK; p++) {
            udr_hash ph = w.nodes[x].parents[p];
            size_t ip;
            if ((rc = node_of(&w, &ph, &ip)) != UDR_OK)
                break;
            if ((w.nodes[ip].flags | f) != w.nodes[ip].flags) {
                w.nodes[ip].flags |= f;
                rc = heap_push(&w, ip);
            }
        }
    }
    /* Candidates that are ancestors of other candidates are not best. */
    udr_hash best[8];
    size_t nbest = 0;
    for (size_t i = 0; rc == UDR_OK && i < nfound; i++) {
        int redundant = 0;
        for (size_t j = 0; rc == UDR_OK && j < nfound && !redundant; j++)
            if (i != j)
                rc = branch_is_ancestor(c, &w.nodes[found[i]].hash, &w.nodes[found[j]].hash,
                                        &redundant);
        if (rc == UDR_OK && !redundant && nbest < 8)
            best[nbest++] = w.nodes[found[i]].hash;
    }
    if (rc == UDR_OK) {
        for (size_t i = 0; i < nbest && i < 2; i++)
            out[i] = best[i];
        *n = nbest < 2 ? nbest : 2;
    }
    free(found);
    walk_free(&w);
    return rc;
}

/* ---- history ------------------------------------------------------------- */

void branch_commits_free(branch_commit *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        catc_free(&v[i].c);
    free(v);
}

int branch_history(catalog *c, const udr_hash *start, size_t max, branch_commit **out,
                   size_t *n)
{
    *out = NULL;
    *n = 0;
    walk w = {.c = c};
    size_t is;
    int rc = node_of(&w, start, &is);
    if (rc == UDR_OK) {
        w.nodes[is].flags = F_A;
        rc = heap_push(&w, is);
    }
    branch_commit *v = NULL;
    size_t nv = 0, cap = 0;
    while (rc == UDR_OK && w.nheap > 0 && (max == 0 || nv < max)) {
        size_t x = heap_pop(&w);
        if (nv == cap) {
            cap = cap ? cap * 2 : 32;
            branch_commit *nvv = realloc(v, cap * sizeof *nvv);
            if (nvv == NULL) {
                rc = err_set(c->err, UDR_ENOMEM, "out of memory reading history");
                break;
            }
            v = nvv;
        }
        v[nv].hash = w.nodes[x].hash;
        if ((rc = catalog_read_commit(c, &v[nv].hash, &v[nv].c)) != UDR_OK)
            break;
        nv++;
        for (int p = 0; p < w.nodes[x].nparents && rc == UDR_OK; p++) {
            udr_hash ph = w.nodes[x].parents[p];
            size_t ip;
            if ((rc = node_of(&w, &ph, &ip)) == UDR_OK && !w.nodes[ip].flags) {
                w.nodes[ip].flags = F_A;
                rc = heap_push(&w, ip);
            }
        }
    }
    walk_free(&w);
    if (rc) {
        branch_commits_free(v, nv);
        return rc;
    }
    *out = v;
    *n = nv;
    return UDR_OK;
}

/* ---- differences --------------------------------------------------------- */

int branch_diff_tables(const cat_entry *a, size_t na, const cat_entry *b, size_t nb,
                       branch_table_diff **out, size_t *n)
{
    *n = 0;
    *out = calloc(na + nb + 1, sizeof **out);
    if (*out == NULL)
        return UDR_ENOMEM;
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int cmp = i == na ? 1 : j == nb ? -1 : strcmp(a[i].table, b[j].table);
        branch_table_diff d = {0};
        if (cmp < 0) {
            d.table = a[i].table;
            d.va = a[i].version;
            d.ha = a[i++].hash;
        } else if (cmp > 0) {
            d.table = b[j].table;
            d.vb = b[j].version;
            d.hb = b[j++].hash;
        } else {
            int same = hash_equal(&a[i].hash, &b[j].hash);
            d.table = a[i].table;
            d.va = a[i].version;
            d.ha = a[i++].hash;
            d.vb = b[j].version;
            d.hb = b[j++].hash;
            if (same)
                continue;
        }
        (*out)[(*n)++] = d;
    }
    return UDR_OK;
}
