/*
 * refs — branches, tags, history, diffs of commits, merges, reverts and
 * resets; see refs.h.
 */
#include "refs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "branch.h"
#include "catalog.h"
#include "hash.h"
#include "query.h"
#include "repo.h"

/* Starts a call: the handle is usable and the index is fresh. */
static int start(udr_repo *repo)
{
    int rc = repo_begin(repo);
    return rc ? rc : catalog_refresh(&repo->cat);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static void short_hex(const udr_hash *h, char out[13])
{
    char hex[UDR_HASH_HEX + 1];
    hash_to_hex(h, hex);
    snprintf(out, 13, "%.12s", hex);
}

/* The head of the handle's branch: *has 0 when it has no commit. */
static int work_head(udr_repo *repo, udr_hash *h, int *has)
{
    const cat_branch *b = catalog_branch(&repo->cat, NULL);
    if (b == NULL)
        return catalog_branch_error(&repo->cat, NULL);
    *has = b->has_head;
    if (b->has_head)
        *h = b->head;
    return UDR_OK;
}

/* Whether commit h is held by a branch other than except, or a tag. */
static int held_elsewhere(udr_repo *repo, const udr_hash *h, const char *except, int *yes)
{
    catalog *c = &repo->cat;
    *yes = 0;
    for (size_t i = 0; i < c->nbranches && !*yes; i++) {
        if (strcmp(c->branches[i].name, except) == 0 || !c->branches[i].has_head)
            continue;
        int rc = branch_is_ancestor(c, h, &c->branches[i].head, yes);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < c->ntags && !*yes; i++) {
        int rc = branch_is_ancestor(c, h, &c->tags[i].commit, yes);
        if (rc)
            return rc;
    }
    return UDR_OK;
}

/* ---- branches ------------------------------------------------------------ */

int udr_branch_create(udr_repo *repo, const char *name, const char *from_ref,
                      const char *description)
{
    int rc = start(repo);
    if (rc)
        return rc;
    udr_hash from;
    int has = 0;
    if (from_ref != NULL && from_ref[0] != '\0') {
        rc = branch_resolve(&repo->cat, from_ref, &from);
        has = 1;
    } else {
        rc = work_head(repo, &from, &has);
    }
    if (rc)
        return rc;
    cat_ref_change r = {CAT_REF_BRANCH, name, has ? &from : NULL, description, 1, 0, 0, {{0}}};
    return catalog_set_ref(&repo->cat, &r);
}

int udr_branch_delete(udr_repo *repo, const char *name, int force)
{
    int rc = start(repo);
    if (rc)
        return rc;
    catalog *c = &repo->cat;
    if ((rc = catalog_check_ref_name(name, "branch", &repo->err)) != 0)
        return rc;
    const cat_branch *b = catalog_branch_any(c, name);
    if (b == NULL)
        return err_set(&repo->err, UDR_ENOTFOUND, "there is no branch %s (see 'udr branch')",
                       name);
    if (b->broken != NULL && !force)
        return err_set(&repo->err, UDR_ECORRUPT, "%s", b->broken);
    if (strcmp(name, "main") == 0)
        return err_set(&repo->err, UDR_EINVAL, "main cannot be deleted");
    if (strcmp(name, c->current) == 0)
        return err_set(&repo->err, UDR_EINVAL,
                       "%s is the current branch; check out another one first", name);
    if (strcmp(name, catalog_work_branch(c)) == 0)
        return err_set(&repo->err, UDR_EINVAL, "%s is the branch this handle works on", name);
    if (!force && b->has_head && b->broken == NULL) {
        int held = 0;
        udr_hash head = b->head;
        if ((rc = held_elsewhere(repo, &head, name, &held)) != 0)
            return rc;
        if (!held) {
            char hex[13];
            short_hex(&head, hex);
            return err_set(&repo->err, UDR_ECONFLICT,
                           "branch %s has commits no other branch or tag holds (its head is "
                           "%s): merge it first, or delete it with --force",
                           name, hex);
        }
    }
    cat_ref_change r = {CAT_REF_BRANCH_DELETE, name, NULL, NULL, 0, 0, 0, {{0}}};
    return catalog_set_ref(c, &r);
}

int udr_branch_list(udr_repo *repo, udr_branch_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = start(repo);
    if (rc)
        return rc;
    catalog *c = &repo->cat;
    udr_branch_info *v = calloc(c->nbranches + 1, sizeof *v);
    if (v == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->nbranches; i++) {
        const cat_branch *b = &c->branches[i];
        v[i].name = strdup(b->name);
        v[i].description = dup_or_empty(b->description);
        v[i].created_us = b->created_us;
        v[i].has_head = b->has_head;
        if (b->has_head)
            hash_to_hex(&b->head, v[i].head);
        v[i].current = strcmp(b->name, c->current) == 0;
        v[i].working = strcmp(b->name, catalog_work_branch(c)) == 0;
        v[i].tables = b->ntables;
        v[i].broken = b->broken ? strdup(b->broken) : NULL;
        if (v[i].name == NULL || v[i].description == NULL || (b->broken && !v[i].broken)) {
            udr_branch_info_free(v, i + 1);
            return err_set(&repo->err, UDR_ENOMEM, "out of memory");
        }
    }
    *out = v;
    *n = c->nbranches;
    return UDR_OK;
}

void udr_branch_info_free(udr_branch_info *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        free(v[i].name);
        free(v[i].description);
        free(v[i].broken);
    }
    free(v);
}

