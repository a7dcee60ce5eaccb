"""Test-suite root: importing this puts tests/ on sys.path, so shared helpers such as
``canaries`` and ``mmdb`` import the same way from every test directory."""
