"""The references live in the repository: every citation of docs/sources.md points at a section
that exists, and no preset, experiment or doc cites a path outside the repository (issue 9 item 7).
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "docs" / "sources.md"
CITING = [
    *sorted((REPO / "scenarios").rglob("*.yaml")),
    *sorted((REPO / "experiments").rglob("*.yaml")),
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "README.md",
]


def _sections() -> set[str]:
    """Section numbers (2.1, 3, …) and article keys (000 …) that docs/sources.md defines."""
    text = SOURCES.read_text(encoding="utf-8")
    numbers = set(re.findall(r"^#+ §?(\d+(?:\.\d+)?)[ .]", text, flags=re.M))
    keys = set(re.findall(r"^### \[(\d{3})\]", text, flags=re.M))
    return numbers | keys


def test_every_cited_section_exists() -> None:
    defined = _sections()
    assert {"000", "001", "002", "003", "004", "2.1", "2.6", "3"} <= defined
    for path in CITING:
        text = path.read_text(encoding="utf-8")
        for cited in re.findall(r"sources\.md\s+§(\d+(?:\.\d+)?)", text):
            # "§2.2–2.3" cites 2.2 (and 2.3): both must exist; the regex takes the first.
            where = path.relative_to(REPO)
            assert cited in defined, f"{where} cites docs/sources.md §{cited}, which does not exist"
        for key in set(re.findall(r"\[(00\d)\]", text)):
            where = path.relative_to(REPO)
            assert key in defined, f"{where} cites [{key}], not an article in docs/sources.md"


def test_no_citation_outside_the_repository() -> None:
    for path in CITING:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "DOMAIN.md" not in text, (
            f"{path.relative_to(REPO)} cites a file outside the repository; cite docs/sources.md")


def test_every_claim_test_named_in_presets_md_exists() -> None:
    """docs/presets.md lists the articles' claims with the test that checks each: the named
    tests exist, and every claim test is listed."""
    doc = (REPO / "docs" / "presets.md").read_text(encoding="utf-8")
    named = set(re.findall(r"test `(test_\w+)`", doc))
    defined = {
        name
        for path in (REPO / "tests").glob("test_claims_*.py")
        for name in re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), flags=re.M)
    }
    assert named, "docs/presets.md names no claim test"
    assert named <= defined, f"named in docs/presets.md but not defined: {sorted(named - defined)}"
    assert defined <= named, f"claim tests missing from docs/presets.md: {sorted(defined - named)}"
