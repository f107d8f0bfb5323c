"""The terminal conversation of ``sinoloc chat``: read a line, run a slash command or send an
image / a question to the session, and print the stream as it happens.

Ctrl-C during a turn cancels that turn (the thread keeps everything up to the last finished
step); at the prompt it only reminds how to leave. Ctrl-D or ``/quit`` ends the session.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sinoloc.agent.output.render import candidate_lines, evidence_lines, headline, pct
from sinoloc.app.chat.events import event_line
from sinoloc.app.chat.session import ChatSession
from sinoloc.app.chat.threads import THREAD_ID
from sinoloc.tools.images import ImageInputError

PROMPT = "sinoloc› "
CANCELLED = "  (cancelled: the thread keeps what finished before Ctrl-C)"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic",
                  ".heif"}
HELP = """\
Send an image path to locate it, or ask about the current image in words ("why not 江苏?",
"zoom into the blue board"; free-form questions need a language model, --llm).
  /image PATH   locate another image in this thread
  /candidates   the ranked provinces, cities and districts
  /evidence     the evidence behind the answer
  /map          write an HTML map of the answer (and open it in a browser when interactive)
  /json         the answer as GeoPrediction JSON
  /review on    stop before each answer is committed, for you to decide:
                /approve, /edit PLACE, /reject REASON, /clue TEXT (/review off: commit at once)
  /truth PLACE  keep the photo's true place (/truth 江苏省苏州市) in your corrections
  /reset        start a new thread (this one stays resumable with --thread)
  /help         this text
  /quit         leave (Ctrl-D too); Ctrl-C cancels a running turn"""
# plain-words requests that mean a command, answered the same way with or without a model
PHRASES = {
    "/candidates": {"candidates", "show candidates", "show the candidates", "list candidates",
                    "候选", "显示候选", "候选地点"},
    "/evidence": {"evidence", "show evidence", "show the evidence", "证据", "显示证据"},
    "/map": {"map", "open map", "open the map", "show the map", "show map", "地图", "打开地图"},
}


def command_of(line: str) -> tuple[str, str] | None:
    """``(command, argument)`` for a slash command or a plain-words one; None for a question."""
    text = line.strip()
    if text.startswith("/"):
        name, _, arg = text.partition(" ")
        return name.lower(), arg.strip()
    normalized = text.lower().rstrip("?？!！.。 ")
    for command, phrases in PHRASES.items():
        if normalized in phrases:
            return command, ""
    return None


def looks_like_image_path(text: str) -> bool:
    path = Path(text.strip().strip("'\"")).expanduser()
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def map_file_name(thread_id: str, image: str | None) -> str:
    """``sinoloc-<thread>-<image>-<hash>.html``: one file per image of the thread, so a second
    image's /map does not overwrite the first's; the image's name is reduced to a safe alphabet
    and the hash of its full path tells two ``IMG_0001.jpg`` of different folders apart."""
    if not image:
        return f"sinoloc-{thread_id}.html"
    import hashlib
    import re

    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(image).stem).strip("_")[:40] or "image"
    digest = hashlib.sha256(image.encode("utf-8")).hexdigest()[:6]
    return f"sinoloc-{thread_id}-{stem}-{digest}.html"


class ChatRepl:
    def __init__(self, session: ChatSession, *, write: Callable[[str], None] | None = None,
                 read: Callable[[str], str] = input, echo: bool = False,
                 open_browser: bool = False, map_dir: Path | None = None):
        self.session = session
        self.write = write or (lambda text: print(text, flush=True))
        self.read = read
        self.echo = echo  # piped input: show each line after the prompt, like a terminal would
        self.open_browser = open_browser
        self.map_dir = map_dir or Path.cwd()

    # ------------------------------------------------------------------ turns
    def stream(self, events) -> None:
        """Show a run's events as they come (Ctrl-C cancels the run)."""
        self._stream(events)

    def _stream(self, events) -> None:
        try:
            for event in events:
                self.write(event_line(event))
        except KeyboardInterrupt:
            self.write(CANCELLED)
        except ImageInputError as exc:
            self.write(f"  cannot read that image: {exc}")
        finally:  # a run cut short ends here (its record's session too), not when collected
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def locate(self, path: str) -> None:
        path = path.strip().strip("'\"")
        if not path:
            self.write("usage: /image PATH")
            return
        self._stream(self.session.send_image(path))

    def ask(self, question: str) -> None:
        if not self.session.has_image:
            self.write("No image yet: give an image path first (or /image PATH).")
            return
        self._stream(self.session.ask(question))

    # ------------------------------------------------------------------ commands
    def _prediction(self):
        prediction = self.session.prediction()
        if prediction is None:
            self.write("No answer for the current image yet: give an image path (or /image PATH).")
        return prediction

    def show_candidates(self) -> None:
        p = self._prediction()
        if p is None:
            return
        self.write(headline(p))
        for label, ranked in (("provinces", p.province_candidates), ("cities", p.city_candidates)):
            if ranked:
                self.write(f"{label}: " + " · ".join(f"{c.name} {pct(c.probability)}"
                                                      for c in ranked))
        self.write("districts:")
        for line in candidate_lines(p, max_candidates=10):
            self.write(line)

    def show_evidence(self) -> None:
        p = self._prediction()
        if p is not None:
            for line in evidence_lines(p):
                self.write(line)

    def show_map(self) -> None:
        p = self._prediction()
        if p is None:
            return
        from sinoloc.app.web.mapview import write_map

        thread_id = self.session.thread_id
        path = self.map_dir / map_file_name(thread_id, self.session.image_path())
        if not THREAD_ID.fullmatch(thread_id) or path.resolve().parent != self.map_dir.resolve():
            self.write("cannot write the map: the thread id is not a plain file name")
            return
        path = write_map(p, path, image=self.session.image_path())
        self.write(f"map: {path.resolve()}")
        if self.open_browser:
            import webbrowser

            webbrowser.open(path.resolve().as_uri())

    def show_json(self) -> None:
        p = self._prediction()
        if p is not None:
            self.write(p.model_dump_json(indent=2))

    def show_transcript(self) -> None:
        for entry in self.session.transcript():
            prefix = {"image": "image:", "question": "you:", "answer": "answer:",
                      "reply": "sinoloc:"}[entry.kind]
            self.write(f"  {prefix} {entry.text}")

    # ------------------------------------------------------------------ review and corrections
    def set_review(self, arg: str) -> None:
        if arg.lower() not in ("on", "off"):
            self.write(f"review is {'on' if self.session.review else 'off'}; usage: /review on|off")
            return
        self.session.review = arg.lower() == "on"
        self.write("review on: each new image stops before its answer is committed"
                   if self.session.review else "review off: answers are committed at once")

    def decide(self, action: str, arg: str) -> None:
        field = {"edit": "place", "reject": "reason", "clue": "clue"}.get(action)
        decision = {"action": action, **({field: arg} if field else {})}
        try:
            events = self.session.decide(decision)
        except ValueError as exc:
            errors = getattr(exc, "errors", None)
            text = errors()[0]["msg"].removeprefix("Value error, ") if callable(errors) else str(exc)
            self.write(f"  cannot {action}: {text}")
            return
        self._stream(events)

    def truth(self, place: str) -> None:
        from sinoloc.agent.corrections import CorrectionsError

        if not place:
            self.write("usage: /truth PLACE (江苏省苏州市, a district, or an adcode)")
            return
        try:
            kept = self.session.record_truth(place)
        except CorrectionsError as exc:
            self.write(f"  cannot keep that: {exc}")
            return
        self.write(f"  kept: this photo is in {kept.truth} ({kept.id}); `sinoloc knowledge "
                   f"promote {kept.id}` makes it a knowledge entry later runs use")

    def handle(self, line: str) -> bool:
        """Act on one input line; False when the session should end."""
        text = line.strip()
        if not text:
            return True
        if looks_like_image_path(text):  # before commands: absolute paths start with "/"
            self.locate(text)
            return True
        command = command_of(text)
        if command is None:
            self.ask(text)
            return True
        name, arg = command
        if name in ("/quit", "/exit", "/q"):
            return False
        actions = {"/candidates": self.show_candidates, "/evidence": self.show_evidence,
                   "/map": self.show_map, "/json": self.show_json,
                   "/help": lambda: self.write(HELP)}
        if name == "/image":
            self.locate(arg)
        elif name == "/review":
            self.set_review(arg)
        elif name in ("/approve", "/edit", "/reject", "/clue"):
            self.decide(name[1:], arg)
        elif name == "/truth":
            self.truth(arg)
        elif name == "/reset":
            self.write(f"new thread {self.session.reset()} (the previous one stays resumable)")
        elif name in actions:
            actions[name]()
        else:
            self.write(f"unknown command {name}; /help lists them")
        return True

    def run(self, images: Sequence[str] = ()) -> None:
        for image in images:
            self.write(f"{PROMPT}{image}")
            self.locate(image)
        while True:
            try:
                line = self.read(PROMPT)
            except EOFError:
                self.write("")
                return
            except KeyboardInterrupt:
                self.write("\n(Ctrl-C cancels a running turn; /quit or Ctrl-D leaves)")
                continue
            if self.echo:
                self.write(line)
            if not self.handle(line):
                return


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
