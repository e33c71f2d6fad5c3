"""Timed mock interviews: a prompt for a round, a countdown, a rubric to score yourself, saved results.

Prompts (``mock_prompts.csv``) and the rubric (``rubric.csv``) are course data. A
rubric row with an empty ``prompt_id`` applies to every prompt of its round; a row
naming a prompt adds a criterion for that prompt only.

Time is injected: :class:`Countdown` takes a ``clock`` (a function returning seconds,
``time.monotonic`` by default), so tests drive a fake clock instead of waiting.
Results are appended to ``mock_results.json`` in :func:`userdata.home` (atomic
writes; a corrupt file is set aside with a warning).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from .. import tables
from .. import userdata
from .bank import LESSON, ROUNDS

__all__ = ["load_prompts", "rubric_for", "Countdown", "MockSession", "MockResults"]

FILE_NAME = "mock_results.json"
VERSION = 1


def load_prompts(round: str | None = None) -> pd.DataFrame:  # noqa: A002
    """Mock-interview prompts: ``prompt_id, round, title, prompt, minutes, source``."""
    frame = tables.load(LESSON, "mock_prompts")
    if round is not None:
        if round not in ROUNDS:
            raise ValueError(f"unknown round {round!r}; choose among {', '.join(ROUNDS)}")
        frame = frame[frame["round"] == round].reset_index(drop=True)
    return frame


def rubric_for(prompt_id: str) -> pd.DataFrame:
    """The rubric of one prompt: its round's general criteria, then the prompt's own."""
    prompts = load_prompts()
    match = prompts[prompts["prompt_id"] == prompt_id]
    if match.empty:
        raise ValueError(f"unknown prompt {prompt_id!r}; known: {', '.join(prompts['prompt_id'])}")
    round_ = str(match["round"].iloc[0])
    rubric = tables.load(LESSON, "rubric")
    general = rubric[(rubric["round"] == round_) & rubric["prompt_id"].isna()]
    own = rubric[rubric["prompt_id"] == prompt_id]
    return pd.concat([general, own]).reset_index(drop=True)[["item", "criterion"]]


class Countdown:
    """A countdown of ``seconds`` driven by ``clock`` (seconds, monotonic)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        if seconds <= 0:
            raise ValueError("a countdown needs a positive duration")
        self.seconds = float(seconds)
        self.clock = clock
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    def start(self) -> None:
        self.started_at, self.stopped_at = self.clock(), None

    def stop(self) -> None:
        if self.started_at is not None and self.stopped_at is None:
            self.stopped_at = self.clock()

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.stopped_at is None

    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.stopped_at if self.stopped_at is not None else self.clock()
        return max(0.0, end - self.started_at)

    def remaining(self) -> float:
        return max(0.0, self.seconds - self.elapsed())

    @property
    def expired(self) -> bool:
        return self.elapsed() >= self.seconds

    def display(self) -> str:
        """``MM:SS`` left, or ``+MM:SS`` over time once expired."""
        if self.expired:
            over = int(self.elapsed() - self.seconds)
            return f"+{over // 60:02d}:{over % 60:02d}"
        left = math.ceil(self.remaining())  # a countdown shows whole seconds, rounded up
        return f"{left // 60:02d}:{left % 60:02d}"


@dataclass
class MockSession:
    """One mock interview: a prompt, its countdown and the rubric items you ticked."""

    prompt_id: str
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = datetime.now
    minutes: float | None = None
    checked: set[str] = field(default_factory=set)

    def __post_init__(self):
        prompts = load_prompts()
        row = prompts[prompts["prompt_id"] == self.prompt_id]
        if row.empty:
            raise ValueError(f"unknown prompt {self.prompt_id!r}")
        self.round = str(row["round"].iloc[0])
        self.title = str(row["title"].iloc[0])
        self.prompt = str(row["prompt"].iloc[0])
        self.minutes = float(self.minutes if self.minutes is not None else row["minutes"].iloc[0])
        self.rubric = rubric_for(self.prompt_id)
        self.countdown = Countdown(self.minutes * 60, clock=self.clock)

    def start(self) -> None:
        self.countdown.start()

    def check(self, item: str, done: bool = True) -> None:
        """Tick (or untick) a rubric item by its ``item`` name."""
        if item not in set(self.rubric["item"]):
            raise ValueError(f"{item!r} is not in this prompt's rubric: {', '.join(self.rubric['item'])}")
        (self.checked.add if done else self.checked.discard)(item)

    @property
    def score(self) -> tuple[int, int]:
        return len(self.checked), len(self.rubric)

    def result(self) -> dict:
        """The session as a plain record (stops the countdown)."""
        self.countdown.stop()
        got, total = self.score
        return {
            "when": self.now().isoformat(timespec="seconds"),
            "prompt_id": self.prompt_id,
            "round": self.round,
            "minutes_allowed": self.minutes,
            "minutes_used": round(self.countdown.elapsed() / 60, 2),
            "checked": sorted(self.checked),
            "score": got,
            "max_score": total,
        }


def _valid(data) -> bool:
    return (isinstance(data, dict) and data.get("version") == VERSION and isinstance(data.get("sessions"), list)
            and all(isinstance(s, dict) and {"when", "prompt_id", "round", "score", "max_score"} <= set(s)
                    for s in data["sessions"]))


class MockResults:
    """Saved mock-interview results (a JSON file of sessions)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else userdata.home() / FILE_NAME
        self.sessions: list[dict] = self._read()
        self._stamp = userdata.stamp(self.path)

    def _read(self) -> list[dict]:
        return userdata.read_json(self.path, default=lambda: {"version": VERSION, "sessions": []}, valid=_valid)["sessions"]

    def add(self, session: MockSession | dict) -> dict:
        """Append one session and save; sessions saved meanwhile by another widget are kept."""
        record = session.result() if isinstance(session, MockSession) else dict(session)
        if userdata.stamp(self.path) != self._stamp:
            self.sessions = self._read()
        self.sessions.append(record)
        userdata.write_json(self.path, {"version": VERSION, "sessions": self.sessions})
        self._stamp = userdata.stamp(self.path)
        return record

    def frame(self) -> pd.DataFrame:
        """Sessions as a table with ``when`` as a timestamp and ``percent`` scored."""
        columns = ["when", "prompt_id", "round", "minutes_allowed", "minutes_used", "score", "max_score", "percent"]
        if not self.sessions:
            return pd.DataFrame(columns=columns)
        frame = pd.DataFrame(self.sessions)
        frame["when"] = pd.to_datetime(frame["when"])
        frame["percent"] = 100.0 * frame["score"] / frame["max_score"]
        return frame.reindex(columns=columns).sort_values("when").reset_index(drop=True)
