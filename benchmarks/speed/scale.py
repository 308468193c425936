#!/usr/bin/env python
"""Speed benchmark: ingest rate, end-to-end `ask` latency, recall and peak memory, side by side
for each embedding backend, vector index, vector storage and knowledge backend, at 10k, 100k
and 1M passages, with the naive baseline (torch + exact float32 flat index) in the same run.

One run:

1. ingests the real corpus (../shared/corpus, publication order, up to ~10k passages) through
   `CrisisBot.read` / `CrisisBot.ingest` into a fresh data folder (cold embedding cache) once
   per embedding backend used (torch, ONNX fp32, ONNX int8): passages/s, model load apart;
   then embeds the answer sentences (`CrisisBot.embed_answer_sentences`, timed apart). The
   ONNX fp32 folder becomes the real knowledge base, and embeds the questions for recall;
2. grows each larger size from the previous one with jittered copies of the real documents
   (scale_data) and computes the exact top 10 of every question over it;
3. runs every configuration at each size in a subprocess of its own (scale_child; its peak
   RSS, VmHWM, is its own), after deleting the FAISS file so that it builds its index from the
   stored vectors at open (timed, the IVF background build waited for): 4 warm-up questions,
   then `CrisisBot.ask` over N distinct questions (titles of real documents, realtimeqa-dev
   questions) and a second pass split into embed / search / compose (benchmarks.speed.core); then recall@10
   of its vector index against the exact top 10;
4. PostgreSQL (pgvector HNSW + tsvector; a pgserver PostgreSQL 16 started here) gets each size
   with `copy_from_sqlite`, the HNSW index built after the load (timed); 1M only with
   --postgres-1m (the HNSW build alone takes ~10 minutes).

Configurations (--configs): naive-cold (the baseline: torch, exact float32, no sentence cache),
default (every setting at its default: ONNX, exact below 200k passages and IVF above, vectors
float32 up to 50k and sq8 above), naive (torch, exact float32, warm sentences), onnx, int8,
f16 and sq8 (exact, ONNX fp32 unless int8), ivf, ivf-sq8, int8-ivf-sq8 (+ -cold at 10k), pg.
"Warm" sentences: the composer's sentence vectors are in the embedding cache; "cold": no
embedding cache, each answer embeds its sentences. By default 1M runs only the baseline, the
defaults, sq8 and the IVF configurations, so that the run stays under an hour on 2 cores;
named with --configs, a configuration runs at every size.

Run from the project root (about 30 minutes on a quiet 2-core machine; an estimate and the
progress go to stderr, the tables to stdout and to benchmarks/results/speed.md):

    .venv/bin/python -m benchmarks.speed.scale [--sizes 10000 100000 1000000] [--configs NAME ...]
        [--questions 220] [--postgres-1m] [--keep DIR] [--shared PATH] [--out FILE] [--json]

Data folders go to a temporary folder removed at the end (1M passages are ~3.5 GB of SQLite),
unless --keep DIR. Shared data is read in place, never copied into the project.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (PROJECT, CpuWatch, add_shared_option, data_folders, finite, make_log, postgres,
                               revision)
from benchmarks.speed.scale_data import RealBase, clone_database, drop_database, exact_top10, grow, load_postgres
from benchmarks.speed.scale_report import ask_table, render

log = make_log("speed")

DIMENSION = 384
BASE_PASSAGES = 10_000
IVF_ABOVE = 1_000  # approximate_index_above for the IVF configurations: below every size
PG_WORK_MEM = "4GB"  # maintenance_work_mem: the 1M HNSW graph is built in memory
ALL_SIZES = (10_000, 100_000, 1_000_000)


@dataclass(frozen=True)
class Config:
    """One row of the table: how the bot embeds, stores and searches."""

    name: str
    embedding: str  # "torch", "onnx" (fp32) or "int8" (ONNX int8)
    index: str  # "exact" or "ivf" (FAISS), "hnsw" (pgvector), "default" (the setting's default)
    storage: str = "float32"  # CRISISBOT_VECTOR_STORAGE: float32, float16, sq8 or auto (default)
    sentences: str = "warm"
    sizes: tuple[int, ...] = ALL_SIZES  # where it runs by default

    @property
    def postgres(self) -> bool:
        return self.index == "hnsw"

    @property
    def label(self) -> str:
        backend = "PostgreSQL pgvector" if self.postgres else "FAISS"
        index = "index and storage by size" if self.index == "default" else f"{self.index} {self.storage}"
        return f"{self.name}: {self.embedding}, {backend} {index}, {self.sentences} sentences"

    def env(self) -> dict[str, str]:
        """The settings this row names; "default" and "auto" leave the bot's defaults alone."""
        env = {
            "CRISISBOT_EMBEDDING_BACKEND": "torch" if self.embedding == "torch" else "onnx",
            "CRISISBOT_EMBEDDING_QUANTIZE": "true" if self.embedding == "int8" else "false",
            "CRISISBOT_EMBEDDING_CACHE": "true" if self.sentences == "warm" else "false",
            "CRISISBOT_LOAD_BUILTIN_KNOWLEDGE": "false",
        }
        if self.index != "default":
            env["CRISISBOT_APPROXIMATE_INDEX_ABOVE"] = str(IVF_ABOVE if self.index == "ivf" else 0)
        if self.storage != "auto":
            env["CRISISBOT_VECTOR_STORAGE"] = self.storage
        return env


