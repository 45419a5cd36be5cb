/*
 * udr — the command line tool: global options and the table of verbs.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char USAGE[] =
    "usage: udr [--repo DIR] [--branch NAME] [--quiet] VERB [ARGS...]\n"
    "\n"
    "UDR, the Unified Data Runtime: versioned tables in content-addressed Parquet\n"
    "chunks. The repository is --repo DIR, else $UDR_DIR, else ./.udr.\n"
    "\n"
    "Repository\n"
    "  init [DIR]                 create a repository\n"
    "  fsck [HASH...]             verify every object (and that each HASH is present)\n"
    "  gc [--dry-run] [--grace D] remove objects nothing refers to\n"
    "  expire --keep-last N | --older-than D  let old table versions go (then gc)\n"
    "  recover [--report]         what opening after a crash repaired, and what is left\n"
    "  stats [--table T]          logical against physical bytes, dedup, objects, per table\n"
    "\n"
    "Tables\n"
    "  import TABLE FILE [--key COLS] [--append]   a CSV, Parquet or JSON file as a new version\n"
    "  sql [SQL]                  run SQL (no argument: an interactive shell)\n"
    "  tables                     the tables and their current versions\n"
    "  log TABLE                  a table's versions: time, rows, bytes, new bytes, message\n"
    "  show TABLE[@REF]           schema, key and chunks of a version\n"
    "  diff TABLE FROM TO         rows added, removed and modified between two versions\n"
    "  export TABLE[@REF] FILE    write a version as Parquet or CSV\n"
    "  drop TABLE                 remove a table (its versions stay readable)\n"
    "  compact TABLE...           fold small changes' deltas back into clean chunks\n"
    "\n"
    "Branches and history\n"
    "  branch [create|delete] ... list, create or delete branches\n"
    "  checkout BRANCH            make BRANCH the current branch\n"
    "  tag [NAME [REF]]           list tags, or tag a commit\n"
    "  log [REF] [--graph]        the commits of a branch, newest first\n"
    "  show COMMIT                a commit: parents, author, message, tables changed\n"
    "  diff REF_A REF_B [--rows]  tables added, removed, modified between two commits\n"
    "  merge SOURCE [--into B]    merge a branch: fast-forward or three-way, by rows\n"
    "  revert COMMIT              a new commit undoing one\n"
    "  reset REF [--force]        move the current branch\n"
    "\n"
    "Change feed\n"
    "  changes TABLE [--from REF] [--to REF]   what each commit did to TABLE, as rows\n"
    "  subscribe create NAME --tables T,...    a durable cursor over tables' changes\n"
    "  subscribe poll NAME [--ack] [--follow]  the changes after its cursor\n"
    "  subscribe ack NAME SEQ                  move its cursor past what was processed\n"
    "  subscribe list | drop NAME              the subscriptions; drop one\n"
    "\n"
    "Objects (plumbing)\n"
    "  object put FILE|-...       store files or stdin, print their hashes\n"
    "  object get HASH [-o FILE]  write an object to stdout or FILE, verified\n"
    "  object verify [HASH...]    check objects against their names (all if none)\n"
    "  object hash FILE|-...      print BLAKE3 hashes without storing\n"
    "  object list                list objects: hash and size\n"
    "  object delete HASH...      remove objects (garbage collection does this)\n"
    "\n"
    "Serving\n"
    "  serve [--listen HOST:PORT] serve the repository to PostgreSQL clients (psql ...)\n"
    "\n"
    "Other\n"
    "  version                    print the versions of udr, DuckDB and BLAKE3\n"
    "  help [VERB]                this text, or a verb's\n"
    "\n"
    "Options\n"
    "  --repo DIR                 the repository to use\n"
    "  --branch NAME              work on branch NAME (this command only)\n"
    "  -q, --quiet                no progress lines or chatter\n"
    "  -h, --help                 help (also after any verb)\n"
    "Global options may also follow the verb; after '--' nothing is an option.\n"
    "\n"
    "Exit codes: 0 ok, 1 failed, 2 usage error, 3 a check found problems.\n";

static const struct {
    const char *name;
    verb_fn fn;
} VERBS[] = {
    {"init", cmd_init},
    {"fsck", cmd_fsck},
    {"gc", cmd_gc},
    {"expire", cmd_expire},
    {"recover", cmd_recover},
    {"stats", cmd_stats},
    {"import", cmd_import},
    {"sql", cmd_sql},
    {"tables", cmd_tables},
    {"log", cmd_log},
    {"show", cmd_show},
    {"diff", cmd_diff},
    {"export", cmd_export},
    {"drop", cmd_drop},
    {"compact", cmd_compact},
    {"object", cmd_object},
    {"branch", cmd_branch},
    {"checkout", cmd_checkout},
    {"tag", cmd_tag},
    {"merge", cmd_merge},
    {"revert", cmd_revert},
    {"reset", cmd_reset},
    {"changes", cmd_changes},
    {"subscribe", cmd_subscribe},
    {"serve", cmd_serve},
    {"version", cmd_version},
};

static verb_fn find_verb(const char *name)
{
    for (size_t i = 0; i < sizeof VERBS / sizeof VERBS[0]; i++)
        if (strcmp(VERBS[i].name, name) == 0)
            return VERBS[i].fn;
    return NULL;
}

/* Global options may stand anywhere before a "--": they are taken out of
 * argv, so that `udr object put --repo r f` works like `udr --repo r object put f`.
 * Returns the new argc, or -1 after a usage error. */
