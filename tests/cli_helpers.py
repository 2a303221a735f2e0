"""Running `orient-jax` the way a user does: a fresh process, its exit code and output."""

import subprocess
import sys

CLI = [sys.executable, "-m", "orient_jax.cli"]


def run_cli(*args, timeout=600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout, **kw)
