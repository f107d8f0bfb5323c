"""The README stays a five-minute read and the documentation holds together: README.md is at
most 350 lines, its two set-up commands are the ones CI runs, every page of docs/ starts with a
summary and a link back, and every relative link in README.md, CONTRIBUTING.md and docs/*.md
reaches a file and, where it names one, a heading there (GitHub's anchor rules)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
# README command 1 (the newcomer's first command; benchmarks/first_run.py times its demo)
DEMO = "python3 -m venv .venv && . .venv/bin/activate && pip install . && sinoloc locate --demo"
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^()\s]+)\)")


def _prose(text: str) -> str:
    """The text outside fenced code blocks and inline code spans."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text in lower case, punctuation dropped
    (letters of every script, digits, `_` and `-` kept), each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link reads as its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", FENCE.sub("", text), re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")  # a repeated heading gets -1, -2, …
    return found


@pytest.mark.parametrize(("heading", "anchor"), [
    ("Set up", "set-up"),
    ("Several trajectories and a selector (`--samples K`)",
     "several-trajectories-and-a-selector---samples-k"),
    ("Inside other agents: MCP", "inside-other-agents-mcp"),
    ("The `sinoloc` command", "the-sinoloc-command"),
    ("Recorded runs: replay, inspect, regression-test", "recorded-runs-replay-inspect-regression-test"),
    ("知识库 Knowledge base", "知识库-knowledge-base"),
    ("What leaves the machine?", "what-leaves-the-machine"),
])
def test_slugs_follow_githubs_rules(heading, anchor):
    assert slug(heading) == anchor


def test_a_repeated_heading_gets_a_number():
    assert anchors("# Use\n\n## Chat\n\n```bash\n# not a heading\n```\n\n## Chat\n") == {
        "use", "chat", "chat-1"}


def test_the_readme_is_a_five_minute_read():
    assert len(README.splitlines()) <= 350


def test_the_two_set_up_commands_are_the_ones_ci_runs():
    setup = README.split("\n## Set up\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)\n```", setup, re.S)
    ci = [line for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if line.startswith("python3 -m venv")]
    assert len(ci) == 1
    assert blocks == [DEMO, ci[0]]
    assert re.findall(r"```bash\n(.*?)\n```", README, re.S)[:2] == blocks  # the first a reader meets


def test_every_docs_page_starts_with_a_summary_and_a_way_back():
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        title, _, rest = text.partition("\n\n")
        summary = rest.split("\n\n", 1)[0]
        assert title.startswith("# ") and "\n" not in title, page.name
        assert not summary.startswith(("#", "```", "|", "-")), page.name
        assert "](../README.md" in text.split("\n## ", 1)[0], page.name


def _links(pages: list[Path]):
    for page in pages:
        for target in LINK.findall(_prose(page.read_text(encoding="utf-8"))):
            if not re.match(r"[a-z][a-z+.-]*:", target):  # http:, https:, mailto: are not ours
                yield page, target


def broken_links(pages: list[Path]) -> list[str]:
    broken = []
    for page, target in _links(pages):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_file():
            broken.append(f"{page.name}: {target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text(encoding="utf-8")):
            broken.append(f"{page.name}: {target} (no such heading)")
    return broken


def test_the_link_check_finds_the_links_and_the_broken_ones(tmp_path):
    found = {(p.name, t) for p, t in _links(PAGES)}
    assert ("README.md", "docs/cli.md") in found and ("cli.md", "models.md") in found
    assert len(found) > 60
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Set up `x`\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text("[ok](docs/a.md#set-up-x) [here](#b) `[code](nowhere.md)` ![img](docs/a.png)\n"
                    "[gone](docs/b.md) [no heading](docs/a.md#set-up) [web](https://x.org/y.md)\n\n"
                    "# B\n\n```\n[fenced](nowhere.md)\n```\n", encoding="utf-8")
    assert broken_links([page]) == ["README.md: docs/a.png (no such file)",
                                    "README.md: docs/b.md (no such file)",
                                    "README.md: docs/a.md#set-up (no such heading)"]


def test_every_relative_link_reaches_a_file_and_a_heading():
    assert broken_links(PAGES) == []


def test_the_code_points_at_pages_that_exist():
    """Help texts, replies and docstrings that send a reader to a page name one that exists, and
    none sends them to a README section (the reference lives in docs/)."""
    named, stale = set(), []
    for folder in ("agent", "app", "eval", "tools", "benchmarks"):
        for source in (ROOT / folder).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            named |= set(re.findall(r"\bdocs/[\w-]+\.md\b", text))
            stale += [f"{source.relative_to(ROOT)}: {m}" for m in
                      re.findall(r"README'?s? [\\\"“«]+[^\"”»]+", text)]
    assert "docs/models.md" in named
    assert sorted(p for p in named if not (ROOT / p).is_file()) == []
    assert stale == []


def _documentation() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in PAGES)


def test_every_environment_variable_the_code_reads_is_documented():
    code = "\n".join(p.read_text(encoding="utf-8") for folder in ("agent", "app", "eval", "tools")
                     for p in (ROOT / folder).rglob("*.py"))
    names = set(re.findall(r"\bSINOLOC_[A-Z0-9_]*[A-Z0-9]\b", code))
    assert len(names) > 30
    docs = _documentation()
    assert sorted(n for n in names if not re.search(rf"\b{n}\b", docs)) == []


def test_every_benchmark_is_documented():
    runnable = {p.stem for p in (ROOT / "benchmarks").glob("*.py")
                if '__name__ == "__main__"' in p.read_text(encoding="utf-8")}
    assert {"locate", "first_run", "serve_hostile"} <= runnable
    docs = _documentation()
    assert sorted(b for b in runnable if f"python -m sinoloc.benchmarks.{b}" not in docs) == []
