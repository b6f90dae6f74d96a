//! The host side of the process image: input values the host writes (copied
//! into the guest before each poll), the outputs published after each poll
//! that succeeded, and typed access to named signals. No callbacks needed.

use crate::error::{Error, ErrorKind, Result};
use crate::image_layout::{Area, ImageLayout, Signal, SignalType};
use crate::instance::LiveInstance;
use std::sync::Arc;

/// Identifies a signal of one version of a program's image. A reload that
/// changes the signal table makes older ids stale (they then fail with
/// [`ErrorKind::NotFound`]); look the name up again.
pub type SignalId = u32;

const INDEX_BITS: u32 = 16;

/// A signal value, as wide as any signal type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SignalValue {
    Int(i128),
    Float(f64),
}

impl SignalValue {
    pub fn as_f64(self) -> f64 {
        match self {
            SignalValue::Int(v) => v as f64,
            SignalValue::Float(v) => v,
        }
    }
}

/// The host's copy of a program's image.
#[derive(Default)]
pub(crate) struct HostImage {
    layout: Arc<ImageLayout>,
    generation: u32,
    inputs: Vec<u8>,
    outputs: Vec<u8>,
    /// Number of the poll that produced `outputs`; 0 before the first.
    outputs_poll: u64,
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

fn check_range(
    area: &str,
    len: usize,
    offset: usize,
    count: usize,
) -> Result<std::ops::Range<usize>> {
    match offset.checked_add(count) {
        Some(end) if end <= len => Ok(offset..end),
        _ => Err(invalid(format!(
            "bytes {offset}..{} are outside the {len}-byte {area} area",
            offset.saturating_add(count)
        ))),
    }
}

impl HostImage {
    pub(crate) fn new(layout: Arc<ImageLayout>) -> Self {
        let mut image = Self::default();
        image.adopt(layout);
        image
    }

    /// Takes the layout of a new instance. Buffers whose size is unchanged
    /// keep their contents; signal ids stay valid while the signal table is
    /// the same.
    pub(crate) fn adopt(&mut self, layout: Arc<ImageLayout>) {
        if layout.signals != self.layout.signals {
            self.generation = (self.generation + 1) & 0xffff;
        }
        if layout.inputs.len as usize != self.inputs.len() {
            self.inputs = vec![0; layout.inputs.len as usize];
        }
        if layout.outputs.len as usize != self.outputs.len() {
            self.outputs = vec![0; layout.outputs.len as usize];
            self.outputs_poll = 0;
        }
        self.layout = layout;
    }

    pub(crate) fn has_inputs(&self) -> bool {
        !self.inputs.is_empty()
    }

    pub(crate) fn has_outputs(&self) -> bool {
        !self.outputs.is_empty()
    }

    /// Copies the host's inputs into the guest's input area.
    pub(crate) fn copy_in(&self, live: &mut LiveInstance) {
        let range = self.layout.inputs.range();
        live.memory_mut()[range].copy_from_slice(&self.inputs);
    }

    /// Publishes the guest's output area (after a poll that succeeded).
    pub(crate) fn publish(&mut self, live: &mut LiveInstance, poll: u64) {
        let range = self.layout.outputs.range();
        self.outputs.copy_from_slice(&live.memory_mut()[range]);
        self.outputs_poll = poll;
    }

    /// Publishes `bytes` as the outputs of poll `poll` (safe outputs on a fault).
    pub(crate) fn publish_bytes(&mut self, bytes: &[u8], poll: u64) {
        if bytes.len() == self.outputs.len() {
            self.outputs.copy_from_slice(bytes);
            self.outputs_poll = poll;
        }
    }

    /// The inputs as the host last wrote them.
    pub(crate) fn inputs(&self) -> &[u8] {
        &self.inputs
    }

    pub(crate) fn layout(&self) -> Arc<ImageLayout> {
        self.layout.clone()
    }

