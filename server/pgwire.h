/*
 * pgwire — the PostgreSQL frontend/backend protocol (version 3.0), as bytes.
 *
 * Pure functions over buffers: no sockets, no libudr, no global state, so
 * that the fuzzer (fuzz/fuzz_pgwire.c) can feed them anything. The session
 * (session.c) reads a message's type and length from the socket, checks the
 * length against its limit, reads the body, and hands the body to one of the
 * pgw_parse_* functions below; every one of them checks every length against
 * the body and fails rather than read past it.
 *
 * Messages (all integers big-endian):
 *   startup   int32 len, int32 code, then pairs of C strings ending in "\0"
 *             (code 196608 = protocol 3.0; 80877103 SSLRequest, 80877104
 *             GSSENCRequest, 80877102 CancelRequest + int32 pid + int32 key)
 *   others    byte type, int32 len (counting itself, not the type), body
 *
 * Replies are built in a pgw_out: pgw_begin(type), the fields, pgw_end()
 * patches the length in.
 */
#ifndef UDR_SERVER_PGWIRE_H
#define UDR_SERVER_PGWIRE_H

#include <stddef.h>
#include <stdint.h>

#define PGW_PROTO_3       196608u
#define PGW_SSL_REQUEST   80877103u
#define PGW_GSS_REQUEST   80877104u
#define PGW_CANCEL        80877102u

/* Bounds on what a client may send (TigerBeetle style: everything bounded). */
#define PGW_MAX_STARTUP_BYTES 10000u       /* as PostgreSQL's MAX_STARTUP_PACKET_LENGTH */
#define PGW_MAX_PARAMS        65535u       /* a Bind's parameters: an int16 count */
#define PGW_MAX_STARTUP_PAIRS 64u

/* A reader over one message body. A read past the end sets bad and returns
 * zeros / NULL, so a parser reads on and checks bad once at its end. */
typedef struct pgw_rd {
    const uint8_t *p, *end;
    int bad;
} pgw_rd;

void pgw_rd_init(pgw_rd *r, const void *body, size_t len);
uint8_t pgw_rd_u8(pgw_rd *r);
int16_t pgw_rd_i16(pgw_rd *r);
int32_t pgw_rd_i32(pgw_rd *r);
/* A NUL-terminated string inside the body (pointer into it); NULL and bad
 * if there is no NUL before the end. */
const char *pgw_rd_str(pgw_rd *r);
/* n bytes in place; NULL and bad if fewer remain. */
const uint8_t *pgw_rd_bytes(pgw_rd *r, size_t n);
size_t pgw_rd_left(const pgw_rd *r);

/* ---- framing ------------------------------------------------------------------ */

/* One message found at the start of a byte stream. */
typedef struct pgw_frame {
    char type;              /* 0 for a startup packet */
    const uint8_t *body;    /* after the length word */
    size_t len;             /* the body's bytes */
    size_t total;           /* bytes the message takes in the stream */
} pgw_frame;

/* Looks for a whole message at the start of buf (len bytes): a startup
 * packet if startup is non-zero, else a typed message. Returns 1 and fills
 * out if one is complete, 0 if more bytes are needed (*need, if non-NULL,
 * says how many in all, once the length word is in), or -1 if its length
 * word is impossible (below its own size, or over max_bytes): the peer is
 * then cut off without reading the rest. */
int pgw_next_frame(const uint8_t *buf, size_t len, int startup, size_t max_bytes,
                   pgw_frame *out, size_t *need);

/* ---- parsed messages (pointers into the body; valid while it lives) ----- */

typedef struct pgw_startup {
    uint32_t code;                  /* PGW_PROTO_3, PGW_SSL_REQUEST, ... */
    uint32_t cancel_pid, cancel_key;    /* CancelRequest only */
    const char *user, *database, *options, *application_name;
    size_t npairs;
    const char *keys[PGW_MAX_STARTUP_PAIRS], *values[PGW_MAX_STARTUP_PAIRS];
} pgw_startup;

/* body/len: the startup packet after its length word. 0, or -1 with why. */
int pgw_parse_startup(const void *body, size_t len, pgw_startup *out, const char **why);

