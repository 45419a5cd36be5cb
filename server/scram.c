#include "scram.h"
#include <stdio.h>
int scram_users_load(const char *path, scram_users **out, char *err, size_t errlen){(void)path;*out=0;snprintf(err,errlen,"stub");return -1;}
size_t scram_users_count(const scram_users *u){(void)u;return 0;}
void scram_users_free(scram_users *u){(void)u;}
int scram_verifier_make(const char *p, int i, char *o, size_t n){(void)p;(void)i;(void)o;(void)n;return -1;}
scram_server *scram_server_new(const scram_users *u, const char *user){(void)u;(void)user;return 0;}
int scram_server_first(scram_server *s, const char *m, size_t l, char *o, size_t c, size_t *ol, char *e, size_t el){(void)s;(void)m;(void)l;(void)o;(void)c;(void)ol;(void)e;(void)el;return -1;}
int scram_server_final(scram_server *s, const char *m, size_t l, char *o, size_t c, size_t *ol, char *e, size_t el){(void)s;(void)m;(void)l;(void)o;(void)c;(void)ol;(void)e;(void)el;return -1;}
void scram_server_free(scram_server *s){(void)s;}
