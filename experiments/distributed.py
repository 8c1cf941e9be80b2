"""Data-parallel training on one host: 1 versus 2 local processes, PyTorch DDP and TF MWMS.

Each framework trains the benchmark MLP data-parallel with the same per-process batch, Adam
(lr 1e-3, eps 1e-8) and softmax cross-entropy, from the shared initial weights. PyTorch wraps
the model in ``DistributedDataParallel`` on a ``gloo`` process group (``env://`` rendezvous on
127.0.0.1 and a free port); TensorFlow runs ``tf.distribute.MultiWorkerMirroredStrategy`` with
one worker process per rank (``TF_CONFIG`` with two localhost ports) and ring collectives. Every
rank is its own fresh Python process with one intra-op thread and one inter-op thread, pinned
to its own core (``os.sched_setaffinity``), so two processes share a 2-core host without
oversubscribing it. This host has two vCPUs: two processes each get one core, and their
communication threads (gloo's, TensorFlow's collective executor and gRPC) share it.

The ranks time themselves: after warm-up, every block of steps starts on a barrier and each
rank reads its own clock; a sample is the slowest rank's mean step time over the block (the
global step waits for it). Per block the ranks time, in turn, the data-parallel step, the same
step on a private copy of the model with no gradient synchronisation (``compute_time``, run
concurrently on all ranks so they compete for the machine as in the real step), and an
all-reduce of one float32 buffer as large as the gradients (``allreduce_time``; PyTorch
``dist.all_reduce``, TensorFlow the strategy's ``ReplicaContext.all_reduce``, which runs the
``CollectiveAllReduceExtended`` cross-device ops). ``sync_overhead`` is the step time minus the
compute-only time of the same block. The launcher kills every rank when one fails or the
run exceeds its deadline, and records the reason against every metric. Each launch starts
fresh rank processes, so each harness round is one independent run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from experiments.harness.api import Measurement, Metric, Task
from experiments.harness.children import REPO_ROOT, child_env

NAME = "distributed"
TITLE = "Data-parallel training on one host: PyTorch DDP (gloo) and TF MultiWorkerMirroredStrategy"

# The harness worker only launches and supervises; the ranks import the frameworks.
IMPORTS_FRAMEWORKS = False

MODEL = "mlp"
PER_WORKER_BATCH = 64
LEARNING_RATE = 1e-3
PINNED = "one core per rank"   # os.sched_setaffinity({rank % cores}) before any import
# (processes, cpu_affinity) per task; quick runs only the 2-process case.
CONFIGS = {True: ((2, PINNED),), False: ((1, PINNED), (2, PINNED))}
MODES = {
    "pytorch": ("ddp_gloo", {"api": "torch.nn.parallel.DistributedDataParallel",
                             "backend": "gloo", "rendezvous": "env:// 127.0.0.1"}),
    "tensorflow": ("multi_worker_mirrored", {
        "api": "tf.distribute.MultiWorkerMirroredStrategy",
        "collectives": "CommunicationImplementation.RING", "rendezvous": "TF_CONFIG localhost",
        "step": "tf.function(strategy.run(step))"}),
}
# (warm-up steps, blocks, steps per block): quick keeps a whole task around 10 s.
SIZES = {True: (5, 4, 5), False: (10, 6, 8)}
RANK_THREADS = 1
# The replicas "match one process trained on the whole batch" when no parameter differs from
# that reference by more than a tenth of one optimiser step (Adam moves a parameter by about
# the learning rate per step): differences that small are float32 rounding of the averaged
# gradient (a sum over two half batches is not the mean over one batch, bit for bit), which
# Adam's normalisation carries forward, not a different update.
MATCH_TOLERANCE = LEARNING_RATE / 10

STEP_TIME = Metric("step_time", "ms", "lower")
THROUGHPUT = Metric("throughput", "samples/s", "higher")
COMPUTE_TIME = Metric("compute_time", "ms", "lower")
SYNC_OVERHEAD = Metric("sync_overhead", "ms", "lower")
ALLREDUCE_TIME = Metric("allreduce_time", "ms", "lower")
INIT_TIME = Metric("init_time", "s", "lower")
METRICS = (STEP_TIME, THROUGHPUT, COMPUTE_TIME, SYNC_OVERHEAD, ALLREDUCE_TIME, INIT_TIME)


def tasks(quick: bool) -> list[Task]:
    warmup, blocks, steps = SIZES[quick]
    out = []
    for framework, (mode, details) in MODES.items():
        for processes, affinity in CONFIGS[quick]:
            out.append(Task(
                framework=framework, mode=mode, model=MODEL, metrics=METRICS,
                params={"processes": processes, "per_worker_batch": PER_WORKER_BATCH,
                        "global_batch": PER_WORKER_BATCH * processes, "optimizer": "adam",
                        "lr": LEARNING_RATE, "threads_per_process": RANK_THREADS,
                        "cpu_affinity": affinity, "warmup_steps": warmup,
                        "blocks": blocks, "steps_per_block": steps, **details},
                threads=RANK_THREADS, timeout_s=120 if quick else 180))
    return out


# --------------------------------------------------------------------------- launcher


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (the OS may reuse one before a rank binds it;
    a collision shows as a rendezvous failure, recorded as such)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _tail(path: Path, chars: int = 700) -> str:
    """The last exception in a rank's log (type, message and the lines after it), else its
    last lines: enough to say why a rank died without pasting a whole traceback."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()]
    pattern = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit)|[\w.]*Error)\b.*")
    for i in range(len(lines) - 1, -1, -1):
        if pattern.match(lines[i]):
            # A TF "in user code:" error carries its real message in the following lines.
            return " | ".join(ln.strip() for ln in lines[i:i + 12])[:chars]
    return " | ".join(lines[-3:])[-chars:]


