/*
 * scram — SCRAM-SHA-256 for `udr serve`; the contract is in scram.h.
 *
 * The keys (RFC 5802 §3), all SHA-256, 32 bytes:
 *
 *   SaltedPassword  = PBKDF2-HMAC-SHA-256(password, salt, iterations)
 *   ClientKey       = HMAC(SaltedPassword, "Client Key")
 *   StoredKey       = H(ClientKey)
 *   ServerKey       = HMAC(SaltedPassword, "Server Key")
 *   AuthMessage     = client-first-message-bare "," server-first-message ","
 *                     client-final-message-without-proof
 *   ClientSignature = HMAC(StoredKey, AuthMessage)
 *   ClientProof     = ClientKey XOR ClientSignature       (sent by the client)
 *   ServerSignature = HMAC(ServerKey, AuthMessage)       (sent by the server)
 *
 * The server keeps StoredKey and ServerKey only (the verifier). It checks a
 * proof by recovering ClientKey = ClientProof XOR ClientSignature and
 * comparing H(ClientKey) with StoredKey, in constant time.
 *
 * The grammar taken (RFC 5802 §7, narrowed to what PostgreSQL accepts):
 *
 *   client-first  = ("n" / "y") ",," "n=" saslname ",r=" nonce *("," ext)
 *   client-final  = "c=" base64 ",r=" nonce *("," ext) ",p=" base64
 *   saslname      = *(char other than ',', '=' and controls / "=2C" / "=3D")
 *   nonce         = 1*(%x21-2B / %x2D-7E)        printable ASCII but ','
 *   ext           = ALPHA "=" 1*(char other than ',' and controls)
 *
 * An extension named 'm' first in the client-first-message (a mandatory
 * one) is refused; other extensions are skipped, as PostgreSQL does. Every
 * message is at most SCRAM_MSG_MAX bytes and may not hold a NUL.
 *
 * The password file is read whole (at most SCRAM_FILE_MAX bytes) and parsed
 * into a sorted array of users, searched by name. Its bytes, HMAC-ed under
 * a fixed label, key the made-up salts of unknown users (see scram.h): the
 * key stays the same while the file does, and guessing it means knowing
 * the file, keys included.
 */
#include "scram.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define KEY_LEN 32              /* SHA-256 */
#define SALT_NEW_LEN 16         /* the salt of a new verifier, as PostgreSQL */
#define SNONCE_RAW_LEN 18       /* random bytes of the server nonce: 24 base64 chars */
#define SNONCE_MAX 64           /* the longest server nonce suffix */
#define MOCK_ITERATIONS 4096    /* for unknown users when the file names no one */
#define FINAL_OUT_MIN 48        /* "v=" and 44 base64 characters and a NUL */

static const char VERIFIER_PREFIX[] = "SCRAM-SHA-256$";
static const char MOCK_LABEL[] = "udr scram mock salt key";

typedef struct user_entry {
    char name[SCRAM_USER_MAX + 1];
    unsigned line;              /* in the password file, for messages */
    int iterations;
    size_t saltlen;
    unsigned char salt[SCRAM_SALT_MAX];
    unsigned char stored_key[KEY_LEN];
    unsigned char server_key[KEY_LEN];
} user_entry;

struct scram_users {
    user_entry *v;              /* sorted by name, no two alike */
    size_t n, cap;
    int mock_iterations;        /* the first user's, or MOCK_ITERATIONS */
    unsigned char mock_key[KEY_LEN];
};

enum exchange_state { ST_START, ST_FIRST_DONE, ST_OVER };

struct scram_server {
    enum exchange_state state;
    int known;                  /* 0: made-up keys, the proof always fails */
    int iterations;
    size_t saltlen;
    unsigned char salt[SCRAM_SALT_MAX];
    unsigned char stored_key[KEY_LEN];
    unsigned char server_key[KEY_LEN];
    char gs2[4];                /* "n,," or "y,," */
    char snonce[SNONCE_MAX + 1];                /* forced suffix, or "" */
    char nonce[SCRAM_NONCE_MAX + SNONCE_MAX + 1]; /* client's + server's */
    size_t nonce_len;
    char first_bare[SCRAM_MSG_MAX];             /* client-first-message-bare */
    size_t first_bare_len;
    char server_first[SCRAM_MSG_MAX];
    size_t server_first_len;
};

