"""A tiny Markdown → HTML for the runs viewer (app/web/runs.py): the subset ``sinoloc eval report``
writes (headings, paragraphs, bullet lists, pipe tables, ``**bold**``, ``code``, ``_em_`` and
figures), every text escaped; a figure only where ``figure_url`` gives it a URL."""

from __future__ import annotations

import html
import re


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"^_(.+)_$", r"<em>\1</em>", out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _figure_html(alt: str, target: str, figure_url) -> str | None:
    url = figure_url(target)
    if not url:
        return None
    alt = html.escape(alt)
    return f'<figure><img src="{html.escape(url)}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'


def _table_html(rows: list[str]) -> str:
    head, body = _cells(rows[0]), [_cells(r) for r in rows[2:]]
    return ("<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head)
            + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>"
                      for r in body) + "</tbody></table>")


def _block(lines: list[str], i: int, prefix: str) -> tuple[list[str], int]:
    """The run of lines from ``i`` that start with ``prefix``, and the index after it."""
    end = i
    while end < len(lines) and lines[end].startswith(prefix):
        end += 1
    return lines[i:end], end


def _line_html(line: str, figure_url) -> str | None:
    """One line that stands alone: a heading, a figure or a paragraph (None: nothing)."""
    heading = re.match(r"^(#{1,4}) (.*)$", line)
    if heading:
        level = len(heading.group(1))
        return f"<h{level}>{_inline(heading.group(2))}</h{level}>"
    figure = re.match(r"^!\[([^\]]*)\]\(([^)]*)\)$", line)
    if figure:
        return _figure_html(figure.group(1), figure.group(2), figure_url)
    return f"<p>{_inline(line)}</p>" if line.strip() else None


def markdown_html(text: str, figure_url) -> str:
    """The report's Markdown as HTML; ``figure_url(name)`` is a figure's URL, or None to leave
    the figure out (anything but a plain ``*.png`` name in the report folder)."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|"):
            rows, i = _block(lines, i, "|")
            out.append(_table_html(rows))
        elif lines[i].startswith("- "):
            items, i = _block(lines, i, "- ")
            out.append("<ul>" + "".join(f"<li>{_inline(item[2:])}</li>" for item in items) + "</ul>")
        else:
            html_line = _line_html(lines[i], figure_url)
            if html_line is not None:
                out.append(html_line)
            i += 1
    return "\n".join(out)


__all__ = ["markdown_html"]
