/*
 * session — one client connection of `udr serve` (see session.h).
 *
 * The life of a connection:
 *   1. startup: an SSLRequest or GSSENCRequest is answered 'N' (no TLS: use
 *      an SSH tunnel or a proxy for that), a CancelRequest interrupts the
 *      session it names and closes, a StartupMessage names user and database;
 *   2. login: trust, or SCRAM-SHA-256 when a password file is configured
 *      (then always, as pg_hba's scram-sha-256); a wrong password is 28P01;
 *   3. the database name picks the branch: a branch of that name, or the
 *      repository's current branch for "main"-less defaults ("postgres",
 *      "udr", the user's own name) when no branch has that name;
 *   4. messages until Terminate or the socket closes.
 *
 * Bounds: the whole of steps 1-2 within auth_timeout_ms; a message within
 * max_message_bytes (its length word is checked before its body is read);
 * at most SESSION_MAX_STATEMENTS prepared statements and as many portals.
 *
 * Parameters ($1, $2 ...) are put into the SQL as literals, quoted, and cast
 * to their declared type when the client gave one (libudr takes SQL text).
 * A $N inside a string, a quoted name, a dollar-quoted string or a comment
 * is left alone.
 */
#include "session.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pgtypes.h"
#include "scram.h"

#define SESSION_MAX_STATEMENTS 10000
#define IDLE_POLL_MS 200

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- input and output ------------------------------------------------------------ */

int session_flush(session *s)
{
    if (s->out.oom) {
        s->closing = 1;
        pgw_out_reset(&s->out);
        return -1;
    }
    size_t off = 0;
    while (off < s->out.len && !s->closing) {
        ssize_t n = send(s->fd, s->out.data + off, s->out.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s->closing = 1;
            break;
        }
        off += (size_t)n;
    }
    pgw_out_reset(&s->out);
    return s->closing ? -1 : 0;
}

/* Reads more bytes into s->in, room for want in all. deadline_ms 0: wait
 * while idle, waking for shutdown. 1 read some, 0 closed or timed out. */
static int read_more(session *s, size_t want, int64_t deadline_ms)
{
    if (want > s->in_cap) {
        size_t cap = s->in_cap ? s->in_cap : 8192;
        while (cap < want)
            cap *= 2;
        uint8_t *n = realloc(s->in, cap);
        if (n == NULL)
            return 0;
        s->in = n;
        s->in_cap = cap;
    }
    for (;;) {
        int wait = IDLE_POLL_MS;
        if (deadline_ms != 0) {
            int64_t left = deadline_ms - now_ms();
            if (left <= 0)
                return 0;
            if (left < wait)
                wait = (int)left;
        }
        /* Shutdown closes idle connections; the caller checks between messages. */
        if (deadline_ms == 0 && serve_stopping() && s->in_len == s->in_off &&
            (s->tx == NULL || serve_grace_over()))
            return 0;
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        int r = poll(&p, 1, wait);
        if (r < 0 && errno != EINTR)
            return 0;
        if (r <= 0)
            continue;
        ssize_t n = recv(s->fd, s->in + s->in_len, s->in_cap - s->in_len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return 0;
        s->in_len += (size_t)n;
        return 1;
    }
}

/* The next frame, startup or typed, before deadline_ms (0: none). The
 * unconsumed input is s->in[in_off, in_len): consuming a message moves
 * in_off, and the rest is moved to the front only when more must be read,
 * so a burst of small messages costs no copying per message. */
static int read_frame(session *s, int startup, int64_t deadline_ms, pgw_frame *f)
{
    size_t max = startup ? PGW_MAX_STARTUP_BYTES : s->opts->max_message_bytes;
    for (;;) {
        size_t need = 0;
        int r = pgw_next_frame(s->in + s->in_off, s->in_len - s->in_off, startup, max, f, &need);
        if (r == 1)
            return 1;
        if (r < 0) {
            serve_log(s, "message length out of bounds (limit %zu bytes): connection closed",
                      max);
            if (!startup)
                sqlrun_fail(s, "08P01", "invalid message length (at most %zu bytes)", max);
            session_flush(s);
            return 0;
        }
        if (s->in_off > 0) {
            memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
            s->in_len -= s->in_off;
            s->in_off = 0;
        }
        /* Room for what has been promised, grown as it arrives: a length
         * word alone never makes the buffer big. */
        size_t want = need > s->in_len + 1 ? need : s->in_len + 4096;
        if (want > s->in_len + (1u << 20))
            want = s->in_len + (1u << 20);
        if (!read_more(s, want, deadline_ms))
            return 0;
    }
}

int session_read(session *s, pgw_frame *f)
{
    if (s->closing)
        return 0;
    return read_frame(s, 0, 0, f);
}

void session_consume(session *s, const pgw_frame *f)
{
    s->in_off += f->total;
    if (s->in_off < s->in_len)
        return;
    s->in_off = s->in_len = 0;
    /* A big message's buffer is not kept once it is used up. */
    if (s->in_cap > (1u << 20)) {
        free(s->in);
        s->in = NULL;
        s->in_cap = 0;
    }
}

/* ---- startup and login ---------------------------------------------------------------- */

static void fatal(session *s, const char *sqlstate, const char *msg)
{
    pgw_error(&s->out, 'E', "FATAL", sqlstate, msg, NULL, NULL);
    session_flush(s);
    s->closing = 1;
}

/* The SCRAM exchange after the startup packet. 0 logged in, -1 refused. */
static int login_scram(session *s, int64_t deadline_ms)
{
    char err[256] = "", reply[1024];
    size_t rlen = 0;
    int rc = -1;
    scram_server *sc = scram_server_new(s->users, s->user);
    if (sc == NULL) {
        fatal(s, "53200", "out of memory");
        return -1;
    }
    pgw_begin(&s->out, 'R');
    pgw_i32(&s->out, 10);
    pgw_str(&s->out, "SCRAM-SHA-256");
    pgw_u8(&s->out, 0);
    pgw_end(&s->out);
    if (session_flush(s) != 0)
        goto out;
    pgw_frame f;
    const char *why = NULL;
    pgw_sasl_initial init;
    if (!read_frame(s, 0, deadline_ms, &f))
        goto out;
    if (f.type != 'p' || pgw_parse_sasl_initial(f.body, f.len, &init, &why) != 0 ||
        init.data == NULL || strcmp(init.mechanism, "SCRAM-SHA-256") != 0) {
        fatal(s, "08P01", why ? why : "expected a SASLInitialResponse for SCRAM-SHA-256");
        goto out;
    }
    if (scram_server_first(sc, (const char *)init.data, init.len, reply, sizeof reply, &rlen,
                           err, sizeof err) != 0) {
        fatal(s, "08P01", err);
        goto out;
    }
    session_consume(s, &f);
    pgw_begin(&s->out, 'R');
    pgw_i32(&s->out, 11);
    pgw_bytes(&s->out, reply, rlen);
    pgw_end(&s->out);
    if (session_flush(s) != 0 || !read_frame(s, 0, deadline_ms, &f))
        goto out;
    if (f.type != 'p') {
        fatal(s, "08P01", "expected a SASLResponse");
        goto out;
    }
    int v = scram_server_final(sc, (const char *)f.body, f.len, reply, sizeof reply, &rlen,
                               err, sizeof err);
    session_consume(s, &f);
    if (v < 0) {
        fatal(s, "08P01", err);
    } else if (v > 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "password authentication failed for user \"%s\"", s->user);
        serve_log(s, "login refused: %s", msg);
        fatal(s, "28P01", msg);
    } else {
        pgw_begin(&s->out, 'R');
        pgw_i32(&s->out, 12);
        pgw_bytes(&s->out, reply, rlen);
        pgw_end(&s->out);
        rc = 0;
    }
out:
    scram_server_free(sc);
    return rc;
}

