"""The KubarrInstance spec and status, as pydantic models.

These models are the single source of truth for the custom resource: the CRD's
OpenAPI schema (defaults, enums, bounds and CEL rules) is generated from them
by :mod:`kubarr_operator.crd`, and the operator parses every instance through
them. A test keeps the committed CRD file equal to the generated one.

CEL rules live beside the field they guard, under the ``x-kubernetes-validations``
key of ``json_schema_extra``; each message names the field and the fix, because
that text is all a user sees from ``kubectl apply``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

GROUP = "kubarr.io"
VERSION = "v1alpha1"
KIND = "KubarrInstance"
PLURAL = "kubarrinstances"
SINGULAR = "kubarrinstance"
SHORT_NAMES = ["kubarr"]

# Patterns avoid backslashes: they are embedded in CEL string literals.
# Go duration strings as Litestream and Kubernetes accept them ("1s", "1h30m").
DURATION_PATTERN = r"^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$"
# Five-field cron or one of the @-macros that the CronJob controller accepts.
CRON_PATTERN = (
    r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)"
    r"|([0-9*/,?LW#-]+[ \t]+){4}[0-9A-Za-z*/,?LW#-]+)$"
)
# An OCI image tag.
TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
# An S3 bucket name (lower case, digits, dots and hyphens).
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
# A DNS-1123 name, as used for Secret and PersistentVolumeClaim names.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def cel(rule: str, message: str, **extra: Any) -> dict[str, Any]:
    """One ``x-kubernetes-validations`` entry."""
    return {"rule": rule, "message": message, **extra}


def validations(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float:
    """Seconds in a Go duration string such as ``1h30m`` or ``500ms``."""
    import re

    parts = re.findall(r"([0-9]+(?:[.][0-9]+)?)(ns|us|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def duration_field(default: str, path: str, description: str) -> Any:
    return Field(
        default,
        description=description,
        max_length=32,
        json_schema_extra=validations(
            cel(
                f"self.matches('{DURATION_PATTERN}')",
                f"{path} must be a duration such as 1s, 5m or 24h",
            )
        ),
    )


class Model(BaseModel):
    """Base for every spec model: camelCase on the wire, no unknown fields."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=True,
    )


class PullPolicy(StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class Image(Model):
    """The Kubarr app image; its tag is the instance's version."""

    repository: str = Field(
        "ghcr.io/kubarr/kubarr",
        description="Image repository of the Kubarr app.",
        min_length=1,
        max_length=255,
    )
    tag: str = Field(
        "0.1.0",
        description="Image tag; changing it upgrades the instance.",
        max_length=128,
        json_schema_extra=validations(
            cel(
                "self.size() > 0",
                "spec.image.tag must not be empty: set a version such as 0.1.0",
            ),
            cel(
                f"self.size() == 0 || self.matches('{TAG_PATTERN}')",
                "spec.image.tag must be an image tag: letters, digits, '_', '.' "
                "and '-', not starting with '.' or '-' (for example 0.1.0)",
            ),
        ),
    )
    pull_policy: PullPolicy = Field(PullPolicy.IF_NOT_PRESENT)

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


class ReclaimPolicy(StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"


class Storage(Model):
    """The volume that holds the SQLite database."""

    size: str = Field(
        "1Gi",
        description="Requested size; may grow (if the StorageClass allows) "
        "but never shrink.",
        max_length=32,
        json_schema_extra=validations(
            cel(
                "isQuantity(self)",
                "spec.storage.size must be a quantity such as 1Gi or 500Mi",
            ),
            cel(
                "!isQuantity(self) || quantity(self).compareTo(quantity('16Mi')) >= 0",
                "spec.storage.size must be at least 16Mi",
            ),
            cel(
                "!isQuantity(self) || !isQuantity(oldSelf) || "
                "quantity(self).compareTo(quantity(oldSelf)) >= 0",
                "spec.storage.size may grow but never shrink: set it back to at "
                "least the current size",
            ),
        ),
    )
    storage_class_name: str | None = Field(
        None,
        description="StorageClass of the volume; the cluster default when unset.",
        max_length=253,
    )
    access_modes: list[str] = Field(
        default_factory=lambda: ["ReadWriteOnce"],
        description="Access modes of the volume. SQLite needs one writer, so "
        "ReadWriteOnce is right for nearly everyone.",
        min_length=1,
        max_length=4,
        json_schema_extra=validations(
            cel(
                "self.all(m, m in ['ReadWriteOnce', 'ReadWriteOncePod', "
                "'ReadWriteMany'])",
                "spec.storage.accessModes entries must be ReadWriteOnce, "
                "ReadWriteOncePod or ReadWriteMany: the database needs a "
                "writable volume",
            ),
        )
        | {"x-kubernetes-list-type": "set"},
    )
    reclaim_policy: ReclaimPolicy = Field(
        ReclaimPolicy.RETAIN,
        description="Retain keeps the volume when the instance is deleted; "
        "Delete removes it with the instance (and the data on it).",
    )


class SecretKeyRef(Model):
    name: str = Field(..., max_length=253, pattern=NAME_PATTERN)
    key: str = Field(..., min_length=1, max_length=253)


class Engine(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


class Pool(Model):
    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.minConnections) || !has(self.maxConnections) "
                "|| self.minConnections <= self.maxConnections",
                "spec.database.pool.minConnections must not exceed "
                "maxConnections: lower it or raise maxConnections",
            )
        )
    )

    max_connections: int = Field(5, ge=1, le=100)
    min_connections: int = Field(1, ge=0, le=100)

    @model_validator(mode="after")
    def _min_within_max(self) -> Pool:
        if self.min_connections > self.max_connections:
            raise ValueError("minConnections must not exceed maxConnections")
        return self


