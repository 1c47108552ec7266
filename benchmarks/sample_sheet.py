"""One picture of many runs' samples at one step: each run's own samples/step-N.png, a row per model (or per
sweep folder given), a column per seed, so a table's runs can be looked at side by side.

    python benchmarks/sample_sheet.py OUT.png SWEEP_OR_RUN [SWEEP_OR_RUN ...] [--step N] [--width PX]

A sweep folder stands for its runs (sorted by model, then seed, as .hydra/config.yaml names them); --step picks
samples/step-N.png (default: each run's last picture).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omegaconf import OmegaConf
from PIL import Image

from latentcli.files import atomic_output


def runs_in(folder: Path) -> list[Path]:
    if (folder / "samples").is_dir():
        return [folder]
    return sorted(p for p in folder.iterdir() if (p / "samples").is_dir())


def picture(run: Path, step: int | None) -> Path | None:
    if step is not None:
        path = run / "samples" / f"step-{step:08d}.png"
        return path if path.exists() else None
    pictures = sorted((run / "samples").glob("step-*.png"))
    return pictures[-1] if pictures else None


def label(run: Path) -> tuple[str, int]:
    cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
    return cfg.model.name, int(cfg.seed)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--step", type=int, default=None)
    parser.add_argument("--width", type=int, default=360, help="each picture's width in pixels")
    args = parser.parse_args(argv)
    rows: dict[str, list[Image.Image]] = {}
    for folder in args.folders:
        if not folder.is_dir():
            parser.error(f"{folder} is not a folder: give a sweep folder or a run folder")
        for (model, _), run in sorted((label(run), run) for run in runs_in(folder)):
            path = picture(run, args.step)
            if path is None:
                print(f"{run}: no samples/step-{args.step or '*'}.png, left out", file=sys.stderr)
                continue
            image = Image.open(path).convert("RGB")
            rows.setdefault(model, []).append(image.resize(
                (args.width, round(image.height * args.width / image.width)), Image.LANCZOS))
    if not rows:
        parser.error("no sample pictures found in the folders given")
    height = max(im.height for row in rows.values() for im in row)
    columns = max(len(row) for row in rows.values())
    sheet = Image.new("RGB", (columns * args.width, len(rows) * height), "white")
    for r, row in enumerate(rows.values()):
        for c, image in enumerate(row):
            sheet.paste(image, (c * args.width, r * height))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out) as tmp:
        sheet.save(tmp, format="PNG")
    print(f"{args.out}: {len(rows)} row(s) ({', '.join(rows)}) x up to {columns} run(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
