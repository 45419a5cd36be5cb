/*
 * test_scram — SCRAM-SHA-256 for `udr serve` (server/scram.c): RFC 7677's
 * test vector, wrong proofs, unknown users, malformed messages, verifiers
 * made here checked by a client computed here with OpenSSL, a verifier made
 * by PostgreSQL 15, the password file's errors, and base64.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "harness.h"
#include "scram.h"

/* RFC 7677 §3 */
#define RFC_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SFIRST "r=rOprNGfwEbeRWgbNEkqO" RFC_SNONCE ",s=" RFC_SALT ",i=4096"
#define RFC_FINAL "c=biws,r=rOprNGfwEbeRWgbNEkqO" RFC_SNONCE \
                  ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* Made by PostgreSQL 15 for the password "secret" (SET password_encryption
 * = 'scram-sha-256'; ALTER ROLE ... PASSWORD 'secret'; pg_authid.rolpassword). */
#define PG_SALT "2ac+o72N95BQ9gDzf8DtbQ=="
#define PG_VERIFIER "SCRAM-SHA-256$4096:" PG_SALT "$" \
                    "FcuXiOyoBZuYirdujBxKuxYYlOnjBZpQAc0NnjVkLwM=:" \
                    "fkrobD7gJzsxAoIPi5vnS4Nh2JpMZVjeSzkLE4fQYs4="

/* Writes content to NAME in the test's directory and loads it; REQUIREs
 * success. */
static scram_users *load_text(const char *name, const char *content)
{
    const char *path = t_path(name);
    t_write_file(path, content, strlen(content));
    scram_users *u = NULL;
    char err[256] = "";
    int rc = scram_users_load(path, &u, err, sizeof err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "loading %s: %s", name, err);
    REQUIRE(rc == 0 && u != NULL);
    return u;
}

/* A users file with one user of the given password, salt and iterations. */
static scram_users *one_user(const char *user, const char *password, const char *salt64,
                             int iterations)
{
    unsigned char salt[64];
    long saltlen = scram_base64_decode(salt64, strlen(salt64), salt, sizeof salt);
    REQUIRE(saltlen > 0);
    char verifier[SCRAM_VERIFIER_MAX], line[SCRAM_VERIFIER_MAX + 100];
    REQUIRE(scram_verifier_make_salt(password, salt, (size_t)saltlen, iterations, verifier,
                                     sizeof verifier) == 0);
    snprintf(line, sizeof line, "%s %s\n", user, verifier);
    return load_text("users", line);
}

/* The client's side, computed here from the RFC: from the client-first-
 * message-bare, the server-first-message and the password, writes the
 * client-final-message (channel binding c64) into final and the
 * server-final-message the client expects into expect. Returns 0, or -1 if
 * server_first does not parse. */
static int client_final(const char *password, const char *first_bare, const char *server_first,
                        const char *c64, char *final, size_t cap, char *expect, size_t expcap)
{
    char nonce[600], salt64[200];
    int iterations = 0;
    if (sscanf(server_first, "r=%599[^,],s=%199[^,],i=%d", nonce, salt64, &iterations) != 3)
        return -1;
    unsigned char salt[SCRAM_SALT_MAX];
    long saltlen = scram_base64_decode(salt64, strlen(salt64), salt, sizeof salt);
    if (saltlen < 1 || iterations < 1)
        return -1;

    unsigned char salted[32], ck[32], sk[32], stored[32], csig[32], ssig[32], proof[32];
    unsigned int l = 0;
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)saltlen, iterations,
                          EVP_sha256(), 32, salted) != 1)
        return -1;
    HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, ck, &l);
    HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Server Key", 10, sk, &l);
    SHA256(ck, 32, stored);

    char without[800], auth[3000];
    int n1 = snprintf(without, sizeof without, "c=%s,r=%s", c64, nonce);
    int n2 = snprintf(auth, sizeof auth, "%s,%s,%s", first_bare, server_first, without);
    if (n1 < 0 || (size_t)n1 >= sizeof without || n2 < 0 || (size_t)n2 >= sizeof auth)
        return -1;
    HMAC(EVP_sha256(), stored, 32, (const unsigned char *)auth, strlen(auth), csig, &l);
    HMAC(EVP_sha256(), sk, 32, (const unsigned char *)auth, strlen(auth), ssig, &l);
    for (int i = 0; i < 32; i++)
        proof[i] = ck[i] ^ csig[i];

    char p64[64], s64[64];
    if (scram_base64_encode(proof, 32, p64, sizeof p64) != 44 ||
        scram_base64_encode(ssig, 32, s64, sizeof s64) != 44)
        return -1;
    n1 = snprintf(final, cap, "%s,p=%s", without, p64);
    n2 = snprintf(expect, expcap, "v=%s", s64);
    return n1 < 0 || (size_t)n1 >= cap || n2 < 0 || (size_t)n2 >= expcap ? -1 : 0;
}

/* Runs a whole exchange for user with password against u; returns
 * scram_server_final's result (or -2 if a step before it failed) and checks
 * the server-final-message when it is 0. */
