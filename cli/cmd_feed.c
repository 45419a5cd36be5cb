/*
 * cmd_feed — verbs about the change feed: `udr changes` (what each commit did
 * to a table, as rows) and `udr subscribe` (durable cursors over the feed:
 * create, list, poll, ack, drop).
 *
 * `changes` is the SQL table function udr_changes() printed in a format.
 * `subscribe poll` walks the batches of udr_sub_poll: in the table format a
 * "-- commit ..." line per commit and table, then its rows; in JSON one object
 * a row (NDJSON), so that a consumer reads it line by line. With --follow it
 * polls again whenever the log grows (udr_wait: inotify, no CPU in between),
 * until SIGINT or SIGTERM, which end it cleanly with exit 0.
 *
 * Without --ack the cursor stays where it was: the loop remembers the log
 * position it printed through and polls after it (udr_sub_poll_after), so
 * each commit is printed once per run (a new run starts from the cursor
 * again: at least once).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ---- helpers -------------------------------------------------------------- */

/* Takes "--flag VALUE" or "--flag=VALUE" at argv[*i]: 1 if taken (moving *i),
 * 0 if argv[*i] is something else, -1 after a usage error. */
static int take_value(int argc, char **argv, int *i, const char *flag, const char **out,
                      const char *verb)
{
    size_t n = strlen(flag);
    if (strncmp(argv[*i], flag, n) == 0 && argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return 1;
    }
    if (strcmp(argv[*i], flag) != 0)
        return 0;
    if (*i + 1 >= argc) {
        out_usage(verb, "%s needs a value", flag);
        return -1;
    }
    *out = argv[++*i];
    return 1;
}

/* The SQL literal of a string ('it''s'), or NULL for a NULL string; *lit is
 * malloc'd. Returns -1 when memory runs out. */
static int literal(const char *s, char **lit)
{
    *lit = NULL;
    if (s == NULL)
        return 0;
    char *q = malloc(2 * strlen(s) + 3), *o = q;
    if (q == NULL)
        return -1;
    *o++ = '\'';
    for (; *s; s++) {
        if (*s == '\'')
            *o++ = '\'';
        *o++ = *s;
    }
    *o++ = '\'';
    *o = '\0';
    *lit = q;
    return 0;
}

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

/* A log position: decimal digits only, no sign, no overflow. */
static int parse_seq(const char *s, uint64_t *out)
{
    if (s[0] == '\0' || strspn(s, "0123456789") != strlen(s))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/* A count for --max: decimal digits, at most a billion. */
static int parse_count(const char *s, size_t *out)
{
    uint64_t v;
    if (parse_seq(s, &v) != 0 || v > 1000000000)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Splits "a,b, c" into table names (spaces around each trimmed): a
 * NULL-terminated array in one allocation (free it), *n names. NULL with
 * *n == 0 if a name is empty, NULL with *n == 1 when memory runs out. */
static char **split_names(const char *s, size_t *n)
{
    size_t cap = 1, len = strlen(s);
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    char **out = malloc((cap + 1) * sizeof *out + len + 1);
    *n = 1;
    if (out == NULL)
        return NULL;
    char *copy = (char *)(out + cap + 1);
    memcpy(copy, s, len + 1);
    size_t k = 0;
    for (char *part = copy;;) {
        char *comma = strchr(part, ',');
        if (comma != NULL)
            *comma = '\0';
        while (*part == ' ')
            part++;
        size_t plen = strlen(part);
        while (plen > 0 && part[plen - 1] == ' ')
            part[--plen] = '\0';
        if (plen == 0) {
            free(out);
            *n = 0;
            return NULL;
        }
        out[k++] = part;
        if (comma == NULL)
            break;
        part = comma + 1;
    }
    out[k] = NULL;
    *n = k;
    return out;
}

/* ---- JSON ----------------------------------------------------------------- */

/* 1 if s is a number as JSON writes one (DuckDB prints inf and nan too). */
static int json_number(const char *s)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        p += strspn(p, "0123456789");
    else
        return 0;
    if (*p == '.') {
        size_t d = strspn(++p, "0123456789");
        if (d == 0)
            return 0;
        p += d;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t d = strspn(p, "0123456789");
        if (d == 0)
            return 0;
        p += d;
    }
    return *p == '\0';
}

/* The SQL types whose values JSON writes bare: numbers and booleans. */
static int bare_type(const char *t)
{
    static const char *bare[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                                 "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
                                 "FLOAT", "DOUBLE", "BOOLEAN"};
    for (size_t i = 0; i < sizeof bare / sizeof bare[0]; i++)
        if (strcmp(t, bare[i]) == 0)
            return 1;
    return strncmp(t, "DECIMAL", 7) == 0;
}

/* One cell as a JSON value: null, a bare number or boolean, or a string. */
static void json_cell(FILE *to, const udr_result *r, uint64_t row, size_t col)
{
    char *v = udr_result_text(r, row, col);
    if (v == NULL) {
        fputs("null", to);
        return;
    }
    const char *type = udr_result_column_type(r, col);
    int is_bool = strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
    if (bare_type(type) && (json_number(v) || (strcmp(type, "BOOLEAN") == 0 && is_bool)))
        fputs(v, to);
    else
        out_json_string(to, v);
    udr_free(v);
}

/* "2026-11-25T10:00:00.123456Z" for microseconds since 1970. */
static const char *iso_time(int64_t us, char *buf, size_t size)
{
    int64_t s = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        s--;
        frac += 1000000;
    }
    time_t t = (time_t)s;
    struct tm tm;
    char day[32];
    gmtime_r(&t, &tm);
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%06lldZ", day, (long long)frac);
    return buf;
}

