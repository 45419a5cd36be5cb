/*
 * cmd_branch — verbs about branches and history: branch, checkout, tag,
 * merge, revert, reset, and the commit forms of log, show and diff.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char *u64s(uint64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return strdup(b);
}

static void free_rows(char ***rows, size_t n, size_t ncols)
{
    for (size_t i = 0; rows != NULL && i < n; i++) {
        for (size_t c = 0; rows[i] && c < ncols; c++)
            free(rows[i][c]);
        free(rows[i]);
    }
    free(rows);
}

static char *short_hash(const char *hex)
{
    char b[13];
    snprintf(b, sizeof b, "%.12s", hex);
    return strdup(b);
}

/* "scores 1->2, users +3, old -" : a commit's table changes. */
static char *changes_text(const udr_table_change *ch, size_t n)
{
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    if (s == NULL)
        return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char item[256];
        if (ch[i].version_a == 0)
            snprintf(item, sizeof item, "%s+%llu", ch[i].table,
                     (unsigned long long)ch[i].version_b);
        else if (ch[i].version_b == 0)
            snprintf(item, sizeof item, "%s-", ch[i].table);
        else
            snprintf(item, sizeof item, "%s %llu->%llu", ch[i].table,
                     (unsigned long long)ch[i].version_a, (unsigned long long)ch[i].version_b);
        size_t k = strlen(item) + 2;
        if (len + k + 1 > cap) {
            cap = (len + k + 1) * 2;
            char *t = realloc(s, cap);
            if (t == NULL) {
                free(s);
                return NULL;
            }
            s = t;
        }
        len += (size_t)sprintf(s + len, "%s%s", i ? ", " : "", item);
    }
    return s;
}

/* Takes "--flag VALUE" at argv[*i]: 1 if taken, -1 if the value is missing. */
static int take_value(int argc, char **argv, int *i, const char *flag, const char **out,
                      const char *verb)
{
    if (strcmp(argv[*i], flag) != 0)
        return 0;
    if (*i + 1 >= argc) {
        out_usage(verb, "%s needs a value", flag);
        return -1;
    }
    *out = argv[++*i];
    return 1;
}

/* ---- branch ---------------------------------------------------------------- */

static const char BRANCH_HELP[] =
    "usage: udr branch [list] [--format table|csv|json]\n"
    "       udr branch create NAME [FROM_REF] [--description TEXT]\n"
    "       udr branch delete NAME [--force]\n"
    "\n"
    "Branches are names for lines of commits; each commit holds every table of\n"
    "its branch. Creating one copies no data. FROM_REF is a branch, a tag or a\n"
    "commit (hash or prefix, REF~N for N commits back); default: the current\n"
    "branch's head. delete refuses main, the current branch, and a branch whose\n"
    "commits no other branch or tag holds, unless --force.\n"
    "Names are like git's: letters, digits, . _ - and / between parts, e.g.\n"
    "feature/new-scoring.\n";

static int branch_list(cli *c, out_format fmt)
{
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    udr_branch_info *v;
    size_t n;
    if (udr_branch_list(repo, &v, &n) != UDR_OK) {
        int s = out_repo_error(repo);
        udr_close(repo);
        return s;
    }
    static const char *head[] = {"", "branch", "head", "tables", "created", "description"};
    static const int num[] = {0, 0, 0, 1, 0, 0};
    char ***rows = calloc(n + 1, sizeof *rows);
    for (size_t i = 0; rows && i < n; i++) {
        char t[32];
        rows[i] = calloc(6, sizeof **rows);
        if (rows[i] == NULL)
            continue;
        rows[i][0] = strdup(v[i].current ? "*" : v[i].working ? "+" : "");
        rows[i][1] = strdup(v[i].name);
        rows[i][2] = v[i].has_head ? short_hash(v[i].head) : strdup("(no commits)");
        rows[i][3] = v[i].broken ? strdup("BROKEN") : u64s(v[i].tables);
        rows[i][4] = strdup(v[i].created_us ? out_time(v[i].created_us, t, sizeof t) : "");
        rows[i][5] = strdup(v[i].broken ? v[i].broken : v[i].description);
    }
    if (rows)
        out_grid(head, 6, num, rows, n, fmt, stdout);
    free_rows(rows, n, 6);
    udr_branch_info_free(v, n);
    udr_close(repo);
    return EXIT_OK;
}

