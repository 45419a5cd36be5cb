/*
 * log — append-only segments of checksummed records; see log.h for the
 * format and the protocol.
 */
#include "log.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/crc32c.h"

static const char MAGIC[8] = {'U', 'D', 'R', 'L', 'O', 'G', '0', '1'};

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint32_t record_crc(uint32_t len, const void *payload)
{
    unsigned char l[4];
    put32(l, len);
    return crc32c(crc32c(0, l, 4), payload, len);
}

static int seg_path(const char *repo, uint64_t seg, char *buf, size_t size)
{
    return fs_path(buf, size, "%s/log/%016llx.seg", repo, (unsigned long long)seg);
}

/* The highest segment number in log/, 0 if none. */
static int newest_segment(udrlog *l, uint64_t *seg)
{
    char dir[PATH_MAX];
    fs_path(dir, sizeof dir, "%s/log", l->repo);
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return err_sys(l->err, errno, "cannot read the log directory %s", dir);
    uint64_t best = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        unsigned long long n;
        char tail[8];
        if (strlen(de->d_name) == 20 && sscanf(de->d_name, "%16llx%7s", &n, tail) == 2 &&
            strcmp(tail, ".seg") == 0 && n > best)
            best = n;
    }
    closedir(dp);
    *seg = best;
    return UDR_OK;
}

/* Writes a whole segment (header + one record) to tmp/ and renames it into
 * place as segment number seg. Fails with UDR_EEXIST if it exists. */
static int write_segment(const char *repo, uint64_t seg, uint64_t first_seq, const void *payload,
                         size_t len, const fs_fault *fault, udr_err *err)
{
    char tmp[PATH_MAX], dest[PATH_MAX], dir[PATH_MAX];
    if (fs_path(tmp, sizeof tmp, "%s/tmp/seg.%ld.%llx", repo, (long)getpid(),
                (unsigned long long)seg) ||
        seg_path(repo, seg, dest, sizeof dest) || fs_path(dir, sizeof dir, "%s/log", repo))
        return err_set(err, UDR_EINVAL, "repository path is too long");
    size_t total = LOG_HEADER_BYTES + (payload ? LOG_RECORD_HEADER_BYTES + len : 0);
    unsigned char *buf = malloc(total);
    if (buf == NULL)
        return err_set(err, UDR_ENOMEM, "out of memory writing a log segment");
    memcpy(buf, MAGIC, 8);
    put64(buf + 8, first_seq);
    if (payload != NULL) {
        put32(buf + 16, (uint32_t)len);
        put32(buf + 20, record_crc((uint32_t)len, payload));
        memcpy(buf + 24, payload, len);
    }
    int fd, e = fs_create_excl(tmp, 0644, &fd, fault);
    if (e == 0) {
        e = fs_write_all(fd, buf, total, fault, tmp);
        if (e == 0)
            e = fs_fsync(fd, fault, tmp);
        close(fd);
    }
    free(buf);
    if (e == 0) {
        /* link() rather than rename(): it fails if the segment exists, so
         * two writers can never both start segment seg. */
        if (link(tmp, dest) != 0)
            e = errno;
        unlink(tmp);
        if (e == EEXIST)
            return err_set(err, UDR_EEXIST, "log segment %s exists already", dest);
    }
    if (e == 0)
        e = fs_fsync_dir(dir, fault);
    if (e) {
        unlink(tmp);
        return err_sys(err, e, "cannot write log segment %s", dest);
    }
    return UDR_OK;
}

int log_create(const char *repo, udr_err *err)
{
    char lock[PATH_MAX];
    if (fs_path(lock, sizeof lock, "%s/log/LOCK", repo))
        return err_set(err, UDR_EINVAL, "repository path is too long");
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_sys(err, errno, "cannot create %s", lock);
    close(fd);
    return write_segment(repo, 1, 1, NULL, 0, NULL, err);
}

