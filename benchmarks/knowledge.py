"""Speed of the knowledge base: corpus load and validation, index build, retrieval latency and
sign-text matching, as medians with a same-run reference ratio.

    python -m sinoloc.benchmarks.knowledge [--runs 5]

Queries are the corpus's own clue texts (every 7th entry, in Chinese and in English), so the
set grows with the corpus and never depends on a test. The reference is a plain token-overlap
scan over every entry with the same tokenizer: the ratio says what BM25 costs over the
simplest possible lookup.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def _median_ms(fn, items, runs: int) -> float:
    samples = []
    for _ in range(runs):
        for item in items:
            t0 = time.perf_counter()
            fn(item)
            samples.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(samples), 4)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    from sinoloc.tools.clues.gazetteer import get_gazetteer
    from sinoloc.tools.clues.signs import sign_clues
    from sinoloc.tools.knowledge.corpus import load_corpus
    from sinoloc.tools.knowledge.retrieval import KnowledgeIndex
    from sinoloc.tools.regions import get_region_index

    get_region_index()
    t0 = time.perf_counter()
    corpus = load_corpus()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = KnowledgeIndex(corpus)
    build_s = time.perf_counter() - t0

    sample = corpus.entries[::7]
    queries = [e.clue_en for e in sample] + [e.clue_zh for e in sample]
    docs = [set(index.tokenize(f"{e.clue_zh} {e.clue_en}")) for e in corpus.entries]

    def overlap_scan(query: str):
        tokens = set(index.tokenize(query))
        return max(range(len(docs)), key=lambda i: len(tokens & docs[i]))

    bm25_ms = _median_ms(lambda q: index.search(q, k=5), queries, args.runs)
    scan_ms = _median_ms(overlap_scan, queries, args.runs)
    observe_ms = _median_ms(index.best_match, queries, args.runs)
    gazetteer = get_gazetteer()
    lines = ["汉口银行 光谷支行", "湖北省武汉市洪山区珞喻路1037号", "中国南方电网 供电服务",
             "营业时间 9:00-21:00", "望右 LOOK RIGHT"]
    sign_ms = _median_ms(lambda text: sign_clues(text, corpus, gazetteer), lines, args.runs)
    top1 = sum(index.search(e.clue_en, k=1)[0].entry.id == e.id for e in sample) / len(sample)
    result = {
        "entries": len(corpus), "queries": len(queries), "runs": args.runs,
        "corpus_load_s": round(load_s, 3), "index_build_s": round(build_s, 3),
        "search_median_ms": bm25_ms, "overlap_scan_median_ms": scan_ms,
        "search_vs_scan_ratio": round(bm25_ms / scan_ms, 2) if scan_ms else None,
        "observation_match_median_ms": observe_ms, "sign_match_per_line_median_ms": sign_ms,
        "own_text_top1": round(top1, 3),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
