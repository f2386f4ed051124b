"""Puts `examples/` on `sys.path` (pytest's default "prepend" import mode does that for a conftest's folder).

So `import shuyou_client` works in `examples/tests/` as it would in an application that vendors the module.
"""
