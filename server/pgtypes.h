#ifndef UDR_SERVER_PGTYPES_H
#define UDR_SERVER_PGTYPES_H
#include <stddef.h>
#include <stdint.h>
typedef struct pg_type { uint32_t oid; int16_t len; const char *name; const char *sql; } pg_type;
const pg_type *pg_type_of(const char *duckdb_type);
const pg_type *pg_type_by_oid(uint32_t oid);
void pg_type_format(const char *duckdb_type, char *out, size_t outlen);
const char *pg_type_param_cast(uint32_t oid);
char *pg_type_text(const char *duckdb_type, const char *value, size_t value_len, size_t *len);
#endif
