"""Spaced repetition with Leitner boxes, and the learner's saved progress.

The rule (Leitner's card boxes, with doubling intervals):

- a new card starts in box 1 and is due at once;
- a card you **knew** moves up one box (box 5 is the top and stays there);
- a card you **missed** goes back to box 1;
- after a review the card is next due ``INTERVALS_DAYS[box - 1]`` days later:
  1, 2, 4, 8 or 16 days for boxes 1 to 5.

Progress is a JSON file (default ``flashcards.json`` in :func:`userdata.home`), written
atomically after every answer and set aside with a warning if it is ever corrupt.
"Today" is injected (a date or a function returning one) so tests never depend on
the real clock.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from .. import userdata

__all__ = ["INTERVALS_DAYS", "CardState", "next_state", "schedule_table", "FlashcardProgress", "simulate"]

INTERVALS_DAYS = (1, 2, 4, 8, 16)
FILE_NAME = "flashcards.json"
VERSION = 1


@dataclass(frozen=True)
class CardState:
    """Where one card stands: its box, when it is due, and its review counts."""

    box: int = 1
    due: date | None = None  # None: a new card, due now
    reviews: int = 0
    known: int = 0
    last: date | None = None

    @property
    def is_new(self) -> bool:
        return self.reviews == 0

    def to_json(self) -> dict:
        data = asdict(self)
        data["due"] = self.due.isoformat() if self.due else None
        data["last"] = self.last.isoformat() if self.last else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> "CardState":
        return cls(
            box=int(data["box"]),
            due=date.fromisoformat(data["due"]) if data.get("due") else None,
            reviews=int(data.get("reviews", 0)),
            known=int(data.get("known", 0)),
            last=date.fromisoformat(data["last"]) if data.get("last") else None,
        )


def next_state(state: CardState, known: bool, today: date, intervals: tuple[int, ...] = INTERVALS_DAYS) -> CardState:
    """The card's state after one review on ``today`` (the Leitner rule above)."""
    top = len(intervals)
    box = min(state.box + 1, top) if known else 1
    return replace(
        state,
        box=box,
        due=today + timedelta(days=intervals[box - 1]),
        reviews=state.reviews + 1,
        known=state.known + int(bool(known)),
        last=today,
    )


def schedule_table(intervals: tuple[int, ...] = INTERVALS_DAYS) -> pd.DataFrame:
    """The Leitner schedule as a table: ``box, interval_days`` (the wait after a review that lands there)."""
    return pd.DataFrame({"box": range(1, len(intervals) + 1), "interval_days": list(intervals)})


def _valid(data) -> bool:
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return False
    if not isinstance(data.get("cards"), dict) or not isinstance(data.get("history"), list):
        return False
    for entry in data["cards"].values():
        state = CardState.from_json(entry)  # raises on bad dates or numbers
        if not 1 <= state.box <= 16:
            return False
    for item in data["history"]:
        date.fromisoformat(item["date"])
        str(item["id"]), bool(item["known"]), int(item["box"])
    return True


