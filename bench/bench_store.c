/*
 * bench_store — put and get of one file through the object store's C API,
 * with the process's peak resident memory. Usage:
 *   bench_store put REPO FILE   -> "<seconds> <peak_rss_kib> <hex>"
 *   bench_store get REPO HEX OUT -> "<seconds> <peak_rss_kib>"
 * REPO is created by put if absent. One pass each: the caller repeats.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "udr.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
    udr_repo *repo;
    if (argc == 4 && argv[1][0] == 'p') {
        if (udr_open(argv[2], &repo) != UDR_OK) {
            udr_close(repo);
            if (udr_init(argv[2], &repo) != UDR_OK) {
                fprintf(stderr, "%s\n", udr_errmsg(repo));
                return 1;
            }
        }
        udr_hash h;
        double t0 = now_s();
        if (udr_object_put_file(repo, argv[3], &h) != UDR_OK) {
            fprintf(stderr, "%s\n", udr_errmsg(repo));
            return 1;
        }
        double t = now_s() - t0;
        char hex[UDR_HASH_HEX + 1];
        udr_hash_to_hex(&h, hex);
        printf("%.6f %ld %s\n", t, peak_rss_kib(), hex);
    } else if (argc == 5 && argv[1][0] == 'g') {
        udr_hash h;
        if (udr_hash_from_hex(argv[3], &h) != UDR_OK || udr_open(argv[2], &repo) != UDR_OK) {
            fprintf(stderr, "bad hash or repository\n");
            return 1;
        }
        int fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            perror(argv[4]);
            return 1;
        }
        double t0 = now_s();
        if (udr_object_write_to_fd(repo, &h, fd) != UDR_OK) {
            fprintf(stderr, "%s\n", udr_errmsg(repo));
            return 1;
        }
        close(fd);
        double t = now_s() - t0;
        printf("%.6f %ld\n", t, peak_rss_kib());
    } else {
        fprintf(stderr, "usage: bench_store put REPO FILE | get REPO HEX OUT\n");
        return 2;
    }
    udr_close(repo);
    return 0;
}
