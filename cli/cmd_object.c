/*
 * cmd_object — `udr object …`: the object store's plumbing, as git's
 * hash-object / cat-file are to git.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char OBJECT_HELP[] =
    "usage: udr object put FILE|-...\n"
    "       udr object get HASH [-o FILE]\n"
    "       udr object verify [HASH...]\n"
    "       udr object hash FILE|-...\n"
    "       udr object list\n"
    "       udr object delete HASH...\n"
    "\n"
    "put     stores each FILE (or stdin for -) and prints its BLAKE3 hash; bytes\n"
    "        already stored are not written again. Files of any size are streamed.\n"
    "get     writes the object to stdout, or to FILE (created only if the object\n"
    "        verifies), checking its hash on the way.\n"
    "verify  checks objects against their names, all of them if no HASH is given;\n"
    "        prints 'HASH ok' or the problem, and exits 3 if any is bad.\n"
    "hash    prints the BLAKE3 hash of each FILE without storing it (as b3sum).\n"
    "list    prints every object's hash and size in bytes, tab-separated.\n"
    "delete  removes objects; anything still referring to them breaks.\n";

static int parse_hash(const char *s, udr_hash *h)
{
    if (udr_hash_from_hex(s, h) != UDR_OK) {
        out_usage("object ", "'%s' is not an object hash (64 lower-case hex digits)", s);
        return -1;
    }
    return 0;
}

static int object_put(cli *c, int argc, char **argv)
{
    if (argc < 2)
        return out_usage("object ", "object put needs a FILE or - for stdin");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int status = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        udr_hash h;
        int rc = strcmp(argv[i], "-") == 0 ? udr_object_put_fd(repo, STDIN_FILENO, &h)
                                           : udr_object_put_file(repo, argv[i], &h);
        if (rc != UDR_OK) {
            status = out_repo_error(repo);
            continue;
        }
        char hex[UDR_HASH_HEX + 1];
        udr_hash_to_hex(&h, hex);
        puts(hex);
    }
    udr_close(repo);
    return status;
}

/* Writes to a temporary file beside dest and renames it into place only if
 * the object verified, so a corrupt object never leaves a plausible file. */
static int get_to_file(udr_repo *repo, const udr_hash *h, const char *dest)
{
    size_t n = strlen(dest) + 32;
    char *tmp = malloc(n);
    if (tmp == NULL)
        return out_error("out of memory");
    snprintf(tmp, n, "%s.udr-tmp.%ld", dest, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return out_error("cannot create %s: %s", dest, strerror(e));
    }
    int rc = udr_object_write_to_fd(repo, h, fd);
    int cerr = close(fd);
    if (rc == UDR_OK && cerr != 0)
        rc = out_error("cannot write %s: %s", dest, strerror(errno));
    else if (rc != UDR_OK)
        out_repo_error(repo);
    else if (rename(tmp, dest) != 0)
        rc = out_error("cannot create %s: %s", dest, strerror(errno));
    if (rc != UDR_OK)
        unlink(tmp);
    free(tmp);
    return rc == UDR_OK ? EXIT_OK : EXIT_FAIL;
}

static int object_get(cli *c, int argc, char **argv)
{
    const char *hash = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            if (i + 1 >= argc)
                return out_usage("object ", "%s needs a file name", argv[i]);
            out = argv[++i];
        } else if (argv[i][0] == '-') {
            return out_usage("object ", "unknown option '%s'", argv[i]);
        } else if (hash == NULL) {
            hash = argv[i];
        } else {
            return out_usage("object ", "object get takes one HASH");
        }
    }
    if (hash == NULL)
        return out_usage("object ", "object get needs a HASH");
    udr_hash h;
    if (parse_hash(hash, &h) != 0)
        return EXIT_USAGE;
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int status;
    if (out != NULL && strcmp(out, "-") != 0) {
        status = get_to_file(repo, &h, out);
    } else {
        status = udr_object_write_to_fd(repo, &h, STDOUT_FILENO) == UDR_OK ? EXIT_OK
                                                                           : out_repo_error(repo);
    }
    udr_close(repo);
    return status;
}

typedef struct verify_ctx {
    udr_repo *repo;
    int bad;
    uint64_t count, bytes;
    progress prog;
} verify_ctx;