int udr_checkout(udr_repo *repo, const char *name)
{
    int rc = start(repo);
    if (rc)
        return rc;
    cat_ref_change r = {CAT_REF_CHECKOUT, name, NULL, NULL, 0, 0, 0, {{0}}};
    if ((rc = catalog_set_ref(&repo->cat, &r)) != 0)
        return rc;
    return catalog_set_work_branch(&repo->cat, NULL);
}

int udr_use_branch(udr_repo *repo, const char *name)
{
    int rc = start(repo);
    return rc ? rc : catalog_set_work_branch(&repo->cat, name);
}

const char *udr_branch_current(udr_repo *repo)
{
    return catalog_work_branch(&repo->cat);
}

/* ---- tags ---------------------------------------------------------------- */

int udr_tag_create(udr_repo *repo, const char *name, const char *ref, const char *message)
{
    int rc = start(repo);
    if (rc)
        return rc;
    udr_hash h;
    int has = 1;
    if (ref != NULL && ref[0] != '\0')
        rc = branch_resolve(&repo->cat, ref, &h);
    else if ((rc = work_head(repo, &h, &has)) == UDR_OK && !has)
        rc = err_set(&repo->err, UDR_ENOTFOUND, "branch %s has no commits to tag yet",
                     catalog_work_branch(&repo->cat));
    if (rc)
        return rc;
    cat_ref_change r = {CAT_REF_TAG, name, &h, message, 1, 0, 0, {{0}}};
    return catalog_set_ref(&repo->cat, &r);
}

int udr_tag_delete(udr_repo *repo, const char *name)
{
    int rc = start(repo);
    if (rc)
        return rc;
    cat_ref_change r = {CAT_REF_TAG_DELETE, name, NULL, NULL, 0, 0, 0, {{0}}};
    return catalog_set_ref(&repo->cat, &r);
}

int udr_tag_list(udr_repo *repo, udr_tag_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = start(repo);
    if (rc)
        return rc;
    catalog *c = &repo->cat;
    udr_tag_info *v = calloc(c->ntags + 1, sizeof *v);
    if (v == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->ntags; i++) {
        v[i].name = strdup(c->tags[i].name);
        v[i].message = dup_or_empty(c->tags[i].message);
        hash_to_hex(&c->tags[i].commit, v[i].commit);
        v[i].time_us = c->tags[i].time_us;
        if (v[i].name == NULL || v[i].message == NULL) {
            udr_tag_info_free(v, i + 1);
            return err_set(&repo->err, UDR_ENOMEM, "out of memory");
        }
    }
    *out = v;
    *n = c->ntags;
    return UDR_OK;
}

void udr_tag_info_free(udr_tag_info *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        free(v[i].name);
        free(v[i].message);
    }
    free(v);
}

/* ---- history ------------------------------------------------------------- */

void udr_table_change_free(udr_table_change *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i].table);
    free(v);
}

