#!/usr/bin/env python3
"""nsrelay.py NETNS READY_FILE PORT...: makes servers that listen on this namespace's 127.0.0.1
reachable at the same addresses from inside the network namespace NETNS (a path such as
/proc/PID/ns/net), as if the servers ran on a host of that network: for each PORT it listens on
127.0.0.1:PORT inside NETNS and forwards each connection, both ways, to 127.0.0.1:PORT here. A
socket keeps the namespace it was made in, so one process serves both sides. READY_FILE is written
once every port listens. SIGSTOP of this process plays a network that stops answering for that
namespace alone. It serves until it is killed, and at most an hour."""
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(listener, port):
    while True:
        inner, _ = listener.accept()
        try:
            outer = socket.create_connection(("127.0.0.1", port))
        except OSError:
            inner.close()
            continue
        for s in (inner, outer):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pump, args=(inner, outer), daemon=True).start()
        threading.Thread(target=pump, args=(outer, inner), daemon=True).start()


def main():
    netns, ready, ports = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(netns, os.O_RDONLY)
    # Only the calling thread changes namespace: every listener is made before any thread starts.
    setns(target)
    listeners = []
    for port in ports:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        listeners.append((s, port))
    setns(home)
    for s, port in listeners:
        threading.Thread(target=serve, args=(s, port), daemon=True).start()
    with open(ready + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(ready + ".tmp", ready)
    threading.Event().wait(3600)


if __name__ == "__main__":
    main()
