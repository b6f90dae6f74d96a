//! The process image as the guest declares it (its layout; the host's buffers
//! and signal values are in `process_image.rs`): input, output and retain areas in its
//! linear memory, and optionally named, typed signals inside them.
//!
//! A guest declares its image by exporting `wasmcell_image: () -> i32`, which
//! returns the address of a descriptor in its memory (little-endian u32s):
//!
//! ```text
//! offset  field
//!  0      magic "WCIM" (0x4D494357)
//!  4      version (1)
//!  8/12   inputs  address, length in bytes
//! 16/20   outputs address, length
//! 24/28   retain  address, length
//! 32      retain layout id (bump it when the retain layout changes)
//! 36/40   signals address, count
//! ```
//!
//! Each signal is 16 bytes: name address (u32), name length (u32), area (u8:
//! 0 input, 1 output, 2 retain), type (u8, see [`SignalType`]), 2 reserved
//! bytes, offset inside its area (u32). See `docs/guest-abi.md`.

use std::fmt;

pub(crate) const IMAGE_EXPORT: &str = "wasmcell_image";
const MAGIC: u32 = u32::from_le_bytes(*b"WCIM");
const VERSION: u32 = 1;
const DESCRIPTOR_BYTES: usize = 44;
const SIGNAL_BYTES: usize = 16;
/// Bounds that keep a hostile descriptor cheap to read.
const MAX_SIGNALS: u32 = 4096;
const MAX_NAME_BYTES: u32 = 128;

/// One area of the process image: `len` bytes at `offset` in linear memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Region {
    pub offset: u32,
    pub len: u32,
}

impl Region {
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.offset as usize..self.offset as usize + self.len as usize
    }
}

/// Which area a signal lives in. Numeric values are part of the guest ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    Input = 0,
    Output = 1,
    Retain = 2,
}

/// The type of a signal. Numeric values are part of the guest ABI and of the
/// C API (`WASMCELL_SIGNAL_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalType {
    Bool = 0,
    I8 = 1,
    U8 = 2,
    I16 = 3,
    U16 = 4,
    I32 = 5,
    U32 = 6,
    I64 = 7,
    U64 = 8,
    F32 = 9,
    F64 = 10,
}

impl SignalType {
    pub fn from_u8(value: u8) -> Option<Self> {
        use SignalType::*;
        Some(match value {
            0 => Bool,
            1 => I8,
            2 => U8,
            3 => I16,
            4 => U16,
            5 => I32,
            6 => U32,
            7 => I64,
            8 => U64,
            9 => F32,
            10 => F64,
            _ => return None,
        })
    }

    /// Size in bytes.
    pub fn size(self) -> u32 {
        use SignalType::*;
        match self {
            Bool | I8 | U8 => 1,
            I16 | U16 => 2,
            I32 | U32 | F32 => 4,
            I64 | U64 | F64 => 8,
        }
    }
}

/// A named, typed value inside one area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub name: String,
    pub area: Area,
    pub ty: SignalType,
    /// Byte offset inside its area.
    pub offset: u32,
}

/// The whole declared image. A guest that exports no descriptor has an empty one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageLayout {
    pub inputs: Region,
    pub outputs: Region,
    pub retain: Region,
    pub retain_layout: u32,
    pub signals: Vec<Signal>,
}

impl ImageLayout {
    /// True when the guest declares no process image at all.
    pub fn is_empty(&self) -> bool {
        self.inputs.len == 0
            && self.outputs.len == 0
            && self.retain.len == 0
            && self.signals.is_empty()
    }

    pub fn region(&self, area: Area) -> Region {
        match area {
            Area::Input => self.inputs,
            Area::Output => self.outputs,
            Area::Retain => self.retain,
        }
    }
}

/// Why a descriptor was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescriptorError(String);

impl fmt::Display for DescriptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid process image descriptor: {}", self.0)
    }
}

fn refuse<T>(why: impl Into<String>) -> Result<T, DescriptorError> {
    Err(DescriptorError(why.into()))
}

fn u32_at(memory: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(memory[at..at + 4].try_into().expect("4 bytes"))
}

