/*
 * progress — reports of long work to the handle's hook, and exports.
 *
 * A handle has at most one hook (udr_progress_set; query.h keeps it, with
 * the counts of the running call in q->prog). Three kinds of work report:
 *
 *   - chunk writes (query.c): the writer threads count each chunk stored
 *     under the pool's mutex; the thread that runs the pool reports after
 *     it lets go of the mutex, when it queues a chunk and while it waits
 *     for the last ones. So the hook runs on the caller's thread and no
 *     lock of ours is held while it runs.
 *   - phases: a statement that must read every row before a chunk can be
 *     written (staging) says "reading" first.
 *   - one long DuckDB statement (an export's COPY): run task by task on the
 *     calling thread (DuckDB's pending API) instead of duckdb_query, with
 *     DuckDB's progress accounting switched on for that statement (and its
 *     progress bar's printing off); every 100 ms the hook hears DuckDB's
 *     estimate of the rows read and the size of the file so far. No thread
 *     of ours polls the connection: the caller's thread alone touches it.
 *
 * With no hook, nothing here counts, measures or changes a setting: exports
 * run as one duckdb_query.
 */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "query.h"
#include "query_int.h"

void query_progress_begin(query *q, const char *table)
{
    memset(&q->prog, 0, sizeof q->prog);
    snprintf(q->prog_table, sizeof q->prog_table, "%s", table);
    q->prog.table = q->prog_table;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

void query_progress_note(query *q, const char *phase, uint64_t rows, uint64_t chunks,
                         uint64_t bytes)
{
    if (q->progress == NULL)
        return;
    udr_work_progress *p = &q->prog;
    p->phase = phase;
    p->rows = max_u64(p->rows, rows);
    p->chunks = max_u64(p->chunks, chunks);
    p->bytes = max_u64(p->bytes, bytes);
    p->done = 0;
    q->progress(q->progress_ctx, p);
}

void query_progress_done(query *q, uint64_t rows, uint64_t chunks, uint64_t bytes)
{
    if (q->progress == NULL)
        return;
    udr_work_progress *p = &q->prog;
    p->phase = "done";
    p->rows = rows;
    p->total_rows = rows;
    p->chunks = chunks;
    p->bytes = bytes;
    p->done = 1;
    q->progress(q->progress_ctx, p);
}

/* ---- export ------------------------------------------------------------- */

enum { EXPORT_REPORT_NS = 100 * 1000 * 1000, EXPORT_IDLE_NS = 1000 * 1000 };

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
}

