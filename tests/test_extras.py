"""Optional dependencies: a missing one ends the command with the install line, never a
traceback; and each extra's features run with only that extra's packages installed.

"Not installed" is simulated without touching the product code or the venv: the child
process gets a ``sitecustomize`` (through PYTHONPATH) that puts a meta path finder first,
which refuses the listed top-level modules the way Python does for an absent package.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib

from autotts.extras import EXTRAS

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "autotts"
OPTIONAL = sorted({m for modules in EXTRAS.values() for m in modules})

BLOCKER = textwrap.dedent(
    """
    import os, sys

    BLOCKED = set(filter(None, os.environ.get("BLOCK_MODULES", "").split(",")))


    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, NotInstalled())
    """
)


def _env(tmp_path: Path, blocked: list[str]) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env["BLOCK_MODULES"] = ",".join(blocked)
    env.pop("AUTOTTS_DATA", None)
    return env


def _autotts(tmp_path: Path, blocked: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autotts.cli.main", *args],
        env=_env(tmp_path, blocked),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _python(tmp_path: Path, blocked: list[str], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=_env(tmp_path, blocked),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_blocker_blocks(tmp_path: Path) -> None:
    # otherwise every "missing" test below would pass for the wrong reason
    done = _python(tmp_path, ["json"], "import json")
    assert "No module named 'json'" in done.stderr


# (what is run, modules made missing, extra named in the message)
MISSING = [
    ("replay-server --data synthetic --model Synth-Small --port 9", "starlette", "live"),
    ("serve --upstream http://127.0.0.1:9/v1 --model m --port 9", "starlette", "live"),
    ("serve --upstream http://127.0.0.1:9/v1 --model m --port 9", "uvicorn", "live"),
    ("optimize --out run --data synthetic", "optuna", "optimize"),
    ("optimize --out run --data synthetic --sampler cmaes", "cmaes", "optimize"),
    ("discover --out run --data synthetic --proposer optimizer", "optuna", "optimize"),
    ("eval --data synthetic -c sc --answers equivalence", "math_verify", "live"),
    ("sweep --data synthetic -c sc --answers equivalence", "math_verify", "live"),
    ("sweep --data synthetic -c sc --plot f.png", "matplotlib", "plot"),
    ("eval --data synthetic -c sc --executor ray", "ray", "ray"),
    (
        "collect --base-url http://127.0.0.1:9/v1 --model m --questions q.jsonl --out o.json",
        "openai",
        "live",
    ),
    (
        "discover --out run --data synthetic --proposer openai --llm-model m --base-url http://127.0.0.1:9/v1",
        "openai",
        "llm",
    ),
    (
        "discover --out run --data synthetic --proposer anthropic --llm-model m --base-url http://127.0.0.1:9/v1",
        "anthropic",
        "llm",
    ),
]


@pytest.mark.parametrize(
    ("args", "missing", "extra"), MISSING, ids=lambda v: v.split()[0] if " " in v else v
)
def test_a_missing_extra_is_one_line_naming_the_install(
    tmp_path: Path, args: str, missing: str, extra: str
) -> None:
    (tmp_path / "q.jsonl").write_text('{"question": "1+1?", "answer": "2"}\n')
    done = _autotts(tmp_path, [missing], *args.split())
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    assert f"pip install 'autotts[{extra}]'" in done.stderr
    assert missing in done.stderr
    assert done.stderr.strip().count("\n") == 0 or "error:" in done.stderr.splitlines()[-1]
    assert not (tmp_path / "run").exists()  # it failed at its start, before writing anything


def test_extras_table_matches_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {k: v for k, v in declared["optional-dependencies"].items() if k != "dev"}

    def module(requirement: str) -> str:
        return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].replace("-", "_")

    assert {k: sorted(map(module, v)) for k, v in extras.items()} == {
        k: sorted(v) for k, v in EXTRAS.items()
    }
    # and dev installs every extra, so the test suite sees them all
    dev = {module(r) for r in declared["optional-dependencies"]["dev"]}
    assert set(OPTIONAL) <= dev


def _third_party_imports() -> list[tuple[Path, ast.AST, str, list[ast.AST]]]:
    """(file, import node, top-level module, enclosing nodes) for every non-stdlib import."""
    found = []

    def walk(path: Path, node: ast.AST, parents: list[ast.AST]) -> None:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.partition(".")[0]
            if top not in sys.stdlib_module_names and top != "autotts":
                found.append((path, node, top, parents))
        for child in ast.iter_child_nodes(node):
            walk(path, child, [*parents, node])

    for path in sorted(SRC.rglob("*.py")):
        walk(path, ast.parse(path.read_text(encoding="utf-8")), [])
    return found


# imports of an optional module that need no guard, and why
UNGUARDED = {
    ("live/client.py", "openai"): "maps an error the openai client raised: it is installed",
    ("scale/ray_executor.py", "ray"): "runs inside a Ray worker process",
}


def test_every_import_is_declared_and_optional_ones_are_guarded() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    mandatory = {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0] for r in declared["dependencies"]}
    # modules of the mandatory packages, and what matplotlib brings (PIL, for PNG palettes)
    allowed = mandatory | {"PIL"}
    unguarded = []
    for path, node, top, parents in _third_party_imports():
        rel = path.relative_to(SRC).as_posix()
        assert top in allowed or top in OPTIONAL, f"{rel}:{node.lineno}: {top} is not declared"
        if top not in OPTIONAL or (rel, top) in UNGUARDED:
            continue
        guards = [
            p
            for p in parents
            if isinstance(p, ast.With)
            and any(
                isinstance(item.context_expr, ast.Call)
                and getattr(item.context_expr.func, "id", "") == "needs"
                and isinstance(item.context_expr.args[0], ast.Constant)
                and top in EXTRAS[item.context_expr.args[0].value]
                for item in p.items
            )
        ]
        if not guards:
            unguarded.append(f"{rel}:{node.lineno} imports {top}")
    assert unguarded == []


# Each extra's features, run with every *other* optional package missing: they must not
# need a package their extra does not install.
ONLY_THIS_EXTRA = {
    "live": """
        from autotts.data.equivalence import _verified
        from autotts.evaluation.jobs import DataRef, load_data
        from autotts.live.client import CompletionClient, Sampling
        from autotts.live.http import run_app  # noqa: F401
        from autotts.live.replay_model import ReplayModel
        from autotts.live.replay_server import replay_app
        from autotts.live.serving import ServeConfig, serve_app
        import uvicorn  # noqa: F401

        replay_app(ReplayModel.__new__(ReplayModel))
        serve_app(ServeConfig(upstream="http://127.0.0.1:9/v1", model="m"))
        CompletionClient("http://127.0.0.1:9/v1", "m", Sampling())
        assert _verified("1/2", "0.5")
        print("ok")
    """,
    "optimize": """
        from autotts.discovery.optimizer.worker import OptimizerSettings, open_study

        study = open_study("journal", OptimizerSettings(sampler="cmaes"))
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        print("ok")
    """,
    "plot": """
        from autotts.report.plots import pyplot, save_figure

        plt = pyplot()
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        save_figure(fig, __import__("pathlib").Path("f.png"))
        print("ok")
    """,
    "llm": """
        from autotts.discovery.proposers.anthropic_messages import AnthropicProposer
        from autotts.discovery.proposers.openai_chat import OpenAIProposer

        OpenAIProposer("m", base_url="http://127.0.0.1:9/v1")
        AnthropicProposer("m", base_url="http://127.0.0.1:9")
        print("ok")
    """,
    "ray": """
        from autotts.scale.ray_executor import import_ray

        import_ray()
        print("ok")
    """,
}


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_each_extra_needs_nothing_it_does_not_declare(tmp_path: Path, extra: str) -> None:
    others = [m for m in OPTIONAL if m not in EXTRAS[extra]]
    done = _python(tmp_path, others, ONLY_THIS_EXTRA[extra])
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
