//! Custom sections of a core WebAssembly module, read and written at the byte level.
//!
//! Kubewarden keeps a policy's metadata in a custom section; a byte-level walk is all that
//! takes, so the runner needs no wasm rewriting library and leaves every other byte as it was.

use anyhow::{bail, Context, Result};

const MAGIC: &[u8; 4] = b"\0asm";
const CORE_VERSION: [u8; 4] = [1, 0, 0, 0];
const CUSTOM_SECTION_ID: u8 = 0;

/// One section of a module: its id and where its payload lies in the module bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    id: u8,
    /// The whole section, header included.
    start: usize,
    payload_start: usize,
    end: usize,
}

/// The payload of the first custom section called `name`, if any.
pub fn find_custom_section<'a>(module: &'a [u8], name: &str) -> Result<Option<&'a [u8]>> {
    for section in sections(module)? {
        if let Some((section_name, data)) = custom_section_parts(module, &section)? {
            if section_name == name.as_bytes() {
                return Ok(Some(data));
            }
        }
    }
    Ok(None)
}

/// A copy of `module` without any custom section called `name`, with one such section
/// holding `payload` appended at the end (where custom sections are always allowed).
pub fn replace_custom_section(module: &[u8], name: &str, payload: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(module.len() + payload.len() + name.len() + 16);
    out.extend_from_slice(&module[..8.min(module.len())]);
    for section in sections(module)? {
        let is_replaced = matches!(
            custom_section_parts(module, &section)?,
            Some((section_name, _)) if section_name == name.as_bytes()
        );
        if !is_replaced {
            out.extend_from_slice(&module[section.start..section.end]);
        }
    }
    out.push(CUSTOM_SECTION_ID);
    let mut body = Vec::with_capacity(name.len() + payload.len() + 5);
    write_leb128_u32(
        &mut body,
        u32::try_from(name.len()).context("section name too long")?,
    );
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    write_leb128_u32(
        &mut out,
        u32::try_from(body.len()).context("section too large")?,
    );
    out.extend_from_slice(&body);
    Ok(out)
}

fn sections(module: &[u8]) -> Result<Vec<Section>> {
    if module.len() < 8 || &module[..4] != MAGIC {
        bail!("not a WebAssembly module: missing the \\0asm magic header");
    }
    if module[4..8] != CORE_VERSION {
        bail!(
            "not a core WebAssembly module (version bytes {:?}); components are not supported",
            &module[4..8]
        );
    }
    let mut found = Vec::new();
    let mut offset = 8;
    while offset < module.len() {
        let start = offset;
        let id = module[offset];
        let (size, size_len) = read_leb128_u32(&module[offset + 1..])
            .with_context(|| format!("malformed size of the section at byte {start}"))?;
        let payload_start = offset + 1 + size_len;
        let end = payload_start
            .checked_add(size as usize)
            .filter(|end| *end <= module.len())
            .with_context(|| format!("section at byte {start} runs past the end of the module"))?;
        found.push(Section {
            id,
            start,
            payload_start,
            end,
        });
        offset = end;
    }
    Ok(found)
}

/// For a custom section: its name and data.
fn custom_section_parts<'a>(
    module: &'a [u8],
    section: &Section,
) -> Result<Option<(&'a [u8], &'a [u8])>> {
    if section.id != CUSTOM_SECTION_ID {
        return Ok(None);
    }
    let payload = &module[section.payload_start..section.end];
    let (name_len, len_len) = read_leb128_u32(payload).with_context(|| {
        format!(
            "malformed name of the custom section at byte {}",
            section.start
        )
    })?;
    let name_end = len_len + name_len as usize;
    if name_end > payload.len() {
        bail!(
            "name of the custom section at byte {} runs past the section",
            section.start
        );
    }
    Ok(Some((&payload[len_len..name_end], &payload[name_end..])))
}

/// Decodes an unsigned LEB128 u32; returns the value and how many bytes it took.
fn read_leb128_u32(bytes: &[u8]) -> Result<(u32, usize)> {
    let mut value: u32 = 0;
    for (index, byte) in bytes.iter().take(5).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok((value, index + 1));
        }
    }
    bail!("unterminated or oversized LEB128 integer")
}

fn write_leb128_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
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
    fn leb128_round_trips_across_byte_boundaries() {
        for value in [0, 1, 127, 128, 300, 16_384, u32::MAX] {
            let mut encoded = Vec::new();
            write_leb128_u32(&mut encoded, value);
            assert_eq!(
                read_leb128_u32(&encoded).unwrap(),
                (value, encoded.len()),
                "value {value}"
            );
        }
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
        let count = sections(&twice)
            .unwrap()
            .iter()
            .filter(|s| s.id == CUSTOM_SECTION_ID)
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
        let err = find_custom_section(&module, "meta")
            .unwrap_err()
            .to_string();
        assert!(err.contains("byte 8"), "{err}");
        assert!(find_custom_section(b"\x7fELF....", "meta").is_err());
    }
}
