"""The one error type users see for bad input, with the file, field path and YAML line."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Problem:
    """One thing wrong with an input: where (field path, line) and what is allowed."""

    path: str
    message: str
    line: int | None = None

    def render(self) -> str:
        """``path (line N): message``, in the interface language (``--lang zh``: the framing
        and the message's recurring phrases; file, field path and names as written)."""
        from simulation.i18n import error_frame, error_path, error_text

        at = error_frame(" (line {line})", line=self.line) if self.line else ""
        message = error_text(self.message)
        if not self.path:  # about the file itself: not found, empty, not YAML
            return f"{message}{at}"
        return error_frame("{path}{at}: {message}", path=error_path(self.path), at=at,
                           message=message)


@dataclass
class ScenarioError(Exception):
    """Bad scenario or experiment input. ``str()`` is what the CLI prints (at most 3 lines)."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        from simulation.i18n import error_frame

        head = error_frame("error in {source}: ", source=self.source)
        if not self.problems:
            return head + error_frame("invalid input")
        first = head + self.problems[0].render()
        if len(self.problems) == 1:
            return first
        second = error_frame("also ") + self.problems[1].render()
        if len(self.problems) == 2:
            return f"{first}\n  {second}"
        more = error_frame("and {n} more problem(s)", n=len(self.problems) - 2)
        return f"{first}\n  {second}\n  {more}"

    @classmethod
    def single(cls, source: str, path: str, message: str, line: int | None = None) -> ScenarioError:
        return cls(source, [Problem(path, message, line)])
