"""A signal that arrives while a temporary file is being created or removed waits for it:
no probe or temporary file is left behind by a Ctrl-C or SIGTERM at that moment."""

from __future__ import annotations

import os
import signal

from nncli.files import signals_held


def test_a_signal_inside_the_block_is_delivered_when_it_ends() -> None:
    steps: list[str] = []
    handled_after: list[list[str]] = []
    previous = signal.signal(signal.SIGTERM, lambda *_: handled_after.append(list(steps)))
    try:
        with signals_held():
            os.kill(os.getpid(), signal.SIGTERM)
            steps.append("probe removed")
            assert handled_after == []  # held back while the block runs
        assert handled_after == [["probe removed"]]  # then delivered, once
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_mask_is_restored() -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    with signals_held():
        assert {signal.SIGINT, signal.SIGTERM} <= signal.pthread_sigmask(signal.SIG_BLOCK, set())
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == before
