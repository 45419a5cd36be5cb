/*
 * serve_hostile — many hostile clients against `udr serve`, and one normal
 * one that must not notice.
 *
 * Usage: serve_hostile HOST PORT N_CONNECTIONS SEED
 *
 * A standalone program (POSIX sockets and libpq; no libudr), driven by
 * tests/cli/test_serve_hostile.sh. It opens N connections to the server, at
 * most MAX_IN_FLIGHT at once, with non-blocking sockets and one poll loop;
 * each does one hostile thing, picked by a generator seeded with SEED (the
 * same seed, the same bytes, the same order):
 *
 *   random        random bytes as a startup packet, then a short wait
 *   trunc-startup the first bytes of a valid startup packet, then close
 *   bad-length    a startup length word of 0, 3, 0x7fffffff or 0xffffffff
 *   garbage       a valid startup (user "hostile", database "main"), then
 *                 typed messages of random type and body, the last of a
 *                 type no client sends, then a Sync (the server must
 *                 answer by then)
 *   oversize      a valid startup, then a message claiming 1 GiB or more
 *   trunc-msg     a valid startup, then a message cut short, a short wait
 *   bind-65535    a valid startup, a Bind claiming 65,535 parameters with
 *                 none of them in the message, a Sync
 *   parse-ntypes  a valid startup, a Parse claiming 1,000 parameter types
 *                 with two present, a Sync
 *   bind-empty    a valid startup, Parse "SELECT $1", and a well-formed
 *                 Bind of 65,535 empty parameters (262 KB), Execute, Sync
 *   half-open     part of a startup packet, then silence (at most
 *                 MAX_HALF_OPEN of them at once, drawn in the second half
 *                 of the run only, so that the first half reaches the
 *                 parsers rather than the connection cap); the server must
 *                 drop each within its startup timeout: after the others
 *                 are done the client waits until each is HOLD_END_MS old,
 *                 and one still open then is an anomaly
 *   close-now     connect and close at once
 *   ssl-garbage   an SSLRequest, then a startup length word over any limit
 *   cancel        a CancelRequest with a random pid and key
 *   near-limit    a valid startup, then a Query claiming just under 64 MiB
 *                 (serve's default --max-message) with 1 KiB of it sent
 *   flood         (twice a run, at a quarter and at half) a valid startup,
 *                 an 8 MiB Query (a comment and SELECT 1), 1,000,000 Flush
 *                 messages and a Sync: the server must answer the Sync
 *                 within FLOOD_REACT_MS (a per-message cost that grows with
 *                 what is buffered shows here)
 *
 * Kinds the server must answer (bad-length, garbage, oversize, bind-65535,
 * parse-ntypes, bind-empty, ssl-garbage, cancel, flood) are given
 * FIRST_REPLY_MS for the server's first byte (or close), and from that byte
 * REACT_MS (flood: FLOOD_REACT_MS) for an ErrorResponse (or a ReadyForQuery
 * after the startup's; flood: the Sync's) or for the server to close; one
 * that gets neither is an anomaly.
 * The others (random, trunc-msg, near-limit)
 * may leave the server waiting for bytes that never come: after LINGER_MS
 * the client closes. Sockets the client closes are reset (SO_LINGER 0), so
 * 10,000 of them leave no TIME_WAIT behind. An ErrorResponse with SQLSTATE
 * 53300 is the server refusing past its connection cap: counted, fine.
 *
 * Meanwhile a thread runs `SELECT 42` over libpq on one connection made
 * before the hostile ones ("host=H port=P user=normal dbname=main"); every
 * query must return 42 within NORMAL_MAX_MS. The exit status is 0 exactly
 * when it always did; anomalies are reported ("anomalies: N") for the test
 * script to judge. The report (stdout) ends with the counts per kind.
 * With SERVE_HOSTILE_DUMP=DIR in the environment, the bytes each anomalous
 * connection sent are written to DIR/anomaly-N-KIND, for replaying by hand;
 * SERVE_HOSTILE_SKIP=KIND,KIND... leaves those kinds out (runs of fewer
 * than 1,000 connections make no flood).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define MAX_IN_FLIGHT   64
#define MAX_HALF_OPEN   200
#define FIRST_REPLY_MS  15000       /* for the server's first byte or close (a loaded
                                       server may be slow to start a session) */
