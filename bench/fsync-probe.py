#!/usr/bin/env python3
"""CPU, wall time and voluntary context switches of one 8 KiB write + fdatasync: appended to a
file, written over a pre-written (zeroed) part of a file (no size or extent change), the same
with O_DIRECT, and with O_DIRECT|O_DSYNC instead of fdatasync. Run from a directory on the
filesystem the audit log lives on: python3 bench/fsync-probe.py [N]"""
import mmap
import os
import resource
import sys
import time


def run(kind, n, size=8192):
    path = "fsync-probe.bin"
    if os.path.exists(path):
        os.remove(path)
    flags = os.O_RDWR | os.O_CREAT
    if "direct" in kind:
        flags |= os.O_DIRECT
    if "dsync" in kind:
        flags |= os.O_DSYNC
    if kind != "append":
        fd0 = os.open(path, os.O_RDWR | os.O_CREAT)
        os.write(fd0, b"\0" * (n * size + 4096))
        os.fsync(fd0)
        os.close(fd0)
    fd = os.open(path, flags)
    buf = mmap.mmap(-1, size)  # page-aligned, as O_DIRECT needs
    buf.write(b"x" * size)
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.time()
    off = 0
    for _ in range(n):
        if kind == "append":
            os.write(fd, buf)
        else:
            os.pwritev(fd, [buf], off)
        off += size
        if "dsync" not in kind:
            os.fdatasync(fd)
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.time()
    os.close(fd)
    os.remove(path)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(
        f"{kind:16s} {1e6 * (t1 - t0) / n:5.0f} us wall, {1e6 * cpu / n:4.0f} us CPU, "
        f"{(r1.ru_nvcsw - r0.ru_nvcsw) / n:.1f} voluntary context switches per write"
    )


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for _ in range(2):
        for k in ("append", "overwrite", "direct", "direct+dsync", "overwrite+dsync"):
            run(k, n)
