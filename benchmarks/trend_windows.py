"""The HQ trend of one model of a study over windows of steps, from the study's curves.csv (benchmarks/study.py):

    python benchmarks/trend_windows.py OUT/curves.csv vae 20000-40000 40000-80000 ...

Per window, study.trend() on the checkpoints inside it: each seed's least-squares slope, mean ± s.e. over seeds and
the one-sample t-test against no slope. trend() fits from half the last step on, so a window LO-HI needs
LO >= HI / 2 to be used whole.
"""

import csv
import sys
from pathlib import Path

import study

KEY = "modes.high_quality_fraction"


def main(path: str, model: str, windows: list[str]) -> None:
    if not Path(path).is_file():
        raise SystemExit(f"trend_windows: {path} is not a file: give a study's curves.csv (benchmarks/study.py OUT)")
    rows = [{"model": r["model"], "seed": int(r["seed"]), "step": int(r["step"]), KEY: float(r[KEY]) if r[KEY] else None}
            for r in csv.DictReader(open(path))]
    for window in windows:
        lo, hi = map(int, window.split("-"))
        if lo < hi / 2:
            raise SystemExit(f"trend_windows: window {window} starts before half its end; trend() would fit only "
                             f"{hi // 2}-{hi}")
        found = study.trend([r for r in rows if lo <= r["step"] <= hi], model, KEY)
        if found is None:
            print(f"{model} {window}: fewer than 2 seeds with 3 checkpoints in it")
            continue
        first, last, slope, se, p = found
        print(f"{model} {first}-{last}: {slope * 100:+.2f} ± {se * 100:.2f} HQ points per 10,000 steps, p = {p:.2g}")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__.split("\n\n")[1].strip())
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
