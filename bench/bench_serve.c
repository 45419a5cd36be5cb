/*
 * bench_serve — `udr serve` under load, against the same workload through
 * the C API in one process.
 *
 * The workload: a bank of ACCOUNTS accounts (accounts(id BIGINT, balance
 * BIGINT), primary key id, BALANCE each, so the total is fixed) and CLIENTS
 * clients, each looping for SECONDS:
 *
 *   76 %  read      SELECT balance FROM accounts WHERE id = <random>
 *    4 %  sum       SELECT sum(balance) FROM accounts, which must be the total:
 *                   every read sees one snapshot (5 % of the reads)
 *   20 %  transfer  BEGIN; UPDATE ... balance - X WHERE id = a;
 *                   UPDATE ... balance + X WHERE id = b; COMMIT
 *                   (a != b, X in 1..100, each UPDATE must change one row)
 *
 * A transfer that fails with a conflict (SQLSTATE 40001, UDR_ECONFLICT) is
 * counted and not retried: the client draws its next operation afresh, so
 * the bank stays balanced whichever transfers commit. Any other error is a
 * failure.
 *
 *   serve  the udr binary given runs `serve` on a fresh repository on a free
 *          loopback port (its output to DIR/serve.log); each client is a
 *          thread with its own libpq connection (reads through the extended
 *          protocol with a parameter, transfers through the simple one).
 *          The server's resident memory (VmRSS) is sampled every second.
 *   capi   the same on another fresh repository in this process: each client
 *          a thread with its own handle (udr_open), reads through udr_query,
 *          transfers through udr_tx_begin / udr_tx_query / udr_tx_commit.
 *
 * Latencies are per operation, from the first statement sent to the last
 * reply; a transfer's only when it committed. Ratios are serve / capi
 * (throughput: higher is better; latency: lower is better). After each side
 * the sum is checked again from a fresh handle. The program exits 1, after
 * printing everything, if any error other than a conflict happened, a sum
 * was wrong, a client hung, the server died or did not stop on SIGTERM, or
 * its memory was not flat: at the end more than RSS_GROWTH_MAX times that
 * after the warm-up (10 s in, or a third of a shorter run), or over the
 * second half more than RSS_LATE_GROWTH_MAX times (the median of the last
 * 10 samples over that of the 10 at the half: memory that keeps rising,
 * as a leak does, fails it however high the warm-up's was).
 *
 * Prints "key value" lines that bench/run.sh turns into bench/RESULTS.md.
 * Usage: bench_serve DIR UDR_BINARY [SECONDS] [CLIENTS]
 * (defaults 60 and 32; BENCH_SERVE_SECONDS, if set, overrides SECONDS).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "bench_serve"
#include "bench_util.h"
#include "udr.h"

enum {
    ACCOUNTS = 10000,
    BALANCE = 1000,
    TRANSFER_PCT = 20,     /* of all operations */
    SUM_PCT = 4,           /* of all operations: 5 % of the reads */
    MAX_CLIENTS = 1024,
    HANG_S = 120,          /* a client still busy this long after the end has hung */
    MAX_SAMPLES = 100000,
};
#define TOTAL ((long long)ACCOUNTS * BALANCE)
#define RSS_GROWTH_MAX 1.5
#define RSS_LATE_GROWTH_MAX 1.15

/* ---- failures ------------------------------------------------------------------ */

static atomic_int failures;     /* things that fail the run, of every kind */
static atomic_int printed[2];   /* error lines printed so far, per side (capped) */

/* A failure: counted, and the first 20 of each side printed as they happen. */
static void fail_note(const char *side, const char *what, const char *msg)
{
    atomic_fetch_add(&failures, 1);
    if (atomic_fetch_add(&printed[side[0] == 'c'], 1) >= 20)
        return;
    char line[1500];               /* on one line: libpq's messages end in newlines */
    snprintf(line, sizeof line, "%s", msg);
    for (char *p = line; *p; p++)
        if (*p == '\n')
            *p = ' ';
    fprintf(stderr, BENCH_NAME ": %s: %s: %s\n", side, what, line);
}

/* ---- latencies ----------------------------------------------------------------- */

typedef struct lat {
    double *ms;
    size_t n, cap;
} lat;

