"""Pure rules of the migration lifecycle."""

from kubarr_operator.lifecycle import (
    job_outcome,
    parse_verification,
    retry_delay,
    termination_message,
)


def pod(*containers: tuple[str, int, str], init: tuple[str, int, str] | None = None):
    def status(name: str, code: int, message: str) -> dict:
        return {
            "name": name,
            "state": {"terminated": {"exitCode": code, "message": message}},
        }

    body: dict = {"status": {"containerStatuses": [status(*c) for c in containers]}}
    if init:
        body["status"]["initContainerStatuses"] = [status(*init)]
    return body


def test_a_failure_is_explained_by_the_failing_container_only():
    pods = [pod(("migrate", 1, "alembic: table exists"), init=("verify", 0, "{}"))]
    assert termination_message(pods) == "alembic: table exists"


def test_one_container_can_be_asked_for_by_name():
    pods = [pod(("migrate", 0, "migrated"), init=("verify", 0, '{"ok": true}'))]
    assert termination_message(pods, only="verify") == '{"ok": true}'


def test_verification_summary_counts_rows_and_tables():
    line = '{"integrity": "ok", "rows": {"user": 2, "audit_log": 40}}'
    assert parse_verification(line) == "integrity ok, 42 rows in 2 tables"
    assert parse_verification('{"database": "missing"}') == (
        "no database yet (fresh install)"
    )
    assert parse_verification("not json") is None


def test_retries_back_off_exponentially_up_to_an_hour():
    delays = [retry_delay(n) for n in (1, 2, 3, 10)]
    assert delays[:3] == [delays[0], delays[0] * 2, delays[0] * 4]
    assert delays[3] == min(3600, delays[0] * 2**9)


def test_job_outcome_reads_the_job_conditions():
    def job(kind: str) -> dict:
        return {"status": {"conditions": [{"type": kind, "status": "True"}]}}

    assert job_outcome(None) == "Missing"
    assert job_outcome({"status": {}}) == "Running"
    assert job_outcome(job("Complete")) == "Succeeded"
    assert job_outcome(job("Failed")) == "Failed"
