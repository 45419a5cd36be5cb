/*
 * catexp — retention in the catalog: the expire record, and the index's
 * note of which versions it let go (format in catalog.h). Part of the
 * catalog layer: catalog.c replays the records through it. Which versions
 * a rule may let go is decided above (expire.c, udr_expire); this file
 * only checks that a record is sound and keeps the history.
 *
 * An expire record is history, not a deletion: the versions stay in the
 * index (numbered, timed, with their commits), marked with when and by
 * which record they expired. GC stops keeping their objects; resolving one
 * (users@3, a time, a commit) says it expired instead of finding it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog_int.h"
#include "hash.h"
#include "util/buf.h"

enum { EXPIRE_MAX = 1u << 20 };       /* versions in one record */

/* The version as the index holds it, writable (the layer owns the index). */
static cat_version *version_of(catalog *c, const char *table, uint64_t version)
{
    return (cat_version *)catalog_version(c, table, version);
}

int catexp_apply(catalog *c, uint64_t seq, reader *r)
{
    int64_t time_us = (int64_t)rd_u64(r);
    char *rule = rd_str16(r);
    uint32_t n = rd_u32(r);
    int rc = UDR_OK;
    if (r->bad || rule == NULL || n > EXPIRE_MAX)
        rc = cat_malformed(c, seq);
    for (uint32_t i = 0; rc == UDR_OK && i < n; i++) {
        char *table = rd_str16(r);
        uint64_t version = rd_u64(r);
        cat_version *v = r->bad || table == NULL ? NULL : version_of(c, table, version);
        if (r->bad || table == NULL)
            rc = cat_malformed(c, seq);
        else if (v == NULL && c->complete)
            rc = cat_malformed(c, seq);
        else if (v != NULL && v->dropped)
            rc = cat_malformed(c, seq);
        else if (v != NULL && v->expired_us == 0) {
            /* (v NULL: older than the checkpoint this index started from;
             * catalog_complete replays the record again in full.) */
            v->expired_us = time_us > 0 ? time_us : 1;
            v->expired_seq = seq;
        }
        free(table);
    }
    if (rc == UDR_OK && !rd_done(r))
        rc = cat_malformed(c, seq);
    free(rule);
    return rc;
}

int catalog_expire(catalog *c, const char *rule, const cat_expiry *v, size_t n, uint64_t *seq)
{
    if (n == 0 || n > EXPIRE_MAX)
        return err_set(c->err, UDR_EINVAL, "an expire record names 1 to %u versions, not %zu",
                       (unsigned)EXPIRE_MAX, n);
    for (size_t i = 0; i < n; i++) {
        const cat_table *t = catalog_table(c, v[i].table);
        const cat_version *cv = catalog_version(c, v[i].table, v[i].version);
        if (cv == NULL || cv->dropped || cv->expired_us != 0 || cv == &t->v[t->nv - 1])
            return err_set(c->err, UDR_EINVAL,
                           "table %s version %llu cannot expire: it %s", v[i].table,
                           (unsigned long long)v[i].version,
                           cv == NULL         ? "does not exist"
                           : cv->dropped      ? "is a drop"
                           : cv->expired_us   ? "expired already"
                                              : "is the table's newest version");
    }
    buf b;
    buf_init(&b);
    buf_u8(&b, REC_EXPIRE);
    buf_u64(&b, (uint64_t)cat_record_time(c));
    buf_str16(&b, rule);
    buf_u32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        buf_str16(&b, v[i].table);
        buf_u64(&b, v[i].version);
    }
    int rc = cat_append_record(c, &b);
    if (rc == UDR_OK && seq != NULL)
        *seq = log_last_seq(&c->log);
    return rc;
}

int catalog_check_kept(catalog *c, const char *table, const cat_version *v)
{
    if (v->expired_us == 0)
        return UDR_OK;
    time_t s = (time_t)(v->expired_us / 1000000);
    struct tm tm;
    char when[40];
    gmtime_r(&s, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return err_set(c->err, UDR_ENOTFOUND,
                   "table %s version %llu has expired (udr expire, %s, log record %llu): its rows "
                   "may be gone; 'udr log %s' lists the versions kept",
                   table, (unsigned long long)v->version, when,
                   (unsigned long long)v->expired_seq, table);
}

int catalog_check_commit_kept(catalog *c, const udr_hash *commit)
{
    cat_commit cm;
    int rc = catalog_read_commit(c, commit, &cm);
    if (rc)
        return rc;
    for (size_t i = 0; rc == UDR_OK && i < cm.ntables; i++) {
        const cat_version *v = catalog_version(c, cm.tables[i].table, cm.tables[i].version);
        if (v != NULL && v->expired_us != 0) {
            char hex[UDR_HASH_HEX + 1];
            hash_to_hex(commit, hex);
            rc = catalog_check_kept(c, cm.tables[i].table, v);
            err_prefix(c->err, "commit %.12s cannot be a branch head or a tag", hex);
            rc = UDR_EINVAL;
            c->err->code = UDR_EINVAL;
        }
    }
    catc_free(&cm);
    return rc;
}
