"""The build's content-addressed caches (``report.cache``): a warm build reuses charts, speed-up
CIs, references and compiled templates, and produces exactly what a build without caches does."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from report import cache


@pytest.fixture
def cache_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("PAPER_NO_CACHE", raising=False)
    return home


def test_hit_skips_the_computation_and_a_changed_input_misses(cache_home):
    calls = []

    def compute(value):
        calls.append(value)
        return {"ci": [0.5, 1.25], "value": value}

    key = cache.fingerprint("demo", [[1.0, 2.0]], b"code v1")
    assert cache.cached_json("demo", key, lambda: compute(1)) == {"ci": [0.5, 1.25], "value": 1}
    assert cache.cached_json("demo", key, lambda: compute(2)) == {"ci": [0.5, 1.25], "value": 1}
    assert calls == [1]
    other = cache.fingerprint("demo", [[1.0, 2.0]], b"code v2")  # the code changed: a new key
    assert other != key
    assert cache.cached_json("demo", other, lambda: compute(3))["value"] == 3
    assert calls == [1, 3]
    assert (cache_home / cache.PROJECT / "demo" / f"{key}.json").is_file()


def test_fingerprint_separates_its_parts():
    assert cache.fingerprint("ab", "c") != cache.fingerprint("a", "bc")
    assert cache.fingerprint(b"x") != cache.fingerprint("x")


def test_corrupt_entry_is_recomputed(cache_home):
    key = cache.fingerprint("corrupt")
    path = cache_home / cache.PROJECT / "demo" / f"{key}.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"value": [1, 2')  # truncated
    assert cache.cached_json("demo", key, lambda: [3, 4]) == [3, 4]
    assert cache.cached_json("demo", key, lambda: [5, 6]) == [3, 4]  # rewritten whole


def test_unusable_cache_folder_is_ignored(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.delenv("PAPER_NO_CACHE", raising=False)
    assert cache.cached_text("demo", "k", lambda: "drawn") == "drawn"
    assert cache.cached_json("demo", "k", lambda: [1]) == [1]


def test_no_cache_switch_computes_every_time(cache_home, monkeypatch):
    monkeypatch.setenv("PAPER_NO_CACHE", "1")
    calls = []
    for _ in range(2):
        cache.cached_json("demo", "k", lambda: calls.append(1) or len(calls))
    assert len(calls) == 2
    assert not (cache_home / cache.PROJECT).exists()


def test_cached_speedup_ci_equals_the_bootstrap(cache_home):
    from report.helpers import cached_ratio_ci
    from results_contract.stats import ratio_ci

    a = [[1.0, 1.1, 0.9], [1.2, 1.0, 1.1], [0.95, 1.05, 1.0]]
    b = [[2.0, 2.2, 1.9], [2.1, 2.05, 2.3], [1.8, 2.0, 2.1]]
    expected = ratio_ci(a, b)
    assert cached_ratio_ci(a, b) == expected   # computed and stored
    assert cached_ratio_ci(a, b) == expected   # read back: floats survive the JSON round trip
    assert len(list((cache_home / cache.PROJECT / "ratios").iterdir())) == 1


def test_warm_build_reuses_every_cache_and_writes_the_same_html(project, tmp_path, cache_home, monkeypatch):
    from report import charts
    from report.pipeline import build
    from results_contract import model as results_model

    def html(name: str) -> str:
        out = tmp_path / name
        outcome = build(project, out, force=True, pdf=False, log=lambda _m: None)
        return outcome.html_path.read_text(encoding="utf-8")

    monkeypatch.setenv("PAPER_NO_CACHE", "1")
    uncached = html("uncached")
    assert not (cache_home / cache.PROJECT).exists()
    monkeypatch.delenv("PAPER_NO_CACHE")
    cold = html("cold")
    for kind in ("charts", "references", "jinja", "includes", "validated"):
        assert any((cache_home / cache.PROJECT / kind).iterdir()), kind

    def no_drawing(spec):
        raise AssertionError("a warm build drew a chart instead of reusing it")

    def no_checking(text, where):
        raise AssertionError(f"a warm build re-checked {where} although its bytes passed before")

    monkeypatch.setattr(charts, "render_svg", no_drawing)
    monkeypatch.setattr(results_model, "parse", no_checking)
    warm = html("warm")
    assert uncached == cold == warm
    assert "<svg" in warm


def test_pdf_streams_are_deflated_at_the_declared_level_and_pydyf_is_restored():
    import pydyf

    from report.pdf import DEFLATE_LEVEL, _deflate_level

    data = b"results " * 5000
    original = pydyf.zlib
    with _deflate_level(DEFLATE_LEVEL):
        shim = pydyf.zlib
        compressor = shim.compressobj(level=9)  # what pydyf asks for
        packed = compressor.compress(data) + compressor.flush()
        assert shim.compress(data) == zlib.compress(data, DEFLATE_LEVEL)
    assert packed == zlib.compress(data, DEFLATE_LEVEL)
    assert zlib.decompress(packed) == data
    assert pydyf.zlib is original


def test_long_pdf_streams_come_from_the_deflate_cache_with_the_same_bytes(cache_home):
    """An attached results file is deflated once; later builds read the stored stream, which is
    byte for byte what zlib gives. A damaged entry (wrong Adler-32) is recomputed, never used."""
    import pydyf

    from report.pdf import CACHED_STREAM_BYTES, DEFLATE_LEVEL, _deflate_level

    data = bytes(range(256)) * (CACHED_STREAM_BYTES // 256 + 1)
    expected = zlib.compress(data, DEFLATE_LEVEL)

    def deflated() -> bytes:
        with _deflate_level(DEFLATE_LEVEL):
            compressor = pydyf.zlib.compressobj(level=9)
            return compressor.compress(data) + compressor.flush()

    assert deflated() == expected
    entries = list((cache_home / cache.PROJECT / "deflate").iterdir())
    assert len(entries) == 1 and entries[0].read_bytes() == expected
    entries[0].write_bytes(b"tampered" + expected[8:-4] + b"\0\0\0\0")
    assert deflated() == expected  # the damaged entry is not used
    entries[0].write_bytes(expected[:-1] + bytes([expected[-1] ^ 1]))
    assert deflated() == expected


def test_short_pdf_streams_are_not_cached(cache_home):
    import pydyf

    from report.pdf import DEFLATE_LEVEL, _deflate_level

    with _deflate_level(DEFLATE_LEVEL):
        compressor = pydyf.zlib.compressobj(level=9)
        packed = compressor.compress(b"page content") + compressor.flush()
    assert packed == zlib.compress(b"page content", DEFLATE_LEVEL)
    assert not (cache_home / cache.PROJECT / "deflate").exists()
