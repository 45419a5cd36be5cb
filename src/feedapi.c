/*
 * feedapi — change feeds and subscriptions for users of udr.h; see
 * feedapi.h and feed.h.
 */
#include "feedapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feed.h"
#include "hash.h"
#include "repo.h"
#include "txapi.h"

typedef struct feed_seen {
    char *name;
    uint64_t start;                  /* the cursor the last poll started from */
    uint64_t delivered;              /* how far polls delivered */
} feed_seen;

struct feed_state {
    feed_seen *seen;
    size_t nseen;
    int ifd;                         /* inotify on log/, -1 until a wait */
};

struct udr_changes {
    udr_repo *repo;
    feed_walk w;
    char *sub;                       /* the subscription polled, or NULL */
    udr_change_batch batch;
};

static struct feed_state *state(udr_repo *repo)
{
    if (repo->feed == NULL && (repo->feed = calloc(1, sizeof *repo->feed)) != NULL)
        repo->feed->ifd = -1;
    return repo->feed;
}

void feedapi_close(udr_repo *repo)
{
    struct feed_state *f = repo->feed;
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->nseen; i++)
        free(f->seen[i].name);
    free(f->seen);
    if (f->ifd >= 0)
        close(f->ifd);
    free(f);
    repo->feed = NULL;
}

