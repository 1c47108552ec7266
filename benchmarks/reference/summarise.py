"""Mean +- standard error (and +- standard deviation) per configuration of the reference scripts' JSON lines.

    python benchmarks/reference/summarise.py /work/exp/reference/alice_toy_full.jsonl [more.jsonl ...]

Standard error = sample standard deviation (ddof 1) / sqrt(n); the ALICE notebook's published spread is
numpy's np.std (ddof 0), printed as `std0` for comparison with it.
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict


def summarise(records: list[dict]) -> list[str]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        groups[f"{r['script']} {r['config']}"].append(r)
    lines = []
    for name, runs in groups.items():
        seeds = sorted(r["seed"] for r in runs)
        seconds = sum(r["seconds"] for r in runs) / len(runs)
        lines.append(f"{name}: n={len(runs)} seeds={seeds} mean {seconds:.0f} s/run")
        keys = [k for k, v in runs[0]["metrics"].items() if isinstance(v, (int, float))]
        for key in keys:
            values = [float(r["metrics"][key]) for r in runs if not math.isnan(float(r["metrics"][key]))]
            n = len(values)
            mean = sum(values) / n
            sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else float("nan")
            sd0 = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
            lines.append(f"  {key:>14}: {mean:.4g} +- {sd / math.sqrt(n):.2g} (s.e.)   sd {sd:.3g}   std0 {sd0:.3g}"
                         f"   n={n}")
    return lines


def main() -> None:
    records = []
    for path in sys.argv[1:]:
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    print("\n".join(summarise(records)))


if __name__ == "__main__":
    main()
