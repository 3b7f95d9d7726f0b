"""Griffe extension for the API reference: keras_mot docstrings title their doctest section
"Example:", which Google-style parsing renders as a note; this renames it "Examples:" so the
`>>>` lines render as code.
"""

import re

import griffe

_HEADING = re.compile(r"^(\s*)Example:\s*$", re.M)


class ExampleSections(griffe.Extension):
    """Renames `Example:` docstring sections to `Examples:` when objects are loaded."""

    def on_instance(self, *, node, obj, agent, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)
