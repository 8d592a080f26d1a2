"""Network modules, each built from a config dataclass stored in the model file."""
