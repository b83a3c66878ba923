"""The face of fieldscope: command line, benchmarks, the DearPyGui window and the GL renderer."""
