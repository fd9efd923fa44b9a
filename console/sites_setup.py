"""The sites the console runs (console.sites.SiteSpec), from the config and
the command line: [sites.NAME] tables, a global source's cluster label,
--context per cluster, --site to keep some. No [sites], no cluster label and
at most one --context: the one implicit site "", exactly as before."""

from __future__ import annotations

import re
from collections.abc import Sequence

from console import profilenames
from console.config import Config, ConfigFileError
from console.sites import SiteSpec
from console.sites_config import SiteConfig
from console.text import literal

#: A site name as the board shows it: no space, no control character, no
#: markup bracket (a context name such as arn:aws:eks:...:cluster/x is fine).
_NAME = re.compile(r"^[^\s\[\]\x00-\x1f\x7f-\x9f]+$")


def site_specs(config: Config, *, contexts: Sequence[str] = (), only: Sequence[str] = (),
               namespace: str | None = None) -> tuple[SiteSpec, ...]:
    """The sites, in the config's order (then --context's). `contexts` are
    the --context values, `only` the --site values, `namespace` --namespace.
    Raises ConfigFileError saying what to fix."""
    label = config.prometheus.cluster_label
    if not config.sites and not label:
        return (_implicit(config, contexts, only, namespace),)
    specs = {name: _spec(name, site, config, namespace) for name, site in config.sites.items()}
    if contexts:
        specs = _of_contexts(specs, contexts, config, namespace)
    if only:
        unknown = [n for n in only if n not in specs]
        if unknown:
            raise ConfigFileError(
                f"--site {literal(unknown[0])}: no such site (the sites are "
                f"{', '.join(specs) or 'none'})")
        specs = {n: specs[n] for n in dict.fromkeys(only)}
    if not specs:
        raise ConfigFileError(
            "prometheus.cluster_label (--cluster-label) needs the sites: [sites.NAME] "
            "tables, or a --context per cluster")
    for spec in specs.values():
        _check(spec, config)
    _check_label_values(specs.values())
    return tuple(specs.values())


def _implicit(config: Config, contexts: Sequence[str], only: Sequence[str],
              namespace: str | None) -> SiteSpec:
    if len(contexts) > 1:
        raise ConfigFileError(
            "several --context need a global source whose label tells the clusters apart "
            "(--cluster-label, e.g. cluster), or [sites.NAME] tables in the config file")
    if only:
        raise ConfigFileError(
            f"--site {literal(only[0])}: no sites configured ([sites.NAME] tables in the "
            "config file)")
    context = contexts[0] if contexts else None
    return SiteSpec(name="", context=context, namespace=namespace, flags=config.flags,
                    read_only=config.is_read_only(context))


def _spec(name: str, site: SiteConfig, config: Config, namespace: str | None) -> SiteSpec:
    if not _NAME.match(name):
        raise ConfigFileError(
            f"[sites.{literal(name)!r}]: a site name needs letters, digits or punctuation, "
            "no space or bracket")
    flags = config.flags
    if site.flags is not None:
        update: dict = {"url": site.flags.url}
        if site.flags.token_file or site.flags.token_env:
            update |= {"token_file": site.flags.token_file, "token_env": site.flags.token_env}
        flags = flags.model_copy(update=update)
    return SiteSpec(
        name=name,
        context=site.context,
        namespace=site.namespace or namespace,
        flags=flags,
        read_only=site.read_only or config.is_read_only(site.context),
        production=site.production,
        metrics=site.prometheus,
        label_value=None if site.prometheus else (site.label_value or name),
    )


def _of_contexts(specs: dict[str, SiteSpec], contexts: Sequence[str], config: Config,
                 namespace: str | None) -> dict[str, SiteSpec]:
    """The sites of the --context values: a configured site whose context it
    is, else a site named after the context (its label value too)."""
    out: dict[str, SiteSpec] = {}
    for context in contexts:
        mapped = [s for s in specs.values() if s.context == context]
        if not mapped and context in specs and specs[context].context is None:
            mapped = [specs[context]]
        if not mapped:
            mapped = [_spec(context, SiteConfig(context=context), config, namespace)]
        out |= {s.name: s for s in mapped}
    return out


def _check(spec: SiteSpec, config: Config) -> None:
    p = config.prometheus
    where = f"sites.{spec.name}"
    if spec.metrics is None:
        if not p.cluster_label:
            raise ConfigFileError(
                f"{where} has no metrics source: give it [{where}.prometheus] url, or set "
                "[prometheus] cluster_label (--cluster-label) for one global source whose "
                "label (e.g. cluster) tells the sites apart")
        if not p.url:
            raise ConfigFileError(
                f"{where} reads the global source (no [{where}.prometheus]): "
                "prometheus.cluster_label needs [prometheus] url (--prometheus)")
        return
    profile = spec.metrics.profile
    if profile is not None and profile not in (*profilenames.BUILTIN, profilenames.CUSTOM):
        raise ConfigFileError(
            f"{where}.prometheus.profile: unknown metric profile {literal(profile)!r}: choose "
            f"{', '.join(profilenames.BUILTIN)}, or {profilenames.CUSTOM}")
    if profile == profilenames.CUSTOM and not p.custom_profile:
        raise ConfigFileError(
            f"{where}.prometheus.profile 'custom' needs a [prometheus.custom_profile] table")


def _check_label_values(specs) -> None:
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.label_value is None:
            continue
        other = seen.setdefault(spec.label_value, spec.name)
        if other != spec.name:
            raise ConfigFileError(
                f"sites.{other} and sites.{spec.name} both read the cluster label value "
                f"{literal(spec.label_value)!r}: give each its own label_value")


def global_sites(specs: Sequence[SiteSpec]) -> dict[str, str]:
    """The global source's cluster label value -> site name."""
    return {s.label_value: s.name for s in specs if s.label_value is not None}
