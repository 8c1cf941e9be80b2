"""``build.py experiments --scheduler tcp://HOST:PORT``: the suite on every worker of a Dask cluster.

Each machine runs one Dask worker, started from a checkout of the same commit as

    dask worker tcp://HOST:PORT --nthreads 1 --resources bench=1 --name LABEL

so that at most one benchmark runs on a host at a time (``bench=1``) and the worker's name is the
host's results folder. Every (host, experiment) is one Dask task pinned to that host's worker;
on the worker it runs the usual harness (fresh, isolated worker subprocesses per round) and
returns the results document, which the client writes atomically to ``<out>/<host>/`` as it
arrives. A host whose worker dies or disconnects has its remaining experiments recorded as
failed with the reason; the other hosts' results are kept. Re-running resumes: a host skips an
experiment whose results file's cache key (computed on that host) is unchanged.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

from experiments.harness.errors import HarnessError
from experiments.harness.progress import PlainProgress
from results_contract.hosts import check_label

POLL_S = 1.0


@dataclass(frozen=True)
class RemoteJob:
    """What a worker needs to run one experiment (sent to it; everything is picklable)."""

    experiment: str
    package: str
    path: str | None
    quick: bool
    seed: int
    force: bool
    host: str
    cached_key: str | None


def run_remote(job: RemoteJob) -> dict:
    """On the worker: plan the experiment here (the cache key depends on this host's
    environment), skip it if the client's file is current, else run it and return the document."""
    from experiments.harness import runner

    (exp,) = runner.select_experiments([job.experiment], job.package, job.path)
    opts = runner.RunOptions(quick=job.quick, force=job.force, seed=job.seed, host=job.host)
    plan = runner.plan_experiment(exp, opts)
    if not job.force and job.cached_key == plan.cache_key:
        return {"cached": True}
    missing = runner.missing_modules(plan.tasks)
    if missing:
        raise HarnessError(f"{', '.join(missing)} not installed on host {job.host}")
    return {"cached": False, "document": runner.execute(plan, opts, PlainProgress(_Quiet()))}


class _Quiet:
    """A worker's progress goes nowhere: the client reports per host."""

    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def _cached_key(path: Path) -> str | None:
    try:
        key = json.loads(path.read_text(encoding="utf-8")).get("cache_key")
    except (OSError, ValueError, AttributeError):
        return None
    return key if isinstance(key, str) else None


def _bench_workers(client) -> dict[str, str]:
    """{host label: worker address} for workers that offer the ``bench`` resource."""
    out = {}
    for address, info in client.scheduler_info().get("workers", {}).items():
        if info.get("resources", {}).get("bench"):
            out[check_label(str(info.get("name")), "dask worker --name")] = address
    return out


def _failed_document(exp, opts, host: str, reason: str, previous: Path) -> dict:
    """Every case of ``exp`` failed with ``reason``: what a host that died leaves behind."""
    from experiments.harness import runner
    from experiments.harness.cases import build_case
    from experiments.harness.supervisor import Outcome
    from results_contract.schema import SCHEMA_VERSION

    plan = runner.plan_experiment(exp, replace(opts, host=host))
    cases = sorted((build_case(t, m, [Outcome(i, error=reason)]) for i, t in enumerate(plan.tasks)
                    for m in range(len(t.metrics))), key=lambda c: c["id"])
    return {"schema_version": SCHEMA_VERSION, "experiment": exp.name, "title": exp.title, "module": exp.relpath,
            "quick": opts.quick, "parameters": plan.parameters, "environment": _lost_environment(previous, host),
            "cases": cases}


def _lost_environment(previous: Path, host: str) -> dict:
    """The environment record of a host that was lost: what its previous results file said
    about the machine, else placeholders that say it is unknown (never the client's own)."""
    from experiments.harness import environment

    now = environment.now_utc()
    try:
        env = dict(json.loads(previous.read_text(encoding="utf-8"))["environment"])
    except (OSError, ValueError, KeyError, TypeError):
        env = {"cpu_model": "unknown", "cpu_cores_physical": 1, "cpu_cores_logical": 1, "memory_bytes": 0,
               "os": "unknown", "python": "unknown", "packages": {}, "threads": {}, "git_commit": "unknown",
               "git_dirty": True}
    env.update(host=host, started_at=now, finished_at=now)
    return env


