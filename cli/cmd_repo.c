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
    "usage: udr fsck [--deep] [HASH...]\n"
    "\n"
    "Checks the whole repository and prints every problem it finds, each naming\n"
    "what it concerns; exits 3 if there was any, 0 if none, 1 if the check could\n"
    "not be made. It only reads: it opens the repository read-only, so it never\n"
    "cuts, repairs or rewrites anything (not even a torn log tail, which the next\n"
    "command that writes removes).\n"
    "\n"
    "  the log      every segment is there and numbered on from the one before,\n"
    "               and every record's checksum holds, the last one included\n"
    "               once it was made durable; a problem names the segment file,\n"
    "               the record's number and its byte offset\n"
    "  references   every commit, branch head, tag and table version in the log,\n"
    "               and every chunk, delete file and patch they name, is there\n"
    "               and decodes (a missing or damaged one is named with the table\n"
    "               and version, branch, tag or log record that needs it); no\n"
    "               subscription's cursor is past the log's end\n"
    "  objects      every file under objects/ is named like an object and hashes\n"
    "               to its name (a damaged one is named with what refers to it, or\n"
    "               as referred to by nothing); every chunk, delete file and\n"
    "               patch is a Parquet file (PAR1 at both ends, a footer length\n"
    "               that fits)\n"
    "  --deep       also reads every chunk, delete file and patch in full through\n"
    "               DuckDB, every column of every row, and checks its row count\n"
    "               (and a patch's columns) against its table version's (slow: it\n"
    "               reads all the data)\n"
    "\n"
    "A damaged log does not stop fsck: it reports the damage, then checks what\n"
    "the log names up to the damaged record, and every object. (Other commands\n"
    "refuse to open such a repository.) Each HASH given must also be present\n"
    "and intact (a missing one is reported). A progress line (objects, chunks,\n"
    "bytes, rate) shows on a terminal unless --quiet.\n";

typedef struct fsck_ctx {
    progress prog;
    const cli *c;
    int phase;
} fsck_ctx;

static void on_problem(void *ctx, const udr_fsck_problem *p)
{
    fsck_ctx *f = ctx;
    progress_end(&f->prog);
    if (strcmp(p->what, "stray") == 0)
        printf("stray file %s: %s\n", p->path, p->message);
    else
        printf("%s\n", p->message);    /* names the object, and what needs it */
}

static void on_progress(void *ctx, const udr_fsck_stats *s)
{
    fsck_ctx *f = ctx;
    if (s->phase != f->phase) {
        /* A new count and rate for each phase. */
        progress_end(&f->prog);
        progress_begin(&f->prog, f->c);
        f->phase = s->phase;
    }
    if (s->phase == UDR_FSCK_PHASE_DEEP)
        progress_update(&f->prog, "reading chunks", s->chunks_read, "chunks",
                        s->chunk_bytes_read);
    else if (s->phase == UDR_FSCK_PHASE_OBJECTS)
        progress_update(&f->prog, "checking objects", s->objects, "objects", s->bytes);
}

int cmd_fsck(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(FSCK_HELP, stdout);
        return EXIT_OK;
    }
    int deep = 0, nhashes = 0;
    for (int i = 1; i < argc; i++) {
        udr_hash h;
        if (strcmp(argv[i], "--deep") == 0) {
            deep = 1;
            argv[i] = NULL;
        } else if (argv[i][0] == '-') {
            return out_usage("fsck ", "unknown option '%s'", argv[i]);
        } else if (udr_hash_from_hex(argv[i], &h) != UDR_OK) {
            return out_usage("fsck ", "'%s' is not an object hash (64 lower-case hex digits)",
                             argv[i]);
        } else {
            nhashes++;
        }
    }
    udr_repo *repo;
    int rc = udr_open_v2(c->repo_dir, UDR_OPEN_READONLY | UDR_OPEN_SALVAGE, &repo);
    if (rc != UDR_OK) {
        /* Damage that stops even a salvage open (the newest log segment's
         * header) is a problem found, not a failure to check. */
        if (rc == UDR_ECORRUPT && repo != NULL) {
            printf("%s\n", udr_errmsg(repo));
            printf("the repository cannot be opened: nothing else was checked\n");
            udr_close(repo);
            return EXIT_PROBLEMS;
        }
        out_repo_error(repo);
        udr_close(repo);
        return EXIT_FAIL;
    }
    fsck_ctx f;
    f.c = c;
    f.phase = -1;
    progress_begin(&f.prog, c);
    udr_fsck_stats st;
    udr_fsck_opts o = {deep ? UDR_FSCK_DEEP : 0, on_problem, on_progress, &f};
    rc = udr_fsck_v2(repo, &o, &st);
    progress_end(&f.prog);
    if (rc != UDR_OK) {
        out_repo_error(repo);
        udr_close(repo);
        return EXIT_FAIL;
    }
    uint64_t missing = 0;
    for (int i = 1; i < argc && nhashes > 0; i++) {
        udr_hash h;
        if (argv[i] == NULL || udr_hash_from_hex(argv[i], &h) != UDR_OK)
            continue;
        if (udr_object_exists(repo, &h) == 0) {
            printf("missing object %s: %s\n", argv[i], "no such object in the repository");
            missing++;
        }
    }
    uint64_t problems = st.problems + missing;
    char b[32], d[32], summary[256];
    int n = snprintf(summary, sizeof summary, "checked %llu log records, %llu objects (%s)",
                     (unsigned long long)st.log_records, (unsigned long long)st.objects,
                     out_bytes(st.bytes, b, sizeof b));
    if (deep && n > 0 && (size_t)n < sizeof summary)
        snprintf(summary + n, sizeof summary - (size_t)n, ", read %llu chunks (%s) in full",
                 (unsigned long long)st.chunks_read, out_bytes(st.chunk_bytes_read, d, sizeof d));
    if (problems)
        printf("%s: %llu problem%s\n", summary, (unsigned long long)problems,
               problems == 1 ? "" : "s");
    else if (!c->quiet)
        printf("%s: no problems\n", summary);
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