class FlashcardProgress:
    """Leitner schedule and history for a set of cards, saved to ``path`` after every review.

    ``today`` is a date, a function returning one, or None for the real date.
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        today: date | Callable[[], date] | None = None,
        intervals: Iterable[int] = INTERVALS_DAYS,
    ):
        self.path = Path(path) if path is not None else userdata.home() / FILE_NAME
        self.intervals = tuple(int(i) for i in intervals)
        if not self.intervals or any(i <= 0 for i in self.intervals):
            raise ValueError("intervals must be positive numbers of days")
        self._today = today
        self._stamp = None
        self.reload()

    def reload(self) -> None:
        """Read the progress file again (done automatically when another widget or process changed it)."""
        data = userdata.read_json(self.path, default=self._empty, valid=_valid)
        self.cards: dict[str, CardState] = {k: CardState.from_json(v) for k, v in data["cards"].items()}
        self.history: list[dict] = list(data["history"])
        self._stamp = userdata.stamp(self.path)

    def _refresh(self) -> None:
        if userdata.stamp(self.path) != self._stamp:
            self.reload()

    @staticmethod
    def _empty() -> dict:
        return {"version": VERSION, "cards": {}, "history": []}

    def today(self) -> date:
        value = self._today() if callable(self._today) else self._today
        return value if value is not None else date.today()

    # ------------------------------------------------------------------ schedule
    def state(self, card_id: str) -> CardState:
        return self.cards.get(str(card_id), CardState())

    def review(self, card_id: str, known: bool, today: date | None = None, save: bool = True) -> CardState:
        """Record an answer (known or missed), move the card and (unless ``save=False``) save the file."""
        when = today or self.today()
        if save:
            self._refresh()
        new = next_state(self.state(card_id), bool(known), when, self.intervals)
        self.cards[str(card_id)] = new
        self.history.append({"date": when.isoformat(), "id": str(card_id), "known": bool(known), "box": new.box})
        if save:
            self.save()
        return new

    def is_due(self, card_id: str, today: date | None = None) -> bool:
        state = self.state(card_id)
        return state.due is None or state.due <= (today or self.today())

    def due(self, card_ids: Iterable[str], today: date | None = None, new_limit: int | None = None) -> list[str]:
        """Cards to study now: reviewed cards that are due (most overdue, then lowest box, first),
        then new cards in the given order (at most ``new_limit`` of them)."""
        when = today or self.today()
        ids = [str(c) for c in card_ids]
        seen = [c for c in ids if not self.state(c).is_new and self.is_due(c, when)]
        seen.sort(key=lambda c: (self.state(c).due, self.state(c).box))
        new = [c for c in ids if self.state(c).is_new]
        if new_limit is not None:
            new = new[: max(0, int(new_limit))]
        return seen + new

    # ------------------------------------------------------------------ progress
    def box_counts(self, card_ids: Iterable[str]) -> pd.Series:
        """How many of ``card_ids`` are new and in each box (index ``new``, ``box 1`` ... ``box 5``)."""
        labels = ["new"] + [f"box {b}" for b in range(1, len(self.intervals) + 1)]
        counts = dict.fromkeys(labels, 0)
        for card in card_ids:
            state = self.state(card)
            counts["new" if state.is_new else f"box {state.box}"] += 1
        return pd.Series(counts, name="cards")

    def daily(self, learned_box: int = 4) -> pd.DataFrame:
        """One row a study day: ``date, reviews, known, missed, learned`` where ``learned`` counts
        cards sitting in box ``learned_box`` or higher at the end of that day."""
        columns = ["date", "reviews", "known", "missed", "learned"]
        if not self.history:
            return pd.DataFrame(columns=columns)
        boxes: dict[str, int] = {}
        rows = []
        events = sorted(self.history, key=lambda e: e["date"])
        for day, group in pd.DataFrame(events).groupby("date", sort=True):
            for item in group.itertuples(index=False):
                boxes[item.id] = int(item.box)
            known = int(group["known"].astype(bool).sum())
            rows.append([date.fromisoformat(day), len(group), known, len(group) - known,
                         sum(1 for b in boxes.values() if b >= learned_box)])
        return pd.DataFrame(rows, columns=columns)

    def save(self) -> Path:
        data = {
            "version": VERSION,
            "intervals_days": list(self.intervals),
            "cards": {k: v.to_json() for k, v in sorted(self.cards.items())},
            "history": self.history,
        }
        written = userdata.write_json(self.path, data)
        self._stamp = userdata.stamp(self.path)
        return written


def simulate(
    progress: FlashcardProgress,
    card_ids: Iterable[str],
    start: date,
    days: int,
    new_per_day: int = 15,
    recall_by_box: tuple[float, ...] = (0.55, 0.7, 0.8, 0.88, 0.93),
    seed: int = 7,
) -> FlashcardProgress:
    """Play a learner who studies every day for ``days`` days (for demonstrations and charts).

    Each day the learner reviews every due card plus up to ``new_per_day`` new ones and
    knows a card with probability ``recall_by_box[box - 1]`` (memory strengthens as a
    card climbs). Deterministic for a given ``seed``.
    """
    import random

    rng = random.Random(seed)
    ids = [str(c) for c in card_ids]
    for offset in range(int(days)):
        today = start + timedelta(days=offset)
        for card in progress.due(ids, today=today, new_limit=new_per_day):
            box = progress.state(card).box
            chance = recall_by_box[min(box, len(recall_by_box)) - 1]
            progress.review(card, rng.random() < chance, today=today, save=False)
    progress.save()
    return progress