static int exchange(const scram_users *u, const char *user, const char *password)
{
    const char *first = "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL";
    char out[SCRAM_MSG_MAX], err[256] = "", final[800], expect[100];
    size_t outlen = 0;
    int rc = -2;
    scram_server *s = scram_server_new(u, user);
    REQUIRE(s != NULL);
    if (scram_server_first(s, first, strlen(first), out, sizeof out, &outlen, err,
                           sizeof err) != 0) {
        harness_fail(__FILE__, __LINE__, "server-first failed: %s", err);
        goto done;
    }
    CHECK_INT(outlen, ==, strlen(out));
    if (client_final(password, first + 3, out, "biws", final, sizeof final, expect,
                     sizeof expect) != 0) {
        harness_fail(__FILE__, __LINE__, "cannot parse server-first \"%s\"", out);
        goto done;
    }
    rc = scram_server_final(s, final, strlen(final), out, sizeof out, &outlen, err, sizeof err);
    if (rc == 0)
        CHECK_STR(out, expect);
    if (rc == 1)
        CHECK_STR(out, "e=invalid-proof");
    if (rc == -1)
        harness_fail(__FILE__, __LINE__, "server-final: %s", err);
done:
    scram_server_free(s);
    return rc;
}

/* Starts the RFC 7677 exchange on a fresh server: after it, s is ready for
 * a client-final-message. */
static scram_server *rfc_started(const scram_users *u)
{
    char out[SCRAM_MSG_MAX], err[256] = "";
    size_t outlen = 0;
    scram_server *s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    REQUIRE(scram_server_set_nonce(s, RFC_SNONCE) == 0);
    int rc = scram_server_first(s, RFC_FIRST, strlen(RFC_FIRST), out, sizeof out, &outlen, err,
                                sizeof err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "server-first: %s", err);
    REQUIRE(rc == 0);
    return s;
}

/* RFC 7677's exchange, byte for byte. */
static void test_rfc7677_vector(void)
{
    scram_users *u = one_user("user", "pencil", RFC_SALT, 4096);
    CHECK_INT(scram_users_count(u), ==, 1);
    char out[SCRAM_MSG_MAX], err[256] = "";
    size_t outlen = 0;
    scram_server *s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    CHECK_INT(scram_server_set_nonce(s, RFC_SNONCE), ==, 0);
    CHECK_INT(scram_server_first(s, RFC_FIRST, strlen(RFC_FIRST), out, sizeof out, &outlen, err,
                                 sizeof err), ==, 0);
    CHECK_STR(out, RFC_SFIRST);
    CHECK_INT(outlen, ==, strlen(RFC_SFIRST));
    /* too late to force the nonce now */
    CHECK_INT(scram_server_set_nonce(s, "x"), ==, -1);
    int rc = scram_server_final(s, RFC_FINAL, strlen(RFC_FINAL), out, sizeof out, &outlen, err,
                                sizeof err);
    CHECK_INT(rc, ==, 0);
    CHECK_STR(out, RFC_SFINAL);
    CHECK_INT(outlen, ==, strlen(RFC_SFINAL));
    scram_server_free(s);

    /* the client computed here agrees with the RFC's */
    char final[800], expect[100];
    REQUIRE(client_final("pencil", &RFC_FIRST[3], RFC_SFIRST, "biws", final, sizeof final, expect,
                         sizeof expect) == 0);
    CHECK_STR(final, RFC_FINAL);
    CHECK_STR(expect, RFC_SFINAL);
    scram_users_free(u);
}

