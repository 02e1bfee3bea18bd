"""Public path of the bce-auth-v1 signer: ``from airflow_provider_oos.auth import sign``.

The signer lives in the OOS client (``airflow_provider_oos.client.auth``); this module re-exports it.
"""

from airflow_provider_oos.client.auth import (
    AUTH_VERSION,
    SECURITY_TOKEN_HEADER,
    BceAuth,
    BceCredentials,
    canonical_headers,
    canonical_query,
    encode,
    format_timestamp,
    sign,
    signed_headers,
)

__all__ = [
    "AUTH_VERSION",
    "SECURITY_TOKEN_HEADER",
    "BceAuth",
    "BceCredentials",
    "canonical_headers",
    "canonical_query",
    "encode",
    "format_timestamp",
    "sign",
    "signed_headers",
]
