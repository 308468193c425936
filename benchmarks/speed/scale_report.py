"""The Markdown report of benchmarks.speed.scale: ingest, the configurations side by side, ratios
to the naive baseline, the issue's targets met or missed, and the notes a reader needs to judge
them."""

from __future__ import annotations

from typing import Any

from benchmarks.common import machine
from benchmarks.speed.scale_data import COPY_NOISE

TARGETS = [  # (what, size, p50 ms at most) of the issue; recall@10 >= 0.95 of exact
    ("ask p50 <= 15 ms at 100k passages, recall@10 >= 0.95", 100_000, 15.0),
    ("ask p50 <= 30 ms at 1M passages, recall@10 >= 0.95", 1_000_000, 30.0),
]
TARGET_INGEST = 150.0
TARGET_RSS_MB = 1.5 * 1024
TARGET_RECALL = 0.95
BASELINES = ("naive-cold", "naive")  # the first one measured at a size is the baseline there


def ms(row: dict[str, Any], part: str, q: str = "p50_ms") -> float | None:
    return row.get("queries", {}).get(part, {}).get(q)


def num(value: float | None, digits: int = 1, unit: str = "") -> str:
    return "–" if value is None else f"{value:,.{digits}f}{unit}"


def ok(row: dict[str, Any]) -> bool:
    return "queries" in row


def build_s(row: dict[str, Any], facts: dict[int, Any]) -> str:
    """The index build: FAISS copy at open (+ the IVF background build), or pgvector's HNSW."""
    if row["config"]["index"] == "hnsw":
        return num(facts.get(row["size"], {}).get("postgres", {}).get("build_s"))
    text = num(row.get("open_s"))
    ivf = row["config"]["index"] == "ivf" or row.get("index_chosen", "").startswith("ivf")
    return text + f" + {row['ivf_s']:.1f} IVF" if ivf and "ivf_s" in row else text


def build_total(row: dict[str, Any], facts: dict[int, Any]) -> float | None:
    if row["config"]["index"] == "hnsw":
        return facts.get(row["size"], {}).get("postgres", {}).get("build_s")
    return None if "open_s" not in row else row["open_s"] + row.get("ivf_s", 0.0)


def answered(row: dict[str, Any]) -> str:
    q = row["queries"]
    by = q.get("answered_by_topic", {})
    parts = "; ".join(f"{c['answered']}/{c['questions']} {t}" for t, c in sorted(by.items()))
    return f"{100 * q['answered'] / q['questions']:.0f}% ({parts})"


def other_cpu(row: dict[str, Any]) -> str:
    w = row.get("cpu_watch") or {}
    if not w.get("wall_s"):
        return "–"
    return f"{100 * w['other_cpu_s'] / (w['wall_s'] * w['cpus']):.0f}%"


def rss(row: dict[str, Any]) -> str:
    """Peak RSS of the whole process, and in brackets of serving alone (after opening)."""
    serving = row.get("serving_peak_rss_mb")
    return num(row.get("peak_rss_mb"), 0) + (f" ({serving:,.0f})" if serving else "")


