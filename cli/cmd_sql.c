/*
 * cmd_sql — `udr sql`: one statement or a script, and the interactive shell.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "cli.h"
#include "sqlsplit.h"

static const char SQL_HELP[] =
    "usage: udr sql [--format table|csv|json] [SQL]\n"
    "       udr sql [--format ...] -f FILE\n"
    "\n"
    "Runs SQL (DuckDB's dialect) over the repository's tables and prints the rows\n"
    "of each statement that returns some. With no SQL, reads a script from standard\n"
    "input, or, on a terminal, starts an interactive shell with line editing and\n"
    "history (~/.udr_history).\n"
    "\n"
    "Tables: users (current version), \"users@3\" (version 3),\n"
    "\"users@2026-11-24T10:00:00Z\" (the version current at that time),\n"
    "\"users@feature/x\" (a branch's head), \"users@v1.0\" (a tag).\n"
    "\n"
    "Writes: INSERT INTO t ..., UPDATE t SET ... [WHERE ...], DELETE FROM t\n"
    "[WHERE ...], CREATE [OR REPLACE] TABLE t AS SELECT ... Each is a commit of\n"
    "its own, unless between BEGIN [ISOLATION LEVEL SERIALIZABLE] and COMMIT (or\n"
    "ROLLBACK): then all of them are one commit, or none. A failed statement\n"
    "inside a transaction aborts it (only ROLLBACK is accepted then), and SQL\n"
    "that ends inside a transaction rolls it back.\n"
    "Output: an aligned table on a terminal, CSV otherwise, or as --format says.\n";

/* Runs every statement of text; prints results; stops at the first error
 * (unless interactive). BEGIN, COMMIT and ROLLBACK open and end a
 * transaction (*tx) that lasts across calls. */
static int run_script(udr_repo *repo, const char *text, out_format fmt, int interactive,
                      udr_tx **tx)
{
    const char *p = text, *st;
    size_t len;
    int complete, n = 0;
    while (sql_next(&p, &st, &len, &complete)) {
        n++;
        char *one = strndup(st, len);
        if (one == NULL)
            return out_error("out of memory");
        udr_isolation iso;
        int ctl = udr_sql_tx_control(repo, one, &iso), rc = UDR_OK;
        udr_result *r = NULL;
        if (ctl < 0) {
            rc = ctl;
        } else if (ctl == 1) {
            rc = *tx != NULL ? UDR_EINVAL : udr_tx_begin(repo, NULL, iso, tx);
            if (*tx != NULL && rc == UDR_EINVAL)
                fprintf(stderr, "udr: warning: a transaction is open already; BEGIN ignored\n");
            if (*tx != NULL)
                rc = UDR_OK;
        } else if (ctl == 2 || ctl == 3) {
            if (*tx == NULL)
                fprintf(stderr, "udr: warning: there is no transaction to %s\n",
                        ctl == 2 ? "commit" : "roll back");
            else if (ctl == 2)
                rc = udr_tx_commit(*tx, NULL, NULL);
            else
                udr_tx_rollback(*tx);
            *tx = NULL;
        } else if (*tx != NULL) {
            rc = udr_tx_query(*tx, one, &r);
        } else {
            rc = udr_query(repo, one, NULL, 0, &r);
        }
        free(one);
        if (rc != UDR_OK) {
            if (n > 1 || *p != '\0')
                out_error("statement %d: %s", n, udr_errmsg(repo));
            else
                out_repo_error(repo);
            if (!interactive)
                return EXIT_FAIL;
            continue;
        }
        if (r != NULL && udr_result_columns(r) > 0)
            out_result(r, fmt, stdout);
        udr_result_free(r);
    }
    fflush(stdout);
    return EXIT_OK;
}

/* A script's end inside a transaction: rolled back, and said. */
static int end_script(udr_tx **tx, int status)
{
    if (*tx == NULL)
        return status;
    udr_tx_rollback(*tx);
    *tx = NULL;
    if (status == EXIT_OK)
        return out_error("the SQL ended inside a transaction (no COMMIT): it was rolled back");
    return status;
}