class Database(Model):
    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.engine) || self.engine != 'postgres' "
                "|| has(self.urlSecretRef)",
                "spec.database.urlSecretRef is required when engine is postgres: "
                "name a Secret key holding the postgresql:// URL",
            ),
        )
    )

    engine: Engine = Field(
        Engine.SQLITE,
        description="sqlite (embedded, replicated by Litestream) or postgres "
        "(an external server; the rollback path).",
    )
    url_secret_ref: SecretKeyRef | None = Field(
        None, description="Secret key holding the postgresql:// URL."
    )
    pool: Pool = Field(default_factory=Pool)

    @model_validator(mode="after")
    def _postgres_needs_url(self) -> Database:
        if self.engine == Engine.POSTGRES and self.url_secret_ref is None:
            raise ValueError("urlSecretRef is required when engine is postgres")
        return self


class S3CredentialsRef(Model):
    name: str = Field(
        ...,
        description="Secret holding the S3 keys.",
        max_length=253,
        pattern=NAME_PATTERN,
    )
    access_key_id_key: str = Field("AWS_ACCESS_KEY_ID", min_length=1, max_length=253)
    secret_access_key_key: str = Field(
        "AWS_SECRET_ACCESS_KEY", min_length=1, max_length=253
    )


class S3Target(Model):
    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.bucket) && self.bucket.size() > 0",
                "spec.backup.s3.bucket is required: name the bucket that holds "
                "the replica",
            ),
            cel(
                "has(self.credentialsSecretRef)",
                "spec.backup.s3.credentialsSecretRef is required: name a Secret "
                "with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            ),
        )
    )

    bucket: str = Field(
        "",
        max_length=63,
        json_schema_extra=validations(
            cel(
                f"self.size() == 0 || self.matches('{BUCKET_PATTERN}')",
                "spec.backup.s3.bucket must be an S3 bucket name: 3 to 63 lower-case "
                "letters, digits, dots and hyphens",
            )
        ),
    )
    path: str | None = Field(
        None,
        description="Key prefix of the replica; defaults to <namespace>/<name>.",
        max_length=512,
        json_schema_extra=validations(
            cel(
                "self.matches('.*[^/].*')",
                "spec.backup.s3.path must name a folder, not the bucket root: "
                "two instances at the root would share one replica",
            )
        ),
    )
    endpoint: str | None = Field(
        None,
        description="S3 endpoint URL for B2, MinIO and other S3-compatible "
        "stores; unset for AWS.",
        max_length=512,
        json_schema_extra=validations(
            cel(
                "self.startsWith('http://') || self.startsWith('https://')",
                "spec.backup.s3.endpoint must start with http:// or https://",
            )
        ),
    )
    region: str | None = Field(
        None,
        max_length=64,
        json_schema_extra=validations(
            cel(
                "self.matches('^[a-z0-9-]+$')",
                "spec.backup.s3.region must be a region name such as us-east-1",
            )
        ),
    )
    force_path_style: bool | None = Field(
        None,
        description="Path-style URLs; Litestream enables them when an endpoint is set.",
    )
    credentials_secret_ref: S3CredentialsRef | None = None

    @model_validator(mode="after")
    def _bucket_and_credentials(self) -> S3Target:
        if not self.bucket:
            raise ValueError("bucket is required")
        if self.credentials_secret_ref is None:
            raise ValueError("credentialsSecretRef is required")
        return self