SMALL = (10_000, 100_000)
CONFIGS = [  # 1M: only the baseline and what may reach the targets there (the run stays under an hour)
    Config("naive-cold", "torch", "exact", sentences="cold"),
    Config("default", "onnx", "default", "auto"),  # what `crisisbot` does unconfigured
    Config("naive", "torch", "exact", sizes=SMALL),
    Config("onnx", "onnx", "exact", sizes=SMALL),
    Config("int8", "int8", "exact", sizes=SMALL),
    Config("f16", "onnx", "exact", "float16", sizes=SMALL),
    Config("sq8", "onnx", "exact", "sq8"),
    Config("ivf", "onnx", "ivf"),
    Config("ivf-sq8", "onnx", "ivf", "sq8"),
    Config("int8-ivf-sq8", "int8", "ivf", "sq8"),
    Config("int8-ivf-sq8-cold", "int8", "ivf", "sq8", "cold", sizes=(10_000,)),
    Config("pg", "onnx", "hnsw", sizes=SMALL),
]
BY_NAME = {c.name: c for c in CONFIGS}
INGEST_RATE = {"torch": 47.0, "onnx": 65.0, "int8": 80.0}  # passages/s, for the estimate only


# -- the parent: plan, data, one subprocess per measurement ---------------------------------


class Progress:
    """Steps with estimated durations; logs where the run is and how long is left."""

    def __init__(self, estimates: list[tuple[str, float]]) -> None:
        self.estimates = dict(estimates)
        self.started = time.perf_counter()
        self.done: dict[str, float] = {}
        total = sum(self.estimates.values())
        log(f"{len(estimates)} steps, estimated {total / 60:.0f} min on an idle 2-core machine")

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        left = sum(v for k, v in self.estimates.items() if k not in self.done)
        ran = sum(self.estimates[k] for k in self.done)
        pace = (sum(self.done.values()) / ran) if ran else 1.0
        elapsed = (time.perf_counter() - self.started) / 60
        log(f"step {len(self.done) + 1}/{len(self.estimates)}: {name} "
            f"({elapsed:.1f} min elapsed, ~{left * pace / 60:.0f} min left)")
        started = time.perf_counter()
        yield
        self.done[name] = time.perf_counter() - started