static feed_seen *seen(udr_repo *repo, const char *name, int make)
{
    struct feed_state *f = state(repo);
    if (f == NULL)
        return NULL;
    for (size_t i = 0; i < f->nseen; i++)
        if (strcmp(f->seen[i].name, name) == 0)
            return &f->seen[i];
    if (!make)
        return NULL;
    feed_seen *v = realloc(f->seen, (f->nseen + 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    f->seen = v;
    if ((v[f->nseen].name = strdup(name)) == NULL)
        return NULL;
    v[f->nseen].start = v[f->nseen].delivered = 0;
    return &v[f->nseen++];
}

/* ---- iterators --------------------------------------------------------------- */

static void clear_batch(udr_changes *it)
{
    udr_result_free(it->batch.rows);
    memset(&it->batch, 0, sizeof it->batch);
}

void udr_changes_close(udr_changes *it)
{
    if (it == NULL)
        return;
    clear_batch(it);
    feed_walk_free(&it->w);
    free(it->sub);
    free(it);
}

uint64_t udr_changes_position(const udr_changes *it)
{
    return feed_walk_position(&it->w);
}

static void note_delivered(udr_changes *it)
{
    feed_seen *s = it->sub ? seen(it->repo, it->sub, 0) : NULL;
    uint64_t pos = feed_walk_position(&it->w);
    if (s != NULL && pos > s->delivered)
        s->delivered = pos;
}

int udr_changes_next(udr_changes *it, const udr_change_batch **out)
{
    *out = NULL;
    udr_repo *repo = it->repo;
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    clear_batch(it);
    feed_step st;
    int got = 0;
    if ((rc = feed_walk_next(&repo->cat, &it->w, &st, &got)) != 0 || !got) {
        if (rc == UDR_OK)
            note_delivered(it);
        return rc;
    }
    const char *table = it->w.tables[st.table];
    duckdb_result r;
    if ((rc = query_changes(&repo->q, table, &st, &r)) != 0) {
        if (it->sub != NULL && rc == UDR_ENOTFOUND)
            err_prefix(&repo->err,
                       "subscription %s cannot go on at log position %llu (it will not skip "
                       "data): drop it and create it again, --from now",
                       it->sub, (unsigned long long)st.seq);
        return rc;
    }
    if ((it->batch.rows = repo_wrap_shown(&r, &repo->q)) == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    it->batch.seq = st.seq;
    it->batch.time_us = st.time_us;
    hash_to_hex(&st.commit, it->batch.commit);
    it->batch.table = table;
    it->batch.from_version = st.has_from ? st.from_version : 0;
    it->batch.version = st.has_to ? st.to_version : 0;
    note_delivered(it);
    *out = &it->batch;
    return UDR_OK;
}

static int new_iterator(udr_repo *repo, const char *branch, const char *const *tables, size_t n,
                        uint64_t after, uint64_t upto, size_t max, const char *sub,
                        udr_changes **out)
{
    udr_changes *it = calloc(1, sizeof *it);
    if (it == NULL || (sub != NULL && (it->sub = strdup(sub)) == NULL)) {
        free(it);
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    }
    it->repo = repo;
    int rc = feed_walk_begin(&repo->cat, &it->w, branch, tables, n, after, upto, max);
    if (rc) {
        udr_changes_close(it);
        return rc;
    }
    *out = it;
    return UDR_OK;
}

static int table_exists(udr_repo *repo, const char *table)
{
    int rc = catalog_check_name(table, &repo->err);
    if (rc == UDR_OK && catalog_table(&repo->cat, table) == NULL)
        rc = err_set(&repo->err, UDR_ENOTFOUND, "there is no table %s (see 'udr tables')", table);
    return rc;
}

int udr_changes_open(udr_repo *repo, const char *table, const char *from, const char *to,
                     udr_changes **out)
{
    *out = NULL;
    int rc = repo_begin(repo);
    if (rc == UDR_OK)
        rc = catalog_refresh(&repo->cat);
    if (rc == UDR_OK)
        rc = table_exists(repo, table);
    if (rc)
        return rc;
    char branch[CATALOG_REF_MAX + 1];
    snprintf(branch, sizeof branch, "%s", catalog_work_branch(&repo->cat));
    uint64_t after, upto;
    if ((rc = feed_bound(&repo->cat, table, branch, from, 1, &after)) != 0 ||
        (rc = feed_bound(&repo->cat, table, branch, to, 0, &upto)) != 0)
        return rc;
    return new_iterator(repo, branch, &table, 1, after, upto, 0, NULL, out);
}

/* ---- subscriptions --------------------------------------------------------- */

static int sub_named(udr_repo *repo, const char *name, const cat_sub **out)
{
    int rc = catalog_check_ref_name(name, "subscription", &repo->err);
    if (rc == UDR_OK)
        rc = catalog_refresh(&repo->cat);
    if (rc)
        return rc;
    if ((*out = catalog_sub(&repo->cat, name)) == NULL)
        return err_set(&repo->err, UDR_ENOTFOUND,
                       "there is no subscription %s (see 'udr subscribe list')", name);
    return UDR_OK;
}

int udr_sub_create(udr_repo *repo, const char *name, const char *const *tables, size_t ntables,
                   const char *branch, const char *from)
{
    int rc = repo_begin(repo);
    if (rc == UDR_OK)
        rc = catalog_refresh(&repo->cat);
    if (rc)
        return rc;
    char br[CATALOG_REF_MAX + 1];
    snprintf(br, sizeof br, "%s", branch ? branch : catalog_work_branch(&repo->cat));
    uint64_t cursor = 0;
    if (from == NULL || strcmp(from, "beginning") == 0) {
        cursor = 0;
    } else if (strcmp(from, "now") == 0) {
        cursor = UINT64_MAX;
    } else if (strspn(from, "0123456789") == strlen(from) && from[0] != '\0') {
        cursor = strtoull(from, NULL, 10);     /* a log position */
        if (cursor > log_last_seq(&repo->cat.log))
            return err_set(&repo->err, UDR_EINVAL,
                           "log position %s is past the log's end (%llu)", from,
                           (unsigned long long)log_last_seq(&repo->cat.log));
    } else if (catalog_branch(&repo->cat, br) == NULL) {
        return catalog_branch_error(&repo->cat, br);
    } else if ((rc = feed_bound(&repo->cat, NULL, br, from, 1, &cursor)) != 0) {
        err_prefix(&repo->err, "subscription %s cannot start at %s", name, from);
        return rc;
    }
    return catalog_sub_create(&repo->cat, name, br, tables, ntables, cursor);
}

int udr_sub_drop(udr_repo *repo, const char *name)
{
    int rc = repo_begin(repo);
    return rc ? rc : catalog_sub_drop(&repo->cat, name);
}

void udr_sub_info_free(udr_sub_info *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        free(v[i].name);
        free(v[i].branch);
        for (size_t k = 0; k < v[i].ntables; k++)
            free(v[i].tables[k]);
        free(v[i].tables);
    }
    free(v);
}

/* Commits after the cursor that changed the subscription's tables. */
static int count_pending(udr_repo *repo, const cat_sub *sb, uint64_t *n)
{
    feed_walk w;
    *n = 0;
    int rc = feed_walk_begin(&repo->cat, &w, sb->branch, (const char *const *)sb->tables,
                             sb->ntables, sb->cursor, UINT64_MAX, 0);
    feed_step st;
    int got = 0;
    uint64_t last = 0;
    while (rc == UDR_OK && (rc = feed_walk_next(&repo->cat, &w, &st, &got)) == UDR_OK && got)
        if (st.seq != last) {
            (*n)++;
            last = st.seq;
        }
    feed_walk_free(&w);
    return rc;
}

int udr_sub_list(udr_repo *repo, udr_sub_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = repo_begin(repo);
    if (rc == UDR_OK)
        rc = catalog_refresh(&repo->cat);
    if (rc)
        return rc;
    catalog *c = &repo->cat;
    size_t count = c->nsubs;
    udr_sub_info *v = calloc(count + 1, sizeof *v);
    if (v == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    for (size_t i = 0; i < count && rc == UDR_OK; i++) {
        /* Index, not pointer: counting may load the history anew. */
        const cat_sub *sb = &c->subs[i];
        udr_sub_info *s = &v[i];
        s->name = strdup(sb->name);
        s->branch = strdup(sb->branch);
        s->tables = calloc(sb->ntables + 1, sizeof *s->tables);
        s->cursor = sb->cursor;
        s->created_us = sb->created_us;
        for (size_t k = 0; s->tables != NULL && k < sb->ntables; k++)
            if ((s->tables[s->ntables++] = strdup(sb->tables[k])) == NULL)
                rc = UDR_ENOMEM;
        if (s->name == NULL || s->branch == NULL || s->tables == NULL || rc == UDR_ENOMEM) {
            rc = err_set(&repo->err, UDR_ENOMEM, "out of memory");
            break;
        }
        uint64_t pending = 0;
        if (catalog_branch(c, s->branch) != NULL &&
            (rc = catalog_complete(c)) == UDR_OK)
            rc = count_pending(repo, &c->subs[i], &pending);
        s->pending = pending;
    }
    if (rc) {
        udr_sub_info_free(v, count);
        return rc;
    }
    *out = v;
    *n = count;
    return UDR_OK;
}

int udr_sub_poll(udr_repo *repo, const char *name, size_t max_commits, udr_changes **out)
{
    return udr_sub_poll_after(repo, name, 0, max_commits, out);
}

int udr_sub_poll_after(udr_repo *repo, const char *name, uint64_t after, size_t max_commits,
                       udr_changes **out)
{
    *out = NULL;
    int rc = repo_begin(repo);
    const cat_sub *sb = NULL;
    if (rc == UDR_OK)
        rc = sub_named(repo, name, &sb);
    if (rc == UDR_OK)
        rc = catalog_complete(&repo->cat);
    if (rc == UDR_OK)
        sb = catalog_sub(&repo->cat, name);     /* the index may have been reloaded */
    if (rc)
        return rc;
    if (catalog_branch(&repo->cat, sb->branch) == NULL &&
        catalog_branch_any(&repo->cat, sb->branch) != NULL)
        return catalog_branch_error(&repo->cat, sb->branch);   /* broken */
    if (catalog_branch(&repo->cat, sb->branch) == NULL)
        return err_set(&repo->err, UDR_ENOTFOUND,
                       "subscription %s follows branch %s, which was deleted; drop it", name,
                       sb->branch);
    feed_seen *s = seen(repo, name, 1);
    if (s == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    s->start = sb->cursor;
    if (s->delivered < sb->cursor)
        s->delivered = sb->cursor;
    uint64_t from = after > sb->cursor ? after : sb->cursor;
    return new_iterator(repo, sb->branch, (const char *const *)sb->tables, sb->ntables, from,
                        UINT64_MAX, max_commits, name, out);
}

int feedapi_check_ack(udr_repo *repo, const char *name, uint64_t seq, uint64_t *expect)
{
    const cat_sub *sb;
    int rc = sub_named(repo, name, &sb);
    if (rc)
        return rc;
    const feed_seen *s = seen(repo, name, 0);
    *expect = s != NULL ? s->start : sb->cursor;
    if (seq < sb->cursor)
        return err_set(&repo->err, UDR_EINVAL,
                       "subscription %s is acknowledged through %llu already; %llu would move "
                       "it back (its cursor stays)",
                       name, (unsigned long long)sb->cursor, (unsigned long long)seq);
    if (seq > log_last_seq(&repo->cat.log))
        return err_set(&repo->err, UDR_EINVAL,
                       "cannot acknowledge %llu for subscription %s: the log ends at %llu, so "
                       "it cannot have been delivered (its cursor stays at %llu)",
                       (unsigned long long)seq, name,
                       (unsigned long long)log_last_seq(&repo->cat.log),
                       (unsigned long long)sb->cursor);
    if (s != NULL && seq > s->delivered)
        return err_set(&repo->err, UDR_EINVAL,
                       "cannot acknowledge %llu for subscription %s: its polls delivered "
                       "only through %llu (its cursor stays at %llu)",
                       (unsigned long long)seq, name, (unsigned long long)s->delivered,
                       (unsigned long long)sb->cursor);
    return UDR_OK;
}

static int ack_alone(udr_repo *repo, const char *name, uint64_t seq)
{
    uint64_t expect;
    int rc = feedapi_check_ack(repo, name, seq, &expect);
    if (rc == UDR_OK)
        rc = catalog_sub_ack(&repo->cat, name, UINT64_MAX, seq);
    return rc;
}

int udr_sub_ack(udr_repo *repo, const char *name, uint64_t seq)
{
    int rc = repo_begin(repo);
    return rc ? rc : ack_alone(repo, name, seq);
}

int feedapi_ack_hook(void *ctx, const char *name, uint64_t seq)
{
    udr_repo *repo = ctx;
    return repo->tx != NULL ? txapi_ack(repo->tx, name, seq) : ack_alone(repo, name, seq);
}

int udr_wait(udr_repo *repo, uint64_t seq, int timeout_ms)
{
    int rc = repo_begin(repo);
    if (rc)
        return rc;
    struct feed_state *f = state(repo);
    if (f == NULL)
        return err_set(&repo->err, UDR_ENOMEM, "out of memory");
    return feed_wait(&repo->cat, &f->ifd, seq, timeout_ms);
}

uint64_t udr_log_position(udr_repo *repo)
{
    if (repo_begin(repo) == UDR_OK)
        catalog_refresh(&repo->cat);
    return log_last_seq(&repo->cat.log);
}