/* A wrong proof, or the right password for another exchange, is 1. */
static void test_wrong_proof(void)
{
    scram_users *u = one_user("user", "pencil", RFC_SALT, 4096);
    char out[SCRAM_MSG_MAX], err[256] = "", msg[400];
    size_t outlen = 99;

    /* one bit of the proof changed ('d' -> 'e' in its first character) */
    snprintf(msg, sizeof msg, "%s", RFC_FINAL);
    char *p = strstr(msg, ",p=") + 3;
    *p = 'e';
    scram_server *s = rfc_started(u);
    CHECK_INT(scram_server_final(s, msg, strlen(msg), out, sizeof out, &outlen, err, sizeof err),
              ==, 1);
    CHECK_STR(out, "e=invalid-proof");
    CHECK_INT(outlen, ==, strlen("e=invalid-proof"));
    /* the exchange is over */
    CHECK_INT(scram_server_final(s, RFC_FINAL, strlen(RFC_FINAL), out, sizeof out, &outlen, err,
                                 sizeof err), ==, -1);
    scram_server_free(s);

    /* a proof of all zero bytes */
    snprintf(msg, sizeof msg, "%s", "c=biws,r=rOprNGfwEbeRWgbNEkqO" RFC_SNONCE
                                    ",p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    s = rfc_started(u);
    CHECK_INT(scram_server_final(s, msg, strlen(msg), out, sizeof out, &outlen, err, sizeof err),
              ==, 1);
    scram_server_free(s);

    CHECK_INT(exchange(u, "user", "pencil"), ==, 0);
    CHECK_INT(exchange(u, "user", "Pencil"), ==, 1);
    CHECK_INT(exchange(u, "user", ""), ==, 1);
    /* the user name is the startup packet's, not n= */
    CHECK_INT(exchange(u, "User", "pencil"), ==, 1);
    scram_users_free(u);
}

/* An unknown user gets a server-first-message like a known one's, the same
 * salt each time, and fails at the proof. */
static void test_unknown_user(void)
{
    scram_users *u = one_user("user", "pencil", RFC_SALT, 4096);
    const char *first = "n,,n=,r=abcdef";
    char out[SCRAM_MSG_MAX], out2[SCRAM_MSG_MAX], out3[SCRAM_MSG_MAX], err[256] = "";
    size_t outlen = 0;
    char nonce[200], salt[200], salt2[200], salt3[200];
    int iter = 0;

    scram_server *s = scram_server_new(u, "nobody");
    REQUIRE(s != NULL);
    REQUIRE(scram_server_first(s, first, strlen(first), out, sizeof out, &outlen, err,
                               sizeof err) == 0);
    REQUIRE(sscanf(out, "r=%199[^,],s=%199[^,],i=%d", nonce, salt, &iter) == 3);
    CHECK_INT(strncmp(nonce, "abcdef", 6), ==, 0);
    CHECK_INT(strlen(nonce), ==, 6 + 24);
    CHECK_INT(strlen(salt), ==, 24);        /* 16 bytes, as PostgreSQL's */
    CHECK_INT(iter, ==, 4096);
    scram_server_free(s);

    s = scram_server_new(u, "nobody");
    REQUIRE(s != NULL);
    REQUIRE(scram_server_first(s, first, strlen(first), out2, sizeof out2, &outlen, err,
                               sizeof err) == 0);
    REQUIRE(sscanf(out2, "r=%199[^,],s=%199[^,],i=%d", nonce, salt2, &iter) == 3);
    CHECK_STR(salt2, salt);
    CHECK_INT(strcmp(out, out2), !=, 0);    /* a new server nonce each time */
    scram_server_free(s);

    s = scram_server_new(u, "somebody");
    REQUIRE(s != NULL);
    REQUIRE(scram_server_first(s, first, strlen(first), out3, sizeof out3, &outlen, err,
                               sizeof err) == 0);
    REQUIRE(sscanf(out3, "r=%199[^,],s=%199[^,],i=%d", nonce, salt3, &iter) == 3);
    CHECK_INT(strcmp(salt3, salt), !=, 0);
    scram_server_free(s);

    CHECK_INT(exchange(u, "nobody", "pencil"), ==, 1);
    CHECK_INT(exchange(u, "nobody", ""), ==, 1);
    CHECK_INT(exchange(u, NULL, "pencil"), ==, 1);
    CHECK_INT(exchange(NULL, "user", "pencil"), ==, 1);
    /* a name longer than any the file may hold */
    char longname[300];
    memset(longname, 'u', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_INT(exchange(u, longname, "pencil"), ==, 1);
    scram_users_free(u);
}

/* Client-first-messages refused, each with a reason. */
static void test_malformed_first(void)
{
    static const char *const bad[] = {
        "",
        "x,,n=,r=abc",                  /* no such channel-binding flag */
        "p=tls-server-end-point,,n=,r=abc", /* channel binding */
        "n",
        "n,",
        "n,a=user,n=,r=abc",            /* authorization identity */
        "n,,",
        "n,,r=abc",                     /* no n= */
        "n,,m=ext,n=,r=abc",            /* mandatory extension */
        "n,,n=,",
        "n,,n=,r=",                     /* empty nonce */
        "n,,n=,r",
        "n,,n=,x=abc",
        "n,,n=us=er,r=abc",             /* bad escape */
        "n,,n=us=2c,r=abc",             /* escapes are upper case */
        "n,,n=u\x01,r=abc",             /* control character */
        "n,,n=,r=ab c",                 /* space in the nonce */
        "n,,n=,r=ab\x7f",
        "n,,n=,r=abc,",                 /* trailing comma */
        "n,,n=,r=abc,,x=1",
        "n,,n=,r=abc,x=",               /* empty extension value */
        "n,,n=,r=abc,1=2",              /* attribute not a letter */
        "n,,n=,r=abc,xy=2",
        " n,,n=,r=abc",
        "n,,n=,,r=abc",
        "n,,n=,r=\xc3\xa9",             /* non-ASCII nonce */
        "n,, n=,r=abc",
    };
    char out[SCRAM_MSG_MAX], err[256];
    size_t outlen = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        scram_server *s = scram_server_new(NULL, "user");
        REQUIRE(s != NULL);
        err[0] = '\0';
        int rc = scram_server_first(s, bad[i], strlen(bad[i]), out, sizeof out, &outlen, err,
                                    sizeof err);
        if (rc != -1)
            harness_fail(__FILE__, __LINE__, "\"%s\" gave %d, not -1", bad[i], rc);
        CHECK(err[0] != '\0');
        CHECK_STR(out, "");
        CHECK_INT(outlen, ==, 0);
        /* and the exchange is over */
        CHECK_INT(scram_server_final(s, "c=biws,r=abc,p=x", 16, out, sizeof out, &outlen, err,
                                     sizeof err), ==, -1);
        scram_server_free(s);
    }

    /* a NUL byte inside the length given */
    scram_server *s = scram_server_new(NULL, "user");
    REQUIRE(s != NULL);
    CHECK_INT(scram_server_first(s, "n,,n=\0,r=abc", 12, out, sizeof out, &outlen, err,
                                 sizeof err), ==, -1);
    CHECK_CONTAINS(err, "NUL");
    scram_server_free(s);

    /* the reasons a client will see */
    s = scram_server_new(NULL, "user");
    REQUIRE(s != NULL);
    CHECK_INT(scram_server_first(s, bad[2], strlen(bad[2]), out, sizeof out, &outlen, err,
                                 sizeof err), ==, -1);
    CHECK_STR(err, "channel binding is not supported");
    scram_server_free(s);

    /* accepted: escapes, a non-ASCII name, extensions that are not mandatory */
    static const char *const good[] = {
        "n,,n=us=2Cer=3D,r=abc",
        "n,,n=\xc3\xa9t\xc3\xa9,r=abc",
        "n,,n=user,r=abc,x=1,y=2=3",
        "y,,n=,r=!\"#$%&'()*+-./:;<=>?@[\\]^_`{|}~",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        s = scram_server_new(NULL, "user");
        REQUIRE(s != NULL);
        int rc = scram_server_first(s, good[i], strlen(good[i]), out, sizeof out, &outlen, err,
                                    sizeof err);
        if (rc != 0)
            harness_fail(__FILE__, __LINE__, "\"%s\" refused: %s", good[i], err);
        scram_server_free(s);
    }
}

/* Client-final-messages refused after a good start. */
static void test_malformed_final(void)
{
    scram_users *u = one_user("user", "pencil", RFC_SALT, 4096);
#define N "rOprNGfwEbeRWgbNEkqO" RFC_SNONCE
#define P "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static const char *const bad[] = {
        "",
        "c=biws",
        "c=biws,r=" N,                          /* no proof */
        "c=biws,r=" N ",p=",
        "r=" N ",c=biws,p=" P,                  /* out of order */
        "c=biws,p=" P ",r=" N,
        "c=eSws,r=" N ",p=" P,                  /* "y,," against "n,," */
        "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r=" N ",p=" P, /* channel binding data */
        "c=biw,r=" N ",p=" P,                   /* not base64 */
        "c=,r=" N ",p=" P,
        "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" P,   /* the client's nonce only */
        "c=biws,r=" N "x,p=" P,                 /* nonce too long */
        "c=biws,r=" N ",p=" P ",x=1",           /* proof not last */
        "c=biws,r=" N ",p=" P ",",
        "c=biws,r=" N ",,p=" P,
        "c=biws,r=" N ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndQ==", /* 31 bytes */
        "c=biws,r=" N ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=AAAA", /* 35 */
        "c=biws,r=" N ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVR=", /* trailing bits */
        "c=biws,r=" N ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ", /* no padding */
        "c=biws,r=" N ",x=,p=" P,
        "c=biws,r=" N ",1=a,p=" P,
        "C=biws,r=" N ",p=" P,
        "c=biws ,r=" N ",p=" P,
        "c=biws,r=" N ",p= " P,
    };
    char out[SCRAM_MSG_MAX], err[256];
    size_t outlen = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        scram_server *s = rfc_started(u);
        err[0] = '\0';
        int rc = scram_server_final(s, bad[i], strlen(bad[i]), out, sizeof out, &outlen, err,
                                    sizeof err);
        if (rc != -1)
            harness_fail(__FILE__, __LINE__, "\"%s\" gave %d, not -1", bad[i], rc);
        CHECK(err[0] != '\0');
        CHECK_STR(out, "");
        scram_server_free(s);
    }

    /* an extension before the proof is skipped, but it is part of the
     * AuthMessage, so the RFC's proof no longer fits */
    scram_server *s = rfc_started(u);
    const char *ext = "c=biws,r=" N ",x=1,p=" P;
    CHECK_INT(scram_server_final(s, ext, strlen(ext), out, sizeof out, &outlen, err, sizeof err),
              ==, 1);
    scram_server_free(s);
