/*
 * bench_hash — BLAKE3 throughput of UDR's hash layer on a file, the way the
 * store reads it (read() into a 1 MiB buffer, hash). Prints one line:
 *   "<seconds> <bytes> <hex>"
 * for the best of RUNS passes (the file is expected in the page cache, as it
 * is for b3sum in the same benchmark).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"

enum { RUNS = 5, BUF_BYTES = 1 << 20 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_hash FILE\n");
        return 2;
    }
    char *buf = malloc(BUF_BYTES);
    if (buf == NULL)
        return 1;
    double best = 1e9;
    udr_hash h;
    uint64_t bytes = 0;
    for (int run = 0; run < RUNS; run++) {
        int fd = open(argv[1], O_RDONLY);
        if (fd < 0) {
            perror(argv[1]);
            return 1;
        }
        double t0 = now_s();
        hasher hs;
        hash_init(&hs);
        ssize_t n;
        while ((n = read(fd, buf, BUF_BYTES)) > 0)
            hash_update(&hs, buf, (size_t)n);
        hash_final(&hs, &h);
        double t = now_s() - t0;
        close(fd);
        bytes = hs.bytes;
        if (t < best)
            best = t;
    }
    char hex[UDR_HASH_HEX + 1];
    hash_to_hex(&h, hex);
    printf("%.6f %llu %s\n", best, (unsigned long long)bytes, hex);
    free(buf);
    return 0;
}