/* Opens segment seg for reading and checks its header. */
static int open_segment(udrlog *l, uint64_t seg)
{
    char path[PATH_MAX];
    seg_path(l->repo, seg, path, sizeof path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && (errno == EACCES || errno == EROFS))
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(l->err, errno, "cannot open log segment %s", path);
    unsigned char h[LOG_HEADER_BYTES];
    size_t got;
    int e = fs_pread_full(fd, h, sizeof h, 0, &got, NULL, path);
    if (e || got != sizeof h || memcmp(h, MAGIC, 8) != 0) {
        close(fd);
        return err_set(l->err, UDR_ECORRUPT,
                       "log segment %s is damaged: its header is %s; the repository cannot be "
                       "read past it",
                       path, got != sizeof h ? "truncated" : "not a UDR log header");
    }
    if (l->seg_fd >= 0)
        close(l->seg_fd);
    l->seg = seg;
    l->seg_fd = fd;
    l->seg_first_seq = get64(h + 8);
    l->read_off = LOG_HEADER_BYTES;
    l->next_seq = l->seg_first_seq;
    return UDR_OK;
}

int log_open(udrlog *l, const char *repo, udr_err *err)
{
    return log_open_mode(l, repo, 0, err);
}

void log_set_readonly(udrlog *l)
{
    assert(!l->locked && !l->unsynced);
    if (l->lock_fd >= 0)
        close(l->lock_fd);
    l->lock_fd = -1;
    l->readonly = 1;
}

int log_open_mode(udrlog *l, const char *repo, int readonly, udr_err *err)
{
    memset(l, 0, sizeof *l);
    l->lock_fd = l->seg_fd = -1;
    uint64_t seg = 0;
    l->err = err;
    if (fs_path(l->repo, sizeof l->repo, "%s", repo))
        return err_set(err, UDR_EINVAL, "repository path is too long");
    int rc = newest_segment(l, &seg);
    if (rc)
        return rc;
    if (seg == 0)
        return err_set(err, UDR_EFORMAT, "%s is a damaged UDR repository: its log has no segment",
                       repo);
    if ((rc = log_open_at(l, repo, seg, err)) != 0)
        return rc;
    if (readonly)
        log_set_readonly(l);
    /* Cut a torn tail now, while no writer can be appending. Most opens
     * find none: read to the end without the lock first (as readers do),
     * and take the writers' lock only when bytes were left past a whole
     * record, a torn write or a writer mid-append. Taking it always made
     * every open wait for the commit in progress: under 32 busy clients,
     * udr serve's handle renewals waited seconds. */
    if (l->lock_fd >= 0) {
        uint64_t keep_off = l->read_off, keep_seq = l->next_seq;
        l->tail_seen = 0;
        rc = log_read(l, NULL, NULL);
        if (rc == 0 && l->tail_seen) {
            /* Again from the start, under the lock: torn tails of earlier
             * segments are cut too. */
            if (l->seg != seg && (rc = open_segment(l, seg)) != 0)
                return rc;
            l->read_off = keep_off;
            l->next_seq = keep_seq;
            if ((rc = log_lock(l)) != 0)
                return rc;
            rc = log_read(l, NULL, NULL);
            log_unlock(l);
        }
        if (rc)
            return rc;
        /* Back to the start of the segment: the caller reads it all. */
        if (l->seg != seg && (rc = open_segment(l, seg)) != 0)
            return rc;
        l->read_off = keep_off;
        l->next_seq = keep_seq;
    }
    return UDR_OK;
}

int log_open_at(udrlog *l, const char *repo, uint64_t seg, udr_err *err)
{
    memset(l, 0, sizeof *l);
    l->err = err;
    l->lock_fd = -1;
    l->seg_fd = -1;
    if (fs_path(l->repo, sizeof l->repo, "%s", repo))
        return err_set(err, UDR_EINVAL, "repository path is too long");
    char lock[PATH_MAX];
    fs_path(lock, sizeof lock, "%s/log/LOCK", repo);
    l->lock_fd = open(lock, O_RDWR | O_CLOEXEC);
    if (l->lock_fd < 0 && errno != EACCES && errno != EROFS)
        return err_sys(err, errno, "cannot open the log lock %s", lock);
    const char *g = getenv("UDR_GROUP_COMMIT");
    l->group_commit = g == NULL || strcmp(g, "0") != 0;
    const char *slow = getenv("UDR_SIMULATE_FSYNC_US");
    l->fsync_delay_us = slow != NULL ? strtoul(slow, NULL, 10) : 0;
    return open_segment(l, seg);
}

