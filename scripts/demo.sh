#!/usr/bin/env bash
# Installs what is missing, builds, creates the example mesh and mounts it, then shows what to
# try. Run it again to start over with a fresh example mesh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/deps.sh
scripts/build.sh >/dev/null

mesh="$root/example-mesh"
mnt="$root/mnt"
mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u "$mnt"
rm -rf "$mesh"
mkdir -p "$mnt"
MESHFS="$root/build/meshfs" MESHFS_EXAMPLE_GEN="$root/build/meshfs-example-gen" \
	examples/create-mesh.sh "$mesh"
build/meshfs mount -m "$mesh" "$mnt"

tour() { printf '  %-58s %s\n' "$1" "$2"; }
echo
echo "The example mesh is mounted at $mnt (the mesh itself is in $mesh). Try:"
tour "cat mnt/README.md" "what this mesh is"
tour "head mnt/catalog.csv" "every product, owner, version, freshness"
tour "ls -l mnt/orders/orders" "a data product"
tour "less mnt/orders/orders/README.md" "its data sheet"
tour "head -3 mnt/customers/customers/customers.csv" "PII in plain text: you are a mesh admin"
tour "ls -l mnt/orders/orders/versions" "immutable versions; latest -> N"
tour "getfattr -d mnt/orders/orders/orders.csv" "version, rows, publisher, hash, view"
tour "cp mnt/orders/orders/orders.csv /tmp/o.csv" "edit it, then copy it back:"
tour "cp /tmp/o.csv mnt/orders/orders/orders.csv" "a new version, if it passes the contract"
tour "cat mnt/orders/orders/publish.log" "your publish attempts and why any failed"
tour "build/meshfs -m example-mesh product list" "the same from the command line"
tour "build/meshfs -m example-mesh log orders/orders" "who published what, when"
echo "Unmount with: fusermount3 -u mnt"
