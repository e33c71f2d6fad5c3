"""AI Infrastructure Interview Prep: the course package.

Lecture notebooks and graded assignments call into this package; they hold no
logic of their own. Modules:

- ``tables``     course tables (CSV in ``infraprep/data/``) as typed DataFrames
- ``estimates``  every formula the lessons use, with units and sources
- ``charts``     figures that teach, one module a lesson
- ``widgets``    ipywidgets practice, calculators and explorers
- ``labs``       real measurements on the learner's machine
- ``practice``   question bank, spaced repetition, mock interviews
- ``checking``   answer checks used by the graded assignments
- ``grading``    instructor-side tools built on nbgrader
"""

__version__ = "0.1.0"
