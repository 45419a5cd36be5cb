/*
 * cmd_stats — `udr stats`: what the repository stores against what its
 * history would take stored version by version (udr_stats_get).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char STATS_HELP[] =
    "usage: udr stats [--table T] [--format table|csv|json] [--quiet]\n"
    "\n"
    "What the repository stores against what its history would take:\n"
    "  logical    the bytes of every table version in the log (all tables,\n"
    "             versions and branches; drops excluded), chunks, delete files\n"
    "             and patches, as if each version were stored whole\n"
    "  physical   the bytes of the distinct chunks, delete files and patches\n"
    "             those versions use, each counted once\n"
    "  dedup      1 - physical / logical: what content addressing saved\n"
    "and the objects in the store (metadata included), versions, commits,\n"
    "branches, tags and subscriptions. Then, per table: logical and physical\n"
    "bytes of its own versions, dedup, versions, chunk references, distinct\n"
    "chunks, and its rows on the current branch. --table T shows one table.\n"
    "\n"
    "On a terminal: sizes in KiB, MiB ...; csv: one row per table and a last\n"
    "row '(all)' for the repository, in bytes; json: an object with the\n"
    "totals and a \"tables\" array, in bytes. A progress line is shown on a\n"
    "terminal while versions are read (not with --quiet).\n";

typedef struct stats_ctx {
    progress prog;
} stats_ctx;

static void on_progress(void *ctx, const udr_fsck_stats *s)
{
    stats_ctx *sc = ctx;
    progress_update(&sc->prog, "reading versions", s->objects, "versions", s->bytes);
}

static double dedup_of(uint64_t logical, uint64_t physical)
{
    return logical > 0 ? 1.0 - (double)physical / (double)logical : 0.0;
}

static void print_json(const udr_stats *st, const udr_table_stats *only)
{
    printf("{\"objects\": %llu, \"object_bytes\": %llu, \"logical_bytes\": %llu, "
           "\"physical_bytes\": %llu, \"dedup_ratio\": %.6f, \"versions\": %llu, "
           "\"commits\": %llu, \"branches\": %llu, \"tags\": %llu, \"subscriptions\": %llu, "
           "\"chunks\": %llu, \"unique_chunks\": %llu,\n"
           " \"tables\": [",
           (unsigned long long)st->objects, (unsigned long long)st->object_bytes,
           (unsigned long long)st->logical_bytes, (unsigned long long)st->physical_bytes,
           st->dedup_ratio, (unsigned long long)st->versions, (unsigned long long)st->commits,
           (unsigned long long)st->branches, (unsigned long long)st->tags,
           (unsigned long long)st->subscriptions, (unsigned long long)st->chunks,
           (unsigned long long)st->unique_chunks);
    int first = 1;
    for (size_t i = 0; i < st->ntables; i++) {
        const udr_table_stats *t = &st->tables[i];
        if (only != NULL && t != only)
            continue;
        fputs(first ? "\n  {\"table\": " : ",\n  {\"table\": ", stdout);
        first = 0;
        out_json_string(stdout, t->table);
        printf(", \"versions\": %llu, \"live_rows\": %llu, \"logical_bytes\": %llu, "
               "\"physical_bytes\": %llu, \"dedup_ratio\": %.6f, \"chunks\": %llu, "
               "\"unique_chunks\": %llu}",
               (unsigned long long)t->versions, (unsigned long long)t->live_rows,
               (unsigned long long)t->logical_bytes, (unsigned long long)t->physical_bytes,
               dedup_of(t->logical_bytes, t->physical_bytes), (unsigned long long)t->chunks,
               (unsigned long long)t->unique_chunks);
    }
    fputs(first ? "]}\n" : "\n ]}\n", stdout);
}

static void print_csv_row(const char *name, uint64_t versions, uint64_t rows, uint64_t logical,
                          uint64_t physical, uint64_t chunks, uint64_t unique)
{
    if (strpbrk(name, ",\"") == NULL)    /* table names are [A-Za-z0-9_] */
        fputs(name, stdout);
    printf(",%llu,%llu,%llu,%llu,%.6f,%llu,%llu\n", (unsigned long long)versions,
           (unsigned long long)rows, (unsigned long long)logical,
           (unsigned long long)physical, dedup_of(logical, physical),
           (unsigned long long)chunks, (unsigned long long)unique);
}

static void print_csv(const udr_stats *st, const udr_table_stats *only)
{
    puts("table,versions,live_rows,logical_bytes,physical_bytes,dedup_ratio,chunks,"
         "unique_chunks");
    uint64_t rows = 0;
    for (size_t i = 0; i < st->ntables; i++) {
        const udr_table_stats *t = &st->tables[i];
        rows += t->live_rows;
        if (only == NULL || t == only)
            print_csv_row(t->table, t->versions, t->live_rows, t->logical_bytes,
                          t->physical_bytes, t->chunks, t->unique_chunks);
    }
    print_csv_row("(all)", st->versions, rows, st->logical_bytes, st->physical_bytes, st->chunks,
                  st->unique_chunks);
}

