/*
 * cmd_table — verbs about tables: import, drop, tables, log, show, export,
 * diff.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- helpers -------------------------------------------------------------- */

/* Splits "a,b" into a NULL-terminated array (one allocation; free it). */
static char **split_columns(const char *s)
{
    size_t n = 1, len = strlen(s);
    for (const char *p = s; *p; p++)
        n += *p == ',';
    char **out = malloc((n + 1) * sizeof *out + len + 1);
    if (out == NULL)
        return NULL;
    char *copy = (char *)(out + n + 1);
    memcpy(copy, s, len + 1);
    size_t k = 0;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ","))
        out[k++] = tok;
    out[k] = NULL;
    return out;
}

static const char *file_kind(const char *path, const char *format)
{
    if (format != NULL)
        return format;
    const char *dot = strrchr(path, '.');
    if (dot == NULL)
        return NULL;
    if (strcmp(dot, ".csv") == 0 || strcmp(dot, ".tsv") == 0 || strcmp(dot, ".txt") == 0)
        return "csv";
    if (strcmp(dot, ".parquet") == 0 || strcmp(dot, ".pq") == 0)
        return "parquet";
    if (strcmp(dot, ".json") == 0 || strcmp(dot, ".jsonl") == 0 || strcmp(dot, ".ndjson") == 0)
        return "json";
    return NULL;
}

static char *u64s(uint64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return strdup(b);
}

static void free_rows(char ***rows, size_t n, size_t ncols)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; rows[i] && c < ncols; c++)
            free(rows[i][c]);
        free(rows[i]);
    }
    free(rows);
}

/* ---- import --------------------------------------------------------------- */

static const char IMPORT_HELP[] =
    "usage: udr import TABLE FILE [--key COLS] [--append] [--format csv|parquet|json]\n"
    "                  [-m MESSAGE]\n"
    "\n"
    "Writes the rows of FILE as a new version of TABLE (creating it if need be).\n"
    "The format comes from the file's extension (.csv, .parquet, .json, .jsonl)\n"
    "or --format. --key id or --key a,b declares a primary key: unique, never\n"
    "NULL, rows kept sorted by it. --append adds the rows to the current version\n"
    "instead of replacing it. Prints the version made and the bytes it added.\n"
    "\n"
    "On a terminal, a progress line on stderr shows the phase, the chunks and\n"
    "rows written, their bytes and the rate; none with --quiet or when stderr\n"
    "is not a terminal.\n";

int cmd_import(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(IMPORT_HELP, stdout);
        return EXIT_OK;
    }
    const char *table = NULL, *file = NULL, *key = NULL, *format = NULL, *message = NULL;
    int append = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--key") == 0 || strcmp(a, "--format") == 0 || strcmp(a, "-m") == 0 ||
            strcmp(a, "--message") == 0) {
            if (i + 1 >= argc)
                return out_usage("import ", "%s needs a value", a);
            const char **dst = a[2] == 'k' ? &key : a[2] == 'f' ? &format : &message;
            *dst = argv[++i];
        } else if (strcmp(a, "--append") == 0) {
            append = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return out_usage("import ", "unknown option '%s'", a);
        } else if (table == NULL) {
            table = a;
        } else if (file == NULL) {
            file = a;
        } else {
            return out_usage("import ", "import takes a TABLE and a FILE");
        }
    }
    if (table == NULL || file == NULL)
        return out_usage("import ", "import needs a TABLE and a FILE");
    const char *kind = file_kind(file, format);
    if (kind == NULL || (strcmp(kind, "csv") && strcmp(kind, "parquet") && strcmp(kind, "json")))
        return out_usage("import ", "cannot tell the format of %s: say --format csv, parquet or "
                                    "json",
                         file);
    char **keys = key ? split_columns(key) : NULL;
    if (key && keys == NULL)
        return out_error("out of memory");
    udr_repo *repo = cli_open_repo(c);
    int status = EXIT_FAIL;
    if (repo != NULL) {
        char dflt[512];
        if (message == NULL) {
            const char *base = strrchr(file, '/');
            snprintf(dflt, sizeof dflt, "%s %s", append ? "append" : "import",
                     base ? base + 1 : file);
            message = dflt;
        }
        udr_write_opts o = {(const char *const *)keys, message, NULL};
        udr_write_info info;
        work_progress prog;
        work_attach(&prog, c, repo, "import");
        int rc = udr_table_import(repo, table, file, kind, append, &o, &info);
        work_detach(&prog, repo);
        if (rc != UDR_OK) {
            out_repo_error(repo);
        } else {
            char b[32], nb[32];
            if (!c->quiet)
                printf("%s: version %llu, %llu rows in %llu chunks, %s (%s new)\n", table,
                       (unsigned long long)info.version, (unsigned long long)info.rows,
                       (unsigned long long)info.chunks, out_bytes(info.bytes, b, sizeof b),
                       out_bytes(info.new_bytes, nb, sizeof nb));
            status = EXIT_OK;
        }
        udr_close(repo);
    }
    free(keys);
    return status;
}

