"""Can the instance's S3 replica target be reached with the instance's keys?

The answer feeds the ``BackupHealthy`` condition. One bounded request
(ListObjectsV2 on the replica prefix, at most one key) with short timeouts
and no retries: the reconcile loop must not stall on a dead endpoint, and it
asks again on its next pass anyway. Every failure is mapped to a reason a
person can act on; no message ever carries a key, whatever the server echoed.

Everything here is pure except :func:`check_s3`'s one call through boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REACHABLE = "Reachable"
ACCESS_DENIED = "AccessDenied"
INVALID_CREDENTIALS = "InvalidCredentials"
NO_SUCH_BUCKET = "NoSuchBucket"
ENDPOINT_UNREACHABLE = "EndpointUnreachable"
TIMEOUT = "Timeout"
S3_ERROR = "S3Error"

# S3 error codes that mean "these keys are not valid here".
CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "InvalidSecurity",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
    }
)
DENIED_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "Forbidden", "403"})
MISSING_BUCKET_CODES = frozenset({"NoSuchBucket", "404", "NotFound"})
SERVER_TEXT_LIMIT = 200


@dataclass(frozen=True)
class BackupHealth:
    """The outcome of one reachability check."""

    healthy: bool
    reason: str
    message: str
    holds_data: bool | None = None
    """Whether the replica prefix has any object; None when unknown."""


def _target(endpoint: str | None, bucket: str, prefix: str) -> str:
    where = endpoint or "AWS S3"
    return f"s3://{bucket}/{prefix.strip('/')} at {where}"


def _scrub(text: str, *secrets: str) -> str:
    """Remove any key from text that came from a server or a library."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text[:SERVER_TEXT_LIMIT]


def classify_client_error(
    code: str, target: str, bucket: str, server_text: str
) -> BackupHealth:
    """Map an S3 error code to a reason and a message that says what to check."""
    if code in CREDENTIAL_CODES:
        return BackupHealth(
            False,
            INVALID_CREDENTIALS,
            f"{target} rejected the access key ({code}): check the key ID and "
            "secret in spec.backup.s3.credentialsSecretRef",
        )
    if code in DENIED_CODES:
        return BackupHealth(
            False,
            ACCESS_DENIED,
            f"{target} denied listing the replica prefix ({code}): the key "
            f"needs s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject "
            f"on bucket {bucket!r}",
        )
    if code in MISSING_BUCKET_CODES:
        return BackupHealth(
            False,
            NO_SUCH_BUCKET,
            f"bucket {bucket!r} does not exist at this endpoint: create it or "
            "fix spec.backup.s3.bucket (and region/endpoint)",
        )
    detail = f": {server_text}" if server_text else ""
    return BackupHealth(
        False,
        S3_ERROR,
        f"{target} answered {code}{detail}; check spec.backup.s3 endpoint, "
        "region and bucket",
    )


def _client_options(
    endpoint: str | None, region: str | None, force_path_style: bool | None
) -> dict[str, Any]:
    """Arguments for the boto3 client, kept apart so they can be read in tests."""
    # Litestream turns path-style on whenever an endpoint is set; do the same
    # so the check addresses the bucket the way the replica will.
    path_style = force_path_style if force_path_style is not None else bool(endpoint)
    return {
        "endpoint_url": endpoint or None,
        "region_name": region or "us-east-1",
        "addressing_style": "path" if path_style else "auto",
    }


def check_s3(
    endpoint: str | None,
    region: str | None,
    bucket: str,
    prefix: str,
    access_key_id: str,
    secret_access_key: str,
    force_path_style: bool | None,
    timeout: float = 5,
) -> BackupHealth:
    """One ListObjectsV2 (MaxKeys=1) on the replica prefix, mapped to a health."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ParamValidationError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    if not access_key_id or not secret_access_key:
        # An empty key would make boto3 fall back to other credentials or sign
        # nothing at all; neither says anything about the instance's keys.
        return BackupHealth(
            False,
            INVALID_CREDENTIALS,
            "the credentials Secret has an empty key ID or secret: check "
            "spec.backup.s3.credentialsSecretRef",
        )

    target = _target(endpoint, bucket, prefix)
    options = _client_options(endpoint, region, force_path_style)
    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": options["addressing_style"]},
    )
    try:
        # A fresh session: nothing is taken from the operator's own AWS
        # environment or profile, only the instance's keys.
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=options["endpoint_url"],
            region_name=options["region_name"],
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )
        # Limitation: listing proves reachability and read access only; a key
        # that may list but not write passes, and Litestream then fails.
        folder = prefix.strip("/")
        listing = client.list_objects_v2(
            Bucket=bucket, Prefix=f"{folder}/" if folder else "", MaxKeys=1
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        text = _scrub(str(error.get("Message") or ""), access_key_id, secret_access_key)
        return classify_client_error(code, target, bucket, text)
    except (ConnectTimeoutError, ReadTimeoutError):
        return BackupHealth(
            False,
            TIMEOUT,
            f"{target} did not answer within {timeout:g} s: check that the "
            "endpoint is up and reachable from the operator",
        )
    except EndpointConnectionError:
        return BackupHealth(
            False,
            ENDPOINT_UNREACHABLE,
            f"cannot connect to {endpoint or 'AWS S3'}: check "
            "spec.backup.s3.endpoint, DNS and network policies",
        )
    except (NoCredentialsError, PartialCredentialsError):
        return BackupHealth(
            False,
            INVALID_CREDENTIALS,
            "the credentials Secret has an empty key ID or secret: check "
            "spec.backup.s3.credentialsSecretRef",
        )
    except ParamValidationError:
        return BackupHealth(
            False,
            S3_ERROR,
            f"bucket name {bucket!r} is not valid for S3: fix spec.backup.s3.bucket",
        )
    except (BotoCoreError, ValueError) as exc:
        return BackupHealth(
            False,
            S3_ERROR,
            f"checking {target} failed ({type(exc).__name__}): check "
            "spec.backup.s3 endpoint and region",
        )
    return BackupHealth(
        True,
        REACHABLE,
        f"{target} is reachable with the given keys",
        holds_data=int(listing.get("KeyCount", 0)) > 0,
    )
