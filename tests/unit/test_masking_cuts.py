"""Property: masking comes before every cut, so no 4-character piece of a secret survives.

The cuts: a log line's 200 characters (Log.shorten), a stored result's beginning
(Masker.mask_truncated), a diagnostic's message and source-line window.
"""

import io

from hypothesis import given, settings, strategies as st

from tasker.report.logger import Log
from tasker.report.masking import Masker
from tasker.syntax.diagnostics import error

SECRETS = st.text(alphabet="abcdefghij0123456789", min_size=4, max_size=24)
FILLER = st.text(alphabet="abcdefghij0123456789 x\n", max_size=300)


def pieces(secret):
    return {secret[i:i + 4] for i in range(len(secret) - 3)}


@settings(max_examples=300, deadline=None)
@given(secret=SECRETS, before=FILLER, after=FILLER, limit=st.integers(1, 250))
def test_log_lines_mask_before_the_cut(secret, before, after, limit):
    masker = Masker((secret,))
    text = before + secret + after
    shown = Log(stream=io.StringIO(), masker=masker).shorten(text, limit)
    whole = masker.mask(text)
    for piece in pieces(secret):
        if piece in shown:  # only where the unmasked neighbours spell it themselves
            assert piece in whole


@settings(max_examples=300, deadline=None)
@given(secret=SECRETS, before=FILLER, after=FILLER, cut=st.integers(0, 700))
def test_a_stored_beginning_masks_the_secret_the_cut_goes_through(secret, before, after, cut):
    masker = Masker((secret,))
    whole = before + secret + after
    head = whole[:cut]
    shown = masker.mask_truncated(head)
    masked_whole = masker.mask(whole)
    for piece in pieces(secret):
        if piece in shown:
            assert piece in masked_whole  # spelled by the neighbours, not by the secret


@settings(max_examples=200, deadline=None)
@given(secret=SECRETS, before=st.text(alphabet="ab ", max_size=400),
       after=st.text(alphabet="ab ", max_size=400), column=st.integers(1, 900))
def test_diagnostics_mask_before_they_cut(secret, before, after, column):
    masker = Masker((secret,))
    line = "v=" + before + secret + after
    rendered = error("bad '" + before + secret + after + "'", 1, min(column, len(line)),
                     source=line).render("f.txt", masker.mask)
    for piece in pieces(secret):
        assert piece not in rendered or piece in masker.mask(line)


def cut_into(text, cuts):
    """`text` in pieces at the given offsets (empty pieces included)."""
    offsets = sorted(min(c, len(text)) for c in cuts)
    bounds = [0, *offsets, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


@settings(max_examples=500, deadline=None)
@given(secrets=st.lists(st.text(alphabet="ab\n", min_size=1, max_size=6), min_size=1,
                        max_size=4),
       text=st.text(alphabet="ab\nc", max_size=120),
       cuts=st.lists(st.integers(0, 120), max_size=12))
def test_masking_in_chunks_is_masking_the_whole(secrets, text, cuts):
    """Overlapping, nested and repeated secrets in a text cut anywhere: the pieces masked
    one by one join up to exactly the whole text masked."""
    masker = Masker(tuple(secrets))
    assert "".join(masker.mask_chunks(cut_into(text, cuts))) == masker.mask(text)


@settings(max_examples=300, deadline=None)
@given(secret=SECRETS, before=FILLER, after=FILLER, size=st.integers(1, 40))
def test_a_secret_across_a_chunk_border_is_masked(secret, before, after, size):
    masker = Masker((secret,))
    text = before + secret + after
    parts = [text[i:i + size] for i in range(0, len(text), size)]
    masked = "".join(masker.mask_chunks(parts))
    assert secret not in masked
    assert masked == masker.mask(text)


def test_no_secrets_passes_the_pieces_through():
    assert list(Masker().mask_chunks(["a", "", "b"])) == ["a", "", "b"]