/* The table changes between two table maps, as the public type. */
static int changes_between(udr_repo *repo, const cat_entry *a, size_t na, const cat_entry *b,
                           size_t nb, udr_table_change **out, size_t *n)
{
    branch_table_diff *d;
    size_t nd;
    *out = NULL;
    *n = 0;
    if (branch_diff_tables(a, na, b, nb, &d, &nd) != UDR_OK)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    udr_table_change *v = calloc(nd + 1, sizeof *v);
    if (v == NULL) {
        free(d);
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nd; i++) {
        v[i] = (udr_table_change){strdup(d[i].table), d[i].va, d[i].vb};
        if (v[i].table == NULL) {
            free(d);
            udr_table_change_free(v, i);
            return err_set(&repo->err, UDR_ENOMEM, "out of memory");
        }
    }
    free(d);
    *out = v;
    *n = nd;
    return UDR_OK;
}

static int fill_commit(udr_repo *repo, const udr_hash *h, const cat_commit *cm,
                       udr_commit_info *ci)
{
    memset(ci, 0, sizeof *ci);
    hash_to_hex(h, ci->hash);
    ci->nparents = cm->nparents;
    for (int i = 0; i < cm->nparents; i++)
        hash_to_hex(&cm->parents[i], ci->parents[i]);
    ci->time_us = cm->time_us;
    ci->author = dup_or_empty(cm->author);
    ci->message = dup_or_empty(cm->message);
    if (ci->author == NULL || ci->message == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    cat_commit parent = {0};
    if (cm->nparents > 0) {
        int rc = catalog_read_commit(&repo->cat, &cm->parents[0], &parent);
        if (rc)
            return rc;
    }
    int rc = changes_between(repo, parent.tables, parent.ntables, cm->tables, cm->ntables,
                             &ci->changes, &ci->nchanges);
    catc_free(&parent);
    return rc;
}

void udr_commit_info_free(udr_commit_info *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        free(v[i].author);
        free(v[i].message);
        udr_table_change_free(v[i].changes, v[i].nchanges);
    }
    free(v);
}

int udr_log(udr_repo *repo, const char *ref, size_t max, udr_commit_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = start(repo);
    if (rc)
        return rc;
    udr_hash h;
    int has = 1;
    if (ref != NULL && ref[0] != '\0')
        rc = branch_resolve(&repo->cat, ref, &h);
    else
        rc = work_head(repo, &h, &has);
    if (rc || !has)
        return rc;
    branch_commit *v;
    size_t nv;
    if ((rc = branch_history(&repo->cat, &h, max, &v, &nv)) != 0)
        return rc;
    udr_commit_info *ci = calloc(nv + 1, sizeof *ci);
    if (ci == NULL)
        rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
    for (size_t i = 0; rc == UDR_OK && i < nv; i++)
        rc = fill_commit(repo, &v[i].hash, &v[i].c, &ci[i]);
    branch_commits_free(v, nv);
    if (rc) {
        udr_commit_info_free(ci, nv);
        return rc;
    }
    *out = ci;
    *n = nv;
    return UDR_OK;
}

int udr_commit_show(udr_repo *repo, const char *ref, udr_commit_info **out)
{
    *out = NULL;
    int rc = start(repo);
    if (rc)
        return rc;
    udr_hash h;
    cat_commit cm;
    if ((rc = branch_resolve(&repo->cat, ref, &h)) != 0 ||
        (rc = catalog_read_commit(&repo->cat, &h, &cm)) != 0)
        return rc;
    udr_commit_info *ci = calloc(1, sizeof *ci);
    rc = ci ? fill_commit(repo, &h, &cm, ci) : err_set(&repo->err, UDR_ENOMEM, "out of memory");
    catc_free(&cm);
    if (rc) {
        udr_commit_info_free(ci, 1);
        return rc;
    }
    *out = ci;
    return UDR_OK;
}

/* The tables of the commit a ref names (a branch without commits: none). */
static int tables_of_ref(udr_repo *repo, const char *ref, cat_commit *cm, udr_hash *h, int *has)
{
    memset(cm, 0, sizeof *cm);
    *has = 0;
    const cat_branch *b = catalog_branch(&repo->cat, ref);
    if (b != NULL && !b->has_head)
        return UDR_OK;
    int rc = branch_resolve(&repo->cat, ref, h);
    if (rc == UDR_OK)
        rc = catalog_read_commit(&repo->cat, h, cm);
    *has = rc == UDR_OK;
    return rc;
}

