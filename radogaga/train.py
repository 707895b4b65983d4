"""One trainer for every experiment: M models of one architecture in one step.

The objective is a module whose parameters carry a leading model dimension and whose
`loss(x, randomness)` takes a batch of shape (M, batch, ...) and returns the M losses.
Each model has its own seed, its own training rows and its own coefficients. On CUDA the
whole step (forward, backward, Adam) is captured once as a CUDA graph and replayed, which
removes the kernel-launch overhead that makes small models slow on a GPU. An objective
that splits its loss into `random_draws(batch, randomness)` and a deterministic
`loss_given(x, *draws)` can have that part compiled (`torch.compile`), which fuses its
elementwise work into few kernels; the draws stay outside, so they are the same numbers.

Several runs may train at once in one process, each in its own thread and CUDA stream
(the command line does this for the parts of an experiment on a GPU): each run's draws
come from its own generator, and the runs compile and capture their steps one at a time.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from radogaga.infra import checkpoints
from radogaga.infra.files import atomic_write
from radogaga.infra.batches import DeviceBatches, StackedBatches
from radogaga.infra.randomness import Randomness
from radogaga.objectives import check_finite_losses, check_finite_parameters

GRAPH_CHOICES = ("auto", "on", "off")
COMPILE_CHOICES = ("auto", "on", "off")
SCHEDULE_CHOICES = ("constant", "cosine")
WARMUP_STEPS = 3


class StackedObjective(Protocol):
    """What the trainer trains: an nn.Module with per-model labels and a stacked loss."""

    labels: list[str]

    def loss(self, x: torch.Tensor, randomness: Randomness) -> torch.Tensor: ...


class TrainingStopped(Exception):
    """Training stopped because `request_stop` was called (Ctrl-C, SIGTERM, a budget's end); the
    run saved its checkpoint first, so the same command resumes from `step`."""

    def __init__(self, message: str, step: int = 0, steps: int = 0):
        super().__init__(message)
        self.step, self.steps = step, steps


_STOP = threading.Event()
_SETUP_LOCK = threading.Lock()  # one run at a time compiles and captures its step
_SETUPS_DONE: list[int] = []  # one entry per finished setup (list.append is atomic across threads)
_TRAINING: list[int] = []  # one entry per training loop running now


def request_stop(stop: bool = True) -> None:
    """Ask every training loop of this process to stop at its next chunk of steps (raising
    TrainingStopped; the last checkpoint stays for a resume); `stop=False` clears the request."""
    if stop:
        _STOP.set()
    else:
        _STOP.clear()


def training_now() -> bool:
    """Whether a training loop of this process is running (it stops cleanly on `request_stop`)."""
    return bool(_TRAINING)


def stop_requested() -> bool:
    """Whether `request_stop` was called and not cleared."""
    return _STOP.is_set()


def setups_done() -> int:
    """How many runs in this process have finished setting up their step (compiling and
    capturing it, or their first step): lets a caller start concurrent runs one after another."""
    return len(_SETUPS_DONE)


@dataclass(frozen=True)
class TrainSettings:
    """How long and how to train; `cuda_graph` is "auto" (on for CUDA), "on" or "off".

    The learning rate is `learning_rate` at every step unless `lr_schedule` = "cosine": then
    it rises linearly over the first `warmup_steps` steps, and afterwards falls along half a
    cosine from `learning_rate` to `learning_rate * lr_floor`, which it reaches `lr_hold_steps`
    steps before the end and keeps to the last step (see `learning_rate_at`). The defaults
    ("constant", no warm-up) leave Adam untouched.
    """

    steps: int
    batch_size: int
    learning_rate: float = 1e-4
    check_every: int = 100
    checkpoint_every: int = 0
    cuda_graph: str = "auto"
    progress: bool = True
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    lr_floor: float = 0.0
    lr_hold_steps: int = 0
    compile: str = "auto"

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "check_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1.")
        if self.checkpoint_every < 0 or not self.learning_rate > 0:
            raise ValueError("checkpoint_every must be >= 0 and learning_rate > 0.")
        if self.cuda_graph not in GRAPH_CHOICES:
            raise ValueError(f"cuda_graph={self.cuda_graph!r}; choose one of {GRAPH_CHOICES}.")
        if self.compile not in COMPILE_CHOICES:
            raise ValueError(f"compile={self.compile!r}; choose one of {COMPILE_CHOICES}.")
        if self.lr_schedule not in SCHEDULE_CHOICES:
            raise ValueError(f"lr_schedule={self.lr_schedule!r}; choose one of {SCHEDULE_CHOICES}.")
        if (not 0 <= self.warmup_steps or not 0 <= self.lr_hold_steps
                or self.warmup_steps + self.lr_hold_steps >= self.steps or not 0 <= self.lr_floor <= 1):
            raise ValueError(f"warmup_steps={self.warmup_steps} and lr_hold_steps={self.lr_hold_steps} must be "
                             f">= 0 with a sum below steps={self.steps}, and lr_floor={self.lr_floor} in [0, 1].")
        if self.lr_schedule == "constant" and (self.warmup_steps or self.lr_floor or self.lr_hold_steps):
            raise ValueError("warmup_steps, lr_floor and lr_hold_steps apply to lr_schedule='cosine' only.")

    @property
    def scheduled(self) -> bool:
        """True when the learning rate changes during the run."""
        return self.lr_schedule != "constant"

    def learning_rate_at(self, step: int) -> float:
        """The learning rate of step `step` (0 for the first step, steps - 1 for the last)."""
        if not self.scheduled:
            return self.learning_rate
        if step < self.warmup_steps:
            return self.learning_rate * (step + 1) / self.warmup_steps
        span = self.steps - 1 - self.lr_hold_steps - self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / span) if span > 0 else 1.0
        return self.learning_rate * (self.lr_floor + (1 - self.lr_floor) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class TrainLog:
    """What a run did: losses at each check (steps, (checks, M)), wall time, graph use."""

    steps: list[int] = field(default_factory=list)
    losses: list[list[float]] = field(default_factory=list)
    wall_time_s: float = 0.0
    cuda_graph: bool = False
    compiled: bool = False
    resumed_from: int = 0

    def model_steps_per_second(self, n_models: int) -> float:
        """Training throughput: model-steps per second over the steps this call ran."""
        ran = (self.steps[-1] if self.steps else 0) - self.resumed_from
        return n_models * ran / self.wall_time_s if self.wall_time_s > 0 else float("nan")


def _use_graph(choice: str, device: torch.device) -> bool:
    if choice == "on" and device.type != "cuda":
        raise ValueError("cuda_graph='on' needs a CUDA device; use 'auto' or 'off'.")
    return device.type == "cuda" and choice != "off"


def _use_compile(choice: str, objective: torch.nn.Module, graph: bool) -> bool:
    splits = callable(getattr(objective, "loss_given", None)) and callable(getattr(objective, "random_draws", None))
    if choice == "on" and not splits:
        raise ValueError(f"compile='on' needs an objective with random_draws and loss_given; "
                         f"{type(objective).__name__} has not: use 'auto' or 'off'.")
    return splits and (choice == "on" or (choice == "auto" and graph))


def loss_function(objective: torch.nn.Module, compiled: bool):
    """loss(data, indices, randomness) -> (M,) losses of the batch data[indices]; with
    `compiled`, the deterministic part (the gather included) runs compiled."""
    if not compiled:
        return lambda data, indices, randomness: objective.loss(data[indices], randomness)
    core = torch.compile(lambda data, indices, *draws: objective.loss_given(data[indices], *draws), dynamic=False)
    return lambda data, indices, randomness: core(data, indices, *objective.random_draws(indices.shape[1],
                                                                                             randomness))


class _Step:
    """One training step, eager or replayed from a captured CUDA graph."""

    def __init__(self, loss_function, optimizer, data, indices, randomness):
        self.loss_function, self.optimizer, self.data, self.indices = loss_function, optimizer, data, indices
        self.randomness, self.graph, self.loss = randomness, None, None

    def _forward_backward(self) -> torch.Tensor:
        self.randomness.begin_step()
        loss = self.loss_function(self.data, self.indices, self.randomness)
        loss.sum().backward()
        self.optimizer.step()
        return loss.detach()

    def capture(self) -> None:
        """Capture the step as a CUDA graph; its draws come from static buffers refilled per replay."""
        self.randomness.make_static()
        self.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                loss = self._forward_backward()
        except RuntimeError:
            self.randomness.release_static()
            raise
        self.graph, self.loss = graph, loss

    def __call__(self) -> torch.Tensor:
        if self.graph is None:
            self.optimizer.zero_grad(set_to_none=True)
            return self._forward_backward()
        self.randomness.refill()
        self.graph.replay()
        return self.loss


def train(
    objective: torch.nn.Module,
    data: torch.Tensor,
    rows: Sequence[np.ndarray],
    seeds: Sequence[int],
    settings: TrainSettings,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_key: Mapping | None = None,
) -> TrainLog:
    """Train the stacked `objective` on `data` (N, ...), model m on rows `rows[m]`.

    With `checkpoint`, the state is saved every `settings.checkpoint_every` steps and a
    killed run started again with the same arguments continues from the last save. The
    caller's `checkpoint_key` names its run (config, code, models); a checkpoint saved
    under another key, or under other training settings, is refused, never resumed.
    Parameters are checked for NaN and infinity at every save and at the end.
    """
    n_models = len(seeds)
    if len(objective.labels) != n_models or len(rows) != n_models:
        raise ValueError(f"{n_models} seeds, {len(rows)} row lists and {len(objective.labels)} "
                         "model labels: give one of each per model.")
    largest = max(len(r) for r in rows)
    if settings.batch_size > largest:
        raise ValueError(f"batch_size = {settings.batch_size} is larger than the training set ({largest} rows): "
                         f"give batch_size <= {largest}.")
    device = data.device
    graph = _use_graph(settings.cuda_graph, device)
    compiled = _use_compile(settings.compile, objective, graph)
    randomness = Randomness(seeds, device, "shared" if graph else "per_model")
    # A captured step draws its batches on the device: the CPU would take about 1 ms a step for 80 models.
    batches = (DeviceBatches(rows, settings.batch_size, seeds, device) if graph
               else StackedBatches(rows, settings.batch_size, seeds))
    # A scheduled rate is a tensor under a CUDA graph, so that the captured step reads its current value.
    lr = (torch.tensor(settings.learning_rate, device=device) if graph and settings.scheduled
          else settings.learning_rate)
    optimizer = torch.optim.Adam(objective.parameters(), lr=lr, capturable=graph)
    # What decides the result (a run may be resumed with more steps or other check intervals,
    # except under a schedule, whose rates depend on the number of steps).
    key = {"trainer": {"batch_size": settings.batch_size, "learning_rate": settings.learning_rate,
                       "seeds": list(seeds), "rows": [int(len(r)) for r in rows], "graph": graph,
                       "labels": list(objective.labels), **({"compiled": True} if compiled else {})},
           "run": dict(checkpoint_key or {})}
    if settings.scheduled:
        key["trainer"]["schedule"] = {"lr_schedule": settings.lr_schedule, "warmup_steps": settings.warmup_steps,
                                      "lr_floor": settings.lr_floor, "steps": settings.steps,
                                      **({"lr_hold_steps": settings.lr_hold_steps} if settings.lr_hold_steps else {})}
    log, path = TrainLog(cuda_graph=graph, compiled=compiled), Path(checkpoint) if checkpoint is not None else None
    if path is not None:
        settings = dataclasses.replace(settings, checkpoint_every=checkpoint_interval(settings.checkpoint_every))
    state = checkpoints.load(path, key, device) if path is not None else None
    if state is not None:
        objective.load_state_dict(state["objective"])
        optimizer.load_state_dict(state["optimizer"])
        if isinstance(lr, torch.Tensor):  # keep the one rate tensor the captured step will read
            for group in optimizer.param_groups:
                group["lr"] = lr
        batches.restore(state["batches"])
        randomness.restore(state["randomness"])
        log.steps, log.losses = state["steps"], state["losses"]
        log.resumed_from = state["step"]
    step_no = log.resumed_from
    indices = torch.zeros((n_models, settings.batch_size), dtype=torch.long, device=device)
    run_step = _Step(loss_function(objective, compiled), optimizer, data, indices, randomness)
    setup = _Setup(graph or compiled)
    start = time.perf_counter()
    bar = tqdm(total=settings.steps, initial=step_no, disable=not settings.progress, desc="training",
               unit="step", leave=False)
    saved_at = step_no

    def save_state() -> None:
        nonlocal saved_at
        check_finite_parameters(objective, step_no)
        if _save_or_warn(path, key, {
                "step": step_no, "objective": objective.state_dict(), "optimizer": optimizer.state_dict(),
                "batches": batches.state(), "randomness": randomness.state(), "steps": log.steps,
                "losses": log.losses}):
            saved_at = step_no

    _TRAINING.append(1)
    try:
        while step_no < settings.steps:
            if _STOP.is_set():
                if path is not None and step_no > saved_at:
                    save_state()
                raise TrainingStopped(f"training stopped at step {step_no} of {settings.steps} "
                                      f"({'checkpoint saved' if path is not None and saved_at == step_no else 'no checkpoint'})",
                                      step_no, settings.steps)
            stop = _next_stop(step_no, settings)
            chunk = torch.as_tensor(batches.next(stop - step_no), device=device)
            for k in range(stop - step_no):
                indices.copy_(chunk[k])
                if settings.scheduled:
                    _set_learning_rate(optimizer, settings.learning_rate_at(step_no))
                warming_up = graph and step_no < log.resumed_from + WARMUP_STEPS
                if graph and not warming_up and run_step.graph is None:
                    _capture_or_fall_back(run_step)
                    log.cuda_graph = run_step.graph is not None
                if log.compiled and step_no == log.resumed_from:
                    loss, log.compiled = _first_compiled_step(run_step, objective, warming_up)
                else:
                    loss = _on_side_stream(run_step) if warming_up else run_step()
                if not warming_up:
                    setup.done()
                step_no += 1
                if step_no % settings.check_every == 0 or step_no == settings.steps:
                    values = loss.float().cpu()
                    check_finite_losses(values, step_no, objective.labels)
                    log.steps.append(step_no)
                    log.losses.append(values.tolist())
                    bar.set_postfix(loss=f"{values.mean():.4g}")
            bar.update(stop - bar.n)
            if path is not None and settings.checkpoint_every and (
                    step_no % settings.checkpoint_every == 0 or step_no == settings.steps):
                save_state()
    finally:
        _TRAINING.pop()
        setup.done()
        bar.close()
    check_finite_parameters(objective, step_no)
    if device.type == "cuda":
        torch.cuda.current_stream(device).synchronize()  # this run's stream only: others may share the device
    log.wall_time_s = time.perf_counter() - start
    return log


class _Setup:
    """A run's setup phase (compiling, capturing): one run of the process at a time."""

    def __init__(self, exclusive: bool):
        self.holding = exclusive and _SETUP_LOCK.acquire()
        if not exclusive:
            self._count()

    @staticmethod
    def _count() -> None:
        _SETUPS_DONE.append(1)

    def done(self) -> None:
        """End the setup phase (once; later calls do nothing)."""
        if self.holding:
            self.holding = False
            _SETUP_LOCK.release()
            self._count()


def train_in_segments(
    objective: torch.nn.Module,
    data: torch.Tensor,
    rows: Sequence[np.ndarray],
    seeds: Sequence[int],
    settings: TrainSettings,
    stops: Sequence[int],
    measure: Callable[[int], Any],
    checkpoint: str | os.PathLike | None = None,
) -> tuple[TrainLog, list]:
    """Train to each of `stops` in turn (one uninterrupted run: a checkpoint at every stop), and
    after each call `measure(stop)`, which reads the model and returns what it found. With
    `checkpoint`, the measurements are kept beside it (`<checkpoint>.measures`), so a run
    stopped anywhere resumes where it was, with the measurements of the stops it had passed.
    Returns the last training log and the measurements, one per stop."""
    side = Path(f"{checkpoint}.measures") if checkpoint is not None else None
    stored = torch.load(side, weights_only=False) if side is not None and side.is_file() else {"measures": []}
    measured = list(stored["measures"])
    log = TrainLog()
    for index, stop in enumerate(stops):
        if index < len(measured):
            continue
        log = train(objective, data, rows, seeds,
                    dataclasses.replace(settings, steps=stop, checkpoint_every=stop), checkpoint=checkpoint)
        measured.append(measure(stop))
        if side is not None:
            with atomic_write(side, "wb") as handle:
                torch.save({"measures": measured}, handle)
    if not log.steps and checkpoint is not None:  # every stop measured before: the log is the checkpoint's
        log = train(objective, data, rows, seeds,
                    dataclasses.replace(settings, steps=stops[-1], checkpoint_every=stops[-1]), checkpoint=checkpoint)
    return log, measured


def checkpoint_interval(every: int) -> int:
    """Steps between checkpoints: the experiment's `every`, or `RADOGAGA_CHECKPOINT_EVERY` where it
    is set (save more often on a machine that may be taken away; the numbers do not change)."""
    text = os.environ.get("RADOGAGA_CHECKPOINT_EVERY", "").strip()
    if not text:
        return every
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"RADOGAGA_CHECKPOINT_EVERY = {text!r} is not valid: give a whole number of steps >= 1")
    return int(text)