#undef N
#undef P

    /* a NUL byte */
    char withnul[sizeof RFC_FINAL];
    memcpy(withnul, RFC_FINAL, sizeof withnul);
    withnul[5] = '\0';
    s = rfc_started(u);
    CHECK_INT(scram_server_final(s, withnul, sizeof withnul - 1, out, sizeof out, &outlen, err,
                                 sizeof err), ==, -1);
    scram_server_free(s);
    scram_users_free(u);
}

/* Calls out of order, and messages or buffers of the wrong size. */
static void test_order_and_bounds(void)
{
    scram_users *u = one_user("user", "pencil", RFC_SALT, 4096);
    char out[SCRAM_MSG_MAX], err[256];
    size_t outlen = 0;

    /* final before first */
    scram_server *s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    CHECK_INT(scram_server_final(s, RFC_FINAL, strlen(RFC_FINAL), out, sizeof out, &outlen, err,
                                 sizeof err), ==, -1);
    CHECK_CONTAINS(err, "out of order");
    scram_server_free(s);

    /* first twice */
    s = rfc_started(u);
    CHECK_INT(scram_server_first(s, RFC_FIRST, strlen(RFC_FIRST), out, sizeof out, &outlen, err,
                                 sizeof err), ==, -1);
    CHECK_CONTAINS(err, "out of order");
    scram_server_free(s);

    /* a message one byte too long, and one just long enough */
    char big[SCRAM_MSG_MAX + 2];
    memcpy(big, "n,,n=,r=", 8);
    memset(big + 8, 'a', sizeof big - 8);
    s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    CHECK_INT(scram_server_first(s, big, SCRAM_MSG_MAX + 1, out, sizeof out, &outlen, err,
                                 sizeof err), ==, -1);
    CHECK_CONTAINS(err, "longer than");
    scram_server_free(s);
    memcpy(big, "n,,n=", 5);
    memset(big + 5, 'a', sizeof big - 5);
    const char *tail = ",r=abc";
    memcpy(big + SCRAM_MSG_MAX - strlen(tail), tail, strlen(tail));
    s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    CHECK_INT(scram_server_first(s, big, SCRAM_MSG_MAX, out, sizeof out, &outlen, err,
                                 sizeof err), ==, 0);
    scram_server_free(s);

    /* nonces of SCRAM_NONCE_MAX and one more */
    char first[SCRAM_NONCE_MAX + 20];
    snprintf(first, sizeof first, "n,,n=,r=");
    memset(first + 8, 'z', SCRAM_NONCE_MAX);
    first[8 + SCRAM_NONCE_MAX] = '\0';
    s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    CHECK_INT(scram_server_first(s, first, strlen(first), out, sizeof out, &outlen, err,
                                 sizeof err), ==, 0);
    scram_server_free(s);
    first[8 + SCRAM_NONCE_MAX] = 'z';
    first[9 + SCRAM_NONCE_MAX] = '\0';
    s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    CHECK_INT(scram_server_first(s, first, strlen(first), out, sizeof out, &outlen, err,
                                 sizeof err), ==, -1);
    scram_server_free(s);

    /* output buffers: exactly enough, one byte short */
    s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    REQUIRE(scram_server_set_nonce(s, RFC_SNONCE) == 0);
    CHECK_INT(scram_server_first(s, RFC_FIRST, strlen(RFC_FIRST), out, strlen(RFC_SFIRST), &outlen,
                                 err, sizeof err), ==, -1);
    CHECK_CONTAINS(err, "too small");
    scram_server_free(s);
    s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    REQUIRE(scram_server_set_nonce(s, RFC_SNONCE) == 0);
    CHECK_INT(scram_server_first(s, RFC_FIRST, strlen(RFC_FIRST), out, strlen(RFC_SFIRST) + 1,
                                 &outlen, err, sizeof err), ==, 0);
    CHECK_INT(scram_server_final(s, RFC_FINAL, strlen(RFC_FINAL), out, 47, &outlen, err,
                                 sizeof err), ==, -1);
    scram_server_free(s);
    s = rfc_started(u);
    CHECK_INT(scram_server_final(s, RFC_FINAL, strlen(RFC_FINAL), out, 48, &outlen, err,
                                 sizeof err), ==, 0);
    CHECK_STR(out, RFC_SFINAL);
    scram_server_free(s);

    /* bad forced nonces */
    s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    CHECK_INT(scram_server_set_nonce(s, ""), ==, -1);
    CHECK_INT(scram_server_set_nonce(s, "a,b"), ==, -1);
    CHECK_INT(scram_server_set_nonce(s, "a b"), ==, -1);
    CHECK_INT(scram_server_set_nonce(NULL, "ab"), ==, -1);
    scram_server_free(s);

    /* NULLs and a NULL err */
    CHECK_INT(scram_server_first(NULL, RFC_FIRST, strlen(RFC_FIRST), out, sizeof out, &outlen,
                                 NULL, 0), ==, -1);
    s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    CHECK_INT(scram_server_first(s, NULL, 0, out, sizeof out, &outlen, NULL, 0), ==, -1);
    scram_server_free(s);
    scram_server_free(NULL);
    scram_users_free(NULL);
    CHECK_INT(scram_users_count(NULL), ==, 0);
    scram_users_free(u);
}