static void lat_add(lat *l, double ms)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        double *p = realloc(l->ms, cap * sizeof *p);
        if (p == NULL)
            die("out of memory for latencies", NULL);
        l->ms = p;
        l->cap = cap;
    }
    l->ms[l->n++] = ms;
}

static void lat_merge(lat *into, const lat *from)
{
    for (size_t i = 0; i < from->n; i++)
        lat_add(into, from->ms[i]);
}

/* The q-quantile (nearest rank) of a sorted list; 0 if it is empty. */
static double quantile(const lat *l, double q)
{
    if (l->n == 0)
        return 0;
    size_t k = (size_t)(q * (double)l->n + 0.999999);
    return l->ms[k == 0 ? 0 : k - 1];
}

/* ---- one client ---------------------------------------------------------------- */

typedef struct client {
    const char *side;          /* "serve" or "capi" */
    const char *target;        /* the conninfo, or the repository's path */
    double until;              /* monotonic seconds */
    unsigned seed;
    lat read, sum, transfer;
    long reads, sums, transfers, conflicts, sums_bad, errors;
    atomic_int done;
    pthread_t thread;
} client;

static void client_error(client *c, const char *what, const char *msg)
{
    c->errors++;
    fail_note(c->side, what, msg);
}

/* What the next operation is: 0 read, 1 sum, 2 transfer; and its figures. */
static int next_op(client *c, long *a, long *b, long *x)
{
    int r = (int)(rand_r(&c->seed) % 100);
    *a = (long)(rand_r(&c->seed) % ACCOUNTS);
    *b = (long)(rand_r(&c->seed) % (ACCOUNTS - 1));
    if (*b >= *a)
        (*b)++;
    *x = 1 + (long)(rand_r(&c->seed) % 100);
    return r < TRANSFER_PCT ? 2 : r < TRANSFER_PCT + SUM_PCT ? 1 : 0;
}

static void check_sum(client *c, long long sum)
{
    c->sums++;
    if (sum != TOTAL) {
        char msg[128];
        snprintf(msg, sizeof msg, "sum(balance) is %lld, not %lld", sum, TOTAL);
        c->sums_bad++;
        client_error(c, "invariant", msg);
    }
}

/* -- through the server -- */

/* One statement of a transfer: 1 done, 0 a conflict, -1 another error. */
static int pq_step(client *c, PGconn *conn, const char *sql, const char *tag)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 1;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (tag != NULL && strcmp(PQcmdStatus(res), tag) != 0) {
            char msg[300];
            snprintf(msg, sizeof msg, "the reply was '%s', not '%s'", PQcmdStatus(res), tag);
            client_error(c, sql, msg);
            rc = -1;
        }
    } else {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (state != NULL && strcmp(state, "40001") == 0) {
            rc = 0;
        } else {
            char msg[1200];
            snprintf(msg, sizeof msg, "%s [SQLSTATE %s]", PQresultErrorMessage(res),
                     state ? state : "none");
            client_error(c, sql, msg);
            rc = -1;
        }
    }
    PQclear(res);
    return rc;
}

static void pq_transfer(client *c, PGconn *conn, long a, long b, long x)
{
    char debit[128], credit[128];
    snprintf(debit, sizeof debit, "UPDATE accounts SET balance = balance - %ld WHERE id = %ld",
             x, a);
    snprintf(credit, sizeof credit,
             "UPDATE accounts SET balance = balance + %ld WHERE id = %ld", x, b);
    const char *sql[4] = {"BEGIN", debit, credit, "COMMIT"};
    const char *tag[4] = {"BEGIN", "UPDATE 1", "UPDATE 1", "COMMIT"};
    double t0 = now_s();
    for (int i = 0; i < 4; i++) {
        int rc = pq_step(c, conn, sql[i], tag[i]);
        if (rc == 1)
            continue;
        if (rc == 0)
            c->conflicts++;
        if (PQtransactionStatus(conn) != PQTRANS_IDLE)
            PQclear(PQexec(conn, "ROLLBACK"));
        return;
    }
    c->transfers++;
    lat_add(&c->transfer, (now_s() - t0) * 1000);
}

