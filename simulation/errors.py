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
        at = f" (line {self.line})" if self.line else ""
        if not self.path:  # about the file itself: not found, empty, not YAML
            return f"{self.message}{at}"
        return f"{self.path}{at}: {self.message}"


@dataclass
class ScenarioError(Exception):
    """Bad scenario or experiment input. ``str()`` is what the CLI prints (at most 3 lines)."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"error in {self.source}: "
        if not self.problems:
            return head + "invalid input"
        first = head + self.problems[0].render()
        if len(self.problems) == 1:
            return first
        second = self.problems[1].render()
        if len(self.problems) == 2:
            return f"{first}\n  also {second}"
        return f"{first}\n  also {second}\n  and {len(self.problems) - 2} more problem(s)"

    @classmethod
    def single(cls, source: str, path: str, message: str, line: int | None = None) -> ScenarioError:
        return cls(source, [Problem(path, message, line)])
