#!/usr/bin/env python3
"""Peak RSS of whole commands: the median over --runs of /usr/bin/time -v's "Maximum resident set size"
(kB), or of wait4()'s ru_maxrss (the same kernel figure) when GNU time is not installed.

    peakrss.py --runs 5 --out RESULT.json CMD [CMD ...]
"""
import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys

GNU_TIME = "/usr/bin/time"


def one(argv):
    if os.access(GNU_TIME, os.X_OK):
        p = subprocess.run([GNU_TIME, "-v"] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit("command failed: " + " ".join(argv) + "\n" + p.stderr[-2000:])
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        return int(m.group(1))
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("command failed: " + " ".join(argv))
    return ru.ru_maxrss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", required=True)
    ap.add_argument("cmds", nargs="+")
    a = ap.parse_args()
    res = []
    for c in a.cmds:
        kb = [one(shlex.split(c)) for _ in range(a.runs)]
        res.append({"command": c, "max_rss_kB": statistics.median(kb), "runs_kB": kb})
    tool = "/usr/bin/time -v" if os.access(GNU_TIME, os.X_OK) else "wait4 ru_maxrss"
    with open(a.out, "w") as f:
        json.dump({"results": res, "tool": tool}, f, indent=1)


if __name__ == "__main__":
    main()