/* "y,," is accepted and must come back as c=eSws. */
static void test_gs2_y(void)
{
    scram_users *u = one_user("user", "pencil", RFC_SALT, 4096);
    const char *first = "y,,n=,r=abcdef";
    char out[SCRAM_MSG_MAX], err[256] = "", final[800], expect[100];
    size_t outlen = 0;

    scram_server *s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    REQUIRE(scram_server_first(s, first, strlen(first), out, sizeof out, &outlen, err,
                               sizeof err) == 0);
    REQUIRE(client_final("pencil", first + 3, out, "eSws", final, sizeof final, expect,
                         sizeof expect) == 0);
    CHECK_INT(scram_server_final(s, final, strlen(final), out, sizeof out, &outlen, err,
                                 sizeof err), ==, 0);
    CHECK_STR(out, expect);
    scram_server_free(s);

    s = scram_server_new(u, "user");
    REQUIRE(s != NULL);
    REQUIRE(scram_server_first(s, first, strlen(first), out, sizeof out, &outlen, err,
                               sizeof err) == 0);
    REQUIRE(client_final("pencil", first + 3, out, "biws", final, sizeof final, expect,
                         sizeof expect) == 0);
    CHECK_INT(scram_server_final(s, final, strlen(final), out, sizeof out, &outlen, err,
                                 sizeof err), ==, -1);
    CHECK_CONTAINS(err, "gs2 header");
    scram_server_free(s);
    scram_users_free(u);
}