/* --- small helpers ------------------------------------------------------------ */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats a message into err when there is room for one. */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Empties an output buffer (on failure). */
static void clear_out(char *out, size_t outcap, size_t *outlen)
{
    if (out != NULL && outcap > 0)
        out[0] = '\0';
    if (outlen != NULL)
        *outlen = 0;
}

/* Is c a nonce character: printable ASCII other than ','. */
static int nonce_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != ',';
}

/* Is c a control character (C0 or DEL). */
static int control_char(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* Is c a letter (an attribute name). */
static int alpha_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* --- base64 -------------------------------------------------------------------- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long scram_base64_encode(const unsigned char *in, size_t len, char *out, size_t outcap)
{
    if (len > (size_t)(LONG_MAX / 4 - 4))
        return -1;
    size_t need = (len + 2) / 3 * 4;
    if (out == NULL || outcap < need + 1)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned long v = (unsigned long)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned long)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? B64[v & 63] : '=';
    }
    out[o] = '\0';
    return (long)o;
}

/* The value of a base64 character, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long scram_base64_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
    if (len % 4 != 0 || len > (size_t)LONG_MAX || (in == NULL && len > 0))
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        int pad = 0;
        if (last && in[i + 3] == '=')
            pad = in[i + 2] == '=' ? 2 : 1;
        int v[4];
        for (size_t k = 0; k < 4 - (size_t)pad; k++) {
            v[k] = b64_value((unsigned char)in[i + k]);
            if (v[k] < 0)
                return -1;
        }
        unsigned long bits = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12);
        if (pad < 2)
            bits |= (unsigned long)v[2] << 6;
        if (pad < 1)
            bits |= (unsigned long)v[3];
        /* the bits no byte uses must be zero: one encoding per string */
        if ((pad == 2 && (bits & 0xffff) != 0) || (pad == 1 && (bits & 0xff) != 0))
            return -1;
        size_t nbytes = 3 - (size_t)pad;
        if (outcap - o < nbytes)
            return -1;
        out[o++] = (unsigned char)(bits >> 16);
        if (nbytes > 1)
            out[o++] = (unsigned char)(bits >> 8);
        if (nbytes > 2)
            out[o++] = (unsigned char)bits;
    }
    return (long)o;
}

/* --- keys ---------------------------------------------------------------------- */

/* HMAC-SHA-256 of data under key into mac. Returns 0 or -1. */
static int hmac256(const unsigned char *key, size_t keylen, const void *data, size_t len,
                   unsigned char mac[KEY_LEN])
{
    unsigned int maclen = 0;
    if (keylen > INT_MAX)
        return -1;
    if (HMAC(EVP_sha256(), key, (int)keylen, data, len, mac, &maclen) == NULL ||
        maclen != KEY_LEN)
        return -1;
    return 0;
}

/* StoredKey and ServerKey of password, salt, iterations. Returns 0 or -1. */
static int derive_keys(const char *password, const unsigned char *salt, size_t saltlen,
                       int iterations, unsigned char stored[KEY_LEN], unsigned char server[KEY_LEN])
{
    unsigned char salted[KEY_LEN], client[KEY_LEN];
    int rc = -1;
    size_t pwlen = strlen(password);
    if (pwlen > INT_MAX || saltlen > INT_MAX || iterations < 1)
        goto fail;
    if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)saltlen, iterations, EVP_sha256(),
                          KEY_LEN, salted) != 1)
        goto fail;
    if (hmac256(salted, KEY_LEN, "Client Key", 10, client) != 0 ||
        hmac256(salted, KEY_LEN, "Server Key", 10, server) != 0)
        goto fail;
    if (SHA256(client, KEY_LEN, stored) == NULL)
        goto fail;
    rc = 0;
fail:
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(client, sizeof client);
    return rc;
}