/* ---- drop ----------------------------------------------------------------- */

int cmd_drop(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        puts("usage: udr drop TABLE [-m MESSAGE]\n\nRemoves TABLE from the current branch. Its "
             "versions stay in the history\n(udr log TABLE) and readable as \"TABLE@N\".");
        return EXIT_OK;
    }
    const char *table = NULL, *message = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
            message = argv[++i];
        else if (argv[i][0] != '-' && table == NULL)
            table = argv[i];
        else
            return out_usage("drop ", "unexpected argument '%s'", argv[i]);
    }
    if (table == NULL)
        return out_usage("drop ", "drop needs a TABLE");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int rc = udr_table_drop(repo, table, message);
    int status = rc == UDR_OK ? EXIT_OK : out_repo_error(repo);
    if (rc == UDR_OK && !c->quiet)
        printf("dropped %s\n", table);
    udr_close(repo);
    return status;
}

/* ---- compact -------------------------------------------------------------- */

int cmd_compact(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        puts("usage: udr compact TABLE...\n\nFolds the deltas of small INSERT, UPDATE and "
             "DELETE statements (new chunks,\ndelete files, patches) back into clean chunks in "
             "key order: a new version\nwith the same rows, as a fresh write of them would "
             "store it. A table already\nclean is left as it is. Small changes compact a table by "
             "themselves once\na fifth of its stored rows are deleted ones.\n\nOn a "
             "terminal, a progress line on stderr shows the chunks and rows\nwritten, their "
             "bytes and the rate; none with --quiet or when stderr is\nnot a terminal.");
        return EXIT_OK;
    }
    int ntables = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            return out_usage("compact ", "unexpected argument '%s'", argv[i]);
        ntables++;
    }
    if (ntables == 0)
        return out_usage("compact ", "compact needs a TABLE");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int status = EXIT_OK;
    for (int i = 1; i < argc && status == EXIT_OK; i++) {
        udr_table_detail *before = NULL;
        udr_write_info info;
        int rc = udr_table_show(repo, argv[i], NULL, &before);
        work_progress prog;
        work_attach(&prog, c, repo, "compact");
        if (rc == UDR_OK)
            rc = udr_table_compact(repo, argv[i], &info);
        work_detach(&prog, repo);
        if (rc != UDR_OK) {
            status = out_repo_error(repo);
        } else if (!c->quiet && info.version == before->info.version) {
            printf("%s: version %llu is clean already\n", argv[i],
                   (unsigned long long)info.version);
        } else if (!c->quiet) {
            char b[32], was[96];
            if (before->npatches > 0)
                snprintf(was, sizeof was, "%zu chunks, %zu delete files and %zu patches",
                         before->nchunks, before->ndeletes, before->npatches);
            else
                snprintf(was, sizeof was, "%zu chunks and %zu delete files", before->nchunks,
                         before->ndeletes);
            printf("%s: version %llu, %llu rows in %llu chunks (%s), was %s\n", argv[i],
                   (unsigned long long)info.version, (unsigned long long)info.rows,
                   (unsigned long long)info.chunks, out_bytes(info.bytes, b, sizeof b), was);
        }
        udr_table_detail_free(before);
    }
    udr_close(repo);
    return status;
}