/* ---- changes -------------------------------------------------------------- */

static const char CHANGES_HELP[] =
    "usage: udr changes TABLE [--from REF] [--to REF] [--format table|csv|json]\n"
    "\n"
    "The change feed of TABLE on the current branch (--branch B: on B): what each\n"
    "commit did to it, as rows. Columns: _seq (the commit's log position), _version\n"
    "(the table's version after it), _time, _op (insert, delete, and for a table\n"
    "with a primary key update_before and update_after), then the table's columns.\n"
    "--from and --to (both included) are a version number of TABLE (the commit\n"
    "that made it), a commit (branch, tag, hash or prefix) or an ISO 8601 time;\n"
    "by default from the beginning (the first version's rows are inserts) to the\n"
    "branch's head. The same in SQL: SELECT * FROM udr_changes('TABLE', from, to).\n";

int cmd_changes(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(CHANGES_HELP, stdout);
        return EXIT_OK;
    }
    out_format fmt = FMT_DEFAULT;
    const char *table = NULL, *from = NULL, *to = NULL;
    for (int i = 1; i < argc; i++) {
        int t = out_take_format(argc, argv, &i, &fmt, "changes ");
        if (t == 0)
            t = take_value(argc, argv, &i, "--from", &from, "changes ");
        if (t == 0)
            t = take_value(argc, argv, &i, "--to", &to, "changes ");
        if (t < 0)
            return EXIT_USAGE;
        if (t > 0)
            continue;
        if ((argv[i][0] == '-' && argv[i][1] != '\0') || table != NULL)
            return out_usage("changes ", "unexpected argument '%s'", argv[i]);
        table = argv[i];
    }
    if (table == NULL)
        return out_usage("changes ", "changes needs a TABLE");
    char *lt, *lf, *lto;
    if (literal(table, &lt) || literal(from, &lf) || literal(to, &lto))
        return out_error("out of memory");
    size_t len = strlen(lt) + (lf ? strlen(lf) : 4) + (lto ? strlen(lto) : 4) + 64;
    char *sql = malloc(len);
    if (sql != NULL)
        snprintf(sql, len, "SELECT * FROM udr_changes(%s, %s, %s)", lt, lf ? lf : "NULL",
                 lto ? lto : "NULL");
    free(lt);
    free(lf);
    free(lto);
    if (sql == NULL)
        return out_error("out of memory");
    udr_repo *repo = cli_open_repo(c);
    int status = EXIT_FAIL;
    if (repo != NULL) {
        udr_result *r = NULL;
        if (udr_query(repo, sql, NULL, 0, &r) != UDR_OK) {
            out_repo_error(repo);
        } else {
            out_result(r, fmt, stdout);
            status = EXIT_OK;
        }
        udr_result_free(r);
        udr_close(repo);
    }
    free(sql);
    return status;
}

/* ---- subscribe create, list, drop, ack ------------------------------------- */

