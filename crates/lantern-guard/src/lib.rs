//! The runtime gateway: an OpenAI-compatible reverse proxy with issued keys, rate limits, extraction defence, output monitoring, drift detection and audit records