/* ---- tables and log ------------------------------------------------------------ */

static int take_formats_only(int argc, char **argv, out_format *fmt, const char *verb,
                             const char **positional, int npositional)
{
    int k = 0;
    for (int i = 1; i < argc; i++) {
        int t = out_take_format(argc, argv, &i, fmt, verb);
        if (t < 0)
            return -1;
        if (t > 0)
            continue;
        if (argv[i][0] == '-' || k >= npositional) {
            out_usage(verb, "unexpected argument '%s'", argv[i]);
            return -1;
        }
        positional[k++] = argv[i];
    }
    return k;
}

int cmd_tables(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        puts("usage: udr tables [--format table|csv|json]\n\nLists the tables of the current "
             "branch: version, rows, chunks, bytes, last change.");
        return EXIT_OK;
    }
    out_format fmt = FMT_DEFAULT;
    if (take_formats_only(argc, argv, &fmt, "tables ", NULL, 0) < 0)
        return EXIT_USAGE;
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    udr_version_info *v;
    size_t n;
    if (udr_table_list(repo, &v, &n) != UDR_OK) {
        int s = out_repo_error(repo);
        udr_close(repo);
        return s;
    }
    static const char *head[] = {"table", "version", "rows", "chunks", "bytes", "updated"};
    static const int num[] = {0, 1, 1, 1, 1, 0};
    char ***rows = calloc(n ? n : 1, sizeof *rows);
    for (size_t i = 0; rows && i < n; i++) {
        char t[32];
        rows[i] = calloc(6, sizeof **rows);
        if (rows[i] == NULL)
            continue;
        rows[i][0] = strdup(v[i].table);
        rows[i][1] = u64s(v[i].version);
        rows[i][2] = u64s(v[i].rows);
        rows[i][3] = u64s(v[i].chunks);
        rows[i][4] = u64s(v[i].bytes);
        rows[i][5] = strdup(out_time(v[i].time_us, t, sizeof t));
    }
    if (rows)
        out_grid(head, 6, num, rows, n, fmt, stdout);
    free_rows(rows, n, 6);
    udr_version_info_free(v, n);
    udr_close(repo);
    return EXIT_OK;
}

static const char LOG_HELP[] =
    "usage: udr log [REF] [--graph] [-n N] [--format table|csv|json]\n"
    "       udr log TABLE [--format table|csv|json]\n"
    "\n"
    "Without TABLE: the commits reachable from REF (a branch, tag or commit;\n"
    "default: the current branch), newest first, each with its hash, time,\n"
    "author, message and the tables it changed (name old->new version, +N\n"
    "added, - removed). --graph draws the branches and merges; -n N shows N.\n"
    "\n"
    "With TABLE: its versions, newest first: version, time, rows, bytes, new\n"
    "bytes (in chunks the version before did not have), author and message.\n"
    "A name that is both a table and a ref is taken as the ref; --table NAME\n"
    "forces the table.\n";