#define REACT_MS        3000        /* from then, for it to answer a kind that needs it */
#define FLOOD_REACT_MS  10000       /* for it to answer a flood */
#define HOLD_END_MS     15000       /* at the end, for it to drop the half-open ones */
#define FLOOD_FLUSHES   1000000u
#define FLOOD_QUERY_BYTES (8u << 20)
#define NEAR_LIMIT_BYTES ((64u << 20) - 64)  /* under serve's default --max-message */
#define LINGER_MS       100         /* for the others, before the client closes */
#define CONNECT_MS      5000
#define RUN_LIMIT_MS    180000      /* no new connection after this */
#define NORMAL_MAX_MS   5000.0
#define MAX_REPLY_BYTES (1u << 20)  /* kept per connection while looking for 'E' */

enum kind {
    K_RANDOM, K_TRUNC_STARTUP, K_BAD_LENGTH, K_GARBAGE, K_OVERSIZE, K_TRUNC_MSG,
    K_BIND_65535, K_PARSE_NTYPES, K_BIND_EMPTY, K_HALF_OPEN, K_CLOSE_NOW,
    K_SSL_GARBAGE, K_CANCEL, K_NEAR_LIMIT, K_FLOOD, K_COUNT
};
static const char *const kind_name[K_COUNT] = {
    "random", "trunc-startup", "bad-length", "garbage", "oversize", "trunc-msg",
    "bind-65535", "parse-ntypes", "bind-empty", "half-open", "close-now",
    "ssl-garbage", "cancel", "near-limit", "flood",
};
/* Relative weights of the kinds (bind-empty is costly to send: rare; flood
 * is never drawn, but made twice a run; half-open only in the second half). */
static unsigned kind_weight[K_COUNT] = {10, 8, 8, 10, 8, 8, 6, 6, 1, 8, 8, 6, 6, 4, 0};

/* What the client does once its bytes are out. */
enum after { A_CLOSE, A_LINGER, A_REACT, A_HOLD };

enum state { S_CONNECTING, S_SENDING, S_WAITING };

typedef struct conn {
    int fd;
    enum kind kind;
    enum after after;
    enum state state;
    uint8_t *out;
    size_t out_len, out_off;
    uint8_t *in;                /* the reply so far (from in_off on, unparsed) */
    size_t in_len, in_off;
    int ssl_pending;            /* the one-byte answer to SSLRequest not yet read */
    int saw_error, readies, refused, got_bytes;
    double t_open_ms, deadline_ms;
} conn;

static double first_reply_max_ms;   /* connect to the server's first byte, slowest */

static double react_ms(const conn *c)
{
    return c->kind == K_FLOOD ? FLOOD_REACT_MS : REACT_MS;
}

/* Per kind: what happened. */
typedef struct tally {
    unsigned started, connect_failed, error_reply, refused, server_closed,
             client_closed, no_reaction, ready;
} tally;

static tally by_kind[K_COUNT];
static unsigned connections_made, connect_failed_total, half_open_peak,
                half_open_server_closed, reply_garbage;
static double half_open_close_min_ms = -1, half_open_close_max_ms = -1,
              half_open_longest_held_ms;

/* ---- time and randomness --------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static uint64_t rng_state;

static uint64_t rnd(void)    /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

/* ---- building client bytes ------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (q == NULL) {
            perror("serve_hostile: realloc");
            exit(2);
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_u32(buf *b, uint32_t v)
{
    uint8_t w[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, w, 4);
}

static void put_u16(buf *b, uint16_t v)
{
    uint8_t w[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(b, w, 2);
}

static void put_str(buf *b, const char *s)
{
    put(b, s, strlen(s) + 1);
}

static void put_random(buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)rnd();
        put(b, &c, 1);
    }
}

/* Patches the length word at b->p[at] to cover from there to the end. */
static void patch_len(buf *b, size_t at)
{
    uint32_t n = (uint32_t)(b->len - at);
    b->p[at] = (uint8_t)(n >> 24);
    b->p[at + 1] = (uint8_t)(n >> 16);
    b->p[at + 2] = (uint8_t)(n >> 8);
    b->p[at + 3] = (uint8_t)n;
}

static void put_startup(buf *b, const char *user)
{
    size_t at = b->len;
    put_u32(b, 0);
    put_u32(b, 196608);
    put_str(b, "user");
    put_str(b, user);
    put_str(b, "database");
    put_str(b, "main");
    put_str(b, "application_name");
    put_str(b, "serve_hostile");
    put(b, "", 1);
    patch_len(b, at);
}