int cmd_branch(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(BRANCH_HELP, stdout);
        return EXIT_OK;
    }
    out_format fmt = FMT_DEFAULT;
    const char *sub = NULL, *pos[2] = {NULL, NULL}, *desc = NULL;
    int npos = 0, force = 0;
    for (int i = 1; i < argc; i++) {
        int t = out_take_format(argc, argv, &i, &fmt, "branch ");
        if (t == 0)
            t = take_value(argc, argv, &i, "--description", &desc, "branch ");
        if (t < 0)
            return EXIT_USAGE;
        if (t > 0)
            continue;
        if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0)
            force = 1;
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return out_usage("branch ", "unknown option '%s'", argv[i]);
        else if (sub == NULL)
            sub = argv[i];
        else if (npos < 2)
            pos[npos++] = argv[i];
        else
            return out_usage("branch ", "unexpected argument '%s'", argv[i]);
    }
    if (sub == NULL || strcmp(sub, "list") == 0) {
        if (npos > 0)
            return out_usage("branch ", "branch list takes no names");
        return branch_list(c, fmt);
    }
    int create = strcmp(sub, "create") == 0, del = strcmp(sub, "delete") == 0;
    if (!create && !del)
        return out_usage("branch ", "'%s' is not list, create or delete", sub);
    if (npos < 1 || (del && npos > 1))
        return out_usage("branch ", "branch %s needs a NAME", sub);
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int rc = create ? udr_branch_create(repo, pos[0], pos[1], desc)
                    : udr_branch_delete(repo, pos[0], force);
    int status = rc == UDR_OK ? EXIT_OK : out_repo_error(repo);
    if (rc == UDR_OK && !c->quiet)
        printf("%s branch %s%s%s\n", create ? "created" : "deleted", pos[0],
               create && pos[1] ? " at " : "", create && pos[1] ? pos[1] : "");
    udr_close(repo);
    return status;
}

/* ---- checkout ---------------------------------------------------------------- */

int cmd_checkout(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        puts("usage: udr checkout BRANCH\n\nMakes BRANCH the repository's current branch: "
             "commands (and every process\nopening the repository) then read and write it. "
             "--branch NAME on any\ncommand works on another branch for that command only.");
        return EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-')
        return out_usage("checkout ", "checkout needs one BRANCH");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int rc = udr_checkout(repo, argv[1]);
    int status = rc == UDR_OK ? EXIT_OK : out_repo_error(repo);
    if (rc == UDR_OK && !c->quiet)
        printf("on branch %s\n", argv[1]);
    udr_close(repo);
    return status;
}

/* ---- tag --------------------------------------------------------------------- */