/* A verifier made with a random salt lets the client computed here in, and
 * only with its password. */
static void test_verifier_round_trip(void)
{
    char v1[SCRAM_VERIFIER_MAX], v2[SCRAM_VERIFIER_MAX], text[2 * SCRAM_VERIFIER_MAX + 100];
    REQUIRE(scram_verifier_make("correct horse battery staple", 4096, v1, sizeof v1) == 0);
    REQUIRE(scram_verifier_make("correct horse battery staple", 4096, v2, sizeof v2) == 0);
    CHECK_INT(strncmp(v1, "SCRAM-SHA-256$4096:", 19), ==, 0);
    CHECK_INT(strcmp(v1, v2), !=, 0);       /* random salts */
    /* prefix, 24 salt characters, '$', 44, ':', 44 */
    CHECK_INT(strlen(v1), ==, 19 + 24 + 1 + 44 + 1 + 44);

    snprintf(text, sizeof text, "alice %s\nbob %s\n", v1, v2);
    scram_users *u = load_text("users", text);
    CHECK_INT(scram_users_count(u), ==, 2);
    CHECK_INT(exchange(u, "alice", "correct horse battery staple"), ==, 0);
    CHECK_INT(exchange(u, "bob", "correct horse battery staple"), ==, 0);
    CHECK_INT(exchange(u, "alice", "correct horse battery stapl"), ==, 1);
    CHECK_INT(exchange(u, "carol", "correct horse battery staple"), ==, 1);
    scram_users_free(u);

    /* few iterations, a long salt, an empty password */
    unsigned char salt[SCRAM_SALT_MAX];
    t_fill(salt, sizeof salt, 7);
    REQUIRE(scram_verifier_make_salt("", salt, sizeof salt, 1, v1, sizeof v1) == 0);
    snprintf(text, sizeof text, "empty %s\n", v1);
    u = load_text("users2", text);
    CHECK_INT(exchange(u, "empty", ""), ==, 0);
    CHECK_INT(exchange(u, "empty", "x"), ==, 1);
    scram_users_free(u);

    /* bad arguments */
    CHECK_INT(scram_verifier_make("pw", 0, v1, sizeof v1), ==, -1);
    CHECK_INT(scram_verifier_make("pw", -5, v1, sizeof v1), ==, -1);
    CHECK_INT(scram_verifier_make(NULL, 4096, v1, sizeof v1), ==, -1);
    CHECK_INT(scram_verifier_make("pw", 4096, v1, 100), ==, -1);
    CHECK_STR(v1, "");
    CHECK_INT(scram_verifier_make("pw", 4096, NULL, 0), ==, -1);
    CHECK_INT(scram_verifier_make_salt("pw", salt, 0, 4096, v1, sizeof v1), ==, -1);
    CHECK_INT(scram_verifier_make_salt("pw", salt, SCRAM_SALT_MAX + 1, 4096, v1, sizeof v1), ==,
              -1);
}

/* A verifier PostgreSQL 15 made for "secret" works here. */
static void test_postgres_verifier(void)
{
    scram_users *u = load_text("users", "pg " PG_VERIFIER "\n");
    CHECK_INT(exchange(u, "pg", "secret"), ==, 0);
    CHECK_INT(exchange(u, "pg", "Secret"), ==, 1);
    scram_users_free(u);

    /* and the same salt gives PostgreSQL's verifier here */
    unsigned char salt[16];
    REQUIRE(scram_base64_decode(PG_SALT, 24, salt, sizeof salt) == 16);
    char v[SCRAM_VERIFIER_MAX];
    REQUIRE(scram_verifier_make_salt("secret", salt, sizeof salt, 4096, v, sizeof v) == 0);
    CHECK_STR(v, PG_VERIFIER);
}

/* Comments, blank lines, tabs, CRLF; lookups of each user. */
static void test_users_load_forms(void)
{
    char v[SCRAM_VERIFIER_MAX], text[4000];
    unsigned char salt[16];
    t_fill(salt, sizeof salt, 1);
    REQUIRE(scram_verifier_make_salt("pw", salt, sizeof salt, 64, v, sizeof v) == 0);
    snprintf(text, sizeof text,
             "# the users of serve\n"
             "\n"
             "   \t\n"
             "  # an indented comment\n"
             "zed %s\n"
             "anna\t\t%s  \r\n"
             "  mid %s\t\n"
             "\xc3\xa9t\xc3\xa9 %s",                 /* no newline at the end */
             v, v, v, v);
    scram_users *u = load_text("users", text);
    CHECK_INT(scram_users_count(u), ==, 4);
    CHECK_INT(exchange(u, "zed", "pw"), ==, 0);
    CHECK_INT(exchange(u, "anna", "pw"), ==, 0);
    CHECK_INT(exchange(u, "mid", "pw"), ==, 0);
    CHECK_INT(exchange(u, "\xc3\xa9t\xc3\xa9", "pw"), ==, 0);
    CHECK_INT(exchange(u, "an", "pw"), ==, 1);
    scram_users_free(u);

    u = load_text("empty", "");
    CHECK_INT(scram_users_count(u), ==, 0);
    CHECK_INT(exchange(u, "anyone", "pw"), ==, 1);
    scram_users_free(u);

    u = load_text("comments", "# nobody yet\n\n");
    CHECK_INT(scram_users_count(u), ==, 0);
    scram_users_free(u);

    /* a name of 63 bytes is the longest */
    char name[64];
    memset(name, 'n', 63);
    name[63] = '\0';
    snprintf(text, sizeof text, "%s %s\n", name, v);
    u = load_text("long", text);
    CHECK_INT(exchange(u, name, "pw"), ==, 0);
    scram_users_free(u);
}

