"""The command line's commands that live outside cli.py: compare, flow, ntk, big images, and the benchmarks
(bench/)."""
