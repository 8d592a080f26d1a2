"""CSV loading: how fast each reader turns a large numeric CSV into a table, and at what memory.

Writes a seeded 1,000,000 x 50 numeric CSV (``%.6g`` floats, a header line) to a temp dir,
then reads it with each method in its own child process, best of 3 runs:

  pandas_c_default   pandas.read_csv(engine="c"), default dtypes (float64)
  nncli_read_csv     nncli.data.loading.read_csv (C engine, low_memory=False, default dtypes)
  pandas_c_float32   pandas.read_csv(engine="c", dtype={column: "float32" ...})
  pandas_pyarrow     pandas.read_csv(engine="pyarrow") (only where pyarrow is installed)
  numpy_loadtxt      numpy.loadtxt(dtype=float32, delimiter=",", skiprows=1)

For each: seconds (best), MB/s of CSV text, peak RSS of the child (VmHWM) while reading,
the in-memory size of the result, and the extra time and peak RSS to get the float32
[rows, columns] matrix a trainer needs. The file stays in the page cache between runs, so this
is parsing speed, not disk speed.

Run:  .venv/bin/python benchmarks/csv_loading.py [--rows 1000000 --json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
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

SCRIPT = Path(__file__).resolve()
CONTAMINATED = 0.25  # other processes' average busy CPUs above which a run is re-done
METHODS = (
    "pandas_c_default",
    "nncli_read_csv",
    "pandas_c_float32",
    "pandas_pyarrow",
    "numpy_loadtxt",
)


def write_csv(path: Path, rows: int, cols: int, seed: int) -> None:
    """Seeded numeric CSV: column j ~ N(0, 1) x 10^(j mod 4 - 1), 6 significant digits."""
    import numpy as np

    rng = np.random.default_rng(seed)
    scales = 10.0 ** (np.arange(cols) % 4 - 1)
    chunk = 50_000
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(f"f{j}" for j in range(cols)) + "\n")
        for start in range(0, rows, chunk):
            block = rng.standard_normal((min(chunk, rows - start), cols)) * scales
            np.savetxt(handle, block, fmt="%.6g", delimiter=",")


def child_baseline() -> dict[str, Any]:
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    return {"rss_mb": current_rss_mb(), "peak_rss_mb": peak_rss_mb()}


def child_read(method: str, path: Path, cols: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    if method == "nncli_read_csv":
        from nncli.data.loading import read_csv

    rss_imports = current_rss_mb()
    contention = Contention()
    start = time.perf_counter()
    if method == "pandas_c_default":
        result: Any = pd.read_csv(path, engine="c")
    elif method == "nncli_read_csv":
        result = read_csv(path)
    elif method == "pandas_c_float32":
        result = pd.read_csv(path, engine="c", dtype={f"f{j}": "float32" for j in range(cols)})
    elif method == "pandas_pyarrow":
        result = pd.read_csv(path, engine="pyarrow")
    elif method == "numpy_loadtxt":
        result = np.loadtxt(path, dtype=np.float32, delimiter=",", skiprows=1)
    else:
        raise SystemExit(f"unknown method {method!r}")
    seconds = time.perf_counter() - start
    other_cpus = contention.stop()
    peak_read = peak_rss_mb()
    if isinstance(result, pd.DataFrame):
        result_mb = float(result.memory_usage(index=True, deep=False).sum()) / MB
        dtypes = sorted({str(t) for t in result.dtypes})
        shape = list(result.shape)
    else:
        result_mb, dtypes, shape = result.nbytes / MB, [str(result.dtype)], list(result.shape)

    start = time.perf_counter()
    if isinstance(result, pd.DataFrame):
        matrix = result.to_numpy(dtype=np.float32)
        del result
    else:
        matrix = np.ascontiguousarray(result, dtype=np.float32)
    to_matrix = time.perf_counter() - start
    return {
        "method": method,
        "seconds": seconds,
        "other_cpus": other_cpus,
        "rows": shape[0],
        "shape": shape,
        "dtypes": dtypes,
        "result_mb": result_mb,
        "rss_after_imports_mb": rss_imports,
        "peak_rss_read_mb": peak_read,
        "to_float32_matrix_seconds": to_matrix,
        "float32_matrix_mb": matrix.nbytes / MB,
        "peak_rss_with_matrix_mb": peak_rss_mb(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="runs per method; best is reported")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma list")
    parser.add_argument("--csv", type=Path, help="read this CSV (written first if it is missing)")
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="write results as JSON to PATH, or to stdout (then the table goes to stderr)",
    )
    parser.add_argument("--quiet-threshold", type=float, default=0.15)
    parser.add_argument("--max-wait", type=float, default=900.0)
    parser.add_argument("--max-retries", type=int, default=3)
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child is not None:
        kind, *rest = args.child
        if kind == "baseline":
            out = child_baseline()
        else:
            out = child_read(rest[0], Path(rest[1]), int(rest[2]))
        print(json.dumps(out))
        return 0

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    notes: dict[str, str] = {}
    if "pandas_pyarrow" in methods and importlib.util.find_spec("pyarrow") is None:
        notes["pandas_pyarrow"] = "pyarrow not installed"
        log("pyarrow not installed: skipping the pandas pyarrow engine")
        methods.remove("pandas_pyarrow")

    machine = machine_info()
    temp = None
    path = args.csv
    if path is None:
        temp = tempfile.mkdtemp(prefix="nncli-csv-bench-")
        path = Path(temp) / "numeric.csv"
    try:
        if not path.exists():
            log(f"writing {args.rows:,} x {args.cols} CSV to {path} ...")
            start = time.perf_counter()
            write_csv(path, args.rows, args.cols, args.seed)
            log(f"  done in {time.perf_counter() - start:.1f}s")
        size_mb = path.stat().st_size / MB
        baseline = run_child(SCRIPT, ["baseline"])
        runs: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
        for repeat in range(args.repeats):
            # rotate the order each round, so no method is always the first after a pause
            shift = repeat % len(methods)
            for method in methods[shift:] + methods[:shift]:
                for _ in range(args.max_retries + 1):
                    wait_for_quiet(args.quiet_threshold, args.max_wait)
                    out = run_child(SCRIPT, ["read", method, str(path), str(args.cols)])
                    if out["other_cpus"] <= CONTAMINATED:
                        break
                    log(f"  {method} shared the machine ({out['other_cpus']:.2f} CPUs)")
                log(
                    f"[{repeat + 1}/{args.repeats}] {method}: {out['seconds']:.2f}s, "
                    f"peak RSS {out['peak_rss_read_mb']:.0f} MiB, other CPUs {out['other_cpus']:.2f}"
                )
                runs[method].append(out)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    results: dict[str, Any] = {}
    for method in methods:
        rs = runs[method]
        best = min(rs, key=lambda r: r["seconds"])
        results[method] = {
            "seconds_best": best["seconds"],
            "seconds_median": statistics.median(r["seconds"] for r in rs),
            "mb_per_s": size_mb / best["seconds"],
            "rows_per_s": best["rows"] / best["seconds"],
            "peak_rss_read_mb": statistics.median(r["peak_rss_read_mb"] for r in rs),
            "result_mb": best["result_mb"],
            "dtypes": best["dtypes"],
            "to_float32_matrix_seconds": min(r["to_float32_matrix_seconds"] for r in rs),
            "peak_rss_with_matrix_mb": statistics.median(r["peak_rss_with_matrix_mb"] for r in rs),
            "other_cpus_max": max(r["other_cpus"] for r in rs),
            "runs": rs,
        }
    fastest = min(results, key=lambda m: results[m]["seconds_best"]) if results else None
    float32_mb = args.rows * args.cols * 4 / MB
    document = {
        "benchmark": "csv_loading",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine,
        "config": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "child"
        },
        "csv_mb": size_mb,
        "float32_data_mb": float32_mb,
        "import_pandas_rss_mb": baseline["rss_mb"],
        "methods": results,
        "skipped": notes,
        "fastest": fastest,
    }

    lines = [
        f"## CSV loading ({args.rows:,} x {args.cols} numeric, {size_mb:.0f} MiB of text, "
        f"best of {args.repeats})",
        "",
    ]
    lines.append(
        markdown_table(
            [
                "method",
                "seconds (best)",
                "seconds (median)",
                "MiB/s",
                "rows/s",
                "result dtype",
                "result MiB",
                "peak RSS read MiB",
                "+ to float32 matrix s",
                "peak RSS with matrix MiB",
                "other procs' CPUs",
            ],
            [
                [
                    m,
                    r["seconds_best"],
                    r["seconds_median"],
                    r["mb_per_s"],
                    r["rows_per_s"],
                    "/".join(r["dtypes"]),
                    r["result_mb"],
                    r["peak_rss_read_mb"],
                    r["to_float32_matrix_seconds"],
                    r["peak_rss_with_matrix_mb"],
                    r["other_cpus_max"],
                ]
                for m, r in results.items()
            ]
            + [[m, note, *[None] * 9] for m, note in notes.items()],
        )
    )
    lines += [
        "",
        f"float32 data size {float32_mb:.0f} MiB; python + import numpy, pandas RSS "
        f"{baseline['rss_mb']:.0f} MiB; fastest: {fastest}.",
    ]
    table = "\n".join(lines)
    if args.json == "-":
        print(table, file=sys.stderr)
        print(json.dumps(document, indent=2))
    else:
        print(table)
        if args.json:
            Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
            log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
