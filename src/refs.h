/*
 * refs — the public API of branches, tags, history, diffs between commits,
 * merges, reverts and resets (declared in udr.h). It joins the layers:
 * refs are log records (catalog), commits a graph (branch), and row merges
 * DuckDB work (query).
 *
 * A merge, step by step:
 *   1. The source commit S and the target branch's head H. No H, or H an
 *      ancestor of S: fast-forward (the branch moves to S). S an ancestor of
 *      H: nothing to do.
 *   2. The merge base B (branch_merge_base); none, or two (criss-cross), is
 *      refused with UDR_ECONFLICT and nothing changes.
 *   3. Per table, comparing B, H and S: the same on both sides, or changed
 *      only by H: kept. Changed only by S: taken from S (its version is
 *      reused: no new bytes, not even metadata). Changed on both: merged
 *      row by row (query_merge_rows), or, without one key and schema on all
 *      three sides, a table-level conflict.
 *   4. Conflicts under UDR_MERGE_FAIL: nothing is committed, the report
 *      lists them. Otherwise one commit with parents H and S, appended only
 *      if the target's head is still H (else UDR_ECONFLICT: run it again).
 * A merge killed midway has committed nothing, or everything: the commit is
 * one log record.
 */
#ifndef UDR_REFS_H
#define UDR_REFS_H

#include "udr.h"

#endif