/* Each bad file fails with its path and the line at fault. */
static void test_users_load_errors(void)
{
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"# ok\nalice\n", "users:2: expected NAME VERIFIER"},
        {"alice SCRAM-SHA-1$4096:" RFC_SALT "$x:y\n", "users:1: the verifier does not start"},
        {"alice md5abcdef\n", "users:1: the verifier does not start"},
        {"alice SCRAM-SHA-256$:" RFC_SALT "$a:b\n", "users:1: expected <iterations>:"},
        {"alice SCRAM-SHA-256$0:" RFC_SALT "$a:b\n", "users:1: the iteration count is 0"},
        {"alice SCRAM-SHA-256$-1:" RFC_SALT "$a:b\n", "users:1: expected <iterations>:"},
        {"alice SCRAM-SHA-256$99999999999:" RFC_SALT "$a:b\n", "users:1: the iteration count"},
        {"alice SCRAM-SHA-256$4096:" RFC_SALT "\n", "users:1: expected $ after the salt"},
        {"alice SCRAM-SHA-256$4096:$" PG_VERIFIER, "users:1: the salt"},
        {"alice SCRAM-SHA-256$4096:W22Z*J0SNY7soEsUEjb6gQ==$a:b\n", "users:1: the salt"},
        {"alice SCRAM-SHA-256$4096:" RFC_SALT "$abc\n", "users:1: expected : between"},
        {"alice SCRAM-SHA-256$4096:" RFC_SALT "$AAAA:AAAA\n", "users:1: StoredKey"},
        {"alice SCRAM-SHA-256$4096:" RFC_SALT "$FcuXiOyoBZuYirdujBxKuxYYlOnjBZpQAc0NnjVkLwM=:AAAA\n",
         "users:1: ServerKey"},
        {"alice " PG_VERIFIER " extra\n", "users:1: ServerKey"},
        {"alice " PG_VERIFIER "\nbob x\n", "users:2:"},
        {"alice " PG_VERIFIER "\nbob " PG_VERIFIER "\n\nalice " PG_VERIFIER "\n",
         "users:4: user 'alice' is already on line 1"},
        {"a\x01z " PG_VERIFIER "\n", "users:1: a control character in the user name"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa " PG_VERIFIER "\n",
         "users:1: the user name is longer than 63 bytes"},
    };
    char err[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = t_path("users");
        t_write_file(path, cases[i].text, strlen(cases[i].text));
        scram_users *u = (scram_users *)1;
        err[0] = '\0';
        CHECK_INT(scram_users_load(path, &u, err, sizeof err), ==, -1);
        CHECK(u == NULL);
        CHECK_CONTAINS(err, cases[i].msg);
        CHECK_CONTAINS(err, t_dir());
    }

    /* a NUL byte, on line 3 */
    const char nul[] = "# a\n# b\nal\0ce x\n";
    t_write_file(t_path("users"), nul, sizeof nul - 1);
    scram_users *u = NULL;
    CHECK_INT(scram_users_load(t_path("users"), &u, err, sizeof err), ==, -1);
    CHECK_CONTAINS(err, "users:3: a NUL byte");

    /* a line too long, on line 2 */
    char *big = malloc(SCRAM_LINE_MAX + 100);
    REQUIRE(big != NULL);
    memcpy(big, "#\n", 2);
    memset(big + 2, '#', SCRAM_LINE_MAX + 1);
    big[SCRAM_LINE_MAX + 3] = '\n';
    t_write_file(t_path("users"), big, SCRAM_LINE_MAX + 4);
    CHECK_INT(scram_users_load(t_path("users"), &u, err, sizeof err), ==, -1);
    CHECK_CONTAINS(err, "users:2: longer than");
    /* while a comment of SCRAM_LINE_MAX bytes is fine */
    t_write_file(t_path("users"), big, SCRAM_LINE_MAX + 2);
    CHECK_INT(scram_users_load(t_path("users"), &u, err, sizeof err), ==, 0);
    CHECK_INT(scram_users_count(u), ==, 0);
    scram_users_free(u);
    free(big);

    /* a file one byte larger than SCRAM_FILE_MAX, and one of that size */
    big = malloc((size_t)SCRAM_FILE_MAX + 1);
    REQUIRE(big != NULL);
    memset(big, '\n', (size_t)SCRAM_FILE_MAX + 1);
    t_write_file(t_path("users"), big, (size_t)SCRAM_FILE_MAX + 1);
    CHECK_INT(scram_users_load(t_path("users"), &u, err, sizeof err), ==, -1);
    CHECK_CONTAINS(err, "users: larger than");
    t_write_file(t_path("users"), big, SCRAM_FILE_MAX);
    CHECK_INT(scram_users_load(t_path("users"), &u, err, sizeof err), ==, 0);
    scram_users_free(u);
    free(big);

    /* no such file */
    u = (scram_users *)1;
    CHECK_INT(scram_users_load(t_path("missing"), &u, err, sizeof err), ==, -1);
    CHECK(u == NULL);
    CHECK_CONTAINS(err, "missing: No such file");
    /* a directory */
    CHECK_INT(scram_users_load(t_dir(), &u, err, sizeof err), ==, -1);
    CHECK_CONTAINS(err, t_dir());
    /* no err buffer */
    CHECK_INT(scram_users_load(t_path("missing"), &u, NULL, 0), ==, -1);
}

