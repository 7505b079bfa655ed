#!/usr/bin/env bash
# Discovery on the example mesh (examples/create-mesh.sh): meshfs search, lineage both ways and the
# transitive impact of a breaking change in the data sheets, freshness moving from fresh to stale
# as the clock (MESHFS_NOW) moves, meshfs status and its exit codes, and what the data sheets say.
# With FUSE: the same freshness in catalog.csv, lineage.dot and .search/ in the mount.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

: "${MESHFS_EXAMPLE_GEN:?MESHFS_EXAMPLE_GEN must name meshfs-example-gen (meson test sets it)}"
: "${MESHFS_SOURCE_ROOT:?MESHFS_SOURCE_ROOT must name the source tree (meson test sets it)}"
EXAMPLES=$MESHFS_SOURCE_ROOT/examples
ROWS=50

# iso SECONDS: the time as the catalog's documents write it.
iso()
{
	date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ
}

# section TITLE < README: the lines of a "## TITLE" or "### TITLE" section, up to the next heading
# of the same or a higher level.
section()
{
	awk -v title="$1" '
		/^#+ / {
			level = index($0, " ") - 1
			if (inside && level <= want)
				inside = 0
			if (substr($0, level + 2) ~ "^" title) {
				inside = 1
				want = level
				next
			}
		}
		inside'
}

# links < TEXT: the DOMAIN/PRODUCT names of Markdown list items "- [D/P](…)", sorted.
links()
{
	sed -n 's|^- \[\([a-z0-9_-]*/[a-z0-9_-]*\)\](.*|\1|p' | sort
}

# closure PRODUCT: every product downstream of PRODUCT, from the inputs of the example contracts.
closure()
{
	local f d p
	for f in "$EXAMPLES"/contracts/*/*.yaml; do
		d=$(basename "$(dirname "$f")")
		p=$(basename "$f" .yaml)
		awk -v me="$d/$p" '
			/property: inputs/ { getline; gsub(/.*\[|\].*/, ""); n = split($0, in_, /, */)
				for (i = 1; i <= n; i++) print in_[i], me }' "$f"
	done >"$T/edges"
	awk -v start="$1" '
		{ down[$1] = down[$1] " " $2 }
		END {
			queue[1] = start; seen[start] = 1; head = 1; tail = 1
			while (head <= tail) {
				n = split(down[queue[head++]], next_, " ")
				for (i = 1; i <= n; i++)
					if (!(next_[i] in seen)) { seen[next_[i]] = 1; queue[++tail] = next_[i] }
			}
			for (p in seen) if (p != start) print p
		}' "$T/edges" | sort
}

# expect_usage DESC: the last command failed as a usage error (exit 2, a message on stderr).
expect_usage()
{
	if [ "$RC" -eq 2 ] && [ -s "$T/err" ]; then
		pass "$1"
	else
		fail "$1" "expected a usage error (exit 2)" "$(last_diag)"
	fi
}