/* Picks the branch the database name means. 0, or -1 after a FATAL. */
static int choose_branch(session *s, const char *database)
{
    if (database == NULL || database[0] == '\0')
        database = s->user;
    if (udr_use_branch(s->repo, database) == UDR_OK) {
        snprintf(s->branch, sizeof s->branch, "%s", database);
        return 0;
    }
    if (strcmp(database, "postgres") == 0 || strcmp(database, "udr") == 0 ||
        strcmp(database, s->user) == 0) {
        udr_use_branch(s->repo, NULL);
        s->follow_current = 1;
        snprintf(s->branch, sizeof s->branch, "%s", udr_branch_current(s->repo));
        return 0;
    }
    char msg[512];
    snprintf(msg, sizeof msg,
             "database \"%.200s\" does not exist: udr serve serves a repository's branches as "
             "databases, and it has no branch of that name",
             database);
    serve_log(s, "login refused: %s", msg);
    fatal(s, "3D000", msg);
    return -1;
}

/* DuckDB's settings for a client's session: its memory limit, and unless
 * --allow-file-access, no file but the repository's own objects and
 * temporary files (DuckDB would otherwise let any client read and write
 * every file the server may, with read_csv or COPY ... TO 'file'), with the
 * configuration locked so SQL cannot undo it. 0, or -1 after a FATAL. */
