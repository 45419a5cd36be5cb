/*
 * fsck — checking a whole repository (udr_fsck_v2 in udr.h).
 *
 * Four passes, each fault reported once and named:
 *
 *   1. the log (log_verify): every segment and every record's checksum,
 *      read without the lock; a fault names segment, record and byte;
 *   2. references: the whole history is read (catalog_complete), then every
 *      commit of the log, branch head and tag, and every table version is
 *      read and decoded, and every chunk, delete file and patch they name
 *      is put in a map from object hash to its first referrer (sorted once and
 *      searched: O(n log n) in the references);
 *   3. objects: every file under objects/ is re-hashed (store_foreach); a
 *      damaged one is named with its referrer from the map, or as referred
 *      to by nothing; a chunk, delete file or patch of a version with rows
 *      has its Parquet magic and footer length checked (12 bytes read);
 *      whatever the map holds that the walk did not find is missing;
 *   4. deep (UDR_FSCK_DEEP): every sound chunk, delete file and patch is
 *      read in full through the repository's DuckDB (query_run of
 *      read_parquet, hashing every row, so every column is decoded), and
 *      its row count compared with what its versions record; a patch's
 *      columns must be chunk, row and as many more as its version says it
 *      patches.
 *
 * fsck only reads; it never repairs. On a handle opened with
 * UDR_OPEN_SALVAGE whose log is damaged, pass 2 follows what the log names
 * before the damage. If the history cannot be read in full (damage in an
 * older segment), it follows what the handle has (the newest segment, from
 * its checkpoint) and says so.
 */
#ifndef UDR_FSCK_H
#define UDR_FSCK_H

#include "udr.h"

/* How often (in objects) the progress callback is called. */
enum { FSCK_PROGRESS_EVERY = 256 };

#endif
