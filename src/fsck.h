/*
 * fsck — checking a whole repository (udr_fsck in udr.h).
 *
 * What is checked now: every file under objects/ is named like an object
 * (strays are reported) and its bytes hash to its name (a flipped byte or a
 * truncation is reported with the object's hash and path). As the log and
 * the catalog land, fsck also follows every reference from them, so that a
 * missing object is reported with whatever refers to it.
 *
 * fsck only reads; it never repairs.
 */
#ifndef UDR_FSCK_H
#define UDR_FSCK_H

#include "udr.h"

/* How often (in objects) the progress callback is called. */
enum { FSCK_PROGRESS_EVERY = 256 };

#endif
