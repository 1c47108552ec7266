"""The quality/time frontier of inversion: reconstruction PSNR against ms per image, one point per method and
budget, the seed loop among them, from the rows benchmarks/invert_speed.py measured.

    python benchmarks/invert_frontier.py [benchmarks/results/invert_speed.json] [--out benchmarks/results/frontier]

Writes OUT/frontier_generated.png, OUT/frontier_real.png and OUT/report.md (the pictures and their tables):
"optimisation or encoder?" answered on one plot per kind of image.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from latentcli import viz
from latentcli.files import write_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default="benchmarks/results/invert_speed.json")
    parser.add_argument("--out", default="benchmarks/results/frontier")
    args = parser.parse_args()
    results = json.loads(Path(args.results).read_text())
    out = Path(args.out)
    n_seed = results["args"]["n_seed"]
    lines = ["# Inversion: quality against time", "",
             f"Checkpoint `{results['ckpt']}`, {results['threads']} thread(s); PSNR over the first {n_seed} images "
             f"(those the seed loop inverts too). From `{args.results}`.", ""]
    for kind, rows in results["kinds"].items():
        series: dict = {}
        for r in sorted(rows, key=lambda r: r["ms_per_image"]):
            name = r["label"] if r["label"] != "seed loop" else f"seed loop ({r['budget']} Adam steps, one image at a time)"
            xs, ys = series.setdefault(name, ([], []))
            xs.append(r["ms_per_image"])
            ys.append(r["psnr_first"])
        picture = out / f"frontier_{kind}.png"
        viz.save_line_plot(picture, series, "ms per image (log)", f"PSNR dB, first {n_seed} images",
                           title=f"{kind} images: reconstruction quality against inversion time", log_x=True)
        lines += [f"## {kind} images", "", f"![{kind}]({picture.name})", "",
                  "| method | steps | ms per image | PSNR dB | MSE | speed-up over the seed loop |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {r['label']} | {r['budget']} | {r['ms_per_image']:.1f} | {r['psnr_first']:.2f} | "
                  f"{r['mse_first']:.5f} | {r['speedup']:.0f}x |" for r in rows]
        lines.append("")
    write_text(out / "report.md", "\n".join(lines))
    print(f"wrote {out / 'report.md'} and its pictures")


if __name__ == "__main__":
    main()