int scram_verifier_make_salt(const char *password, const unsigned char *salt, size_t saltlen,
                             int iterations, char *out, size_t outlen)
{
    unsigned char stored[KEY_LEN], server[KEY_LEN];
    char salt64[(SCRAM_SALT_MAX + 2) / 3 * 4 + 1], stored64[45], server64[45];
    int rc = -1;
    if (password == NULL || salt == NULL || saltlen < SCRAM_SALT_MIN ||
        saltlen > SCRAM_SALT_MAX || iterations < 1 || out == NULL || outlen == 0)
        goto fail;
    out[0] = '\0';
    if (derive_keys(password, salt, saltlen, iterations, stored, server) != 0)
        goto fail;
    if (scram_base64_encode(salt, saltlen, salt64, sizeof salt64) < 0 ||
        scram_base64_encode(stored, KEY_LEN, stored64, sizeof stored64) < 0 ||
        scram_base64_encode(server, KEY_LEN, server64, sizeof server64) < 0)
        goto fail;
    int n = snprintf(out, outlen, "%s%d:%s$%s:%s", VERIFIER_PREFIX, iterations, salt64, stored64,
                     server64);
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = '\0';
        goto fail;
    }
    rc = 0;
fail:
    OPENSSL_cleanse(stored, sizeof stored);
    OPENSSL_cleanse(server, sizeof server);
    return rc;
}

int scram_verifier_make(const char *password, int iterations, char *out, size_t outlen)
{
    unsigned char salt[SALT_NEW_LEN];
    if (RAND_bytes(salt, sizeof salt) != 1)
        return -1;
    return scram_verifier_make_salt(password, salt, sizeof salt, iterations, out, outlen);
}

/* --- the password file ----------------------------------------------------------- */

/* Parses a verifier (v[0..len)) into e's iterations, salt and keys. Returns 0,
 * or -1 with *why set. */
static int parse_verifier(const char *v, size_t len, user_entry *e, const char **why)
{
    size_t plen = sizeof VERIFIER_PREFIX - 1;
    if (len < plen || memcmp(v, VERIFIER_PREFIX, plen) != 0) {
        *why = "the verifier does not start with SCRAM-SHA-256$";
        return -1;
    }
    size_t i = plen;
    long long iter = 0;
    size_t digits = 0;
    while (i < len && v[i] >= '0' && v[i] <= '9') {
        iter = iter * 10 + (v[i] - '0');
        if (iter > INT_MAX) {
            *why = "the iteration count is too large";
            return -1;
        }
        i++;
        digits++;
    }
    if (digits == 0 || i >= len || v[i] != ':') {
        *why = "expected <iterations>: after SCRAM-SHA-256$";
        return -1;
    }
    if (iter < 1) {
        *why = "the iteration count is 0";
        return -1;
    }
    e->iterations = (int)iter;
    i++;

    const char *salt = v + i;
    const char *dollar = memchr(salt, '$', len - i);
    if (dollar == NULL) {
        *why = "expected $ after the salt";
        return -1;
    }
    long n = scram_base64_decode(salt, (size_t)(dollar - salt), e->salt, sizeof e->salt);
    if (n < SCRAM_SALT_MIN) {
        *why = "the salt is not 1 to 128 bytes of base64";
        return -1;
    }
    e->saltlen = (size_t)n;
    i = (size_t)(dollar - v) + 1;

    const char *stored = v + i;
    const char *colon = memchr(stored, ':', len - i);
    if (colon == NULL) {
        *why = "expected : between StoredKey and ServerKey";
        return -1;
    }
    if (scram_base64_decode(stored, (size_t)(colon - stored), e->stored_key, KEY_LEN) != KEY_LEN) {
        *why = "StoredKey is not 32 bytes of base64";
        return -1;
    }
    i = (size_t)(colon - v) + 1;
    if (scram_base64_decode(v + i, len - i, e->server_key, KEY_LEN) != KEY_LEN) {
        *why = "ServerKey is not 32 bytes of base64";
        return -1;
    }
    return 0;
}

/* Parses one line (no newline; trailing blanks already cut) into e. Returns
 * 1 for a user, 0 for a line to skip, -1 with *why for a bad line. */