static const char SUBSCRIBE_HELP[] =
    "usage: udr subscribe create NAME --tables T1,T2 [--from beginning|now|COMMIT]\n"
    "                            [--branch B]\n"
    "       udr subscribe list [--format table|csv|json]\n"
    "       udr subscribe poll NAME [--max N] [--ack] [--follow] [--format table|json]\n"
    "       udr subscribe ack NAME SEQ\n"
    "       udr subscribe drop NAME\n"
    "\n"
    "A subscription is a named, durable cursor in the repository's log over some\n"
    "tables of one branch (default: the current one). poll prints the changes\n"
    "committed after the cursor, commit by commit; ack SEQ moves the cursor there\n"
    "(SEQ: a log position poll printed, e.g. the 12 of \"-- commit 12\", or JSON's\n"
    "\"seq\"), so that the next poll starts after it. Delivery is at least once:\n"
    "what was polled and not acknowledged comes again.\n"
    "--from: beginning (the default: the first poll replays the tables' whole\n"
    "history), now (only commits after this one), or a commit (it and after).\n"
    "Names are like branch names. See 'udr subscribe poll --help'.\n";

static const char POLL_HELP[] =
    "usage: udr subscribe poll NAME [--max N] [--ack] [--follow] [--format table|json]\n"
    "\n"
    "Prints the changes after the subscription's cursor. Table format (the\n"
    "default): for each commit and table a line\n"
    "  -- commit SEQ (TIME) TABLE FROM -> TO: N rows\n"
    "and its rows (_op, then the table's columns). JSON: one object a line,\n"
    "  {\"seq\", \"time\", \"commit\", \"table\", \"version\", \"op\", \"row\": {...}}.\n"
    "  --max N    at most N commits a poll (0, the default: all there are)\n"
    "  --ack      then acknowledge what was printed; a crash before that prints\n"
    "             it again next time (at least once)\n"
    "  --follow   go on: wait for commits (using no CPU) and print them as they\n"
    "             come, until SIGINT or SIGTERM (exit 0). Without --ack the\n"
    "             cursor stays; each commit is printed once a run.\n";

static int sub_create(cli *c, int argc, char **argv)
{
    const char *name = NULL, *tables = NULL, *from = NULL;
    for (int i = 1; i < argc; i++) {
        int t = take_value(argc, argv, &i, "--tables", &tables, "subscribe ");
        if (t == 0)
            t = take_value(argc, argv, &i, "--from", &from, "subscribe ");
        if (t < 0)
            return EXIT_USAGE;
        if (t > 0)
            continue;
        if ((argv[i][0] == '-' && argv[i][1] != '\0') || name != NULL)
            return out_usage("subscribe ", "unexpected argument '%s'", argv[i]);
        name = argv[i];
    }
    if (name == NULL || tables == NULL)
        return out_usage("subscribe ", "subscribe create needs a NAME and --tables T1,T2");
    size_t n;
    char **names = split_names(tables, &n);
    if (names == NULL)
        return n == 0 ? out_usage("subscribe ", "--tables needs table names separated by "
                                                "commas, not '%s'",
                                  tables)
                      : out_error("out of memory");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL) {
        free(names);
        return EXIT_FAIL;
    }
    int status = EXIT_OK;
    if (udr_sub_create(repo, name, (const char *const *)names, n, c->branch, from) != UDR_OK) {
        status = out_repo_error(repo);
    } else if (!c->quiet) {
        printf("created subscription %s on branch %s (table%s ", name,
               c->branch ? c->branch : udr_branch_current(repo), n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
            printf("%s%s", i ? ", " : "", names[i]);
        if (from == NULL || strcmp(from, "beginning") == 0)
            printf("), from the beginning\n");
        else if (strcmp(from, "now") == 0)
            printf("), from now on\n");
        else
            printf("), from %s\n", from);
    }
    free(names);
    udr_close(repo);
    return status;
}

static char *join_tables(char *const *t, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(t[i]) + 2;
    char *s = malloc(len), *o = s;
    if (s == NULL)
        return NULL;
    *o = '\0';
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, "%s%s", i ? ", " : "", t[i]);
    return s;
}

