"""Which process of a multi-process (torchrun) run this is, and agreeing across the ranks.

torchrun sets RANK and WORLD_SIZE for each process it starts; a process started alone has
neither and is rank 0 of 1. Rank 0 reports and writes files for the whole run.
"""

from __future__ import annotations

import os


def rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def any_rank(flag: bool, device=None) -> bool:
    """True on every rank when `flag` is true on any: the ranks of one run must take the same
    branch at a step (a stop seen by one rank alone would leave the others waiting in the next
    gradient all-reduce). A collective: every rank must call it at the same point."""
    if world_size() <= 1:
        return flag
    import torch
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized():
        return flag
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def exit_with_parent(interval: float = 1.0) -> None:
    """In a rank of a multi-process run, end this process when torchrun's agent is gone.

    torchrun starts each rank in its own session, so a SIGKILL to the agent (a hung run ended by
    force) reaches no rank: without this they would live on as orphans, holding memory and the
    GPU, one of them waiting forever in a collective for a peer that is gone.
    """
    if world_size() <= 1:
        return
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)  # the run is over; nothing of it may go on

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
