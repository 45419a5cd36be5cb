#!/bin/sh
# The quick-start: what UDR does today, on a default repository made fresh in
# build/quickstart/.udr. Usage: scripts/quickstart.sh PATH_TO_UDR
set -eu
udr=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
work="$top/build/quickstart"
rm -rf "$work"
mkdir -p "$work"
cd "$work"
export UDR_DIR="$work/.udr"

if [ -t 1 ]; then b='\033[1m' n='\033[0m'; else b='' n=''; fi
step() { printf "\n${b}== %s${n}\n" "$*"; }
show() { printf '$ udr %s\n' "$(shift; echo "$*")"; "$@"; }

step "UDR $("$udr" version | sed 's/^udr //')"
show "$udr" init

step "Store a file: it is named by the BLAKE3 hash of its bytes"
cp "$top/examples/users.csv" users.csv
echo "\$ udr object put users.csv"
h=$("$udr" object put users.csv)
echo "$h"
printf '(b3sum agrees: %s)\n' "$(b3sum --no-names users.csv)"

step "Store it again: nothing new is written (dedup)"
show "$udr" object put users.csv
show "$udr" object list

step "Read it back, verified against its hash"
show "$udr" object get "$h"

step "Check the whole repository"
show "$udr" fsck

step "Damage it on disk, and see fsck name the object"
obj=".udr/objects/$(echo "$h" | cut -c1-2)/$(echo "$h" | cut -c3-4)/$h"
chmod u+w "$obj"
printf 'X' | dd of="$obj" bs=1 seek=5 conv=notrunc status=none
show "$udr" fsck || echo "(fsck exited $?: a problem was found)"

step "Repair: remove the damaged object, store the good bytes again"
show "$udr" object delete "$h"
show "$udr" object put users.csv
show "$udr" fsck

printf '\nThe repository is in %s. Next: "make test".\n' "$UDR_DIR"
