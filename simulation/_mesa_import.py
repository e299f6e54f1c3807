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
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import inspect
import sys
import threading
import types
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
_load_lock = threading.RLock()


class _Deferred(types.ModuleType):
    """A module whose code runs the first time anyone reads a name it does not have yet
    (``mesa.space.MultiGrid``, ``from mesa.discrete_space import …``): what a plain import
    would have given, later. Its ``__spec__``, ``__path__`` and ``__name__`` are there from
    the start, so the import system's own look-ups do not load it; importlib's LazyLoader
    does not fit here, since it loads on any attribute, ``__spec__`` included, which the
    import statement in ``mesa/__init__.py`` reads at once."""

    def __getattr__(self, name: str) -> object:
        _load(self)
        return getattr(self, name)


def _load(module: ModuleType) -> None:
    with _load_lock:
        if type(module) is not _Deferred:  # loaded meanwhile (or loading, in this thread)
            return
        module.__class__ = ModuleType
        spec = module.__spec__
        assert spec is not None and spec.loader is not None
        spec._initializing = True  # type: ignore[attr-defined]
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(spec.name, None)
            raise
        finally:
            spec._initializing = False  # type: ignore[attr-defined]


def _defer(name: str) -> None:
    """Put ``name`` in ``sys.modules`` as a :class:`_Deferred` module (found, not run)."""
    parent = name.rpartition(".")[0]
    top = importlib.util.find_spec(parent)  # finds the package without running it
    if top is None or top.submodule_search_locations is None:
        return
    spec = importlib.machinery.PathFinder.find_spec(name, top.submodule_search_locations)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _Deferred
    sys.modules[name] = module


def import_mesa() -> None:
    """Import ``mesa`` (once per process) with the cheap stack functions in place and the
    :data:`DEFERRED` subpackages loaded only when used."""
    if "mesa" in sys.modules:
        return
    for name in DEFERRED:
        if name not in sys.modules:
            _defer(name)
    real = inspect.stack, inspect.getouterframes, inspect.getmodule
    inspect.stack, inspect.getouterframes = _stack, _frames  # type: ignore[assignment]
    inspect.getmodule = _getmodule  # type: ignore[assignment]
    try:
        import mesa  # noqa: F401
    finally:
        inspect.stack, inspect.getouterframes, inspect.getmodule = real


import_mesa()
