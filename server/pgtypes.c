#include "pgtypes.h"
#include <stdlib.h>
#include <string.h>
static const pg_type T[] = {{25,-1,"text","text"},{20,8,"int8","bigint"},{23,4,"int4","integer"},{16,1,"bool","boolean"},{701,8,"float8","double precision"}};
const pg_type *pg_type_of(const char *d){ if(!strcmp(d,"BIGINT"))return &T[1]; if(!strcmp(d,"INTEGER"))return &T[2]; if(!strcmp(d,"BOOLEAN"))return &T[3]; if(!strcmp(d,"DOUBLE"))return &T[4]; return &T[0];}
const pg_type *pg_type_by_oid(uint32_t oid){ for(size_t i=0;i<5;i++) if(T[i].oid==oid) return &T[i]; return NULL;}
void pg_type_format(const char *d, char *out, size_t n){ strncpy(out,pg_type_of(d)->sql,n); }
const char *pg_type_param_cast(uint32_t oid){ return oid==20?"BIGINT":oid==23?"INTEGER":NULL; }
char *pg_type_text(const char *d, const char *v, size_t vl, size_t *len){ char *o=malloc(vl+1); memcpy(o,v,vl); o[vl]=0; *len=vl; if(!strcmp(d,"BOOLEAN")){o[0]=v[0]=='t'?'t':'f';o[1]=0;*len=1;} return o;}
