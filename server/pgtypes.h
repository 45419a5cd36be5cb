/*
 * pgtypes — DuckDB's types as PostgreSQL's, for `udr serve`.
 *
 * A PostgreSQL client learns a result column's type from its oid in the
 * RowDescription and reads every value in PostgreSQL's text format. UDR's
 * results carry DuckDB's type text ("BIGINT", "DECIMAL(18,3)", "INTEGER[]")
 * and DuckDB's text of each value; this module says which PostgreSQL type a
 * column is sent as, how format_type() spells it (psql's \d), which DuckDB
 * type a bound parameter of a PostgreSQL type is cast to, and rewrites the
 * values whose DuckDB text PostgreSQL would not print or parse the same way:
 *
 *   BOOLEAN     true/false            -> t/f
 *   BLOB        raw bytes             -> \x hex (bytea_output = hex)
 *   FLOAT/DOUBLE  inf, nan, 2.0, 1000000.0 (FLOAT)
 *                                     -> Infinity, NaN, 2, 1e+06 (the
 *                                        shortest exact digits, in fixed
 *                                        notation for exponents -4 .. 14,
 *                                        5 for FLOAT, as PostgreSQL 12+)
 *   INTERVAL    1 month, 2 months     -> 1 mon, 2 mons (intervalstyle postgres)
 *   DATE, TIMESTAMP[ TZ]  "... (BC)"  -> "... BC"
 *   lists       [1, 2, NULL], ['a b', 'it\'s']
 *                                     -> {1,2,NULL}, {"a b",it's}: DuckDB's
 *                                        quoting undone, each element
 *                                        converted as its type is, then
 *                                        quoted as array_out() quotes
 *
 * Everything else is sent as DuckDB spells it, which PostgreSQL's types
 * accept and print alike (checked against DuckDB 1.4.4): integers, DECIMAL,
 * UUID, DATE, TIME, TIMESTAMP, TIMESTAMP WITH TIME ZONE ("2026-01-02
 * 03:04:05+00" in UTC), VARCHAR. Types PostgreSQL has no match for (STRUCT,
 * MAP, UNION, ENUM, fixed-size ARRAY, BIT ...) are sent as text (oid 25)
 * with DuckDB's text of the value.
 *
 * No state; every function is thread-safe.
 */
#ifndef UDR_SERVER_PGTYPES_H
#define UDR_SERVER_PGTYPES_H

#include <stddef.h>
#include <stdint.h>

typedef struct pg_type {
    uint32_t oid;        /* e.g. 20 */
    int16_t len;         /* typlen: 8, or -1 for variable length */
    const char *name;    /* pg_type.typname: "int8" */
    const char *sql;     /* format_type's spelling: "bigint" */
    uint32_t elem;       /* typelem: an array's element type, else 0 */
    uint32_t array;      /* typarray: the array of this type, else 0 */
    char category;       /* typcategory: 'N' numeric, 'S' string, 'A' array ... */
} pg_type;

/* The PostgreSQL type a DuckDB column type is sent as. duckdb_type is
 * DuckDB's type text as udr_result_column_type gives it ("BIGINT",
 * "DECIMAL(18,3)", "INTEGER[]", "TIMESTAMP WITH TIME ZONE", "STRUCT(a
 * INTEGER)" ...), in any case. Lists (nested ones too) of a type that has a
 * PostgreSQL array type are sent as that array type. Never NULL: anything
 * without a PostgreSQL match is text (oid 25); so is a NULL duckdb_type. */
const pg_type *pg_type_of(const char *duckdb_type);

/* The type with this oid among those this module knows (every type
 * pg_type_of returns, and a few more: oid, name, varchar, char, jsonb ...);
 * NULL if unknown. */
const pg_type *pg_type_by_oid(uint32_t oid);

/* The n-th known type (0 ..), NULL past the last: to list them all (the
 * pg_type rows that pgcat serves). */
const pg_type *pg_type_at(size_t n);

/* format_type()'s spelling of the PostgreSQL type a DuckDB column is sent
 * as: "bigint", "numeric(18,3)", "integer[]", "timestamp with time zone",
 * "text". Always NUL-terminates out (outlen > 0), truncating if it must. */
void pg_type_format(const char *duckdb_type, char *out, size_t outlen);

/* The DuckDB type a bound parameter of PostgreSQL type oid is cast to
 * ("BIGINT" for 20, "BLOB" for 17, "BOOLEAN" for 16 ...), or NULL to leave
 * it an untyped string literal, which DuckDB casts to whatever the context
 * wants: for oid 0 (unspecified), unknown oids, the text types, JSON,
 * arrays (PostgreSQL's {1,2} is not DuckDB's list syntax) and numeric
 * (1700): any fixed DECIMAL(p,s) would round or overflow some values that
 * PostgreSQL's unbounded numeric holds, while an untyped literal takes the
 * scale of the column it is compared with or stored in. */
const char *pg_type_param_cast(uint32_t oid);

/* A value in PostgreSQL's text format. value/value_len: for BLOB the raw
 * bytes (udr_result_bytes); for every other type DuckDB's text of the value
 * (udr_result_text). Converts as the header comment lists. Returns a
 * malloc'd NUL-terminated string (free()) and its length in *len, or NULL
 * when out of memory. Text that does not parse as DuckDB's text of the type
 * (it should not happen) is returned as it came. */
char *pg_type_text(const char *duckdb_type, const char *value, size_t value_len, size_t *len);

#endif