def _kill(procs) -> None:
    """SIGKILL each rank's process group (each rank was started in its own session)."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _rank_env(framework: str, rank: int, world: int, ports: list[int]) -> dict[str, str]:
    env = child_env(threads=RANK_THREADS)
    if framework == "pytorch":
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(ports[0]), RANK=str(rank),
                   WORLD_SIZE=str(world), LOCAL_RANK=str(rank), GLOO_SOCKET_IFNAME="lo")
    else:
        env["KERAS_BACKEND"] = "tensorflow"
        env["TF_CONFIG"] = json.dumps({
            "cluster": {"worker": [f"localhost:{p}" for p in ports]},
            "task": {"type": "worker", "index": rank}})
    return env


_CHILD = ("import importlib, sys; "
          "importlib.import_module(sys.argv[1])._rank_main(sys.argv[2])")


def _launch(task: Task, ctx, deadline_s: float) -> tuple[list[dict], float]:
    """Start one process per rank, supervise them, return their reports and the wall time."""
    world = int(task.params["processes"])
    ports = _free_ports(1 if task.framework == "pytorch" else world)
    module = __name__ if __name__ != "__main__" else "experiments.distributed"
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix=f"dist-{task.framework}-") as tmp:
        tmpdir = Path(tmp)
        start = time.perf_counter()
        try:
            for rank in range(world):
                spec = {"framework": task.framework, "rank": rank, "world": world,
                        "seed": ctx.seed, "batch": PER_WORKER_BATCH,
                        "warmup": int(task.params["warmup_steps"]),
                        "blocks": int(task.params["blocks"]),
                        "steps": int(task.params["steps_per_block"]),
                        "pin": task.params.get("cpu_affinity") == PINNED,
                        "out": str(tmpdir / f"rank{rank}.json")}
                spec_path = tmpdir / f"spec{rank}.json"
                spec_path.write_text(json.dumps(spec), encoding="utf-8")
                with open(tmpdir / f"rank{rank}.log", "wb") as log:
                    procs.append(subprocess.Popen(
                        [sys.executable, "-c", _CHILD, module, str(spec_path)],
                        env=_rank_env(task.framework, rank, world, ports),
                        cwd=str(REPO_ROOT),
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True))
            while True:
                codes = [p.poll() for p in procs]
                bad = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
                if bad:
                    rank, code = bad[0]
                    _kill(procs)
                    how = (f"killed by {signal.Signals(-code).name}" if code < 0
                           else f"exited with code {code}")
                    raise RuntimeError(f"rank {rank} of {world} {how}: "
                                       f"{_tail(tmpdir / f'rank{rank}.log')}")
                if all(c == 0 for c in codes):
                    break
                if time.perf_counter() - start > deadline_s:
                    stuck = [r for r, c in enumerate(codes) if c is None]
                    _kill(procs)
                    raise TimeoutError(
                        f"ranks {stuck} of {world} still running after {deadline_s:.0f} s "
                        f"(killed); last output of rank {stuck[0]}: "
                        f"{_tail(tmpdir / f'rank{stuck[0]}.log') or '(none)'}"
                        + ("; MultiWorkerMirroredStrategy blocks until every worker in TF_CONFIG "
                           "has joined" if task.framework == "tensorflow" else ""))
                time.sleep(0.05)
            wall = time.perf_counter() - start
            reports = []
            for rank in range(world):
                path = tmpdir / f"rank{rank}.json"
                if not path.exists():
                    raise RuntimeError(f"rank {rank} exited 0 without a report: "
                                       f"{_tail(tmpdir / f'rank{rank}.log')}")
                reports.append(json.loads(path.read_text(encoding="utf-8")))
            return reports, wall
        finally:
            _kill(procs)


def _loadavg() -> list[float] | None:
    """The 1/5/15-minute load average: other work on the host shows here (on 2 cores, a
    value well above the rank count means the ranks were not alone)."""
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def run(task: Task, ctx) -> list[Measurement]:
    timeout = float(task.timeout_s or 120)
    try:
        reports, wall = _launch(task, ctx, deadline_s=timeout - 20)
    except Exception as exc:  # noqa: BLE001 - a run that cannot start is the result
        error = f"{type(exc).__name__}: {exc}"[:900]
        return [Measurement(m, [], status="failed", error=error) for m in METRICS]

    world = len(reports)
    slowest = lambda key: [max(r[key][b] for r in reports)  # noqa: E731
                           for b in range(len(reports[0][key]))]
    step, compute, allreduce = slowest("step"), slowest("compute"), slowest("allreduce")
    checksums = [r["checksum"] for r in reports]
    extra = {"ranks": world, "wall_time_s": round(wall, 3),
             "param_checksums": checksums, "single_process_checksum": reports[0]["reference"],
             # every replica holds the same weights, byte for byte ...
             "replicas_agree": len({r["digest"] for r in reports}) == 1,
             # ... and no weight differs from one process trained on the concatenated global
             # batch by more than MATCH_TOLERANCE (after the first step and after all of them)
             "max_abs_diff_first_step": reports[0]["max_abs_diff_first_step"],
             "max_abs_diff_final": reports[0]["max_abs_diff_final"],
             "match_tolerance": MATCH_TOLERANCE,
             "steps_compared": reports[0]["steps_taken"],
             "matches_global_batch_training": reports[0]["max_abs_diff_final"] <= MATCH_TOLERANCE,
             # one SGD step: a gradient of the wrong scale would differ by as much as the update
             "sgd_max_abs_diff": reports[0].get("sgd_max_abs_diff"),
             "sgd_max_update": reports[0].get("sgd_max_update"),
             "sgd_relative_diff": reports[0].get("sgd_relative_diff"),
             "check_scope": "first launch of the run (the check is deterministic: same seeds and data, one thread per rank)",
             "load_average": _loadavg(),
             "allreduce_floats": reports[0]["n_params"],
             "rank_affinity": [r["affinity"] for r in reports],
             "rank0_phases_s": {k: round(v, 3) for k, v in reports[0]["phases_s"].items()},
             "rank_threads": [r["threads"] for r in reports],
             "versions": reports[0]["versions"]}
    if reports[0].get("details"):
        extra.update(reports[0]["details"])
    global_batch = PER_WORKER_BATCH * world
    note_allreduce = (f"one all-reduce (sum) of a float32 buffer of {reports[0]['n_params']} "
                      "elements, the size of the MLP's gradients")
    return [
        Measurement(STEP_TIME, [s * 1e3 for s in step], extra=extra,
                    notes="data-parallel training step, slowest rank per block"),
        Measurement(THROUGHPUT, [global_batch / s for s in step], extra=extra,
                    notes=f"global samples/s: {world} x {PER_WORKER_BATCH} per step"),
        Measurement(COMPUTE_TIME, [s * 1e3 for s in compute], extra=extra,
                    notes="the same step on a private model copy without gradient sync, "
                          "all ranks at once"),
        Measurement(SYNC_OVERHEAD, [max(0.0, a - b) * 1e3 for a, b in zip(step, compute)],
                    extra={**extra, "blocks_clipped_at_zero": sum(a < b for a, b in
                                                                  zip(step, compute))},
                    notes="step_time minus compute_time, block by block, clipped at 0 (with "
                          "one process there is nothing to exchange: what remains is the cost of the "
                          "framework's data-parallel wrapper, e.g. DDP's gradient hooks and buckets)"),
        Measurement(ALLREDUCE_TIME, [s * 1e3 for s in allreduce], extra=extra,
                    notes=note_allreduce),
        Measurement(INIT_TIME, [max(r["init_s"] for r in reports)], extra=extra,
                    notes="process start to a ready process group / strategy (slowest rank), "
                          "framework import included"),
    ]


# --------------------------------------------------------------------------- ranks


def _pin(rank: int) -> list[int]:
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[rank % len(cpus)]})
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return []


def _timed_blocks(kinds: dict, barrier, blocks: int, steps: int) -> dict[str, list[float]]:
    """Interleave the kinds block by block; each block starts on a barrier."""
    out: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(blocks):
        for name, fn in kinds.items():
            barrier()
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            out[name].append((time.perf_counter() - t0) / steps)
    return out


def _shard(spec: dict, weights, rank: int):
    """Rank ``rank``'s part of the global batch (inputs, labels) as numpy arrays."""
    seed = spec["seed"] + 1 + rank
    return (weights.make_inputs(MODEL, spec["batch"], seed),
            weights.make_labels(MODEL, spec["batch"], seed))


