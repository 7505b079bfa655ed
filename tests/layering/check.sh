#!/usr/bin/env bash
# The layers of meshfs, lowest first: a file may include headers of its own folder and of the
# folders before it, never of one after it. Data flows one way, from the FUSE operation down to
# the store; an upward include is a cycle waiting to happen. Exits 1 and names each include that
# runs upward (or names a folder not in the list), 0 when there is none.
set -euo pipefail
cd "${MESHFS_SOURCE_ROOT:-$(dirname "$0")/../..}"

layers=(common backends crypto contract table catalog acl mesh fs cli)

rank() {
	local i
	for i in "${!layers[@]}"; do
		[ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }
	done
	echo -1
}

bad=0
files=0
for dir in "${layers[@]}"; do
	r=$(rank "$dir")
	for f in "$dir"/*.[ch]; do
		[ -e "$f" ] || continue
		files=$((files + 1))
		while IFS= read -r line; do
			inc=${line#*\"}
			inc=${inc%%\"*}
			to=${inc%%/*}
			if [ "$to" = "$inc" ]; then
				echo "$f: #include \"$inc\": name the folder (\"DIR/$inc\")"
				bad=1
				continue
			fi
			t=$(rank "$to")
			if [ "$t" -lt 0 ]; then
				echo "$f: #include \"$inc\": $to/ is not a layer of tests/layering/check.sh"
				bad=1
			elif [ "$t" -gt "$r" ]; then
				echo "$f: #include \"$inc\" runs upward ($dir/ is below $to/)"
				bad=1
			fi
		done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
	done
done
# A folder of sources that is not in the list would escape the check.
for d in */; do
	d=${d%/}
	case "$d" in tests | fuzz | bench | examples | docs | scripts | build* | subprojects) continue ;; esac
	compgen -G "$d/*.[ch]" >/dev/null || continue
	[ "$(rank "$d")" -ge 0 ] || { echo "$d/: sources in a folder that is not a layer"; bad=1; }
done
[ "$files" -gt 0 ] || { echo "layering: no source files found"; exit 1; }
[ "$bad" -eq 0 ] && echo "layering: $files files, every include runs downward (${layers[*]})"
exit "$bad"