# search_links TEXT PRODUCT: MOUNT/.search/TEXT/ holds symbolic links, each to a product directory
# of the mount, and one of them to PRODUCT's.
search_links()
{
	local link target found=
	for link in "$MNT/.search/$1"/*; do
		[ -L "$link" ] || return 1
		target=$(cd "$(dirname "$link")" && cd -P "$(readlink "$link")" && pwd) || return 1
		[ -f "$target/README.md" ] || return 1
		[ "$target" = "$MNT/$2" ] && found=1
	done
	[ -n "$found" ]
}

# row PRODUCT COLUMN < TABLE: a column of the product's row in the output of product list.
row()
{
	awk -v p="$1" -v c="$2" '$1 == p { print $c }'
}

# ---- the example mesh ----

run env MESHFS="$MESHFS" MESHFS_EXAMPLE_GEN="$MESHFS_EXAMPLE_GEN" \
	bash "$EXAMPLES/create-mesh.sh" "$MESH" "$ROWS"
[ "$RC" -eq 0 ] || bail_out "create-mesh.sh builds the example mesh" "$(last_diag)"
pass "create-mesh.sh builds the example mesh"
export MESHFS_MESH=$MESH

# ---- search ----

mfs search orders
expect_ok "search orders finds products"
check "search orders ranks orders/orders first" test "$(awk 'NR == 2 { print $1 }' "$T/out")" = \
	orders/orders
check "search prints a header and a product a line" \
	grep -Eq '^PRODUCT +VERSION +FRESHNESS +OWNER +DESCRIPTION' "$T/out"
cp "$T/out" "$T/search-orders"

mfs search kpi
if [ "$RC" -eq 0 ] && out_has '^analytics/daily_revenue ' && out_has '^support/tickets ' &&
	! out_has '^orders/orders '; then
	pass "search finds products by tag"
else
	fail "search finds products by tag" "$(last_diag)"
fi
cp "$T/out" "$T/search-kpi"
mfs search KPI
check "search ignores case" cmp -s "$T/out" "$T/search-kpi"

mfs search churn_probability
if [ "$RC" -eq 0 ] && [ "$(awk 'NR > 1 { print $1 }' "$T/out")" = analytics/customer_ltv ]; then
	pass "search finds a product by a column name, never published ones included"
else
	fail "search finds a product by a column name, never published ones included" \
		"$(last_diag)"
fi

mfs search daily_reven
if [ "$RC" -eq 0 ] && out_has '^analytics/daily_revenue '; then
	pass "search takes the last word as a prefix"
else
	fail "search takes the last word as a prefix" "$(last_diag)"
fi

mfs search card number
if [ "$RC" -eq 0 ] && out_has '^payments/transactions '; then
	pass "search matches every word, in names and descriptions"
else
	fail "search matches every word, in names and descriptions" "$(last_diag)"
fi

mfs search orders --limit 1
if [ "$RC" -eq 0 ] && [ "$(wc -l <"$T/out")" -eq 2 ] && out_has '^orders/orders '; then
	pass "search --limit 1 shows the best match only"
else
	fail "search --limit 1 shows the best match only" "$(last_diag)"
fi
mfs search orders --limit 0
check "search --limit 0 shows every match" cmp -s "$T/out" "$T/search-orders"

mfs search zzqqxx
expect_one_line "search without a match exits 1 with one line" "no product matches 'zzqqxx'"
mfs search '"'
expect_one_line "search of a lone quote is no query syntax error" "no product matches"

syntax_ok=1
for q in 'AND' 'orders AND' 'OR orders' 'NOT' 'NEAR(orders' 'orders)' '*' '^orders' \
	'text:orders' '"orders' "it's" 'a-orders' '{a b}' "\\"; do
	mfs search "$q"
	if [ "$RC" -gt 1 ] || err_has 'fts5|syntax|SQL|malformed|cannot search'; then
		syntax_ok=
		fail "search '$q' is plain words, never query syntax" "$(last_diag)"
	fi
done
[ -n "$syntax_ok" ] && pass "search text is plain words, never query syntax"
mfs search orders AND
expect_ok "search 'orders AND' searches for the word 'and'"
mfs search -- -orders
expect_ok "search -- -orders: a leading dash after -- is a word"

mfs search
expect_usage "search without TEXT is a usage error"
mfs search orders --limit many
expect_usage "search --limit needs a number"

# ---- lineage in the data sheets ----

mfs product show analytics/daily_revenue
expect_ok "product show analytics/daily_revenue"
cp "$T/out" "$T/revenue.md"
want=$(awk '/property: inputs/ { getline; gsub(/.*\[|\].*/, ""); gsub(/, */, "\n"); print }' \
	"$EXAMPLES/contracts/analytics/daily_revenue.yaml" | sort)
got=$(section "Upstream" <"$T/revenue.md" | links)
check "the data sheet lists the contract's inputs upstream" test "$got" = "$want"

mfs product show orders/orders
cp "$T/out" "$T/orders.md"
got=$(section "Upstream" <"$T/orders.md" | links | tr '\n' ' ')
check "orders/orders: upstream are customers/customers and merchandising/products" \
	test "$got" = "customers/customers merchandising/products "
section "Downstream" <"$T/orders.md" | links >"$T/orders-down"
check "orders/orders: downstream lists the products that read it" \
	grep -qx analytics/daily_revenue "$T/orders-down"
