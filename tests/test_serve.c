/*
 * test_serve — `udr serve` driven by libpq, the C client every PostgreSQL
 * driver is built on or modelled after.
 *
 * Each test starts the udr binary beside this test binary (../udr) serving a
 * fresh repository on a free loopback port, talks to it with libpq, and
 * stops it with SIGTERM (checking that it exits 0). Covered: the extended
 * protocol (PQexecParams with text and binary parameters and results,
 * PQprepare / PQdescribePrepared / PQexecPrepared, pipeline mode), SQLSTATEs
 * (42P01, 42601, 40001, 25P02), branches as databases and SET udr.branch,
 * time travel, COPY in and out, CancelRequest, the connection limit,
 * SIGTERM with an open transaction, a session outliving its renewed
 * handles, and a non-loopback address without passwords refusing to start.
 */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "udrtest.h"

static char udr_bin[PATH_MAX];
static pid_t server_pid;
static int server_port;
static const char *listen_host = "127.0.0.1";   /* where start_server listens */

static void find_udr(void)
{
    char self[PATH_MAX - 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    REQUIRE(n > 0);
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    REQUIRE(slash != NULL);
    *slash = '\0';
    snprintf(udr_bin, sizeof udr_bin, "%s/../udr", self);
    REQUIRE(access(udr_bin, X_OK) == 0);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return 0;
    close(fd);
    return ntohs(a.sin_port);
}

/* Runs the udr binary with args; its stderr to t_path("server.log"). */
static pid_t spawn(char *const *args)
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(t_path("server.log"), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execv(udr_bin, args);
        _exit(127);
    }
    return pid;
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

static PGconn *connect_db(const char *db)
{
    char info[512];
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d user=tester dbname=%s connect_timeout=10", server_port,
             db ? db : "main");
    return PQconnectdb(info);
}

/* A fresh repository with accounts(id key, balance) of 10 rows, served with
 * extra arguments (NULL-terminated). */
static void start_server_with(const char *const *extra)
{
    stop_server();
    if (udr_bin[0] == '\0')
        find_udr();
    if (access(t_path("repo"), F_OK) != 0) {
        udr_repo *r = new_repo();
        const char *key[] = {"id", NULL};
        must_write(r, "accounts",
                   "SELECT range AS id, 100::BIGINT AS balance, 'o' || range AS owner "
                   "FROM range(10)",
                   key, NULL);
        udr_close(r);
    }
    server_port = free_port();
    REQUIRE(server_port > 0);
    char listen[64];
    snprintf(listen, sizeof listen, "%s:%d", listen_host, server_port);
    char *args[32] = {"udr", "--repo", (char *)t_path("repo"), "serve", "--listen", listen};
    int n = 6;
    for (size_t i = 0; extra && extra[i] && n < 30; i++)
        args[n++] = (char *)extra[i];
    args[n] = NULL;
    server_pid = spawn(args);
    REQUIRE(server_pid > 0);
    char info[128];
    snprintf(info, sizeof info, "host=127.0.0.1 port=%d dbname=main user=tester", server_port);
    for (int i = 0; i < 200 && PQping(info) != PQPING_OK; i++)
        usleep(25000);
    REQUIRE(PQping(info) == PQPING_OK);
}

static void start_server(void)
{
    start_server_with(NULL);
}

/* SIGTERM; the server must exit 0 within 20 s. */
static void stop_gracefully(void)
{
    REQUIRE(server_pid > 0);
    kill(server_pid, SIGTERM);
    int st = -1;
    for (int i = 0; i < 400; i++) {
        if (waitpid(server_pid, &st, WNOHANG) == server_pid)
            break;
        usleep(50000);
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!(WIFEXITED(st)))
        kill(server_pid, SIGKILL), waitpid(server_pid, NULL, 0);
    server_pid = 0;
}

/* The first value of a query, as text ("ERROR <sqlstate>" on failure). */
static const char *one(PGconn *c, const char *sql)
{
    static char buf[4][256];
    static int k;
    char *b = buf[k++ % 4];
    PGresult *res = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK && PQntuples(res) > 0)
        snprintf(b, 256, "%s", PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0));
    else if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        snprintf(b, 256, "%s", PQcmdStatus(res));
    else
        snprintf(b, 256, "ERROR %s", PQresultErrorField(res, PG_DIAG_SQLSTATE) ?: "?");
    PQclear(res);
    return b;
}

