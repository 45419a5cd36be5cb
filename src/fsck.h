/*
 * fsck — checking a whole repository (udr_fsck in udr.h).
 *
 * What is checked: every file under objects/ is named like an object
 * (strays are reported) and its bytes hash to its name (a flipped byte or a
 * truncation is reported with the object's hash and path); the log reads to
 * its end with every checksum holding (opening the repository already did
 * that); and every reference from the log is followed: each commit object,
 * each table version object and each chunk they name must be there and
 * decode, and a missing one is reported with the table and version that
 * need it.
 *
 * fsck only reads; it never repairs.
 */
#ifndef UDR_FSCK_H
#define UDR_FSCK_H

#include "udr.h"

/* How often (in objects) the progress callback is called. */
enum { FSCK_PROGRESS_EVERY = 256 };

#endif