/* Starts a typed message; end it with patch_len(b, returned offset). */
static size_t begin_msg(buf *b, char type)
{
    put(b, &type, 1);
    size_t at = b->len;
    put_u32(b, 0);
    return at;
}

static void put_sync(buf *b)
{
    patch_len(b, begin_msg(b, 'S'));
}

/* The bytes kind k sends, and what it does afterwards. */
static enum after build(enum kind k, buf *b)
{
    static const uint32_t bad_lengths[] = {0, 3, 0x7fffffffu, 0xffffffffu};
    static const char types[] = "QPBDEXSCHFfdcp";
    static const char not_types[] = "\001!#%&*+-./0123456789:;<=>?@[]^_`{|}~\177\377aAeGgIjJkKlLmMnNoOqrRsTuUvVwWxyYzZ";
    switch (k) {
    case K_RANDOM:
        put_random(b, 1 + rnd_below(512));
        return A_LINGER;
    case K_TRUNC_STARTUP: {
        buf s = {0};
        put_startup(&s, "hostile");
        put(b, s.p, 1 + rnd_below((uint32_t)s.len - 1));
        free(s.p);
        return A_CLOSE;
    }
    case K_BAD_LENGTH:
        put_u32(b, bad_lengths[rnd_below(4)]);
        put_u32(b, 196608);
        put_random(b, rnd_below(64));
        return A_REACT;
    case K_GARBAGE: {
        put_startup(b, "hostile");
        unsigned n = 1 + rnd_below(8);
        for (unsigned i = 0; i < n; i++) {
            /* The last one's type is none a client may send. */
            uint8_t t = i + 1 == n ? (uint8_t)not_types[rnd_below(sizeof not_types - 1)]
                      : rnd_below(4) == 0 ? (uint8_t)rnd()
                                          : (uint8_t)types[rnd_below(sizeof types - 1)];
            size_t at = begin_msg(b, (char)t);
            put_random(b, rnd_below(200));
            patch_len(b, at);
        }
        /* A server skipping to Sync after an error in the extended protocol
         * may hold its ErrorResponse (and pass over the bad type) until it. */
        put_sync(b);
        return A_REACT;
    }
    case K_OVERSIZE: {
        static const uint32_t big[] = {0x40000000u, 0x7fffffffu, 0xfffffff0u, (1u << 30) + 5};
        put_startup(b, "hostile");
        uint8_t t = (uint8_t)types[rnd_below(sizeof types - 1)];
        put(b, &t, 1);
        put_u32(b, big[rnd_below(4)]);
        put_random(b, rnd_below(4096));
        return A_REACT;
    }
    case K_TRUNC_MSG: {
        put_startup(b, "hostile");
        size_t at = begin_msg(b, 'Q');
        put_random(b, 20 + rnd_below(200));
        patch_len(b, at);
        b->len -= 1 + rnd_below(19);        /* cut short: the server waits */
        return A_LINGER;
    }
    case K_BIND_65535: {
        put_startup(b, "hostile");
        size_t at = begin_msg(b, 'B');
        put_str(b, "");
        put_str(b, "");
        put_u16(b, 0);
        put_u16(b, 65535);
        patch_len(b, at);
        put_sync(b);
        return A_REACT;
    }
    case K_PARSE_NTYPES: {
        put_startup(b, "hostile");
        size_t at = begin_msg(b, 'P');
        put_str(b, "");
        put_str(b, "SELECT 1");
        put_u16(b, 1000);
        put_u32(b, 23);
        put_u32(b, 23);
        patch_len(b, at);
        put_sync(b);
        return A_REACT;
    }
    case K_BIND_EMPTY: {
        put_startup(b, "hostile");
        size_t at = begin_msg(b, 'P');
        put_str(b, "");
        put_str(b, "SELECT $1");
        put_u16(b, 0);
        patch_len(b, at);
        at = begin_msg(b, 'B');
        put_str(b, "");
        put_str(b, "");
        put_u16(b, 0);
        put_u16(b, 65535);
        for (unsigned i = 0; i < 65535; i++)
            put_u32(b, 0);
        put_u16(b, 0);
        patch_len(b, at);
        at = begin_msg(b, 'E');
        put_str(b, "");
        put_u32(b, 0);
        patch_len(b, at);
        put_sync(b);
        return A_REACT;
    }
    case K_HALF_OPEN: {
        buf s = {0};
        put_startup(&s, "hostile");
        put(b, s.p, 1 + rnd_below((uint32_t)s.len - 1));
        free(s.p);
        return A_HOLD;
    }
    case K_CLOSE_NOW:
        return A_CLOSE;
    case K_SSL_GARBAGE:
        put_u32(b, 8);
        put_u32(b, 80877103);
        put_u32(b, 0x00010000u + (uint32_t)rnd_below(0xfffeffffu));
        put_random(b, rnd_below(100));
        return A_REACT;
    case K_CANCEL:
        put_u32(b, 16);
        put_u32(b, 80877102);
        put_u32(b, (uint32_t)rnd());
        put_u32(b, (uint32_t)rnd());
        return A_REACT;
    case K_NEAR_LIMIT: {
        put_startup(b, "hostile");
        put(b, "Q", 1);
        put_u32(b, NEAR_LIMIT_BYTES);
        put_random(b, 1024);
        return A_LINGER;
    }
    case K_FLOOD: {
        put_startup(b, "hostile");
        size_t at = begin_msg(b, 'Q');
        put(b, "-- ", 3);
        size_t from = b->len;
        put_random(b, FLOOD_QUERY_BYTES);
        for (size_t i = from; i < b->len; i++)
            b->p[i] = (uint8_t)('a' + b->p[i] % 26);
        put_str(b, "\nSELECT 1");
        patch_len(b, at);
        for (unsigned i = 0; i < FLOOD_FLUSHES; i++)
            patch_len(b, begin_msg(b, 'H'));
        put_sync(b);
        return A_REACT;
    }
    case K_COUNT:
        break;
    }
    abort();
}

