"""Helpers of Tests/cli/reports.sh: a --json report with its machine- and clock-dependent figures removed,
and the differences between two such reports as parsed values (1 and 1.0 count as different)."""
import json

# Wall and CPU times, throughput, thread counts and the BLAS kernel family chosen for this CPU.
VOLATILE = {"seconds", "load_seconds", "forward_seconds", "forward_cpu_seconds", "cpu_seconds", "passes",
            "input_gb_per_s", "prepare_seconds", "threads", "blas", "vnni", "b_weights", "weights_path"}


# Deliberate changes since the snapshots were recorded, by report: the difference line and why.
CHANGES = {
    "inspect_gguf": {"$.kv: added": "inspect of GGUF lists the numeric, boolean and array KV pairs too (issue 17)"},
}


def _strip(v, tmp):
    if isinstance(v, dict):
        return {k: _strip(x, tmp) for k, x in v.items() if k not in VOLATILE}
    if isinstance(v, list):
        return [_strip(x, tmp) for x in v]
    if isinstance(v, str):
        return v.replace(tmp, "$T")
    return v


def normalized(text, tmp):
    """The report parsed, without the volatile members, the temporary folder written as $T."""
    return _strip(json.loads(text), tmp)


def unexplained(name, before, now):
    """The differences that no entry of CHANGES explains."""
    allowed = CHANGES.get(name, {})
    return [d for d in differences(before, now) if d not in allowed]


def differences(before, now, path="$"):
    """Where `now` differs from `before`: missing or added keys, other types, other values."""
    out = []
    if type(before) is not type(now):
        return [f"{path}: {type(before).__name__} {json.dumps(before)[:80]} → {type(now).__name__} {json.dumps(now)[:80]}"]
    if isinstance(before, dict):
        for k in sorted(set(before) | set(now)):
            if k not in now:
                out.append(f"{path}.{k}: missing")
            elif k not in before:
                out.append(f"{path}.{k}: added")
            else:
                out += differences(before[k], now[k], f"{path}.{k}")
    elif isinstance(before, list):
        if len(before) != len(now):
            return [f"{path}: {len(before)} items → {len(now)}"]
        for i, (a, b) in enumerate(zip(before, now)):
            out += differences(a, b, f"{path}[{i}]")
    elif before != now:
        out.append(f"{path}: {json.dumps(before)[:80]} → {json.dumps(now)[:80]}")
    return out
