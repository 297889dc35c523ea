//! Tamper-evident audit log: an RFC 9162 Merkle tree over appended records, signed checkpoints, inclusion and consistency proofs, local and PostgreSQL storage
