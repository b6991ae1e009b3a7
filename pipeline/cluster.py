"""Scale-out on Dask (``dask.distributed``): one place for the cluster glue (SPEC §9).

``scheduler`` everywhere in the pipeline means one of

* ``None`` — run in this process (the default; Dask is not even imported);
* ``"local"`` — start a :class:`distributed.LocalCluster` on this machine (one worker process
  per core, one thread each) for the rest of the run;
* ``"tcp://host:8786"`` (any scheduler address) — connect to a running cluster, started e.g.
  with ``dask scheduler`` and ``dask worker tcp://host:8786`` on each machine (or by
  dask-jobqueue / dask-kubernetes);
* a :class:`distributed.Client` — use it as it is.

``None`` in a function call means the run's scheduler: the address in the environment
variable :data:`ENV` (set by ``--scheduler`` for the notebook kernels of ``analyze``), and
when that is not set, this process.

Work is sent as independent tasks (:func:`map_tasks`) whose results come back **in
submission order**, so a reduction on the client is the same sequence of operations as in one
process. Random numbers come from child seeds of one :class:`numpy.random.SeedSequence`
(:func:`spawn_seeds`), one per chunk of samples, so the draws do not depend on which worker
runs a chunk, or on how many workers there are. A worker that dies mid-run is replaced (by its
nanny) and its tasks are recomputed by the scheduler; since tasks are pure functions of
their arguments, the result is the same.
"""

from __future__ import annotations

import atexit
import os
import uuid
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from pipeline.errors import PipelineError

__all__ = ["resolve", "use", "ENV", "get_client", "close_client", "map_tasks", "spawn_seeds", "seed_sequence", "chunks", "split_even", "n_workers"]

_CLIENTS: dict[str, Any] = {}

#: Environment variable naming the run's scheduler address; set by :func:`use` (the CLI's
#: ``--scheduler``) so that notebook kernels started by ``analyze`` reach the same cluster.
ENV = "PIPELINE_SCHEDULER"


def resolve(scheduler):
    """``scheduler`` if given, else the run's scheduler (:data:`ENV`), else None (in-process)."""
    if scheduler is None or scheduler is False or scheduler == "":
        env = os.environ.get(ENV, "").strip()
        return env or None
    return scheduler


def use(scheduler) -> str | None:
    """Make ``scheduler`` the run's scheduler (None: nothing changes); return its address.

    ``"local"`` starts the LocalCluster here, so every notebook kernel of the run connects to
    that one cluster instead of starting its own.
    """
    if scheduler is None or scheduler == "":
        return None
    client = get_client(scheduler)
    address = client.scheduler.address
    os.environ[ENV] = address
    return address


