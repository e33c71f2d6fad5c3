"""Instructor-side tools built on nbgrader: preprocessors, and (later) the cohort workflow."""