static enum kind pick_kind(unsigned half_open_now, int second_half)
{
    unsigned total = 0;
    for (int k = 0; k < K_COUNT; k++)
        total += kind_weight[k];
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t r = rnd_below(total);
        int k = 0;
        while (r >= kind_weight[k])
            r -= kind_weight[k++];
        if (k == K_HALF_OPEN && (half_open_now >= MAX_HALF_OPEN || !second_half))
            continue;
        return (enum kind)k;
    }
    return K_CLOSE_NOW;     /* only half-open left, and none allowed now */
}

/* ---- the server's replies ---------------------------------------------------- */

/* Reads what is there; returns 0 on EOF or reset, 1 if the connection is
 * still open. Parses whole messages as they come for 'E' (and 53300), 'Z'. */
static int read_reply(conn *c)
{
    for (;;) {
        uint8_t tmp[16384];
        ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 1;
            return 0;   /* reset: the server cut us off */
        }
        if (!c->got_bytes) {
            double t = now_ms();
            c->got_bytes = 1;
            if (t - c->t_open_ms > first_reply_max_ms)
                first_reply_max_ms = t - c->t_open_ms;
            if (c->state == S_WAITING && c->after == A_REACT)
                c->deadline_ms = t + react_ms(c);
        }
        size_t k = 0;
        if (c->ssl_pending) {
            c->ssl_pending = 0;
            if (tmp[0] != 'N' && tmp[0] != 'S' && tmp[0] != 'E')
                reply_garbage++;
            if (tmp[0] != 'E')
                k = 1;
        }
        if (c->in_len + ((size_t)n - k) > MAX_REPLY_BYTES) {
            reply_garbage++;
            return 0;
        }
        uint8_t *p = realloc(c->in, c->in_len + ((size_t)n - k) + 1);
        if (p == NULL) {
            perror("serve_hostile: realloc");
            exit(2);
        }
        c->in = p;
        memcpy(c->in + c->in_len, tmp + k, (size_t)n - k);
        c->in_len += (size_t)n - k;
        /* Whole messages from in_off. */
        while (c->in_len - c->in_off >= 5) {
            const uint8_t *m = c->in + c->in_off;
            uint32_t len = (uint32_t)m[1] << 24 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 8 | m[4];
            if (len < 4 || len > MAX_REPLY_BYTES) {
                reply_garbage++;
                return 0;
            }
            if (c->in_len - c->in_off < 1 + (size_t)len)
                break;
            if (m[0] == 'E') {
                c->saw_error = 1;
                /* fields: code byte + C string, ending in 0 */
                for (size_t i = 5; i < 1 + (size_t)len && m[i] != 0;) {
                    const char *f = (const char *)m + i + 1;
                    size_t fl = strnlen(f, 1 + (size_t)len - i - 1);
                    if (m[i] == 'C' && fl == 5 && memcmp(f, "53300", 5) == 0)
                        c->refused = 1;
                    i += 1 + fl + 1;
                }
            } else if (m[0] == 'Z') {
                c->readies++;
            }
            c->in_off += 1 + (size_t)len;
        }
    }
}