/* 'p' as the first reply to AuthenticationSASL: mechanism, then data. */
typedef struct pgw_sasl_initial {
    const char *mechanism;
    const uint8_t *data;    /* NULL when the length was -1 */
    size_t len;
} pgw_sasl_initial;
int pgw_parse_sasl_initial(const void *body, size_t len, pgw_sasl_initial *out,
                           const char **why);

/* 'P' Parse: statement name, query, parameter type OIDs. */
typedef struct pgw_parse {
    const char *name, *query;
    uint16_t ntypes;
    const uint8_t *types;   /* ntypes big-endian uint32s; read with pgw_u32_at */
} pgw_parse;
int pgw_parse_parse(const void *body, size_t len, pgw_parse *out, const char **why);

/* 'B' Bind: portal, statement, parameter formats and values, result formats. */
typedef struct pgw_bind {
    const char *portal, *statement;
    uint16_t nformats, nparams, nresult_formats;
    const uint8_t *formats;         /* nformats int16s */
    const uint8_t *result_formats;  /* nresult_formats int16s */
    /* Values: pgw_bind_value() walks them. */
    const uint8_t *values;
    size_t values_len;
} pgw_bind;
int pgw_parse_bind(const void *body, size_t len, pgw_bind *out, const char **why);
/* Parameter i's value (0-based; i < nparams): *data NULL for a NULL. The
 * format: 0 text, 1 binary. Returns 0, or -1 if i is out of range (the body
 * was checked whole by pgw_parse_bind, so this does not fail after it). */
int pgw_bind_value(const pgw_bind *b, uint16_t i, const uint8_t **data, int32_t *len,
                   int *format);
/* Every parameter at once, in one walk (pgw_bind_value walks from the
 * first each time): data, len and format must hold nparams entries.
 * 0, or -1 if the values are malformed (not after pgw_parse_bind). */
int pgw_bind_values(const pgw_bind *b, const uint8_t **data, int32_t *len, uint8_t *format);
/* The format of result column i: 0 text, 1 binary. */
int pgw_bind_result_format(const pgw_bind *b, uint16_t i);

/* 'D' Describe and 'C' Close: kind 'S' (statement) or 'P' (portal), name. */
typedef struct pgw_target {
    char kind;
    const char *name;
} pgw_target;
int pgw_parse_target(const void *body, size_t len, pgw_target *out, const char **why);

/* 'E' Execute: portal, row limit (0: all). */
typedef struct pgw_execute {
    const char *portal;
    uint32_t max_rows;
} pgw_execute;
int pgw_parse_execute(const void *body, size_t len, pgw_execute *out, const char **why);

/* 'Q' Query and 'f' CopyFail: one C string filling the body. */
int pgw_parse_cstring(const void *body, size_t len, const char **out, const char **why);

uint32_t pgw_u32_at(const uint8_t *p);
uint16_t pgw_u16_at(const uint8_t *p);

/* ---- replies --------------------------------------------------------------- */

typedef struct pgw_out {
    uint8_t *data;
    size_t len, cap;
    size_t msg_start;   /* where the open message began */
    int oom;            /* an allocation failed: the buffer is unusable */
} pgw_out;

void pgw_out_init(pgw_out *o);
void pgw_out_free(pgw_out *o);
void pgw_out_reset(pgw_out *o);
void pgw_begin(pgw_out *o, char type);
void pgw_u8(pgw_out *o, uint8_t v);
void pgw_i16(pgw_out *o, int16_t v);
void pgw_i32(pgw_out *o, int32_t v);
void pgw_str(pgw_out *o, const char *s);        /* with its NUL */
void pgw_bytes(pgw_out *o, const void *p, size_t n);
void pgw_end(pgw_out *o);

/* Whole replies. */
void pgw_auth(pgw_out *o, int32_t code);        /* 'R' with no data: 0 ok, 3 cleartext */
void pgw_param_status(pgw_out *o, const char *name, const char *value);
void pgw_ready(pgw_out *o, char status);        /* 'I', 'T' or 'E' */
void pgw_complete(pgw_out *o, const char *tag);
/* An ErrorResponse ('E') or NoticeResponse ('N'): severity, SQLSTATE, message,
 * and optional detail and hint (NULL for none). */
void pgw_error(pgw_out *o, char type, const char *severity, const char *sqlstate,
               const char *message, const char *detail, const char *hint);

#endif
