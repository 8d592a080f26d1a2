"""The thread governor: one thread for small networks, idle cores otherwise, --threads wins."""

from __future__ import annotations

import pytest
import torch

from nncli.training.threads import SMALL_BATCH_WORK, MachineLoad, ThreadGovernor, batch_work


def test_small_work_trains_on_one_thread() -> None:
    previous = torch.get_num_threads()
    try:
        governor = ThreadGovernor(None, batch_work(10_000, 32))
        assert batch_work(10_000, 32) < SMALL_BATCH_WORK
        assert governor.adjust() == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)


def test_requested_threads_are_used_as_given() -> None:
    previous = torch.get_num_threads()
    try:
        assert ThreadGovernor(1, 1e12).adjust() == 1
        assert ThreadGovernor(3, 1.0).adjust() == 3
    finally:
        torch.set_num_threads(previous)


def test_large_work_uses_the_cores_others_leave_idle() -> None:
    previous = torch.get_num_threads()
    try:
        governor = ThreadGovernor(None, 1e12)
        threads = governor.adjust()
        assert 1 <= threads <= governor.cores
    finally:
        torch.set_num_threads(previous)


@pytest.mark.slow
def test_machine_load_sees_a_busy_neighbour() -> None:
    import subprocess
    import sys
    import time

    load = MachineLoad()
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        load.others_busy()  # from here on, the neighbour is running the whole interval
        time.sleep(1.0)
        busy = load.others_busy()
    finally:
        neighbour.kill()
        neighbour.wait()
    assert busy is not None and busy >= 0.7
