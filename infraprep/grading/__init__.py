"""The instructor's side, built on nbgrader: every student's notebook graded in a sandbox by the grader's
own verdict, leak-free feedback, and cohorts that run themselves.

- grading a notebook: ``judge`` (the course's Execute; the verdict owns the test cells' outputs),
  ``judgeproc`` (the judge's own bounded process), ``kernelcodec`` (what crosses from the kernel),
  ``cells``, ``tracebacks``, ``fastpaths``, ``preprocessors``
- integrity: ``sanitize``, ``tamper``, ``flags``, ``escape``
- isolation: ``sandbox`` and ``stage`` (bubblewrap), ``zygote`` (inside the sandbox), ``forkserver`` and
  ``forkkernel`` (the host side), ``limits`` (a kernel's cgroup), ``executors`` (where kernels come from)
- a cohort's grading: ``course``, ``coordinator`` (parallel autograde), ``safecollect``, ``exchange``,
  ``feedback``, ``watch`` (grading on submit), ``lock`` (one gradebook writer), ``roster``, ``cohort``
- what an instructor reads: ``report``, ``analytics``, ``similarity``, ``export``
- playing a cohort: ``simulate``, ``demo``
"""
