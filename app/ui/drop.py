"""Files dropped from the desktop onto the window. DearPyGui has no API for it on Linux, but its
wheel carries its own GLFW, whose glfwSetDropCallback we reach through ctypes on the viewport's
window. Guarded: where the symbols or the window are missing, the app runs without it (the open
dialog, the path box and the command line always work)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from typing import Any

DROP_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p))
_installed: dict[str, Any] = {}
SHIFT_MASK = 1  # X11's ShiftMask


def _glfw() -> ctypes.CDLL:
    import dearpygui._dearpygui as native  # lazy: inside install's guard (no native module: no drops)

    lib = ctypes.CDLL(native.__file__)  # the already loaded library: the same GLFW state
    lib.glfwGetCurrentContext.restype = ctypes.c_void_p
    lib.glfwSetDropCallback.restype = ctypes.c_void_p
    lib.glfwSetDropCallback.argtypes = [ctypes.c_void_p, DROP_CALLBACK]
    lib.glfwGetX11Window.restype = ctypes.c_ulong
    lib.glfwGetX11Window.argtypes = [ctypes.c_void_p]
    lib.glfwGetX11Display.restype = ctypes.c_void_p
    return lib


def shift_held() -> bool:
    """Whether Shift is down now, asked of the X server (XQueryPointer's modifier mask): during a
    drag the file manager has the keyboard focus, so GLFW's and DearPyGui's key states miss it."""
    if not _installed:
        return False
    try:
        x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        x11.XDefaultRootWindow.restype = ctypes.c_ulong
        x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        display = _installed["lib"].glfwGetX11Display()
        if not display:
            return False
        root = x11.XDefaultRootWindow(display)
        window, child = ctypes.c_ulong(), ctypes.c_ulong()
        ints = [ctypes.c_int() for _ in range(4)]
        mask = ctypes.c_uint()
        x11.XQueryPointer(ctypes.c_void_p(display), ctypes.c_ulong(root), ctypes.byref(window), ctypes.byref(child),
                          *(ctypes.byref(i) for i in ints), ctypes.byref(mask))  # fmt: skip
    except (OSError, AttributeError) as error:
        print(f"fieldscope: cannot read the Shift key at the drop ({error})", file=sys.stderr)
        return False
    return bool(mask.value & SHIFT_MASK)


def install(on_drop: Callable[[list[str], bool], None]) -> bool:
    """Hook drops on DearPyGui's window (call on the main thread right after show_viewport, while
    its GL context is current): on_drop(paths, Shift held). True when the hook is in place."""
    try:
        lib = _glfw()
        window = lib.glfwGetCurrentContext()
    except (OSError, AttributeError, ImportError) as error:
        print(f"fieldscope: drag and drop unavailable ({error})", file=sys.stderr)
        return False
    if not window:
        print("fieldscope: drag and drop unavailable (no GLFW window)", file=sys.stderr)
        return False

    def dropped(_window: int, count: int, paths: Any) -> None:
        try:
            on_drop([paths[i].decode("utf-8", "surrogateescape") for i in range(count)], shift_held())
        except Exception as error:  # an exception must not cross into C
            print(f"fieldscope: drop failed: {error}", file=sys.stderr)

    callback = DROP_CALLBACK(dropped)
    lib.glfwSetDropCallback(window, callback)
    _installed.update(lib=lib, window=window, callback=callback)  # keep the callback alive
    return True


def x11_window() -> int | None:
    """The X11 window id of the hooked window (for tests that drop onto it)."""
    if not _installed:
        return None
    return int(_installed["lib"].glfwGetX11Window(_installed["window"]))


def uninstall() -> None:
    """Unhook (before the window goes away)."""
    if _installed:
        _installed["lib"].glfwSetDropCallback(_installed["window"], DROP_CALLBACK())
    _installed.clear()