int cmd_log(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(LOG_HELP, stdout);
        return EXIT_OK;
    }
    out_format fmt = FMT_DEFAULT;
    const char *name = NULL;
    int graph = 0, force_table = 0;
    size_t max = 0;
    for (int i = 1; i < argc; i++) {
        int t = out_take_format(argc, argv, &i, &fmt, "log ");
        if (t < 0)
            return EXIT_USAGE;
        if (t > 0)
            continue;
        if (strcmp(argv[i], "--graph") == 0) {
            graph = 1;
        } else if (strcmp(argv[i], "--table") == 0) {
            force_table = 1;
        } else if (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--max") == 0) {
            char *end;
            if (i + 1 >= argc || (max = strtoull(argv[i + 1], &end, 10)) == 0 || *end != '\0')
                return out_usage("log ", "%s needs a positive number", argv[i]);
            i++;
        } else if (argv[i][0] == '-' || name != NULL) {
            return out_usage("log ", "unexpected argument '%s'", argv[i]);
        } else {
            name = argv[i];
        }
    }
    if (force_table && name == NULL)
        return out_usage("log ", "--table needs a TABLE");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    udr_commit_info *probe = NULL;
    char why[600] = "";
    if (!force_table && (name == NULL || udr_commit_show(repo, name, &probe) == UDR_OK)) {
        udr_commit_info_free(probe, probe ? 1 : 0);
        int s = cmd_commit_log(c, repo, name, max, graph, fmt);
        udr_close(repo);
        return s;
    }
    if (!force_table)
        snprintf(why, sizeof why, "%s", udr_errmsg(repo));
    const char *table = name;
    udr_version_info *v;
    size_t n;
    if (udr_table_log(repo, table, &v, &n) != UDR_OK) {
        int code = udr_errcode(repo);
        int s = !force_table && (code == UDR_ENOTFOUND || code == UDR_EINVAL)
                    ? out_error("'%s' is not a table (see 'udr tables'), and as a commit: %s",
                                table, why)
                    : out_repo_error(repo);
        udr_close(repo);
        return s;
    }
    static const char *head[] = {"version", "time", "rows", "bytes", "new_bytes", "author",
                                 "message"};
    static const int num[] = {1, 0, 1, 1, 1, 0, 0};
    char ***rows = calloc(n ? n : 1, sizeof *rows);
    for (size_t i = 0; rows && i < n; i++) {
        char t[32];
        rows[i] = calloc(7, sizeof **rows);
        if (rows[i] == NULL)
            continue;
        rows[i][0] = u64s(v[i].version);
        rows[i][1] = strdup(out_time(v[i].time_us, t, sizeof t));
        int gone = v[i].dropped || v[i].expired_us != 0;
        rows[i][2] = gone ? NULL : u64s(v[i].rows);
        rows[i][3] = gone ? NULL : u64s(v[i].bytes);
        rows[i][4] = gone ? NULL : u64s(v[i].new_bytes);
        rows[i][5] = strdup(v[i].author);
        /* A drop or an expired version says so before its message. */
        char mark[64] = "", e[32];
        if (v[i].dropped)
            snprintf(mark, sizeof mark, "(dropped) ");
        else if (v[i].expired_us != 0)
            snprintf(mark, sizeof mark, "(expired %s) ", out_time(v[i].expired_us, e, sizeof e));
        rows[i][6] = malloc(strlen(mark) + strlen(v[i].message) + 1);
        if (rows[i][6] != NULL)
            sprintf(rows[i][6], "%s%s", mark, v[i].message);
    }
    if (rows)
        out_grid(head, 7, num, rows, n, fmt, stdout);
    free_rows(rows, n, 7);
    udr_version_info_free(v, n);
    udr_close(repo);
    return EXIT_OK;
}

/* ---- show ----------------------------------------------------------------- */

