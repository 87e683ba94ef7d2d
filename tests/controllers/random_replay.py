"""Adversarial random replay data for controller tests.

Tiny answer alphabets make vote ties common, probe lists of length 0..12 and
token counts on both sides of ``Δ·n_probes`` exercise every charging rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autotts.data.loading import parse_replay
from autotts.data.records import ReplaySet


def random_document(
    seed: int, *, questions: int = 6, branches: int | list[int] = 24, alphabet: int = 4
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    symbols = [str(i) for i in range(alphabet)] + ["ERR"]
    doc = []
    for q in range(questions):
        n = branches if isinstance(branches, int) else branches[q % len(branches)]
        bias = rng.dirichlet(np.ones(len(symbols)) * 0.7)
        rows = []
        for _ in range(n):
            n_probes = int(rng.integers(0, 13))
            probes = [str(rng.choice(symbols, p=bias)) for _ in range(n_probes)]
            final = str(rng.choice(symbols[:-1]))
            # converge sometimes: the last probes repeat the final answer
            if n_probes and rng.random() < 0.6:
                tail = int(rng.integers(1, n_probes + 1))
                probes[-tail:] = [final] * tail
            tokens = int(max(0, 500 * n_probes + rng.integers(-700, 2500)))
            rows.append([probes, tokens, final])
        doc.append(
            {
                "question": f"q{q}",
                "gold_answer": str(rng.choice(symbols[:-1])),
                "probe_freq": 500,
                "final_answers_trace": [r[2] for r in rows],
                "each_branch": rows,
            }
        )
    return doc


def random_replay(seed: int, **kwargs: Any) -> ReplaySet:
    return parse_replay(random_document(seed, **kwargs), source=f"random-{seed}")