/* RFC 4648's vectors, every length up to 40 of every byte, and what strict
 * decoding refuses. */
static void test_base64(void)
{
    static const struct {
        const char *raw, *b64;
    } vec[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    char enc[64];
    unsigned char dec[64];
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        size_t n = strlen(vec[i].raw);
        CHECK_INT(scram_base64_encode((const unsigned char *)vec[i].raw, n, enc, sizeof enc), ==,
                  strlen(vec[i].b64));
        CHECK_STR(enc, vec[i].b64);
        long d = scram_base64_decode(vec[i].b64, strlen(vec[i].b64), dec, sizeof dec);
        CHECK_INT(d, ==, n);
        CHECK(d >= 0 && memcmp(dec, vec[i].raw, n) == 0);
    }

    /* every byte value, lengths 0..40, round trip; high bits included */
    unsigned char raw[40];
    char big[100];
    for (size_t len = 0; len <= sizeof raw; len++) {
        t_fill(raw, len, len);
        long e = scram_base64_encode(raw, len, big, sizeof big);
        CHECK_INT(e, ==, (len + 2) / 3 * 4);
        CHECK_INT(scram_base64_decode(big, (size_t)e, dec, sizeof dec), ==, len);
        CHECK(memcmp(dec, raw, len) == 0);
        /* exactly the room needed, and one byte less */
        CHECK_INT(scram_base64_decode(big, (size_t)e, dec, len), ==, len);
        if (len > 0)
            CHECK_INT(scram_base64_decode(big, (size_t)e, dec, len - 1), ==, -1);
    }
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char allenc[400];
    unsigned char alldec[256];
    CHECK_INT(scram_base64_encode(all, 256, allenc, sizeof allenc), ==, 344);
    CHECK_INT(scram_base64_decode(allenc, 344, alldec, sizeof alldec), ==, 256);
    CHECK(memcmp(all, alldec, 256) == 0);

    /* the encoder's room: 4 characters and a NUL */
    CHECK_INT(scram_base64_encode((const unsigned char *)"f", 1, enc, 5), ==, 4);
    CHECK_INT(scram_base64_encode((const unsigned char *)"f", 1, enc, 4), ==, -1);
    CHECK_INT(scram_base64_encode((const unsigned char *)"", 0, enc, 1), ==, 0);
    CHECK_INT(scram_base64_encode((const unsigned char *)"", 0, enc, 0), ==, -1);

    static const char *const bad[] = {
        "Zg",       /* no padding */
        "Zg=",      /* short padding */
        "Zg===",
        "Z===",     /* one character of a byte */
        "====",
        "Zh==",     /* unused bits set */
        "Zm9=",
        "Zg==Zg==", /* padding inside */
        "Z=g=",
        "Zm9v\n",
        "Zm 9v",
        "Zm9-",     /* URL-safe alphabet */
        "Zm9_",
        "Zm9\xc3",
        "Zm9vY",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long d = scram_base64_decode(bad[i], strlen(bad[i]), dec, sizeof dec);
        if (d != -1)
            harness_fail(__FILE__, __LINE__, "\"%s\" decoded to %ld bytes", bad[i], d);
    }
    CHECK_INT(scram_base64_decode("Zm9v\0AAA", 8, dec, sizeof dec), ==, -1);
    CHECK_INT(scram_base64_decode("", 0, NULL, 0), ==, 0);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_rfc7677_vector),      TEST_ENTRY(test_wrong_proof),
    TEST_ENTRY(test_unknown_user),        TEST_ENTRY(test_malformed_first),
    TEST_ENTRY(test_malformed_final),     TEST_ENTRY(test_order_and_bounds),
    TEST_ENTRY(test_gs2_y),               TEST_ENTRY(test_verifier_round_trip),
    TEST_ENTRY(test_postgres_verifier),   TEST_ENTRY(test_users_load_forms),
    TEST_ENTRY(test_users_load_errors),   TEST_ENTRY(test_base64),
};

HARNESS_MAIN("scram", TESTS)