def run_on_cluster(experiments, opts, scheduler: str, root: Path, progress: PlainProgress) -> dict[str, str]:
    """Run ``experiments`` on every bench worker of ``scheduler``; returns {"host/exp": status}."""
    try:
        from distributed import Client
    except ImportError:
        raise HarnessError("--scheduler needs the `distributed` package; `make experiments` installs it") from None
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise HarnessError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start it with "
                           "`dask scheduler` and one `dask worker ... --resources bench=1 --name LABEL` per host") from None
    try:
        hosts = _bench_workers(client)
        if not hosts:
            raise HarnessError(f"no worker at {scheduler} offers the bench resource; start each with "
                               "`dask worker ADDRESS --nthreads 1 --resources bench=1 --name LABEL`")
        by_name = {e.name: e for e in experiments}
        pending, statuses, done = {}, {}, {h: 0 for h in hosts}
        for host, address in hosts.items():
            for exp in experiments:
                job = RemoteJob(exp.name, opts.package, opts.search_path, opts.quick, opts.seed, opts.force,
                                host, _cached_key(root / host / f"{exp.name}.json"))
                future = client.submit(run_remote, job, workers=[address], allow_other_workers=False,
                                       resources={"bench": 1}, pure=False, key=f"{host}/{exp.name}/{time.time_ns()}")
                pending[future] = (host, exp.name)
        progress.message(f"running {len(experiments)} experiment(s) on {len(hosts)} host(s): {', '.join(hosts)}")
        lost: dict[str, str] = {}
        while pending:
            finished = [f for f in pending if f.done()]
            if not finished:
                time.sleep(POLL_S)
            alive = set(_bench_workers(client))
            for future in finished:
                host, name = pending.pop(future)
                statuses[f"{host}/{name}"] = _collect(future, host, by_name[name], opts, root, progress, lost)
                done[host] += 1
                progress.message(f"[{host}] {done[host]}/{len(experiments)} experiments: {name} "
                                 f"{statuses[f'{host}/{name}']}")
            for future, (host, name) in list(pending.items()):
                if host not in alive or host in lost:
                    future.cancel()
                    del pending[future]
                    reason = lost.get(host) or f"host {host} disconnected from {scheduler} during the run"
                    lost.setdefault(host, reason)
                    path = root / host / f"{name}.json"
                    _record_lost(_failed_document(by_name[name], opts, host, reason, path), path, opts, progress)
                    statuses[f"{host}/{name}"] = "failed (host lost)"
                    done[host] += 1
                    progress.message(f"[{host}] {done[host]}/{len(experiments)} experiments: {name} recorded as "
                                     f"failed ({reason})")
        return statuses
    finally:
        client.close()


def _collect(future, host: str, exp, opts, root: Path, progress: PlainProgress, lost: dict[str, str]) -> str:
    """Write what one finished task returned; a task that died records the experiment as failed."""
    from experiments.harness import runner

    path = root / host / f"{exp.name}.json"
    try:
        result = future.result()
    except HarnessError:
        raise
    except Exception as exc:  # the worker died or lost its connection: this host's run is over
        reason = f"host {host} lost during the run ({type(exc).__name__}: {str(exc)[:200]})"
        lost.setdefault(host, reason)
        _record_lost(_failed_document(exp, opts, host, reason, path), path, opts, progress)
        return "failed (host lost)"
    if result.get("cached"):
        return "cached"
    return runner.store(result["document"], path, opts, progress)


def _record_lost(document: dict, path: Path, opts, progress: PlainProgress) -> None:
    """A lost host's failures replace nothing good: with no earlier ok cases they are the host's
    results file (the paper reports the failure); otherwise the usual rule keeps the earlier file
    and puts this run beside it (``.rejected``)."""
    from experiments.harness import runner

    if runner.previous_ok_ids(path):
        runner.store(document, path, opts, progress)
        return
    runner.write_results(path, document)
    progress.message(f"{document['experiment']}: wrote {path} (every case failed: host lost)")