static int take_global_options(cli *c, int argc, char **argv)
{
    int out = 1, i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strcmp(a, "--repo") == 0) {
            if (i + 1 >= argc) {
                out_usage(NULL, "--repo needs a directory");
                return -1;
            }
            c->repo_dir = argv[++i];
        } else if (strncmp(a, "--repo=", 7) == 0) {
            c->repo_dir = a + 7;
        } else if (strcmp(a, "--branch") == 0) {
            if (i + 1 >= argc) {
                out_usage(NULL, "--branch needs a branch name");
                return -1;
            }
            c->branch = argv[++i];
        } else if (strncmp(a, "--branch=", 9) == 0) {
            c->branch = a + 9;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            c->quiet = 1;
        } else {
            argv[out++] = argv[i];
        }
    }
    for (; i < argc; i++)
        argv[out++] = argv[i];
    argv[out] = NULL;
    return out;
}

/* Files are mapped to be hashed; one truncated meanwhile by another process
 * raises SIGBUS. Say so instead of dying with a bare signal. Nothing is lost:
 * every write is atomic. */
static void on_sigbus(int sig)
{
    static const char msg[] = "udr: error: an input file was truncated while it was being "
                              "read; nothing was stored\n";
    (void)sig;
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
        /* nothing more can be done */
    }
    _exit(EXIT_FAIL);
}

int main(int argc, char **argv)
{
    signal(SIGBUS, on_sigbus);
    cli c = {udr_default_dir(), 0, "udr", NULL};
    argc = take_global_options(&c, argc, argv);
    if (argc < 0)
        return EXIT_USAGE;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(USAGE, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            char *v[] = {"version", NULL};
            return cmd_version(&c, 1, v);
        } else {
            return out_usage(NULL, "unknown option '%s'", a);
        }
    }
    if (i >= argc) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *verb = argv[i];
    if (strcmp(verb, "help") == 0) {
        if (i + 1 >= argc) {
            fputs(USAGE, stdout);
            return EXIT_OK;
        }
        verb_fn fn = find_verb(argv[i + 1]);
        if (fn == NULL)
            return out_usage(NULL, "no such verb '%s'", argv[i + 1]);
        char *v[] = {argv[i + 1], "--help", NULL};
        return fn(&c, 2, v);
    }
    verb_fn fn = find_verb(verb);
    if (fn == NULL)
        return out_usage(NULL, "'%s' is not a udr verb", verb);
    return fn(&c, argc - i, argv + i);
}