static int sub_list(cli *c, int argc, char **argv)
{
    out_format fmt = FMT_DEFAULT;
    for (int i = 1; i < argc; i++) {
        int t = out_take_format(argc, argv, &i, &fmt, "subscribe ");
        if (t < 0)
            return EXIT_USAGE;
        if (t == 0)
            return out_usage("subscribe ", "unexpected argument '%s'", argv[i]);
    }
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    udr_sub_info *v;
    size_t n;
    if (udr_sub_list(repo, &v, &n) != UDR_OK) {
        int s = out_repo_error(repo);
        udr_close(repo);
        return s;
    }
    static const char *head[] = {"name", "branch", "tables", "cursor", "pending", "created"};
    static const int num[] = {0, 0, 0, 1, 1, 0};
    char ***rows = calloc(n + 1, sizeof *rows);
    for (size_t i = 0; rows && i < n; i++) {
        char t[32];
        rows[i] = calloc(6, sizeof **rows);
        if (rows[i] == NULL)
            continue;
        rows[i][0] = strdup(v[i].name);
        rows[i][1] = strdup(v[i].branch);
        rows[i][2] = join_tables(v[i].tables, v[i].ntables);
        rows[i][3] = u64s(v[i].cursor);
        rows[i][4] = u64s(v[i].pending);
        rows[i][5] = strdup(out_time(v[i].created_us, t, sizeof t));
    }
    int status = EXIT_OK;
    if (rows)
        out_grid(head, 6, num, rows, n, fmt, stdout);
    else
        status = out_error("out of memory");
    free_rows(rows, n, 6);
    udr_sub_info_free(v, n);
    udr_close(repo);
    return status;
}

static int sub_drop(cli *c, int argc, char **argv)
{
    if (argc != 2 || (argv[1][0] == '-' && argv[1][1] != '\0'))
        return out_usage("subscribe ", "subscribe drop needs one NAME");
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int rc = udr_sub_drop(repo, argv[1]);
    int status = rc == UDR_OK ? EXIT_OK : out_repo_error(repo);
    if (rc == UDR_OK && !c->quiet)
        printf("dropped subscription %s\n", argv[1]);
    udr_close(repo);
    return status;
}

static int sub_ack(cli *c, int argc, char **argv)
{
    if (argc != 3 || (argv[1][0] == '-' && argv[1][1] != '\0'))
        return out_usage("subscribe ", "subscribe ack needs a NAME and a SEQ");
    uint64_t seq;
    if (parse_seq(argv[2], &seq) != 0)
        return out_usage("subscribe ", "SEQ is a log position (a decimal number), not '%s'",
                         argv[2]);
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    int rc = udr_sub_ack(repo, argv[1], seq);
    int status = rc == UDR_OK ? EXIT_OK : out_repo_error(repo);
    if (rc == UDR_OK && !c->quiet)
        printf("subscription %s acknowledged through %llu\n", argv[1], (unsigned long long)seq);
    udr_close(repo);
    return status;
}

/* ---- subscribe poll ------------------------------------------------------- */

typedef struct poll_opts {
    const char *name;
    size_t max_commits;        /* a poll's commits (0: all) */
    int ack, follow, quiet;
    out_format fmt;            /* FMT_TABLE or FMT_JSON */
} poll_opts;

/* The signal that asks a follow to end (0: none yet); read after each batch
 * and each wait.
 *
 * DuckDB's threads could take a process-directed SIGINT or SIGTERM and
 * leave the main thread asleep in udr_wait. So both are blocked from the
 * start (threads made later inherit that), and one thread of ours takes
 * them with sigwait: it sets the flag, then pokes the main thread with
 * SIGUSR1 (a handler that does nothing, without SA_RESTART, so the wait
 * returns) every 100 ms until the process ends: a poke that lands just
 * before the wait blocks is followed by another. No timer runs while
 * nothing happens. */
static volatile sig_atomic_t stop_signal;
static pthread_t main_thread;

static void on_poke(int sig)
{
    (void)sig;
}