void log_close(udrlog *l)
{
    if (l->locked)
        log_unlock(l);
    if (l->unsynced)
        log_sync(l);
    if (l->seg_fd >= 0)
        close(l->seg_fd);
    if (l->lock_fd >= 0)
        close(l->lock_fd);
    l->seg_fd = l->lock_fd = -1;
}

/* log/LOCK: byte 0 is the writers' lock; byte 1 guards the durable mark,
 * bytes 16..31 (u64 segment, u64 offset): the log is durable at least up
 * to there. The mark is written after an fdatasync, never synced itself:
 * on disk it may lag, never lead. */
enum { MARK_OFF = 16 };

static int range_lock(int fd, short type, off_t start)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = 1};
    while (fcntl(fd, type == F_UNLCK ? F_OFD_SETLK : F_OFD_SETLKW, &fl) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

static void mark_get(const udrlog *l, uint64_t *seg, uint64_t *off)
{
    unsigned char b[16];
    *seg = *off = 0;
    int fd = l->lock_fd;
    if (fd < 0) {
        /* A reader without write access reads the mark all the same, so
         * that it tells damage from an unsynced tail as writers do. */
        char lock[PATH_MAX];
        if (fs_path(lock, sizeof lock, "%s/log/LOCK", l->repo) == 0)
            fd = open(lock, O_RDONLY | O_CLOEXEC);
    }
    if (fd >= 0 && pread(fd, b, sizeof b, MARK_OFF) == (ssize_t)sizeof b) {
        *seg = get64(b);
        *off = get64(b + 8);
    }
    if (fd >= 0 && fd != l->lock_fd)
        close(fd);
}

static int mark_covers(uint64_t mseg, uint64_t moff, uint64_t seg, uint64_t off)
{
    return mseg > seg || (mseg == seg && moff >= off);
}

static void mark_put(const udrlog *l, uint64_t seg, uint64_t off)
{
    unsigned char b[16];
    put64(b, seg);
    put64(b + 8, off);
    if (pwrite(l->lock_fd, b, sizeof b, MARK_OFF) != (ssize_t)sizeof b) {
        /* The mark only spares others an fdatasync and tells damage from
         * an unsynced tail after a crash; a stale one is safe. */
    }
}

/* After an fdatasync of segment seg that covered its first off bytes:
 * moves the mark there, if it is not past it already. */
static void mark_advance(udrlog *l, uint64_t seg, uint64_t off)
{
    if (l->lock_fd < 0)
        return;
    int locked = range_lock(l->lock_fd, F_WRLCK, 1) == 0;
    uint64_t mseg, moff;
    mark_get(l, &mseg, &moff);
    if (locked && !mark_covers(mseg, moff, seg, off))
        mark_put(l, seg, off);
    if (locked)
        range_lock(l->lock_fd, F_UNLCK, 1);
}

/* fdatasync of the segment; $UDR_SIMULATE_FSYNC_US (benchmarks only) makes
 * each take that much longer, as on a slower disk. */
static int seg_sync(udrlog *l)
{
    if (l->fsync_delay_us > 0)
        usleep((useconds_t)l->fsync_delay_us);
    return fdatasync(l->seg_fd) != 0 ? errno : 0;
}

int log_sync(udrlog *l)
{
    if (!l->unsynced)
        return UDR_OK;
    l->unsynced = 0;
    /* A new segment began (log_start_segment syncs the one before). */
    if (l->seg != l->unsynced_seg) {
        l->shared_syncs++;
        return UDR_OK;
    }
    /* One fdatasync at a time, under the mark's lock: a committer that
     * comes while one runs waits for it, then finds its record covered if
     * it was written before that fdatasync began; else its own fdatasync
     * covers every record written so far, its own and those of the
     * committers waiting behind it (group commit). */
    int locked = range_lock(l->lock_fd, F_WRLCK, 1) == 0;
    uint64_t mseg, moff;
    mark_get(l, &mseg, &moff);
    if (mark_covers(mseg, moff, l->unsynced_seg, l->unsynced_end)) {
        l->shared_syncs++;
        if (locked)
            range_lock(l->lock_fd, F_UNLCK, 1);
        return UDR_OK;
    }
    struct stat st;
    uint64_t upto = fstat(l->seg_fd, &st) == 0 && (uint64_t)st.st_size > l->unsynced_end
                        ? (uint64_t)st.st_size
                        : l->unsynced_end;
    int e = l->fault.fn != NULL ? l->fault.fn(l->fault.ctx, FS_OP_FSYNC, "log") : 0;
    if (e == 0)
        e = seg_sync(l);
    if (e == 0) {
        l->syncs++;
        if (locked && !mark_covers(mseg, moff, l->unsynced_seg, upto))
            mark_put(l, l->unsynced_seg, upto);
    }
    if (locked)
        range_lock(l->lock_fd, F_UNLCK, 1);
    if (e)
        return err_sys(l->err, e,
                       "the commit is in the log, but making it durable failed (fdatasync of "
                       "log segment %016llx): it may not survive a crash",
                       (unsigned long long)l->seg);
    return UDR_OK;
}

int log_lock(udrlog *l)
{
    assert(!l->locked);
    if (l->readonly)
        return err_set(l->err, UDR_EPERM,
                       "cannot write to the repository %s: it was opened read-only", l->repo);
    if (l->lock_fd < 0)
        return err_set(l->err, UDR_EPERM,
                       "cannot write to the repository %s: its log/LOCK cannot be opened for "
                       "writing",
                       l->repo);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    while (fcntl(l->lock_fd, F_OFD_SETLKW, &fl) != 0) {
        if (errno != EINTR)
            return err_sys(l->err, errno, "cannot lock the log of %s", l->repo);
    }
    l->locked = 1;
    return UDR_OK;
}

void log_unlock(udrlog *l)
{
    assert(l->locked);
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    fcntl(l->lock_fd, F_OFD_SETLK, &fl);
    l->locked = 0;
}

/* 1 if the n bytes at buf are all zero. */
static int all_zero(const unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i])
            return 0;
    return 1;
}

