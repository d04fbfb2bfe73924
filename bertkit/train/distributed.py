"""Process-group setup detected from torchrun's environment, the nanoGPT way.

Run under `torchrun` (RANK, LOCAL_RANK and WORLD_SIZE are set), the same command trains
data-parallel: NCCL on CUDA devices (what the Iluvatar BI-V100's PyTorch exposes too),
gloo on CPU. Run plainly, it is one process with no process group at all. Rank 0 is the
only one that prints and writes files.

Every collective waits at most the process group's timeout (--ddp-timeout): a rank that
dies or hangs makes the others raise instead of waiting forever, and `peer_failures_reported`
turns what gloo or NCCL raise then into one line that says so (torchrun then stops the rest).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from bertkit.errors import BertkitError, UsageError
from bertkit.train.options import DEFAULT_DDP_TIMEOUT_S, DEVICE_CHOICES


@dataclass(frozen=True)
class DistContext:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device
    backend: str | None  # None: a single process without a process group

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.backend is not None


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def resolve_device_type(choice: str) -> str:
    if choice not in DEVICE_CHOICES:
        raise UsageError(f"--device must be one of {', '.join(DEVICE_CHOICES)}, got {choice!r}")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but torch sees no CUDA device")
    return choice


def setup_distributed(device_choice: str = "auto",
                      timeout_s: float = DEFAULT_DDP_TIMEOUT_S) -> DistContext:
    """Join the process group when launched by torchrun; otherwise a single-process context.

    ``timeout_s`` bounds joining the group and every collective after it (gloo's per-op
    timeout, NCCL's watchdog).
    """
    device_type = resolve_device_type(device_choice)
    if not launched_by_torchrun():
        device = torch.device("cuda", torch.cuda.current_device()) if device_type == "cuda" \
            else torch.device("cpu")
        return DistContext(0, 0, 1, device, None)

    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    world_size = int(os.environ["WORLD_SIZE"])
    if device_type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise UsageError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} "
                             "CUDA devices are visible")
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    context = DistContext(rank, local_rank, world_size, device, backend)
    if not dist.is_initialized():
        timeout = datetime.timedelta(seconds=timeout_s)
        extra = {"device_id": device} if device_type == "cuda" else {}
        with peer_failures_reported(context, timeout_s):
            store = _attempt_store(timeout, rank, world_size)
            dist.init_process_group(backend=backend, store=store, rank=rank,
                                    world_size=world_size, timeout=timeout, **extra)
    return context


def _attempt_store(timeout: datetime.timedelta, rank: int, world_size: int) -> dist.Store:
    """torchrun's key-value store, seen through a prefix that only this attempt uses.

    torchrun keeps one store for the whole job, and a restarted group finds the previous
    attempt's keys in it: gloo then reads a dead worker's address and waits for it until
    the timeout (a restart hanging in ProcessGroupGloo's connectFullMesh). The restart count
    cannot name the attempt: on several machines, a node whose workers were healthy restarts
    them without counting. So rank 0 names it (see `agree_on_attempt`).
    """
    from torch.distributed.rendezvous import rendezvous

    store, _, _ = next(rendezvous("env://", timeout=timeout))
    nonce = agree_on_attempt(store, rank, world_size, timeout.total_seconds())
    return dist.PrefixStore(f"bertkit/attempt/{nonce}", store)


def agree_on_attempt(store: dist.Store, rank: int, world_size: int, timeout_s: float) -> str:
    """A name for this attempt that every rank gets from rank 0, whatever old keys remain.

    Each other rank posts a fresh random token; rank 0 answers every token it sees with its
    own fresh nonce until the rank acknowledges under a key holding that nonce. A stale
    token only gets an answer nobody reads, so nothing left by a previous attempt is taken
    as this one's.
    """
    deadline = time.monotonic() + timeout_s
    if rank != 0:
        token = uuid.uuid4().hex
        store.set(f"bertkit/ask/{rank}", token)
        nonce = store.get(f"bertkit/answer/{token}").decode()  # waits up to the store timeout
        store.set(f"bertkit/ack/{nonce}/{rank}", "1")
        return nonce
    nonce = uuid.uuid4().hex
    answered: dict[int, str] = {}
    waiting = set(range(1, world_size))
    while waiting:
        for peer in sorted(waiting):
            if store.check([f"bertkit/ack/{nonce}/{peer}"]):
                waiting.discard(peer)
            elif store.check([f"bertkit/ask/{peer}"]):
                token = store.get(f"bertkit/ask/{peer}").decode()
                if answered.get(peer) != token:
                    store.set(f"bertkit/answer/{token}", nonce)
                    answered[peer] = token
        if waiting and time.monotonic() > deadline:
            raise PeerFailureError(f"rank 0: ranks {sorted(waiting)} did not join within "
                                   f"--ddp-timeout {timeout_s:g} s")
        if waiting:
            time.sleep(0.05)
    return nonce


def cleanup(context: DistContext) -> None:
    if context.is_distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: DistContext) -> None:
    if context.is_distributed:
        dist.barrier()


def mean_over_ranks(value: torch.Tensor, context: DistContext) -> torch.Tensor:
    """The average of a scalar tensor over ranks (each rank holds an equal-sized batch)."""
    if not context.is_distributed:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / context.world_size


def gather_objects(obj: Any, context: DistContext) -> list[Any]:
    """Every rank's ``obj``, in rank order (used for per-rank RNG states)."""
    if not context.is_distributed:
        return [obj]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj: Any, context: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank (e.g. an error raised only on rank 0)."""
    if not context.is_distributed:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


class PeerFailureError(BertkitError):
    """Another rank died or stopped answering; this rank stops too instead of waiting."""


# What gloo's RuntimeErrors say when the rank at the other end is gone or silent (the store
# and NCCL raise DistError). Any other error is not a lost rank and keeps its traceback.
_PEER_LOST_SIGNS = ("timed out", "timeout", "connection reset", "connection closed",
                    "broken pipe", "socket closed", "connection refused")


def describe_peer_failure(error: BaseException, rank: int, timeout_s: float) -> str | None:
    """One line for a collective that failed because of another rank, or None for others."""
    if not isinstance(error, RuntimeError):
        return None
    text = " ".join(str(error).split())
    lowered = text.lower()
    from_gloo = "gloo" in lowered and any(sign in lowered for sign in _PEER_LOST_SIGNS)
    if not (isinstance(error, dist.DistError) or from_gloo):
        return None
    detail = text if len(text) <= 300 else text[:300] + "..."
    if "timed out" in lowered or "timeout" in lowered:
        what = (f"another rank did not answer within --ddp-timeout {timeout_s:g} s "
                "(it hangs or died)")
    else:
        what = "lost the connection to another rank (it died, or the network failed)"
    return f"rank {rank}: {what}; stopping the run ({detail})"


@contextlib.contextmanager
def peer_failures_reported(context: DistContext, timeout_s: float) -> Iterator[None]:
    """Inside, a collective that fails because of another rank raises PeerFailureError."""
    try:
        yield
    except RuntimeError as error:
        message = describe_peer_failure(error, context.rank, timeout_s) \
            if context.is_distributed else None
        if message is None:
            raise
        raise PeerFailureError(message) from None
