/*
 * fuzz_log — the catalog log's record reader (src/log.c) on arbitrary bytes.
 *
 * The input is written as segment 1 of a scratch repository's log (header
 * included, so damaged headers are fuzzed too), then read as a reader does:
 * log_open_at(1) and log_read to the end, without the writers' lock (so
 * nothing is cut and the file stays as written). Every delivered payload is
 * touched byte by byte, so a length that points past what was read is
 * caught by ASan. Invariants: record numbers follow one another from the
 * header's first number, no payload exceeds LOG_MAX_RECORD_BYTES, and the
 * reader never consumes more bytes than the segment holds.
 *
 * The scratch repository lives in /dev/shm when there is one (the target
 * writes a file per run) and is removed at exit.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char repo[PATH_MAX];
static char seg_file[PATH_MAX + 32];

static void cleanup(void)
{
    char path[PATH_MAX + 32];
    unlink(seg_file);
    snprintf(path, sizeof path, "%s/log/LOCK", repo);
    unlink(path);
    snprintf(path, sizeof path, "%s/log", repo);
    rmdir(path);
    snprintf(path, sizeof path, "%s/tmp", repo);
    rmdir(path);
    rmdir(repo);
}

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(repo, sizeof repo, "%s/udr-fuzz-log-XXXXXX", base);
    if (mkdtemp(repo) == NULL)
        abort();
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/log", repo);
    if (mkdir(dir, 0755) != 0)
        abort();
    snprintf(dir, sizeof dir, "%s/tmp", repo);    /* where log_create makes the segment */
    if (mkdir(dir, 0755) != 0)
        abort();
    udr_err err = {0};
    if (log_create(repo, &err) != UDR_OK) {
        fprintf(stderr, "fuzz_log: %s\n", err.msg);
        abort();
    }
    snprintf(seg_file, sizeof seg_file, "%s/log/%016llx.seg", repo, 1ULL);
    atexit(cleanup);
}

typedef struct seen {
    uint64_t next_seq;
    int first;
    size_t payload_bytes;
    unsigned sum;
} seen;

static int on_record(void *ctx, uint64_t seq, const void *payload, size_t len)
{
    seen *s = ctx;
    if (!s->first && seq != s->next_seq) {
        fprintf(stderr, "fuzz_log: record %llu after %llu\n", (unsigned long long)seq,
                (unsigned long long)s->next_seq - 1);
        abort();
    }
    if (len > LOG_MAX_RECORD_BYTES)
        abort();
    const unsigned char *p = payload;
    for (size_t i = 0; i < len; i++)
        s->sum += p[i];
    s->payload_bytes += len;
    s->first = 0;
    s->next_seq = seq + 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (repo[0] == '\0')
        setup();
    FILE *f = fopen(seg_file, "wb");
    if (f == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);

    udr_err err = {0};
    udrlog l;
    if (log_open_at(&l, repo, 1, &err) == UDR_OK) {
        seen s = {.first = 1};
        (void)log_read(&l, on_record, &s);
        /* Each record costs its header and its payload. */
        if (l.read_off > size ||
            s.payload_bytes > size)
            abort();
        if (!s.first && log_last_seq(&l) != s.next_seq - 1)
            abort();
    }
    log_close(&l);
    return 0;
}