def _global_batch(spec: dict, weights):
    """All ranks' shards concatenated in rank order: what one process would train on."""
    import numpy as np

    shards = [_shard(spec, weights, r) for r in range(spec["world"])]
    return np.concatenate([s[0] for s in shards]), np.concatenate([s[1] for s in shards])


def _steps_taken(spec: dict) -> int:
    return spec["warmup"] + spec["blocks"] * spec["steps"]


def _warm_up(kinds: dict, warmup: int, snapshot) -> "object":
    """Run every kind ``warmup`` times, the data-parallel step first; return ``snapshot()``
    taken right after the very first data-parallel step (for the first-step comparison)."""
    kinds["step"]()
    first = snapshot()
    for _ in range(warmup - 1):
        kinds["step"]()
    for name, fn in kinds.items():
        if name != "step":
            for _ in range(warmup):
                fn()
    return first


def _sgd_check(start, stepped, ref_stepped) -> dict:
    """One plain SGD step from the same weights, data-parallel against one process on the whole
    batch: SGD moves each weight by the learning rate times its gradient, so unlike Adam's
    normalised step it shows a gradient of the wrong scale (summed over replicas instead of
    averaged, say, which would make the difference as large as the update itself)."""
    import numpy as np

    update = float(np.max(np.abs(ref_stepped - start)))
    diff = float(np.max(np.abs(stepped - ref_stepped)))
    return {"sgd_max_abs_diff": diff, "sgd_max_update": update,
            "sgd_relative_diff": diff / update if update else None}


