/*
 * out — how the udr tool speaks: errors on stderr, progress on terminals.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int out_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("udr: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_FAIL;
}

int out_usage(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("udr: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'udr %s--help')\n", verb ? verb : "");
    va_end(ap);
    return EXIT_USAGE;
}

int out_repo_error(udr_repo *repo)
{
    return out_error("%s", udr_errmsg(repo));
}

int out_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

udr_repo *cli_open_repo(cli *c)
{
    udr_repo *repo;
    if (udr_open(c->repo_dir, &repo) != UDR_OK) {
        out_repo_error(repo);
        udr_close(repo);
        return NULL;
    }
    if (c->branch != NULL && udr_use_branch(repo, c->branch) != UDR_OK) {
        out_repo_error(repo);
        udr_close(repo);
        return NULL;
    }
    udr_open_report rep;
    udr_open_report_get(repo, &rep);
    if (rep.torn_log_bytes > 0)
        fprintf(stderr,
                "udr: warning: the log of %s ended in a record cut short by a crash (%llu "
                "bytes); it was removed, and every commit before it is intact\n",
                c->repo_dir, (unsigned long long)rep.torn_log_bytes);
    return repo;
}

const char *out_bytes(uint64_t n, char *buf, int size)
{
    static const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, (size_t)size, "%llu bytes", (unsigned long long)n);
    else
        snprintf(buf, (size_t)size, "%.1f %s", v, units[u]);
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_begin(progress *p, const cli *c)
{
    p->on = !c->quiet && isatty(STDERR_FILENO);
    p->start_s = p->last_s = now_s();
    p->shown = 0;
}

void progress_update(progress *p, const char *what, uint64_t count, const char *unit,
                     uint64_t bytes)
{
    if (!p->on)
        return;
    double t = now_s();
    if (t - p->last_s < 0.1 && p->shown)
        return;                /* at most ten updates a second */
    p->last_s = t;
    p->shown = 1;
    char b[32], r[32];
    double el = t - p->start_s;
    fprintf(stderr, "\r%s: %llu %s, %s, %s/s   ", what, (unsigned long long)count, unit,
            out_bytes(bytes, b, sizeof b),
            out_bytes(el > 0 ? (uint64_t)((double)bytes / el) : 0, r, sizeof r));
    fflush(stderr);
}

void progress_end(progress *p)
{
    if (p->on && p->shown)
        fputs("\r\033[K", stderr);
    p->shown = 0;
}

static void on_work(void *ctx, const udr_work_progress *p)
{
    work_progress *w = ctx;
    if (p->done)
        return;                /* the verb prints its own summary */
    char what[256], unit[64];
    snprintf(what, sizeof what, "%s %s: %s", w->verb, p->table ? p->table : "", p->phase);
    if (p->chunks)
        snprintf(what + strlen(what), sizeof what - strlen(what), ", %llu chunks",
                 (unsigned long long)p->chunks);
    if (p->total_rows)
        snprintf(unit, sizeof unit, "of %llu rows", (unsigned long long)p->total_rows);
    else
        snprintf(unit, sizeof unit, "rows");
    if (strncmp(w->phase, p->phase, sizeof w->phase) != 0) {
        snprintf(w->phase, sizeof w->phase, "%s", p->phase);
        w->prog.last_s = 0;    /* a new phase passes the rate limit */
    }
    progress_update(&w->prog, what, p->rows, unit, p->bytes);
}

void work_attach(work_progress *w, const cli *c, udr_repo *repo, const char *verb)
{
    progress_begin(&w->prog, c);
    w->verb = verb;
    w->phase[0] = '\0';
    if (w->prog.on)
        udr_progress_set(repo, on_work, w);
}

void work_detach(work_progress *w, udr_repo *repo)
{
    udr_progress_set(repo, NULL, NULL);
    progress_end(&w->prog);
}

/* ---- output formats ------------------------------------------------------ */

int out_parse_format(const char *s)
{
    if (strcmp(s, "table") == 0)
        return FMT_TABLE;
    if (strcmp(s, "csv") == 0)
        return FMT_CSV;
    if (strcmp(s, "json") == 0)
        return FMT_JSON;
    return -1;
}

out_format out_resolve(out_format f)
{
    if (f != FMT_DEFAULT)
        return f;
    return isatty(STDOUT_FILENO) ? FMT_TABLE : FMT_CSV;
}

int out_take_format(int argc, char **argv, int *i, out_format *f, const char *verb)
{
    const char *v = NULL;
    if (strcmp(argv[*i], "--format") == 0) {
        if (*i + 1 >= argc) {
            out_usage(verb, "--format needs table, csv or json");
            return -1;
        }
        v = argv[++*i];
    } else if (strncmp(argv[*i], "--format=", 9) == 0) {
        v = argv[*i] + 9;
    } else {
        return 0;
    }
    int p = out_parse_format(v);
    if (p < 0) {
        out_usage(verb, "unknown format '%s' (table, csv or json)", v);
        return -1;
    }
    *f = (out_format)p;
    return 1;
}

const char *out_time(int64_t us, char *buf, int size)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, (size_t)size, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

/* 1 for a code point that terminals draw two columns wide (East Asian wide
 * and full-width forms, most emoji). */
