"""The recurrent candidate for next_touchpoint: touchpoint embedding → GRU → two heads.

One head says whether the journey converts, the other which touchpoint comes next; both read the
same GRU state, which sees the order of the journey that a bag of counts cannot. It trains on the CPU
with a fixed seed and one thread (the machine is shared, and a run must repeat exactly), in batches
of journeys of equal length (no padding to learn around), and stops when the loss on the validation
slice stops falling. The conversion head is then calibrated (isotonic) and given its F1-best threshold
on that same validation slice, never on the holdout.

The registry pickles models, so this one pickles as plain data: its vocabulary, its configuration and
its state_dict as numpy arrays. The network is rebuilt from them on first use; no torch object (and no
code of torch's) is ever in the pickle.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
from sklearn.isotonic import IsotonicRegression
from torch import nn

from apps.propensity.metrics import best_f1_threshold

UNKNOWN = 0  # id of a touchpoint the model never saw; real touchpoints are 1..len(vocab)
IGNORE = -100  # next-step label that no class can name (torch's cross-entropy skips it)
PREDICT_BATCH = 4096
MIN_IMPROVEMENT = 1e-4


@dataclass(frozen=True)
class RecurrentConfig:
    """Network size and training schedule; the defaults were chosen on the validation slice of the
    shared touchpoint file (seed 0)."""

    embedding: int = 32
    hidden: int = 64
    dropout: float = 0.2
    next_weight: float = 1.0  # weight of the next-touchpoint loss beside the conversion loss
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 256
    max_epochs: int = 30
    patience: int = 3
    max_steps: int = 12  # the latest steps a journey is read by
    threads: int = 1  # while training; scoring leaves torch's process-wide setting alone

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> RecurrentConfig:
        """Overrides named `gru_<field>` (e.g. `--param gru_hidden=32`); other keys belong to other parts."""
        defaults: dict[str, Any] = {f.name: f.default for f in fields(cls)}
        chosen = {key[4:]: value for key, value in params.items() if key.startswith("gru_") and key[4:] in defaults}
        return cls(**{k: type(defaults[k])(v) for k, v in chosen.items()})


class _Network(nn.Module):
    def __init__(self, vocab_size: int, config: RecurrentConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size + 1, config.embedding)
        self.gru = nn.GRU(config.embedding, config.hidden, batch_first=True)
        self.drop = nn.Dropout(config.dropout)
        self.converts = nn.Linear(config.hidden, 1)
        self.next = nn.Linear(config.hidden, vocab_size)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        states, _ = self.gru(self.embed(ids))
        last = self.drop(states[:, -1])
        return self.converts(last).squeeze(-1), self.next(last)


@contextmanager
def _threads(count: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class _Encoded:
    """Journeys as id arrays (latest `max_steps` steps), grouped by length for padding-free batches."""

    ids: list[np.ndarray]
    by_length: dict[int, np.ndarray]

    @classmethod
    def of(cls, inputs: list[list[str]], index: dict[str, int], max_steps: int) -> _Encoded:
        ids = [np.array([index.get(t, UNKNOWN) for t in tokens[-max_steps:]] or [UNKNOWN], dtype=np.int64)
               for tokens in inputs]
        lengths = np.array([len(a) for a in ids])
        return cls(ids=ids, by_length={int(n): np.flatnonzero(lengths == n) for n in np.unique(lengths)})

    def batches(self, size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
        """Row groups of equal length; shuffled within and across lengths when `rng` is given."""
        out = []
        for rows in self.by_length.values():
            rows = rng.permutation(rows) if rng is not None else rows
            out += [rows[i:i + size] for i in range(0, len(rows), size)]
        return [out[i] for i in rng.permutation(len(out))] if rng is not None else out

    def tensor(self, rows: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.stack([self.ids[i] for i in rows]))


@dataclass
class RecurrentTouchpoints:
    """A trained GRU with its calibration and threshold; pickles as numpy arrays (see the module note)."""

    vocab: list[str]
    config: RecurrentConfig
    weights: dict[str, np.ndarray]
    calibrator: IsotonicRegression | None = None
    threshold: float = 0.5
    base_rate: float = 0.0
    _network: _Network | None = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_network"] = None
        state["config"] = asdict(self.config)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({**state, "config": RecurrentConfig(**state["config"]), "_network": None})

    @property
    def network(self) -> _Network:
        if self._network is None:
            network = _Network(len(self.vocab), self.config)
            network.load_state_dict({k: torch.as_tensor(v) for k, v in self.weights.items()})
            self._network = network.eval()
        return self._network

    def raw(self, inputs: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Uncalibrated conversion probability and next-touchpoint distribution, one row per journey."""
        encoded = _Encoded.of(inputs, self._index(), self.config.max_steps)
        converts = np.zeros(len(inputs), dtype=np.float64)
        nexts = np.zeros((len(inputs), len(self.vocab)), dtype=np.float64)
        with torch.no_grad():
            for rows in encoded.batches(PREDICT_BATCH):
                logit, next_logits = self.network(encoded.tensor(rows))
                converts[rows] = torch.sigmoid(logit).numpy()
                nexts[rows] = torch.softmax(next_logits, dim=-1).numpy()
        return converts, nexts

    def conversion_proba(self, inputs: list[list[str]]) -> np.ndarray:
        raw = self.raw(inputs)[0]
        return np.asarray(self.calibrator.predict(raw), dtype=float) if self.calibrator is not None else raw

    def next_ranked(self, inputs: list[list[str]], k: int = 3) -> list[list[str]]:
        order = np.argsort(-self.raw(inputs)[1], axis=1, kind="stable")[:, :k]
        return [[self.vocab[i] for i in row] for row in order]

    def score(self, tokens: list[str], k: int = 3) -> dict[str, Any]:
        """Online answer for one journey: conversion probability and label, next touchpoints, explanation."""
        proba = float(self.conversion_proba([tokens])[0])
        return {"conversion_probability": round(proba, 4), "converts": proba >= self.threshold,
                "next_touchpoints": self.next_ranked([tokens], k)[0], "explanation": self.explain(tokens, proba)}

    def explain(self, tokens: list[str], proba: float, top: int = 5) -> list[dict[str, Any]]:
        """How much each step moved the conversion probability: the journey's probability minus the
        probability without that step (the training conversion rate stands in for an empty journey)."""
        shorter = [tokens[:i] + tokens[i + 1:] for i in range(len(tokens))]
        others = [float(p) for p in self.conversion_proba(shorter)] if len(tokens) > 1 else [self.base_rate]
        moves = [round(proba - p, 4) for p in others]
        order = sorted(range(len(tokens)), key=lambda i: -abs(moves[i]))[:top]
        return [{"feature": f"step_{i + 1}", "value": tokens[i], "contribution": moves[i]} for i in order if moves[i]]

    def feature_names(self) -> list[str]:
        """The network reads steps, not columns: one name per step it looks back."""
        return [f"touchpoint_{k}_steps_ago" for k in range(self.config.max_steps)]

    def _index(self) -> dict[str, int]:
        return {t: i + 1 for i, t in enumerate(self.vocab)}