static void *pq_client(void *arg)
{
    client *c = arg;
    PGconn *conn = PQconnectdb(c->target);
    if (PQstatus(conn) != CONNECTION_OK) {
        client_error(c, "connect", PQerrorMessage(conn));
        goto out;
    }
    const Oid int8_oid = 20;
    while (now_s() < c->until) {
        long a, b, x;
        int op = next_op(c, &a, &b, &x);
        if (op == 2) {
            pq_transfer(c, conn, a, b, x);
        } else {
            double t0 = now_s();
            char id[24];
            snprintf(id, sizeof id, "%ld", a);
            const char *param[1] = {id};
            PGresult *res =
                op == 1 ? PQexec(conn, "SELECT sum(balance) FROM accounts")
                        : PQexecParams(conn, "SELECT balance FROM accounts WHERE id = $1", 1,
                                       &int8_oid, param, NULL, NULL, 0);
            double ms = (now_s() - t0) * 1000;
            if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
                PQgetisnull(res, 0, 0)) {
                char msg[1200];
                snprintf(msg, sizeof msg, "%s (%d rows)",
                         PQresultStatus(res) == PGRES_TUPLES_OK ? "not one value"
                                                                : PQresultErrorMessage(res),
                         PQntuples(res));
                client_error(c, op == 1 ? "sum" : "read", msg);
            } else if (op == 1) {
                check_sum(c, strtoll(PQgetvalue(res, 0, 0), NULL, 10));
                lat_add(&c->sum, ms);
            } else {
                c->reads++;
                lat_add(&c->read, ms);
            }
            PQclear(res);
        }
        if (PQstatus(conn) != CONNECTION_OK) {
            client_error(c, "connection", "lost; this client stops");
            break;
        }
    }
out:
    PQfinish(conn);
    atomic_store(&c->done, 1);
    return NULL;
}

/* -- through the C API -- */

/* One UPDATE of a transfer: 1 done, 0 a conflict, -1 another error. */
static int capi_update(client *c, udr_repo *r, udr_tx *tx, const char *sql)
{
    udr_result *res;
    int rc = udr_tx_query(tx, sql, &res);
    if (rc == UDR_ECONFLICT)
        return 0;
    if (rc != UDR_OK) {
        client_error(c, sql, udr_errmsg(r));
        return -1;
    }
    long long n = udr_result_rows(res) == 1 ? udr_result_int64(res, 0, 0) : -1;
    udr_result_free(res);
    if (n != 1) {
        char msg[64];
        snprintf(msg, sizeof msg, "changed %lld rows, not 1", n);
        client_error(c, sql, msg);
        return -1;
    }
    return 1;
}

static void capi_transfer(client *c, udr_repo *r, long a, long b, long x)
{
    char debit[128], credit[128];
    snprintf(debit, sizeof debit, "UPDATE accounts SET balance = balance - %ld WHERE id = %ld",
             x, a);
    snprintf(credit, sizeof credit,
             "UPDATE accounts SET balance = balance + %ld WHERE id = %ld", x, b);
    double t0 = now_s();
    udr_tx *tx;
    if (udr_tx_begin(r, NULL, UDR_SNAPSHOT, &tx) != UDR_OK) {
        client_error(c, "udr_tx_begin", udr_errmsg(r));
        return;
    }
    int rc = capi_update(c, r, tx, debit);
    if (rc == 1)
        rc = capi_update(c, r, tx, credit);
    if (rc != 1) {
        udr_tx_rollback(tx);
        c->conflicts += rc == 0;
        return;
    }
    rc = udr_tx_commit(tx, NULL, NULL);
    if (rc == UDR_ECONFLICT) {
        c->conflicts++;
    } else if (rc != UDR_OK) {
        client_error(c, "udr_tx_commit", udr_errmsg(r));
    } else {
        c->transfers++;
        lat_add(&c->transfer, (now_s() - t0) * 1000);
    }
}

