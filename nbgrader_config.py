"""nbgrader configuration of the AI Infrastructure Interview Prep course.

The course directory is this folder: ``source/`` (instructor versions),
``release/`` (student versions, generated and committed), ``submitted/``,
``autograded/`` and ``feedback/`` (nbgrader's working folders, git-ignored).

Environment overrides, for a shared server:
- ``INFRAPREP_EXCHANGE``: the nbgrader exchange folder (default: a folder in the
  user's home, so one person on a laptop needs no root).
- ``INFRAPREP_DB``: the gradebook URL (default: ``sqlite:///gradebook.db`` here).
- ``INFRAPREP_COURSE_ID``: the course id (default ``ai-infra-prep``).
"""

import os

from infraprep.grading import safefiles
from infraprep.grading.judge import JudgedExecute
from infraprep.grading.preprocessors import StripHiddenTests
from infraprep.grading.sanitize import SanitizeFeedback, SanitizeStudentContent
from infraprep.grading.tamper import RestoreGradedCells
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, GetGrades, IgnorePattern, LimitOutput,
    OverwriteCells, OverwriteKernelspec, SaveAutoGrades,
)

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

# nbgrader reads a submission's timestamp.txt, and copies its files, without following a link or
# opening a named pipe, and an unreadable time stamp is a warning, not a stopped command
# (infraprep/grading/safefiles.py)
safefiles.install()

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = os.environ.get("INFRAPREP_COURSE_ID", "ai-infra-prep")
c.CourseDirectory.db_url = os.environ.get("INFRAPREP_DB", "sqlite:///" + os.path.join(HERE, "gradebook.db"))
# what `infraprep check` leaves beside a learner's notebook never travels (source -> release, or in a submission)
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*-feedback.html", "*.round-*.ipynb"]

c.Exchange.root = os.environ.get(
    "INFRAPREP_EXCHANGE", os.path.join(os.path.expanduser("~"), ".local", "share", "infraprep", "exchange")
)
c.Exchange.path_includes_course = True
# Collect never follows a link a student left in the inbound, never takes one student's entry as
# another's, and never trusts a back-dated time stamp (infraprep/grading/safecollect.py).
c.ExchangeFactory.collect = "infraprep.grading.safecollect.SafeCollect"

# Student code: a runaway cell is stopped after this many seconds.
c.ExecutePreprocessor.timeout = 60
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
# A slow cell must not abort the whole notebook: wait longer for its last output and carry on.
c.Execute.iopub_timeout = 15
c.Execute.raise_on_iopub_timeout = False

# Tampered graded cells (deleted, stripped of metadata, duplicated, retyped, points changed) are put
# back from the gradebook and flagged for the report (infraprep/grading/tamper.py): nbgrader's list,
# with RestoreGradedCells first after the outputs are cleared.
c.Autograde.sanitize_preprocessors = [
    ClearOutput, RestoreGradedCells, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata,
]

# Every test cell is judged in the grader, never in the student's kernel, and its outputs are the
# judge's verdict (infraprep/grading/judge.py); then nothing the student made can run as script where
# the graded notebook is shown (infraprep/grading/sanitize.py). nbgrader's own list, with Execute replaced.
c.Autograde.autograde_preprocessors = [
    JudgedExecute, SanitizeStudentContent, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
    SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
]

# Generated student versions: an unanswered cell says so clearly.
c.ClearSolutions.code_stub = {
    "python": "# YOUR ANSWER HERE\nraise NotImplementedError(\"Not answered yet: replace this line with your answer\")"
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.GenerateAssignment.create_assignment = True

# Feedback never shows hidden tests, nor tracebacks that could quote them (jupyter/nbgrader#917).
c.GenerateFeedback.preprocessors = [GetGrades, StripHiddenTests, SanitizeFeedback, CSSHTMLHeaderPreprocessor]
