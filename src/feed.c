/*
 * feed — walking a branch's history table by table; see feed.h.
 */
#include "feed.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "branch.h"
#include "hash.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const cat_branch *walk_branch(catalog *c, const feed_walk *w)
{
    const cat_branch *b = catalog_branch(c, w->branch);
    if (b == NULL && catalog_branch_any(c, w->branch) != NULL)
        catalog_branch_error(c, w->branch);      /* broken */
    else if (b == NULL)
        err_set(c->err, UDR_ENOTFOUND,
                "branch %s is not there any more (it was deleted); its changes cannot be "
                "followed",
                w->branch);
    return b;
}

/* Index of the first point after seq (npoints if none). */
static size_t point_after(const cat_branch *b, uint64_t seq)
{
    size_t lo = 0, hi = b->npoints;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (b->points[mid].seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The entries of the walk's tables in a commit (.table NULL: absent). */
static int entries_at(catalog *c, const feed_walk *w, const udr_hash *commit, cat_entry *out)
{
    cat_commit cm;
    int rc = catalog_read_commit(c, commit, &cm);
    if (rc)
        return rc;
    size_t i = 0, j = 0;
    while (i < w->ntables) {
        int cmp = j == cm.ntables ? -1 : strcmp(w->tables[i], cm.tables[j].table);
        if (cmp < 0) {
            memset(&out[i++], 0, sizeof *out);
        } else if (cmp > 0) {
            j++;
        } else {
            out[i] = cm.tables[j++];
            out[i].table = w->tables[i];   /* not owned: the walk's copy */
            i++;
        }
    }
    catc_free(&cm);
    return UDR_OK;
}

int feed_walk_begin(catalog *c, feed_walk *w, const char *branch, const char *const *tables,
                    size_t ntables, uint64_t after, uint64_t upto, size_t max_points)
{
    memset(w, 0, sizeof *w);
    int rc = catalog_complete(c);
    if (rc)
        return rc;
    snprintf(w->branch, sizeof w->branch, "%s", branch);
    w->tables = calloc(ntables + 1, sizeof *w->tables);
    w->prev = calloc(ntables + 1, sizeof *w->prev);
    w->behind = calloc(ntables + 1, sizeof *w->behind);
    if (w->tables == NULL || w->prev == NULL || w->behind == NULL)
        return err_set(c->err, UDR_ENOMEM, "out of memory");
    for (size_t i = 0; i < ntables; i++)
        if ((w->tables[w->ntables++] = strdup(tables[i])) == NULL)
            return err_set(c->err, UDR_ENOMEM, "out of memory");
    qsort(w->tables, w->ntables, sizeof *w->tables, cmp_str);
    uint64_t end = log_last_seq(&c->log);
    w->upto = upto > end ? end : upto;
    w->pos = after;
    w->max_points = max_points;
    const cat_branch *b = walk_branch(c, w);
    if (b == NULL)
        return UDR_ENOTFOUND;
    /* The tables as the branch had them at `after`. */
    size_t k = point_after(b, after);
    if (k > 0)
        return entries_at(c, w, &b->points[k - 1].commit, w->prev);
    return UDR_OK;
}

static int same_entry(const cat_entry *a, const cat_entry *b)
{
    if ((a->table == NULL) != (b->table == NULL))
        return 0;
    return a->table == NULL || hash_equal(&a->hash, &b->hash);
}

int feed_walk_next(catalog *c, feed_walk *w, feed_step *out, int *got)
{
    *got = 0;
    while (w->qnext == w->nqueue) {
        w->qnext = w->nqueue = 0;
        if (w->max_points > 0 && w->points >= w->max_points)
            return UDR_OK;
        const cat_branch *b = walk_branch(c, w);
        if (b == NULL)
            return UDR_ENOTFOUND;
        size_t k = point_after(b, w->pos);
        if (k == b->npoints || b->points[k].seq > w->upto) {
            for (size_t i = 0; i < w->ntables; i++) {
                const cat_version *gone = w->behind[i] ? catalog_version(c, w->tables[i],
                                                                         w->behind[i])
                                                       : NULL;
                int rc = gone ? catalog_check_kept(c, w->tables[i], gone) : UDR_OK;
                if (rc)
                    return rc;            /* the walk ends on a version that expired */
            }
            if (w->pos < w->upto)
                w->pos = w->upto;
            return UDR_OK;
        }
        const cat_point p = b->points[k];
        cat_entry *now = calloc(w->ntables + 1, sizeof *now);
        if (w->queue == NULL)
            w->queue = calloc(w->ntables + 1, sizeof *w->queue);
        if (now == NULL || w->queue == NULL) {
            free(now);
            return err_set(c->err, UDR_ENOMEM, "out of memory");
        }
        int rc = entries_at(c, w, &p.commit, now);
        if (rc) {
            free(now);
            return rc;
        }
        for (size_t i = 0; i < w->ntables; i++) {
            if (same_entry(&w->prev[i], &now[i])) {
                w->behind[i] = 0;
                continue;
            }
            feed_step *s = &w->queue[w->nqueue++];
            memset(s, 0, sizeof *s);
            s->seq = p.seq;
            s->time_us = p.time_us;
            s->commit = p.commit;
            s->table = i;
            s->has_from = w->prev[i].table != NULL;
            s->from_version = w->prev[i].version;
            s->from = w->prev[i].hash;
            s->has_to = now[i].table != NULL;
            s->to_version = now[i].version;
            s->to = now[i].hash;
            /* A step between versions retention let go cannot be read: say
             * so (udr expire keeps what subscriptions have still to read). */
            const cat_version *fv = s->has_from ? catalog_version(c, w->tables[i], s->from_version)
                                                : NULL;
            const cat_version *tv = s->has_to ? catalog_version(c, w->tables[i], s->to_version)
                                              : NULL;
            if (fv != NULL && (rc = catalog_check_kept(c, w->tables[i], fv)) != UDR_OK) {
                w->nqueue = 0;
                free(now);
                return rc;
            }
            if (tv != NULL && catalog_check_kept(c, w->tables[i], tv) != UDR_OK) {
                /* Expired: the table stays where it was (see feed.h). */
                err_clear(c->err);
                w->nqueue--;
                w->behind[i] = s->to_version;
                now[i] = w->prev[i];
                continue;
            }
            w->behind[i] = 0;
        }
        memcpy(w->prev, now, w->ntables * sizeof *now);
        free(now);
        w->pos = p.seq;
        w->qseq = p.seq;
        if (w->nqueue > 0)
            w->points++;
    }
    *out = w->queue[w->qnext++];
    *got = 1;
    return UDR_OK;
}

uint64_t feed_walk_position(const feed_walk *w)
{
    return w->qnext < w->nqueue ? w->qseq - 1 : w->pos;
}

void feed_walk_free(feed_walk *w)
{
    for (size_t i = 0; i < w->ntables; i++)
        free(w->tables[i]);
    free(w->tables);
    free(w->prev);
    free(w->behind);
    free(w->queue);
    memset(w, 0, sizeof *w);
}

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

int feed_bound(catalog *c, const char *table, const char *branch, const char *ref, int is_from,
               uint64_t *seq)
{
    *seq = is_from ? 0 : UINT64_MAX;
    if (ref == NULL || ref[0] == '\0')
        return UDR_OK;
    int rc = catalog_complete(c);
    if (rc)
        return rc;
    const cat_branch *b = catalog_branch(c, branch);
    if (b == NULL)
        return catalog_branch_error(c, branch);
    if (all_digits(ref)) {
        errno = 0;
        unsigned long long n = strtoull(ref, NULL, 10);
        const cat_version *v = errno == 0 ? catalog_version(c, table, n) : NULL;
        if (v == NULL && n == 0 && is_from)
            return UDR_OK;               /* 0: before the first version */
        if (v == NULL)
            return err_set(c->err, UDR_ENOTFOUND,
                           "table %s has no version %s (see 'udr log %s')", table, ref, table);
        *seq = is_from ? v->seq - 1 : v->seq;
        return UDR_OK;
    }
    int64_t t_us;
    if (catalog_parse_time(ref, &t_us) == 0) {
        /* from: the points at or after t; to: at or before it. */
        uint64_t last = 0;
        for (size_t i = 0; i < b->npoints; i++)
            if (is_from ? b->points[i].time_us < t_us : b->points[i].time_us <= t_us)
                last = b->points[i].seq;
        *seq = last;
        return UDR_OK;
    }
    udr_hash h;
    if ((rc = branch_resolve(c, ref, &h)) != 0)
        return rc;
    for (size_t i = 0; i < b->npoints; i++)
        if (hash_equal(&b->points[i].commit, &h)) {
            *seq = is_from ? b->points[i].seq - 1 : b->points[i].seq;
            return UDR_OK;
        }
    return err_set(c->err, UDR_ENOTFOUND,
                   "commit %s was never the head of branch %s, so its changes are not in "
                   "that branch's feed; name a commit of 'udr log' on it",
                   ref, branch);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int feed_wait(catalog *c, int *ifd, uint64_t seq, int timeout_ms)
{
    if (*ifd < 0) {
        char dir[PATH_MAX + 8];
        snprintf(dir, sizeof dir, "%s/log", c->repo);
        int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (fd < 0)
            return err_sys(c->err, errno, "cannot watch the log (inotify)");
        /* Appends modify a segment; a new segment is renamed in. */
        if (inotify_add_watch(fd, dir, IN_MODIFY | IN_MOVED_TO | IN_CREATE) < 0) {
            int e = errno;
            close(fd);
            return err_sys(c->err, e, "cannot watch %s (inotify)", dir);
        }
        *ifd = fd;
    }
    int64_t deadline = timeout_ms >= 0 ? mono_ms() + timeout_ms : 0;
    for (;;) {
        /* The watch is in place before this read: no commit is missed. */
        int rc = catalog_refresh(c);
        if (rc)
            return rc;
        if (log_last_seq(&c->log) > seq)
            return 1;
        int wait_ms = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - mono_ms();
            if (left <= 0)
                return 0;
            wait_ms = left > 1000000 ? 1000000 : (int)left;
        }
        struct pollfd pfd = {*ifd, POLLIN, 0};
        int n = poll(&pfd, 1, wait_ms);
        if (n < 0 && errno == EINTR)
            return 0;
        if (n < 0)
            return err_sys(c->err, errno, "cannot wait for the log");
        char events[4096];
        while (read(*ifd, events, sizeof events) > 0) {
        }
    }
}