static void *capi_client(void *arg)
{
    client *c = arg;
    udr_repo *r = NULL;
    if (udr_open(c->target, &r) != UDR_OK) {
        client_error(c, "udr_open", r ? udr_errmsg(r) : "out of memory");
        goto out;
    }
    while (now_s() < c->until) {
        long a, b, x;
        int op = next_op(c, &a, &b, &x);
        if (op == 2) {
            capi_transfer(c, r, a, b, x);
            continue;
        }
        char sql[128];
        if (op == 1)
            snprintf(sql, sizeof sql, "SELECT sum(balance) FROM accounts");
        else
            snprintf(sql, sizeof sql, "SELECT balance FROM accounts WHERE id = %ld", a);
        double t0 = now_s();
        udr_result *res;
        int rc = udr_query(r, sql, NULL, 0, &res);
        double ms = (now_s() - t0) * 1000;
        if (rc != UDR_OK) {
            client_error(c, op == 1 ? "sum" : "read", udr_errmsg(r));
            continue;
        }
        if (udr_result_rows(res) != 1 || udr_result_is_null(res, 0, 0)) {
            client_error(c, op == 1 ? "sum" : "read", "not one value");
        } else if (op == 1) {
            check_sum(c, udr_result_int64(res, 0, 0));
            lat_add(&c->sum, ms);
        } else {
            c->reads++;
            lat_add(&c->read, ms);
        }
        udr_result_free(res);
    }
out:
    udr_close(r);
    atomic_store(&c->done, 1);
    return NULL;
}

/* ---- the server process -------------------------------------------------------- */

/* A loopback port nobody listens on now. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("no free port", NULL);
    close(fd);
    return ntohs(a.sin_port);
}

static pid_t start_server(const char *udr, const char *repo, int port, int max_conn,
                          const char *log_path)
{
    char listen[64], maxc[16];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(maxc, sizeof maxc, "%d", max_conn);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", NULL);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(udr, udr, "--repo", repo, "serve", "--listen", listen, "--max-connections", maxc,
              (char *)NULL);
        fprintf(stderr, BENCH_NAME ": exec %s: %s\n", udr, strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Waits up to timeout_s for pid; its wait status, or -1 if it is still running. */
static int wait_for(pid_t pid, double timeout_s)
{
    double until = now_s() + timeout_s;
    for (;;) {
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return status;
        if (now_s() >= until)
            return -1;
        usleep(20000);
    }
}

static void describe_status(int status, char *out, size_t n)
{
    if (WIFEXITED(status))
        snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(out, n, "wait status %d", status);
}

/* The resident memory of a process in KiB; 0 if it is gone. */
static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* ---- one side ------------------------------------------------------------------ */

typedef struct side_result {
    lat read, sum, transfer;
    long reads, sums, transfers, conflicts, sums_bad, errors;
    double seconds;                          /* from start to the last client's end */
    long rss_kb[MAX_SAMPLES];                /* one a second, of the process measured */
    size_t nrss;
    long long final_sum;
} side_result;

static void fresh_bank(const char *path)
{
    udr_repo *r;
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);
    const char *key[] = {"id", NULL};
    udr_write_opts o = {key, "bench_serve: the bank", "bench"};
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT range AS id, %d::BIGINT AS balance FROM range(%d)", BALANCE,
             ACCOUNTS);
    if (udr_table_write(r, "accounts", sql, &o, NULL) != UDR_OK)
        die("write accounts", r);
    if (int_of(r, "SELECT sum(balance) FROM accounts") != TOTAL)
        die("the bank's first sum is wrong", NULL);
    udr_close(r);
}

static long long final_sum_capi(const char *path)
{
    udr_repo *r;
    if (udr_open(path, &r) != UDR_OK)
        die("open", r);
    long long v = int_of(r, "SELECT sum(balance) FROM accounts");
    udr_close(r);
    return v;
}