static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    int sig = 0;
    if (sigwait(set, &sig) != 0)
        return NULL;
    stop_signal = sig;
    for (;;) {
        pthread_kill(main_thread, SIGUSR1);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int catch_stop_signals(void)
{
    static sigset_t set;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_poke;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    main_thread = pthread_self();
    pthread_t th;
    if (sigaction(SIGUSR1, &sa, NULL) != 0 || pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        pthread_create(&th, NULL, signal_thread, &set) != 0)
        return out_error("cannot catch SIGINT and SIGTERM: %s", strerror(errno));
    pthread_detach(th);
    return EXIT_OK;
}

static void print_versions(const udr_change_batch *b)
{
    if (b->from_version == 0)
        printf("(new) -> %llu", (unsigned long long)b->version);
    else if (b->version == 0)
        printf("%llu -> (dropped)", (unsigned long long)b->from_version);
    else
        printf("%llu -> %llu", (unsigned long long)b->from_version,
               (unsigned long long)b->version);
}

/* "-- commit 12 (2026-11-25 10:00:00) users 3 -> 4: 2 rows", then the rows. */
static void print_batch_table(const udr_change_batch *b)
{
    char t[32];
    uint64_t n = udr_result_rows(b->rows);
    printf("-- commit %llu (%s) %s ", (unsigned long long)b->seq,
           out_time(b->time_us, t, sizeof t), b->table);
    print_versions(b);
    printf(": %llu row%s\n", (unsigned long long)n, n == 1 ? "" : "s");
    out_result(b->rows, FMT_TABLE, stdout);
    putchar('\n');
}

/* One line per row: {"seq":12,"time":"...","commit":"...","table":"users",
 * "version":4,"op":"insert","row":{"id":1,...}}. */
static void print_batch_json(const udr_change_batch *b)
{
    char t[48];
    size_t nc = udr_result_columns(b->rows), op = nc;
    for (size_t c = 0; c < nc; c++)
        if (strcmp(udr_result_column_name(b->rows, c), "_op") == 0)
            op = c;
    iso_time(b->time_us, t, sizeof t);
    for (uint64_t r = 0; r < udr_result_rows(b->rows); r++) {
        printf("{\"seq\":%llu,\"time\":\"%s\",\"commit\":\"%s\",\"table\":",
               (unsigned long long)b->seq, t, b->commit);
        out_json_string(stdout, b->table);
        if (b->version == 0)
            fputs(",\"version\":null", stdout);
        else
            printf(",\"version\":%llu", (unsigned long long)b->version);
        fputs(",\"op\":", stdout);
        if (op < nc)
            json_cell(stdout, b->rows, r, op);
        else
            fputs("null", stdout);
        fputs(",\"row\":{", stdout);
        int first = 1;
        for (size_t c = 0; c < nc; c++) {
            if (c == op)
                continue;
            if (!first)
                fputc(',', stdout);
            first = 0;
            out_json_string(stdout, udr_result_column_name(b->rows, c));
            fputc(':', stdout);
            json_cell(stdout, b->rows, r, c);
        }
        fputs("}}\n", stdout);
    }
}

/* Flushes stdout; EXIT_FAIL, said, if the output could not be written (then
 * nothing may be acknowledged). */
static int flush_output(void)
{
    if (fflush(stdout) != 0 || ferror(stdout))
        return out_error("cannot write the output: %s", strerror(errno));
    return EXIT_OK;
}

/* One poll: prints the batches after log position *shown, at most
 * o->max_commits commits of them, acknowledges with --ack, and moves *shown
 * to the position everything printed is complete through. */
static int poll_once(udr_repo *repo, const poll_opts *o, uint64_t *shown)
{
    /* Each poll starts after what this run printed (without --ack the
     * cursor stays where it was). */
    udr_changes *it;
    if (udr_sub_poll_after(repo, o->name, *shown, o->max_commits, &it) != UDR_OK)
        return out_repo_error(repo);
    uint64_t start = udr_changes_position(it);  /* nothing read yet: the cursor */
    uint64_t last_seq = 0, stop_at = 0;
    size_t commits = 0, batches = 0;
    const udr_change_batch *b = NULL;
    int rc = UDR_OK, status = EXIT_OK;
    while (!stop_signal && (rc = udr_changes_next(it, &b)) == UDR_OK && b != NULL) {
        if (b->seq <= *shown)
            continue;
        if (b->seq != last_seq) {
            if (o->max_commits > 0 && commits == o->max_commits) {
                stop_at = b->seq;      /* the first commit not printed */
                break;
            }
            commits++;
            last_seq = b->seq;
        }
        if (o->fmt == FMT_JSON)
            print_batch_json(b);
        else
            print_batch_table(b);
        batches++;
        if (o->follow && (status = flush_output()) != EXIT_OK)
            break;
    }
    /* After a failed step nothing is acknowledged: the position may be past it. */
    if (status == EXIT_OK && rc != UDR_OK)
        status = out_repo_error(repo);
    if (status == EXIT_OK)
        status = flush_output();
    if (status != EXIT_OK) {
        udr_changes_close(it);
        return status;
    }
    /* Complete through here: every commit up to it printed (or skipped). */
    uint64_t pos = stop_at ? stop_at - 1 : udr_changes_position(it);
    udr_changes_close(it);
    if (batches == 0 && !o->follow && !o->quiet && o->fmt == FMT_TABLE)
        printf("-- no new changes after log position %llu\n", (unsigned long long)start);
    /* An acknowledgement is a log record: in a follow, one for a poll that
     * printed nothing would wake the wait, poll, and acknowledge again. */
    if (o->ack && pos > start && (batches > 0 || !o->follow)) {
        if (udr_sub_ack(repo, o->name, pos) != UDR_OK)
            return out_repo_error(repo);
        if (!o->quiet && o->fmt == FMT_TABLE)
            printf("-- acknowledged through %llu\n", (unsigned long long)pos);
    }
    if (pos > *shown)
        *shown = pos;
    return flush_output();
}

static int sub_poll(cli *c, int argc, char **argv)
{
    poll_opts o = {NULL, 0, 0, 0, c->quiet, FMT_DEFAULT};
    for (int i = 1; i < argc; i++) {
        const char *max = NULL;
        int t = out_take_format(argc, argv, &i, &o.fmt, "subscribe poll ");
        if (t == 0)
            t = take_value(argc, argv, &i, "--max", &max, "subscribe poll ");
        if (t < 0)
            return EXIT_USAGE;
        if (max != NULL && parse_count(max, &o.max_commits) != 0)
            return out_usage("subscribe poll ", "--max needs a number of commits, not '%s'",
                             max);
        if (t > 0)
            continue;
        if (strcmp(argv[i], "--ack") == 0)
            o.ack = 1;
        else if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0)
            o.follow = 1;
        else if ((argv[i][0] == '-' && argv[i][1] != '\0') || o.name != NULL)
            return out_usage("subscribe poll ", "unexpected argument '%s'", argv[i]);
        else
            o.name = argv[i];
    }
    if (o.name == NULL)
        return out_usage("subscribe poll ", "subscribe poll needs a NAME");
    /* Plain lines whatever stdout is: the same on a terminal and in a pipe. */
    if (o.fmt == FMT_DEFAULT)
        o.fmt = FMT_TABLE;
    if (o.fmt == FMT_CSV)
        return out_usage("subscribe poll ", "poll prints table or json, not csv");
    if (o.follow && catch_stop_signals() != EXIT_OK)
        return EXIT_FAIL;
    udr_repo *repo = cli_open_repo(c);
    if (repo == NULL)
        return EXIT_FAIL;
    uint64_t shown = 0;
    int status;
    while ((status = poll_once(repo, &o, &shown)) == EXIT_OK && o.follow && !stop_signal) {
        /* 0: a poke from the signal thread (or nothing new): look again. */
        int w = 0;
        while (!stop_signal && (w = udr_wait(repo, shown, -1)) == 0) {
        }
        if (w < 0 && !stop_signal) {
            status = out_repo_error(repo);
            break;
        }
    }
    udr_close(repo);
    fflush(stdout);
    return status;
}

/* ---- subscribe -------------------------------------------------------------- */

int cmd_subscribe(cli *c, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(cli *, int, char **);
    } subs[] = {
        {"create", sub_create}, {"list", sub_list}, {"poll", sub_poll},
        {"ack", sub_ack},       {"drop", sub_drop},
    };
    int k = -1;
    for (size_t i = 0; argc > 1 && i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            k = (int)i;
    if (out_wants_help(argc, argv)) {
        fputs(k >= 0 && strcmp(subs[k].name, "poll") == 0 ? POLL_HELP : SUBSCRIBE_HELP,
              stdout);
        return EXIT_OK;
    }
    if (argc < 2)
        return out_usage("subscribe ", "subscribe needs create, list, poll, ack or drop");
    if (k < 0)
        return out_usage("subscribe ", "'%s' is not create, list, poll, ack or drop", argv[1]);
    return subs[k].fn(c, argc - 1, argv + 1);
}
