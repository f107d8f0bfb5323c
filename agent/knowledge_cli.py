"""``sinoloc knowledge``: search, inspect and validate the clue corpus (and the user's files).

Building the parser imports nothing heavy (the knowledge package loads the region data): every
``sinoloc`` command builds it, and ``locate`` starts its warm-up only after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# the name is also ..tools.knowledge.corpus.USER_FILES_ENV (a test keeps them equal); it is
# spelled here so that building the parser does not import the corpus
USER_FILES_ENV = "SINOLOC_KNOWLEDGE_FILES"
EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_parser(sub) -> None:
    parser = sub.add_parser("knowledge", help="search, show, count and validate the clue "
                                              "knowledge base")
    commands = parser.add_subparsers(dest="knowledge_command", required=True)
    search = commands.add_parser("search", help="entries matching a query (BM25, offline)")
    search.add_argument("query")
    search.add_argument("--region", default=None, help="only entries pointing into this region")
    search.add_argument("-k", type=int, default=5, help="how many entries")
    search.add_argument("--json", action="store_true")
    show = commands.add_parser("show", help="one entry by id")
    show.add_argument("id")
    stats = commands.add_parser("stats", help="entry counts per kind and per province")
    stats.add_argument("--json", action="store_true")
    validate = commands.add_parser("validate", help="check the shipped corpus and clue files "
                                                    "(CSV or YAML); exit 2 on the first error")
    validate.add_argument("files", nargs="*")


def add_files_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--knowledge", action="append", default=[], metavar="FILE",
                        help="your own clue file (CSV or YAML), merged with the shipped corpus; "
                             f"also ${USER_FILES_ENV}")


def use_files(files: list[str]) -> None:
    """Add ``files`` to the setting every process of this run reads (eval workers included)
    and load the merged corpus now, so a bad file fails before any work starts."""
    from ..tools.knowledge.corpus import get_corpus

    if files:
        current = [p for p in os.environ.get(USER_FILES_ENV, "").split(os.pathsep) if p]
        os.environ[USER_FILES_ENV] = os.pathsep.join(current + [os.path.abspath(f) for f in files])
    get_corpus()


def _entry_dict(entry, corpus) -> dict:
    return {**entry.model_dump(mode="json", exclude={"origin"}),
            "region_names": corpus.region_names(entry),
            "excluded_names": corpus.excluded_names(entry)}


def main(args: argparse.Namespace) -> int:
    from ..tools.knowledge.corpus import CorpusError, get_corpus, load_corpus

    try:
        if args.knowledge_command == "validate":
            corpus = load_corpus(args.files)
            print(f"ok: {len(corpus)} entries ({len(corpus) - len(load_corpus())} from "
                  f"{len(args.files)} file(s) of yours)")
            return EXIT_OK
        corpus = get_corpus()
    except CorpusError as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.knowledge_command == "stats":
        stats = {"entries": len(corpus), **corpus.stats()}
        if args.json:
            print(json.dumps(stats, ensure_ascii=False, indent=2))
        else:
            print(f"{stats['entries']} entries")
            for title in ("kind", "province"):
                print(f"\nper {title}:")
                for name, count in stats[title].items():
                    print(f"  {name:<12} {count}")
        return EXIT_OK
    if args.knowledge_command == "show":
        entry = corpus.by_id.get(args.id)
        if entry is None:
            print(f"sinoloc: no knowledge entry {args.id!r}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(json.dumps(_entry_dict(entry, corpus), ensure_ascii=False, indent=2))
        return EXIT_OK
    from ..tools.knowledge.retrieval import get_knowledge_index

    try:
        hits = get_knowledge_index().search(args.query, region=args.region, k=args.k)
    except ValueError as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps([{**_entry_dict(h.entry, corpus), "score": round(h.score, 3),
                           "coverage": h.coverage} for h in hits], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not hits:
        print("no matching entry")
    for rank, hit in enumerate(hits, start=1):
        entry = hit.entry
        where = "、".join(corpus.region_names(entry)) or "does not localise"
        print(f"{rank}. [{entry.id}] {entry.kind.value}, score {hit.score:.2f}\n"
              f"   {entry.clue_zh}\n   {entry.clue_en}\n   → {where} (strength "
              f"{entry.strength:.2f})\n   source: {entry.source}")
    return EXIT_OK
