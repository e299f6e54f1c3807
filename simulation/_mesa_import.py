"""Importing Mesa without its import-time stack walk.

``mesa/model.py`` (Mesa 3.3) names its logger with ``inspect.stack()`` and its
``method_logger`` decorator finds the class name with ``inspect.getouterframes``. Both build
source context for every frame on the stack; for the frozen importlib frames of a nested import
``inspect.getmodule`` then scans all of ``sys.modules`` (~1,500 modules by then) once per
frame. Measured: ~0.35 s of the ~2.3 s every ``opmatrix`` command and every sweep worker spends
importing (``python -X importtime``: mesa.model 351 ms, 0.9 ms with this). Mesa reads only
the frame objects and the function names from what those calls return, and the module of
one frame, so while
``mesa`` is imported they (and ``inspect.getmodule`` for frames) are replaced by versions that
return the same frames, names and module without source context or a scan of every module's
file; the real functions are put back right after.

The subpackages of :data:`DEFERRED`, which ``mesa/__init__.py`` imports and a run never uses,
are made lazy with the standard library's :class:`importlib.util.LazyLoader`
(:class:`_LazyFinder`): their code runs when something first uses them.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import sys
from collections.abc import Sequence
from types import FrameType, ModuleType


def _frames(frame: FrameType | None, context: int = 1) -> list[inspect.FrameInfo]:
    """``inspect.getouterframes`` without source lines (``code_context`` and ``index`` None)."""
    out = []
    while frame is not None:
        code = frame.f_code
        out.append(inspect.FrameInfo(frame, code.co_filename, frame.f_lineno, code.co_name,
                                     None, None))
        frame = frame.f_back
    return out


def _stack(context: int = 1) -> list[inspect.FrameInfo]:
    """``inspect.stack`` without source lines: the caller's frame first, like the real one."""
    return _frames(sys._getframe(1), context)


_real_getmodule = inspect.getmodule


def _getmodule(obj: object, _filename: str | None = None) -> ModuleType | None:
    """``inspect.getmodule``, answering for a frame from its globals' ``__name__`` (the module
    the frame runs in) instead of matching its file against every module's (which, the first
    time, takes the absolute and real path of each of ~1,500 modules)."""
    if isinstance(obj, FrameType):
        module = sys.modules.get(obj.f_globals.get("__name__", ""))
        if module is not None:
            return module
    return _real_getmodule(obj, _filename)


#: Subpackages ``mesa/__init__.py`` imports that a run never uses: continuous and discrete
#: spaces and the experimental features (scipy.spatial, scipy.sparse and networkx come with
#: them). Measured: ≈ 0.45 CPU-s of every command's imports (scipy.sparse + spatial 0.26,
#: the rest of mesa 0.19; loaded 2-core machine).
DEFERRED = ("mesa.experimental", "mesa.discrete_space", "mesa.space")


class _LazyFinder(importlib.abc.MetaPathFinder):
    """Finds the :data:`DEFERRED` subpackages as the import system would, with the standard
    library's :class:`importlib.util.LazyLoader` in front of their loaders: the import
    statements in ``mesa/__init__.py`` then bind modules whose code runs on the first
    attribute anyone reads (``mesa.space.MultiGrid``, ``from mesa.discrete_space import …``,
    a later ``import mesa.space`` statement, which reads its ``__spec__``).

    A finder rather than the LazyLoader recipe that puts the module in ``sys.modules`` first:
    an import statement that finds a module already there reads its ``__spec__`` at once,
    which would load it; created by the import system itself, nothing reads an attribute of
    it until it is used. Installed only while ``mesa`` is imported, so nothing else is made
    lazy. (Python 3.11's lazy module has no lock: two threads touching one of these three
    for the very first time at the same instant could both run it; nothing in opmatrix
    does — a run never touches them, the dashboard imports them once, under its own import
    lock.)"""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name not in DEFERRED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def import_mesa() -> None:
    """Import ``mesa`` (once per process) with the cheap stack functions in place and the
    :data:`DEFERRED` subpackages loaded only when used."""
    if "mesa" in sys.modules:
        return
    finder = _LazyFinder()
    sys.meta_path.insert(0, finder)
    real = inspect.stack, inspect.getouterframes, inspect.getmodule
    inspect.stack, inspect.getouterframes = _stack, _frames  # type: ignore[assignment]
    inspect.getmodule = _getmodule  # type: ignore[assignment]
    try:
        import mesa  # noqa: F401
    finally:
        inspect.stack, inspect.getouterframes, inspect.getmodule = real
        sys.meta_path.remove(finder)


import_mesa()
