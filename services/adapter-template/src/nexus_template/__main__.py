"""`python -m nexus_template`: the Template adapter (NX_TEMPLATE_* settings, see `config`)."""

from __future__ import annotations

import redis

from nexus_mesh.runner import run_service
from nexus_template.adapter import TemplateAdapter
from nexus_template.config import TemplateSettings


def build(settings: TemplateSettings, client: redis.Redis) -> TemplateAdapter:
    return TemplateAdapter(settings, client)


if __name__ == "__main__":
    raise SystemExit(run_service(TemplateSettings, build))