static int lock_down(session *s, udr_repo *repo)
{
    char sql[PATH_MAX * 3], root[PATH_MAX * 2], real[PATH_MAX];
    size_t n = 0;
    /* DuckDB checks the absolute paths the scans name. */
    const char *path = realpath(udr_repo_path(repo), real) ? real : udr_repo_path(repo);
    snprintf(s->root, sizeof s->root, "%s", path);
    for (const char *p = path; *p && n + 2 < sizeof root; p++) {
        if (*p == '\'')
            root[n++] = '\'';
        root[n++] = *p;
    }
    root[n] = '\0';
    int len = 0;
    if (s->opts->memory_limit != NULL)
        len += snprintf(sql + len, sizeof sql - (size_t)len, "SET memory_limit = '%s'; ",
                        s->opts->memory_limit);
    if (!s->opts->allow_files)
        len += snprintf(sql + len, sizeof sql - (size_t)len,
                        "SET allowed_directories = ['%s/objects/', '%s/tmp/']; "
                        "SET enable_external_access = false; SET autoinstall_known_extensions = "
                        "false; SET autoload_known_extensions = false; "
                        "SET lock_configuration = true",
                        root, root);
    if ((size_t)len >= sizeof sql) {
        fatal(s, "58000", "the repository's path is too long");
        return -1;
    }
    if (len == 0)
        return 0;                       /* --allow-file-access, no --memory-limit */
    udr_result *r = NULL;
    if (udr_query(repo, sql, NULL, 0, &r) != UDR_OK) {
        serve_log(s, "cannot configure the session: %s", udr_errmsg(repo));
        fatal(s, "58000", udr_errmsg(repo));
        return -1;
    }
    udr_result_free(r);
    return 0;
}

/* Startup through ReadyForQuery. 0 ready, -1 the connection is over. */
static int start(session *s)
{
    int64_t deadline = now_ms() + s->opts->auth_timeout_ms;
    pgw_frame f;
    pgw_startup st;
    const char *why = "";
    for (;;) {
        if (!read_frame(s, 1, deadline, &f))
            return -1;
        if (pgw_parse_startup(f.body, f.len, &st, &why) != 0) {
            serve_log(s, "bad startup packet: %s", why);
            fatal(s, "08P01", why);
            return -1;
        }
        if (st.code == PGW_CANCEL) {
            serve_cancel(st.cancel_pid, st.cancel_key);
            return -1;
        }
        if (st.code != PGW_SSL_REQUEST && st.code != PGW_GSS_REQUEST)
            break;
        session_consume(s, &f);
        if (send(s->fd, "N", 1, MSG_NOSIGNAL) != 1)
            return -1;
    }
    snprintf(s->user, sizeof s->user, "%s", st.user);
    char database[256];
    snprintf(database, sizeof database, "%s", st.database ? st.database : "");
    char app[64];
    snprintf(app, sizeof app, "%s", st.application_name ? st.application_name : "");
    session_consume(s, &f);
    if (serve_stopping()) {
        fatal(s, "57P03", "the database system is shutting down");
        return -1;
    }
    if (s->users != NULL && login_scram(s, deadline) != 0)
        return -1;
    pgw_auth(&s->out, 0);

    s->opened_ms = now_ms();
    if (udr_open(s->opts->repo_dir, &s->repo) != UDR_OK) {
        serve_log(s, "cannot open the repository: %s", s->repo ? udr_errmsg(s->repo) : "?");
        fatal(s, "58000", s->repo ? udr_errmsg(s->repo) : "cannot open the repository");
        return -1;
    }
    if (choose_branch(s, database) != 0)
        return -1;
    snprintf(s->database, sizeof s->database, "%s", database[0] ? database : s->user);
    if (lock_down(s, s->repo) != 0)
        return -1;
    serve_register(s);
    s->registered = 1;
    serve_log(s, "connected: user=%s database=%s branch=%s%s%s", s->user,
              database[0] ? database : "(none)", s->branch, app[0] ? " application=" : "", app);
    char version[64];
    snprintf(version, sizeof version, "15.0 (UDR %s)", udr_version());
    pgw_param_status(&s->out, "server_version", version);
    pgw_param_status(&s->out, "server_encoding", "UTF8");
    pgw_param_status(&s->out, "client_encoding", "UTF8");
    pgw_param_status(&s->out, "DateStyle", "ISO, MDY");
    pgw_param_status(&s->out, "TimeZone", "UTC");
    pgw_param_status(&s->out, "IntervalStyle", "postgres");
    pgw_param_status(&s->out, "integer_datetimes", "on");
    pgw_param_status(&s->out, "standard_conforming_strings", "on");
    pgw_param_status(&s->out, "is_superuser", "off");
    pgw_param_status(&s->out, "session_authorization", s->user);
    pgw_param_status(&s->out, "application_name", app);
    pgw_param_status(&s->out, "udr.branch", s->branch);
    pgw_begin(&s->out, 'K');
    pgw_i32(&s->out, (int32_t)s->pid);
    pgw_i32(&s->out, (int32_t)s->key);
    pgw_end(&s->out);
    pgw_ready(&s->out, 'I');
    return session_flush(s);
}

/* ---- parameters ------------------------------------------------------------------------ */

/* Calls fn for every $N outside strings, names and comments: at (offset of
 * the '$'), len (of "$N") and N. Returns the largest N (0 if none); stops
 * early if fn returns non-zero. */
typedef int (*param_fn)(void *ctx, size_t at, size_t len, unsigned n);

