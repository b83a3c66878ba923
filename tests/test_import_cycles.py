"""No module of fieldscope imports, at load time, a module that imports it back, and no app module is
in a cycle at all, lazy (in-function) imports included: the kinds' registry (fields/kinds/__init__.py)
names their modules instead of importing them, and no kind imports a registry back."""

from tests.import_cycles import cycles


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
