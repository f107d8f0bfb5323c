"""The network guard also holds in the Python subprocesses tests start (the control for the CLI, eval
and training workers)."""

import os
import subprocess
import sys

# a name that can never resolve (RFC 6761): were the guard broken, nothing would be sent anyway
NOWHERE = "generativelanguage.invalid"


def test_subprocesses_are_guarded_too():
    code = ("import urllib.request\n"
            f"urllib.request.urlopen('https://{NOWHERE}/', timeout=5)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "NO_PROXY": "*"})
    assert done.returncode != 0
    assert "blocked by the test network guard" in done.stderr
