"""Lesson 7's practice tools: the question bank, spaced-repetition flashcards,
Anki export, timed mock interviews and the 3 AM incident drill.

One idea a module:

- ``bank``        the tagged question bank (CSV) as a DataFrame, with a filter
- ``flashcards``  Leitner-box scheduling and saved progress
- ``anki``        export of the bank (or part of it) as an ``.apkg`` deck
- ``mock``        timed mock interviews, rubrics, saved self-scores and a model answer for every prompt
- ``incident``    the stalled 256-GPU job: its logs, the parsers that read them, and a generator of
                  fresh incidents (one per student in the graded assignment)

Widgets for these live in :mod:`infraprep.widgets.practice`, charts in
:mod:`infraprep.charts.practice`.
"""
