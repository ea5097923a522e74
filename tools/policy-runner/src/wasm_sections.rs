//! Custom sections of a core WebAssembly module, read with wasmparser and written with
//! wasm-encoder. Kubewarden keeps a policy's metadata in one; every other section is copied
//! as it was.

use std::borrow::Cow;

use anyhow::{bail, Context, Result};
use wasmparser::{Encoding, Parser, Payload};

/// The payload of the first custom section called `name`, if any.
pub fn find_custom_section<'a>(module: &'a [u8], name: &str) -> Result<Option<&'a [u8]>> {
    for payload in payloads(module)? {
        if let Payload::CustomSection(section) = payload? {
            if section.name() == name {
                return Ok(Some(section.data()));
            }
        }
    }
    Ok(None)
}

/// A copy of `module` without any custom section called `name`, with one such section
/// holding `payload` appended at the end (where custom sections are always allowed).
pub fn replace_custom_section(module: &[u8], name: &str, payload: &[u8]) -> Result<Vec<u8>> {
    let mut out = wasm_encoder::Module::new();
    for item in payloads(module)? {
        let item = item?;
        if matches!(&item, Payload::CustomSection(s) if s.name() == name) {
            continue;
        }
        if let Some((id, range)) = item.as_section() {
            out.section(&wasm_encoder::RawSection {
                id,
                data: &module[range],
            });
        }
    }
    out.section(&wasm_encoder::CustomSection {
        name: Cow::Borrowed(name),
        data: Cow::Borrowed(payload),
    });
    Ok(out.finish())
}

/// The module's sections, after checking it is a core module.
fn payloads(module: &[u8]) -> Result<impl Iterator<Item = Result<Payload<'_>>>> {
    let mut all = Parser::new(0).parse_all(module).peekable();
    match all.peek() {
        Some(Ok(Payload::Version {
            encoding: Encoding::Module,
            ..
        })) => {}
        Some(Ok(Payload::Version { .. })) => {
            bail!("not a core WebAssembly module; components are not supported")
        }
        _ => bail!("not a WebAssembly module: missing the \\0asm magic header"),
    }
    Ok(all.map(|payload| payload.context("malformed WebAssembly module")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module)` plus a type section holding one `() -> ()` type.
    fn minimal_module() -> Vec<u8> {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        module
    }

    #[test]
    fn appended_section_is_found_and_other_sections_are_kept() {
        let module = minimal_module();
        let annotated =
            replace_custom_section(&module, "io.kubewarden.metadata", b"{\"a\":1}").unwrap();
        assert!(
            annotated.starts_with(&module),
            "the original sections must stay byte for byte"
        );
        assert_eq!(
            find_custom_section(&annotated, "io.kubewarden.metadata").unwrap(),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(find_custom_section(&annotated, "other").unwrap(), None);
    }

    #[test]
    fn annotating_twice_keeps_a_single_section_with_the_new_payload() {
        let once = replace_custom_section(&minimal_module(), "meta", b"old").unwrap();
        let twice = replace_custom_section(&once, "meta", b"new").unwrap();
        assert_eq!(
            find_custom_section(&twice, "meta").unwrap(),
            Some(&b"new"[..])
        );
        let count = payloads(&twice)
            .unwrap()
            .filter(|p| matches!(p, Ok(Payload::CustomSection(_))))
            .count();
        assert_eq!(count, 1);
    }

    #[test]
    fn the_output_is_valid_wasm_for_wasmtime() {
        let annotated = replace_custom_section(&minimal_module(), "meta", &[0xff; 200]).unwrap();
        wasmtime::Module::new(&wasmtime::Engine::default(), &annotated).expect("valid module");
    }

    #[test]
    fn truncated_modules_are_rejected_with_the_offset() {
        let mut module = minimal_module();
        module.truncate(module.len() - 1);
        let err = format!("{:#}", find_custom_section(&module, "meta").unwrap_err());
        assert!(err.contains("unexpected end-of-file (at offset"), "{err}");
        assert!(find_custom_section(b"\x7fELF....", "meta").is_err());
    }
}
