"""A practice self-check quiz with instant feedback (ungraded; answers revealed after an attempt).

Questions come from a lesson's ``practice.csv`` with columns
``question, a, b, c, d, answer, explanation`` (``d`` may be empty for three options).
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import pandas as pd

from .. import tables


@dataclass(frozen=True)
class Question:
    text: str
    options: dict[str, str]
    answer: str
    explanation: str


def questions_from_table(frame: pd.DataFrame) -> list[Question]:
    """Turn a practice table into questions, checking that each answer is one of its options."""
    out = []
    for number, row in enumerate(frame.itertuples(index=False), start=1):
        options = {
            letter.upper(): str(getattr(row, letter))
            for letter in "abcd"
            if letter in frame.columns and not pd.isna(getattr(row, letter)) and str(getattr(row, letter)).strip()
        }
        answer = str(row.answer).strip().upper()
        if answer not in options:
            raise ValueError(f"practice question {number}: answer {answer!r} is not one of {sorted(options)}")
        out.append(Question(str(row.question), options, answer, str(row.explanation)))
    return out


class PracticeQuiz:
    """Multiple-choice self-check. Pick an option, press *Check*, read why.

    >>> quiz = PracticeQuiz.for_lesson("01-roles")
    >>> quiz.choose(0, quiz.questions[0].answer); quiz.check(0)
    True
    """

    def __init__(self, questions: list[Question], title: str = "Practice: check yourself"):
        if not questions:
            raise ValueError("a practice quiz needs at least one question")
        self.questions = questions
        self.results: dict[int, bool] = {}
        self._pickers: list[widgets.RadioButtons] = []
        self._feedback: list[widgets.HTML] = []
        rows = []
        for index, question in enumerate(questions):
            picker = widgets.RadioButtons(
                options=[(f"{k}. {v}", k) for k, v in question.options.items()],
                value=None,
                layout=widgets.Layout(width="auto"),
            )
            button = widgets.Button(description="Check", button_style="primary", icon="check")
            feedback = widgets.HTML()
            button.on_click(lambda _b, i=index: self.check(i))
            self._pickers.append(picker)
            self._feedback.append(feedback)
            rows.append(widgets.VBox([
                widgets.HTML(f"<b>{index + 1}. {question.text}</b>"), picker, button, feedback,
            ], layout=widgets.Layout(margin="0 0 12px 0")))
        self._score = widgets.HTML()
        self._update_score()
        self.widget = widgets.VBox([widgets.HTML(f"<h4>{title}</h4>"), *rows, self._score])

    @classmethod
    def for_lesson(cls, lesson: str, table: str = "practice", **kwargs) -> "PracticeQuiz":
        return cls(questions_from_table(tables.load(lesson, table)), **kwargs)

    def choose(self, index: int, letter: str) -> None:
        self._pickers[index].value = letter.upper()

    def check(self, index: int) -> bool | None:
        """Grade question ``index``; show feedback and the explanation. Returns None if nothing picked."""
        question, picked = self.questions[index], self._pickers[index].value
        if picked is None:
            self._feedback[index].value = "<span style='color:#a15c00'>Pick an option first.</span>"
            return None
        correct = picked == question.answer
        self.results[index] = correct
        if correct:
            verdict = "<span style='color:#1a7f37'>&#10004; Correct.</span>"
        else:
            verdict = (f"<span style='color:#cf222e'>&#10008; Not quite: the answer is "
                       f"{question.answer}.</span>")
        self._feedback[index].value = f"{verdict} {question.explanation}"
        self._update_score()
        return correct

    def feedback(self, index: int) -> str:
        return self._feedback[index].value

    @property
    def score(self) -> tuple[int, int]:
        return sum(self.results.values()), len(self.questions)

    def _update_score(self) -> None:
        right, total = self.score
        self._score.value = f"<i>Score so far: {right} / {total} (attempted {len(self.results)})</i>"

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
