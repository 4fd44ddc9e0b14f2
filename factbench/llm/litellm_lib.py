"""The litellm module, imported on first use (~3 s): only runs that call models need it."""

from __future__ import annotations

from types import ModuleType


def litellm() -> ModuleType:
    """litellm, set up once: quiet, no telemetry, unsupported parameters dropped rather than refused."""
    import litellm as module

    module.suppress_debug_info = True
    module.telemetry = False
    module.drop_params = True  # a backend that does not take a parameter gets it dropped, not an error
    return module
