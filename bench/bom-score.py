"""Score a `lantern bom` CycloneDX document against a hand-checked expected component list.

Usage: python3 bench/bom-score.py EXPECTED.tsv BOM.cdx.json  -> one JSON line of counts.

Expected lists (bench/bom-expected/<project>.tsv), one component a line, tab-separated:
    <kind> <id> <scope>
kind: library | model | data, or `absent` for an id that must not be a component (placeholders,
test fixtures named as text, hosted-API mistypings); id: the package name (libraries), the hub
id `org/name`, or `<host>/<file>` for weights by URL; scope: for libraries the CycloneDX scope
(required | optional | excluded), for models and data lantern:scope (runtime | example | docs
| test), or `any`. A `# complete: library model data` line says which kinds are listed in full:
components of those kinds lantern lists beyond the expected ones count as extras (false
components); other kinds are scored only on the listed entries.
"""
import json
import re
import sys

KINDS = {"library": "library", "machine-learning-model": "model", "data": "data"}


def norm(s):
    return re.sub(r"[-_.]+", "-", s.lower())


def ident(c):
    if c.get("type") == "library":
        return norm(c.get("name", ""))
    return norm((c.get("group", "") + "/" + c.get("name", "")).strip("/"))


def props(c):
    return {p["name"]: p["value"] for p in c.get("properties", [])}


def main(expected_path, bom_path):
    expected, absent, complete = {}, set(), set()
    for line in open(expected_path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("# complete:"):
            complete = set(line.split(":", 1)[1].split())
            continue
        if not line.strip() or line.startswith("#"):
            continue
        kind, cid, *rest = line.split("\t")
        if kind == "absent":
            absent.add(norm(cid))
        else:
            expected[(norm(cid))] = (kind, rest[0] if rest else "any")
    bom = json.load(open(bom_path, encoding="utf-8"))
    found = {}
    for c in bom.get("components", []):
        kind = KINDS.get(c.get("type"))
        if kind:
            p = props(c)
            scope = c.get("scope", "required") if kind == "library" else p.get("lantern:scope")
            found.setdefault(ident(c), []).append((kind, scope))
    score = {"expected": len(expected), "found": 0, "missed": [], "wrong_type": [],
             "wrong_scope": [], "placeholders": [], "extras": []}
    for cid, (kind, scope) in sorted(expected.items()):
        got = found.get(cid)
        if not got:
            score["missed"].append(cid)
            continue
        kinds = {k for k, _ in got}
        if kind not in kinds:
            score["wrong_type"].append(f"{cid} ({'/'.join(sorted(kinds))}, expected {kind})")
            continue
        score["found"] += 1
        scopes = {s for k, s in got if k == kind}
        if scope != "any" and scope not in scopes:
            score["wrong_scope"].append(f"{cid} ({'/'.join(sorted(map(str, scopes)))}, expected {scope})")
    for cid in sorted(absent):
        if cid in found:
            score["placeholders"].append(cid)
    for cid, got in sorted(found.items()):
        if cid not in expected and cid not in absent and any(k in complete for k, _ in got):
            score["extras"].append(cid)
    print(json.dumps(score))


if __name__ == "__main__":
    main(*sys.argv[1:3])
