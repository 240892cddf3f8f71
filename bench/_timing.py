"""Run a command as a child process and measure it: wall time, CPU time and the children's peak memory."""

import resource
import subprocess
import sys
import time
from pathlib import Path


def run_measured(command: list[str], cwd: Path) -> tuple[str, float, float, float]:
    """(stdout, wall s, CPU s, peak memory MB of the children so far); prints stderr and exits if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        print(done.stderr)
        sys.exit(done.returncode)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, wall, cpu, after.ru_maxrss / 1024
