//! Inputs for Lantern scans: directory trees (honouring .gitignore), archives with bounds, Jupyter notebooks, git history and stdin, as a stream of blobs with locations
