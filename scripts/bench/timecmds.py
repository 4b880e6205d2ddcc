#!/usr/bin/env python3
"""Time whole commands: hyperfine when it is installed, else a timed loop of our own.

    timecmds.py --runs N --warmup W --out RESULT.json CMD [CMD ...]

Each CMD is one shell-quoted string run without a shell, stdout and stderr to /dev/null. Writes the
part of hyperfine's --export-json schema that report.py reads: {"results": [{"command", "median",
"mean", "min", "max", "user", "system", "times"}], "tool": "hyperfine 1.x" | "loop"}.
"""
import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def loop(cmds, runs, warmup):
    results = []
    for c in cmds:
        argv = shlex.split(c)
        times, user, system = [], [], []
        for i in range(warmup + runs):
            t = time.perf_counter()
            p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, ru = os.wait4(p.pid, 0)
            dt = time.perf_counter() - t
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit("command failed: " + c)
            if i >= warmup:
                times.append(dt)
                user.append(ru.ru_utime)
                system.append(ru.ru_stime)
        results.append(dict(command=c, median=statistics.median(times), mean=statistics.mean(times),
                            min=min(times), max=max(times), user=statistics.mean(user),
                            system=statistics.mean(system), times=times))
    return {"results": results, "tool": "loop"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-hyperfine", action="store_true")
    ap.add_argument("cmds", nargs="+")
    a = ap.parse_args()
    hf = None if a.no_hyperfine else shutil.which("hyperfine")
    if hf:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            tmp = f.name
        p = subprocess.run([hf, "-N", "--style", "none", "--warmup", str(a.warmup), "--runs", str(a.runs),
                            "--export-json", tmp] + a.cmds, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit("hyperfine failed:\n" + p.stderr)
        with open(tmp) as f:
            data = json.load(f)
        os.unlink(tmp)
        version = subprocess.run([hf, "--version"], capture_output=True, text=True).stdout.strip()
        data = {"results": [{k: r[k] for k in ("command", "median", "mean", "min", "max", "user", "system", "times")}
                            for r in data["results"]], "tool": version}
    else:
        data = loop(a.cmds, a.runs, a.warmup)
    with open(a.out, "w") as f:
        json.dump(data, f, indent=1)


if __name__ == "__main__":
    main()
