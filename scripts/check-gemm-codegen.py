#!/usr/bin/env python3
"""Checks that the compiled AVX-512 GEMM tile keeps its sums in registers.

    check-gemm-codegen.py PATH/TO/gemm.c.o

The 14 × 32 tile of Sources/CKernels/gemm.c holds 28 accumulators, two weight vectors and one broadcast:
31 of the 32 zmm registers. clang compiles it without spills today, but small edits elsewhere in gemm.c
have made it keep accumulators on the stack (an experiment on 2026-11-29: 219 stack moves in the
4-step loop, half the speed). Timings never go into the tests, so this checks the code instead: no
k loop of the `tile512*` functions (every row count the GEMM uses) may move a zmm register to or from
the stack, and the 14-row tile's loops (28 or 112 fused multiply-adds, or 28 distinct destinations)
must be among them. Prints one line; exit 1 on a spill or when no such loop is
found, 0 otherwise (also without objdump or for an object that is not x86-64).

    check-gemm-codegen.py --q8 PATH/TO/qgemm.c.o

The same for the int8 GEMM: its 6-row × 32-column VNNI tile (12 int32 block sums, 12 F32 sums, two
weight vectors) must compile to a block loop of 96 `vpdpbusd` without zmm stack moves in `q8_gemm_vnni`.
"""
import re
import shutil
import subprocess
import sys

INSN = re.compile(r"\s*([0-9a-f]+):\s+(.*)")
JUMP = re.compile(r"j\w+\s+([0-9a-f]+)\b")
STACK_ZMM = re.compile(r"zmm\d+.*\(%rsp\)|\(%rsp\).*zmm\d+")
FMA_DEST = re.compile(r"vfmadd\w+\s+.*,(%zmm\d+)\s*$")


def main():
    q8 = sys.argv[1] == "--q8"
    obj = sys.argv[2] if q8 else sys.argv[1]
    prefix, op, what = ("q8_gemm_vnni", "vpdpbusd", "6-row VNNI block") if q8 else ("tile512", "vfmadd", "14-row tile")
    if shutil.which("objdump") is None:
        print("gemm codegen: SKIP (no objdump)")
        return 0
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", obj], capture_output=True, text=True).stdout
    if "elf64-x86-64" not in text:
        print("gemm codegen: SKIP (%s is not an x86-64 object)" % obj)
        return 0
    # Every function whose name starts with tile512 (today tile512_any, with the tile inlined per row count).
    body, inside = [], False
    for line in text.splitlines():
        if re.match(r"[0-9a-f]+ <", line):
            inside = re.match(r"[0-9a-f]+ <" + prefix, line) is not None
        elif inside:
            m = INSN.match(line)
            if m:
                body.append((int(m.group(1), 16), m.group(2).strip()))
    # Every loop (a backward jump): its last address, instructions and count of `op`.
    loops = []
    for addr, ins in body:
        m = JUMP.match(ins)
        if m and int(m.group(1), 16) < addr:
            loop = [i for a, i in body if int(m.group(1), 16) <= a <= addr]
            loops.append((addr, loop, sum(1 for i in loop if i.startswith(op))))
    shortest96 = min((len(loop) for _, loop, n in loops if n == 96), default=0)  # --q8: the block loop
    checked, bad = 0, []
    for addr, loop, fmas in loops:
        if fmas == 0:
            continue
        dests = {d.group(1) for d in map(FMA_DEST.search, loop) if d}
        # The source's two k loops of the 14-row tile: 4 steps (112) and 1 step (28) of 28 products; a
        # spilling build reuses a few destination registers, so the count identifies them too. The q8
        # tile: 8 groups × 12 sums per block of 32.
        if q8:
            # Only the innermost loop (the block loop): the loops around it (row tiles, panels) contain
            # the same 96 and set up / store the 24 sums once per tile.
            if fmas != 96 or len(loop) > shortest96:
                continue
            checked += 1
        elif len(dests) == 28 or fmas in (28, 112):
            checked += 1
        spills = sum(1 for i in loop if STACK_ZMM.search(i))
        if spills:
            bad.append("loop at %#x: %d zmm stack moves in %d instructions" % (addr, spills, len(loop)))
    if checked == 0:
        print("gemm codegen: FAIL (no %s loop found in the %s* functions of %s)" % (what, prefix, obj))
        return 1
    if bad:
        print("gemm codegen: FAIL, a tile loop spills: " + "; ".join(bad))
        return 1
    print("gemm codegen: %d %s loops, no zmm spills in any %s loop" % (checked, what, "block" if q8 else "tile"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
