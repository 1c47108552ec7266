"""Where a fused group's time goes against a separate run's: torch's profiler around 10 steps of each (one
thread), the busiest operators first. Backs the explanation under RESULTS.md's fused throughput table.

    OMP_NUM_THREADS=1 python benchmarks/fused_profile.py veegan_grid25      # any set-up of fused_throughput.py
"""

from __future__ import annotations

import sys

from torch.profiler import ProfilerActivity, profile

from fused_throughput import worker

if __name__ == "__main__":
    setup = sys.argv[1] if len(sys.argv) > 1 else "veegan_grid25"
    for mode, seeds in [("separate", [0]), ("fused", list(range(10)))]:
        worker(setup, mode, seeds, 3)  # warm-up
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            seconds = worker(setup, mode, seeds, 10)
        print(f"{setup} {mode}, {len(seeds)} run(s): {len(seeds) * 10 / seconds:.1f} member-steps/s")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))
