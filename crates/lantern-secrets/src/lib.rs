//! Secret detection: rules as TOML data, an Aho-Corasick keyword prefilter, regexes on candidate windows, entropy floors and checksum validators
