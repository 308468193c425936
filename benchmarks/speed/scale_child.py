"""The child process of benchmarks.speed.scale: one measurement (an ingest, or one configuration
at one size) in a process of its own, so its peak memory is its own. scale runs it from the
project root as `python -m benchmarks.speed.scale_child JOB.json` and reads the JSON result it
writes.

The configuration comes from the environment (CRISISBOT_EMBEDDING_BACKEND, ..._VECTOR_STORAGE,
..._APPROXIMATE_INDEX_ABOVE, ..._EMBEDDING_CACHE, ..._DATABASE_URL), read by the bot's settings
as in production.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import finite, make_log, peak_rss_mb, recall_at_k
from benchmarks.speed.core import ingest_documents, query_latency
from benchmarks.speed.scale_data import K, make_questions, real_documents

log = make_log("speed")

FIRST_QUESTION = "What did the President of Ukraine say about the war?"  # timed apart (lexical index)


def reset_peak_rss() -> bool:
    """Start VmHWM again from the current RSS (Linux), so answering is measured apart from opening."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def warm_sentences(bot: Any, ids: list[int] | None) -> dict[str, Any]:
    """Embed into the cache the sentences answers may quote from these passages (default all)."""
    started = time.perf_counter()
    count = bot.embed_answer_sentences(ids)
    return {"count": count, "seconds": time.perf_counter() - started,
            "passages": len(bot.store.passage_ids()) if ids is None else len(ids)}


def ingest(job: dict[str, Any]) -> dict[str, Any]:
    """The real documents into an empty data folder; then, for the base, the questions."""
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    bot = CrisisBot(load_settings(data_dir=Path(job["data_dir"])))
    try:
        documents = real_documents(bot, Path(job["shared"]), job["target"])
        result = ingest_documents(bot, documents)
        result["embedding_used"] = getattr(bot.embedder, "backend", "torch")
        result["peak_rss_mb"] = peak_rss_mb()
        if job["sentences"]:  # as `crisisbot prepare-answers` does, after the ingest
            result["sentences"] = warm_sentences(bot, None)
            log(f"answer sentences: {result['sentences']['count']:,} embedded in "
                f"{result['sentences']['seconds']:.0f} s")
        if job["base"]:
            log("embedding the questions for the recall measurement")
            questions = make_questions(documents, Path(job["shared"]), job["questions"])
            Path(job["questions_file"]).write_text(json.dumps(questions), encoding="utf-8")
            np.save(job["vectors_file"], bot.embedder.embed([q for q, _ in questions]))
        return result
    finally:
        bot.close()


def describe_index(bot: Any) -> dict[str, Any]:
    index = bot.index
    if not hasattr(index, "vectors"):  # pgvector
        return {"kind": "hnsw", "ef_search": getattr(index, "ef_search", None)}
    vectors = index.vectors
    build = index.last_build
    return {"kind": vectors.kind, "nprobe": vectors.nprobe, "count": len(vectors), "storage": vectors.storage,
            "build": asdict(build) if build is not None else None}


def open_index(bot: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Load the model, then build the index from the stored vectors (and the IVF copy, waited for)."""
    result: dict[str, Any] = {}
    started = time.perf_counter()
    bot.embedder.embed(["load the model"])
    result["model_s"] = time.perf_counter() - started
    started = time.perf_counter()
    bot.open()
    result["open_s"] = time.perf_counter() - started
    wait = getattr(bot.index, "wait_for_build", None)
    started = time.perf_counter()
    if wait is not None and not wait(7200):
        raise SystemExit("benchmarks.speed.scale: the approximate index was not built within 2 hours")
    result["ivf_s"] = time.perf_counter() - started
    result["index"] = describe_index(bot)
    built = (result["index"]["kind"], result["index"].get("storage") or "float32")
    if config["index"] == "default":
        result["index_chosen"] = " ".join(built)  # what the defaults picked at this size
    elif built[0] != "hnsw" and built != (config["index"], config["storage"]):
        result["index_mismatch"] = " ".join(built)  # e.g. an IVF build that failed
    result["embedding_used"] = getattr(bot.embedder, "backend", "torch")
    return result


def ask(job: dict[str, Any]) -> dict[str, Any]:
    """One configuration: open, check the sentences, then time the questions; recall last."""
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    bot = CrisisBot(load_settings(data_dir=Path(job["data_dir"])))
    try:
        result = open_index(bot, job["config"])
        if job["config"]["sentences"] == "warm":
            result["sentences"] = warm_sentences(bot, json.loads(Path(job["base_ids"]).read_text()))
        result["open_peak_rss_mb"] = peak_rss_mb()
        reset = reset_peak_rss()
        started = time.perf_counter()
        bot.ask(FIRST_QUESTION)
        result["first_ask_s"] = time.perf_counter() - started
        questions = [tuple(q) for q in json.loads(Path(job["questions_file"]).read_text())]
        result["queries"] = query_latency(bot, questions)  # type: ignore[arg-type]
        # Read before the recall check loads anything more.
        result["serving_peak_rss_mb"] = peak_rss_mb() if reset else None
        result["peak_rss_mb"] = max(result["open_peak_rss_mb"], peak_rss_mb())
        vectors, truth = np.load(job["vectors_file"]), np.load(job["truth_file"])
        found = [[i for i, _ in bot.index.search(v, K)] for v in vectors]
        result["recall_at_10"] = recall_at_k(found, truth)
        return result
    finally:
        bot.close()


def child(job_path: Path) -> None:
    job = json.loads(job_path.read_text())
    result = ingest(job) if job["kind"] == "ingest" else ask(job)
    Path(job["out"]).write_text(json.dumps(finite(result)), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("job", type=Path, help="the job's JSON file, written by benchmarks.speed.scale")
    child(parser.parse_args(argv).job)


if __name__ == "__main__":
    main()
