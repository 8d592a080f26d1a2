"""AdamW in a few foreach operations, without `torch.optim`.

Why not `torch.optim.AdamW`: constructing any `torch.optim.Optimizer` (and calling its
`zero_grad`) imports `torch._dynamo` through `torch._disable_dynamo`, which costs 1-3 s of
start-up (sympy, the FX tracer, ...) before the first batch; for a 150-row table that is most
of the command's run time. The update below is the same decoupled-weight-decay Adam
(Loshchilov & Hutter), written with `torch._foreach_*` kernels so that one call updates every
parameter tensor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


class AdamW:
    """Adam with decoupled weight decay; `step()` after `backward()`, `zero_grad()` before."""

    def __init__(
        self,
        parameters: Iterable[torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.parameters = [p for p in parameters if p.requires_grad]
        if not self.parameters:
            raise ValueError("the network has no trainable parameters")
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.steps = 0
        self.first_moments = [torch.zeros_like(p) for p in self.parameters]
        self.second_moments = [torch.zeros_like(p) for p in self.parameters]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of the last step."""
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One AdamW update of every parameter that received a gradient."""
        live = [i for i, p in enumerate(self.parameters) if p.grad is not None]
        if not live:
            return
        params: list[torch.Tensor] = [self.parameters[i] for i in live]
        grads: list[torch.Tensor] = [p.grad for p in params if p.grad is not None]
        first = [self.first_moments[i] for i in live]
        second = [self.second_moments[i] for i in live]
        beta1, beta2 = self.betas
        self.steps += 1
        if self.weight_decay:
            torch._foreach_mul_(params, 1.0 - self.lr * self.weight_decay)
        torch._foreach_lerp_(first, grads, 1.0 - beta1)
        torch._foreach_mul_(second, beta2)
        torch._foreach_addcmul_(second, grads, grads, 1.0 - beta2)
        bias1 = 1.0 - beta1**self.steps
        bias2 = 1.0 - beta2**self.steps
        denominators = torch._foreach_sqrt(second)
        torch._foreach_div_(denominators, math.sqrt(bias2))
        torch._foreach_add_(denominators, self.eps)
        torch._foreach_addcdiv_(params, first, denominators, -self.lr / bias1)