check "orders/orders: downstream does not list its inputs" \
	test -z "$(grep -x merchandising/products "$T/orders-down")"

# The impact of a breaking change: the direct consumers (Downstream) and those through them.
for p in orders/orders merchandising/suppliers customers/customers payments/transactions; do
	mfs product show "$p"
	cp "$T/out" "$T/sheet.md"
	want=$(closure "$p")
	got=$({
		section "Downstream" <"$T/sheet.md" | links
		section "Impact of a breaking change" <"$T/sheet.md" | links
	} | sort -u)
	count=$(printf '%s\n' "$want" | grep -c .)
	if [ "$got" = "$want" ] && [ "$count" -gt 0 ] &&
		section "Impact of a breaking change" <"$T/sheet.md" | grep -q "affect $count product"; then
		pass "$p: the data sheet names all $count products a breaking change would affect"
	else
		fail "$p: the data sheet names every product a breaking change would affect" \
			"want: $(echo "$want" | tr '\n' ' ')" "got: $(echo "$got" | tr '\n' ' ')"
	fi
done
mfs product show merchandising/suppliers
check "a product three steps downstream is said to be so" \
	grep -q '^- \[analytics/daily_revenue\](.*), 3 steps away$' "$T/out"
mfs product show support/satisfaction
check "a product nobody reads has no downstream" \
	grep -q 'No other product reads this one' "$T/out"

# A cycle: each of two products lists the other as an input.
cycle_contract()
{
	cat <<EOF
apiVersion: v3.0.2
kind: DataContract
id: urn:meshfs:test:lab:$1
version: 1.0.0
domain: lab
dataProduct: $1
description:
  purpose: Half of a lineage cycle
schema:
  - name: readings
    physicalType: table
    properties:
      - name: reading_id
        logicalType: integer
        required: true
        unique: true
      - name: level
        logicalType: number
        quality:
          - type: library
            metric: nullValues
            mustBe: 0
            severity: warning
slaProperties:
  - property: frequency
    value: 1
    unit: d
customProperties:
  - property: inputs
    value: [lab/$2]
EOF
}
cycle_contract ping pong >"$T/ping.yaml"
cycle_contract pong ping >"$T/pong.yaml"
setup_step "domain create lab" domain create lab --owner central-analytics
setup_step "product create lab/ping (reads lab/pong)" product create lab/ping \
	--contract "$T/ping.yaml"
setup_step "product create lab/pong (reads lab/ping)" product create lab/pong \
	--contract "$T/pong.yaml"
mfs product show lab/ping
if [ "$RC" -eq 0 ] &&
	[ "$(section "Impact of a breaking change" <"$T/out" | grep -c 'affect the 1 product')" = 1 ] &&
	[ "$(section "Downstream" <"$T/out" | links)" = lab/pong ]; then
	pass "a lineage cycle ends: lab/ping's impact is lab/pong alone"
else
	fail "a lineage cycle ends: lab/ping's impact is lab/pong alone" "$(last_diag)"
fi

# ---- the data sheet ----

mfs product show customers/customers
cp "$T/out" "$T/customers.md"
purpose=$(awk '/^  purpose:/ { getline; sub(/^ +/, ""); print; exit }' \
	"$EXAMPLES/contracts/customers/customers.yaml")
sheet_has()
{
	grep -Eq -- "$1" "$T/customers.md"
}
check "the data sheet starts with the product and its purpose" \
	grep -qF -- "${purpose:0:40}" "$T/customers.md"
check "the data sheet names the owning team and its members" \
	sheet_has "owned by team \*\*customer-identity\*\* \(.*pkowalski"
owner=$(awk '/^team:/ { getline; sub(/.*username: */, ""); name = $0; getline
	sub(/.*role: */, ""); print name ", " $0; exit }' \
	"$EXAMPLES/contracts/customers/customers.yaml")
check "the data sheet names the contract's people with their roles" \
	grep -qF -- "**${owner%%,*}**,${owner#*,}" "$T/customers.md"
