"""The embedded demo fleet behind `cbconsole --demo`: simulated breakers, cluster and flags."""

from console.demo.breaker import SimBreaker
from console.demo.cluster import DemoCluster
from console.demo.flags import DemoFlags
from console.demo.fleet import DemoFleet
from console.demo.probe import DemoProbe
from console.demo.sites import DemoSites
from console.demo.topology import demo_service_map

__all__ = ["DemoCluster", "DemoFlags", "DemoFleet", "DemoProbe", "DemoSites", "SimBreaker", "demo_service_map"]
