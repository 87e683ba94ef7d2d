"""Proposer kinds, one module each; :func:`make_proposer` builds one by name."""

from __future__ import annotations

from typing import Any

from autotts.discovery.proposers.base import Proposal, ProposalContext, Proposer
from autotts.errors import UnknownName, UsageError

__all__ = ["KINDS", "Proposal", "ProposalContext", "Proposer", "make_proposer"]

KINDS = ("scripted", "openai", "anthropic", "agent", "optimizer")


def make_proposer(kind: str, **options: Any) -> Proposer:
    """Build a proposer; options that are None are left at their defaults."""
    opts = {k: v for k, v in options.items() if v is not None}
    try:
        if kind == "scripted":
            # start-up time: a proposer's module loads when that kind is asked for
            from autotts.discovery.proposers.scripted import ScriptedProposer

            if "candidates" not in opts:
                raise UsageError("--proposer scripted needs --candidates DIR")
            return ScriptedProposer(opts.pop("candidates"), opts.pop("class_name", None))
        if kind in ("openai", "anthropic"):
            if "model" not in opts:
                raise UsageError(f"--proposer {kind} needs --llm-model NAME")
            if kind == "openai":
                # the llm extra (openai) and start-up time: loaded for this kind only
                from autotts.discovery.proposers.openai_chat import OpenAIProposer

                return OpenAIProposer(**opts)
            # the llm extra (anthropic) and start-up time: loaded for this kind only
            from autotts.discovery.proposers.anthropic_messages import AnthropicProposer

            return AnthropicProposer(**opts)
        if kind == "optimizer":
            # the optimize extra (Optuna) and start-up time: loaded for this kind only
            from autotts.discovery.proposers.optimizer import OptimizerProposer

            return OptimizerProposer(**opts)
        if kind == "agent":
            # start-up time: a proposer's module loads when that kind is asked for
            from autotts.discovery.proposers.agent import AgentProposer

            if "command" not in opts:
                raise UsageError("--proposer agent needs --agent-cmd 'COMMAND'")
            return AgentProposer(**opts)
    except TypeError as exc:
        raise UsageError(f"--proposer {kind}: {exc}") from None
    raise UnknownName("proposer", kind, KINDS)