/* The bytes from the read position to the end of the current segment. */
static int read_rest(udrlog *l, unsigned char **buf, size_t *len)
{
    struct stat st;
    if (fstat(l->seg_fd, &st) != 0)
        return err_sys(l->err, errno, "cannot stat log segment %llu", (unsigned long long)l->seg);
    *buf = NULL;
    *len = 0;
    if ((uint64_t)st.st_size <= l->read_off)
        return UDR_OK;
    size_t n = (size_t)((uint64_t)st.st_size - l->read_off);
    unsigned char *b = malloc(n);
    if (b == NULL)
        return err_set(l->err, UDR_ENOMEM, "out of memory reading the log");
    size_t got;
    int e = fs_pread_full(l->seg_fd, b, n, (off_t)l->read_off, &got, &l->fault, "log");
    if (e) {
        free(b);
        return err_sys(l->err, e, "cannot read log segment %llu", (unsigned long long)l->seg);
    }
    *buf = b;
    *len = got;
    return UDR_OK;
}

/* Cuts the segment at the read position (lock held): the rest is torn. A
 * mark past the cut (an fdatasync that met a record half written by a
 * writer that then died) comes back to it, so that it never covers the
 * records appended there next before they are synced. */
static int cut_tail(udrlog *l, size_t torn)
{
    if (ftruncate(l->seg_fd, (off_t)l->read_off) != 0 || fdatasync(l->seg_fd) != 0)
        return err_sys(l->err, errno, "cannot cut the torn tail of log segment %llu",
                       (unsigned long long)l->seg);
    l->cut_bytes += torn;
    int locked = range_lock(l->lock_fd, F_WRLCK, 1) == 0;
    uint64_t mseg, moff;
    mark_get(l, &mseg, &moff);
    if (locked && mseg == l->seg && moff > l->read_off)
        mark_put(l, l->seg, l->read_off);
    if (locked)
        range_lock(l->lock_fd, F_UNLCK, 1);
    return UDR_OK;
}