static int parse_line(const char *s, size_t len, user_entry *e, const char **why)
{
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i == len || s[i] == '#')
        return 0;
    size_t name_start = i;
    while (i < len && s[i] != ' ' && s[i] != '\t') {
        if (control_char((unsigned char)s[i])) {
            *why = "a control character in the user name";
            return -1;
        }
        i++;
    }
    size_t name_len = i - name_start;
    if (name_len > SCRAM_USER_MAX) {
        *why = "the user name is longer than 63 bytes";
        return -1;
    }
    if (i == len) {
        *why = "expected NAME VERIFIER";
        return -1;
    }
    memcpy(e->name, s + name_start, name_len);
    e->name[name_len] = '\0';
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return parse_verifier(s + i, len - i, e, why) == 0 ? 1 : -1;
}

/* Reads the whole of path into *data (malloc'd, *len bytes). Returns 0, or
 * -1 with err set. */
static int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    for (;;) {
        if (cap - n < 4096) {
            size_t ncap = cap ? cap * 2 : 8192;
            if (ncap > (size_t)SCRAM_FILE_MAX + 1)
                ncap = (size_t)SCRAM_FILE_MAX + 1;
            if (ncap <= n) {
                set_err(err, errlen, "%s: larger than %u bytes", path, SCRAM_FILE_MAX);
                goto fail;
            }
            char *nb = realloc(buf, ncap);
            if (nb == NULL) {
                set_err(err, errlen, "%s: out of memory", path);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                set_err(err, errlen, "%s: %s", path, strerror(errno));
                goto fail;
            }
            break;
        }
    }
    if (n > SCRAM_FILE_MAX) {
        set_err(err, errlen, "%s: larger than %u bytes", path, SCRAM_FILE_MAX);
        goto fail;
    }
    fclose(f);
    *data = buf;
    *len = n;
    return 0;
fail:
    if (f != NULL)
        fclose(f);
    free(buf);
    return -1;
}

/* Orders users by name. */
static int cmp_user(const void *a, const void *b)
{
    return strcmp(((const user_entry *)a)->name, ((const user_entry *)b)->name);
}

/* Parses the file's bytes into u's users, in file order. Returns 0, or -1
 * with err naming path and the line. */
static int parse_lines(scram_users *u, const char *data, size_t len, const char *path, char *err,
                       size_t errlen)
{
    unsigned line = 0;
    for (size_t pos = 0; pos < len;) {
        line++;
        const char *s = data + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - s) : len - pos;
        pos += llen + (nl ? 1 : 0);
        if (llen > SCRAM_LINE_MAX) {
            set_err(err, errlen, "%s:%u: longer than %d bytes", path, line, SCRAM_LINE_MAX);
            return -1;
        }
        if (memchr(s, '\0', llen) != NULL) {
            set_err(err, errlen, "%s:%u: a NUL byte", path, line);
            return -1;
        }
        while (llen > 0 && (s[llen - 1] == ' ' || s[llen - 1] == '\t' || s[llen - 1] == '\r'))
            llen--;
        if (u->n == u->cap) {
            size_t ncap = u->cap ? u->cap * 2 : 16;
            user_entry *nv = realloc(u->v, ncap * sizeof *nv);
            if (nv == NULL) {
                set_err(err, errlen, "%s:%u: out of memory", path, line);
                return -1;
            }
            u->v = nv;
            u->cap = ncap;
        }
        user_entry *e = &u->v[u->n];
        memset(e, 0, sizeof *e);
        const char *why = NULL;
        int r = parse_line(s, llen, e, &why);
        if (r < 0) {
            set_err(err, errlen, "%s:%u: %s", path, line, why);
            return -1;
        }
        if (r == 0)
            continue;
        e->line = line;
        if (u->n == 0)
            u->mock_iterations = e->iterations;
        u->n++;
    }
    return 0;
}