int cmd_show(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        puts("usage: udr show TABLE[@REF]\n       udr show COMMIT\n\nThe schema, key, "
             "chunks and sizes of a table version: the current one,\nor REF = a version "
             "number, a time (2026-11-24T10:00:00Z), a branch or a\ntag. Or a commit (a "
             "branch, tag, hash or prefix, REF~N): its parents,\nauthor, time, message and "
             "the tables it changed.");
        return EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-')
        return out_usage("show ", "show needs one TABLE[@REF] or COMMIT");
    char *name = strdup(argv[1]);
    if (name == NULL)
        return out_error("out of memory");
    char *at = strchr(name, '@');
    if (at)
        *at++ = '\0';
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL) {
        free(name);
        return EXIT_FAIL;
    }
    udr_table_detail *d;
    int status = EXIT_OK;
    if (udr_table_show(repo, name, at, &d) != UDR_OK) {
        /* Not a table: a commit, if the name is one. */
        udr_commit_info *probe = NULL;
        int code = udr_errcode(repo);
        if (at == NULL && (code == UDR_ENOTFOUND || code == UDR_EINVAL) &&
            udr_commit_show(repo, name, &probe) == UDR_OK) {
            udr_commit_info_free(probe, 1);
            status = cmd_commit_show(c, repo, name);
        } else {
            if (at == NULL)
                udr_table_show(repo, name, at, &d);   /* the table's message again */
            status = out_repo_error(repo);
        }
    } else {
        char t[32], b[32];
        printf("table    %s\nversion  %llu  (%s, by %s: %s)\nrows     %llu\nchunks   %llu, %s\n",
               d->info.table, (unsigned long long)d->info.version,
               out_time(d->info.time_us, t, sizeof t), d->info.author[0] ? d->info.author : "?",
               d->info.message, (unsigned long long)d->info.rows,
               (unsigned long long)d->info.chunks, out_bytes(d->info.bytes, b, sizeof b));
        printf("key      ");
        for (size_t i = 0; i < d->nkey; i++)
            printf("%s%s", i ? ", " : "", d->key[i]);
        printf("%s\nobject   %s\ncommit   %s\n\ncolumns\n", d->nkey ? "" : "(none)",
               d->info.content, d->info.commit);
        for (size_t i = 0; i < d->ncols; i++)
            printf("  %-24s %s\n", d->col_names[i], d->col_types[i]);
        printf("\nchunks\n");
        for (size_t i = 0; i < d->nchunks; i++)
            printf("  %s  %10llu rows  %s\n", d->chunk_hash[i],
                   (unsigned long long)d->chunk_rows[i], out_bytes(d->chunk_bytes[i], b, sizeof b));
        if (d->ndeletes > 0)
            printf("\ndelete files (rows of the chunks above that are gone)\n");
        for (size_t i = 0; i < d->ndeletes; i++)
            printf("  %s  %10llu rows\n", d->delete_hash[i], (unsigned long long)d->delete_rows[i]);
        if (d->npatches > 0)
            printf("\npatches (new values of columns of rows of the chunks; a later one wins)\n");
        for (size_t i = 0; i < d->npatches; i++) {
            printf("  %s  %10llu rows ", d->patch_hash[i], (unsigned long long)d->patch_rows[i]);
            for (size_t k = 0, n = 0; k < d->ncols && k < 64; k++)
                if (d->patch_cols[i] >> k & 1)
                    printf("%s%s", n++ ? ", " : " ", d->col_names[k]);
            printf("\n");
        }
        udr_table_detail_free(d);
    }
    udr_close(repo);
    free(name);
    return status;
}

/* ---- export --------------------------------------------------------------- */

int cmd_export(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        puts("usage: udr export TABLE[@REF] FILE [--format parquet|csv]\n\nWrites a table "
             "version to FILE, as Parquet or CSV (from the extension,\nor --format). On a "
             "terminal, a progress line on stderr shows the rows\nread (DuckDB's estimate), "
             "the bytes written and the rate; none with\n--quiet or when stderr is not a "
             "terminal.");
        return EXIT_OK;
    }
    const char *ref = NULL, *file = NULL, *format = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            format = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return out_usage("export ", "unknown option '%s'", argv[i]);
        else if (ref == NULL)
            ref = argv[i];
        else if (file == NULL)
            file = argv[i];
        else
            return out_usage("export ", "export takes TABLE[@REF] and FILE");
    }
    if (ref == NULL || file == NULL)
        return out_usage("export ", "export needs TABLE[@REF] and FILE");
    const char *kind = file_kind(file, format);
    if (kind == NULL || (strcmp(kind, "csv") && strcmp(kind, "parquet")))
        return out_usage("export ", "export writes parquet or csv: say --format");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    udr_export_info info;
    work_progress prog;
    work_attach(&prog, c, repo, "export");
    int rc = udr_table_export(repo, ref, file, kind, &info);
    work_detach(&prog, repo);
    int status = EXIT_OK;
    if (rc != UDR_OK) {
        status = out_repo_error(repo);
    } else if (!c->quiet) {
        char b[32];
        printf("exported %llu rows of %s to %s (%s)\n", (unsigned long long)info.rows, ref,
               file, out_bytes(info.bytes, b, sizeof b));
    }
    udr_close(repo);
    return status;
}

