#!/bin/sh
# The udr tool driven like a user: init, object plumbing, fsck, help, errors.
. "$(dirname "$0")/lib.sh"

test_init_default_and_env() {
    run "$UDR" init
    expect_rc 0
    expect_out "Initialized empty UDR repository in .udr"
    check [ -f .udr/FORMAT ]
    check [ -d .udr/objects ] && check [ -d .udr/log ] && check [ -d .udr/tmp ]
    run "$UDR" init
    expect_rc 1
    expect_err "already a UDR repository"
    UDR_DIR="$T/envrepo" run "$UDR" init
    expect_rc 0
    check [ -f envrepo/FORMAT ]
    run "$UDR" init named
    expect_rc 0
    check [ -f named/FORMAT ]
    run "$UDR" --repo flagged init
    expect_rc 0
    check [ -f flagged/FORMAT ]
}

test_put_get_round_trip() {
    "$UDR" init -q >/dev/null
    head -c 3000000 /dev/urandom > data.bin
    run "$UDR" object put data.bin
    expect_rc 0
    h=$out
    check [ "$h" = "$(b3sum --no-names data.bin)" ]
    run "$UDR" object get "$h" -o back.bin
    expect_rc 0
    check cmp -s data.bin back.bin
    "$UDR" object get "$h" > stdout.bin
    check cmp -s data.bin stdout.bin
    # stdin, several files at once, dedup
    run_stdin data.bin "$UDR" object put -
    expect_rc 0
    check [ "$out" = "$h" ]
    printf 'a' > a.txt
    printf 'b' > b.txt
    run "$UDR" object put a.txt b.txt data.bin
    expect_rc 0
    check [ "$(echo "$out" | wc -l)" = 3 ]
    run "$UDR" object list
    expect_rc 0
    expect_out "$h	3000000"
    check [ "$(echo "$out" | wc -l)" = 3 ]
    run "$UDR" object hash data.bin
    expect_out "$h  data.bin"
}

test_put_missing_file_fails_and_names_it() {
    "$UDR" init -q >/dev/null
    run "$UDR" object put no-such-file.csv
    expect_rc 1
    expect_err "no-such-file.csv"
    expect_no_out
    run "$UDR" object put
    expect_rc 2
}

test_hostile_hashes_refused() {
    "$UDR" init -q >/dev/null
    for bad in ../../etc/passwd \
        af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f326 \
        af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f32620 \
        AF1349B9F5F9A1A6A0404DEA36DCC9499BCB25C9ADC112B7CC9A93CAE41F3262 \
        zz1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262 ''; do
        for verb in get verify delete; do
            run "$UDR" object $verb "$bad"
            expect_rc 2
            expect_err "is not an object hash"
            expect_no_out
        done
        run "$UDR" fsck "$bad"
        expect_rc 2
    done
}

corrupt_repo() {   # stores three objects; sets $good $flip $trunc $gone
    "$UDR" init -q >/dev/null
    head -c 100000 /dev/urandom > g; head -c 100000 /dev/urandom > f
    head -c 100000 /dev/urandom > t; head -c 1000 /dev/urandom > m
    printf '\000' | dd of=f bs=1 seek=500 conv=notrunc 2>/dev/null   # so \377 below flips it
    good=$("$UDR" object put g); flip=$("$UDR" object put f)
    trunc=$("$UDR" object put t); gone=$("$UDR" object put m)
    p=.udr/objects/$(echo "$flip" | cut -c1-2)/$(echo "$flip" | cut -c3-4)/$flip
    chmod u+w "$p"
    printf '\377' | dd of="$p" bs=1 seek=500 conv=notrunc 2>/dev/null
    p=.udr/objects/$(echo "$trunc" | cut -c1-2)/$(echo "$trunc" | cut -c3-4)/$trunc
    chmod u+w "$p"
    truncate -s 5000 "$p"
    rm -f .udr/objects/$(echo "$gone" | cut -c1-2)/$(echo "$gone" | cut -c3-4)/$gone
}

test_fsck_finds_flipped_truncated_missing() {
    corrupt_repo
    run "$UDR" fsck "$good" "$gone"
    expect_rc 3
    expect_out "$flip"
    expect_out "$trunc"
    expect_out "missing object $gone"
    expect_out "3 problems"
    case "$out" in *"$good"*) _fail "fsck reported the good object" ;; esac
    run "$UDR" object verify
    expect_rc 3
    expect_out "$good ok"
    expect_out "$flip BAD"
    run "$UDR" object verify "$gone"
    expect_rc 3
    expect_out "missing"
}

test_get_of_corrupt_object_writes_no_file() {
    corrupt_repo
    run "$UDR" object get "$flip" -o out.bin
    expect_rc 1
    expect_err "$flip"
    expect_err "corrupt"
    check [ ! -e out.bin ]
    check [ -z "$(ls | grep udr-tmp)" ]
    run "$UDR" object get "$gone"
    expect_rc 1
    expect_err "missing"
}

test_fsck_clean_repo() {
    "$UDR" init -q >/dev/null
    echo hello > h && "$UDR" object put h >/dev/null
    run "$UDR" fsck
    expect_rc 0
    expect_out "checked 0 log records, 1 objects (6 bytes)"
    expect_out "no problems"
    run "$UDR" --quiet fsck
    expect_rc 0
    expect_no_out
}

test_not_a_repository() {
    run "$UDR" fsck
    expect_rc 1
    expect_err "no repository at .udr"
    mkdir plain
    run "$UDR" --repo plain object list
    expect_rc 1
    expect_err "plain is not a UDR repository"
    "$UDR" init -q r >/dev/null
    printf 'udr repository\nformat 9\n' > r/FORMAT
    run "$UDR" --repo r fsck
    expect_rc 1
    expect_err "format 9"
}

test_help_and_usage() {
    run "$UDR" --help
    expect_rc 0
    expect_out "usage: udr"
    for v in init fsck object version; do
        run "$UDR" "$v" --help
        expect_rc 0
        expect_out "usage: udr $v"
        run "$UDR" help "$v"
        expect_rc 0
        expect_out "usage: udr $v"
    done
    run "$UDR"
    expect_rc 2
    run "$UDR" frobnicate
    expect_rc 2
    expect_err "'frobnicate' is not a udr verb"
    expect_no_out
    run "$UDR" --bogus
    expect_rc 2
    run "$UDR" object frob
    expect_rc 2
    run "$UDR" --version
    expect_rc 0
    expect_out "DuckDB v1.4.4"
}

test_delete_object() {
    "$UDR" init -q >/dev/null
    echo x > x
    h=$("$UDR" object put x)
    run "$UDR" object delete "$h"
    expect_rc 0
    run "$UDR" object delete "$h"
    expect_rc 1
    expect_err "missing"
}

run_tests
