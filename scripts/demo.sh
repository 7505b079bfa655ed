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

cat <<EOT

The example mesh is mounted at $mnt (the mesh itself is in $mesh).
Try:
  cat $mnt/README.md                            what this mesh is
  column -s, -t < $mnt/catalog.csv | less -S    every product, owner, version, freshness
  ls $mnt/orders/orders                         a data product
  less $mnt/orders/orders/README.md             its data sheet
  head $mnt/users/customers/customers.csv       PII in plain text: you are a mesh admin
  ls -l $mnt/orders/orders/versions/            immutable versions; latest -> N
  getfattr -d $mnt/orders/orders/orders.csv     version, rows, publisher, hash, view
  export MESHFS_MESH=$mesh
  build/meshfs product list                     the same from the command line
  build/meshfs log orders/orders                who published what, when
Unmount with: fusermount3 -u $mnt
EOT
