"""The optional compiled core: built when cargo is on PATH, skipped (pure Python) when it is not.

Everything else about the package is in pyproject.toml; setuptools-rust needs this hook.
"""

from setuptools import setup
from setuptools_rust import Binding, RustExtension

setup(
    rust_extensions=[
        RustExtension(
            "logscrub._native",
            path="native/Cargo.toml",
            binding=Binding.PyO3,
            py_limited_api=True,  # abi3: one build serves Python 3.11 and later
            optional=True,  # no Rust toolchain: install the pure-Python package, with a warning
            debug=False,  # editable installs too: a debug build is ~20x slower and proves nothing
        )
    ],
)