int udr_diff_refs(udr_repo *repo, const char *ref_a, const char *ref_b, udr_table_change **out,
                  size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = start(repo);
    if (rc)
        return rc;
    cat_commit a, b;
    udr_hash ha, hb;
    int has_a, has_b;
    if ((rc = tables_of_ref(repo, ref_a, &a, &ha, &has_a)) != 0)
        return rc;
    if ((rc = tables_of_ref(repo, ref_b, &b, &hb, &has_b)) != 0) {
        catc_free(&a);
        return rc;
    }
    rc = changes_between(repo, a.tables, a.ntables, b.tables, b.ntables, out, n);
    catc_free(&a);
    catc_free(&b);
    return rc;
}

/* ---- merge --------------------------------------------------------------- */

void udr_merge_info_clear(udr_merge_info *info)
{
    if (info == NULL)
        return;
    udr_result_free(info->conflict_rows);
    memset(info, 0, sizeof *info);
}

static const cat_entry *entry_in(const cat_commit *cm, const char *table)
{
    for (size_t i = 0; i < cm->ntables; i++)
        if (strcmp(cm->tables[i].table, table) == 0)
            return &cm->tables[i];
    return NULL;
}

static int same_entry(const cat_entry *a, const cat_entry *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return hash_equal(&a->hash, &b->hash);
}

/* Every table name of three commits, sorted, once each. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char **all_tables(const cat_commit *x, const cat_commit *y, const cat_commit *z,
                               size_t *n)
{
    size_t cap = x->ntables + y->ntables + z->ntables;
    const char **v = calloc(cap + 1, sizeof *v);
    if (v == NULL)
        return NULL;
    size_t k = 0;
    const cat_commit *all[3] = {x, y, z};
    for (int s = 0; s < 3; s++)
        for (size_t i = 0; i < all[s]->ntables; i++)
            v[k++] = all[s]->tables[i].table;
    qsort(v, k, sizeof *v, cmp_str);
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (m == 0 || strcmp(v[m - 1], v[i]) != 0)
            v[m++] = v[i];
    *n = m;
    return v;
}

/* Takes the source's side of a table: its version, or its absence. */
static void take_side(cat_change *ch, const char *table, const cat_entry *t)
{
    ch->table = table;
    ch->tv = t ? &t->hash : NULL;
    ch->version = t ? t->version : 0;
}

static int move_branch(udr_repo *repo, const char *branch, const udr_hash *to, int had,
                       const udr_hash *from)
{
    cat_ref_change r = {CAT_REF_BRANCH, branch, to, NULL, 0, 1, had, {{0}}};
    if (had)
        r.expect_head = *from;
    return catalog_set_ref(&repo->cat, &r);
}

