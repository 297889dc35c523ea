#!/usr/bin/env python3
"""Score secret scanners against the labelled set written by make.py (stdlib only).

usage: score.py LABELLED_DIR TOOL=FORMAT:REPORT [TOOL=FORMAT:REPORT ...]
  FORMAT is one of: lantern (lantern scan --format json --show-secrets),
  kingfisher (kingfisher scan --format json), detect-secrets (detect-secrets scan --all-files),
  jsonl (one {"path", "line", "rule", "secret"} object per line).
Prints a Markdown table: recall (planted secrets found), false positives (distinct reported
(file, line) pairs matching no planted secret), decoys reported, and the planted families each
tool missed. A planted secret counts as found when a finding in the same file carries the
secret (or a substring of >= 8 chars of it), its SHA-1 (detect-secrets), or, for tools that
report no secret text, the same line.
"""
import collections
import hashlib
import json
import os
import sys


def norm(path, corpus):
    path = path.split("!")[0]
    cand = os.path.abspath(path)
    if not os.path.exists(cand):
        cand = os.path.abspath(os.path.join(corpus, path))
    return os.path.relpath(cand, corpus)


def load(fmt, report, corpus):
    """Yield (file, line, secret_or_None, sha1_or_None, rule)."""
    text = open(report).read()
    if fmt == "jsonl":
        for l in text.splitlines():
            j = json.loads(l)
            yield norm(j["path"], corpus), j.get("line"), j.get("secret"), None, j.get("rule")
    elif fmt == "lantern":
        d = json.loads(text)
        for f in d.get("findings", []):
            for loc in f.get("locations", []):
                yield norm(loc["path"], corpus), loc.get("line"), f.get("secret"), None, f.get("rule_id")
    elif fmt == "kingfisher":
        first = text.lstrip().splitlines()[0] if text.strip() else "{}"
        try:
            d = json.loads(text)
        except json.JSONDecodeError:
            d = json.loads(first)
        for f in d.get("findings", []):
            fi = f.get("finding", {})
            yield norm(fi.get("path", ""), corpus), fi.get("line"), fi.get("snippet"), None, f.get("rule", {}).get("id")
    elif fmt == "detect-secrets":
        d = json.loads(text)
        for path, items in d.get("results", {}).items():
            for it in items:
                yield norm(path, corpus), it.get("line_number"), None, it.get("hashed_secret"), it.get("type")
    else:
        raise SystemExit(f"unknown format {fmt}")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    base = sys.argv[1]
    corpus = os.path.abspath(os.path.join(base, "corpus"))
    expected = [json.loads(l) for l in open(os.path.join(base, "expected.jsonl"))]
    decoys = [json.loads(l) for l in open(os.path.join(base, "decoys.jsonl"))]
    by_file = collections.defaultdict(list)
    for e in expected:
        e["sha1"] = hashlib.sha1(e["secret"].encode()).hexdigest()
        by_file[e["file"]].append(e)
    decoy_lines = {(d["file"], d["line"]) for d in decoys}
    rows = []
    for arg in sys.argv[2:]:
        tool, spec = arg.split("=", 1)
        fmt, report = spec.split(":", 1)
        found = set()
        fps = set()
        decoy_hits = set()
        for file, line, secret, sha1, rule in load(fmt, report, corpus):
            hit = False
            for e in by_file.get(file, []):
                if secret and (e["secret"] in secret or (len(secret) >= 8 and secret in e["secret"])):
                    hit = True
                elif sha1 and sha1 == e["sha1"]:
                    hit = True
                elif not secret and not sha1 and line == e["line"]:
                    hit = True
                if hit:
                    found.add((e["file"], e["secret"]))
                    break
            if not hit:
                fps.add((file, line))
                if (file, line) in decoy_lines:
                    decoy_hits.add((file, line))
        missed = collections.Counter(e["family"] for e in expected if (e["file"], e["secret"]) not in found)
        rows.append((tool, len(found), len(fps), len(decoy_hits), missed))
    n = len({(e["file"], e["secret"]) for e in expected})
    print(f"planted secrets: {n} ({len({e['family'] for e in expected})} families); decoys: {len(decoys)}\n")
    print("| tool | found | recall | false positives | decoys reported | families missed (count) |")
    print("|---|---|---|---|---|---|")
    for tool, f, fp, dh, missed in rows:
        miss = ", ".join(f"{k} ({v})" for k, v in sorted(missed.items())) or "none"
        print(f"| {tool} | {f} | {f / n:.1%} | {fp} | {dh} | {miss} |")


if __name__ == "__main__":
    main()
