#!/usr/bin/env bash
# swift.sh start DIR | stop DIR
#
# A single-node OpenStack Swift kept whole in DIR, as an S3 store: account, container and object
# servers, and a proxy with the s3api and tempauth middlewares, each a single process bound to
# 127.0.0.1 at a free port, with a memcached (tempauth keeps its state there and refuses to run
# without one). Start prints the settings a test needs and writes them to DIR/env; stop kills the
# processes recorded in DIR/pids.
#
# Swift 2.30 reads its hash path prefix/suffix and storage policies from /etc/swift/swift.conf
# whatever the servers' swift_dir says (only swift-recon can be pointed elsewhere). So each server
# runs in a mount namespace of its own where DIR/etc is bind-mounted over /etc/swift: it sees
# DIR's swift.conf, and the host's /etc/swift is neither read nor touched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/servers/lib.sh
. "$here/lib.sh"

REGION=us-east-1
# The s3api documentation's tempauth user: access key "account:user", secret its key.
ACCESS_KEY=test:tester
SECRET_KEY=testing
# In the same account but not its admin: signs correctly yet may not touch the admin's buckets.
OTHER_ACCESS_KEY=test:reader
OTHER_SECRET_KEY=reading

usage()
{
	echo "usage: ${0##*/} start DIR | stop DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
mkdir -p "$2"
dir=$(cd "$2" && pwd)
plain_path "$dir"

# As root, memcached runs as its package's user and the servers as the package's swift user (a
# single-process Swift server never drops privileges itself: only forked workers do), and a mount
# namespace is ours to make. Otherwise an unprivileged user namespace, in which the caller is root,
# makes the mount namespace, and everything keeps the caller's identity.
if [ "$(id -u)" -eq 0 ]; then
	memcached_user=(-u memcache)
	namespace=(unshare --mount --propagation private)
	as_swift=(setpriv --reuid=swift --regid=swift --init-groups)
else
	memcached_user=()
	namespace=(unshare --map-root-user --mount --propagation private)
	as_swift=()
fi

# conf_common PORT: the [DEFAULT] section every server shares.
conf_common()
{
	cat <<-EOF
		[DEFAULT]
		bind_ip = 127.0.0.1
		bind_port = $1
		# One process per server: no worker to outlive the pid that stop kills.
		workers = 0
		swift_dir = $dir/etc
		devices = $dir/srv
		# A plain directory, not a mount point.
		mount_check = false
		recon_cache_path = $dir/cache
		# Logs go to the console (-v), so to DIR/log; the syslog copy to a port nobody listens on,
		# rather than into the host's system log.
		log_udp_host = 127.0.0.1
		log_udp_port = 9
	EOF
}

write_configs()
{
	local proxy=$1 account=$2 container=$3 object=$4 memcached=$5
	cat >"$dir/etc/swift.conf" <<-EOF
		[swift-hash]
		swift_hash_path_prefix = $(random_secret)
		swift_hash_path_suffix = $(random_secret)

		[storage-policy:0]
		name = Policy-0
		default = yes
	EOF
	for server in account container; do
		local port=$account
		[ "$server" = account ] || port=$container
		{
			conf_common "$port"
			cat <<-EOF

				[pipeline:main]
				pipeline = $server-server

				[app:$server-server]
				use = egg:swift#$server
			EOF
		} >"$dir/etc/$server-server.conf"
	done
	{
		conf_common "$object"
		cat <<-EOF

			[pipeline:main]
			pipeline = object-server

			[app:object-server]
			use = egg:swift#object
			# The test disk may be small or nearly full: no space kept back, none reserved ahead.
			fallocate_reserve = 0
			disable_fallocate = true
		EOF
	} >"$dir/etc/object-server.conf"
	{
		conf_common "$proxy"
		cat <<-EOF

			[pipeline:main]
			# The s3api documentation's order, less what S3 clients here do not use. slo is what
			# multipart uploads are made of; copy serves UploadPartCopy and CopyObject; the proxy
			# would insert dlo and versioned_writes itself if they were missing.
			pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server

			[app:proxy-server]
			use = egg:swift#proxy
			# A tempauth account comes into being on its first write.
			account_autocreate = true

			[filter:s3api]
			use = egg:swift#s3api
			location = $REGION
			# min_segment_size (the smallest part but the last) stays S3's 5 MiB, so that clients
			# are held to what a real S3 store holds them to.

			[filter:tempauth]
			use = egg:swift#tempauth
			user_${ACCESS_KEY%%:*}_${ACCESS_KEY#*:} = $SECRET_KEY .admin
			user_${OTHER_ACCESS_KEY%%:*}_${OTHER_ACCESS_KEY#*:} = $OTHER_SECRET_KEY

			[filter:cache]
			use = egg:swift#memcache
			memcache_servers = 127.0.0.1:$memcached

			[filter:catch_errors]
			use = egg:swift#catch_errors

			[filter:gatekeeper]
			use = egg:swift#gatekeeper

			[filter:healthcheck]
			use = egg:swift#healthcheck

			[filter:proxy-logging]
			use = egg:swift#proxy_logging

			[filter:listing_formats]
			use = egg:swift#listing_formats

			[filter:copy]
			use = egg:swift#copy

			[filter:slo]
			use = egg:swift#slo

			[filter:dlo]
			use = egg:swift#dlo

			[filter:versioned_writes]
			use = egg:swift#versioned_writes
		EOF
	} >"$dir/etc/proxy-server.conf"
}

# build_rings ACCOUNT CONTAINER OBJECT: one ring per kind, 1 replica on device d0 of the server at
# that port. Through the library in one process: swift-ring-builder takes about a second per call,
# nine calls in all.
build_rings()
{
	"$PYTHON" - "$dir/etc" "$@" <<-'EOF'
		import sys
		from swift.common.ring import RingBuilder
		etc, ports = sys.argv[1], sys.argv[2:]
		for name, port in zip(("account", "container", "object"), ports):
		    # 2^4 partitions, 1 replica, parts movable after 1 hour (never, here).
		    builder = RingBuilder(4, 1, 1)
		    builder.add_dev({"region": 1, "zone": 1, "ip": "127.0.0.1",
		                     "port": int(port), "device": "d0", "weight": 1})
		    builder.rebalance()
		    builder.get_ring().save("%s/%s.ring.gz" % (etc, name))
	EOF
}

# Swift keeps an object's metadata in extended attributes of its file.
check_xattrs()
{
	"$PYTHON" - "$dir/srv/d0" <<-'EOF' || die "$dir/srv/d0: no user extended attributes on this filesystem; Swift's object server needs them (point TMPDIR elsewhere)"
		import os, sys
		probe = os.path.join(sys.argv[1], ".xattr-probe")
		open(probe, "w").close()
		try:
		    os.setxattr(probe, "user.swift.probe", b"1")
		finally:
		    os.unlink(probe)
	EOF
}

# launch NAME COMMAND...: COMMAND in the background, with its log in DIR/log/NAME.log, recorded for
# stop. Not on the caller's output: `$(swift.sh start DIR)` returns without waiting for the servers.
launch()
{
	local name=$1
	shift
	"$@" </dev/null >"$dir/log/$name.log" 2>&1 &
	record "$dir/pids" $!
}

# swift_server NAME: a Swift server in a mount namespace where DIR/etc is /etc/swift.
swift_server()
{
	# shellcheck disable=SC2016 # expanded by the inner shell
	launch "$1" "${namespace[@]}" sh -c 'mount --bind "$1" /etc/swift && shift && exec "$@"' sh \
		"$dir/etc" "${as_swift[@]}" "swift-$1" "$dir/etc/$1.conf" -v
}

# listening PORT: whether something accepts connections on 127.0.0.1:PORT. Through bash rather
# than curl: this runs every tenth of a second while the servers still need the CPU.
listening()
{
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start()
{
	local t0 elapsed proxy account container object memcached server port i
	t0=$(date +%s%N)
	[ ! -e "$dir/pids" ] || die "$dir/pids exists: stop it and use an empty DIR"
	mkdir -p "$dir/etc" "$dir/srv/d0" "$dir/cache" "$dir/log"
	[ "$(id -u)" -ne 0 ] || chown -R swift: "$dir/srv" "$dir/cache"
	check_xattrs
	read -r proxy account container object memcached <<<"$(free_ports 5)"
	write_configs "$proxy" "$account" "$container" "$object" "$memcached"
	build_rings "$account" "$container" "$object"

	# The servers resolve no names (all is 127.0.0.1): without eventlet's green DNS resolver each
	# starts a third faster.
	export EVENTLET_NO_GREENDNS=yes
	# -U 0: no UDP listener.
	launch memcached memcached -l 127.0.0.1 -p "$memcached" -U 0 -m 64 "${memcached_user[@]}"
	for server in account-server container-server object-server proxy-server; do
		swift_server "$server"
	done

	# Each server takes about a second to import Swift; wait for all of them, and give up early
	# if one died.
	for ((i = 0; i < 300; i++)); do
		local ready=1
		for port in "$account" "$container" "$object" "$proxy"; do
			listening "$port" || ready=0
		done
		[ "$ready" -eq 1 ] && curl -sf --max-time 1 "http://127.0.0.1:$proxy/healthcheck" \
			>/dev/null && break
		local pid st
		while read -r pid st; do
			alive "$pid" "$st" || {
				tail -n 20 "$dir"/log/*.log >&2
				stop
				die "a server exited during start"
			}
		done <"$dir/pids"
		sleep 0.1
	done
	[ "$i" -lt 300 ] || {
		tail -n 20 "$dir"/log/*.log >&2
		stop
		die "the servers did not answer within 30 s"
	}

	cat >"$dir/env" <<-EOF
		MESHFS_S3_ENDPOINT=http://127.0.0.1:$proxy
		AWS_ENDPOINT_URL=http://127.0.0.1:$proxy
		AWS_REGION=$REGION
		AWS_ACCESS_KEY_ID=$ACCESS_KEY
		AWS_SECRET_ACCESS_KEY=$SECRET_KEY
		MESHFS_S3_OTHER_ACCESS_KEY_ID=$OTHER_ACCESS_KEY
		MESHFS_S3_OTHER_SECRET_ACCESS_KEY=$OTHER_SECRET_KEY
	EOF
	cat "$dir/env"
	elapsed=$((($(date +%s%N) - t0) / 1000000))
	echo "swift.sh: started in $elapsed ms" >&2
}

stop()
{
	kill_recorded "$dir/pids"
}

case $1 in
start) start ;;
stop) stop ;;
*) usage ;;
esac