check "the data sheet gives columns with types and whether required" \
	sheet_has '^\| customer_id \| (string|integer) \| yes \|'
check "the data sheet marks PII columns and their masks" sheet_has '\| PII \(pii, masked as '
check "the data sheet gives the service level" sheet_has '^- Service level: a new version every '
check "the data sheet gives the freshness" sheet_has '^- Freshness: \*\*fresh\*\* \(last published '
check "the data sheet gives the quality of the latest version" \
	sheet_has '^## Quality of the latest version'
check "the data sheet says who published the latest version and its rows" \
	sheet_has "^- Version 2, published .* by $ME: [0-9]+ rows"
check "the data sheet lists the recent versions with who and rows" \
	sheet_has "^\| 1 \| [0-9T:Z-]+ \| $ME \| $ROWS \|"
mfs product show pricing/competitor_prices
check "a product never published says so" grep -q '^- Freshness: \*\*never\*\* published' \
	"$T/out"

# ---- freshness as time passes ----

mfs product list orders
version=$(row orders/orders 2 <"$T/out")
mfs log orders/orders
published=$(log_time "$version" "$T/out")
[ -n "$published" ] || bail_out "meshfs log gives the time of orders/orders version $version" \
	"$(last_diag)"
# orders/orders is due every hour
due=$((published + 3600))

MESHFS_NOW=$due mfs product list orders
check "product list: fresh until a whole SLA period has passed" \
	test "$(row orders/orders 4 <"$T/out")" = fresh
MESHFS_NOW=$((due + 1)) mfs product list orders
check "product list: stale past it" test "$(row orders/orders 4 <"$T/out")" = stale
MESHFS_NOW=$((due + 1)) mfs product show orders/orders
check "the data sheet says since when it is stale" grep -qF \
	"Freshness: **stale** since $(iso "$due") (last published $(iso "$published"))" "$T/out"
MESHFS_NOW=$((due + 1)) mfs product list hr
check "a weekly product is still fresh an hour later" \
	test "$(row hr/employees 4 <"$T/out")" = fresh
check "a product never published stays never" \
	test "$(MESHFS_NOW=$((due + 86400 * 365)) "$MESHFS" product list analytics |
		row analytics/customer_ltv 4)" = never

# ---- status ----

mfs status
if [ "$RC" -eq 1 ] && err_has '^meshfs: finance/fx_rates \(finance-data\): stale since ' &&
	err_has '^meshfs: hr/departments \(people-ops\): stale since ' &&
	err_has '^meshfs: pricing/competitor_prices .*never published' &&
	! err_has 'orders/orders'; then
	pass "status names the stale and overdue products and exits 1"
else
	fail "status names the stale and overdue products and exits 1" "$(last_diag)"
fi
check "status: one line on stderr per problem" \
	test "$(wc -l <"$T/err")" = "$(sed -n 's/^\([0-9]*\) problems\{0,1\}$/\1/p' "$T/out")"
check "status: a summary on stdout" grep -Eq '^[0-9]+ products: [0-9]+ fresh, 2 stale' "$T/out"

mfs status orders
check "status DOMAIN looks at that domain only" test "$RC" -eq 0 -a ! -s "$T/err"
mfs status nosuch
expect_one_line "status of an unknown domain fails" "no domain nosuch"
mfs status Bad/Name
expect_usage "status of an invalid domain name is a usage error"

# Everything published now: nothing left to report.
publish_all()
{
	local p=$1 f t
	f=$EXAMPLES/contracts/$p.yaml
	for t in $("$MESHFS_EXAMPLE_GEN" --tables "$f"); do
		"$MESHFS_EXAMPLE_GEN" "$f" "$t" "$ROWS" 9 | "$MESHFS" publish "$p/$t" - >/dev/null ||
			return 1
	done
}
for p in finance/fx_rates hr/departments pricing/competitor_prices analytics/customer_ltv; do
	check "publish $p now" publish_all "$p"
done
for p in lab/ping lab/pong; do
	printf 'reading_id,level\n1,0.5\n2,0.25\n' >"$T/readings.csv"
	setup_step "publish $p" publish "$p/readings" "$T/readings.csv"
