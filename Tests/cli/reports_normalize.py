"""Helpers of Tests/cli/reports.sh: a --json report with its machine- and clock-dependent figures removed,
and the differences between two such reports as parsed values (1 and 1.0 count as different)."""
import json

# Wall and CPU times, throughput, thread counts and the BLAS kernel family chosen for this CPU.
VOLATILE = {"seconds", "load_seconds", "forward_seconds", "forward_cpu_seconds", "cpu_seconds", "passes",
            "input_gb_per_s", "prepare_seconds", "threads", "blas", "vnni", "b_weights", "weights_path"}


# Figures computed through OpenBLAS and LAPACK (forward passes, verification, SVDs) depend on the kernels
# OpenBLAS picks for the CPU: the same float sums in another order move the last bits (seen between two
# machines: boxes within 6e-8, SVD energies within 1e-15, the quantized verify figures within 1.1e-6 where a
# block's rounding flips). Floats therefore compare within RTOL relative + ATOL absolute; a real change (a
# formula, a key, a count, a type) is far outside it. Integers, strings and structure compare exactly.
RTOL, ATOL = 1e-4, 1e-6


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
    elif isinstance(before, float):
        if not abs(before - now) <= ATOL + RTOL * max(abs(before), abs(now)):
            out.append(f"{path}: {json.dumps(before)[:80]} → {json.dumps(now)[:80]}")
    elif isinstance(before, str) and before != now and before[:1] in "{[" and now[:1] in "{[":
        # A JSON document carried as a string (a provenance record in metadata): compared as values.
        try:
            a, b = json.loads(before), json.loads(now)
        except ValueError:
            return [f"{path}: {json.dumps(before)[:80]} → {json.dumps(now)[:80]}"]
        out += differences(a, b, path + "(json)")
    elif before != now:
        out.append(f"{path}: {json.dumps(before)[:80]} → {json.dumps(now)[:80]}")
    return out
