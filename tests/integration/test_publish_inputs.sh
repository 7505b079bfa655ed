#!/usr/bin/env bash
# Every input kind: JSON Lines, compressed tables, archives of several tables, and the archives and
# expansions that are refused.

# shellcheck source=tests/integration/publish_lib.sh
. "$(dirname "$0")/publish_lib.sh"

# ---- inputs: JSON Lines, compressed, archives ----

v=$(latest "$S")
run cp -- "$P/orders.jsonl" "$S/orders.jsonl"
published "orders.jsonl publishes; TABLE.csv reads as the same rows in CSV" "$S" "$v" \
	orders.csv "$P/orders.csv"
check "the upload's own name is not left in the directory" test ! -e "$S/orders.jsonl"

declare -A ZIP_TOOL=([gz]=gzip [bz2]=bzip2 [xz]=xz [zst]=zstd)
for z in gz bz2 xz zst; do
	tool=${ZIP_TOOL[$z]}
	if ! command -v "$tool" >/dev/null; then
		skip "TABLE.csv.$z and TABLE.jsonl.$z publish" "$tool is missing"
		continue
	fi
	orders_variant "csv $z" >"$T/o-$z.csv"
	"$tool" -c <"$T/o-$z.csv" >"$T/orders.csv.$z"
	v=$(latest "$S")
	run cp -- "$T/orders.csv.$z" "$S/orders.csv.$z"
	published "orders.csv.$z publishes" "$S" "$v" orders.csv "$T/o-$z.csv"
	orders_variant "jsonl $z" >"$T/oj-$z.csv"
	sed "1s/\"first order\"/\"first order (jsonl $z)\"/" "$P/orders.jsonl" | "$tool" -c \
		>"$T/orders.jsonl.$z"
	v=$(latest "$S")
	run cp -- "$T/orders.jsonl.$z" "$S/orders.jsonl.$z"
	published "orders.jsonl.$z publishes" "$S" "$v" orders.csv "$T/oj-$z.csv"
done

head -c 200 "$T/orders.csv.gz" >"$T/cut.csv.gz"
v=$(latest "$S")
run cp -- "$T/cut.csv.gz" "$S/orders.csv.gz"
rejected "a truncated orders.csv.gz is rejected: Invalid argument" "$S" "$v" "Invalid argument"

# Archives of two tables: one version in which both change.
mkdir "$T/arch"
# archive NAME QTY: NAME (in $T) holding orders.csv and items.csv, their variants for NAME and
# QTY (kept in $T/arch/want-*), made with tar or zip as NAME says.
archive()
{
	local dir=$T/arch/$1
	mkdir -p "$dir"
	orders_variant "$1" >"$dir/orders.csv"
	items_variant "$2" >"$dir/items.csv"
	cp "$dir/orders.csv" "$T/arch/want-orders.csv"
	cp "$dir/items.csv" "$T/arch/want-items.csv"
	case $1 in
	*.zip) (cd "$dir" && zip -q -X "$T/$1" orders.csv items.csv) ;;
	*.tar) tar -C "$dir" -cf "$T/$1" orders.csv items.csv ;;
	*.tar.gz | *.tgz) tar -C "$dir" -czf "$T/$1" orders.csv items.csv ;;
	*.tar.bz2) tar -C "$dir" -cjf "$T/$1" orders.csv items.csv ;;
	*.tar.xz) tar -C "$dir" -cJf "$T/$1" orders.csv items.csv ;;
	*.tar.zst) tar -C "$dir" -cf - orders.csv items.csv | zstd -q -c >"$T/$1" ;;
	esac
}
qty=20
for a in batch.tar batch.tar.gz batch.tgz batch.tar.bz2 batch.tar.xz batch.tar.zst batch.zip; do
	case $a in
	*.bz2) need=bzip2 ;;
	*.xz) need=xz ;;
	*.zst) need=zstd ;;
	*.zip) need=zip ;;
	*) need=tar ;;
	esac
	if ! command -v "$need" >/dev/null; then
		skip "$a publishes" "$need is missing"
		continue
	fi
	qty=$((qty + 1))
	archive "$a" "$qty"
	v=$(latest "$S")
	run cp -- "$T/$a" "$S/$a"
	published "$a of two tables publishes them as one version" "$S" "$v" \
		orders.csv "$T/arch/want-orders.csv" items.csv "$T/arch/want-items.csv"
