//! The size experiment's padding (benches/floor/build-size-variants.sh): with one of the `pad-*`
//! features, `$OUT_DIR/pad.rs` grows exactly one part of the module while `validate` still returns
//! the same constant without touching the padding. Without any, `pad.rs` is empty and the module
//! is the plain floor. Sizes come from the environment (defaults in brackets):
//!
//! - `pad-code`: `FLOOR_PAD_CODE_BYTES` [512000] of Code, in distinct functions of mixing
//!   arithmetic reached by direct calls from the exported `floor_pad` (no table entry, no data).
//! - `pad-data`: `FLOOR_PAD_DATA_BYTES` [512000] of pseudo-random bytes in a static, read only by
//!   `floor_pad`. The data sits after the 1 MiB stack in linear memory, so the initial memory grows
//!   with it (by one page per 64 KiB): compare with `pad-memory` at the same page count.
//! - `pad-memory`: `--initial-memory=FLOOR_PAD_MEMORY_PAGES` pages (wasm-ld), nothing else.
//! - `pad-table`: `FLOOR_PAD_TABLE_ENTRIES` [2000] tiny distinct functions whose addresses sit in a
//!   static array that `floor_pad` calls through: one funcref table entry each, plus their code
//!   (about 10 bytes each) and the array (4 bytes each, Data).
//! - `pad-table-control`: the same functions called directly (a `match`), so not in the table:
//!   what `pad-table` adds besides the table.
//!
//! Features combine (the policy's size twin turns on several).

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Deterministic pseudo-random numbers (splitmix64), so every build is the same module.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn odd32(&mut self) -> u32 {
        (self.next() as u32) | 0x0100_0001
    }
}

fn size(var: &str, default: usize) -> usize {
    println!("cargo:rerun-if-env-changed={var}");
    env::var(var).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{var}={v:?} is not a number"))
    })
}

fn on(feature: &str) -> bool {
    env::var_os(format!("CARGO_FEATURE_{feature}")).is_some()
}

/// Steps of mixing arithmetic per generated code function, and the Code bytes one such function
/// takes in the built module, its share of `pad_code` included (measured with wasm-objdump;
/// the script prints the real sizes).
const STEPS_PER_FUNCTION: usize = 24;
const BYTES_PER_FUNCTION: usize = 336;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let mut mix = Mix(0x5eed_f100_u64);
    let mut items = String::new();
    // Expressions of `i` and `x` that `floor_pad` xors together, one per padding.
    let mut terms: Vec<String> = Vec::new();

    if on("PAD_CODE") {
        let functions = size("FLOOR_PAD_CODE_BYTES", 512_000).div_ceil(BYTES_PER_FUNCTION);
        let mut arms = String::new();
        for f in 0..functions {
            writeln!(items, "#[inline(never)]\nfn pad_code_{f}(mut x: u32) -> u32 {{").unwrap();
            for step in 0..STEPS_PER_FUNCTION {
                let (k, r) = (mix.odd32(), 1 + mix.next() % 31);
                let line = match step % 3 {
                    0 => format!("    x = x.wrapping_mul({k:#x}) ^ (x >> {r});"),
                    1 => format!("    x = x.rotate_left({r}).wrapping_add({k:#x});"),
                    _ => format!("    x = (x ^ {k:#x}).wrapping_sub(x << {r});"),
                };
                items.push_str(&line);
                items.push('\n');
            }
            items.push_str("    x\n}\n");
            writeln!(arms, "        {f} => pad_code_{f}(x),").unwrap();
        }
        writeln!(
            items,
            "fn pad_code(i: u32, x: u32) -> u32 {{\n    match i % {functions} {{\n{arms}        _ => x,\n    }}\n}}"
        )
        .unwrap();
        terms.push("pad_code(i, x)".into());
    }

    if on("PAD_DATA") {
        let bytes = size("FLOOR_PAD_DATA_BYTES", 512_000);
        let data: Vec<u8> = (0..bytes).map(|_| (mix.next() >> 56) as u8 | 1).collect();
        std::fs::write(out.join("pad.bin"), data).unwrap();
        writeln!(
            items,
            "static PAD_DATA: [u8; {bytes}] = *include_bytes!(concat!(env!(\"OUT_DIR\"), \"/pad.bin\"));"
        )
        .unwrap();
        terms.push(format!("u32::from(PAD_DATA[i as usize % {bytes}])"));
    }

    if on("PAD_MEMORY") {
        let pages = size("FLOOR_PAD_MEMORY_PAGES", 0);
        assert!(pages > 0, "pad-memory needs FLOOR_PAD_MEMORY_PAGES");
        println!("cargo:rustc-cdylib-link-arg=--initial-memory={}", pages * 65536);
    }

    let table = on("PAD_TABLE");
    if table || on("PAD_TABLE_CONTROL") {
        let entries = size("FLOOR_PAD_TABLE_ENTRIES", 2000);
        let mut list = String::new();
        for f in 0..entries {
            writeln!(
                items,
                "#[inline(never)]\nfn pad_entry_{f}(x: u32) -> u32 {{\n    x.wrapping_mul({:#x}) ^ {:#x}\n}}",
                mix.odd32(),
                mix.next() as u32
            )
            .unwrap();
            if table {
                write!(list, "pad_entry_{f}, ").unwrap();
            } else {
                writeln!(list, "        {f} => pad_entry_{f}(x),").unwrap();
            }
        }
        if table {
            writeln!(
                items,
                "static PAD_TABLE: [fn(u32) -> u32; {entries}] = [{list}];"
            )
            .unwrap();
            terms.push(format!("PAD_TABLE[i as usize % {entries}](x)"));
        } else {
            writeln!(
                items,
                "fn pad_table_control(i: u32, x: u32) -> u32 {{\n    match i % {entries} {{\n{list}        _ => x,\n    }}\n}}"
            )
            .unwrap();
            terms.push("pad_table_control(i, x)".into());
        }
    }

    if !terms.is_empty() {
        // Exported, so the padding is kept; the host never calls it.
        writeln!(
            items,
            "/// Keeps the padding in the module; nothing calls it.\n#[no_mangle]\n#[allow(unused_variables)]\npub extern \"C\" fn floor_pad(i: u32, x: u32) -> u32 {{\n    {}\n}}",
            terms.join(" ^ ")
        )
        .unwrap();
    }
    std::fs::write(out.join("pad.rs"), items).unwrap();
}
