"""The engine: everything that imports torch / transformers / peft.

It runs only in child processes started as ``python -m workbench.engine <verb> <spec.json>``
(verbs: ``train``, ``chat``, ``build-model``, ``export``, ``eval``) and reports with the event protocol of
:mod:`workbench.jobs.protocol`. Importing this package loads nothing heavy; the verb modules
import torch lazily, after :mod:`workbench.engine.stdio` has claimed the real stdout.
"""

VERBS = ("train", "chat", "build-model", "export", "eval")
# A packaged (frozen) build has no `-m`: it starts its own executable as
# ``EXECUTABLE --engine-worker VERB SPEC.json`` (workbench.jobs.launch.engine_argv), and its
# entry points hand that argv to the engine (workbench.engine_worker.dispatch).
WORKER_SWITCH = "--engine-worker"
# A frozen build's multi-process training: ``EXECUTABLE --engine-worker torchrun ARGS`` runs
# torch.distributed.run, which starts ``EXECUTABLE --engine-worker train SPEC.json`` per rank.
TORCHRUN = "torchrun"