def _parameter_check(final, first, reference_run) -> dict:
    """What this rank reports about its weights: a digest of the exact bytes (replicas compare
    digests), their float64 sum (kept for continuity with earlier results) and, on rank 0,
    the largest difference from one process trained on the whole batch after the first step and
    after all of them. ``reference_run()`` returns the reference's (first, final) parameters."""
    import hashlib

    import numpy as np

    out = {"checksum": float(final.astype(np.float64).sum()),
           "digest": hashlib.sha256(final.astype(np.float32).tobytes()).hexdigest(),
           "reference": None}
    if reference_run is not None:
        ref_first, ref_final = reference_run()
        out.update(reference=float(ref_final.astype(np.float64).sum()),
                   max_abs_diff_first_step=float(np.max(np.abs(first - ref_first))),
                   max_abs_diff_final=float(np.max(np.abs(final - ref_final))))
    return out


def _torch_rank(spec: dict, t_start: float) -> dict:
    import torch

    torch.set_num_threads(RANK_THREADS)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from experiments.models import weights
    from experiments.models.torch_models import build_torch, make_train_step

    rank, world = spec["rank"], spec["world"]
    from datetime import timedelta

    dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=world,
                            timeout=timedelta(seconds=60))
    try:
        init = weights.init_weights(MODEL, spec["seed"])
        ddp = DistributedDataParallel(build_torch(MODEL, init))
        local = build_torch(MODEL, init)
        step_ddp = make_train_step(ddp, lr=LEARNING_RATE)
        step_local = make_train_step(local, lr=LEARNING_RATE)
        # Each rank trains on its own shard of the global batch.
        x, y = (torch.from_numpy(a) for a in _shard(spec, weights, rank))
        n_params = sum(p.numel() for p in local.parameters())
        buf = torch.zeros(n_params, dtype=torch.float32)
        init_s = time.perf_counter() - t_start

        kinds = {"step": lambda: step_ddp(x, y), "compute": lambda: step_local(x, y),
                 "allreduce": lambda: dist.all_reduce(buf)}

        def flat(model):
            return torch.cat([p.detach().flatten() for p in model.parameters()]).numpy().copy()

        phases = {"init": init_s}
        t0 = time.perf_counter()
        first = _warm_up(kinds, spec["warmup"], lambda: flat(ddp.module))
        phases["warmup"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        timed = _timed_blocks(kinds, dist.barrier, spec["blocks"], spec["steps"])
        phases["timed"] = time.perf_counter() - t0
        t0 = time.perf_counter()

        def reference_run():  # one process, the whole global batch, the same number of steps
            ref_model = build_torch(MODEL, init)
            ref_step = make_train_step(ref_model, lr=LEARNING_RATE)
            gx, gy = (torch.from_numpy(a) for a in _global_batch(spec, weights))
            ref_step(gx, gy)
            ref_first = flat(ref_model)
            for _ in range(_steps_taken(spec) - 1):
                ref_step(gx, gy)
            return ref_first, flat(ref_model)

        check = _parameter_check(flat(ddp.module), first, reference_run if rank == 0 else None)
        # One SGD step, data-parallel and (rank 0) whole-batch: the gradient-scale check.
        sgd_model = DistributedDataParallel(build_torch(MODEL, init))
        start = flat(sgd_model.module)
        loss_fn = torch.nn.CrossEntropyLoss()
        sgd = torch.optim.SGD(sgd_model.parameters(), lr=LEARNING_RATE)
        loss_fn(sgd_model(x), y).backward()
        sgd.step()
        if rank == 0:
            ref_model = build_torch(MODEL, init)
            ref_sgd = torch.optim.SGD(ref_model.parameters(), lr=LEARNING_RATE)
            gx, gy = (torch.from_numpy(a) for a in _global_batch(spec, weights))
            loss_fn(ref_model(gx), gy).backward()
            ref_sgd.step()
            check.update(_sgd_check(start, flat(sgd_model.module), flat(ref_model)))
        phases["reference"] = time.perf_counter() - t0
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return {**timed, "init_s": init_s, **check, "steps_taken": _steps_taken(spec),
            "phases_s": phases, "n_params": n_params, "threads": torch.get_num_threads(),
            "versions": {"torch": torch.__version__},
            "details": {"ddp_bucket_cap_mb": 25, "gloo_socket_ifname": "lo"}}


def _tf_rank(spec: dict, t_start: float) -> dict:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(RANK_THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    # The strategy must exist before any other op: it configures the collective runtime.
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)

    import keras

    from experiments.models import weights
    from experiments.models.keras_models import ADAM_EPSILON, build_keras, make_train_step

    rank, world = spec["rank"], spec["world"]
    global_batch = spec["batch"] * world
    init = weights.init_weights(MODEL, spec["seed"])
    with strategy.scope():
        model = build_keras(MODEL, init)
        optimizer = keras.optimizers.Adam(LEARNING_RATE, epsilon=ADAM_EPSILON)
        optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=None)

    def replica_step_of(net, opt):
        """One replica's step of ``net`` with ``opt``: the loss averaged over the global batch."""
        def replica_step(x, y):
            with tf.GradientTape() as tape:
                per_example = loss_fn(y, net(x, training=True))
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            grads = tape.gradient(loss, net.trainable_variables)
            opt.apply_gradients(zip(grads, net.trainable_variables))
            return loss
        return replica_step

    replica_step = replica_step_of(model, optimizer)

    @tf.function
    def dist_step(x, y):
        return strategy.run(replica_step, args=(x, y))

    def replica_all_reduce(t):
        # tf.identity places the input on the replica's device: a function argument has no
        # device, and all_reduce of a device-less tensor fails ("destinations can not be empty").
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM,
                                                              tf.identity(t))

    @tf.function
    def all_reduce(t):
        return strategy.run(replica_all_reduce, args=(t,))

    ones = tf.ones([1])

    @tf.function
    def barrier_fn():
        return strategy.run(replica_all_reduce, args=(ones,))

    local_model = build_keras(MODEL, init)
    local_step = make_train_step(local_model, lr=LEARNING_RATE, mode="graph")

    x, y = (tf.constant(a) for a in _shard(spec, weights, rank))
    n_params = int(sum(int(tf.size(v)) for v in local_model.trainable_variables))
    buf = tf.zeros([n_params], tf.float32)
    init_s = time.perf_counter() - t_start

    kinds = {"step": lambda: dist_step(x, y), "compute": lambda: local_step(x, y),
             "allreduce": lambda: all_reduce(buf)}
    def flat(m):
        import numpy as np

        return np.concatenate([tf.reshape(tf.convert_to_tensor(v.value), [-1]).numpy()
                               for v in m.trainable_variables])

    phases = {"init": init_s}
    t0 = time.perf_counter()
    first = _warm_up(kinds, spec["warmup"], lambda: flat(model))
    phases["warmup"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    timed = _timed_blocks(kinds, lambda: barrier_fn(), spec["blocks"], spec["steps"])
    phases["timed"] = time.perf_counter() - t0
    t0 = time.perf_counter()

    def reference_run():  # one process, the whole global batch, the same number of steps
        ref_model = build_keras(MODEL, init)
        ref_step = make_train_step(ref_model, lr=LEARNING_RATE, mode="graph")
        gx, gy = (tf.constant(a) for a in _global_batch(spec, weights))
        ref_step(gx, gy)
        ref_first = flat(ref_model)
        for _ in range(_steps_taken(spec) - 1):
            ref_step(gx, gy)
        return ref_first, flat(ref_model)

    check = _parameter_check(flat(model), first, reference_run if rank == 0 else None)
    # One SGD step, data-parallel and (rank 0) whole-batch: the gradient-scale check.
    with strategy.scope():
        sgd_model = build_keras(MODEL, init)
        sgd = keras.optimizers.SGD(LEARNING_RATE)
        sgd.build(sgd_model.trainable_variables)
    start = flat(sgd_model)

    tf.function(lambda a, b: strategy.run(replica_step_of(sgd_model, sgd), args=(a, b)))(x, y)
    if rank == 0:
        ref_model = build_keras(MODEL, init)
        ref_sgd = keras.optimizers.SGD(LEARNING_RATE)
        gx, gy = (tf.constant(a) for a in _global_batch(spec, weights))
        with tf.GradientTape() as tape:
            ref_loss = tf.reduce_mean(loss_fn(gy, ref_model(gx, training=True)))
        ref_sgd.apply_gradients(zip(tape.gradient(ref_loss, ref_model.trainable_variables),
                                    ref_model.trainable_variables))
        check.update(_sgd_check(start, flat(sgd_model), flat(ref_model)))
    phases["reference"] = time.perf_counter() - t0
    barrier_fn()
    return {**timed, "init_s": init_s, **check, "steps_taken": _steps_taken(spec),
            "phases_s": phases, "n_params": n_params,
            "threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
            "details": {"num_replicas_in_sync": int(strategy.num_replicas_in_sync),
                        "variable_type": type(model.trainable_variables[0].value).__name__}}


def _rank_main(spec_path: str) -> None:
    t_start = time.perf_counter()
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    affinity = _pin(spec["rank"]) if spec.get("pin", True) else sorted(os.sched_getaffinity(0))
    report = (_torch_rank if spec["framework"] == "pytorch" else _tf_rank)(spec, t_start)
    report["affinity"] = affinity
    out = Path(spec["out"])
    partial = out.with_suffix(".partial")
    partial.write_text(json.dumps(report), encoding="utf-8")
    os.replace(partial, out)
    if spec["framework"] == "pytorch":
        # The report is complete. Leave without the interpreter's shutdown: at exit, gloo's
        # background threads can still be joinable when their C++ destructors run, and the rank
        # then dies with SIGABRT ("terminate called without an active exception") after a
        # measurement that succeeded. We saw this twice in a few hundred two-rank DDP processes,
        # once in a full run and once in CI; it concerns teardown only, after
        # destroy_process_group and the report. Not for TensorFlow: its workers meet once more at
        # shutdown (the coordination service), and a worker that skipped it failed its peer.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
