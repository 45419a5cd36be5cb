/*
 * cmd_serve — `udr serve`: the repository over the PostgreSQL wire protocol
 * (server/serve.c), and `udr serve passwd`, which makes password lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "scram.h"
#include "serve.h"

static const char SERVE_HELP[] =
    "usage: udr serve [--listen HOST:PORT] [--max-connections N] [--passwords FILE]\n"
    "                 [--auth-timeout MS] [--shutdown-grace MS] [--max-message MB]\n"
    "                 [--memory-limit SIZE] [--allow-file-access]\n"
    "       udr serve passwd NAME [--iterations N]   (reads the password from stdin)\n"
    "\n"
    "Serves the repository to PostgreSQL clients (psql, libpq, psycopg, JDBC ...)\n"
    "over the PostgreSQL wire protocol, version 3, until SIGTERM or Ctrl-C.\n"
    "\n"
    "  --listen HOST:PORT     where to listen (default 127.0.0.1:5433)\n"
    "  --max-connections N    at most N clients at once (default 64); one more is\n"
    "                         refused with SQLSTATE 53300\n"
    "  --passwords FILE       require SCRAM-SHA-256 passwords: lines 'NAME VERIFIER'\n"
    "                         made by 'udr serve passwd NAME'. Without it, clients are\n"
    "                         trusted, and only a loopback address may be listened on\n"
    "  --auth-timeout MS      time to finish logging in (default 10000)\n"
    "  --shutdown-grace MS    on SIGTERM, time open transactions get to end\n"
    "                         (default 10000); running statements always finish\n"
    "  --max-message MB       the largest message a client may send (default 64)\n"
    "  --memory-limit SIZE    DuckDB's memory limit of each connection, e.g. 1GB\n"
    "  --allow-file-access    let SQL read and write the server's files (read_csv,\n"
    "                         COPY ... TO 'file'); by default clients reach only\n"
    "                         the tables, and DuckDB's settings are locked\n"
    "\n"
    "Each connection works on a branch: the database name of the connection\n"
    "(psql -d feature/x), else the repository's current branch; SET udr.branch =\n"
    "'name' switches. Tables as in 'udr sql': users, \"users@3\", \"users@v1.0\".\n"
    "BEGIN ... COMMIT is one UDR transaction; a conflict is SQLSTATE 40001.\n"
    "One log line per connection and per error goes to stderr.\n";

static int parse_int(const char *verb, const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (v == NULL || *end != '\0' || n < lo || n > hi)
        return out_usage(verb, "%s needs a number from %ld to %ld", opt, lo, hi);
    *out = n;
    return EXIT_OK;
}

/* udr serve passwd NAME: a line for the password file. */
static int passwd(int argc, char **argv)
{
    const char *name = NULL;
    long iters = 4096;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0) {
            int rc = parse_int("serve", "--iterations", i + 1 < argc ? argv[++i] : NULL, 4096,
                               10000000, &iters);
            if (rc)
                return rc;
        } else if (name == NULL && argv[i][0] != '-') {
            name = argv[i];
        } else {
            return out_usage("serve", "passwd: unexpected argument %s", argv[i]);
        }
    }
    if (name == NULL)
        return out_usage("serve", "passwd needs a user name");
    for (const char *c = name; *c; c++)
        if (*c <= ' ' || *c == 0x7f)
            return out_error("user name %s: no spaces or control characters", name);
    int tty = isatty(STDIN_FILENO);
    struct termios old, quiet_tio;
    if (tty) {
        fprintf(stderr, "password for %s: ", name);
        tcgetattr(STDIN_FILENO, &old);
        quiet_tio = old;
        quiet_tio.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet_tio);
    }
    char pw[1024];
    char *got = fgets(pw, sizeof pw, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fputc('\n', stderr);
    }
    if (got == NULL)
        return out_error("no password on standard input");
    pw[strcspn(pw, "\r\n")] = '\0';
    if (pw[0] == '\0')
        return out_error("the password is empty");
    char verifier[512];
    if (scram_verifier_make(pw, (int)iters, verifier, sizeof verifier) != 0)
        return out_error("cannot make a SCRAM-SHA-256 verifier");
    memset(pw, 0, sizeof pw);
    printf("%s %s\n", name, verifier);
    return EXIT_OK;
}

int cmd_serve(cli *c, int argc, char **argv)
{
    if (out_wants_help(argc, argv)) {
        fputs(SERVE_HELP, stdout);
        return EXIT_OK;
    }
    if (argc > 1 && strcmp(argv[1], "passwd") == 0)
        return passwd(argc - 1, argv + 1);
    serve_opts o = {.repo_dir = c->repo_dir, .quiet = c->quiet};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        int rc = EXIT_OK;
        if (strcmp(a, "--listen") == 0 && v) {
            o.listen = v;
        } else if (strcmp(a, "--passwords") == 0 && v) {
            o.passwords = v;
        } else if (strcmp(a, "--memory-limit") == 0 && v) {
            for (const char *p = v; *p; p++)
                if (!(*p >= '0' && *p <= '9') && !(*p >= 'A' && *p <= 'Z') &&
                    !(*p >= 'a' && *p <= 'z') && *p != '.')
                    return out_usage("serve", "--memory-limit: a size such as 512MB or 2GB");
            o.memory_limit = v;
        } else if (strcmp(a, "--allow-file-access") == 0) {
            o.allow_files = 1;
            continue;
        } else if (strcmp(a, "--max-connections") == 0) {
            rc = parse_int("serve", a, v, 1, 10000, &n);
            o.max_connections = (int)n;
        } else if (strcmp(a, "--auth-timeout") == 0) {
            rc = parse_int("serve", a, v, 100, 3600000, &n);
            o.auth_timeout_ms = (int)n;
        } else if (strcmp(a, "--shutdown-grace") == 0) {
            rc = parse_int("serve", a, v, 1, 3600000, &n);
            o.shutdown_grace_ms = (int)n;
        } else if (strcmp(a, "--max-message") == 0) {
            rc = parse_int("serve", a, v, 1, 1024, &n);
            o.max_message_bytes = (size_t)n << 20;
        } else {
            return out_usage("serve", "unknown argument %s", a);
        }
        if (rc)
            return rc;
        i++;
    }
    return serve_run(&o);
}
