//! Release-artifact leak checks: source maps embedding sources, env and registry credential files, private key files, internal paths, declared codenames and feature flags
