"""Settings of the Template adapter (NX_ prefix): where the platform is, how to log in, how long to wait.

Every field's unit is in its name; secrets are `SecretStr` from the environment only, never logged."""

from __future__ import annotations

from pydantic import Field, SecretStr

from nexus_mesh.adapter import AdapterSettings


class TemplateSettings(AdapterSettings):
    venue: str = "template"  # NX_VENUE: the instance's name in venues.yaml (service adapter-{venue})
    template_host: str = "127.0.0.1"  # where the platform (or its simulator) listens
    template_port: int = Field(default=9100, ge=1, le=65535)
    template_token: SecretStr | None = None  # the platform's credential, if it has one
    template_timeout_s: float = Field(default=5.0, gt=0)  # a request with no answer by then: unknown outcome
