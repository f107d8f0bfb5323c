"""An eval run's signal handling (a critical section finishes before the interrupt) and the code
version an installed copy records."""

import json
import os
import signal
import time

import pytest

from sinoloc.eval import run_config
from sinoloc.eval.interrupts import Interrupts, RunInterrupted


# ------------------------------------------------------------------ signals
def test_interrupts_wait_for_the_end_of_a_critical_section_and_raise_once():
    before = signal.getsignal(signal.SIGTERM)  # SIG_DFL, or what an earlier test installed
    with Interrupts() as interrupts:
        with pytest.raises(RunInterrupted) as caught, interrupts.critical():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)
            reached = True  # the handler did not cut the section
        assert reached and caught.value.exit_code == 143
        os.kill(os.getpid(), signal.SIGINT)  # a second signal during clean-up: noted only
        time.sleep(0.01)
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is restored


# ------------------------------------------------------------------ code version
class _Dist:
    def __init__(self, direct_url: dict | None):
        self.direct_url = direct_url

    def read_text(self, name):
        return json.dumps(self.direct_url) if name == "direct_url.json" and self.direct_url \
            else None


def test_an_installed_copy_records_its_commit_or_says_unknown(monkeypatch, tmp_path):
    from importlib import metadata

    monkeypatch.setattr(run_config, "_checkout_commit", lambda root: None)  # not a checkout
    monkeypatch.setattr(metadata, "distribution", lambda name: _Dist(
        {"url": "https://example.invalid/sinoloc.git",
         "vcs_info": {"vcs": "git", "commit_id": "a" * 40}}))
    info = run_config.code_version()
    assert info["git_commit"] == "a" * 40 and "direct_url.json" in info["commit_source"]
    assert info["sinoloc"]
    monkeypatch.setattr(metadata, "distribution", lambda name: _Dist(
        {"url": (tmp_path / "gone").as_uri(), "dir_info": {}}))  # pip install DIR, DIR removed
    info = run_config.code_version()
    assert info["git_commit"] == "unknown" and "no commit" in info["commit_source"]
