#!/usr/bin/env bash
# Atomic versions: a concurrent reader never sees a mix, TABLE.csv and versions/latest move at
# once.

# shellcheck source=tests/integration/publish_lib.sh
. "$(dirname "$0")/publish_lib.sh"

# ---- atomic versions: a reader never sees a mix, TABLE.csv and versions/latest move at once ----

gen_items 300 13 >"$T/atom-a.csv"
gen_items 3000 17 >"$T/atom-b.csv"
cp -- "$T/atom-a.csv" "$S/items.csv"
chmod 0644 "$T/atom-a.csv" "$T/atom-b.csv"
# The reader, another user where there are users (a table without PII is one view, one inode,
# for all): each read of TABLE.csv must be one whole version, and when versions/latest is the
# same before and after the read, that version's table. Problems go to stdout, the number of
# reads to stderr.
# shellcheck disable=SC2016 # perl's
reader=(perl -e 'my ($dir, $stop, @tables) = @ARGV;
	my %published;
	for (@tables) { open(my $f, "<", $_) or die "$_: $!\n"; local $/; $published{<$f>} = 1 }
	my ($reads, $bad) = (0, 0);
	until (-e $stop || $bad >= 5 || $reads >= 100000) {
		my $l1 = readlink("$dir/versions/latest");
		open(my $f, "<", "$dir/items.csv") or die "open: $!\n";
		my $got = do { local $/; <$f> };
		close($f);
		my $l2 = readlink("$dir/versions/latest");
		$reads++;
		if (!$published{$got}) {
			print "read $reads: ", length($got), " bytes that were never published\n";
			$bad++;
		} elsif ($l1 eq $l2) {
			open(my $g, "<", "$dir/versions/$l1/items.csv") or die "versions/$l1: $!\n";
			my $want = do { local $/; <$g> };
			if ($got ne $want) { print "read $reads: TABLE.csv is not versions/$l1\n"; $bad++ }
		}
	}
	print STDERR "$reads\n";' "$S" "$T/reader-stop" "$T/atom-a.csv" "$T/atom-b.csv")
# atomic_round WHO: twenty publishes (and a hundred opens with O_TRUNC that publish nothing)
# while the reader reads as WHO: another user, or the publisher itself, whose lookups give it
# its own inodes of the table, which its writes must not disturb for its reads.
atomic_round()
{
	local who=$1 v i reader_pid reader_rc reads atom_ok=1
	rm -f -- "$T/reader-stop"
	if [ "$who" = publisher ]; then
		timeout 60 "${reader[@]}" >"$T/reader.out" 2>"$T/reader.count" &
	else
		as "$RO" timeout 60 "${reader[@]}" >"$T/reader.out" 2>"$T/reader.count" &
	fi
	reader_pid=$!
	v=$(latest "$S")
	for i in $(seq 1 20); do
		if [ $((i % 2)) -eq 1 ]; then
			cp -- "$T/atom-b.csv" "$S/items.csv" || atom_ok=
		else
			cp -- "$T/atom-a.csv" "$S/items.csv" || atom_ok=
		fi
		for _ in 1 2 3 4 5; do
			: >"$S/items.csv" || atom_ok=
		done
	done
	touch "$T/reader-stop"
	wait "$reader_pid"
	reader_rc=$?
	check "$who reading: twenty publishes and a hundred empty opens with O_TRUNC make twenty versions" \
		test -n "$atom_ok" -a "$(latest "$S")" = $((v + 20))
	reads=$(tail -n 1 "$T/reader.count")
	if [ "$reader_rc" -eq 0 ] && [ ! -s "$T/reader.out" ]; then
		pass "the $who ($reads reads) saw whole versions only, TABLE.csv and versions/latest in step"
	else
		fail "the $who saw whole versions only, TABLE.csv and versions/latest in step" \
			"exit $reader_rc, $reads reads" "$(head -n 5 "$T/reader.out")"
	fi
	check "versions/N/items.csv is still version N's whole table" \
		cmp -- "$S/versions/$((v + 5))/items.csv" "$T/atom-b.csv"
}
if [ -n "$USERS" ]; then
	atomic_round "other user"
fi
atomic_round publisher

publish_end
