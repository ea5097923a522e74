//! Shared by the fuzz targets: the inputs `arbitrary` builds ([`model`]), the JSON seed format
//! the committed corpus uses ([`seed`]), the text variants of a payload ([`text`]), and the
//! invariants every answer must keep ([`oracle`]).
//!
//! Structured targets read an input two ways: bytes that parse as a seed are that seed (so the
//! corpus can hold real AdmissionReview payloads), any other bytes are read by `arbitrary`.

pub mod model;
pub mod oracle;
pub mod seed;
pub mod text;
