#!/usr/bin/env python
"""`ask` latency of two checkouts on one knowledge base, run alternately: a paired comparison.

Two runs of `benchmarks.speed.scale` on this machine differ by up to a third in the same
code's embed time, so "within 2 ms of before" cannot be read off two separate runs. This
runs one configuration's job of a kept scale run (`python -m benchmarks.speed.scale --sizes
10000 --configs default --keep DIR`) again and again, from a checkout of each commit in turn
(ABBA order), on the same data folder and the same questions, and reports each run and the
paired differences (after minus before) of `ask` p50 (the first pass over the questions) and
compose p50 (the second pass, warm caches). Every child rebuilds its FAISS index at open, as
in the scale run.

Run from the project root (the "after" checkout; about 20 s per child on 2 cores):

    .venv/bin/python -m benchmarks.speed.paired --keep DIR --before CHECKOUT [--job 10000-default] [--rounds 8]

CHECKOUT is a work tree of the earlier commit (`git worktree add ../before 6f53158 --detach`);
it runs with this project's virtual environment. When the later commit changes the data
folder's files (the embedding cache's schema 2, which the earlier commit cannot read), copy
the folder before the later commit opens it and pass the copy as --before-data.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import PROJECT, make_log, revision

log = make_log("paired")
FIELDS = ("ask", "embed", "search", "compose")


def run_child(checkout: Path, job: dict[str, Any], path: Path) -> dict[str, Any]:
    """One child of `benchmarks.speed.scale_child` from `checkout`; its result."""
    for leftover in Path(job["data_dir"]).glob("passages.faiss*"):
        leftover.unlink()
    path.write_text(json.dumps(job), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISBOT_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(checkout),
               CRISISBOT_EMBEDDING_BACKEND="onnx", CRISISBOT_EMBEDDING_QUANTIZE="false",
               CRISISBOT_EMBEDDING_CACHE="true", CRISISBOT_LOAD_BUILTIN_KNOWLEDGE="false")
    done = subprocess.run([sys.executable, "-m", "benchmarks.speed.scale_child", str(path)], cwd=checkout,
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmarks.speed.paired: the child in {checkout} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(Path(job["out"]).read_text(encoding="utf-8"))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--keep", type=Path, required=True, help="the folder of a kept scale run")
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the earlier commit")
    parser.add_argument("--job", default="10000-default", help="which job of the scale run (default: 10000-default)")
    parser.add_argument("--rounds", type=int, default=8, help="pairs of runs (default: 8)")
    parser.add_argument("--before-data", type=Path, metavar="FOLDER",
                        help="the earlier commit's own copy of the job's data folder, when the later one "
                        "changed its files (copy it before the later commit opens it)")
    args = parser.parse_args()
    job_file = args.keep / "jobs" / f"{args.job}.json"
    if not job_file.is_file():
        parser.error(f"{job_file}: no such job; run benchmarks.speed.scale with --keep first")
    if not (args.before / "bot").is_dir():
        parser.error(f"{args.before}: not a checkout of this project")
    job = json.loads(job_file.read_text(encoding="utf-8"))
    checkouts = {"before": args.before.resolve(), "after": PROJECT}
    data = {"before": str(args.before_data or job["data_dir"]), "after": job["data_dir"]}
    rows: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for round_ in range(args.rounds):
        for name in (("before", "after") if round_ % 2 == 0 else ("after", "before")):
            out = args.keep / "jobs" / f"paired-{name}-{round_}.out.json"
            result = run_child(checkouts[name], {**job, "out": str(out), "data_dir": data[name]},
                               out.with_suffix("").with_suffix(".json"))
            queries = result["queries"]
            row = {f: float(queries[f]["p50_ms"]) for f in FIELDS}
            row["rss"] = float(result.get("serving_peak_rss_mb") or 0)
            rows[name].append(row)
            log(f"round {round_ + 1}/{args.rounds}, {name}: ask p50 {row['ask']:.2f} ms, compose p50 {row['compose']:.2f} ms")
    print(f"after: {revision()} ({PROJECT}); before: {checkouts['before']}; job {args.job}; {args.rounds} rounds\n")
    print("| round | before ask p50 | after ask p50 | difference | before compose p50 | after compose p50 | difference |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, (b, a) in enumerate(zip(rows["before"], rows["after"]), start=1):
        print(f"| {n} | {b['ask']:.2f} | {a['ask']:.2f} | {a['ask'] - b['ask']:+.2f} "
              f"| {b['compose']:.2f} | {a['compose']:.2f} | {a['compose'] - b['compose']:+.2f} |")
    for field in ("ask", "compose", "embed", "rss"):
        differences = [a[field] - b[field] for b, a in zip(rows["before"], rows["after"])]
        print(f"\n{field}: median difference {statistics.median(differences):+.2f} "
              f"(from {min(differences):+.2f} to {max(differences):+.2f})", end="")
    print()


if __name__ == "__main__":
    main()
