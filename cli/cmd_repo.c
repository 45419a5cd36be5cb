/*
 * cmd_repo — verbs about the repository as a whole: init, fsck, version.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char INIT_HELP[] =
    "usage: udr init [DIR]\n"
    "\n"
    "Creates a repository in DIR (default: --repo, else $UDR_DIR, else ./.udr).\n"
    "DIR may exist if it is empty; its parent must exist.\n";

int cmd_init(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(INIT_HELP, stdout);
        return EXIT_OK;
    }
    if (argc > 2)
        return out_usage("init ", "init takes at most one directory");
    if (argc == 2 && argv[1][0] == '-' && strcmp(argv[1], "-") != 0)
        return out_usage("init ", "unknown option '%s'", argv[1]);
    const char *dir = argc == 2 ? argv[1] : c->repo_dir;
    udr_repo *repo;
    int rc = udr_init(dir, &repo);
    if (rc != UDR_OK) {
        out_repo_error(repo);
        udr_close(repo);
        return EXIT_FAIL;
    }
    if (!c->quiet)
        printf("Initialized empty UDR repository in %s\n", dir);
    udr_close(repo);
    return EXIT_OK;
}

static const char FSCK_HELP[] =
    "usage: udr fsck [--quiet] [HASH...]\n"
    "\n"
    "Verifies every object: that each file under objects/ is named like an\n"
    "object and that its bytes hash to its name. Each HASH given must also be\n"
    "present and intact (a missing one is reported). Prints each problem with\n"
    "the object's hash and file, and exits 3 if there was any.\n";

typedef struct fsck_ctx {
    progress prog;
} fsck_ctx;

static void on_problem(void *ctx, const udr_fsck_problem *p)
{
    fsck_ctx *f = ctx;
    progress_end(&f->prog);
    if (p->object != NULL)
        printf("%s\n", p->message);    /* names the object, and what needs it */
    else
        printf("stray file %s: %s\n", p->path, p->message);
}

static void on_progress(void *ctx, const udr_fsck_stats *s)
{
    fsck_ctx *f = ctx;
    progress_update(&f->prog, "checking objects", s->objects, "objects", s->bytes);
}

int cmd_fsck(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(FSCK_HELP, stdout);
        return EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        udr_hash h;
        if (udr_hash_from_hex(argv[i], &h) != UDR_OK)
            return out_usage("fsck ", "'%s' is not an object hash (64 lower-case hex digits)",
                             argv[i]);
    }
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    fsck_ctx f;
    progress_begin(&f.prog, c);
    udr_fsck_stats st;
    int rc = udr_fsck(repo, on_problem, on_progress, &f, &st);
    progress_end(&f.prog);
    if (rc != UDR_OK) {
        out_repo_error(repo);
        udr_close(repo);
        return EXIT_FAIL;
    }
    uint64_t missing = 0;
    for (int i = 1; i < argc; i++) {
        udr_hash h;
        udr_hash_from_hex(argv[i], &h);
        if (udr_object_exists(repo, &h) == 0) {
            printf("missing object %s: %s\n", argv[i], "no such object in the repository");
            missing++;
        }
    }
    uint64_t problems = st.problems + missing;
    char b[32];
    if (problems)
        printf("checked %llu objects (%s): %llu problem%s\n", (unsigned long long)st.objects,
               out_bytes(st.bytes, b, sizeof b), (unsigned long long)problems,
               problems == 1 ? "" : "s");
    else if (!c->quiet)
        printf("checked %llu objects (%s): no problems\n", (unsigned long long)st.objects,
               out_bytes(st.bytes, b, sizeof b));
    udr_close(repo);
    return problems ? EXIT_PROBLEMS : EXIT_OK;
}

int cmd_recover(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        puts("usage: udr recover [--report]\n\nOpens the repository, which repairs what a "
             "crash left: a log record cut\nshort at the log's end is removed (no commit that "
             "was acknowledged is ever\nthere), and temporary files of writers that died are "
             "deleted. Prints what\nwas found; with --report, also the log's state and the "
             "objects no commit\nrefers to (those of transactions that never committed, left "
             "for garbage\ncollection). Opening a repository for any command does the same "
             "repairs.");
        return EXIT_OK;
    }
    int full = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--report") == 0)
            full = 1;
        else
            return out_usage("recover ", "unexpected argument '%s'", argv[i]);
    }
    udr_repo *repo;
    if (udr_open(c->repo_dir, &repo) != UDR_OK) {
        out_repo_error(repo);
        udr_close(repo);
        return EXIT_FAIL;
    }
    udr_recovery_report r;
    if (udr_recovery_report_get(repo, &r) != UDR_OK) {
        int st = out_repo_error(repo);
        udr_close(repo);
        return st;
    }
    char b[32];
    if (r.torn_log_bytes > 0)
        printf("torn log tail: %llu bytes cut (a record a crash cut short; it was never "
               "acknowledged)\n",
               (unsigned long long)r.torn_log_bytes);
    else
        printf("torn log tail: none\n");
    printf("temporary files of dead writers: %d removed\n", r.stale_tmp_files);
    if (full) {
        printf("log: %llu records, %llu commits", (unsigned long long)r.log_records,
               (unsigned long long)r.commits);
        if (r.last_commit[0])
            printf(", the last %.12s (record %llu)", r.last_commit,
                   (unsigned long long)r.last_commit_seq);
        printf("\nunreferenced objects: %llu (%s), left for garbage collection\n",
               (unsigned long long)r.unreferenced_objects,
               out_bytes(r.unreferenced_bytes, b, sizeof b));
    }
    udr_close(repo);
    return EXIT_OK;
}

int cmd_version(cli *c, int argc, char **argv)
{
    (void)c;
    if (out_wants_help(argc, argv)) {
        puts("usage: udr version\n\nPrints the versions of udr and of the engines it embeds.");
        return EXIT_OK;
    }
    printf("udr %s (DuckDB %s, BLAKE3 %s)\n", udr_version(), udr_duckdb_version(),
           udr_blake3_version());
    return EXIT_OK;
}
