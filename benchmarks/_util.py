"""Helpers shared by the benchmark scripts: machine description, memory, child processes.

Every measured variant runs in its own child process (``python SCRIPT --child ...``) so that
its peak resident set size (``ru_maxrss``) belongs to that variant alone.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def _proc_status_mb(field: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB: VmHWM of its own address space.

    Falls back to ru_maxrss where /proc is missing. On Linux ru_maxrss is NOT per child
    process: execve keeps the maximum of the pre-exec address space, which is a fork of the
    parent, so a child's ru_maxrss is never below the parent's RSS at spawn time. VmHWM is
    reset by execve and is the honest per-process number.
    """
    value = _proc_status_mb("VmHWM")
    return value if value == value else ru_maxrss_mb()


def ru_maxrss_mb() -> float:
    """resource.getrusage(RUSAGE_SELF).ru_maxrss in MiB (Linux reports KiB); see peak_rss_mb."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """This process's resident set size now, in MiB (VmRSS from /proc/self/status)."""
    return _proc_status_mb("VmRSS")


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                return sorted(f for f in flags if f.startswith(("avx512f", "avx2", "fma", "amx")))
    except OSError:
        pass
    return []


def mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on (imports torch/pandas lazily, only if present)."""
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "mem_total_gib": round(mem_total_gib(), 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for module in ("torch", "numpy", "pandas", "sklearn"):
        try:
            mod = __import__(module)
            info[f"{module}_version"] = mod.__version__
        except ImportError:
            info[f"{module}_version"] = None
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["torch_interop_threads"] = torch.get_num_interop_threads()
    except ImportError:
        pass
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        info[var] = os.environ.get(var)
    return info


def busy_cpu_seconds() -> tuple[float, float]:
    """(busy CPU-seconds of the whole machine since boot, wall time) from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / ticks, time.monotonic()


class Contention:
    """How many CPUs processes other than this one kept busy between start and stop."""

    def __init__(self) -> None:
        self.busy0, self.t0 = busy_cpu_seconds()
        self.own0 = own_cpu_seconds()

    def stop(self) -> float:
        busy1, t1 = busy_cpu_seconds()
        own = own_cpu_seconds() - self.own0
        return max(0.0, (busy1 - self.busy0 - own) / (t1 - self.t0))


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_cpus(seconds: float = 1.0) -> float:
    """How many CPUs the whole machine kept busy over the next `seconds` (0 .. nproc)."""
    busy0, t0 = busy_cpu_seconds()
    time.sleep(seconds)
    busy1, t1 = busy_cpu_seconds()
    return (busy1 - busy0) / (t1 - t0)


def wait_for_quiet(threshold: float = 0.15, max_wait: float = 600.0, window: float = 2.0) -> float:
    """Wait until other processes use fewer than `threshold` CPUs; return the seconds waited.

    These machines can be shared with other work (a test suite, another benchmark). Two
    torch threads on two cores next to one busy process collapse by 10-100x (OpenMP
    barriers wait for a preempted thread), so every measurement starts on a quiet machine.
    """
    start = time.monotonic()
    announced = False
    while True:
        busy = machine_busy_cpus(window)
        waited = time.monotonic() - start
        if busy < threshold or waited >= max_wait:
            if announced or busy >= threshold:
                log(f"  machine busy {busy:.2f} CPUs; waited {waited:.0f}s")
            return waited
        if not announced:
            log(f"  machine busy ({busy:.2f} CPUs used by other processes); waiting for quiet ...")
            announced = True


def run_child(
    script: Path,
    args: list[str],
    timeout: float | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``python script --child ARGS`` and parse the one JSON line it prints last.

    Adds ``_other_cpus``: the average number of CPUs that processes other than this child
    kept busy while it ran (machine busy time minus the child's own CPU time). Anything
    well above 0 means the measurement shared the machine and is not trustworthy.
    """
    command = [sys.executable, str(script), "--child", *args]
    env = dict(os.environ)
    env.update(extra_env or {})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, t0 = busy_cpu_seconds()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    busy1, t1 = busy_cpu_seconds()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(
            f"child {' '.join(args)} failed with exit code {done.returncode}:\n{done.stderr[-4000:]}"
        )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    result = json.loads(lines[-1])
    child_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["_other_cpus"] = max(0.0, (busy1 - busy0 - child_cpu) / (t1 - t0))
    result["_child_cpus"] = child_cpu / (t1 - t0)
    result["_wall_s"] = t1 - t0
    return result


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "—"
        if isinstance(value, float):
            if value != value:  # NaN
                return "—"
            if abs(value) >= 1000:
                return f"{value:,.0f}"
            if abs(value) >= 100:
                return f"{value:.0f}"
            if abs(value) >= 10:
                return f"{value:.1f}"
            return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
