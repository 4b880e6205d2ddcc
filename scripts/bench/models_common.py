"""Helpers shared by the model benchmarks (scripts/bench-models.sh): whole-command timing, peak
anonymous memory sampled from /proc, the load average. Standard library only, so every interpreter the
benchmarks use (the bench venv, a HiVG venv) can import it."""
import json
import os
import shlex
import statistics
import subprocess
import sys
import time


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def cpu_snapshot():
    """(busy CPU ticks of the whole machine, CPU ticks of this process and its reaped children, time)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)   # user nice system irq softirq steal
    with open("/proc/self/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    own = sum(int(x) for x in st[11:15])        # utime stime cutime cstime (fields 14-17)
    return busy, own, time.time()


def others_cores(a, b):
    """Average number of cores other processes kept busy between two cpu_snapshot()s (ours excluded:
    this process and every child it has waited for)."""
    hz = os.sysconf("SC_CLK_TCK")
    wall = max(b[2] - a[2], 1e-9)
    return max(0.0, ((b[0] - a[0]) - (b[1] - a[1])) / hz / wall)


def say(*a):
    print("bench-models:", *a, file=sys.stderr, flush=True)


def run(argv, capture=True, env=None, check=True):
    """Run argv (list or shell-quoted string) without a shell; returns (stdout, stderr, seconds)."""
    if isinstance(argv, str):
        argv = shlex.split(argv)
    t = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, env=env)
    dt = time.perf_counter() - t
    if check and p.returncode != 0:
        sys.exit("command failed (%d): %s\n%s" % (p.returncode, " ".join(argv), (p.stderr or "")[-3000:]))
    return p.stdout, p.stderr, dt


def median(xs):
    return statistics.median(xs) if xs else None


def timed_alternating(cmds, runs, warmup=1, env=None):
    """Wall time of whole commands (stdout/stderr discarded), the commands interleaved run by run so that
    a change in the machine's load hits all of them alike. `runs` is one count or one per command (a slow
    reference may get fewer runs; it is then interleaved with the first ones of the others). Returns
    [{cmd, median, min, max, times, cpu_times, cpu_median}]; cpu is the process's user + system seconds
    (its own threads and children), which waiting for a core on a busy machine does not inflate."""
    argvs = [shlex.split(c) if isinstance(c, str) else c for c in cmds]
    counts = list(runs) if isinstance(runs, (list, tuple)) else [runs] * len(cmds)
    times, cpus = [[] for _ in cmds], [[] for _ in cmds]
    for i in range(warmup + max(counts)):
        for j, argv in enumerate(argvs):
            if i >= warmup + counts[j]:
                continue
            t = time.perf_counter()
            p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
            err = p.stderr.read().decode(errors="replace")
            _, status, ru = os.wait4(p.pid, 0)
            dt = time.perf_counter() - t
            p.returncode = os.waitstatus_to_exitcode(status)
            if p.returncode != 0:
                sys.exit("command failed (%d): %s\n%s" % (p.returncode, " ".join(argv), err[-3000:]))
            if i >= warmup:
                times[j].append(dt)
                cpus[j].append(ru.ru_utime + ru.ru_stime)
    return [dict(cmd=" ".join(a), median=median(t), min=min(t), max=max(t), times=t, cpu_times=c, cpu_median=median(c))
            for a, t, c in zip(argvs, times, cpus)]


def _status_kb(pid, fields):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k = line.split(":", 1)[0]
                if k in fields:
                    out[k] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return out


def peak_rss_anon(argv, interval=0.005, env=None):
    """Run argv and sample /proc/PID/status every `interval` s: peak RssAnon (kB), the first sample's
    RssAnon (start-up), peak RssFile, and VmHWM (the kernel's peak of all resident pages, file-backed
    included) from the last sample. Anonymous memory is what the process itself allocates; the
    file-backed pages of an mmap'd input are page cache the kernel may drop at any time."""
    if isinstance(argv, str):
        argv = shlex.split(argv)
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak_anon = peak_file = hwm = 0
    first = None
    samples = 0
    t0 = time.perf_counter()
    while p.poll() is None:
        s = _status_kb(p.pid, ("RssAnon", "RssFile", "VmHWM"))
        if "RssAnon" in s:
            samples += 1
            if first is None:
                first = s["RssAnon"]
            peak_anon = max(peak_anon, s["RssAnon"])
            peak_file = max(peak_file, s.get("RssFile", 0))
            hwm = max(hwm, s.get("VmHWM", 0))
        time.sleep(interval)
    dt = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    if p.returncode != 0:
        sys.exit("command failed (%d): %s\n%s" % (p.returncode, " ".join(argv), err[-3000:]))
    return dict(cmd=" ".join(argv), peak_rss_anon_kb=peak_anon, first_rss_anon_kb=first, peak_rss_file_kb=peak_file,
                vm_hwm_kb=hwm, samples=samples, seconds=dt)


def dump(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def load(path):
    with open(path) as f:
        return json.load(f)
