//! Model signing and verification in the OpenSSF Model Signing format: parallel hashing, DSSE/in-toto/Sigstore bundles, keys, SLSA provenance
