"""Engine failures and how they become a `failed` event.

Every failure is reported as {error_kind, message, details, advice}; error_kind is one of
ERROR_KINDS so the parent can show distinct, actionable messages.
"""

from __future__ import annotations

import errno
import traceback
from typing import Any

from workbench.core.errors import DataImportError, ModelError, WorkbenchError

# oom: out of GPU or host memory; bad_data: the dataset (empty, every row too long, a row the
# template rejects); bad_config: settings the device or model cannot honour; missing_model: the
# base model folder is gone or incomplete; disk_full: a write failed for lack of space.
from workbench.core.failures import ERROR_KINDS  # noqa: F401

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
    """A base model or adapter cannot be loaded."""

    error_kind = "bad_config"


class MissingModelError(ModelLoadError):
    """The base model folder is not there (moved, deleted, on an unplugged disk)."""

    error_kind = "missing_model"


DISK_FULL_ADVICE = ("Free space on the disk that holds the project (old runs' checkpoints are the "
                    "usual bulk), then resume the run: its last complete checkpoint is intact.")


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC anywhere in the exception chain (torch and safetensors wrap the OSError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc).lower()
        if "no space left on device" in text or "disk quota exceeded" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


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
    if is_disk_full(exc):
        return {
            "error_kind": "disk_full",
            "message": "The disk is full: a file could not be written.",
            "details": details,
            "advice": DISK_FULL_ADVICE,
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