static int is_word(char c)
{
    return c == '_' || ((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9');
}

static unsigned walk_params(const char *sql, param_fn fn, void *ctx)
{
    unsigned max = 0;
    const char *p = sql;
    while (*p) {
        if (*p == '\'' || *p == '"') {
            char q = *p++;
            while (*p && !(*p == q && p[1] != q))
                p += (*p == q) ? 2 : 1;
            if (*p)
                p++;
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            int depth = 1;
            p += 2;
            while (*p && depth > 0) {
                if (p[0] == '/' && p[1] == '*')
                    depth++, p += 2;
                else if (p[0] == '*' && p[1] == '/')
                    depth--, p += 2;
                else
                    p++;
            }
        } else if (*p == '$' && p[1] >= '0' && p[1] <= '9' && (p == sql || !is_word(p[-1]))) {
            unsigned n = 0;
            const char *q = p + 1;
            while (*q >= '0' && *q <= '9' && n < 100000)
                n = n * 10 + (unsigned)(*q++ - '0');
            if (n > max)
                max = n;
            if (fn != NULL && fn(ctx, (size_t)(p - sql), (size_t)(q - p), n))
                return max;
            p = q;
        } else if (*p == '$') {
            /* A dollar-quoted string: $tag$ ... $tag$. */
            const char *q = p + 1;
            while (is_word(*q))
                q++;
            if (*q != '$') {
                p++;
                continue;
            }
            size_t tlen = (size_t)(q - p) + 1;
            const char *end;
            for (end = q + 1; *end; end++)
                if (strncmp(end, p, tlen) == 0)
                    break;
            p = *end ? end + tlen : end;
        } else {
            p++;
        }
    }
    return max;
}

typedef struct subst {
    const char *sql;
    size_t done;            /* sql consumed up to here */
    char *out;
    size_t len, cap;
    const pgw_bind *b;
    const uint8_t **vals;   /* the Bind's values, found once (NULL: SQL NULL) */
    int32_t *lens;
    uint8_t *fmts;
    const prepared *ps;
    const char *err;
    int fail;
} subst;

static void sb_put(subst *x, const void *p, size_t n)
{
    if (x->fail)
        return;
    if (x->cap - x->len < n + 1) {
        size_t cap = x->cap ? x->cap : 256;
        while (cap - x->len < n + 1)
            cap *= 2;
        char *o = realloc(x->out, cap);
        if (o == NULL) {
            x->fail = 1;
            x->err = "out of memory";
            return;
        }
        x->out = o;
        x->cap = cap;
    }
    memcpy(x->out + x->len, p, n);
    x->len += n;
    x->out[x->len] = '\0';
}

static void sb_str(subst *x, const char *s)
{
    sb_put(x, s, strlen(s));
}

/* A string literal, ' doubled. */
static void sb_quoted(subst *x, const uint8_t *v, size_t n)
{
    sb_put(x, "'", 1);
    size_t from = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] == '\'') {
            sb_put(x, v + from, i + 1 - from);
            sb_put(x, "'", 1);
            from = i + 1;
        }
    sb_put(x, v + from, n - from);
    sb_put(x, "'", 1);
}

/* A binary-format parameter as a literal. 0, or -1 (x->err). */
static int sb_binary(subst *x, uint32_t oid, const uint8_t *v, int32_t n)
{
    char lit[64];
    uint64_t u = 0;
    if (n <= 8)
        for (int32_t i = 0; i < n; i++)
            u = u << 8 | v[i];
    switch (oid) {
    case 16:
        if (n != 1)
            break;
        sb_str(x, v[0] ? "TRUE" : "FALSE");
        return 0;
    case 21:
        if (n != 2)
            break;
        snprintf(lit, sizeof lit, "CAST(%d AS SMALLINT)", (int16_t)u);
        sb_str(x, lit);
        return 0;
    case 23:
        if (n != 4)
            break;
        snprintf(lit, sizeof lit, "CAST(%d AS INTEGER)", (int32_t)u);
        sb_str(x, lit);
        return 0;
    case 20:
        if (n != 8)
            break;
        snprintf(lit, sizeof lit, "CAST(%lld AS BIGINT)", (long long)(int64_t)u);
        sb_str(x, lit);
        return 0;
    case 700: case 701: {
        double d;
        if (n == 4) {
            uint32_t w = (uint32_t)u;
            float fl;
            memcpy(&fl, &w, 4);
            d = fl;
        } else if (n == 8) {
            memcpy(&d, &u, 8);
        } else {
            break;
        }
        snprintf(lit, sizeof lit, "CAST('%.17g' AS %s)", d, oid == 700 ? "FLOAT" : "DOUBLE");
        sb_str(x, lit);
        return 0;
    }
    case 17: {
        sb_str(x, "CAST('");
        for (int32_t i = 0; i < n; i++) {
            snprintf(lit, sizeof lit, "\\x%02X", v[i]);
            sb_str(x, lit);
        }
        sb_str(x, "' AS BLOB)");
        return 0;
    }
    case 25: case 1043: case 19: case 0:
        if (memchr(v, 0, (size_t)n) != NULL)
            break;
        sb_quoted(x, v, (size_t)n);
        return 0;
    default:
        x->err = "binary format is supported for bool, int2, int4, int8, float4, float8, "
                 "bytea and text parameters only";
        return -1;
    }
    x->err = "a binary parameter's length does not fit its type";
    return -1;
}

