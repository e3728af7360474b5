"""The generated gRPC stubs and the two libraries they need, imported once for the package.

The stubs (isotope/session/v1, made by generate.sh) sit beside this package, so their folder goes
on the path; an interpreter without grpcio or protobuf gets an ImportError that names it and says
what to install, rather than a bare "No module named grpc".
"""

from __future__ import annotations

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_stubs = os.path.dirname(_here)
if _stubs not in sys.path:
    sys.path.insert(0, _stubs)

try:
    import grpc  # noqa: E402
    from google.protobuf import struct_pb2  # noqa: E402
except ImportError as _missing:  # the python3 first on PATH is often not the one with grpcio
    raise ImportError(
        f"isotope_sessions needs grpcio and protobuf, which {sys.executable} cannot import ({_missing}). "
        "Run it with Debian's /usr/bin/python3 after `apt-get install python3-grpcio python3-protobuf`, "
        "or `pip install grpcio protobuf` into this interpreter."
    ) from _missing

from isotope.session.v1 import session_pb2 as pb  # noqa: E402
from isotope.session.v1 import session_pb2_grpc as pb_grpc  # noqa: E402

__all__ = ["grpc", "pb", "pb_grpc", "struct_pb2"]