int log_read(udrlog *l, log_fn fn, void *ctx)
{
    for (;;) {
        unsigned char *buf;
        size_t len;
        int rc = read_rest(l, &buf, &len);
        if (rc)
            return rc;
        size_t off = 0;
        while (rc == 0 && len - off >= LOG_RECORD_HEADER_BYTES) {
            uint32_t n = get32(buf + off), crc = get32(buf + off + 4);
            size_t end = off + LOG_RECORD_HEADER_BYTES + n;
            if (n > LOG_MAX_RECORD_BYTES || end > len)
                break;                     /* incomplete: torn, or being written */
            if (record_crc(n, buf + off + 8) != crc) {
                /* A record the durable mark covers was fdatasynced (and
                 * may have been acknowledged): a bad checksum there is
                 * damage, whether more records follow or not. */
                uint64_t mseg, moff;
                mark_get(l, &mseg, &moff);
                if (mark_covers(mseg, moff, l->seg, l->read_off + LOG_RECORD_HEADER_BYTES + n)) {
                    int more = end < len && !all_zero(buf + end, len - end);
                    rc = err_set(l->err, UDR_ECORRUPT,
                                 "the log is damaged: record %llu (segment %016llx, byte %llu) "
                                 "fails its checksum%s; nothing after it can be read",
                                 (unsigned long long)l->next_seq, (unsigned long long)l->seg,
                                 (unsigned long long)(l->read_off),
                                 more ? " and more records follow"
                                      : ", and it was made durable, so it is not a torn write");
                    free(buf);
                    return rc;
                }
                /* Past the durable mark: the last record, torn; or records
                 * some written back before a crash and some not (group
                 * commit): none was acknowledged, all are cut. */
                if (l->locked) {
                    free(buf);
                    return cut_tail(l, len - off);
                }
                l->tail_seen = 1;
                break;
            }
            uint64_t seq = l->next_seq;
            l->read_off += LOG_RECORD_HEADER_BYTES + n;
            l->next_seq++;
            if (fn != NULL)
                rc = fn(ctx, seq, buf + off + 8, n);
            off = end;
        }
        size_t rest = len - off;
        free(buf);
        if (rc)
            return rc;
        /* Is there a newer segment? Then this one is complete, whatever is
         * left in it is torn, and reading goes on there. */
        char next[PATH_MAX];
        seg_path(l->repo, l->seg + 1, next, sizeof next);
        if (rest > 0 && !l->locked)
            l->tail_seen = 1;
        if (access(next, F_OK) == 0) {
            if (rest > 0 && l->locked && (rc = cut_tail(l, rest)) != 0)
                return rc;
            if ((rc = open_segment(l, l->seg + 1)) != 0)
                return rc;
            continue;
        }
        if (rest > 0 && l->locked)
            return cut_tail(l, rest);       /* no writer is mid-append: torn */
        return UDR_OK;
    }
}

