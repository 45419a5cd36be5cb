/*
 * bench_hash — BLAKE3 throughput of UDR on a file, the way the store hashes
 * files (udr_hash_fd: mapped, on all cores, in bounded memory). Prints
 *   "<seconds> <bytes> <hex>"
 * for the best of RUNS passes (the file is expected in the page cache, as it
 * is for b3sum in the same benchmark).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "udr.h"

enum { RUNS = 7 };

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
    double best = 1e9;
    udr_hash h;
    struct stat st;
    for (int run = 0; run < RUNS; run++) {
        int fd = open(argv[1], O_RDONLY);
        if (fd < 0 || fstat(fd, &st) != 0) {
            perror(argv[1]);
            return 1;
        }
        double t0 = now_s();
        if (udr_hash_fd(fd, &h) != UDR_OK) {
            perror(argv[1]);
            return 1;
        }
        double t = now_s() - t0;
        close(fd);
        if (t < best)
            best = t;
    }
    char hex[UDR_HASH_HEX + 1];
    udr_hash_to_hex(&h, hex);
    printf("%.6f %llu %s\n", best, (unsigned long long)st.st_size, hex);
    return 0;
}