/* ---- diff ----------------------------------------------------------------- */

int cmd_diff(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        puts("usage: udr diff REF_A REF_B [--rows] [--format ...]\n\nThe tables that differ "
             "between two commits (branches, tags, hashes):\nadded, removed, or modified, with "
             "their version on each side (version_a,\nversion_b). --rows adds the row-level "
             "diff of each modified table (by key\nwhere it has one).\n");
        puts("usage: udr diff TABLE FROM TO [--key COLS] [--stat] [--format ...]\n\nWhat "
             "changed in TABLE from version FROM to version TO (numbers or\ntimes): rows "
             "added, removed and modified, by key (--key, else the\ntable's own), else by "
             "whole rows. Prints the counts, then the rows:\nchange is added, removed, or "
             "before and after for a modified key.\n--stat prints the counts only.");
        return EXIT_OK;
    }
    out_format fmt = FMT_DEFAULT;
    const char *pos[3] = {NULL, NULL, NULL}, *key = NULL;
    int k = 0, stat = 0, with_rows = 0;
    for (int i = 1; i < argc; i++) {
        int t = out_take_format(argc, argv, &i, &fmt, "diff ");
        if (t < 0)
            return EXIT_USAGE;
        if (t > 0)
            continue;
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else if (strcmp(argv[i], "--stat") == 0)
            stat = 1;
        else if (strcmp(argv[i], "--rows") == 0)
            with_rows = 1;
        else if (argv[i][0] != '-' && k < 3)
            pos[k++] = argv[i];
        else
            return out_usage("diff ", "unexpected argument '%s'", argv[i]);
    }
    if (k == 2) {
        if (key != NULL || stat)
            return out_usage("diff ", "--key and --stat go with diff TABLE FROM TO");
        udr_repo *repo = cli_open_repo(c);
        if (repo == NULL)
            return EXIT_FAIL;
        int s = cmd_diff_refs(c, repo, pos[0], pos[1], with_rows, fmt);
        udr_close(repo);
        return s;
    }
    if (k != 3)
        return out_usage("diff ", "diff needs REF_A REF_B, or TABLE FROM TO");
    if (with_rows)
        return out_usage("diff ", "--rows goes with diff REF_A REF_B");
    char **keys = key ? split_columns(key) : NULL;
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL) {
        free(keys);
        return EXIT_FAIL;
    }
    udr_diff d;
    udr_result *rows = NULL;
    int status = EXIT_OK;
    if (udr_table_diff(repo, pos[0], pos[1], pos[2], (const char *const *)keys, &d,
                       stat ? NULL : &rows) != UDR_OK) {
        status = out_repo_error(repo);
    } else {
        /* The counts go with the rows on a terminal; to stderr when the rows
         * are data for a script; alone to stdout with --stat. */
        FILE *to = stat || out_resolve(fmt) == FMT_TABLE ? stdout : stderr;
        fprintf(to, "%s %llu -> %llu: %llu added, %llu removed, %llu modified\n", pos[0],
                (unsigned long long)d.from_version, (unsigned long long)d.to_version,
                (unsigned long long)d.rows_added, (unsigned long long)d.rows_removed,
                (unsigned long long)d.rows_modified);
        if (rows != NULL)
            out_result(rows, fmt, stdout);
        udr_result_free(rows);
    }
    udr_close(repo);
    free(keys);
    return status;
}