/* Runs sql task by task, reporting "exporting" about every 100 ms. */
static int run_reporting(query *q, const char *sql, const char *path, const char *what,
                         duckdb_result *out)
{
    int rc = qi_exec(q, "SET enable_progress_bar = true; SET enable_progress_bar_print = false",
                     NULL, "cannot configure DuckDB");
    if (rc)
        return rc;
    duckdb_prepared_statement ps;
    duckdb_pending_result pr = NULL;
    if (duckdb_prepare(q->con, sql, &ps) != DuckDBSuccess) {
        rc = qi_db_error(q, what, duckdb_prepare_error(ps));
    } else if (duckdb_pending_prepared(ps, &pr) != DuckDBSuccess) {
        rc = qi_db_error(q, what, duckdb_pending_error(pr));
    } else {
        uint64_t known_rows = q->prog.total_rows;    /* 0: not known */
        query_progress_note(q, "exporting", 0, 0, 0);
        int64_t next_ns = now_ns() + EXPORT_REPORT_NS;
        duckdb_pending_state st;
        while (!duckdb_pending_execution_is_finished(st = duckdb_pending_execute_task(pr))) {
            if (st == DUCKDB_PENDING_NO_TASKS_AVAILABLE) {
                /* DuckDB's threads have the work in hand: do not spin. */
                struct timespec idle = {0, EXPORT_IDLE_NS};
                nanosleep(&idle, NULL);
            }
            int64_t t = now_ns();
            if (t < next_ns)
                continue;
            next_ns = t + EXPORT_REPORT_NS;
            /* DuckDB's rows are of its scans' own estimates (of a Parquet
             * file's row groups, say); its percentage, of the known total
             * rows, reads better when the total is known. */
            duckdb_query_progress_type qp = duckdb_query_progress(q->con);
            uint64_t rows = 0;
            if (qp.percentage >= 0 && known_rows)
                rows = (uint64_t)((double)known_rows * (qp.percentage > 100 ? 100 : qp.percentage)
                                  / 100);
            else if (qp.percentage >= 0)
                rows = qp.rows_processed, q->prog.total_rows = qp.total_rows_to_process;
            query_progress_note(q, "exporting", rows, 0, file_size(path));
        }
        if (st == DUCKDB_PENDING_ERROR) {
            rc = qi_db_error(q, what, duckdb_pending_error(pr));
        } else if (duckdb_execute_pending(pr, out) != DuckDBSuccess) {
            rc = qi_db_error(q, what, duckdb_result_error(out));
            duckdb_destroy_result(out);
        }
    }
    if (pr != NULL)
        duckdb_destroy_pending(&pr);
    duckdb_destroy_prepare(&ps);
    int rrc = qi_exec(q, "RESET enable_progress_bar; RESET enable_progress_bar_print", NULL,
                      "cannot configure DuckDB");
    if (rc == UDR_OK && rrc != UDR_OK)
        duckdb_destroy_result(out);
    return rc ? rc : rrc;
}

int query_export(query *q, const char *ref, const char *path, const char *format,
                 udr_export_info *info)
{
    memset(info, 0, sizeof *info);
    int parquet = strcmp(format, "parquet") == 0;
    if (!parquet && strcmp(format, "csv") != 0)
        return err_set(q->err, UDR_EINVAL, "cannot export %s as %s: the formats are parquet "
                       "and csv", ref, format);
    int rc = qi_open(q);
    if (rc == UDR_OK)
        rc = catalog_refresh(q->cat);
    if (rc)
        return rc;
    /* DuckDB writes to a file of our naming beside the target, renamed over
     * it once whole: a failed export leaves an existing file as it was, and
     * the file's growth is the progress in bytes. */
    char tmp[PATH_MAX + 64];
    if (snprintf(tmp, sizeof tmp, "%s.udr-export.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return err_set(q->err, UDR_EINVAL, "cannot export to %s: the path is too long", path);
    buf b;
    buf_init(&b);
    buf_adds(&b, "COPY (SELECT * FROM ");
    buf_quoted(&b, ref, '"');
    buf_adds(&b, ") TO ");
    buf_quoted(&b, tmp, '\'');
    buf_adds(&b, parquet ? " (FORMAT parquet, COMPRESSION zstd)" : " (FORMAT csv, HEADER true)");
    char *sql = buf_take(&b, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    char what[512];
    snprintf(what, sizeof what, "cannot export %.200s to %.200s", ref, path);
    duckdb_result r;
    if (q->progress != NULL)
        rc = run_reporting(q, sql, tmp, what, &r);
    else
        rc = qi_exec(q, sql, &r, what);
    free(sql);
    if (rc == UDR_OK && rename(tmp, path) != 0) {
        rc = err_sys(q->err, errno, "cannot export %s: cannot rename %s to %s", ref, tmp, path);
        duckdb_destroy_result(&r);
    }
    if (rc) {
        unlink(tmp);
        if (strstr(q->err->msg, "does not exist") != NULL &&
            strlen(q->err->msg) + 80 < ERR_MSG_BYTES)
            strcat(q->err->msg, "\n(the UDR tables are listed by 'udr tables')");
        return rc;
    }
    int64_t rows = duckdb_row_count(&r) > 0 ? duckdb_value_int64(&r, 0, 0) : 0;
    duckdb_destroy_result(&r);
    info->rows = rows > 0 ? (uint64_t)rows : 0;
    info->bytes = file_size(path);
    return UDR_OK;
}
