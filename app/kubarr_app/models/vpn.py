"""VPN providers and which app routes through which provider."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from kubarr_app.models.types import created_field, fk_field, id_field, json_field


class VpnProvider(SQLModel, table=True):
    __tablename__ = "vpn_provider"

    id: int | None = id_field()
    name: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=32)
    config: dict[str, object] | None = json_field()
    enabled: bool = True
    created_at: datetime = created_field()


class AppVpnConfig(SQLModel, table=True):
    __tablename__ = "app_vpn_config"

    id: int | None = id_field()
    app_name: str = Field(max_length=100, unique=True)
    vpn_provider_id: int = fk_field("vpn_provider.id")
    kill_switch: bool = True
    created_at: datetime = created_field()
