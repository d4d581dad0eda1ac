"""The line scanner's terminal cache: same terminals as Lark, and never trusted blindly."""

import json

from tasker.grammar_loader import load_grammar
from tasker.syntax import lines as L


def test_cached_terminals_equal_the_grammars(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    grammar = load_grammar("taskfile")
    path = L._cache_file(grammar)
    assert path is not None and str(path).startswith(str(tmp_path))
    terms = L._terminals(grammar)
    L._write_cache(path, terms)
    assert L._read_cache(path) == terms
    assert [name for name, _ in terms] == ["COMMENT", "CLI_ARG", "PAIR", "STRAY"]


def test_a_damaged_cache_is_ignored(tmp_path):
    path = tmp_path / "c.json"
    for content in ("not json", json.dumps([["COMMENT", "("]]), json.dumps([["X", "a"]])):
        path.write_text(content)
        assert L._read_cache(path) is None