static long long final_sum_pq(const char *conninfo)
{
    PGconn *conn = PQconnectdb(conninfo);
    long long v = -1;
    PGresult *res = PQstatus(conn) == CONNECTION_OK
                        ? PQexec(conn, "SELECT sum(balance) FROM accounts")
                        : NULL;
    if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        fail_note("serve", "final sum", res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
    return v;
}

/* Runs the clients for seconds, sampling rss_pid's memory every second;
 * server (0 for none) is watched for dying. 0, or -1 if a client hung. */
static int run_clients(side_result *out, const char *side, const char *target, int nclients,
                       double seconds, void *(*fn)(void *), pid_t rss_pid, pid_t server)
{
    client *cs = calloc((size_t)nclients, sizeof *cs);
    if (cs == NULL)
        die("out of memory", NULL);
    double t0 = now_s(), until = t0 + seconds;
    for (int i = 0; i < nclients; i++) {
        cs[i].side = side;
        cs[i].target = target;
        cs[i].until = until;
        cs[i].seed = 7919u * (unsigned)(i + 1);
        if (pthread_create(&cs[i].thread, NULL, fn, &cs[i]) != 0)
            die("pthread_create", NULL);
    }
    /* Sample until every client is done, or they are HANG_S late. */
    int hung = 0, server_gone = 0;
    double next = t0 + 1;
    for (;;) {
        int running = 0;
        for (int i = 0; i < nclients; i++)
            running += !atomic_load(&cs[i].done);
        if (running == 0)
            break;
        double t = now_s();
        if (t >= next) {
            if (out->nrss < MAX_SAMPLES && t < until)
                out->rss_kb[out->nrss++] = rss_kb(rss_pid);
            next += 1;
        }
        if (server > 0 && !server_gone) {
            int status = wait_for(server, 0);
            if (status != -1) {
                char msg[128];
                describe_status(status, msg, sizeof msg);
                fail_note(side, "the server died during the run", msg);
                server_gone = 1;
            }
        }
        if (t > until + HANG_S) {
            char msg[128];
            snprintf(msg, sizeof msg, "%d of %d clients still busy %d s after the end", running,
                     nclients, HANG_S);
            fail_note(side, "hang", msg);
            hung = 1;
            break;
        }
        usleep(50000);
    }
    out->seconds = now_s() - t0;
    if (hung)
        return -1;                /* their memory stays: they may still write to it */
    for (int i = 0; i < nclients; i++) {
        pthread_join(cs[i].thread, NULL);
        lat_merge(&out->read, &cs[i].read);
        lat_merge(&out->sum, &cs[i].sum);
        lat_merge(&out->transfer, &cs[i].transfer);
        out->reads += cs[i].reads;
        out->sums += cs[i].sums;
        out->transfers += cs[i].transfers;
        out->conflicts += cs[i].conflicts;
        out->sums_bad += cs[i].sums_bad;
        out->errors += cs[i].errors;
        free(cs[i].read.ms);
        free(cs[i].sum.ms);
        free(cs[i].transfer.ms);
    }
    free(cs);
    qsort(out->read.ms, out->read.n, sizeof(double), cmp_double);
    qsort(out->sum.ms, out->sum.n, sizeof(double), cmp_double);
    qsort(out->transfer.ms, out->transfer.n, sizeof(double), cmp_double);
    return 0;
}

static void print_side(const char *p, const side_result *s, double seconds)
{
    long ops = s->reads + s->sums + s->transfers;
    printf("%s_seconds %.1f\n%s_ops %ld\n%s_ops_per_s %.1f\n%s_reads_per_s %.1f\n"
           "%s_sums_per_s %.2f\n%s_transfers_per_s %.2f\n%s_reads %ld\n%s_sums %ld\n"
           "%s_transfers %ld\n%s_conflicts %ld\n%s_errors %ld\n%s_sums_bad %ld\n",
           p, s->seconds, p, ops, p, (double)ops / seconds, p, (double)s->reads / seconds, p,
           (double)s->sums / seconds, p, (double)s->transfers / seconds, p, s->reads, p,
           s->sums, p, s->transfers, p, s->conflicts, p, s->errors, p, s->sums_bad);
    const struct {
        const char *name;
        const lat *l;
    } ls[] = {{"read", &s->read}, {"sum", &s->sum}, {"transfer", &s->transfer}};
    for (size_t i = 0; i < 3; i++)
        printf("%s_%s_p50_ms %.2f\n%s_%s_p99_ms %.2f\n%s_%s_max_ms %.2f\n", p, ls[i].name,
               quantile(ls[i].l, 0.50), p, ls[i].name, quantile(ls[i].l, 0.99), p, ls[i].name,
               quantile(ls[i].l, 1.0));
    printf("%s_final_sum %lld\n", p, s->final_sum);
}

/* Memory after the warm-up, at the end and at most, and end / warm-up.
 * Returns that ratio. */
static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* The median of the n samples from `from` on (n <= 10). */
static double median_kb(const long *v, size_t from, size_t n)
{
    long w[10];
    memcpy(w, v + from, n * sizeof *w);
    qsort(w, n, sizeof *w, cmp_long);
    return n % 2 ? (double)w[n / 2] : ((double)w[n / 2 - 1] + (double)w[n / 2]) / 2;
}

/* Memory over the run's second half: the median of its last 10 samples
 * over that of the 10 at the half (fewer in a short run). */
static double late_growth(const side_result *s)
{
    size_t n = s->nrss / 2 < 10 ? s->nrss / 2 : 10;
    if (n == 0)
        return 0;
    size_t mid = s->nrss / 2 - n / 2;
    double at_half = median_kb(s->rss_kb, mid, n), last = median_kb(s->rss_kb, s->nrss - n, n);
    return at_half > 0 ? last / at_half : 0;
}

static double print_rss(const char *p, const side_result *s, double seconds, double *late)
{
    size_t warm = (size_t)(seconds >= 30 ? 10 : seconds / 3);
    if (s->nrss == 0)
        return 0;
    if (warm >= s->nrss)
        warm = s->nrss - 1;
    long start = s->rss_kb[warm], end = s->rss_kb[s->nrss - 1], max = 0;
    for (size_t i = 0; i < s->nrss; i++)
        max = s->rss_kb[i] > max ? s->rss_kb[i] : max;
    double growth = start > 0 ? (double)end / (double)start : 0;
    printf("%s_rss_warm_s %zu\n%s_rss_warm_kb %ld\n%s_rss_end_kb %ld\n%s_rss_max_kb %ld\n"
           "%s_rss_growth %.3f\n%s_rss_samples_mib ",
           p, warm + 1, p, start, p, end, p, max, p, growth, p);
    *late = late_growth(s);
    for (size_t i = 0; i < s->nrss; i += 5)     /* every 5 s, from 1 s in */
        printf("%s%.0f", i ? "," : "", (double)s->rss_kb[i] / 1024);
    printf("\n%s_rss_late_growth %.3f\n", p, *late);
    return growth;
}

static double ratio_of(double a, double b)
{
    return b > 0 ? a / b : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_serve DIR UDR_BINARY [SECONDS] [CLIENTS]\n");
        return 2;
    }
    const char *dir = argv[1], *udr = argv[2];
    double seconds = argc > 3 ? atof(argv[3]) : 60.0;
    const char *env = getenv("BENCH_SERVE_SECONDS");
    if (env != NULL && *env != '\0')
        seconds = atof(env);
    int nclients = argc > 4 ? atoi(argv[4]) : 32;
    if (seconds <= 0 || nclients < 1 || nclients > MAX_CLIENTS) {
        fprintf(stderr, BENCH_NAME ": SECONDS must be > 0 and CLIENTS 1..%d\n", MAX_CLIENTS);
        return 2;
    }
    if (access(udr, X_OK) != 0) {
        fprintf(stderr, BENCH_NAME ": %s: not an executable\n", udr);
        return 2;
    }
    mkdir(dir, 0755);
    printf("clients %d\nseconds %.0f\naccounts %d\ntotal %lld\n", nclients, seconds, ACCOUNTS,
           TOTAL);
    fflush(stdout);

    static side_result sv, ca;   /* large: the memory samples */
    int ok = 1;

    /* -- through the server -- */
    char repo[4096], log_path[4200], conninfo[256];
    snprintf(repo, sizeof repo, "%s/serve-repo", dir);
    snprintf(log_path, sizeof log_path, "%s/serve.log", dir);
    fresh_bank(repo);
    int port = free_port();
    snprintf(conninfo, sizeof conninfo,
             "host=127.0.0.1 port=%d user=bench dbname=postgres connect_timeout=30", port);
    pid_t server = start_server(udr, repo, port, nclients + 4, log_path);
    double t_ready = now_s();
    for (;;) {
        if (PQping(conninfo) == PQPING_OK)
            break;
        int status = wait_for(server, 0);
        if (status != -1 || now_s() - t_ready > 30) {
            char msg[128];
            if (status != -1)
                describe_status(status, msg, sizeof msg);
            else
                snprintf(msg, sizeof msg, "not answering after 30 s");
            fprintf(stderr, BENCH_NAME ": the server did not start (%s); see %s\n", msg,
                    log_path);
            if (status == -1)
                kill(server, SIGKILL), waitpid(server, NULL, 0);
            return 1;
        }
        usleep(50000);
    }
    printf("serve_ready_s %.3f\n", now_s() - t_ready);
    fflush(stdout);
    int hung = run_clients(&sv, "serve", conninfo, nclients, seconds, pq_client, server, server);
    if (hung) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
        fprintf(stderr, BENCH_NAME ": the server hung; killed it (log: %s)\n", log_path);
        return 1;
    }
    long long served_sum = final_sum_pq(conninfo);
    kill(server, SIGTERM);
    int status = wait_for(server, 30);
    char how[128];
    if (status == -1) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
        fail_note("serve", "SIGTERM", "the server had not ended 30 s later; killed");
        snprintf(how, sizeof how, "hung");
    } else {
        describe_status(status, how, sizeof how);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_note("serve", "SIGTERM", how);
    }
    sv.final_sum = final_sum_capi(repo);
    if (served_sum != TOTAL || sv.final_sum != TOTAL)
        fail_note("serve", "invariant", "the final sum is wrong");
    print_side("serve", &sv, seconds);
    printf("serve_final_sum_served %lld\nserve_exit %s\n", served_sum,
           status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "clean" : "failed");
    double late;
    double growth = print_rss("serve", &sv, seconds, &late);
    int flat = growth <= RSS_GROWTH_MAX && late <= RSS_LATE_GROWTH_MAX;
    printf("serve_rss_flat %s\n", flat ? "yes" : "no");
    if (growth > RSS_GROWTH_MAX)
        fail_note("serve", "memory", "resident memory grew past 1.5 times the warm-up's");
    if (late > RSS_LATE_GROWTH_MAX)
        fail_note("serve", "memory", "resident memory rose past 1.15 times over the second half");
    fflush(stdout);

    /* -- through the C API, in this process -- */
    snprintf(repo, sizeof repo, "%s/capi-repo", dir);
    fresh_bank(repo);
    if (run_clients(&ca, "capi", repo, nclients, seconds, capi_client, getpid(), 0) != 0) {
        fprintf(stderr, BENCH_NAME ": C API clients hung\n");
        return 1;
    }
    ca.final_sum = final_sum_capi(repo);
    if (ca.final_sum != TOTAL)
        fail_note("capi", "invariant", "the final sum is wrong");
    print_side("capi", &ca, seconds);
    print_rss("capi", &ca, seconds, &late);

    /* -- serve / capi -- */
    long sv_ops = sv.reads + sv.sums + sv.transfers, ca_ops = ca.reads + ca.sums + ca.transfers;
    printf("ratio_ops_per_s %.3f\nratio_reads_per_s %.3f\nratio_transfers_per_s %.3f\n",
           ratio_of((double)sv_ops, (double)ca_ops), ratio_of((double)sv.reads, (double)ca.reads),
           ratio_of((double)sv.transfers, (double)ca.transfers));
    const struct {
        const char *name;
        const lat *a, *b;
    } ls[] = {{"read", &sv.read, &ca.read}, {"sum", &sv.sum, &ca.sum},
              {"transfer", &sv.transfer, &ca.transfer}};
    for (size_t i = 0; i < 3; i++)
        printf("ratio_%s_p50 %.3f\nratio_%s_p99 %.3f\n", ls[i].name,
               ratio_of(quantile(ls[i].a, 0.5), quantile(ls[i].b, 0.5)), ls[i].name,
               ratio_of(quantile(ls[i].a, 0.99), quantile(ls[i].b, 0.99)));
    int nfail = atomic_load(&failures);
    ok = nfail == 0;
    printf("invariant_ok %s\nok %s\n",
           sv.sums_bad == 0 && ca.sums_bad == 0 && sv.final_sum == TOTAL &&
                   served_sum == TOTAL && ca.final_sum == TOTAL
               ? "yes"
               : "no",
           ok ? "yes" : "no");
    if (!ok)
        fprintf(stderr,
                BENCH_NAME ": FAILED: %d failures (serve: %ld errors, %ld wrong sums; "
                           "capi: %ld errors, %ld wrong sums; server %s; memory growth %.2f); "
                           "server log: %s\n",
                nfail, sv.errors, sv.sums_bad, ca.errors, ca.sums_bad, how, growth, log_path);
    return ok ? 0 : 1;
}
