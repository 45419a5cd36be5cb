/*
 * scram — SCRAM-SHA-256 password authentication for `udr serve`, the
 * server side of RFC 5802 with RFC 7677's hash, as PostgreSQL speaks it.
 *
 * PostgreSQL's flavour:
 *   - no channel binding: the client's gs2 header is "n,," (it does not
 *     support binding) or "y,," (it does, but thinks we do not; we never
 *     advertise SCRAM-SHA-256-PLUS, so that is true). "p=..." and an
 *     authorization identity ("a=...") are refused;
 *   - the user name is the one of the startup packet, given to
 *     scram_server_new; the n= attribute of the client-first-message is
 *     checked for form and otherwise ignored (libpq sends "n=");
 *   - passwords are stored as PostgreSQL verifiers (see scram_users_load),
 *     so a verifier copied from pg_authid.rolpassword works here and one made
 *     by scram_verifier_make works in PostgreSQL.
 *
 * The exchange (messages are the SASL payloads, without PostgreSQL's
 * message framing):
 *
 *   client-first   n,,n=,r=<cnonce>
 *   server-first   r=<cnonce><snonce>,s=<salt base64>,i=<iterations>
 *   client-final   c=biws,r=<cnonce><snonce>,p=<ClientProof base64>
 *   server-final   v=<ServerSignature base64>
 *
 * An unknown user gets a made-up salt (an HMAC of the user name under a key
 * drawn from the password file's bytes, so the same name always gets the
 * same salt and no one without the file can tell it is made up) and the
 * file's iteration count; the exchange runs to the end, doing the same
 * work, and fails at the proof like a wrong password.
 *
 * No global state: a scram_users and a scram_server are independent values;
 * distinct ones may be used from distinct threads, a scram_users may be read
 * (scram_server_new) from many threads at once. Randomness is OpenSSL's
 * RAND_bytes. Every input is bounded (SCRAM_MSG_MAX and the limits below)
 * and checked; nothing here asserts on what a client or a file says.
 *
 * Not done: SASLprep. PostgreSQL normalises a password with SASLprep
 * (RFC 4013) when it is valid UTF-8; for ASCII passwords that is no change,
 * but a non-ASCII password that NFKC or the mapping tables alter gives a
 * different verifier from scram_verifier_make than from PostgreSQL, and
 * libpq would not log in with it.
 */
#ifndef UDR_SERVER_SCRAM_H
#define UDR_SERVER_SCRAM_H

#include <stddef.h>

/* The longest SASL message taken from a client, in bytes; also enough room
 * for any message written (pass outcap >= SCRAM_MSG_MAX). */
#define SCRAM_MSG_MAX 1024
/* The longest client nonce accepted, in characters. */
#define SCRAM_NONCE_MAX 256
/* The longest user name in the password file, in bytes (PostgreSQL's
 * NAMEDATALEN - 1). */
#define SCRAM_USER_MAX 63
/* Salt lengths a verifier may have, in bytes (PostgreSQL makes 16). */
#define SCRAM_SALT_MIN 1
#define SCRAM_SALT_MAX 128
/* The longest line of the password file, in bytes, newline excluded. */
#define SCRAM_LINE_MAX 1024
/* The largest password file read, in bytes. */
#define SCRAM_FILE_MAX (16u << 20)
/* Room for any verifier scram_verifier_make writes, NUL included. */
#define SCRAM_VERIFIER_MAX 400

/* --- the password file -------------------------------------------------------
 *
 * One user a line, "NAME VERIFIER", where VERIFIER is PostgreSQL's form
 *   SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>
 * NAME is 1..SCRAM_USER_MAX bytes without spaces, tabs or control
 * characters; it and VERIFIER are separated by spaces or tabs; trailing
 * spaces, tabs and a '\r' are ignored. Lines that are empty, only blanks,
 * or whose first non-blank character is '#' are skipped. Iterations are
 * 1..INT_MAX in decimal, the salt SCRAM_SALT_MIN..SCRAM_SALT_MAX bytes, each
 * key 32 bytes; base64 is RFC 4648's with padding (see scram_base64_decode).
 * The file's permissions are not looked at. */
typedef struct scram_users scram_users;