/* ---- connections ------------------------------------------------------------- */

static struct sockaddr_storage server_addr;
static socklen_t server_addr_len;

static void close_conn(conn *c, int reset)
{
    if (reset) {
        struct linger l = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(c->fd);
    free(c->out);
    free(c->in);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* Opens a connection of kind k; 0, or -1 if the socket could not be made. */
static int open_conn(conn *c, enum kind k)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->kind = k;
    buf b = {0};
    c->after = build(k, &b);
    c->out = b.p;
    c->out_len = b.len;
    c->ssl_pending = k == K_SSL_GARBAGE;
    by_kind[k].started++;
    int fd = socket(server_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("serve_hostile: socket");
        free(c->out);
        c->out = NULL;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->t_open_ms = now_ms();
    c->deadline_ms = c->t_open_ms + CONNECT_MS;
    c->state = S_CONNECTING;
    if (connect(fd, (struct sockaddr *)&server_addr, server_addr_len) == 0) {
        c->state = S_SENDING;
        connections_made++;
    } else if (errno != EINPROGRESS) {
        by_kind[k].connect_failed++;
        connect_failed_total++;
        close_conn(c, 0);
        return -1;
    }
    return 0;
}

/* After the bytes are out (or at once for close-now). 0: close it now. */
static int sent_all(conn *c)
{
    switch (c->after) {
    case A_CLOSE:
        by_kind[c->kind].client_closed++;
        return 0;
    case A_LINGER:
        c->deadline_ms = now_ms() + LINGER_MS;
        break;
    case A_REACT:
        c->deadline_ms = now_ms() + (c->got_bytes ? react_ms(c) : FIRST_REPLY_MS);
        break;
    case A_HOLD:
        c->deadline_ms = 1e300;
        break;
    }
    c->state = S_WAITING;
    return 1;
}

/* Counts how c ended (server close, or the client's reasons). */
static void account_end(conn *c, int server_closed)
{
    tally *t = &by_kind[c->kind];
    if (c->refused)
        t->refused++;
    else if (c->saw_error)
        t->error_reply++;
    if (c->readies > 0)
        t->ready++;
    if (server_closed) {
        t->server_closed++;
        if (c->kind == K_HALF_OPEN && !c->refused) {
            double held = now_ms() - c->t_open_ms;
            half_open_server_closed++;
            if (half_open_close_min_ms < 0 || held < half_open_close_min_ms)
                half_open_close_min_ms = held;
            if (held > half_open_close_max_ms)
                half_open_close_max_ms = held;
        }
    }
}

/* Handles poll's events for c; 0 when c is finished (and closed). */
static int step(conn *c, short revents)
{
    if (c->state == S_CONNECTING) {
        if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
            return 1;
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) {
            by_kind[c->kind].connect_failed++;
            connect_failed_total++;
            close_conn(c, 0);
            return 0;
        }
        connections_made++;
        c->state = S_SENDING;
    }
    if (c->state == S_SENDING) {
        while (c->out_off < c->out_len) {
            ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
            if (n > 0) {
                c->out_off += (size_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            /* The server cut us off before all was sent: read what it said. */
            read_reply(c);
            account_end(c, 1);
            close_conn(c, 0);
            return 0;
        }
        if (c->out_off == c->out_len && !sent_all(c)) {
            close_conn(c, 1);
            return 0;
        }
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        if (read_reply(c) == 0) {
            account_end(c, 1);
            close_conn(c, 0);
            return 0;
        }
        /* An answer is all a reacting kind waits for: an ErrorResponse, or
         * a ReadyForQuery after the one that ends the startup (bind-empty's
         * Sync, if the server took the 65,535 parameters). */
        if (c->state == S_WAITING && c->after == A_REACT &&
            (c->kind == K_FLOOD ? c->readies >= 3 || c->refused
                                : c->saw_error || c->readies >= 2)) {
            account_end(c, 0);
            by_kind[c->kind].client_closed++;
            close_conn(c, 1);
            return 0;
        }
    }
    return 1;
}

/* With $SERVE_HOSTILE_DUMP set to a directory, writes what c sent there
 * (anomaly-N-KIND), to be replayed by hand; says where. */
static const char *dump_anomaly(const conn *c)
{
    static char msg[600];
    static unsigned n;
    const char *dir = getenv("SERVE_HOSTILE_DUMP");
    if (dir == NULL || *dir == '\0')
        return "";
    char path[512];
    snprintf(path, sizeof path, "%s/anomaly-%u-%s", dir, ++n, kind_name[c->kind]);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(c->out, 1, c->out_off, f) != c->out_off || fclose(f) != 0) {
        snprintf(msg, sizeof msg, " (could not write %s)", path);
        return msg;
    }
    snprintf(msg, sizeof msg, " (sent bytes in %s)", path);
    return msg;
}

/* c's deadline passed. */
static void expire(conn *c)
{
    if (c->state == S_CONNECTING) {
        by_kind[c->kind].connect_failed++;
        connect_failed_total++;
        close_conn(c, 1);
        return;
    }
    account_end(c, 0);
    if (c->after == A_REACT || c->state == S_SENDING) {
        by_kind[c->kind].no_reaction++;
        if (c->got_bytes)
            fprintf(stderr, "serve_hostile: anomaly: a %s connection (%zu of %zu bytes sent, "
                    "%zu bytes of reply) got no answer and was not closed within %.0f ms "
                    "of the reply's first byte%s\n", kind_name[c->kind], c->out_off,
                    c->out_len, c->in_len, react_ms(c), dump_anomaly(c));
        else
            fprintf(stderr, "serve_hostile: anomaly: a %s connection (%zu of %zu bytes sent) "
                    "got no reply and was not closed within %d ms%s\n", kind_name[c->kind],
                    c->out_off, c->out_len, FIRST_REPLY_MS, dump_anomaly(c));
    }
    by_kind[c->kind].client_closed++;
    close_conn(c, 1);
}

/* ---- the normal client --------------------------------------------------------- */

static const char *conninfo_host, *conninfo_port;
static volatile int stop_normal;
static pthread_mutex_t normal_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long normal_ok, normal_failed;
static double normal_max_ms;
static int normal_connected;   /* 1 connected, -1 could not */

static void *normal_client(void *arg)
{
    (void)arg;
    char info[512];
    snprintf(info, sizeof info,
             "host=%s port=%s user=normal dbname=main connect_timeout=10 "
             "application_name=serve_hostile_normal", conninfo_host, conninfo_port);
    PGconn *pg = PQconnectdb(info);
    pthread_mutex_lock(&normal_lock);
    normal_connected = PQstatus(pg) == CONNECTION_OK ? 1 : -1;
    pthread_mutex_unlock(&normal_lock);
    if (normal_connected < 0) {
        fprintf(stderr, "serve_hostile: the normal client could not connect: %s",
                PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    while (!stop_normal) {
        double t0 = now_ms();
        PGresult *r = PQexec(pg, "SELECT 42");
        double ms = now_ms() - t0;
        int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                 strcmp(PQgetvalue(r, 0, 0), "42") == 0 && ms <= NORMAL_MAX_MS;
        if (!ok)
            fprintf(stderr, "serve_hostile: normal query failed after %.1f ms: %s%s",
                    ms, PQresultErrorMessage(r), PQerrorMessage(pg));
        PQclear(r);
        pthread_mutex_lock(&normal_lock);
        if (ok)
            normal_ok++;
        else
            normal_failed++;
        if (ms > normal_max_ms)
            normal_max_ms = ms;
        pthread_mutex_unlock(&normal_lock);
        if (PQstatus(pg) != CONNECTION_OK) {
            PQreset(pg);
            if (PQstatus(pg) != CONNECTION_OK) {
                struct timespec ts = {0, 100 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        struct timespec pause = {0, 1000 * 1000};    /* 1 ms between queries */
        nanosleep(&pause, NULL);
    }
    PQfinish(pg);
    return NULL;
}

/* ---- main ------------------------------------------------------------------------ */

static conn active[MAX_IN_FLIGHT], held[MAX_HALF_OPEN];

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: serve_hostile HOST PORT N_CONNECTIONS SEED\n");
        return 2;
    }
    conninfo_host = argv[1];
    conninfo_port = argv[2];
    unsigned long total = strtoul(argv[3], NULL, 10);
    rng_state = strtoull(argv[4], NULL, 10);
    int floods = 2;
    const char *skip = getenv("SERVE_HOSTILE_SKIP");
    for (int k = 0; skip != NULL && k < K_COUNT; k++) {
        size_t n = strlen(kind_name[k]);
        for (const char *p = skip; (p = strstr(p, kind_name[k])) != NULL; p += n)
            if ((p == skip || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) {
                kind_weight[k] = 0;
                if (k == K_FLOOD)
                    floods = 0;
            }
    }
    unsigned wsum = 0;
    for (int k = 0; k < K_COUNT; k++)
        wsum += kind_weight[k];
    if (wsum == 0) {
        fprintf(stderr, "serve_hostile: SERVE_HOSTILE_SKIP leaves no kind\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(argv[1], argv[2], &hints, &ai);
    if (gai != 0) {
        fprintf(stderr, "serve_hostile: %s:%s: %s\n", argv[1], argv[2], gai_strerror(gai));
        return 2;
    }
    memcpy(&server_addr, ai->ai_addr, ai->ai_addrlen);
    server_addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);

    /* The normal client connects first, before the cap fills. */
    pthread_t normal;
    if (pthread_create(&normal, NULL, normal_client, NULL) != 0) {
        perror("serve_hostile: pthread_create");
        return 2;
    }
    for (;;) {
        pthread_mutex_lock(&normal_lock);
        int st = normal_connected;
        pthread_mutex_unlock(&normal_lock);
        if (st != 0)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }

    for (int i = 0; i < MAX_IN_FLIGHT; i++)
        active[i].fd = -1;
    for (int i = 0; i < MAX_HALF_OPEN; i++)
        held[i].fd = -1;
    double t_start = now_ms();
    unsigned long started = 0;
    unsigned n_active = 0, n_held = 0;
    struct pollfd pfd[MAX_IN_FLIGHT + MAX_HALF_OPEN];
    conn *pconn[MAX_IN_FLIGHT + MAX_HALF_OPEN];
    int out_of_time = 0;

    while (normal_connected > 0) {
        double t = now_ms();
        if (t - t_start > RUN_LIMIT_MS && started < total) {
            out_of_time = 1;
            total = started;
        }
        /* Start new connections into free slots. */
        for (int i = 0; i < MAX_IN_FLIGHT && started < total; i++) {
            if (active[i].fd >= 0)
                continue;
            enum kind k = pick_kind(n_held, started >= total / 2);
            if (total >= 1000 && ((floods >= 1 && started == total / 4) ||
                                  (floods >= 2 && started == total / 2)))
                k = K_FLOOD;
            conn *slot = &active[i];
            if (k == K_HALF_OPEN) {
                int h = 0;
                while (held[h].fd >= 0)
                    h++;
                slot = &held[h];
            }
            started++;
            if (open_conn(slot, k) != 0)
                continue;
            if (k == K_HALF_OPEN) {
                n_held++;
                if (n_held > half_open_peak)
                    half_open_peak = n_held;
                i--;        /* the active slot is still free */
            } else {
                n_active++;
            }
            if (slot->state == S_SENDING && !step(slot, 0)) {
                if (k == K_HALF_OPEN)
                    n_held--;
                else
                    n_active--;
            }
        }
        if (started >= total && n_active == 0)
            break;

        /* Poll them all. */
        nfds_t n = 0;
        double next = t + 50;
        for (int i = 0; i < MAX_IN_FLIGHT + MAX_HALF_OPEN; i++) {
            conn *c = i < MAX_IN_FLIGHT ? &active[i] : &held[i - MAX_IN_FLIGHT];
            if (c->fd < 0)
                continue;
            pfd[n].fd = c->fd;
            pfd[n].events = POLLIN;
            if (c->state != S_WAITING)
                pfd[n].events |= POLLOUT;
            pfd[n].revents = 0;
            pconn[n++] = c;
            if (c->deadline_ms < next)
                next = c->deadline_ms;
        }
        int wait = next > t ? (int)(next - t) + 1 : 0;
        if (poll(pfd, n, wait) < 0 && errno != EINTR) {
            perror("serve_hostile: poll");
            return 2;
        }
        t = now_ms();
        for (nfds_t i = 0; i < n; i++) {
            conn *c = pconn[i];
            int is_held = c >= held && c < held + MAX_HALF_OPEN;
            int alive = 1;
            if (pfd[i].revents != 0)
                alive = step(c, pfd[i].revents);
            if (alive && t >= c->deadline_ms) {
                expire(c);
                alive = 0;
            }
            if (!alive) {
                if (is_held)
                    n_held--;
                else
                    n_active--;
            }
        }
    }
    double t_hostile = now_ms() - t_start;

    /* The half-open ones: the server should drop each within its startup
     * timeout; those it still holds HOLD_END_MS after they were opened are
     * anomalies. */
    for (;;) {
        nfds_t n = 0;
        double t = now_ms();
        for (int i = 0; i < MAX_HALF_OPEN; i++) {
            if (held[i].fd < 0 || t - held[i].t_open_ms >= HOLD_END_MS)
                continue;
            pfd[n].fd = held[i].fd;
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            pconn[n++] = &held[i];
        }
        if (n == 0)
            break;
        if (poll(pfd, n, 100) < 0 && errno != EINTR) {
            perror("serve_hostile: poll");
            return 2;
        }
        for (nfds_t i = 0; i < n; i++)
            if (pfd[i].revents != 0)
                step(pconn[i], pfd[i].revents);
    }
    double t_end = now_ms();
    unsigned still_held = 0;
    for (int i = 0; i < MAX_HALF_OPEN; i++) {
        if (held[i].fd < 0)
            continue;
        double h = t_end - held[i].t_open_ms;
        if (h > half_open_longest_held_ms)
            half_open_longest_held_ms = h;
        still_held++;
        by_kind[K_HALF_OPEN].client_closed++;
        close_conn(&held[i], 1);
    }

    /* A few more normal queries once the storm is over, then stop. */
    struct timespec settle = {0, 300 * 1000 * 1000};
    nanosleep(&settle, NULL);
    stop_normal = 1;
    pthread_join(normal, NULL);

    unsigned anomalies = reply_garbage + still_held;
    for (int k = 0; k < K_COUNT; k++)
        anomalies += by_kind[k].no_reaction;

    printf("serve_hostile: %lu connections started in %.1f s (%u made, %u could not connect)%s\n",
           started, t_hostile / 1000.0, connections_made, connect_failed_total,
           out_of_time ? " -- stopped at the time limit" : "");
    unsigned refused = 0;
    for (int k = 0; k < K_COUNT; k++)
        refused += by_kind[k].refused;
    printf("refused by the server (53300, ok): %u\n", refused);
    printf("half-open: peak %u at once; closed by the server %u (after %.0f to %.0f ms); "
           "still open %d s after opening %u (longest %.0f ms)\n",
           half_open_peak, half_open_server_closed,
           half_open_close_min_ms < 0 ? 0 : half_open_close_min_ms,
           half_open_close_max_ms < 0 ? 0 : half_open_close_max_ms,
           HOLD_END_MS / 1000, still_held, half_open_longest_held_ms);
    printf("normal queries: %lu ok, %lu failed, max latency %.1f ms\n",
           normal_ok, normal_failed, normal_max_ms);
    printf("slowest first byte of a reply: %.0f ms after connecting\n", first_reply_max_ms);
    printf("%-14s %7s %8s %8s %8s %8s %8s %8s %8s\n", "kind", "started", "no-conn",
           "error", "refused", "ready", "srv-cls", "cli-cls", "no-react");
    for (int k = 0; k < K_COUNT; k++) {
        tally *t = &by_kind[k];
        printf("%-14s %7u %8u %8u %8u %8u %8u %8u %8u\n", kind_name[k], t->started,
               t->connect_failed, t->error_reply, t->refused, t->ready, t->server_closed,
               t->client_closed, t->no_reaction);
    }
    printf("anomalies: %u (no answer in time %u, half-open kept %u, malformed replies %u)\n",
           anomalies, anomalies - reply_garbage - still_held, still_held, reply_garbage);
    if (normal_connected < 0 || normal_failed > 0 || normal_ok == 0) {
        printf("serve_hostile: FAILED: the normal client %s\n",
               normal_connected < 0 ? "could not connect" : "did not always succeed");
        return 1;
    }
    printf("serve_hostile: ok\n");
    return 0;
}
