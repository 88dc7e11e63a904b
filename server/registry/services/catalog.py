"""Every registry resource by its URL name."""

from __future__ import annotations

from server.registry.services import (
    addresses,
    households,
    houses,
    incidents,
    organizations,
    persons,
    work,
)
from server.registry.services.records import Resource

RESOURCES: dict[str, Resource] = {
    resource.name: resource
    for resource in (
        addresses.RESOURCE,
        houses.RESOURCE,
        persons.RESOURCE,
        households.RESOURCE,
        organizations.RESOURCE,
        incidents.RESOURCE,
        work.TASK_RESOURCE,
        work.VISIT_RESOURCE,
        work.PLAN_RESOURCE,
    )
}
