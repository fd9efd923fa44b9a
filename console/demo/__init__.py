"""The embedded demo fleet behind `cbconsole --demo`: simulated breakers, cluster and flags."""

from console.demo.breaker import SimBreaker
from console.demo.cluster import DemoCluster
from console.demo.flags import DemoFlags
from console.demo.fleet import DemoFleet

__all__ = ["DemoCluster", "DemoFleet", "DemoFlags", "SimBreaker"]
