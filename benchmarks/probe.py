"""Probe benchmark: rendered single- and two-clue signs for every mainland province, located by
the real offline pipeline, scored per clue kind and level.

    python -m sinoloc.benchmarks.probe --out DIR [--limit N] [--backgrounds DIR] [--kinds K …]
                                       [--seed S] [--workers 2] [--compare OLD.json] [--keep-images]

Kinds: address (省市区路号), landline (capital's and another city's area code), landline_long (one
digit too many), plate (capital's A and another city's letter), plate_confusable (O for 0, I for
1 in the serial), town, village, agree (address + landline of one city), conflict (a landline of
city A, a plate of city B in another province; the truth is A), and the admin-name kinds of
:mod:`.probe_names` (old_name, homonym, address_vs_town). Backgrounds are procedural unless
``--backgrounds`` names a folder of photos (the dev bench: pasted behind the sign at run time,
never copied). Writes ``DIR/probe.json`` (summary, run facts and every probe's truth and
prediction) and ``DIR/probe.md``; ``--compare`` prints before/after deltas against an older JSON.
The probes are a function of the seed: two runs with one seed ask the same questions.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sinoloc.benchmarks.probe_data import KINDS, generate_probes
from sinoloc.benchmarks.probe_render import background_files
from sinoloc.benchmarks.probe_run import SETTINGS, compare, markdown, run_probes, summarise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for probe.json and probe.md")
    parser.add_argument("--limit", type=int, help="the first N probes (every kind, interleaved)")
    parser.add_argument("--backgrounds", type=Path, help="paste the signs over these photos instead")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2))
    parser.add_argument("--compare", type=Path, help="an earlier probe.json: print before/after deltas")
    parser.add_argument("--keep-images", action="store_true", help="keep the rendered pictures in OUT/images")
    args = parser.parse_args(argv)

    import sinoloc

    probes = generate_probes(args.seed, args.kinds)[:args.limit]
    backgrounds = background_files(args.backgrounds) if args.backgrounds else []
    if args.backgrounds and not backgrounds:
        parser.error(f"no images in {args.backgrounds}")
    # each probe draws its own background (by seed and id), so a probe keeps its picture when
    # another kind gains or loses probes (a longer admin-change table, a new kind)
    tasks = [(p.model_dump(mode="json"),
              str(random.Random(f"{args.seed}-{p.id}-background").choice(backgrounds))
              if backgrounds else None, args.keep_images) for p in probes]

    def progress(done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            print(f"  {done}/{total} probes", file=sys.stderr, flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sinoloc-probe-") as workdir:
        records = run_probes(tasks, args.workers, Path(workdir), progress=progress)
        wall = round(time.perf_counter() - start, 1)
        if args.keep_images:
            images = args.out / "images"
            images.mkdir(exist_ok=True)
            for record in records:
                moved = images / Path(record["image"]).name
                shutil.move(record["image"], moved)
                record["image"] = str(moved)
    meta = {"n": len(records), "seed": args.seed, "kinds": args.kinds, "limit": args.limit,
            "backgrounds": str(args.backgrounds) if args.backgrounds else None,
            "workers": args.workers, "wall_s": wall, "settings": SETTINGS,
            "sinoloc": str(Path(sinoloc.__file__).parent), "date": time.strftime("%Y-%m-%d %H:%M")}
    summary = summarise(records)
    report = markdown(summary, meta)
    (args.out / "probe.json").write_text(json.dumps(
        {"meta": meta, "summary": summary, "probes": records}, ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8")
    (args.out / "probe.md").write_text(report, encoding="utf-8")
    print(report)
    if args.compare:
        old = json.loads(args.compare.read_text(encoding="utf-8"))
        delta = compare(old, {"probes": records})
        (args.out / "compare.md").write_text(delta, encoding="utf-8")
        print(delta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