static int subst_one(void *ctx, size_t at, size_t len, unsigned n)
{
    subst *x = ctx;
    sb_put(x, x->sql + x->done, at - x->done);
    x->done = at + len;
    if (n == 0 || n > x->b->nparams) {
        x->err = "a parameter number in the query has no value bound";
        return x->fail = 1;
    }
    const uint8_t *v = x->vals[n - 1];
    int32_t vlen = x->lens[n - 1];
    int format = x->fmts[n - 1];
    uint32_t oid = n - 1 < x->ps->nparams ? x->ps->types[n - 1] : 0;
    const char *cast = pg_type_param_cast(oid);
    if (v == NULL) {
        sb_str(x, cast ? "CAST(NULL AS " : "NULL");
        if (cast) {
            sb_str(x, cast);
            sb_str(x, ")");
        }
    } else if (format == 1) {
        if (sb_binary(x, oid, v, vlen) != 0)
            return x->fail = 1;
    } else {
        if (memchr(v, 0, (size_t)vlen) != NULL) {
            x->err = "a text parameter holds a zero byte";
            return x->fail = 1;
        }
        if (oid == 17 && vlen >= 2 && v[0] == '\\' && v[1] == 'x') {
            /* bytea in hex form: DuckDB would read \x0a as one escape */
            for (int32_t i = 2; i < vlen; i++)
                if (!((v[i] >= '0' && v[i] <= '9') || ((v[i] | 32) >= 'a' && (v[i] | 32) <= 'f'))) {
                    x->err = "a bytea parameter in hex form holds a character that is not hex";
                    return x->fail = 1;
                }
            sb_str(x, "from_hex(");
            sb_quoted(x, v + 2, (size_t)vlen - 2);
            sb_str(x, ")");
            return x->fail;
        }
        if (cast)
            sb_str(x, "CAST(");
        sb_quoted(x, v, (size_t)vlen);
        if (cast) {
            sb_str(x, " AS ");
            sb_str(x, cast);
            sb_str(x, ")");
        }
    }
    return x->fail;
}

/* The statement's SQL with the Bind's values in place; NULL with *err. */
static char *substitute(const prepared *ps, const pgw_bind *b, const char **err)
{
    subst x = {.sql = ps->sql, .b = b, .ps = ps};
    size_t np = b->nparams ? b->nparams : 1;
    x.vals = malloc(np * sizeof *x.vals);
    x.lens = malloc(np * sizeof *x.lens);
    x.fmts = malloc(np);
    if (x.vals == NULL || x.lens == NULL || x.fmts == NULL ||
        pgw_bind_values(b, x.vals, x.lens, x.fmts) != 0) {
        *err = x.vals && x.lens && x.fmts ? "malformed Bind values" : "out of memory";
        free(x.vals), free(x.lens), free(x.fmts);
        return NULL;
    }
    walk_params(ps->sql, subst_one, &x);
    free(x.vals);
    free(x.lens);
    free(x.fmts);
    if (!x.fail)
        sb_str(&x, ps->sql + x.done);
    if (x.fail) {
        free(x.out);
        *err = x.err;
        return NULL;
    }
    return x.out;
}

/* ---- prepared statements and portals -------------------------------------------------- */

static prepared *find_stmt(session *s, const char *name)
{
    for (size_t i = 0; i < s->nstmts; i++)
        if (strcmp(s->stmts[i].name, name) == 0)
            return &s->stmts[i];
    return NULL;
}

static portal *find_portal(session *s, const char *name)
{
    for (size_t i = 0; i < s->nportals; i++)
        if (strcmp(s->portals[i].name, name) == 0)
            return &s->portals[i];
    return NULL;
}

static void free_stmt(prepared *p)
{
    free(p->name);
    free(p->sql);
    free(p->types);
}

static void free_portal(portal *p)
{
    free(p->name);
    free(p->sql);
    free(p->formats);
    udr_result_free(p->r);
}

static void drop_stmt(session *s, const char *name)
{
    prepared *p = find_stmt(s, name);
    if (p == NULL)
        return;
    free_stmt(p);
    *p = s->stmts[--s->nstmts];
}

static void drop_portal(session *s, const char *name)
{
    portal *p = find_portal(s, name);
    if (p == NULL)
        return;
    free_portal(p);
    *p = s->portals[--s->nportals];
}

/* Portals live until the end of the transaction (and unnamed ones until the
 * next Bind); outside a block, until Sync. */
static void drop_portals(session *s)
{
    for (size_t i = 0; i < s->nportals; i++)
        free_portal(&s->portals[i]);
    s->nportals = 0;
}

