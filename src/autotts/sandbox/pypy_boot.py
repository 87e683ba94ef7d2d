"""Start the sandboxed worker: ``pypy3 pypy_boot.py [--seccomp FILE] --tag ID`` under PyPy,
``python -P pypy_boot.py --tag ID`` under CPython.

Controller files spend most of a cell in their own Python (a CMC-shaped file: about
three quarters of its CPU time), which CPython runs as written and PyPy's JIT
compiles. PyPy has no NumPy here, so this script sets up the part of autotts a
lean, untraced episode needs without importing the package's ``__init__`` modules
(they pull in NumPy): each package is registered as an empty module whose
``__path__`` is the real folder, so ``import autotts.env.fast_session`` loads the
real file. The ``autotts`` module then gets the public names a controller file
imports (the controller API's); a file that imports anything else — NumPy, SciPy,
``autotts.ReplayEnv`` — fails to load here, and the evaluator runs its cells on
CPython instead (:mod:`autotts.evaluation.interpreters`).

``--seccomp FILE`` is the ``pyseccomp`` module of the parent's environment (one
pure-Python file over ctypes, so PyPy runs it): loaded by path, so nothing else of
that environment is put on this interpreter's path.

CPython starts the worker the same way, for its start's sake: ``python -m
autotts.sandbox.worker`` ran the package's ``__init__`` modules, which import NumPy,
SciPy and most of autotts (0.19 of the 0.25 CPU-s a fresh worker took up to its first
results; this start takes about 0.04, measured with ``benchmarks/audit_cost.py``). A
worker starts for every audited cell's shadow, so that was most of the audit's cost.
On CPython the bare packages complete themselves when asked for a name they lack (a
file may import any of autotts's public names there, or NumPy): the package's real
``__init__`` then runs, once, as under ``-m``.

Runs on Python 3.9 (Debian's PyPy), standard library only.
"""

import importlib.util
import os
import sys
import types

#: The names ``autotts`` offers a controller file here: the controller API.
_API = {
    "autotts.controllers.base": ("Controller",),
    "autotts.env.session": ("Session",),
    "autotts.controllers.voting": (
        "beta_confidence",
        "majority",
        "vote_stats",
        "weighted_majority",
    ),
}


_PYPY = sys.implementation.name == "pypy"


def _packages() -> None:
    """Register autotts and its subpackages as bare packages over the real folders."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name in ("autotts", "autotts.env", "autotts.controllers", "autotts.sandbox"):
        module = types.ModuleType(name)
        module.__path__ = [os.path.join(root, *name.split(".")[1:])]
        module.__file__ = os.path.join(module.__path__[0], "__init__.py")
        sys.modules[name] = module
        if not _PYPY:
            module.__getattr__ = _completing(module)  # type: ignore[method-assign,assignment]
    package = sys.modules["autotts"]
    for where, names in _API.items():
        source = importlib.import_module(where)
        for name in names:
            setattr(package, name, getattr(source, name))
    errors = importlib.import_module("autotts.errors")
    for name in errors.__all__:
        setattr(package, name, getattr(errors, name))


def _completing(module: types.ModuleType) -> object:
    """A module ``__getattr__`` (PEP 562) that runs the package's real ``__init__`` into the
    bare ``module`` the first time a name is missing, then looks the name up again."""
    state = {"done": False}

    folder = module.__path__[0]

    def __getattr__(name: str) -> object:
        # ``from package import submodule`` asks first (hasattr): that is the submodule's
        # import, not a missing name.
        submodule = os.path.exists(os.path.join(folder, name + ".py")) or os.path.isdir(
            os.path.join(folder, name)
        )
        if name.startswith("__") or state["done"] or submodule:
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
        state["done"] = True
        with open(module.__file__, encoding="utf-8") as source:  # type: ignore[arg-type]
            code = compile(source.read(), module.__file__, "exec")  # type: ignore[arg-type]
        exec(code, module.__dict__)
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}") from None

    return __getattr__


def _seccomp_module(path: str) -> None:
    spec = importlib.util.spec_from_file_location("pyseccomp", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["pyseccomp"] = module


def main() -> int:
    # The script's own folder (autotts/sandbox) must not be a top-level import path (PyPy
    # 3.9 has no -P; CPython, started with it, has not put it there).
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == here:
        del sys.path[0]
    argv = sys.argv[1:]
    if argv[:1] == ["--seccomp"]:
        try:
            _seccomp_module(argv[1])
        except (ImportError, OSError) as exc:  # the worker reports seccomp as unavailable
            print(f"autotts worker: cannot load pyseccomp: {exc}", file=sys.stderr)
        argv = argv[2:]
    _packages()
    # only now: the bare packages must be registered before any autotts import
    from autotts.sandbox.worker import main as serve

    return serve(argv)


if __name__ == "__main__":
    sys.exit(main())
