# Progress lines of import, export and compact: on a terminal (a pty from
# util-linux script) stderr shows them; when stderr is not a terminal, or
# with --quiet, there are none.
. "$(dirname "$0")/lib.sh"

setup() {
    "$UDR" init -q >/dev/null
    { echo id,name,score; seq 1 100000 | awk '{print $1 ",name " $1 "," $1 % 97}'; } > big.csv
}

# on_tty CMD: runs the shell command CMD with a terminal for stdin, stdout
# and stderr; stdout is redirected inside to tty.out, so $tty holds what
# went to the terminal (stderr) and $out the command's stdout.
on_tty() {
    if ! command -v script >/dev/null 2>&1; then
        _fail "script (util-linux, Debian's bsdutils) is needed to give udr a terminal"
        return
    fi
    script -qec "$1 >tty.out; echo \"rc=\$?\" >tty.rc" /dev/null >tty.txt 2>&1 </dev/null
    tty=$(tr '\r' '\n' <tty.txt)
    out=$(cat tty.out)
    rc=$(sed 's/rc=//' tty.rc)
}

expect_tty() {
    case "$tty" in *"$1"*) ;; *) _fail "expected the terminal to show '$1', got '$tty'" ;; esac
}

expect_no_tty() {
    case "$tty" in *"$1"*) _fail "expected no '$1' on the terminal, got '$tty'" ;; esac
}

test_import_shows_progress_on_a_terminal() {
    setup
    on_tty "'$UDR' import t big.csv --key id"
    expect_rc 0
    expect_tty "import t: writing chunks"
    expect_tty " rows, "
    expect_tty "/s"
    expect_out "t: version 1, 100000 rows"
    # the line is cleared before the summary: erase-line code after the last \r
    check grep -q "$(printf '\033')\[K" tty.txt
}

test_import_quiet_without_terminal() {
    setup
    run "$UDR" import t big.csv --key id
    expect_rc 0
    case "$err" in *writing*|*rows*) _fail "progress on a stderr that is no terminal: '$err'" ;; esac
    expect_out "100000 rows"
    on_tty "'$UDR' --quiet import u big.csv --key id"
    expect_rc 0
    expect_no_tty "writing chunks"
    expect_no_tty "rows"
    expect_no_out
}

test_staged_import_says_reading() {
    setup
    { echo id,v; seq 100000 -1 1 | awk '{print $1 ",x"}'; } > desc.csv
    on_tty "'$UDR' import d desc.csv --key id"
    expect_rc 0
    expect_tty "import d: reading"
    expect_tty "import d: writing chunks"
}

test_export_shows_progress_on_a_terminal() {
    setup
    "$UDR" -q import t big.csv --key id
    on_tty "'$UDR' export t out.parquet"
    expect_rc 0
    expect_tty "export t: exporting"
    expect_tty "of 100000 rows"
    expect_out "exported 100000 rows of t to out.parquet"
    on_tty "'$UDR' export t@1 out.csv"
    expect_rc 0
    expect_tty "export t@1: exporting"
    run "$UDR" export t out2.csv
    expect_rc 0
    expect_out "exported 100000 rows of t to out2.csv"
    check [ -z "$err" ]
    check cmp -s out.csv out2.csv
    on_tty "'$UDR' -q export t out3.csv"
    expect_rc 0
    expect_no_tty "exporting"
    expect_no_out
    check cmp -s out.csv out3.csv
}

test_export_failure_leaves_the_file() {
    setup
    echo old > keep.csv
    run "$UDR" export nope keep.csv
    expect_rc 1
    expect_err "nope"
    check [ "$(cat keep.csv)" = old ]
    check [ -z "$(ls | grep udr-export)" ]
}

test_compact_shows_progress_on_a_terminal() {
    setup
    "$UDR" -q import t big.csv --key id
    "$UDR" sql "UPDATE t SET name = 'x' WHERE id % 1000 = 3" >/dev/null
    on_tty "'$UDR' compact t"
    expect_rc 0
    expect_tty "compact t: writing chunks"
    expect_out "t: version 3, 100000 rows"
    run "$UDR" compact t
    expect_rc 0
    check [ -z "$err" ]
    expect_out "clean already"
}

test_help_mentions_progress() {
    for verb in import export compact; do
        run "$UDR" $verb --help
        expect_rc 0
        expect_out "progress line"
    done
}

run_tests
