"""Prompt templates and the forced-answer suffix.

A template is text with one ``{question}`` placeholder (filled by plain
replacement, so other braces such as ``\\boxed{}`` need no escaping). The built-in
ones are named; anything else containing ``{question}`` is used as given.
The probe suffix ends with an open ``\\boxed{`` so the model's next few tokens
are its answer (docs/collection.md).
"""

from __future__ import annotations

from autotts.errors import UsageError

__all__ = ["PROBE_SUFFIX", "TEMPLATES", "render", "resolve_template"]

TEMPLATES: dict[str, str] = {
    # Raw text for base models and replay servers.
    "plain": (
        "{question}\n\nPlease reason step by step, and put your final answer within \\boxed{}.\n\n"
    ),
    # ChatML, the chat format of Qwen and SmolLM2 instruct models, for servers whose
    # completions endpoint takes raw text.
    "chatml": (
        "<|im_start|>user\n{question}\nPlease reason step by step, and put your final "
        "answer within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n"
    ),
}

PROBE_SUFFIX = "\n\n... Time is up. Given the time spent, the final answer is \\boxed{"


def resolve_template(template: str) -> str:
    """A built-in template's text by name, or ``template`` itself if it has ``{question}``."""
    if template in TEMPLATES:
        return TEMPLATES[template]
    if "{question}" not in template:
        raise UsageError(
            f"a prompt template must be one of {', '.join(TEMPLATES)} or text containing "
            f"{{question}}, got {template[:60]!r}"
        )
    return template


def render(template: str, question: str) -> str:
    """The prompt for ``question`` under ``template`` (a name or a template text)."""
    return resolve_template(template).replace("{question}", question)
