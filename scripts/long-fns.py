#!/usr/bin/env python3
"""List Rust functions longer than a limit outside tests.

Usage: scripts/long-fns.py [--max N] [--fail] [ROOT]

Counts the lines from a `fn` item's signature to its closing brace, by
brace matching on source with strings, chars and comments blanked out.
Skips `tests/`, `benches/`, `fuzz/`, `examples/` folders and everything after
a `#[cfg(test)]` line in a file (our test modules sit at the end).
With --fail, exits 1 when any function exceeds the limit (used by .ci/test).
"""
import os, re, sys

def blank(src):
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j])); i = j
        elif c == "r" and re.match(r'r#*"', src[i:i+10]) and (i == 0 or not (src[i-1].isalnum() or src[i-1] == "_")):
            m = re.match(r'r(#*)"', src[i:])
            end = '"' + m.group(1)
            j = src.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", src[i:j])); i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", src[i:j])); i = j
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", src[i:])
            if m:
                out.append(" " * len(m.group(0))); i += len(m.group(0))
            else:
                out.append(c); i += 1
        else:
            out.append(c); i += 1
    return "".join(out)

FN = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)")

def long_fns(path, limit):
    src = open(path, encoding="utf-8", errors="replace").read()
    cut = src.find("#[cfg(test)]")
    if cut >= 0:
        src = src[:cut]
    b = blank(src)
    res = []
    for m in FN.finditer(b):
        k = m.end()
        while k < len(b) and b[k] not in "{;":
            k += 1
        if k >= len(b) or b[k] == ";":
            continue
        depth, j = 0, k
        while j < len(b):
            if b[j] == "{": depth += 1
            elif b[j] == "}":
                depth -= 1
                if depth == 0: break
            j += 1
        start = b.count("\n", 0, m.start()) + 1
        lines = b.count("\n", m.start(), j) + 1
        if lines > limit:
            res.append((lines, path, start, m.group(1)))
    return res

def main():
    args = sys.argv[1:]
    limit, fail, root = 150, False, "crates"
    while args:
        a = args.pop(0)
        if a == "--max": limit = int(args.pop(0))
        elif a == "--fail": fail = True
        else: root = a
    found = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in ("tests", "benches", "fuzz", "examples", "target"))
        for f in sorted(files):
            if f.endswith(".rs"):
                found += long_fns(os.path.join(d, f), limit)
    for lines, p, start, name in sorted(found, reverse=True):
        print(f"{lines:5} {p}:{start} {name}")
    print(f"{len(found)} function(s) over {limit} lines", file=sys.stderr)
    sys.exit(1 if fail and found else 0)

if __name__ == "__main__":
    main()
