"""The channel to the SessionService and how SessionManager's methods call it.

Connection reads the settings (arguments, else ISOTOPE_SESSIONS_* from the environment: see the
package's docstring), opens a plaintext or TLS channel, and gives its subclass three ways to call:
``_call`` (one attempt), ``_write`` (keyed, retried once, fenced) and ``_failed`` (logs the failure
and keeps it in ``last_error``). SessionManager (the package's __init__) is the only subclass.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any, Optional

from ._convert import describe
from ._stubs import grpc, pb_grpc
from .leases import FencedOff, held_by

logger = logging.getLogger("isotope_sessions")


class Connection:
    """One channel, its call metadata (the bearer token) and the last call's failure."""

    def __init__(
        self,
        target: Optional[str] = None,
        token: Optional[str] = None,
        timeout: float = 10.0,
        ca_file: Optional[str] = None,
        cert_file: Optional[str] = None,
        key_file: Optional[str] = None,
    ):
        env = os.environ.get
        target = target or env("ISOTOPE_SESSIONS_TARGET") or "127.0.0.1:50051"
        token = token or env("ISOTOPE_SESSIONS_TOKEN") or None
        ca_file = ca_file or env("ISOTOPE_SESSIONS_CA_FILE") or None
        cert_file = cert_file or env("ISOTOPE_SESSIONS_CERT_FILE") or None
        key_file = key_file or env("ISOTOPE_SESSIONS_KEY_FILE") or None
        if (cert_file is None) != (key_file is None):
            raise ValueError(
                "a client certificate needs its key: set both cert_file and key_file "
                "(ISOTOPE_SESSIONS_CERT_FILE, ISOTOPE_SESSIONS_KEY_FILE) or neither"
            )
        tls = target.startswith("https://") or ca_file is not None or cert_file is not None
        self.target = target.split("://", 1)[1] if "://" in target else target
        self.timeout = timeout
        # Why the last call failed (e.g. "UNAUTHENTICATED: ..."); None after one that succeeded.
        self.last_error: Optional[str] = None
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        if tls:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(ca_file, "ca_file / ISOTOPE_SESSIONS_CA_FILE"),
                private_key=_read(key_file, "key_file / ISOTOPE_SESSIONS_KEY_FILE"),
                certificate_chain=_read(cert_file, "cert_file / ISOTOPE_SESSIONS_CERT_FILE"),
            )
            self._channel = grpc.secure_channel(self.target, credentials)
        else:
            self._channel = grpc.insecure_channel(self.target)
        self._stub = pb_grpc.SessionServiceStub(self._channel)

    def _call(self, method: str, request: Any) -> Any:
        response = getattr(self._stub, method)(request, timeout=self.timeout, metadata=self._metadata)
        self.last_error = None
        return response

    def _write(self, method: str, request: Any, fencing_token: Optional[int] = None) -> Any:
        """A Save, Append, Touch or Delete, keyed with a fresh request_id (unless it has one) and
        retried once on UNAVAILABLE with the same key: the server applies a key once, so a retry
        after a lost reply gets the first answer instead of writing twice. With ``fencing_token``,
        a refusal of the token raises FencedOff (the one failure raised: see leases.py)."""
        if not request.request_id:
            request.request_id = str(uuid.uuid4())
        if fencing_token is not None:
            request.fencing_token = fencing_token
        try:
            try:
                return self._call(method, request)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                return self._call(method, request)
        except grpc.RpcError as error:
            details = error.details() or ""
            if fencing_token is None or error.code() != grpc.StatusCode.FAILED_PRECONDITION \
                    or "fencing token" not in details:
                raise
            self.last_error = describe(error)
            logger.warning("%s(%s) fenced off: %s", method, request.session_id, self.last_error)
            raise FencedOff(request.session_id, held_by(details), self.last_error) from None

    def _failed(self, what: str, error: Exception) -> str:
        self.last_error = describe(error)
        logger.error("%s failed: %s", what, self.last_error)
        return self.last_error

    def close(self) -> None:
        self._channel.close()


def _read(path: Optional[str], setting: str) -> Optional[bytes]:
    if path is None:
        return None
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise ValueError(f"{setting}: cannot read {path}: {error.strerror}") from error
