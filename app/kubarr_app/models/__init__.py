"""The 22 tables of the Kubarr database, grouped by what they hold.

Importing this package registers every table on ``SQLModel.metadata``.
"""

# Limitation: invites, 2FA challenges, OAuth, notifications, preferences and
# VPN tables are carried (for data import and later use) but not yet served.

from kubarr_app.models.audit import AuditLog
from kubarr_app.models.auth import (
    Invite,
    OAuthAccount,
    OAuthProvider,
    Pending2FAChallenge,
    Role,
    RoleAppPermission,
    RolePermission,
    Session,
    User,
    UserPreferences,
    UserRole,
)
from kubarr_app.models.notifications import (
    NotificationChannel,
    NotificationEvent,
    NotificationLog,
    UserNotification,
    UserNotificationPref,
)
from kubarr_app.models.system import BootstrapStatus, ServerConfig, SystemSetting
from kubarr_app.models.vpn import AppVpnConfig, VpnProvider

__all__ = [
    "AppVpnConfig",
    "AuditLog",
    "BootstrapStatus",
    "Invite",
    "NotificationChannel",
    "NotificationEvent",
    "NotificationLog",
    "OAuthAccount",
    "OAuthProvider",
    "Pending2FAChallenge",
    "Role",
    "RoleAppPermission",
    "RolePermission",
    "ServerConfig",
    "Session",
    "SystemSetting",
    "User",
    "UserNotification",
    "UserNotificationPref",
    "UserPreferences",
    "UserRole",
    "VpnProvider",
]
