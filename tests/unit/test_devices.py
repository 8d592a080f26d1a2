"""Naming a GPU: `cuda:N` must name one that is there, as a usage error otherwise."""

from __future__ import annotations

import pytest

from nncli.devices import check_gpu_index
from nncli.errors import UsageError


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:1"])
def test_a_present_gpu_passes(name: str) -> None:
    check_gpu_index(name, count=2)


def test_an_index_past_the_last_gpu_names_the_ones_there() -> None:
    with pytest.raises(
        UsageError, match=r"cuda:2: this machine has 2 CUDA device\(s\) \(cuda:0, cuda:1\)"
    ):
        check_gpu_index("cuda:2", count=2)


@pytest.mark.parametrize("name", ["cuda:x", "cuda:", "cudax", "cuda:-1"])
def test_a_malformed_gpu_name_is_refused(name: str) -> None:
    with pytest.raises(UsageError, match="--device must be cpu, cuda, cuda:N or auto"):
        check_gpu_index(name, count=1)
