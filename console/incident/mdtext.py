"""Text for the postmortem's markdown and JSON: names and free text escaped
for a markdown line, every control character written out, JSON inert in a
terminal."""

from __future__ import annotations

import json
import re

from console.text import JSON_UNESCAPED, literal, one_line

# Control characters (C0, DEL, C1) and Unicode's bidi controls: the export is
# read with cat and less, where ESC ] 0 ; ... BEL retitles the terminal and
# U+202E reorders the line. Every markdown line goes through `visible`.
# What Markdown can read as syntax inside a line: a service called
# "pay_*api*" must not come out as "pay<em>api</em>". Names come from the
# fleet's labels; free text (notes, root cause) is the operator's own markdown.
_MARKDOWN = re.compile(r"[\\`*_\[\]()<>|~&]")


def visible(line: str) -> str:
    """One markdown line with every control character written as an escape,
    as the console shows it (console.text.literal): ESC as \\x1b, RLO as
    \\u202e. Backslashes are the pieces' business (`md_name`, `md_text`),
    so that these escapes stay unambiguous."""
    return literal(line, backslash=False)


def md_name(value) -> str:
    """A name (service, target, instance, actor) for a markdown line: every
    character Markdown reads as syntax backslash-escaped, a backslash too."""
    return _MARKDOWN.sub(r"\\\g<0>", str(value))


def md_text(value) -> str:
    """Free text for a markdown line: one line, its markdown kept, a
    backslash doubled (so a literal "\\x1b" never reads as an escape)."""
    return one_line(value).replace("\\", "\\\\")


def json_text(doc: dict) -> str:
    """`doc` as JSON, non-ASCII kept readable but DEL, C1 and bidi controls
    escaped like the C0 ones json already escapes: lossless, and inert in a
    terminal."""
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return JSON_UNESCAPED.sub(lambda m: f"\\u{ord(m[0]):04x}", text) + "\n"
