"""``sinoloc locate``: one image (the full answer, text or JSON, and ``--map``) or many in one
warm process (batch rows, resumable ``--out``, progress, the local or the Ray engine).

The parser lives in :mod:`sinoloc.app.cli.main`, the run options' locator in
:mod:`sinoloc.app.cli.locator` (over :func:`sinoloc.agent.build.build_locator`), the warm-up in
:mod:`sinoloc.app.cli.warmup`; this module is the command itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sinoloc.app.cli.common import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_OK, demo_image
from sinoloc.app.cli.locator import build_from_args, model_spec, run_prior, run_settings
from sinoloc.app.cli.warmup import start_warm_up

if TYPE_CHECKING:
    from sinoloc.agent.batch import BatchRow
    from sinoloc.agent.build import Locator
    from sinoloc.tools.progress import Progress


def _locate_inputs(args: argparse.Namespace) -> tuple[list[Path], bool] | str:
    """The images to locate and whether this is a batch, or the reason the arguments are bad:
    checked before any heavy import, so a typo costs milliseconds, not a model load."""
    from sinoloc.agent.batch import BatchInputError, expand_inputs
    from sinoloc.agent.settings import field_bounds

    if args.demo == bool(args.images):
        return "give IMAGE(s) or --demo (one of them)"
    low, high = field_bounds("top_k")
    if not low <= args.top_k <= high:
        return f"--top-k must be between {low:g} and {high:g}"
    if args.workers < 1:
        return "--workers must be at least 1"
    if args.demo:
        return [demo_image()], bool(args.out or args.csv)
    try:  # a name matching nothing is reported here, for one image as for many
        images = expand_inputs(args.images)
    except BatchInputError as exc:
        return str(exc)
    single = Path(args.images[0]).expanduser() if len(args.images) == 1 else None
    # one path that is not a folder (a FIFO or a device too: refused as bad input, one line)
    one_file = single is not None and single.exists() and not single.is_dir()
    if one_file and not (args.out or args.csv):
        return images, False  # the full answer (text or indented JSON), as before
    if args.map:
        return "--map writes one image's map: give one image"
    return images, True


def locate(args: argparse.Namespace) -> int:
    checked = _locate_inputs(args)
    if isinstance(checked, str):
        print(f"sinoloc: {checked}", file=sys.stderr)
        return EXIT_BAD_INPUT
    images, batch = checked
    problem = _engine_problem(args, batch) or _refused_before_loading(args, images, batch)
    if problem:
        print(f"sinoloc: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.engine == "local":  # the actors load their own models
        start_warm_up(args.ocr, run_prior(args), text_data=batch, image=None if batch else images[0])
    from sinoloc.agent.output.render import render_text
    from sinoloc.agent.records import RecordError, ReplayMiss
    from sinoloc.agent.records.locate import recorded_by, recording_for
    from sinoloc.tools.images import ImageInputError

    try:
        built = build_from_args(args, run_settings(args, ignore_exif=args.ignore_exif,
                                                   top_k=args.top_k))
        recording, policy = recording_for(args, built.policy)  # agent/records
    except (ValueError, RecordError) as exc:  # a bad clue file, --llm value, model or record
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.engine == "ray":
        return _locate_batch(args, images, None, engine=_ray_rows(args, built))
    locate = recorded_by(recording)(replace(built, policy=policy).geolocator().locate)

    if batch:
        return _locate_batch(args, images, locate)
    try:
        prediction = locate(images[0])
    except ImageInputError as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ReplayMiss as exc:
        print(f"sinoloc: replay miss: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(prediction.model_dump_json(indent=2))
    else:
        print(render_text(prediction, width=_terminal_width()))
    if args.map:
        from sinoloc.app.web.mapview import write_map

        path = write_map(prediction, args.map, image=images[0])
        if not args.json:
            print(f"map: {path}")
    return EXIT_OK


def _refused_before_loading(args: argparse.Namespace, images: list[Path], batch: bool
                            ) -> str | None:
    """Bad input found before any model loads (no warm-up has started): a hosted ``--llm`` in
    an offline run, and for one image, a file that is no image (a text file named .jpg). A
    batch keeps each unreadable file as its own row."""
    from sinoloc.agent.settings import check_spec, is_offline

    try:
        check_spec(model_spec(args), is_offline(args.offline))
        if not batch:
            from sinoloc.tools.images import probe_image, read_image_file

            probe_image(read_image_file(images[0]), label=str(images[0]))
    except ValueError as exc:  # LlmSpecError, OfflineViolation, ImageInputError
        return str(exc)
    return None


def _engine_problem(args: argparse.Namespace, batch: bool) -> str | None:
    """What is wrong with --engine / --ray-address / --actors, Ray's absence included (before any
    model loads); None when nothing is."""
    ray_only = [f for f, v in (("--ray-address", args.ray_address), ("--actors", args.actors))
                if v is not None]
    if args.engine != "ray":
        return f"{', '.join(ray_only)}: only with --engine ray" if ray_only else None
    if not batch:
        return "--engine ray locates a batch: give several images, a folder, --out or --csv"
    if args.actors is not None and args.actors < 1:
        return "--actors must be at least 1"
    from sinoloc.eval.ray_engine import on_loopback, require_ray  # the CLI's lazy eval entry
    from sinoloc.eval.runner import RunError

    try:
        require_ray(loopback=on_loopback(args.ray_address))
    except RunError as exc:
        return str(exc)
    return None


def _ray_rows(args: argparse.Namespace, built: Locator):
    """``--engine ray``: the batch's rows from eval's actor pool, each actor building its
    locator from the settings resolved here (so the rows are those of the local engine)."""
    from sinoloc.agent.batch import BatchRow, BatchSettings, EngineError
    from sinoloc.app.cli.locator import model_spec
    from sinoloc.eval.ray_engine import RayOptions, ray_locate_many
    from sinoloc.eval.runner import RunError
    from sinoloc.tools.knowledge.corpus import user_file_key

    settings = BatchSettings(llm=model_spec(args).model_dump(), options=built.defaults,
                             knowledge_files=os.pathsep.join(user_file_key())).model_dump_json()
    ray_options = RayOptions(address=args.ray_address, actors=args.actors or 2)

    def rows(paths: list[Path]):
        try:
            for answer in ray_locate_many(paths, settings, ray_options):
                yield BatchRow.model_validate(answer)
        except RunError as exc:
            raise EngineError(str(exc)) from None

    return rows


def _terminal_width() -> int | None:
    """Wrap text to the terminal; piped output keeps whole lines (for grep)."""
    import shutil

    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


class _Terminated(Exception):
    """SIGTERM during a batch: stop after the rows already written."""


def _on_sigterm(signum, frame):  # the signal module's signature
    raise _Terminated


def _locate_batch(args: argparse.Namespace, images: list[Path], locate, engine=None) -> int:
    """Every image through :func:`.batch.locate_many` (or ``engine(paths)``, another engine
    yielding the same rows); rows to stdout or --out (resumable), a progress line on a terminal;
    exit 2 at the end if any row failed."""
    import signal

    from sinoloc.agent.batch import EngineError, finished_images, locate_many, output_format
    from sinoloc.tools.progress import Progress

    fmt = output_format(args.out, args.csv)
    out = Path(args.out) if args.out else None
    try:
        done = finished_images(out, fmt) if out else {}
    except ValueError as exc:  # --out names a file that is not an earlier run's rows
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    todo, failed_before = _pending(images, done)
    meter = Progress(len(images), done=len(images) - len(todo),
                     enabled=sys.stderr.isatty() if args.progress is None else args.progress)
    stream = out.open("a", encoding="utf-8", newline="") if out else sys.stdout
    emit = _row_writer(args, out, fmt, stream)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        rows = engine(todo) if engine else locate_many(todo, locate, workers=args.workers)
        failed = _write_rows(rows, emit, meter)
    except (KeyboardInterrupt, _Terminated) as exc:
        return _stopped(exc, meter, out)
    except EngineError as exc:
        meter.close()
        print(f"sinoloc: {exc} (after {meter.new} new row(s))", file=sys.stderr)
        return EXIT_ERROR
    finally:
        signal.signal(signal.SIGTERM, previous)
        if out:
            stream.close()
    meter.close()
    return _batch_end(len(images), len(todo), meter.new, out, failed + failed_before)


def _pending(images: list[Path], done: dict[str, bool]) -> tuple[list[Path], int]:
    """The images --out does not hold yet, and how many it holds as failed rows (counted in the
    exit code, so a resumed run that still has failures does not exit 0)."""
    todo = [p for p in images if os.path.abspath(p) not in done]
    failed_before = sum(not done[k] for k in {os.path.abspath(p) for p in images} & done.keys())
    return todo, failed_before


def _row_writer(args: argparse.Namespace, out: Path | None, fmt: str, stream: TextIO
                ) -> Callable[[BatchRow], None]:
    """How each row is written: JSON lines or CSV through a :class:`.batch.RowSink` (to --out,
    with a header only for a new file, or stdout), or, for plain stdout, one summary line per image."""
    from sinoloc.agent.batch import RowSink

    if out is None and not args.json and not args.csv:
        return _print_headline
    return RowSink(stream, fmt, header=not (out and out.stat().st_size)).write


def _print_headline(row: BatchRow) -> None:
    """``file: answer`` of a located image (a guess marked, with its confidence), ``file: error: …``
    of a failed one, flushed at once."""
    from sinoloc.agent.output.render import summary_line
    from sinoloc.agent.schemas import GeoPrediction

    answer = (summary_line(GeoPrediction.model_validate(row.prediction)) if row.ok
              else f"error: {(row.error or '').removeprefix(row.file + ': ')}")
    print(f"{row.file}: {answer}", flush=True)


def _write_rows(rows: Iterable[BatchRow], emit: Callable[[BatchRow], None], meter: Progress) -> int:
    """Write rows as they come, stepping the progress line; returns how many failed."""
    failed = 0
    for row in rows:
        failed += not row.ok
        emit(row)
        meter.step("ok" if row.ok else "error")
    return failed


def _stopped(exc: BaseException, meter: Progress, out: Path | None) -> int:
    """SIGINT or SIGTERM mid-batch: say how many new rows were written (and, with --out, that
    the same command resumes) and exit 130 or 143 as a shell would."""
    meter.close()
    how, code = ("SIGTERM", 143) if isinstance(exc, _Terminated) else ("SIGINT", 130)
    resume = " run the same command again to resume" if out else ""
    print(f"sinoloc: stopped by {how} after {meter.new} new row(s);{resume}".rstrip(";"),
          file=sys.stderr)
    return code


def _batch_end(total: int, todo: int, new: int, out: Path | None, failed: int) -> int:
    """The closing line on stderr (with --out, always: what was new, already there and failed;
    on stdout, only when rows failed) and the exit code: 2 when any row, earlier ones included,
    failed."""
    if out:
        print(f"{total} image(s): {new} located now, {total - todo} "
              f"already in {out}; {failed} failed", file=sys.stderr)
    elif failed:
        print(f"sinoloc: {failed} of {todo} image(s) failed", file=sys.stderr)
    return EXIT_BAD_INPUT if failed else EXIT_OK
