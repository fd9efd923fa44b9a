"""The demo fleet on paper: who calls whom, how healthy each downstream is,
and the one incident (plus one flapping dependency) the story is about."""

from __future__ import annotations

from dataclasses import dataclass

from console.model.kubectl import env_prefix
from console.model.servicemap import ServiceEntry, ServiceMap

NAMESPACE = "shop"
REPLICAS = 3
CONTAINER = "app"


@dataclass(frozen=True)
class Fault:
    """A downstream failing most calls from `start_s` on (seconds after t0)."""

    start_s: float
    error_rate: float
    message: str  # what its pods log, e.g. "connection pool exhausted"
    # The pod env a bad revision brought with it (a connection-pool setting):
    # every pod started with it fails, whenever it started, so a restart
    # keeps the fault and only a rollback to a revision without it ends it.
    # Without one, the fault lives in the pods that were running when it
    # began: pods started later (a restart) are healthy.
    revision_env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Flap:
    """A downstream bad for `bad_s` out of every `period_s`, from `start_s` on."""

    start_s: float
    period_s: float
    bad_s: float
    error_rate: float
    message: str

    def bad(self, t: float) -> bool:
        return t >= self.start_s and (t - self.start_s) % self.period_s < self.bad_s


@dataclass(frozen=True)
class Downstream:
    """A breaker service: the downstream one caller deployment guards."""

    name: str
    caller: str
    version: str
    base_error: float  # share of calls failing on a good day
    endpoint: str  # the call the caller makes, for log lines
    recovery_timeout_s: float = 60.0
    fault: Fault | None = None
    flap: Flap | None = None
    # (revision, age in seconds before t0, change cause) for the rollout
    # history; without one the history is made up from the seed.
    history: tuple[tuple[int, float, str], ...] = ()

    @property
    def flag(self) -> str:
        """Its feature flag, as in the runbook's Option 4."""
        return f"{self.name}-integration"

    @property
    def env_prefix(self) -> str:
        """PAYMENT_API for payment-api, as in the runbook's fallback variables."""
        return env_prefix(self.name)


# Revision 14's pool settings; revision 13 ran with POOL_BEFORE.
PAYMENT_POOL = Fault(
    start_s=4.0, error_rate=0.97, message="connection pool exhausted",
    revision_env=(("DB_POOL_MAX_SIZE", "10"), ("DB_POOL_TIMEOUT_MS", "30000")),
)
POOL_BEFORE = {"DB_POOL_MAX_SIZE": "50", "DB_POOL_TIMEOUT_MS": "5000"}
INVENTORY_FLAP = Flap(
    start_s=8.0,
    period_s=20.0,
    bad_s=6.0,
    error_rate=0.6,
    message="timeout waiting for warehouse-db replica (2000 ms)",
)

MIN = 60.0
DAY = 86400.0

DOWNSTREAMS: tuple[Downstream, ...] = (
    Downstream(
        "payment-api", "api", "2.8.0", 0.005, "POST /v1/payments",
        fault=PAYMENT_POOL,
        history=(
            (12, 9 * DAY, "deploy payment-api v2.7.3: retry budget for card network"),
            (13, 2 * DAY, "deploy payment-api v2.7.4: bump TLS library"),
            (14, 4 * MIN, "deploy payment-api v2.8.0: new DB connection pool settings"),
        ),
    ),
    Downstream("user-svc", "api", "4.2.1", 0.01, "GET /v1/users/{id}"),
    Downstream("catalog-svc", "api", "1.17.0", 0.0, "GET /v1/products"),
    Downstream("fraud-check", "api", "0.9.4", 0.02, "POST /v1/score"),
    Downstream(
        "inventory-svc", "checkout", "3.3.2", 0.01, "GET /v1/stock",
        recovery_timeout_s=10.0,
        flap=INVENTORY_FLAP,
    ),
    Downstream("shipping-quote", "checkout", "1.2.0", 0.03, "POST /v1/quotes"),
    Downstream("tax-calculator", "checkout", "2.0.5", 0.005, "POST /v1/tax"),
    Downstream("notification-svc", "orders-worker", "1.6.3", 0.01, "POST /v1/notify"),
    Downstream("email-gateway", "orders-worker", "0.14.2", 0.02, "POST /v1/send"),
    Downstream("recommendation-svc", "web-frontend", "2.5.0", 0.03, "GET /v1/recs"),
    Downstream("search-svc", "web-frontend", "6.1.1", 0.01, "GET /v1/search"),
    Downstream("auth-svc", "web-frontend", "3.0.8", 0.0, "POST /v1/token"),
)

CALLER_VERSIONS = {
    "api": "3.12.1",
    "checkout": "1.9.0",
    "orders-worker": "2.3.4",
    "web-frontend": "5.0.2",
}

# The simulation moves in fixed ticks of simulated time.
TICK_S = 0.2
TICKS_PER_S = 5

# What the downstreams need, as `nc -z host port` from their pods checks it.
DEPENDENCIES: dict[str, tuple[tuple[str, int], ...]] = {
    "payment-api": (("postgres", 5432), ("redis", 6379)),
    "inventory-svc": (("warehouse-db", 5432),),
}
SERVICE_PORT = 8080


def caller_path(endpoint: str) -> str:
    """The caller's own endpoint that uses a downstream's: POST /v1/payments
    on payment-api is served to users as /api/v1/payments by api (the
    runbook's smoke test endpoint)."""
    path = endpoint.split(" ", 1)[1]
    return "/api" + path.replace("{id}", "42")


def demo_service_map() -> ServiceMap:
    """Where each demo breaker service lives, as a config file would say."""
    base = f"{NAMESPACE}.svc:{SERVICE_PORT}"
    entries = {
        d.name: ServiceEntry(
            caller=d.caller,
            health_url=f"http://{d.name}.{base}/health",
            # The runbook's load test: what users call, through the caller.
            smoke_url=f"http://{d.caller}.{base}{caller_path(d.endpoint)}",
            dependencies=[f"{host}:{port}" for host, port in DEPENDENCIES.get(d.name, ())],
        )
        for d in DOWNSTREAMS
    }
    return ServiceMap(entries, namespace=NAMESPACE)
