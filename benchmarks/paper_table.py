"""Tabulates a benchmarks/paper_compare.sh folder: latentcli's runs (ours/ARM-SEED/eval/metrics.json) beside the
reference script's (reference.jsonl), mean +- standard error over seeds for each metric of the paper's protocol.

    python benchmarks/paper_table.py OUTDIR

The last column says whether the two sides agree within the seed spread: |mean difference| below twice the
standard error of that difference (sqrt(se_ours^2 + se_ref^2)).
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path

PROTOCOLS = {"pacgan": ["modes", "high_quality", "reverse_kl"], "alice": ["mse_capped", "mse", "icp"],
             "veegan": ["modes", "high_quality"]}
# the reference scripts' names for the same quantities
REFERENCE_NAMES = {"mse_capped": "mse", "mse": "mse_raw"}


def reference_arm(record: dict) -> str:
    args = record["args"]
    if record["script"] == "pacgan_toy":
        return "gan" if args["pack"] == 1 else f"pacgan{args['pack']}"
    if record["script"] == "alice_toy":
        return "ali" if args["lam"] == 0 else "alice"
    if args.get("model") == "ali":
        return "ali"
    if args.get("model") == "gan":  # the GAN row; its generator-loss readings other than latentcli's are named
        return "gan" if args["generator_loss"] == "ns" else f"gan_{args['generator_loss']}"
    return "veegan"


def collect(out: Path) -> tuple[str, dict]:
    """(protocol, {(arm, side): {metric: [values]}})"""
    table: dict = {}
    protocol = None
    for path in sorted(out.glob("ours/*/eval/metrics.json")):
        metrics = json.loads(path.read_text())
        protocol = next(p for p in PROTOCOLS if p in metrics)
        arm = path.parent.parent.name.rsplit("-", 1)[0]
        for name in PROTOCOLS[protocol]:
            value = metrics[protocol].get(name)
            if value is not None:
                table.setdefault((arm, "latentcli"), {}).setdefault(name, []).append(float(value))
    reference = out / "reference.jsonl"
    for line in reference.read_text().splitlines() if reference.exists() else []:
        record = json.loads(line)
        protocol = protocol or {"pacgan_toy": "pacgan", "alice_toy": "alice", "veegan_toy": "veegan"}[record["script"]]
        for name in PROTOCOLS[protocol]:
            value = record["metrics"].get(REFERENCE_NAMES.get(name, name))
            if value is not None:
                table.setdefault((reference_arm(record), "reference"), {}).setdefault(name, []).append(float(value))
    return protocol, table


def mean_se(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan"))


def main(out: Path) -> str:
    protocol, table = collect(out)
    if protocol is None:
        sys.exit(f"no results under {out}: it holds no reference.jsonl line and no scored run of benchmarks/paper_compare.sh")
    names = PROTOCOLS[protocol]
    lines = ["| arm | side | runs | " + " | ".join(f"{n} (mean ± s.e.)" for n in names) + " | agree (|diff| < 2 s.e.) |",
             "|" + " --- |" * (len(names) + 4)]
    for arm in sorted({a for a, _ in table}):
        for side in ("latentcli", "reference"):
            values = table.get((arm, side), {})
            runs = max((len(v) for v in values.values()), default=0)
            cells = []
            for n in names:
                cells.append("{:.4g} ± {:.2g}".format(*mean_se(values[n])) if n in values else "")
            verdict = ""
            if side == "reference" and (arm, "latentcli") in table:
                ours = table[(arm, "latentcli")]
                checks = []
                for n in names:
                    if n in values and n in ours and len(values[n]) > 1 and len(ours[n]) > 1:
                        (m1, s1), (m2, s2) = mean_se(ours[n]), mean_se(values[n])
                        checks.append(f"{n} {'yes' if abs(m1 - m2) <= 2 * math.hypot(s1, s2) + 1e-12 else 'NO'}")
                verdict = ", ".join(checks)
            lines.append(f"| {arm} | {side} | {runs} | " + " | ".join(cells) + f" | {verdict} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(main(Path(sys.argv[1])), end="")