class ClaimVolume(Model):
    claim_name: str = Field(..., max_length=253, pattern=NAME_PATTERN)


class FileVolume(Model):
    persistent_volume_claim: ClaimVolume


class FileTarget(Model):
    path: str = Field(
        "/replica",
        description="Directory of the replica inside the volume's mount.",
        max_length=512,
        json_schema_extra=validations(
            cel(
                "self.startsWith('/') && !self.contains('..')",
                "spec.backup.file.path must be an absolute path without '..'",
            )
        ),
    )
    volume: FileVolume = Field(
        ..., description="The volume that holds the file replica."
    )


class LitestreamVersion(StrEnum):
    V0_3 = "0.3"
    V0_5 = "0.5"


class LitestreamImage(Model):
    repository: str = Field("litestream/litestream", min_length=1, max_length=255)
    tag: str = Field(
        "0.5.17",
        max_length=128,
        json_schema_extra=validations(
            cel(
                "self.size() > 0",
                "spec.backup.litestream.image.tag must not be empty",
            ),
            cel(
                f"self.size() == 0 || self.matches('{TAG_PATTERN}')",
                "spec.backup.litestream.image.tag must be an image tag: letters, "
                "digits, '_', '.' and '-', not starting with '.' or '-'",
            ),
        ),
    )

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


class Litestream(Model):
    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.image) || !has(self.image.tag) || !has(self.version) "
                "|| !self.image.tag.matches('^v?[0-9]') "
                "|| self.image.tag.startsWith(self.version + '.') "
                "|| self.image.tag.startsWith('v' + self.version + '.')",
                "spec.backup.litestream.version must be the major.minor of "
                "spec.backup.litestream.image.tag: a 0.5 config read by a 0.3 "
                "binary replicates nothing",
            )
        )
    )

    image: LitestreamImage = Field(default_factory=LitestreamImage)
    version: LitestreamVersion = Field(
        LitestreamVersion.V0_5,
        description="Config format to render: 0.5 (current) or 0.3 (legacy).",
    )
    sync_interval: str = duration_field(
        "1s",
        "spec.backup.litestream.syncInterval",
        "How often WAL changes are shipped; the recovery point objective.",
    )
    max_replication_lag: str = duration_field(
        "30s",
        "spec.backup.litestream.maxReplicationLag",
        "Unsent changes older than this make ReplicationHealthy False "
        "(Litestream 0.5, which reports its position to the app).",
    )
    snapshot_interval: str = duration_field(
        "1h",
        "spec.backup.litestream.snapshotInterval",
        "How often a full snapshot is taken.",
    )
    retention: str = duration_field(
        "24h",
        "spec.backup.litestream.retention",
        "How long snapshots and WAL are kept in the replica.",
    )

    @model_validator(mode="after")
    def _version_matches_image(self) -> Litestream:
        tag = self.image.tag.removeprefix("v")
        if tag[:1].isdigit() and not tag.startswith(f"{self.version}."):
            raise ValueError(
                f"version {self.version} does not match image tag {self.image.tag}"
            )
        return self


class Recovery(StrEnum):
    AUTOMATIC = "Automatic"
    MANUAL = "Manual"


class RestoreDrill(Model):
    schedule: str = Field(
        "43 4 * * 0",
        max_length=128,
        json_schema_extra=validations(
            cel(
                f"self.matches('{CRON_PATTERN}')",
                "spec.backup.drill.schedule must be a cron schedule with five "
                "fields such as '43 4 * * 0', or a macro such as @weekly",
            )
        ),
    )


class Backup(Model):
    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!(has(self.s3) && has(self.file))",
                "spec.backup may set s3 or file, not both: remove one of them",
            )
        )
    )

    s3: S3Target | None = None
    file: FileTarget | None = None
    litestream: Litestream = Field(default_factory=Litestream)
    recovery: Recovery = Field(
        Recovery.AUTOMATIC,
        description="Automatic restores a missing database from the replica "
        "before start; Manual refuses to start (Stalled) when the volume is new "
        "but the replica holds data, so a person decides.",
    )
    drill: RestoreDrill | None = Field(
        None,
        description="A scheduled restore of the latest replica into scratch "
        "space, checked with PRAGMA integrity_check; the result lands in status.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> Backup:
        if self.s3 is not None and self.file is not None:
            raise ValueError("set s3 or file, not both")
        return self


RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)