static int on_parse(session *s, const pgw_frame *f)
{
    pgw_parse m;
    const char *why;
    if (pgw_parse_parse(f->body, f->len, &m, &why) != 0)
        return sqlrun_fail(s, "08P01", "%s", why);
    if (m.name[0] != '\0' && find_stmt(s, m.name) != NULL)
        return sqlrun_fail(s, "42P05", "prepared statement \"%s\" already exists", m.name);
    if (s->nstmts >= SESSION_MAX_STATEMENTS)
        return sqlrun_fail(s, "53400", "too many prepared statements (at most %d a session)",
                           SESSION_MAX_STATEMENTS);
    unsigned used = walk_params(m.query, NULL, NULL);
    if (used > PGW_MAX_PARAMS)
        return sqlrun_fail(s, "42P02", "parameter $%u is out of range (at most $%u)", used,
                           PGW_MAX_PARAMS);
    drop_stmt(s, m.name);
    prepared p = {0};
    p.nparams = (uint16_t)(used > m.ntypes ? used : m.ntypes);
    p.name = strdup(m.name);
    p.sql = strdup(m.query);
    p.types = calloc(p.nparams ? p.nparams : 1, sizeof *p.types);
    prepared *grown = realloc(s->stmts, (s->nstmts + 1) * sizeof *s->stmts);
    if (p.name == NULL || p.sql == NULL || p.types == NULL || grown == NULL) {
        free_stmt(&p);
        if (grown != NULL)
            s->stmts = grown;
        return sqlrun_fail(s, "53200", "out of memory");
    }
    s->stmts = grown;
    for (uint16_t i = 0; i < m.ntypes; i++)
        p.types[i] = pgw_u32_at(m.types + 4 * i);
    s->stmts[s->nstmts++] = p;
    pgw_begin(&s->out, '1');
    pgw_end(&s->out);
    return 0;
}

static int on_bind(session *s, const pgw_frame *f)
{
    pgw_bind b;
    const char *why;
    if (pgw_parse_bind(f->body, f->len, &b, &why) != 0)
        return sqlrun_fail(s, "08P01", "%s", why);
    prepared *ps = find_stmt(s, b.statement);
    if (ps == NULL)
        return sqlrun_fail(s, "26000", "prepared statement \"%s\" does not exist", b.statement);
    if (b.nparams != ps->nparams)
        return sqlrun_fail(s, "08P01",
                           "bind message supplies %u parameters, but prepared statement \"%s\" "
                           "requires %u",
                           b.nparams, b.statement, ps->nparams);
    if (b.portal[0] != '\0' && find_portal(s, b.portal) != NULL)
        return sqlrun_fail(s, "42P03", "portal \"%s\" already exists", b.portal);
    if (s->nportals >= SESSION_MAX_STATEMENTS)
        return sqlrun_fail(s, "53400", "too many portals");
    char *sql = substitute(ps, &b, &why);
    if (sql == NULL)
        return sqlrun_fail(s, "22P03", "%s", why);
    drop_portal(s, b.portal);
    portal p = {0};
    p.name = strdup(b.portal);
    p.sql = sql;
    p.nformats = b.nresult_formats;
    p.formats = malloc((b.nresult_formats ? b.nresult_formats : 1) * sizeof *p.formats);
    portal *grown = realloc(s->portals, (s->nportals + 1) * sizeof *s->portals);
    if (p.name == NULL || p.formats == NULL || grown == NULL) {
        free_portal(&p);
        if (grown != NULL)
            s->portals = grown;
        return sqlrun_fail(s, "53200", "out of memory");
    }
    s->portals = grown;
    for (uint16_t i = 0; i < b.nresult_formats; i++)
        p.formats[i] = (int16_t)pgw_u16_at(b.result_formats + 2 * i);
    s->portals[s->nportals++] = p;
    pgw_begin(&s->out, '2');
    pgw_end(&s->out);
    return 0;
}

static int on_describe(session *s, const pgw_frame *f)
{
    pgw_target t;
    const char *why;
    if (pgw_parse_target(f->body, f->len, &t, &why) != 0)
        return sqlrun_fail(s, "08P01", "%s", why);
    if (t.kind == 'S') {
        prepared *ps = find_stmt(s, t.name);
        if (ps == NULL)
            return sqlrun_fail(s, "26000", "prepared statement \"%s\" does not exist", t.name);
        pgw_begin(&s->out, 't');
        pgw_i16(&s->out, (int16_t)ps->nparams);
        for (uint16_t i = 0; i < ps->nparams; i++)
            pgw_i32(&s->out, (int32_t)(ps->types[i] ? ps->types[i] : 25));
        pgw_end(&s->out);
        if (!sqlrun_returns_rows(ps->sql)) {
            pgw_begin(&s->out, 'n');
            pgw_end(&s->out);
            return 0;
        }
        /* The columns: the statement with NULLs for its parameters, described. */
        pgw_bind none = {.nparams = ps->nparams};
        uint8_t *nulls = malloc((size_t)ps->nparams * 4 + 1);
        if (nulls == NULL)
            return sqlrun_fail(s, "53200", "out of memory");
        memset(nulls, 0xff, (size_t)ps->nparams * 4);
        none.values = nulls;
        none.values_len = (size_t)ps->nparams * 4;
        char *sql = substitute(ps, &none, &why);
        free(nulls);
        if (sql == NULL)
            return sqlrun_fail(s, "22P03", "%s", why);
        int rc = sqlrun_describe_sql(s, sql);
        free(sql);
        return rc;
    }
    portal *p = find_portal(s, t.name);
    if (p == NULL)
        return sqlrun_fail(s, "34000", "portal \"%s\" does not exist", t.name);
    if (!sqlrun_returns_rows(p->sql)) {
        pgw_begin(&s->out, 'n');
        pgw_end(&s->out);
        return 0;
    }
    if (!p->run && sqlrun_portal(s, p) != 0)
        return -1;
    if (p->r == NULL || udr_result_columns(p->r) == 0) {
        pgw_begin(&s->out, 'n');
        pgw_end(&s->out);
        return 0;
    }
    sqlrun_describe(s, p->r, p->formats, p->nformats);
    return 0;
}