int log_append(udrlog *l, const void *payload, size_t len, uint64_t *seq)
{
    assert(l->locked);
    if (len > LOG_MAX_RECORD_BYTES)
        return err_set(l->err, UDR_EINVAL, "log record too large (%zu bytes)", len);
    size_t total = LOG_RECORD_HEADER_BYTES + len;
    unsigned char *buf = malloc(total);
    if (buf == NULL)
        return err_set(l->err, UDR_ENOMEM, "out of memory appending to the log");
    put32(buf, (uint32_t)len);
    put32(buf + 4, record_crc((uint32_t)len, payload));
    memcpy(buf + 8, payload, len);
    char what[64];
    snprintf(what, sizeof what, "log segment %016llx", (unsigned long long)l->seg);
    int e = 0;
    ssize_t w;
    size_t done = 0;
    if (l->fault.fn != NULL)
        e = l->fault.fn(l->fault.ctx, FS_OP_WRITE, what);
    while (e == 0 && done < total) {
        w = pwrite(l->seg_fd, buf + done, total - done, (off_t)(l->read_off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            e = w < 0 ? errno : EIO;
        else
            done += (size_t)w;
    }
    free(buf);
    if (e == 0 && !l->group_commit) {
        e = l->fault.fn != NULL ? l->fault.fn(l->fault.ctx, FS_OP_FSYNC, what) : 0;
        if (e == 0)
            e = seg_sync(l);
        l->syncs += e == 0;
        if (e == 0)
            mark_advance(l, l->seg, l->read_off + total);
    }
    if (e) {
        /* Take the partial record back, so the next append starts clean; if
         * even that fails, the next lock holder cuts it as a torn tail. */
        if (ftruncate(l->seg_fd, (off_t)l->read_off) == 0)
            fdatasync(l->seg_fd);
        return err_sys(l->err, e, "cannot append to the log (%s)", what);
    }
    *seq = l->next_seq++;
    l->read_off += total;
    if (l->group_commit) {
        /* Durable in log_sync, after the lock is released, so that other
         * committers append meanwhile and one fdatasync serves several. */
        l->unsynced = 1;
        l->unsynced_seg = l->seg;
        l->unsynced_end = l->read_off;
    }
    return UDR_OK;
}

int log_start_segment(udrlog *l, const void *payload, size_t len, uint64_t *seq)
{
    assert(l->locked);
    uint64_t first = l->next_seq;
    /* The segment before is made durable first, whoever appended to it: a
     * new one must never stand on records that could still be lost, and
     * so every record of a segment that has a newer one is durable (a bad
     * checksum there is damage, never a torn write). */
    if (fdatasync(l->seg_fd) != 0)
        return err_sys(l->err, errno, "cannot make log segment %016llx durable",
                       (unsigned long long)l->seg);
    int rc = write_segment(l->repo, l->seg + 1, first, payload, len, &l->fault, l->err);
    if (rc)
        return rc;
    if ((rc = open_segment(l, l->seg + 1)) != 0)
        return rc;
    mark_advance(l, l->seg, LOG_HEADER_BYTES + LOG_RECORD_HEADER_BYTES + len);
    /* Skip past the record just written: the caller has applied it. */
    l->read_off = LOG_HEADER_BYTES + LOG_RECORD_HEADER_BYTES + len;
    l->next_seq = first + 1;
    *seq = first;
    return UDR_OK;
}

/* ---- verifying the whole log (fsck) -------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The numbers of every segment in log/, ascending (*segs malloc'd). */
static int list_segments(const char *repo, uint64_t **segs, size_t *n, udr_err *err)
{
    char dir[PATH_MAX];
    fs_path(dir, sizeof dir, "%s/log", repo);
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return err_sys(err, errno, "cannot read the log directory %s", dir);
    uint64_t *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        unsigned long long num;
        char tail[8];
        if (strlen(de->d_name) != 20 || sscanf(de->d_name, "%16llx%7s", &num, tail) != 2 ||
            strcmp(tail, ".seg") != 0)
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, nc * sizeof *nv);
            if (nv == NULL) {
                free(v);
                closedir(dp);
                return err_set(err, UDR_ENOMEM, "out of memory listing the log");
            }
            v = nv;
            cap = nc;
        }
        v[cnt++] = num;
    }
    closedir(dp);
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, cmp_u64);
    *segs = v;
    *n = cnt;
    return UDR_OK;
}

typedef struct verify_state {
    udrlog l;                  /* the segment being checked */
    log_damage_fn fn;
    void *ctx;
    uint64_t mseg, moff;       /* the durable mark */
    uint64_t damaged;          /* damage reported */
} verify_state;

