//! AI bill of materials: CycloneDX 1.6 ML-BOM (and SPDX) generation for models, datasets and libraries, and BOM diffs
