#!/bin/sh
# Backup restore drill: dump SOURCE_DB with the same mariadb-dump options as the nightly backup,
# restore it into SCRATCH_DB (dropped and recreated), then compare every table's exact row count
# and CHECKSUM TABLE. Exit 0 only when all match.
#
#   MARIADB_OPTS="-h db-host -u backup" deploy/restore-drill.sh anju anju_drill_restore
#
# SCRATCH_DB must contain "drill" or "scratch" in its name (it is dropped), and differ from
# SOURCE_DB. DRILL_DUMP_FILE=path keeps the dump there (default: a temporary file, removed).
# The password comes from ~/.my.cnf or MYSQL_PWD, never from the command line.
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: $0 SOURCE_DB SCRATCH_DB" >&2
    exit 64
fi
src="$1"
dst="$2"
opts="${MARIADB_OPTS:-}"

case "$dst" in
    *drill*|*scratch*) ;;
    *) echo "refusing: scratch database '$dst' must contain 'drill' or 'scratch' (it is dropped)" >&2
       exit 2 ;;
esac
if [ "$src" = "$dst" ]; then
    echo "refusing: source and scratch database are the same" >&2
    exit 2
fi
for name in "$src" "$dst"; do
    case "$name" in
        *[!A-Za-z0-9_]*|"") echo "refusing: database names are letters, digits and _ only" >&2; exit 2 ;;
    esac
done

client=$(command -v mariadb || command -v mysql)
dumper=$(command -v mariadb-dump || command -v mysqldump)

dump="${DRILL_DUMP_FILE:-}"
if [ -z "$dump" ]; then
    dump=$(mktemp "${TMPDIR:-/tmp}/anju-drill.XXXXXX")
    trap 'rm -f "$dump"' EXIT
fi

sql() {  # sql DATABASE STATEMENT → tab-separated rows, no header
    # shellcheck disable=SC2086  # MARIADB_OPTS is a list of options
    "$client" $opts --batch --skip-column-names --default-character-set=utf8mb4 "$1" -e "$2"
}

started=$(date +%s)
# shellcheck disable=SC2086
"$dumper" $opts --single-transaction --quick --routines --triggers --events --hex-blob \
    --default-character-set=utf8mb4 "$src" > "$dump"
dumped=$(date +%s)
sql "" "DROP DATABASE IF EXISTS \`$dst\`; CREATE DATABASE \`$dst\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
# shellcheck disable=SC2086
"$client" $opts --default-character-set=utf8mb4 "$dst" < "$dump"
restored=$(date +%s)

tables=$(sql "" "SELECT table_name FROM information_schema.tables WHERE table_schema='$src' AND table_type='BASE TABLE' ORDER BY table_name")
status=0
count=0
for table in $tables; do
    a=$(sql "$src" "SELECT COUNT(*) FROM \`$table\`")
    b=$(sql "$dst" "SELECT COUNT(*) FROM \`$table\`" 2>/dev/null || echo missing)
    ca=$(sql "$src" "CHECKSUM TABLE \`$table\`" | cut -f2)
    cb=$(sql "$dst" "CHECKSUM TABLE \`$table\`" 2>/dev/null | cut -f2 || echo missing)
    if [ "$a" = "$b" ] && [ "$ca" = "$cb" ]; then
        verdict=ok
    else
        verdict=MISMATCH
        status=1
    fi
    count=$((count + 1))
    printf '%-32s rows %10s -> %-10s checksum %s -> %s  %s\n' "$table" "$a" "$b" "$ca" "$cb" "$verdict"
done
if [ "$count" -eq 0 ]; then
    echo "no tables in $src: nothing was proven" >&2
    status=1
fi
echo "tables=$count dump_seconds=$((dumped - started)) restore_seconds=$((restored - dumped)) dump_bytes=$(wc -c < "$dump") result=$([ $status -eq 0 ] && echo ok || echo FAILED)"
exit $status
