/*
 * serve — `udr serve`'s listener: sockets, threads, signals, the log (see
 * serve.h).
 *
 * The accepting thread polls the listening socket and a self-pipe that the
 * signal handler writes to. Each accepted connection runs session_serve on
 * a detached thread; the count of live sessions, under one mutex, bounds
 * them and tells shutdown when the last has gone. The registry (pid, key ->
 * session) serves CancelRequest: serve_cancel calls udr_interrupt under the
 * registry lock, and a session leaves the registry before it closes its
 * handle, so an interrupt never reaches a closed handle.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "scram.h"
#include "session.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gone = PTHREAD_COND_INITIALIZER;
static int live;                    /* sessions running */
static session **registry;          /* logged-in sessions, for cancel */
static size_t nregistry, registry_cap;
static uint32_t next_pid = 1000;
static volatile sig_atomic_t stop_flag;
static int64_t stop_at_ms;
static int grace_ms = 10000;
static int quiet;
static int wake_pipe[2] = {-1, -1};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int serve_stopping(void)
{
    return stop_flag != 0;
}

int serve_grace_over(void)
{
    if (!stop_flag)
        return 0;
    pthread_mutex_lock(&mu);
    int over = stop_at_ms != 0 && now_ms() - stop_at_ms >= grace_ms;
    pthread_mutex_unlock(&mu);
    return over;
}

static void vlog(const session *s, const char *fmt, va_list ap)
{
    if (quiet)
        return;
    char line[1400], when[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = s != NULL ? snprintf(line, sizeof line, "%s udr serve [%llu %s] ", when,
                                 (unsigned long long)s->id, s->peer)
                      : snprintf(line, sizeof line, "%s udr serve: ", when);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    /* One write per line, so lines of many threads do not interleave. */
    size_t len = strlen(line);
    for (size_t i = (size_t)n; i < len; i++)
        if (line[i] == '\n')
            line[i] = ' ';
    line[len] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len + 1);
    (void)w;
}

void serve_log(const session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(s, fmt, ap);
    va_end(ap);
}

void serve_register(session *s)
{
    uint32_t key = 0;
    if (getrandom(&key, sizeof key, 0) != sizeof key)
        key = (uint32_t)now_ms() * 2654435761u;
    pthread_mutex_lock(&mu);
    s->pid = next_pid++;
    s->key = key;
    if (nregistry == registry_cap) {
        size_t cap = registry_cap ? registry_cap * 2 : 64;
        session **r = realloc(registry, cap * sizeof *r);
        if (r != NULL) {
            registry = r;
            registry_cap = cap;
        }
    }
    if (nregistry < registry_cap)
        registry[nregistry++] = s;
    pthread_mutex_unlock(&mu);
}

void serve_unregister(session *s)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nregistry; i++)
        if (registry[i] == s) {
            registry[i] = registry[--nregistry];
            break;
        }
    pthread_mutex_unlock(&mu);
}

udr_repo *serve_swap_repo(session *s, udr_repo *repo)
{
    pthread_mutex_lock(&mu);
    udr_repo *old = s->repo;
    s->repo = repo;
    pthread_mutex_unlock(&mu);
    return old;
}

void serve_cancel(uint32_t pid, uint32_t key)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nregistry; i++)
        if (registry[i]->pid == pid && registry[i]->key == key) {
            udr_interrupt(registry[i]->repo);
            serve_log(registry[i], "cancel request: statement interrupted");
            break;
        }
    pthread_mutex_unlock(&mu);
}

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
    if (wake_pipe[1] >= 0) {
        ssize_t w = write(wake_pipe[1], "x", 1);
        (void)w;
    }
}

int serve_is_loopback(const char *host)
{
    if (strcmp(host, "localhost") == 0)
        return 1;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

/* Splits "HOST:PORT" ("[v6]:PORT", or a bare port). 0, or -1. */
static int split_listen(const char *listen, char *host, size_t hn, char *port, size_t pn)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL) {
        snprintf(host, hn, "127.0.0.1");
        snprintf(port, pn, "%s", listen);
    } else if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close + 1 != colon)
            return -1;
        snprintf(host, hn, "%.*s", (int)(close - listen - 1), listen + 1);
        snprintf(port, pn, "%s", colon + 1);
    } else {
        snprintf(host, hn, "%.*s", (int)(colon - listen), listen);
        snprintf(port, pn, "%s", colon + 1);
    }
    char *end;
    long p = strtol(port, &end, 10);
    return host[0] != '\0' && *end == '\0' && p > 0 && p < 65536 ? 0 : -1;
}

