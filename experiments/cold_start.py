"""Cold start: framework import time and time to a first prediction in a fresh process.

Serverless functions, CLI tools and autoscaled replicas pay this on every start, and it is
invisible in warm-loop benchmarks. Each sample is its own fresh interpreter spawned from
``run()``: the child times ``import torch`` / ``import tensorflow`` itself (import_time), and
the parent measures from just before spawning to the moment the child reports its first
model output (first_prediction, which therefore includes interpreter start-up, the import,
building the model and one forward pass, but not process exit). Both clocks are
``time.monotonic``, which on Linux is system-wide, so the two processes can be compared.
Each harness round starts a fresh worker that spawns one untimed child first, so that the timed
one sees a warm page cache, and then one timed child. The rounds are the replicates, as for every
other experiment: the timed children are spread over the run in the rounds' shuffled order
instead of being spawned back to back (which put all of a run's children into one stretch of the
machine's speed states).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from experiments.harness.api import Measurement, Task
from experiments.harness.children import child_env, run_python
from results_contract.vocabulary import FIRST_PREDICTION, IMPORT_TIME

NAME = "cold_start"
TITLE = "Cold start: import time and time to first prediction"

FULL_PROCESSES = 1   # timed children per round; the rounds are the replicates
QUICK_PROCESSES = 1  # a smoke test: no interval, no warm-up process


# The child prints one JSON line on stdout; everything it logs goes to stderr.
_CHILD = {
    "pytorch": """
import time
t0 = time.monotonic()
import torch
t1 = time.monotonic()
from experiments.models import weights
from experiments.models.torch_models import build_torch
model = build_torch("mlp", weights.init_weights("mlp", 0)).eval()
x = torch.from_numpy(weights.make_inputs("mlp", 1, 0))
with torch.no_grad():
    y = model(x).numpy()
t2 = time.monotonic()
""",
    "tensorflow": """
import time
t0 = time.monotonic()
import tensorflow
t1 = time.monotonic()
from experiments.models import weights
from experiments.models.keras_models import build_keras
model = build_keras("mlp", weights.init_weights("mlp", 0))
y = model(weights.make_inputs("mlp", 1, 0), training=False).numpy()
t2 = time.monotonic()
""",
}
_REPORT = """
import json, sys
print(json.dumps({"import": t1 - t0, "first_output_at": t2, "out_sum": float(abs(y).sum())}))
sys.stdout.flush()
"""


def tasks(quick: bool) -> list[Task]:
    n = QUICK_PROCESSES if quick else FULL_PROCESSES
    return [
        Task(framework=fw, mode="fresh_process", model="mlp",
             params={"processes": n, "batch_size": 1}, threads=os.cpu_count() or 1,
             timeout_s=60 + 40 * (n + 1),
             metrics=(IMPORT_TIME, FIRST_PREDICTION))
        for fw in ("pytorch", "tensorflow")
    ]


def _child_env(task: Task, ctx) -> dict[str, str]:
    extra = {"KERAS_BACKEND": "tensorflow"} if task.framework == "tensorflow" else {}
    if ctx.device == "cpu":
        extra["CUDA_VISIBLE_DEVICES"] = ""
    return child_env(threads=ctx.threads, extra=extra)


def spawn_once(framework: str, env: dict[str, str]) -> tuple[float, float]:
    """Run one fresh child; return (import seconds, spawn-to-first-output seconds)."""
    code = _CHILD[framework] + _REPORT
    start = time.monotonic()
    out = run_python(["-c", code], env=env, timeout=300, what=f"{framework} child")
    report = json.loads(out.strip().splitlines()[-1])
    return report["import"], report["first_output_at"] - start


def run(task: Task, ctx) -> list[Measurement]:
    env = _child_env(task, ctx)
    if not ctx.quick:
        spawn_once(task.framework, env)  # untimed: warms the page cache
    imports, firsts = [], []
    for _ in range(int(task.params["processes"])):
        imp, first = spawn_once(task.framework, env)
        imports.append(imp)
        firsts.append(first)
    package = "torch" if task.framework == "pytorch" else "tensorflow"
    method = (f"{len(imports)} fresh `{Path(sys.executable).name} -c` processes"
              + ("" if ctx.quick else " after one untimed warm-up process (warm page cache)"))
    return [
        Measurement(IMPORT_TIME, imports, runs=[[x] for x in imports], extra={"statement": f"import {package}"},
                    notes=f"`import {package}` timed inside the child; {method}"),
        Measurement(FIRST_PREDICTION, firsts, runs=[[x] for x in firsts],
                    notes="parent clock before spawn -> child clock after the first output "
                          "of the mlp at batch 1 (interpreter start, import, model build, "
                          f"one forward); {method}"),
    ]
