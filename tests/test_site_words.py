"""With several sites, what the screen says of each (issue 18): the action
log names the cluster each step acted on, and a site configured read_only
says so on its header entry (the console-wide mode is the header's first
word; a site's own is beside its name)."""

from __future__ import annotations

import pytest
from rich.console import Console

from console.mitigations.recorder import ActionEvent, Stage
from console.mitigations.siterouting import Site, SiteRouter
from console.model.fleet import BreakerState as S
from console.model.fleet import SourceHealth
from console.model.servicemap import ServiceMap
from console.ui.app import CBConsoleApp
from tests.fakes import clock, service
from tests.screen import flat, settle
from tests.sitesboard import SitesSource
from widgets.actionlog import log_table
from widgets.status import StatusLine

pytestmark = pytest.mark.ui


def table_text(table) -> str:
    console = Console(width=140, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def event(site: str, stage: Stage = Stage.SENT) -> ActionEvent:
    c = clock()
    return ActionEvent(at=c(), action="restart", stage=stage, service="payment-api",
                       target="shop/deployment/payment-api", site=site,
                       details={"message": "PATCH sent"})


def test_the_action_log_names_the_cluster_each_step_acted_on():
    text = table_text(log_table([event("eu-west"), event("us-east", Stage.VERIFIED)]))
    header = next(line for line in text.splitlines() if "ACTION" in line)
    assert "CLUSTER" in header
    rows = [line for line in text.splitlines() if "payment-api" in line]
    assert "us-east" in rows[0] and "VERIFIED" in rows[0]  # newest first
    assert "eu-west" in rows[1] and "SENT" in rows[1]


def test_one_site_keeps_the_action_log_as_it_was():
    text = table_text(log_table([event("")]))
    assert "CLUSTER" not in text
    assert "payment-api" in text


def two_sites(c, read_only: str | None):
    services = [service("payment-api", S.OPEN, site="eu-west"),
                service("payment-api", S.CLOSED, site="us-east")]
    sources = [SourceHealth(name=name, sites=(name,), as_of=c()) for name in ("eu-west", "us-east")]
    router = SiteRouter([Site(name=name, context=f"{name}-ctx", read_only=name == read_only)
                         for name in ("eu-west", "us-east")], service_map=ServiceMap({}))
    return SitesSource(c, services, sources), router


@pytest.mark.parametrize("read_only", ["us-east", None])
async def test_a_read_only_site_says_so_on_its_header_entry(read_only):
    c = clock()
    source, router = two_sites(c, read_only)
    app = CBConsoleApp(source, sites=router, poll_interval=3600, clock=c)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        header = flat(app.query_one(StatusLine).render().plain)
        if read_only:
            assert "us-east READ-ONLY ok" in header
            assert "eu-west ok" in header and "eu-west READ-ONLY" not in header
        else:
            assert "READ-ONLY" not in header
