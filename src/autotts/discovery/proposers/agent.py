"""``agent``: a coding-agent command line that edits one file in a per-round workspace.

The paper's proposer was Claude Code; any agent with a non-interactive mode works
(``--agent-cmd 'claude -p'``, ``'codex exec'``, ...). Each round gets a fresh
workspace holding ``controller.py`` (the file to edit: the best candidate so far,
or the API guide's example), ``API.md``, ``HISTORY.md``, ``baselines/`` and
``TASK.md``; the command runs there with TASK.md as its last argument and on its
standard input, under a time limit (its whole process group is killed past it).
The edited ``controller.py`` is the candidate; an unchanged file, a non-zero exit
or a time-out is a failed round.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from autotts.discovery.history import DEFAULT_CONTEXT_BUDGET, best_in_history
from autotts.discovery.prompting import api_guide, baseline_code, history_text, render, rules_text
from autotts.discovery.proposers.base import Proposal, ProposalContext
from autotts.errors import UsageError

__all__ = ["AgentProposer"]

STARTER = '''"""Starting point: replace with a better controller."""

from autotts import Controller, Session, majority


def starter_schedule(beta: float) -> int:
    return max(1, round(1 + 15 * beta))


class Starter(Controller):
    name = "starter"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self.n = starter_schedule(beta)

    def solve(self, session: Session) -> str | None:
        answers = []
        while len(answers) < self.n and session.can_branch:
            answers.append(session.full_read())
        session.trace("finish", output={"stop_reason": "read n branches"})
        return majority(answers)
'''

_TAIL = 4000  # characters of the agent's stdout/stderr kept in proposal.json


class AgentProposer:
    kind = "agent"

    def __init__(
        self,
        command: str,
        *,
        timeout: float = 1800.0,
        context_budget: int = DEFAULT_CONTEXT_BUDGET,
    ) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise UsageError("--agent-cmd is empty")
        self.command = command
        self.timeout = timeout
        self.context_budget = context_budget

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "command": self.command, "timeout": self.timeout}

    def remaining(self, round_number: int) -> bool:
        return True

    def prepare(self, context: ProposalContext) -> tuple[Path, str, str]:
        """Lay out the workspace; returns (controller.py, its starting text, the task)."""
        ws = context.workdir
        (ws / "baselines").mkdir(parents=True, exist_ok=True)
        for name, code in baseline_code().items():
            (ws / "baselines" / f"{name.replace('-', '_')}.py").write_text(code, "utf-8")
        (ws / "API.md").write_text(api_guide(), "utf-8")
        (ws / "HISTORY.md").write_text(history_text(context, self.context_budget), "utf-8")
        best = best_in_history(context.history)
        start = STARTER
        if best is not None:
            start = next(e["code"] for e in context.history if e["round"] == best.round)
        target = ws / "controller.py"
        target.write_text(start, "utf-8")
        task = render(
            "agent_task.md.j2",
            round=context.round,
            rounds=context.rounds,
            rules=rules_text(context),
            no_beta=context.no_beta,
            no_trace_digest=context.no_trace_digest,
        )
        (ws / "TASK.md").write_text(task, "utf-8")
        return target, start, task

    def propose(self, context: ProposalContext) -> Proposal:
        target, start, task = self.prepare(context)
        started = time.monotonic()
        exchange: dict[str, Any] = {
            "command": self.command,
            "prompt": task,
            "timeout": self.timeout,
            "money": 0.0,
            "input_tokens": 0,
            "output_tokens": 0,
        }
        try:
            process = subprocess.Popen(
                [*self.argv, task],
                cwd=context.workdir,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its own process group, killed whole on time-out
            )
        except OSError as exc:
            return Proposal(None, exchange=exchange, error=f"cannot run {self.argv[0]}: {exc}")
        try:
            out, err = process.communicate(task, timeout=self.timeout)
            error = None if process.returncode == 0 else f"exit code {process.returncode}"
        except subprocess.TimeoutExpired:
            _kill_group(process)
            out, err = process.communicate()
            error = f"timed out after {self.timeout:g} s"
        except BaseException:
            _kill_group(process)  # Ctrl-C: never leave the agent running
            raise
        exchange.update(
            {
                "returncode": process.returncode,
                "stdout": (out or "")[-_TAIL:],
                "stderr": (err or "")[-_TAIL:],
                "latency_seconds": round(time.monotonic() - started, 3),
            }
        )
        code = target.read_text("utf-8") if target.is_file() else ""
        if error is None and code == start:
            error = "the agent left controller.py unchanged"
        if error is not None:
            return Proposal(None, exchange=exchange, error=f"agent: {error}")
        summary_file = context.workdir / "SUMMARY.md"
        summary = summary_file.read_text("utf-8") if summary_file.is_file() else (out or "")
        return Proposal(code, summary=summary.strip()[-_TAIL:], exchange=exchange)


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