static int on_execute(session *s, const pgw_frame *f)
{
    pgw_execute e;
    const char *why;
    if (pgw_parse_execute(f->body, f->len, &e, &why) != 0)
        return sqlrun_fail(s, "08P01", "%s", why);
    portal *p = find_portal(s, e.portal);
    if (p == NULL)
        return sqlrun_fail(s, "34000", "portal \"%s\" does not exist", e.portal);
    if (!p->run) {
        if (!sqlrun_returns_rows(p->sql)) {
            run_opts ro = {.describe = 0, .formats = p->formats, .nformats = p->nformats};
            p->run = 1;
            snprintf(p->tag, sizeof p->tag, "%s", "");
            return sqlrun_statement(s, p->sql, &ro);
        }
        if (sqlrun_portal(s, p) != 0)
            return -1;
    }
    if (p->r == NULL) {
        pgw_complete(&s->out, p->tag);
        return 0;
    }
    return sqlrun_send_rows(s, p, e.max_rows);
}

static int on_close(session *s, const pgw_frame *f)
{
    pgw_target t;
    const char *why;
    if (pgw_parse_target(f->body, f->len, &t, &why) != 0)
        return sqlrun_fail(s, "08P01", "%s", why);
    if (t.kind == 'S')
        drop_stmt(s, t.name);
    else
        drop_portal(s, t.name);
    pgw_begin(&s->out, '3');
    pgw_end(&s->out);
    return 0;
}

/* ---- the simple query protocol ------------------------------------------------------- */

#include "sqlsplit.h"

static void on_query(session *s, const pgw_frame *f)
{
    const char *text, *why;
    if (pgw_parse_cstring(f->body, f->len, &text, &why) != 0) {
        sqlrun_fail(s, "08P01", "%s", why);
        pgw_ready(&s->out, sqlrun_status(s));
        return;
    }
    const char *p = text, *st;
    size_t len;
    int complete, n = 0;
    run_opts ro = {.describe = 1};
    while (!s->closing && sql_next(&p, &st, &len, &complete)) {
        n++;
        char *one = strndup(st, len);
        if (one == NULL) {
            sqlrun_fail(s, "53200", "out of memory");
            break;
        }
        int rc = sqlrun_statement(s, one, &ro);
        free(one);
        if (rc != 0)
            break;
        if (s->out.len > 65536 && session_flush(s) != 0)
            break;
    }
    if (n == 0) {
        pgw_begin(&s->out, 'I');
        pgw_end(&s->out);
    }
    drop_portals(s);
    pgw_ready(&s->out, sqlrun_status(s));
}

/* ---- recycling the handle ------------------------------------------------------------ */

/* A handle that lives long grows while others commit, though nothing of it
 * is lost (all of it goes at close). What a busy session's handle gathers,
 * measured (heaptrack, 32 clients of bench_serve): DuckDB 1.4.4's buffer
 * pool keeps a node in its eviction queue for every temporary block a
 * query made, dead or not, and purges only past 32,768 of them (about 100
 * bytes each); its Parquet metadata cache keeps each new file's footer;
 * the patch maps of the versions it read (a few, patch.h). In one process
 * over five minutes that added up to 300 MB over 32 handles that were
 * renewed only by count. So between statements, outside a transaction
 * block, a session takes a fresh handle (udr_open: about 15 ms) when its
 * handle has run RECYCLE_STATEMENTS statements or RECYCLE_WRITES writes, or
 * is RECYCLE_MS old and has run any. Nothing a client sees lives in the
 * handle: prepared statements and portals are the session's, as are its
 * branch and settings; DuckDB's own settings are locked (or, with
 * --allow-file-access, a SET of DuckDB's lasts until the next renewal). */
#define RECYCLE_STATEMENTS 256
#define RECYCLE_WRITES 16
#define RECYCLE_MS 10000

