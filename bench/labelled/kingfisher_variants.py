#!/usr/bin/env python3
"""Coverage check against Kingfisher's own rules (stdlib only).

1. `gen RULES_JSON OUTDIR`: for every rule in `kingfisher rules list --format json`, write up to
   four random strings matching its pattern (one file each), built by walking the pattern with
   Python's regex parser (random repeat counts and alternatives, random characters from each
   class). Rules whose pattern Python cannot parse are listed on stderr.
2. `compare KINGFISHER_JSON LANTERN_JSONL`: for every Kingfisher finding on those files, check
   that Lantern reported a secret in the same file that contains, or is contained in (>= 8
   chars), Kingfisher's snippet; print totals and the unmatched Kingfisher rules.
"""
import collections
import json
import os
import random
import re
import shutil
import sys

try:
    import re._parser as P
    import re._constants as C
except ImportError:  # Python < 3.11
    import sre_parse as P
    import sre_constants as C

R = random.Random(4242)
ALNUM = [chr(c) for c in range(0x30, 0x3A)] + [chr(c) for c in range(0x41, 0x5B)] + [chr(c) for c in range(0x61, 0x7B)]
PRINT = [chr(c) for c in range(0x21, 0x7F)]


def in_class(items, ch):
    neg, hit = False, False
    o = ord(ch)
    for op, av in items:
        if op == C.NEGATE:
            neg = True
        elif op == C.LITERAL:
            hit |= av == o
        elif op == C.RANGE:
            hit |= av[0] <= o <= av[1]
        elif op == C.CATEGORY:
            word = ch.isalnum() or ch == "_"
            hit |= {C.CATEGORY_DIGIT: ch.isdigit(), C.CATEGORY_NOT_DIGIT: not ch.isdigit(),
                    C.CATEGORY_SPACE: ch.isspace(), C.CATEGORY_NOT_SPACE: not ch.isspace(),
                    C.CATEGORY_WORD: word, C.CATEGORY_NOT_WORD: not word}.get(av, False)
    return hit != neg


def pick(items):
    for pool in (ALNUM, PRINT):
        cands = [c for c in pool if in_class(items, c)]
        if cands:
            return R.choice(cands)
    return " "


def gen(seq, secret_group, rnd, in_secret=False):
    out = []
    for op, av in seq:
        if op == C.LITERAL:
            out.append(chr(av))
        elif op == C.NOT_LITERAL:
            out.append(pick([(C.NEGATE, None), (C.LITERAL, av)]))
        elif op == C.ANY:
            out.append(R.choice(ALNUM))
        elif op == C.IN:
            out.append(pick(av))
        elif op == C.CATEGORY:
            out.append(pick([(C.CATEGORY, av)]))
        elif op == C.BRANCH:
            alts = av[1]
            out.append(gen(R.choice(alts) if rnd else alts[0], secret_group, rnd, in_secret))
        elif op == C.SUBPATTERN:
            out.append(gen(av[3], secret_group, rnd, in_secret or av[0] == secret_group))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            hi = min(hi, 10 ** 6)
            simple = len(sub) == 1 and sub[0][0] in (C.IN, C.LITERAL, C.ANY, C.CATEGORY, C.NOT_LITERAL)
            if in_secret and simple:
                n = lo if lo >= 16 else min(max(lo, 32), hi)
            else:
                n = R.randint(lo, min(hi, lo + 2)) if rnd else lo
            out.extend(gen(sub, secret_group, rnd, in_secret) for _ in range(n))
        elif op == getattr(C, "ATOMIC_GROUP", None):
            out.append(gen(av, secret_group, rnd, in_secret))
    return "".join(out)


def pyre(p):
    p = p.replace("\\z", "\\Z").replace("[[:alnum:]]", "[A-Za-z0-9]")
    if "(?i)" in p[1:]:
        p = "(?i)" + p.replace("(?i)", "")
    return p


def cmd_gen(rules_json, outdir):
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    n = 0
    for rule in json.load(open(rules_json)):
        try:
            parsed = P.parse(pyre(rule["pattern"]))
            cre = re.compile(pyre(rule["pattern"]))
        except Exception as e:  # noqa: BLE001 - report and go on
            print(f"skip {rule['id']}: {e}", file=sys.stderr)
            continue
        sg = 1 if cre.groups else None
        made = 0
        for attempt in range(40):
            try:
                s = gen(list(parsed), sg, attempt % 2 == 1)
            except Exception as e:  # noqa: BLE001
                print(f"skip {rule['id']}: {e}", file=sys.stderr)
                break
            if not cre.search(s):
                continue
            wrap = R.choice(["{s}", 'value = "{s}"\n', "x: {s}\n", "export {s}\n"])
            name = rule["id"].replace("/", "_")
            with open(os.path.join(outdir, f"{name}.{made}.txt"), "w") as f:
                f.write(wrap.format(s=s))
            made += 1
            n += 1
            if made >= 4:
                break
    print(f"{n} files in {outdir}")


def cmd_compare(kf_json, lantern_jsonl):
    d, _ = json.JSONDecoder().raw_decode(open(kf_json).read())
    kf = [(os.path.abspath(f["finding"]["path"]), f["finding"]["snippet"], f["rule"]["id"]) for f in d["findings"]]
    ls = collections.defaultdict(list)
    for line in open(lantern_jsonl):
        j = json.loads(line)
        ls[os.path.abspath(j["path"])].append(j.get("secret") or "")
    miss = collections.Counter()
    example = {}
    for path, snip, rid in kf:
        if not any(snip and (snip in x or (len(x) >= 8 and x in snip)) for x in ls.get(path, [])):
            miss[rid] += 1
            example[rid] = snip[:60].replace("\n", " ")
    print(f"kingfisher findings: {len(kf)}; also found by lantern: {len(kf) - sum(miss.values())}; "
          f"not found: {sum(miss.values())} ({len(miss)} kingfisher rules)")
    for rid, c in miss.most_common():
        print(f"- {rid}: {c} (e.g. `{example[rid]}`)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "gen":
        cmd_gen(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        cmd_compare(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
