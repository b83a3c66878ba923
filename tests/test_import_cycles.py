"""No module of fieldscope imports, at load time, a module that imports it back; lazy (in-function)
imports close a cycle only where a registry loads the kinds that register themselves in it."""

from tests.import_cycles import cycles, imports

#: Registries that import their kinds lazily; each kind imports its registry.
REGISTRIES = {"fieldscope.app.render.field_gl", "fieldscope.fields.config"}


def test_no_module_level_import_cycles():
    assert cycles()["module"] == []


def test_app_modules_import_each_other_lazily_only_to_register_kinds():
    _, lazy = imports()
    for group in cycles()["any"]:
        app = [m for m in group if m.startswith("fieldscope.app.")]
        if app:
            assert set(group) & REGISTRIES, group
            lazy_edges = {(m, n) for m in group for n in lazy[m] if n in group}
            assert {m for m, _ in lazy_edges} <= REGISTRIES, lazy_edges


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
