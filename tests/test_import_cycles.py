"""No module of fieldscope imports, at load time, a module that imports it back, and no app module is
in a cycle at all, lazy (in-function) imports included: the kinds' registry (fields/kinds/__init__.py)
names their modules instead of importing them, and no kind imports a registry back."""

from tests.import_cycles import cycles, imports


def test_no_module_level_import_cycles():
    assert cycles()["module"] == []


def test_no_app_module_is_in_a_cycle_and_the_registries_in_none():
    registries = {"fieldscope.app.render.field_gl", "fieldscope.fields.config", "fieldscope.fields.kinds"}
    for group in cycles()["any"]:
        assert not [m for m in group if m.startswith("fieldscope.app.") or m in registries], group


def test_the_finder_sees_a_cycle(tmp_path):
    for folder in ("app", "fields", "gpu"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "app" / "a.py").write_text("from fieldscope.app import b\n")
    (tmp_path / "app" / "b.py").write_text("from . import c\n")
    (tmp_path / "app" / "c.py").write_text("import fieldscope.app.a\n\ndef f():\n    from fieldscope.gpu import d\n")
    (tmp_path / "gpu" / "d.py").write_text("def g():\n    import fieldscope.app.c\n")
    found = cycles(tmp_path)
    assert found["module"] == [["fieldscope.app.a", "fieldscope.app.b", "fieldscope.app.c"]]
    assert found["any"] == [["fieldscope.app.a", "fieldscope.app.b", "fieldscope.app.c", "fieldscope.gpu.d"]]


def test_imports_for_the_type_checker_only_close_no_cycle(tmp_path):
    for folder in ("app", "fields", "gpu"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "fields" / "a.py").write_text("from fieldscope.fields import b\n")
    (tmp_path / "fields" / "b.py").write_text(
        "import typing\nfrom typing import TYPE_CHECKING\n\n"
        "if TYPE_CHECKING:\n    from fieldscope.fields import a\n"
        "if typing.TYPE_CHECKING:\n    import fieldscope.fields.a\nelse:\n    from fieldscope.gpu import c\n"
    )
    (tmp_path / "gpu" / "c.py").write_text("def f():\n    if TYPE_CHECKING:\n        import fieldscope.fields.b\n")
    top, lazy = imports(tmp_path)
    assert top["fieldscope.fields.b"] == {"fieldscope.gpu.c"}  # the else branch runs
    assert lazy["fieldscope.gpu.c"] == set()
    assert cycles(tmp_path) == {"module": [], "any": []}
    (tmp_path / "fields" / "b.py").write_text("from fieldscope.fields import a\n")  # the same import, run
    assert cycles(tmp_path)["module"] == [["fieldscope.fields.a", "fieldscope.fields.b"]]