int cmd_tag(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        puts("usage: udr tag [--format table|csv|json]      list the tags\n"
             "       udr tag NAME [REF] [-m MESSAGE]        tag a commit (default: the "
             "current head)\n"
             "       udr tag delete NAME\n\nA tag names one commit for good: "
             "\"users@v1.0\" reads users as it was there.");
        return EXIT_OK;
    }
    out_format fmt = FMT_DEFAULT;
    const char *pos[3] = {NULL, NULL, NULL}, *msg = NULL;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        int t = out_take_format(argc, argv, &i, &fmt, "tag ");
        if (t == 0)
            t = take_value(argc, argv, &i, "-m", &msg, "tag ");
        if (t == 0)
            t = take_value(argc, argv, &i, "--message", &msg, "tag ");
        if (t < 0)
            return EXIT_USAGE;
        if (t > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return out_usage("tag ", "unknown option '%s'", argv[i]);
        if (npos >= 3)
            return out_usage("tag ", "unexpected argument '%s'", argv[i]);
        pos[npos++] = argv[i];
    }
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int status = EXIT_OK;
    if (npos == 0) {
        udr_tag_info *v;
        size_t n;
        if (udr_tag_list(repo, &v, &n) != UDR_OK) {
            status = out_repo_error(repo);
        } else {
            static const char *head[] = {"tag", "commit", "time", "message"};
            static const int num[] = {0, 0, 0, 0};
            char ***rows = calloc(n + 1, sizeof *rows);
            for (size_t i = 0; rows && i < n; i++) {
                char t[32];
                rows[i] = calloc(4, sizeof **rows);
                if (rows[i] == NULL)
                    continue;
                rows[i][0] = strdup(v[i].name);
                rows[i][1] = short_hash(v[i].commit);
                rows[i][2] = strdup(out_time(v[i].time_us, t, sizeof t));
                rows[i][3] = strdup(v[i].message);
            }
            if (rows)
                out_grid(head, 4, num, rows, n, fmt, stdout);
            free_rows(rows, n, 4);
            udr_tag_info_free(v, n);
        }
    } else if (strcmp(pos[0], "delete") == 0 && npos == 2) {
        if (udr_tag_delete(repo, pos[1]) != UDR_OK)
            status = out_repo_error(repo);
        else if (!c->quiet)
            printf("deleted tag %s\n", pos[1]);
    } else if (npos <= 2) {
        if (udr_tag_create(repo, pos[0], pos[1], msg) != UDR_OK)
            status = out_repo_error(repo);
        else if (!c->quiet)
            printf("tagged %s as %s\n", pos[1] ? pos[1] : udr_branch_current(repo), pos[0]);
    } else {
        status = out_usage("tag ", "unexpected argument '%s'", pos[2]);
    }
    udr_close(repo);
    return status;
}

/* ---- log, show, diff of commits ---------------------------------------------- */

/* The graph columns of `log --graph`: which commit each column waits for. */
typedef struct graph {
    char (*col)[UDR_HASH_HEX + 1];
    size_t n, cap;
} graph;

static size_t graph_find(const graph *g, const char *h)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->col[i], h) == 0)
            return i;
    return g->n;
}

static int graph_insert(graph *g, size_t at, const char *h)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        void *p = realloc(g->col, cap * sizeof *g->col);
        if (p == NULL)
            return -1;
        g->col = p;
        g->cap = cap;
    }
    memmove(&g->col[at + 1], &g->col[at], (g->n - at) * sizeof *g->col);
    snprintf(g->col[at], sizeof g->col[at], "%s", h);
    g->n++;
    return 0;
}

static void graph_remove(graph *g, size_t at)
{
    memmove(&g->col[at], &g->col[at + 1], (g->n - at - 1) * sizeof *g->col);
    g->n--;
}

static void graph_bars(size_t n, size_t star, FILE *to)
{
    for (size_t i = 0; i < n; i++)
        fputs(i == star ? "* " : "| ", to);
}

/* One commit of `log --graph`, with the lines that join or fork columns. */
static void graph_commit(graph *g, const udr_commit_info *ci, const char *text, FILE *to)
{
    size_t at = graph_find(g, ci->hash);
    if (at == g->n)
        graph_insert(g, g->n, ci->hash);
    graph_bars(g->n, at, to);
    fprintf(to, " %s\n", text);
    if (ci->nparents == 0) {
        graph_remove(g, at);
        return;
    }
    snprintf(g->col[at], sizeof g->col[at], "%s", ci->parents[0]);
    if (ci->nparents == 2 && graph_find(g, ci->parents[1]) == g->n) {
        graph_insert(g, at + 1, ci->parents[1]);
        for (size_t i = 0; i < at; i++)
            fputs("| ", to);
        fputs("|\\\n", to);
    }
    /* Two columns waiting for the same commit become one. */
    for (size_t i = 0; i < g->n; i++)
        for (size_t j = i + 1; j < g->n; j++)
            if (strcmp(g->col[i], g->col[j]) == 0) {
                for (size_t k = 0; k < j; k++)
                    fputs(k + 1 == j ? "|/" : "| ", to);
                fputc('\n', to);
                graph_remove(g, j);
                j--;
            }
}

