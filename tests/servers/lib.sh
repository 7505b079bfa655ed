# shellcheck shell=bash
# Shared by pg.sh and swift.sh: error reporting, free ports, and processes recorded so that a later
# `stop` kills exactly what `start` started.

# Debian's interpreter, not whatever python3 comes first on PATH: Swift's modules are installed
# for it only.
PYTHON=/usr/bin/python3

# missing PACKAGE...: those of the Debian packages named that are not installed, one a line.
missing()
{
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
	done
}

die()
{
	echo "${0##*/}: $*" >&2
	exit 1
}

# plain_path PATH: refuse a path that would need quoting, since the env files a start writes are
# plain KEY=VALUE lines, for a shell to source and any test to read.
plain_path()
{
	[[ $1 =~ ^[A-Za-z0-9._/+-]+$ ]] || die "$1: use a path of letters, digits and ._/+- only"
}

# free_ports N: N distinct TCP ports on 127.0.0.1 that the kernel says are free now. All N sockets
# are held open until every port is known, so no two are the same; a server must still bind soon,
# before another program takes the port.
free_ports()
{
	"$PYTHON" - "$1" <<-'EOF'
		import socket, sys
		held = []
		for _ in range(int(sys.argv[1])):
		    s = socket.socket()
		    s.bind(("127.0.0.1", 0))
		    held.append(s)
		print(" ".join(str(s.getsockname()[1]) for s in held))
	EOF
}

# starttime PID: when the process began, in clock ticks since boot (field 22 of /proc/PID/stat);
# with the pid it names one process, even after the pid is reused.
starttime()
{
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	# Field 2 (the command) may hold spaces: count from after its closing parenthesis.
	stat=${stat##*) }
	# shellcheck disable=SC2086 # split into fields on purpose
	set -- $stat
	echo "${20}"
}

# record PIDFILE PID: note PID, with its start time, as one to kill at stop.
record()
{
	echo "$2 $(starttime "$2")" >>"$1"
}

# alive PID START: whether the process recorded as PID START still runs (a zombie does not).
alive()
{
	local state
	[ "$(starttime "$1")" = "$2" ] || return 1
	state=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$state" != Z ]
}

# kill_recorded PIDFILE: SIGTERM to each recorded process still running, SIGKILL to any left after
# two seconds; then PIDFILE is removed. Nothing here keeps data, so nothing waits longer.
kill_recorded()
{
	local pid start i left
	[ -f "$1" ] || return 0
	while read -r pid start; do
		alive "$pid" "$start" && kill -TERM "$pid" 2>/dev/null
	done <"$1"
	for ((i = 0; i < 20; i++)); do
		left=0
		while read -r pid start; do
			alive "$pid" "$start" && left=1
		done <"$1"
		[ "$left" -eq 0 ] && break
		sleep 0.1
	done
	while read -r pid start; do
		alive "$pid" "$start" && kill -KILL "$pid" 2>/dev/null
	done <"$1"
	rm -f "$1"
}

# random_secret: 32 hex digits from the kernel's random source.
random_secret()
{
	od -An -tx1 -N16 /dev/urandom | tr -d ' \n'
}
