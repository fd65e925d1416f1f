"""Glance images, Keystone's counts and Heat stacks (openstack-exporter names)."""

from __future__ import annotations

from exporter.collectors.openstack.families import Scope, text
from exporter.collectors.openstack.inventory.common import PAGE
from exporter.collectors.openstack.inventory.common import projects as common_projects
from exporter.collectors.openstack.session import CloudSession
from exporter.metric import MetricFamily


def images(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    image = session.proxy("image")
    size = scope.gauge(
        "openstack_glance_image_bytes", "Size of each image.", ["id", "name", "tenant_id"]
    )
    n = 0
    for img in image.images(limit=PAGE):
        n += 1
        size.add([text(img.id), text(img.name), text(img.owner)], float(img.size or 0))
    return [scope.value("openstack_glance_images", "Images.", float(n)), size.family]


def identity(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    keystone = session.proxy("identity")
    info = scope.gauge(
        "openstack_identity_project_info",
        "Projects; always 1.",
        ["is_domain", "description", "domain_id", "enabled", "id", "name", "parent_id", "tags"],
    )
    projects = common_projects(session)
    for p in projects:
        info.add(
            [
                text(p.is_domain),
                text(p.description),
                text(p.domain_id),
                text(p.is_enabled),
                text(p.id),
                text(p.name),
                text(p.parent_id),
                ",".join(p.tags or []),
            ],
            1.0,
        )
    counts = {
        "domains": sum(1 for _ in keystone.domains()),
        "users": sum(1 for _ in keystone.users()),
        "groups": sum(1 for _ in keystone.groups()),
        "regions": sum(1 for _ in keystone.regions()),
    }
    return [
        scope.value("openstack_identity_projects", "Projects.", float(len(projects))),
        *(
            scope.value(f"openstack_identity_{k}", f"{k.capitalize()}.", float(v))
            for k, v in counts.items()
        ),
        info.family,
    ]


STACK_STATUS = {
    f"{action}_{state}": code
    for code, (action, state) in enumerate(
        (action, state)
        for action in (
            "INIT",
            "CREATE",
            "DELETE",
            "UPDATE",
            "ROLLBACK",
            "SUSPEND",
            "RESUME",
            "ADOPT",
            "SNAPSHOT",
            "CHECK",
        )
        for state in ("IN_PROGRESS", "FAILED", "COMPLETE")
    )
}


def stacks(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    heat = session.proxy("orchestration")
    status = scope.gauge(
        "openstack_heat_stack_status",
        "Status code of each stack (CREATE_COMPLETE 5, ...; -1 unknown).",
        ["id", "name", "project_id", "status"],
    )
    counter = dict.fromkeys(STACK_STATUS, 0)
    for stack in heat.stacks(all_projects=True):
        st = text(stack.status)
        counter[st] = counter.get(st, 0) + 1
        status.add(
            [text(stack.id), text(stack.name), text(stack.project_id), st],
            float(STACK_STATUS.get(st, -1)),
        )
    by_status = scope.gauge("openstack_heat_stack_status_counter", "Stacks by status.", ["status"])
    for st, n in counter.items():
        by_status.add([st], float(n))
    return [status.family, by_status.family]
