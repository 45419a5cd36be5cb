/*
 * log — the catalog log: the one mutable thing in a repository.
 *
 * On disk:
 *
 *   log/LOCK                 writers take an exclusive lock on it (an
 *                            open-file-description fcntl lock, so that two
 *                            handles in one process exclude each other too)
 *   log/<16 hex>.seg         segments, numbered 1, 2, 3 ...
 *
 * A segment is a 16-byte header, "UDRLOG01" and the little-endian sequence
 * number of its first record, followed by records:
 *
 *   u32 length | u32 crc32c(length bytes, payload) | payload (length bytes)
 *
 * Records are numbered 1, 2, 3 ... across segments; the number of a record
 * is its segment's first number plus its index in the segment. The log does
 * not look inside payloads; the catalog does.
 *
 * Writers lock, read what others appended since they last looked, append,
 * unlock, fdatasync (group commit: see log_sync), and only then report
 * success. Readers take no lock: they read up to the last complete
 * record whose checksum holds. A record cut short by a crash (a torn tail)
 * is removed by the next process that holds the lock (at open, or before it
 * appends), and reported. A bad record that the durable mark (log/LOCK)
 * covers is damage, not a torn write, whether more records follow or not:
 * it was fdatasynced and may have been acknowledged. The log refuses to go
 * past it, cuts nothing, and says where it is. Every fdatasync of the log
 * moves the mark (group commit's, an append's own without it, and the old
 * segment's before a new one starts, which is always made).
 *
 * A new segment is made whole in tmp/ and renamed into place, its first
 * record already in it, so the catalog can start a segment with a
 * checkpoint and a reader can start at the newest segment.
 */
#ifndef UDR_LOG_H
#define UDR_LOG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "udr.h"
#include "util/err.h"
#include "util/fs.h"

enum {
    LOG_HEADER_BYTES = 16,
    LOG_RECORD_HEADER_BYTES = 8,
    LOG_MAX_RECORD_BYTES = 64 << 20,
};

typedef struct udrlog {
    char repo[PATH_MAX];       /* the repository directory */
    udr_err *err;
    fs_fault fault;            /* test-only fault injection */
    int lock_fd;               /* log/LOCK, -1 if it could not be opened for writing */
    int readonly;              /* opened read-only: never locks, cuts or appends */
    int locked;
    uint64_t seg;              /* the segment being read */
    int seg_fd;
    uint64_t seg_first_seq;    /* number of its first record */
    uint64_t read_off;         /* bytes of it consumed */
    uint64_t next_seq;         /* number of the next record to read */
    uint64_t cut_bytes;        /* torn-tail bytes removed by this handle */
    int tail_seen;             /* an unlocked read met bytes past a whole record */
    int group_commit;          /* 1 (default; $UDR_GROUP_COMMIT=0: 0): an append is
                                  made durable by log_sync, after the lock */
    int unsynced;              /* an append of this handle awaits log_sync */
    uint64_t unsynced_seg, unsynced_end;
    uint64_t syncs;            /* fdatasyncs this handle made for its appends */
    uint64_t shared_syncs;     /* appends another process's fdatasync covered */
    unsigned long fsync_delay_us;  /* $UDR_SIMULATE_FSYNC_US: benchmarks of slow disks */
} udrlog;

/* Called for each record read; returning non-zero stops the read. */
typedef int (*log_fn)(void *ctx, uint64_t seq, const void *payload, size_t len);

/* Creates log/LOCK and the first segment (at repository init). */
int log_create(const char *repo, udr_err *err);

/* Opens the log for reading from the start of its newest segment. A torn
 * tail is cut (under the lock) and counted in l->cut_bytes. */
int log_open(udrlog *l, const char *repo, udr_err *err);

/* The same; readonly 1: nothing is cut and the handle never takes the lock
 * (log_lock fails with UDR_EPERM), so nothing on disk changes through it. */
int log_open_mode(udrlog *l, const char *repo, int readonly, udr_err *err);

/* Makes an open handle read-only (as log_open_mode's readonly). */
void log_set_readonly(udrlog *l);
void log_close(udrlog *l);

/* Opens the log for reading from segment seg (1: the whole history). Does
 * not cut torn tails (log_open did, for this process). */
int log_open_at(udrlog *l, const char *repo, uint64_t seg, udr_err *err);

/* Delivers every complete record after the read position, moving into newer
 * segments as it reaches the end of one. Under the lock, a torn tail is cut. */
int log_read(udrlog *l, log_fn fn, void *ctx);

/* The writer's lock; blocks until it is free. */
int log_lock(udrlog *l);
void log_unlock(udrlog *l);

/* Appends one record; the lock must be held and the reader caught up
 * (log_read). *seq receives its number. Without group commit the record is
 * durable on return; with it, once log_sync returns (call it after
 * log_unlock, and acknowledge nothing before). */
int log_append(udrlog *l, const void *payload, size_t len, uint64_t *seq);

/* Makes this handle's last append durable: nothing to do if a commit of
 * another process synced past it (the durable mark in log/LOCK says so),
 * else one fdatasync, and the mark moves. Group commit: committers that
 * append while one syncs share its fdatasync. */
int log_sync(udrlog *l);

/* Starts a new segment whose first record is payload (a checkpoint); the
 * lock must be held and the reader caught up. */
int log_start_segment(udrlog *l, const void *payload, size_t len, uint64_t *seq);

/* Checks the whole log without the lock and without changing anything
 * (fsck): every segment from the first is there, numbered on from the one
 * before, with a sound header, and every record's checksum holds. Each
 * fault goes to fn (which may be NULL) with the segment, the record's
 * number and its byte offset in the segment, and a message naming them.
 * Not faults: a torn tail past the durable mark at the end of the newest
 * segment (a write never acknowledged, or one in progress). A record whose
 * length field is damaged hides the rest of its segment (one fault).
 * Returns UDR_OK when the walk completed, whatever it found. */
typedef void (*log_damage_fn)(void *ctx, uint64_t seg, uint64_t seq, uint64_t byte,
                              const char *msg);
typedef struct log_verify_stats {
    uint64_t segments, records, bytes;
    uint64_t damaged;          /* faults reported */
} log_verify_stats;
int log_verify(const char *repo, log_damage_fn fn, void *ctx, log_verify_stats *st,
               udr_err *err);

/* Records seen so far (the number of the last one read). */
static inline uint64_t log_last_seq(const udrlog *l)
{
    return l->next_seq - 1;
}

#endif
