# The two commands of the README: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATA ?= .demo-data
QUESTION ?= How many North Korean troops arrived in Russia?

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test typecheck bench bench-chat bench-eval bench-gaps bench-summaries bench-vectors bench-backends bench-approximate bench-import bench-speed calibrate clean

install: $(STAMP)

# torch is installed first, pinned to the CPU build: a plain "torch" would pull CUDA (GBs).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: install
	CRISISBOT_DATA_DIR=$(DEMO_DATA) $(BIN)/crisisbot ask "$(QUESTION)"

# mypy first (a few seconds), then the suite: CI runs exactly this.
test: install
	$(BIN)/python -m mypy bot knowledge index
	$(BIN)/python -m pytest

typecheck: install
	$(BIN)/python -m mypy bot knowledge index

bench: install
	$(BIN)/python benchmarks/core.py

bench-chat: install
	$(BIN)/python benchmarks/telegram_latency.py
	$(BIN)/python benchmarks/discord_latency.py

bench-eval: install
	$(BIN)/python benchmarks/eval_speed.py

bench-gaps: install
	$(BIN)/python benchmarks/gaps.py

bench-summaries: install
	$(BIN)/python benchmarks/summaries.py

# About 30 minutes: 1M vectors, HNSW builds in FAISS and pgvector (pgserver).
bench-vectors: install
	$(BIN)/python benchmarks/vector_indexes.py --sizes 100000 1000000

bench-backends: install
	$(BIN)/python benchmarks/backends.py

bench-approximate: install
	$(BIN)/python benchmarks/approximate_index.py

# About 30 minutes on 2 cores: ingest per embedding backend, then every configuration at 10k,
# 100k and 1M passages (PostgreSQL at 10k and 100k); writes benchmarks/results/speed.md.
bench-speed: install
	$(BIN)/python benchmarks/speed.py

# About 6 minutes: ask latency idle, then while 14,500 passages are imported beside it.
bench-import: install
	$(BIN)/python benchmarks/ask_during_import.py

calibrate: install
	$(BIN)/python benchmarks/calibrate_threshold.py

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache
