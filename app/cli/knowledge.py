"""``sinoloc knowledge``: search, inspect and validate the clue corpus (and the user's files);
list the corrections people gave and promote one into a knowledge entry.

Building the parser imports nothing heavy (the knowledge package loads the region data): every
``sinoloc`` command builds it, and ``locate`` starts its warm-up only after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# for the help text only (the corpus module reads it): spelled here so that building the parser
# does not import the corpus; the name is ..tools.knowledge.corpus.USER_FILES_ENV (a test keeps them equal)
USER_FILES_ENV = "SINOLOC_KNOWLEDGE_FILES"
EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_parser(sub) -> None:
    parser = sub.add_parser("knowledge", help="search, show, count and validate the clue "
                                              "knowledge base; list and promote corrections")
    commands = parser.add_subparsers(dest="knowledge_command", required=True)
    search = commands.add_parser("search", help="entries matching a query (BM25, offline)")
    search.add_argument("query", help="words in Chinese or English (whole words match: 银行 "
                                      "finds banks, not 成行)")
    search.add_argument("--region", default=None, metavar="NAME",
                        help="only entries pointing into this region (a name or an adcode)")
    search.add_argument("-k", type=int, default=5, metavar="N", help="how many entries")
    search.add_argument("--json", action="store_true", help="print the entries as JSON")
    add_files_argument(search)
    show = commands.add_parser("show", help="one entry by id")
    show.add_argument("id", help="the entry's id (as `knowledge search` prints it)")
    show.add_argument("--json", action="store_true", help="print the entry as JSON")
    add_files_argument(show)
    stats = commands.add_parser("stats", help="entry counts per kind and per province")
    stats.add_argument("--json", action="store_true", help="print the counts as JSON")
    add_files_argument(stats)
    validate = commands.add_parser("validate", help="check the shipped corpus and clue files "
                                                    "(CSV or YAML); lists every error, exit 2 "
                                                    "if any")
    validate.add_argument("files", nargs="*", metavar="FILE",
                          help="your clue files (none: the shipped corpus alone)")
    corrections = commands.add_parser("corrections", help="the true places you gave for photos "
                                      "(chat /truth, the web app, Geolocator.correct)")
    corrections.add_argument("--json", action="store_true", help="print them as JSON lines")
    promote = commands.add_parser("promote", help="turn a correction into your own knowledge "
                                  "entry (provenance: user correction) that later runs retrieve")
    promote.add_argument("id", help="the correction's id (as `knowledge corrections` lists it)")
    promote.add_argument("--pattern", default=None, metavar="TEXT", help="the sign text that "
                         "identifies the place (default: the longest text read in the photo)")
    promote.add_argument("--kind", default="landmark", metavar="KIND",
                         help="the entry's kind (default landmark; commerce for a shop chain)")


def add_files_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--knowledge", action="append", default=[], metavar="FILE",
                        help="your own clue file (CSV or YAML), merged with the shipped corpus; "
                             f"also ${USER_FILES_ENV}")


def knowledge_files(files: list[str]) -> list[str] | None:
    """The clue files of this run: ``--knowledge`` files added to the environment's
    (``SINOLOC_KNOWLEDGE_FILES``), as absolute paths; None when no ``--knowledge`` was given (the
    environment's stand). :func:`sinoloc.agent.build.build_locator` takes them."""
    if not files:
        return None
    from sinoloc.tools.knowledge.corpus import user_file_key

    return [*user_file_key(), *(os.path.abspath(f) for f in files)]


def _entry_dict(entry, corpus) -> dict:
    return {**entry.model_dump(mode="json", exclude={"origin"}),
            "region_names": corpus.region_names(entry),
            "excluded_names": corpus.excluded_names(entry)}


def _cells(text: str) -> int:
    """Terminal columns (a CJK character takes two): what aligns 新疆维吾尔自治区 with 北京市."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def stats_lines(stats: dict) -> list[str]:
    """Counts per kind and per province, right-aligned in one column whatever the names' width."""
    lines = [f"{stats['entries']} entries"]
    for title in ("kind", "province"):
        names = stats[title]
        wide = max((_cells(n) for n in names), default=0)
        digits = max((len(str(c)) for c in names.values()), default=1)
        lines += ["", f"per {title}:"]
        lines += [f"  {name}{' ' * (wide - _cells(name))}  {count:>{digits}}"
                  for name, count in names.items()]
    return lines


def entry_lines(entry, corpus) -> list[str]:
    """One entry for people: what the clue is, where it points and how strongly, its source."""
    where = "、".join(corpus.region_names(entry)) or "does not localise (a national pattern)"
    lines = [f"[{entry.id}] {entry.kind.value}", f"  {entry.clue_zh}", f"  {entry.clue_en}",
             f"  points to: {where}" + (" (only there)" if entry.exclusive else ""),
             f"  strength: {entry.strength:.2f}"]
    excluded = corpus.excluded_names(entry)
    if excluded:
        lines.append(f"  rules out: {'、'.join(excluded)}")
    if entry.patterns:
        lines.append(f"  sign text that triggers it: {'、'.join(entry.patterns)}")
    lines.append(f"  source: {entry.source}")
    if entry.origin:
        lines.append(f"  from: {entry.origin}")
    return lines


def _validate(files: list[str]) -> int:
    from sinoloc.tools.knowledge.corpus import check_files, shipped_files

    entries, errors = check_files(files)
    for error in errors:
        print(f"error: {error}")
    shipped = len(shipped_files())
    print(f"{entries} entries read from {shipped} shipped file(s) and {len(files)} of yours: "
          + (f"{len(errors)} error(s)" if errors else "ok"))
    return EXIT_BAD_INPUT if errors else EXIT_OK


def _corrections(args: argparse.Namespace) -> int:
    """``knowledge corrections`` and ``knowledge promote`` (agent/corrections.py)."""
    from sinoloc.agent.corrections import (
        CorrectionsError,
        corrections_path,
        load_corrections,
        promote,
    )
    from sinoloc.tools.knowledge.corpus import KnowledgeKind, promoted_file

    try:
        if args.knowledge_command == "promote":
            try:
                kind = KnowledgeKind(args.kind)
            except ValueError:
                raise CorrectionsError(f"--kind {args.kind}: one of "
                                       f"{', '.join(k.value for k in KnowledgeKind)}") from None
            entry = promote(args.id, pattern=args.pattern, kind=kind)
            print(f"promoted {args.id} to [{entry.id}] in {promoted_file()}: "
                  f"{entry.clue_zh} (sign text {entry.patterns[0]!r})")
            return EXIT_OK
        items = load_corrections()
    except CorrectionsError as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        for item in items:
            print(item.model_dump_json(exclude={"evidence"}))
        return EXIT_OK
    if not items:
        print(f"no corrections yet ({corrections_path()})")
    for item in items:
        shown = "、".join(item.texts[:3]) or "(no text read)"
        done = f"  → [{item.promoted_to}]" if item.promoted_to else ""
        print(f"{item.id}  {item.truth} (answered {item.predicted or '?'}); text: {shown}; "
              f"{len(item.evidence)} evidence item(s), from {item.surface}{done}")
    return EXIT_OK


def _stats(args: argparse.Namespace, corpus) -> int:
    """``knowledge stats``: entry counts, as JSON or lines."""
    stats = {"entries": len(corpus), **corpus.stats()}
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
    else:
        print("\n".join(stats_lines(stats)))
    return EXIT_OK


def _show(args: argparse.Namespace, corpus) -> int:
    """``knowledge show``: one entry by id, as JSON or lines; an unknown id is bad input."""
    entry = corpus.by_id.get(args.id)
    if entry is None:
        print(f"sinoloc: no knowledge entry {args.id!r} (`sinoloc knowledge search WORDS` "
              "lists ids)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(_entry_dict(entry, corpus), ensure_ascii=False, indent=2))
    else:
        print("\n".join(entry_lines(entry, corpus)))
    return EXIT_OK


def _print_hits(hits, kept: set, reading, corpus) -> None:
    """The search's hits as numbered lines, each flagged when locate would not use it."""
    print("\n".join(reading.lines()) or "locate reads no clue in this text")
    if not hits:
        print("no matching entry")
    for rank, hit in enumerate(hits, start=1):
        entry = hit.entry
        where = "、".join(corpus.region_names(entry)) or "does not localise"
        print(f"{rank}. [{entry.id}] {entry.kind.value}, score {hit.score:.2f}\n"
              f"   {entry.clue_zh}\n   {entry.clue_en}\n   → {where} (strength "
              f"{entry.strength:.2f})\n   source: {entry.source}")
        if entry.id not in kept:
            print(f"   ! matched only through words locate reads otherwise ({reading.why}): "
                  "not evidence")


def _search(args: argparse.Namespace, corpus) -> int:
    """``knowledge search``: the entries matching the query, and which of them locate reads."""
    from sinoloc.tools.clues.reading import how_locate_reads
    from sinoloc.tools.knowledge.retrieval import get_knowledge_index

    try:
        index = get_knowledge_index()
        hits = index.search(args.query, region=args.region, k=args.k)
        reading = how_locate_reads(args.query)  # the same truth as locate (兰州拉面 is a dish)
        kept = ({h.entry.id for h in index.search(reading.rest, region=args.region, k=args.k)}
                if reading.why else {h.entry.id for h in hits})
    except ValueError as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps([{**_entry_dict(h.entry, corpus), "score": round(h.score, 3),
                           "coverage": h.coverage,
                           "locate_ignores": None if h.entry.id in kept else reading.why}
                          for h in hits], ensure_ascii=False, indent=2))
        return EXIT_OK
    _print_hits(hits, kept, reading, corpus)
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    from sinoloc.agent.build import use_knowledge_files
    from sinoloc.tools.knowledge.corpus import CorpusError, get_corpus

    try:
        if args.knowledge_command in ("corrections", "promote"):
            return _corrections(args)
        if args.knowledge_command == "validate":
            return _validate(args.files)
        use_knowledge_files(knowledge_files(args.knowledge))
        corpus = get_corpus()
    except CorpusError as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.knowledge_command == "stats":
        return _stats(args, corpus)
    if args.knowledge_command == "show":
        return _show(args, corpus)
    return _search(args, corpus)
