/*
 * harness — see harness.h.
 */
#include "harness.h"

#include <errno.h>
#include <dirent.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static jmp_buf abort_jmp;
static int failures_in_test;
static char dir_buf[PATH_MAX];
static char bindir[PATH_MAX];
static const char *current_test;

void harness_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "    %s:%d: %s: ", file, line, current_test);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    va_end(ap);
    failures_in_test++;
}

void harness_abort_test(void)
{
    longjmp(abort_jmp, 1);
}

const char *t_dir(void)
{
    if (dir_buf[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(dir_buf, sizeof dir_buf, "%s/udr-test-XXXXXX", base ? base : "/tmp");
        if (mkdtemp(dir_buf) == NULL) {
            fprintf(stdout, "cannot create a temporary directory: %s\n", strerror(errno));
            exit(2);
        }
    }
    return dir_buf;
}

const char *t_path(const char *name)
{
    static char bufs[4][PATH_MAX];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, PATH_MAX, "%s/%s", t_dir(), name);
    return b;
}

void t_fill(void *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        p[i] = (unsigned char)(x >> (8 * (i % 8)));
    }
}

void t_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    REQUIRE(len == 0 || fwrite(data, 1, len, f) == len);
    REQUIRE(fclose(f) == 0);
}

const char *t_run(const char *cmd, int *status)
{
    static char line[4096];
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    char *got = fgets(line, sizeof line, p);
    char rest[4096];
    while (fgets(rest, sizeof rest, p) != NULL) {
    }
    int st = pclose(p);
    if (status != NULL)
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (got == NULL)
        return NULL;
    line[strcspn(line, "\n")] = '\0';
    return line;
}

const char *t_bindir(void)
{
    return bindir;
}

int t_count_files(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(dp);
    return n;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_dir(void)
{
    if (dir_buf[0] != '\0') {
        nftw(dir_buf, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        dir_buf[0] = '\0';
    }
}

int harness_main(int argc, char **argv, const char *suite, const test_case *cases, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    self[len > 0 ? len : 0] = '\0';
    snprintf(bindir, sizeof bindir, "%s", dirname(self));
    setvbuf(stdout, NULL, _IOLBF, 0);

    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        current_test = cases[i].name;
        failures_in_test = 0;
        if (setjmp(abort_jmp) == 0)
            cases[i].fn();
        if (failures_in_test == 0) {
            printf("ok   %s\n", cases[i].name);
            passed++;
            remove_dir();
        } else {
            if (dir_buf[0])
                printf("FAIL %s (its files are kept in %s)\n", cases[i].name, dir_buf);
            else
                printf("FAIL %s\n", cases[i].name);
            dir_buf[0] = '\0';
            failed++;
        }
    }
    printf("%s: %d passed, %d failed\n", suite, passed, failed);
    return failed ? 1 : 0;
}
