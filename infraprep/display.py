"""Small display helpers for lecture notebooks: references lists and tidy tables."""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown

from . import tables


def references_markdown(lesson: str) -> str:
    """The lesson's references as a Markdown list: ``[key] title, publisher (accessed date). url``."""
    refs = tables.references(lesson)
    lines = []
    for row in refs.itertuples(index=False):
        accessed = f", accessed {row.accessed}" if isinstance(row.accessed, str) and row.accessed else ""
        lines.append(f"- **[{row.key}]** {row.title}, {row.publisher}{accessed}. <{row.url}>")
    return "\n".join(lines)


def references(lesson: str) -> Markdown:
    """Render the lesson's references in a notebook."""
    return Markdown(references_markdown(lesson))


def show_table(frame: pd.DataFrame, hide: tuple[str, ...] = ("source",)):
    """A table ready to show: index hidden, bookkeeping columns (``source``) dropped, numbers written
    as people write them (:func:`infraprep.formatting.fmt`; years and dates without separators)."""
    from .formatting import fmt

    shown = frame.drop(columns=[c for c in hide if c in frame.columns])
    styler = shown.style.hide(axis="index")
    for column in shown.columns:
        if pd.api.types.is_numeric_dtype(shown[column]) and not pd.api.types.is_bool_dtype(shown[column]):
            plain = any(word in str(column).lower() for word in ("year", "date", "_id"))
            styler = styler.format(lambda x, plain=plain: fmt(x, grouping=not plain), subset=[column])
    return styler
