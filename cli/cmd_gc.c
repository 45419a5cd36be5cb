/*
 * cmd_gc — `udr gc`: remove the objects nothing in the log refers to.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char GC_HELP[] =
    "usage: udr gc [--dry-run] [--grace DURATION] [--quiet]\n"
    "\n"
    "Removes the objects nothing in the log refers to: those of writes that\n"
    "failed or were rolled back, of transactions never committed, of commands\n"
    "killed half way. Every commit, table version, chunk and delete file the\n"
    "log names is kept, so every version of every table stays queryable.\n"
    "\n"
    "Safe while other processes write: objects younger than the grace period\n"
    "are kept (a writer's objects are young until it commits), and an old\n"
    "object a writer reuses is made young by that write.\n"
    "\n"
    "  --dry-run          count what would be removed; remove nothing\n"
    "  --grace DURATION   keep unreferenced objects younger than this: 30s, 10m,\n"
    "                     2h, 1d (default 1h); 0 takes them all, only when\n"
    "                     nothing else writes\n";

/* "90", "90s", "10m", "2h", "1d" as seconds; -1 if malformed. */
static int64_t duration_s(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0)
        return -1;
    int64_t unit = 1;
    if (*end == 'm')
        unit = 60, end++;
    else if (*end == 'h')
        unit = 3600, end++;
    else if (*end == 'd')
        unit = 86400, end++;
    else if (*end == 's')
        end++;
    return *end == '\0' && v <= INT64_MAX / unit ? (int64_t)v * unit : -1;
}

typedef struct gc_ctx {
    progress prog;
} gc_ctx;

static void on_progress(void *ctx, const udr_gc_report *r)
{
    gc_ctx *g = ctx;
    progress_update(&g->prog, "gc: looking at objects", r->objects, "objects", r->bytes);
}

int cmd_gc(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(GC_HELP, stdout);
        return EXIT_OK;
    }
    gc_ctx g;
    udr_gc_opts o = {0, -1, on_progress, &g};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            o.dry_run = 1;
        } else if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc) {
            if ((o.grace_s = duration_s(argv[++i])) < 0)
                return out_usage("gc ", "--grace takes a duration like 30s, 10m, 2h or 1d, "
                                 "not '%s'", argv[i]);
        } else {
            return out_usage("gc ", "unknown argument '%s'", argv[i]);
        }
    }
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    progress_begin(&g.prog, c);
    udr_gc_report r;
    int rc = udr_gc(repo, &o, &r);
    progress_end(&g.prog);
    if (rc != UDR_OK) {
        out_repo_error(repo);
        udr_close(repo);
        return EXIT_FAIL;
    }
    char b1[32], b2[32], b3[32];
    if (!c->quiet || o.dry_run) {
        printf("%llu objects (%s): %llu referenced, %llu unreferenced (%s), "
               "%llu unreferenced but younger than the grace period (%s)\n",
               (unsigned long long)r.objects, out_bytes(r.bytes, b1, sizeof b1),
               (unsigned long long)r.referenced, (unsigned long long)r.unreferenced,
               out_bytes(r.unreferenced_bytes, b2, sizeof b2), (unsigned long long)r.young,
               out_bytes(r.young_bytes, b3, sizeof b3));
        printf("%s %llu objects (%s)", o.dry_run ? "would remove" : "removed",
               (unsigned long long)r.removed, out_bytes(r.removed_bytes, b1, sizeof b1));
        if (r.restored)
            printf("; %llu put back (a concurrent write needed them)",
                   (unsigned long long)r.restored);
        putchar('\n');
    }
    udr_close(repo);
    return EXIT_OK;
}
