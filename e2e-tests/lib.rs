//! Nothing here: the suite is `tests/` (see README.md).
