"""The S3 reachability check behind ``BackupHealthy``, against moto on 127.0.0.1.

moto accepts any key until IAM enforcement is switched on through its
``/moto-api/reset-auth`` endpoint; the fixture creates an IAM user whose
policy cannot list the bucket, switches enforcement on for one test, and
always switches it off again, since the server is shared by the session.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import httpx
import pytest
from kubarr_operator.backup_health import BackupHealth, _client_options, check_s3
from pod import S3Server, free_port

PREFIX = "media/kubarr"


def check(s3: S3Server, bucket: str, **overrides: object) -> BackupHealth:
    arguments: dict[str, object] = {
        "endpoint": s3.endpoint,
        "region": s3.region,
        "bucket": bucket,
        "prefix": PREFIX,
        "access_key_id": s3.access_key_id,
        "secret_access_key": s3.secret_access_key,
        "force_path_style": None,
        "timeout": 2,
    }
    arguments.update(overrides)
    return check_s3(**arguments)  # type: ignore[arg-type]


def test_a_bucket_that_exists_is_reachable(s3: S3Server, bucket: str) -> None:
    health = check(s3, bucket)

    assert health == BackupHealth(
        True,
        "Reachable",
        f"s3://{bucket}/{PREFIX} at {s3.endpoint} is reachable with the given keys",
        holds_data=False,
    )


def test_a_replica_prefix_with_objects_is_said_to_hold_data(
    s3: S3Server, bucket: str
) -> None:
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=s3.endpoint,
        region_name=s3.region,
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
    )
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/0000.ltx", Body=b"ltx")

    assert check(s3, bucket).holds_data is True
    assert check(s3, bucket, prefix="elsewhere").holds_data is False


def test_a_missing_bucket_is_named_in_the_reason(s3: S3Server) -> None:
    health = check(s3, "kubarr-no-such-bucket")

    assert not health.healthy
    assert health.reason == "NoSuchBucket"
    assert "bucket 'kubarr-no-such-bucket' does not exist" in health.message


def test_a_closed_port_is_an_unreachable_endpoint(s3: S3Server, bucket: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"

    health = check(s3, bucket, endpoint=closed)

    assert health.reason == "EndpointUnreachable"
    assert f"cannot connect to {closed}" in health.message


def test_an_endpoint_that_accepts_but_never_answers_is_a_timeout(
    s3: S3Server, bucket: str
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]

        health = check(s3, bucket, endpoint=f"http://127.0.0.1:{port}", timeout=0.5)

    assert health.reason == "Timeout"
    assert "did not answer within 0.5 s" in health.message


def test_an_empty_key_is_invalid_credentials(s3: S3Server, bucket: str) -> None:
    health = check(s3, bucket, access_key_id="", secret_access_key="")

    assert health.reason == "InvalidCredentials"


def test_path_style_follows_litestream_when_unset() -> None:
    assert (
        _client_options("http://minio:9000", None, None)["addressing_style"] == "path"
    )
    assert _client_options(None, "eu-west-1", None)["addressing_style"] == "auto"
    assert _client_options("http://b2", None, False)["addressing_style"] == "auto"
    assert _client_options(None, None, None)["region_name"] == "us-east-1"


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    secret_access_key: str


@pytest.fixture
def enforced_iam(s3: S3Server, bucket: str) -> Iterator[Keys]:
    """A user allowed only to put objects, with IAM enforced while the test runs."""
    iam = boto3.client(
        "iam",
        endpoint_url=s3.endpoint,
        region_name=s3.region,
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
    )
    user = f"writer-only-{bucket}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="put-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:PutObject"],
                        "Resource": [f"arn:aws:s3:::{bucket}/*"],
                    }
                ],
            }
        ),
    )
    created = iam.create_access_key(UserName=user)["AccessKey"]
    reset = f"{s3.endpoint}/moto-api/reset-auth"
    assert httpx.post(reset, content=b"0", timeout=10).status_code == 200
    try:
        yield Keys(created["AccessKeyId"], created["SecretAccessKey"])
    finally:
        httpx.post(reset, content=b"inf", timeout=10)


def test_a_key_without_list_permission_is_access_denied(
    s3: S3Server, bucket: str, enforced_iam: Keys
) -> None:
    health = check(
        s3,
        bucket,
        access_key_id=enforced_iam.access_key_id,
        secret_access_key=enforced_iam.secret_access_key,
    )

    assert health.reason == "AccessDenied"
    assert "s3:ListBucket" in health.message
    assert enforced_iam.access_key_id not in health.message
    assert enforced_iam.secret_access_key not in health.message


def test_a_wrong_secret_is_invalid_credentials_and_never_echoed(
    s3: S3Server, bucket: str, enforced_iam: Keys
) -> None:
    wrong_secret = "not-the-secret-" + enforced_iam.secret_access_key[:6]

    health = check(
        s3,
        bucket,
        access_key_id=enforced_iam.access_key_id,
        secret_access_key=wrong_secret,
    )

    assert health.reason == "InvalidCredentials"
    assert "credentialsSecretRef" in health.message
    for secret in (enforced_iam.access_key_id, wrong_secret):
        assert secret not in health.message


def test_an_unknown_key_id_is_invalid_credentials(
    s3: S3Server, bucket: str, enforced_iam: Keys
) -> None:
    health = check(
        s3, bucket, access_key_id="AKIAUNKNOWNKEY000000", secret_access_key="x" * 40
    )

    assert health.reason == "InvalidCredentials"
    assert "AKIAUNKNOWNKEY000000" not in health.message