static int log_has(const char *text)
{
    FILE *f = fopen(t_path("server.log"), "r");
    if (f == NULL)
        return 0;
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

/* ---- the extended protocol ----------------------------------------------------- */

static void test_exec_params_text_and_binary(void)
{
    start_server();
    PGconn *c = connect_db(NULL);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    /* Untyped text parameters compared with typed columns. */
    const char *vals[2] = {"3", "o3"};
    PGresult *r = PQexecParams(c, "SELECT id, balance, owner FROM accounts WHERE id = $1 AND "
                                  "owner = $2",
                               2, NULL, vals, NULL, NULL, 0);
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK_INT(PQntuples(r), ==, 1);
    CHECK_INT(PQnfields(r), ==, 3);
    CHECK_STR(PQfname(r, 2), "owner");
    CHECK_INT(PQftype(r, 0), ==, 20);       /* int8 */
    CHECK_INT(PQftype(r, 2), ==, 25);       /* text */
    CHECK_STR(PQgetvalue(r, 0, 1), "100");
    PQclear(r);

    /* Typed binary parameters, binary results. */
    Oid types[3] = {20, 701, 25};
    uint64_t big = 0;
    int64_t v = -1234567890123LL;
    for (int i = 0; i < 8; i++)
        ((unsigned char *)&big)[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
    double d = 2.5;
    uint64_t dbits;
    memcpy(&dbits, &d, 8);
    unsigned char dbe[8];
    for (int i = 0; i < 8; i++)
        dbe[i] = (unsigned char)(dbits >> (56 - 8 * i));
    const char *bv[3] = {(const char *)&big, (const char *)dbe, "it's"};
    int lens[3] = {8, 8, 4}, fmts[3] = {1, 1, 1};
    r = PQexecParams(c, "SELECT $1 + 1 AS a, $2 * 2 AS b, $3 || '!' AS c, true AS t", 3, types,
                     bv, lens, fmts, 1);
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK_INT(PQfformat(r, 0), ==, 1);
    CHECK_INT(PQgetlength(r, 0, 0), ==, 8);
    const unsigned char *a = (const unsigned char *)PQgetvalue(r, 0, 0);
    int64_t got = 0;
    for (int i = 0; i < 8; i++)
        got = (int64_t)((uint64_t)got << 8 | a[i]);
    CHECK_INT(got, ==, v + 1);
    const unsigned char *b = (const unsigned char *)PQgetvalue(r, 0, 1);
    uint64_t bb = 0;
    for (int i = 0; i < 8; i++)
        bb = bb << 8 | b[i];
    double dd;
    memcpy(&dd, &bb, 8);
    CHECK(dd == 5.0);
    CHECK_INT(PQgetlength(r, 0, 2), ==, 5);
    CHECK(memcmp(PQgetvalue(r, 0, 2), "it's!", 5) == 0);
    CHECK_INT(PQgetlength(r, 0, 3), ==, 1);
    CHECK_INT(PQgetvalue(r, 0, 3)[0], ==, 1);
    PQclear(r);

    /* A NULL parameter, a quote in a value: no injection. */
    const char *hostile[1] = {"x'; DROP TABLE accounts; --"};
    r = PQexecParams(c, "SELECT count(*) FROM accounts WHERE owner = $1 OR $1 IS NULL", 1,
                     NULL, hostile, NULL, NULL, 0);
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK_STR(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    const char *nul[1] = {NULL};
    r = PQexecParams(c, "SELECT count(*) FROM accounts WHERE $1::BIGINT IS NULL", 1, NULL, nul,
                     NULL, NULL, 0);
    CHECK_STR(PQgetvalue(r, 0, 0), "10");
    PQclear(r);
    CHECK_STR(one(c, "SELECT count(*) FROM accounts"), "10");
    /* bytea in text form (hex), as libpq sends it. */
    const char *hex[1] = {"\\x00ff27"};
    r = PQexecParams(c, "SELECT octet_length($1), $1", 1, (Oid[]){17}, hex, NULL, NULL, 0);
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK_STR(PQgetvalue(r, 0, 0), "3");
    CHECK_INT(PQftype(r, 1), ==, 17);
    CHECK_STR(PQgetvalue(r, 0, 1), "\\x00ff27");
    PQclear(r);
    PQfinish(c);
    stop_gracefully();
}

static void test_prepare_describe_execute(void)
{
    start_server();
    PGconn *c = connect_db(NULL);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQprepare(c, "get", "SELECT owner, balance FROM accounts WHERE id = $1", 1,
                            (Oid[]){20});
    REQUIRE(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    r = PQdescribePrepared(c, "get");
    REQUIRE(PQresultStatus(r) == PGRES_COMMAND_OK);
    CHECK_INT(PQnparams(r), ==, 1);
    CHECK_INT(PQparamtype(r, 0), ==, 20);
    CHECK_INT(PQnfields(r), ==, 2);
    CHECK_STR(PQfname(r, 0), "owner");
    CHECK_INT(PQftype(r, 1), ==, 20);
    PQclear(r);
    for (int i = 0; i < 10; i++) {
        char id[16], want[16];
        snprintf(id, sizeof id, "%d", i);
        snprintf(want, sizeof want, "o%d", i);
        const char *v[1] = {id};
        r = PQexecPrepared(c, "get", 1, v, NULL, NULL, 0);
        REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
        CHECK_STR(PQgetvalue(r, 0, 0), want);
        PQclear(r);
    }
    /* A write through a prepared statement: its tag counts rows. */
    r = PQprepare(c, "pay", "UPDATE accounts SET balance = balance + $2 WHERE id = $1", 2, NULL);
    REQUIRE(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    const char *pv[2] = {"4", "5"};
    r = PQexecPrepared(c, "pay", 2, pv, NULL, NULL, 0);
    REQUIRE(PQresultStatus(r) == PGRES_COMMAND_OK);
    CHECK_STR(PQcmdTuples(r), "1");
    PQclear(r);
    CHECK_STR(one(c, "SELECT balance FROM accounts WHERE id = 4"), "105");
    /* The same name again: 42P05; an unknown one: 26000. */
    r = PQprepare(c, "get", "SELECT 1", 0, NULL);
    CHECK_STR(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42P05");
    PQclear(r);
    r = PQexecPrepared(c, "nope", 0, NULL, NULL, NULL, 0);
    CHECK_STR(PQresultErrorField(r, PG_DIAG_SQLSTATE), "26000");
    PQclear(r);
    /* Too few parameters: a protocol error, and the session goes on. */
    r = PQexecPrepared(c, "pay", 1, pv, NULL, NULL, 0);
    CHECK_STR(PQresultErrorField(r, PG_DIAG_SQLSTATE), "08P01");
    PQclear(r);
    CHECK_STR(one(c, "SELECT 7"), "7");
    PQfinish(c);
    stop_gracefully();
}

static void test_pipeline(void)
{
    start_server();
    PGconn *c = connect_db(NULL);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    REQUIRE(PQenterPipelineMode(c) == 1);
    const char *v1[1] = {"1"}, *v2[1] = {"2"};
    REQUIRE(PQsendQueryParams(c, "SELECT balance + $1::BIGINT FROM accounts WHERE id = 0", 1,
                              NULL, v1, NULL, NULL, 0));
    REQUIRE(PQsendQueryParams(c, "SELECT * FROM no_such_table WHERE x = $1", 1, NULL, v2, NULL,
                              NULL, 0));
    REQUIRE(PQpipelineSync(c));
    REQUIRE(PQsendQueryParams(c, "SELECT $1::BIGINT * 10", 1, NULL, v2, NULL, NULL, 0));
    REQUIRE(PQpipelineSync(c));
    PGresult *r = PQgetResult(c);
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK_STR(PQgetvalue(r, 0, 0), "101");
    PQclear(r);
    CHECK(PQgetResult(c) == NULL);
    r = PQgetResult(c);
    CHECK_STR(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42P01");
    PQclear(r);
    CHECK(PQgetResult(c) == NULL);
    r = PQgetResult(c);
    CHECK_INT(PQresultStatus(r), ==, PGRES_PIPELINE_SYNC);
    PQclear(r);
    r = PQgetResult(c);
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK_STR(PQgetvalue(r, 0, 0), "20");
    PQclear(r);
    CHECK(PQgetResult(c) == NULL);
    r = PQgetResult(c);
    CHECK_INT(PQresultStatus(r), ==, PGRES_PIPELINE_SYNC);
    PQclear(r);
    CHECK(PQexitPipelineMode(c) == 1);
    PQfinish(c);
    stop_gracefully();
}

/* ---- errors, transactions, branches --------------------------------------------- */

static void test_sqlstates_and_transactions(void)
{
    start_server();
    PGconn *a = connect_db(NULL), *b = connect_db(NULL);
    REQUIRE(PQstatus(a) == CONNECTION_OK && PQstatus(b) == CONNECTION_OK);
    CHECK_STR(one(a, "SELECT * FROM missing"), "ERROR 42P01");
    CHECK_STR(one(a, "SELEC 1"), "ERROR 42601");
    CHECK_STR(one(a, "SELECT * FROM \"accounts@99\""), "ERROR 42P01");
    /* A failed statement fails the block: 25P02 until ROLLBACK. */
    CHECK_STR(one(a, "BEGIN"), "BEGIN");
    CHECK_INT(PQtransactionStatus(a), ==, PQTRANS_INTRANS);
    CHECK_STR(one(a, "SELECT * FROM missing"), "ERROR 42P01");
    CHECK_INT(PQtransactionStatus(a), ==, PQTRANS_INERROR);
    CHECK_STR(one(a, "SELECT 1"), "ERROR 25P02");
    CHECK_STR(one(a, "COMMIT"), "ROLLBACK");
    CHECK_INT(PQtransactionStatus(a), ==, PQTRANS_IDLE);
    /* Two blocks change the same key: the second COMMIT is 40001. */
    CHECK_STR(one(a, "BEGIN"), "BEGIN");
    CHECK_STR(one(b, "BEGIN"), "BEGIN");
    CHECK_STR(one(a, "UPDATE accounts SET balance = 1 WHERE id = 1"), "UPDATE 1");
    CHECK_STR(one(b, "UPDATE accounts SET balance = 2 WHERE id = 1"), "UPDATE 1");
    CHECK_STR(one(b, "UPDATE accounts SET balance = 2 WHERE id = 1"), "UPDATE 1");
    CHECK_STR(one(a, "SELECT balance FROM accounts WHERE id = 1"), "1");
    CHECK_STR(one(b, "SELECT balance FROM accounts WHERE id = 1"), "2");
    CHECK_STR(one(a, "COMMIT"), "COMMIT");
    CHECK_STR(one(b, "COMMIT"), "ERROR 40001");
    CHECK_INT(PQtransactionStatus(b), ==, PQTRANS_IDLE);
    /* Different keys: both commit (row-level merge). */
    CHECK_STR(one(a, "BEGIN"), "BEGIN");
    CHECK_STR(one(b, "BEGIN"), "BEGIN");
    CHECK_STR(one(a, "UPDATE accounts SET balance = 11 WHERE id = 2"), "UPDATE 1");
    CHECK_STR(one(b, "UPDATE accounts SET balance = 12 WHERE id = 3"), "UPDATE 1");
    CHECK_STR(one(a, "COMMIT"), "COMMIT");
    CHECK_STR(one(b, "COMMIT"), "COMMIT");
    CHECK_STR(one(a, "SELECT sum(balance) FROM accounts WHERE id IN (1, 2, 3)"), "24");
    /* ROLLBACK discards; the isolation level PostgreSQL clients ask for is taken. */
    CHECK_STR(one(a, "BEGIN ISOLATION LEVEL READ COMMITTED"), "BEGIN");
    CHECK_STR(one(a, "DELETE FROM accounts"), "DELETE 10");
    CHECK_STR(one(a, "ROLLBACK"), "ROLLBACK");
    CHECK_STR(one(a, "SELECT count(*) FROM accounts"), "10");
    CHECK_STR(one(a, "SAVEPOINT s"), "ERROR 0A000");
    PQfinish(a);
    PQfinish(b);
    stop_gracefully();
    CHECK(log_has("connected: user=tester database=main branch=main"));
    CHECK(log_has("error 40001"));
    CHECK(log_has("error 42P01"));
    CHECK(log_has("disconnected after"));
}

static void test_branches_and_time_travel(void)
{
    start_server();
    PGconn *m = connect_db(NULL);
    REQUIRE(PQstatus(m) == CONNECTION_OK);
    CHECK_STR(one(m, "SHOW udr.branch"), "main");
    /* A branch made through SQL? No: by the API, as a user would with udr branch. */
    udr_repo *r = NULL;
    MUST(r, udr_open(t_path("repo"), &r));
    MUST(r, udr_branch_create(r, "feature/x", NULL, NULL));
    udr_close(r);
    PGconn *f = connect_db("feature/x");
    REQUIRE(PQstatus(f) == CONNECTION_OK);
    CHECK_STR(one(f, "SHOW udr.branch"), "feature/x");
    CHECK_STR(one(f, "INSERT INTO accounts VALUES (100, 5, 'new')"), "INSERT 0 1");
    CHECK_STR(one(f, "SELECT count(*) FROM accounts"), "11");
    CHECK_STR(one(m, "SELECT count(*) FROM accounts"), "10");
    CHECK_STR(one(m, "SELECT count(*) FROM \"accounts@feature/x\""), "11");
    /* Time travel: versions are numbered per table across branches. */
    CHECK_STR(one(m, "INSERT INTO accounts VALUES (50, 1, 'main'), (51, 1, 'main')"),
              "INSERT 0 2");
    CHECK_STR(one(m, "SELECT count(*) FROM \"accounts@1\""), "10");
    CHECK_STR(one(m, "SELECT count(*) FROM \"accounts@2\""), "11");
    CHECK_STR(one(m, "SELECT count(*) FROM \"accounts@3\""), "12");
    CHECK_STR(one(m, "SET udr.branch = 'feature/x'"), "SET");
    CHECK_STR(one(m, "SELECT count(*) FROM accounts"), "11");
    CHECK_STR(one(m, "SET udr.branch TO main"), "SET");
    CHECK_STR(one(m, "SELECT count(*) FROM accounts"), "12");
    CHECK_STR(one(m, "SET udr.branch = 'no/such'"), "ERROR 3D000");
    CHECK_STR(one(m, "BEGIN"), "BEGIN");
    CHECK_STR(one(m, "SET udr.branch = 'feature/x'"), "ERROR 25001");
    CHECK_STR(one(m, "ROLLBACK"), "ROLLBACK");
    PQfinish(f);
    /* An unknown database that is not a default name: 3D000 at login. */
    PGconn *bad = connect_db("no-such-branch");
    CHECK(PQstatus(bad) == CONNECTION_BAD);
    CHECK(strstr(PQerrorMessage(bad), "no-such-branch") != NULL);
    PQfinish(bad);
    /* Default names mean the current branch. */
    PGconn *p = connect_db("postgres");
    CHECK(PQstatus(p) == CONNECTION_OK);
    CHECK_STR(one(p, "SHOW udr.branch"), "main");
    PQfinish(p);
    PQfinish(m);
    stop_gracefully();
}

/* A session's handle is renewed as it goes (after 16 writes or 256
 * statements, session.c), between statements and never inside a
 * transaction block: the client sees none of it. Its prepared statement,
 * its branch and its transaction all carry on, and the log says how many
 * times it happened. */
static void test_renewed_handle_keeps_the_session(void)
{
    start_server();
    udr_repo *r = NULL;
    MUST(r, udr_open(t_path("repo"), &r));
    MUST(r, udr_branch_create(r, "renew", NULL, NULL));
    udr_close(r);
    PGconn *c = connect_db("renew");
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    PGresult *res = PQprepare(c, "bal", "SELECT balance FROM accounts WHERE id = $1", 1, NULL);
    CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
    PQclear(res);
    for (int i = 0; i < 40; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "UPDATE accounts SET balance = balance + 1 WHERE id = %d",
                 i % 10);
        CHECK_STR(one(c, sql), "UPDATE 1");
    }
    for (int i = 0; i < 260; i++)
        CHECK_STR(one(c, "SELECT count(*) FROM accounts"), "10");
    /* A transaction block of more writes than a handle takes: one handle
     * throughout, so it reads its own writes and commits them at once. */
    CHECK_STR(one(c, "BEGIN"), "BEGIN");
    for (int i = 0; i < 20; i++)
        CHECK_STR(one(c, "UPDATE accounts SET balance = balance + 1 WHERE id = 3"), "UPDATE 1");
    CHECK_STR(one(c, "SELECT balance FROM accounts WHERE id = 3"), "124");
    CHECK_STR(one(c, "COMMIT"), "COMMIT");
    const char *v[1] = {"3"};
    res = PQexecPrepared(c, "bal", 1, v, NULL, NULL, 0);
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        CHECK_STR(PQgetvalue(res, 0, 0), "124");
    PQclear(res);
    CHECK_STR(one(c, "SHOW udr.branch"), "renew");
    CHECK_STR(one(c, "SELECT sum(balance) FROM accounts"), "1060");
    CHECK_STR(one(c, "SELECT sum(balance) FROM \"accounts@main\""), "1000");
    PQfinish(c);
    stop_gracefully();
    CHECK(log_has("its handle was renewed"));
}

/* ---- COPY ----------------------------------------------------------------------- */

static void test_copy_in_and_out(void)
{
    start_server();
    PGconn *c = connect_db(NULL);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, "COPY accounts FROM STDIN");
    REQUIRE(PQresultStatus(r) == PGRES_COPY_IN);
    CHECK_INT(PQnfields(r), ==, 3);
    PQclear(r);
    const char *text = "20\t7\ttab\\there\n21\t8\t\\N\n22\t9\tline\\nbreak\n";
    /* In two pieces that split a line. */
    REQUIRE(PQputCopyData(c, text, 10) == 1);
    REQUIRE(PQputCopyData(c, text + 10, (int)strlen(text) - 10) == 1);
    REQUIRE(PQputCopyEnd(c, NULL) == 1);
    r = PQgetResult(c);
    REQUIRE(PQresultStatus(r) == PGRES_COMMAND_OK);
    CHECK_STR(PQcmdStatus(r), "COPY 3");
    PQclear(r);
    CHECK_STR(one(c, "SELECT owner FROM accounts WHERE id = 20"), "tab\there");
    CHECK_STR(one(c, "SELECT owner FROM accounts WHERE id = 21"), "NULL");
    CHECK_STR(one(c, "SELECT owner FROM accounts WHERE id = 22"), "line\nbreak");

    r = PQexec(c, "COPY accounts (id, balance) FROM STDIN WITH (FORMAT csv, HEADER)");
    REQUIRE(PQresultStatus(r) == PGRES_COPY_IN);
    PQclear(r);
    const char *csv = "id,balance\n30,1\n31,2\n";
    REQUIRE(PQputCopyData(c, csv, (int)strlen(csv)) == 1);
    REQUIRE(PQputCopyEnd(c, NULL) == 1);
    r = PQgetResult(c);
    CHECK_STR(PQcmdStatus(r), "COPY 2");
    PQclear(r);
    CHECK_STR(one(c, "SELECT count(*) FROM accounts WHERE owner IS NULL"), "3");

    /* The client gives up: 57014, and nothing of it was stored. */
    r = PQexec(c, "COPY accounts FROM STDIN");
    REQUIRE(PQresultStatus(r) == PGRES_COPY_IN);
    PQclear(r);
    REQUIRE(PQputCopyData(c, "40\t1\tx\n", 7) == 1);
    REQUIRE(PQputCopyEnd(c, "changed my mind") == 1);
    r = PQgetResult(c);
    CHECK_STR(PQresultErrorField(r, PG_DIAG_SQLSTATE), "57014");
    PQclear(r);
    CHECK_STR(one(c, "SELECT count(*) FROM accounts"), "15");
    /* A bad value: the INSERT fails whole. */
    r = PQexec(c, "COPY accounts FROM STDIN");
    PQclear(r);
    REQUIRE(PQputCopyData(c, "41\tnot-a-number\tx\n", 18) == 1);
    REQUIRE(PQputCopyEnd(c, NULL) == 1);
    r = PQgetResult(c);
    CHECK_STR(PQresultErrorField(r, PG_DIAG_SQLSTATE), "22P02");
    PQclear(r);
    CHECK_STR(one(c, "SELECT count(*) FROM accounts"), "15");
    CHECK_STR(one(c, "COPY missing FROM STDIN"), "ERROR 42P01");

    /* Out, as text: escapes and \N. */
    r = PQexec(c, "COPY (SELECT id, owner FROM accounts WHERE id IN (20, 21, 22) ORDER BY id) "
                  "TO STDOUT");
    REQUIRE(PQresultStatus(r) == PGRES_COPY_OUT);
    PQclear(r);
    char all[512] = "", *buf;
    int n;
    while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
        strncat(all, buf, sizeof all - strlen(all) - 1);
        PQfreemem(buf);
    }
    CHECK_STR(all, "20\ttab\\there\n21\t\\N\n22\tline\\nbreak\n");
    r = PQgetResult(c);
    CHECK_STR(PQcmdStatus(r), "COPY 3");
    PQclear(r);
    /* As CSV with a header. */
    r = PQexec(c, "COPY accounts (id, owner) TO STDOUT WITH CSV HEADER");
    REQUIRE(PQresultStatus(r) == PGRES_COPY_OUT);
    PQclear(r);
    int lines = 0;
    all[0] = '\0';
    while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
        if (lines++ < 1)
            strncat(all, buf, sizeof all - strlen(all) - 1);
        PQfreemem(buf);
    }
    CHECK_STR(all, "id,owner\n");
    CHECK_INT(lines, ==, 16);
    r = PQgetResult(c);
    CHECK_STR(PQcmdStatus(r), "COPY 15");
    PQclear(r);
    PQfinish(c);
    stop_gracefully();
}

/* ---- cancel, limits, shutdown ------------------------------------------------------- */

typedef struct slow_arg {
    PGconn *c;
    char state[8];
} slow_arg;

static void *slow_query(void *p)
{
    slow_arg *a = p;
    PGresult *r = PQexec(a->c, "SELECT count(*) FROM range(100000000) a, range(100000) b "
                               "WHERE a.range + b.range = -1");
    snprintf(a->state, sizeof a->state, "%s",
             PQresultErrorField(r, PG_DIAG_SQLSTATE) ?: "none");
    PQclear(r);
    return NULL;
}

static void test_cancel_request(void)
{
    start_server();
    PGconn *c = connect_db(NULL);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    slow_arg a = {.c = c};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, slow_query, &a) == 0);
    usleep(500000);
    PGcancel *cancel = PQgetCancel(c);
    char err[256];
    CHECK(PQcancel(cancel, err, sizeof err) == 1);
    PQfreeCancel(cancel);
    pthread_join(th, NULL);
    CHECK_STR(a.state, "57014");
    /* The session is usable after it. */
    CHECK_STR(one(c, "SELECT 1"), "1");
    /* A cancel with a wrong key does nothing (and does not crash). */
    PQfinish(c);
    stop_gracefully();
    CHECK(log_has("cancel request"));
}

static void test_connection_limit(void)
{
    const char *extra[] = {"--max-connections", "2", NULL};
    start_server_with(extra);
    PGconn *a = connect_db(NULL), *b = connect_db(NULL);
    CHECK(PQstatus(a) == CONNECTION_OK && PQstatus(b) == CONNECTION_OK);
    PGconn *c = connect_db(NULL);
    CHECK(PQstatus(c) == CONNECTION_BAD);
    CHECK(strstr(PQerrorMessage(c), "too many clients") != NULL);
    PQfinish(c);
    PQfinish(b);
    /* A freed slot is taken again. */
    PGconn *d = NULL;
    for (int i = 0; i < 50; i++) {
        d = connect_db(NULL);
        if (PQstatus(d) == CONNECTION_OK)
            break;
        PQfinish(d);
        d = NULL;
        usleep(20000);
    }
    CHECK(d != NULL);
    if (d != NULL)
        CHECK_STR(one(d, "SELECT 5"), "5");
    PQfinish(d);
    PQfinish(a);
    stop_gracefully();
    CHECK(log_has("too many clients"));
}

static void test_sigterm_lets_a_transaction_commit(void)
{
    const char *extra[] = {"--shutdown-grace", "5000", NULL};
    start_server_with(extra);
    PGconn *idle = connect_db(NULL), *busy = connect_db(NULL);
    REQUIRE(PQstatus(idle) == CONNECTION_OK && PQstatus(busy) == CONNECTION_OK);
    CHECK_STR(one(busy, "BEGIN"), "BEGIN");
    CHECK_STR(one(busy, "UPDATE accounts SET balance = 0 WHERE id = 9"), "UPDATE 1");
    kill(server_pid, SIGTERM);
    usleep(600000);
    /* The idle connection was told and closed; the open block goes on. */
    PGresult *r = PQexec(idle, "SELECT 1");
    CHECK(PQresultStatus(r) != PGRES_TUPLES_OK);
    PQclear(r);
    CHECK_STR(one(busy, "SELECT balance FROM accounts WHERE id = 9"), "0");
    CHECK_STR(one(busy, "COMMIT"), "COMMIT");
    /* New connections are refused while it stops (or find it gone). */
    PGconn *late = connect_db(NULL);
    CHECK(PQstatus(late) == CONNECTION_BAD);
    PQfinish(late);
    PQfinish(idle);
    PQfinish(busy);
    int st = -1;
    for (int i = 0; i < 200 && waitpid(server_pid, &st, WNOHANG) != server_pid; i++)
        usleep(50000);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    server_pid = 0;
    udr_repo *repo = NULL;
    MUST(repo, udr_open(t_path("repo"), &repo));
    CHECK_STR(value(repo, "SELECT balance FROM accounts WHERE id = 9"), "0");
    udr_close(repo);
    CHECK(log_has("shutting down"));
    CHECK(log_has("stopped"));
}

/* By default SQL reaches the tables, not the server's files, and cannot
 * unlock that; --allow-file-access lets it. */
static void test_file_access_locked_down(void)
{
    start_server();
    PGconn *c = connect_db(NULL);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    char sql[PATH_MAX + 128];
    FILE *f = fopen(t_path("secret.csv"), "w");
    REQUIRE(f != NULL);
    fputs("a\n1\n", f);
    fclose(f);
    snprintf(sql, sizeof sql, "SELECT * FROM read_csv('%s')", t_path("secret.csv"));
    CHECK_STR(one(c, sql), "ERROR 42501");
    snprintf(sql, sizeof sql, "COPY (SELECT 1) TO '%s'", t_path("out.csv"));
    CHECK_STR(one(c, sql), "ERROR 42501");
    CHECK(access(t_path("out.csv"), F_OK) != 0);
    CHECK_STR(one(c, "SET enable_external_access = true"), "ERROR 42501");
    CHECK_STR(one(c, "SET allowed_directories = ['/']"), "ERROR 42501");
    /* The tables still work, writes and COPY FROM STDIN included. */
    CHECK_STR(one(c, "UPDATE accounts SET balance = 1 WHERE id = 1"), "UPDATE 1");
    CHECK_STR(one(c, "SELECT sum(balance) FROM accounts"), "901");
    PQfinish(c);
    stop_gracefully();

    const char *extra[] = {"--allow-file-access", NULL};
    start_server_with(extra);
    c = connect_db(NULL);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    snprintf(sql, sizeof sql, "SELECT * FROM read_csv('%s')", t_path("secret.csv"));
    CHECK_STR(one(c, sql), "1");
    snprintf(sql, sizeof sql, "COPY (SELECT 7 AS x) TO '%s'", t_path("out.csv"));
    CHECK(strncmp(one(c, sql), "ERROR", 5) != 0);
    CHECK(access(t_path("out.csv"), F_OK) == 0);
    PQfinish(c);
    stop_gracefully();
}

static void test_refuses_open_address_without_passwords(void)
{
    if (udr_bin[0] == '\0')
        find_udr();
    udr_repo *r = new_repo();
    udr_close(r);
    char *args[] = {"udr", "--repo", (char *)t_path("repo"), "serve", "--listen", "0.0.0.0:5999",
                    NULL};
    pid_t pid = spawn(args);
    int st = -1;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK(log_has("refusing to listen on 0.0.0.0:5999 without passwords"));
}

/* ---- passwords --------------------------------------------------------------------- */

/* Reads one message from fd: its type, body into buf (at most cap). */
static int read_msg(int fd, char *type, unsigned char *buf, size_t cap, size_t *len)
{
    unsigned char h[5];
    size_t got = 0;
    while (got < 5) {
        ssize_t n = recv(fd, h + got, 5 - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    size_t body = ((size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4]) - 4;
    if (body > cap)
        return -1;
    for (got = 0; got < body;) {
        ssize_t n = recv(fd, buf + got, body - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    *type = (char)h[0];
    *len = body;
    return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* Logs in as user over a raw socket with a SCRAM proof that cannot be
 * right, and returns the SQLSTATE of the ErrorResponse (static). */
static const char *wrong_proof_sqlstate(const char *user)
{
    static char state[8];
    snprintf(state, sizeof state, "none");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return close(fd), state;
    unsigned char m[512], b[1024];
    size_t n = 8;
    put32(m + 4, 196608);
    n += (size_t)sprintf((char *)m + n, "user") + 1;
    n += (size_t)sprintf((char *)m + n, "%s", user) + 1;
    m[n++] = 0;
    put32(m, (uint32_t)n);
    char type;
    size_t len;
    if (send(fd, m, n, 0) != (ssize_t)n || read_msg(fd, &type, b, sizeof b, &len) != 0 ||
        type != 'R' || b[3] != 10)
        return close(fd), state;
    const char *first = "n,,n=,r=clientnonce0123456789";
    n = 0;
    m[n++] = 'p';
    n += 4;
    n += (size_t)sprintf((char *)m + n, "SCRAM-SHA-256") + 1;
    put32(m + n, (uint32_t)strlen(first));
    n += 4;
    memcpy(m + n, first, strlen(first));
    n += strlen(first);
    put32(m + 1, (uint32_t)(n - 1));
    if (send(fd, m, n, 0) != (ssize_t)n || read_msg(fd, &type, b, sizeof b, &len) != 0 ||
        type != 'R' || b[3] != 11)
        return close(fd), state;
    b[len] = '\0';
    char nonce[256];
    if (sscanf((char *)b + 4, "r=%255[^,]", nonce) != 1)
        return close(fd), state;
    n = 0;
    m[n++] = 'p';
    n += 4;
    n += (size_t)sprintf((char *)m + n, "c=biws,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                         nonce);
    put32(m + 1, (uint32_t)(n - 1));
    if (send(fd, m, n, 0) != (ssize_t)n || read_msg(fd, &type, b, sizeof b, &len) != 0 ||
        type != 'E')
        return close(fd), state;
    for (size_t i = 0; i < len && b[i];) {
        char field = (char)b[i++];
        if (field == 'C')
            snprintf(state, sizeof state, "%s", (char *)b + i);
        i += strlen((char *)b + i) + 1;
    }
    close(fd);
    return state;
}

static void test_passwords(void)
{
    if (udr_bin[0] == '\0')
        find_udr();
    /* udr serve passwd makes the line from a password on stdin. */
    char cmd[PATH_MAX * 2 + 64];
    snprintf(cmd, sizeof cmd, "printf 'pencil\\n' | %s serve passwd alice > %s", udr_bin,
             t_path("passwords"));
    REQUIRE(system(cmd) == 0);
    FILE *f = fopen(t_path("passwords"), "r");
    REQUIRE(f != NULL);
    char line[512] = "";
    CHECK(fgets(line, sizeof line, f) != NULL);
    fclose(f);
    CHECK(strncmp(line, "alice SCRAM-SHA-256$4096:", 25) == 0);
    /* With passwords, a non-loopback address is allowed. */
    char pwfile[PATH_MAX];     /* t_path's buffers are reused: keep a copy */
    snprintf(pwfile, sizeof pwfile, "%s", t_path("passwords"));
    const char *extra[] = {"--passwords", pwfile, NULL};
    listen_host = "0.0.0.0";
    start_server_with(extra);
    listen_host = "127.0.0.1";
    char info[256];
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d user=alice dbname=main password=pencil", server_port);
    PGconn *c = PQconnectdb(info);
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK_STR(one(c, "SELECT count(*) FROM accounts"), "10");
    PQfinish(c);
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d user=alice dbname=main password=Pencil", server_port);
    c = PQconnectdb(info);
    CHECK(PQstatus(c) == CONNECTION_BAD);
    CHECK(strstr(PQerrorMessage(c), "password authentication failed for user \"alice\"") !=
          NULL);
    PQfinish(c);
    /* No password at all: refused too (libpq cannot answer SCRAM). */
    snprintf(info, sizeof info, "host=127.0.0.1 port=%d user=alice dbname=main", server_port);
    c = PQconnectdb(info);
    CHECK(PQstatus(c) == CONNECTION_BAD);
    PQfinish(c);
    /* The SQLSTATE on the wire: 28P01, for a known user and an unknown one. */
    CHECK_STR(wrong_proof_sqlstate("alice"), "28P01");
    CHECK_STR(wrong_proof_sqlstate("mallory"), "28P01");
    stop_gracefully();
    CHECK(log_has("login refused: password authentication failed for user \"alice\""));
    CHECK(log_has("login refused: password authentication failed for user \"mallory\""));
    /* A password file with a broken line: the server does not start. */
    f = fopen(t_path("bad-passwords"), "w");
    REQUIRE(f != NULL);
    fputs("bob not-a-verifier\n", f);
    fclose(f);
    char *args[] = {"udr", "--repo", (char *)t_path("repo"), "serve", "--listen",
                    "127.0.0.1:5998", "--passwords", (char *)t_path("bad-passwords"), NULL};
    pid_t pid = spawn(args);
    int st = -1;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK(log_has("bad-passwords"));
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_passwords),
    TEST_ENTRY(test_exec_params_text_and_binary),
    TEST_ENTRY(test_prepare_describe_execute),
    TEST_ENTRY(test_pipeline),
    TEST_ENTRY(test_sqlstates_and_transactions),
    TEST_ENTRY(test_branches_and_time_travel),
    TEST_ENTRY(test_renewed_handle_keeps_the_session),
    TEST_ENTRY(test_copy_in_and_out),
    TEST_ENTRY(test_cancel_request),
    TEST_ENTRY(test_connection_limit),
    TEST_ENTRY(test_sigterm_lets_a_transaction_commit),
    TEST_ENTRY(test_file_access_locked_down),
    TEST_ENTRY(test_refuses_open_address_without_passwords),
};

HARNESS_MAIN("serve", TESTS)
