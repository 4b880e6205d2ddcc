"""PASS/FAIL/SKIP lines and their counts, shared by the cross-check scripts."""

MAX_DETAILS = 20  # difference lines printed per check


class Report:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def ok(self, check, what, detail=""):
        self.passed += 1
        print(f"PASS  {check:8} {what}" + (f"  ({detail})" if detail else ""), flush=True)

    def fail(self, check, what, problems):
        self.failed += 1
        problems = [problems] if isinstance(problems, str) else list(problems) or ["(no detail)"]
        print(f"FAIL  {check:8} {what}: {problems[0] if len(problems) == 1 else f'{len(problems)} differences'}",
              flush=True)
        if len(problems) > 1:
            for p in problems[:MAX_DETAILS]:
                print(f"        - {p}")
            if len(problems) > MAX_DETAILS:
                print(f"        … and {len(problems) - MAX_DETAILS} more")

    def skip(self, check, what, why):
        self.skipped += 1
        print(f"SKIP  {check:8} {what}: {why}", flush=True)

    @staticmethod
    def note(text):
        print(f"      {'':8} {text}", flush=True)
