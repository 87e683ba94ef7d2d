"""A model that answers completion requests from stored trajectories.

Replay data has no text, so each stored branch gets a deterministic stand-in
text: its *virtual* token ``v`` (``0 <= v < V``) is the word `` §b.v`` — branch
index ``b`` and position ``v`` — and this model's tokenizer is "one word, one
token". ``V = max(branch_tokens, Δ·n_probes)``: the reference charges Δ for every
probe interval even past a branch's end (docs/replay-protocol.md §2), and the
stand-in text is exactly as long as what is charged.

How a request is understood (only the prompt text and ``max_tokens``/``seed``):

* **question** — the stored question whose text occurs in the prompt (the longest,
  if several do), whatever template surrounds it;
* **position** — the last stand-in word in the prompt gives branch ``b`` and
  position ``v+1``; no stand-in word means a new sample (position 0);
* **which branch a new sample is** — the request's ``seed`` modulo the number of
  branches if given, else the i-th sample requested for that question is branch i
  (cycling);
* **probe or continuation** — text after the last stand-in word (a forced-answer
  suffix) makes it a probe; the answer is the stored probe at depth
  ``ceil(position/Δ)`` (the final answer past the last probe), returned as
  ``answer}`` (nothing for ``ERR``), so ``\\boxed{`` + text parses back to it,
  with the stored confidence of that probe (data with ``probe_logprobs``) as
  ``logprob``: the one token's log-probability, which a request asking for
  ``logprobs`` gets back;
* **continuation** — with ``max_tokens = k·Δ`` while ``k`` more probe points
  remain: the next ``k·Δ`` words, ``finish_reason="length"``; otherwise the rest of
  the branch, ending `` \\boxed{final}``, ``finish_reason="stop"``.

``usage.completion_tokens`` is what the reference charges for that read (Δ per
interval, ``max(0, branch_tokens - Δ·depth)`` for the rest), so a controller's
cost through a live path over this model equals its replay cost. Every
completion also states ``replay: {question, branch, branch_tokens}`` (a field no
real server sends), from which a collector recovers the stored length exactly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from autotts.data.records import ReplaySet
from autotts.env.charging import finish_charge
from autotts.errors import UsageError
from autotts.live.answers import ERR

__all__ = ["ReplayModel", "standin_text"]

_WORD = re.compile(r" §(\d+)\.(\d+)")


def standin_text(branch: int, start: int, stop: int) -> str:
    """The stand-in words of ``branch`` for virtual positions ``start..stop-1``."""
    return "".join(f" §{branch}.{v}" for v in range(start, stop))


@dataclass
class _Question:
    text: str
    probes: list[list[str]]
    finals: list[str]
    tokens: list[int]
    probe_freq: int
    confidences: tuple[tuple[float | None, ...], ...] | None


class ReplayModel:
    """Completions over the questions of one or more replay sets (one model)."""

    def __init__(self, replays: list[ReplaySet], name: str) -> None:
        self.name = name
        self._questions: list[_Question] = []
        for replay in replays:
            for question in replay.questions:
                strings = question.answer_strings
                self._questions.append(
                    _Question(
                        text=question.text,
                        probes=[list(row[:-1]) for row in strings],
                        finals=[row[-1] for row in strings],
                        tokens=list(question.token_list),
                        probe_freq=question.probe_freq,
                        confidences=question.confidence_lists,
                    )
                )
        if not self._questions:
            raise UsageError("the replay server needs at least one question")
        # Longest texts first, so a question that contains another one wins.
        self._by_length = sorted(
            range(len(self._questions)), key=lambda q: -len(self._questions[q].text)
        )
        self._samples = [0] * len(self._questions)

    @property
    def questions(self) -> int:
        return len(self._questions)

    def find_question(self, prompt: str) -> int:
        # Only the text before the first stand-in word can hold the question.
        cut = prompt.find(" §")
        head = prompt if cut == -1 else prompt[:cut]
        for q in self._by_length:
            if self._questions[q].text in head:
                return q
        raise UsageError("the prompt contains none of the stored questions")

    def complete(self, prompt: str, max_tokens: int | None, seed: int | None) -> dict[str, Any]:
        """``{text, finish_reason, prompt_tokens, completion_tokens, replay, logprob}`` for
        one request (``logprob``: a probe's stored confidence, as a log-probability, or
        ``None``)."""
        if max_tokens is not None and max_tokens < 1:
            raise UsageError(f"max_tokens must be >= 1, got {max_tokens}")
        q = self.find_question(prompt)
        question = self._questions[q]
        found = _last_word(prompt, question.text)
        if found is None:
            branch, position, tail = self._new_sample(q, seed), 0, ""
        else:
            branch, position, tail = found
            if branch >= len(question.finals):
                raise UsageError(f"stand-in branch {branch} does not exist for this question")
        delta = question.probe_freq
        n_probes = len(question.probes[branch])
        final = question.finals[branch]
        end = max(question.tokens[branch], delta * n_probes)
        closing = "" if final == ERR else f" \\boxed{{{final}}}"
        depth = math.ceil(position / delta)
        finished_text = bool(closing) and position >= end and tail.startswith(closing)
        if finished_text:
            tail = tail[len(closing) :]
        logprob = None
        if tail.strip():  # a probe
            if depth == 0:
                answer = ERR
            elif depth <= n_probes and not finished_text:
                answer = question.probes[branch][depth - 1]
                if question.confidences is not None:
                    confidence = question.confidences[branch][depth - 1]
                    # 0.0 (an underflowed exp) has no finite log-probability to send
                    logprob = math.log(confidence) if confidence else None
            else:
                answer = final
            text = "" if answer == ERR else answer + "}"
            completion = max(1, len(text.split()))
            reason = "stop"
        elif (
            max_tokens is not None
            and depth + max_tokens // delta <= n_probes
            and (max_tokens >= delta)
        ):
            steps = max_tokens // delta
            stop = min(delta * (depth + steps), end)
            text = standin_text(branch, position, stop)
            completion, reason = delta * steps, "length"
        elif (
            max_tokens is not None
            and max_tokens < delta
            and question.tokens[branch] - position > max_tokens
        ):
            # A length cap inside a Δ step (collect --max-tokens 32768 with Δ = 500): the
            # trajectory is cut there, as a model server would cut it, not served whole.
            text = standin_text(branch, position, position + max_tokens)
            completion, reason = max_tokens, "length"
        else:
            # Asked to continue a finished trajectory: nothing more.
            text = "" if finished_text else standin_text(branch, position, end) + closing
            completion = finish_charge(question.tokens[branch], delta, depth)
            reason = "stop"
        return {
            "text": text,
            "finish_reason": reason,
            "prompt_tokens": len(prompt.split()),
            "completion_tokens": completion,
            "replay": {"question": q, "branch": branch, "branch_tokens": question.tokens[branch]},
            "logprob": logprob,
        }

    def _new_sample(self, q: int, seed: int | None) -> int:
        n = len(self._questions[q].finals)
        if seed is not None:
            return seed % n
        branch = self._samples[q] % n
        self._samples[q] += 1
        return branch


def _last_word(prompt: str, question: str) -> tuple[int, int, str] | None:
    """``(branch, next position, text after it)`` of the last stand-in word after the question."""
    start = prompt.find(question) + len(question)
    at = prompt.rfind(" §", start)
    while at != -1:
        match = _WORD.match(prompt, at)
        if match is not None:
            return int(match.group(1)), int(match.group(2)) + 1, prompt[match.end() :]
        at = prompt.rfind(" §", start, at)
    return None