def ask_table(rows: list[dict[str, Any]], facts: dict[int, Any]) -> str:
    lines = ["| passages | configuration | index build s | ingest passages/s | ask p50 ms | ask p95 ms "
             "| embed / search / compose p50 ms | recall@10 | peak RSS MB (serving) | answered "
             "| other CPU |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for row in rows:
        passages = facts.get(row["size"], {}).get("passages", row["size"])
        if not ok(row):
            why = row.get("skipped") or f"failed: {row.get('error')}"
            lines.append(f"| {passages:,} | {row['label']} | {why} ||||||||")
            continue
        split = " / ".join(num(ms(row, part)) for part in ("embed", "search", "compose"))
        label = row["label"] + (f" **(built: {row['index_mismatch']})**" if "index_mismatch" in row else "")
        label += f" (chose {row['index_chosen']})" if "index_chosen" in row else ""
        lines.append(
            f"| {passages:,} | {label} | {build_s(row, facts)} "
            f"| {num(row.get('ingest_passages_per_s'))} "
            f"| {num(ms(row, 'ask'))} | {num(ms(row, 'ask', 'p95_ms'))} | {split} "
            f"| {num(row.get('recall_at_10'), 3)} | {rss(row)} | {answered(row)} "
            f"| {other_cpu(row)} |")
    return "\n".join(lines)


def baseline(rows: list[dict[str, Any]], size: int) -> dict[str, Any] | None:
    for name in BASELINES:
        for row in rows:
            if row["size"] == size and row["config"]["name"] == name and ok(row):
                return row
    return None


def ratio(a: float | None, b: float | None) -> str:
    return "–" if not a or not b else f"{a / b:.2f}×"


def ratio_table(rows: list[dict[str, Any]], facts: dict[int, Any]) -> str:
    lines = ["| passages | configuration | baseline | ask p50 speed-up | ask p95 speed-up | peak RSS "
             "| index build time |", "|---:|---|---|---:|---:|---:|---:|"]
    for row in rows:
        base = baseline(rows, row["size"])
        if base is None or row is base or not ok(row):
            continue
        lines.append(
            f"| {facts[row['size']]['passages']:,} | {row['config']['name']} | {base['config']['name']} "
            f"| {ratio(ms(base, 'ask'), ms(row, 'ask'))} "
            f"| {ratio(ms(base, 'ask', 'p95_ms'), ms(row, 'ask', 'p95_ms'))} "
            f"| {ratio(row.get('peak_rss_mb'), base.get('peak_rss_mb'))} "
            f"| {ratio(build_total(row, facts), build_total(base, facts))} |")
    return "\n".join(lines)


def verdict(value: float | None, limit: float, at_most: bool = True) -> str:
    if value is None:
        return "not measured"
    return "met" if (value <= limit if at_most else value >= limit) else "MISSED"


def fastest(rows: list[dict[str, Any]], size: int) -> dict[str, Any] | None:
    """The configuration with the lowest ask p50 at `size` among those with recall@10 >= 0.95."""
    good = [r for r in rows if r["size"] == size and ok(r) and (r.get("recall_at_10") or 0) >= TARGET_RECALL]
    return min(good, key=lambda r: ms(r, "ask") or float("inf"), default=None)


def name(row: dict[str, Any] | None) -> str:
    return row["config"]["name"] if row else "–"


def defaults_row(rows: list[dict[str, Any]], size: int) -> dict[str, Any] | None:
    """The "default" configuration's row at `size` (every setting at its default), if run."""
    return next((r for r in rows if r["size"] == size and r["config"]["name"] == "default" and ok(r)), None)


def latency_verdict(row: dict[str, Any] | None, limit: float) -> tuple[float | None, str]:
    """A row's ask p50 and whether it meets `limit` at recall@10 >= 0.95."""
    value = ms(row, "ask") if row else None
    recall = (row or {}).get("recall_at_10") or 0
    if value is not None and recall < TARGET_RECALL:
        return value, "MISSED (recall)"
    return value, verdict(value, limit)


def targets(rows: list[dict[str, Any]], ingests: dict[str, Any]) -> str:
    """Each target of the issue with the best configuration's figure, and the defaults' one."""
    lines = ["| target | best configuration | figure | | with the defaults | |",
             "|---|---|---:|---|---:|---|"]
    for what, size, limit in TARGETS:
        best = fastest(rows, size)
        value = ms(best, "ask") if best else None
        quickest = min((r for r in rows if r["size"] == size and ok(r)), key=lambda r: ms(r, "ask") or 1e9,
                       default=None)
        also = ""
        if quickest is not None and quickest is not best:
            also = (f" (fastest at any recall: {name(quickest)}, {ms(quickest, 'ask'):.1f} ms at recall@10 "
                    f"{num(quickest.get('recall_at_10'), 3)})")
        default, default_verdict = latency_verdict(defaults_row(rows, size), limit)
        lines.append(f"| {what} | {name(best)}{also} | {num(value, 1, ' ms')} | {verdict(value, limit)} "
                     f"| {num(default, 1, ' ms')} | {default_verdict} |")
    rates = {e: i["passages_per_s"] for e, i in ingests.items() if i.get("passages_per_s")}
    top = max(rates, key=lambda e: rates[e], default=None)
    rate = rates.get(top) if top else None
    default_rate = rates.get("onnx")  # the default engine
    lines.append(f"| ingest >= {TARGET_INGEST:.0f} passages/s (cold embedding cache) | {top or '–'} "
                 f"| {num(rate, 1, ' /s')} | {verdict(rate, TARGET_INGEST, at_most=False)} "
                 f"| {num(default_rate, 1, ' /s')} | {verdict(default_rate, TARGET_INGEST, at_most=False)} |")
    best = fastest(rows, 1_000_000)
    peak = best.get("peak_rss_mb") if best else None
    measured = [r for r in rows if r["size"] == 1_000_000 and ok(r)]
    lowest = min(measured, key=lambda r: r["peak_rss_mb"], default=None)
    also = ""
    if lowest is not None and lowest is not best:
        also = f" (lowest: {name(lowest)}, {lowest['peak_rss_mb']:,.0f} MB)"
    default_peak = (defaults_row(rows, 1_000_000) or {}).get("peak_rss_mb")
    lines.append(f"| peak RSS <= 1.5 GB at 1M passages (the fastest above) | {name(best)}{also} "
                 f"| {num(peak, 0, ' MB')} | {verdict(peak, TARGET_RSS_MB)} "
                 f"| {num(default_peak, 0, ' MB')} | {verdict(default_peak, TARGET_RSS_MB)} |")
    return "\n".join(lines)


def ingest_table(ingests: dict[str, Any]) -> str:
    lines = ["| embedding | used | documents | passages | model load + open s | ingest s | passages/s "
             "| answer sentences | passages/s with sentences | peak RSS MB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for embedding, i in ingests.items():
        if "passages" not in i:
            lines.append(f"| {embedding} | failed: {i.get('error')} ||||||||")
            continue
        sentences, overall = "not measured", "–"
        if "sentences" in i:
            seconds = i["sentences"]["seconds"]
            sentences = f"{i['sentences']['count']:,} in {seconds:.1f} s"
            overall = f"{i['passages'] / (i['ingest_s'] + seconds):.1f}"
        lines.append(f"| {embedding} | {i.get('embedding_used')} | {i['documents']:,} | {i['passages']:,} "
                     f"| {i['open_s']:.1f} | {i['ingest_s']:.1f} | {i['passages_per_s']:.1f} | {sentences} "
                     f"| {overall} | {i['peak_rss_mb']:,.0f} |")
    return "\n".join(lines)


def method_notes(result: dict[str, Any]) -> list[str]:
    """How the figures were made: data, questions, sentences, build, recall, memory."""
    facts, questions = result["sizes"], result["questions"]
    titles = sum(1 for _, topic in questions if topic == "document title")
    data = "; ".join(f"{f['passages']:,} passages in {f['documents']:,} documents ({f['sqlite_mb']:,.0f} MB "
                     "of SQLite)" for f in facts.values())
    return [
        f"Data: {data}. The first {result['base_passages']:,} passages are the real corpus ingested by "
        "the bot; the rest are copies of its documents with the same passage texts and vectors "
        f"jittered (noise of norm {COPY_NOISE}, renormalised: cosine ~0.9 to the original), "
        "written straight into the store.",
        f"Questions: {len(questions)} distinct, {titles} titles of real documents and "
        f"{len(questions) - titles} realtimeqa-dev questions (mostly other news: declining them is "
        "right); 4 untimed warm-up questions first (the first, timed apart below, builds the lexical "
        "index). Ask = `CrisisBot.ask`; the split is a second pass through `bot.retriever` and "
        "`bot.composer` (benchmarks.speed.core).",
        "Sentences: warm = the vectors of the sentences answers may quote were in the embedding cache "
        "(`embed_answer_sentences` once after the ONNX fp32 ingest, see the ingest table; tiled copies "
        "share the real passages' texts; each warm configuration checks the real passages again before "
        "timing); cold = no embedding cache, so every answer embeds its candidate sentences, as before.",
        "Ingest: `CrisisBot.ingest` (chunk, embed, near-duplicate check, store, index) with the bot's "
        "background sentence warming off; the answer sentences are then embedded in the foreground "
        "and timed apart (\"passages/s with sentences\" counts both).",
        "Index build: the FAISS copy built from the stored vectors at open and saved (+ the IVF copy "
        "built in the background, waited for); PostgreSQL: CREATE INDEX ... USING hnsw after loading. "
        "Recall@10: the configuration's vector index (top 10) against the exact float32 top 10 over "
        "the stored vectors, for the same question vectors (ONNX fp32).",
        "Peak RSS: VmHWM of the configuration's own process over its whole run (model, opening and "
        "index builds, lexical index, answers); in brackets its peak while answering only (VmHWM "
        "reset once the index is open). Read before the recall check; the PostgreSQL server's "
        "memory is not in it.",
        "Other CPU: the share of the 2 cores used by other processes while the configuration ran.",
    ]


def measured_notes(result: dict[str, Any]) -> list[str]:
    """Figures of the run that do not fit the tables."""
    rows, facts = result["rows"], result["sizes"]
    out = []
    for row in rows:
        build = (row.get("index") or {}).get("build")
        if build:
            out.append(f"IVF at {facts[row['size']]['passages']:,} ({name(row)}): nlist {build['nlist']}, "
                       f"nprobe {build['nprobe']} chosen at recall@10 {build['recall_at_10']:.3f} on "
                       f"stored vectors, built in {build['seconds']:.1f} s.")
    for f in facts.values():
        if "postgres" in f:
            out.append(f"PostgreSQL at {f['passages']:,}: copy_from_sqlite {f['postgres']['load_s']:.0f} s, "
                       f"HNSW build {f['postgres']['build_s']:.0f} s (m 16, ef_construction 64, "
                       "ef_search 100).")
    checks = [f"{facts[r['size']]['passages']:,} {name(r)} {r['sentences']['count']:,} in "
              f"{r['sentences']['seconds']:.1f} s" for r in rows if "sentences" in r]
    if checks:
        out.append("Sentence check of the warm configurations before timing (embedded, time): "
                   + "; ".join(checks) + ".")
    firsts = [f"{facts[r['size']]['passages']:,} {name(r)} {r['first_ask_s']:.1f}"
              for r in rows if "first_ask_s" in r]
    out.append("First question (builds the lexical index and dense statistics), s: " + "; ".join(firsts)
               + ".")
    out.append("Time per step, s: " + "; ".join(f"{k} {v:.0f}" for k, v in result["steps"].items()) + ".")
    load = [" ".join(f"{x:.2f}" for x in moment) for moment in result["load"]]
    out.append(f"Run {result['date']}, project {result['revision']}, {result['wall_s'] / 60:.1f} min in "
               f"all; load average (1/5/15 min) at start {load[0]}, at end {load[1]}.")
    out.append(f"Machine: {machine()}.")
    return out


def render(result: dict[str, Any]) -> str:
    rows, facts = result["rows"], result["sizes"]
    return "\n".join([
        "# Speed: ingest, end-to-end ask latency, recall and memory per configuration", "",
        f"`{result['command']}`", "",
        "## Ingest (real documents, fresh data folder, cold embedding cache)", "",
        ingest_table(result["ingests"]), "",
        "## Ask, per size and configuration", "", ask_table(rows, facts), "",
        "## Ratios to the naive baseline (torch, exact float32; cold sentences where measured)", "",
        ratio_table(rows, facts), "",
        "## Targets (2 cores)", "", targets(rows, result["ingests"]), "",
        "## Notes", "", *[f"- {n}" for n in method_notes(result) + measured_notes(result)], "",
    ])
