"""Lesson 7 widgets: spaced-repetition flashcards, a timed mock interview and the 3 AM incident drill.

Each class has a ``.widget`` to display and plain methods (``reveal``, ``mark``,
``start``, ``save``, ``pick``...) that tests and notebook cells can call directly.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from datetime import date, datetime

import ipywidgets as widgets
import pandas as pd

from ..practice import bank as bank_module
from ..practice import incident as incident_module
from ..practice.flashcards import CardState, FlashcardProgress
from ..practice.mock import MockResults, MockSession, ModelAnswer, load_prompts, model_answer

__all__ = ["FlashcardWidget", "MockInterviewWidget", "IncidentDrill"]

_GREEN, _RED, _AMBER = "#1a7f37", "#cf222e", "#a15c00"


class _Displayable:
    widget: widgets.Widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


# --------------------------------------------------------------------------- flashcards
class FlashcardWidget(_Displayable):
    """Study the bank with Leitner boxes. Read the question, *Show answer*, then *I knew it* or *I missed it*.

    ``questions`` defaults to the whole bank (pass ``bank.filter_bank(...)`` to focus);
    progress is saved to ``path`` (default ``~/.infraprep/flashcards.json``) after every answer.
    """

    def __init__(
        self,
        questions: pd.DataFrame | None = None,
        path=None,
        today: date | Callable[[], date] | None = None,
        new_per_session: int = 20,
        progress: FlashcardProgress | None = None,
    ):
        frame = bank_module.load_bank() if questions is None else questions
        self.questions = frame.assign(id=frame["id"].astype(str)).set_index("id", drop=False)
        self.progress = progress or FlashcardProgress(path, today=today)
        self.queue: list[str] = self.progress.due(self.questions.index, new_limit=new_per_session)
        self.revealed = False
        self.session = {"known": 0, "missed": 0}

        self._tags = widgets.HTML()
        self._question = widgets.HTML()
        self._answer = widgets.HTML()
        self._status = widgets.HTML()
        self._show = widgets.Button(description="Show answer", icon="eye", button_style="primary")
        self._knew = widgets.Button(description="I knew it", icon="check", button_style="success")
        self._missed = widgets.Button(description="I missed it", icon="times", button_style="danger")
        self._show.on_click(lambda _b: self.reveal())
        self._knew.on_click(lambda _b: self.mark(True))
        self._missed.on_click(lambda _b: self.mark(False))
        card = widgets.VBox([self._tags, self._question, self._answer],
                            layout=widgets.Layout(border="1px solid #ccc", padding="8px 12px", min_height="120px"))
        self.widget = widgets.VBox([widgets.HTML("<h4>Flashcards (Leitner boxes: 1, 2, 4, 8, 16 days)</h4>"), card,
                                    widgets.HBox([self._show, self._knew, self._missed]), self._status])
        self._render()

    def current(self) -> str | None:
        """Id of the card on screen, or None when nothing is due."""
        return self.queue[0] if self.queue else None

    def reveal(self) -> str | None:
        """Show (and return) the answer of the current card."""
        card = self.current()
        if card is None:
            return None
        self.revealed = True
        self._render()
        return str(self.questions.loc[card, "answer"])

    def mark(self, known: bool) -> CardState | None:
        """Record the current card as known or missed, save, and move to the next card."""
        card = self.current()
        if card is None:
            return None
        state = self.progress.review(card, known)
        self.session["known" if known else "missed"] += 1
        self.queue.pop(0)
        self.revealed = False
        self._render()
        return state

    def box_counts(self) -> pd.Series:
        return self.progress.box_counts(self.questions.index)

    def _render(self) -> None:
        card = self.current()
        done = f"{self.session['known']} known, {self.session['missed']} missed this session"
        if card is None:
            self._tags.value = ""
            self._question.value = "<b>Nothing due.</b> Come back tomorrow, or widen the filter."
            self._answer.value = ""
            for button in (self._show, self._knew, self._missed):
                button.disabled = True
        else:
            row = self.questions.loc[card]
            state = self.progress.state(card)
            where = "new card" if state.is_new else f"box {state.box}"
            self._tags.value = (f"<small style='color:#777'>{row['lesson_id']} · {row['round']} · {row['difficulty']}"
                                f" · {where} · {card}</small>")
            self._question.value = f"<p style='font-size:1.1em'><b>{html.escape(str(row['question']))}</b></p>"
            self._answer.value = (f"<p style='color:#1f4e8c'>{html.escape(str(row['answer']))}</p>" if self.revealed
                                  else "<p style='color:#999'><i>Think of your answer, then show it.</i></p>")
            self._show.disabled = self.revealed
            self._knew.disabled = self._missed.disabled = not self.revealed
        counts = self.box_counts()
        boxes = " · ".join(f"{k}: {v}" for k, v in counts.items())
        self._status.value = (f"<small>{len(self.queue)} due now · {done}<br>{boxes}<br>"
                              f"saved to <code>{html.escape(str(self.progress.path))}</code></small>")


# --------------------------------------------------------------------------- mock interview
class MockInterviewWidget(_Displayable):
    """Pick a round and a prompt, start the clock, answer out loud, tick the rubric, save; then read
    the model answer, which opens only once the timer has ended (time ran out, or you pressed
    *End interview* or *Save score*), so it cannot be read before or during the attempt.

    ``clock`` (seconds) and ``now`` (a datetime) are injectable; the countdown label is
    refreshed every second by an ipywidgets ``Play`` ticker in the browser.
    """

    def __init__(self, path=None, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = datetime.now, results: MockResults | None = None):
        self.results = results or MockResults(path)
        self.clock, self.now = clock, now
        self.prompts = load_prompts()
        self.session: MockSession | None = None
        rounds = [r for r in bank_module.ROUNDS if r in set(self.prompts["round"])]
        self._round = widgets.Dropdown(options=rounds, value=rounds[0], description="Round")
        self._prompt = widgets.Dropdown(description="Prompt", layout=widgets.Layout(width="420px"))
        self._start = widgets.Button(description="Start", icon="play", button_style="primary")
        self._save = widgets.Button(description="Save score", icon="save", button_style="success", disabled=True)
        self._end = widgets.Button(description="End interview", icon="stop", disabled=True)
        self._reveal = widgets.Button(description="Show model answer", icon="book", disabled=True,
                                      layout=widgets.Layout(width="180px"))
        self._answer = widgets.HTML()
        self._text = widgets.HTML()
        self._timer = widgets.HTML("<span style='font-size:1.6em'>--:--</span>")
        self._ticker = widgets.Play(interval=1000, min=0, max=10**7, show_repeat=False,
                                    layout=widgets.Layout(display="none"))
        self._rubric = widgets.VBox()
        self._status = widgets.HTML()
        self._round.observe(lambda change: self.choose_round(change["new"]), names="value")
        self._prompt.observe(lambda change: change["new"] and self.choose_prompt(change["new"]), names="value")
        self._start.on_click(lambda _b: self.start())
        self._save.on_click(lambda _b: self.save())
        self._end.on_click(lambda _b: self.end())
        self._reveal.on_click(lambda _b: self.show_model_answer())
        self._ticker.observe(lambda _c: self.tick(), names="value")
        self.widget = widgets.VBox([widgets.HTML("<h4>Mock interview</h4>"),
                                    widgets.HBox([self._round, self._prompt]), self._text,
                                    widgets.HBox([self._start, self._end, self._timer, self._ticker]),
                                    widgets.HTML("<b>Rubric: tick what you did</b>"), self._rubric,
                                    widgets.HBox([self._save, self._reveal]), self._status, self._answer])
        self.choose_round(rounds[0])

    def choose_round(self, round_: str) -> list[str]:
        options = self.prompts[self.prompts["round"] == round_]
        self._prompt.options = [(str(r.title), str(r.prompt_id)) for r in options.itertuples(index=False)]
        first = str(options["prompt_id"].iloc[0])
        self._prompt.value = first
        self.choose_prompt(first)
        return list(options["prompt_id"].astype(str))

    def choose_prompt(self, prompt_id: str) -> MockSession:
        self.session = MockSession(prompt_id, clock=self.clock, now=self.now)
        self._text.value = (f"<p><b>{html.escape(self.session.title)}</b> ({self.session.minutes:g} min)<br>"
                            f"{html.escape(self.session.prompt)}</p>")
        boxes = []
        for row in self.session.rubric.itertuples(index=False):
            box = widgets.Checkbox(value=False, description=str(row.criterion), indent=False,
                                   layout=widgets.Layout(width="auto"))
            box.observe(lambda change, item=str(row.item): self.toggle(item, change["new"]), names="value")
            boxes.append(box)
        self._rubric.children = boxes
        self._save.disabled = True
        self._end.disabled = True
        self._reveal.disabled = True
        self._answer.value = ""
        self._ticker.playing = False
        self._timer.value = f"<span style='font-size:1.6em'>{self.session.countdown.display()}</span>"
        return self.session

    def start(self) -> None:
        self.session.start()
        self._save.disabled = False
        self._end.disabled = False
        self._reveal.disabled = True
        self._answer.value = ""
        self._ticker.value = 0
        self._ticker.playing = True
        self.tick()

    @property
    def answer_available(self) -> bool:
        """The model answer can be read: this prompt's timer was started and has ended."""
        return self.session.countdown.ended

    def end(self) -> None:
        """End the attempt before time is up (the clock stops; the model answer opens)."""
        self.session.countdown.stop()
        self._ticker.playing = False
        self._end.disabled = True
        self.tick()

    def show_model_answer(self) -> ModelAnswer | None:
        """Show and return the prompt's model answer once the timer has ended; before that, None."""
        if not self.answer_available:
            self._answer.value = (f"<span style='color:{_AMBER}'>The model answer opens when the timer ends: start the "
                                  "interview, answer, then end it or let the time run out.</span>")
            return None
        answer = model_answer(self.session.prompt_id)
        self._answer.value = (f"<div style='border-left:3px solid #1f4e8c;padding:4px 12px;max-width:60em'>"
                              f"{answer.html()}</div>")
        return answer

    def tick(self) -> str:
        """Refresh the countdown label; returns its text (``MM:SS`` or ``+MM:SS`` over time)."""
        shown = self.session.countdown.display()
        colour = _RED if self.session.countdown.expired else (_AMBER if self.session.countdown.remaining() < 300 else "#000")
        self._timer.value = f"<span style='font-size:1.6em;color:{colour}'>&nbsp;{shown}</span>"
        self._reveal.disabled = not self.answer_available
        return shown

    def toggle(self, item: str, done: bool) -> None:
        self.session.check(item, done)
        got, total = self.session.score
        self._status.value = f"<small>{got} / {total} rubric items</small>"

    def save(self) -> dict:
        """Stop the clock and append this session's score to the results file."""
        self._ticker.playing = False
        record = self.results.add(self.session)
        self._save.disabled = True
        self._end.disabled = True
        self._reveal.disabled = not self.answer_available
        self._status.value = (f"<span style='color:{_GREEN}'>Saved: {record['score']} / {record['max_score']} in "
                              f"{record['minutes_used']:g} min.</span> <small>{html.escape(str(self.results.path))}</small>")
        return record


