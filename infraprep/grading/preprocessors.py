"""nbgrader preprocessors of this course; each does one job, the way nbgrader's own do."""

from __future__ import annotations

import re

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class StripHiddenTests(NbGraderPreprocessor):
    """Remove hidden-test regions and tracebacks from notebooks before feedback is rendered.

    nbgrader puts the instructor's test cells back before autograding and then
    shows them, hidden tests included, in feedback (jupyter/nbgrader#917). This
    preprocessor, run by ``GenerateFeedback``, deletes every line from
    ``BEGIN HIDDEN TESTS`` to ``END HIDDEN TESTS`` in every cell, and reduces
    every error output to its final ``Name: message`` line, so no line of a hidden
    test can reach a student through a traceback either.
    """

    begin_delimiter = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end_delimiter = Unicode("END HIDDEN TESTS").tag(config=True)
    placeholder = Unicode("# (hidden tests ran here; their code is not shown)").tag(config=True)

    def _strip_source(self, source: str) -> str:
        if self.begin_delimiter not in source:
            return source
        kept, hiding = [], False
        for line in source.splitlines():
            if self.begin_delimiter in line:
                hiding = True
                indent = line[: len(line) - len(line.lstrip())]
                kept.append(indent + self.placeholder)
            elif self.end_delimiter in line:
                hiding = False
            elif not hiding:
                kept.append(line)
        return "\n".join(kept)

    @staticmethod
    def _strip_error(output: NotebookNode) -> None:
        message = f"{output.get('ename', 'Error')}: {_ANSI.sub('', str(output.get('evalue', '')))}"
        output["traceback"] = [message]

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int):
        if cell.cell_type == "code":
            cell.source = self._strip_source(cell.source)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    self._strip_error(output)
        return cell, resources
