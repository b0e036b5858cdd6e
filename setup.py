"""Build hook for the optional C fast lane (xodiag/_fastlane.c); all metadata is in pyproject.toml.

The extension is optional: without a C compiler the install still succeeds and xodiag runs its
pure-Python framer (slower, same results). It needs no headers beyond Python's own: PCRE2 is
loaded at import time from the system's libpcre2-8.so.0.
"""

from glob import glob

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "xodiag._fastlane",
            sources=["xodiag/_fastlane.c"],  # one translation unit: it includes xodiag/_fastlane/*.c
            depends=sorted(glob("xodiag/_fastlane/*.c")),
            optional=True,
            extra_compile_args=["-O2", "-std=gnu11"],
        )
    ]
)
