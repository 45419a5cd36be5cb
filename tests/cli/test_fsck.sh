# udr fsck: names every fault it finds, exits 3 for problems, changes nothing.
. "$(dirname "$0")/lib.sh"

setup() {
    "$UDR" init -q >/dev/null
    printf 'id,v\n1,a\n2,b\n3,c\n' > a.csv
    "$UDR" -q import t a.csv --key id
    "$UDR" sql "UPDATE t SET v = 'z' WHERE id = 1" >/dev/null
    "$UDR" -q branch create feature
    "$UDR" -q tag v1
}

# The first chunk of a table version (udr show lists them after "chunks").
chunk_of() {
    "$UDR" show "$1" | awk '/^chunks$/ {on = 1; next} on && NF {print $1; exit}'
}

object_file() {
    h=$1
    echo ".udr/objects/$(echo "$h" | cut -c1-2)/$(echo "$h" | cut -c3-4)/$h"
}

flip_byte() {   # flip_byte FILE OFFSET
    chmod u+w "$1"
    b=$(dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 32)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

size_of() {
    wc -c < "$1" | tr -d ' '
}

SEG=.udr/log/0000000000000001.seg

test_fsck_clean_and_deep() {
    setup
    run "$UDR" fsck
    expect_rc 0
    expect_out "no problems"
    expect_out "log records"
    run "$UDR" fsck --deep
    expect_rc 0
    expect_out "in full: no problems"
    # a chunk and a delete file of version 2 and version 1's chunk, at least
    case "$out" in *"read 0 chunks"*) _fail "the deep pass read nothing: $out" ;; esac
    run "$UDR" --quiet fsck --deep
    expect_rc 0
    expect_no_out
}

test_fsck_flipped_chunk_named() {
    setup
    h=$(chunk_of t@1)
    check [ -n "$h" ]
    f=$(object_file "$h")
    flip_byte "$f" 100
    run "$UDR" fsck
    expect_rc 3
    expect_out "table t version 1: its chunk $h is corrupt"
    expect_out "1 problem"
    run "$UDR" fsck --deep
    expect_rc 3
    expect_out "table t version 1: its chunk $h"
}

test_fsck_missing_and_truncated_chunk() {
    setup
    printf 'k\n10\n20\n30\n' > b.csv
    "$UDR" -q import u b.csv
    h=$(chunk_of u)
    f=$(object_file "$h")
    chmod u+w "$f"
    truncate -s 50 "$f"
    run "$UDR" fsck
    expect_rc 3
    expect_out "table u version 1: its chunk $h is corrupt"
    expect_out "truncated"
    rm -f "$f"
    run "$UDR" fsck
    expect_rc 3
    expect_out "table u version 1: its chunk $h (3 rows) is missing"
}

test_fsck_damaged_log_record_in_the_middle() {
    setup
    size=$(size_of $SEG)
    flip_byte $SEG 30                         # inside record 1
    run "$UDR" tables
    expect_rc 1
    expect_err "the log is damaged: record 1 (segment 0000000000000001"
    run "$UDR" fsck
    expect_rc 3
    expect_out "log record 1 (segment 0000000000000001, byte 16"
    expect_out "fails its checksum"
    check [ "$(size_of $SEG)" = "$size" ]
    run "$UDR" fsck --deep
    expect_rc 3
    check [ "$(size_of $SEG)" = "$size" ]
}

test_fsck_damaged_last_log_record_not_cut() {
    setup
    size=$(size_of $SEG)
    flip_byte $SEG $((size - 3))
    run "$UDR" fsck
    expect_rc 3
    expect_out "the log's last record, made durable: not a torn write"
    check [ "$(size_of $SEG)" = "$size" ]
    # a command that writes does not cut it either: it refuses
    run "$UDR" import w a.csv
    expect_rc 1
    expect_err "not a torn write"
    check [ "$(size_of $SEG)" = "$size" ]
}

test_fsck_unreadable_log_header() {
    setup
    printf 'NOTALOG!' | dd of=$SEG bs=1 conv=notrunc 2>/dev/null
    run "$UDR" fsck
    expect_rc 3
    expect_out "header"
    expect_out "cannot be opened"
}

test_fsck_usage() {
    setup
    run "$UDR" fsck --shallow
    expect_rc 2
    expect_err "unknown option '--shallow'"
    run "$UDR" fsck nothex
    expect_rc 2
    expect_err "not an object hash"
    run "$UDR" fsck --help
    expect_rc 0
    expect_out "usage: udr fsck [--deep]"
    expect_out "only reads"
    run "$UDR" fsck 0000000000000000000000000000000000000000000000000000000000000000
    expect_rc 3
    expect_out "missing object"
}

run_tests