static void maybe_recycle(session *s)
{
    uint64_t ran = s->statements - s->statements_at_open;
    if (s->tx != NULL || s->nportals > 0 ||
        (ran < RECYCLE_STATEMENTS && s->writes - s->writes_at_open < RECYCLE_WRITES &&
         (ran == 0 || now_ms() - s->opened_ms < RECYCLE_MS)))
        return;
    s->statements_at_open = s->statements;
    s->writes_at_open = s->writes;
    s->opened_ms = now_ms();
    udr_repo *fresh = NULL;
    int rc = udr_open(s->opts->repo_dir, &fresh);
    if (rc == UDR_OK)
        rc = udr_use_branch(fresh, s->follow_current ? NULL : s->branch);
    if (rc != UDR_OK) {
        serve_log(s, "keeping the old handle: %s", fresh ? udr_errmsg(fresh) : "out of memory");
        udr_close(fresh);
        return;
    }
    pgw_out keep = s->out;             /* lock_down reports only by FATAL */
    pgw_out_init(&s->out);
    if (lock_down(s, fresh) != 0) {
        pgw_out_free(&s->out);
        s->out = keep;
        s->closing = 0;
        udr_close(fresh);
        return;
    }
    s->out = keep;
    udr_repo *old = serve_swap_repo(s, fresh);
    udr_close(old);
    s->recycled++;
}

/* ---- the message loop --------------------------------------------------------------- */

/* Moves the frame just read out of the input into s->msg (f then points
 * there), so that a statement that reads more messages (COPY FROM STDIN)
 * starts after it. */
static int take_frame(session *s, pgw_frame *f)
{
    if (f->len + 1 > s->msg_cap) {
        size_t cap = s->msg_cap ? s->msg_cap : 8192;
        while (cap < f->len + 1)
            cap *= 2;
        uint8_t *m = realloc(s->msg, cap);
        if (m == NULL)
            return -1;
        s->msg = m;
        s->msg_cap = cap;
    }
    memcpy(s->msg, f->body, f->len);
    session_consume(s, f);
    f->body = s->msg;
    f->total = 0;
    return 0;
}

static void serve_messages(session *s)
{
    pgw_frame f;
    while (!s->closing && session_read(s, &f)) {
        char type = f.type;
        int rc = 0;
        if (take_frame(s, &f) != 0) {
            fatal(s, "53200", "out of memory");
            break;
        }
        if (s->skip_to_sync && type != 'S' && type != 'X') {
            if (type == 'H')
                session_flush(s);   /* the error the client waits for */
            else if (strchr("PBDECdcf", type) == NULL) {
                sqlrun_fail(s, "08P01", "invalid frontend message type %d",
                            (unsigned char)type);
                session_flush(s);
                s->closing = 1;
            }
            continue;
        }
        switch (type) {
        case 'Q':
            on_query(s, &f);
            session_flush(s);
            break;
        case 'P':
            rc = on_parse(s, &f);
            break;
        case 'B':
            rc = on_bind(s, &f);
            break;
        case 'D':
            rc = on_describe(s, &f);
            break;
        case 'E':
            rc = on_execute(s, &f);
            break;
        case 'C':
            rc = on_close(s, &f);
            break;
        case 'H':
            session_flush(s);
            break;
        case 'S':
            s->skip_to_sync = 0;
            if (s->tx == NULL)
                drop_portals(s);
            pgw_ready(&s->out, sqlrun_status(s));
            session_flush(s);
            break;
        case 'X':
            s->closing = 1;
            break;
        case 'd': case 'c': case 'f':
            /* COPY data after the COPY ended (it failed): ignored, as PostgreSQL does. */
            break;
        default:
            sqlrun_fail(s, "08P01", "invalid frontend message type %d", (unsigned char)type);
            session_flush(s);
            s->closing = 1;
            break;
        }
        if (rc != 0 && type != 'Q')
            s->skip_to_sync = 1;
        if (s->out.len > 65536)
            session_flush(s);
        if (type == 'Q' || type == 'S')
            maybe_recycle(s);
        if (s->msg_cap > (1u << 20)) {      /* not kept after a big message */
            free(s->msg);
            s->msg = NULL;
            s->msg_cap = 0;
        }
    }
    if (serve_stopping() && !s->closing)
        fatal(s, "57P01", "terminating connection due to administrator command");
}

void session_serve(session *s)
{
    int64_t began = now_ms();
    pgw_out_init(&s->out);
    if (start(s) == 0) {
        serve_messages(s);
        if (serve_stopping() && s->tx != NULL)
            serve_log(s, "shutdown: rolling back the open transaction");
        if (s->tx != NULL)
            udr_tx_rollback(s->tx);
        s->tx = NULL;
        serve_log(s, "disconnected after %.1f s: %llu statements, %llu errors",
                  (double)(now_ms() - began) / 1000, (unsigned long long)s->statements,
                  (unsigned long long)s->errors);
        if (s->recycled > 0)
            serve_log(s, "(its handle was renewed %llu times)", (unsigned long long)s->recycled);
    }
    /* Whether start() got through or not: the registry must not keep a
     * session that is about to be freed. */
    if (s->registered)
        serve_unregister(s);
    session_flush(s);
    drop_portals(s);
    for (size_t i = 0; i < s->nstmts; i++)
        free_stmt(&s->stmts[i]);
    free(s->stmts);
    free(s->portals);
    udr_close(s->repo);
    s->repo = NULL;
    pgw_out_free(&s->out);
    free(s->in);
    free(s->msg);
    close(s->fd);
}
