"""The rapid-fire question bank: short questions with model answers, tagged three ways.

Stored once, a file a lesson, as ``infraprep/data/07-rapid-fire/bank/<lesson>.csv`` with columns
``id, lesson_id, round, difficulty, question, answer, source``:

- ``lesson_id``: the lesson the question practises (``01-roles`` ... ``09-system-design``), the same
  as the file's name
- ``round``: the interview round where it is typically asked (:data:`ROUNDS`)
- ``difficulty``: ``easy``, ``medium`` or ``hard`` (hard: several steps, a computed number, a
  debugging trail or a design trade-off)
- ``source``: a key of lesson 7's ``references.csv`` backing the answer's facts

Every ``bank/*.csv`` file present is loaded, in course order, so lessons that add a file (for
example ``bank/08-inference.csv``) join the bank, the flashcards and the Anki deck at once.

>>> bank = load_bank()
>>> len(filter_bank(bank, lesson=2, difficulty="hard")) > 0
True
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from .. import tables

__all__ = ["LESSON", "LESSONS", "ROUNDS", "DIFFICULTIES", "load_bank", "filter_bank", "problems", "file_problems",
           "coverage", "levels"]

LESSON = "07-rapid-fire"
#: Lessons the bank covers, in course order.
LESSONS = tuple(lesson for lesson in tables.lessons()["lesson_id"].astype(str)
                if (tables.DATA_DIR / LESSON / "bank" / f"{lesson}.csv").is_file())
#: Interview rounds, in the order of a typical loop (lesson 1).
ROUNDS = ("phone-screen", "coding", "system-design", "deep-dive", "behavioural")
DIFFICULTIES = ("easy", "medium", "hard")
COLUMNS = ("id", "lesson_id", "round", "difficulty", "question", "answer", "source")
MIN_PER_LESSON = 20


def load_bank() -> pd.DataFrame:
    """The whole bank, one row a question, with ``lesson_id``/``round``/``difficulty`` as ordered categories."""
    frame = pd.concat([tables.load(LESSON, f"bank/{lesson}") for lesson in LESSONS], ignore_index=True)
    frame["lesson_id"] = pd.Categorical(frame["lesson_id"].astype(str), categories=LESSONS, ordered=True)
    frame["round"] = pd.Categorical(frame["round"].astype(str), categories=ROUNDS, ordered=True)
    frame["difficulty"] = pd.Categorical(frame["difficulty"].astype(str), categories=DIFFICULTIES, ordered=True)
    return frame


def _lesson_numbers() -> dict[int, str]:
    course = tables.lessons()
    return {int(n): str(lesson) for n, lesson in zip(course["number"], course["lesson_id"]) if str(lesson) in LESSONS}


def _as_set(name: str, value, known: tuple[str, ...]) -> set[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, (str, int)) else list(value)
    out = set()
    for item in items:
        if name == "lesson" and isinstance(item, int) and not isinstance(item, bool):
            numbers = _lesson_numbers()
            if item not in numbers:
                raise ValueError(f"lesson {item} has no questions in the bank; lessons with questions: "
                                 f"{', '.join(map(str, sorted(numbers)))}")
            item = numbers[item]
        text = str(item).strip().lower().replace(" ", "-").replace("_", "-")
        if name == "round" and text == "behavioral":
            text = "behavioural"
        if text not in known:
            raise ValueError(f"unknown {name} {item!r}; choose among {', '.join(known)}")
        out.add(text)
    return out


def filter_bank(
    bank: pd.DataFrame | None = None,
    lesson: int | str | Iterable[int | str] | None = None,
    round: str | Iterable[str] | None = None,  # noqa: A002 - the tag's name
    difficulty: str | Iterable[str] | None = None,
    contains: str | None = None,
) -> pd.DataFrame:
    """Questions matching every given tag (each may be one value or several).

    ``lesson`` accepts numbers (``2``) or ids (``"02-gpu"``); ``contains`` searches
    question and answer text, case-insensitively. Unknown tags raise ``ValueError``
    rather than silently returning nothing.
    """
    frame = load_bank() if bank is None else bank
    mask = pd.Series(True, index=frame.index)
    for column, name, value, known in (
        ("lesson_id", "lesson", lesson, LESSONS),
        ("round", "round", round, ROUNDS),
        ("difficulty", "difficulty", difficulty, DIFFICULTIES),
    ):
        wanted = _as_set(name, value, known)
        if wanted is not None:
            mask &= frame[column].astype(str).isin(wanted)
    if contains:
        needle = contains.lower()
        text = (frame["question"].astype(str) + " " + frame["answer"].astype(str)).str.lower()
        mask &= text.str.contains(needle, regex=False)
    return frame[mask].reset_index(drop=True)


def problems(bank: pd.DataFrame, references: pd.DataFrame | None = None) -> list[str]:
    """Everything wrong with a bank, as sentences; an empty list means it is valid.

    Checks: the columns, unique ids, no duplicate question, known tags, a source
    key present in ``references`` (one key a row), non-empty answers, and at least
    :data:`MIN_PER_LESSON` questions for every lesson.
    """
    found = []
    missing = [c for c in COLUMNS if c not in bank.columns]
    if missing:
        return [f"missing columns: {', '.join(missing)}"]
    ids = bank["id"].astype(str)
    for dup in sorted(set(ids[ids.duplicated()])):
        found.append(f"id {dup} is used twice")
    norm = bank["question"].astype(str).str.lower().str.split().str.join(" ")
    for dup in sorted(set(norm[norm.duplicated()])):
        found.append(f"duplicate question: {dup!r}")
    for column, known in (("lesson_id", LESSONS), ("round", ROUNDS), ("difficulty", DIFFICULTIES)):
        values = bank[column].astype(str)
        for qid, value in zip(ids[~values.isin(known)], values[~values.isin(known)]):
            found.append(f"{qid}: unknown {column} {value!r}")
    for column in ("question", "answer"):
        empty = bank[column].isna() | (bank[column].astype(str).str.strip() == "")
        for qid in ids[empty]:
            found.append(f"{qid}: empty {column}")
    if references is not None:
        keys = set(references["key"].astype(str))
        for qid, key in zip(ids, bank["source"].astype(str)):
            if key not in keys:
                found.append(f"{qid}: source {key!r} is not in references.csv")
    counts = bank["lesson_id"].astype(str).value_counts()
    for lesson in LESSONS:
        if counts.get(lesson, 0) < MIN_PER_LESSON:
            found.append(f"lesson {lesson} has {counts.get(lesson, 0)} questions, fewer than {MIN_PER_LESSON}")
    return found


def file_problems(references: pd.DataFrame | None = None) -> dict[str, list[str]]:
    """Every ``bank/*.csv`` file present, checked on its own: ``{file name: problems}``.

    Beyond :func:`problems` (columns, ids, tags, sources, empty text), each row's ``lesson_id``
    must name the file's own lesson, and the file must belong to a lesson of the course.
    """
    refs = tables.references(LESSON) if references is None else references
    known = set(tables.lessons()["lesson_id"].astype(str))
    found: dict[str, list[str]] = {}
    for path in sorted((tables.DATA_DIR / LESSON / "bank").glob("*.csv")):
        frame = tables.load(LESSON, f"bank/{path.stem}")
        issues = [p for p in problems(frame, refs) if "fewer than" not in p]
        if path.stem not in known:
            issues.append(f"{path.name} is not named after a lesson of the course")
        if "lesson_id" in frame.columns:
            wrong = frame.loc[frame["lesson_id"].astype(str) != path.stem, "id"].astype(str)
            issues += [f"{qid}: lesson_id is not {path.stem}" for qid in wrong]
        found[path.name] = issues
    return found


def levels(bank: pd.DataFrame) -> pd.DataFrame:
    """Questions per lesson with the share that is hard: ``lesson_id, questions, hard, hard_share``."""
    lesson = bank["lesson_id"].astype(str)
    table = pd.DataFrame({"questions": lesson.value_counts(),
                          "hard": lesson[bank["difficulty"].astype(str) == "hard"].value_counts()})
    table = table.reindex(list(LESSONS), fill_value=0).fillna(0).astype(int)
    table["hard_share"] = table["hard"] / table["questions"].where(table["questions"] > 0)
    return table.rename_axis("lesson_id").reset_index()


def coverage(bank: pd.DataFrame, by: str = "round") -> pd.DataFrame:
    """Question counts: one row a lesson, one column per value of ``by`` (``round`` or ``difficulty``)."""
    if by not in ("round", "difficulty"):
        raise ValueError("by must be 'round' or 'difficulty'")
    table = pd.crosstab(bank["lesson_id"].astype(str), bank[by].astype(str))
    order = ROUNDS if by == "round" else DIFFICULTIES
    return table.reindex(index=list(LESSONS), columns=list(order), fill_value=0)
