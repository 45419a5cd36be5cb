/*
 * gc — removing objects nothing refers to; see gc.c and udr_gc in udr.h.
 */
#ifndef UDR_GC_H
#define UDR_GC_H
#include "udr.h"

#endif
