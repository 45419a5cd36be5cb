/*
 * feedapi — the public API of the changelog (declared in udr.h): change
 * feed iterators, subscriptions, waiting for commits; over the feed layer's
 * walks and the query layer's rows.
 *
 * A handle remembers, per subscription it polled, where its last poll
 * started (the cursor an exactly-once acknowledgement expects to find at
 * commit) and how far its polls delivered (an acknowledgement beyond that
 * is refused: it would skip what nobody saw).
 */
#ifndef UDR_FEEDAPI_H
#define UDR_FEEDAPI_H

#include <stdint.h>

#include "udr.h"

/* Frees the handle's feed state (at udr_close). */
void feedapi_close(udr_repo *repo);

/* Checks an acknowledgement of seq for subscription name, as this handle
 * may give it; *expect: the cursor it must find at commit. */
int feedapi_check_ack(udr_repo *repo, const char *name, uint64_t seq, uint64_t *expect);

/* CALL udr_ack(name, seq): the query layer's hook (ctx: the udr_repo). */
int feedapi_ack_hook(void *ctx, const char *name, uint64_t seq);

#endif
