#!/usr/bin/env python3
"""CPU and wall time of one 8 KiB append + fdatasync, against an overwrite + fdatasync inside a
pre-zeroed file (no size or extent change, so ext4 needs no journal commit). Run from a directory
on the filesystem the audit log lives on: python3 bench/fsync-probe.py [N]"""
import os
import resource
import sys
import time


def run(prezeroed, n, size=8192):
    path = "fsync-probe.bin"
    if os.path.exists(path):
        os.remove(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    if prezeroed:
        os.write(fd, b"\0" * (n * size))
        os.fsync(fd)
        os.lseek(fd, 0, 0)
    data = b"x" * size
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.time()
    for _ in range(n):
        os.write(fd, data)
        os.fdatasync(fd)
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.time()
    os.close(fd)
    os.remove(path)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    kind = "overwrite in pre-zeroed file" if prezeroed else "append"
    print(f"{kind}: {1e6 * (t1 - t0) / n:.0f} us wall, {1e6 * cpu / n:.0f} us CPU per write + fdatasync")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for _ in range(2):
        run(False, n)
        run(True, n)
