"""Engine failures and how they become a `failed` event.

Every failure is reported as {error_kind, message, details, advice}; error_kind is one of
oom | bad_data | bad_config | error so the parent can show distinct, actionable messages.
"""

from __future__ import annotations

import traceback
from typing import Any

from workbench.core.errors import DataImportError, ModelError, WorkbenchError

ERROR_KINDS = ("oom", "bad_data", "bad_config", "error")

DEFAULT_OOM_ADVICE = (
    "The device ran out of memory. Lower the batch size or the max length, "
    "or close other programs that use the GPU, then try again."
)


class EngineError(WorkbenchError):
    """A failure the user can act on; subclasses fix the error_kind."""

    error_kind = "error"


class BadDataError(EngineError, DataImportError):
    """The dataset cannot be trained on (which file, which row, what is wrong)."""

    error_kind = "bad_data"


class BadConfigError(EngineError):
    """The spec, config or a request asks for something impossible."""

    error_kind = "bad_config"


class ModelLoadError(EngineError, ModelError):
    """A base model or adapter cannot be found or loaded."""

    error_kind = "bad_config"


def is_oom(exc: BaseException) -> bool:
    """True for CUDA/MPS/CPU out-of-memory errors (checked without importing torch)."""
    if isinstance(exc, MemoryError):
        return True
    if any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


def failure_payload(exc: BaseException, oom_advice: str = DEFAULT_OOM_ADVICE) -> dict[str, Any]:
    """The payload of a `failed` event for `exc`."""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if is_oom(exc):
        return {
            "error_kind": "oom",
            "message": "Out of memory.",
            "details": details,
            "advice": oom_advice,
        }
    if isinstance(exc, WorkbenchError):
        kind = getattr(exc, "error_kind", None)
        if kind is None:
            kind = "bad_data" if isinstance(exc, DataImportError) else (
                "bad_config" if isinstance(exc, ModelError) else "error"
            )
        if exc.details:
            details = exc.details + "\n\n" + details
        return {
            "error_kind": kind,
            "message": exc.user_message,
            "details": details,
            "advice": exc.advice,
        }
    return {
        "error_kind": "error",
        "message": f"Unexpected error: {type(exc).__name__}: {exc}",
        "details": details,
        "advice": "This looks like a bug or an unsupported setup; the details show where it happened.",
    }
