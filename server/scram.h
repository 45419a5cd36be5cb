#ifndef UDR_SERVER_SCRAM_H
#define UDR_SERVER_SCRAM_H
#include <stddef.h>
typedef struct scram_users scram_users;
int scram_users_load(const char *path, scram_users **out, char *err, size_t errlen);
size_t scram_users_count(const scram_users *u);
void scram_users_free(scram_users *u);
int scram_verifier_make(const char *password, int iterations, char *out, size_t outlen);
typedef struct scram_server scram_server;
scram_server *scram_server_new(const scram_users *u, const char *user);
int scram_server_first(scram_server *s, const char *msg, size_t len, char *out, size_t outcap, size_t *outlen, char *err, size_t errlen);
int scram_server_final(scram_server *s, const char *msg, size_t len, char *out, size_t outcap, size_t *outlen, char *err, size_t errlen);
void scram_server_free(scram_server *s);
#endif
