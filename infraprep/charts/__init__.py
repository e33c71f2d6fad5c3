"""Figures that teach: one module a lesson, each function returns a matplotlib Figure.

Functions take DataFrames (from :mod:`infraprep.tables`) or numbers and never
call ``plt.show()``; a notebook displays the returned figure. Shared styling
(dollar axes, range bars) lives in :mod:`infraprep.charts.style`.
"""