int scram_users_load(const char *path, scram_users **out, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    scram_users *u = NULL;
    if (out == NULL || path == NULL) {
        set_err(err, errlen, "scram_users_load: no path or no out");
        return -1;
    }
    *out = NULL;
    if (read_file(path, &data, &len, err, errlen) != 0)
        goto fail;
    u = calloc(1, sizeof *u);
    if (u == NULL) {
        set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    u->mock_iterations = MOCK_ITERATIONS;
    if (hmac256((const unsigned char *)MOCK_LABEL, sizeof MOCK_LABEL - 1, data, len,
                u->mock_key) != 0) {
        set_err(err, errlen, "%s: HMAC failed", path);
        goto fail;
    }
    if (parse_lines(u, data, len, path, err, errlen) != 0)
        goto fail;
    if (u->n > 1)
        qsort(u->v, u->n, sizeof *u->v, cmp_user);
    for (size_t i = 1; i < u->n; i++) {
        if (strcmp(u->v[i - 1].name, u->v[i].name) == 0) {
            unsigned a = u->v[i - 1].line, b = u->v[i].line;
            set_err(err, errlen, "%s:%u: user '%s' is already on line %u", path, a > b ? a : b,
                    u->v[i].name, a < b ? a : b);
            goto fail;
        }
    }
    OPENSSL_cleanse(data, len);
    free(data);
    *out = u;
    return 0;
fail:
    if (data != NULL)
        OPENSSL_cleanse(data, len);
    free(data);
    scram_users_free(u);
    return -1;
}

size_t scram_users_count(const scram_users *u)
{
    return u ? u->n : 0;
}

void scram_users_free(scram_users *u)
{
    if (u == NULL)
        return;
    if (u->v != NULL)
        OPENSSL_cleanse(u->v, u->cap * sizeof *u->v);
    free(u->v);
    OPENSSL_cleanse(u, sizeof *u);
    free(u);
}

/* --- one exchange ---------------------------------------------------------------- */

/* Fills s's salt and keys with made-up ones for an unknown user: HMACs of
 * the name under the users' mock key. Returns 0 or -1. */
static int mock_user(scram_server *s, const scram_users *u, const char *user)
{
    static const unsigned char zero_key[KEY_LEN];
    const unsigned char *key = u ? u->mock_key : zero_key;
    unsigned char msg[8 + KEY_LEN], mac[KEY_LEN];
    if (SHA256((const unsigned char *)user, strlen(user), msg + 8) == NULL)
        return -1;
    memcpy(msg, "salt\0\0\0\0", 8);
    if (hmac256(key, KEY_LEN, msg, sizeof msg, mac) != 0)
        return -1;
    memcpy(s->salt, mac, SALT_NEW_LEN);
    s->saltlen = SALT_NEW_LEN;
    memcpy(msg, "stored\0\0", 8);
    if (hmac256(key, KEY_LEN, msg, sizeof msg, s->stored_key) != 0)
        return -1;
    memcpy(msg, "server\0\0", 8);
    if (hmac256(key, KEY_LEN, msg, sizeof msg, s->server_key) != 0)
        return -1;
    s->iterations = u ? u->mock_iterations : MOCK_ITERATIONS;
    s->known = 0;
    return 0;
}

scram_server *scram_server_new(const scram_users *u, const char *user)
{
    scram_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->state = ST_START;
    const user_entry *e = NULL;
    if (u != NULL && user != NULL && u->n > 0 && strlen(user) <= SCRAM_USER_MAX) {
        user_entry key;
        snprintf(key.name, sizeof key.name, "%s", user);
        e = bsearch(&key, u->v, u->n, sizeof *u->v, cmp_user);
    }
    if (e != NULL) {
        s->known = 1;
        s->iterations = e->iterations;
        s->saltlen = e->saltlen;
        memcpy(s->salt, e->salt, e->saltlen);
        memcpy(s->stored_key, e->stored_key, KEY_LEN);
        memcpy(s->server_key, e->server_key, KEY_LEN);
    } else if (mock_user(s, u, user ? user : "") != 0) {
        /* keys we cannot make: an exchange that fails at the first step */
        s->state = ST_OVER;
    }
    return s;
}

void scram_server_free(scram_server *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

int scram_server_set_nonce(scram_server *s, const char *suffix)
{
    if (s == NULL || suffix == NULL || s->state != ST_START)
        return -1;
    size_t n = strlen(suffix);
    if (n == 0 || n > SNONCE_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!nonce_char((unsigned char)suffix[i]))
            return -1;
    memcpy(s->snonce, suffix, n + 1);
    return 0;
}

/* Checks a message's length and bytes. Returns 0, or -1 with err set. */
static int check_message(const char *what, const char *msg, size_t len, char *err, size_t errlen)
{
    if (msg == NULL || len == 0) {
        set_err(err, errlen, "empty %s", what);
        return -1;
    }
    if (len > SCRAM_MSG_MAX) {
        set_err(err, errlen, "%s longer than %d bytes", what, SCRAM_MSG_MAX);
        return -1;
    }
    if (memchr(msg, '\0', len) != NULL) {
        set_err(err, errlen, "%s holds a NUL byte", what);
        return -1;
    }
    return 0;
}

/* Skips ",ALPHA=value" extensions from m[*i], stopping at the end or (when
 * stop is not 0) before ",<stop>=". Returns 0, or -1 with err set. */
static int skip_extensions(const char *m, size_t len, size_t *i, char stop, char *err,
                           size_t errlen)
{
    while (*i < len) {
        size_t j = *i;
        if (m[j] != ',') {
            set_err(err, errlen, "expected ',' at byte %zu", j);
            return -1;
        }
        if (stop != 0 && len - j >= 3 && m[j + 1] == stop && m[j + 2] == '=')
            return 0;
        j++;
        if (len - j < 2 || !alpha_char((unsigned char)m[j]) || m[j + 1] != '=') {
            set_err(err, errlen, "expected an attribute (a letter and '=') at byte %zu", j);
            return -1;
        }
        j += 2;
        size_t start = j;
        while (j < len && m[j] != ',') {
            if (control_char((unsigned char)m[j])) {
                set_err(err, errlen, "a control character in an attribute at byte %zu", j);
                return -1;
            }
            j++;
        }
        if (j == start) {
            set_err(err, errlen, "an empty attribute value at byte %zu", start);
            return -1;
        }
        *i = j;
    }
    return 0;
}

/* Skips a saslname (the user name of n=) from m[*i] to the next ',' or the
 * end: no controls, '=' only in "=2C" and "=3D". Returns 0, or -1 with err
 * set. */
static int skip_saslname(const char *m, size_t len, size_t *i, char *err, size_t errlen)
{
    size_t j = *i;
    while (j < len && m[j] != ',') {
        unsigned char c = (unsigned char)m[j];
        if (c == '=') {
            if (len - j < 3 || !((m[j + 1] == '2' && m[j + 2] == 'C') ||
                                 (m[j + 1] == '3' && m[j + 2] == 'D'))) {
                set_err(err, errlen, "a bad '=' escape in the user name at byte %zu", j);
                return -1;
            }
            j += 3;
            continue;
        }
        if (control_char(c)) {
            set_err(err, errlen, "a control character in the user name at byte %zu", j);
            return -1;
        }
        j++;
    }
    *i = j;
    return 0;
}

/* Parses the client-first-message into s (gs2 header, bare message, client
 * nonce). Returns 0, or -1 with err set. */
static int parse_client_first(scram_server *s, const char *m, size_t len, char *err,
                              size_t errlen)
{
    if (check_message("client-first-message", m, len, err, errlen) != 0)
        return -1;
    if (m[0] == 'p') {
        set_err(err, errlen, "channel binding is not supported");
        return -1;
    }
    if (m[0] != 'n' && m[0] != 'y') {
        set_err(err, errlen, "expected 'n' or 'y' (the channel-binding flag) at byte 0");
        return -1;
    }
    if (len < 2 || m[1] != ',') {
        set_err(err, errlen, "expected ',' after the channel-binding flag");
        return -1;
    }
    if (len > 2 && m[2] == 'a') {
        set_err(err, errlen, "an authorization identity (a=) is not supported");
        return -1;
    }
    if (len < 3 || m[2] != ',') {
        set_err(err, errlen, "expected \"n,,\" or \"y,,\" (the gs2 header)");
        return -1;
    }
    memcpy(s->gs2, m, 3);
    s->gs2[3] = '\0';

    size_t i = 3;
    if (len - i >= 2 && m[i] == 'm' && m[i + 1] == '=') {
        set_err(err, errlen, "mandatory extensions (m=) are not supported");
        return -1;
    }
    if (len - i < 2 || m[i] != 'n' || m[i + 1] != '=') {
        set_err(err, errlen, "expected n= (the user name) at byte %zu", i);
        return -1;
    }
    i += 2;
    if (skip_saslname(m, len, &i, err, errlen) != 0)
        return -1;
    if (len - i < 3 || m[i + 1] != 'r' || m[i + 2] != '=') {
        set_err(err, errlen, "expected ,r= (the client nonce) after the user name");
        return -1;
    }
    i += 3;
    size_t nstart = i;
    while (i < len && m[i] != ',') {
        if (!nonce_char((unsigned char)m[i])) {
            set_err(err, errlen, "a bad character in the client nonce at byte %zu", i);
            return -1;
        }
        i++;
    }
    size_t nlen = i - nstart;
    if (nlen == 0) {
        set_err(err, errlen, "an empty client nonce");
        return -1;
    }
    if (nlen > SCRAM_NONCE_MAX) {
        set_err(err, errlen, "a client nonce longer than %d characters", SCRAM_NONCE_MAX);
        return -1;
    }
    if (skip_extensions(m, len, &i, 0, err, errlen) != 0)
        return -1;

    memcpy(s->first_bare, m + 3, len - 3);
    s->first_bare_len = len - 3;
    memcpy(s->nonce, m + nstart, nlen);
    s->nonce_len = nlen;
    return 0;
}

int scram_server_first(scram_server *s, const char *msg, size_t len, char *out, size_t outcap,
                       size_t *outlen, char *err, size_t errlen)
{
    char salt64[(SCRAM_SALT_MAX + 2) / 3 * 4 + 1];
    clear_out(out, outcap, outlen);
    if (s == NULL || out == NULL || outlen == NULL) {
        set_err(err, errlen, "scram_server_first: no exchange or no output buffer");
        return -1;
    }
    if (s->state != ST_START) {
        set_err(err, errlen, "client-first-message out of order");
        goto fail;
    }
    if (parse_client_first(s, msg, len, err, errlen) != 0)
        goto fail;

    if (s->snonce[0] == '\0') {
        unsigned char raw[SNONCE_RAW_LEN];
        if (RAND_bytes(raw, sizeof raw) != 1) {
            set_err(err, errlen, "no random bytes for the server nonce");
            goto fail;
        }
        if (scram_base64_encode(raw, sizeof raw, s->snonce, sizeof s->snonce) < 0)
            goto fail;
    }
    size_t slen = strlen(s->snonce);
    memcpy(s->nonce + s->nonce_len, s->snonce, slen + 1);
    s->nonce_len += slen;

    if (scram_base64_encode(s->salt, s->saltlen, salt64, sizeof salt64) < 0) {
        set_err(err, errlen, "cannot encode the salt");
        goto fail;
    }
    int n = snprintf(s->server_first, sizeof s->server_first, "r=%s,s=%s,i=%d", s->nonce, salt64,
                     s->iterations);
    if (n < 0 || (size_t)n >= sizeof s->server_first) {
        set_err(err, errlen, "server-first-message too long");
        goto fail;
    }
    s->server_first_len = (size_t)n;
    if (outcap < s->server_first_len + 1) {
        set_err(err, errlen, "output buffer too small (%zu bytes, %zu needed)", outcap,
                s->server_first_len + 1);
        goto fail;
    }
    memcpy(out, s->server_first, s->server_first_len + 1);
    *outlen = s->server_first_len;
    s->state = ST_FIRST_DONE;
    return 0;
fail:
    s->state = ST_OVER;
    return -1;
}

/* Parses the client-final-message against s: the channel binding and nonce
 * must match, the proof be 32 bytes. Sets *without_proof to the length of
 * client-final-message-without-proof. Returns 0, or -1 with err set. */
static int parse_client_final(const scram_server *s, const char *m, size_t len,
                              unsigned char proof[KEY_LEN], size_t *without_proof, char *err,
                              size_t errlen)
{
    unsigned char cb[8];
    if (check_message("client-final-message", m, len, err, errlen) != 0)
        return -1;
    if (len < 2 || m[0] != 'c' || m[1] != '=') {
        set_err(err, errlen, "expected c= (the channel binding) at byte 0");
        return -1;
    }
    size_t i = 2;
    while (i < len && m[i] != ',')
        i++;
    long cblen = scram_base64_decode(m + 2, i - 2, cb, sizeof cb);
    if (cblen != 3 || memcmp(cb, s->gs2, 3) != 0) {
        set_err(err, errlen, "c= is not the base64 of the gs2 header \"%s\"", s->gs2);
        return -1;
    }
    if (len - i < 3 || m[i + 1] != 'r' || m[i + 2] != '=') {
        set_err(err, errlen, "expected ,r= (the nonce) after c=");
        return -1;
    }
    i += 3;
    size_t nstart = i;
    while (i < len && m[i] != ',')
        i++;
    if (i - nstart != s->nonce_len || memcmp(m + nstart, s->nonce, s->nonce_len) != 0) {
        set_err(err, errlen, "the nonce is not the one of the server-first-message");
        return -1;
    }
    if (skip_extensions(m, len, &i, 'p', err, errlen) != 0)
        return -1;
    if (i == len) {
        set_err(err, errlen, "expected ,p= (the proof)");
        return -1;
    }
    *without_proof = i;
    i += 3;
    if (memchr(m + i, ',', len - i) != NULL) {
        set_err(err, errlen, "p= (the proof) must be the last attribute");
        return -1;
    }
    if (scram_base64_decode(m + i, len - i, proof, KEY_LEN) != KEY_LEN) {
        set_err(err, errlen, "p= is not 32 bytes of base64");
        return -1;
    }
    return 0;
}

int scram_server_final(scram_server *s, const char *msg, size_t len, char *out, size_t outcap,
                       size_t *outlen, char *err, size_t errlen)
{
    /* AuthMessage: three messages of at most SCRAM_MSG_MAX bytes and two commas */
    char auth[3 * SCRAM_MSG_MAX + 2];
    unsigned char proof[KEY_LEN], sig[KEY_LEN], client_key[KEY_LEN], h[KEY_LEN];
    unsigned char server_sig[KEY_LEN];
    char sig64[45];
    size_t wp = 0;
    int rc = -1;
    clear_out(out, outcap, outlen);
    if (s == NULL || out == NULL || outlen == NULL) {
        set_err(err, errlen, "scram_server_final: no exchange or no output buffer");
        return -1;
    }
    if (s->state != ST_FIRST_DONE) {
        set_err(err, errlen, "client-final-message out of order");
        goto done;
    }
    if (outcap < FINAL_OUT_MIN) {
        /* checked up front, so a short buffer fails whatever the proof */
        set_err(err, errlen, "output buffer too small (%zu bytes, %d needed)", outcap,
                FINAL_OUT_MIN);
        goto done;
    }
    if (parse_client_final(s, msg, len, proof, &wp, err, errlen) != 0)
        goto done;

    size_t a = 0;
    memcpy(auth + a, s->first_bare, s->first_bare_len);
    a += s->first_bare_len;
    auth[a++] = ',';
    memcpy(auth + a, s->server_first, s->server_first_len);
    a += s->server_first_len;
    auth[a++] = ',';
    memcpy(auth + a, msg, wp);
    a += wp;

    if (hmac256(s->stored_key, KEY_LEN, auth, a, sig) != 0 ||
        hmac256(s->server_key, KEY_LEN, auth, a, server_sig) != 0) {
        set_err(err, errlen, "HMAC failed");
        goto done;
    }
    for (size_t k = 0; k < KEY_LEN; k++)
        client_key[k] = proof[k] ^ sig[k];
    if (SHA256(client_key, KEY_LEN, h) == NULL) {
        set_err(err, errlen, "SHA-256 failed");
        goto done;
    }
    int same = CRYPTO_memcmp(h, s->stored_key, KEY_LEN) == 0;
    if (same && s->known) {
        if (scram_base64_encode(server_sig, KEY_LEN, sig64, sizeof sig64) < 0)
            goto done;
        int n = snprintf(out, outcap, "v=%s", sig64);
        *outlen = (size_t)n;
        rc = 0;
    } else {
        int n = snprintf(out, outcap, "e=invalid-proof");
        *outlen = (size_t)n;
        rc = 1;
    }
done:
    if (s != NULL)
        s->state = ST_OVER;
    OPENSSL_cleanse(client_key, sizeof client_key);
    OPENSSL_cleanse(sig, sizeof sig);
    OPENSSL_cleanse(server_sig, sizeof server_sig);
    return rc;
}