static int listen_on(const char *host, const char *port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(g));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 128) == 0)
            break;
        snprintf(err, errlen, "cannot listen on %s:%s: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void *session_thread(void *arg)
{
    session *s = arg;
    session_serve(s);
    free(s);
    pthread_mutex_lock(&mu);
    live--;
    pthread_cond_broadcast(&gone);
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* A refused connection is answered as PostgreSQL does: its SSLRequest (or
 * GSSENCRequest) gets 'N', its startup packet the error, and then the
 * connection lingers a moment, reading and dropping what the client sends,
 * so that closing does not reset it before the client has read the error
 * (libpq reports an error sent in place of the SSL answer only as "error
 * during SSL exchange"). The accepting thread does this with non-blocking
 * sockets; bounded: past LINGER_MAX, connections are closed at once. */
#define LINGER_MAX 256
#define LINGER_MS 2000
static struct {
    int fd;
    int told;               /* the error has been sent */
    int64_t until_ms;
} linger[LINGER_MAX];
static int nlinger;
static char refuse_msg[160];

static void send_refusal(int fd)
{
    pgw_out o;
    pgw_out_init(&o);
    pgw_error(&o, 'E', "FATAL", "53300", refuse_msg, NULL, NULL);
    if (!o.oom) {
        ssize_t w = send(fd, o.data, o.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
    }
    pgw_out_free(&o);
    shutdown(fd, SHUT_WR);
}

/* Reads what a refused client sent: answers an SSL request, else refuses. */
static int linger_read(int i)
{
    uint8_t b[4096];
    ssize_t n = recv(linger[i].fd, b, sizeof b, 0);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0)
        return -1;
    if (linger[i].told)
        return 0;
    uint32_t code = n >= 8 ? pgw_u32_at(b + 4) : 0;
    if (n == 8 && pgw_u32_at(b) == 8 && (code == PGW_SSL_REQUEST || code == PGW_GSS_REQUEST)) {
        ssize_t w = send(linger[i].fd, "N", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
        return 0;
    }
    send_refusal(linger[i].fd);
    linger[i].told = 1;
    return 0;
}

/* Every TRIM_EVERY_S seconds, the memory sessions freed goes back to the
 * system. Each session's handle is a DuckDB database of its own (its
 * catalog alone a few MB), opened and closed on the session's thread, and
 * renewed as the session goes on (session.c); glibc keeps what those
 * threads free in its arenas, in pieces between what is still live, and
 * gives it back only when the top of an arena is free: under 32 busy
 * clients the live heap was about 210 MB while the arenas held 330 MB.
 * malloc_trim returns the free pages of every arena (a few ms, arena by
 * arena). Measured alone it changed little in a 60 s run of bench_serve
 * (RSS end / warm-up 1.28 with it, 1.26 without: the renewals of
 * session.c matter more); it is cheap, so it stays. */
#define TRIM_EVERY_S 5

static void give_back_memory(struct timespec *last)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - last->tv_sec < TRIM_EVERY_S)
        return;
    *last = t;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* Serves the lingering connections that poll found ready (p: their pollfds,
 * in linger's order), and closes those that are done or out of time. */
static void linger_sweep(const struct pollfd *p, int np)
{
    int64_t now = now_ms();
    int done[LINGER_MAX] = {0};
    for (int i = 0; i < nlinger; i++) {
        if (i < np && p[i].revents)
            done[i] = linger_read(i) != 0;
        if (now >= linger[i].until_ms)
            done[i] = 1;
    }
    for (int i = nlinger - 1; i >= 0; i--)
        if (done[i]) {
            close(linger[i].fd);
            linger[i] = linger[--nlinger];
        }
}

/* Turns a connection away: 53300, once it has said who it is. */
static void refuse(int fd, const char *peer, int max)
{
    snprintf(refuse_msg, sizeof refuse_msg,
             "sorry, too many clients already (udr serve --max-connections %d)", max);
    serve_log(NULL, "refused %s: %s", peer, refuse_msg);
    if (nlinger == LINGER_MAX) {
        send_refusal(fd);
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    linger[nlinger].fd = fd;
    linger[nlinger].told = 0;
    linger[nlinger++].until_ms = now_ms() + LINGER_MS;
}

static void peer_name(const struct sockaddr_storage *sa, char *out, size_t n)
{
    char host[64] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
    }
    snprintf(out, n, "%s:%d", host, port);
}

int serve_run(const serve_opts *o)
{
    serve_opts opts = *o;
    if (opts.listen == NULL)
        opts.listen = "127.0.0.1:5433";
    if (opts.max_connections <= 0)
        opts.max_connections = 64;
    if (opts.auth_timeout_ms <= 0)
        opts.auth_timeout_ms = 10000;
    if (opts.shutdown_grace_ms <= 0)
        opts.shutdown_grace_ms = 10000;
    if (opts.max_message_bytes == 0)
        opts.max_message_bytes = 64u << 20;
    quiet = opts.quiet;
    grace_ms = opts.shutdown_grace_ms;

    char host[256], port[16], err[512] = "";
    if (split_listen(opts.listen, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "udr: error: --listen %s: expected HOST:PORT, e.g. 127.0.0.1:5433\n",
                opts.listen);
        return 2;
    }
    scram_users *users = NULL;
    if (opts.passwords != NULL) {
        if (scram_users_load(opts.passwords, &users, err, sizeof err) != 0) {
            fprintf(stderr, "udr: error: %s\n", err);
            return 1;
        }
    } else if (!serve_is_loopback(host)) {
        fprintf(stderr,
                "udr: error: refusing to listen on %s without passwords: anyone who can reach "
                "it could read and change every table. Give --passwords FILE (lines of "
                "'NAME VERIFIER'; make a verifier with 'udr serve passwd NAME'), or listen on "
                "127.0.0.1\n",
                opts.listen);
        return 1;
    }
    /* The repository must open before anyone connects. */
    udr_repo *probe = NULL;
    if (udr_open(opts.repo_dir, &probe) != UDR_OK) {
        fprintf(stderr, "udr: error: %s\n", probe ? udr_errmsg(probe) : "out of memory");
        udr_close(probe);
        scram_users_free(users);
        return 1;
    }
    udr_close(probe);
    int lfd = listen_on(host, port, err, sizeof err);
    if (lfd < 0) {
        fprintf(stderr, "udr: error: %s\n", err);
        scram_users_free(users);
        return 1;
    }
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        fprintf(stderr, "udr: error: pipe: %s\n", strerror(errno));
        close(lfd);
        scram_users_free(users);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    serve_log(NULL, "serving %s on %s (%s, at most %d connections)", opts.repo_dir, opts.listen,
              users ? "SCRAM-SHA-256 passwords" : "trust: loopback only", opts.max_connections);

    uint64_t conn_id = 0;
    struct timespec trimmed;
    clock_gettime(CLOCK_MONOTONIC, &trimmed);
    while (!stop_flag) {
        give_back_memory(&trimmed);
        struct pollfd p[2 + LINGER_MAX] = {{.fd = lfd, .events = POLLIN},
                                           {.fd = wake_pipe[0], .events = POLLIN}};
        for (int i = 0; i < nlinger; i++)
            p[2 + i] = (struct pollfd){.fd = linger[i].fd, .events = POLLIN};
        int np = 2 + nlinger;
        if (poll(p, (nfds_t)np, nlinger > 0 ? 100 : 1000) < 0 && errno != EINTR)
            break;
        linger_sweep(p + 2, np - 2);
        if (stop_flag || !(p[0].revents & POLLIN))
            continue;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                usleep(10000);
            continue;
        }
        char peer[80];
        peer_name(&ss, peer, sizeof peer);
        pthread_mutex_lock(&mu);
        int full = live >= opts.max_connections;
        if (!full)
            live++;
        pthread_mutex_unlock(&mu);
        if (full) {
            refuse(fd, peer, opts.max_connections);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct timeval tv = {.tv_sec = 60};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        session *s = calloc(1, sizeof *s);
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 1u << 20);
        if (s != NULL) {
            s->fd = fd;
            s->id = ++conn_id;
            s->opts = &opts;
            s->users = users;
            snprintf(s->peer, sizeof s->peer, "%s", peer);
        }
        if (s == NULL || pthread_create(&th, &attr, session_thread, s) != 0) {
            free(s);
            close(fd);
            pthread_mutex_lock(&mu);
            live--;
            pthread_mutex_unlock(&mu);
            serve_log(NULL, "cannot start a thread for %s", peer);
        }
        pthread_attr_destroy(&attr);
    }
    close(lfd);
    for (int i = 0; i < nlinger; i++)
        close(linger[i].fd);
    nlinger = 0;
    pthread_mutex_lock(&mu);
    stop_at_ms = now_ms();
    serve_log(NULL, "shutting down: %d connection%s to finish", live, live == 1 ? "" : "s");
    /* Sessions notice within IDLE_POLL_MS; open blocks get the grace period;
     * after it, statements still running are interrupted (a commit that has
     * begun is not a DuckDB statement, and finishes). */
    int interrupted = 0;
    while (live > 0) {
        if (!interrupted && now_ms() - stop_at_ms >= grace_ms) {
            for (size_t i = 0; i < nregistry; i++)
                udr_interrupt(registry[i]->repo);
            interrupted = 1;
            if (nregistry > 0)
                serve_log(NULL, "shutdown grace over: interrupting %zu running statement%s",
                          nregistry, nregistry == 1 ? "" : "s");
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&gone, &mu, &ts);
    }
    pthread_mutex_unlock(&mu);
    serve_log(NULL, "stopped");
    free(registry);
    registry = NULL;
    nregistry = registry_cap = 0;
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    wake_pipe[0] = wake_pipe[1] = -1;
    scram_users_free(users);
    return 0;
}
