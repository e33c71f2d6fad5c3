"""ipywidgets for the lecture notebooks: practice quizzes, calculators, explorers.

Each widget is a small class whose ``.widget`` attribute is the ipywidgets
object to display (``display(quiz.widget)`` or just ``quiz`` as the last line of
a cell), and whose logic is plain Python that tests can drive without a browser.
"""

from .quiz import PracticeQuiz

__all__ = ["PracticeQuiz"]