def run_child(root: Path, name: str, job: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Run one job in `python -m benchmarks.speed.scale_child JOB`; its JSON result, or {"error": ...}."""
    jobs = root / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    job_path, out = jobs / f"{name}.json", jobs / f"{name}.out.json"
    job["out"] = str(out)
    job_path.write_text(json.dumps(job), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRISISBOT_")}
    watch = CpuWatch()
    done = subprocess.run([sys.executable, "-m", "benchmarks.speed.scale_child", str(job_path)],
                          cwd=PROJECT, env={**clean, **env}, stdout=sys.stderr, check=False)
    cpu = watch.stop()
    if done.returncode != 0 or not out.is_file():
        log(f"{name}: FAILED (exit {done.returncode})")
        return {"error": f"exit {done.returncode}", "cpu_watch": cpu}
    return {**json.loads(out.read_text()), "cpu_watch": cpu}


def plan(args: argparse.Namespace) -> dict[int, list[Config]]:
    """Configurations per size: the named ones at every size, else each at its default sizes."""
    chosen = [BY_NAME[n] for n in args.configs] if args.configs else CONFIGS
    out: dict[int, list[Config]] = {}
    for size in sorted(set(args.sizes)):
        out[size] = [c for c in chosen if (args.configs or size in c.sizes or size not in ALL_SIZES)
                     and not (c.postgres and size >= 1_000_000 and not args.postgres_1m)]
    return out


def estimate(config: Config, size: int, questions: int) -> float:
    """Seconds one configuration takes at one size: rough, fitted on a quiet 2-core machine."""
    index = config.index if config.index != "default" else ("ivf" if size > 200_000 else "exact")
    compact = config.storage != "float32" and (config.storage != "auto" or size > 50_000)
    search = {"exact": (1.1e-7 if compact else 2.5e-7) * size, "ivf": 0.003,
              "hnsw": 0.01 + 2.5e-6 * size}[index]  # hnsw: PostgreSQL's lexical half
    per_ask = {"torch": 0.012, "onnx": 0.007, "int8": 0.005}[config.embedding] + search
    per_ask += 0.07 if config.sentences == "cold" else 0.002
    ivf = 7e-5 * size * max(1.0, size / 1e5) ** 0.3 if index == "ivf" else 0.0
    return 10 + 8e-6 * size + ivf + 6e-5 * size + (2 * questions + 8) * per_ask


def estimates(args: argparse.Namespace, sizes: dict[int, list[Config]],
              embeddings: list[str]) -> list[tuple[str, float]]:
    base = min(BASE_PASSAGES, min(sizes))
    steps = [(f"ingest {e}", 20 + base / INGEST_RATE[e] + (base * 0.011 if e != "torch" else 0))
             for e in embeddings]
    previous = base
    for size, configs in sizes.items():
        steps.append((f"{size:,}: data", max(0, size - previous) * 1.2e-4 + size * 4e-5))
        previous = max(previous, size)
        if any(c.postgres for c in configs):
            steps.append((f"{size:,}: postgres load", size * 7e-4))
        steps += [(f"{size:,}: {c.name}", estimate(c, size, args.questions)) for c in configs]
    return steps


def ingest_all(args: argparse.Namespace, root: Path, embeddings: list[str], progress: Progress,
               target: int) -> dict[str, dict[str, Any]]:
    """One cold-cache ingest per embedding backend; the ONNX fp32 one (first) is kept as the base."""
    results = {}
    for embedding in embeddings:
        config = Config("ingest", embedding, "exact")
        folder = root / ("kb-base" if embedding == "onnx" else f"ingest-{embedding}")
        job = {"kind": "ingest", "data_dir": str(folder), "shared": str(args.shared), "target": target,
               "base": embedding == "onnx", "sentences": embedding != "torch", "questions": args.questions,
               "questions_file": str(root / "questions.json"), "vectors_file": str(root / "questions.npy")}
        # The answer sentences are embedded after the ingest and timed apart, not in the
        # background thread the bot starts after an import (it would run into the timing).
        env = {**config.env(), "CRISISBOT_EMBEDDING_CACHE": "true",
               "CRISISBOT_LOAD_BUILTIN_KNOWLEDGE": "true", "CRISISBOT_WARM_ANSWER_SENTENCES": "false"}
        with progress.step(f"ingest {embedding}"):
            results[embedding] = run_child(root, f"ingest-{embedding}", job, env)
        if embedding != "onnx" and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        if "error" in results[embedding] and embedding == "onnx":
            raise SystemExit("benchmarks.speed.scale: the real knowledge base could not be built (see above)")
    return results


def prepare_size(size: int, base_dir: Path, previous: Path, root: Path, base: RealBase | None) -> Path:
    """The data folder of `size` passages: the base itself, or the previous size grown."""
    from knowledge.store import SqliteStore

    if base is None or size <= len(base.ids):
        return base_dir
    folder = root / f"kb-{size}"
    clone_database(previous / "knowledge.sqlite3", folder / "knowledge.sqlite3")
    clone_database(base_dir / "embeddings.sqlite3", folder / "embeddings.sqlite3")
    if (base_dir / "onnx").is_dir():
        shutil.copytree(base_dir / "onnx", folder / "onnx", dirs_exist_ok=True)
    store = SqliteStore(folder / "knowledge.sqlite3")
    try:
        grow(store, base, size, log)
    finally:
        store.close()
    return folder


def run_size(args: argparse.Namespace, root: Path, size: int, folder: Path, configs: list[Config],
             progress: Progress, pg_uri: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every configuration at one size; the size's own facts (passages, PostgreSQL load) apart."""
    from knowledge.store import SqliteStore

    store = SqliteStore(folder / "knowledge.sqlite3")
    try:
        truth = exact_top10(store, np.load(root / "questions.npy"))
        facts: dict[str, Any] = {"passages": store.passage_count(), "documents": store.document_count(),
                                 "sqlite_mb": (folder / "knowledge.sqlite3").stat().st_size / 2**20}
    finally:
        store.close()
    np.save(folder / "truth.npy", truth)
    database = f"kb_{size}"
    if pg_uri and any(c.postgres for c in configs):
        with progress.step(f"{size:,}: postgres load"):
            facts["postgres"] = load_postgres(pg_uri, database, folder, log)
    rows = []
    for config in configs:
        for leftover in folder.glob("passages.faiss*"):
            leftover.unlink()
        env = config.env()
        if config.postgres:
            env["CRISISBOT_DATABASE_URL"] = facts.get("postgres", {}).get("url", "")
        job = {"kind": "ask", "config": asdict(config), "data_dir": str(folder),
               "questions_file": str(root / "questions.json"), "vectors_file": str(root / "questions.npy"),
               "truth_file": str(folder / "truth.npy"), "base_ids": str(root / "base_ids.json")}
        with progress.step(f"{size:,}: {config.name}"):
            result = run_child(root, f"{size}-{config.name}", job, env)
        rows.append({"size": size, "config": asdict(config), "label": config.label, **result})
    if "postgres" in facts:
        drop_database(pg_uri or "", database)
    return rows, facts


def real_base(root: Path, base_dir: Path, largest: int) -> tuple[int, RealBase | None]:
    """The real knowledge base's passage count (its ids saved for the sentence checks), and the
    base read whole when larger sizes are to be tiled from it."""
    from knowledge.store import SqliteStore

    store = SqliteStore(base_dir / "knowledge.sqlite3")
    try:
        ids = store.passage_ids()
        (root / "base_ids.json").write_text(json.dumps(ids.tolist()))
        return len(ids), RealBase(store, DIMENSION) if largest > len(ids) else None
    finally:
        store.close()


def start_postgres(stack: ExitStack, sizes: dict[int, list[Config]]) -> str | None:
    """A pgserver PostgreSQL for the run if any configuration needs one; its URI."""
    pg_sizes = [size for size, configs in sizes.items() if any(c.postgres for c in configs)]
    if not pg_sizes:
        return None
    buffers = "4GB" if max(pg_sizes) > 200_000 else "1GB"  # the table and its HNSW index
    return stack.enter_context(postgres(None, buffers, PG_WORK_MEM))


def run_all(args: argparse.Namespace, root: Path, stack: ExitStack) -> dict[str, Any]:
    """Ingest, then each size: its data, then every configuration, one subprocess each."""
    sizes = plan(args)
    wanted = {c.embedding for configs in sizes.values() for c in configs}
    embeddings = ["onnx"] + sorted(wanted - {"onnx"}, key=list(INGEST_RATE).index)
    progress = Progress(estimates(args, sizes, embeddings))
    ingests = ingest_all(args, root, embeddings, progress, min(BASE_PASSAGES, min(sizes)))
    base_dir = root / "kb-base"
    base_passages, base = real_base(root, base_dir, max(sizes))
    pg_uri = start_postgres(stack, sizes)
    rows: list[dict[str, Any]] = []
    facts: dict[int, dict[str, Any]] = {}
    previous = base_dir
    for size, configs in sizes.items():
        with progress.step(f"{size:,}: data"):
            folder = prepare_size(size, base_dir, previous, root, base)
        size_rows, facts[size] = run_size(args, root, size, folder, configs, progress, pg_uri)
        if folder == base_dir:  # the real knowledge base: where ingest was measured
            for row in size_rows:
                row["ingest_passages_per_s"] = ingests[row["config"]["embedding"]].get("passages_per_s")
        rows += size_rows
        print(ask_table(size_rows, facts), flush=True)  # partial results survive a failure
        if previous not in (base_dir, folder) and not args.keep:
            shutil.rmtree(previous, ignore_errors=True)
        previous = folder
    return {"rows": rows, "ingests": ingests, "sizes": facts, "steps": progress.done,
            "questions": json.loads((root / "questions.json").read_text()), "base_passages": base_passages}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_shared_option(parser)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(ALL_SIZES),
                        help="passage counts (the first ~10k are real, the rest tiled copies)")
    parser.add_argument("--configs", nargs="+", choices=list(BY_NAME), metavar="NAME",
                        help="run only these, at every size (default: each at its default sizes); "
                        + ", ".join(BY_NAME))
    parser.add_argument("--questions", type=int, default=220,
                        help="distinct timed questions (>= 200 advised)")
    parser.add_argument("--postgres-1m", action="store_true",
                        help="PostgreSQL at 1M passages too (~15 min more)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build the data folders in DIR and keep them")
    parser.add_argument("--out", type=Path, default=PROJECT / "benchmarks/results/speed.md",
                        help="where the Markdown report is written (default: benchmarks/results/speed.md)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the tables")
    args = parser.parse_args()
    args.shared = args.shared.resolve()
    if args.questions < 10:
        parser.error("--questions must be at least 10")
    if min(args.sizes) < 100:
        parser.error("--sizes must be at least 100")
    return args


def main() -> None:
    args = parse_args()
    # `kill PID` must still stop the PostgreSQL server and remove the data folders.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("benchmarks.speed.scale: stopped by SIGTERM"))
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        raise SystemExit(f"benchmarks.speed.scale: {args.keep} is not empty")
    started = time.perf_counter()
    load_start = os.getloadavg()
    with data_folders(args.keep, "crisisbot-speed-") as root, ExitStack() as stack:
        log(f"data folders in {root}")
        result = run_all(args, root, stack)
    result.update(wall_s=time.perf_counter() - started, load=(load_start, os.getloadavg()),
                  date=datetime.now().isoformat(timespec="minutes"), revision=revision(),
                  command=" ".join(["python -m benchmarks.speed.scale", *sys.argv[1:]]))
    text = render(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(finite(result), indent=1), encoding="utf-8")
    log(f"wrote {args.out} and its figures, {args.out.with_suffix('.json').name}")
    print(json.dumps(finite(result), indent=2) if args.json else text)


if __name__ == "__main__":
    main()