static void print_human(const udr_stats *st, const udr_table_stats *only)
{
    char a[32], b[32];
    printf("objects        %llu (%s, metadata included)\n", (unsigned long long)st->objects,
           out_bytes(st->object_bytes, a, sizeof a));
    printf("logical        %s (every version stored whole)\n",
           out_bytes(st->logical_bytes, a, sizeof a));
    printf("physical       %s (distinct chunks, delete files and patches)\n",
           out_bytes(st->physical_bytes, b, sizeof b));
    printf("dedup          %.1f %%\n", st->dedup_ratio * 100.0);
    printf("versions       %llu (%llu chunk references, %llu distinct chunks)\n",
           (unsigned long long)st->versions, (unsigned long long)st->chunks,
           (unsigned long long)st->unique_chunks);
    printf("commits        %llu\n", (unsigned long long)st->commits);
    printf("branches       %llu, tags %llu, subscriptions %llu\n\n",
           (unsigned long long)st->branches, (unsigned long long)st->tags,
           (unsigned long long)st->subscriptions);
    static const char *head[] = {"table",  "logical",  "physical",      "dedup",
                                 "versions", "chunks", "unique_chunks", "rows"};
    static const int num[] = {0, 1, 1, 1, 1, 1, 1, 1};
    size_t n = only ? 1 : st->ntables;
    char ***rows = calloc(n ? n : 1, sizeof *rows);
    for (size_t i = 0, r = 0; rows && i < st->ntables; i++) {
        const udr_table_stats *t = &st->tables[i];
        if (only != NULL && t != only)
            continue;
        char cell[8][48];
        snprintf(cell[0], sizeof cell[0], "%s", "");
        out_bytes(t->logical_bytes, cell[1], sizeof cell[1]);
        out_bytes(t->physical_bytes, cell[2], sizeof cell[2]);
        snprintf(cell[3], sizeof cell[3], "%.1f %%",
                 dedup_of(t->logical_bytes, t->physical_bytes) * 100.0);
        snprintf(cell[4], sizeof cell[4], "%llu", (unsigned long long)t->versions);
        snprintf(cell[5], sizeof cell[5], "%llu", (unsigned long long)t->chunks);
        snprintf(cell[6], sizeof cell[6], "%llu", (unsigned long long)t->unique_chunks);
        snprintf(cell[7], sizeof cell[7], "%llu", (unsigned long long)t->live_rows);
        if ((rows[r] = calloc(8, sizeof **rows)) == NULL)
            break;
        rows[r][0] = strdup(t->table);
        for (int k = 1; k < 8; k++)
            rows[r][k] = strdup(cell[k]);
        r++;
    }
    if (rows != NULL) {
        out_grid(head, 8, num, rows, n, FMT_TABLE, stdout);
        for (size_t i = 0; i < n; i++) {
            for (int k = 0; rows[i] && k < 8; k++)
                free(rows[i][k]);
            free(rows[i]);
        }
    }
    free(rows);
}

int cmd_stats(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(STATS_HELP, stdout);
        return EXIT_OK;
    }
    out_format fmt = FMT_DEFAULT;
    const char *table = NULL;
    for (int i = 1; i < argc; i++) {
        int t = out_take_format(argc, argv, &i, &fmt, "stats ");
        if (t < 0)
            return EXIT_USAGE;
        if (t > 0)
            continue;
        if (strcmp(argv[i], "--table") == 0) {
            if (i + 1 >= argc)
                return out_usage("stats ", "--table needs a table name");
            table = argv[++i];
        } else if (strncmp(argv[i], "--table=", 8) == 0) {
            table = argv[i] + 8;
        } else {
            return out_usage("stats ", "unexpected argument '%s'", argv[i]);
        }
    }
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    stats_ctx sc;
    progress_begin(&sc.prog, c);
    udr_stats st;
    int rc = udr_stats_get(repo, &st, on_progress, &sc);
    progress_end(&sc.prog);
    if (rc != UDR_OK) {
        int s = out_repo_error(repo);
        udr_close(repo);
        return s;
    }
    const udr_table_stats *only = NULL;
    for (size_t i = 0; table != NULL && i < st.ntables; i++)
        if (strcmp(st.tables[i].table, table) == 0)
            only = &st.tables[i];
    int status = EXIT_OK;
    if (table != NULL && only == NULL) {
        status = out_error("there is no table %s (see 'udr tables' for the tables there are)",
                           table);
    } else {
        fmt = out_resolve(fmt);
        if (fmt == FMT_JSON)
            print_json(&st, only);
        else if (fmt == FMT_CSV)
            print_csv(&st, only);
        else
            print_human(&st, only);
    }
    udr_stats_clear(&st);
    udr_close(repo);
    return status;
}
