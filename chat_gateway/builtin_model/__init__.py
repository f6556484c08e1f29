"""The builtin offline model: a deterministic stand-in for an LLM that drives the task tools.

It needs no API key, no network and no weights, so the product is useful the moment it starts. See
`model.BuiltinModel` for the adapter; the modules beside it hold the parts (parsing, references,
planning, wording).
"""

from .model import BuiltinModel

__all__ = ["BuiltinModel"]