int udr_merge(udr_repo *repo, const char *source, const udr_merge_opts *opts,
              udr_merge_info *info)
{
    udr_merge_opts none = {NULL, UDR_MERGE_FAIL, NULL, NULL};
    udr_merge_info scratch;
    if (opts == NULL)
        opts = &none;
    if (info == NULL)
        info = &scratch;
    memset(info, 0, sizeof *info);
    int rc = start(repo);
    if (rc)
        return rc;
    catalog *c = &repo->cat;
    char target[CATALOG_REF_MAX + 1];
    snprintf(target, sizeof target, "%s", opts->into ? opts->into : catalog_work_branch(c));
    const cat_branch *tb = catalog_branch(c, target);
    if (tb == NULL)
        return catalog_branch_error(c, target);
    int had = tb->has_head;
    udr_hash ours = tb->head, theirs;
    if ((rc = branch_resolve(c, source, &theirs)) != 0)
        return rc;
    int yes = 0;
    if (had && (rc = branch_is_ancestor(c, &theirs, &ours, &yes)) != 0)
        return rc;
    if (had && yes) {
        info->up_to_date = 1;
        hash_to_hex(&ours, info->commit);
        return UDR_OK;
    }
    if (had && (rc = branch_is_ancestor(c, &ours, &theirs, &yes)) != 0)
        return rc;
    if (!had || yes) {
        if ((rc = move_branch(repo, target, &theirs, had, &ours)) != 0)
            return rc;
        info->fast_forward = 1;
        hash_to_hex(&theirs, info->commit);
        return UDR_OK;
    }
    udr_hash bases[2];
    size_t nb;
    if ((rc = branch_merge_base(c, &ours, &theirs, bases, &nb)) != 0)
        return rc;
    if (nb == 0)
        return err_set(&repo->err, UDR_ECONFLICT,
                       "%s and %s have no history in common; nothing was merged", source, target);
    if (nb > 1) {
        char a[13], b[13];
        short_hex(&bases[0], a);
        short_hex(&bases[1], b);
        return err_set(&repo->err, UDR_ECONFLICT,
                       "%s and %s have two merge bases (%s and %s: criss-cross merges); UDR does "
                       "not merge such histories: merge one base into the other first, or use "
                       "'udr reset' to choose a side. Nothing was merged",
                       source, target, a, b);
    }
    hash_to_hex(&bases[0], info->base);
    cat_commit cb = {0}, co = {0}, ct = {0};
    if ((rc = catalog_read_commit(c, &bases[0], &cb)) != 0 ||
        (rc = catalog_read_commit(c, &ours, &co)) != 0 ||
        (rc = catalog_read_commit(c, &theirs, &ct)) != 0) {
        catc_free(&cb);
        catc_free(&co);
        return rc;
    }
    size_t nt = 0;
    const char **tables = all_tables(&cb, &co, &ct, &nt);
    cat_change *ch = calloc(nt + 1, sizeof *ch);
    udr_hash *merged = calloc(nt + 1, sizeof *merged);
    size_t nch = 0;
    if (tables == NULL || ch == NULL || merged == NULL)
        rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
    if (rc == UDR_OK)
        rc = query_report_begin(&repo->q);
    int take_theirs = opts->strategy == UDR_MERGE_THEIRS, keep_ours = opts->strategy == UDR_MERGE_OURS;
    const char *resolution = take_theirs ? "took theirs" : keep_ours ? "kept ours" : "conflict";
    for (size_t i = 0; rc == UDR_OK && i < nt; i++) {
        const cat_entry *b = entry_in(&cb, tables[i]), *o = entry_in(&co, tables[i]),
                        *t = entry_in(&ct, tables[i]);
        if (same_entry(o, t) || same_entry(t, b))
            continue;                  /* the same, or changed by ours only */
        if (same_entry(o, b)) {        /* changed by theirs only */
            take_side(&ch[nch++], tables[i], t);
            info->tables_taken++;
            continue;
        }
        int mergeable = 0;
        uint64_t nconf = 0;
        if (b != NULL && o != NULL && t != NULL) {
            /* Rows are merged against the base's: if retention let that
             * version go, say so rather than "object missing". */
            const cat_version *bv = catalog_version(c, tables[i], b->version);
            if (bv != NULL && (rc = catalog_check_kept(c, tables[i], bv)) != UDR_OK) {
                err_prefix(&repo->err,
                           "merging %s into %s: both changed table %s since their merge base "
                           "%.12s, whose rows are needed",
                           source, target, tables[i], info->base);
                break;
            }
            udr_write_info wi;
            query_progress_begin(&repo->q, tables[i]);
            rc = query_merge_rows(&repo->q, tables[i], &b->hash, &o->hash, &t->hash, take_theirs,
                                  keep_ours, 0, &merged[i], &nconf, &mergeable, &wi);
            if (rc)
                break;
        }
        if (mergeable) {
            info->conflicts += nconf;
            info->tables_merged++;
            if (!hash_equal(&merged[i], &o->hash))
                ch[nch++] = (cat_change){tables[i], &merged[i], 0};
            continue;
        }
        /* Changed on both sides and not mergeable by rows. */
        info->conflicts++;
        rc = query_report_table(&repo->q, tables[i], resolution);
        if (rc == UDR_OK && take_theirs)
            take_side(&ch[nch++], tables[i], t);
    }
    duckdb_result report;
    uint64_t nreport = 0;
    int have_report = 0;
    if (rc == UDR_OK) {
        have_report = query_report_take(&repo->q, &report, &nreport) == UDR_OK;
        if (have_report && nreport > 0)
            info->conflict_rows = repo_wrap_result(&report);
        else if (have_report)
            duckdb_destroy_result(&report);
    }
    if (rc == UDR_OK && info->conflicts > 0 && opts->strategy == UDR_MERGE_FAIL)
        rc = err_set(&repo->err, UDR_ECONFLICT,
                     "merging %s into %s: %llu conflict%s (a key both sides changed differently, "
                     "or a table changed on both sides that has no key); nothing was merged. "
                     "See the conflicts, then merge with --strategy ours or theirs",
                     source, target, (unsigned long long)info->conflicts,
                     info->conflicts == 1 ? "" : "s");
    if (rc == UDR_OK) {
        char msg[CATALOG_REF_MAX * 2 + 64];
        if (opts->message == NULL)
            snprintf(msg, sizeof msg, "merge %s into %s", source, target);
        cat_commit_opts co_opts = {target, opts->message ? opts->message : msg,
                                   repo_author(opts->author), &theirs, 1, 1, ours, 0, NULL, 0};
        udr_hash commit;
        rc = catalog_commit_on(c, &co_opts, ch, nch, &commit);
        if (rc == UDR_OK)
            hash_to_hex(&commit, info->commit);
    }
    free(tables);
    free(ch);
    free(merged);
    catc_free(&cb);
    catc_free(&co);
    catc_free(&ct);
    if (rc && rc != UDR_ECONFLICT && info->conflict_rows == NULL)
        udr_merge_info_clear(info);
    return rc;
}