int cmd_commit_log(cli *c, udr_repo *repo, const char *ref, size_t max, int want_graph,
                   out_format fmt)
{
    (void)c;
    udr_commit_info *v;
    size_t n;
    if (udr_log(repo, ref, max, &v, &n) != UDR_OK)
        return out_repo_error(repo);
    if (want_graph || out_resolve(fmt) == FMT_TABLE) {
        graph g = {0};
        for (size_t i = 0; i < n; i++) {
            char t[32], line[1024];
            char *ch = changes_text(v[i].changes, v[i].nchanges);
            snprintf(line, sizeof line, "%.12s %s %-10s %s%s%s%s", v[i].hash,
                     out_time(v[i].time_us, t, sizeof t), v[i].author[0] ? v[i].author : "?",
                     v[i].message, ch && ch[0] ? "  [" : "", ch ? ch : "",
                     ch && ch[0] ? "]" : "");
            free(ch);
            if (want_graph)
                graph_commit(&g, &v[i], line, stdout);
            else
                printf("%s%s\n", line,
                       v[i].nparents == 2 ? "  (merge)" : "");
        }
        free(g.col);
    } else {
        static const char *head[] = {"commit", "parents", "time", "author", "message", "tables"};
        static const int num[] = {0, 0, 0, 0, 0, 0};
        char ***rows = calloc(n + 1, sizeof *rows);
        for (size_t i = 0; rows && i < n; i++) {
            char t[32], parents[2 * UDR_HASH_HEX + 2];
            rows[i] = calloc(6, sizeof **rows);
            if (rows[i] == NULL)
                continue;
            snprintf(parents, sizeof parents, "%s%s%s", v[i].nparents > 0 ? v[i].parents[0] : "",
                     v[i].nparents > 1 ? " " : "", v[i].nparents > 1 ? v[i].parents[1] : "");
            rows[i][0] = strdup(v[i].hash);
            rows[i][1] = strdup(parents);
            rows[i][2] = strdup(out_time(v[i].time_us, t, sizeof t));
            rows[i][3] = strdup(v[i].author);
            rows[i][4] = strdup(v[i].message);
            rows[i][5] = changes_text(v[i].changes, v[i].nchanges);
        }
        if (rows)
            out_grid(head, 6, num, rows, n, fmt, stdout);
        free_rows(rows, n, 6);
    }
    udr_commit_info_free(v, n);
    return EXIT_OK;
}

int cmd_commit_show(cli *c, udr_repo *repo, const char *ref)
{
    (void)c;
    udr_commit_info *ci;
    if (udr_commit_show(repo, ref, &ci) != UDR_OK)
        return out_repo_error(repo);
    char t[32];
    printf("commit   %s\n", ci->hash);
    for (int i = 0; i < ci->nparents; i++)
        printf("parent   %s\n", ci->parents[i]);
    printf("time     %s\nauthor   %s\nmessage  %s\n\ntables changed\n",
           out_time(ci->time_us, t, sizeof t), ci->author[0] ? ci->author : "?", ci->message);
    for (size_t i = 0; i < ci->nchanges; i++) {
        const udr_table_change *ch = &ci->changes[i];
        if (ch->version_a == 0)
            printf("  %-24s added, version %llu\n", ch->table, (unsigned long long)ch->version_b);
        else if (ch->version_b == 0)
            printf("  %-24s removed (was version %llu)\n", ch->table,
                   (unsigned long long)ch->version_a);
        else
            printf("  %-24s version %llu -> %llu\n", ch->table,
                   (unsigned long long)ch->version_a, (unsigned long long)ch->version_b);
    }
    if (ci->nchanges == 0)
        printf("  (none)\n");
    udr_commit_info_free(ci, 1);
    return EXIT_OK;
}

