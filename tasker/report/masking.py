"""Secret masking by value (SPEC I.4, II.9.5).

The values of globals whose names look secret (or that are listed in
`SECRET_VARS=`) are replaced by `****` wherever they occur in a text: log
lines, the project summary, the JSON report and the state file, including
inside captured outputs. The command actually executed is never changed;
masking happens only at the recorders.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Iterator, Mapping, Optional, Pattern, Tuple

from tasker.record import field, record

MASK = "****"

SECRET_NAME = re.compile(
    r"^(?:(?:SECRET|MASK|HIDE|PASSWORD|TOKEN)_.*|.*_(?:PASSWORD|TOKEN|SECRET|KEY))\Z",
    re.IGNORECASE | re.DOTALL,
)


def is_secret_name(name: str, extra_names: Iterable[str] = ()) -> bool:
    """True when the global `name` holds a secret (pattern or explicitly listed);
    `SECRET_VARS`, the list of such names, is not one."""
    if name == "SECRET_VARS":
        return False
    return bool(SECRET_NAME.match(name)) or name in set(extra_names)


def split_secret_vars(value: str) -> Tuple[str, ...]:
    """Names listed in a `SECRET_VARS=A, B,C` global, blanks dropped."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


@record(frozen=True)
class Masker:
    """Replaces known secret values by `****`; immutable and safe to share between threads."""

    values: Tuple[str, ...] = ()
    _pattern: Optional[Pattern[str]] = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Longest first: regex alternation takes the first alternative that matches,
        # so a secret that contains another secret is masked whole.
        unique = sorted({v for v in self.values if v}, key=lambda v: (-len(v), v))
        object.__setattr__(self, "values", tuple(unique))
        if unique:
            pattern = re.compile("|".join(re.escape(v) for v in unique))
            object.__setattr__(self, "_pattern", pattern)

    @classmethod
    def from_globals(
        cls, globals_: Mapping[str, str], extra_names: Iterable[str] = ()
    ) -> "Masker":
        """Masker for the secret-named globals plus the globals named in `extra_names`."""
        extra = set(extra_names)
        secrets = [
            value
            for name, value in globals_.items()
            # SECRET_VARS matches the SECRET_ prefix, but its value lists names, not a
            # secret: masking it would hide those names wherever they are written
            if value and name != "SECRET_VARS" and (name in extra or SECRET_NAME.match(name))
        ]
        return cls(tuple(secrets))

    def __bool__(self) -> bool:
        """True when there is at least one secret to mask."""
        return self._pattern is not None

    def mask(self, text: str) -> str:
        """`text` with every secret value replaced by `****`."""
        pattern = self._pattern
        if pattern is None or not text:
            return text
        # Substring tests run in C and are much cheaper than a regex scan of a
        # large output; most texts contain no secret at all.
        for value in self.values:
            if value in text:
                return pattern.sub(MASK, text)
        return text

    def mask_chunks(self, parts: Iterable[str]) -> Iterator[str]:
        """A text given in pieces, masked exactly as `mask` masks it whole, a piece at a
        time: a secret across a border between pieces is masked too.

        The overlap: the last (longest secret - 1) characters of a piece wait for the
        next, since a secret starting there may end in it; a secret starting before
        them lies inside what has been read, so it is decided as on the whole text.
        """
        pattern = self._pattern
        if pattern is None:
            yield from parts
            return
        keep = len(self.values[0]) - 1  # (values are sorted longest first)
        pending = ""
        for part in parts:
            window = pending + part
            limit = len(window) - keep  # a match starting before this is whole in `window`
            done, pos = [], 0
            # (substring tests in C first: most pieces hold no secret at all)
            found = any(value in window for value in self.values)
            for match in pattern.finditer(window) if found else ():
                if match.start() >= limit:
                    break
                done += [window[pos:match.start()], MASK]
                pos = match.end()
            end = max(pos, limit)
            done.append(window[pos:end])
            pending = window[end:]
            text = "".join(done)
            if text:
                yield text
        if pending:
            yield self.mask(pending)

    def mask_truncated(self, text: str) -> str:
        """`text`, the beginning of a longer whole, masked: a secret that the cut went
        through is masked too, by the part of it that `text` ends with."""
        masked = self.mask(text)
        if self._pattern is None or not masked:
            return masked
        for value in self.values:  # (longest first)
            for size in range(min(len(value) - 1, len(masked)), 0, -1):
                if masked.endswith(value[:size]):
                    return masked[:-size] + MASK
        return masked

    def mask_stored(self, text: str, cut: Optional[int]) -> str:
        """A stored stream masked; `cut` is where it was cut from a longer whole (None: it
        is whole), the text after it (notes tasker added) is masked on its own."""
        return self.mask_stored_at(text, cut)[0]

    def mask_stored_at(self, text: str, cut: Optional[int]) -> Tuple[str, Optional[int]]:
        """`mask_stored`, and where the cut is in the masked text (None: it is whole)."""
        if cut is None:
            return self.mask(text), None
        head = self.mask_truncated(text[:cut])
        return head + self.mask(text[cut:]), len(head)

    def mask_data(self, data: Any) -> Any:
        """Copy of a JSON-like structure with every string value masked (keys kept)."""
        if self._pattern is None:
            return data
        if isinstance(data, str):
            return self.mask(data)
        if isinstance(data, dict):
            return {key: self.mask_data(value) for key, value in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.mask_data(value) for value in data]
        return data


NO_SECRETS = Masker()