done
mfs status
if [ "$RC" -eq 0 ] && [ ! -s "$T/err" ] && out_has '^ok$' && out_has ' 0 stale, 0 never'; then
	pass "status exits 0 when every product is fresh and no check failed"
else
	fail "status exits 0 when every product is fresh and no check failed" "$(last_diag)"
fi

MESHFS_NOW=$(($(date +%s) + 7200)) mfs status
if [ "$RC" -eq 1 ] && err_has '^meshfs: orders/orders \(order-management\): stale since ' &&
	! err_has 'hr/employees'; then
	pass "two hours later, status reports the hourly products stale"
else
	fail "two hours later, status reports the hourly products stale" "$(last_diag)"
fi

# A quality rule of severity warning that fails is published, and reported.
printf 'reading_id,level\n1,0.5\n2,\n' >"$T/readings.csv"
setup_step "publish lab/ping with a null level (a warning-only rule)" \
	publish lab/ping/readings "$T/readings.csv"
mfs status lab
if [ "$RC" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
	err_has '^meshfs: lab/ping \(central-analytics\): version 2 failed 1 quality rule of severity warning' &&
	out_has ' 1 latest version with failed warnings$'; then
	pass "status reports a latest version whose warning-only quality rules failed, and exits 1"
else
	fail "status reports a latest version whose warning-only quality rules failed, and exits 1" \
		"$(last_diag)"
fi
mfs product show lab/ping
check "the data sheet counts the warnings of the latest version" \
	grep -q '^- \*\*1 warning\*\*: quality rule of severity warning failed' "$T/out"

# ---- the mount: catalog.csv, lineage.dot, .search ----

why=$(fuse_unusable)
if [ -n "$why" ]; then
	skip "freshness, lineage.dot and .search in the mount" "$why"
else
	MNT=$T/mnt
	mkdir "$MNT"
	track_mount "$MNT"
	# the daemon's clock: two hours on
	MESHFS_NOW=$(($(date +%s) + 7200)) RUN_TIMEOUT=30 mfs mount "$MNT"
	[ "$RC" -eq 0 ] || bail_out "meshfs mount" "$(last_diag)"
	wait_for 10 mountpoint -q -- "$MNT" || bail_out "the mount point is mounted"
	pids=$(daemon_pids "$MNT")
	# shellcheck disable=SC2086 # one argument per pid
	track_daemon $pids
	timeout 60 cat "$MNT/catalog.csv" >"$T/catalog.csv"
	freshness()
	{
		awk -F, -v d="${1%/*}" -v p="${1#*/}" '$1 == d && $2 == p { print $NF }' \
			"$T/catalog.csv"
	}
	check "catalog.csv: an hourly product is stale two hours on" \
		test "$(freshness orders/orders)" = stale
	check "catalog.csv: a daily product is fresh two hours on" \
		test "$(freshness finance/fx_rates)" = fresh
	timeout 60 cat "$MNT/orders/orders/README.md" >"$T/mnt-orders.md"
	check "the mounted data sheet says since when it is stale" \
		grep -q '^- Freshness: \*\*stale\*\* since ' "$T/mnt-orders.md"

	lineage_dot()
	{
		timeout 60 cat "$MNT/lineage.dot" >"$T/lineage.dot" &&
			grep -q '^digraph mesh {' "$T/lineage.dot" &&
			grep -q 'subgraph "cluster_orders"' "$T/lineage.dot" &&
			grep -q '"orders/orders" -> "analytics/daily_revenue";' "$T/lineage.dot"
	}
	check "lineage.dot is the mesh's lineage as a Graphviz digraph" lineage_dot
	if command -v dot >/dev/null; then
		check "Graphviz reads lineage.dot" dot -Tsvg -o "$T/lineage.svg" "$T/lineage.dot"
	else
		skip "Graphviz reads lineage.dot" "dot (graphviz) is not installed"
	fi
	check "ls .search/TEXT lists the matching products as links to their directories" \
		search_links kpi analytics/daily_revenue

	fusermount3 -u -- "$MNT" 2>/dev/null
	wait_for 10 not_mounted "$MNT"
fi

check_no_crash
finish