int cmd_diff_refs(cli *c, udr_repo *repo, const char *a, const char *b, int rows,
                  out_format fmt)
{
    (void)c;
    udr_table_change *v;
    size_t n;
    if (udr_diff_refs(repo, a, b, &v, &n) != UDR_OK)
        return out_repo_error(repo);
    static const char *head[] = {"table", "change", "version_a", "version_b"};
    static const int num[] = {0, 0, 1, 1};
    char ***grid = calloc(n + 1, sizeof *grid);
    for (size_t i = 0; grid && i < n; i++) {
        grid[i] = calloc(4, sizeof **grid);
        if (grid[i] == NULL)
            continue;
        grid[i][0] = strdup(v[i].table);
        grid[i][1] = strdup(v[i].version_a == 0   ? "added"
                            : v[i].version_b == 0 ? "removed"
                                                  : "modified");
        grid[i][2] = v[i].version_a ? u64s(v[i].version_a) : NULL;
        grid[i][3] = v[i].version_b ? u64s(v[i].version_b) : NULL;
    }
    /* Without --rows, the table list is the output; with it, a heading. */
    if (grid && (!rows || out_resolve(fmt) == FMT_TABLE))
        out_grid(head, 4, num, grid, n, fmt, stdout);
    free_rows(grid, n, 4);
    int status = EXIT_OK;
    for (size_t i = 0; rows && i < n && status == EXIT_OK; i++) {
        if (v[i].version_a == 0 || v[i].version_b == 0)
            continue;
        char from[32], to[32];
        snprintf(from, sizeof from, "%llu", (unsigned long long)v[i].version_a);
        snprintf(to, sizeof to, "%llu", (unsigned long long)v[i].version_b);
        udr_diff d;
        udr_result *res = NULL;
        if (udr_table_diff(repo, v[i].table, from, to, NULL, &d, &res) != UDR_OK) {
            status = out_repo_error(repo);
            break;
        }
        FILE *hdr = out_resolve(fmt) == FMT_TABLE ? stdout : stderr;
        fprintf(hdr, "\n%s %s -> %s: %llu added, %llu removed, %llu modified\n", v[i].table,
                from, to, (unsigned long long)d.rows_added, (unsigned long long)d.rows_removed,
                (unsigned long long)d.rows_modified);
        out_result(res, fmt, stdout);
        udr_result_free(res);
    }
    udr_table_change_free(v, n);
    return status;
}

/* ---- merge, revert, reset ------------------------------------------------------ */

static const char MERGE_HELP[] =
    "usage: udr merge SOURCE [--into TARGET] [--strategy fail|ours|theirs] [-m MESSAGE]\n"
    "\n"
    "Merges SOURCE (a branch, tag or commit) into TARGET (default: the current\n"
    "branch). If TARGET has nothing SOURCE lacks, it moves to SOURCE (fast-\n"
    "forward). Otherwise each table is compared with the merge base: one changed\n"
    "on one side only is taken from that side; one changed on both is merged row\n"
    "by row by its primary key. A key both sides changed differently (an update\n"
    "against another update or a delete) is a conflict, as is a table without a\n"
    "key changed on both sides. With --strategy fail (the default) a conflict\n"
    "changes nothing and the conflicts are printed (table, key, base, ours,\n"
    "theirs); ours keeps TARGET's rows, theirs takes SOURCE's. The merge is one\n"
    "commit with two parents: interrupted, it has happened fully or not at all.\n";

