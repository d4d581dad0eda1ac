#!/usr/bin/env python3
"""Validation benchmark: `tasker FILE --validate-only` on 10,000 tasks, and its start-up.

Writes a task file of N tasks (default 10,000) in which every task has arguments,
a condition and a reference to the result of an earlier task, then times:

  (a) the whole command, interpreter start-up included:
      `python3 tasker.py FILE --validate-only --skip-host-validation -l DIR`;
      and the same command on a one-task file, whose time is start-up and imports,
      so the per-task rate is shown apart from the fixed cost;
  (b) in-process: loading the file (Lark's lexer + building the AST) and the
      validator (`validate_task_file`) separately, so a slow phase is easy to spot.

It prints seconds and tasks per second for each, best of R runs. The commands of
(a) run in turns with a reference, a fixed pure-Python loop, whose time says how
fast the (noisy) machine is at the moment, and with `python3 -c "import lark"`.
The figures to compare between commits are two ratios: whole command / reference
(target <= 7.0; the original TASKER is about 17.7) and start-up, the one-task
command / `import lark` (target <= 1.6). It never asserts: a benchmark reports.

    python bench/bench_validate.py [--tasks N] [--repeat R] [--profile]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 7.0  # whole command / reference, on 10,000 tasks
TARGET_START_UP = 1.6  # one-task command / `python3 -c "import lark"`


def write_task_file(path: Path, count: int) -> None:
    """N tasks; task i reads task i-1 (task 0 reads a global) in arguments and condition."""
    parts = ["ENVIRONMENT=production\n"]
    for i in range(count):
        ref = f"@{i - 1}_stdout@" if i else "@ENVIRONMENT@"
        cond = f"@{i - 1}_exit@=0" if i else "@ENVIRONMENT@=production"
        parts.append(f"task={i}\nhostname=localhost\ncommand=echo\n"
                     f"arguments=step {i} after {ref}\nexec=local\ncondition={cond}\n")
    path.write_text("".join(parts), encoding="utf-8")


def best(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` timed calls, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
        del result  # (freeing a loaded file takes time too, but not the phase's time)
    return min(times)


def whole_command(path: Path, logs: Path) -> None:
    """One run of the CLI as an operator would start it."""
    proc = subprocess.run([sys.executable, str(REPO / "tasker.py"), str(path), "--validate-only",
                           "--skip-host-validation", "-l", str(logs)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"validation failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")


# A fixed amount of pure-Python work (tuples, dicts, strings, as the loader builds),
# run in a fresh interpreter that reports its own time: how fast this machine is right
# now. The ratio of the whole command to it stays put when the VM slows down or speeds
# up, so it is the figure to compare between runs and commits.
REFERENCE_LOOP = """
import time
s = time.perf_counter()
rows = []
for i in range(100000):
    rows.append((f"key{i % 30}", str(i), i, {"a": i}))
print(time.perf_counter() - s)
"""


def import_lark() -> None:
    """A bare interpreter that imports Lark: the floor of tasker's start-up."""
    subprocess.run([sys.executable, "-c", "import lark"], check=True)


def reference_seconds() -> float:
    """The reference loop's own time in a new interpreter (start-up excluded)."""
    out = subprocess.run([sys.executable, "-c", REFERENCE_LOOP], capture_output=True, text=True,
                         check=True).stdout
    return float(out.strip())


def interleaved(fns: Sequence[Callable[[], object]], repeat: int) -> List[float]:
    """The best time of each function over `repeat` rounds that run them in turns (a
    function returning a float reports its own time)."""
    times: List[List[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            started = time.perf_counter()
            result = fn()
            took = time.perf_counter() - started
            times[i].append(result if isinstance(result, float) else took)
    return [min(t) for t in times]


def in_process(path: Path, repeat: int) -> List[tuple]:
    """(phase, seconds) for loading and for validating, best of `repeat`."""
    sys.path.insert(0, str(REPO))
    from tasker.syntax.taskfile import LoadOptions, load_task_file
    from tasker.validate.pipeline import validate_task_file

    options = LoadOptions(environ={})
    # Fresh parses each time: the condition parser caches by text.
    from tasker.syntax import condition

    def load():
        condition.parsed.cache_clear()
        return load_task_file(str(path), options)

    tf = load()
    errors = [d for d in validate_task_file(tf) if d.is_error]
    if errors:
        raise SystemExit(f"the generated file is invalid: {errors[0].message}")
    return [("load (lex + build)", best(load, repeat)),
            ("validate_task_file", best(lambda: validate_task_file(tf), repeat))]


def profile(path: Path) -> None:
    """Top functions of one in-process load + validation, by cumulative time."""
    import cProfile
    import pstats

    from tasker.syntax.taskfile import LoadOptions, load_task_file
    from tasker.validate.pipeline import validate_task_file

    prof = cProfile.Profile()
    prof.enable()
    validate_task_file(load_task_file(str(path), LoadOptions(environ={})))
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(20)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Generate, time, print."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--profile", action="store_true", help="also print a cProfile summary")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tasker_bench_") as tmp:
        path = Path(tmp, "validate_bench.txt")
        write_task_file(path, args.tasks)
        n = args.tasks
        print(f"{n} tasks, best of {args.repeat}")
        for phase, secs in in_process(path, args.repeat):
            print(f"  in-process {phase:<24} {secs:7.3f} s  {n / secs:>10,.0f} tasks/s")
        # The same command on a one-task file: interpreter start-up and imports, which
        # do not grow with the file; the rest is the per-task work. The commands and
        # the reference run in turns, so that all see the same moments of a noisy VM.
        one = Path(tmp, "one_task.txt")
        write_task_file(one, 1)
        # Byte-code as an installed package has it (pip compiles on install): with
        # PYTHONDONTWRITEBYTECODE set, a checkout would recompile every run.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "tasker")],
                       stdout=subprocess.DEVNULL, check=False)
        secs, fixed, ref, lark = interleaved(
            [lambda: whole_command(path, Path(tmp, "logs")),
             lambda: whole_command(one, Path(tmp, "logs")), reference_seconds, import_lark],
            args.repeat)
        print(f"  whole command (python3 tasker.py)  {secs:7.3f} s  {n / secs:>10,.0f} tasks/s")
        print(f"    of which start-up (1-task file)  {fixed:7.3f} s;  per-task work "
              f"{n / max(secs - fixed, 1e-9):>10,.0f} tasks/s")
        print(f"  reference: a fixed pure-Python loop {ref:6.3f} s;  whole command / reference "
              f"{secs / ref:5.2f} (target <= {TARGET_RATIO})")
        print(f"  start-up: python3 -c 'import lark' {lark:7.3f} s;  1-task command / import lark "
              f"{fixed / lark:5.2f} (target <= {TARGET_START_UP})")
        if args.profile:
            profile(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