# --------------------------------------------------------------------------- incident drill
def _excerpt(text: str, head: int = 14, tail: int = 8) -> str:
    lines = text.splitlines()
    if len(lines) <= head + tail + 1:
        return "\n".join(lines)
    return "\n".join(lines[:head] + [f"... ({len(lines) - head - tail} more lines) ..."] + lines[-tail:])


class IncidentDrill(_Displayable):
    """The 3 AM incident, one step at a time: read the artefact, pick an answer, reveal."""

    def __init__(self, steps: pd.DataFrame | None = None):
        self.steps = incident_module.load_steps() if steps is None else steps
        self.picks: dict[int, str] = {}
        self.results: dict[int, bool] = {}
        self._pickers, self._feedback, rows = {}, {}, []
        for row in self.steps.itertuples(index=False):
            step = int(row.step)
            name = str(row.artefact).split("/", 1)[-1]
            log = widgets.HTML(f"<pre style='font-size:11px;line-height:1.25;white-space:pre;overflow-x:auto'>"
                               f"{html.escape(_excerpt(incident_module.read(name)))}</pre>")
            shown = widgets.Accordion(children=[log], titles=(f"{name} (excerpt)",), selected_index=None)
            options = [(f"{k.upper()}. {getattr(row, k)}", k.upper()) for k in "abcd"
                       if isinstance(getattr(row, k), str) and getattr(row, k).strip()]
            picker = widgets.RadioButtons(options=options, value=None, layout=widgets.Layout(width="auto"))
            picker.observe(lambda change, s=step: change["new"] and self.pick(s, change["new"]), names="value")
            button = widgets.Button(description="Reveal", icon="search")
            button.on_click(lambda _b, s=step: self.reveal(s))
            feedback = widgets.HTML()
            self._pickers[step], self._feedback[step] = picker, feedback
            rows.append(widgets.VBox([widgets.HTML(f"<b>Step {step}.</b> {html.escape(str(row.question))}"),
                                      shown, picker, button, feedback], layout=widgets.Layout(margin="0 0 14px 0")))
        self.widget = widgets.VBox([widgets.HTML("<h4>3 AM incident: the stalled 256-GPU job</h4>"), *rows])

    def _row(self, step: int):
        match = self.steps[self.steps["step"] == step]
        if match.empty:
            raise ValueError(f"no step {step}; steps are {', '.join(map(str, self.steps['step']))}")
        return match.iloc[0]

    def question(self, step: int) -> str:
        row = self._row(step)
        options = "\n".join(f"  {k.upper()}. {row[k]}" for k in "abcd" if isinstance(row[k], str) and row[k].strip())
        return f"Step {step}. {row['question']}\n{options}"

    def pick(self, step: int, letter: str) -> None:
        letter = str(letter).strip().upper()
        row = self._row(step)
        if letter not in [k.upper() for k in "abcd" if isinstance(row[k], str) and row[k].strip()]:
            raise ValueError(f"pick one of the step's letters, got {letter!r}")
        self.picks[step] = letter
        if self._pickers[step].value != letter:
            self._pickers[step].value = letter

    def reveal(self, step: int) -> str:
        """Compare the pick with the answer and return (and show) the explanation."""
        row = self._row(step)
        picked = self.picks.get(step)
        answer = str(row["answer"]).upper()
        if picked is None:
            text = "Pick a letter first, then reveal: the answer stays hidden until you commit."
            self._feedback[step].value = f"<span style='color:{_AMBER}'>{text}</span>"
            return text
        if picked == answer:
            verdict = "Right."
            self.results[step] = True
        else:
            verdict = f"Not quite: you picked {picked}, the answer is {answer}."
            self.results[step] = False
        text = f"{verdict} {row['explanation']}"
        colour = _GREEN if self.results.get(step) else _RED
        self._feedback[step].value = f"<span style='color:{colour}'>{html.escape(text)}</span>"
        return text

    def answer(self, step: int, letter: str | None) -> str:
        """Notebook shortcut: record ``letter`` (if any) for ``step`` and reveal."""
        if letter:
            self.pick(step, letter)
        return self.reveal(step)

    @property
    def score(self) -> tuple[int, int]:
        return sum(self.results.values()), len(self.steps)
