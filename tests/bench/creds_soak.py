"""Credentials soak: the console headless (App.run_test) for --minutes at a
1 s poll on a real Prometheus, with a kube context whose exec plugin gives
short-lived tokens, and the diagnosis gathered again every 10 s.

The Kubernetes API test server (tests/kubeserver.py, in this process)
accepts only the tokens of the tests' exec plugin (tests/execplugin.py, run
by console/sources/kubecreds.py as for a real kubeconfig):

- expiry: tokens live --ttl s and say so (expirationTimestamp); the console
  must fetch a new one before each dies: 0 requests answered 401.
- revocation: tokens state no expiry and stop working after --ttl s; the
  console learns from the 401 and runs the plugin again: one 401 per token
  life, each cured by the resend, 0 failed reads.

The poll is PrometheusSource's; the diagnosis is the app's own `g` path
(console.diagnosis.gather in a worker: deployments, rollout history, pods,
log tails, a dependency check by pod exec over the WebSocket).

Prints every --sample s, then a summary: failed reads (diagnosis parts
unread, pod-exec checks not run, polls failed), requests answered 401,
plugin runs against minutes x 60 / ttl, RSS at start / middle / end.

Usage: python tests/bench/creds_soak.py [--minutes 30] [--ttl 60]
       [--variant expiry|revocation] [--poll 1] [--diagnose-every 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.procstats import CountingSource, rss_mb  # noqa: E402
from tests.kubeserver import KubeServer  # noqa: E402
from tests.promserver import Backend, Exporter  # noqa: E402

from console.ui.app import CBConsoleApp  # noqa: E402
from console.cli import long_session  # noqa: E402
from console.model.servicemap import ServiceEntry, ServiceMap  # noqa: E402
from console.sources.kube import KubernetesCluster  # noqa: E402

PLUGIN = Path(__file__).resolve().parents[1] / "execplugin.py"
SERVICE = "payment-api"
STATES = ("closed", "open", "half_open")


def start_prometheus() -> tuple[Exporter, Backend]:
    ex = Exporter()
    ex.update([("circuit_breaker_state", {"service": svc, "pod": f"{svc}-{p}", "state": s},
                1 if s == state else 0)
               for svc, state in ((SERVICE, "open"), ("users", "closed"))
               for p in "abc" for s in STATES])
    backend = Backend("prometheus", ex.target, scrape_interval=1)
    backend.wait_ready(f'circuit_breaker_state{{service="{SERVICE}"}}', timeout=90)
    return ex, backend


def start_cluster(variant: str, ttl: float, tmp: Path) -> tuple[KubeServer, KubernetesCluster, Path]:
    kube = KubeServer().start()
    kube.add_deployment("api", "shop", replicas=2)
    kube.add_deployment(SERVICE, "shop", replicas=2)
    for pod in kube.pods("shop"):
        kube.set_log("shop", pod["metadata"]["name"], "ERROR upstream 503\ncircuit open\n")
    kube.set_exec("shop", None, lambda argv: (0, "", "") if argv[0] == "nc" else (127, "", ""))
    if variant == "expiry":
        kube.require_tokens(ttl=ttl)
    else:
        kube.require_tokens(ttl=ttl, expiry=False, revoke_after=ttl)
    log = tmp / "plugin-runs.jsonl"
    log.touch()
    spec = {"apiVersion": "client.authentication.k8s.io/v1", "command": str(PLUGIN),
            "interactiveMode": "IfAvailable",
            "env": [{"name": "KS_URL", "value": kube.url}, {"name": "KS_LOG", "value": str(log)}]}
    cfg = kube.write_kubeconfig(tmp / "kc", namespace="shop", exec_plugin=spec)
    return kube, KubernetesCluster(kubeconfig=str(cfg), timeout=5), log


def unread_parts(diagnosis) -> list[str]:
    """What a diagnosis could not read, and why (empty when all was read)."""
    parts = [f"{view.role} {part}: {why}" for view in (diagnosis.downstream, diagnosis.caller)
             for part, why in view.unread]
    parts += [f"dependency {d.address}: {d.detail}" for d in diagnosis.dependencies
              if d.reachable is not True]
    return parts


async def soak(args, url: str, kube: KubeServer, cluster: KubernetesCluster, log: Path) -> dict:
    source = CountingSource(url, backfill_minutes=5)
    smap = ServiceMap({SERVICE: ServiceEntry(caller="api", dependencies=["db:5432"])},
                      namespace="shop")
    app = CBConsoleApp(source, cluster=cluster, service_map=smap, poll_interval=args.poll)
    long_session(app)  # as cbconsole does once the app is built
    figures = {"diagnoses": 0, "failed_reads": 0, "diagnosis_errors": 0, "unauthorized": 0,
               "requests": 0, "rss": [], "examples": []}

    def drain_requests() -> None:
        with kube._lock:  # the server's record grows per request: count it, let it go
            done, kube.requests[:] = list(kube.requests), []
        api = [r for r in done if r.path.startswith(("/api/", "/apis/"))]
        figures["requests"] += len(api)
        figures["unauthorized"] += sum(r.status == 401 for r in api)

    async with app.run_test(size=(140, 40)) as pilot:
        start = time.monotonic()
        end = start + args.minutes * 60
        while app.selection.service() is None:  # the first poll, a row to diagnose
            await pilot.pause(0.2)
            if time.monotonic() > start + 60:
                raise SystemExit("no board after 60 s: is Prometheus scraping?")
        next_diag = next_sample = time.monotonic()
        seen_at = None
        print(f"{'t s':>6} {'RSS MiB':>8} {'polls':>6} {'poll fail':>9} {'diag':>5} "
              f"{'failed reads':>12} {'401s':>5} {'requests':>8} {'plugin runs':>11}", flush=True)
        while True:
            now = time.monotonic()
            diagnosis = app.diagnosis.diagnoses.get(("", SERVICE))
            if diagnosis is not None and diagnosis.gathered_at != seen_at:
                seen_at = diagnosis.gathered_at
                figures["diagnoses"] += 1
                missing = unread_parts(diagnosis)
                figures["failed_reads"] += len(missing)
                figures["examples"] = (figures["examples"] + missing)[:5]
            if SERVICE in app.diagnosis.errors:
                figures["diagnosis_errors"] += 1
                figures["examples"] = (figures["examples"] + [app.diagnosis.errors.pop(SERVICE)])[:5]
            if now >= next_diag and SERVICE not in app.diagnosis.gathering:
                app.action_diagnose()  # what `g` does
                next_diag += args.diagnose_every
            if now >= next_sample or now >= end:
                drain_requests()
                runs = sum(1 for line in log.read_text().splitlines() if line)
                figures["rss"].append((now - start, rss_mb()))
                figures["runs"] = runs
                print(f"{now - start:>6.0f} {rss_mb():>8.1f} {source.polls:>6} "
                      f"{source.failures:>9} {figures['diagnoses']:>5} "
                      f"{figures['failed_reads'] + figures['diagnosis_errors']:>12} "
                      f"{figures['unauthorized']:>5} {figures['requests']:>8} {runs:>11}",
                      flush=True)
                if now >= end:
                    break
                next_sample += args.sample
            await asyncio.sleep(0.2)
        assert app.return_code is None, "the app exited during the soak"
        figures["polls"], figures["poll_failures"] = source.polls, source.failures
        figures["interactive_runs"] = sum(
            json.loads(line)["info"]["spec"]["interactive"] is not False
            for line in log.read_text().splitlines() if line)
    return figures


def report(args, f: dict) -> None:
    rss = f["rss"]
    middle = min(rss, key=lambda s: abs(s[0] - rss[-1][0] / 2))
    expected = args.minutes * 60 / args.ttl
    print()
    print(f"credentials soak, {args.variant}: {args.minutes:g} min, poll {args.poll:g} s, "
          f"{args.ttl:g} s tokens, diagnosis every {args.diagnose_every:g} s")
    print(f"polls {f['polls']}, failed {f['poll_failures']}; diagnoses {f['diagnoses']}")
    print(f"failed reads: {f['failed_reads']} diagnosis parts unread, "
          f"{f['diagnosis_errors']} diagnoses failed  (expect 0)")
    expect_401 = "expect 0" if args.variant == "expiry" else \
        f"expect about one per token life, ~{expected:.0f}, each cured by the resend"
    print(f"kube API requests {f['requests']}, answered 401: {f['unauthorized']}  ({expect_401})")
    print(f"plugin runs {f['runs']} vs {args.minutes:g} min / {args.ttl:g} s = {expected:.0f} "
          f"(renewed before expiry: up to {args.minutes * 60 / (args.ttl - min(10, args.ttl / 4)):.0f}); "
          f"interactive runs {f['interactive_runs']} (expect 0)")
    print(f"RSS MiB: start {rss[0][1]:.1f}, middle ({middle[0] / 60:.1f} min) {middle[1]:.1f}, "
          f"end {rss[-1][1]:.1f}")
    for example in f["examples"]:
        print(f"  e.g. {example}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--ttl", type=float, default=60, help="token life, s")
    p.add_argument("--variant", choices=("expiry", "revocation"), default="expiry")
    p.add_argument("--poll", type=float, default=1.0)
    p.add_argument("--diagnose-every", type=float, default=10.0)
    p.add_argument("--sample", type=float, default=60, help="seconds between samples")
    args = p.parse_args()
    ex, backend = start_prometheus()
    try:
        with tempfile.TemporaryDirectory(prefix="cbconsole-creds-soak-") as tmp:
            kube, cluster, log = start_cluster(args.variant, args.ttl, Path(tmp))
            try:
                figures = asyncio.run(soak(args, backend.url, kube, cluster, log))
            finally:
                cluster.close()
                kube.stop()
    finally:
        backend.stop()
        ex.close()
    report(args, figures)
    print(f"\nreproduce: make bench-creds-soak  (or: .venv/bin/python tests/bench/creds_soak.py "
          f"--minutes {args.minutes:g} --ttl {args.ttl:g} --variant {args.variant})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