    pub(crate) fn write_inputs(&mut self, offset: usize, data: &[u8]) -> Result<()> {
        let range = check_range("input", self.inputs.len(), offset, data.len())?;
        self.inputs[range].copy_from_slice(data);
        Ok(())
    }

    pub(crate) fn read_inputs(&self, offset: usize, out: &mut [u8]) -> Result<()> {
        let range = check_range("input", self.inputs.len(), offset, out.len())?;
        out.copy_from_slice(&self.inputs[range]);
        Ok(())
    }

    pub(crate) fn read_outputs(&self, offset: usize, out: &mut [u8]) -> Result<u64> {
        let range = check_range("output", self.outputs.len(), offset, out.len())?;
        out.copy_from_slice(&self.outputs[range]);
        Ok(self.outputs_poll)
    }

    pub(crate) fn signals(&self) -> Vec<(SignalId, Signal)> {
        self.layout
            .signals
            .iter()
            .enumerate()
            .map(|(index, signal)| (self.id(index), signal.clone()))
            .collect()
    }

    /// The signal at `index` of the declaration order with its id, and the
    /// number of signals (one signal copied, not the whole table).
    pub(crate) fn signal_at(&self, index: usize) -> (Option<(SignalId, Signal)>, usize) {
        let signals = &self.layout.signals;
        let found = signals.get(index).map(|s| (self.id(index), s.clone()));
        (found, signals.len())
    }

    fn id(&self, index: usize) -> SignalId {
        (self.generation << INDEX_BITS) | index as u32
    }

    pub(crate) fn lookup(&self, name: &str) -> Result<(SignalId, Signal)> {
        self.layout
            .signals
            .iter()
            .position(|s| s.name == name)
            .map(|index| (self.id(index), self.layout.signals[index].clone()))
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no signal named `{name}`")))
    }

    pub(crate) fn signal(&self, id: SignalId) -> Result<Signal> {
        let index = (id & ((1 << INDEX_BITS) - 1)) as usize;
        if id >> INDEX_BITS != self.generation || index >= self.layout.signals.len() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("signal id {id} is unknown or from an older version of the program; look the signal up again"),
            ));
        }
        Ok(self.layout.signals[index].clone())
    }

    /// The bytes of an input or output signal in the host's buffers (retain
    /// signals live in guest memory: see [`read_retain_signal`]).
    pub(crate) fn get(&self, signal: &Signal) -> SignalValue {
        let buffer = match signal.area {
            Area::Input => &self.inputs,
            _ => &self.outputs,
        };
        decode(signal.ty, &buffer[signal.offset as usize..])
    }

    pub(crate) fn set(&mut self, signal: &Signal, value: SignalValue) -> Result<()> {
        if signal.area != Area::Input {
            return Err(invalid(format!(
                "signal `{}` is an {:?} signal; only inputs can be written",
                signal.name, signal.area
            )));
        }
        let bytes = encode(signal, value)?;
        let at = signal.offset as usize;
        self.inputs[at..at + bytes.len()].copy_from_slice(&bytes);
        Ok(())
    }
}

/// Reads a retain signal from the guest's memory.
pub(crate) fn read_retain_signal(live: &mut LiveInstance, signal: &Signal) -> SignalValue {
    let at = live.image.retain.offset as usize + signal.offset as usize;
    decode(signal.ty, &live.memory_mut()[at..])
}

fn decode(ty: SignalType, bytes: &[u8]) -> SignalValue {
    let mut raw = [0u8; 8];
    let size = ty.size() as usize;
    raw[..size].copy_from_slice(&bytes[..size]);
    use SignalType::*;
    match ty {
        Bool => SignalValue::Int((raw[0] != 0) as i128),
        I8 => SignalValue::Int(raw[0] as i8 as i128),
        U8 => SignalValue::Int(raw[0] as i128),
        I16 => SignalValue::Int(i16::from_le_bytes([raw[0], raw[1]]) as i128),
        U16 => SignalValue::Int(u16::from_le_bytes([raw[0], raw[1]]) as i128),
        I32 => SignalValue::Int(i32::from_le_bytes(raw[..4].try_into().unwrap()) as i128),
        U32 => SignalValue::Int(u32::from_le_bytes(raw[..4].try_into().unwrap()) as i128),
        I64 => SignalValue::Int(i64::from_le_bytes(raw) as i128),
        U64 => SignalValue::Int(u64::from_le_bytes(raw) as i128),
        F32 => SignalValue::Float(f32::from_le_bytes(raw[..4].try_into().unwrap()) as f64),
        F64 => SignalValue::Float(f64::from_le_bytes(raw)),
    }
}

