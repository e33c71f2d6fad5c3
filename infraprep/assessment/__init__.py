"""Graded work: per-student variants of the questions, answer checks, and the learner's own grader.

- ``variants``   who the student is, and the inputs, option orders and hidden cases drawn for them
"""
