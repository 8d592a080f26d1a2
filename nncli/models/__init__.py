"""Network modules, each built from a config dataclass stored in the model file."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class NetworkConfig:
    """Base of the architecture configs: `to_dict` is what the model file stores to rebuild one."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