/* ---- revert and reset ---------------------------------------------------- */

int udr_revert(udr_repo *repo, const char *commit_ref, const char *message, char *new_commit)
{
    int rc = start(repo);
    if (rc)
        return rc;
    catalog *c = &repo->cat;
    udr_hash h, head;
    int has = 0;
    cat_commit cm = {0}, parent = {0};
    if ((rc = branch_resolve(c, commit_ref, &h)) != 0 ||
        (rc = work_head(repo, &head, &has)) != 0 ||
        (rc = catalog_read_commit(c, &h, &cm)) != 0)
        return rc;
    if (cm.nparents > 0 && (rc = catalog_read_commit(c, &cm.parents[0], &parent)) != 0) {
        catc_free(&cm);
        return rc;
    }
    const cat_branch *b = catalog_branch(c, NULL);
    branch_table_diff *d = NULL;
    size_t nd = 0;
    cat_change *ch = NULL;
    if (branch_diff_tables(parent.tables, parent.ntables, cm.tables, cm.ntables, &d, &nd) != 0 ||
        (ch = calloc(nd + 1, sizeof *ch)) == NULL)
        rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
    for (size_t i = 0; rc == UDR_OK && i < nd; i++) {
        /* The table must still be as that commit left it. */
        const cat_entry *now = NULL;
        for (size_t k = 0; b != NULL && k < b->ntables; k++)
            if (strcmp(b->tables[k].table, d[i].table) == 0)
                now = &b->tables[k];
        int as_left = d[i].vb ? now != NULL && hash_equal(&now->hash, &d[i].hb) : now == NULL;
        if (!as_left) {
            rc = err_set(&repo->err, UDR_ECONFLICT,
                         "cannot revert: table %s has changed since that commit (revert the "
                         "later changes first); nothing was changed",
                         d[i].table);
            break;
        }
        ch[i] = (cat_change){d[i].table, d[i].va ? &d[i].ha : NULL, d[i].va};
    }
    if (rc == UDR_OK) {
        char hex[13], msg[512];
        short_hex(&h, hex);
        snprintf(msg, sizeof msg, "revert %s: %.400s", hex, cm.message ? cm.message : "");
        cat_commit_opts o = {NULL, message ? message : msg, repo_author(NULL), NULL, 1, has, head,
                             0, NULL, 0};
        udr_hash out;
        rc = catalog_commit_on(c, &o, ch, nd, &out);
        if (rc == UDR_OK && new_commit != NULL)
            hash_to_hex(&out, new_commit);
    }
    free(ch);
    free(d);
    catc_free(&cm);
    catc_free(&parent);
    return rc;
}

int udr_reset(udr_repo *repo, const char *ref, int force)
{
    int rc = start(repo);
    if (rc)
        return rc;
    catalog *c = &repo->cat;
    char branch[CATALOG_REF_MAX + 1];
    snprintf(branch, sizeof branch, "%s", catalog_work_branch(c));
    udr_hash to, head;
    int has = 0;
    if ((rc = branch_resolve(c, ref, &to)) != 0 || (rc = work_head(repo, &head, &has)) != 0)
        return rc;
    if (has && !force) {
        int kept = 0;
        if ((rc = branch_is_ancestor(c, &head, &to, &kept)) != 0)
            return rc;
        if (!kept && (rc = held_elsewhere(repo, &head, branch, &kept)) != 0)
            return rc;
        if (!kept) {
            char hex[13];
            short_hex(&head, hex);
            return err_set(&repo->err, UDR_ECONFLICT,
                           "resetting %s to %s would leave commits no branch or tag holds (its "
                           "head is %s): tag or branch them first, or reset with --force",
                           branch, ref, hex);
        }
    }
    return move_branch(repo, branch, &to, has, &head);
}
