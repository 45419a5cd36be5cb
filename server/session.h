/*
 * session — one client connection of `udr serve`, from its startup packet to
 * its last message.
 *
 * session.c owns the connection: reading and framing messages, startup,
 * login (trust or SCRAM-SHA-256), the simple and extended query protocols,
 * and the prepared statements and portals. sqlrun.c runs one SQL statement
 * for it: transaction control, SET/SHOW, COPY, the catalog queries clients
 * send, and everything else through libudr, writing the replies.
 *
 * A session is driven by its own thread; nothing in it is shared but pid,
 * key and repo, which serve_cancel reads under serve.c's registry lock.
 */
#ifndef UDR_SERVER_SESSION_H
#define UDR_SERVER_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "pgwire.h"
#include "serve.h"
#include "udr.h"

struct scram_users;

typedef struct prepared {
    char *name;
    char *sql;
    uint16_t nparams;
    uint32_t *types;            /* nparams OIDs, 0 where the client gave none */
} prepared;

typedef struct portal {
    char *name;
    char *sql;                  /* with the parameters' values in place */
    int16_t *formats;           /* per result column, or one for all */
    uint16_t nformats;
    udr_result *r;              /* once run (by Describe or Execute) */
    uint64_t next_row;          /* rows sent so far */
    char tag[64];               /* its CommandComplete */
    int run;                    /* 1 once run */
} portal;

typedef struct session {
    int fd;
    uint64_t id;                /* connection number, for the log */
    char peer[80];              /* "127.0.0.1:51234" */
    uint32_t pid, key;          /* BackendKeyData, for CancelRequest */
    const serve_opts *opts;
    const struct scram_users *users;
    udr_repo *repo;             /* opened after login */
    udr_tx *tx;                 /* BEGIN ... COMMIT */
    int tx_failed;              /* a statement failed inside tx */
    int skip_to_sync;           /* the extended protocol after an error */
    char user[64];
    char database[256];         /* as the client named it */
    char branch[256];
    char root[4096];            /* the repository's absolute path */
    /* The input: bytes read and not yet consumed. */
    uint8_t *in;
    size_t in_off, in_len, in_cap;  /* unconsumed: in[in_off, in_len) */
    uint8_t *msg;               /* the message being handled, out of in */
    size_t msg_cap;
    pgw_out out;
    prepared *stmts;
    size_t nstmts;
    portal *portals;
    size_t nportals;
    uint64_t statements, errors;
    uint64_t statements_at_open;    /* when repo was opened (maybe_recycle) */
    uint64_t writes, writes_at_open;    /* INSERT, UPDATE, DELETE, COPY, CREATE ... */
    int64_t opened_ms;          /* when repo was opened (monotonic) */
    uint64_t recycled;          /* handles renewed */
    int follow_current;         /* the branch is the repository's current one */
    int registered;             /* in serve.c's registry (for cancel) */
    int closing;                /* Terminate, a fatal error, or shutdown */
} session;

/* Serves one connection to its end and closes fd. */
void session_serve(session *s);

/* ---- session.c, for sqlrun.c ------------------------------------------------ */

/* Writes out what is buffered. -1 if the client is gone (s->closing set). */
int session_flush(session *s);
/* Reads the next message of the client (blocking); 1 with *f, 0 at the end
 * of the connection or on a fatal protocol error (already reported). */
int session_read(session *s, pgw_frame *f);
/* Drops the message just read from the input. */
void session_consume(session *s, const pgw_frame *f);

/* ---- sqlrun.c ------------------------------------------------------------------ */

/* How a statement's results go out. */
typedef struct run_opts {
    int describe;               /* send RowDescription before the rows (simple protocol) */
    const int16_t *formats;     /* result formats (extended), NULL: text */
    uint16_t nformats;
} run_opts;

/* Runs one statement and writes its replies (RowDescription, DataRows,
 * CommandComplete, or an ErrorResponse). Returns 0, or -1 after an error
 * was sent (inside a transaction block, that block is failed). */
int sqlrun_statement(session *s, const char *sql, const run_opts *ro);

/* For the extended protocol: runs sql and keeps its rows in p (p->r, p->tag)
 * without sending them. 0, or -1 after an ErrorResponse. */
int sqlrun_portal(session *s, portal *p);
/* Sends up to max_rows (0: all) of p's rows as DataRows; then
 * CommandComplete, or PortalSuspended if rows are left. */
int sqlrun_send_rows(session *s, portal *p, uint32_t max_rows);
/* RowDescription of a result (formats as in Bind). */
void sqlrun_describe(session *s, const udr_result *r, const int16_t *formats,
                     uint16_t nformats);
/* The columns a statement would return, without running it: a
 * RowDescription, or NoData if it returns none. 0, or -1 after an error. */
int sqlrun_describe_sql(session *s, const char *sql);

/* 1 if sql returns rows (SELECT, WITH, VALUES, SHOW, ... RETURNING). */
int sqlrun_returns_rows(const char *sql);

/* Sends an ErrorResponse for the handle's last error (SQLSTATE chosen from
 * the code and message) and logs it. Returns -1. */
int sqlrun_error(session *s, int rc, const char *msg);
/* Sends an ErrorResponse with a given SQLSTATE. Returns -1. */
int sqlrun_fail(session *s, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ReadyForQuery's status: 'I' idle, 'T' in a block, 'E' failed block. */
char sqlrun_status(const session *s);

#endif
