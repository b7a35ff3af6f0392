"""The ``transportkit`` command: section names, the message format, one picture per section, no file unless asked."""

from __future__ import annotations

import io
import os

import pytest

from transportkit import cli


@pytest.mark.parametrize("given", ["meanfield", "Mean field", "MEAN-FIELD", "mean_field"])
def test_section_names_are_case_and_separator_insensitive(given):
    assert [s.name for s in cli.find_sections([given])] == ["meanfield"]


def test_sections_in_demo_order_and_all_by_default():
    assert [s.name for s in cli.find_sections(["TPT", "free energy", "tpt"])] == ["free-energy", "tpt"]
    assert cli.find_sections([]) == list(cli.SECTIONS)
    assert {s.name for s in cli.SECTIONS} >= {"interpolants", "sampling", "free-energy", "galerkin", "meanfield",
                                              "fokker-planck", "tpt"}


def test_unknown_section_lists_the_names(capsys):
    with pytest.raises(ValueError, match=r"unknown demo section 'meanfeild' \(did you mean 'meanfield'\?\)"):
        cli.find_sections(["meanfeild"])
    with pytest.raises(SystemExit) as e:
        cli.main(["demo", "nonsense"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unknown demo section 'nonsense'" in err
    assert all(s.name in err for s in cli.SECTIONS)


def test_list(capsys):
    assert cli.main(["demo", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == [s.name for s in cli.SECTIONS]


def test_one_section_prints_progress_and_writes_its_picture(tmp_path, monkeypatch):
    mpl = pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    backend = mpl.get_backend()
    out = io.StringIO()
    assert cli._run_demo(["Free Energy"], str(tmp_path / "pics"), out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "[1/1] Free energy"
    assert all(ln.startswith("  ") for ln in lines[1:-1])
    assert lines[-3] == f"  picture: {tmp_path / 'pics' / 'free-energy.png'}"
    assert lines[-2].startswith("  done in ") and lines[-1].startswith("1 section(s) in ")
    assert os.listdir(tmp_path) == ["pics"]
    assert (tmp_path / "pics" / "free-energy.png").read_bytes()[:4] == b"\x89PNG"
    assert mpl.get_backend() == backend


def test_no_png_dir_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    cli._run_demo(["fokker-planck"], None, out=out)
    assert os.listdir(tmp_path) == []
    text = out.getvalue()
    assert text.startswith("[1/1] Fokker–Planck\n") and "picture" not in text and "entropy" in text


def test_sections_are_plain_functions_with_say_and_fig():
    import inspect

    for s in cli.SECTIONS:
        assert list(inspect.signature(s.run).parameters) == ["say", "fig"], s.name
