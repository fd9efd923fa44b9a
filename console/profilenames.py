"""The built-in breaker metric profiles' names, in a module of their own: the
command line offers them before anything heavy is imported, and
console.sources.prometheus.profiles builds one profile for each."""

BUILTIN = ("runbook", "resilience4j", "envoy", "opossum")
#: The profile written in the config file ([prometheus.custom_profile]).
CUSTOM = "custom"
