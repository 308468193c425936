"""crisisbot's benchmarks, grouped by what they measure; each module runs from the project root
as `python -m benchmarks.GROUP.NAME` (`--help` for its options).

- `benchmarks.quality`: retrieval quality and the relevance gate (backends, fit_gate,
  retrieval_variants);
- `benchmarks.speed`: ingest, ask latency, index builds and memory (core, scale, vector_indexes,
  approximate_index, ask_during_import, eval, gaps, summaries);
- `benchmarks.chat`: latency through the real chat clients and the test suite's stand-in
  servers (telegram, discord);
- `benchmarks.common`: what they share. Results some of them write go to benchmarks/results/.

Importing the package tells the Hugging Face libraries never to reach for a model hub, in this
process and in every subprocess that inherits the environment. It is set here, not in a
module, because the package runs before any of its modules, so no benchmark can load a model
library first.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