fn encode(signal: &Signal, value: SignalValue) -> Result<Vec<u8>> {
    use SignalType::*;
    let out_of_range = || {
        invalid(format!(
            "{value:?} does not fit signal `{}` of type {:?}",
            signal.name, signal.ty
        ))
    };
    let integer = |min: i128, max: i128| -> Result<i128> {
        let v = match value {
            SignalValue::Int(v) => v,
            SignalValue::Float(f) if f.fract() == 0.0 && f.is_finite() => f as i128,
            SignalValue::Float(_) => return Err(out_of_range()),
        };
        if v < min || v > max {
            return Err(out_of_range());
        }
        Ok(v)
    };
    Ok(match signal.ty {
        Bool => vec![integer(0, 1)? as u8],
        I8 => (integer(i8::MIN as i128, i8::MAX as i128)? as i8)
            .to_le_bytes()
            .to_vec(),
        U8 => vec![integer(0, u8::MAX as i128)? as u8],
        I16 => (integer(i16::MIN as i128, i16::MAX as i128)? as i16)
            .to_le_bytes()
            .to_vec(),
        U16 => (integer(0, u16::MAX as i128)? as u16)
            .to_le_bytes()
            .to_vec(),
        I32 => (integer(i32::MIN as i128, i32::MAX as i128)? as i32)
            .to_le_bytes()
            .to_vec(),
        U32 => (integer(0, u32::MAX as i128)? as u32)
            .to_le_bytes()
            .to_vec(),
        I64 => (integer(i64::MIN as i128, i64::MAX as i128)? as i64)
            .to_le_bytes()
            .to_vec(),
        U64 => (integer(0, u64::MAX as i128)? as u64)
            .to_le_bytes()
            .to_vec(),
        F32 => (value.as_f64() as f32).to_le_bytes().to_vec(),
        F64 => value.as_f64().to_le_bytes().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(ty: SignalType) -> Signal {
        Signal {
            name: "s".into(),
            area: Area::Input,
            ty,
            offset: 0,
        }
    }

    #[test]
    fn values_round_trip_through_every_type() {
        for (ty, value) in [
            (SignalType::Bool, SignalValue::Int(1)),
            (SignalType::I8, SignalValue::Int(-128)),
            (SignalType::U16, SignalValue::Int(65535)),
            (SignalType::I32, SignalValue::Int(-7)),
            (SignalType::U64, SignalValue::Int(u64::MAX as i128)),
            (SignalType::F32, SignalValue::Float(1.5)),
            (SignalType::F64, SignalValue::Float(-2.25)),
        ] {
            let bytes = encode(&signal(ty), value).unwrap();
            assert_eq!(bytes.len(), ty.size() as usize);
            let mut padded = bytes.clone();
            padded.resize(8, 0);
            assert_eq!(decode(ty, &padded), value, "{ty:?}");
        }
    }

    #[test]
    fn out_of_range_and_fractional_values_are_refused() {
        assert!(encode(&signal(SignalType::U8), SignalValue::Int(256)).is_err());
        assert!(encode(&signal(SignalType::Bool), SignalValue::Int(2)).is_err());
        assert!(encode(&signal(SignalType::I32), SignalValue::Float(1.5)).is_err());
        assert!(encode(&signal(SignalType::I32), SignalValue::Float(3.0)).is_ok());
        assert!(encode(&signal(SignalType::U32), SignalValue::Int(-1)).is_err());
    }
}