static char *read_all(FILE *f)
{
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    while (b != NULL) {
        size_t got = fread(b + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
        if (cap - len < 2) {
            char *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
    }
    if (b != NULL)
        b[len] = '\0';
    return b;
}

static void shell_help(void)
{
    puts("End a statement with ;  Lines are edited as in a shell; history is kept.\n"
         ".tables               list the tables\n"
         ".format table|csv|json  how results are printed\n"
         ".help                 this text\n"
         ".quit                 leave (or Ctrl-D)");
}

static int shell(cli *c, udr_repo *repo, out_format fmt)
{
    char hist[4096] = "";
    const char *home = getenv("HOME");
    const char *hf = getenv("UDR_HISTORY");
    if (hf != NULL)
        snprintf(hist, sizeof hist, "%s", hf);
    else if (home != NULL)
        snprintf(hist, sizeof hist, "%s/.udr_history", home);
    using_history();
    if (hist[0])
        read_history(hist);
    printf("udr %s shell on %s. End statements with ';'. .help for help, .quit to leave.\n",
           udr_version(), c->repo_dir);
    char *pending = NULL;
    udr_tx *tx = NULL;
    for (;;) {
        char *line = readline(pending ? "  ...> " : tx ? "udr*> " : "udr> ");
        if (line == NULL) {
            putchar('\n');
            break;
        }
        if (pending == NULL && line[0] == '.') {
            char cmd[64] = "", arg[64] = "";
            sscanf(line, "%63s %63s", cmd, arg);
            add_history(line);
            if (strcmp(cmd, ".quit") == 0 || strcmp(cmd, ".exit") == 0) {
                free(line);
                break;
            } else if (strcmp(cmd, ".help") == 0) {
                shell_help();
            } else if (strcmp(cmd, ".tables") == 0) {
                char *v[] = {"tables", NULL};
                cmd_tables(c, 1, v);
            } else if (strcmp(cmd, ".format") == 0 && out_parse_format(arg) >= 0) {
                fmt = (out_format)out_parse_format(arg);
            } else {
                printf("unknown command %s (.help lists them)\n", cmd);
            }
            free(line);
            continue;
        }
        if (strcmp(line, "\\q") == 0) {
            free(line);
            break;
        }
        size_t plen = pending ? strlen(pending) : 0;
        char *text = malloc(plen + strlen(line) + 2);
        if (text == NULL) {
            free(line);
            break;
        }
        sprintf(text, "%s%s%s", pending ? pending : "", pending ? "\n" : "", line);
        free(pending);
        pending = NULL;
        free(line);
        if (!sql_is_complete(text)) {
            pending = text;
            continue;
        }
        add_history(text);
        run_script(repo, text, fmt == FMT_DEFAULT ? FMT_TABLE : fmt, 1, &tx);
        free(text);
    }
    free(pending);
    if (tx != NULL) {
        udr_tx_rollback(tx);
        printf("(the open transaction was rolled back)\n");
    }
    if (hist[0])
        write_history(hist);
    return EXIT_OK;
}

int cmd_sql(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(SQL_HELP, stdout);
        return EXIT_OK;
    }
    out_format fmt = FMT_DEFAULT;
    const char *file = NULL, *sql = NULL;
    for (int i = 1; i < argc; i++) {
        int t = out_take_format(argc, argv, &i, &fmt, "sql ");
        if (t < 0)
            return EXIT_USAGE;
        if (t > 0)
            continue;
        if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--file") == 0) {
            if (i + 1 >= argc)
                return out_usage("sql ", "%s needs a file", argv[i]);
            file = argv[++i];
        } else if (sql == NULL && (argv[i][0] != '-' || argv[i][1] == '\0')) {
            sql = argv[i];
        } else {
            return out_usage("sql ", "unexpected argument '%s' (quote the SQL as one argument)",
                             argv[i]);
        }
    }
    if (file != NULL && sql != NULL)
        return out_usage("sql ", "give SQL or -f FILE, not both");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int status;
    udr_tx *tx = NULL;
    if (sql != NULL && strcmp(sql, "-") != 0) {
        status = end_script(&tx, run_script(repo, sql, fmt, 0, &tx));
    } else if (file != NULL || sql != NULL || !isatty(STDIN_FILENO)) {
        FILE *f = file && strcmp(file, "-") != 0 ? fopen(file, "r") : stdin;
        if (f == NULL) {
            udr_close(repo);
            return out_error("cannot open %s: %s", file, strerror(errno));
        }
        char *text = read_all(f);
        if (f != stdin)
            fclose(f);
        status = text ? end_script(&tx, run_script(repo, text, fmt, 0, &tx))
                      : out_error("out of memory");
        free(text);
    } else {
        status = shell(c, repo, fmt);
    }
    udr_close(repo);
    return status;
}