class RestoreSource(Model):
    """Where a new instance's database comes from: another instance's replica
    (a clone), or an S3 replica named directly; optionally as of a moment."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.fromInstance) != has(self.s3)",
                "spec.bootstrap.restore needs exactly one of fromInstance or s3",
            )
        )
    )

    from_instance: str | None = Field(
        None,
        description="A KubarrInstance in the same namespace whose S3 replica "
        "is restored (a clone).",
        max_length=253,
        pattern=NAME_PATTERN,
    )
    s3: S3Target | None = Field(None, description="An S3 replica to restore from.")
    timestamp: str | None = Field(
        None,
        description="Restore the state as of this RFC 3339 time (point in time).",
        max_length=40,
        json_schema_extra=validations(
            cel(
                f"self.matches('{RFC3339_PATTERN}')",
                "spec.bootstrap.restore.timestamp must be an RFC 3339 time such "
                "as 2026-12-04T10:00:00Z",
            )
        ),
    )

    @model_validator(mode="after")
    def _one_source(self) -> RestoreSource:
        if (self.from_instance is None) == (self.s3 is None):
            raise ValueError("set exactly one of fromInstance or s3")
        return self


class PostgresSource(Model):
    url_secret_ref: SecretKeyRef = Field(
        ..., description="Secret key holding the postgresql:// URL to import."
    )


class Bootstrap(Model):
    """How the database of a new instance is made; applies to the first start only."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!(has(self.restore) && has(self.fromPostgres))",
                "spec.bootstrap may set restore or fromPostgres, not both",
            )
        )
    )

    restore: RestoreSource | None = None
    from_postgres: PostgresSource | None = Field(
        None,
        description="Import the data of an existing PostgreSQL Kubarr database "
        "once, before the first start.",
    )

    @model_validator(mode="after")
    def _one_method(self) -> Bootstrap:
        if self.restore is not None and self.from_postgres is not None:
            raise ValueError("set restore or fromPostgres, not both")
        return self


class Audit(Model):
    retention_days: int = Field(90, ge=1, le=3650)
    schedule: str = Field(
        "17 3 * * *",
        max_length=128,
        json_schema_extra=validations(
            cel(
                f"self.matches('{CRON_PATTERN}')",
                "spec.audit.schedule must be a cron schedule with five fields "
                "such as '17 3 * * *', or a macro such as @daily",
            )
        ),
    )


class Migration(Model):
    """How schema migrations run when the image tag changes."""

    keep_failed_jobs: int = Field(
        3, ge=1, le=10, description="Failed migration Jobs kept for inspection."
    )
    max_attempts: int = Field(
        3,
        ge=1,
        le=20,
        description="Attempts at one version before the instance is Stalled.",
    )
    active_deadline_seconds: int = Field(
        900, ge=60, le=86400, description="A migration Job running longer fails."
    )


class Cache(Model):
    endpoint_ttl_seconds: int = Field(60, ge=1, le=86400)
    max_entries: int = Field(1000, ge=10, le=1_000_000)
    eviction_interval_seconds: int = Field(30, ge=1, le=3600)
    metrics_max_age_seconds: int = Field(300, ge=10, le=86400)


# Bounded sizes keep the CEL cost estimate within the API server's budget.
QUANTITY_MAP_SCHEMA: dict[str, Any] = {
    "additionalProperties": {"type": "string", "maxLength": 64},
    **validations(
        cel(
            "self.all(k, isQuantity(self[k]))",
            "resource amounts must be quantities such as 100m, 128Mi or 1",
        )
    ),
}


class ResourceRequirements(Model):
    requests: dict[str, str] | None = Field(
        None, max_length=8, json_schema_extra=QUANTITY_MAP_SCHEMA
    )
    limits: dict[str, str] | None = Field(
        None, max_length=8, json_schema_extra=QUANTITY_MAP_SCHEMA
    )


def default_app_resources() -> ResourceRequirements:
    return ResourceRequirements(
        requests={"cpu": "50m", "memory": "96Mi"}, limits={"memory": "256Mi"}
    )


def default_litestream_resources() -> ResourceRequirements:
    return ResourceRequirements(
        requests={"cpu": "10m", "memory": "32Mi"}, limits={"memory": "128Mi"}
    )


class Resources(Model):
    app: ResourceRequirements = Field(default_factory=default_app_resources)
    litestream: ResourceRequirements = Field(
        default_factory=default_litestream_resources
    )


class ServiceType(StrEnum):
    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"


class Service(Model):
    type: ServiceType = ServiceType.CLUSTER_IP
    port: int = Field(8000, ge=1, le=65535)


