"""Whether QLoRA's 4-bit/8-bit loading works here (CUDA and bitsandbytes), asked once per
process in a worker; until the answer comes the form offers only "none"."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

from workbench.core.train_config import ConfigProblem, TrainConfig
from workbench.ui.common.workers import Task, run_task

_answer: Optional[tuple[bool, str]] = None  # (available, reason when not), for the whole process


def _ask(progress: Any = None, cancel: Any = None) -> tuple[bool, str]:
    from workbench.services import fit

    available, reason = fit.quantization_support()
    return bool(available), str(reason)


class QuantizationCheck(QObject):
    changed = Signal()  # the answer arrived

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.task: Optional[Task] = None

    def start(self) -> None:
        if _answer is not None or self.task is not None:
            return
        task = run_task(_ask, name="quantisation check")
        self.task = task
        task.finished.connect(lambda answer: self._arrived(answer))
        task.failed.connect(lambda exc: self._arrived((False, f"The check failed: {exc}.")))
        task.done.connect(lambda: setattr(self, "task", None))

    def _arrived(self, answer: tuple[bool, str]) -> None:
        global _answer
        _answer = answer
        self.changed.emit()

    @staticmethod
    def state() -> tuple[Optional[bool], str]:
        """(available, reason); available is None while unknown."""
        return _answer if _answer is not None else (None, "")

    @staticmethod
    def problem(config: TrainConfig) -> Optional[ConfigProblem]:
        if config.quantization == "none":
            return None
        if _answer is None:
            return ConfigProblem("quantization", "Checking whether 4-bit/8-bit quantisation works here…")
        if not _answer[0]:
            return ConfigProblem("quantization", f"4-bit/8-bit quantisation is not available here: {_answer[1]} "
                                                 "Set Quantisation to none.")
        return None

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