/// Reads and checks the descriptor at `address` in `memory`: every area and
/// signal must lie inside memory and inside its area.
pub(crate) fn read_layout(memory: &[u8], address: u32) -> Result<ImageLayout, DescriptorError> {
    let base = address as usize;
    if base
        .checked_add(DESCRIPTOR_BYTES)
        .is_none_or(|end| end > memory.len())
    {
        return refuse(format!("address {address} is outside memory"));
    }
    let field = |index: usize| u32_at(memory, base + 4 * index);
    if field(0) != MAGIC {
        return refuse("bad magic (expected \"WCIM\")");
    }
    if field(1) != VERSION {
        return refuse(format!(
            "version {} is not supported (expected {VERSION})",
            field(1)
        ));
    }
    let region = |index: usize, what: &str| {
        let region = Region {
            offset: field(index),
            len: field(index + 1),
        };
        if region.offset as u64 + region.len as u64 > memory.len() as u64 {
            return refuse(format!(
                "the {what} area ({} bytes at {}) is outside memory",
                region.len, region.offset
            ));
        }
        Ok(region)
    };
    let mut layout = ImageLayout {
        inputs: region(2, "input")?,
        outputs: region(4, "output")?,
        retain: region(6, "retain")?,
        retain_layout: field(8),
        signals: Vec::new(),
    };
    let (signals_at, count) = (field(9) as usize, field(10));
    if count > MAX_SIGNALS {
        return refuse(format!("{count} signals, more than {MAX_SIGNALS}"));
    }
    if signals_at + count as usize * SIGNAL_BYTES > memory.len() {
        return refuse("the signal table is outside memory");
    }
    for index in 0..count as usize {
        let at = signals_at + index * SIGNAL_BYTES;
        let (name_at, name_len) = (u32_at(memory, at), u32_at(memory, at + 4));
        let (area, ty, offset) = (memory[at + 8], memory[at + 9], u32_at(memory, at + 12));
        if name_len == 0 || name_len > MAX_NAME_BYTES {
            return refuse(format!(
                "signal {index}: name length {name_len} (1..={MAX_NAME_BYTES})"
            ));
        }
        let name = memory
            .get(name_at as usize..name_at as usize + name_len as usize)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .ok_or_else(|| {
                DescriptorError(format!(
                    "signal {index}: name is outside memory or not UTF-8"
                ))
            })?;
        let area = match area {
            0 => Area::Input,
            1 => Area::Output,
            2 => Area::Retain,
            other => return refuse(format!("signal `{name}`: unknown area {other}")),
        };
        let ty = SignalType::from_u8(ty)
            .ok_or_else(|| DescriptorError(format!("signal `{name}`: unknown type {ty}")))?;
        if offset as u64 + ty.size() as u64 > layout.region(area).len as u64 {
            return refuse(format!(
                "signal `{name}` ({:?} at offset {offset}) does not fit in its {area:?} area",
                ty
            ));
        }
        if layout.signals.iter().any(|s| s.name == name) {
            return refuse(format!("signal `{name}` is declared twice"));
        }
        layout.signals.push(Signal {
            name: name.to_string(),
            area,
            ty,
            offset,
        });
    }
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(memory: &mut [u8], fields: [u32; 11]) {
        for (i, v) in fields.iter().enumerate() {
            memory[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
    }

    #[test]
    fn reads_areas_and_signals() {
        let mut memory = vec![0u8; 1024];
        descriptor(&mut memory, [MAGIC, 1, 100, 8, 200, 4, 300, 16, 7, 400, 1]);
        memory[500..505].copy_from_slice(b"speed");
        let signal = &mut memory[400..416];
        signal[0..4].copy_from_slice(&500u32.to_le_bytes());
        signal[4..8].copy_from_slice(&5u32.to_le_bytes());
        signal[8] = 0;
        signal[9] = SignalType::F64 as u8;
        let layout = read_layout(&memory, 0).unwrap();
        assert_eq!(
            layout.inputs,
            Region {
                offset: 100,
                len: 8
            }
        );
        assert_eq!(layout.retain_layout, 7);
        assert_eq!(layout.signals[0].name, "speed");
        assert_eq!(layout.signals[0].ty, SignalType::F64);
    }

    #[test]
    fn refuses_hostile_descriptors() {
        let mut memory = vec![0u8; 1024];
        assert!(read_layout(&memory, 2000)
            .unwrap_err()
            .0
            .contains("outside memory"));
        assert!(read_layout(&memory, 0).unwrap_err().0.contains("magic"));
        descriptor(&mut memory, [MAGIC, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(read_layout(&memory, 0).unwrap_err().0.contains("version"));
        descriptor(&mut memory, [MAGIC, 1, 1000, 100, 0, 0, 0, 0, 0, 0, 0]);
        assert!(read_layout(&memory, 0)
            .unwrap_err()
            .0
            .contains("input area"));
        descriptor(&mut memory, [MAGIC, 1, 0, 0, 0, 0, 0, 0, 0, 0, 100_000]);
        assert!(read_layout(&memory, 0).unwrap_err().0.contains("signals"));
        // A signal that does not fit its area.
        descriptor(&mut memory, [MAGIC, 1, 100, 4, 0, 0, 0, 0, 0, 400, 1]);
        memory[500] = b'x';
        memory[400..404].copy_from_slice(&500u32.to_le_bytes());
        memory[404..408].copy_from_slice(&1u32.to_le_bytes());
        memory[409] = SignalType::F64 as u8;
        assert!(read_layout(&memory, 0)
            .unwrap_err()
            .0
            .contains("does not fit"));
    }
}