def _save_or_warn(path: Path, key: Mapping, state: Mapping) -> bool:
    """Save a checkpoint; if the disk refuses (full, read-only), warn and go on training: the
    run loses only the resume point, not its progress. True when saved."""
    try:
        checkpoints.save(path, key, state)
        return True
    except OSError as error:
        warnings.warn(f"checkpoint {path} not saved ({error.strerror or error}); training goes on, and a stop now "
                      "resumes from the last saved checkpoint.", stacklevel=3)
        return False


def _set_learning_rate(optimizer: torch.optim.Optimizer, value: float) -> None:
    """Set every group's rate in place (a tensor rate keeps its storage, which a CUDA graph reads)."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(value)
        else:
            group["lr"] = value


def _next_stop(step_no: int, settings: TrainSettings, chunk: int = 256) -> int:
    """The end of the next chunk of steps: never past a checkpoint or the last step."""
    stop = min(step_no + chunk, settings.steps)
    if settings.checkpoint_every:
        stop = min(stop, (step_no // settings.checkpoint_every + 1) * settings.checkpoint_every)
    return stop


def _on_side_stream(run_step: _Step) -> torch.Tensor:
    """An eager step on a side stream: the warm-up CUDA graph capture asks for."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        loss = run_step()
    torch.cuda.current_stream().wait_stream(side)
    return loss


def _capture_or_fall_back(run_step: _Step) -> None:
    """Capture the step as a CUDA graph; if capture fails, warn and stay eager."""
    try:
        run_step.capture()
    except RuntimeError as error:
        warnings.warn(f"CUDA graph capture failed ({error}); training continues eagerly.", stacklevel=3)


def _first_compiled_step(run_step: _Step, objective: torch.nn.Module, warming_up: bool) -> tuple[torch.Tensor, bool]:
    """The first step with the compiled loss (it compiles): (loss, True); if compiling fails,
    warn and take the step with the plain loss, from the same random state: (loss, False)."""
    saved = run_step.randomness.state()
    try:
        return (_on_side_stream(run_step) if warming_up else run_step()), True
    except Exception as error:  # noqa: BLE001 - any failure of the compiler: train uncompiled
        warnings.warn(f"torch.compile of the loss failed ({type(error).__name__}: {str(error)[:300]}); "
                      "training continues uncompiled.", stacklevel=3)
    run_step.randomness.restore(saved)
    run_step.loss_function = loss_function(objective, False)
    return (_on_side_stream(run_step) if warming_up else run_step()), False
