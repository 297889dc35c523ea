"""Score bench/iac.sh: per tool, bad cases caught and good cases flagged, as a Markdown report.

usage: iac-score.py CORPUS LANTERN_JSON CHECKOV_JSON LANTERN_S CHECKOV_S CHECKOV_VERSION
                    MONO_FILES MONO_S MONO_FINDINGS CORES ARCH
"""
import datetime
import json
import os
import sys

SEVERE = {"low", "medium", "high", "critical"}


def cases(corpus):
    out = []
    for kind in ("bad", "good"):
        for name in sorted(os.listdir(os.path.join(corpus, kind))):
            out.append((kind, name))
    return out


def case_of(path):
    """(kind, case) of a path containing /bad/<case>/ or /good/<case>/."""
    parts = path.replace("\\", "/").split("/")
    for i, p in enumerate(parts[:-1]):
        if p in ("bad", "good") and i + 1 < len(parts) - 0:
            return (p, parts[i + 1])
    return None


def lantern_hits(path):
    report = json.load(open(path))
    hits = {}
    for f in report["findings"]:
        if f["severity"] not in SEVERE:
            continue
        for loc in f["locations"]:
            c = case_of(loc["path"])
            if c:
                hits.setdefault(c, set()).add(f["rule_id"])
    warnings = len(report.get("warnings", []))
    return hits, warnings


def checkov_hits(path):
    try:
        data = json.load(open(path))
    except (OSError, ValueError):
        return {}
    reports = data if isinstance(data, list) else [data]
    hits = {}
    for r in reports:
        if not isinstance(r, dict):
            continue
        for f in r.get("results", {}).get("failed_checks", []):
            c = case_of(f.get("file_abs_path") or f.get("file_path", ""))
            if c:
                hits.setdefault(c, set()).add(f["check_id"])
    return hits


def main():
    (corpus, lj, cj, ls, cs, cver, mfiles, ms, mfind, cores, arch) = sys.argv[1:12]
    all_cases = cases(corpus)
    bad = [c for c in all_cases if c[0] == "bad"]
    good = [c for c in all_cases if c[0] == "good"]
    lh, lwarn = lantern_hits(lj)
    ch = checkov_hits(cj)
    run_checkov = cver != "not run"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    p = print
    p("# `lantern scan --only iac` vs Checkov on AI-infrastructure misconfigurations\n")
    p(f"Run {now} on {cores} cores ({arch}), release build, by `bench/iac.sh`. The corpus is written by")
    p("`bench/iac-cases.sh`: our own cases, one directory per case, misconfigurations under `bad/` and")
    p("the near-miss correct configurations next to them under `good/`. A case is caught when a tool")
    p("reports at least one finding on it (Lantern: at `low` or above, so its `info` notice for a")
    p("public website bucket does not count); any finding on a `good/` case is a false alarm.")
    p("Checkov's generic checks (logging, replication, CMK...) count for it on `bad/` cases as well,")
    p("which flatters its catch count. Trivy was not run: no registry reachable here ships its binary.\n")
    p("| tool | bad cases caught | good cases flagged (false alarms) | wall time |")
    p("|---|---|---|---|")
    lc = sum(1 for c in bad if c in lh)
    lf = sum(1 for c in good if c in lh)
    p(f"| lantern {os.environ.get('LANTERN_VERSION', '')} | {lc}/{len(bad)} | {lf}/{len(good)} | {float(ls):.2f} s |")
    if run_checkov:
        cc = sum(1 for c in bad if c in ch)
        cf = sum(1 for c in good if c in ch)
        p(f"| checkov {cver} | {cc}/{len(bad)} | {cf}/{len(good)} | {float(cs):.2f} s |")
    p(f"\nLantern warnings (unparsed files): {lwarn}.\n")
    p(f"Monorepo: {mfiles} generated files (half Terraform modules with variables and locals, half")
    p(f"Kubernetes Deployment+Service pairs; 1 in 50 misconfigured): best of 3 runs **{float(ms):.2f} s**,")
    p(f"{mfind} findings (expected {int(mfiles) // 50}).\n")
    benign = os.environ.get("BENIGN_STATS", "").split()
    if len(benign) == 3:
        p(f"Real benign input (Ray 2.9.0 wheel, MLflow 2.16.0 and Gradio 4.44.0 sdists, the Checkov")
        p(f"venv; archives expanded): {benign[1]} files, **{benign[0]} findings**, {benign[2]} warnings")
        p("(files over the 4 MiB limit, reported rather than skipped silently).\n")
    p("## Per case\n")
    p("| case | lantern | checkov |")
    p("|---|---|---|")
    for c in all_cases:
        l = ", ".join(sorted(lh.get(c, []))) or "-"
        k = (", ".join(sorted(ch.get(c, []))) or "-") if run_checkov else "not run"
        p(f"| {c[0]}/{c[1]} | {l} | {k} |")
    p("\nCommand: `bench/iac.sh` (`--no-checkov` to skip the peer, `--files N` for the monorepo size).")


main()
