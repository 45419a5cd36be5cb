#ifndef UDR_SERVER_PGCAT_H
#define UDR_SERVER_PGCAT_H
#include "udr.h"
char *pgcat_rewrite(udr_repo *repo, const char *sql, int *rc);
#endif