def get_client(scheduler):
    """A :class:`distributed.Client` for ``scheduler`` (None → None; see the module docstring).

    Clients are cached per address for the life of the process, so every analysis of one
    run shares one cluster; ``"local"`` starts the LocalCluster once.
    """
    if scheduler is None or scheduler is False or scheduler == "":
        return None
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is a dependency
        raise PipelineError("--scheduler needs dask[distributed]: pip install 'dask[distributed]'") from None
    if isinstance(scheduler, Client):
        return scheduler
    key = str(scheduler).strip()
    client = _CLIENTS.get(key)
    if client is not None and client.status == "running":
        return client
    try:
        if key == "local":
            cluster = LocalCluster(n_workers=max(1, min(os.cpu_count() or 1, 8)), threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(key, timeout="10s")
    except (OSError, TimeoutError, ValueError) as err:
        raise PipelineError(f"scheduler {key!r}: cannot connect ({type(err).__name__}: {err})".splitlines()[0]) from None
    _CLIENTS[key] = client
    return client


def close_client(scheduler=None) -> None:
    """Close the cached client of ``scheduler`` (all cached clients when None), and its LocalCluster."""
    keys = list(_CLIENTS) if scheduler is None else [str(scheduler).strip()]
    for key in keys:
        client = _CLIENTS.pop(key, None)
        if client is None:
            continue
        cluster = getattr(client, "cluster", None) if key == "local" else None
        client.close()
        if cluster is not None:
            cluster.close()


atexit.register(close_client)


def n_workers(scheduler) -> int:
    """Number of workers of the cluster (1 without a scheduler)."""
    client = get_client(resolve(scheduler))
    if client is None:
        return 1
    return max(1, len(client.scheduler_info().get("workers", {})))


def seed_sequence(seed) -> np.random.SeedSequence:
    """The root :class:`~numpy.random.SeedSequence` of a run.

    An int (or None) seeds it directly; a SeedSequence is used as is; a
    :class:`~numpy.random.Generator` contributes one 63-bit draw (so that the same generator
    state gives the same run).
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    return np.random.SeedSequence(seed)


def spawn_seeds(seed, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent child seeds of the root sequence of ``seed`` (chunk *i* gets child *i*)."""
    return seed_sequence(seed).spawn(int(n))


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """``(start, count)`` of consecutive chunks of ``size`` covering ``range(n)``."""
    size = max(1, int(size))
    return [(a, min(size, n - a)) for a in range(0, int(n), size)]


def map_tasks(func: Callable, items: Sequence, scheduler=None, *, shared: dict | None = None,
              key: str | None = None, reduce: Callable | None = None):
    """``[func(item, **shared) for item in items]``, on the cluster when ``scheduler`` is given.

    Parameters
    ----------
    func : callable
        A pure, module-level function (it is pickled to the workers).
    items : sequence
        One task per item.
    scheduler : None, str or Client
        See :func:`get_client`; None runs the list comprehension in this process.
    shared : dict, optional
        Keyword arguments common to every task (large arrays, a model); they are scattered to
        the cluster once instead of being sent with each task.
    key : str, optional
        Name prefix of the tasks (shown on the dashboard).
    reduce : callable, optional
        ``reduce(a, b)`` merges the results of two consecutive runs of items (``a`` first).
        On a cluster the results are merged pairwise on the workers (a binary tree of depth
        log₂ tasks) and only the final result travels to the client; without a scheduler it is
        ``functools.reduce`` from the left. Both keep the order of the items.

    Returns
    -------
    list or object
        The results in the order of ``items`` (whatever order the workers finish in), or the
        reduced result when ``reduce`` is given.
    """
    shared = dict(shared or {})
    client = get_client(resolve(scheduler))
    if client is None:
        if reduce is not None:
            import functools

            return functools.reduce(reduce, (func(item, **shared) for item in items))
        return [func(item, **shared) for item in items]
    items = list(items)
    if not items:
        return []
    # one copy on every worker (broadcast): a worker that dies does not take the only copy with it;
    # hash=False: fresh keys, so no stale copy from another run is reused; [v]: a dict or list
    # is one object here, not a collection to scatter element by element
    scattered = {k: client.scatter([v], broadcast=True, hash=False)[0] for k, v in shared.items()}
    tag = f"{key or func.__name__}-{uuid.uuid4().hex[:8]}"
    futures = client.map(func, items, **scattered, key=[f"{tag}-{i}" for i in range(len(items))])
    level = futures
    depth = 0
    try:
        while reduce is not None and len(level) > 1:  # pairwise, in order: ((0,1),(2,3)),…
            depth += 1
            nxt = [client.submit(reduce, level[i], level[i + 1], key=f"{tag}-r{depth}-{i}") for i in range(0, len(level) - 1, 2)]
            level = nxt + ([level[-1]] if len(level) % 2 else [])
            futures += nxt
        return client.gather(level[0]) if reduce is not None else client.gather(futures)
    finally:
        for f in futures:
            f.release()
        for f in scattered.values():
            f.release()


def split_even(items: Iterable, parts: int) -> list[list]:
    """Split ``items`` into ``parts`` consecutive groups of near-equal length (empty groups dropped)."""
    items = list(items)
    parts = max(1, min(int(parts), len(items) or 1))
    bounds = np.linspace(0, len(items), parts + 1).round().astype(int)
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
