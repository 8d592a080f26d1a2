"""nncli's AdamW matches torch.optim.AdamW step for step, without importing torch._dynamo."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch
from torch import nn

from nncli.training.optimizer import AdamW


def test_updates_equal_torch_adamw() -> None:
    torch.manual_seed(0)
    ours_net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    torch_net = copy.deepcopy(ours_net)
    ours = AdamW(ours_net.parameters(), lr=1e-2, betas=(0.9, 0.95), weight_decay=1e-2)
    reference = torch.optim.AdamW(
        torch_net.parameters(), lr=1e-2, betas=(0.9, 0.95), weight_decay=1e-2
    )
    inputs, labels = torch.randn(64, 6), torch.randint(0, 3, (64,))
    for net, optimizer in ((ours_net, ours), (torch_net, reference)):
        for _ in range(30):
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(inputs), labels).backward()
            optimizer.step()
    for mine, theirs in zip(ours_net.parameters(), torch_net.parameters(), strict=True):
        assert torch.allclose(mine, theirs, atol=1e-6)


def test_a_parameter_without_gradient_is_left_alone() -> None:
    used, unused = nn.Linear(3, 1), nn.Linear(3, 1)
    before = unused.weight.detach().clone()
    optimizer = AdamW([*used.parameters(), *unused.parameters()], lr=0.1, weight_decay=0.1)
    used(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    assert torch.equal(unused.weight, before)


@pytest.mark.slow
def test_training_imports_no_dynamo() -> None:
    code = (
        "import sys, torch; from nncli.training.optimizer import AdamW; "
        "net = torch.nn.Linear(3, 1); opt = AdamW(net.parameters()); "
        "net(torch.randn(2, 3)).sum().backward(); opt.step(); opt.zero_grad(); "
        "print('torch._dynamo' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