static int wide(unsigned cp)
{
    return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
           (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
           (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
           (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

/* Display width of UTF-8 text in terminal columns. */
static size_t width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp = *p;
        int extra = cp >= 0xF0 ? 3 : cp >= 0xE0 ? 2 : cp >= 0xC0 ? 1 : 0;
        if (extra)
            cp &= 0x3F >> extra;
        p++;
        for (int i = 0; i < extra && (*p & 0xC0) == 0x80; i++, p++)
            cp = cp << 6 | (*p & 0x3F);
        w += wide(cp) ? 2 : 1;
    }
    return w;
}

static void csv_cell(FILE *to, const char *v)
{
    if (v == NULL)
        return;
    if (strpbrk(v, ",\"\n\r") == NULL && v[0] != ' ' && v[0] != '\0') {
        fputs(v, to);
        return;
    }
    fputc('"', to);
    for (; *v; v++) {
        if (*v == '"')
            fputc('"', to);
        fputc(*v, to);
    }
    fputc('"', to);
}

void out_json_string(FILE *to, const char *v)
{
    fputc('"', to);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(to, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", to);
        else if (*p == '\t')
            fputs("\\t", to);
        else if (*p == '\r')
            fputs("\\r", to);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(to, "\\u%04x", *p);
        else
            fputc(*p, to);
    }
    fputc('"', to);
}

/* A cell's text, malloc'd (the printer frees it), or NULL for SQL NULL. */
typedef char *(*cell_fn)(void *ctx, size_t row, size_t col);

/* Prints the cells in a format, row by row: CSV and JSON hold one cell at a
 * time; an aligned table reads every cell twice (widths, then text). */
static void print_cells(const char *const *header, size_t ncols, const int *numeric, cell_fn get,
                        void *ctx, size_t nrows, out_format f, FILE *to)
{
    f = out_resolve(f);
    if (f == FMT_CSV) {
        for (size_t c = 0; c < ncols; c++) {
            if (c)
                fputc(',', to);
            csv_cell(to, header[c]);
        }
        fputc('\n', to);
        for (size_t r = 0; r < nrows; r++) {
            for (size_t c = 0; c < ncols; c++) {
                if (c)
                    fputc(',', to);
                char *v = get(ctx, r, c);
                csv_cell(to, v);
                free(v);
            }
            fputc('\n', to);
        }
        return;
    }
    if (f == FMT_JSON) {
        fputs("[", to);
        for (size_t r = 0; r < nrows; r++) {
            fputs(r ? ",\n {" : "\n {", to);
            for (size_t c = 0; c < ncols; c++) {
                if (c)
                    fputs(", ", to);
                out_json_string(to, header[c]);
                fputs(": ", to);
                char *v = get(ctx, r, c);
                if (v == NULL)
                    fputs("null", to);
                else if (numeric[c] != 0)      /* numbers and booleans as they are */
                    fputs(v, to);
                else
                    out_json_string(to, v);
                free(v);
            }
            fputs("}", to);
        }
        fputs(nrows ? "\n]\n" : "]\n", to);
        return;
    }
    size_t *w = calloc(ncols ? ncols : 1, sizeof *w);
    if (w == NULL)
        return;
    for (size_t c = 0; c < ncols; c++)
        w[c] = width(header[c]);
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            char *v = get(ctx, r, c);
            size_t cw = width(v ? v : "NULL");
            free(v);
            if (cw > w[c])
                w[c] = cw;
        }
    for (size_t c = 0; c < ncols; c++)
        fprintf(to, "%s%s%*s", c ? " | " : " ", header[c],
                c + 1 < ncols ? (int)(w[c] - width(header[c])) : 0, "");
    fputc('\n', to);
    for (size_t c = 0; c < ncols; c++) {
        fputs(c ? "-+-" : "-", to);
        for (size_t k = 0; k < w[c]; k++)
            fputc('-', to);
    }
    fputs("-\n", to);
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            char *cell = get(ctx, r, c);
            const char *v = cell ? cell : "NULL";
            int pad = (int)(w[c] - width(v));
            fputs(c ? " | " : " ", to);
            if (numeric[c] == 1)
                fprintf(to, "%*s%s", pad, "", v);
            else
                fprintf(to, "%s%*s", v, c + 1 < ncols ? pad : 0, "");
            free(cell);
        }
        fputc('\n', to);
    }
    fprintf(to, "(%zu row%s)\n", nrows, nrows == 1 ? "" : "s");
    free(w);
}

static char *grid_cell(void *ctx, size_t row, size_t col)
{
    char ***rows = ctx;
    return rows[row][col] ? strdup(rows[row][col]) : NULL;
}

void out_grid(const char *const *header, size_t ncols, const int *numeric, char ***rows,
              size_t nrows, out_format f, FILE *to)
{
    print_cells(header, ncols, numeric, grid_cell, rows, nrows, f, to);
}

static int numeric_type(const char *t)
{
    static const char *nums[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                                 "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
                                 "FLOAT", "DOUBLE"};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (strcmp(t, nums[i]) == 0)
            return 1;
    if (strncmp(t, "DECIMAL", 7) == 0)
        return 1;
    if (strcmp(t, "BOOLEAN") == 0)
        return 2;
    return 0;
}

static char *result_cell(void *ctx, size_t row, size_t col)
{
    return udr_result_text(ctx, row, col);
}

void out_result(udr_result *r, out_format f, FILE *to)
{
    size_t nc = udr_result_columns(r);
    const char **header = calloc(nc ? nc : 1, sizeof *header);
    int *numeric = calloc(nc ? nc : 1, sizeof *numeric);
    if (header == NULL || numeric == NULL) {
        free(header);
        free(numeric);
        out_error("out of memory printing a result");
        return;
    }
    for (size_t c = 0; c < nc; c++) {
        header[c] = udr_result_column_name(r, c);
        numeric[c] = numeric_type(udr_result_column_type(r, c));
    }
    print_cells(header, nc, numeric, result_cell, r, (size_t)udr_result_rows(r), f, to);
    free(numeric);
    free(header);
}