done

# Archives that must be refused, each leaving the product as it was.
state shop/orders >"$T/state-before"
mkdir "$T/evil"
cp "$P/orders.csv" "$P/items.csv" "$T/evil/"
tar -C "$T/evil" -cf "$T/dotdot.tar" --transform 's,^items,../items,' orders.csv items.csv
v=$(latest "$S")
run cp -- "$T/dotdot.tar" "$S/dotdot.tar"
rejected "an archive with an entry ../items.csv is refused: Invalid argument" "$S" "$v" \
	"Invalid argument"
reason_has "and publish.log names the entry" "$S" '\.\./items\.csv'
tar -C "$T/evil" -cPf "$T/absolute.tar" --transform 's,^items,/items,' orders.csv items.csv
run cp -- "$T/absolute.tar" "$S/absolute.tar"
rejected "an archive with an entry /items.csv is refused: Invalid argument" "$S" "$v" \
	"Invalid argument"
reason_has "and publish.log names the entry" "$S" '/items\.csv'
cp "$P/items-bad.csv" "$T/evil/items.csv"
tar -C "$T/evil" -cf "$T/half-bad.tar" orders.csv items.csv
run cp -- "$T/half-bad.tar" "$S/half-bad.tar"
rejected "an archive of a good table and a bad one is refused whole: Invalid argument" \
	"$S" "$v" "Invalid argument"
reasons "and publish.log says why" "$S" "$P/items-bad.reasons"
printf 'notes\n' >"$T/evil/notes.txt"
tar -C "$T/evil" -cf "$T/other.tar" orders.csv notes.txt
run cp -- "$T/other.tar" "$S/other.tar"
rejected "an archive with an entry that is no table is refused" "$S" "$v" "Invalid argument"
reason_has "and publish.log names it" "$S" 'notes\.txt'
gzip -c "$P/items.csv" >"$T/evil/items.csv.gz"
tar -C "$T/evil" -cf "$T/nested.tar" items.csv.gz
run cp -- "$T/nested.tar" "$S/nested.tar"
rejected "an archive holding a compressed file is refused" "$S" "$v" "Invalid argument"
sed '1s/^order_id,/id,/' "$P/items.csv" >"$T/evil/returns.csv"
tar -C "$T/evil" -cf "$T/unknown.tar" returns.csv
run cp -- "$T/unknown.tar" "$S/unknown.tar"
rejected "an archive with a table the contract does not have is refused" "$S" "$v" \
	"Invalid argument"
reason_has "and publish.log names the table" "$S" "returns"

# Bounded expansion: a header and 20 MiB of blank lines compress a thousandfold and more.
bomb_tool=$(command -v zstd || command -v xz)
if [ -n "$bomb_tool" ]; then
	{
		echo "order_id,line,sku,qty"
		head -c 20971520 /dev/zero | tr '\0' '\n'
	} >"$T/bomb.csv"
	ext=zst
	[ "$(basename "$bomb_tool")" = xz ] && ext=xz
	"$bomb_tool" -q -c -9 <"$T/bomb.csv" >"$T/items.csv.$ext"
	run cp -- "$T/items.csv.$ext" "$S/items.csv.$ext"
	rejected "a compressed table expanding more than allowed is refused: File too large" \
		"$S" "$v" "File too large"
	mv "$T/bomb.csv" "$T/evil/items.csv"
	tar -C "$T/evil" -cf - items.csv | "$bomb_tool" -q -c -9 >"$T/bomb.tar.$ext"
	rm -f "$T/evil/items.csv"
	run cp -- "$T/bomb.tar.$ext" "$S/bomb.tar.$ext"
	rejected "an archive expanding more than allowed is refused: File too large" "$S" "$v" \
		"File too large"
else
	skip "bounded expansion" "neither zstd nor xz is there"
fi
unchanged "after all those refusals the product is as it was" shop/orders "$T/state-before"

publish_end
