"""AI Infrastructure Interview Prep: the course package.

Lecture notebooks and graded assignments call into this package; they hold no logic of their
own. The modules, by what they are for:

Teaching
- ``tables``      course tables (CSV in ``infraprep/data/<lesson>/``) as typed DataFrames
- ``estimates``   every formula the lessons use, with units and sources (one module a topic)
- ``charts``      figures that teach, one module a lesson
- ``widgets``     ipywidgets practice, calculators and explorers
- ``labs``        real measurements and small models built on the learner's machine
- ``practice``    question bank, spaced repetition, mock interviews
- ``display``     references lists and tables with numbers written as people write them
- ``formatting``  ``fmt``: thousands separators, a few significant figures, no ``e+03``
- ``userdata``    the learner's progress folder (``~/.infraprep``) and crash-safe JSON files

Readers of real tools' formats (what the labs and graded tasks parse)
- ``manifests``   Kubernetes manifests and Slurm batch scripts, with a bounded YAML loader
- ``parsers``     nccl-tests, perftest, ibstat, nvidia-smi and other command output
- ``terraform``   the subset of Terraform's HCL the course's artefacts use

Graded work
- ``assessment``  per-student variants, delegation checks, and ``infraprep check`` (the self-check)
- ``checking``    the answer checks hidden tests call, judged in the grader's process
- ``grading``     the instructor's side over nbgrader: sandboxed autograde, feedback, cohorts

Running it
- ``cli``         the ``infraprep`` command
- ``hub``         a cohort's JupyterHub (``infraprep hub ...``)
"""

__version__ = "0.1.0"
