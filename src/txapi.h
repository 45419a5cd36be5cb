/*
 * txapi — the public API of transactions (declared in udr.h), over the tx
 * layer's snapshots and checks and the query layer's writes and row merges.
 *
 * Committing:
 *   1. tx_check compares the transaction with the branch's head now; a
 *      conflict rows cannot resolve fails at once.
 *   2. Each keyed table another commit changed too is merged by rows
 *      (query_merge_rows: base = the snapshot's version, ours = the
 *      transaction's, theirs = the head's); a conflicting key fails.
 *   3. One commit, appended only if the head is still the one checked; if
 *      another commit slipped in between, back to 1 (a few times).
 */
#ifndef UDR_TXAPI_H
#define UDR_TXAPI_H

#include <stdint.h>

#include "udr.h"

/* A write outside any transaction: a transaction of its own. */
int txapi_write_alone(udr_repo *repo, const char *table, const char *select_sql,
                      const udr_write_opts *opts, udr_write_info *info, int append);

/* udr_query's statements that UDR runs itself (writes to UDR tables, as a
 * transaction of their own; BEGIN and the like, refused): *handled 1 then. */
int txapi_query(udr_repo *repo, const char *sql, udr_result **out, int *handled);

/* Records an acknowledgement to commit with the transaction (no checks of
 * its state: CALL udr_ack runs inside a statement of the transaction). */
int txapi_ack(udr_tx *tx, const char *name, uint64_t seq);

/* Rolls back a transaction left open when its handle closes. */
void txapi_abandon(udr_repo *repo);

#endif
