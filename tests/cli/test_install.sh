#!/bin/sh
# make install PREFIX=DIR gives a C user everything in one line: the header,
# the libraries (DuckDB's beside them), udr.pc and the tool, found without
# LD_LIBRARY_PATH.
. "$(dirname "$0")/lib.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)

test_install_and_build_against_it() {
    run make -C "$TOP" --no-print-directory install PREFIX="$T/prefix"
    expect_rc 0
    check [ -f prefix/include/udr.h ]
    check [ -f prefix/lib/libudr.a ]
    check [ -f prefix/lib/libudr.so ]
    check [ -f prefix/lib/libduckdb.so ]
    check [ -f prefix/lib/pkgconfig/udr.pc ]
    check [ -x prefix/bin/udr ]

    # The installed tool runs from anywhere, with no LD_LIBRARY_PATH.
    run env -u LD_LIBRARY_PATH prefix/bin/udr --version
    expect_rc 0
    expect_out "DuckDB v1.4.4"

    cat > client.c <<'C'
#include <stdio.h>
#include <udr.h>
int main(int argc, char **argv)
{
    udr_repo *repo;
    if (udr_init(argv[1], &repo) != UDR_OK) {
        fprintf(stderr, "%s\n", udr_errmsg(repo));
        return 1;
    }
    udr_hash h;
    char hex[UDR_HASH_HEX + 1];
    if (udr_object_put(repo, "hello", 5, &h) != UDR_OK)
        return 1;
    udr_hash_to_hex(&h, hex);
    printf("%s %s\n", udr_version(), hex);
    udr_close(repo);
    return argc == 2 ? 0 : 1;
}
C
    PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig" run sh -c \
        'cc -o client client.c $(pkg-config --cflags --libs udr)'
    expect_rc 0
    run env -u LD_LIBRARY_PATH ./client repo
    expect_rc 0
    expect_out "$(printf hello | b3sum --no-names)"
    # The installed tool reads what the library wrote.
    run prefix/bin/udr --repo repo fsck
    expect_rc 0
    expect_out "checked 0 log records, 1 objects"
    # Static linking works too.
    PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig" run sh -c \
        'cc -o client-static client.c $(pkg-config --cflags udr) prefix/lib/libudr.a $(pkg-config --libs-only-L udr) -lduckdb -lpthread -lm -Wl,-rpath,prefix/lib'
    expect_rc 0
    run ./client-static repo2
    expect_rc 0
}

run_tests
