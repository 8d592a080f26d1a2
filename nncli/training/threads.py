"""How many CPU threads torch should use, chosen per epoch from the work and the machine.

Why: with as many torch threads as cores, one busy neighbour process (another job on a cron
host, a test suite, a browser) makes training 5-100x slower, because every parallel region
ends in an OpenMP barrier that waits for whichever thread the scheduler preempted. Measured
on a 2-core machine with other jobs running: a 150-row table trained in 5.2-5.7 s with one
thread and 27-35 s with two (benchmarks/RESULTS.md, "Whole-command speed"). So nncli uses
one thread for small networks (where threads buy nothing), and otherwise as many threads as
there are cores that other processes leave idle, measured again after every epoch.
`--threads N` fixes the count instead.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

# Below about this many multiply-adds per mini-batch, torch's threads cost more than they save.
SMALL_BATCH_WORK = 4_000_000


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask, e.g. under taskset or a container)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class MachineLoad:
    """CPUs that *other* processes kept busy since the last reading (Linux /proc/stat)."""

    def __init__(self) -> None:
        self.last = self._reading()

    @staticmethod
    def _reading() -> tuple[float, float, float] | None:
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
        except OSError:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        busy = (
            sum(int(v) for i, v in enumerate(fields) if i not in (3, 4)) / ticks
        )  # not idle/iowait
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return busy, usage.ru_utime + usage.ru_stime, time.monotonic()

    def others_busy(self) -> float | None:
        """Busy CPUs of other processes since the previous call (None where unknown)."""
        now = self._reading()
        before, self.last = self.last, now
        if now is None or before is None or now[2] - before[2] < 0.05:
            return None
        machine = now[0] - before[0]
        own = now[1] - before[1]
        return max(0.0, (machine - own) / (now[2] - before[2]))


class ThreadGovernor:
    """Sets torch's thread count before training and after every epoch."""

    def __init__(self, requested: int | None, batch_work: float) -> None:
        self.requested = requested
        self.small = batch_work < SMALL_BATCH_WORK
        self.cores = available_cores()
        self.load = MachineLoad()
        self.threads = 0

    def adjust(self) -> int:
        """Apply the thread count for the next epoch; return it."""
        import torch

        if self.requested is not None:
            wanted = self.requested
        elif self.small or self.cores == 1:
            wanted = 1
        else:
            others = self.load.others_busy()
            idle = self.cores - (others if others is not None else 0.0)
            wanted = max(1, min(self.cores, int(idle + 0.5)))
        if wanted != self.threads:
            torch.set_num_threads(wanted)
            self.threads = wanted
        return wanted


def batch_work(parameters: int, batch_size: int, steps_per_example: int = 1) -> float:
    """Multiply-adds of one mini-batch, roughly: each weight used once per example and step."""
    return float(parameters) * batch_size * steps_per_example