static void damage(verify_state *v, uint64_t seq, uint64_t byte, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void damage(verify_state *v, uint64_t seq, uint64_t byte, const char *fmt, ...)
{
    char msg[ERR_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->damaged++;
    if (v->fn != NULL)
        v->fn(v->ctx, v->l.seg, seq, byte, msg);
}

/* Checks the records of the open segment; newest: no newer one follows. */
static int verify_segment(verify_state *v, int newest, log_verify_stats *st)
{
    udrlog *l = &v->l;
    unsigned char *buf;
    size_t len, off = 0;
    int rc = read_rest(l, &buf, &len);
    if (rc)
        return rc;
    st->bytes += LOG_HEADER_BYTES + len;
    while (len - off >= LOG_RECORD_HEADER_BYTES) {
        uint32_t n = get32(buf + off), crc = get32(buf + off + 4);
        size_t end = off + LOG_RECORD_HEADER_BYTES + n;
        uint64_t at = LOG_HEADER_BYTES + off, rec_end = at + LOG_RECORD_HEADER_BYTES + n;
        if (n > LOG_MAX_RECORD_BYTES || end > len)
            break;
        if (record_crc(n, buf + off + 8) != crc) {
            int last = end == len || all_zero(buf + end, len - end);
            /* Past the durable mark at the end of the newest segment: a
             * torn write no one acknowledged, which the next writer cuts. */
            if (newest && last && !mark_covers(v->mseg, v->moff, l->seg, rec_end))
                break;
            damage(v, l->next_seq, at,
                   "log record %llu (segment %016llx, byte %llu, %u bytes) fails its "
                   "checksum%s",
                   (unsigned long long)l->next_seq, (unsigned long long)l->seg,
                   (unsigned long long)at, (unsigned)n,
                   !last     ? ""
                   : !newest ? " (the last of its segment, which a newer one follows: it was "
                               "durable, not torn)"
                             : " (the log's last record, made durable: not a torn write)");
        }
        st->records++;
        l->next_seq++;
        off = end;
    }
    size_t rest = len - off;
    uint64_t at = LOG_HEADER_BYTES + off;
    if (rest > 0 && !all_zero(buf + off, rest) &&
        (!newest || mark_covers(v->mseg, v->moff, l->seg, at + 1)))
        damage(v, l->next_seq, at,
               "log segment %016llx: its last %zu bytes (from byte %llu, where record %llu "
               "would begin) are not a whole record%s",
               (unsigned long long)l->seg, rest, (unsigned long long)at,
               (unsigned long long)l->next_seq,
               newest ? ", though they were made durable" : ", and a newer segment follows");
    free(buf);
    return UDR_OK;
}

int log_verify(const char *repo, log_damage_fn fn, void *ctx, log_verify_stats *st,
               udr_err *err)
{
    memset(st, 0, sizeof *st);
    uint64_t *segs = NULL;
    size_t nsegs = 0;
    int rc = list_segments(repo, &segs, &nsegs, err);
    if (rc)
        return rc;
    verify_state v;
    memset(&v, 0, sizeof v);
    v.fn = fn;
    v.ctx = ctx;
    v.l.seg_fd = v.l.lock_fd = -1;
    v.l.err = err;
    fs_path(v.l.repo, sizeof v.l.repo, "%s", repo);
    mark_get(&v.l, &v.mseg, &v.moff);
    uint64_t expect_seq = 1;            /* the first record of the next segment */
    for (size_t i = 0; i < nsegs && rc == UDR_OK; i++) {
        uint64_t want = i == 0 ? 1 : segs[i - 1] + 1;
        if (segs[i] != want) {
            v.l.seg = want;
            damage(&v, expect_seq, 0,
                   "log segment %016llx is missing (segment %016llx follows)",
                   (unsigned long long)want, (unsigned long long)segs[i]);
            expect_seq = 0;             /* its records are gone: no numbering check */
        }
        st->segments++;
        udr_err seg_err = {0, ""};
        v.l.err = &seg_err;
        if (open_segment(&v.l, segs[i]) != UDR_OK) {
            v.l.seg = segs[i];
            damage(&v, expect_seq, 0, "%s", seg_err.msg);
            expect_seq = 0;             /* unknown from here */
            v.l.err = err;
            continue;
        }
        v.l.err = err;
        if (expect_seq != 0 && v.l.seg_first_seq != expect_seq)
            damage(&v, expect_seq, 8,
                   "log segment %016llx begins at record %llu, but the segment before it "
                   "ends at record %llu: records %s",
                   (unsigned long long)segs[i], (unsigned long long)v.l.seg_first_seq,
                   (unsigned long long)(expect_seq - 1),
                   v.l.seg_first_seq > expect_seq ? "are missing" : "are numbered twice");
        rc = verify_segment(&v, i + 1 == nsegs, st);
        expect_seq = v.l.next_seq;
    }
    if (v.l.seg_fd >= 0)
        close(v.l.seg_fd);
    free(segs);
    st->damaged = v.damaged;
    return rc;
}