/* Loads path. Returns 0 with *out set (free it with scram_users_free), or
 * -1 with *out NULL and a message in err ("PATH:LINE: what is wrong", or
 * "PATH: why it cannot be read"): a malformed line, a user named twice (both
 * lines named), a line longer than SCRAM_LINE_MAX, a NUL byte, a file larger
 * than SCRAM_FILE_MAX, or no memory. err may be NULL (errlen then 0). */
int scram_users_load(const char *path, scram_users **out, char *err, size_t errlen);

/* The number of users loaded. u may be NULL (0). */
size_t scram_users_count(const scram_users *u);

/* Frees u (NULL is fine) and wipes its keys. */
void scram_users_free(scram_users *u);

/* Makes a verifier for password (a NUL-terminated string, used as its bytes;
 * see "Not done" above) with a random 16-byte salt and the given iterations
 * (1..INT_MAX; PostgreSQL's default is 4096), into out (NUL-terminated;
 * outlen >= SCRAM_VERIFIER_MAX is always enough). Returns 0, or -1 for a bad
 * argument, a short buffer or a failure of OpenSSL. */
int scram_verifier_make(const char *password, int iterations, char *out, size_t outlen);

/* As scram_verifier_make with the given salt (SCRAM_SALT_MIN..SCRAM_SALT_MAX
 * bytes) instead of a random one: for tests and known vectors. */
int scram_verifier_make_salt(const char *password, const unsigned char *salt, size_t saltlen,
                             int iterations, char *out, size_t outlen);

/* --- one exchange ------------------------------------------------------------ */

typedef struct scram_server scram_server;

/* Starts the exchange for user (the startup packet's name; NULL counts as
 * an unknown user) against u (NULL: no users, so everyone is unknown). What
 * the exchange needs of u is copied: u may be freed before the exchange ends.
 * Returns NULL only when out of memory. */
scram_server *scram_server_new(const scram_users *u, const char *user);

/* For tests: makes the server part of the nonce suffix (1..64 printable
 * ASCII characters other than ','; the default is 24 random base64
 * characters) instead of a random one. Call before scram_server_first.
 * Returns 0, or -1 for a bad suffix or a call too late. */
int scram_server_set_nonce(scram_server *s, const char *suffix);

/* Takes the client-first-message (the SASLInitialResponse data: len bytes,
 * no NUL needed), writes the server-first-message into out (NUL-terminated,
 * *outlen its length without the NUL). Returns 0, or -1 if the message is
 * malformed or refused (err holds why, e.g. "channel binding is not
 * supported"), outcap is too small or the call is out of order. After -1 the
 * exchange is over: every later call returns -1. */
int scram_server_first(scram_server *s, const char *msg, size_t len, char *out, size_t outcap,
                       size_t *outlen, char *err, size_t errlen);

/* Takes the client-final-message, checks the proof (in constant time), and
 * returns 0 = authenticated, with the server-final-message "v=..." in out
 * for the client to check; 1 = wrong password or unknown user, with
 * "e=invalid-proof" in out (PostgreSQL sends an ErrorResponse instead, and
 * so may the caller); -1 = malformed, out of order (before
 * scram_server_first or a second time), or outcap too small, err saying why
 * and out empty. out and *outlen as for scram_server_first; outcap must be
 * at least 48 (whatever the outcome). */
int scram_server_final(scram_server *s, const char *msg, size_t len, char *out, size_t outcap,
                       size_t *outlen, char *err, size_t errlen);

/* Frees s (NULL is fine), wiping its keys. */
void scram_server_free(scram_server *s);

/* --- base64 ------------------------------------------------------------------
 *
 * RFC 4648's alphabet with '=' padding, as SCRAM and PostgreSQL's verifiers
 * use it. */

/* Writes the base64 of in[0..len) and a NUL into out. Returns the length
 * written (without the NUL; 4 * ceil(len / 3)), or -1 if outcap is too
 * small. */
long scram_base64_encode(const unsigned char *in, size_t len, char *out, size_t outcap);

/* Decodes in[0..len), strictly: the length a multiple of 4, only the
 * alphabet, '=' only as the last one or two characters, and unused bits of
 * the last character zero (so each byte string has one encoding); no
 * whitespace. Returns the number of bytes written to out, or -1 if in is not
 * such base64 or the bytes do not fit in outcap. */
long scram_base64_decode(const char *in, size_t len, unsigned char *out, size_t outcap);

#endif