class KubarrInstanceSpec(Model):
    """Desired state of one Kubarr installation."""

    image: Image = Field(default_factory=Image)
    storage: Storage = Field(default_factory=Storage)
    database: Database = Field(default_factory=Database)
    backup: Backup = Field(default_factory=Backup)
    audit: Audit | None = Field(
        None,
        description="Scheduled audit log retention (set {} for the defaults); "
        "remove it to stop pruning.",
    )
    cache: Cache = Field(default_factory=Cache)
    resources: Resources = Field(default_factory=Resources)
    service: Service = Field(default_factory=Service)
    migration: Migration = Field(default_factory=Migration)
    bootstrap: Bootstrap | None = Field(
        None,
        description="Where a new instance's data comes from (a replica, a "
        "point in time, another instance, PostgreSQL). Fixed once set.",
        json_schema_extra=validations(
            cel(
                "self == oldSelf",
                "spec.bootstrap cannot change after the instance is created",
            )
        ),
    )
    hibernate: bool = Field(
        False,
        description="Stop the pod (Litestream syncs a last time) and keep the "
        "volume, the replica and everything else; false brings it back.",
    )
    suspend: bool = Field(
        False,
        description="Stop reconciling: the operator changes nothing until "
        "this is false again.",
    )

    def replica_path(self, namespace: str, name: str) -> str:
        """The S3 key prefix of this instance's replica."""
        if self.backup.s3 and self.backup.s3.path:
            return self.backup.s3.path.strip("/")
        return f"{namespace}/{name}"

    @property
    def backup_kind(self) -> str:
        if self.database.engine == Engine.POSTGRES:
            return "external"
        if self.backup.s3:
            return "s3"
        if self.backup.file:
            return "file"
        return "none"


# ---------------------------------------------------------------- status


class Condition(Model):
    """The metav1.Condition shape, so kstatus, Argo CD and kubectl wait agree."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(..., max_length=316)
    status: str = Field(..., pattern=r"^(True|False|Unknown)$")
    observed_generation: int | None = Field(None, ge=0)
    last_transition_time: str = Field(..., description="RFC 3339 time.")
    reason: str = Field(..., max_length=1024)
    message: str = Field("", max_length=32768)


class MigrationStatus(Model):
    """The last schema migration: enough to resume it after an operator restart."""

    from_version: str | None = None
    to_version: str | None = None
    state: str | None = Field(
        None, description="Fencing, Running, Succeeded or Failed."
    )
    job: str | None = None
    attempts: int | None = None
    fenced_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    retry_after: str | None = None
    unavailable_seconds: int | None = Field(
        None, description="From fencing to the new version Ready."
    )
    message: str | None = Field(None, max_length=4096)
    verification: str | None = Field(
        None, description="What verify-db found before the migration ran."
    )


class BootstrapStatus(Model):
    method: str | None = Field(None, description="restore, clone or postgres.")
    source: str | None = None
    timestamp: str | None = None
    completed_at: str | None = None
    verification: str | None = None


class RestoreDrillStatus(Model):
    job: str | None = None
    time: str | None = None
    succeeded: bool | None = None
    integrity: str | None = None
    tables: int | None = None
    rows: int | None = None
    message: str | None = Field(None, max_length=1024)


class BackupStatus(Model):
    request: str | None = Field(
        None, description="The kubarr.io/backup-now value this answers."
    )
    job: str | None = None
    time: str | None = None
    succeeded: bool | None = None
    txid: int | None = None
    replicated_txid: int | None = None
    message: str | None = Field(None, max_length=1024)


class AuditPruneStatus(Model):
    job: str | None = None
    time: str | None = None
    succeeded: bool | None = None
    deleted: int | None = None
    message: str | None = Field(None, max_length=1024)


class KubarrInstanceStatus(Model):
    observed_generation: int | None = None
    phase: str | None = Field(
        None,
        description="Short readable state: Progressing, Migrating, Upgrading, "
        "Ready, Degraded (an upgrade failed; the old version serves), Hibernated, "
        "Suspended, Stalled.",
    )
    conditions: list[Condition] = Field(default_factory=list)
    version: str | None = Field(None, description="Image tag currently rolled out.")
    backup: str | None = Field(
        None,
        description="Where the replica goes: s3://bucket/path, file:/path, or none.",
    )
    endpoint: str | None = Field(None, description="In-cluster URL of the app.")
    ready_replicas: int | None = None
    target_version: str | None = Field(
        None, description="Image tag being migrated to, while an upgrade runs."
    )
    migration: MigrationStatus | None = None
    last_audit_prune: AuditPruneStatus | None = None
    last_restore_drill: RestoreDrillStatus | None = None
    bootstrap: BootstrapStatus | None = None
    last_backup: BackupStatus | None = None
