/*
 * serve — `udr serve`: the PostgreSQL-wire server's listener.
 *
 * One thread accepts; each connection gets a thread of its own and, once it
 * has logged in, a libudr handle of its own (its own DuckDB), so a slow query
 * stalls only its own client. The connections are bounded (max_connections;
 * one more is told 53300 "too many connections" and closed), and so is every
 * message (max_message_bytes) and the time to log in (auth_timeout_ms).
 *
 * SIGTERM or SIGINT: the listener closes; idle connections are told 57P01
 * and closed; a statement that is running finishes (a commit is never cut
 * off); a connection inside a transaction block gets shutdown_grace_ms to
 * end it, then it is rolled back. The process then exits 0.
 */
#ifndef UDR_SERVER_SERVE_H
#define UDR_SERVER_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct serve_opts {
    const char *repo_dir;           /* the repository served */
    const char *listen;             /* "HOST:PORT"; default 127.0.0.1:5433 */
    const char *passwords;          /* SCRAM password file, or NULL: trust */
    int max_connections;            /* default 64 */
    int auth_timeout_ms;            /* startup + login; default 10,000 */
    int shutdown_grace_ms;          /* for open transactions; default 10,000 */
    size_t max_message_bytes;       /* one client message; default 64 MiB */
    const char *memory_limit;       /* DuckDB's memory_limit per session, or NULL */
    int allow_files;                /* SQL may read and write any file the
                                       server may (read_csv, COPY TO 'f') */
    int quiet;                      /* no log lines */
} serve_opts;

/* Runs the server until SIGTERM/SIGINT. Returns a process exit status:
 * 0 after a clean shutdown, 1 if it could not start (the message is on
 * stderr: address in use, a non-loopback address without passwords ...). */
int serve_run(const serve_opts *opts);

/* 1 if host (an address or "localhost") is a loopback address. */
int serve_is_loopback(const char *host);

/* ---- for session.c ---------------------------------------------------------- */

struct session;

/* A log line ("udr serve: [conn 12] ..."), unless quiet; thread-safe. */
void serve_log(const struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 1 once shutdown has begun; serve_grace_over: and shutdown_grace_ms have
 * passed since, so open transactions are rolled back. */
int serve_stopping(void);
int serve_grace_over(void);

/* Registers s for CancelRequest: fills s->pid and s->key. */
void serve_register(struct session *s);
void serve_unregister(struct session *s);
/* Interrupts the statement of the session with this pid and key, if any. */
void serve_cancel(uint32_t pid, uint32_t key);

#endif