static void verify_one(verify_ctx *v, const udr_hash *h)
{
    char hex[UDR_HASH_HEX + 1];
    udr_hash_to_hex(h, hex);
    if (udr_object_verify(v->repo, h) == UDR_OK) {
        printf("%s ok\n", hex);
    } else {
        progress_end(&v->prog);
        printf("%s BAD: %s\n", hex, udr_errmsg(v->repo));
        v->bad++;
    }
}

static int verify_each(void *ctx, const udr_hash *h, uint64_t size_bytes)
{
    verify_ctx *v = ctx;
    verify_one(v, h);
    v->count++;
    v->bytes += size_bytes;
    progress_update(&v->prog, "verifying", v->count, "objects", v->bytes);
    return 0;
}

static int object_verify(cli *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        udr_hash h;
        if (parse_hash(argv[i], &h) != 0)
            return EXIT_USAGE;
    }
    verify_ctx v = {cli_open_repo(c), 0, 0, 0, {0, 0, 0, 0}};
    if (v.repo == NULL)
        return EXIT_FAIL;
    progress_begin(&v.prog, c);
    int status = EXIT_OK;
    if (argc == 1) {
        if (udr_object_foreach(v.repo, verify_each, &v) != UDR_OK)
            status = out_repo_error(v.repo);
    }
    for (int i = 1; i < argc; i++) {
        udr_hash h;
        udr_hash_from_hex(argv[i], &h);
        verify_one(&v, &h);
    }
    progress_end(&v.prog);
    udr_close(v.repo);
    if (status == EXIT_OK && v.bad)
        status = EXIT_PROBLEMS;
    return status;
}

static int object_hash(cli *c, int argc, char **argv)
{
    (void)c;
    if (argc < 2)
        return out_usage("object ", "object hash needs a FILE or - for stdin");
    int status = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        int fd = strcmp(argv[i], "-") == 0 ? STDIN_FILENO : open(argv[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            status = out_error("cannot open %s: %s", argv[i], strerror(errno));
            continue;
        }
        udr_hash h;
        int rc = udr_hash_fd(fd, &h);
        int e = errno;
        if (fd != STDIN_FILENO)
            close(fd);
        if (rc != UDR_OK) {
            status = out_error("cannot read %s: %s", argv[i], strerror(e));
            continue;
        }
        char hex[UDR_HASH_HEX + 1];
        udr_hash_to_hex(&h, hex);
        printf("%s  %s\n", hex, argv[i]);
    }
    return status;
}

static int list_one(void *ctx, const udr_hash *h, uint64_t size_bytes)
{
    (void)ctx;
    char hex[UDR_HASH_HEX + 1];
    udr_hash_to_hex(h, hex);
    printf("%s\t%llu\n", hex, (unsigned long long)size_bytes);
    return 0;
}

static int object_list(cli *c, int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return out_usage("object ", "object list takes no arguments");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int status = udr_object_foreach(repo, list_one, NULL) == UDR_OK ? EXIT_OK
                                                                    : out_repo_error(repo);
    udr_close(repo);
    return status;
}

static int object_delete(cli *c, int argc, char **argv)
{
    if (argc < 2)
        return out_usage("object ", "object delete needs at least one HASH");
    for (int i = 1; i < argc; i++) {
        udr_hash h;
        if (parse_hash(argv[i], &h) != 0)
            return EXIT_USAGE;
    }
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int status = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        udr_hash h;
        udr_hash_from_hex(argv[i], &h);
        if (udr_object_delete(repo, &h) != UDR_OK)
            status = out_repo_error(repo);
    }
    udr_close(repo);
    return status;
}

int cmd_object(cli *c, int argc, char **argv)
{
    if (argc < 2 || out_wants_help(argc, argv)) {
        fputs(OBJECT_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    static const struct {
        const char *name;
        verb_fn fn;
    } subs[] = {
        {"put", object_put},       {"get", object_get},   {"verify", object_verify},
        {"hash", object_hash},     {"list", object_list}, {"delete", object_delete},
    };
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(c, argc - 1, argv + 1);
    return out_usage("object ", "'%s' is not an object command", argv[1]);
}
