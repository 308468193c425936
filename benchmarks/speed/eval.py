#!/usr/bin/env python
"""How long `crisisbot eval` takes: first run (nothing cached) and second run (cache warm).

Issue target on 2 cores: realtimeqa-dev under 4 minutes on the first run and under 1 minute
with the embedding cache. Each run is the real command in a fresh process (model load and
imports included), against a fresh user data folder whose embedding cache starts empty; the
second run builds a new throwaway knowledge base, so only the cache is reused. Prints the
wall time and the metrics of each run (dated queries, then the same with --undated).

    .venv/bin/python -m benchmarks.speed.eval [--shared PATH] [--sets realtimeqa-dev cranfield]
        [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import PROJECT, add_shared_option, make_log, revision

log = make_log("eval-speed")


def run_eval(dataset: Path, data_dir: Path, *extra: str) -> tuple[float, dict[str, Any]]:
    env = dict(os.environ, CRISISBOT_DATA_DIR=str(data_dir))
    env.pop("CRISISBOT_CONFIG", None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot", "eval", str(dataset), "--json", *extra],
                          cwd=PROJECT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"crisisbot eval failed:\n{done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_shared_option(parser)
    parser.add_argument("--sets", nargs="+", default=["realtimeqa-dev", "cranfield"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for name in args.sets:
        dataset = args.shared / "eval" / name
        with tempfile.TemporaryDirectory(prefix="crisisbot-eval-speed-") as folder:
            data_dir = Path(folder) / "data"
            for label, extra in [("first run (empty cache)", ()), ("second run (cache warm)", ()),
                                 ("undated, cache warm", ("--undated",))]:
                log(f"{name}: {label}")
                seconds, result = run_eval(dataset, data_dir, *extra)
                rows.append({"set": name, "run": label, "seconds": round(seconds, 1),
                             **result["metrics"]})
                log(f"{name}: {label}: {seconds:.1f} s, nDCG@10 {result['metrics']['nDCG@10']}")
    if args.json:
        print(json.dumps({"revision": revision(), "cpus": os.cpu_count(), "rows": rows}, indent=2))
        return
    print(f"revision {revision()}, {os.cpu_count()} CPUs")
    names = [k for k in rows[0] if k not in ("set", "run", "seconds")]
    print(f"{'set':<16}{'run':<26}{'seconds':>9}" + "".join(f"{n:>12}" for n in names))
    for row in rows:
        print(f"{row['set']:<16}{row['run']:<26}{row['seconds']:>9.1f}"
              + "".join(f"{row.get(n, 0):>12.4f}" for n in names))


if __name__ == "__main__":
    main()
