/*
 * cli — the `udr` command line tool: shared declarations of its verbs.
 *
 * Front end only: it parses arguments, calls libudr, prints. Exit codes:
 *   0  success
 *   1  the operation failed (the message on stderr says why)
 *   2  usage error (unknown verb or option, missing argument)
 *   3  an integrity check found a problem (fsck, object verify)
 */
#ifndef UDR_CLI_H
#define UDR_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "udr.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_PROBLEMS = 3 };

typedef struct cli {
    const char *repo_dir;      /* --repo, $UDR_DIR, or ./.udr */
    int quiet;                 /* --quiet: no progress, no chatter */
    const char *prog;          /* "udr" */
    const char *branch;        /* --branch: work on this branch */
} cli;

typedef enum out_format { FMT_DEFAULT, FMT_TABLE, FMT_CSV, FMT_JSON } out_format;

/* A verb: argv[0] is the verb's name. Returns the exit code. */
typedef int (*verb_fn)(cli *c, int argc, char **argv);

int cmd_init(cli *c, int argc, char **argv);
int cmd_sql(cli *c, int argc, char **argv);
int cmd_import(cli *c, int argc, char **argv);
int cmd_drop(cli *c, int argc, char **argv);
int cmd_compact(cli *c, int argc, char **argv);
int cmd_tables(cli *c, int argc, char **argv);
int cmd_log(cli *c, int argc, char **argv);
int cmd_show(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_diff(cli *c, int argc, char **argv);
int cmd_fsck(cli *c, int argc, char **argv);
int cmd_gc(cli *c, int argc, char **argv);
int cmd_expire(cli *c, int argc, char **argv);
int cmd_recover(cli *c, int argc, char **argv);
int cmd_stats(cli *c, int argc, char **argv);
int cmd_version(cli *c, int argc, char **argv);
int cmd_object(cli *c, int argc, char **argv);
int cmd_branch(cli *c, int argc, char **argv);
int cmd_checkout(cli *c, int argc, char **argv);
int cmd_tag(cli *c, int argc, char **argv);
int cmd_merge(cli *c, int argc, char **argv);
int cmd_revert(cli *c, int argc, char **argv);
int cmd_reset(cli *c, int argc, char **argv);
int cmd_changes(cli *c, int argc, char **argv);
int cmd_subscribe(cli *c, int argc, char **argv);
int cmd_serve(cli *c, int argc, char **argv);

/* The commit forms of log, show and diff (cmd_branch.c), on an open repo. */
int cmd_commit_log(cli *c, udr_repo *repo, const char *ref, size_t max, int graph,
                   out_format fmt);
int cmd_commit_show(cli *c, udr_repo *repo, const char *ref);
int cmd_diff_refs(cli *c, udr_repo *repo, const char *a, const char *b, int rows,
                  out_format fmt);

/* ---- out.c: messages -------------------------------------------------- */

/* "udr: error: <message>" on stderr; returns EXIT_FAIL. */
int out_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "udr: <usage message>\n(see 'udr VERB --help')" on stderr; EXIT_USAGE. */
int out_usage(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports the repository's last error; returns EXIT_FAIL. */
int out_repo_error(udr_repo *repo);

/* 1 if argv holds -h or --help. */
int out_wants_help(int argc, char **argv);

/* Opens the repository of the command line, reporting failure. NULL then. */
udr_repo *cli_open_repo(cli *c);

/* A progress line on stderr, only when stderr is a terminal and not quiet:
 * "\r<what>: <count> <unit>, <bytes>, <rate>/s". progress_end clears it. */
typedef struct progress {
    int on;
    double start_s;
    double last_s;
    int shown;
} progress;

void progress_begin(progress *p, const cli *c);
void progress_update(progress *p, const char *what, uint64_t count, const char *unit,
                     uint64_t bytes);
void progress_end(progress *p);

/* The library's reports of long work (udr_progress_set) as that line:
 * "<verb> <table>: <phase>, <n> chunks: <rows> [of <total>] rows, <bytes>,
 * <rate>/s". work_attach begins the line and sets the hook (only when the
 * line is on); work_detach unsets it and clears the line. w must outlive
 * the calls in between. */
typedef struct work_progress {
    progress prog;
    const char *verb;          /* "import", "export", "compact" */
    char phase[32];            /* the last phase shown: a new one is always shown */
} work_progress;

void work_attach(work_progress *w, const cli *c, udr_repo *repo, const char *verb);
void work_detach(work_progress *w, udr_repo *repo);

/* ---- output formats ---------------------------------------------------- */

/* Parses "table", "csv" or "json"; -1 if none of them. */
int out_parse_format(const char *s);

/* FMT_DEFAULT becomes an aligned table on a terminal, CSV otherwise. */
out_format out_resolve(out_format f);

/* Prints a query result in a format. */
void out_result(udr_result *r, out_format f, FILE *to);

/* A simple table of strings (for tables, log, show): header and rows of
 * ncols cells each; numeric columns (flags) are right-aligned in tables and
 * unquoted in JSON. */
void out_grid(const char *const *header, size_t ncols, const int *numeric, char ***rows,
              size_t nrows, out_format f, FILE *to);

/* Takes "--format X" or "--format=X" at argv[*i]; 1 if it did (moving *i),
 * 0 if argv[*i] is something else, -1 after a usage error. */
int out_take_format(int argc, char **argv, int *i, out_format *f, const char *verb);

/* v as a JSON string, quoted and escaped. */
void out_json_string(FILE *to, const char *v);

/* "2026-11-25 16:23:15" (UTC) for microseconds since 1970. */
const char *out_time(int64_t us, char *buf, int size);

/* "1.5 MiB" into buf. */
const char *out_bytes(uint64_t n, char *buf, int size);

#endif
