/*
 * cmd_gc — `udr gc`: remove the objects nothing in the log refers to; and
 * `udr expire`: let old table versions go, so that gc frees their bytes.
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
    "killed half way, and of table versions 'udr expire' let go. Every commit,\n"
    "and every table version kept, with its chunks, delete files and patches,\n"
    "stays, so every version that was not expired stays queryable.\n"
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

/* ---- expire -------------------------------------------------------------- */

static const char EXPIRE_HELP[] =
    "usage: udr expire (--keep-last N | --older-than DURATION) [--table T]\n"
    "                  [--dry-run] [--verbose]\n"
    "\n"
    "Lets old table versions go, so that 'udr gc' frees the bytes only they\n"
    "use. The log records what expired, and by which rule: 'udr log TABLE'\n"
    "still lists an expired version, marked (expired TIME); querying it says\n"
    "it expired.\n"
    "\n"
    "Never expired: a table's newest version; what a branch head or a tag\n"
    "has; what the merge base of two branches has (the next merge needs it);\n"
    "what a subscription has still to read. A branch or tag cannot be made\n"
    "later at a commit with an expired version.\n"
    "\n"
    "  --keep-last N          keep each table's N newest versions\n"
    "  --older-than DURATION  let go versions committed longer ago than this:\n"
    "                         30s, 10m, 2h, 7d (with --keep-last: both must\n"
    "                         agree to let a version go)\n"
    "  --table T              only table T\n"
    "  --dry-run              say what would expire; record nothing\n"
    "  --verbose              list every version considered, and why it is kept\n";

static const char *const VERDICT[] = {
    [UDR_EXPIRE_EXPIRED] = "expire",
    [UDR_EXPIRE_KEPT_RULE] = "kept by the rule",
    [UDR_EXPIRE_KEPT_NEWEST] = "kept: the table's newest version",
    [UDR_EXPIRE_KEPT_BRANCH] = "kept: head of branch",
    [UDR_EXPIRE_KEPT_TAG] = "kept: tag",
    [UDR_EXPIRE_KEPT_MERGE_BASE] = "kept: merge base of",
    [UDR_EXPIRE_KEPT_SUBSCRIPTION] = "kept: subscription",
};

typedef struct expire_ctx {
    int list;                         /* every version; else only what expires */
    int dry_run;
} expire_ctx;

static void on_version(void *ctx, const char *table, uint64_t version,
                       udr_expire_verdict verdict, const char *holder)
{
    const expire_ctx *e = ctx;
    if (!e->list && verdict != UDR_EXPIRE_EXPIRED)
        return;
    const char *what = verdict == UDR_EXPIRE_EXPIRED && e->dry_run ? "would expire"
                                                                     : VERDICT[verdict];
    printf("%s@%llu\t%s%s%s\n", table, (unsigned long long)version, what,
           holder[0] ? " " : "", holder);
}

int cmd_expire(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(EXPIRE_HELP, stdout);
        return EXIT_OK;
    }
    expire_ctx e = {0, 0};
    udr_expire_opts o = {-1, 0, NULL, 0, on_version, &e};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            o.dry_run = e.dry_run = 1;
        } else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            e.list = 1;
        } else if (strcmp(argv[i], "--keep-last") == 0 && i + 1 < argc) {
            char *end;
            const char *v = argv[++i];
            unsigned long long n = strtoull(v, &end, 10);
            if (v[0] < '0' || v[0] > '9' || *end != '\0' || n == 0)
                return out_usage("expire ", "--keep-last takes a count of 1 or more, not '%s'",
                                 v);
            o.keep_last = n;
        } else if (strcmp(argv[i], "--older-than") == 0 && i + 1 < argc) {
            if ((o.older_than_s = duration_s(argv[++i])) < 0)
                return out_usage("expire ", "--older-than takes a duration like 30s, 10m, 2h "
                                 "or 7d, not '%s'", argv[i]);
        } else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
            o.table = argv[++i];
        } else {
            return out_usage("expire ", "unknown argument '%s'", argv[i]);
        }
    }
    if (o.keep_last == 0 && o.older_than_s < 0)
        return out_usage("expire ", "say which versions to let go: --keep-last N or "
                         "--older-than DURATION");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    if (c->quiet && !o.dry_run && !e.list)
        o.each = NULL;
    udr_expire_report r;
    int rc = udr_expire(repo, &o, &r);
    if (rc != UDR_OK) {
        out_repo_error(repo);
        udr_close(repo);
        return EXIT_FAIL;
    }
    if (!c->quiet || o.dry_run) {
        if (o.dry_run)
            printf("would expire %llu of %llu versions", (unsigned long long)r.expired,
                   (unsigned long long)r.considered);
        else if (r.seq != 0)
            printf("expired %llu of %llu versions (log record %llu)",
                   (unsigned long long)r.expired, (unsigned long long)r.considered,
                   (unsigned long long)r.seq);
        else
            printf("nothing to expire among %llu versions", (unsigned long long)r.considered);
        printf("; kept %llu by the rule, %llu needed by a head, tag, merge base or "
               "subscription",
               (unsigned long long)r.kept_by_rule, (unsigned long long)r.kept_held);
        if (r.expired_before)
            printf("; %llu expired before", (unsigned long long)r.expired_before);
        putchar('\n');
        if (r.expired > 0 && !o.dry_run)
            printf("run 'udr gc' to free the bytes only they used\n");
    }
    udr_close(repo);
    return EXIT_OK;
}
