"""Columnar loading: the same 1,000,000 x 50 numeric table read by nncli as CSV, Parquet and
Feather — seconds and peak memory, each read in its own child process, medians of N runs.

The CSV is the one `csv_loading.py` writes (seeded, ``%.6g`` floats); the Parquet (snappy)
and Feather (lz4) copies are pandas' `to_parquet`/`to_feather` of that CSV read back, so all
three hold the same float64 values. Methods:

  nncli_csv       nncli.data.loading.read_csv on the .csv
  nncli_parquet   nncli.data.loading.read_csv on the .parquet (dispatches to data/columnar.py)
  nncli_feather   nncli.data.loading.read_csv on the .feather
  pandas_parquet  pandas.read_parquet (pyarrow), no nncli checks: the floor for Parquet

For each: seconds, peak RSS of the child (VmHWM) while reading, the result's size, the extra
time to the float32 matrix a trainer needs, the load average and the CPUs other processes
used during the read. Files come from the page cache after the first run.

Run:  .venv/bin/python benchmarks/columnar_loading.py [--rows 1000000 --repeats 3
      --dir /tmp/nncli-columnar-bench --json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import (
    MB,
    Contention,
    current_rss_mb,
    log,
    machine_info,
    markdown_table,
    peak_rss_mb,
    run_child,
    wait_for_quiet,
)
from csv_loading import write_csv

SCRIPT = Path(__file__).resolve()
METHODS = ("nncli_csv", "nncli_parquet", "nncli_feather", "pandas_parquet")
SUFFIX = {
    "nncli_csv": "csv",
    "nncli_parquet": "parquet",
    "nncli_feather": "feather",
    "pandas_parquet": "parquet",
}


def write_files(folder: Path, rows: int, cols: int, seed: int) -> dict[str, Path]:
    """numeric.csv, .parquet and .feather in `folder`, each written unless already there."""
    import pandas as pd

    paths = {kind: folder / f"numeric.{kind}" for kind in ("csv", "parquet", "feather")}
    if not paths["csv"].exists():
        log(f"writing {rows:,} x {cols} CSV to {paths['csv']} ...")
        write_csv(paths["csv"], rows, cols, seed)
    if not (paths["parquet"].exists() and paths["feather"].exists()):
        log("writing the Parquet and Feather copies ...")
        frame = pd.read_csv(paths["csv"])
        frame.to_parquet(paths["parquet"], index=False)
        frame.to_feather(paths["feather"])
    return paths


def child_read(method: str, path: Path) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from nncli.data.loading import read_csv

    if method != "nncli_csv":
        import pyarrow.feather
        import pyarrow.parquet  # noqa: F401  (imported before the clock starts, like pandas)
    rss_imports = current_rss_mb()
    load = os.getloadavg()[0]
    contention = Contention()
    start = time.perf_counter()
    frame = pd.read_parquet(path) if method == "pandas_parquet" else read_csv(path)
    seconds = time.perf_counter() - start
    other_cpus = contention.stop()
    peak_read = peak_rss_mb()
    result_mb = float(frame.memory_usage(index=True, deep=False).sum()) / MB
    dtypes = sorted({str(t) for t in frame.dtypes})
    start = time.perf_counter()
    matrix = frame.to_numpy(dtype=np.float32)
    to_matrix = time.perf_counter() - start
    return {
        "method": method,
        "seconds": seconds,
        "load_average_1min": load,
        "other_cpus": other_cpus,
        "shape": list(frame.shape),
        "dtypes": dtypes,
        "result_mb": result_mb,
        "rss_after_imports_mb": rss_imports,
        "peak_rss_read_mb": peak_read,
        "to_float32_matrix_seconds": to_matrix,
        "float32_matrix_mb": matrix.nbytes / MB,
    }


def summarise(runs: list[dict[str, Any]], size_mb: float) -> dict[str, Any]:
    median = statistics.median
    return {
        "file_mb": size_mb,
        "seconds_median": median(r["seconds"] for r in runs),
        "seconds_min": min(r["seconds"] for r in runs),
        "seconds_max": max(r["seconds"] for r in runs),
        "peak_rss_read_mb": median(r["peak_rss_read_mb"] for r in runs),
        "rss_after_imports_mb": median(r["rss_after_imports_mb"] for r in runs),
        "result_mb": runs[0]["result_mb"],
        "dtypes": runs[0]["dtypes"],
        "to_float32_matrix_seconds": median(r["to_float32_matrix_seconds"] for r in runs),
        "load_average_1min": median(r["load_average_1min"] for r in runs),
        "other_cpus_median": median(r["other_cpus"] for r in runs),
        "runs": runs,
    }


def render(results: dict[str, Any], args: argparse.Namespace) -> str:
    rows = [
        [
            method,
            r["file_mb"],
            r["seconds_median"],
            f"{r['seconds_min']:.2f}-{r['seconds_max']:.2f}",
            r["peak_rss_read_mb"],
            r["peak_rss_read_mb"] - r["rss_after_imports_mb"],
            r["result_mb"],
            "/".join(r["dtypes"]),
            r["to_float32_matrix_seconds"],
            r["load_average_1min"],
            r["other_cpus_median"],
        ]
        for method, r in results.items()
    ]
    headers = [
        "method",
        "file MiB",
        "seconds (median)",
        "range",
        "peak RSS MiB",
        "peak above imports MiB",
        "result MiB",
        "dtype",
        "+ to float32 s",
        "load avg (1 min)",
        "other procs' CPUs",
    ]
    title = f"## Columnar loading ({args.rows:,} x {args.cols}, median of {args.repeats})"
    return "\n".join([title, "", markdown_table(headers, rows)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="runs per method (>= 3)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma list")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("/tmp/nncli-columnar-bench"),
        help="where the data files are written (and reused); keep it out of the repository",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--quiet-threshold", type=float, default=0.15)
    parser.add_argument("--max-wait", type=float, default=60.0)
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child_read(args.child[0], Path(args.child[1]))))
        return 0

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    args.dir.mkdir(parents=True, exist_ok=True)
    paths = write_files(args.dir, args.rows, args.cols, args.seed)
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    for repeat in range(args.repeats):
        shift = repeat % len(methods)  # rotate, so no method always runs first after a pause
        for method in methods[shift:] + methods[:shift]:
            wait_for_quiet(args.quiet_threshold, args.max_wait)
            out = run_child(SCRIPT, [method, str(paths[SUFFIX[method]])])
            log(
                f"[{repeat + 1}/{args.repeats}] {method}: {out['seconds']:.2f}s, peak RSS "
                f"{out['peak_rss_read_mb']:.0f} MiB, load {out['load_average_1min']:.1f}, "
                f"other CPUs {out['other_cpus']:.2f}"
            )
            runs[method].append(out)
    results = {
        m: summarise(runs[m], paths[SUFFIX[m]].stat().st_size / MB) for m in methods if runs[m]
    }
    print(render(results, args))
    if args.json:
        document = {
            "benchmark": "columnar_loading",
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": machine_info(),
            "config": {k: str(v) for k, v in vars(args).items() if k != "child"},
            "float32_data_mb": args.rows * args.cols * 4 / MB,
            "methods": results,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
