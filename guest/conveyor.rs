// The conveyor of guest/conveyor.wat written in Rust: a program driven only
// through its process image. Build:
//   rustc --target wasm32-unknown-unknown --crate-type cdylib -O conveyor.rs
#![no_std]

use core::mem::size_of;
use core::ptr::addr_of;

#[panic_handler]
fn on_panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

#[repr(C)]
struct Inputs {
    speed: f64,
    enable: u8,
}

#[repr(C)]
struct Outputs {
    motor_on: u8,
    position: f64,
    pulses: u32,
}

#[repr(C)]
struct Retain {
    distance: f64,
}

static mut INPUTS: Inputs = Inputs { speed: 0.0, enable: 0 };
static mut OUTPUTS: Outputs = Outputs { motor_on: 0, position: 0.0, pulses: 0 };
static mut RETAIN: Retain = Retain { distance: 0.0 };

/// The process image descriptor (see docs/guest-abi.md): all u32 on wasm32.
#[repr(C)]
pub struct Descriptor {
    magic: [u8; 4],
    version: u32,
    inputs: u32,
    inputs_len: u32,
    outputs: u32,
    outputs_len: u32,
    retain: u32,
    retain_len: u32,
    retain_layout: u32,
    signals: u32,
    signal_count: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SignalEntry {
    name: u32,
    name_len: u32,
    area: u8,
    ty: u8,
    reserved: u16,
    offset: u32,
}

const INPUT: u8 = 0;
const OUTPUT: u8 = 1;
const RETAIN_AREA: u8 = 2;
const BOOL: u8 = 0;
const U32: u8 = 6;
const F64: u8 = 10;

fn signal(name: &'static str, area: u8, ty: u8, offset: usize) -> SignalEntry {
    SignalEntry { name: name.as_ptr() as u32, name_len: name.len() as u32, area, ty, reserved: 0, offset: offset as u32 }
}

static mut SIGNALS: [SignalEntry; 6] = [SignalEntry { name: 0, name_len: 0, area: 0, ty: 0, reserved: 0, offset: 0 }; 6];
static mut DESCRIPTOR: Descriptor = Descriptor {
    magic: *b"WCIM", version: 1, inputs: 0, inputs_len: 0, outputs: 0, outputs_len: 0,
    retain: 0, retain_len: 0, retain_layout: 1, signals: 0, signal_count: 0,
};

/// Called once after instantiation: fills in the descriptor and returns its address.
#[no_mangle]
pub extern "C" fn wasmcell_image() -> *const Descriptor {
    unsafe {
        SIGNALS = [
            signal("speed", INPUT, F64, core::mem::offset_of!(Inputs, speed)),
            signal("enable", INPUT, BOOL, core::mem::offset_of!(Inputs, enable)),
            signal("motor_on", OUTPUT, BOOL, core::mem::offset_of!(Outputs, motor_on)),
            signal("position", OUTPUT, F64, core::mem::offset_of!(Outputs, position)),
            signal("pulses", OUTPUT, U32, core::mem::offset_of!(Outputs, pulses)),
            signal("distance", RETAIN_AREA, F64, core::mem::offset_of!(Retain, distance)),
        ];
        DESCRIPTOR.inputs = addr_of!(INPUTS) as u32;
        DESCRIPTOR.inputs_len = size_of::<Inputs>() as u32;
        DESCRIPTOR.outputs = addr_of!(OUTPUTS) as u32;
        DESCRIPTOR.outputs_len = size_of::<Outputs>() as u32;
        DESCRIPTOR.retain = addr_of!(RETAIN) as u32;
        DESCRIPTOR.retain_len = size_of::<Retain>() as u32;
        DESCRIPTOR.signals = addr_of!(SIGNALS) as u32;
        DESCRIPTOR.signal_count = 6;
        addr_of!(DESCRIPTOR)
    }
}

#[no_mangle]
pub extern "C" fn poll() {
    // wasmcell copied the inputs in before this call and publishes the
    // outputs after it returns, unless it faults.
    let (inputs, outputs, retain) = unsafe { (&*addr_of!(INPUTS), &mut *(&raw mut OUTPUTS), &mut *(&raw mut RETAIN)) };
    if inputs.speed < 0.0 {
        outputs.position = -999.0;
        panic!("negative speed command");
    }
    if inputs.enable != 0 {
        outputs.motor_on = 1;
        outputs.position += inputs.speed;
        outputs.pulses += 1;
        retain.distance += inputs.speed;
    } else {
        outputs.motor_on = 0;
    }
}