int cmd_merge(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(MERGE_HELP, stdout);
        return EXIT_OK;
    }
    out_format fmt = FMT_DEFAULT;
    const char *source = NULL, *into = NULL, *strategy = "fail", *msg = NULL;
    for (int i = 1; i < argc; i++) {
        int t = out_take_format(argc, argv, &i, &fmt, "merge ");
        if (t == 0)
            t = take_value(argc, argv, &i, "--into", &into, "merge ");
        if (t == 0)
            t = take_value(argc, argv, &i, "--strategy", &strategy, "merge ");
        if (t == 0)
            t = take_value(argc, argv, &i, "-m", &msg, "merge ");
        if (t == 0)
            t = take_value(argc, argv, &i, "--message", &msg, "merge ");
        if (t < 0)
            return EXIT_USAGE;
        if (t > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return out_usage("merge ", "unknown option '%s'", argv[i]);
        if (source != NULL)
            return out_usage("merge ", "merge takes one SOURCE");
        source = argv[i];
    }
    if (source == NULL)
        return out_usage("merge ", "merge needs a SOURCE");
    udr_merge_strategy s;
    if (strcmp(strategy, "fail") == 0)
        s = UDR_MERGE_FAIL;
    else if (strcmp(strategy, "ours") == 0)
        s = UDR_MERGE_OURS;
    else if (strcmp(strategy, "theirs") == 0)
        s = UDR_MERGE_THEIRS;
    else
        return out_usage("merge ", "--strategy is fail, ours or theirs, not '%s'", strategy);
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    udr_merge_opts o = {into, s, msg, NULL};
    udr_merge_info mi;
    int rc = udr_merge(repo, source, &o, &mi);
    const char *target = into ? into : udr_branch_current(repo);
    int status = EXIT_OK;
    if (mi.conflict_rows != NULL) {
        fprintf(rc == UDR_OK ? stdout : stderr, "conflicts:\n");
        out_result(mi.conflict_rows, fmt, rc == UDR_OK ? stdout : stderr);
    }
    if (rc != UDR_OK) {
        status = out_repo_error(repo);
    } else if (!c->quiet) {
        if (mi.up_to_date)
            printf("%s is merged into %s already; nothing to do\n", source, target);
        else if (mi.fast_forward)
            printf("fast-forward: %s is now at %.12s\n", target, mi.commit);
        else if (mi.conflicts == 0)
            printf("merged %s into %s: commit %.12s (base %.12s); %zu table%s taken, %zu "
                   "merged by rows, no conflicts\n",
                   source, target, mi.commit, mi.base, mi.tables_taken,
                   mi.tables_taken == 1 ? "" : "s", mi.tables_merged);
        else
            printf("merged %s into %s: commit %.12s (base %.12s); %zu table%s taken, %zu "
                   "merged by rows, %llu conflict%s resolved by %s\n",
                   source, target, mi.commit, mi.base, mi.tables_taken,
                   mi.tables_taken == 1 ? "" : "s", mi.tables_merged,
                   (unsigned long long)mi.conflicts, mi.conflicts == 1 ? "" : "s", strategy);
    }
    udr_merge_info_clear(&mi);
    udr_close(repo);
    return status;
}

int cmd_revert(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        puts("usage: udr revert COMMIT [-m MESSAGE]\n\nMakes a new commit on the current "
             "branch that undoes COMMIT: each table\nit changed goes back to the version "
             "before it. Refused if such a table\nhas changed since.");
        return EXIT_OK;
    }
    const char *ref = NULL, *msg = NULL;
    for (int i = 1; i < argc; i++) {
        int t = take_value(argc, argv, &i, "-m", &msg, "revert ");
        if (t < 0)
            return EXIT_USAGE;
        if (t > 0)
            continue;
        if (argv[i][0] == '-' || ref != NULL)
            return out_usage("revert ", "unexpected argument '%s'", argv[i]);
        ref = argv[i];
    }
    if (ref == NULL)
        return out_usage("revert ", "revert needs a COMMIT");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    char commit[UDR_HASH_HEX + 1];
    int rc = udr_revert(repo, ref, msg, commit);
    int status = rc == UDR_OK ? EXIT_OK : out_repo_error(repo);
    if (rc == UDR_OK && !c->quiet)
        printf("reverted %s: commit %.12s\n", ref, commit);
    udr_close(repo);
    return status;
}

int cmd_reset(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        puts("usage: udr reset REF [--force]\n\nMoves the current branch to REF (a branch, "
             "tag or commit). Refused if\ncommits would be left that no branch or tag holds, "
             "unless --force.");
        return EXIT_OK;
    }
    const char *ref = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0)
            force = 1;
        else if (argv[i][0] == '-' || ref != NULL)
            return out_usage("reset ", "unexpected argument '%s'", argv[i]);
        else
            ref = argv[i];
    }
    if (ref == NULL)
        return out_usage("reset ", "reset needs a REF");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int rc = udr_reset(repo, ref, force);
    int status = rc == UDR_OK ? EXIT_OK : out_repo_error(repo);
    if (rc == UDR_OK && !c->quiet)
        printf("%s is now at %s\n", udr_branch_current(repo), ref);
    udr_close(repo);
    return status;
}
