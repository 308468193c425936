# The two commands of the README: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATA ?= .demo-data
QUESTION ?= How many North Korean troops arrived in Russia?

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test fuzz typecheck bench bench-chat bench-eval bench-gaps bench-summaries bench-vectors bench-backends bench-approximate bench-import bench-speed bench-flood bench-answers calibrate calibrate-sentences clean

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

# The fuzz tests (tests/**/test_*_fuzz.py) with many more examples than `make test` runs:
# FUZZ_EXAMPLES per test (about 20 minutes on 2 cores at 400); FUZZ_SEED=n explores other inputs.
FUZZ_SEED ?= 17
FUZZ_EXAMPLES ?= 400
fuzz: install
	HYPOTHESIS_PROFILE=long FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -p no:cacheprovider \
		--hypothesis-seed=$(FUZZ_SEED) --hypothesis-show-statistics $$(find tests -name 'test_*_fuzz.py' | sort)

typecheck: install
	$(BIN)/python -m mypy bot knowledge index

bench: install
	$(BIN)/python -m benchmarks.speed.core

bench-chat: install
	$(BIN)/python -m benchmarks.chat.telegram
	$(BIN)/python -m benchmarks.chat.discord

# About a minute: a bystander's answer latency idle, then while one person floods 300 messages.
bench-flood: install
	$(BIN)/python -m benchmarks.chat.flood

bench-eval: install
	$(BIN)/python -m benchmarks.speed.eval

bench-gaps: install
	$(BIN)/python -m benchmarks.speed.gaps

bench-summaries: install
	$(BIN)/python -m benchmarks.speed.summaries

# About 30 minutes: 1M vectors, HNSW builds in FAISS and pgvector (pgserver).
bench-vectors: install
	$(BIN)/python -m benchmarks.speed.vector_indexes --sizes 100000 1000000

bench-backends: install
	$(BIN)/python -m benchmarks.quality.backends

bench-approximate: install
	$(BIN)/python -m benchmarks.speed.approximate_index

# About 30 minutes on 2 cores: ingest per embedding backend, then every configuration at 10k,
# 100k and 1M passages (PostgreSQL at 10k and 100k); writes benchmarks/results/speed.md.
bench-speed: install
	$(BIN)/python -m benchmarks.speed.scale

# About 6 minutes: ask latency idle, then while 14,500 passages are imported beside it.
bench-import: install
	$(BIN)/python -m benchmarks.speed.ask_during_import

# A few minutes: the seed article + news-2022 imported with the real model, then the labelled
# answer set and the everyday questions; writes benchmarks/results/answer_set.md.
# ANSWERS_KEEP=DIR builds the knowledge base there once and reuses it.
ANSWERS_KEEP ?=
bench-answers: install
	$(BIN)/python -m benchmarks.quality.answer_set $(if $(ANSWERS_KEEP),--keep $(ANSWERS_KEEP))

calibrate: install
	$(BIN)/python -m benchmarks.quality.fit_gate --write

# About 6 minutes (realtimeqa-dev's knowledge base built, then every question asked):
# refits the sentence ranker, bot/core/sentence_model.py. SENTENCES_KEEP=DIR reuses the base.
SENTENCES_KEEP ?=
calibrate-sentences: install
	$(BIN)/python -m benchmarks.quality.fit_sentences --write $(if $(SENTENCES_KEEP),--keep $(SENTENCES_KEEP))

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache
