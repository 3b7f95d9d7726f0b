"""mkdocs hook: the site's home page is the README, with its links rewritten for the site.

Links into `docs/` become site-relative; links to other repository files (LICENSE,
CHANGELOG.md, ...) become plain text, since the site does not carry them.
"""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LINK = re.compile(r"\[([^\]]+)\]\((?!https?://|#)([^)]+)\)")


def readme_for_site(text):
    """README markdown with repository-relative links adapted to the docs site."""

    def fix(m):
        label, target = m.group(1), m.group(2)
        if target.startswith("docs/"):
            return f"[{label}]({target[len('docs/') :]})"
        return label if label.startswith("`") else f"{label} (`{target}` in the repository)"

    return _LINK.sub(fix, text)


def on_page_markdown(markdown, page, **kwargs):
    if page.file.src_uri != "index.md":
        return markdown
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return readme_for_site(f.read())
