"""Benchmark: what the deletion guard of ``push --delete-missing`` adds (finding 36).

Before anything is sent, ``byocframe push --delete-missing`` finds its deletions offline
(`byocframe.edits.diff.plan`, as the push itself does) and computes their code
(`byocframe.cli.confirm.deletion_code`): a second offline diff of the frame. This
measures, on a synthetic frame of ``--tiles`` rows with ``--dropped`` of them dropped:

* the offline plan with deletions (the added work);
* the code of the deletions, and of every tile of the frame (the worst case);
* for scale, the requests the deletions cost at a plan's 1,200 requests a minute.

Each figure is the median of ``--repeat`` runs. Run:
``python benchmarks/bench_confirm.py --tiles 20000 100000 200000``
"""

from __future__ import annotations

import argparse

from bench_edits import median_ms  # run from benchmarks/, as the other scripts

import byocframe
from byocframe.cli.confirm import deletion_code
from byocframe.edits.diff import plan
from byocframe.frame.synthetic import synthetic_tiles


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs="+", default=[20_000])
    parser.add_argument("--dropped", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| tiles | dropped | offline plan with deletions | code of the dropped | "
          "code of every tile | the deletions at 1,200/min |")  # fmt: skip
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in args.tiles:
        gdf = byocframe.tiles_from_records(synthetic_tiles(n, seed=1))
        kept = gdf.iloc[args.dropped :]
        found = plan(kept, deleted=True)
        assert len(found.deletes) == args.dropped
        every = [str(tid) for tid in gdf.index]
        planned = median_ms(lambda kept=kept: plan(kept, deleted=True), args.repeat)
        coded = median_ms(lambda f=found: deletion_code("c", f.deletes), args.repeat)
        whole = median_ms(lambda e=every: deletion_code("c", e), args.repeat)
        minutes = args.dropped / 1200
        print(
            f"| {n:,} | {args.dropped:,} | {planned:,.0f} ms | {coded:,.1f} ms | "
            f"{whole:,.0f} ms | {minutes:,.1f} min |"
        )


if __name__ == "__main__":
    main()
