"""pandas adapters: one internal panel form, conversion in and out, validation."""

from tsssm.data.frame import (
    detect_form,
    future_exog,
    make_output,
    to_long,
    to_pandas,
    to_panel,
    to_update_panel,
)
from tsssm.data.panel import FormSpec, Panel, TimeAxis

__all__ = [
    "FormSpec",
    "Panel",
    "TimeAxis",
    "detect_form",
    "future_exog",
    "make_output",
    "to_long",
    "to_pandas",
    "to_panel",
    "to_update_panel",
]