@dataclass(frozen=True)
class RecurrentFit:
    model: RecurrentTouchpoints
    epochs: int
    calibration: dict[str, Any]


Slice = tuple[list[list[str]], np.ndarray, list[str]]  # journeys, conversion labels, next touchpoints


def fit_recurrent(*, train: Slice, validation: Slice, seed: int, config: RecurrentConfig | None = None
                  ) -> RecurrentFit:
    """Train on `train`; stop early, calibrate and choose the threshold on `validation`."""
    config = config or RecurrentConfig()
    vocab = sorted({t for tokens in train[0] for t in tokens} | {n for n in train[2] if n})
    index = {t: i + 1 for i, t in enumerate(vocab)}
    with _threads(config.threads):
        torch.manual_seed(seed)
        network = _Network(len(vocab), config)
        epochs = _train(network, _Tensors.of(train, index, config), _Tensors.of(validation, index, config),
                        config, np.random.default_rng(seed))
    weights = {k: v.detach().numpy().copy() for k, v in network.state_dict().items()}
    model = RecurrentTouchpoints(vocab=vocab, config=config, weights=weights,
                                 base_rate=float(np.mean(train[1])) if len(train[1]) else 0.0)
    calibration = _calibrate(model, validation)
    return RecurrentFit(model=model, epochs=epochs, calibration=calibration)


@dataclass(frozen=True)
class _Tensors:
    encoded: _Encoded
    converts: torch.Tensor
    nexts: torch.Tensor

    @classmethod
    def of(cls, data: Slice, index: dict[str, int], config: RecurrentConfig) -> _Tensors:
        inputs, labels, nexts = data
        return cls(encoded=_Encoded.of(inputs, index, config.max_steps),
                   converts=torch.as_tensor(np.asarray(labels, dtype=np.float32)),
                   nexts=torch.as_tensor(np.array([index.get(t, UNKNOWN) - 1 if t in index else IGNORE
                                                   for t in nexts], dtype=np.int64)))


def _loss(network: _Network, data: _Tensors, rows: np.ndarray, config: RecurrentConfig) -> torch.Tensor:
    """Summed conversion log-loss plus the weighted next-touchpoint cross-entropy of `rows`."""
    logit, next_logits = network(data.encoded.tensor(rows))
    index = torch.as_tensor(rows)
    converts = nn.functional.binary_cross_entropy_with_logits(logit, data.converts[index], reduction="sum")
    nexts = nn.functional.cross_entropy(next_logits, data.nexts[index], reduction="sum", ignore_index=IGNORE)
    return converts + config.next_weight * nexts


def _train(network: _Network, train: _Tensors, validation: _Tensors, config: RecurrentConfig,
           rng: np.random.Generator) -> int:
    """Adam over shuffled equal-length batches; keep the weights of the best validation epoch."""
    optimiser = torch.optim.Adam(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    best, best_state, stale, epochs = float("inf"), None, 0, 0
    for epoch in range(1, config.max_epochs + 1):
        network.train()
        for rows in train.encoded.batches(config.batch_size, rng):
            optimiser.zero_grad()
            (_loss(network, train, rows, config) / len(rows)).backward()
            optimiser.step()
        if len(validation.converts) == 0:
            epochs = epoch  # nothing to stop on: train the full schedule
            continue
        loss = _validation_loss(network, validation, config)
        if loss < best - MIN_IMPROVEMENT:
            best, stale, epochs = loss, 0, epoch
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return epochs


def _validation_loss(network: _Network, data: _Tensors, config: RecurrentConfig) -> float:
    network.eval()
    with torch.no_grad():
        total = sum(float(_loss(network, data, batch, config)) for batch in data.encoded.batches(PREDICT_BATCH))
    return total / len(data.converts)


def _calibrate(model: RecurrentTouchpoints, validation: Slice) -> dict[str, Any]:
    inputs, labels = validation[0], np.asarray(validation[1], dtype=int)
    if len(labels) < 10 or len(np.unique(labels)) < 2:
        return {"method": "none", "reason": f"validation slice too small or one class ({len(labels)} rows)"}
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(model.raw(inputs)[0], labels)
    model.calibrator = iso
    model.threshold = best_f1_threshold(labels, model.conversion_proba(inputs))
    return {"method": "isotonic", "fitted_on": "validation", "rows": int(len(labels))}
