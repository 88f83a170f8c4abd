"""The platform link: one connection to the platform, its requests and what it pushes. No mesh logic.

Every method raises `OSError` or `TimeoutError` when the link fails during a call (the base then
treats a send as an unknown outcome and looks the order up once the link is back)."""

from __future__ import annotations

from collections.abc import Callable

from nexus_mesh.adapter import PlatformReport
from nexus_template.config import TemplateSettings
from nexus_template.mapping import PlatformOrder

TODO = "the Template platform link is a template: implement it for the platform"


class TemplateClient:
    def __init__(self, settings: TemplateSettings, on_push: Callable[[list[PlatformReport]], object]) -> None:
        self.settings = settings
        self.on_push = on_push  # reports the platform pushes later (the adapter emits them)

    def connect(self) -> None:
        """Open the link and log in (idempotent)."""
        raise NotImplementedError(TODO)

    @property
    def up(self) -> bool:
        return False

    def close(self) -> None:
        """Release the link."""

    def send(self, order: PlatformOrder) -> list[PlatformReport]:
        raise NotImplementedError(TODO)

    def cancel(self, name: str) -> list[PlatformReport]:
        raise NotImplementedError(TODO)

    def find(self, name: str) -> list[PlatformReport] | None:
        """The order named `name` and all its executions, or None if the platform never had it."""
        raise NotImplementedError(TODO)

    def working(self) -> list[PlatformReport]:
        raise NotImplementedError(TODO)

    def executions_since(self, marker: str | None) -> tuple[list[PlatformReport], str | None]:
        raise NotImplementedError(TODO)

    def positions(self) -> dict[str, float]:
        """Venue symbol -> signed quantity in venue units."""
        raise NotImplementedError(TODO)
