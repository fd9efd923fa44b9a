"""Composition for issue 19: the Prometheus source wrapped so each poll also
reads Alertmanager (when `[alertmanager] url` is set), and the silence
settings the app's `a` uses (when `ack_silence` is set too)."""

from __future__ import annotations

from console.mitigations.silence import SilenceSettings
from console.sources.alertmanager import Alertmanagers, PagerOverlay
from console.sources.prometheus.http import PromClient


def with_alertmanager(source, config, sites: dict[str, str] | None = None):
    """`source` itself without an Alertmanager configured; else the overlay,
    carrying `silence_settings` (None without ack_silence). `sites`: the
    global source's cluster label values -> site names, to tell one site's
    page from another's (config.prometheus.cluster_label names the label)."""
    am = config.alertmanager
    if not am.url:
        return source
    managers = Alertmanagers(am.url, am.auth, timeout=am.timeout_s,
                             alert_name=config.prometheus.alert_name)
    rules = PromClient(config.prometheus.url, config.prometheus.auth,
                       timeout=config.prometheus.timeout_s)
    labels = tuple(getattr(getattr(source, "profile", None), "service_labels", ("service",)))
    label = config.prometheus.cluster_label
    values = dict(sites or {})
    overlay = PagerOverlay(source, managers, rules_client=rules, service_labels=labels,
                           site_of=lambda found: values.get(found.get(label), "") if label else "")
    overlay.silence_settings = (
        SilenceSettings(port=managers, length_s=am.ack_silence_s, url=managers.members[0].url,
                        service_label=labels[0])
        if am.ack_silence else None)
    return overlay
