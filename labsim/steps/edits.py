"""Line edits of configuration files, the way a student does them with vi: uncomment, comment out,
add below an anchor line, or change a line. Each edit is data; applying one twice changes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Op = Literal["uncomment", "comment", "add_below", "replace"]


@dataclass(frozen=True)
class LineEdit:
    """One edit of one file.

    ``anchor`` is the stock line acted on (a regular expression when ``anchor_regex``); ``value`` the
    line the edit leaves active ("key = value", placeholders like {fqdn} filled from the lab). For
    "comment", ``value`` is the active line that must no longer be active.
    """

    path: str
    op: Op
    anchor: str
    value: str
    anchor_regex: bool = False

    def render(self, context: dict[str, str]) -> "LineEdit":
        """The edit with the lab's values (hostname, subnet) filled in."""
        return LineEdit(self.path, self.op, self.anchor, self.value.format(**context), self.anchor_regex)

    @property
    def key(self) -> str:
        return _split(self.value)[0]

    @property
    def wanted(self) -> str:
        return _normal(self.value)


_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def _split(line: str) -> tuple[str, str]:
    match = _ASSIGN.match(line)
    return (match.group(1), match.group(2)) if match else ("", "")


def _normal(line: str) -> str:
    """`key=a,b` and `key = a, b` compare equal."""
    key, value = _split(line)
    if not key:
        return line.strip()
    value = re.sub(r"\s*,\s*", ", ", value)
    value = re.sub(r"\s+", " ", value)
    return f"{key} = {value}"


def _active_for_key(lines: list[str], key: str) -> list[int]:
    return [i for i, line in enumerate(lines) if not line.lstrip().startswith("#") and _split(line)[0] == key]


def _find_anchor(lines: list[str], edit: LineEdit) -> int | None:
    for i, line in enumerate(lines):
        text = line.rstrip()
        if edit.anchor_regex:
            if re.fullmatch(edit.anchor, text):
                return i
        elif text == edit.anchor.rstrip():
            return i
    return None


@dataclass(frozen=True)
class EditState:
    """Whether an edit is in place in a file's text, and if not, what to do, in the student's terms."""

    done: bool
    problem: str = ""
    fix: str = ""


def edit_state(text: str, edit: LineEdit) -> EditState:
    """Is ``edit`` in effect in ``text``? (For Postfix/Dovecot the last active line of a key wins.)"""
    lines = text.splitlines()
    active = _active_for_key(lines, edit.key)
    if edit.op == "comment":
        still = [i for i in active if _normal(lines[i]) == edit.wanted]
        if still:
            return EditState(False, f"line {still[-1] + 1} `{lines[still[-1]].strip()}` is still active",
                             f"comment it out: put '#' in front of line {still[-1] + 1} of {edit.path}")
        return EditState(True)
    if edit.op == "uncomment":
        # The line itself is what the step asks for; a competing active line is its sibling "comment" edit's job.
        if any(_normal(lines[i]) == edit.wanted for i in active):
            return EditState(True)
        anchor = _find_anchor(lines, edit)
        where = f" (line {anchor + 1})" if anchor is not None else ""
        return EditState(False, f"`{edit.value}` is still commented out{where}", f"remove the '#' of `#{edit.value}` in {edit.path}")
    if active and _normal(lines[active[-1]]) == edit.wanted:
        return EditState(True)
    if active:
        i = active[-1]
        return EditState(False, f"line {i + 1} reads `{lines[i].strip()}`",
                         f"make line {i + 1} of {edit.path} read `{edit.value}`")
    anchor = _find_anchor(lines, edit)
    where = f" (line {anchor + 1})" if anchor is not None else ""
    if edit.op == "add_below":
        return EditState(False, f"no `{edit.key} = ...` line", f"add `{edit.value}` below `{edit.anchor.strip()}`{where} in {edit.path}")
    return EditState(False, f"no active `{edit.key}` line", f"change `{lines[anchor].strip() if anchor is not None else edit.anchor}`{where} to `{edit.value}` in {edit.path}")


def apply_edit(text: str, edit: LineEdit) -> tuple[str, bool]:
    """Apply ``edit`` to ``text`` as a student would; returns (new text, whether anything changed)."""
    if edit_state(text, edit).done:
        return text, False
    trailing_newline = text.endswith("\n")
    lines = text.splitlines()
    active = _active_for_key(lines, edit.key)
    if edit.op == "comment":
        for i in active:
            if _normal(lines[i]) == edit.wanted:
                lines[i] = "#" + lines[i]
    elif edit.op == "uncomment":
        anchor = _find_anchor(lines, edit)
        if anchor is None:
            commented = [i for i, line in enumerate(lines) if _normal(line.lstrip().lstrip("#")) == edit.wanted]
            anchor = commented[0] if commented else None
        if anchor is not None:
            lines[anchor] = edit.value
        elif active:
            lines.insert(active[-1] + 1, edit.value)
        else:
            lines.append(edit.value)
    elif active:
        # Somebody already set this key to something else: change that line, do not add a second one.
        lines[active[-1]] = edit.value
    else:
        anchor = _find_anchor(lines, edit)
        if anchor is None:
            lines.append(edit.value)
        elif edit.op == "replace":
            lines[anchor] = edit.value
        else:  # add_below
            lines.insert(anchor + 1, edit.value)
    result = "\n".join(lines) + ("\n" if trailing_newline else "")
    return result, result != text
