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

import inspect
import sys
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


def import_mesa() -> None:
    """Import ``mesa`` (once per process) with the cheap stack functions in place."""
    if "mesa" in sys.modules:
        return
    real = inspect.stack, inspect.getouterframes, inspect.getmodule
    inspect.stack, inspect.getouterframes = _stack, _frames  # type: ignore[assignment]
    inspect.getmodule = _getmodule  # type: ignore[assignment]
    try:
        import mesa  # noqa: F401
    finally:
        inspect.stack, inspect.getouterframes, inspect.getmodule = real


import_mesa()
